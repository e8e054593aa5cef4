"""The repository root and path filters: `sc-audit check deploy` is the full audit's findings under
deploy/, with the root's configuration and cache; a typo or an empty input fails loudly (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli, write_repo
from sc_audit import audit
from sc_audit.scope import find_root


def findings(result) -> set[tuple[str, str, int]]:
    assert result.returncode in (0, 1), result.stderr
    return {(f["rule"], f["path"], f["line"]) for f in json.loads(result.stdout)["findings"]}


def as_git_checkout(plan: Path) -> Path:
    """The plan as its own repository: a `.git`, no sc-audit table."""
    (plan / "pyproject.toml").unlink()
    (plan / ".git").mkdir()
    return plan


@pytest.fixture
def full(plan):
    return findings(run_cli("check", str(plan), "--format", "json", "--no-cache"))


@pytest.mark.parametrize("marker", ["pyproject", "git"])
def test_a_subdirectory_reports_the_full_audits_findings_under_it(plan, full, marker):
    if marker == "git":
        as_git_checkout(plan)
    under_deploy = {f for f in full if f[1].startswith("deploy/")}
    assert under_deploy == {("SC403", "deploy/nginx-signalcraft.conf", 16)}
    assert findings(run_cli("check", str(plan / "deploy"), "--format", "json")) == under_deploy
    assert findings(run_cli("check", "--format", "json", cwd=plan / "deploy")) == under_deploy
    assert not (plan / "deploy" / ".sc-audit-cache").exists()
    assert (plan / ".sc-audit-cache").is_dir()


def test_each_file_reports_its_own_findings_and_together_they_are_the_whole_audit(plan, full):
    per_file = set()
    for path in sorted({f[1] for f in full}):
        result = findings(run_cli("check", path, "--format", "json", "--no-cache", cwd=plan))
        assert result == {f for f in full if f[1] == path}
        per_file |= result
    assert per_file == full
    workflow = findings(run_cli("check", ".github/workflows/auto-deploy.yml", "--format", "json", cwd=plan))
    assert len(workflow) == 4
    gunicorn = findings(run_cli("check", "gunicorn.conf.py", "--format", "json", cwd=plan))
    assert ("SC101", "gunicorn.conf.py", 13) in gunicorn and not any(f[0] == "SC102" for f in gunicorn)


def test_several_paths_and_the_library_api_filter_the_same_way(plan, full):
    both = findings(run_cli("check", "deploy", "gunicorn.conf.py", "--format", "json", cwd=plan))
    assert both == {f for f in full if f[1].startswith("deploy/") or f[1] == "gunicorn.conf.py"}
    report = audit(plan / "gunicorn.conf.py")
    assert {(f.rule, f.span.path, f.span.line) for f in report.findings} == {f for f in full
                                                                             if f[1] == "gunicorn.conf.py"}
    assert report.root == plan.resolve()


def test_the_roots_configuration_applies_to_a_subdirectory(plan):
    (plan / "pyproject.toml").write_text('[tool.sc-audit]\nignore = ["SC403"]\n', encoding="utf-8")
    result = run_cli("check", "deploy", cwd=plan)
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("no issues found.")


def test_root_is_the_nearest_marker_and_root_option_overrides(tmp_path, plan):
    assert find_root(plan / "deploy") == plan.resolve()
    nested = write_repo(tmp_path / "outer", {"svc/deploy.sh": "#!/bin/bash\nnohup python3 app.py &\n",
                                             "other/deploy.sh": "#!/bin/bash\nnohup python3 app.py &\n"})
    (nested / ".git").mkdir()
    assert find_root(nested / "svc" / "deploy.sh") == nested.resolve()
    alone = json.loads(run_cli("check", "svc", "--root", "svc", "--format", "json", cwd=nested).stdout)
    assert {f["path"] for f in alone["findings"]} == {"deploy.sh"}
    outside = run_cli("check", str(plan), "--root", str(nested))
    assert outside.returncode == 2 and "outside the repository root" in outside.stderr


def test_stdin_is_audited_as_the_file_it_names(plan):
    text = (plan / "gunicorn.conf.py").read_text(encoding="utf-8").replace("create_app()", "app")
    result = run_cli("check", "-", "--stdin-filename", "gunicorn.conf.py", "--format", "json", cwd=plan,
                     input=text)
    assert not any(f[0] == "SC101" for f in findings(result))
    assert run_cli("check", "-", cwd=plan, input="").returncode == 2


@pytest.mark.parametrize("args", [("--select", "BOGUS"), ("--select", "SC9"), ("--ignore", "NOPE"),
                                  ("--extend-select", "SC1,SC999")])
def test_a_selection_that_matches_no_rule_is_a_usage_error(plan, args):
    result = run_cli("check", str(plan), *args)
    assert result.returncode == 2 and "matches no rule" in result.stderr or "rule codes" in result.stderr
    assert result.stdout == ""


def test_a_rule_name_selects_its_rule(plan):
    result = run_cli("check", str(plan), "--select", "wsgi-factory-missing", "--format", "json")
    assert {f[0] for f in findings(result)} == {"SC101"}


@pytest.mark.parametrize("config", ['select = ["SC9"]\n', 'ignore = ["SC88"]\n'])
def test_the_same_selection_in_the_configuration_is_an_error(plan, config):
    (plan / "sc-audit.toml").write_text(config, encoding="utf-8")
    result = run_cli("check", str(plan))
    assert result.returncode == 2 and "sc-audit.toml:1:" in result.stderr and "matches no rule" in result.stderr


def test_nothing_to_audit_is_said_and_fails(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    library = write_repo(tmp_path / "library", {"lib/util.py": "def f():\n    return 1\n",
                                                "requirements.txt": "flask\n"})
    for target, cwd in ((empty, None), (library, None), ("requirements.txt", library)):
        result = run_cli("check", str(target), cwd=cwd)
        assert result.returncode == 2, (target, result.stdout)
        assert "no issues found" not in result.stdout
    assert "no deployment files found" in run_cli("check", str(library)).stderr
    assert "not a deployment file" in run_cli("check", "requirements.txt", cwd=library).stderr
    assert not (empty / ".sc-audit-cache").exists()


def test_changed_files_report_what_involves_them(plan, full):
    """pre-commit passes the changed files: a change to app.py reports the broken target in
    gunicorn.conf.py (which names app.py); an unrelated file is no error; the config reports all."""
    app_only = findings(run_cli("check", "--changed", "app.py", "--format", "json", cwd=plan))
    assert ("SC101", "gunicorn.conf.py", 13) in app_only and app_only < full
    none = run_cli("check", "--changed", "requirements.txt", "--format", "json", cwd=plan)
    assert none.returncode == 0 and findings(none) == set()
    assert findings(run_cli("check", "--changed", "pyproject.toml", "--format", "json", cwd=plan)) == full
