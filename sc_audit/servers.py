"""Python web servers other than Gunicorn, and the runners that start them, read from a command line.

Each parser follows the server's own command line (versions read: uvicorn 0.54.0 `uvicorn/main.py`
and `config.py`, hypercorn 0.18.0 `hypercorn/__main__.py` and `config.py`, waitress 3.0.2
`waitress/adjustments.py` and `runner.py`, daphne 4.2.3 `daphne/cli.py`, Flask 3.1 `flask/cli.py`,
Django's `runserver` command). The result says which server runs, its app target, and where it
listens: `binds` is None when that is not known (a config file, a file descriptor, a variable),
never a guessed default. Runners (`uv run`, `pipenv run`, `poetry run`) are taken off the front;
the command they run is read the same way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEV_SERVERS = ("flask-dev", "django-dev")


@dataclass(frozen=True, slots=True)
class ServerArgs:
    """A non-Gunicorn server's command line, as that server reads it."""

    kind: str  # "uvicorn" | "hypercorn" | "waitress" | "daphne" | "flask-dev" | "django-dev"
    target: str | None = None  # the app: "main:app", "project.asgi:application"; None when unknown
    factory: bool | None = False  # True: called to make the app; None: called if it is a zero-argument callable
    app_dir: str | None = None  # uvicorn --app-dir: put on sys.path before importing the target
    options: tuple[tuple[str, str], ...] = ()  # the options that decide the bind (and hypercorn's pidfile)
    config: str | None = None  # hypercorn -c: a file we do not read
    workers: str | None = None
    reload: bool = False

    @property
    def dev_server(self) -> bool:
        """Flask's and Django's development servers: not meant for production (their own docs say so)."""
        return self.kind in DEV_SERVERS

    def option(self, *names: str) -> str | None:
        found = None
        for name, value in self.options:
            if name in names:
                found = value  # the last one wins (click, argparse and getopt agree)
        return found

    def all_of(self, *names: str) -> list[str]:
        return [value for name, value in self.options if name in names]


# ---------------------------------------------------------------------------- runners

# `uv run` options that take a value (uv's `RunArgs`); everything else before the command is a flag.
UV_RUN_VALUES = frozenset({"--with", "--with-editable", "--with-requirements", "--python", "-p", "--directory",
                           "--project", "--env-file", "--package", "--extra", "--group", "--only-group", "--no-group",
                           "--index", "--default-index", "--index-url", "-i", "--extra-index-url", "--find-links",
                           "-f", "--cache-dir", "--config-file", "--index-strategy", "--keyring-provider",
                           "--resolution", "--prerelease", "--link-mode", "--refresh-package", "--reinstall-package",
                           "--upgrade-package", "-P", "--python-platform", "--color", "--allow-insecure-host",
                           "--exclude-newer", "--no-binary-package", "--no-build-package", "--config-setting", "-C"})
POETRY_RUN_VALUES = frozenset({"-C", "--directory", "-P", "--project", "-v"})
RUNNERS = {"uv": UV_RUN_VALUES, "pipenv": frozenset(), "poetry": POETRY_RUN_VALUES}
# How each runner starts the command (their sources): poetry `Env.execute` and pipenv `do_run_posix` exec
# it in place (os.execvpe / os.execve); `uv run` spawns it as a child and stays as its parent.
RUNNER_EXECS = {"uv": False, "pipenv": True, "poetry": True}


@dataclass(frozen=True, slots=True)
class Runner:
    name: str  # "uv run" | "pipenv run" | "poetry run"
    argv: tuple[str, ...]  # the runner's own words, up to the command
    execs: bool  # True: the command replaces the runner's process; False: the runner stays as its parent
    loads_env_file: bool  # pipenv loads `.env`; `uv run --env-file`: variables we cannot read


def split_runner(argv: tuple[str, ...]) -> tuple[Runner | None, tuple[str, ...]]:
    """`uv run [opts] [--] CMD…`, `pipenv run CMD…`, `poetry run [opts] CMD…` -> (runner, CMD…).
    `uv run -m MODULE` runs `python -m MODULE`. (None, argv) for anything else."""
    if len(argv) < 2 or _base(argv[0]) not in RUNNERS or argv[1] != "run":
        return None, argv
    tool = _base(argv[0])
    values = RUNNERS[tool]
    i = 2
    module = False
    env_file = tool == "pipenv"
    while i < len(argv) and argv[i].startswith("-"):
        word = argv[i]
        if word == "--":
            i += 1
            break
        if tool == "uv" and word in ("-m", "--module"):
            module = True
            i += 1
            break
        if word.split("=", 1)[0] == "--env-file":
            env_file = True
        i += 2 if word in values else 1
    rest = argv[i:]
    if not rest:
        return None, argv
    if module:
        rest = ("python", "-m", *rest)
    runner = Runner(f"{tool} run", tuple(argv[:i]), RUNNER_EXECS[tool], env_file)
    return runner, tuple(rest)


def _base(word: str) -> str:
    return word.rstrip("/").rsplit("/", 1)[-1]


# ---------------------------------------------------------------------------- option reading


def read_options(args, values: frozenset[str], flags: frozenset[str] = frozenset()):
    """(options [(name, value)], positionals, flags seen) of a command line: `--x=v`, `--x v`,
    `-xv` for one-letter options that take a value. Unknown options count as flags."""
    options: list[tuple[str, str]] = []
    positionals: list[str] = []
    seen: set[str] = set()
    i = 0
    while i < len(args):
        word = args[i]
        name, eq, inline = word.partition("=")
        if word == "--":
            positionals += list(args[i + 1:])
            break
        if word.startswith("--") and eq and name in values:
            options.append((name, inline))
        elif word in values and i + 1 < len(args):
            options.append((word, args[i + 1]))
            i += 1
        elif len(word) > 2 and word[:2] in values and not word.startswith("--"):
            options.append((word[:2], word[2:]))
        elif word.startswith("-") and len(word) > 1:
            seen.add(name)
        else:
            positionals.append(word)
        i += 1
    return options, positionals, seen | (flags & set(args))


# uvicorn 0.54.0 `uvicorn/main.py`: every option that takes a value (the rest are flags)
UVICORN_VALUES = frozenset({
    "--app-dir", "--backlog", "--env-file", "--fd", "--forwarded-allow-ips", "--h11-max-incomplete-event-size",
    "--header", "--host", "--http", "--interface", "--lifespan", "--limit-concurrency", "--limit-max-requests",
    "--limit-max-requests-jitter", "--log-config", "--log-level", "--loop", "--port", "--reload-delay",
    "--reload-dir", "--reload-exclude", "--reload-include", "--root-path", "--ssl-ca-certs", "--ssl-cert-reqs",
    "--ssl-certfile", "--ssl-ciphers", "--ssl-keyfile", "--ssl-keyfile-password", "--ssl-version",
    "--timeout-graceful-shutdown", "--timeout-keep-alive", "--timeout-worker-healthcheck", "--uds", "--workers",
    "--ws", "--ws-max-queue", "--ws-max-size", "--ws-per-message-deflate", "--ws-ping-interval", "--ws-ping-timeout",
})
# hypercorn 0.18.0 `hypercorn/__main__.py`
HYPERCORN_VALUES = frozenset({
    "--access-log", "--access-logfile", "--access-logformat", "--backlog", "--bind", "--ca-certs", "--cert-reqs",
    "--certfile", "--ciphers", "--config", "--error-log", "--error-logfile", "--graceful-timeout", "--group",
    "--insecure-bind", "--keep-alive", "--keyfile", "--keyfile-password", "--log-config", "--log-file",
    "--log-level", "--max-requests", "--max-requests-jitter", "--pid", "--quic-bind", "--read-timeout",
    "--root-path", "--server-name", "--statsd-host", "--statsd-prefix", "--umask", "--user", "--verify-mode",
    "--websocket-ping-interval", "--worker-class", "--workers", "-b", "-c", "-g", "-k", "-m", "-p", "-u", "-w",
})
# daphne 4.2.3 `daphne/cli.py`
DAPHNE_VALUES = frozenset({
    "--access-log", "--application-close-timeout", "--bind", "--endpoint", "--fd", "--http-timeout", "--log-fmt",
    "--ping-interval", "--ping-timeout", "--port", "--proxy-headers-host", "--proxy-headers-port", "--root-path",
    "--server-name", "--unix-socket", "--verbosity", "--websocket-max-frame-size", "--websocket-max-message-size",
    "--websocket_connect_timeout", "--websocket_timeout", "-b", "-e", "-p", "-s", "-t", "-u", "-v",
})
# waitress 3.0.2 `Adjustments._params` (getopt long options; the non-boolean ones take a value)
WAITRESS_VALUES = frozenset({
    "--asyncore-loop-timeout", "--backlog", "--channel-request-lookahead", "--channel-timeout", "--cleanup-interval",
    "--connection-limit", "--host", "--ident", "--inbuf-overflow", "--listen", "--max-request-body-size",
    "--max-request-header-size", "--outbuf-high-watermark", "--outbuf-overflow", "--port", "--recv-bytes",
    "--send-bytes", "--server-name", "--sockets", "--threads", "--trusted-proxy", "--trusted-proxy-count",
    "--trusted-proxy-headers", "--unix-socket", "--unix-socket-perms", "--url-prefix", "--url-scheme",
})
# Flask 3.1 `flask/cli.py`: the group's options and `run`'s
FLASK_VALUES = frozenset({"--app", "-A", "--env-file", "-e", "--host", "-h", "--port", "-p", "--cert", "--key",
                          "--extra-files", "--exclude-patterns"})
# Django `runserver` (and the options every management command takes)
DJANGO_VALUES = frozenset({"--settings", "--pythonpath", "--verbosity", "-v"})
BIND_OPTIONS = frozenset({"--host", "--port", "--uds", "--fd", "--bind", "-b", "--insecure-bind", "-p", "-u",
                          "--unix-socket", "--endpoint", "-e", "--listen", "-h", "--pid"})


def _bind_options(options) -> tuple[tuple[str, str], ...]:
    return tuple((name, value) for name, value in options if name in BIND_OPTIONS)


def parse_uvicorn(args) -> ServerArgs:
    """`uvicorn [options] APP`. Without `--factory` uvicorn still calls the target when calling it
    with no argument works (uvicorn/config.py `Config.load`: a TypeError means it is the app; else
    'ASGI app factory detected … consider setting the --factory flag')."""
    options, positionals, flags = read_options(args, UVICORN_VALUES)
    app_dir = next((v for n, v in reversed(options) if n == "--app-dir"), None)
    workers = next((v for n, v in reversed(options) if n == "--workers"), None)
    return ServerArgs("uvicorn", positionals[0] if positionals else None, True if "--factory" in flags else None,
                      app_dir, _bind_options(options), None, workers, "--reload" in flags)


def parse_hypercorn(args) -> ServerArgs:
    options, positionals, flags = read_options(args, HYPERCORN_VALUES)
    config = next((v for n, v in reversed(options) if n in ("-c", "--config")), None)
    workers = next((v for n, v in reversed(options) if n in ("-w", "--workers")), None)
    return ServerArgs("hypercorn", positionals[0] if positionals else None, False, None, _bind_options(options),
                      config, workers, "--reload" in flags)


def parse_waitress(args) -> ServerArgs:
    options, positionals, flags = read_options(args, WAITRESS_VALUES)
    return ServerArgs("waitress", positionals[0] if positionals else None, "--call" in flags, None,
                      _bind_options(options))


def parse_daphne(args) -> ServerArgs:
    options, positionals, _ = read_options(args, DAPHNE_VALUES)
    return ServerArgs("daphne", positionals[0] if positionals else None, False, None, _bind_options(options))


def parse_flask_run(args) -> ServerArgs | None:
    """`flask [--app X] [--debug] run [--host H] [--port P] [--reload]`; None for other flask commands."""
    options, positionals, flags = read_options(args, FLASK_VALUES)
    if not positionals or positionals[0] != "run":
        return None
    target = next((v for n, v in reversed(options) if n in ("--app", "-A")), None)
    reload = bool(flags & {"--debug", "--reload"}) and "--no-reload" not in flags
    return ServerArgs("flask-dev", target, None, None, _bind_options(options), None, None, reload)


def parse_runserver(args) -> ServerArgs | None:
    """`manage.py runserver [ADDRPORT]` (or `django-admin runserver`); None for other commands."""
    options, positionals, flags = read_options(args, DJANGO_VALUES)
    if not positionals or positionals[0] != "runserver":
        return None
    addrport = positionals[1] if len(positionals) > 1 else None
    bound = (("addrport", addrport),) if addrport else ()
    if flags & {"--ipv6", "-6"}:
        bound += (("ipv6", "1"),)
    return ServerArgs("django-dev", None, False, None, bound, None, None, "--noreload" not in flags)


# ---------------------------------------------------------------------------- binds


def server_binds(server: ServerArgs, env: dict) -> tuple[str, ...] | None:
    """Where the server listens, as endpoint texts (`127.0.0.1:8000`, `[::]:80`, `unix:/run/x.sock`),
    with `env` the process's known environment; None when it is not known."""
    reader = {"uvicorn": _uvicorn_binds, "hypercorn": _hypercorn_binds, "waitress": _waitress_binds,
              "daphne": _daphne_binds, "flask-dev": _flask_binds, "django-dev": _django_binds}[server.kind]
    return reader(server, env)


def bind_variables(server: ServerArgs) -> tuple[str, ...]:
    """Environment variables that would move the server's bind (the command line does not fix it)."""
    if server.kind == "uvicorn":  # click auto_envvar_prefix="UVICORN"
        names = []
        if server.option("--fd", "--uds") is None:
            names += ["UVICORN_FD", "UVICORN_UDS"]
            if server.option("--host") is None:
                names.append("UVICORN_HOST")
            if server.option("--port") is None:
                names.append("UVICORN_PORT")
        return tuple(names)
    if server.kind == "flask-dev":  # click auto_envvar_prefix="FLASK"
        return tuple(name for name, options in (("FLASK_RUN_HOST", ("--host", "-h")), ("FLASK_RUN_PORT", ("--port", "-p")))
                     if server.option(*options) is None)
    return ()


def host_port(host: str, port: str | int) -> str:
    host = host.strip()
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"{host}:{port}"


def _uvicorn_binds(server: ServerArgs, env: dict) -> tuple[str, ...] | None:
    """uvicorn/main.py: `--uds` replaces host and port, `--fd` a socket we cannot see; defaults 127.0.0.1:8000."""
    if server.option("--fd") is not None or "UVICORN_FD" in env:
        return None
    uds = server.option("--uds") or env.get("UVICORN_UDS")
    if uds:
        return (f"unix:{uds}",)
    host = server.option("--host") or env.get("UVICORN_HOST") or "127.0.0.1"
    port = server.option("--port") or env.get("UVICORN_PORT") or "8000"
    return (host_port(host, port),)


def _hypercorn_binds(server: ServerArgs, env: dict) -> tuple[str, ...] | None:
    """hypercorn: `-b` (repeatable: host:port, host, unix:PATH, fd://N) replaces the config's binds;
    the default is 127.0.0.1:8000 (config.py `_bind`); a config file (`-c`) we do not read may set it."""
    binds = server.all_of("-b", "--bind")
    if not binds:
        if server.config is not None:
            return None
        binds = ["127.0.0.1:8000"]
    result = []
    for bind in [*binds, *server.all_of("--insecure-bind")]:
        if bind.startswith("fd://"):
            return None
        if bind.startswith("unix:"):
            result.append(bind)
        elif re.search(r":\d+$", bind) or bind.startswith("["):
            result.append(bind)
        else:
            result.append(host_port(bind, 8000))  # hypercorn/utils.py: a host alone gets port 8000
    return tuple(result)


def _waitress_binds(server: ServerArgs, env: dict) -> tuple[str, ...] | None:
    """waitress Adjustments: `--listen` (space-separated, repeatable; `*` is every interface),
    else `--host`/`--port` over the defaults 0.0.0.0 and 8080; `--unix-socket` instead."""
    socket = server.option("--unix-socket")
    if socket:
        return (f"unix:{socket}",)
    listens = " ".join(server.all_of("--listen")).split()
    port = server.option("--port") or "8080"
    if not listens:
        return (host_port(server.option("--host") or "0.0.0.0", port),)
    result = []
    for item in listens:
        host, colon, item_port = item.rpartition(":")
        if not colon or "]" in item_port:
            host, item_port = item, port
        host = host.strip("[]")
        result.append(host_port("::" if host == "*" else host, item_port))
    return tuple(result)


def _daphne_binds(server: ServerArgs, env: dict) -> tuple[str, ...] | None:
    """daphne/cli.py: defaults 127.0.0.1 and 8000 fill what `-b`/`-p` leave out; `-u` a unix socket;
    `--fd` and raw `-e` endpoints are not read."""
    if server.option("--fd") is not None or server.all_of("-e", "--endpoint"):
        return None
    host = server.option("-b", "--bind")
    port = server.option("-p", "--port")
    socket = server.option("-u", "--unix-socket")
    result = []
    if host or port or not socket:
        result.append(host_port(host or "127.0.0.1", port or "8000"))
    if socket:
        result.append(f"unix:{socket}")
    return tuple(result)


def _flask_binds(server: ServerArgs, env: dict) -> tuple[str, ...] | None:
    """flask run: `--host`/`-h`, `--port`/`-p`, FLASK_RUN_HOST/FLASK_RUN_PORT, defaults 127.0.0.1:5000."""
    host = server.option("--host", "-h") or env.get("FLASK_RUN_HOST") or "127.0.0.1"
    port = server.option("--port", "-p") or env.get("FLASK_RUN_PORT") or "5000"
    return (host_port(host, port),)


def _django_binds(server: ServerArgs, env: dict) -> tuple[str, ...] | None:
    """runserver [ADDRPORT]: `PORT`, `ADDR:PORT`, `[IPV6]:PORT`; `0` is 0.0.0.0; defaults
    127.0.0.1:8000 (`::1` with --ipv6)."""
    default_host = "::1" if server.option("ipv6") else "127.0.0.1"
    addrport = server.option("addrport")
    if addrport is None:
        return (host_port(default_host, 8000),)
    match = re.fullmatch(r"(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]+)):(\d+)", addrport)
    if match:
        host = match.group(1) or match.group(2)
        return (host_port("0.0.0.0" if host == "0" else host, match.group(3)),)
    if addrport.isdigit():
        return (host_port(default_host, addrport),)
    return None
