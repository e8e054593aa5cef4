"""Shared helpers: write a tiny repository from a dict, audit it, list (code, path, line)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sc_audit import audit
from sc_audit.config import Config

FIXTURES = Path(__file__).parent / "fixtures"
SIGNALCRAFT = FIXTURES / "signalcraft"
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def write_repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"), encoding="utf-8")
    return root


def run_cli(*args, env: dict | None = None, cwd=None, input: str | None = None) -> subprocess.CompletedProcess:
    """`python -m sc_audit ARGS` as a user runs it: a subprocess, its own exit code and output."""
    return subprocess.run([sys.executable, "-m", "sc_audit", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, cwd=cwd, timeout=120, input=input)


def copy_plan(tmp_path) -> Path:
    """A copy of the SignalCraft plan that a test may change."""
    return Path(shutil.copytree(SIGNALCRAFT / "plan", tmp_path / "plan"))


@pytest.fixture
def plan(tmp_path) -> Path:
    return copy_plan(tmp_path)


def codes_at(report) -> set[tuple[str, str, int]]:
    return {(f.rule, f.span.path, f.span.line) for f in report.findings}


@pytest.fixture
def repo(tmp_path):
    """Call with a dict of files; returns the Report of auditing them."""

    def make(files: dict[str, str], config: Config | None = None):
        write_repo(tmp_path, files)
        return audit(tmp_path, config)

    return make


@pytest.fixture(autouse=True)
def _own_user_cache(tmp_path_factory, monkeypatch):
    """Each test its own user cache directory: the report cache (answers.py) and the cache key
    never carry over from one test, or from the developer's own runs, into another."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.mktemp("user-cache")))
