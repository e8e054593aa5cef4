"""`sc-audit --version` and `sc-audit rules` are answered before typer is imported: the answer
must be typer's, byte for byte, with its exit code."""

from __future__ import annotations

import subprocess
import sys

import pytest

TYPER_PATH = "import sys; from sc_audit.cli import main; sys.argv[0] = 'sc-audit'; main()"


def fast(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-X", "importtime", "-m", "sc_audit", *args],
                          capture_output=True, text=True, timeout=60)


def typer(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", TYPER_PATH, *args], capture_output=True, text=True, timeout=60)


def imported(result: subprocess.CompletedProcess) -> set[str]:
    return {line.split("|")[-1].strip() for line in result.stderr.splitlines() if line.startswith("import time:")}


@pytest.mark.parametrize("args", [
    ["--version"],
    ["-V"],
    ["rules"],
    ["rules", "--format", "json"],
    ["rules", "--format=json"],
    ["rules", "--format", "text"],
])
def test_the_fast_path_answers_as_typer_does(args):
    quick, reference = fast(*args), typer(*args)
    assert quick.returncode == reference.returncode == 0
    assert quick.stdout == reference.stdout and quick.stdout
    assert "typer" not in imported(quick) and "click" not in imported(quick)
    assert [line for line in quick.stderr.splitlines() if not line.startswith("import time:")] == []
    assert reference.stderr == ""


@pytest.mark.parametrize("args", [["rules", "--format", "yaml"], ["rules", "--bogus"], ["--version", "rules"],
                                  ["rules", "extra"]])
def test_anything_else_goes_to_typer(args):
    quick, reference = fast(*args), typer(*args)
    assert "typer" in imported(quick)
    assert quick.returncode == reference.returncode
    assert quick.stdout == reference.stdout


def test_importing_the_package_imports_nothing_heavy():
    code = "import sys, sc_audit; print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))"
    loaded = set(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60).stdout.split())
    assert "sc_audit" in loaded
    assert not {"typer", "click", "rich", "libcst", "tree_sitter", "yaml", "crossplane", "dataclasses"} & loaded


# --------------------------------------------------------------------------- plain `check` lines

FIXTURES = __import__("pathlib").Path(__file__).resolve().parent / "fixtures" / "signalcraft"


def _run_both(tmp_path, args: list[str]) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    import shutil

    for name in ("plan", "fixed"):
        if not (tmp_path / name).exists():
            shutil.copytree(FIXTURES / name, tmp_path / name)
    run = {"cwd": tmp_path, "capture_output": True, "text": True, "timeout": 120}
    quick = subprocess.run([sys.executable, "-X", "importtime", "-m", "sc_audit", *args], **run)
    reference = subprocess.run([sys.executable, "-c", TYPER_PATH, *args], **run)
    return quick, reference


def _messages(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if not line.startswith("import time:")]


@pytest.mark.parametrize("args", [
    ["check", "plan"],
    ["check", "fixed"],
    ["check", "plan", "--format", "concise"],
    ["check", "plan", "--format=json"],
    ["check", "plan", "--format", "sarif"],
    ["check", "plan", "--format", "github"],
    ["check", "plan", "--format", "junit", "--no-cache"],
    ["check", "fixed", "--format", "json"],
    ["check", "plan", "--select", "SC3", "--select=SC5,SC6", "--statistics"],
    ["check", "plan", "--ignore", "SC403", "-q", "--exit-zero"],
    ["check", "plan", "--fail-on", "error", "--color", "never"],
    ["check", "plan/deploy", "plan/.github"],
    ["check", "plan/deploy/nginx-signalcraft.conf", "--changed"],
    ["check", "plan", "--show-files"],
    ["check", "nowhere"],
    ["check", "plan", "--select", "SC999"],
    ["check", "plan/README.md"],
    ["check", "plan", "--extend-select", "bogus-name"],
])
def test_plain_check_lines_are_answered_as_typer_does(tmp_path, args):
    quick, reference = _run_both(tmp_path, args)
    assert "typer" not in imported(quick) and "click" not in imported(quick)
    assert quick.returncode == reference.returncode
    assert quick.stdout == reference.stdout
    assert _messages(quick) == reference.stderr.splitlines()


@pytest.mark.parametrize("args", [
    ["check", "plan", "--format", "yaml"],
    ["check", "plan", "--format"],
    ["check", "plan", "--format", "json", "--format", "text"],
    ["check", "plan", "--select", "--no-cache"],
    ["check", "plan", "--bogus"],
    ["check", "-", "--stdin-filename", "plan/app.py"],
    ["check", "plan", "--debug"],
    ["check", "plan", "--", "fixed"],
])
def test_unusual_check_lines_go_to_typer(tmp_path, args):
    quick, reference = _run_both(tmp_path, args)
    assert "typer" in imported(quick)
    assert quick.returncode == reference.returncode
    assert quick.stdout == reference.stdout


def test_a_plain_check_line_is_taken_apart_as_click_would():
    from sc_audit.__main__ import plain_check

    assert plain_check(["plan", "--format=json", "--select", "SC3", "--select", "SC5", "-q"]) == {
        "paths": ["plan"], "output_format": "json", "select": ["SC3", "SC5"], "quiet": True}
    assert plain_check([]) == {"paths": None}
    assert plain_check(["-q", "-q"]) is None
    assert plain_check(["--fail-on", "ERROR"]) is None
    assert plain_check([""]) is None
