"""Live tests: the real Gunicorn (with and without setproctitle), PM2 and pgrep, on loopback.

They run by default (CI runs them). The first run installs the tools into a cache
(/tmp/sc-audit-live-cache, or $SC_AUDIT_LIVE_CACHE), keyed by version; when an install
cannot be done (no network, no node), the tests that need it skip and say why.
`pytest -m "not live"` leaves them out.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # live_support, beside this file (no __init__.py here)

import live_support as live  # noqa: E402


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "live: starts real Gunicorn/PM2/Node processes on 127.0.0.1 and checks them with pgrep")
    _give_back_conftest_name(config)


def _give_back_conftest_name(config) -> None:
    """Other test files do `from conftest import write_repo`, meaning tests/conftest.py.

    tests/live has no __init__.py, so pytest imported this file as the top-level module
    `conftest` too, replacing that one in sys.modules: hand the name back (pytest keeps
    its own reference to each conftest, so nothing else changes).
    """
    parent = Path(__file__).resolve().parents[1] / "conftest.py"
    for _, plugin in config.pluginmanager.list_name_plugin():
        module_file = getattr(plugin, "__file__", None)
        if module_file and Path(module_file).resolve() == parent:
            sys.modules["conftest"] = plugin
            return


def _need_pgrep() -> None:
    if shutil.which("pgrep") is None:
        pytest.skip("pgrep (procps) is not installed")


@pytest.fixture(scope="session")
def venvs() -> dict[str, live.Venv]:
    """{"plain": gunicorn only, "setproctitle": gunicorn + setproctitle}, cached across runs."""
    _need_pgrep()
    try:
        return {world: live.ensure_venv(world) for world in ("plain", "setproctitle")}
    except live.Unavailable as error:
        pytest.skip(str(error))


@dataclass
class Pm2:
    bin: Path
    version: str
    home: Path  # private PM2_HOME: its daemon is this test session's alone

    def env(self) -> dict:
        return {**os.environ, "PM2_HOME": str(self.home)}

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([str(self.bin), *args], capture_output=True, text=True, env=self.env(),
                              timeout=timeout, stdin=subprocess.DEVNULL)

    def jlist(self) -> list[dict]:
        out = self.run("jlist").stdout
        start = out.find("[")
        return json.loads(out[start:]) if start >= 0 else []

    def daemon_pid(self) -> int | None:
        try:
            return int((self.home / "pm2.pid").read_text().strip())
        except (OSError, ValueError):
            return None


@pytest.fixture(scope="session")
def pm2():
    """PM2 from npm with a private PM2_HOME (named `.pm2`, like the default ~/.pm2).

    Teardown runs `pm2 kill` with that PM2_HOME: it stops only this private daemon and its
    apps; anything of ours still alive afterwards is stopped by PID.
    """
    _need_pgrep()
    try:
        install = live.ensure_pm2()
    except live.Unavailable as error:
        pytest.skip(str(error))
    holder = Path(tempfile.mkdtemp(prefix="scl-pm2-"))  # short: PM2's unix sockets live here
    handle = Pm2(install.bin, install.version, holder / ".pm2")
    handle.home.mkdir()
    try:
        yield handle
    finally:
        daemon = handle.daemon_pid()
        seen = live.see(daemon) if daemon else None
        apps = [live.see(app["pid"]) for app in _safe_jlist(handle) if app.get("pid")]
        workers = [live.see(c) for a in apps if a for c in live.children(a.pid)]
        try:
            handle.run("kill", timeout=60)
        except subprocess.TimeoutExpired:
            pass
        leftovers = [s for s in [seen, *apps, *workers] if s is not None]
        live.stop(leftovers)
        shutil.rmtree(holder, ignore_errors=True)


def _safe_jlist(handle: Pm2) -> list[dict]:
    try:
        return handle.jlist()
    except (subprocess.TimeoutExpired, json.JSONDecodeError, OSError):
        return []
