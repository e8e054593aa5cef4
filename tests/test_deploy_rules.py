"""SC504-SC507, SC603, SC604, SC207 beyond the catalog examples: the cases at their edges."""

from __future__ import annotations

from conftest import write_repo

from sc_audit.api import audit
from sc_audit.config import Config

UNIT = """[Service]
WorkingDirectory=/srv/app
ExecStart=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app
"""
APP = """from flask import Flask

app = Flask(__name__)


@app.route("/health")
def health():
    return {"status": "ok"}
"""


def codes(tmp_path, files: dict[str, str], select: str) -> list[tuple[str, int]]:
    write_repo(tmp_path, files)
    report = audit(tmp_path, config=Config(select=tuple(select.split(","))))
    return sorted((f.rule, f.span.line) for f in report.findings)


def test_sc603_is_silent_when_sc602_speaks_and_when_a_check_script_follows(tmp_path):
    files = {"deploy/app.service": UNIT, "app.py": APP,
             "server.js": 'require("http").createServer(() => {}).listen(process.env.PORT);\n',
             "ecosystem.config.js": 'module.exports = { apps: [{ name: "web", script: "server.js", '
                                    'env: { PORT: 3000 } }] };\n',
             "deploy.sh": "#!/bin/bash\nset -e\nsudo systemctl restart app\npm2 restart web\n"
                          "curl -fsS --retry 5 --retry-connrefused http://127.0.0.1:3000/\n"}
    assert codes(tmp_path, files, "SC602,SC603") == [("SC602", 3)]
    files["deploy.sh"] = "#!/bin/bash\nset -e\nsudo systemctl restart app\n./scripts/healthcheck.sh\n"
    assert codes(tmp_path, files, "SC603") == []
    files["deploy.sh"] = "#!/bin/bash\nset -e\nsudo systemctl restart app\nsudo systemctl status app\n"
    assert codes(tmp_path, files, "SC603") == [("SC603", 3)]


def test_sc604_leaves_downloads_notifications_and_captured_output_alone(tmp_path):
    files = {"deploy/app.service": UNIT, "app.py": APP, "deploy.sh": """#!/bin/bash
set -e
sudo systemctl restart app
sleep 5
curl -s -X POST -d 'text=deployed' https://hooks.slack.com/services/T0/B0/X
curl -sL https://deb.nodesource.com/setup_20.x | sudo -E bash -
curl -s http://127.0.0.1:8000/health | grep -q ok
curl -s "$HEALTH_URL"
curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/health
"""}
    assert codes(tmp_path, files, "SC604") == [("SC604", 9)]  # only the printed status code


def test_sc604_single_probe_needs_a_restart_the_model_knows(tmp_path):
    files = {"deploy.sh": "#!/bin/bash\nset -e\nsudo systemctl restart other\ncurl -fsS http://127.0.0.1:9000/\n"}
    assert codes(tmp_path, files, "SC604") == []
    files = {"deploy/app.service": UNIT, "app.py": APP,
             "deploy.sh": "#!/bin/bash\nset -e\nsudo systemctl reload app\ncurl -fsS http://127.0.0.1:8000/health\n"}
    assert codes(tmp_path, files, "SC604") == []  # reload: the old workers answer meanwhile


def test_sc505_judges_each_shell_on_its_own(tmp_path):
    files = {"deploy.sh": "#!/bin/bash\nset -e\nssh web1 'cd /srv/app; git pull; sudo systemctl restart app'\n",
             ".github/workflows/d.yml": """on: push
jobs:
  d:
    runs-on: ubuntu-latest
    steps:
      - run: |
          git pull
          sudo systemctl restart app
      - uses: appleboy/ssh-action@v1.2.2
        with:
          script: |
            set -e
            git pull
            sudo systemctl restart app
"""}
    assert codes(tmp_path, files, "SC505") == [("SC505", 3)]  # the ssh payload does not inherit set -e


def test_sc505_deliberate_or_checked_failures_are_not_reported(tmp_path):
    files = {"deploy.sh": "#!/bin/bash\ngit pull || true\nif ! pip install -r r.txt; then exit 1; fi\n"
                          "cd /srv/app || exit 1\ngit reset --hard origin/main && sudo systemctl restart app\n"}
    assert codes(tmp_path, files, "SC505") == []
    files = {"deploy.sh": "#!/bin/bash\ncd app\ngit reset --hard origin/main\n"}
    assert codes(tmp_path, files, "SC505") == [("SC505", 2)]


def test_sc507_only_secrets_named_as_secrets_and_only_on_the_server(tmp_path):
    files = {".github/workflows/d.yml": """on: push
jobs:
  d:
    runs-on: ubuntu-latest
    steps:
      - run: docker login -u me -p "${{ secrets.DOCKER_TOKEN }}"
      - uses: appleboy/ssh-action@v1.2.2
        with:
          script: |
            set -e
            cd ${{ secrets.DEPLOY_PATH }}
            git pull https://x:${{ secrets.GH_TOKEN }}@github.com/me/app.git
            mysql -u root -p"$DB_PASSWORD" app < schema.sql
"""}
    assert codes(tmp_path, files, "SC507") == [("SC507", 12), ("SC507", 13)]


def test_sc504_aims(tmp_path):
    files = {"deploy.sh": "#!/bin/bash\npkill -9 -f 'gunicorn app:app'\nkillall -s KILL uvicorn\n"
                          "pkill -f gunicorn\nkill -9 $(pgrep -f celery)\nxargs kill -9 < pids.txt\n"}
    assert codes(tmp_path, files, "SC504") == [("SC504", 2), ("SC504", 3)]


def test_sc207_is_opt_in_and_ignores_ci_runners(tmp_path):
    files = {"server.js": 'require("http").createServer(() => {}).listen(3000);\n',
             "deploy.sh": "#!/bin/bash\nset -e\npm2 start server.js\n"}
    write_repo(tmp_path, files)
    assert not [f for f in audit(tmp_path).findings if f.rule == "SC207"]
    assert codes(tmp_path, files, "SC207") == [("SC207", 3)]
    files = {"server.js": 'require("http").createServer(() => {}).listen(3000);\n',
             ".github/workflows/e2e.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
                                          "      - run: pm2 start server.js\n"}
    assert codes(tmp_path / "ci", files, "SC207") == []


def test_sc504_kills_by_port_of_a_gunicorn_process(tmp_path):
    files = {"deploy/app.service": UNIT, "app.py": APP,
             "deploy.sh": "#!/bin/bash\nfuser -k 8000/tcp\nkill -9 $(lsof -t -i:8000)\nfuser -k -TERM 8000/tcp\n"
                          "fuser -k 9000/tcp\nkill $(lsof -t -i:8000)\n"}
    assert codes(tmp_path, files, "SC504") == [("SC504", 2), ("SC504", 3)]


def test_sc604_a_failure_branch_that_exits_is_a_real_check(tmp_path):
    files = {"deploy/app.service": UNIT, "app.py": APP, "deploy.sh": """#!/bin/bash
sudo systemctl restart app
sleep 3
curl -fsS http://127.0.0.1:8000/health || { echo "down"; exit 1; }
curl -fsS http://127.0.0.1:8000/health || echo "down"
"""}
    assert codes(tmp_path, files, "SC604") == [("SC604", 5)]


def test_sc604_a_polling_loop_that_never_fails(tmp_path):
    loop = ("for i in 1 2 3 4 5; do\n  if curl -fs http://127.0.0.1:8000/health; then break; fi\n  sleep 2\ndone\n")
    files = {"deploy/app.service": UNIT, "app.py": APP,
             "deploy.sh": "#!/bin/bash\nset -e\nsudo systemctl restart app\n" + loop}
    assert codes(tmp_path, files, "SC604") == [("SC604", 5)]
    files["deploy.sh"] += "curl -fsS http://127.0.0.1:8000/health\n"  # a last try that fails the deploy
    assert codes(tmp_path, files, "SC604") == []
    files["deploy.sh"] = "#!/bin/bash\nsudo systemctl restart app\nuntil curl -fs http://127.0.0.1:8000/health; " \
                         "do sleep 1; done\n"
    assert codes(tmp_path, files, "SC604") == []  # never ends without success


def test_sc505_a_sourced_file_may_set_e(tmp_path):
    files = {"deploy.sh": "#!/bin/bash\nsource ./lib/common.sh\ngit pull\nsudo systemctl restart app\n"}
    assert codes(tmp_path, files, "SC505") == []
    files = {"deploy.sh": "#!/bin/bash\nsource venv/bin/activate\ngit pull\nsudo systemctl restart app\n"}
    assert codes(tmp_path, files, "SC505") == [("SC505", 3)]


DJANGO = {"requirements.txt": "django\n", "manage.py": "import sys\n", "shop/migrations/0001_initial.py": "X = 1\n",
          "shop/wsgi.py": "from django.core.wsgi import get_wsgi_application\n\napplication = get_wsgi_application()\n",
          "deploy/app.service": UNIT.replace("app:app", "shop.wsgi")}


def test_sc506_migrations_after_the_restart_or_in_another_file(tmp_path):
    head = "#!/bin/bash\nset -e\ngit pull\nvenv/bin/pip install -r requirements.txt\n"
    files = {**DJANGO, "deploy.sh": head + "sudo systemctl restart app\nvenv/bin/python manage.py migrate\n"}
    assert codes(tmp_path / "a", files, "SC506") == [("SC506", 6)]
    files = {**DJANGO, "deploy.sh": head + "sudo systemctl restart app\n", "migrate.sh": "python manage.py migrate\n"}
    assert codes(tmp_path / "b", files, "SC506") == []
    files = {**DJANGO, "deploy.sh": "#!/bin/bash\nset -e\ngit pull\n./install.sh\nsudo systemctl restart app\n"}
    assert codes(tmp_path / "c", files, "SC506") == []  # what install.sh does is not read
