"""Every output format, through the real command line (a subprocess), on the SignalCraft plan and fix."""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from conftest import SIGNALCRAFT, write_repo
from sc_audit import audit
from sc_audit.report import github, junit, text

PLAN = SIGNALCRAFT / "plan"
FIXED = SIGNALCRAFT / "fixed"
SCHEMA = Path(__file__).parent / "schemas" / "sarif-schema-2.1.0.json"


def run(path, fmt, cwd=None):
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return subprocess.run([sys.executable, "-m", "sc_audit", "check", str(path), "--format", fmt, "--no-cache"],
                          capture_output=True, text=True, env=env, cwd=cwd, timeout=120)


@pytest.fixture(scope="module")
def plan_json():
    return json.loads(run(PLAN, "json").stdout)


@pytest.fixture(scope="module")
def plan_sarif():
    result = run(PLAN, "sarif", cwd=PLAN)  # the base of its URIs is the working directory
    assert result.returncode == 1, result.stderr
    return json.loads(result.stdout)


def validate_sarif(document) -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft4Validator(schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    assert not errors, errors[:5]


# ---- text ------------------------------------------------------------------------------------------

def block_after(lines, header_start):
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    end = lines.index("", start)
    return lines[start:end]


def test_text_shows_source_line_and_caret_under_the_span(plan_json):
    result = run(PLAN, "text")
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    finding = next(f for f in plan_json["findings"] if f["rule"] == "SC501" and f["column"] > 1)
    block = block_after(lines, f"{finding['path']}:{finding['line']}:{finding['column']} SC501 ")
    source = (PLAN / finding["path"]).read_text(encoding="utf-8").splitlines()[finding["line"] - 1]
    code_line = next(line for line in block if line.startswith(f"{finding['line']} | "))
    caret_line = block[block.index(code_line) + 1]
    assert code_line == f"{finding['line']} | {source.rstrip()}"
    gutter = len(f"{finding['line']} | ")
    assert caret_line.startswith(" " * len(str(finding["line"])) + " | ")
    assert caret_line.index("^") == gutter + finding["column"] - 1
    assert caret_line.count("^") == finding["end_column"] - finding["column"]
    underlined = code_line[caret_line.index("^"):caret_line.rindex("^") + 1]
    assert underlined == source[finding["column"] - 1:finding["end_column"] - 1] == 'pkill -f "python.*app.py"'
    related = finding["related"][0]
    assert f"   = note: {related['path']}:{related['line']}:{related['column']}: {related['message']}" in block
    assert lines[-1] == text.summary(audit(PLAN))


def test_text_multi_line_span_gets_one_caret(plan_json):
    lines = run(PLAN, "text").stdout.splitlines()
    finding = next(f for f in plan_json["findings"] if f["end_line"] > f["line"])
    block = block_after(lines, f"{finding['path']}:{finding['line']}:{finding['column']} {finding['rule']} ")
    caret_line = next(line for line in block if "^" in line)
    assert caret_line.count("^") == 1
    assert caret_line.index("^") == len(f"{finding['line']} | ") + finding["column"] - 1


def test_text_caret_counts_tabs_and_wide_characters(tmp_path):
    write_repo(tmp_path, {"deploy.sh": "#!/bin/bash\n\techo 한글; nohup python3 앱.py &\n"})
    lines = run(tmp_path, "text").stdout.splitlines()
    code_line = next(line for line in lines if line.startswith("2 | "))
    caret_line = lines[lines.index(code_line) + 1]
    assert code_line == "2 |     echo 한글; nohup python3 앱.py &"  # the tab is 4 columns
    # 4 (tab) + 5 ("echo ") + 4 (two wide characters) + 2 ("; ") terminal cells before `nohup`;
    # the span `nohup python3 앱.py` is 19 cells wide, its wide character counting twice
    assert caret_line == "  | " + " " * 15 + "^" * 19


def test_text_fixed_says_no_issues():
    result = run(FIXED, "text")
    assert result.returncode == 0
    assert result.stdout.splitlines()[-1].endswith("no issues found.")


def test_rich_output_says_the_same_as_plain(monkeypatch):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm-256color")
    report = audit(PLAN)
    plain, coloured = io.StringIO(), Terminal()
    text.render(report, plain)
    text.render(report, coloured)
    assert "\x1b[" in coloured.getvalue()  # rich did colour it
    assert re.sub(r"\x1b\[[0-9;]*m", "", coloured.getvalue()) == plain.getvalue()


def test_importing_the_text_format_does_not_import_rich():
    code = "import sys, sc_audit.report.text, sc_audit.report.concise; print('rich' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr


def test_control_characters_never_reach_the_terminal():
    assert text.printable("\tx\x1b[31m\x07") == "    x\ufffd[31m\ufffd"


def test_concise_is_one_line_per_finding(plan_json):
    lines = run(PLAN, "concise").stdout.splitlines()
    expected = [f"{f['path']}:{f['line']}:{f['column']} {f['rule']} {f['headline']}" for f in plan_json["findings"]]
    assert all(len(f["headline"]) <= 100 and f["message"].startswith(f["headline"][:10])
               for f in plan_json["findings"])
    assert lines[:-1] == expected
    assert lines[-1].endswith(f"{len(expected)} findings ({plan_json['summary']['error']} errors, "
                              f"{plan_json['summary']['warning']} warnings).")


# ---- sarif ----------------------------------------------------------------------------------------

def test_sarif_is_valid_and_points_at_the_findings(plan_sarif, plan_json):
    validate_sarif(plan_sarif)
    run_ = plan_sarif["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert run_["tool"]["driver"]["name"] == "sc-audit"
    base = run_["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert base in (PLAN.resolve().as_uri() + "/", Path.cwd().resolve().as_uri() + "/")
    prefix = PLAN.resolve().relative_to(Path(base[len("file://"):])).as_posix() + "/"
    prefix = "" if prefix == "./" else prefix
    assert len(run_["results"]) == len(plan_json["findings"])
    level = {"error": "error", "warning": "warning", "info": "note"}
    for result, finding in zip(run_["results"], plan_json["findings"]):
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"] == finding["rule"]
        assert rules[result["ruleIndex"]]["name"] == finding["name"]
        assert result["level"] == level[finding["severity"]]
        assert result["message"]["text"] == finding["message"]
        location = result["locations"][0]["physicalLocation"]
        assert location["artifactLocation"] == {"uri": prefix + finding["path"], "uriBaseId": "%SRCROOT%"}
        region = location["region"]
        assert (region["startLine"], region["startColumn"], region.get("endLine", region["startLine"])) == (
            finding["line"], finding["column"], finding["end_line"])
        assert region.get("endColumn", finding["end_column"]) == finding["end_column"]
        related = result.get("relatedLocations", [])
        assert [r["message"]["text"] for r in related] == [r["message"] for r in finding["related"]]
        assert len({r["id"] for r in related}) == len(related)


def test_sarif_rule_metadata_comes_from_the_catalog(plan_sarif):
    from sc_audit import catalog

    rules = plan_sarif["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == list(catalog.load())
    for descriptor in rules:
        rule = catalog.load()[descriptor["id"]]
        assert descriptor["shortDescription"]["text"] == rule.summary
        assert rule.why in descriptor["help"]["markdown"] and rule.fix in descriptor["help"]["text"]
        assert descriptor["properties"]["tags"] == list(rule.tags)
        wanted = rule.severity == "error" or "security" in rule.tags
        assert ("security-severity" in descriptor["properties"]) == wanted
        if wanted:
            assert 0.0 < float(descriptor["properties"]["security-severity"]) <= 10.0


def test_sarif_fingerprints_survive_moved_lines_and_tell_findings_apart(tmp_path, plan_sarif):
    copy = tmp_path / "plan"
    shutil.copytree(PLAN, copy)
    conf = copy / "gunicorn.conf.py"
    conf.write_text("\n" + conf.read_text(encoding="utf-8"), encoding="utf-8")
    workflow = copy / ".github" / "workflows" / "auto-deploy.yml"
    first, rest = workflow.read_text(encoding="utf-8").split("\n", 1)
    workflow.write_text(first + "\n\n" + rest, encoding="utf-8")
    moved = json.loads(run(copy, "sarif", cwd=copy).stdout)

    def keyed(document):
        return [(r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
                 r["locations"][0]["physicalLocation"]["region"]["startLine"],
                 r["partialFingerprints"]["primaryLocationLineHash"]) for r in document["runs"][0]["results"]]

    before, after = keyed(plan_sarif), keyed(moved)
    assert len(before) == len(after)
    shifted = {"gunicorn.conf.py", ".github/workflows/auto-deploy.yml"}
    for (rule, uri, line, fingerprint), (rule2, uri2, line2, fingerprint2) in zip(before, after):
        assert (rule, uri, fingerprint) == (rule2, uri2, fingerprint2)
        assert line2 == line + (1 if uri in shifted else 0)
    assert len({(uri, fp) for _, uri, _, fp in before}) == len(before)  # different findings, different ids
    assert all(re.fullmatch(r"[0-9a-f]{16}:\d+", fp) for *_, fp in before)

    # editing the offending line itself is a new alert
    conf.write_text(conf.read_text(encoding="utf-8").replace('"app:create_app()"', '"app:create_app( )"'),
                    encoding="utf-8")
    edited = dict(((r, u), fp) for r, u, _, fp in keyed(json.loads(run(copy, "sarif").stdout)))
    assert edited[("SC101", "gunicorn.conf.py")] != dict(((r, u), fp) for r, u, _, fp in before)[
        ("SC101", "gunicorn.conf.py")]


def test_sarif_of_the_fixed_repository_is_valid_and_empty():
    result = run(FIXED, "sarif")
    assert result.returncode == 0
    document = json.loads(result.stdout)
    validate_sarif(document)
    assert document["runs"][0]["results"] == []
    assert document["runs"][0]["tool"]["driver"]["rules"]


def test_sarif_lists_skipped_files_as_notifications(tmp_path):
    write_repo(tmp_path, {"deploy.sh": "#!/bin/bash\nnohup python3 app.py &\n", "blob.sh": "x"})
    (tmp_path / "blob.sh").write_bytes(b"#!/bin/bash\n\0\0binary")
    document = json.loads(run(tmp_path, "sarif").stdout)
    validate_sarif(document)
    notes = document["runs"][0]["invocations"][0]["toolExecutionNotifications"]
    assert [n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for n in notes] == ["blob.sh"]
    assert "binary" in notes[0]["message"]["text"]


# ---- github ---------------------------------------------------------------------------------------

COMMAND = re.compile(r"::(error|warning|notice) ([^:]*)::(.*)")


def unescape(value: str) -> str:
    for code, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        value = value.replace(code, char)
    return value


def parse_annotation(line: str) -> tuple[str, dict, str]:
    match = COMMAND.fullmatch(line)
    assert match, line
    props = dict(item.split("=", 1) for item in match.group(2).split(","))
    return match.group(1), {k: unescape(v) for k, v in props.items()}, unescape(match.group(3))


def test_github_annotations_parse_and_end_with_a_summary(plan_json):
    result = run(".", "github", cwd=PLAN)
    assert result.returncode == 1
    *annotations, last = result.stdout.splitlines()
    assert len(annotations) == len(plan_json["findings"])
    kind = {"error": "error", "warning": "warning", "info": "notice"}
    for line, finding in zip(annotations, plan_json["findings"]):
        command, props, message = parse_annotation(line)
        assert command == kind[finding["severity"]]
        assert props["file"] == finding["path"] and (PLAN / props["file"]).is_file()
        assert (int(props["line"]), int(props["endLine"])) == (finding["line"], finding["end_line"])
        assert props["title"] == f"{finding['rule']} {finding['headline']}"
        if finding["end_line"] == finding["line"]:
            assert (int(props["col"]), int(props["endColumn"])) == (finding["column"], finding["end_column"])
        else:
            assert "col" not in props and "endColumn" not in props
        assert message.startswith(finding["message"])
        assert all(f"note: {r['path']}:{r['line']}:" in message for r in finding["related"])
    assert not last.startswith("::") and f"{len(annotations)} findings" in last
    assert "not shown" not in last


def test_github_paths_are_relative_to_the_workspace():
    lines = run(PLAN, "github", cwd=SIGNALCRAFT).stdout.splitlines()
    files = {parse_annotation(line)[1]["file"] for line in lines[:-1]}
    assert files and all(f.startswith("plan/") and (SIGNALCRAFT / f).is_file() for f in files)


def test_github_says_how_many_annotations_github_will_not_show(tmp_path):
    script = "#!/bin/bash\n" + "".join(f"nohup python3 app{i}.py &\n" for i in range(12))
    write_repo(tmp_path, {"deploy.sh": script})
    summary = json.loads(run(tmp_path, "json").stdout)["summary"]
    lines = run(tmp_path, "github", cwd=tmp_path).stdout.splitlines()
    assert summary["warning"] > 10
    assert sum(line.startswith("::warning ") for line in lines) == summary["warning"]
    assert f"{summary['warning'] - 10} more not shown as annotations" in lines[-1]


def test_github_fixed_is_just_the_summary():
    result = run(FIXED, "github")
    assert result.returncode == 0
    assert result.stdout.splitlines() == [result.stdout.strip()]
    assert result.stdout.strip().endswith("no issues found.")


def test_github_escaping_follows_the_toolkit():
    assert github.escape_data("50% done\r\nnext: a,b") == "50%25 done%0D%0Anext: a,b"
    assert github.escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


# ---- junit ----------------------------------------------------------------------------------------

def test_junit_parses_and_counts_match(plan_json):
    result = run(PLAN, "junit")
    assert result.returncode == 1
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    failures = root.findall("./testsuite/testcase/failure")
    assert int(root.get("failures")) == len(failures) == len(plan_json["findings"])
    assert int(root.get("tests")) == len(root.findall("./testsuite/testcase")) == sum(int(s.get("tests")) for s in suites)
    assert len(suites) == plan_json["summary"]["files"]
    for suite in suites:
        assert int(suite.get("failures")) == len(suite.findall("./testcase/failure"))
    located = {(case.get("file"), int(case.get("line")), case.find("failure").get("message"))
               for case in root.iter("testcase") if case.find("failure") is not None}
    assert located == {(f["path"], f["line"], f["message"]) for f in plan_json["findings"]}


def test_junit_fixed_is_valid_with_no_failures():
    result = run(FIXED, "junit")
    assert result.returncode == 0
    root = ET.fromstring(result.stdout)
    assert root.get("failures") == "0" and int(root.get("tests")) > 0
    assert not root.findall(".//failure")


def test_junit_escapes_markup_and_characters_xml_cannot_carry(tmp_path):
    report = audit(write_repo(tmp_path, {"deploy.sh": "#!/bin/bash\nnohup python3 app.py &\n"}))
    nasty = 'a <b> & "c"\x1b[31m\x00 \U0001F680'
    report.findings = [dataclasses.replace(report.findings[0], message=nasty)]
    root = ET.fromstring(junit.document(report))
    failure = root.find(".//failure")
    assert failure.get("message") == 'a <b> & "c"\ufffd[31m\ufffd \U0001F680'


# ---- json -----------------------------------------------------------------------------------------

def test_json_agrees_with_sarif(plan_json, plan_sarif):
    assert plan_json["version"] == 1
    results = plan_sarif["runs"][0]["results"]
    assert [(f["rule"], f["path"], f["line"], f["column"]) for f in plan_json["findings"]] == [
        (r["ruleId"], r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
         r["locations"][0]["physicalLocation"]["region"]["startLine"],
         r["locations"][0]["physicalLocation"]["region"]["startColumn"]) for r in results]
    fixed = json.loads(run(FIXED, "json").stdout)
    assert fixed["findings"] == [] and fixed["summary"]["findings"] == 0


def test_sarif_and_github_paths_share_one_base_for_a_subfolder(tmp_path):
    """The Action's `path:` a subfolder with a configuration of its own (its own root): SARIF's URIs
    and the annotations' files are both relative to the workspace."""
    workspace = tmp_path / "workspace"
    shutil.copytree(PLAN, workspace / "services" / "plan")
    (workspace / ".git").mkdir()
    sarif = json.loads(run("services/plan", "sarif", cwd=workspace).stdout)["runs"][0]
    assert sarif["originalUriBaseIds"]["%SRCROOT%"]["uri"] == workspace.resolve().as_uri() + "/"
    uris = [r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["results"]]
    annotations = [line.split("file=", 1)[1].split(",", 1)[0]
                   for line in run("services/plan", "github", cwd=workspace).stdout.splitlines()
                   if line.startswith("::")]
    assert uris == annotations and all((workspace / uri).is_file() for uri in uris)


def test_every_headline_is_one_short_clause_of_its_message(tmp_path):
    """Every finding of every catalog example has a headline under ~100 characters that starts its message."""
    from sc_audit import catalog
    from sc_audit.findings import headline

    count = 0
    for rule in catalog.load().values():
        for number, example in enumerate(rule.examples):
            root = write_repo(tmp_path / f"{rule.code}-{number}", example.files)
            for finding in audit(root).findings:
                count += 1
                assert 10 <= len(finding.headline) <= 100, (finding.rule, finding.headline)
                assert "\n" not in finding.headline
    assert count > 30
    message = "the deploy restarts `web.service` (127.0.0.1:80) but never checks it: the details. The fix."
    assert headline(message) == "the deploy restarts `web.service` (127.0.0.1:80) but never checks it"
    long = headline("word " * 60)
    assert len(long) <= 100 and long.endswith("…")
