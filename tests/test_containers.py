"""Containers: Dockerfile and Compose parsing, the container model, and the rules over it."""

from __future__ import annotations

from sc_audit import audit
from sc_audit.config import Config
from sc_audit.model.compose import interpolate
from sc_audit.parsers import compose, dockerfile
from sc_audit.source import SourceFile

from conftest import write_repo

APP = "from flask import Flask\n\napp = Flask(__name__)\n"
NGINX_TO_BACKEND = "server {\n    listen 80;\n    location / {\n        proxy_pass http://backend:8000;\n    }\n}\n"
ALL_SC7 = ("SC701", "SC702", "SC703", "SC704", "SC705", "SC706", "SC707", "SC708")


def _codes(root, *extra):
    config = Config(extend_select=extra) if extra else Config()
    report = audit(root, config=config)
    return sorted((f.rule, f.span.path, f.span.line) for f in report.findings)


# ---------------------------------------------------------------------------- parsers


def test_dockerfile_forms_continuations_heredocs():
    text = ("FROM python:3.12-slim AS base\nRUN pip install \\\n    gunicorn\nCOPY <<EOF /app/start.sh\n#!/bin/sh\n"
            "exec gunicorn app:app\nEOF\nCMD gunicorn app:app\nENTRYPOINT [\"/app/start.sh\"]\n")
    facts = dockerfile.parse(SourceFile("Dockerfile", "dockerfile", text))
    assert not facts.errors
    by_cmd = {i.cmd: i for i in facts.instructions}
    assert (by_cmd["RUN"].span.line, by_cmd["RUN"].span.end_line) == (2, 3)
    assert by_cmd["COPY"].heredocs == (("EOF", "#!/bin/sh\nexec gunicorn app:app\n"),)
    assert by_cmd["CMD"].json is False and by_cmd["CMD"].value == ("gunicorn app:app",)
    assert by_cmd["ENTRYPOINT"].json is True and by_cmd["ENTRYPOINT"].value == ("/app/start.sh",)


def test_dockerfile_errors_are_findings_not_crashes():
    unknown = dockerfile.parse(SourceFile("Dockerfile", "dockerfile", "FROM x\nFOO bar\n"))
    assert [e.span.line for e in unknown.errors] == [2]
    huge = dockerfile.parse(SourceFile("Dockerfile", "dockerfile", "FROM x\n" + "RUN x\n" * 30_000))
    assert huge.errors and not huge.instructions


def test_compose_merge_keys_and_yaml_1_2_scalars():
    text = "x-common: &common\n  restart: always\nservices:\n  web:\n    <<: *common\n    ports:\n      - 22:22\n"
    facts = compose.parse(SourceFile("compose.yaml", "compose", text))
    web = facts.root["services"]["web"]
    assert web["restart"].value == "always"
    assert web["ports"][0].value == "22:22" and web["ports"][0].span.line == 7


def test_compose_billion_laughs_is_bounded():
    rows = ["a: &a [x,x,x,x,x,x,x,x,x]"] + [f"{c}: &{c} [{', '.join(['*' + p] * 9)}]" for p, c in
                                              zip("abcdefg", "bcdefgh")]
    facts = compose.parse(SourceFile("compose.yaml", "compose", "\n".join(rows) + "\n"))
    assert facts.errors and not facts.root


def test_interpolation():
    env = {"PORT": "9000", "EMPTY": ""}
    assert interpolate("${PORT}:8000", env) == "9000:8000"
    assert interpolate("${MISSING:-8000}", env) == "8000"
    assert interpolate("${EMPTY:-x}", env) == "x" and interpolate("${EMPTY-x}", env) == ""
    assert interpolate("$$HOME", env) == "$HOME"
    assert interpolate("${MISSING}", env) is None  # unknown, never a default


# ---------------------------------------------------------------------------- whole repositories


def test_the_issue_shape_gives_the_target_and_loopback_findings(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": "FROM python:3.11-slim\nWORKDIR /app\nCOPY . .\nEXPOSE 8000\n"
                      "CMD [\"gunicorn\", \"-b\", \"127.0.0.1:8000\", \"app:create_app()\"]\n",
        "docker-compose.yml": "services:\n  backend:\n    build: .\n    restart: unless-stopped\n  nginx:\n"
                              "    image: nginx:1.27\n    restart: unless-stopped\n    ports:\n      - \"80:80\"\n"
                              "    volumes:\n      - ./nginx/site.conf:/etc/nginx/conf.d/default.conf:ro\n",
        "nginx/site.conf": NGINX_TO_BACKEND,
        "deploy.sh": "#!/bin/bash\nset -e\ncd /srv/app\ngit pull\ndocker compose up -d --build\n",
    })
    assert _codes(tmp_path) == [("SC101", "Dockerfile", 5), ("SC603", "deploy.sh", 5), ("SC701", "Dockerfile", 5)]


def test_multi_stage_runs_the_target_stage(tmp_path):
    dockerfile_text = ("FROM python:3.12-slim AS base\nWORKDIR /app\nCOPY . .\n"
                       "FROM base AS dev\nCMD [\"flask\", \"run\"]\n"
                       "FROM base AS prod\nCMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n")
    write_repo(tmp_path, {
        "app.py": APP, "Dockerfile": dockerfile_text,
        "compose.yaml": "services:\n  web:\n    build:\n      context: .\n      target: dev\n"
                        "    restart: always\n    ports:\n      - \"5000:5000\"\n",
    })
    # the dev stage runs `flask run`: 127.0.0.1:5000 inside the container, published
    assert _codes(tmp_path) == [("SC701", "Dockerfile", 5)]
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: .\n    restart: always\n"
                                           "    ports:\n      - \"8000:8000\"\n")
    assert _codes(tmp_path) == []  # the last stage (prod) binds 0.0.0.0


def test_override_file_and_env_interpolation(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD [\"gunicorn\", \"app:app\"]\n",
        "compose.yaml": "services:\n  web:\n    build: .\n    restart: always\n",
        "compose.override.yaml": "services:\n  web:\n    command: gunicorn -b ${BIND:-0.0.0.0}:8000 app:app\n"
                                 "    ports:\n      - \"${HOST_PORT}:8000\"\n",
        ".env": "BIND=127.0.0.1\nHOST_PORT=8080\n",
        ".dockerignore": ".env\n",
    })
    assert _codes(tmp_path) == [("SC701", "compose.override.yaml", 3)]
    (tmp_path / ".env").write_text("HOST_PORT=8080\n")  # the default applies: 0.0.0.0
    assert _codes(tmp_path) == []
    (tmp_path / "compose.override.yaml").write_text(
        "services:\n  web:\n    command: gunicorn -b ${BIND}:8000 app:app\n    ports:\n      - \"8080:8000\"\n")
    assert _codes(tmp_path) == []  # BIND unknown: the bind is unknown, nothing fires


def test_nginx_on_the_host_in_front_of_a_published_port(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
                      "CMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n",
        "compose.yaml": "services:\n  web:\n    build: .\n    restart: always\n    ports:\n"
                        "      - \"127.0.0.1:8000:8000\"\n",
        "deploy/nginx.conf": "server {\n    listen 80;\n    location / {\n        proxy_pass http://127.0.0.1:8000;\n"
                             "    }\n}\n",
    })
    assert _codes(tmp_path, *ALL_SC7) == []


def test_a_mount_hides_the_image_folder(tmp_path):
    write_repo(tmp_path, {
        "web/app.py": APP,
        "web/Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
                          "CMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n",
        "compose.yaml": "services:\n  web:\n    build: web\n    restart: always\n    volumes:\n      - .:/app\n",
    })
    # at run time /app is the repository root, which has no app.py
    assert _codes(tmp_path) == [("SC102", "web/Dockerfile", 4)]
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: web\n    restart: always\n"
                                           "    volumes:\n      - ./web:/app\n")
    assert _codes(tmp_path) == []


def test_unknown_base_entrypoint_keeps_sc704_silent(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": "FROM tiangolo/uwsgi-nginx:python3.11\nWORKDIR /app\nCOPY . .\nCMD gunicorn -b 0.0.0.0:8000 app:app\n",
    })
    assert _codes(tmp_path) == []


def test_shell_form_on_alpine_is_left_alone_and_on_debian_fires(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": "FROM python:3.12-alpine\nWORKDIR /app\nCOPY . .\nCMD gunicorn -b 0.0.0.0:8000 app:app\n",
    })
    assert _codes(tmp_path) == []
    (tmp_path / "Dockerfile").write_text("FROM python:3.12\nWORKDIR /app\nCOPY . .\nCMD gunicorn -b 0.0.0.0:8000 app:app\n")
    assert _codes(tmp_path) == [("SC704", "Dockerfile", 4)]


def test_container_facts_for_other_rules(tmp_path):
    from sc_audit.discover import discover
    from sc_audit.model import build
    from sc_audit.parsing import parse_file

    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nUSER app\nCMD [\"gunicorn\", \"app:app\"]\n",
        "compose.yaml": "services:\n  web:\n    build: .\n  worker:\n    build: .\n    user: root\n"
                        "  db:\n    image: postgres:16\n",
    })
    found = discover(tmp_path)
    facts = {src.path: parse_file(src)[0] for src in found.files}
    model = build(facts, found.all_paths)
    by_name = {c.name: c for c in model.containers}
    assert by_name["web"].user.value == "app" and by_name["worker"].user.value == "root"
    assert by_name["web"].argv == ("gunicorn", "app:app") and by_name["web"].process.cwd == ""
    assert by_name["db"].argv is None and by_name["db"].user is None


def test_sc302_and_sc403_between_an_nginx_container_and_a_gunicorn_container(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
                      "CMD [\"gunicorn\", \"-b\", \"0.0.0.0:9000\", \"--timeout\", \"120\", \"app:app\"]\n",
        "compose.yaml": "services:\n  backend:\n    build: .\n    restart: always\n  nginx:\n    image: nginx\n"
                        "    restart: always\n    volumes:\n      - ./nginx:/etc/nginx/conf.d\n",
        "nginx/default.conf": NGINX_TO_BACKEND,
    })
    assert _codes(tmp_path) == [("SC302", "nginx/default.conf", 4)]
    (tmp_path / "Dockerfile").write_text("FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
                                         "CMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"--timeout\", \"120\", \"app:app\"]\n")
    assert _codes(tmp_path) == [("SC403", "nginx/default.conf", 4)]


def test_sc603_after_docker_compose_up(tmp_path):
    files = {
        "app.py": APP,
        "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
                      "CMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n",
        "compose.yaml": "services:\n  web:\n    build: .\n    restart: always\n    ports:\n      - \"127.0.0.1:8000:8000\"\n",
        "deploy.sh": "#!/bin/bash\nset -e\ncd /srv/app\ngit pull\ndocker compose up -d --build\n",
    }
    write_repo(tmp_path, files)
    assert _codes(tmp_path) == [("SC603", "deploy.sh", 5)]
    (tmp_path / "deploy.sh").write_text("#!/bin/bash\nset -e\ncd /srv/app\ngit pull\ndocker compose up -d --wait\n")
    assert _codes(tmp_path) == []
    (tmp_path / "deploy.sh").write_text("#!/bin/bash\nset -e\ngit pull\ndocker compose up -d\n"
                                        "curl -fsS --retry 5 --retry-connrefused http://127.0.0.1:8000/\n")
    assert _codes(tmp_path) == []


def test_container_user_fact(tmp_path):
    from sc_audit.discover import discover
    from sc_audit.model import build
    from sc_audit.model.containers import container_user
    from sc_audit.parsing import parse_file

    write_repo(tmp_path, {
        "Dockerfile": "FROM python:3.12-slim AS base\nUSER app\nFROM base\nCMD [\"python\", \"-m\", \"http.server\"]\n",
        "other/Dockerfile": "FROM python:3.12-slim\nCMD [\"python\", \"-m\", \"http.server\"]\n",
        "third/Dockerfile": "FROM ghcr.io/example/base:1\nCMD [\"python\", \"-m\", \"http.server\"]\n",
    })
    found = discover(tmp_path)
    model = build({src.path: parse_file(src)[0] for src in found.files}, found.all_paths)
    users = {c.name: container_user(c)[0] for c in model.containers}
    assert users == {"Dockerfile": "app", "other/Dockerfile": "root", "third/Dockerfile": None}


def test_shell_instruction_changes_the_shell_form(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": "FROM python:3.12\nSHELL [\"/bin/bash\", \"-c\"]\nWORKDIR /app\nCOPY . .\n"
                      "CMD gunicorn -b 0.0.0.0:8000 app:app\n",
    })
    assert _codes(tmp_path) == []  # bash -c execs its lone command


def test_graph_draws_published_ports_containers_and_the_nginx_hop(tmp_path):
    from sc_audit.graph import render_graph

    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
                      "CMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n",
        "compose.yaml": "services:\n  backend:\n    build: .\n    restart: always\n  nginx:\n    image: nginx\n"
                        "    restart: always\n    ports:\n      - \"80:80\"\n    volumes:\n      - ./nginx:/etc/nginx/conf.d\n",
        "nginx/default.conf": NGINX_TO_BACKEND,
    })
    text = render_graph(audit(tmp_path), "text")
    assert ("  host 0.0.0.0:80\n    publishes → :80 → container nginx (compose.yaml): nginx\n"
            "      → nginx in nginx location /\n        → backend:8000\n"
            "          → container backend (compose.yaml): gunicorn -b 0.0.0.0:8000 app:app\n"
            "            → WSGI app:app\n") in text


def test_an_env_file_may_set_the_host(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD [\"flask\", \"run\"]\n",
        "compose.yaml": "services:\n  web:\n    build: .\n    restart: always\n    env_file: web.env\n"
                        "    ports:\n      - \"5000:5000\"\n",
    })
    assert _codes(tmp_path) == []  # FLASK_RUN_HOST may be in web.env
    (tmp_path / "compose.yaml").write_text("services:\n  web:\n    build: .\n    restart: always\n"
                                           "    ports:\n      - \"5000:5000\"\n")
    assert _codes(tmp_path) == [("SC701", "Dockerfile", 4)]


# ---------------------------------------------------------------------------- SC210 in containers

ROOT_IMAGE = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n"


def _sc210(root):
    return [c for c in _codes(root, "SC210") if c[0] == "SC210"]


def test_a_container_without_user_over_pythons_image_runs_as_root(tmp_path):
    root = write_repo(tmp_path, {"Dockerfile": ROOT_IMAGE, "app.py": APP})
    assert _sc210(root) == [("SC210", "Dockerfile", 4)]


def test_compose_user_over_a_root_image_is_not_root(tmp_path):
    root = write_repo(tmp_path, {
        "Dockerfile": ROOT_IMAGE, "app.py": APP,
        "docker-compose.yml": "services:\n  web:\n    build: .\n    user: \"1000:1000\"\n    ports:\n      - \"127.0.0.1:8000:8000\"\n",
    })
    assert _sc210(root) == []


def test_compose_user_root_is_root_and_says_where(tmp_path):
    root = write_repo(tmp_path, {
        "Dockerfile": ROOT_IMAGE.replace("COPY . .\n", "COPY . .\nUSER app\n"), "app.py": APP,
        "docker-compose.yml": "services:\n  web:\n    build: .\n    user: root\n",
    })
    report = audit(root, config=Config(extend_select=("SC210",)))
    [finding] = [f for f in report.findings if f.rule == "SC210"]
    assert "`root`" in finding.message
    assert [(r.span.path, r.span.line) for r in finding.related] == [("docker-compose.yml", 4)]


def test_an_unknown_base_an_entrypoint_script_or_gunicorns_own_user_never_fire(tmp_path):
    unknown_base = write_repo(tmp_path / "a", {"Dockerfile": ROOT_IMAGE.replace("python:3.12-slim", "acme/web:1"),
                                              "app.py": APP})
    script = write_repo(tmp_path / "b", {
        "Dockerfile": ROOT_IMAGE.replace('CMD ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]',
                                         'COPY entrypoint.sh /entrypoint.sh\nENTRYPOINT ["/entrypoint.sh"]'),
        "entrypoint.sh": "#!/bin/sh\nexec gosu app gunicorn -b 0.0.0.0:8000 app:app\n", "app.py": APP})
    dropped = write_repo(tmp_path / "c", {"Dockerfile": ROOT_IMAGE.replace('"-b"', '"--user", "app", "-b"'),
                                         "app.py": APP})
    assert _sc210(unknown_base) == _sc210(script) == _sc210(dropped) == []


# ---------------------------------------------------------------------------- SC208 in containers

GUNICORN_IMAGE = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n"


def _sc208(root):
    return [c for c in _codes(root) if c[0] == "SC208"]


def test_a_quick_stopsignal_cuts_gunicorns_requests(tmp_path):
    root = write_repo(tmp_path, {"Dockerfile": GUNICORN_IMAGE.replace("CMD", "STOPSIGNAL SIGINT\nCMD"), "app.py": APP})
    report = audit(root)
    [finding] = [f for f in report.findings if f.rule == "SC208"]
    assert "SIGINT" in finding.message and "STOPSIGNAL SIGTERM" in finding.message
    assert [(r.span.path, r.span.line) for r in finding.related] == [("Dockerfile", 4)]


def test_compose_stop_signal_overrides_the_image(tmp_path):
    compose_file = "services:\n  web:\n    build: .\n    stop_signal: SIGTERM\n"
    quick = write_repo(tmp_path / "a", {"Dockerfile": GUNICORN_IMAGE.replace("CMD", "STOPSIGNAL SIGQUIT\nCMD"),
                                        "app.py": APP, "compose.yaml": compose_file})
    assert _sc208(quick) == []
    made_quick = write_repo(tmp_path / "b", {"Dockerfile": GUNICORN_IMAGE, "app.py": APP,
                                             "compose.yaml": compose_file.replace("SIGTERM", "SIGQUIT")})
    [finding] = [f for f in audit(made_quick).findings if f.rule == "SC208"]
    assert "SIGQUIT" in finding.message  # at the server's command, with where the signal is set
    assert [(r.span.path, r.span.line) for r in finding.related] == [("compose.yaml", 4)]


def test_the_grace_period_is_weighed_only_when_the_repository_writes_one(tmp_path):
    plain = write_repo(tmp_path / "a", {"Dockerfile": GUNICORN_IMAGE, "app.py": APP,
                                        "compose.yaml": "services:\n  web:\n    build: .\n"})
    assert _sc208(plain) == []  # Docker's 10 s against Gunicorn's default 30 s: the norm, not reported
    short = write_repo(tmp_path / "b", {"Dockerfile": GUNICORN_IMAGE, "app.py": APP,
                                        "compose.yaml": "services:\n  web:\n    build: .\n    stop_grace_period: 5s\n"})
    assert _sc208(short) == [("SC208", "compose.yaml", 4)]
    enough = write_repo(tmp_path / "c", {"Dockerfile": GUNICORN_IMAGE, "app.py": APP,
                                         "compose.yaml": "services:\n  web:\n    build: .\n    stop_grace_period: 1m\n"})
    assert _sc208(enough) == []
    long_graceful = write_repo(tmp_path / "d", {"Dockerfile": GUNICORN_IMAGE, "app.py": APP,
                                                "gunicorn.conf.py": "graceful_timeout = 60\n"})
    assert _sc208(long_graceful) == [("SC208", "Dockerfile", 4)]


def test_unreadable_stop_settings_or_a_deploy_timeout_never_fire(tmp_path):
    variables = write_repo(tmp_path / "a", {
        "Dockerfile": GUNICORN_IMAGE, "app.py": APP,
        "compose.yaml": "services:\n  web:\n    build: .\n    stop_signal: ${SIG}\n    stop_grace_period: ${G}\n"})
    assert _sc208(variables) == []
    deploy_timeout = write_repo(tmp_path / "b", {
        "Dockerfile": GUNICORN_IMAGE, "app.py": APP, "gunicorn.conf.py": "graceful_timeout = 60\n",
        "deploy.sh": "#!/bin/sh\ndocker compose down -t 90\ndocker compose up -d\n",
        "compose.yaml": "services:\n  web:\n    build: .\n"})
    assert _sc208(deploy_timeout) == []


def test_compose_durations():
    from sc_audit.checks.stopping import compose_seconds

    assert compose_seconds("10s") == 10 and compose_seconds("1m30s") == 90 and compose_seconds("500ms") == 0.5
    assert compose_seconds("1h") == 3600 and compose_seconds("1.5s") == 1.5
    assert compose_seconds("10") is None and compose_seconds("soon") is None and compose_seconds("1m 30s") is None
# ---------------------------------------------------------------------------- a host Nginx in front of a container
# (model/containers.py host_listeners: the published ports are host listeners for SC302/SC303)

GUNICORN_8000 = ("FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
                 "CMD [\"gunicorn\", \"-b\", \"0.0.0.0:8000\", \"app:app\"]\n")


def _host_nginx(port: int = 8000) -> str:
    return f"server {{\n    listen 80;\n    location / {{\n        proxy_pass http://127.0.0.1:{port};\n    }}\n}}\n"


def _web(ports: str) -> str:
    return f"services:\n  web:\n    build: .\n    restart: always\n{ports}"


def _messages(root, rule):
    return [f.message for f in audit(root).findings if f.rule == rule]


def test_host_nginx_to_a_port_published_on_all_interfaces(tmp_path):
    write_repo(tmp_path, {"app.py": APP, "Dockerfile": GUNICORN_8000, "deploy/nginx.conf": _host_nginx(),
                          "compose.yaml": _web("    ports:\n      - \"8000:8000\"\n")})
    assert _codes(tmp_path) == [("SC303", "compose.yaml", 6)]  # the published port serves Nginx: no SC302
    message, = _messages(tmp_path, "SC303")
    assert "`web` publishes host port 8000 on all interfaces" in message and "ufw" in message
    assert message.endswith("Publish it on loopback only: `\"127.0.0.1:8000:8000\"`.")
    (tmp_path / "compose.yaml").write_text(_web("    ports:\n      - \"0.0.0.0:8000:8000\"\n"))
    assert _codes(tmp_path) == [("SC303", "compose.yaml", 6)]
    (tmp_path / "compose.yaml").write_text(_web("    ports:\n      - target: 8000\n        published: \"8000\"\n"))
    assert _codes(tmp_path) == [("SC303", "compose.yaml", 6)]
    assert _messages(tmp_path, "SC303")[0].endswith("Publish it on loopback only: `host_ip: 127.0.0.1`.")


def test_host_nginx_to_a_port_published_on_loopback(tmp_path):
    write_repo(tmp_path, {"app.py": APP, "Dockerfile": GUNICORN_8000, "deploy/nginx.conf": _host_nginx(),
                          "compose.yaml": _web("    ports:\n      - \"127.0.0.1:8000:8000\"\n")})
    assert _codes(tmp_path) == []
    (tmp_path / "compose.yaml").write_text(_web("    ports:\n      - target: 8000\n        published: \"8000\"\n"
                                                "        host_ip: 127.0.0.1\n"))
    assert _codes(tmp_path) == []


def test_host_nginx_to_a_port_nothing_serves(tmp_path):
    write_repo(tmp_path, {"app.py": APP, "Dockerfile": GUNICORN_8000, "deploy/nginx.conf": _host_nginx(8001),
                          "compose.yaml": _web("    ports:\n      - \"127.0.0.1:8000:8000\"\n")})
    assert _codes(tmp_path) == [("SC302", "deploy/nginx.conf", 4)]
    message, = _messages(tmp_path, "SC302")
    assert "the containers listen on the host at 127.0.0.1:8000 (`web` publishes)" in message
    # the same port under another host port: the fix names it
    (tmp_path / "deploy/nginx.conf").write_text(_host_nginx(8000))
    (tmp_path / "compose.yaml").write_text(_web("    ports:\n      - \"127.0.0.1:9000:8000\"\n"))
    message, = _messages(tmp_path, "SC302")
    assert "publishes its container port 8000 as host port 9000: point proxy_pass there" in message
    # only `expose:`: the host cannot reach the container port; SC302 says so, SC303 has nothing to say
    (tmp_path / "compose.yaml").write_text(_web("    expose:\n      - \"8000\"\n"))
    assert _codes(tmp_path) == [("SC302", "deploy/nginx.conf", 4)]
    assert "does not publish it on the host" in _messages(tmp_path, "SC302")[0]


def test_host_nginx_unserved_stays_silent_while_something_is_unknown(tmp_path):
    # only a database in Compose: no server of the repository is known to run (SC302's gate, as for
    # a repository without any process), so the port Nginx names may be served from elsewhere
    write_repo(tmp_path, {"deploy/nginx.conf": _host_nginx(8001),
                          "compose.yaml": "services:\n  db:\n    image: postgres:16\n    restart: always\n"
                                          "    ports:\n      - \"127.0.0.1:5432:5432\"\n"})
    assert _codes(tmp_path) == []
    # a Dockerfile no Compose file runs: its `docker run -p` is not read, and may publish 8001
    write_repo(tmp_path, {"app.py": APP, "Dockerfile": GUNICORN_8000,
                          "deploy/app.service": "[Service]\nWorkingDirectory=/srv/app\n"
                                                "ExecStart=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n"})
    (tmp_path / "compose.yaml").unlink()
    assert _codes(tmp_path) == []


def test_host_process_and_a_published_port(tmp_path):
    """Before host_listeners, a host process made SC302 look at host binds only, and it said that a
    published port Nginx proxies to was served by nothing."""
    write_repo(tmp_path, {"app.py": APP, "Dockerfile": GUNICORN_8000, "deploy/nginx.conf": _host_nginx(),
                          "compose.yaml": _web("    ports:\n      - \"127.0.0.1:8000:8000\"\n"),
                          "deploy/worker.service": "[Service]\nWorkingDirectory=/srv/app\n"
                                                   "ExecStart=/srv/app/venv/bin/gunicorn -b 127.0.0.1:9000 app:app\n"})
    assert _codes(tmp_path) == []
    # a host process on the same port is an alternative to the container: SC303 stays silent
    (tmp_path / "compose.yaml").write_text(_web("    ports:\n      - \"8000:8000\"\n"))
    (tmp_path / "deploy/worker.service").write_text("[Service]\nWorkingDirectory=/srv/app\n"
                                                    "ExecStart=/srv/app/venv/bin/gunicorn -b 127.0.0.1:8000 app:app\n")
    assert _codes(tmp_path) == []


def test_nginx_container_by_service_name_is_not_the_host_nginx(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP, "Dockerfile": GUNICORN_8000, "nginx/default.conf": NGINX_TO_BACKEND,
        "compose.yaml": "services:\n  backend:\n    build: .\n    restart: always\n    ports:\n      - \"8000:8000\"\n"
                        "  nginx:\n    image: nginx\n    restart: always\n    ports:\n      - \"80:80\"\n"
                        "    volumes:\n      - ./nginx:/etc/nginx/conf.d\n",
    })
    assert not {code for code, _, _ in _codes(tmp_path)} & {"SC302", "SC303"}


def test_unresolvable_published_port_is_unknown(tmp_path):
    write_repo(tmp_path, {"app.py": APP, "Dockerfile": GUNICORN_8000, "deploy/nginx.conf": _host_nginx(8001),
                          "compose.yaml": _web("    ports:\n      - \"${PORT}:8000\"\n")})
    assert _codes(tmp_path) == []  # ${PORT} may be 8001: no SC302; and no SC303 on an unknown port
    (tmp_path / "deploy/nginx.conf").write_text(_host_nginx(8000))
    assert _codes(tmp_path) == []
    (tmp_path / "compose.yaml").write_text(_web("    ports:\n      - target: 8000\n        published: \"8000\"\n"
                                                "        host_ip: ${BIND_IP}\n"))
    assert _codes(tmp_path) == []  # an unknown host_ip is not "all interfaces"
    write_repo(tmp_path, {".env": "PORT=8000\n", ".dockerignore": ".env\n",
                          "compose.yaml": _web("    ports:\n      - \"${PORT}:8000\"\n")})
    assert _codes(tmp_path) == [("SC303", "compose.yaml", 6)]


def test_a_service_under_a_profile_is_not_reported_by_sc303(tmp_path):
    write_repo(tmp_path, {"app.py": APP, "Dockerfile": GUNICORN_8000, "deploy/nginx.conf": _host_nginx(),
                          "compose.yaml": _web("    profiles: [\"dev\"]\n    ports:\n      - \"8000:8000\"\n")})
    assert _codes(tmp_path) == []


def test_host_listeners_of_published_ports(tmp_path):
    from sc_audit.model.containers import Container, Published, host_listeners
    from sc_audit.span import Span

    span = Span("compose.yaml", 1)
    web = Container("web", "compose.yaml", span, published=[Published(None, "8000-8002", 8000, span),
                                                             Published("127.0.0.1", None, 9000, span),
                                                             Published("127.0.0.1", "1-60000", 1, span)])
    listeners, unknown = host_listeners([web])
    assert [str(h.endpoint) for h in listeners] == ["[::]:8000", "[::]:8001", "[::]:8002"]  # ephemeral: none
    assert unknown == [span]  # a range too wide to read


def test_an_nginx_file_naming_a_service_is_not_the_host_nginx(tmp_path):
    """The Nginx container's mount is commented out: the file still names `web:8000`, which only the
    project's network resolves, so its `localhost:8080` is not the host's either."""
    write_repo(tmp_path, {
        "app.py": APP, "Dockerfile": GUNICORN_8000,
        "compose.yaml": _web("    ports:\n      - \"8000:8000\"\n") + "#  nginx:\n#    image: nginx\n",
        "nginx.conf": "events {}\nhttp {\n  upstream backend {\n    server web:8000;\n  }\n  upstream frontend {\n"
                      "    server localhost:8080;\n  }\n  server {\n    listen 80;\n    location / {\n"
                      "      proxy_pass http://frontend;\n    }\n    location /api {\n      proxy_pass http://backend;\n"
                      "    }\n  }\n}\n",
    })
    assert _codes(tmp_path) == []
    from sc_audit.graph import render_graph

    assert "location /api" in render_graph(audit(tmp_path), "text")  # still drawn


def test_sc401_names_the_container_cpu_limit(tmp_path):
    """`cpus:` is a CFS quota: os.cpu_count() and multiprocessing.cpu_count() still count the host's
    CPUs, so a formula sizes the workers for the host. SC401 fires as before (the config alone); its
    message names the limit when a limited container's Gunicorn reads the config."""
    write_repo(tmp_path, {
        "app.py": APP,
        "gunicorn.conf.py": "import multiprocessing\n\nworkers = multiprocessing.cpu_count() * 2 + 1\n"
                            "bind = \"0.0.0.0:8000\"\n",
        "Dockerfile": "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\n"
                      "CMD [\"gunicorn\", \"-c\", \"gunicorn.conf.py\", \"app:app\"]\n",
        "compose.yaml": _web("    deploy:\n      resources:\n        limits:\n          cpus: \"0.5\"\n"),
    })
    finding, = audit(tmp_path).findings
    assert (finding.rule, finding.span.line) == ("SC401", 3)
    assert "The container `web` is limited to 0.5 CPU (`cpus`)" in finding.message
    assert "on an 8-CPU host that is 17 workers sharing 0.5 CPU" in finding.message
    assert "GUNICORN_WORKERS\", \"2\"" in finding.message
    assert [(r.span.path, r.span.line) for r in finding.related] == [("compose.yaml", 8)]
    (tmp_path / "compose.yaml").write_text(_web(""))
    finding, = audit(tmp_path).findings
    assert finding.rule == "SC401" and "limited" not in finding.message and not finding.related
