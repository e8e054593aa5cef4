"""Live: how PM2 resolves a bare `script: 'gunicorn'` (the claim of SC206 pm2-script-from-path).

PM2's CLI (lib/API.js -> Common.resolveAppAttributes -> prepareAppConf, lib/Common.js) turns
`script` into `path.resolve(cwd, script)` and, when no such file exists, `which(script)` on the
CLI's own PATH; a venv's `bin/` is on it only when the shell activated the venv. Real PM2 (private
PM2_HOME) and real Gunicorn in a venv, on 127.0.0.1; the apps are deleted by name afterwards and
the session's teardown kills this PM2 daemon only.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import live_support as live  # noqa: E402

from sc_audit.api import audit  # noqa: E402
from sc_audit.config import Config  # noqa: E402

pytestmark = pytest.mark.live

APP = """def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""


def _ecosystem(name: str, cwd: Path, port: int, interpreter: Path) -> str:
    return ("module.exports = { apps: [{ name: %s, cwd: %s, script: 'gunicorn', args: %s, interpreter: %s }] };\n"
            % (json.dumps(name), json.dumps(str(cwd)), json.dumps(f"-b 127.0.0.1:{port} app:app"),
               json.dumps(str(interpreter))))


def _pm2(pm2, path: str, *args: str) -> subprocess.CompletedProcess:
    env = {**pm2.env(), "PATH": path}
    return subprocess.run([str(pm2.bin), *args], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)


def _system_path() -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    dirs = [os.path.dirname(node), "/usr/bin", "/bin"]
    path = os.pathsep.join(dict.fromkeys(dirs))
    if shutil.which("gunicorn", path=path) is not None:
        pytest.skip("this host has a system gunicorn on PATH: the 'nothing found' case cannot be shown")
    return path


def test_bare_gunicorn_is_not_found_without_the_venv_on_path(pm2, venvs, tmp_path):
    venv = venvs["plain"]
    path = _system_path()
    live.write(tmp_path / "app.py", APP)
    ecosystem = live.write(tmp_path / "ecosystem.config.js",
                           _ecosystem("scl-bare", tmp_path, live.free_port(), venv.bin / "python"))
    result = _pm2(pm2, path, "start", str(ecosystem))
    try:
        assert "Script not found" in result.stdout + result.stderr, result.stdout + result.stderr
        assert not [app for app in pm2.jlist() if app.get("name") == "scl-bare"]
        # what sc-audit says of the same file, read statically
        report = audit(tmp_path, Config(select=("SC206",)))
        assert [(f.rule, f.severity) for f in report.findings] == [("SC206", "error")]
    finally:
        _pm2(pm2, path, "delete", "scl-bare")


def test_bare_gunicorn_resolves_to_the_venv_when_it_is_activated(pm2, venvs, tmp_path):
    venv = venvs["plain"]
    path = os.pathsep.join([str(venv.bin), _system_path()])  # what `source venv/bin/activate` does
    live.write(tmp_path / "app.py", APP)
    port = live.free_port()
    ecosystem = live.write(tmp_path / "ecosystem.config.js",
                           _ecosystem("scl-activated", tmp_path, port, venv.bin / "python"))
    try:
        result = _pm2(pm2, path, "start", str(ecosystem))
        assert result.returncode == 0, result.stdout + result.stderr
        [app] = [app for app in pm2.jlist() if app.get("name") == "scl-activated"]
        assert app["pm2_env"]["pm_exec_path"] == str(venv.bin / "gunicorn")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not live.answers(port):
            time.sleep(0.2)
        assert live.answers(port)
    finally:
        _pm2(pm2, path, "delete", "scl-activated")
