"""Live: what `docker stop` sends, and when it gives up (the claims of SC208's Docker policy).

SC208 reads a container's stop as Docker documents it (docs.docker.com, "docker container stop"):
the image's STOPSIGNAL (or `--stop-signal`, Compose `stop_signal:`; SIGTERM when none is set) goes
to the container's PID 1, and SIGKILL follows after the grace period (`-t`, Compose
`stop_grace_period:`; 10 s by default). These tests check both against a real engine. This
machine has the Docker client but no engine (no daemon can run here), so they skip and say so;
Gunicorn's side of the claim (SIGINT and SIGQUIT are a quick shutdown that cuts requests) is
proven live in test_gunicorn_stop_signals.py. Only the containers these tests start are removed,
by their IDs.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

pytestmark = pytest.mark.live

IMAGE = "python:3.12-slim"
# PID 1 of the container: says which signal it got, and ignores SIGTERM when told to
RECORDER = """import signal, sys, time
def got(number, _):
    print(signal.Signals(number).name, flush=True)
    if number != signal.SIGTERM or sys.argv[1] != "ignore-term":
        sys.exit(0)
for name in ("SIGTERM", "SIGINT", "SIGQUIT"):
    signal.signal(getattr(signal, name), got)
print("ready", flush=True)
while True:
    time.sleep(0.1)
"""


def _docker(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def engine():
    if shutil.which("docker") is None:
        pytest.skip("docker is not installed: Docker's stop sequence rests on its documentation here")
    if _docker("info", timeout=30).returncode != 0:
        pytest.skip("the Docker client is here but no engine runs (none can on this machine): Docker's stop "
                    "sequence rests on its documentation here")
    if _docker("image", "inspect", IMAGE).returncode != 0 and _docker("pull", IMAGE, timeout=600).returncode != 0:
        pytest.skip(f"{IMAGE} cannot be pulled here")


def _start(*options: str, mode: str = "exit") -> str:
    started = _docker("run", "-d", *options, IMAGE, "python", "-c", RECORDER, mode)
    assert started.returncode == 0, started.stderr
    container = started.stdout.strip()
    for _ in range(100):
        if "ready" in _docker("logs", container).stdout:
            return container
        time.sleep(0.1)
    raise AssertionError(f"container {container} never became ready")


def _remove(container: str) -> None:
    _docker("rm", "-f", container)


@pytest.mark.parametrize("options, expected", [((), "SIGTERM"), (("--stop-signal", "SIGINT"), "SIGINT")])
def test_docker_stop_sends_the_stop_signal_to_pid_1(engine, options, expected):
    container = _start(*options)
    try:
        assert _docker("stop", "-t", "5", container).returncode == 0
        assert _docker("logs", container).stdout.split()[-1] == expected
    finally:
        _remove(container)


def test_sigkill_follows_after_the_default_grace_period_of_10_s(engine):
    container = _start(mode="ignore-term")
    try:
        began = time.monotonic()
        assert _docker("stop", container).returncode == 0
        waited = time.monotonic() - began
        state = _docker("inspect", "-f", "{{.State.ExitCode}}", container).stdout.strip()
        assert 9 <= waited < 20 and state == "137"  # 128 + SIGKILL, after Docker's 10 s
    finally:
        _remove(container)
