"""The flags ruff users expect, run as a user runs them."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli


@pytest.fixture
def plan_cli(plan):
    return lambda *args, **kw: run_cli("check", str(plan), "--no-cache", *args, **kw)


@pytest.fixture
def plan_count(plan):
    """How many findings the whole audit of the plan has (the flags must not change it)."""
    from sc_audit.api import audit

    return len(audit(plan).findings)


def test_exit_zero_and_output_file(plan_cli, plan_count, tmp_path):
    out = tmp_path / "report.json"
    result = plan_cli("--exit-zero", "-o", str(out), "--format", "json")
    assert result.returncode == 0 and result.stdout == ""
    assert len(json.loads(out.read_text(encoding="utf-8"))["findings"]) == plan_count
    assert plan_cli("--output-file", str(tmp_path / "missing" / "x.txt")).returncode == 2


def test_quiet_prints_the_findings_and_nothing_else(plan_cli, plan_count):
    lines = plan_cli("-q", "--format", "concise").stdout.splitlines()
    assert len(lines) == plan_count and all(" SC" in line for line in lines)
    assert plan_cli("--quiet", "--format", "concise").returncode == 1


def test_statistics_counts_each_rule(plan_cli, plan_count):
    lines = plan_cli("--statistics").stdout.splitlines()
    assert lines[0].split() == ["2", "SC501", "kill-misses-process"]
    assert sum(int(line.split()[0]) for line in lines[:-1]) == plan_count and f"{plan_count} findings" in lines[-1]


def test_show_files_lists_what_is_read(plan_cli):
    result = plan_cli("--show-files")
    assert result.returncode == 0
    assert "gunicorn.conf.py  (gunicorn-config)" in result.stdout.splitlines()
    assert "requirements.txt" not in result.stdout


@pytest.mark.parametrize("args, env, coloured", [
    (("--color", "always"), {}, True), (("--color", "never"), {"FORCE_COLOR": "1"}, False),
    ((), {"FORCE_COLOR": "1"}, True), ((), {}, False),
])
def test_colour(plan_cli, args, env, coloured):
    assert ("\x1b[" in plan_cli(*args, env=env).stdout) is coloured


def test_short_help_and_version():
    assert run_cli("check", "-h").returncode == 0 and "--exit-zero" in run_cli("check", "-h").stdout
    assert run_cli("-V").stdout.startswith("sc-audit ")


def test_explain_takes_a_name_and_shows_the_examples():
    result = run_cli("explain", "kill-misses-process")
    assert result.returncode == 0 and result.stdout.startswith("SC501 kill-misses-process")
    assert "Example: " in result.stdout and "(raises SC501)" in result.stdout
    assert run_cli("explain", "no-such-rule").returncode == 2
