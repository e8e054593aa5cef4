"""Baselines: `--write-baseline` records today's findings, `--baseline` reports only new ones."""

import json

import pytest

from sc_audit import audit, baseline
from sc_audit.config import ConfigError
from sc_audit.findings import Finding
from sc_audit.span import Span

from conftest import run_cli, write_repo


run = run_cli


def insert_lines(path, before_line, lines):
    text = path.read_text(encoding="utf-8").split("\n")
    text[before_line - 1:before_line - 1] = lines
    path.write_text("\n".join(text), encoding="utf-8")


def test_round_trip_on_the_command_line(plan, tmp_path):
    file = tmp_path / "baseline.json"
    written = run("check", str(plan), "--write-baseline", str(file))
    assert written.returncode == 0, written.stderr
    count = len(audit(plan).findings)
    assert f"wrote {count} finding(s)" in written.stderr
    document = json.loads(file.read_text())
    assert len(document["findings"]) == count
    assert all(set(entry) == {"rule", "path", "fingerprint", "source"} for entry in document["findings"])

    clean = run("check", str(plan), "--baseline", str(file))
    assert clean.returncode == 0 and "no issues found" in clean.stdout

    # code above a baselined finding moves it down: still the same finding
    insert_lines(plan / "gunicorn.conf.py", 2, ["# tuned for the 2-CPU host", "", "raw_env = []"])
    moved = run("check", str(plan), "--baseline", str(file), "--format", "json")
    assert moved.returncode == 0 and json.loads(moved.stdout)["findings"] == []

    # a new problem fails, and is the only one reported
    with open(plan / "fix-502-complete.sh", "a", encoding="utf-8") as script:
        script.write("\nnohup python3 worker.py > worker.log 2>&1 &\n")
    new = run("check", str(plan), "--baseline", str(file), "--format", "json")
    assert new.returncode == 1
    findings = json.loads(new.stdout)["findings"]
    lines = (plan / "fix-502-complete.sh").read_text().split("\n")
    line = lines.index("nohup python3 worker.py > worker.log 2>&1 &") + 1
    assert findings and {(f["path"], f["line"]) for f in findings} == {("fix-502-complete.sh", line)}
    assert "SC202" in {f["rule"] for f in findings}


def test_rewriting_after_code_moved_gives_the_same_file(plan, tmp_path):
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    baseline.write(audit(plan), first)
    insert_lines(plan / ".github/workflows/auto-deploy.yml", 58, ["            echo one", "            echo two"])
    baseline.write(audit(plan), second)
    assert first.read_text() == second.read_text()


def test_a_fixed_finding_drops_out_and_a_changed_one_is_new(plan, tmp_path):
    file = tmp_path / "baseline.json"
    baseline.write(audit(plan), file)
    conf = plan / "gunicorn.conf.py"
    conf.write_text(conf.read_text().replace('wsgi_app = "app:create_app()"', 'wsgi_app = "app:app"'))
    # the fixed SC101 leaves a stale entry (harmless); the app it now reaches is new to the audit: its
    # uploads behind Nginx's default body limit are a new finding (SC405), not in the baseline
    assert [(f.rule, f.span.line) for f in baseline.apply(audit(plan), file).findings] == [("SC405", 16)]

    workflow = plan / ".github/workflows/auto-deploy.yml"
    workflow.write_text(workflow.read_text().replace('pkill -f "python.*app.py" || true',
                                                     'pkill -f "python3 app.py" || true'))
    remaining = baseline.apply(audit(plan), file).findings
    assert remaining and {(f.rule, f.span.line) for f in remaining} <= {("SC501", 62), ("SC503", 62), ("SC405", 16)}


def test_identical_findings_need_an_entry_each(tmp_path):
    script = "#!/bin/bash\nnohup python3 app.py &\n"
    write_repo(tmp_path / "repo", {"deploy.sh": script})
    file = tmp_path / "baseline.json"
    baseline.write(audit(tmp_path / "repo"), file)
    (tmp_path / "repo" / "deploy.sh").write_text(script + "sleep 1\nnohup python3 app.py &\n")
    report = audit(tmp_path / "repo")
    rules_per_line = {line: sorted(f.rule for f in report.findings if f.span.line == line) for line in (2, 4)}
    assert rules_per_line[2] == rules_per_line[4] and rules_per_line[2]
    left = baseline.apply(report, file).findings
    assert sorted(f.rule for f in left) == rules_per_line[4]


def test_fingerprint_is_what_the_finding_is_about_not_where():
    def finding(line, message="`pkill -f app.py` (deploy.sh:12) misses `gunicorn`: it keeps running. Use systemctl.",
                rule="SC501"):
        return Finding(rule, message, Span("deploy.sh", line, 1))

    source = "  pkill -f   app.py  "
    same = baseline.fingerprint(finding(3), source)
    assert baseline.fingerprint(finding(40), "pkill -f app.py") == same
    for moved_or_reworded in ("`pkill -f app.py` (deploy.sh:30) misses `gunicorn`: it keeps running. Use systemctl.",
                              "`pkill -f app.py` (deploy.sh:12) misses `gunicorn`: the old code serves. Use pm2."):
        assert baseline.fingerprint(finding(3, moved_or_reworded), source) == same
    assert baseline.fingerprint(finding(3, "`pkill -f app.py` (deploy.sh:12) misses `node`: …"), source) != same
    assert baseline.fingerprint(finding(3), "pkill -f server.js") != same
    assert baseline.fingerprint(finding(3, rule="SC503"), source) != same
    assert baseline.fingerprint(Finding("SC501", finding(3).message, Span("other.sh", 3, 1)), source) != same


@pytest.mark.parametrize("content,words", [
    (None, "baseline file not found"),
    ("{\n  \"version\": 1,\n  findings: []\n}\n", ":3: not a baseline file: invalid JSON"),
    ('{"version": 1, "results": []}', "not an sc-audit baseline"),
    ('{"version": 2, "findings": []}', "not an sc-audit baseline"),
    ('{"version": 1, "findings": [{"rule": "SC501", "path": "a.sh"}]}', "entry 1 lacks"),
])
def test_missing_or_corrupt_baseline_is_an_error_naming_the_file(tmp_path, content, words):
    file = tmp_path / "baseline.json"
    if content is not None:
        file.write_text(content)
    with pytest.raises(ConfigError, match=words) as error:
        baseline.read(file)
    assert str(error.value).startswith(str(file))


@pytest.mark.parametrize("content", [None, "[1, 2"])
def test_cli_missing_or_corrupt_baseline_exits_2_with_one_line(tmp_path, content):
    file = tmp_path / "baseline.json"
    if content is not None:
        file.write_text(content)
    write_repo(tmp_path / "repo", {"deploy.sh": "#!/bin/bash\nnohup python3 app.py &\n"})
    result = run("check", str(tmp_path / "repo"), "--baseline", str(file))
    assert result.returncode == 2 and result.stdout == "" and "Traceback" not in result.stderr
    assert result.stderr.count("\n") == 1 and f"error: {file}" in result.stderr


def test_unwritable_baseline_is_an_error(tmp_path):
    write_repo(tmp_path / "repo", {"deploy.sh": "#!/bin/bash\nnohup python3 app.py &\n"})
    with pytest.raises(ConfigError, match="cannot write the baseline"):
        baseline.write(audit(tmp_path / "repo"), tmp_path / "missing" / "dir" / "baseline.json")
