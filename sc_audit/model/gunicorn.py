"""Gunicorn's effective settings and binds per process, and the WSGI targets of the deployment."""

from __future__ import annotations

import posixpath
import re

from .. import commands as cmd
from ..span import Span, Unknown
from .install import repo_dir, repo_file
from ..servers import bind_variables, server_binds
from .network import Endpoint, parse_endpoint
from .processes import split_words
from .records import Deployment, Process, Setting, WsgiTarget


DEFAULT_CONFIG = "gunicorn.conf.py"
# What a config we could not read may set: each is Unknown then, so that no rule assumes its default.
UNREAD_SETTINGS = ("bind", "workers", "threads", "worker_class", "timeout", "graceful_timeout", "keepalive",
                   "proc_name", "daemon", "pidfile", "max_requests", "worker_connections", "preload_app")


def resolve_gunicorn(model: Deployment, process: Process) -> None:
    """Effective Gunicorn settings, merged as Gunicorn merges them.

    Defaults < config file (-c, else ./gunicorn.conf.py in the working directory)
    < GUNICORN_CMD_ARGS < command line (gunicorn/app/base.py, Application.load_config).
    """
    launch = process.launch
    if launch is None or launch.gunicorn is None:
        return
    args = launch.gunicorn
    base = process.cwd if process.cwd is not None else ""
    if process.cwd is None and process.manager == "supervisor":
        base = None  # supervisord's own working directory: what `./gunicorn.conf.py` is, is unknown
    chdir = args.settings.get("chdir")
    if isinstance(chdir, str) and (base is not None or chdir.startswith("/")):
        base = repo_dir(model, chdir, base or "") or base
    env_args = cmd.parse_gunicorn_args(split_words(process.env["GUNICORN_CMD_ARGS"])) \
        if isinstance(process.env.get("GUNICORN_CMD_ARGS"), str) else cmd.GunicornArgs()
    config_name = args.config or env_args.config
    if config_name and config_name.startswith("file:"):
        config_name = config_name[5:]  # gunicorn/config.py ConfigFile: `PATH`, `file:PATH` or `python:MODULE`
    config_path = None
    unread = False  # a config Gunicorn reads but we cannot: its settings are unknown, never defaults
    if config_name:
        if config_name.startswith("python:"):
            unread = True
        else:
            config_path = repo_file(model, config_name, base)
            if config_name.startswith("/") and (config_path is None or config_path not in model.gunicorn_configs):
                config_path, unread = None, True
            elif config_path is None and base is None:
                unread = True  # relative to a working directory we do not know
    elif base is None:
        unread, config_name = True, f"./{DEFAULT_CONFIG} of a working directory the repository does not tell"
    else:
        candidate = posixpath.join(base, DEFAULT_CONFIG) if base else DEFAULT_CONFIG
        config_path = candidate if candidate in model.root_paths else None
    process.config_path = config_path
    config = model.gunicorn_configs.get(config_path) if config_path else None
    settings: dict[str, Setting] = {}
    if config is not None:
        for name, value in config.settings.items():
            settings[name] = Setting(name, value.value, value.span, "config", value.cpu_formula,
                                     value.env, value.capped)
    elif unread:
        for name in UNREAD_SETTINGS:
            settings[name] = Setting(name, Unknown(f"set in `{config_name}`, which is not read"), None, "config")
    for source, parsed in (("GUNICORN_CMD_ARGS", env_args), ("command line", args)):
        span = process.span
        for name, value in parsed.settings.items():
            settings[name] = Setting(name, _number(value), span, source)
        if parsed.binds:
            settings["bind"] = Setting("bind", list(parsed.binds), span, source)
        if parsed.target:
            settings["wsgi_app"] = Setting("wsgi_app", parsed.target, span, source)
    process.settings = settings
    target = settings.get("wsgi_app")
    if target is not None and isinstance(target.value, str) and target.span is not None:
        # the module is imported from the working directory (gunicorn puts it on sys.path),
        # also when the target is written in a config file elsewhere
        process.wsgi = WsgiTarget(target.value, target.span, base, target.source)


def _number(value: object) -> object:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return value


def resolve_binds(model: Deployment, process: Process) -> None:
    launch = process.launch
    if launch is None:
        return
    port_env = process.env.get("PORT")
    if launch.gunicorn is not None:
        bind = process.settings.get("bind")
        if bind is None and process.manager == "implied":
            process.binds_known = False  # its launcher (unknown) may pass -b
        elif bind is None and launch.runner is not None and launch.runner.loads_env_file:
            process.binds_known = False  # the runner's env file may set PORT
        elif bind is None:
            # gunicorn/config.py Bind: 0.0.0.0:$PORT when PORT is set, else 127.0.0.1:8000
            text = f"0.0.0.0:{port_env}" if port_env is not None else "127.0.0.1:8000"
            _add_bind(process, text, None)
        elif isinstance(bind.value, str):
            _add_bind(process, bind.value, bind.span)
        elif isinstance(bind.value, list):
            for item in bind.value:
                if isinstance(item, str):
                    _add_bind(process, item, bind.span)
                else:
                    process.binds_known = False
        else:
            process.binds_known = False
    elif launch.server is not None:
        texts = server_binds_of(model, process)
        if texts is None:
            process.binds_known = False
        for text in texts or ():
            _add_bind(process, text, process.span)
    elif launch.program == "python" and launch.script:
        module = model.module_paths.get(_join(process.cwd, launch.script))
        if module is not None:
            for run in module.runs:
                host = run.host.value if run.host else "127.0.0.1"
                port = run.port.value if run.port else 5000
                if isinstance(host, str) and isinstance(port, (int, str)):
                    _add_bind(process, f"{host}:{port}", run.span)
    elif launch.program in ("node", "npm") and isinstance(port_env, (int, str)) and str(port_env).isdigit():
        # the program reads PORT; on which address it listens is in code we do not read
        process.binds.append((Endpoint(host=None, port=int(port_env)), _env_span(process, "PORT")))


def server_binds_of(model: Deployment, process: Process) -> tuple[str, ...] | None:
    """Where a uvicorn/hypercorn/waitress/daphne/`flask run`/`runserver` process listens (servers.py),
    with the environment its manager gives it; None when unknown.

    Unknown, never a default, when a variable that moves the bind may be set where we cannot read:
    the runner loads an env file (`pipenv run` reads `.env`, `uv run --env-file`), or `flask run`
    has a `.flaskenv`/`.env` beside it (Flask loads them with python-dotenv). False-alarm risk
    accepted: a systemd `EnvironmentFile=` that sets UVICORN_PORT is not read (as for Gunicorn's PORT).
    """
    launch = process.launch
    server = launch.server
    variables = bind_variables(server)
    if variables and launch.runner is not None and launch.runner.loads_env_file:
        return None
    if server.kind == "flask-dev" and variables:
        base = process.cwd or ""
        if any(posixpath.join(base, name) in model.root_paths for name in (".flaskenv", ".env")):
            return None
    if any(isinstance(process.env.get(name), Unknown) for name in variables):
        return None
    env = {k: v for k, v in process.env.items() if isinstance(v, str)}
    return server_binds(server, env)


def _env_span(process: Process, name: str) -> Span:
    if process.pm2 is not None:
        for key in ("env", "env_production"):
            located = process.pm2.fields.get(key)
            if located is not None:
                return located.span
    return process.span


def _add_bind(process: Process, text: str, span: Span | None) -> None:
    endpoint = parse_endpoint(str(text))
    if endpoint is not None:
        process.binds.append((endpoint, span))
    else:
        process.binds_known = False


def _join(base: str | None, rel: str) -> str:
    if rel.startswith("/"):
        return rel
    return posixpath.normpath(posixpath.join(base or "", rel))


def collect_targets(model: Deployment) -> None:
    """Every WSGI target: of each Gunicorn process, and of each config no process reads."""
    seen: set[tuple] = set()
    used_configs = {p.config_path for p in model.processes if p.config_path}
    for process in model.processes:
        if process.wsgi is not None:
            key = (process.wsgi.text, process.wsgi.span)
            if key not in seen:
                seen.add(key)
                model.wsgi_targets.append(process.wsgi)
    for path, config in sorted(model.gunicorn_configs.items()):
        if path in used_configs:
            continue
        value = config.settings.get("wsgi_app")
        if value is not None and isinstance(value.value, str):
            key = (value.value, value.span)
            if key not in seen:
                seen.add(key)
                model.wsgi_targets.append(WsgiTarget(value.value, value.span, posixpath.dirname(path), "config"))


def implied_processes(model: Deployment, cwds: list) -> list[Process]:
    """A root `gunicorn.conf.py` (or a config a deploy command names with `-c`) that no process of
    the deployment reads is a Gunicorn process whose launcher lives on the server: Gunicorn reads
    `./gunicorn.conf.py` from its working directory (gunicorn/config.py: `ConfigFile.default` and
    `get_default_config_file()`, which joins `os.getcwd()`). Its bind, timeout and workers join the Nginx and capacity rules;
    its bind is unknown when the config sets none (the launcher may pass `-b`).

    Never a second copy: when any Gunicorn process reads a config we could not tell, or a
    Dockerfile or compose file may be the launcher (a container binds 0.0.0.0 on purpose), none.
    False-alarm risk: a config kept in the repository that no host uses.
    """
    gunicorns = [p for p in model.processes if p.launch is not None and p.launch.gunicorn is not None]
    if any(p.config_path is None for p in gunicorns) or any(_container_file(path) for path in model.root_paths):
        return []
    read = {p.config_path for p in gunicorns}
    named = {DEFAULT_CONFIG}
    for step, here in zip(model.steps, cwds):
        launch = step.meaning
        if isinstance(launch, cmd.Launch) and launch.gunicorn is not None and launch.gunicorn.config and \
                not launch.gunicorn.config.startswith("python:"):
            base = here.repo if here.repo is not None else (repo_dir(model, here.host, "") if here.host else "")
            path = repo_file(model, launch.gunicorn.config, base)
            if path is not None:
                named.add(path)
    implied = []
    for path in sorted(named - read):
        if path not in model.gunicorn_configs or model.gunicorn_configs[path].errors:
            continue  # a config we could not read implies nothing we could say
        argv = ("gunicorn", "-c", posixpath.basename(path))
        launch = cmd.interpret(argv)
        implied.append(Process(name=f"gunicorn -c {path}", manager="implied", span=Span(path, 1, 1), argv=argv,
                               launch=launch if isinstance(launch, cmd.Launch) else None,
                               cwd=posixpath.dirname(path)))
    return implied


def _container_file(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return name.startswith(("dockerfile", "containerfile")) or name.endswith(".dockerfile") or \
        name in ("docker-compose.yml", "docker-compose.yaml", "compose.yml", "compose.yaml")
