"""What Gunicorn reads, against what the install map says it reads (sc_audit/model/install.py, gunicorn.py).

Two launches of the real Gunicorn on 127.0.0.1, each audited as a repository:
- no `-c`, started in the folder that holds `gunicorn.conf.py`: Gunicorn binds what that file says
  (gunicorn/config.py `get_default_config_file()` joins the working directory), and the model's
  implied process (a config with no launcher in the repository) binds the same endpoint;
- a unit `ExecStart=… --config /ABS/ROOT/deploy/gunicorn.conf.py` with `WorkingDirectory=/ABS/ROOT`:
  Gunicorn binds what `deploy/gunicorn.conf.py` says, and the map resolves the absolute path to that
  repository file (a path of the unit), so the model binds the same endpoint.
Only the processes these tests start are looked at or stopped.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import live_support as live  # noqa: E402
from sc_audit import audit  # noqa: E402

pytestmark = pytest.mark.live

APP_PY = '''\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\\n"]
'''


def _serve(argv: list[str], cwd: Path, port: int, log: Path) -> None:
    """Start Gunicorn, wait until it answers on `port` (else fail with its log), then stop it."""
    with open(log, "wb") as out:
        popen = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                 start_new_session=True)
    seen = live.see(popen.pid)
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and popen.poll() is None and not live.answers(port):
            time.sleep(0.1)
        assert live.answers(port), f"gunicorn did not answer on {port}: {log.read_text()[-2000:]}"
    finally:
        live.stop([seen] if seen is not None else [], [popen])


def _bound(report) -> list[str]:
    return [str(endpoint) for process in report.model.processes for endpoint, _ in process.binds]


def test_gunicorn_reads_the_config_of_its_working_directory(venvs, tmp_path):
    venv = venvs["plain"]
    port = live.free_port()
    root = tmp_path / "repo"
    live.write(root / "app.py", APP_PY)
    live.write(root / "gunicorn.conf.py", f'bind = "127.0.0.1:{port}"\nworkers = 1\nwsgi_app = "app:app"\n')
    _serve([str(venv.bin / "gunicorn")], root, port, tmp_path / "cwd.log")
    report = audit(root)
    [process] = report.model.processes
    assert process.manager == "implied" and _bound(report) == [f"127.0.0.1:{port}"]


def test_an_absolute_config_of_a_unit_resolves_to_the_repository_file(venvs, tmp_path):
    venv = venvs["plain"]
    port = live.free_port()
    root = tmp_path / "opt" / "myapp"
    live.write(root / "app.py", APP_PY)
    live.write(root / "deploy" / "gunicorn.conf.py", f'bind = "127.0.0.1:{port}"\nworkers = 1\n')
    argv = [str(venv.bin / "gunicorn"), "--config", str(root / "deploy" / "gunicorn.conf.py"), "app:app"]
    live.write(root / "deploy" / "myapp.service",
               f"[Service]\nWorkingDirectory={root}\nExecStart={' '.join(argv)}\n")
    _serve(argv, root, port, tmp_path / "unit.log")
    report = audit(root)
    [process] = report.model.processes
    assert process.config_path == "deploy/gunicorn.conf.py"
    assert _bound(report) == [f"127.0.0.1:{port}"]
    assert (str(root), "") in {(p.host, p.repo) for p in report.model.placements}
