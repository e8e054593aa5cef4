"""SC104, SC105 beyond the catalog examples: which launcher counts, when debug makes it an
error, what is not at import."""

from __future__ import annotations

from conftest import write_repo

from sc_audit.api import audit
from sc_audit.config import Config

FLASK_MAIN = """from flask import Flask

app = Flask(__name__)

if __name__ == "__main__":
    app.run(port=5000)
"""


def findings(tmp_path, files: dict[str, str], select: str, **config):
    write_repo(tmp_path, files)
    report = audit(tmp_path, config=Config(select=tuple(select.split(",")), **config))
    return sorted((f.rule, f.span.path, f.span.line, f.severity) for f in report.findings)


def test_sc104_flask_debug_from_the_units_environment_is_an_error(tmp_path):
    unit = "[Service]\nWorkingDirectory=/srv/app\nEnvironment=FLASK_DEBUG=1\nExecStart=/srv/app/venv/bin/flask run\n"
    assert findings(tmp_path, {"deploy/app.service": unit}, "SC104") == \
        [("SC104", "deploy/app.service", 4, "error")]


def test_sc104_a_configured_severity_still_wins(tmp_path):
    unit = "[Service]\nEnvironment=FLASK_DEBUG=1\nExecStart=/srv/app/venv/bin/flask run\n"
    assert findings(tmp_path, {"app.service": unit}, "SC104", severity={"SC104": "info"}) == \
        [("SC104", "app.service", 3, "info")]


def test_sc104_runserver_in_a_pm2_app_and_reload_in_a_gunicorn_config(tmp_path):
    files = {"ecosystem.config.js": 'module.exports = { apps: [{ name: "api", script: "manage.py", '
                                    'args: "runserver 0.0.0.0:8000", interpreter: "/srv/venv/bin/python" }] };\n',
             "deploy/web.service": "[Service]\nWorkingDirectory=/srv/app\nExecStart=/srv/venv/bin/gunicorn "
                                   "-c gunicorn.conf.py app:app\n",
             "gunicorn.conf.py": 'bind = "127.0.0.1:8001"\nreload = True\n'}
    assert findings(tmp_path, files, "SC104") == [("SC104", "ecosystem.config.js", 1, "warning"),
                                                  ("SC104", "gunicorn.conf.py", 2, "warning")]


def test_sc104_python_app_counts_only_for_a_run_it_surely_makes(tmp_path):
    unit = "[Service]\nWorkingDirectory=/srv/app\nExecStart=/srv/venv/bin/python app.py\n"
    in_function = FLASK_MAIN.replace('if __name__ == "__main__":\n    app.run(port=5000)',
                                     "def main():\n    app.run(port=5000)")
    in_branch = FLASK_MAIN.replace('    app.run(port=5000)', '    if DEV:\n        app.run(port=5000)')
    socketio = FLASK_MAIN.replace("    app.run(port=5000)", "    socketio.run(app, port=5000)")
    for module in (in_function, in_branch, socketio):
        assert findings(tmp_path, {"deploy/app.service": unit, "app.py": module}, "SC104") == []
    assert findings(tmp_path, {"deploy/app.service": unit, "app.py": FLASK_MAIN}, "SC104") == \
        [("SC104", "deploy/app.service", 3, "warning")]


def test_sc104_a_file_for_local_development_is_not_production(tmp_path):
    files = {"scripts/start-dev.sh": "#!/bin/bash\nnohup flask run --debug &\n",
             "Procfile.local": "web: python manage.py runserver\n"}
    assert findings(tmp_path, files, "SC104") == []


def test_sc104_uvicorn_reload_says_workers_are_ignored(tmp_path):
    write_repo(tmp_path, {"Procfile": "web: uvicorn main:app --workers 4 --reload\n"})
    [finding] = audit(tmp_path, config=Config(select=("SC104",))).findings
    assert "ignores `--workers`" in finding.message


def test_sc105_uvicorn_imports_the_module_and_a_guarded_init_db(tmp_path):
    files = {"deploy/api.service": "[Service]\nWorkingDirectory=/srv/api\n"
                                   "ExecStart=/srv/venv/bin/uvicorn --port 8000 main:app\n",
             "main.py": "from fastapi import FastAPI\n\napp = FastAPI()\n\n"
                        "if __name__ == '__main__':\n    init_db()\n"}
    assert findings(tmp_path, files, "SC105") == [("SC105", "main.py", 6, "warning")]


def test_sc105_a_run_in_a_branch_or_function_is_not_at_import(tmp_path):
    target = {"gunicorn.conf.py": 'wsgi_app = "app:app"\n'}
    for body in ("if os.getenv('DEV'):\n    app.run()\n", "def main():\n    app.run()\n"):
        module = "import os\nfrom flask import Flask\n\napp = Flask(__name__)\n" + body
        assert findings(tmp_path, {**target, "app.py": module}, "SC105") == []
    module = "from flask import Flask\n\napp = Flask(__name__)\napp.run(debug=True)\n"
    assert findings(tmp_path, {**target, "app.py": module}, "SC105") == [("SC105", "app.py", 4, "error")]
