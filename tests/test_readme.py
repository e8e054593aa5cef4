"""The README shows what the commands really print for the SignalCraft plan."""

import re
import subprocess
import sys
from pathlib import Path

from conftest import SIGNALCRAFT

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
PLAN = SIGNALCRAFT / "plan"


def run(*args):
    return subprocess.run([sys.executable, "-m", "sc_audit", *args], capture_output=True, text=True, timeout=120,
                          cwd=PLAN.parents[2].parent)


def test_readme_graph_is_the_commands_output():
    block = re.search(r"```mermaid\n(.*?)```", README, re.S)
    assert block is not None and block[1] == run("graph", str(PLAN), "--format", "mermaid").stdout


def test_readme_findings_are_the_commands_output():
    printed = run("check", str(PLAN), "--no-cache", "--format", "concise").stdout.splitlines()
    block = re.search(r"All of them, one line each.*?```\n(.*?)```", README, re.S)
    shown = block[1].splitlines()
    assert len(shown) == len(printed)
    for readme_line, real_line in zip(shown, printed):
        assert real_line.startswith(readme_line.rstrip("…")), (readme_line, real_line)


def test_readme_set_up_is_two_commands():
    set_up = re.search(r"## Set-up\n\n```\n(.*?)```", README, re.S)[1].strip().splitlines()
    assert set_up == [
        "pip install . && sc-audit check tests/fixtures/signalcraft/plan     # the main job",
        "pip install -e '.[dev]' && pytest                                    # the tests",
    ]
