"""The deployment as installed: where the repository lands (the install map), the names its files are
installed under, which scripts run together, and the Gunicorn a config implies. Each shape is a small
repository with the findings it must and must not give."""

from sc_audit.graph import render_graph
from sc_audit.model import install
from sc_audit.model.records import Deployment, Placement
from sc_audit.span import Span

APP = "from flask import Flask\n\napp = Flask(__name__)\n"


def rules_of(report) -> set[tuple[str, str, int]]:
    return {(f.rule, f.span.path, f.span.line) for f in report.findings}


def codes(report) -> set[str]:
    return {f.rule for f in report.findings}


# ---------------------------------------------------------------------------- resolving host paths


def _model(paths, placements) -> Deployment:
    model = Deployment(root_paths=set(paths))
    model.placements = [Placement(host, repo, Span("x", 1), "test") for host, repo in placements]
    return model


def test_resolve_takes_the_longest_placement_and_leaves_the_rest_unknown():
    model = _model({"deploy/g.py", "api/app.py"}, [("/srv/app", ""), ("/srv/app/backend", "api")])
    assert install.resolve(model, "/srv/app/deploy/g.py") == "deploy/g.py"
    assert install.resolve(model, "/srv/app/backend/app.py") == "api/app.py"
    assert install.resolve(model, "/srv/app") == ""
    assert install.resolve(model, "/opt/other/g.py") is None
    assert install.resolve(model, "/srv/app/$X/g.py") is None
    assert install.resolve(model, "relative/g.py") is None


def test_placements_that_disagree_make_the_directory_unknown():
    model = _model({"a/x.py", "b/x.py"}, [("/srv/app", "a"), ("/srv/app", "b")])
    assert install.resolve(model, "/srv/app/x.py") is None


def test_script_own_dir():
    assert install.script_own_dir('$(dirname "$0")', "backend/start.sh") == "backend"
    assert install.script_own_dir('$(dirname "${BASH_SOURCE[0]}")/..', "scripts/deploy.sh") == ""
    assert install.script_own_dir("$(dirname $0)/../..", "start.sh") is None  # leaves the repository
    assert install.script_own_dir("$(pwd)", "start.sh") is None


# ---------------------------------------------------------------------------- 1. the install map


UNIT_ABS_CONFIG = {
    "deploy/app.service": "[Service]\nWorkingDirectory=/opt/myapp\n"
                          "ExecStart=/opt/myapp/venv/bin/gunicorn --config /opt/myapp/deploy/gunicorn.conf.py app:app\n",
    "deploy/gunicorn.conf.py": "bind = '127.0.0.1:8000'\ntimeout = 120\n",
    "deploy/nginx.conf": "server {\n  listen 80;\n  location / { proxy_pass http://127.0.0.1:8000; }\n}\n",
    "app.py": APP,
}


def test_an_absolute_config_of_the_unit_is_the_repository_file(repo):
    report = repo(UNIT_ABS_CONFIG)
    [process] = report.model.processes
    assert process.config_path == "deploy/gunicorn.conf.py"
    assert ("SC403", "deploy/nginx.conf", 3) in rules_of(report)
    assert [(p.host, p.repo) for p in report.model.placements] == [("/opt/myapp", "")]


def test_an_unmapped_config_is_unknown_never_the_default_bind(repo):
    report = repo({
        "deploy/app.service": "[Service]\nWorkingDirectory=/opt/myapp\n"
                              "ExecStart=/opt/myapp/venv/bin/gunicorn --config /etc/myapp/gunicorn.conf.py app:app\n",
        "deploy/nginx.conf": "server {\n  listen 80;\n  location / { proxy_pass http://127.0.0.1:9000; }\n}\n",
        "app.py": APP,
    })
    [process] = report.model.processes
    assert process.binds == [] and not process.binds_known
    assert not codes(report) & {"SC301", "SC302", "SC303", "SC403"}


def test_cd_and_git_pull_place_the_repository(repo):
    report = repo({
        "deploy.sh": "#!/bin/bash\nssh web 'cd /srv/shop && git pull && sudo systemctl restart shop'\n",
        "deploy/shop.service": "[Service]\nWorkingDirectory=/srv/shop\n"
                               "ExecStart=/srv/shop/venv/bin/gunicorn -c /srv/shop/conf/prod.py shop:app\n",
        "conf/prod.py": "bind = '127.0.0.1:8000'\ntimeout = 90\n",
        "nginx/shop.conf": "server {\n  location / { proxy_pass http://127.0.0.1:8000; }\n}\n",
        "shop.py": APP,
    })
    assert ("/srv/shop", "") in {(p.host, p.repo) for p in report.model.placements}
    assert report.model.processes[0].config_path == "conf/prod.py"
    assert ("SC403", "nginx/shop.conf", 2) in rules_of(report)


def test_rsync_target_places_a_folder(repo):
    report = repo({
        ".github/workflows/deploy.yml": "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    steps:\n"
                                        "      - run: rsync -av backend/ deploy@web:/srv/api/\n",
        "deploy/api.service": "[Service]\nWorkingDirectory=/srv/api\nExecStart=/srv/api/venv/bin/gunicorn wsgi:app\n",
        "backend/wsgi.py": APP,
        "wsgi.py": "x = 1\n",
    })
    assert ("/srv/api", "backend") in {(p.host, p.repo) for p in report.model.placements}
    assert report.model.processes[0].cwd == "backend"
    assert "SC102" not in codes(report)


def test_a_git_command_of_the_ci_runner_places_nothing(repo):
    report = repo({
        ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
                                    "      - run: cd /home/runner/work && git fetch --tags\n",
        "app.py": APP,
    })
    assert report.model.placements == []


# ---------------------------------------------------------------------------- 5. CodeDeploy

APPSPEC = ("version: 0.0\nos: linux\nfiles:\n  - source: /\n    destination: /home/ubuntu/myapp\n"
           "hooks:\n  ApplicationStart:\n    - location: scripts/start.sh\n      timeout: 300\n      runas: ubuntu\n"
           "  ApplicationStop:\n    - location: scripts/stop.sh\n")


def test_codedeploy_revision_root_is_where_the_hook_cds(repo):
    report = repo({
        "appspec.yml": APPSPEC,
        "scripts/start.sh": "#!/bin/bash\ncd /home/ubuntu/myapp/ && venv/bin/gunicorn -c gunicorn.conf.py --daemon "
                            "myapp.wsgi:app\n",
        "scripts/stop.sh": "#!/bin/bash\npkill -f 'gunicorn -c gunicorn.conf.py' || true\n",
        "gunicorn.conf.py": "bind = '127.0.0.1:8000'\n",
        "myapp/__init__.py": "",
        "myapp/wsgi.py": APP,
    })
    assert ("/home/ubuntu/myapp", "") in {(p.host, p.repo) for p in report.model.placements}
    [process] = report.model.processes
    assert process.cwd == "" and process.config_path == "gunicorn.conf.py"
    assert not codes(report) & {"SC002", "SC102"}
    # the hooks run in lifecycle order: ApplicationStop before ApplicationStart
    [(root, order)] = [run for run in report.model.runs if run[0] == "appspec.yml"]
    files = [report.model.steps[i].command.span.path for i in order]
    assert sorted(set(files), key=files.index) == ["scripts/stop.sh", "scripts/start.sh"]


def test_codedeploy_without_the_map_the_old_guess_says_missing(repo):
    """The same hook without appspec.yml: the folder `myapp/` is taken for the checkout (the guess),
    and the config is looked for there: the map is what makes the difference."""
    report = repo({
        "scripts/start.sh": "#!/bin/bash\ncd /home/ubuntu/myapp/ && venv/bin/gunicorn -c gunicorn.conf.py --daemon "
                            "myapp.wsgi:app\n",
        "gunicorn.conf.py": "bind = '127.0.0.1:8000'\n",
        "myapp/__init__.py": "",
        "myapp/wsgi.py": APP,
    })
    assert "SC002" in codes(report)


def test_a_start_script_that_cds_to_its_own_folder(repo):
    files = {
        "backend/start.sh": '#!/bin/bash\ncd "$(dirname "$0")"\nnohup ../venv/bin/gunicorn -b 127.0.0.1:8000 '
                            "wsgi:app &\n",
        "backend/wsgi.py": APP,
    }
    assert "SC102" not in codes(repo(files))


def test_a_start_script_without_cd_looks_from_the_root(repo):
    files = {
        "backend/start.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 wsgi:app &\n",
        "backend/wsgi.py": APP,
    }
    assert ("SC102", "backend/start.sh", 2) in rules_of(repo(files))


# ---------------------------------------------------------------------------- 2. installed names

UNIT = "[Service]\nWorkingDirectory=/srv/app\nExecStart=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n"


def test_two_versions_of_one_installed_unit_are_not_two_processes_at_once(repo):
    report = repo({
        "deploy/gunicorn.service": UNIT,
        "old/myapp-web.service": UNIT,
        "deploy.sh": "#!/bin/bash\nsudo cp deploy/gunicorn.service /etc/systemd/system/myapp-web.service\n"
                     "sudo systemctl daemon-reload\nsudo systemctl restart myapp-web\n",
        "app.py": APP,
    })
    assert "SC301" not in codes(report)
    assert {p.name for p in report.model.processes} == {"myapp-web.service"}
    assert "restart → myapp-web.service (systemd)" in render_graph(report, "text")
    assert report.model.installed["deploy/gunicorn.service"].name == "myapp-web.service"
    assert "unit myapp-web.service ⇐ deploy/gunicorn.service (deploy.sh:2)" in render_graph(report, "text")


def test_versions_of_one_unit_count_once_in_the_memory_budget(repo):
    from sc_audit.config import Config

    unit = UNIT.replace("-b 127.0.0.1:8000", "-w 2 -b 127.0.0.1:8000")
    files = {"deploy/gunicorn.service": unit, "old/myapp-web.service": unit, "app.py": APP,
             "deploy.sh": "#!/bin/bash\nsudo cp deploy/gunicorn.service /etc/systemd/system/myapp-web.service\n"}
    # one service: (2 workers + 1 master) x 200 MiB = 600 MiB fits 1,000 MiB; two would not
    assert "SC402" not in codes(repo(files, Config(host_memory_mib=1000)))


def test_two_services_add_up_in_the_memory_budget(repo):
    from sc_audit.config import Config

    unit = UNIT.replace("-b 127.0.0.1:8000", "-w 2 -b 127.0.0.1:8000")
    files = {"deploy/gunicorn.service": unit, "old/other.service": unit.replace("8000", "8001"), "app.py": APP}
    assert "SC402" in codes(repo(files, Config(host_memory_mib=1000)))


def test_two_units_of_different_names_still_collide(repo):
    report = repo({"deploy/gunicorn.service": UNIT, "old/other.service": UNIT, "app.py": APP})
    [finding] = [f for f in report.findings if f.rule == "SC301"]
    assert "deploy/gunicorn.service:3" in finding.message and "old/other.service:3" in finding.message


def test_a_site_installed_under_its_name(repo):
    report = repo({
        "deploy.sh": "#!/bin/bash\nsudo cp deploy/nginx/myapp.conf /etc/nginx/sites-available/myapp\n"
                     "sudo ln -sf /etc/nginx/sites-available/myapp /etc/nginx/sites-enabled/\n"
                     "sudo cp deploy/unit.service /etc/systemd/system/\n",
        "deploy/nginx/myapp.conf": "server {\n  location / { proxy_pass http://127.0.0.1:8000; }\n}\n",
        "deploy/unit.service": UNIT,
        "app.py": APP,
    })
    assert report.model.installed["deploy/nginx/myapp.conf"].name == "sites-enabled/myapp"
    assert report.model.installed["deploy/unit.service"].name == "unit.service"


# ---------------------------------------------------------------------------- 3. alternatives and sequence

START = "#!/bin/bash\npkill -f gunicorn\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n"


def test_two_start_scripts_are_alternatives(repo):
    report = repo({"start.sh": START, "restart.sh": START, "app.py": APP})
    assert "SC301" not in codes(report)


def test_a_script_that_calls_both_starts_both(repo):
    report = repo({
        "deploy.sh": "#!/bin/bash\nbash scripts/web.sh\n./scripts/admin.sh\n",
        "scripts/web.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n",
        "scripts/admin.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 0.0.0.0:8000 admin:app &\n",
        "app.py": APP, "admin.py": APP,
    })
    [finding] = [f for f in report.findings if f.rule == "SC301"]
    assert "scripts/web.sh:2" in finding.message and "scripts/admin.sh:2" in finding.message
    assert finding.span.path in ("scripts/web.sh", "scripts/admin.sh") and len(finding.related) == 1


def test_one_command_started_by_two_scripts_that_run_together_is_two_copies_not_itself(repo):
    start = "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n"
    report = repo({"start.sh": start, "restart.sh": start, "app.py": APP,
                   ".github/workflows/deploy.yml": "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n"
                                                   "    steps:\n      - run: ./start.sh\n      - run: ./restart.sh\n"})
    [finding] = [f for f in report.findings if f.rule == "SC301"]
    assert "is started 2 times, at " in finding.message
    assert "start.sh:2" in finding.message and "restart.sh:2" in finding.message
    assert "2 processes" not in finding.message and "127.0.0.1:8000" in finding.message


def test_a_called_script_that_stops_before_it_starts_replaces(repo):
    report = repo({
        "deploy.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\nbash restart.sh\n",
        "restart.sh": "#!/bin/bash\nfuser -k 8000/tcp\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n",
        "app.py": APP,
    })
    assert "SC301" not in codes(report)


def test_a_called_script_that_kills_by_pattern_replaces(repo):
    report = repo({
        "deploy.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\nbash restart.sh\n",
        "restart.sh": "#!/bin/bash\npkill -f gunicorn\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n",
        "app.py": APP,
    })
    assert "SC301" not in codes(report)


def test_a_kill_that_misses_does_not_replace(repo):
    report = repo({
        "deploy.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n"
                     "pkill -f 'node server.js'\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 admin:app &\n",
        "app.py": APP, "admin.py": APP,
    })
    assert ("SC301", "deploy.sh", 4) in rules_of(report)


def test_a_kill_we_cannot_read_may_replace(repo):
    report = repo({
        "deploy.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n"
                     "pkill -f \"$APP_PATTERN\"\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 admin:app &\n",
        "app.py": APP, "admin.py": APP,
    })
    assert "SC301" not in codes(report)


def test_a_workflow_that_runs_the_script_beside_the_unit(repo):
    report = repo({
        ".github/workflows/deploy.yml": "on: push\njobs:\n  d:\n    runs-on: ubuntu-latest\n    steps:\n"
                                        "      - run: bash scripts/start.sh\n",
        "scripts/start.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n",
        "deploy/app.service": UNIT,
        "app.py": APP,
    })
    assert ".github/workflows/deploy.yml" in {root for root, _ in report.model.runs}
    assert "scripts/start.sh" not in {root for root, _ in report.model.runs}  # called, so not a run of its own
    assert ("SC301", "scripts/start.sh", 2) in rules_of(report)


def test_a_script_that_stops_the_unit_before_it_starts_replaces_it(repo):
    files = {
        "deploy/app.service": UNIT,
        "hotfix.sh": "#!/bin/bash\nsudo systemctl stop app\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n",
        "app.py": APP,
    }
    assert "SC301" not in codes(repo(files))


def test_a_script_beside_a_running_unit_collides(repo):
    files = {
        "deploy/app.service": UNIT,
        "hotfix.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n",
        "app.py": APP,
    }
    assert ("SC301", "hotfix.sh", 2) in rules_of(repo(files))


# ---------------------------------------------------------------------------- 4. implied processes

IMPLIED_CONF = "bind = '127.0.0.1:8000'\ntimeout = 120\nwsgi_app = 'app:app'\n"
IMPLIED_SITE = ("server {\n  location / { proxy_pass http://127.0.0.1:8001; }\n"
                "  location /api/ { proxy_pass http://127.0.0.1:8000; }\n}\n")


def test_a_root_config_is_a_gunicorn_with_an_unknown_launcher(repo):
    report = repo({"gunicorn.conf.py": IMPLIED_CONF, "deploy/nginx/myapp.conf": IMPLIED_SITE, "app.py": APP})
    assert ("SC403", "deploy/nginx/myapp.conf", 3) in rules_of(report)
    # `/` -> 8001 may be another program the server starts (Nginx reaches the config's bind at /api/)
    assert "SC302" not in codes(report)
    [process] = report.model.processes
    assert process.manager == "implied" and process.views == []


def test_a_root_config_binding_a_port_nginx_never_reaches(repo):
    site = "server {\n  location / { proxy_pass http://127.0.0.1:8001; }\n}\n"
    report = repo({"gunicorn.conf.py": IMPLIED_CONF, "deploy/nginx/myapp.conf": site, "app.py": APP})
    assert ("SC302", "deploy/nginx/myapp.conf", 2) in rules_of(report)


def test_a_config_a_deploy_command_names_is_implied_too(repo):
    report = repo({
        "start.sh": "#!/bin/bash\ncd /srv/app/deploy\nexec ../venv/bin/gunicorn -c gunicorn_prod.py app:app\n",
        "deploy/gunicorn_prod.py": "bind = '127.0.0.1:8000'\ntimeout = 120\n",
        "nginx/site.conf": "server {\n  location / { proxy_pass http://127.0.0.1:8000; }\n}\n",
        "app.py": APP,
    })
    assert [p.config_path for p in report.model.processes if p.manager == "implied"] == ["deploy/gunicorn_prod.py"]
    assert ("SC403", "nginx/site.conf", 2) in rules_of(report)


def test_a_config_without_bind_implies_no_endpoint(repo):
    report = repo({"gunicorn.conf.py": "timeout = 120\n", "deploy/nginx/myapp.conf": IMPLIED_SITE, "app.py": APP})
    assert not codes(report) & {"SC301", "SC302", "SC403"}


def test_never_double_counted_when_a_launcher_reads_the_config(repo):
    report = repo({
        "gunicorn.conf.py": IMPLIED_CONF,
        "deploy/app.service": "[Service]\nWorkingDirectory=/srv/app\nExecStart=/srv/app/venv/bin/gunicorn app:app\n",
        "app.py": APP,
    })
    assert [p.manager for p in report.model.processes] == ["systemd"]
    assert "SC301" not in codes(report)


def test_no_implied_process_beside_a_container_launcher(repo):
    report = repo({"gunicorn.conf.py": IMPLIED_CONF, "Dockerfile": "FROM python:3.12\n", "app.py": APP})
    assert report.model.processes == []


def test_git_pull_in_the_scripts_own_folder_places_that_folder(repo):
    report = repo({
        "app/restart.sh": "#!/bin/sh\ncd /home/admin/RpServer/app\ngit pull origin main\n"
                          "gunicorn -w 1 main:app --daemon\n",
        "app/main.py": APP,
    })
    assert [(p.host, p.repo) for p in report.model.placements] == [("/home/admin/RpServer/app", "app")]
    assert "SC102" not in codes(report)


def test_a_file_prefixed_config_is_that_file(repo):
    report = repo({
        "deploy/app.service": "[Service]\nWorkingDirectory=/srv/app\n"
                              "ExecStart=/srv/app/venv/bin/gunicorn -c file:deploy/gunicorn.conf.py app:app\n",
        "deploy/gunicorn.conf.py": "bind = '127.0.0.1:9000'\n",
        "app.py": APP,
    })
    assert report.model.processes[0].config_path == "deploy/gunicorn.conf.py"
    assert [str(e) for e, _ in report.model.processes[0].binds] == ["127.0.0.1:9000"]


def test_an_environment_file_of_the_unit_anchors_the_checkout(repo):
    """Without the anchor, the old guess takes the repository's `web/` for /srv/web (and SC002 follows)."""
    report = repo({
        "deploy/app.service": "[Service]\nWorkingDirectory=/srv/web\nEnvironmentFile=-/srv/web/deploy/prod.env\n"
                              "ExecStart=/srv/web/venv/bin/gunicorn -c conf/gunicorn_prod.py app:app\n",
        "deploy/prod.env": "X=1\n",
        "conf/gunicorn_prod.py": "bind = '127.0.0.1:9000'\n",
        "web/__init__.py": "",
        "app.py": APP,
    })
    assert [(p.host, p.repo, p.span.line) for p in report.model.placements] == [("/srv/web", "", 3)]
    assert report.model.processes[0].config_path == "conf/gunicorn_prod.py"
    assert "SC002" not in codes(report)


def test_an_absolute_copy_source_resolves_through_the_map(repo):
    files = {
        "deploy.sh": "#!/bin/bash\nssh web 'cd /srv/app && git pull && "
                     "sudo cp /srv/app/deploy/nginx/app.conf /etc/nginx/sites-available/app'\n",
        "deploy/nginx/site.conf": "server {\n  location / { proxy_pass http://127.0.0.1:8000; }\n}\n",
    }
    report = repo(files)
    [finding] = [f for f in report.findings if f.rule == "SC002"]
    assert "`deploy/nginx/app.conf`" in finding.message


def test_an_absolute_copy_source_outside_the_map_is_unknown(repo):
    files = {
        "deploy.sh": "#!/bin/bash\nsudo cp /opt/shared/nginx/app.conf /etc/nginx/sites-available/app\n",
        "deploy/nginx/site.conf": "server {\n  location / { proxy_pass http://127.0.0.1:8000; }\n}\n",
    }
    assert "SC002" not in codes(repo(files))


def test_git_clone_with_options_places_its_target(repo):
    report = repo({
        "setup.sh": "#!/bin/bash\ngit clone -b main --depth 1 https://github.com/me/shop.git /srv/shop\n"
                    "cd /srv && git clone git@github.com:me/shop.git\n",
        "app.py": APP,
    })
    assert [(p.host, p.repo) for p in report.model.placements] == [("/srv/shop", "")]


def test_no_control_character_of_a_file_reaches_the_graph(repo):
    report = repo({
        "deploy.sh": "#!/bin/bash\ncd /srv/app && git pull\nsudo cp 'x\x1b[2J.service' /etc/systemd/system/\n",
        "x\x1b[2J.service": "[Service]\nExecStart=/usr/bin/true\n",
    })
    for fmt in ("text", "mermaid", "dot"):
        assert "\x1b" not in render_graph(report, fmt)
