"""Real supervisord (from PyPI) running a real Gunicorn, against what the model says of the program.

One supervisord, started in the foreground (`nodaemon`) from a folder that is NOT the program's
`directory=`, with a `[program:myapp]` file of the audited repository included by `[include]`:

- the program runs in `directory=`: Gunicorn reads `./gunicorn.conf.py` there and binds what it
  says, the port the model binds (sc_audit/model/processes.py supervisor_process, gunicorn.py);
- the command line pgrep sees for the program is the one the model's views show, so a `pkill -f`
  pattern that the model says matches (or misses) does so on the real process (SC501 semantics);
- `supervisorctl stop` sends the default stop signal, TERM (supervisor/options.py: stopsignal TERM),
  which the model shows for a program that sets none.

supervisord is stopped by its PID at the end (it stops its programs); only processes this test
started are looked at or signalled.
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
from sc_audit import commands as cmd  # noqa: E402
from sc_audit import procview  # noqa: E402

pytestmark = pytest.mark.live

APP_PY = '''\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\\n"]
'''

# A program that writes the name of the signal supervisord stops it with, then exits.
SIGNAL_PY = '''\
import signal, sys, time
out = sys.argv[1]
def got(number, frame):
    open(out, "w").write(signal.Signals(number).name)
    sys.exit(0)
for name in ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2"):
    signal.signal(getattr(signal, name), got)
while True:
    time.sleep(0.1)
'''


@pytest.fixture(scope="session")
def supervisor_bin() -> Path:
    try:
        return live.ensure_supervisor()
    except live.Unavailable as error:
        pytest.skip(str(error))


def _wait(condition, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_supervisord_runs_the_program_as_the_model_says(venvs, supervisor_bin, tmp_path):
    venv = venvs["plain"]
    port = live.free_port()
    root = tmp_path / "srv" / "myapp"  # the repository, checked out where `directory=` says
    live.write(root / "app.py", APP_PY)
    live.write(root / "gunicorn.conf.py", f'bind = "127.0.0.1:{port}"\nworkers = 1\n')
    live.write(root / "signal_probe.py", SIGNAL_PY)
    signal_file = tmp_path / "signal.txt"
    live.write(root / "deploy" / "supervisor" / "myapp.conf",
               f"[program:myapp]\ncommand={venv.bin / 'gunicorn'} app:app\ndirectory={root}\n"
               "autorestart=true\nstopwaitsecs=10\n\n"
               f"[program:probe]\ncommand={sys.executable} {root / 'signal_probe.py'} {signal_file}\n"
               f"directory={root}\n")
    elsewhere = tmp_path / "supervisord-cwd"
    elsewhere.mkdir()
    socket = tmp_path / "supervisor.sock"
    main_conf = live.write(tmp_path / "supervisord.conf",
                           f"[supervisord]\nnodaemon=true\nlogfile={tmp_path / 'supervisord.log'}\n"
                           f"pidfile={tmp_path / 'supervisord.pid'}\nchildlogdir={tmp_path}\n"
                           f"[unix_http_server]\nfile={socket}\n"
                           "[rpcinterface:supervisor]\n"
                           "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n"
                           f"[supervisorctl]\nserverurl=unix://{socket}\n"
                           f"[include]\nfiles = {root / 'deploy' / 'supervisor' / '*.conf'}\n")
    log = tmp_path / "supervisord.out"
    with open(log, "wb") as out:
        popen = subprocess.Popen([str(supervisor_bin / "supervisord"), "-c", str(main_conf)], cwd=elsewhere,
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True)
    supervisord = live.see(popen.pid)
    seen = [supervisord] if supervisord is not None else []
    try:
        assert _wait(lambda: live.answers(port)), \
            f"gunicorn under supervisord did not answer on {port}: {log.read_text()[-2000:]}"
        masters = [live.see(pid) for pid in live.children(popen.pid)]
        master = next(s for s in masters if s is not None and "gunicorn" in s.cmdline)
        seen.append(master)

        report = audit(root)
        [process] = [p for p in report.model.processes if p.name == "myapp"]
        assert process.manager == "supervisor"
        # `directory=` is the working directory: Gunicorn read ./gunicorn.conf.py there
        assert Path(f"/proc/{master.pid}/cwd").resolve() == root.resolve()
        assert process.config_path == "gunicorn.conf.py"
        assert [str(bound) for bound, _ in process.binds] == [f"127.0.0.1:{port}"]
        # the command line pgrep sees is the model's view of the program
        # (one view per guess of the entry point's shebang, python3 or python: one is the real one)
        main_views = [v for v in process.views if v.role == "main" and v.world == "plain"]
        [real] = [v for v in main_views if (v.cmdline, v.comm) == (master.cmdline, master.comm)]
        for pattern in ("gunicorn.*app:app", "python app.py", "myapp"):
            _, pids = live.pgrep(("-f", pattern))
            kill = cmd.KillCommand("pgrep", pattern, full=True)
            assert procview.kill_matches(kill, real) == (master.pid in pids), pattern
        # the default stop signal is TERM, as the model says
        [probe] = [p for p in report.model.processes if p.name == "probe"]
        assert probe.supervisor.value("stopsignal") == "TERM"
        done = subprocess.run([str(supervisor_bin / "supervisorctl"), "-c", str(main_conf), "stop", "probe"],
                              capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
        assert done.returncode == 0, done.stdout + done.stderr
        assert _wait(signal_file.exists, 10) and signal_file.read_text() == "SIGTERM"
    finally:
        notes = live.stop(seen, [popen])  # supervisord first: it stops its programs on TERM
        assert not notes, notes
