"""Configuration files: every key, where they are found, bad input, and the command line on top."""

import json

import pytest

from sc_audit import audit
from sc_audit.config import Config, ConfigError, load

from conftest import SIGNALCRAFT, run_cli

PLAN_RULES = {"SC002", "SC101", "SC104", "SC201", "SC202", "SC401", "SC403", "SC501", "SC503", "SC602", "SC604"}


run = run_cli


def configured(root, text, name="sc-audit.toml"):
    (root / name).write_text(text, encoding="utf-8")
    return audit(root)


def rules_of(report):
    return {f.rule for f in report.findings}


def test_the_plan_without_configuration():
    assert rules_of(audit(SIGNALCRAFT / "plan")) == PLAN_RULES


def test_select_ignore_extend_select(plan):
    assert rules_of(configured(plan, 'select = ["SC1"]\n')) == {"SC101", "SC104"}
    assert rules_of(configured(plan, 'select = "sc1"\n')) == {"SC101", "SC104"}
    assert rules_of(configured(plan, 'ignore = ["SC5", "SC201"]\n')) == PLAN_RULES - {"SC501", "SC503", "SC201"}
    assert rules_of(configured(plan, 'select = ["SC1"]\nextend-select = ["SC401"]\n')) == {"SC101", "SC104", "SC401"}


def test_per_file_ignores(plan):
    report = configured(plan, '[per-file-ignores]\n"fix-*.sh" = ["SC5", "SC202"]\n".github/**" = ["SC501"]\n')
    found = {(f.rule, f.span.path) for f in report.findings}
    assert not {f for f in found if f[0] in ("SC501", "SC202")}
    assert ("SC503", ".github/workflows/auto-deploy.yml") in found and ("SC602", "fix-502-complete.sh") in found


def test_severity_overrides_longest_prefix_wins(plan):
    report = configured(plan, '[severity]\nSC4 = "info"\nSC401 = "error"\n')
    severities = {f.rule: f.severity for f in report.findings}
    assert severities["SC401"] == "error" and severities["SC403"] == "info"
    assert severities["SC101"] == "error" and severities["SC602"] == "warning"  # untouched


def test_exclude(plan):
    before = audit(plan)
    after = configured(plan, 'exclude = ["fix-502-complete.sh", "deploy/"]\n')
    assert {f.span.path for f in after.findings} == {".github/workflows/auto-deploy.yml", "gunicorn.conf.py"}
    assert len(after.files) == len(before.files) - 3  # the script, the unit and the Nginx site


def test_host_and_worker_memory(plan):
    """SC402 needs the host's memory; the worker count `cpu_count() * 2 + 1` needs its CPUs."""
    assert "SC402" not in rules_of(configured(plan, '[host]\nmemory = "1G"\n'))
    [budget] = [f for f in configured(plan, '[host]\nmemory = "1G"\ncpus = 2\n').findings if f.rule == "SC402"]
    assert "(5 workers + 1 master) × 200 MiB" in budget.message and "1024 MiB" in budget.message
    [budget] = [f for f in configured(plan, 'worker-memory = 100\n[host]\nmemory = 1100\ncpus = 2\n').findings
                if f.rule == "SC402"]
    assert "× 100 MiB" in budget.message and "1100 MiB" in budget.message
    assert "SC402" not in rules_of(configured(plan, 'worker-memory = "50MiB"\n[host]\nmemory = "1G"\ncpus = 2\n'))


def test_where_the_settings_come_from(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[tool.ruff]\nselect = ["E"]\n[tool.sc-audit]\nselect = ["SC2"]\n')
    assert load(tmp_path).select == ("SC2",) and load(tmp_path).source.endswith("pyproject.toml")
    (tmp_path / ".sc-audit.toml").write_text('select = ["SC3"]\n')
    assert load(tmp_path).select == ("SC3",)
    (tmp_path / "sc-audit.toml").write_text('select = ["SC4"]\n')
    assert load(tmp_path).select == ("SC4",)
    (tmp_path / "sc-audit.toml").unlink()
    (tmp_path / ".sc-audit.toml").unlink()
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    assert load(tmp_path) == Config()


@pytest.mark.parametrize("name,text,line,words", [
    ("sc-audit.toml", 'select = ["SC1"]\nfail_on = "error"\n', 2, "unknown key `fail_on`"),
    ("sc-audit.toml", 'select = ["SC1"]\n\n[bogus]\nx = 1\n', 3, "unknown key `bogus`"),
    ("sc-audit.toml", '[host]\nmemory = "1G"\ndisk = "10G"\n', 3, "unknown key `host.disk`"),
    ("sc-audit.toml", 'fail-on = "fatal"\n', 1, "`fail-on` must be one of"),
    ("sc-audit.toml", 'ignore = ["E501"]\n', 1, "rule codes"),
    ("sc-audit.toml", 'exclude = "build"\n', 1, "`exclude` must be a list"),
    ("sc-audit.toml", '[severity]\nSC401 = "critical"\n', 2, "bad severity override"),
    ("sc-audit.toml", 'per-file-ignores = ["SC5"]\n', 1, "`per-file-ignores` must be a table"),
    ("sc-audit.toml", '[per-file-ignores]\n"a/*" = ["SC5"]\n"*.sh" = ["nope"]\n', 3, "rule codes"),
    ("sc-audit.toml", 'worker-memory = "lots"\n', 1, "memory size"),
    ("sc-audit.toml", '[host]\nmemory = "1G"\ncpus = 0\n', 3, "`host.cpus` must be a positive integer"),
    ("sc-audit.toml", 'ignore = []\nselect = ["SC1"\n', 2, "invalid TOML"),  # "at end of document"
    ("sc-audit.toml", 'select = ["SC1"]\nfail-on = error\n', 2, "invalid TOML"),
    # in a pyproject.toml, the line is the one in sc-audit's table, not ruff's key of the same name
    ("pyproject.toml", '[tool.ruff]\nselect = ["E"]\n\n[tool.sc-audit]\nselect = ["E"]\n', 5, "rule codes"),
    ("pyproject.toml", '[tool.sc-audit.host]\nmemory = "1G"\n[tool.sc-audit]\nfoo = 1\n', 4, "unknown key `foo`"),
])
def test_bad_configuration_names_file_and_line(tmp_path, name, text, line, words):
    (tmp_path / name).write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as error:
        load(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / name}:{line}: ") and words in str(error.value)


def test_cli_bad_configuration_exits_2_with_path_and_line(plan):
    (plan / "pyproject.toml").write_text('[tool.sc-audit]\nselect = ["SC1"]\nfail-on = "error"\nlevel = 3\n')
    result = run("check", str(plan))
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{plan / 'pyproject.toml'}:4: unknown key `level`" in result.stderr


def test_cli_flags_override_the_file_and_fail_on_comes_from_it(plan, tmp_path):
    (plan / "sc-audit.toml").write_text('select = ["SC1"]\nfail-on = "error"\n')
    from_file = run("check", str(plan), "--format", "json")
    assert {f["rule"] for f in json.loads(from_file.stdout)["findings"]} == {"SC101", "SC104"}
    assert from_file.returncode == 1  # SC101 is an error
    flags = run("check", str(plan), "--format", "json", "--select", "SC4")
    assert {f["rule"] for f in json.loads(flags.stdout)["findings"]} == {"SC401", "SC403"}
    assert flags.returncode == 0  # only warnings, and the file says fail-on = "error"
    assert run("check", str(plan), "--select", "SC4", "--fail-on", "warning").returncode == 1

    warnings_only = tmp_path / "warnings"
    warnings_only.mkdir()
    (warnings_only / "deploy.sh").write_text("#!/bin/bash\nnohup python3 app.py &\n")
    assert run("check", str(warnings_only)).returncode == 1
    (warnings_only / ".sc-audit.toml").write_text('fail-on = "error"\n')
    assert run("check", str(warnings_only)).returncode == 0


def test_a_pyproject_that_cannot_hold_our_table_is_not_parsed(tmp_path, monkeypatch):
    """Its other tables are not ours (and parsing it costs tomllib's import); one that names
    sc-audit, or could spell it with a \\u escape in a quoted key, is parsed."""
    import tomllib

    parsed = []
    real = tomllib.loads
    monkeypatch.setattr(tomllib, "loads", lambda text: parsed.append(text) or real(text))
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n')
    assert load(tmp_path).select == Config().select and parsed == []
    (tmp_path / "pyproject.toml").write_text('[tool."sc\\u002daudit"]\nselect = ["SC2"]\n')
    assert load(tmp_path).select == ("SC2",) and len(parsed) == 1
