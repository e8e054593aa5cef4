"""Live: who gets `docker stop`'s SIGTERM when a shell starts the server (the claim of SC704).

Docker has no engine here, but a container's PID 1 is only a process in a new PID namespace:
`unshare --user --map-root-user --pid --fork` makes one without privileges. The command runs as
that namespace's PID 1, exactly as `/bin/sh -c "…"` (the shell form) or an entrypoint script runs
in a container; SIGTERM is sent to it as `docker stop` sends it. A small server records whether
SIGTERM reached it.

Proven here (dash 0.5.12 and bash 5.2 of this machine; Debian and the python images ship dash as
/bin/sh):
- dash forks the lone command of `-c`: the server is a child, the SIGTERM goes to dash, which as
  PID 1 (no handler) ignores it: the server never hears of it;
- `exec` in front of the server, and bash's `-c` (it replaces itself with its last command), make the
  server PID 1 and it gets the SIGTERM;
- a script file never execs its last command (dash and bash): the server does not get the SIGTERM.
Only the processes this test starts are signalled, by PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

SERVER = """import os, signal, sys, time
def stop(*_):
    open(sys.argv[1], "w").write("TERM")
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
open(sys.argv[1] + ".pid", "w").write(str(os.getpid()))
while True:
    time.sleep(0.1)
"""
UNSHARE = ["unshare", "--user", "--map-root-user", "--pid", "--fork"]


def _unshare_works() -> bool:
    if shutil.which("unshare") is None:
        return False
    try:
        return subprocess.run([*UNSHARE, "/bin/sh", "-c", "test $$ = 1"], timeout=10,
                              capture_output=True).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _term_reaches_server(tmp_path: Path, argv: list[str]) -> bool:
    """Run argv as PID 1 of a new PID namespace, SIGTERM that PID 1, and say whether the server got it."""
    marker = tmp_path / "term"
    outer = subprocess.Popen([*UNSHARE, *argv], cwd=tmp_path, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait(lambda: Path(str(marker) + ".pid").exists() and _children(outer.pid), 20), "the server did not start"
        pid1 = _children(outer.pid)[0]  # the namespace's PID 1, as the host numbers it
        os.kill(pid1, signal.SIGTERM)
        return _wait(marker.exists, 3)
    finally:
        for pid in _children(outer.pid):  # killing a namespace's PID 1 ends every process in it
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        outer.wait(timeout=10)


@pytest.fixture
def server(tmp_path):
    if not _unshare_works():
        pytest.skip("unprivileged PID namespaces (unshare --user --pid) are not available here")
    (tmp_path / "server.py").write_text(SERVER)
    return f"{sys.executable} server.py term"


@pytest.mark.skipif(not Path("/bin/dash").exists(), reason="dash is not installed")
def test_dash_c_keeps_pid1_and_swallows_sigterm(server, tmp_path):
    assert not _term_reaches_server(tmp_path, ["/bin/dash", "-c", server])


@pytest.mark.skipif(not Path("/bin/dash").exists(), reason="dash is not installed")
def test_exec_makes_the_server_pid1(server, tmp_path):
    assert _term_reaches_server(tmp_path, ["/bin/dash", "-c", f"exec {server}"])


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_c_execs_its_last_command(server, tmp_path):
    assert _term_reaches_server(tmp_path, ["bash", "-c", f"true && {server}"])


@pytest.mark.parametrize("shell", ["/bin/dash", "/bin/bash"])
def test_a_script_file_never_execs_its_last_command(server, tmp_path, shell):
    if not Path(shell).exists():
        pytest.skip(f"{shell} is not installed")
    script = tmp_path / "entrypoint.sh"
    script.write_text(f"#!{shell}\nset -e\necho migrating\n{server}\n")
    script.chmod(0o755)
    assert not _term_reaches_server(tmp_path, [str(script)])
