"""Cross-file rules on small repositories: what fires, what stays silent on what we cannot know."""

from sc_audit.config import Config

APP = "from flask import Flask\n\napp = Flask(__name__)\n"


def unit(bind_and_target: str, name: str = "app") -> dict:
    return {f"deploy/{name}.service": f"[Service]\nWorkingDirectory=/srv/{name}\n"
                                      f"ExecStart=/srv/{name}/venv/bin/gunicorn {bind_and_target}\n"}


def rules_of(report) -> list[tuple[str, str, int]]:
    return sorted((f.rule, f.span.path, f.span.line) for f in report.findings)


def test_env_default_bind_collides_with_another_process(repo):
    report = repo({
        "gunicorn.conf.py": 'import os\nbind = os.getenv("BIND", "0.0.0.0:8000")\n',
        **unit("-c gunicorn.conf.py app:app"),
        "Procfile": "",
        "deploy.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 admin:app > admin.log 2>&1 &\n",
        "app.py": APP, "admin.py": APP,
    })
    assert ("SC301", "deploy.sh", 2) in rules_of(report)


def test_unknown_bind_stays_silent(repo):
    report = repo({
        "gunicorn.conf.py": 'import os\nbind = os.environ["BIND"]\n',
        **unit("-c gunicorn.conf.py app:app"),
        "nginx/site.conf": "server {\n  listen 80;\n  location / { proxy_pass http://127.0.0.1:9999; }\n}\n",
        "app.py": APP,
    })
    assert not {f.rule for f in report.findings} & {"SC301", "SC302", "SC303", "SC403"}


def test_ipv6_any_overlaps_ipv4_and_flask_default_port(repo):
    report = repo({
        **unit("-b [::]:5000 app:app"),
        "deploy.sh": "#!/bin/bash\nnohup python3 dev.py &\n",
        "dev.py": APP + "\nif __name__ == '__main__':\n    app.run()\n",
        "app.py": APP,
    })
    collisions = [f for f in report.findings if f.rule == "SC301"]
    assert len(collisions) == 1 and "5000" in collisions[0].message


def test_shell_default_expansion_counts_as_the_port(repo):
    report = repo({
        **unit("-b 127.0.0.1:3000 app:app"),
        "deploy.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:${PORT:-3000} admin:app &\n",
        "app.py": APP, "admin.py": APP,
    })
    assert ("SC301", "deploy.sh", 2) in rules_of(report)


def test_localhost_proxy_served_by_ipv6_loopback(repo):
    report = repo({
        **unit("-b [::1]:8000 app:app"),
        "nginx/site.conf": "server {\n  listen 80;\n  location / { proxy_pass http://localhost:8000; }\n}\n",
        "app.py": APP,
    })
    assert "SC302" not in {f.rule for f in report.findings}


def test_ssh_single_command_is_exec_and_safe_but_a_list_is_not(repo):
    script = ("#!/bin/bash\n"
              "ssh deploy@example.com 'pkill -f gunicorn'\n"
              "ssh deploy@example.com 'cd /srv/app && pkill -f gunicorn; git pull'\n")
    report = repo({"deploy.sh": script})
    assert [(f.rule, f.span.line) for f in report.findings if f.rule == "SC503"] == [("SC503", 3)]


def test_kill_by_name_works_in_both_worlds(repo):
    report = repo({**unit("-b 127.0.0.1:8000 app:app"), "app.py": APP,
                   "deploy.sh": "#!/bin/bash\npkill gunicorn || true\n"})
    assert "SC501" not in {f.rule for f in report.findings}


def test_kill_with_unknown_pattern_is_silent(repo):
    report = repo({**unit("-b 127.0.0.1:8000 app:app"), "app.py": APP,
                   "deploy.sh": '#!/bin/bash\npkill -f "$APP_PATTERN" || true\n'})
    assert not {f.rule for f in report.findings} & {"SC501", "SC502"}


def test_health_route_through_an_imported_factory(repo):
    report = repo({
        **unit("-b 127.0.0.1:8000 wsgi:app"),
        "wsgi.py": "from web import create_app\n\napp = create_app()\n",
        "web/__init__.py": ("from flask import Flask\n\n\ndef create_app():\n    app = Flask(__name__)\n\n"
                            "    @app.route('/ping')\n    def ping():\n        return 'pong'\n\n    return app\n"),
        "deploy.sh": "#!/bin/bash\nsudo systemctl restart app\ncurl -f http://127.0.0.1:8000/health\n",
    })
    [finding] = [f for f in report.findings if f.rule == "SC601"]
    assert finding.span.line == 3 and "/ping" in finding.message


def test_health_route_with_a_converter(repo):
    app = APP + "\n\n@app.route('/health/<int:level>')\ndef health(level):\n    return 'ok'\n"
    report = repo({**unit("-b 127.0.0.1:8000 app:app"), "app.py": app,
                   "deploy.sh": "#!/bin/bash\ncurl -f http://127.0.0.1:8000/health/1\n"})
    assert "SC601" not in {f.rule for f in report.findings}


def test_proxy_timeout_through_an_upstream_block(repo):
    report = repo({
        "gunicorn.conf.py": "bind = '127.0.0.1:8001'\ntimeout = 300\n",
        **unit("-c gunicorn.conf.py app:app"), "app.py": APP,
        "nginx/site.conf": ("upstream ai { server 127.0.0.1:8001; }\nserver {\n  listen 80;\n"
                            "  location /ai/ {\n    proxy_read_timeout 120s;\n    proxy_pass http://ai;\n  }\n}\n"),
    })
    [finding] = [f for f in report.findings if f.rule == "SC403"]
    assert (finding.span.path, finding.span.line) == ("nginx/site.conf", 5)
    assert "120 s" in finding.message and "300 s" in finding.message


def test_memory_budget_needs_the_host(repo):
    files = {"gunicorn.conf.py": "bind = '127.0.0.1:8001'\nworkers = 9\n", **unit("-c gunicorn.conf.py app:app"),
             "app.py": APP}
    assert "SC402" not in {f.rule for f in repo(files).findings}
    report = repo(files, Config(host_memory_mib=1024))
    [finding] = [f for f in report.findings if f.rule == "SC402"]
    assert "(9 workers + 1 master) × 200 MiB = 2000 MiB" in finding.message


def test_memory_budget_with_cpu_formula_needs_cpus(repo):
    files = {"gunicorn.conf.py": "import multiprocessing\nworkers = min(multiprocessing.cpu_count() * 2 + 1, 12)\n",
             **unit("-c gunicorn.conf.py app:app"), "app.py": APP}
    assert "SC402" not in {f.rule for f in repo(files, Config(host_memory_mib=1024)).findings}
    report = repo(files, Config(host_memory_mib=1024, host_cpus=4))
    assert "(9 workers + 1 master)" in next(f.message for f in report.findings if f.rule == "SC402")
