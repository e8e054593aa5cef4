"""Live: what a stop signal does to a request Gunicorn is serving (the claim of SC208 stop-timeout-short).

gunicorn/arbiter.py: SIGTERM raises StopIteration and `halt()` calls `stop(graceful=True)`: the
workers get SIGTERM and finish the request in hand (up to `graceful_timeout`); SIGINT and SIGQUIT
call `stop(False)`: the workers get SIGQUIT and exit at once. PM2 sends `PM2_KILL_SIGNAL` (SIGINT
unless the daemon's environment sets it; lib/God/Methods.js killProcess, constants.js).

Real Gunicorn from the live cache (and real PM2 with private PM2_HOMEs), on 127.0.0.1; only the
processes these tests start are signalled.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import live_support as live  # noqa: E402

pytestmark = pytest.mark.live

APP = """import time


def app(environ, start_response):
    if environ["PATH_INFO"] == "/slow":
        time.sleep(8)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"done"]
"""


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


class SlowRequest(threading.Thread):
    """GET /slow in the background; `result` is the body, or the error's name."""

    def __init__(self, port: int):
        super().__init__(daemon=True)
        self.port = port
        self.result: str | None = None

    def run(self) -> None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/slow", timeout=30) as response:
                self.result = response.read().decode()
        except Exception as error:  # noqa: BLE001 - the kind of failure is the observation
            self.result = type(error).__name__


def _in_flight(port: int) -> SlowRequest:
    request = SlowRequest(port)
    request.start()
    time.sleep(1.0)  # the worker is inside the 8 s sleep now
    return request


@pytest.mark.parametrize("signal_name, finished", [("SIGTERM", True), ("SIGINT", False), ("SIGQUIT", False)])
def test_gunicorn_finishes_the_request_on_term_only(venvs, tmp_path, signal_name, finished):
    venv = venvs["plain"]
    live.write(tmp_path / "app.py", APP)
    port = live.free_port()
    log = open(tmp_path / "gunicorn.log", "wb")  # noqa: SIM115 - closed in finally
    master = subprocess.Popen([str(venv.bin / "gunicorn"), "-w", "1", "-b", f"127.0.0.1:{port}", "app:app"],
                              cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    seen = []
    try:
        assert _wait(lambda: live.answers(port), 30), (tmp_path / "gunicorn.log").read_text()
        seen = [s for s in [live.see(master.pid), *map(live.see, live.children(master.pid))] if s]
        request = _in_flight(port)
        os.kill(master.pid, getattr(signal, signal_name))
        request.join(30)
        master.wait(40)
        assert (request.result == "done") is finished, (request.result, (tmp_path / "gunicorn.log").read_text())
    finally:
        live.stop(seen, [master])
        log.close()


def _pm2_home_env(pm2, home: Path, **extra) -> dict:
    return {**os.environ, "PM2_HOME": str(home), **extra}


def _pm2_run(pm2, env, *args):
    return subprocess.run([str(pm2.bin), *args], capture_output=True, text=True, env=env, timeout=60,
                          stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("kill_signal, finished", [(None, False), ("SIGTERM", True)])
def test_pm2_stop_cuts_gunicorn_unless_the_daemon_sends_term(pm2, venvs, tmp_path, kill_signal, finished):
    """`pm2 stop` of a Gunicorn app: with PM2's default the request in flight is cut; a daemon started
    with PM2_KILL_SIGNAL=SIGTERM lets it finish. Each case has a PM2 daemon of its own."""
    venv = venvs["plain"]
    live.write(tmp_path / "app.py", APP)
    port = live.free_port()
    ecosystem = live.write(tmp_path / "ecosystem.config.js", "module.exports = { apps: [%s] };\n" % json.dumps({
        "name": "scl-stop", "cwd": str(tmp_path), "script": str(venv.bin / "gunicorn"), "interpreter": "none",
        "args": f"-w 1 -b 127.0.0.1:{port} app:app", "kill_timeout": 20000, "autorestart": False}))
    holder = Path(tempfile.mkdtemp(prefix="scl-pm2s-"))
    home = holder / ".pm2"
    home.mkdir()
    env = _pm2_home_env(pm2, home, **({"PM2_KILL_SIGNAL": kill_signal} if kill_signal else {}))
    seen = []
    try:
        result = _pm2_run(pm2, env, "start", str(ecosystem))
        assert result.returncode == 0, result.stdout + result.stderr
        assert _wait(lambda: live.answers(port), 30)
        daemon = int((home / "pm2.pid").read_text().strip())
        seen = [s for s in [live.see(daemon)] if s]
        request = _in_flight(port)
        _pm2_run(pm2, env, "stop", "scl-stop")
        request.join(30)
        assert (request.result == "done") is finished, request.result
    finally:
        _pm2_run(pm2, env, "kill")
        live.stop(seen)
        import shutil

        shutil.rmtree(holder, ignore_errors=True)
