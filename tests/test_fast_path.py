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
