"""The command line, run as a user runs it (a subprocess)."""

import json
import subprocess
import sys

from conftest import SIGNALCRAFT, run_cli


run = run_cli


def test_check_plan_prints_grouped_findings_and_fails():
    result = run("check", str(SIGNALCRAFT / "plan"))
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert "gunicorn.conf.py" in lines
    assert any(line.startswith("gunicorn.conf.py:13:") and " SC101 " in line for line in lines)
    assert "finding" in lines[-1] and "error" in lines[-1]


def test_check_fixed_passes():
    result = run("check", str(SIGNALCRAFT / "fixed"))
    assert result.returncode == 0, result.stdout
    assert result.stdout.strip().endswith("no issues found.")


def test_json_format():
    result = run("check", str(SIGNALCRAFT / "plan"), "--format", "json")
    document = json.loads(result.stdout)
    assert document["version"] == 1
    first = document["findings"][0]
    assert set(first) == {"rule", "name", "severity", "path", "line", "column", "end_line", "end_column",
                          "message", "headline", "related"}
    assert document["summary"]["findings"] == len(document["findings"])
    assert all("\\" not in f["path"] for f in document["findings"])


def test_select_and_ignore():
    only = json.loads(run("check", str(SIGNALCRAFT / "plan"), "--format", "json", "--select", "SC1").stdout)
    assert {f["rule"] for f in only["findings"]} == {"SC101", "SC104"}
    rest = json.loads(run("check", str(SIGNALCRAFT / "plan"), "--format", "json", "--ignore", "SC1,SC2").stdout)
    assert rest["findings"] and not any(f["rule"].startswith(("SC1", "SC2")) for f in rest["findings"])


def test_fail_on_error_ignores_warnings(tmp_path):
    (tmp_path / "deploy.sh").write_text("#!/bin/bash\nnohup python3 app.py &\n")
    assert run("check", str(tmp_path)).returncode == 1
    assert run("check", str(tmp_path), "--fail-on", "error").returncode == 0


def test_missing_path_is_a_one_line_error():
    result = run("check", "/nonexistent/repo")
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "no such file" in result.stderr
    assert "Traceback" not in result.stderr


def test_rules_and_explain_and_version():
    listing = run("rules")
    assert listing.returncode == 0 and "SC101" in listing.stdout and "wsgi-factory-missing" in listing.stdout
    data = json.loads(run("rules", "--format", "json").stdout)
    assert {"code", "name", "severity", "summary"} <= set(data[0])
    explained = run("explain", "sc101")
    assert explained.returncode == 0 and "Why is this bad?" in explained.stdout
    assert run("explain", "SC999").returncode == 2
    assert run("--version").stdout.startswith("sc-audit ")


def test_library_api_without_cli():
    code = ("import sys; from sc_audit import audit; r = audit(sys.argv[1]); "
            "print(sorted({f.rule for f in r.findings})); print('typer' in sys.modules, 'rich' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(SIGNALCRAFT / "plan")], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    rules, imports = result.stdout.splitlines()
    assert "SC101" in rules
    assert imports == "False False"  # the library does not drag in the CLI
