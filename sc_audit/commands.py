"""What a command line means, in one place, whatever file it came from.

A `gunicorn …`, `pm2 …`, `pkill …`, `systemctl …`, `curl …` or `cp …` argv means the
same in a shell script, a workflow `run:` block, an ssh-action `script:`, a systemd
`ExecStart=`, a Procfile line or a PM2 `script` + `args` pair. `interpret(argv)` turns it
into one of the small records below (or None when it is none of our business).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .servers import Runner, ServerArgs, parse_daphne, parse_flask_run, parse_hypercorn, parse_runserver, \
    parse_uvicorn, parse_waitress, split_runner

# ---------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class GunicornArgs:
    """A gunicorn command line, parsed as gunicorn's own argparse would."""

    target: str | None = None  # the WSGI app URI: "app:app", "app:create_app()"
    config: str | None = None  # -c/--config
    binds: tuple[str, ...] = ()  # -b/--bind, repeatable
    settings: dict = field(default_factory=dict)  # other options by setting name: workers, timeout, …
    python_m: bool = False  # launched as `python -m gunicorn`


@dataclass(frozen=True, slots=True)
class Launch:
    """A command that starts a long-running program."""

    program: str  # "gunicorn" | "uvicorn" | "hypercorn" | "waitress" | "daphne" | "python" | "flask" | "node" | "npm" | "other"
    argv: tuple[str, ...]  # without wrappers (sudo, nohup, env, VAR=x) and without a runner (`uv run`)
    env: dict  # VAR=x prefixes and `env VAR=x`
    wrappers: tuple[str, ...]  # "nohup", "setsid", "sudo", "screen", …
    gunicorn: GunicornArgs | None = None
    script: str | None = None  # `python app.py` -> "app.py"; `node server.js` -> "server.js"
    host: str | None = None  # uvicorn/flask run --host
    port: str | None = None  # uvicorn/flask run --port
    server: ServerArgs | None = None  # uvicorn, hypercorn, waitress, daphne, flask run, runserver (servers.py)
    runner: Runner | None = None  # `uv run`, `pipenv run`, `poetry run` in front of the command

    @property
    def server_kind(self) -> str | None:
        """"gunicorn", "uvicorn", "hypercorn", "waitress", "daphne", "flask-dev", "django-dev", or None."""
        if self.gunicorn is not None:
            return "gunicorn"
        return self.server.kind if self.server is not None else None

    @property
    def dev_server(self) -> bool:
        return self.server is not None and self.server.dev_server

    @property
    def reload(self) -> bool:
        if self.gunicorn is not None:
            return self.gunicorn.settings.get("reload") is True
        return self.server is not None and self.server.reload


@dataclass(frozen=True, slots=True)
class Pm2Command:
    action: str  # "start", "restart", "reload", "stop", "delete", "logs", "startOrReload", …
    targets: tuple[str, ...]  # names, ids, "all", or a file (ecosystem / script)
    only: tuple[str, ...] = ()  # --only a,b
    name: str | None = None  # --name
    interpreter: str | None = None
    args: tuple[str, ...] = ()  # after `--`: the script's own arguments


@dataclass(frozen=True, slots=True)
class ServiceCommand:
    """`systemctl ACTION UNIT…` or `service UNIT ACTION`."""

    action: str
    units: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SupervisorctlCommand:
    """`supervisorctl [-c FILE] ACTION NAME…`: NAME is `all`, a program or group, `group:*`, `group:process`."""

    action: str  # "restart" | "start" | "stop" | "reread" | "update" | "reload" | "status" | …
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class KillCommand:
    """A kill aimed at processes by pattern or name."""

    tool: str  # "pkill" | "pgrep" | "killall" | "fuser" | "lsof"
    pattern: str | None  # pkill/pgrep PATTERN; killall NAME
    full: bool = False  # -f: match the whole command line
    exact: bool = False  # -x
    ignore_case: bool = False  # -i
    ports: tuple[str, ...] = ()  # fuser -k 8000/tcp, lsof -i:8000
    # tool "ps": `ps … | grep … | awk … | xargs kill` or `kill $(ps … | grep …)`: the greps, in order,
    # each matched against the line `ps` prints (its columns, then the command line or the name)
    filters: tuple["GrepFilter", ...] = ()
    ps_format: str = ""  # "user" (`ps aux`, `ps -ef`: user and numbers first) or "pid" (`ps -e`, `-eo pid,args`)
    ps_column: str = ""  # "args" (the whole command line) or "comm" (the 15-character name)
    # tool "pidfile": `kill -SIG $(cat PATH)` / `cat PATH | xargs kill`: exactly the process that wrote PATH
    pidfile: str | None = None
    signal: str | None = None  # the signal sent, normalised ("TERM", "HUP", "KILL"); None when not known


@dataclass(frozen=True, slots=True)
class GrepFilter:
    """One `grep` of a ps pipeline, as grep reads it."""

    pattern: str
    flavor: str = "basic"  # "basic" (BRE, grep's default) | "extended" (-E) | "fixed" (-F) | "perl" (-P)
    ignore_case: bool = False  # -i
    invert: bool = False  # -v
    word: bool = False  # -w
    line: bool = False  # -x


@dataclass(frozen=True, slots=True)
class HttpRequest:
    tool: str  # "curl" | "wget"
    url: str
    unix_socket: str | None = None  # curl --unix-socket PATH: connects there; the URL gives only the path and Host


@dataclass(frozen=True, slots=True)
class CopyCommand:
    tool: str  # "cp" | "mv" | "install" | "rsync" | "ln"
    sources: tuple[str, ...]
    dest: str


Interpretation = Launch | Pm2Command | ServiceCommand | SupervisorctlCommand | KillCommand | HttpRequest | CopyCommand

# ---------------------------------------------------------------------------- wrappers

ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
# wrapper -> options that take a value (the wrapper's own argv ends at the first non-option)
WRAPPERS = {
    "sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T"},
    "nohup": set(),
    "setsid": set(),
    "exec": {"-a"},
    "nice": {"-n"},
    "ionice": {"-c", "-n", "-p"},
    "stdbuf": {"-i", "-o", "-e"},
    "time": set(),
    "command": set(),
    "builtin": set(),
    "chrt": set(),
    "taskset": set(),
    "runuser": {"-u", "-g"},
}


def strip_wrappers(argv: tuple[str, ...]) -> tuple[tuple[str, ...], dict, tuple[str, ...]]:
    """Remove `sudo`, `nohup`, `env A=1`, `VAR=x` and the like from the front of argv.

    Returns (argv of the real program, env assignments, wrapper names seen).
    """
    env: dict = {}
    wrappers: list[str] = []
    i = 0
    while i < len(argv):
        word = argv[i]
        base = basename(word)
        if ASSIGNMENT.match(word):
            key, _, value = word.partition("=")
            env[key] = value
            i += 1
        elif base == "env":
            wrappers.append("env")
            i += 1
            while i < len(argv) and (argv[i].startswith("-") or ASSIGNMENT.match(argv[i])):
                if argv[i] in ("-u", "--unset", "-C", "--chdir", "-S"):
                    i += 1
                elif ASSIGNMENT.match(argv[i]):
                    key, _, value = argv[i].partition("=")
                    env[key] = value
                i += 1
        elif base == "timeout":
            wrappers.append("timeout")
            i += 1
            while i < len(argv) and argv[i].startswith("-"):
                i += 2 if argv[i] in ("-s", "--signal", "-k", "--kill-after") else 1
            i += 1  # the duration
        elif base in WRAPPERS:
            wrappers.append(base)
            takes_value = WRAPPERS[base]
            i += 1
            if base == "nice" and i < len(argv) and re.fullmatch(r"-\d+", argv[i]):
                i += 1
            while i < len(argv) and argv[i].startswith("-") and argv[i] != "--":
                i += 2 if argv[i] in takes_value else 1
            if i < len(argv) and argv[i] == "--":
                i += 1
        elif base == "screen" or base == "tmux":
            wrappers.append(base)
            rest = _after_screen(argv[i:])
            if rest is None:
                return (), env, tuple(wrappers)
            argv, i = rest, 0
        else:
            break
    return tuple(argv[i:]), env, tuple(wrappers)


def _after_screen(argv: tuple[str, ...]) -> tuple[str, ...] | None:
    """`screen -dmS name cmd…` / `tmux new -d -s name cmd` -> the command they start."""
    i = 1
    if basename(argv[0]) == "tmux":
        while i < len(argv) and argv[i] in ("new", "new-session"):
            i += 1
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in ("-S", "-s", "-c", "-n", "-t") else 1
    return tuple(argv[i:]) if i < len(argv) else None


def basename(word: str) -> str:
    return word.rstrip("/").rsplit("/", 1)[-1]


PYTHONS = re.compile(r"^python(\d+(\.\d+)?)?$")


def is_python(word: str) -> bool:
    return bool(PYTHONS.match(basename(word)))


# ---------------------------------------------------------------------------- interpret


def interpret(argv: tuple[str, ...]) -> Interpretation | None:
    program, env, wrappers = strip_wrappers(tuple(argv))
    if not program:
        return None
    name = basename(program[0])
    if name == "pm2":
        return _pm2(program)
    if name == "systemctl":
        return _systemctl(program)
    if name == "supervisorctl":
        return _supervisorctl(program)
    if name == "service" and len(program) >= 3:
        return ServiceCommand(action=program[2], units=(program[1],))
    if name in ("pkill", "pgrep", "killall", "fuser", "lsof"):
        return _kill(name, program)
    if name in ("curl", "wget"):
        return _http(name, program)
    if name in ("cp", "mv", "install", "rsync", "ln", "scp"):
        return _copy(name, program)
    runner, program = split_runner(program)
    launch = _launch(program, env, wrappers)
    if launch is not None and runner is not None:
        from dataclasses import replace

        launch = replace(launch, runner=runner)
    return launch


def _launch(argv: tuple[str, ...], env: dict, wrappers: tuple[str, ...]) -> Launch | None:
    name = basename(argv[0])
    if name == "gunicorn":
        return Launch("gunicorn", argv, env, wrappers, gunicorn=parse_gunicorn_args(argv[1:]))
    if is_python(name):
        args = argv[1:]
        while args and args[0].startswith("-") and args[0] != "-m":
            args = args[1:]
        if len(args) >= 2 and args[0] == "-m":
            module = args[1]
            if module == "gunicorn":
                return Launch("gunicorn", argv, env, wrappers,
                              gunicorn=parse_gunicorn_args(args[2:], python_m=True))
            if module in SERVER_MODULES:
                return _server(module, argv, args[2:], env, wrappers)
            return None  # `python -m pytest`, `-m pip`: not a server
        if args and args[0].endswith(".py"):
            server = parse_runserver(args[1:]) if basename(args[0]) == "manage.py" else None
            return Launch("python", argv, env, wrappers, script=args[0], server=server)
        if args and basename(args[0]) == "gunicorn":  # PM2: interpreter venv/bin/python, script gunicorn
            return Launch("gunicorn", argv, env, wrappers, gunicorn=parse_gunicorn_args(args[1:]))
        if args and basename(args[0]) in SERVER_SCRIPTS:
            return _server(SERVER_SCRIPTS[basename(args[0])], argv, args[1:], env, wrappers)
        return None
    if name in SERVER_SCRIPTS:
        return _server(SERVER_SCRIPTS[name], argv, argv[1:], env, wrappers)
    if name == "django-admin":
        server = parse_runserver(argv[1:])
        return Launch("python", argv, env, wrappers, server=server) if server is not None else None
    if name in ("node", "nodejs"):
        script = next((a for a in argv[1:] if not a.startswith("-")), None)
        return Launch("node", argv, env, wrappers, script=script)
    if name in ("npm", "yarn", "pnpm") and len(argv) >= 2 and argv[1] in ("start", "run"):
        return Launch("npm", argv, env, wrappers)
    if "nohup" in wrappers or "setsid" in wrappers or "screen" in wrappers or "tmux" in wrappers:
        return Launch("other", argv, env, wrappers)
    return None


# entry point scripts and `python -m` modules of the servers servers.py reads
SERVER_SCRIPTS = {"uvicorn": "uvicorn", "hypercorn": "hypercorn", "waitress-serve": "waitress", "daphne": "daphne",
                  "flask": "flask"}
SERVER_MODULES = {"uvicorn": "uvicorn", "hypercorn": "hypercorn", "waitress": "waitress", "daphne": "daphne",
                  "flask": "flask", "django": "django"}


def _server(kind: str, argv, args, env, wrappers) -> Launch | None:
    """A launch of uvicorn, hypercorn, waitress, daphne, `flask run` or `django runserver`."""
    if kind == "uvicorn":
        server = parse_uvicorn(args)
        return Launch("uvicorn", argv, env, wrappers, host=server.option("--host") or "127.0.0.1",
                      port=server.option("--port") or "8000", server=server)
    if kind == "flask":
        server = parse_flask_run(args)
        if server is None:
            return None
        return Launch("flask", argv, env, wrappers, host=server.option("--host", "-h") or "127.0.0.1",
                      port=server.option("--port", "-p") or "5000", server=server)
    if kind == "django":
        server = parse_runserver(args)
        return Launch("python", argv, env, wrappers, server=server) if server is not None else None
    parser = {"hypercorn": parse_hypercorn, "waitress": parse_waitress, "daphne": parse_daphne}[kind]
    return Launch(kind, argv, env, wrappers, server=parser(args))


def _options(args, with_value: set[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    i = 0
    while i < len(args):
        word = args[i]
        if "=" in word and word.split("=", 1)[0] in with_value:
            key, _, value = word.partition("=")
            found[key] = value
        elif word in with_value and i + 1 < len(args):
            found[word] = args[i + 1]
            i += 1
        i += 1
    return found


# gunicorn options: flag -> setting name; options that take no value are listed apart.
GUNICORN_VALUE_OPTIONS = {
    "-c": "config", "--config": "config", "-b": "bind", "--bind": "bind",
    "-w": "workers", "--workers": "workers", "-k": "worker_class", "--worker-class": "worker_class",
    "-t": "timeout", "--timeout": "timeout", "--graceful-timeout": "graceful_timeout",
    "--keep-alive": "keepalive", "--threads": "threads", "--worker-connections": "worker_connections",
    "--max-requests": "max_requests", "--max-requests-jitter": "max_requests_jitter",
    "--chdir": "chdir", "--pythonpath": "pythonpath", "-e": "raw_env", "--env": "raw_env",
    "-n": "proc_name", "--name": "proc_name", "-p": "pidfile", "--pid": "pidfile",
    "-u": "user", "--user": "user", "-g": "group", "--group": "group", "-m": "umask", "--umask": "umask",
    "--log-level": "loglevel", "--access-logfile": "accesslog", "--error-logfile": "errorlog",
    "--log-file": "errorlog", "--access-logformat": "access_log_format", "--log-config": "logconfig",
    "--log-syslog-to": "syslog_addr", "--log-syslog-prefix": "syslog_prefix", "--statsd-host": "statsd_host",
    "--statsd-prefix": "statsd_prefix", "--worker-tmp-dir": "worker_tmp_dir", "--backlog": "backlog",
    "--limit-request-line": "limit_request_line", "--limit-request-fields": "limit_request_fields",
    "--limit-request-field_size": "limit_request_field_size", "--forwarded-allow-ips": "forwarded_allow_ips",
    "--proxy-allow-from": "proxy_allow_ips", "--certfile": "certfile", "--keyfile": "keyfile",
    "--ca-certs": "ca_certs", "--ssl-version": "ssl_version", "--ciphers": "ciphers",
    "--reload-engine": "reload_engine", "--reload-extra-file": "reload_extra_files",
    "--paste": "paste", "--paster": "paste", "--initgroups": "initgroups", "--user-group": "group",
    "--worker-class-arg": "worker_class_arg", "--wsgi-app": "wsgi_app",
}
GUNICORN_FLAGS = {
    "--preload": "preload_app", "--reload": "reload", "-D": "daemon", "--daemon": "daemon",
    "--check-config": "check_config", "--print-config": "print_config", "--spew": "spew",
    "--capture-output": "capture_output", "--enable-stdio-inheritance": "enable_stdio_inheritance",
    "-R": "enable_stdio_inheritance", "--no-sendfile": "sendfile", "--reuse-port": "reuse_port",
    "--strip-header-spaces": "strip_header_spaces", "--log-syslog": "syslog",
    "--disable-redirect-access-to-syslog": "disable_redirect_access_to_syslog",
    "--do-handshake-on-connect": "do_handshake_on_connect", "--suppress-ragged-eofs": "suppress_ragged_eofs",
}


def parse_gunicorn_args(args: tuple[str, ...] | list[str], python_m: bool = False) -> GunicornArgs:
    config = None
    target = None
    binds: list[str] = []
    settings: dict = {}
    i = 0
    while i < len(args):
        word = args[i]
        key, eq, inline = word.partition("=")
        if word.startswith("--") and eq and key in GUNICORN_VALUE_OPTIONS:
            option, value = key, inline
        elif word in GUNICORN_VALUE_OPTIONS and i + 1 < len(args):
            option, value = word, args[i + 1]
            i += 1
        elif len(word) > 2 and word[:2] in GUNICORN_VALUE_OPTIONS and not word.startswith("--"):
            option, value = word[:2], word[2:]  # -w4, -b127.0.0.1:8000
        elif word in GUNICORN_FLAGS:
            settings[GUNICORN_FLAGS[word]] = True
            i += 1
            continue
        elif word.startswith("-"):
            i += 1
            continue
        else:
            if target is None:
                target = word
            i += 1
            continue
        setting = GUNICORN_VALUE_OPTIONS[option]
        if setting == "config":
            config = value
        elif setting == "bind":
            binds.append(value)
        elif setting == "raw_env":
            settings.setdefault("raw_env", []).append(value)
        else:
            settings[setting] = value
        i += 1
    return GunicornArgs(target=target, config=config, binds=tuple(binds), settings=settings,
                        python_m=python_m)


def _pm2(argv: tuple[str, ...]) -> Pm2Command | None:
    args = argv[1:]
    action = None
    targets: list[str] = []
    only: tuple[str, ...] = ()
    name = interpreter = None
    i = 0
    while i < len(args):
        word = args[i]
        if word in ("--only", "--name", "-n", "--interpreter") and i + 1 < len(args):
            value = args[i + 1]
            if word == "--only":
                only = tuple(v for v in value.split(",") if v)
            elif word == "--interpreter":
                interpreter = value
            else:
                name = value
            i += 2
            continue
        if word.startswith("--only="):
            only = tuple(v for v in word.split("=", 1)[1].split(",") if v)
        elif word.startswith("--name="):
            name = word.split("=", 1)[1]
        elif word == "--":
            return Pm2Command(action=action or "", targets=tuple(targets), only=only, name=name,
                              interpreter=interpreter, args=tuple(args[i + 1:]))
        elif word.startswith("-"):
            if word in ("--env", "--lines", "--update-env", "-i", "--instances", "--cwd", "--log",
                        "--output", "--error", "--max-memory-restart", "--node-args",
                        "--interpreter-args", "--watch-delay", "--cron", "--namespace", "-o", "-e", "-l"):
                if word not in ("--update-env",) and i + 1 < len(args) and not args[i + 1].startswith("-"):
                    i += 1
        elif action is None:
            action = word
        else:
            targets.append(word)
        i += 1
    if action is None:
        return None
    return Pm2Command(action=action, targets=tuple(targets), only=only, name=name, interpreter=interpreter)


def _systemctl(argv: tuple[str, ...]) -> ServiceCommand | None:
    words = [w for w in argv[1:] if not w.startswith("-")]
    if not words:
        return None
    return ServiceCommand(action=words[0], units=tuple(words[1:]))


SUPERVISORCTL_VALUE_OPTIONS = {"-c", "--configuration", "-s", "--serverurl", "-u", "--username",
                               "-p", "--password", "-r", "--history_file"}


def _supervisorctl(argv: tuple[str, ...]) -> SupervisorctlCommand | None:
    """supervisor/options.py ClientOptions: -c/-s/-u/-p/-r take a value; the first other word is
    the action, the rest its names (supervisorctl.py do_start … split them on whitespace)."""
    words: list[str] = []
    i = 1
    while i < len(argv):
        word = argv[i]
        if not words and word in SUPERVISORCTL_VALUE_OPTIONS:
            i += 2
            continue
        if not words and word.startswith("-"):
            i += 1
            continue
        words.extend(word.split())
        i += 1
    if not words:
        return None
    return SupervisorctlCommand(action=words[0], names=tuple(words[1:]))


def _kill(tool: str, argv: tuple[str, ...]) -> KillCommand | None:
    args = argv[1:]
    if tool == "fuser":
        if not any(a.startswith("-") and "k" in a.lstrip("-") for a in args if not a.startswith("--")):
            if "--kill" not in args:
                return None
        ports = tuple(a.split("/")[0] for a in args if re.fullmatch(r"\d+/(tcp|udp)", a) or a.isdigit())
        return KillCommand(tool, None, ports=ports)
    if tool == "lsof":
        ports = tuple(m.group(1) for a in args for m in [re.search(r":(\d+)$", a)] if m)
        return KillCommand(tool, None, ports=ports)
    full = exact = ignore_case = False
    pattern = None
    value_options = {"-s", "--signal", "-u", "-U", "-g", "-G", "-P", "-t", "--euid", "--uid",
                     "--pgroup", "--group", "--parent", "--terminal", "--session", "-F", "--pidfile",
                     "--ns", "--nslist", "-d", "--delimiter", "--older", "--newer", "-O", "-y", "-o"}
    i = 0
    while i < len(args):
        word = args[i]
        if word == "--":
            if i + 1 < len(args):
                pattern = args[i + 1]
            break
        if word.startswith("--"):
            full |= word == "--full"
            exact |= word == "--exact"
            ignore_case |= word == "--ignore-case"
            if word in value_options:
                i += 1
        elif word.startswith("-") and len(word) > 1:
            letters = word[1:]
            if re.fullmatch(r"\d+|[A-Z]+[A-Z0-9]*", letters) and tool in ("pkill", "killall"):
                pass  # a signal: -9, -TERM, -HUP
            else:
                full |= "f" in letters and tool != "killall"
                exact |= ("x" in letters) or (tool == "killall" and "e" in letters)
                ignore_case |= ("i" in letters and tool != "killall") or (tool == "killall" and "I" in letters)
                if word in value_options or (len(letters) == 1 and "-" + letters in value_options):
                    i += 1
        elif pattern is None:
            pattern = word
        i += 1
    if tool == "killall":
        exact = True  # killall matches the whole process name
    return KillCommand(tool, pattern, full=full, exact=exact, ignore_case=ignore_case)


URL = re.compile(r"^(https?://)?[\w.\-\[\]:]+(:\d+)?(/.*)?$")


def _http(tool: str, argv: tuple[str, ...]) -> HttpRequest | None:
    value_options = {"-o", "-O", "-X", "-H", "-d", "--data", "-u", "-w", "-m", "--max-time",
                     "--connect-timeout", "--retry", "--retry-delay", "-A", "-e", "-T", "-F",
                     "--output", "--header", "--request", "--write-out", "--user", "--tries", "-t",
                     "--timeout", "-T", "--retry-max-time", "--data-raw", "--data-binary",
                     "--cacert", "--cert", "--resolve", "--output-document", "-U", "-b", "-c",
                     "--unix-socket", "--abstract-unix-socket"}
    socket = None
    url = None
    i = 1
    while i < len(argv):
        word = argv[i]
        if tool == "curl" and word == "--unix-socket" and i + 1 < len(argv):
            socket = argv[i + 1]
        elif tool == "curl" and word.startswith("--unix-socket="):
            socket = word.split("=", 1)[1]
        if word.startswith("-"):
            if word in value_options:
                i += 1
        elif url is None and ("://" in word or word.startswith(("localhost", "127.", "0.0.0.0", "[::1]"))):
            url = word
        i += 1
    return HttpRequest(tool, url, socket) if url is not None else None


def _copy(tool: str, argv: tuple[str, ...]) -> CopyCommand | None:
    words: list[str] = []
    target_dir = None
    i = 1
    while i < len(argv):
        word = argv[i]
        if word in ("-t", "--target-directory") and i + 1 < len(argv):
            target_dir = argv[i + 1]
            i += 2
            continue
        if word in ("-m", "--mode", "-o", "--owner", "-g", "--group", "-e", "-P", "-i") and tool in ("install", "rsync", "scp"):
            i += 2
            continue
        if not word.startswith("-"):
            words.append(word)
        i += 1
    if target_dir is not None and words:
        return CopyCommand(tool, tuple(words), target_dir)
    if len(words) < 2:
        return None
    return CopyCommand(tool, tuple(words[:-1]), words[-1])
