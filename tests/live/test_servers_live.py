"""uvicorn, hypercorn and waitress for real: the bind each takes when the command line names none,
and the command line pgrep -f sees, against what sc-audit's model predicts for the same unit.

Each server runs from a cached venv (live_support.ensure_servers, versions pinned there) with its
default bind, so the test skips when that port is taken on this host. The bind is read from the
process's own listening sockets (/proc/PID/fd and /proc/PID/net/tcp*); the process is stopped by
its PID. Run: `pytest tests/live/test_servers_live.py`.
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

ASGI = '''\
async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            kind = message["type"].replace("startup", "startup.complete").replace("shutdown", "shutdown.complete")
            await send({"type": kind})
            if message["type"] == "lifespan.shutdown":
                return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok\\n"})
'''

WSGI = '''\
def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\\n"]
'''

# (server, its command after the venv's bin/, module file, default endpoint, the host to test it free on)
DEFAULTS = [
    ("uvicorn", "uvicorn app:app", "app.py", "127.0.0.1:8000", "127.0.0.1"),
    ("hypercorn", "hypercorn app:app", "app.py", "127.0.0.1:8000", "127.0.0.1"),
    ("waitress", "waitress-serve wsgi:app", "wsgi.py", "0.0.0.0:8080", "0.0.0.0"),
]
PATTERNS = ("app:app", "wsgi:app", "bin/uvicorn", "uvicorn app", "python3.*hypercorn", "^uvicorn", "waitress-serve",
            "venv/bin/python3 ", "^/")


@pytest.fixture(scope="module")
def servers() -> live.Venv:
    if subprocess.run(["which", "pgrep"], capture_output=True).returncode != 0:
        pytest.skip("pgrep (procps) is not installed")
    try:
        return live.ensure_servers()
    except live.Unavailable as error:
        pytest.skip(str(error))


def _wait_listening(pid: int, popen: subprocess.Popen) -> set[str]:
    deadline = time.monotonic() + live.START_TIMEOUT
    while time.monotonic() < deadline:
        if popen.poll() is not None:
            return set()
        found = live.listening(pid)
        if found:
            time.sleep(0.3)  # a server may open more than one socket
            return live.listening(pid)
        time.sleep(0.1)
    return set()


@pytest.mark.parametrize("server, command, module, default, host", DEFAULTS, ids=[d[0] for d in DEFAULTS])
def test_default_bind_and_command_line(servers, tmp_path, server, command, module, default, host):
    port = int(default.rsplit(":", 1)[1])
    if not live.port_free(port, host):
        pytest.skip(f"port {port} is taken on this host: {server}'s default bind cannot be shown")
    live.write(tmp_path / module, ASGI if module == "app.py" else WSGI)
    argv = [str(servers.bin / command.split()[0]), *command.split()[1:]]
    live.write(tmp_path / "deploy" / "app.service",
               f"[Service]\nWorkingDirectory={tmp_path}\nExecStart={' '.join(argv)}\n")
    popen = subprocess.Popen(argv, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             stdin=subprocess.DEVNULL, start_new_session=True)
    seen = live.see(popen.pid)
    try:
        bound = _wait_listening(popen.pid, popen)
        if not bound:
            pytest.fail(f"{server} did not listen: {popen.stderr.read(2000) if popen.poll() is not None else ''}")
        seen = live.see(popen.pid)
        model = audit(tmp_path).model
        (process,) = model.processes
        assert process.launch.server_kind == server
        assert {str(endpoint) for endpoint, _ in process.binds} == bound == {default}
        mains = [v for v in process.views if v.role == "main"]
        assert seen.cmdline in {v.cmdline for v in mains}, (seen.cmdline, [v.cmdline for v in mains])
        view = next(v for v in mains if v.cmdline == seen.cmdline)
        assert view.comm == seen.comm
        for pattern in PATTERNS:
            _, pids = live.pgrep(("-f", pattern))
            predicted = procview.kill_matches(cmd.KillCommand("pgrep", pattern, full=True), view)
            assert (popen.pid in pids) == predicted, (pattern, seen.cmdline)
        print(f"\n{server}: {seen.cmdline!r} (comm {seen.comm!r}) listens on {sorted(bound)}")
    finally:
        if seen is not None:
            live.stop([seen, *[s for s in map(live.see, live.children(popen.pid)) if s]], [popen])
