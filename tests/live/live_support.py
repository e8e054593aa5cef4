"""Helpers for the live tests: cached installs of the real tools, free loopback ports,
reading /proc, pgrep, and stopping only the processes a test started.

Safety rules these helpers keep: nothing here runs pkill, killall or `fuser -k`; a process
is signalled only by PID, and only after checking that the PID still belongs to the
process the test recorded (same start time), so a recycled PID is never hit.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

# Versions of the real tools (the newest on the registries when these tests were written).
# Override with the environment variables to try others; the cache is keyed by version.
GUNICORN_VERSION = os.environ.get("SC_AUDIT_LIVE_GUNICORN", "27.0.1")
SETPROCTITLE_VERSION = os.environ.get("SC_AUDIT_LIVE_SETPROCTITLE", "1.3.8")
SUPERVISOR_VERSION = os.environ.get("SC_AUDIT_LIVE_SUPERVISOR", "4.3.0")
PM2_VERSION = os.environ.get("SC_AUDIT_LIVE_PM2", "7.0.4")
CACHE = Path(os.environ.get("SC_AUDIT_LIVE_CACHE", "/tmp/sc-audit-live-cache"))
# the other servers sc_audit/servers.py reads (tests/live/test_servers_live.py)
SERVER_VERSIONS = {"uvicorn": os.environ.get("SC_AUDIT_LIVE_UVICORN", "0.54.0"),
                   "hypercorn": os.environ.get("SC_AUDIT_LIVE_HYPERCORN", "0.18.0"),
                   "waitress": os.environ.get("SC_AUDIT_LIVE_WAITRESS", "3.0.2")}

INSTALL_TIMEOUT = 900  # seconds, for one pip or npm install on a cold machine
START_TIMEOUT = 20.0  # seconds for a launched server to answer on its port
STOP_TIMEOUT = 10.0  # seconds for a signalled process to go away before SIGKILL


class Unavailable(Exception):
    """A tool could not be installed or found: the live tests skip, saying why."""


# ---------------------------------------------------------------------------- installs


@contextlib.contextmanager
def _locked(path: Path):
    """One installer at a time (two pytest runs may share the cache)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run_install(argv: list[str], what: str, env: dict | None = None) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                              stdin=subprocess.DEVNULL, env=env)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise Unavailable(f"cannot install {what}: {error}") from error
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-5:]
        raise Unavailable(f"cannot install {what} (no network or registry?): {' | '.join(tail)}")


def base_python3() -> str:
    """The interpreter to make venvs with, called `python3` the way a server's is.

    `python3 -m venv venv` names the venv's interpreter `python3`, and pip then writes
    `#!/…/venv/bin/python3` into the entry points (`python3.11 -m venv` would give
    `python3.11`, and the cmdline would change with it).
    """
    base = Path(getattr(sys, "_base_executable", sys.executable))
    sibling = base.with_name("python3")
    if sibling.exists():
        return str(sibling)
    found = shutil.which("python3")
    if found is None:
        raise Unavailable("no `python3` to make a venv with")
    return found


def _python_key() -> str:
    """Venvs are tied to the Python that made them: key the cache by its path and version."""
    digest = hashlib.sha1(base_python3().encode()).hexdigest()[:8]
    return f"py{sys.version_info[0]}.{sys.version_info[1]}-{digest}"


@dataclass(frozen=True)
class Venv:
    root: Path  # a deployment directory: `venv/` inside it, the way a server has it
    world: str  # "plain" | "setproctitle"

    @property
    def venv(self) -> Path:
        return self.root / "venv"

    @property
    def bin(self) -> Path:
        return self.venv / "bin"


def ensure_venv(world: str) -> Venv:
    """A cached deployment dir with `venv/` holding gunicorn (and setproctitle in that world).

    Installed the common way, `python3 -m venv venv && venv/bin/pip install gunicorn`, so the
    entry point's shebang is `#!/…/venv/bin/python3`.
    """
    packages = {"gunicorn": GUNICORN_VERSION}
    if world == "setproctitle":
        packages["setproctitle"] = SETPROCTITLE_VERSION
    name = "-".join(f"{k}-{v}" for k, v in packages.items())
    root = CACHE / _python_key() / name
    complete = root / ".complete"
    with _locked(CACHE / ".lock"):
        if complete.exists() and (root / "venv" / "bin" / "gunicorn").exists():
            return Venv(root, world)
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        _run_install([base_python3(), "-m", "venv", str(root / "venv")], f"a venv in {root}")
        specs = [f"{k}=={v}" for k, v in packages.items()]
        _run_install([str(root / "venv" / "bin" / "pip"), "install", "-q", *specs], " ".join(specs))
        complete.write_text(json.dumps(packages) + "\n", encoding="utf-8")
    return Venv(root, world)


def ensure_supervisor() -> Path:
    """A cached venv holding supervisor (supervisord, supervisorctl) from PyPI; its bin directory."""
    root = CACHE / _python_key() / f"supervisor-{SUPERVISOR_VERSION}"
    complete = root / ".complete"
    with _locked(CACHE / ".lock"):
        if complete.exists() and (root / "venv" / "bin" / "supervisord").exists():
            return root / "venv" / "bin"
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        _run_install([base_python3(), "-m", "venv", str(root / "venv")], f"a venv in {root}")
        _run_install([str(root / "venv" / "bin" / "pip"), "install", "-q", f"supervisor=={SUPERVISOR_VERSION}"],
                     f"supervisor=={SUPERVISOR_VERSION}")
        complete.write_text(json.dumps({"supervisor": SUPERVISOR_VERSION}) + "\n", encoding="utf-8")
    return root / "venv" / "bin"


def ensure_servers() -> Venv:
    """A cached deployment dir whose `venv/` holds uvicorn, hypercorn and waitress (pinned)."""
    name = "-".join(f"{k}-{v}" for k, v in sorted(SERVER_VERSIONS.items()))
    root = CACHE / _python_key() / name
    complete = root / ".complete"
    with _locked(CACHE / ".lock"):
        if complete.exists() and all((root / "venv" / "bin" / b).exists()
                                     for b in ("uvicorn", "hypercorn", "waitress-serve")):
            return Venv(root, "plain")
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        _run_install([base_python3(), "-m", "venv", str(root / "venv")], f"a venv in {root}")
        specs = [f"{k}=={v}" for k, v in sorted(SERVER_VERSIONS.items())]
        _run_install([str(root / "venv" / "bin" / "pip"), "install", "-q", *specs], " ".join(specs))
        complete.write_text(json.dumps(SERVER_VERSIONS) + "\n", encoding="utf-8")
    return Venv(root, "plain")


def listening(pid: int) -> set[str]:
    """The TCP endpoints a process listens on, from its own sockets (/proc/PID/fd) found in
    /proc/PID/net/tcp and tcp6 (state 0A): `127.0.0.1:8000`, `[::]:8080`. No connection is made."""
    inodes = set()
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            with contextlib.suppress(OSError):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
    except OSError:
        return set()
    found = set()
    for table, width in (("tcp", 8), ("tcp6", 32)):
        with contextlib.suppress(OSError):
            for row in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
                fields = row.split()
                if fields[3] != "0A" or fields[9] not in inodes:
                    continue
                address, port = fields[1].split(":")
                raw = bytes.fromhex(address)
                if width == 8:
                    host = socket.inet_ntop(socket.AF_INET, raw[::-1])
                    found.add(f"{host}:{int(port, 16)}")
                else:
                    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
                    found.add(f"[{socket.inet_ntop(socket.AF_INET6, words)}]:{int(port, 16)}")
    return found


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


@dataclass(frozen=True)
class Pm2Install:
    bin: Path  # node_modules/.bin/pm2
    version: str


def ensure_pm2() -> Pm2Install:
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise Unavailable(f"`{tool}` is not on PATH: PM2 cannot run")
    root = CACHE / f"pm2-{PM2_VERSION}"
    pm2 = root / "node_modules" / ".bin" / "pm2"
    complete = root / ".complete"
    with _locked(CACHE / ".lock"):
        if complete.exists() and pm2.exists():
            return Pm2Install(pm2, PM2_VERSION)
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        _run_install(["npm", "install", "--prefix", str(root), f"pm2@{PM2_VERSION}", "--no-audit",
                      "--no-fund", "--loglevel=error"], f"pm2@{PM2_VERSION}")
        if not pm2.exists():
            raise Unavailable(f"npm installed pm2 but {pm2} is missing")
        complete.write_text(PM2_VERSION + "\n", encoding="utf-8")
    return Pm2Install(pm2, PM2_VERSION)


def write(path: Path, text: str) -> Path:
    """Write a file (atomically: the cache dirs are shared between runs)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


# ---------------------------------------------------------------------------- ports

_handed_out: set[int] = set()


def free_port() -> int:
    """A free TCP port on 127.0.0.1 (bind port 0, read it, close), never the same twice."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def answers(port: int) -> bool:
    """Whether an HTTP server on 127.0.0.1:port answers (for Gunicorn: a worker is serving)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1.0) as response:
            return response.status == 200
    except OSError:
        return False


# ---------------------------------------------------------------------------- /proc


@dataclass(frozen=True)
class Seen:
    """How Linux shows a process right now."""

    pid: int
    raw_cmdline: bytes
    comm: str
    start: int  # start time in clock ticks (field 22 of /proc/PID/stat): the PID's identity

    @property
    def cmdline(self) -> str:
        """As pgrep -f and `ps -o args` see it: NULs as spaces, trailing NULs dropped."""
        return self.raw_cmdline.rstrip(b"\0").replace(b"\0", b" ").decode("utf-8", "replace")


def start_time(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None  # a zombie is gone for our purposes
    return int(fields[19])


def see(pid: int) -> Seen | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        comm = Path(f"/proc/{pid}/comm").read_text().rstrip("\n")
    except OSError:
        return None
    start = start_time(pid)
    return None if start is None else Seen(pid, raw, comm, start)


def children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            found += [int(x) for x in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return sorted(set(found))


def pgrep(args: tuple[str, ...]) -> tuple[int, set[int]]:
    """Run the real `pgrep ARGS` (never pkill). Returns (exit code, PIDs)."""
    done = subprocess.run(["pgrep", *args], capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL)
    return done.returncode, {int(x) for x in done.stdout.split()}


# ---------------------------------------------------------------------------- stopping


def alive(seen: Seen) -> bool:
    return start_time(seen.pid) == seen.start


def stop(processes: list[Seen], popens: list[subprocess.Popen] = ()) -> list[str]:
    """SIGTERM each recorded process that is still the same process, wait, then SIGKILL.

    Returns what had to be force-killed (for the teardown's message). Only these PIDs are
    touched, and only while their start time still matches what the test recorded.
    """
    notes = []
    for seen in processes:
        if alive(seen):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(seen.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        for popen in popens:
            popen.poll()  # reap our own children so they do not linger as zombies
        if not any(alive(s) for s in processes):
            break
        time.sleep(0.05)
    for seen in processes:
        if alive(seen):
            notes.append(f"{seen.pid} ({seen.cmdline[:60]}) needed SIGKILL")
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(seen.pid, signal.SIGKILL)
    for popen in popens:
        with contextlib.suppress(subprocess.TimeoutExpired):
            popen.wait(timeout=STOP_TIMEOUT)
    return notes
