"""The pre-commit hook (.pre-commit-hooks.yaml), run by the real pre-commit as a user's repository runs it.

pre-commit builds the hook's environment by pip-installing this repository (network for the
dependencies, about 20 s); PRE_COMMIT_HOME is shared by the tests of this module, so that happens once.
`pre-commit try-repo` is not used: it builds in a throw-away store on every call and ignores
untracked files, so the hook is consumed the way users consume it, from a `rev` of a git repository
holding a snapshot of this working tree.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import SIGNALCRAFT, write_repo
from sc_audit import catalog
from sc_audit.discover import discover
from sc_audit.source import KINDS

REPO = Path(__file__).resolve().parent.parent
MANIFEST = REPO / ".pre-commit-hooks.yaml"
GIT_IDENTITY = ["-c", "user.name=sc-audit tests", "-c", "user.email=tests@sc-audit.invalid",
                "-c", "commit.gpgsign=false"]


def hook() -> dict:
    hooks = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return next(h for h in hooks if h["id"] == "sc-audit")


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *GIT_IDENTITY, *args], cwd=cwd, check=True, capture_output=True,
                          text=True, timeout=120).stdout


def commit_all(root: Path) -> str:
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "--no-verify", "-m", "snapshot")
    return git(root, "rev-parse", "HEAD").strip()


def test_manifest_is_valid_for_pre_commit():
    result = subprocess.run([sys.executable, "-m", "pre_commit", "validate-manifest", str(MANIFEST)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    entry = hook()
    assert entry["entry"] == "sc-audit check --changed" and entry["language"] == "python"
    assert entry["pass_filenames"] is True and entry["require_serial"] is True


def test_files_pattern_covers_every_input_sc_audit_reads(tmp_path):
    """Every file discovery classifies, in the fixtures and in every rule example, triggers the hook."""
    pattern = re.compile(hook()["files"])
    roots = [SIGNALCRAFT / "plan", SIGNALCRAFT / "fixed"]
    for rule in catalog.load().values():
        for number, example in enumerate(rule.examples):
            roots.append(write_repo(tmp_path / f"{rule.code}-{number}", example.files))
    files = [f for root in roots for f in discover(root).files]
    assert {f.kind for f in files} == set(KINDS)  # the examples cover every kind of input
    read = {f.path for f in files}
    assert [path for path in sorted(read) if not pattern.search(path)] == []
    for config in ("pyproject.toml", "sc-audit.toml", ".sc-audit.toml", "sub/dir/Procfile"):
        assert pattern.search(config), config
    for unrelated in ("README.md", "static/logo.png", "docs/guide.rst", "LICENSE"):
        assert not pattern.search(unrelated), unrelated


@pytest.fixture(scope="module")
def hook_config(tmp_path_factory) -> str:
    """A .pre-commit-config.yaml pointing at a commit of this working tree (committed or not)."""
    if not (REPO / ".git").exists():
        pytest.skip("needs a git checkout of sc-audit")
    snapshot = tmp_path_factory.mktemp("sc-audit-snapshot")
    listed = git(REPO, "ls-files", "-z", "--cached", "--others", "--exclude-standard").split("\0")
    for rel in filter(None, listed):
        if (REPO / rel).is_file():
            (snapshot / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, snapshot / rel)
    rev = commit_all(snapshot)
    return yaml.safe_dump({"repos": [{"repo": str(snapshot), "rev": rev, "hooks": [{"id": "sc-audit"}]}]})


@pytest.fixture(scope="module")
def pre_commit_home(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pre-commit-home")


def run_hook(fixture: str, workdir: Path, config: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    """`pre-commit run ARGS` in a new git repository holding a copy of a SignalCraft fixture."""
    target = shutil.copytree(SIGNALCRAFT / fixture, workdir / fixture)
    (target / ".pre-commit-config.yaml").write_text(config, encoding="utf-8")
    (target / "README.md").write_text("# SignalCraft\n", encoding="utf-8")
    commit_all(target)
    env = {key: value for key, value in os.environ.items() if key not in ("SKIP", "PRE_COMMIT_HOME")}
    return subprocess.run([sys.executable, "-m", "pre_commit", "run", "--color", "never", *args], cwd=target,
                          env={**env, "PRE_COMMIT_HOME": str(home)}, capture_output=True, text=True, timeout=600)


def hook_status(output: str) -> str:
    match = re.search(r"^sc-audit\.+(?:\(no files to check\))?(Passed|Failed|Skipped)$", output, re.MULTILINE)
    assert match, output
    return match.group(1)


def test_hook_fails_on_the_plan(tmp_path, hook_config, pre_commit_home):
    result = run_hook("plan", tmp_path, hook_config, pre_commit_home, "--all-files")
    assert result.returncode == 1, result.stdout + result.stderr
    assert hook_status(result.stdout) == "Failed"
    assert "gunicorn.conf.py:13:1" in result.stdout and "SC101" in result.stdout


def test_hook_passes_on_the_fixed_repository(tmp_path, hook_config, pre_commit_home):
    result = run_hook("fixed", tmp_path, hook_config, pre_commit_home, "--all-files")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hook_status(result.stdout) == "Passed"


def test_hook_skips_a_commit_that_touches_no_deployment_file(tmp_path, hook_config, pre_commit_home):
    result = run_hook("plan", tmp_path, hook_config, pre_commit_home, "--files", "README.md")
    assert result.returncode == 0, result.stdout + result.stderr
    assert hook_status(result.stdout) == "Skipped"


def test_hook_reports_what_a_change_to_one_file_breaks(tmp_path, hook_config, pre_commit_home):
    """Only app.py changed: the finding it causes (gunicorn.conf.py's target) is reported, the
    unrelated ones (the workflow's pkill) are not."""
    result = run_hook("plan", tmp_path, hook_config, pre_commit_home, "--files", "app.py")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "gunicorn.conf.py:13:1" in result.stdout and "SC101" in result.stdout
    assert "auto-deploy.yml" not in result.stdout
    unrelated = run_hook("plan", tmp_path / "again", hook_config, pre_commit_home, "--files", "analysis.py")
    assert unrelated.returncode == 0, unrelated.stdout + unrelated.stderr
