"""sc_audit/ere.py (the linear-time translation of pgrep's POSIX ERE) against the real pgrep.

A few `sleep` processes are started under chosen names (`exec -a NAME`), so that their
cmdline is `NAME 60`; for each pattern of tests/test_ere.py's table the real `pgrep -f`
(never pkill) is asked, and its answer for our PIDs is compared with `ere.search` on the
cmdline read from /proc. Where ere.py says unknown (None), nothing is asserted but that pgrep
had an answer we declined to guess. Only the PIDs started here are looked at or stopped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1]))

import live_support as live  # noqa: E402
from test_ere import PATTERNS  # noqa: E402

from sc_audit import ere  # noqa: E402

pytestmark = pytest.mark.live

NAMES = ["gunicorn: master [app:app]", "/srv/app/venv/bin/python3", "python3 -m gunicorn -b 127.0.0.1:8000",
         "a]b", "x\\d", "aaa!", "ab{2}", "GUNICORN", "word.boundary", "node /srv/server.js"]


def test_pgrep_agrees_with_ere():
    if shutil.which("pgrep") is None or shutil.which("bash") is None:
        pytest.skip("needs bash and pgrep")
    marker = f"scere{os.getpid()}"
    popens = [subprocess.Popen(["bash", "-c", 'exec -a "$0" sleep 60', f"{name} {marker}"],
                               stdin=subprocess.DEVNULL, start_new_session=True) for name in NAMES]
    seen = []
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            seen = [live.see(p.pid) for p in popens]
            if all(s is not None and s.comm == "sleep" and s.cmdline for s in seen):  # cmdline follows comm
                break
            time.sleep(0.05)
        assert all(s is not None and s.comm == "sleep" and s.cmdline for s in seen)
        disagreements = []
        for pattern in PATTERNS:
            for ignore_case in (False, True):
                args = ("-f", *(("-i",) if ignore_case else ()), "--", pattern)
                code, pids = live.pgrep(args)
                for process in seen:
                    ours = ere.search(pattern, process.cmdline, ignore_case=ignore_case)
                    if ours is None:
                        continue
                    real = False if code >= 2 else process.pid in pids
                    if ours != real:
                        disagreements.append((pattern, ignore_case, process.cmdline, ours, real))
        assert not disagreements
    finally:
        live.stop([s for s in seen if s is not None], popens)
