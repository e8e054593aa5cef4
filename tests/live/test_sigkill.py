"""Live: what `kill -9` of the Gunicorn master leaves behind (the claim of SC504 kill-sigkill).

Gunicorn's sync worker checks `self.ppid != os.getppid()` (`is_parent_alive`,
gunicorn/workers/sync.py) between requests and after each `select()` wait of `timeout / 2`
seconds (the arbiter hands each worker `self.timeout / 2.0`). SIGKILL gives the master no chance
to stop them, so the workers live on after it, holding the inherited listening socket; a new
Gunicorn on the same address retries the bind five times a second apart and exits with
"Connection in use" (gunicorn/sock.py `create_sockets`).

Real Gunicorn from the live cache, on 127.0.0.1, a free port; only the PIDs this test starts
are signalled (and only while their start time matches).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import live_support as live  # noqa: E402

pytestmark = pytest.mark.live

APP = """def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
"""
TIMEOUT = 30  # Gunicorn's default worker timeout: the workers wait up to 15 s per select()


def _wait(predicate, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_sigkill_of_the_master_leaves_workers_holding_the_port(venvs, tmp_path):
    venv = venvs["plain"]
    live.write(tmp_path / "app.py", APP)
    port = live.free_port()
    argv = [str(venv.bin / "gunicorn"), "-w", "2", "--timeout", str(TIMEOUT), "-b", f"127.0.0.1:{port}", "app:app"]
    first_log = open(tmp_path / "first.log", "wb")  # noqa: SIM115 - closed in finally
    master = subprocess.Popen(argv, cwd=tmp_path, stdin=subprocess.DEVNULL, stdout=first_log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    second = None
    recorded: list[live.Seen] = []
    try:
        assert _wait(lambda: live.answers(port) and len(live.children(master.pid)) == 2, 30), \
            (tmp_path / "first.log").read_text()
        workers = [live.see(pid) for pid in live.children(master.pid)]
        recorded = [s for s in [live.see(master.pid), *workers] if s is not None]
        assert all(workers)

        os.kill(master.pid, signal.SIGKILL)
        killed_at = time.monotonic()
        master.wait(timeout=10)
        # no request from here on: a request wakes a worker, which then notices at once

        second = subprocess.run(argv, cwd=tmp_path, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=30)
        second_done = time.monotonic() - killed_at
        assert second.returncode != 0
        assert "Connection in use" in second.stderr + second.stdout
        assert any(live.alive(w) for w in workers), "the workers were gone before the new start gave up"

        assert _wait(lambda: not any(live.alive(w) for w in workers), TIMEOUT), "workers outlived timeout"
        lived = time.monotonic() - killed_at
        print(f"\nworkers lived {lived:.1f} s after kill -9 of the master; the new start failed after "
              f"{second_done:.1f} s with 'Connection in use'")
        assert second_done < lived <= TIMEOUT / 2 + 3
        assert live.answers(port) is False  # and then nothing serves the port at all
    finally:
        live.stop(recorded, [master])
        first_log.close()
