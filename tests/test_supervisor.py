"""supervisord as a process manager, and the files discovery finds by content: Nginx sites without
an extension and templates, supervisord programs. Each shape is a small repository with the
findings it must and must not give."""

from sc_audit.discover import discover
from sc_audit.graph import render_graph
from sc_audit.span import Unknown

from conftest import write_repo

APP = "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route('/health')\ndef health():\n    return 'ok'\n"
NGINX_SITE = "server {\n    listen 80;\n    server_name example.com;\n    location / {\n        proxy_pass %s;\n    }\n}\n"


def rules_of(report) -> set[tuple[str, str, int]]:
    return {(f.rule, f.span.path, f.span.line) for f in report.findings}


def codes(report) -> set[str]:
    return {f.rule for f in report.findings}


def kinds(tmp_path, files) -> dict[str, str]:
    write_repo(tmp_path, files)
    return {f.path: f.kind for f in discover(tmp_path).files}


# ---------------------------------------------------------------------------- discovery by content


def test_discovery_by_content(tmp_path):
    found = kinds(tmp_path, {
        "deploy/nginx/myapp": NGINX_SITE % "http://127.0.0.1:8000",
        "etc/nginx/sites-available/default": NGINX_SITE % "http://127.0.0.1:8000",
        "nginx/default.conf.template": NGINX_SITE % "http://${UPSTREAM}:8000",
        "nginx/site.conf.j2": NGINX_SITE % "http://{{ upstream }}",  # Jinja: not what Nginx reads
        "deploy/supervisord.conf": "[supervisord]\nnodaemon=true\n\n[program:web]\ncommand=gunicorn app:app\n",
        "deploy/app.ini": "[program:web]\ncommand=gunicorn app:app\n",
        "conf.d/web.conf": "[program:web]\ncommand=gunicorn app:app\n",
        "deploy/web.conf.j2": "[program:{{ name }}]\ncommand={{ venv }}/bin/gunicorn app:app\n",
        "uwsgi.ini": "[uwsgi]\nmodule = app:app\n",
        "README": "This is the server { of nothing.\nlisten 80;\n",
        "LICENSE": "MIT\n",
        "appspec.yml": "version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /srv/app\n",
    })
    assert found == {
        "deploy/nginx/myapp": "nginx",
        "etc/nginx/sites-available/default": "nginx",
        "nginx/default.conf.template": "nginx",
        "deploy/supervisord.conf": "supervisor",
        "deploy/app.ini": "supervisor",
        "conf.d/web.conf": "supervisor",
        "deploy/web.conf.j2": "supervisor",
        "appspec.yml": "appspec",
    }


def test_an_extensionless_site_proxying_to_a_socket_nothing_binds(repo):
    report = repo({
        "deploy/nginx/myapp": NGINX_SITE % "http://unix:/run/other.sock",
        "deploy/myapp.service": "[Service]\nExecStart=/srv/app/venv/bin/gunicorn -b unix:/run/myapp.sock app:app\n",
        "app.py": APP,
    })
    assert ("SC302", "deploy/nginx/myapp", 5) in rules_of(report)


def test_an_envsubst_placeholder_is_unknown_never_a_value(repo):
    report = repo({
        "nginx/default.conf.template": NGINX_SITE % "http://${APP_HOST}:${APP_PORT}",
        "deploy/myapp.service": "[Service]\nExecStart=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n",
        "app.py": APP,
    })
    assert "nginx/default.conf.template" in report.model.nginx_files
    assert not codes(report) & {"SC001", "SC302", "SC303"}


# ---------------------------------------------------------------------------- supervisor programs


SUPERVISED = {
    "deploy/supervisor/myapp.conf": "[program:myapp]\ncommand=/srv/myapp/venv/bin/gunicorn app:app\n"
                                    "directory=/srv/myapp\nuser=www-data\nstopwaitsecs=5\nstopasgroup=true\n",
    "gunicorn.conf.py": "bind = '127.0.0.1:8001'\ntimeout = 120\n",
    "deploy/nginx/myapp": NGINX_SITE % "http://127.0.0.1:8001",
    "app.py": APP,
}


def test_a_program_runs_gunicorn_in_its_directory_with_the_root_config(repo):
    report = repo({**SUPERVISED, "deploy.sh": "#!/bin/bash\ncd /srv/myapp && git pull\n"})
    [process] = [p for p in report.model.processes if p.manager == "supervisor"]
    assert process.name == "myapp"
    assert process.host_cwd == "/srv/myapp" and process.cwd == ""
    assert process.config_path == "gunicorn.conf.py"
    assert [str(bound) for bound, _ in process.binds] == ["127.0.0.1:8001"]
    assert process.supervisor.value("stopwaitsecs") == 5  # for the stop-timeout rule
    assert process.supervisor.value("stopsignal") == "TERM"
    assert process.supervisor.value("stopasgroup") is True
    assert not [p for p in report.model.processes if p.manager == "implied"]  # the program reads it
    assert ("SC403", "deploy/nginx/myapp", 5) in rules_of(report)  # Nginx's 60 s < Gunicorn's 120 s
    assert "SC302" not in codes(report)


def test_without_directory_the_default_config_is_unknown(repo):
    report = repo({
        "deploy/myapp.conf": "[program:myapp]\ncommand=/srv/myapp/venv/bin/gunicorn app:app\n",
        "gunicorn.conf.py": "bind = '127.0.0.1:8001'\n",
        "deploy/nginx/myapp": NGINX_SITE % "http://127.0.0.1:9999",
        "app.py": APP,
    })
    [process] = [p for p in report.model.processes if p.manager == "supervisor"]
    assert process.cwd is None and process.config_path is None
    assert isinstance(process.settings["bind"].value, Unknown)  # never the default 127.0.0.1:8000
    assert not codes(report) & {"SC302", "SC102"}


def test_two_versions_installed_under_one_name_do_not_collide(repo):
    program = "[program:{name}]\ncommand=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\ndirectory=/srv/app\n"
    report = repo({
        "deploy/supervisor.conf": program.format(name="app"),
        "deploy/old/supervisor-app.conf": program.format(name="myapp"),
        "deploy.sh": "#!/bin/bash\nsudo cp deploy/supervisor.conf /etc/supervisor/conf.d/app.conf\n"
                     "sudo supervisorctl update\n",
        "deploy-old.sh": "#!/bin/bash\nsudo cp deploy/old/supervisor-app.conf /etc/supervisor/conf.d/app.conf\n"
                         "sudo supervisorctl update\n",
        "app.py": APP,
    })
    installed = {path: (i.kind, i.name) for path, i in report.model.installed.items()}
    assert installed == {"deploy/supervisor.conf": ("program", "app.conf"),
                         "deploy/old/supervisor-app.conf": ("program", "app.conf")}
    assert "SC301" not in codes(report)


def test_two_programs_on_one_port_collide(repo):
    report = repo({
        "deploy/web.conf": "[program:web]\ncommand=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n"
                           "[program:api]\ncommand=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n",
        "app.py": APP,
    })
    assert "SC301" in codes(report)


def test_supervisorctl_restart_followed_by_nothing(repo):
    report = repo({**SUPERVISED, "deploy.sh": "#!/bin/bash\nset -e\ncd /srv/myapp\ngit pull\n"
                                             "sudo supervisorctl restart myapp\n"})
    [finding] = [f for f in report.findings if f.rule == "SC603"]
    assert (finding.span.path, finding.span.line) == ("deploy.sh", 5)
    assert "`myapp`" in finding.message


def test_supervisorctl_restart_then_a_check_is_fine(repo):
    report = repo({**SUPERVISED, "deploy.sh": "#!/bin/bash\nset -e\nsudo supervisorctl restart myapp\n"
                                             "curl -fsS --retry 5 --retry-connrefused http://127.0.0.1:8001/health\n"})
    assert "SC603" not in codes(report)


def test_a_pkill_pattern_is_matched_against_the_programs_command_line(repo):
    report = repo({**SUPERVISED, "deploy.sh": "#!/bin/bash\npkill -f 'python app.py'\n"
                                             "sudo supervisorctl start myapp\n"})
    [finding] = [f for f in report.findings if f.rule == "SC501"]
    assert "/srv/myapp/venv/bin/gunicorn app:app" in finding.message
    assert "`supervisorctl stop myapp`" in finding.message
    good = repo({**SUPERVISED, "deploy.sh": "#!/bin/bash\npkill -f 'gunicorn.*app:app'\n"
                                           "sudo supervisorctl start myapp\n"})
    assert "SC501" not in codes(good)


def test_supervisorctl_names_groups_and_processes(repo):
    report = repo({
        "deploy/site.conf": "[group:site]\nprograms=web,worker\n"
                            "[program:web]\ncommand=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n"
                            "[program:worker]\ncommand=/srv/app/venv/bin/celery -A app worker\n",
        "deploy.sh": "#!/bin/bash\nsupervisorctl restart site:web\nsupervisorctl restart site:*\n"
                     "supervisorctl -c /etc/supervisord.conf restart web\nsupervisorctl restart all\n",
        "app.py": APP,
    })
    from sc_audit.model.restarts import restarted

    by_line = {s.command.span.line: sorted(p.name for p in restarted(report.model, s)) for s in report.model.steps}
    assert by_line == {2: ["web"], 3: ["web", "worker"], 4: [], 5: ["web", "worker"]}


def test_supervisorctl_stop_replaces_a_program_in_a_run(repo):
    report = repo({
        "deploy/web.conf": "[program:web]\ncommand=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n",
        "dev.sh": "#!/bin/bash\nsudo supervisorctl stop web\nnohup /srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n",
        "app.py": APP,
    })
    assert "SC301" not in codes(report)
    clash = repo({"dev.sh": "#!/bin/bash\nsudo supervisorctl restart web\n"
                            "nohup /srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n"})
    assert "SC301" in codes(clash)


def test_an_absolute_config_in_a_program_resolves_through_the_map(repo):
    report = repo({
        "deploy/app.conf": "[program:app]\ndirectory=/opt/app\n"
                           "command=/opt/app/venv/bin/gunicorn -c /opt/app/deploy/gunicorn.conf.py app:app\n",
        "deploy/gunicorn.conf.py": "bind = '127.0.0.1:8002'\ntimeout = 90\n",
        "deploy/nginx/app": NGINX_SITE % "http://127.0.0.1:8002",
        "app.py": APP,
    })
    [process] = report.model.processes
    assert process.config_path == "deploy/gunicorn.conf.py"
    assert ("/opt/app", "") in {(p.host, p.repo) for p in report.model.placements}
    assert ("SC403", "deploy/nginx/app", 5) in rules_of(report)


def test_graph_shows_supervisor_programs(repo):
    report = repo({**SUPERVISED, "deploy.sh": "#!/bin/bash\nsudo cp deploy/supervisor/myapp.conf "
                                             "/etc/supervisor/conf.d/\nsudo supervisorctl restart myapp\n"})
    text = render_graph(report, "text")
    assert "myapp (supervisor)" in text
    assert "restart → myapp (supervisor)" in text
    assert "program myapp.conf ⇐ deploy/supervisor/myapp.conf" in text


def test_a_broken_program_file_is_sc001(repo):
    report = repo({"deploy/app.conf": "[program:app]\ncommand=gunicorn app:app\nautostart=sometimes\n"})
    assert ("SC001", "deploy/app.conf", 3) in rules_of(report)
