"""Inline suppressions (`# sc-audit: ignore[…]`, `ignore-file[…]`) and SC003 unused-suppression."""

import json

import pytest

from sc_audit import audit, catalog, suppress
from sc_audit import source as kinds
from sc_audit.config import Config
from sc_audit.source import SourceFile

from conftest import copy_plan, run_cli, write_repo

RULES = tuple(catalog.load())
WORKFLOW = ".github/workflows/auto-deploy.yml"
APP = "from flask import Flask\n\napp = Flask(__name__)\n"


run = run_cli


def set_line(root, rel, number, text):
    """Replace line `number` of a file (line numbers of the rest stay as they were)."""
    path = root / rel
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[number - 1] = text
    path.write_text("\n".join(lines), encoding="utf-8")


def append_to_line(root, rel, number, text):
    path = root / rel
    lines = path.read_text(encoding="utf-8").split("\n")
    lines[number - 1] += text
    path.write_text("\n".join(lines), encoding="utf-8")


def found(report):
    return {(f.rule, f.span.path, f.span.line) for f in report.findings}


def suppressed_lines(kind, path, text):
    """The lines holding a suppression, as the scanner of `kind` reads `text`."""
    return [s.span.line for s in suppress.collect([SourceFile(path, kind, text)], RULES)]


# --------------------------------------------------------------------------- what counts as a comment

MARK = "sc-audit: ignore[SC501]"


@pytest.mark.parametrize("kind,path,text,lines", [
    (kinds.SHELL, "d.sh", f"pkill x  # {MARK}\n", [1]),
    (kinds.SHELL, "d.sh", f"# {MARK}\npkill x\n", [1]),
    (kinds.SHELL, "d.sh", f'echo "# {MARK}"\necho \'# {MARK}\'\n', []),
    (kinds.SHELL, "d.sh", f"echo \"multi\nline # {MARK}\"\n", []),
    (kinds.SHELL, "d.sh", f"curl http://host/#{MARK}\necho ${{x#{MARK}}}\necho a#{MARK}\n", []),
    (kinds.SHELL, "d.sh", f"cat <<EOF\n# {MARK}\nEOF\necho done # {MARK}\n", [4]),
    (kinds.SHELL, "d.sh", f"cat <<-'END'\n\t# {MARK}\n\tEND\n", []),
    (kinds.SHELL, "d.sh", f"echo $((1 << 2)) # {MARK}\n", [1]),
    (kinds.SHELL, "d.sh", f"echo $'it\\'s # {MARK}'\n", []),
    (kinds.PROCFILE, "Procfile", f"web: gunicorn app:app # {MARK}\n", [1]),
    (kinds.PYTHON_APP, "app.py", f"x = 1  # {MARK}\n", [1]),
    (kinds.PYTHON_APP, "app.py", f'x = "# {MARK}"\ny = """\n# {MARK}\n"""\n', []),
    (kinds.GUNICORN_CONFIG, "gunicorn.conf.py", f"workers = (2\n# {MARK}\n", [2]),  # past a tokenize error
    (kinds.NGINX, "site.conf",
     f"server {{ # {MARK}\n  return 200 \"# {MARK}\";\n  location ~ /a#{MARK} {{}}\n}}\n", [1]),
    (kinds.SYSTEMD, "a.service", f"[Service]\n# {MARK}\n; {MARK}\nExecStart=/bin/x # {MARK}\n", [2, 3]),
    (kinds.WORKFLOW, ".github/workflows/d.yml",
     f"name: d # {MARK}\nurl: http://x/#{MARK}\nq: \"a # {MARK}\"\nv: don't # {MARK}\n", [1, 4]),
    (kinds.WORKFLOW, ".github/workflows/d.yml",
     f"steps:\n  - run: |\n      # {MARK}\n      echo \"# {MARK}\"\n      echo 'it # {MARK}'\n  - name: x # {MARK}\n",
     [3, 6]),
    (kinds.PM2, "ecosystem.config.js",
     f"// {MARK}\nconst a = '// {MARK}', b = `/* {MARK} ${{1}} */`;\nconst r = /[//] {MARK}/;\n"
     f"/* {MARK} */ const c = 1;\n", [1, 4]),
    (kinds.PM2, "ecosystem.config.js", f"const t = `x ${{ {{a: 1}}.a }} // {MARK}`; // {MARK}\n", [1]),
    (kinds.PM2, "ecosystem.config.json", f'{{"apps": [{{"name": "# {MARK}"}}]}}\n', []),
    (kinds.PM2, "ecosystem.config.yml", f"apps:\n  # {MARK}\n  - name: 'a # {MARK}'\n", [2]),
])
def test_only_real_comments_hold_suppressions(kind, path, text, lines):
    assert suppressed_lines(kind, path, text) == lines


def test_case_does_not_matter(tmp_path):
    write_repo(tmp_path / "bare", {"deploy.sh": "#!/bin/bash\nnohup python3 app.py &\n"})
    assert {f.rule for f in audit(tmp_path / "bare").findings} == {"SC202"}
    write_repo(tmp_path / "commented",
               {"deploy.sh": "#!/bin/bash\nnohup python3 app.py &  # SC-Audit: Ignore[sc202]\n"})
    assert audit(tmp_path / "commented").findings == []


def test_directive_syntax():
    [first, second, third] = suppress.collect([SourceFile("d.sh", kinds.SHELL,
        "a # sc-audit: ignore[SC501, sc5] -- the reason\n# sc-audit: ignore-file\nb #sc-audit:ignore\n")], RULES)
    assert first.codes == ("SC501", "SC5") and not first.file_level and first.lines == {1}
    assert second.codes is None and second.file_level
    assert third.codes is None and third.lines == {3}
    assert not first.problems and not second.problems and not third.problems


# --------------------------------------------------------------------------- suppressing, per file kind


def test_workflow_comment_alone_on_the_line_above(tmp_path):
    root = copy_plan(tmp_path)
    before = found(audit(root))
    assert ("SC501", WORKFLOW, 62) in before
    set_line(root, WORKFLOW, 61, "            # sc-audit: ignore[SC501] -- replaced by systemctl next release")
    after = found(audit(root))
    assert after == before - {("SC501", WORKFLOW, 62)}


def test_line_above_counts_only_when_the_comment_stands_alone(tmp_path):
    root = copy_plan(tmp_path)
    append_to_line(root, WORKFLOW, 61, "  # sc-audit: ignore[SC501]")
    report = audit(root)
    assert ("SC501", WORKFLOW, 62) in found(report)
    [unused] = [f for f in report.findings if f.rule == "SC003"]
    assert (unused.span.path, unused.span.line, unused.severity) == (WORKFLOW, 61, "warning")
    assert "no SC501 finding on this line" in unused.message


def test_same_line_several_codes_and_prefixes(tmp_path):
    root = copy_plan(tmp_path)
    before = found(audit(root))
    append_to_line(root, WORKFLOW, 62, "  # sc-audit: ignore[SC501,SC50]")
    after = found(audit(root))
    assert after == before - {("SC501", WORKFLOW, 62), ("SC503", WORKFLOW, 62)}


@pytest.mark.parametrize("rel,line,comment,rule", [
    ("fix-502-complete.sh", 21, "  # sc-audit: ignore[SC202] -- a one-off", "SC202"),
    ("gunicorn.conf.py", 5, "  # sc-audit: ignore[SC401] -- the host has 2 CPUs", "SC401"),
    ("deploy/nginx-signalcraft.conf", 16, "  # sc-audit: ignore[SC403]", "SC403"),
])
def test_same_line_in_shell_python_and_nginx(tmp_path, rel, line, comment, rule):
    root = copy_plan(tmp_path)
    before = found(audit(root))
    append_to_line(root, rel, line, comment)
    assert found(audit(root)) == before - {(rule, rel, line)}


def test_a_suppression_inside_a_string_does_not_count(tmp_path):
    root = copy_plan(tmp_path)
    before = found(audit(root))
    append_to_line(root, "gunicorn.conf.py", 5, '; note = "# sc-audit: ignore[SC401]"')
    append_to_line(root, "fix-502-complete.sh", 20, ' "# sc-audit: ignore[SC202]"')
    assert found(audit(root)) == before


SERVICE = "[Service]\nWorkingDirectory=/srv/app\n{comment}\nExecStart=/venv/bin/gunicorn -b 0.0.0.0:8000 app:app\n"
SITE = "server {\n    listen 80;\n    location / {\n        proxy_pass http://127.0.0.1:8000;\n    }\n}\n"
CLUSTER_JS = """module.exports = {
  apps: [{
    name: "api",
    script: "venv/bin/gunicorn",
    args: "-b 127.0.0.1:8000 app:app",
    interpreter: "none",
    {comment}
    instances: 4,
  }],
};
"""
CLUSTER_YAML = """apps:
  - name: api
    script: venv/bin/gunicorn
    args: -b 127.0.0.1:8000 app:app
    interpreter: none
    {comment}
    instances: 4
"""


# PM2 stops Gunicorn with SIGINT (SC208) in the PM2 cases; not what these tests are about
NOT_SC208 = Config(ignore=("SC208",))


@pytest.mark.parametrize("files,rule,path", [
    ({"deploy/app.service": SERVICE, "app.py": APP, "nginx/site.conf": SITE}, "SC303", "deploy/app.service"),
    ({"Procfile": "# the web process\n{comment}\nweb: gunicorn wsgi:app\n", "app.py": APP}, "SC102", "Procfile"),
    ({"ecosystem.config.js": CLUSTER_JS, "app.py": APP}, "SC204", "ecosystem.config.js"),
    ({"ecosystem.config.yml": CLUSTER_YAML, "app.py": APP}, "SC204", "ecosystem.config.yml"),
], ids=["systemd", "procfile", "pm2-js", "pm2-yaml"])
def test_line_above_in_systemd_procfile_and_pm2(tmp_path, files, rule, path):
    """The comment takes a line of its own, blank in the uncommented copy."""
    marker = "//" if path.endswith(".js") else "#"
    write_repo(tmp_path / "bare", {rel: text.replace("{comment}", "") for rel, text in files.items()})
    line = files[path].split("\n").index(next(row for row in files[path].split("\n") if "{comment}" in row)) + 2
    assert (rule, path, line) in found(audit(tmp_path / "bare", NOT_SC208))
    comment = f"{marker} sc-audit: ignore[{rule}] -- reviewed"
    write_repo(tmp_path / "commented", {rel: text.replace("{comment}", comment) for rel, text in files.items()})
    assert found(audit(tmp_path / "commented", NOT_SC208)) == set()


def test_js_block_comment_on_the_finding_line(tmp_path):
    text = CLUSTER_JS.replace("{comment}", "").replace("instances: 4,", "instances: 4, /* sc-audit: ignore[SC204] */")
    write_repo(tmp_path, {"ecosystem.config.js": text, "app.py": APP})
    assert audit(tmp_path, NOT_SC208).findings == []


def test_ignore_file_with_codes_and_without(tmp_path):
    root = copy_plan(tmp_path)
    before = found(audit(root))
    set_line(root, WORKFLOW, 61, "            echo 'sc-audit: ignore-file in a string'  # sc-audit: ignore-file[SC5]")
    after = found(audit(root))
    assert after == {f for f in before if not (f[1] == WORKFLOW and f[0].startswith("SC5"))}
    assert ("SC201", WORKFLOW, 67) in after
    append_to_line(root, "fix-502-complete.sh", 50, "\n# sc-audit: ignore-file -- legacy script, to be deleted")
    assert not [f for f in found(audit(root)) if f[1] == "fix-502-complete.sh"]


# --------------------------------------------------------------------------- SC003


@pytest.mark.parametrize("comment,words", [
    ("# sc-audit: ignore[SC999]", "`SC999` is not a rule code"),
    ("# sc-audit: ignore[E501]", "`E501` is not an sc-audit rule code"),
    ("# sc-audit: ignore-files[SC501]", "`ignore-files` is not a directive"),
    ("# sc-audit: ignore[]", "the code list is empty"),
    ("# sc-audit: ignore[SC501", "never closed"),
])
def test_bad_codes_and_malformed_directives_are_reported(tmp_path, comment, words):
    write_repo(tmp_path, {"deploy.sh": f"#!/bin/bash\necho hi  {comment}\nnohup python3 app.py &\n"})
    report = audit(tmp_path)
    [unused] = [f for f in report.findings if f.rule == "SC003"]
    assert unused.span.line == 2 and words in unused.message
    assert "SC202" in {f.rule for f in report.findings}  # nothing was suppressed by a broken comment


def test_bad_codes_next_to_a_good_one(tmp_path):
    root = copy_plan(tmp_path)
    append_to_line(root, WORKFLOW, 62, "  # sc-audit: ignore[SC501,SC5O3,SC202]")
    report = audit(root)
    assert ("SC501", WORKFLOW, 62) not in found(report) and ("SC503", WORKFLOW, 62) in found(report)
    [unused] = [f for f in report.findings if f.rule == "SC003"]
    assert "`SC5O3` is not an sc-audit rule code" in unused.message
    assert "no SC202 finding" in unused.message and "SC501 finding" not in unused.message


def test_unused_file_suppression(tmp_path):
    write_repo(tmp_path, {"deploy.sh": "#!/bin/bash\n# sc-audit: ignore-file[SC401]\nsystemctl restart app\n"})
    [unused] = audit(tmp_path).findings
    assert unused.rule == "SC003" and unused.span.line == 2 and "no SC401 finding in this file" in unused.message


def test_sc003_is_a_rule_like_any_other(tmp_path):
    files = {"deploy.sh": "#!/bin/bash\nsystemctl restart app  # sc-audit: ignore[SC501]\n"}
    write_repo(tmp_path, files)
    assert [f.rule for f in audit(tmp_path).findings] == ["SC003"]
    assert audit(tmp_path, Config(ignore=("SC003",))).findings == []
    assert audit(tmp_path, Config(select=("SC5",))).findings == []  # SC003 not selected
    assert audit(tmp_path, Config(per_file_ignores={"*.sh": ("SC003",)})).findings == []
    assert [f.severity for f in audit(tmp_path, Config(severity={"SC0": "info"})).findings] == ["info"]


def test_a_suppression_is_judged_only_when_its_rules_ran(tmp_path):
    write_repo(tmp_path, {"deploy.sh": "#!/bin/bash\nsystemctl restart app  # sc-audit: ignore[SC501,SC5]\n"})
    assert audit(tmp_path, Config(select=("SC003", "SC1"))).findings == []
    assert audit(tmp_path, Config(per_file_ignores={"deploy.sh": ("SC501", "SC502", "SC503")})).findings == []
    [unused] = audit(tmp_path, Config(ignore=("SC502",))).findings  # SC5 covers a rule that did not run
    assert "there is no SC501 finding on this line" in unused.message
    [unused] = audit(tmp_path).findings
    assert "there is no SC501 or SC5 finding on this line" in unused.message


def test_sc003_itself_can_be_suppressed(tmp_path):
    write_repo(tmp_path, {"deploy.sh": "#!/bin/bash\nsystemctl restart app  # sc-audit: ignore[SC501,SC003]\n"
                                       "echo  # sc-audit: ignore[SC999]\n# sc-audit: ignore-file[SC003]\n"})
    assert audit(tmp_path).findings == []


# --------------------------------------------------------------------------- the command line


def test_cli_suppression_and_unused_suppression(tmp_path):
    root = copy_plan(tmp_path)
    set_line(root, WORKFLOW, 61, "            # sc-audit: ignore[SC501,SC503] -- replaced by systemctl stop")
    append_to_line(root, "gunicorn.conf.py", 4, "  # sc-audit: ignore[SC401]")
    result = run("check", str(root), "--format", "json")
    assert result.returncode == 1, result.stderr
    findings = {(f["rule"], f["path"], f["line"]) for f in json.loads(result.stdout)["findings"]}
    assert not {("SC501", WORKFLOW, 62), ("SC503", WORKFLOW, 62)} & findings
    assert ("SC003", "gunicorn.conf.py", 4) in findings and ("SC401", "gunicorn.conf.py", 5) in findings

    quiet = run("check", str(root), "--format", "json", "--ignore", "SC003,SC4")
    findings = {(f["rule"], f["path"], f["line"]) for f in json.loads(quiet.stdout)["findings"]}
    assert not [f for f in findings if f[0] in ("SC003", "SC401")] and ("SC101", "gunicorn.conf.py", 13) in findings
