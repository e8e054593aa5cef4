"""`curl --unix-socket PATH URL` checks the process bound to PATH, not the URL's host and port."""

from sc_audit import commands as cmd

APP = ("from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route('/health')\ndef health():\n"
       "    return 'ok'\n")


def unit(name: str, bind: str) -> dict:
    return {f"deploy/{name}.service": f"[Service]\nWorkingDirectory=/srv/app\n"
                                      f"ExecStart=/srv/app/venv/bin/gunicorn -b {bind} app:app\n"}


def deploy(*lines: str) -> dict:
    return {"deploy.sh": "#!/bin/bash\nset -e\nsudo systemctl restart web\n" + "\n".join(lines) + "\n"}


def codes(report) -> set[str]:
    return {f.rule for f in report.findings}


def test_curl_reads_the_socket():
    request = cmd.interpret(("curl", "-fsS", "--unix-socket", "/run/app.sock", "http://localhost/health"))
    assert request == cmd.HttpRequest("curl", "http://localhost/health", "/run/app.sock")
    assert cmd.interpret(("curl", "--unix-socket=/run/x.sock", "http://x/")).unix_socket == "/run/x.sock"


def test_a_check_over_the_bound_socket_is_no_sc302_and_a_check(repo):
    report = repo({**unit("web", "unix:/run/app/web.sock"), "app.py": APP,
                   **deploy("curl -fsS --retry 5 --retry-connrefused --unix-socket /run/app/web.sock "
                            "http://localhost/health")})
    assert not codes(report) & {"SC302", "SC601", "SC603", "SC604"}


def test_a_check_over_a_socket_nobody_binds_is_sc302(repo):
    report = repo({**unit("web", "unix:/run/app/web.sock"), "app.py": APP,
                   **deploy("curl -fsS --retry 5 --retry-connrefused --unix-socket /run/app/old.sock "
                            "http://localhost/health")})
    assert "SC302" in codes(report)


def test_the_route_is_looked_up_in_the_app_behind_the_socket(repo):
    report = repo({**unit("web", "unix:/run/app/web.sock"), "app.py": APP,
                   **deploy("curl -fsS --retry 5 --retry-connrefused --unix-socket /run/app/web.sock "
                            "http://localhost/healthz")})
    assert "SC601" in codes(report)


def test_checking_one_socket_leaves_the_other_service_unchecked(repo):
    files = {**unit("web", "unix:/run/app/web.sock"), **unit("api", "127.0.0.1:8001"), "app.py": APP,
             "deploy.sh": "#!/bin/bash\nset -e\nsudo systemctl restart web\nsudo systemctl restart api\n"
                          "curl -fsS --retry 5 --retry-connrefused --unix-socket /run/app/web.sock "
                          "http://localhost/health\n"}
    findings = [f for f in repo(files).findings if f.rule == "SC602"]
    assert len(findings) == 1 and "api.service" in findings[0].message
