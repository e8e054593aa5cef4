"""Kills written as pipelines (`ps aux | grep … | xargs kill`, `kill $(ps … | grep …)`), by pidfile and
by port: SC501–SC503 judge the pattern ones against what `ps` prints; the exact ones never fire them."""

import pytest

from sc_audit import commands as cmd
from sc_audit.model.pipelines import grep_filter, kill_signal, ps_shape
from sc_audit.procview import View, kill_matches

APP = "from flask import Flask\n\napp = Flask(__name__)\n"
UNIT = {"deploy/app.service": "[Service]\nWorkingDirectory=/srv/app\n"
                              "ExecStart=/srv/app/venv/bin/gunicorn app:app -p /run/app/gunicorn.pid -b 127.0.0.1:8000\n",
        "app.py": APP}


def kill_codes(report) -> list[tuple[str, str, int]]:
    return sorted((f.rule, f.span.path, f.span.line) for f in report.findings if f.rule in ("SC501", "SC502", "SC503",
                                                                                            "SC301"))


def deploy(*lines: str) -> dict:
    return {**UNIT, "deploy.sh": "#!/bin/bash\n" + "\n".join(lines) + "\nsudo systemctl restart app\n"}


def test_pgrep_of_the_real_command_line_is_no_sc501(repo):
    assert kill_codes(repo(deploy("pgrep -f 'gunicorn.*app:app' | xargs kill"))) == []
    # `gunicorn app:app` misses `gunicorn: master [app:app]`, Gunicorn's title with setproctitle
    assert kill_codes(repo(deploy("pgrep -f 'gunicorn app:app' | xargs kill"))) == [("SC501", "deploy.sh", 2)]


def test_ps_grep_of_another_command_line_is_sc501(repo):
    report = repo(deploy("ps aux | grep 'python app.py' | grep -v grep | awk '{print $2}' | xargs kill"))
    assert ("SC501", "deploy.sh", 2) in kill_codes(report)


def test_ps_grep_of_node_in_a_python_deployment_takes_bystanders(repo):
    report = repo(deploy("ps aux | grep node | awk '{print $2}' | xargs kill"))
    assert kill_codes(report) == [("SC502", "deploy.sh", 2)]  # it names no process of the deployment


@pytest.mark.parametrize("line", [
    "ps aux | grep gunicorn | grep -v grep | awk '{print $2}' | xargs kill -9",
    "ps -ef | grep '[g]unicorn' | awk '{print $2}' | xargs -r kill",
    "kill -9 $(ps aux | grep 'gunicorn' | grep -v grep | awk '{print $2}')",
    "sudo kill $(ps aux | grep -E 'gunicorn|uvicorn' | awk '{print $2}')",
])
def test_ps_grep_that_selects_the_server_is_silent(repo, line):
    assert not [c for c in kill_codes(repo(deploy(line))) if c[0] in ("SC501", "SC502")]


def test_ps_grep_of_python_takes_bystanders_too(repo):
    report = repo(deploy("ps aux | grep python | grep -v grep | awk '{print $2}' | xargs kill"))
    assert ("SC502", "deploy.sh", 2) in kill_codes(report)


def test_ps_by_name_only_sees_the_15_character_name(repo):
    # `ps -e` prints the name (comm): a venv's gunicorn runs as `gunicorn`, never as `app:app`
    report = repo(deploy("ps -e | grep 'app:app' | awk '{print $1}' | xargs kill"))
    assert ("SC501", "deploy.sh", 2) in kill_codes(report)


@pytest.mark.parametrize("line", ["fuser -k 8000/tcp", "sudo fuser -k -n tcp 8000", "fuser -k 9999/tcp",
                                  "kill -HUP $(cat /run/app/gunicorn.pid)", "kill $(cat /tmp/other.pid)",
                                  "cat /run/app/gunicorn.pid | xargs kill -TERM"])
def test_exact_kills_never_give_sc501_or_sc502(repo, line):
    assert not [c for c in kill_codes(repo(deploy(line))) if c[0] in ("SC501", "SC502")]


def _restarted_by_script(stop: str) -> dict:
    return {**UNIT, "deploy.sh": f"#!/bin/bash\n{stop}\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n"}


@pytest.mark.parametrize("stop, collides", [
    ("kill -TERM $(cat /run/app/gunicorn.pid)", False),  # stops the unit's Gunicorn: then the script's binds
    ("kill -HUP $(cat /run/app/gunicorn.pid)", True),  # HUP reloads it: it keeps the port
    ("kill $(cat /run/other/gunicorn.pid)", True),  # another process's pidfile (by path)
    ("ps aux | grep 'gunicorn app:app -p' | grep -v grep | awk '{print $2}' | xargs kill", False),
    ("ps aux | grep '[n]ode' | awk '{print $2}' | xargs kill", True),
    ("ps aux | grep gunicorn | awk '{print $2}' | xargs kill -HUP", True),
])
def test_stops_by_pidfile_and_ps_decide_collisions(repo, stop, collides):
    found = ("SC301", "deploy.sh", 3) in kill_codes(repo(_restarted_by_script(stop)))
    assert found == collides


def test_ps_grep_in_an_ssh_action_session_kills_the_session(repo):
    workflow = """name: deploy
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    steps:
      - uses: appleboy/ssh-action@v1.2.2
        with:
          script: |
            ps aux | grep gunicorn | awk '{print $2}' | xargs kill
            ps aux | grep gunicorn | grep -v grep | awk '{print $2}' | xargs kill
            sudo systemctl restart app
"""
    report = repo({**UNIT, ".github/workflows/deploy.yml": workflow})
    sc503 = [line for code, _, line in kill_codes(report) if code == "SC503"]
    assert sc503 == [10]  # `grep -v grep` drops the session's line: its script holds the word grep


def test_ps_line_holds_user_and_numbers_before_the_command():
    kill = _ps_kill("ps aux | grep '^gunicorn'")
    assert kill_matches(kill, View("gunicorn app:app", "gunicorn", "main", "plain", 0)) is False
    kill = _ps_kill("ps aux | grep root")  # the USER column: depends on who runs it
    assert kill_matches(kill, View("gunicorn app:app", "gunicorn", "main", "plain", 0)) is None


def _ps_kill(text: str) -> cmd.KillCommand:
    from sc_audit.model.pipelines import _kill_of_chain

    import shlex

    chain = [tuple(shlex.split(part)) for part in text.split("|")]
    return _kill_of_chain(chain, ("xargs", "kill"))


def test_grep_and_ps_and_kill_readers():
    assert ps_shape(("aux",)) == ("user", "args")
    assert ps_shape(("-ef",)) == ("user", "args")
    assert ps_shape(("-e",)) == ("pid", "comm")
    assert ps_shape(("-eo", "pid,args")) == ("pid", "args")
    assert ps_shape(("-C", "gunicorn")) is None
    assert grep_filter(("grep", "-v", "grep")).invert
    assert grep_filter(("grep", "-c", "x")) is None
    assert grep_filter(("grep", "x", "file.txt")) is None
    assert kill_signal(("kill", "-9")) == "KILL"
    assert kill_signal(("xargs", "-r", "sudo", "kill", "-s", "HUP")) == "HUP"
    assert kill_signal(("xargs", "rm")) is False
    assert kill_signal(("kill",)) == "TERM"


REMOTE_SCRIPT = """#!/bin/bash
set -e
REMOTE=$(cat <<'EOF'
cd /srv/app
pkill -f "python app.py"
sudo systemctl restart app
EOF
)
ssh deploy@example.org "$REMOTE"
"""


def test_an_ssh_payload_held_in_a_variable_is_read_where_it_is_written(repo):
    report = repo({**UNIT, "scripts/remote.sh": REMOTE_SCRIPT, "deploy.sh": "#!/bin/bash\nbash scripts/remote.sh\n"})
    found = kill_codes(report)
    assert ("SC501", "scripts/remote.sh", 5) in found
    assert ("SC503", "scripts/remote.sh", 5) in found  # the remote `bash -c` holds the payload's text


def test_a_payload_string_and_a_reassigned_variable(repo):
    script = ('#!/bin/bash\nCMD="cd /srv/app && pkill -f \'python app.py\'"\nssh host "$CMD"\n'
              'CMD=$(date)\nssh host "${CMD}"\n')
    found = kill_codes(repo({**UNIT, "deploy.sh": script}))
    assert [c for c in found if c[0] == "SC501"] == [("SC501", "deploy.sh", 2)]


def test_a_payload_sent_many_times_is_read_once():
    from sc_audit.facts import ShellContext
    from sc_audit.parsers.shell import parse_text

    payload = "".join(f"echo {i}\n" for i in range(200))
    text = f"R=$(cat <<'EOF'\n{payload}EOF\n)\n" + 'ssh host "$R"\n' * 500
    commands, _ = parse_text(text, "deploy.sh", 1, 1, ShellContext(kind="script"))
    assert sum(1 for c in commands if c.argv[:1] == ("echo",)) == 200


def test_a_long_pipeline_is_not_walked_back_stage_by_stage(repo):
    line = "ps aux | " + " | ".join(["grep gunicorn"] * 40) + " | xargs kill"
    assert kill_codes(repo(deploy(line))) == []  # longer than any kill we read: unread, silent
