"""Launchers other than a bare `gunicorn`: runners, uvicorn, hypercorn, waitress, daphne, `flask run`,
`manage.py runserver`. Each shape is a small repository with the finding it must or must not give."""

import pytest

from sc_audit import commands as cmd
from sc_audit.servers import server_binds

APP = "from flask import Flask\n\napp = Flask(__name__)\n"
NGINX_8000 = "server {\n  listen 80;\n  location / { proxy_pass http://127.0.0.1:8000; }\n}\n"


def unit(command: str, name: str = "app", extra: str = "") -> dict:
    return {f"deploy/{name}.service": f"[Service]\nWorkingDirectory=/srv/{name}\n{extra}ExecStart={command}\n"}


def codes(report) -> set[str]:
    return {f.rule for f in report.findings}


def launch(line: str) -> cmd.Launch:
    meaning = cmd.interpret(tuple(line.split()))
    assert isinstance(meaning, cmd.Launch), line
    return meaning


@pytest.mark.parametrize("line, kind, target, binds", [
    ("uvicorn main:app", "uvicorn", "main:app", ("127.0.0.1:8000",)),
    ("python -m uvicorn main:app --host 0.0.0.0 --port=9000", "uvicorn", "main:app", ("0.0.0.0:9000",)),
    ("venv/bin/uvicorn --uds /run/app.sock main:app", "uvicorn", "main:app", ("unix:/run/app.sock",)),
    ("uvicorn main:app --fd 0", "uvicorn", "main:app", None),
    ("hypercorn app:app", "hypercorn", "app:app", ("127.0.0.1:8000",)),
    ("hypercorn -b 0.0.0.0 --bind unix:/tmp/h.sock app:app", "hypercorn", "app:app",
     ("0.0.0.0:8000", "unix:/tmp/h.sock")),
    ("hypercorn -c hypercorn.toml app:app", "hypercorn", "app:app", None),
    ("waitress-serve app:app", "waitress", "app:app", ("0.0.0.0:8080",)),
    ("waitress-serve --port=9000 --call app:create_app", "waitress", "app:create_app", ("0.0.0.0:9000",)),
    ("waitress-serve --listen=127.0.0.1:8001 --listen=*:8002 app:app", "waitress", "app:app",
     ("127.0.0.1:8001", "[::]:8002")),
    ("daphne proj.asgi:application", "daphne", "proj.asgi:application", ("127.0.0.1:8000",)),
    ("daphne -b 0.0.0.0 -p 8001 proj.asgi:application", "daphne", "proj.asgi:application", ("0.0.0.0:8001",)),
    ("daphne -u /run/d.sock proj.asgi:application", "daphne", "proj.asgi:application", ("unix:/run/d.sock",)),
    ("flask run", "flask-dev", None, ("127.0.0.1:5000",)),
    ("flask --app hello run -h 0.0.0.0 -p 8080", "flask-dev", "hello", ("0.0.0.0:8080",)),
    ("python3 manage.py runserver", "django-dev", None, ("127.0.0.1:8000",)),
    ("python manage.py runserver 0:8000", "django-dev", None, ("0.0.0.0:8000",)),
    ("python manage.py runserver 9000", "django-dev", None, ("127.0.0.1:9000",)),
    ("django-admin runserver [::]:8080", "django-dev", None, ("[::]:8080",)),
])
def test_each_server_is_read_as_its_own_command_line_reads(line, kind, target, binds):
    found = launch(line)
    assert found.server_kind == kind
    assert found.server.target == target
    assert server_binds(found.server, {}) == binds


@pytest.mark.parametrize("line, runner, program", [
    ("uv run gunicorn -b 127.0.0.1:9000 app:app", "uv run", "gunicorn"),
    ("uv run --frozen -- uvicorn main:app", "uv run", "uvicorn"),
    ("uv run -m uvicorn main:app", "uv run", "uvicorn"),
    ("pipenv run gunicorn app:app", "pipenv run", "gunicorn"),
    ("poetry run -C backend python manage.py runserver", "poetry run", "python"),
])
def test_runners_are_taken_off_the_front(line, runner, program):
    found = launch(line)
    assert found.runner.name == runner and found.program == program


def test_flags_other_rules_need():
    assert launch("uvicorn main:app --reload --workers 4").reload
    assert launch("uvicorn main:app --workers 4").server.workers == "4"
    assert launch("python manage.py runserver").dev_server and launch("python manage.py runserver").reload
    assert not launch("python manage.py runserver --noreload").reload
    assert launch("flask run --debug").dev_server and launch("flask run --debug").reload
    assert not launch("waitress-serve app:app").dev_server
    assert launch("uvicorn main:create_app --factory").server.factory is True
    # uvicorn calls a zero-argument callable even without --factory (uvicorn/config.py Config.load)
    assert launch("uvicorn main:create_app").server.factory is None
    assert cmd.interpret(("python", "manage.py", "migrate")).server is None
    assert cmd.interpret(("flask", "db", "upgrade")) is None


def test_uv_run_gunicorn_behind_nginx_on_another_port_is_sc302(repo):
    report = repo({**unit("/usr/local/bin/uv run gunicorn -b 127.0.0.1:9000 app:app"),
                   "nginx/site.conf": NGINX_8000, "app.py": APP})
    assert "SC302" in codes(report)


def test_uv_run_gunicorn_on_the_proxied_port_is_clean(repo):
    report = repo({**unit("/usr/local/bin/uv run gunicorn -b 127.0.0.1:8000 app:app"),
                   "nginx/site.conf": NGINX_8000, "app.py": APP})
    assert "SC302" not in codes(report)


def test_uvicorn_default_bind_serves_the_proxy(repo):
    report = repo({**unit("/srv/app/venv/bin/uvicorn main:app"), "nginx/site.conf": NGINX_8000,
                   "main.py": "from fastapi import FastAPI\napp = FastAPI()\n"})
    assert not codes(report) & {"SC302", "SC303"}


def test_uvicorn_on_all_interfaces_behind_nginx_is_sc303(repo):
    report = repo({**unit("/srv/app/venv/bin/uvicorn main:app --host 0.0.0.0 --port 8000"),
                   "nginx/site.conf": NGINX_8000, "main.py": "from fastapi import FastAPI\napp = FastAPI()\n"})
    assert "SC303" in codes(report)


def test_uvicorn_port_from_the_units_environment(repo):
    report = repo({**unit("/srv/app/venv/bin/uvicorn main:app", extra="Environment=UVICORN_PORT=9000\n"),
                   "nginx/site.conf": NGINX_8000, "main.py": "from fastapi import FastAPI\napp = FastAPI()\n"})
    assert "SC302" in codes(report)


def test_hypercorn_config_file_leaves_the_bind_unknown(repo):
    report = repo({**unit("/srv/app/venv/bin/hypercorn -c hypercorn.toml main:app"),
                   "hypercorn.toml": 'bind = ["127.0.0.1:8000"]\n', "nginx/site.conf": NGINX_8000,
                   "main.py": "app = None\n"})
    assert not codes(report) & {"SC302", "SC303"}


def test_pipenv_env_file_leaves_the_default_bind_unknown(repo):
    report = repo({**unit("/usr/bin/pipenv run uvicorn main:app"), "nginx/site.conf":
                   NGINX_8000.replace("8000", "9000"), "main.py": "app = None\n"})
    assert "SC302" not in codes(report)  # pipenv loads .env, which may set UVICORN_PORT


def test_flaskenv_leaves_flask_run_bind_unknown(repo):
    files = {**unit("/srv/app/venv/bin/flask run"), "nginx/site.conf": NGINX_8000, "app.py": APP}
    assert "SC302" in codes(repo(files))  # flask run listens on 5000
    assert "SC302" not in codes(repo({**files, ".flaskenv": "FLASK_RUN_PORT=8000\n"}))


def test_runserver_and_waitress_collide_on_their_defaults(repo):
    report = repo({"Procfile": "web: python manage.py runserver 0.0.0.0:8080\nalt: waitress-serve app:app\n",
                   "manage.py": "", "app.py": APP})
    assert "SC301" in codes(report)


def test_daphne_unix_socket_serves_the_proxy(repo):
    report = repo({**unit("/srv/app/venv/bin/daphne -u /run/app/daphne.sock proj.asgi:application"),
                   "nginx/site.conf": "server {\n  location / { proxy_pass http://unix:/run/app/daphne.sock; }\n}\n"})
    assert "SC302" not in codes(report)
    report = repo({**unit("/srv/app/venv/bin/daphne -u /run/app/other.sock proj.asgi:application")})
    assert "SC302" in codes(report)


def test_uv_run_views_include_the_parent_and_the_child(repo):
    report = repo({**unit("/usr/local/bin/uv run gunicorn -b 127.0.0.1:8000 app:app"), "app.py": APP})
    process = report.model.processes[0]
    mains = {v.cmdline for v in process.views if v.role == "main" and v.world == "plain"}
    assert "/usr/local/bin/uv run gunicorn -b 127.0.0.1:8000 app:app" in mains
    assert any(c.endswith("/bin/gunicorn -b 127.0.0.1:8000 app:app") and "uv run" not in c for c in mains)


def test_poetry_run_execs_in_place(repo):
    report = repo({**unit("/usr/bin/poetry run gunicorn -b 127.0.0.1:8000 app:app"), "app.py": APP})
    process = report.model.processes[0]
    assert not any("poetry" in v.cmdline for v in process.views)
