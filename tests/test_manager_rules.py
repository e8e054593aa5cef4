"""SC206, SC208–SC211 beyond the catalog examples: PM2's lookup of a bare script, what each manager
sends and waits for, and the opt-in unit rules."""

from __future__ import annotations

from conftest import write_repo

from sc_audit.api import audit
from sc_audit.checks.stopping import signal_name, systemd_seconds
from sc_audit.config import Config

APP = 'def app(environ, start_response):\n    start_response("200 OK", [])\n    return [b"ok"]\n'
BARE = ('module.exports = { apps: [{ name: "api", cwd: "/srv/app", script: "gunicorn", '
        'args: "-b 127.0.0.1:8000 app:app", interpreter: %s }] };\n')


def findings(tmp_path, files: dict[str, str], select: str):
    write_repo(tmp_path, {"app.py": APP, **files})
    report = audit(tmp_path, config=Config(select=tuple(select.split(","))))
    return sorted((f.rule, f.span.path, f.span.line, f.severity) for f in report.findings)


def test_sc206_is_a_warning_when_the_deploy_activates_the_venv_first(tmp_path):
    files = {"ecosystem.config.js": BARE % '"/srv/app/venv/bin/python"',
             "deploy.sh": "#!/bin/bash\nset -e\ncd /srv/app\nsource venv/bin/activate\n"
                          "pm2 startOrReload ecosystem.config.js\n"}
    assert findings(tmp_path, files, "SC206") == [("SC206", "ecosystem.config.js", 1, "warning")]


def test_sc206_interpreter_none_with_venv_evidence_elsewhere(tmp_path):
    files = {"ecosystem.config.js": BARE % '"none"',
             "deploy.sh": "#!/bin/bash\nset -e\ncd /srv/app\npython3 -m venv venv\nvenv/bin/pip install -r r.txt\n"
                          "pm2 start ecosystem.config.js\n"}
    assert findings(tmp_path, files, "SC206") == [("SC206", "ecosystem.config.js", 1, "error")]


def test_sc206_silent_when_the_cwd_holds_the_file_or_no_interpreter_is_given(tmp_path):
    files = {"ecosystem.config.js": BARE.replace('cwd: "/srv/app", ', "") % '"/srv/app/venv/bin/python"',
             "gunicorn": "#!/srv/app/venv/bin/python\nfrom gunicorn.app.wsgiapp import run\nrun()\n"}
    assert findings(tmp_path, files, "SC206") == []
    files = {"ecosystem.config.js": 'module.exports = { apps: [{ name: "api", script: "gunicorn" }] };\n'}
    assert findings(tmp_path, files, "SC206") == []  # SC205's case


def test_sc208_reads_systemd_signal_and_time_spans(tmp_path):
    unit = ("[Service]\nWorkingDirectory=/srv/app\nExecStart=/srv/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n"
            "KillSignal=SIGINT\n")
    assert findings(tmp_path, {"app.service": unit}, "SC208") == [("SC208", "app.service", 3, "warning")]
    unit = unit.replace("KillSignal=SIGINT", "TimeoutStopSec=1min 30s")
    assert findings(tmp_path, {"app.service": unit}, "SC208") == []
    assert systemd_seconds("1min 30s") == 90 and systemd_seconds("500ms") == 0.5
    assert systemd_seconds("infinity") == float("inf") and systemd_seconds("$T") is None
    assert signal_name("int") == "SIGINT" and signal_name("15") == "SIGTERM"


def test_sc208_a_graceful_timeout_we_cannot_read_compares_nothing(tmp_path):
    unit = ("[Service]\nWorkingDirectory=/srv/app\nExecStart=/srv/venv/bin/gunicorn -c gunicorn.conf.py app:app\n"
            "TimeoutStopSec=5\n")
    config = "import os\nbind = '127.0.0.1:8000'\ngraceful_timeout = int(os.environ['GRACE'])\n"
    assert findings(tmp_path, {"app.service": unit, "gunicorn.conf.py": config}, "SC208") == []
    config = "bind = '127.0.0.1:8000'\ngraceful_timeout = 3\n"
    assert findings(tmp_path, {"app.service": unit, "gunicorn.conf.py": config}, "SC208") == []
    config = "bind = '127.0.0.1:8000'\n"
    assert findings(tmp_path, {"app.service": unit, "gunicorn.conf.py": config}, "SC208") == \
        [("SC208", "app.service", 4, "warning")]


def test_sc208_pm2_kill_timeout_under_graceful_timeout_once_the_daemon_sends_term(tmp_path):
    eco = ('module.exports = { apps: [{ name: "api", cwd: "/srv/app", script: "/srv/app/venv/bin/gunicorn", '
           'args: "-b 127.0.0.1:8000 app:app", interpreter: "none" }] };\n')
    deploy = "#!/bin/bash\nset -e\nexport PM2_KILL_SIGNAL=SIGTERM\npm2 start ecosystem.config.js\n"
    [finding] = audit(write_repo(tmp_path, {"app.py": APP, "ecosystem.config.js": eco, "deploy.sh": deploy}),
                      config=Config(select=("SC208",))).findings
    assert "after 1.6 s" in finding.message and "1600 ms" in finding.message


def test_sc208_wrapper_without_exec_under_killmode_mixed(tmp_path):
    unit = "[Service]\nWorkingDirectory=/srv/app\nExecStart=/srv/app/start.sh\nKillMode=mixed\n"
    start = "#!/bin/bash\ncd /srv/app\nsource venv/bin/activate\ngunicorn -b 127.0.0.1:8000 app:app\n"
    files = {"deploy/app.service": unit, "start.sh": start}
    assert findings(tmp_path, files, "SC208") == [("SC208", "start.sh", 4, "warning")]
    files["start.sh"] = start.replace("gunicorn -b", "exec gunicorn -b")
    assert findings(tmp_path, files, "SC208") == []


def test_sc209_sc210_sc211_opt_in(tmp_path):
    unit = "[Service]\nWorkingDirectory=/srv/app\nExecStart=/srv/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n"
    assert findings(tmp_path, {"app.service": unit}, "SC104") == []  # off unless selected
    assert findings(tmp_path, {"app.service": unit}, "SC209,SC210") == \
        [("SC209", "app.service", 3, "info"), ("SC210", "app.service", 3, "info")]
    dropped = unit.replace("app:app", "-u www-data app:app") + "Restart=no\n"
    assert findings(tmp_path, {"app.service": dropped}, "SC209,SC210") == [("SC209", "app.service", 3, "info")]
    bot = "[Service]\nUser=bot\nEnvironmentFile=/srv/bot/.env\nExecStart=/srv/venv/bin/python bot.py\n"
    assert findings(tmp_path, {"bot.service": bot, "bot.py": "print(1)\n"}, "SC211") == []
    bot = bot.replace("EnvironmentFile=/srv/bot/.env\n", "")
    assert findings(tmp_path, {"bot.service": bot, "bot.py": "print(1)\n"}, "SC211") == \
        [("SC211", "bot.service", 3, "info")]
