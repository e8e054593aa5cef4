"""Compose files merged as Compose merges them (compose-spec 13-merge.md, compose-go override/), and
the `-f` file lists a deployment names as projects of their own (issue #10)."""

from __future__ import annotations

from sc_audit import audit
from sc_audit.model import compose as cf
from sc_audit.parsers import compose
from sc_audit.source import SourceFile

from conftest import write_repo

APP = "from flask import Flask\n\napp = Flask(__name__)\n"
DOCKERFILE = "FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD [\"gunicorn\", \"app:app\"]\n"


def _merged(base: str, over: str, service: str = "web", env: dict | None = None) -> dict:
    files = {"compose.yaml": compose.parse(SourceFile("compose.yaml", "compose", base)),
             "compose.override.yaml": compose.parse(SourceFile("compose.override.yaml", "compose", over))}
    assert not any(f.errors for f in files.values())
    (project,) = cf.projects(files, {})
    assert project.files == ["compose.yaml", "compose.override.yaml"]
    project.env.update(env or {})
    return project.services[service]


def _where(located) -> tuple[str, int]:
    return located.span.path, located.span.line


def _codes(root):
    return sorted((f.rule, f.span.path, f.span.line) for f in audit(root).findings)


def _model(root):
    from sc_audit.discover import discover
    from sc_audit.model import build
    from sc_audit.parsing import parse_file

    found = discover(root)
    return build({src.path: parse_file(src)[0] for src in found.files}, found.all_paths)


# ---------------------------------------------------------------------------- the merge rules


def test_mappings_merge_by_key_recursively_and_keep_each_file_span():
    web = _merged("services:\n  web:\n    image: app\n    user: app\n    deploy:\n      resources:\n"
                  "        limits:\n          cpus: '2'\n          memory: 1g\n",
                  "services:\n  web:\n    user: root\n    deploy:\n      resources:\n        limits:\n"
                  "          memory: 2g\n")
    assert web["image"].value == "app" and _where(web["image"]) == ("compose.yaml", 3)
    assert web["user"].value == "root" and _where(web["user"]) == ("compose.override.yaml", 3)
    limits = web["deploy"]["resources"]["limits"]
    assert (limits["cpus"].value, _where(limits["cpus"])) == ("2", ("compose.yaml", 8))
    assert (limits["memory"].value, _where(limits["memory"])) == ("2g", ("compose.override.yaml", 7))
    assert compose.key_span(web, "user").path == "compose.override.yaml"
    assert compose.key_span(web, "image").path == "compose.yaml"


def test_command_entrypoint_and_healthcheck_test_are_replaced_not_appended():
    web = _merged("services:\n  web:\n    image: app\n    command: [gunicorn, -b, '0.0.0.0:8000', app:app]\n"
                  "    entrypoint: [tini, --]\n    healthcheck:\n      test: [CMD, curl, -f, http://localhost]\n"
                  "      interval: 10s\n",
                  "services:\n  web:\n    command: gunicorn -b 127.0.0.1:8000 app:app\n    entrypoint: [dumb-init]\n"
                  "    healthcheck:\n      test: [CMD, wget, -q, http://localhost]\n")
    assert web["command"].value == "gunicorn -b 127.0.0.1:8000 app:app"
    assert _where(web["command"]) == ("compose.override.yaml", 3)
    assert [w.value for w in web["entrypoint"]] == ["dumb-init"]
    assert [w.value for w in web["healthcheck"]["test"]] == ["CMD", "wget", "-q", "http://localhost"]
    assert web["healthcheck"]["interval"].value == "10s" and _where(web["healthcheck"]["interval"])[0] == "compose.yaml"


def test_ports_are_merged_one_entry_per_identity():
    web = _merged("services:\n  web:\n    image: app\n    ports:\n      - '8000:8000'\n      - '9000:9000'\n",
                  "services:\n  web:\n    ports:\n      - '0.0.0.0:8000:8000'\n      - '127.0.0.1:9000:9000'\n"
                  "      - target: 9100\n        published: '9100'\n")
    assert [(p.value if hasattr(p, "value") else p["target"].value, _where(p) if hasattr(p, "value") else None)
            for p in web["ports"]] == [
        ("0.0.0.0:8000:8000", ("compose.override.yaml", 4)),  # the same {ip, published, target, protocol}
        ("9000:9000", ("compose.yaml", 6)),
        ("127.0.0.1:9000:9000", ("compose.override.yaml", 5)),  # another host address: another entry
        ("9100", None),
    ]


def test_expose_appends_uniquely_and_volumes_are_unique_by_container_path():
    web = _merged("services:\n  web:\n    image: app\n    expose: ['8000', '9000']\n    volumes:\n"
                  "      - .:/app\n      - data:/data\n",
                  "services:\n  web:\n    expose: ['9000', '9100']\n    volumes:\n      - ./web:/app/\n"
                  "      - type: bind\n        source: ./logs\n        target: /logs\n")
    assert [e.value for e in web["expose"]] == ["8000", "9000", "9100"]
    volumes = web["volumes"]
    assert volumes[0].value == "./web:/app/" and _where(volumes[0]) == ("compose.override.yaml", 5)
    assert volumes[1].value == "data:/data" and volumes[2]["target"].value == "/logs" and len(volumes) == 3


def test_environment_merges_by_variable_in_both_forms():
    both_maps = _merged("services:\n  web:\n    image: app\n    environment:\n      A: '1'\n      B: '2'\n",
                        "services:\n  web:\n    environment:\n      B: '3'\n      C:\n")
    env = both_maps["environment"]
    assert [(k, env[k].value) for k in compose.keys(env)] == [("A", "1"), ("B", "3"), ("C", None)]
    assert _where(env["A"])[0] == "compose.yaml" and _where(env["B"])[0] == "compose.override.yaml"
    mixed = _merged("services:\n  web:\n    image: app\n    environment:\n      - A=1\n      - B=2\n",
                    "services:\n  web:\n    environment:\n      B: '3'\n      D: x\n")["environment"]
    assert [(e.value, _where(e)) for e in mixed] == [("A=1", ("compose.yaml", 5)), ("B=3", ("compose.override.yaml", 4)),
                                                     ("D=x", ("compose.override.yaml", 5))]
    lists = _merged("services:\n  web:\n    image: app\n    environment: [A=1, B=2]\n",
                    "services:\n  web:\n    environment: [A=9]\n")["environment"]
    assert [e.value for e in lists] == ["B=2", "A=9"]
    assert {k: v.value for k, v in cf.mapping(lists, {}).items()} == {"B": "2", "A": "9"}


def test_networks_depends_on_build_env_file_and_profiles():
    web = _merged("services:\n  web:\n    build: .\n    networks: [front]\n    depends_on: [db]\n"
                  "    env_file: a.env\n    profiles: [prod]\n",
                  "services:\n  web:\n    build:\n      dockerfile: Dockerfile.prod\n    networks:\n      back:\n"
                  "        aliases: [api]\n    depends_on:\n      cache:\n        condition: service_healthy\n"
                  "    env_file: [a.env, b.env]\n    profiles: [prod, web]\n")
    assert web["build"]["context"].value == "." and web["build"]["dockerfile"].value == "Dockerfile.prod"
    assert [name for name, _ in cf.names(web["networks"])] == ["front", "back"]
    assert compose.key_span(web["networks"], "front").path == "compose.yaml"
    assert [name for name, _ in cf.names(web["depends_on"])] == ["db", "cache"]
    assert [e.value for e in web["env_file"]] == ["a.env", "b.env"]
    assert [p.value for p in web["profiles"]] == ["prod", "web"]


def test_reset_removes_and_override_replaces():
    base = ("services:\n  web:\n    image: app\n    ports: ['8000:8000']\n    environment:\n      FOO: bar\n"
            "      KEEP: x\n    command: [a]\n  old:\n    image: old\n")
    web = _merged(base, "services:\n  web:\n    ports: !reset []\n    environment:\n      FOO: !reset null\n"
                        "  old: !reset {}\n")
    assert "ports" not in web and compose.key_span(web, "ports") is None
    assert compose.keys(web["environment"]) == ["KEEP"]
    replaced = _merged(base, "services:\n  web:\n    ports: !override\n      - '8443:443'\n")
    assert [p.value for p in replaced["ports"]] == ["8443:443"] and _where(replaced["ports"][0])[0] == "compose.override.yaml"
    files = {"compose.yaml": compose.parse(SourceFile("compose.yaml", "compose", base)),
             "compose.override.yaml": compose.parse(SourceFile("compose.override.yaml", "compose", "services:\n"
                                                                "  old: !reset {}\n"))}
    assert sorted(cf.projects(files, {})[0].services) == ["web"]


def test_merging_does_not_change_the_parsed_files():
    base = compose.parse(SourceFile("compose.yaml", "compose", "services:\n  web:\n    image: app\n    ports: ['80:80']\n"))
    over = compose.parse(SourceFile("compose.override.yaml", "compose", "services:\n  web:\n    ports: ['81:81']\n"))
    cf.projects({"compose.yaml": base, "compose.override.yaml": over}, {})
    assert [p.value for p in base.root["services"]["web"]["ports"]] == ["80:80"]
    assert [p.value for p in over.root["services"]["web"]["ports"]] == ["81:81"]


# ---------------------------------------------------------------------------- repositories


def test_override_ports_no_longer_lose_the_base_ports(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP,
        "Dockerfile": DOCKERFILE,
        "compose.yaml": "services:\n  web:\n    build: .\n    restart: always\n    ports:\n      - \"8000:8000\"\n",
        "compose.override.yaml": "services:\n  web:\n    command: gunicorn -b 127.0.0.1:8000 app:app\n"
                                 "    ports:\n      - \"8001:8000\"\n",
    })
    (web,) = _model(tmp_path).containers
    assert [(p.host_port, p.span.path) for p in web.published] == [("8000", "compose.yaml"), ("8001", "compose.override.yaml")]
    # the base file publishes 8000, where the override's command binds loopback only
    assert _codes(tmp_path) == [("SC701", "compose.override.yaml", 3)]


BASE = ("services:\n  web:\n    build: .\n    restart: always\n    command: gunicorn -b {bind}:8000 app:app\n"
        "    ports:\n      - \"8000:8000\"\n")
PROD = "services:\n  web:\n    build: .\n    command: gunicorn -b {bind}:8000 app:app\n"
DEPLOY = "#!/bin/bash\nset -e\ncd \"$(dirname \"$0\")\"\n{compose}\n"


def test_deploy_f_files_are_one_project_and_findings_follow_the_merged_result(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP, "Dockerfile": DOCKERFILE,
        "docker-compose.yml": BASE.format(bind="0.0.0.0"),
        "docker-compose.prod.yml": PROD.format(bind="127.0.0.1"),
        "deploy.sh": DEPLOY.format(compose="docker compose -f docker-compose.yml -f docker-compose.prod.yml up -d\n"
                                           "curl -fsS http://127.0.0.1:8000/"),
    })
    # prod's command binds loopback; the base file publishes the port: the merged project is broken
    assert _codes(tmp_path) == [("SC701", "docker-compose.prod.yml", 4)]
    (web,) = _model(tmp_path).containers
    assert web.compose_files == ("docker-compose.yml", "docker-compose.prod.yml")
    assert web.project == "docker-compose.yml + docker-compose.prod.yml"

    # the other way round: the base alone binds loopback, prod fixes it; the deploy runs both
    (tmp_path / "docker-compose.yml").write_text(BASE.format(bind="127.0.0.1"))
    (tmp_path / "docker-compose.prod.yml").write_text(PROD.format(bind="0.0.0.0"))
    assert _codes(tmp_path) == []
    # without the deploy naming its files, the base file is a project of its own and fires
    (tmp_path / "deploy.sh").write_text(DEPLOY.format(compose="docker compose up -d\ncurl -fsS http://127.0.0.1:8000/"))
    assert ("SC701", "docker-compose.yml", 5) in _codes(tmp_path)


def test_f_spellings_compose_file_and_unknown_paths():
    def files(line, exported=""):
        return cf.invocation(tuple(line.split()), (), exported).files

    assert files("docker compose -f a.yml -f b.yml up -d") == ("a.yml", "b.yml")
    assert files("docker-compose --file a.yml --file=b.yml -fc.yml up") == ("a.yml", "b.yml", "c.yml")
    assert files("sudo COMPOSE_FILE=a.yml:b.yml docker compose up") == ("a.yml", "b.yml")
    assert files("docker compose -p x up") == ()
    assert files("docker compose up", exported="a.yml:b.yml") == ("a.yml", "b.yml")
    assert files("docker compose -f a.yml up", exported="x.yml") == ("a.yml",)  # -f wins over COMPOSE_FILE
    assert files("docker compose -f $FILE up") is None
    assert files("docker compose -f - up") is None
    assert files("docker compose up", exported=None) is None
    assert cf.invocation(("docker", "compose", "-f", "a.yml", "-f", "b.yml", "up"), (False, False, False, False, False,
                                                                                      True, False)).files is None


def test_named_projects_from_scripts_workflows_and_units(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP, "Dockerfile": DOCKERFILE,
        "deploy/docker-compose.yml": BASE.format(bind="0.0.0.0").replace("build: .", "build: .."),
        "deploy/prod.yml": PROD.format(bind="127.0.0.1").replace("build: .", "build: .."),
        "deploy/run.sh": "#!/bin/bash\nset -e\nexport COMPOSE_FILE=docker-compose.yml:prod.yml\n"
                         "cd \"$(dirname \"$0\")\"\ndocker compose up -d --build\ncurl -fsS http://127.0.0.1:8000/\n",
    })
    model = _model(tmp_path)
    assert cf.compose_runs(model).named == (("deploy/docker-compose.yml", "deploy/prod.yml"),)
    assert [c.compose_files for c in model.containers] == [("deploy/docker-compose.yml", "deploy/prod.yml")]
    assert _codes(tmp_path) == [("SC701", "deploy/prod.yml", 4)]

    # a unit whose WorkingDirectory the install map knows (the deploy pulls the checkout there)
    write_repo(tmp_path, {
        "deploy/run.sh": "#!/bin/bash\nset -e\ncd /srv/app\ngit pull\nsudo systemctl restart app\n",
        "deploy/app.service": "[Unit]\nDescription=app\n[Service]\nWorkingDirectory=/srv/app/deploy\n"
                              "ExecStart=/usr/bin/docker compose -f docker-compose.yml -f prod.yml up\n"
                              "[Install]\nWantedBy=multi-user.target\n",
    })
    model = _model(tmp_path)
    assert cf.compose_runs(model).named == (("deploy/docker-compose.yml", "deploy/prod.yml"),)

    # a file the repository does not have, or one named by a variable: no project from that command
    (tmp_path / "deploy/app.service").write_text(
        "[Service]\nWorkingDirectory=/srv/app/deploy\nExecStart=/usr/bin/docker compose -f docker-compose.yml "
        "-f missing.yml up\n")
    model = _model(tmp_path)
    assert cf.compose_runs(model).named == ()
    # the guessed projects stand (prod.yml has `build:`, so it is not an overlay)
    assert sorted(c.compose_files for c in model.containers) == [("deploy/docker-compose.yml",), ("deploy/prod.yml",)]
    (tmp_path / "deploy/app.service").write_text(
        "[Service]\nWorkingDirectory=/srv/app/deploy\nExecStart=/usr/bin/docker compose -f $FILE up\n")
    assert cf.compose_runs(_model(tmp_path)).named == ()


def test_a_default_start_in_the_same_folder_keeps_the_default_project(tmp_path):
    write_repo(tmp_path, {
        "app.py": APP, "Dockerfile": DOCKERFILE,
        "docker-compose.yml": BASE.format(bind="0.0.0.0"),
        "docker-compose.prod.yml": PROD.format(bind="0.0.0.0"),
        "deploy.sh": DEPLOY.format(compose="docker compose -f docker-compose.yml -f docker-compose.prod.yml up -d\n"
                                           "docker compose restart web"),
    })
    projects = sorted(c.compose_files for c in _model(tmp_path).containers)
    assert projects == [("docker-compose.yml",), ("docker-compose.yml", "docker-compose.prod.yml")]
