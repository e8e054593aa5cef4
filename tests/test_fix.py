"""`sc-audit check --fix` / `--diff`: only the fixes sc-audit can prove, with minimal, exact edits."""

import difflib
import io
import json
import shutil
import subprocess

import pytest

from conftest import SIGNALCRAFT, codes_at, run_cli, write_repo
from sc_audit import audit
from sc_audit.fix import apply_fixes

PLAN = SIGNALCRAFT / "plan"


run = run_cli


def snapshot(root) -> dict[str, bytes]:
    """Every file of the repository (sc-audit's parse cache aside)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and ".sc-audit-cache" not in p.parts}


def changed_lines(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("- ")], [d[2:] for d in diff if d.startswith("+ ")]


# What --fix changes in the SignalCraft plan, line by line: (removed, added) per file.
PLAN_EDITS = {
    "gunicorn.conf.py": (['wsgi_app = "app:create_app()"'], ['wsgi_app = "app:app"']),
    "app.py": ([], ['@app.route("/health")', "def health():", '    return {"status": "ok"}', "", ""]),
    ".github/workflows/auto-deploy.yml": (['            pkill -f "python.*app.py" || true'],
                                          ['            pkill -f "[g]unicorn" || true']),
    "fix-502-complete.sh": (['pkill -f "node server.js" || true'], ['pkill -f "server\\.js" || true']),
}
# The findings those edits remove; everything else must stay.
PLAN_FIXED = {
    ("SC101", "gunicorn.conf.py", 13),
    ("SC501", ".github/workflows/auto-deploy.yml", 62),
    ("SC503", ".github/workflows/auto-deploy.yml", 62),  # the new pattern no longer matches its own session
    ("SC501", "fix-502-complete.sh", 9),
}


@pytest.fixture(scope="module")
def plan_runs(tmp_path_factory):
    """On a copy of the plan: `--diff`, then `--fix`, then `--diff` again (the CLI as users run it)."""
    root = shutil.copytree(PLAN, tmp_path_factory.mktemp("fix") / "plan")
    runs = {"before": snapshot(root)}
    runs["diff"] = run("check", str(root), "--diff")
    runs["after diff"] = snapshot(root)
    runs["fix"] = run("check", str(root), "--fix", "--format", "json")
    runs["after fix"] = snapshot(root)
    runs["again"] = run("check", str(root), "--diff")
    runs["after again"] = snapshot(root)
    return runs


def test_fix_removes_what_it_proves_and_leaves_the_rest(plan_runs):
    result = plan_runs["fix"]
    after = {(f["rule"], f["path"], f["line"]) for f in json.loads(result.stdout)["findings"]}
    assert result.returncode == 1  # SC201, SC202, SC002 … remain: not provable
    # once the target resolves, the app behind `/api/ai/` is known: it reads uploads (`request.files`)
    # behind Nginx's 1 MiB default, which `fixed` raises with `client_max_body_size 20m`
    uncovered = {("SC405", "deploy/nginx-signalcraft.conf", 16)}
    assert after == (codes_at(audit(PLAN)) - PLAN_FIXED) | uncovered
    # SC602 stays (the deploy still checks nothing) but no longer asks for the route it got
    messages = [f["message"] for f in json.loads(result.stdout)["findings"] if f["rule"] == "SC602"]
    assert len(messages) == 2 and not any(".route(" in m for m in messages)
    assert "the deploy still does not check it" in result.stderr
    assert "not fixed: SC602 .github/workflows/auto-deploy.yml:80" in result.stderr
    # the route is added but SC602 at the script stays: that is not called "fixed"
    assert "changed, not fixed: SC602 fix-502-complete.sh:21" in result.stderr
    assert "sc-audit: fixed SC602" not in result.stderr
    assert "sc-audit: fixed SC101 gunicorn.conf.py:13" in result.stderr


def test_fix_says_how_many_it_fixed_and_how_many_remain(plan):
    result = run("check", str(plan), "--fix", "--format", "concise")
    remaining = len(audit(plan).findings)  # a fix may also uncover a finding (SC405 behind the fixed target)
    assert f"{len(PLAN_FIXED)} fixed, {remaining} remaining" in result.stdout.splitlines()[-1]


def test_fix_with_diff_changes_nothing_and_fails_when_there_is_a_diff(plan):
    before = snapshot(plan)
    result = run("check", str(plan), "--fix", "--diff")
    assert result.returncode == 1 and result.stdout.startswith("--- a/")
    assert snapshot(plan) == before


def test_fix_edits_exactly_these_lines(plan_runs):
    original, fixed = plan_runs["before"], plan_runs["after fix"]
    changed = {path for path in original if original[path] != fixed[path]}
    assert changed == set(PLAN_EDITS)
    for path, (removed, added) in PLAN_EDITS.items():
        assert changed_lines(original[path].decode(), fixed[path].decode()) == (removed, added), path
    app = fixed["app.py"].decode()
    # placed after the app's last route, before the main guard, with the module's blank lines
    assert '    return jsonify({"service": "signalcraft-ai", "ready": True})\n\n\n@app.route("/health")\n' \
           'def health():\n    return {"status": "ok"}\n\n\nif __name__ == "__main__":\n' in app
    for path in ("app.py", "gunicorn.conf.py"):
        compile(fixed[path].decode(), path, "exec")  # still Python (compiled, never run)


def test_second_fix_changes_nothing(plan_runs):
    again = plan_runs["again"]
    assert again.returncode == 0 and again.stdout == ""
    assert plan_runs["after again"] == plan_runs["after fix"]
    assert "`app` already routes `/health`" in again.stderr


def test_diff_changes_nothing_and_is_a_patch_that_applies(plan_runs, tmp_path):
    result = plan_runs["diff"]
    assert result.returncode == 1, result.stderr  # ruff's --diff: 1 when it would change something
    assert plan_runs["after diff"] == plan_runs["before"]
    assert result.stdout.startswith("--- a/")
    assert "would fix SC101 gunicorn.conf.py:13" in result.stderr
    patched = shutil.copytree(PLAN, tmp_path / "patched")
    dry = subprocess.run(["patch", "-p1", "--dry-run"], input=result.stdout, cwd=patched, capture_output=True,
                         text=True, timeout=60)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert snapshot(patched) == plan_runs["before"]
    # applied for real, the patch gives what --fix writes
    subprocess.run(["patch", "-p1", "--quiet"], input=result.stdout, cwd=patched, check=True, text=True, timeout=60)
    assert snapshot(patched) == plan_runs["after fix"]


@pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")
def test_diff_passes_git_apply_check(plan_runs, tmp_path):
    root = shutil.copytree(PLAN, tmp_path / "repo")
    subprocess.run(["git", "init", "-q"], cwd=root, check=True, timeout=60)
    check = subprocess.run(["git", "apply", "--check", "-"], input=plan_runs["diff"].stdout, cwd=root,
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 0, check.stderr


# ---------------------------------------------------------------------------- one fix at a time


def fix(root, write=True):
    log = io.StringIO()
    patch = apply_fixes(audit(root), write=write, log=log)
    return patch, log.getvalue()


def test_command_line_target_gets_the_call_and_quotes_in_a_shell(tmp_path):
    root = write_repo(tmp_path, {
        "web/main.py": "from flask import Flask\n\n\ndef create_app():\n    app = Flask(__name__)\n    return app\n",
        "Procfile": "web: gunicorn web.main:create_app --bind 0.0.0.0:$PORT\n",
        "deploy/web.service": "[Service]\nExecStart=/srv/venv/bin/gunicorn -b 127.0.0.1:7000 web.main:create_app\n",
    })
    assert {f.rule for f in audit(root).findings} == {"SC103"}
    fix(root)
    assert (root / "Procfile").read_text() == "web: gunicorn 'web.main:create_app()' --bind 0.0.0.0:$PORT\n"
    assert (root / "deploy/web.service").read_text().endswith(" -b 127.0.0.1:7000 web.main:create_app()\n")
    assert not audit(root).findings


def test_ambiguous_app_is_left_alone(tmp_path):
    root = write_repo(tmp_path, {
        "app.py": "from flask import Flask\napp = Flask(__name__)\nadmin = Flask('admin')\n",
        "gunicorn.conf.py": 'wsgi_app = "app:create_app()"\n',
    })
    patch, log = fix(root)
    assert patch == ""
    assert "not fixed: SC101 gunicorn.conf.py:1: `app.py` does not define exactly one app object" in log
    assert (root / "gunicorn.conf.py").read_text() == 'wsgi_app = "app:create_app()"\n'


def test_config_target_keeps_quotes_comments_and_crlf(tmp_path):
    (tmp_path / "app.py").write_text("from flask import Flask\napplication = Flask(__name__)\n")
    (tmp_path / "gunicorn.conf.py").write_bytes(b"# settings\r\nbind = '127.0.0.1:8000'\r\n"
                                                b"wsgi_app = 'app:make()'  # the app\r\n")
    fix(tmp_path)
    assert (tmp_path / "gunicorn.conf.py").read_bytes() == \
        b"# settings\r\nbind = '127.0.0.1:8000'\r\nwsgi_app = 'app:application'  # the app\r\n"


def test_pm2_interpreter_is_inserted_for_a_venv_entry_point(tmp_path):
    root = write_repo(tmp_path, {"ecosystem.config.js": """
module.exports = {
  apps: [
    {
      name: 'api',
      script: 'venv/bin/gunicorn',
      args: '-b 127.0.0.1:8000 app:app',
    },
    {
      name: 'worker',
      "script": "/srv/app/.venv/bin/celery"
    },
    {
      name: 'system',
      script: '/usr/local/bin/gunicorn',
    },
  ],
};
"""})
    original = (root / "ecosystem.config.js").read_text()
    patch, log = fix(root)
    removed, added = changed_lines(original, (root / "ecosystem.config.js").read_text())
    assert removed == ['      "script": "/srv/app/.venv/bin/celery"']
    assert added == ["      interpreter: 'none',", '      "script": "/srv/app/.venv/bin/celery",',
                     '      "interpreter": "none"']
    assert "not fixed: SC205 ecosystem.config.js:14: `/usr/local/bin/gunicorn` is not an entry point" in log
    assert [f.span.line for f in audit(root).findings if f.rule == "SC205"] == [16]  # two lines further down


def test_health_route_for_the_path_the_deploy_checks(tmp_path):
    root = write_repo(tmp_path, {
        "app.py": "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.get('/')\ndef index():\n"
                  "    return 'hi'\n",
        "deploy.sh": "#!/bin/bash\ngunicorn app:app -b 127.0.0.1:8000 &\ncurl -f http://127.0.0.1:8000/ping\n",
    })
    assert "SC601" in {f.rule for f in audit(root).findings}
    fix(root)
    assert (root / "app.py").read_text().endswith(
        "    return 'hi'\n\n\n@app.route('/ping')\ndef health():\n    return {'status': 'ok'}\n")
    assert "SC601" not in {f.rule for f in audit(root).findings}


def test_no_route_is_added_to_an_app_built_in_a_factory(tmp_path):
    root = write_repo(tmp_path, {
        "app.py": "from flask import Flask\n\n\ndef create_app():\n    app = Flask(__name__)\n\n"
                  "    @app.route('/')\n    def index():\n        return 'hi'\n\n    return app\n",
        "deploy.sh": "#!/bin/bash\ngunicorn 'app:create_app()' -b 127.0.0.1:8000 &\n"
                     "curl -f http://127.0.0.1:8000/health\n",
    })
    before = (root / "app.py").read_text()
    patch, log = fix(root)
    assert patch == "" and (root / "app.py").read_text() == before
    assert "SC601" in {f.rule for f in audit(root).findings}


def test_kill_pattern_is_left_alone_when_no_pattern_is_provable(tmp_path):
    # two units run the same command line: no pattern selects one and not the other
    unit = "[Service]\nWorkingDirectory=/srv/{}\nExecStart=/srv/venv/bin/gunicorn -c gunicorn.conf.py\n"
    root = write_repo(tmp_path, {
        "deploy/a.service": unit.format("a"),
        "deploy/b.service": unit.format("b"),
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
        "gunicorn.conf.py": 'wsgi_app = "app:app"\n',
        "deploy.sh": "#!/bin/bash\npkill -f a.service\n",
    })
    assert ("SC501", "deploy.sh", 2) in codes_at(audit(root))
    patch, log = fix(root)
    assert patch == ""
    assert "not fixed: SC501 deploy.sh:2: no pattern provably selects its target" in log


def test_kill_pattern_rewrite_is_quoted_for_the_shell(tmp_path):
    root = write_repo(tmp_path, {
        "ecosystem.config.js": "module.exports = { apps: [{ name: 'web', script: 'server.js', "
                               "env: { PORT: 3000 } }] };\n",
        "deploy.sh": "#!/bin/bash\npkill -f node.server.js\npm2 start ecosystem.config.js\n",
    })
    assert ("SC501", "deploy.sh", 2) in codes_at(audit(root))
    fix(root)
    assert (root / "deploy.sh").read_text().splitlines()[1] == "pkill -f 'server\\.js'"
    assert ("SC501", "deploy.sh", 2) not in codes_at(audit(root))
