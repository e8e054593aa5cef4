"""`ps … | grep … | awk '{print $2}' | xargs kill` and `fuser -k PORT/tcp` against the real procps and
psmisc, compared with what sc-audit reads from them (model/pipelines.py, procview.ps_line_matches).

Nothing here kills by pattern or by port: each pipeline ends in `xargs -r echo` (the PIDs it would
signal) or `xargs -r kill -0` (signal 0 only checks that the PIDs exist), and `fuser` runs without
`-k` (it lists the PIDs `-k` would signal). The processes are started by the test and stopped by PID.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import live_support as live  # noqa: E402
from sc_audit import audit  # noqa: E402
from sc_audit.model.pipelines import _kill_of_chain  # noqa: E402
from sc_audit.model.runs import stops  # noqa: E402
from sc_audit.procview import View, ps_line_matches  # noqa: E402

pytestmark = pytest.mark.live


@pytest.fixture
def sleeper():
    """A process with a long, unique command line (longer than any terminal): 300 characters of marker."""
    if shutil.which("ps") is None:
        pytest.skip("ps (procps) is not installed")
    marker = "scaudit-live-" + uuid.uuid4().hex + "-" + "m" * 260
    popen = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", marker],
                             stdin=subprocess.DEVNULL, start_new_session=True)
    seen = live.see(popen.pid)
    try:
        yield popen, seen, marker
    finally:
        if seen is not None:
            live.stop([seen], [popen])


def _selected(pipeline: str, env: dict | None = None) -> tuple[set[int], int]:
    """The PIDs a pipeline hands to xargs, and the PID of the shell that ran it. COLUMNS is left out, as
    in a deploy's non-interactive shell (pytest's own terminal may set it, and ps then cuts lines)."""
    env = env if env is not None else {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    shell = subprocess.Popen(["bash", "-c", pipeline + " | xargs -r echo"], stdout=subprocess.PIPE, text=True,
                             env=env, stdin=subprocess.DEVNULL)
    out, _ = shell.communicate(timeout=30)
    return {int(x) for x in out.split()}, shell.pid


PIPELINES = [
    "ps aux | grep {m} | grep -v grep | awk '{{print $2}}'",
    "ps -ef | grep '[s]caudit-live' | awk '{{print $2}}'",
    "ps aux | grep -E 'scaudit-(live|dead)' | grep -v grep | awk '{{print $2}}'",
    "ps aux | grep -F 'time.sleep(120)' | grep -v grep | awk '{{print $2}}'",
    "ps -e | grep {m} | awk '{{print $1}}'",  # the name column: `python3`, never the marker
    "ps -e | grep python | awk '{{print $1}}'",
    "ps aux | grep '^scaudit' | awk '{{print $2}}'",  # a line starts with the user
]


@pytest.mark.parametrize("template", PIPELINES)
def test_ps_grep_selects_what_the_model_says(sleeper, template):
    popen, seen, marker = sleeper
    pipeline = template.format(m=shlex.quote(marker))
    pids, _ = _selected(pipeline)
    stages = [tuple(shlex.split(part)) for part in pipeline.split(" | ")]
    kill = _kill_of_chain(stages, ("xargs", "kill"))
    assert kill is not None and kill.tool == "ps"
    view = View(seen.cmdline, seen.comm, "main", "plain", 0, seen.cmdline.split(" ", 1)[0])
    predicted = ps_line_matches(kill, view)
    assert predicted is not None
    assert (popen.pid in pids) == predicted, (pipeline, sorted(pids))


def test_ps_prints_the_whole_command_line_into_a_pipe_unless_columns_is_set(sleeper):
    popen, seen, marker = sleeper
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    whole = subprocess.run(["ps", "aux"], capture_output=True, text=True, env=env).stdout
    assert any(marker in line for line in whole.splitlines())
    cut = subprocess.run(["ps", "aux"], capture_output=True, text=True, env={**env, "COLUMNS": "80"}).stdout
    assert not any(marker in line for line in cut.splitlines())


def test_the_shell_running_the_pipeline_is_selected_too_unless_grep_v_grep(sleeper):
    """What SC503 says of `ps aux | grep X | xargs kill` in `bash -c '…'` (an ssh session)."""
    popen, seen, marker = sleeper
    pids, shell = _selected(f"ps aux | grep {shlex.quote(marker)} | awk '{{print $2}}'")
    assert {popen.pid, shell} <= pids
    pids, shell = _selected(f"ps aux | grep {shlex.quote(marker)} | grep -v grep | awk '{{print $2}}'")
    assert popen.pid in pids and shell not in pids
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    done = subprocess.run(["bash", "-c", f"ps aux | grep {shlex.quote(marker)} | grep -v grep | awk '{{print $2}}' "
                                         "| xargs -r kill -0"], capture_output=True, timeout=30, env=env)
    assert done.returncode == 0 and live.alive(seen)  # signal 0: the pipeline reached kill, nothing died


def test_fuser_selects_the_process_bound_to_the_port(tmp_path):
    if shutil.which("fuser") is None:
        pytest.skip("fuser (psmisc) is not installed")
    port = live.free_port()
    popen = subprocess.Popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)], cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    seen = live.see(popen.pid)
    try:
        for _ in range(100):
            if live.listening(popen.pid):
                break
            popen.poll()
            import time

            time.sleep(0.1)
        done = subprocess.run(["fuser", "-n", "tcp", str(port)], capture_output=True, text=True, timeout=30)
        assert {int(x) for x in done.stdout.split()} == {popen.pid}
        live.write(tmp_path / "deploy.sh", f"#!/bin/bash\nfuser -k {port}/tcp\nfuser -k {port + 1}/tcp\n"
                                           f"nohup python3 -m http.server --bind 127.0.0.1 {port} &\n")
        live.write(tmp_path / "Procfile", f"web: python3 -m flask run --port {port}\n")
        model = audit(tmp_path).model
        web = next(p for p in model.processes if p.manager == "procfile")
        kills = [i for i, step in enumerate(model.steps) if step.command.argv[:1] == ("fuser",)]
        assert [stops(model, i, web) for i in kills] == [True, False]
    finally:
        if seen is not None:
            live.stop([seen], [popen])
