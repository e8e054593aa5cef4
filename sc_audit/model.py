"""One model of the deployment, built from the facts of every file.

Processes (who runs what, with which command line, bound where), the Nginx proxies in
front of them, the deploy steps that kill, restart, copy and health-check, and the apps
with their routes. Every fact keeps its Span. Checks read this model and nothing else.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from . import commands as cmd
from .facts import (
    GunicornConfigFacts,
    NginxFacts,
    NginxServer,
    ParseError,
    Pm2App,
    Pm2Facts,
    ProcfileFacts,
    PythonModuleFacts,
    SettingValue,
    ShellCommand,
    ShellFacts,
    SystemdUnitFacts,
    WorkflowFacts,
)
from .span import Located, Span, Unknown

# ---------------------------------------------------------------------------- endpoints


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a process listens or a proxy connects: TCP host:port or a unix socket path."""

    host: str | None = None  # "127.0.0.1", "0.0.0.0", "::", "localhost"; None for unix
    port: int | None = None
    socket: str | None = None

    def __str__(self) -> str:
        if self.socket is not None:
            return f"unix:{self.socket}"
        if self.host is None:
            return f"port {self.port}"  # the address is not known, only the port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def all_interfaces(self) -> bool:
        return self.host in ("0.0.0.0", "::", "")


def parse_endpoint(text: str, default_host: str = "127.0.0.1") -> Endpoint | None:
    """'127.0.0.1:8001', '0.0.0.0:80', '[::]:8000', ':8000', '8000', 'unix:/run/x.sock'."""
    text = text.strip()
    if text.startswith("unix:"):
        path = text[5:]
        return Endpoint(socket=path.rstrip(":")) if path else None
    if text.startswith("/"):
        return None
    match = re.fullmatch(r"\[([0-9a-fA-F:.]*)\]:(\d+)", text) or re.fullmatch(r"([^:\s/]*):(\d+)", text)
    if match:
        host = match.group(1) or "0.0.0.0"
        return Endpoint(host=host, port=int(match.group(2)))
    if text.isdigit():
        return Endpoint(host=default_host, port=int(text))
    return None


# ---------------------------------------------------------------------------- model records


@dataclass(frozen=True, slots=True)
class Setting:
    """An effective Gunicorn setting and where it came from."""

    name: str
    value: object  # plain value or Unknown
    span: Span | None
    source: str  # "config" | "command line" | "GUNICORN_CMD_ARGS" | "default"
    cpu_formula: tuple | None = None
    env: tuple[str, ...] = ()
    capped: bool = False


@dataclass(frozen=True, slots=True)
class WsgiTarget:
    text: str  # "app:create_app()"
    span: Span
    base_dir: str  # repo-relative directory the module is imported from ("" = root)
    source: str  # "config" | "command line" | "systemd" …


@dataclass(slots=True)
class Process:
    name: str  # PM2 app name, unit name, Procfile type, or the program
    manager: str  # "pm2" | "systemd" | "procfile" | "script"
    span: Span  # where it is defined
    argv: tuple[str, ...] = ()  # the command as the manager runs it (wrappers removed)
    launch: cmd.Launch | None = None
    cwd: str | None = None  # repo-relative directory ("" = root), None when unknown
    env: dict = field(default_factory=dict)
    settings: dict[str, Setting] = field(default_factory=dict)  # Gunicorn, effective
    config_path: str | None = None  # the gunicorn config file it reads (repo-relative)
    wsgi: WsgiTarget | None = None
    binds: list[tuple[Endpoint, Span | None]] = field(default_factory=list)
    binds_known: bool = True  # False when a bind is written but not statically known
    pm2: Pm2App | None = None  # the ecosystem entry, for PM2 processes
    pm2_path: str | None = None
    host_cwd: str | None = None  # the working directory on the host, when absolute and known
    views: list = field(default_factory=list)  # procview.View: how the OS shows it (see procview.py)

    @property
    def program(self) -> str | None:
        return self.launch.program if self.launch else None


@dataclass(frozen=True, slots=True)
class Proxy:
    """An Nginx location that passes requests to an upstream."""

    path: str  # the nginx file
    server_names: tuple[str, ...]
    location: str
    target: str  # proxy_pass as written
    endpoints: tuple[Endpoint, ...]  # resolved (upstream servers, localhost as nginx resolves it)
    span: Span  # the proxy_pass directive
    read_timeout: float  # seconds, effective (location > server > http > default 60)
    read_timeout_span: Span | None  # None when the default applies


@dataclass(frozen=True, slots=True)
class Step:
    """One command of a deploy: a shell line, a workflow step, a PM2 hook."""

    command: ShellCommand
    meaning: cmd.Interpretation | None
    source: str  # kind of file: "shell", "workflow", "pm2"


@dataclass(slots=True)
class Deployment:
    root_paths: set[str]  # every file in the repository (relative)
    modules: dict[str, PythonModuleFacts] = field(default_factory=dict)  # by module name
    module_paths: dict[str, PythonModuleFacts] = field(default_factory=dict)  # by path
    gunicorn_configs: dict[str, GunicornConfigFacts] = field(default_factory=dict)  # by path
    pm2_files: dict[str, Pm2Facts] = field(default_factory=dict)
    nginx_files: dict[str, NginxFacts] = field(default_factory=dict)  # top-level files only
    units: dict[str, SystemdUnitFacts] = field(default_factory=dict)
    processes: list[Process] = field(default_factory=list)
    proxies: list[Proxy] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    wsgi_targets: list[WsgiTarget] = field(default_factory=list)  # every target, deduplicated
    errors: list[ParseError] = field(default_factory=list)
    # indexes built on first use (see `lookup`, `exists`), with the size they were built for
    _tables: tuple | None = field(default=None, repr=False, compare=False)
    memo: dict = field(default_factory=dict, repr=False)  # per-audit results of joins, by key
    _directories: tuple | None = field(default=None, repr=False, compare=False)

    def lookup(self, table: str, keys) -> list[Process]:
        """Processes by an index, in model order, so that joins over many processes stay linear.

        Tables: "bind" (keys: Endpoints; the processes bound on their port or unix socket, the
        only ones that can serve them), "pm2-name", "pm2-file" (the ecosystem file's name),
        "unit" (systemd unit name), "script-span" (where a deploy step starts a server).
        """
        if self._tables is None or self._tables[0] != len(self.processes):
            self._tables = (len(self.processes), _process_tables(self.processes))
        index = self._tables[1][table]
        if table == "bind":
            keys = map(bind_key, keys)
        positions = sorted({i for key in keys for i in index.get(key, ())})
        return [self.processes[i] for i in positions]

    def pm2_apps(self):
        for path, facts in sorted(self.pm2_files.items()):
            for app in facts.apps:
                yield path, app

    def pm2_names(self) -> set[str]:
        return {app.name for _, app in self.pm2_apps() if isinstance(app.name, str)}

    def exists(self, rel_path: str) -> bool:
        rel_path = posixpath.normpath(rel_path).removeprefix("./") if rel_path not in ("", ".") else ""
        if rel_path in self.root_paths:
            return True
        if self._directories is None or self._directories[0] != len(self.root_paths):
            self._directories = (len(self.root_paths), _parent_directories(self.root_paths))
        return rel_path.rstrip("/") in self._directories[1]


def bind_key(endpoint: Endpoint) -> object:
    """What two endpoints must share for one to serve the other: the unix socket, else the port."""
    return ("unix", endpoint.socket) if endpoint.socket is not None else endpoint.port


def _process_tables(processes: list[Process]) -> dict[str, dict]:
    tables: dict[str, dict] = {"bind": {}, "pm2-name": {}, "pm2-file": {}, "unit": {}, "script-span": {}}
    for position, process in enumerate(processes):
        keys = [("bind", bind_key(bound)) for bound, _ in process.binds]
        if process.manager == "pm2":
            keys.append(("pm2-name", process.name))
            if process.pm2_path:
                keys.append(("pm2-file", posixpath.basename(process.pm2_path)))
        elif process.manager == "systemd":
            keys.append(("unit", process.name))
        elif process.manager == "script":
            keys.append(("script-span", process.span))
        for table, key in keys:
            tables[table].setdefault(key, []).append(position)
    return tables


def _parent_directories(paths: set[str]) -> set[str]:
    directories: set[str] = set()
    for path in paths:
        parent = posixpath.dirname(path)
        while parent and parent not in directories:
            directories.add(parent)
            parent = posixpath.dirname(parent)
    return directories


# ---------------------------------------------------------------------------- building


def build(facts_by_path: dict[str, object], root_paths: set[str]) -> Deployment:
    model = Deployment(root_paths=root_paths)
    for path, facts in sorted(facts_by_path.items()):
        model.errors.extend(getattr(facts, "errors", ()))
        if isinstance(facts, PythonModuleFacts):
            model.modules.setdefault(facts.module, facts)
            model.module_paths[path] = facts
        elif isinstance(facts, GunicornConfigFacts):
            model.gunicorn_configs[path] = facts
        elif isinstance(facts, Pm2Facts):
            model.pm2_files[path] = facts
        elif isinstance(facts, NginxFacts):
            model.nginx_files[path] = facts
        elif isinstance(facts, SystemdUnitFacts):
            model.units[path] = facts
    included = {p for f in model.nginx_files.values() for p in f.included_paths}
    for path in included:
        model.nginx_files.pop(path, None)

    for path, facts in sorted(facts_by_path.items()):
        if isinstance(facts, (ShellFacts, WorkflowFacts)):
            source = "shell" if isinstance(facts, ShellFacts) else "workflow"
            for command in facts.commands:
                model.steps.append(Step(command, cmd.interpret(command.argv), source))
        elif isinstance(facts, Pm2Facts):
            for snippet_commands in getattr(facts, "snippet_commands", ()):
                for command in snippet_commands:
                    model.steps.append(Step(command, cmd.interpret(command.argv), "pm2"))
    _cap(model, model.steps, MAX_STEPS, "deploy commands", lambda step: step.command.span)
    _cap_kills(model)

    for path, facts in sorted(model.pm2_files.items()):
        for app in facts.apps:
            model.processes.append(_pm2_process(model, path, app))
    for path, unit in sorted(model.units.items()):
        if unit.exec_start:
            model.processes.append(_systemd_process(model, path, unit))
    for path, facts in sorted(facts_by_path.items()):
        if isinstance(facts, ProcfileFacts):
            for name, line_commands in facts.processes.items():
                if line_commands:
                    model.processes.append(_command_process(model, name, "procfile", line_commands[-1], ""))
    for step, host_cwd in zip(model.steps, _working_directories(model.steps)):
        process = _script_process(model, step, host_cwd)
        if process is not None:
            model.processes.append(process)
    _cap(model, model.processes, MAX_PROCESSES, "processes", lambda process: process.span)

    for process in model.processes:
        _resolve_gunicorn(model, process)
        _resolve_binds(model, process)
        process.views = _views(process)
    _collect_targets(model)
    model.proxies = _proxies(model)
    _cap(model, model.proxies, MAX_PROXIES, "proxied locations", lambda proxy: proxy.span)
    return model


# Bounded work on hostile input. The joins between processes, proxies and steps are indexed
# (linear); what stays a product is each kill pattern matched against every process's views, so
# kills have a cap of their own. Real deployments have tens of each and a 1,000-service monorepo
# stays under every cap (docs/limits.md); past a cap the rest is not checked, and an SC001 says so.
MAX_PROCESSES = 1500
MAX_PROXIES = 2000
MAX_STEPS = 20000
MAX_KILLS = 200


def _cap_kills(model: Deployment) -> None:
    kills = [i for i, step in enumerate(model.steps) if isinstance(step.meaning, cmd.KillCommand)]
    if len(kills) <= MAX_KILLS:
        return
    first_dropped = model.steps[kills[MAX_KILLS]]
    model.errors.append(ParseError(f"more than {MAX_KILLS} kill commands in the deployment: the rest are not "
                                   "checked", first_dropped.command.span))
    dropped = set(kills[MAX_KILLS:])
    model.steps[:] = [step for i, step in enumerate(model.steps) if i not in dropped]


def _cap(model: Deployment, items: list, limit: int, what: str, span_of) -> None:
    if len(items) > limit:
        model.errors.append(ParseError(f"more than {limit} {what} in the deployment: the rest are not checked",
                                       span_of(items[limit])))
        del items[limit:]


def _pm2_process(model: Deployment, path: str, app: Pm2App) -> Process:
    name = app.name if isinstance(app.name, str) else "(unnamed PM2 app)"
    argv = pm2_argv(app)
    launch = cmd.interpret(argv) if argv else None
    if isinstance(launch, cmd.Launch) is False:
        launch = None
    cwd_value = app.get("cwd")
    file_dir = posixpath.dirname(path)
    cwd = repo_dir(model, cwd_value, file_dir) if cwd_value is not None else file_dir
    env = {}
    env_value = app.get("env")
    if isinstance(env_value, dict):
        env = {k: v for k, v in env_value.items() if not isinstance(v, Unknown)}
    if launch is not None:
        env = {**launch.env, **env}
    host_cwd = cwd_value if isinstance(cwd_value, str) and cwd_value.startswith("/") else None
    return Process(name=name, manager="pm2", span=app.span, argv=argv, launch=launch, cwd=cwd,
                   env=env, pm2=app, pm2_path=path, host_cwd=host_cwd)


def pm2_argv(app: Pm2App) -> tuple[str, ...]:
    """The command PM2 runs for an app: [interpreter, interpreter_args…, script, args…].

    PM2 picks the interpreter from `interpreter` or from the script's extension
    (lib/API/interpreter.json); `interpreter: 'none'` execs the script itself. A script
    without a known extension runs with node.
    """
    script = app.get("script")
    if not isinstance(script, str):
        return ()
    args = app.get("args")
    if isinstance(args, str):
        args_list = split_words(args)
    elif isinstance(args, list) and all(isinstance(a, str) for a in args):
        args_list = list(args)
    else:
        args_list = []
    interpreter = app.get("interpreter", app.get("exec_interpreter"))
    if isinstance(interpreter, Unknown) or not isinstance(interpreter, (str, type(None))):
        return ()  # `interpreter: false` or a number: PM2's schema check decides, not us
    interpreter_args = app.get("interpreter_args", app.get("node_args"))
    extra = split_words(interpreter_args) if isinstance(interpreter_args, str) else []
    if interpreter is None:
        interpreter = pm2_default_interpreter(script)
    if interpreter == "none":
        return (script, *args_list)
    return (interpreter, *extra, script, *args_list)


PM2_EXTENSIONS = {".sh": "bash", ".py": "python", ".rb": "ruby", ".php": "php", ".pl": "perl",
                  ".coffee": "coffee", ".ls": "lsc", ".ts": "bun", ".tsx": "bun", ".js": "node",
                  ".mjs": "node", ".cjs": "node"}


def pm2_default_interpreter(script: str) -> str:
    extension = posixpath.splitext(script)[1]
    return PM2_EXTENSIONS.get(extension, "node")


def split_words(text: str) -> list[str]:
    import shlex

    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def repo_dir(model: Deployment, value: object, base: str) -> str | None:
    """Map a directory as the deploy names it to a directory of the repository.

    A relative path is taken from `base`. An absolute host path (`/var/www/app/backend`)
    is where the repository is deployed: its longest tail that is a directory of the
    repository wins (`backend`), else the root.
    """
    if not isinstance(value, str) or "$" in value or "{" in value:
        return None
    if not value.startswith("/") and not value.startswith("~"):
        joined = posixpath.normpath(posixpath.join(base, value))
        return "" if joined == "." else joined
    parts = [p for p in value.split("/") if p and p != "~"]
    for start in range(len(parts)):
        candidate = "/".join(parts[start:])
        if candidate and model.exists(candidate) and candidate not in model.root_paths:
            return candidate
    return ""


def _systemd_process(model: Deployment, path: str, unit: SystemdUnitFacts) -> Process:
    command = unit.exec_start[-1]
    cwd = repo_dir(model, unit.working_directory.value, "") if unit.working_directory else ""
    process = _command_process(model, unit.name, "systemd", command, cwd)
    if unit.working_directory and isinstance(unit.working_directory.value, str) \
            and unit.working_directory.value.startswith("/"):
        process.host_cwd = unit.working_directory.value
    for key, located in unit.environment.items():
        if not isinstance(located.value, Unknown):
            process.env.setdefault(key, located.value)
    return process


def _command_process(model: Deployment, name: str, manager: str, command: ShellCommand,
                     cwd: str | None) -> Process:
    argv, env, _ = cmd.strip_wrappers(command.argv)
    launch = cmd.interpret(command.argv)
    if not isinstance(launch, cmd.Launch):
        launch = None
    return Process(name=name, manager=manager, span=command.span, argv=argv, launch=launch,
                   cwd=cwd, env=dict(env))


LONG_RUNNING = ("gunicorn", "uvicorn", "flask", "python", "node", "npm", "other")


def _working_directories(steps: list[Step]) -> list[str | None]:
    """The host directory each step runs in, as far as earlier `cd /abs/dir` steps of the same
    shell tell (None when unknown). A `cd` inside `$(…)` or a subshell is not followed."""
    current: dict[tuple, str | None] = {}
    result = []
    for step in steps:
        command = step.command
        shell = (command.span.path, command.context.kind, command.context.span)
        here = current.get(shell)
        result.append(here)
        argv, _, _ = cmd.strip_wrappers(command.argv)
        if argv and argv[0] == "cd" and not command.in_substitution:
            target = argv[1] if len(argv) > 1 else None
            if target is None or any(command.dynamic) or target == "-":
                current[shell] = None
            elif target.startswith("/"):
                current[shell] = posixpath.normpath(target)
            else:
                current[shell] = posixpath.normpath(posixpath.join(here, target)) if here else None
    return result


def _script_process(model: Deployment, step: Step, host_cwd: str | None) -> Process | None:
    """A server started by a deploy step itself, outside any process manager."""
    launch = step.meaning
    if not isinstance(launch, cmd.Launch):
        return None
    command = step.command
    detached = command.background or any(w in launch.wrappers for w in ("nohup", "setsid", "screen", "tmux"))
    daemon = launch.gunicorn is not None and launch.gunicorn.settings.get("daemon") is True
    if not (detached or daemon):
        return None
    if step.source == "workflow" and not command.context.remote:
        return None  # a server a CI job starts for its own tests
    return Process(name=" ".join([posixpath.basename(launch.argv[0]), *launch.argv[1:2]]), manager="script",
                   span=command.span, argv=launch.argv, launch=launch,
                   cwd=repo_dir(model, host_cwd, "") if host_cwd else "", env=dict(launch.env), host_cwd=host_cwd)


# ---------------------------------------------------------------------------- as the OS shows it


def _views(process: Process) -> list:
    """The process's /proc views in each world (see procview.py). Empty when the command is unknown."""
    from . import procview

    if not process.argv:
        return []
    argvs, comms = [], []
    for guess in (0, 1):
        if process.manager == "pm2":
            argv, comm = _pm2_exec(process, guess)
        else:
            argv = procview.exec_views(process.argv, process.host_cwd, guess)
            comm = procview.comm_of(process.argv[0])
        argvs.append(argv)
        comms.append(comm)
    title = None
    if process.launch is not None and process.launch.gunicorn is not None:
        proc_name = process.settings.get("proc_name")
        if proc_name is not None and not isinstance(proc_name.value, str):
            return []  # an unknown title: no view is certain
        if proc_name is not None:
            title = proc_name.value
        else:
            # gunicorn/app/wsgiapp.py: default_proc_name is the positional app URI, else "gunicorn"
            title = process.launch.gunicorn.target or "gunicorn"
    return procview.process_views(argvs, comms, title, has_workers=title is not None)


def _pm2_exec(process: Process, guess: int) -> tuple[tuple[str, ...], str]:
    """How PM2 (lib/God/ForkMode.js) spawns an app in fork mode.

    `interpreter: 'none'`: the script itself (through its shebang); another interpreter:
    `INTERPRETER [interpreter_args] /abs/script args`; Node apps run in PM2's
    ProcessContainerFork.js, which sets the title to `node /abs/script`.
    """
    from . import procview

    argv = process.argv
    base = process.host_cwd or procview.PLACEHOLDERS[guess]
    app = process.pm2
    script = app.get("script") if app is not None else None
    interpreter = argv[0]
    if isinstance(script, str) and interpreter == script:  # interpreter: 'none'
        absolute = script if script.startswith("/") else posixpath.join(base, script)
        if "/" not in script:
            absolute = posixpath.join(procview.PLACEHOLDERS[guess], "bin", script)
        shown = procview.exec_views((absolute, *argv[1:]), process.host_cwd, guess)
        return shown, procview.comm_of(script)
    index = argv.index(script) if isinstance(script, str) and script in argv else 1
    absolute = script if isinstance(script, str) and script.startswith("/") else \
        posixpath.join(base, str(script))
    if isinstance(script, str) and "/" not in script and "." not in script:
        absolute = posixpath.join(procview.PLACEHOLDERS[guess], "bin", script)  # found on PATH
    shown = (*argv[:index], absolute, *argv[index + 1:])
    if posixpath.basename(interpreter) in ("node", "nodejs"):
        # ProcessContainerFork.js: process.title = 'node ' + script, one argument that also
        # renames comm (seen live, tests/live)
        return (f"node {absolute}",), f"node {absolute}"[:procview.COMM_LENGTH]
    return shown, procview.comm_of(interpreter)


# ---------------------------------------------------------------------------- gunicorn


DEFAULT_CONFIG = "gunicorn.conf.py"


def _resolve_gunicorn(model: Deployment, process: Process) -> None:
    """Effective Gunicorn settings, merged as Gunicorn merges them.

    Defaults < config file (-c, else ./gunicorn.conf.py in the working directory)
    < GUNICORN_CMD_ARGS < command line (gunicorn/app/base.py, Application.load_config).
    """
    launch = process.launch
    if launch is None or launch.gunicorn is None:
        return
    args = launch.gunicorn
    base = process.cwd if process.cwd is not None else ""
    chdir = args.settings.get("chdir")
    if isinstance(chdir, str):
        base = repo_dir(model, chdir, base) or base
    env_args = cmd.parse_gunicorn_args(split_words(process.env["GUNICORN_CMD_ARGS"])) \
        if isinstance(process.env.get("GUNICORN_CMD_ARGS"), str) else cmd.GunicornArgs()
    config_name = args.config or env_args.config
    config_path = None
    if config_name:
        if config_name.startswith("python:"):
            config_path = None
        else:
            config_path = posixpath.normpath(posixpath.join(base, config_name)) if not config_name.startswith("/") \
                else None
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


def _resolve_binds(model: Deployment, process: Process) -> None:
    launch = process.launch
    if launch is None:
        return
    port_env = process.env.get("PORT")
    if launch.gunicorn is not None:
        bind = process.settings.get("bind")
        if bind is None:
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
    elif launch.program in ("uvicorn", "flask"):
        if launch.port is not None and launch.host is not None:
            _add_bind(process, f"{launch.host}:{launch.port}", process.span)
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


def _collect_targets(model: Deployment) -> None:
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


# ---------------------------------------------------------------------------- nginx


DEFAULT_PROXY_READ_TIMEOUT = 60.0


def _proxies(model: Deployment) -> list[Proxy]:
    proxies = []
    for path, facts in sorted(model.nginx_files.items()):
        upstreams = {u.name: u for u in facts.upstreams}
        # a snippet file of bare `location` blocks is served by whichever server includes it
        loose = NginxServer(span=Span(path, 1), locations=tuple(getattr(facts, "locations", ())))
        for server in [*facts.servers, loose]:
            for location in server.locations:
                if location.proxy_pass is None or not isinstance(location.proxy_pass.value, str):
                    continue
                timeout, timeout_span = _inherited(
                    "proxy_read_timeout", location.timeouts, server.timeouts, facts.timeouts)
                target = location.proxy_pass.value
                proxies.append(Proxy(
                    path=path, server_names=server.server_names, location=location.match,
                    target=target, endpoints=tuple(_proxy_endpoints(target, upstreams)),
                    span=location.proxy_pass.span,
                    read_timeout=timeout if timeout is not None else DEFAULT_PROXY_READ_TIMEOUT,
                    read_timeout_span=timeout_span))
    return proxies


def _inherited(name: str, *levels: dict) -> tuple[float | None, Span | None]:
    for level in levels:
        located = level.get(name)
        if located is not None and isinstance(located.value, (int, float)):
            return float(located.value), located.span
        if located is not None:
            return None, located.span  # written but unreadable: unknown, not the default
    return None, None


def _proxy_endpoints(target: str, upstreams: dict) -> list[Endpoint]:
    """proxy_pass http://HOST:PORT/… -> endpoints; an upstream name -> its servers.

    Nginx resolves `localhost` with the system resolver at start: both 127.0.0.1 and
    ::1 on a usual host. Both are returned; a process bound on either serves it.
    """
    match = re.match(r"^(?:https?|grpc)://(.+)$", target)
    if not match or "$" in target:
        return []
    rest = match.group(1)
    if rest.startswith("unix:"):
        socket = rest[5:].split(":", 1)[0]
        return [Endpoint(socket=socket)]
    authority = rest.split("/", 1)[0]
    if authority in upstreams:
        endpoints = []
        for server in upstreams[authority].servers:
            if isinstance(server.value, str):
                endpoints.extend(host_endpoints(server.value.split()[0], 80))
        return endpoints
    default_port = 443 if target.startswith("https") else 80
    return host_endpoints(authority, default_port)


def host_endpoints(authority: str, default_port: int) -> list[Endpoint]:
    if authority.startswith("unix:"):
        return [Endpoint(socket=authority[5:])]
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d+))?", authority) or \
        re.fullmatch(r"([^:]+)(?::(\d+))?", authority)
    if not match:
        return []
    host, port = match.group(1), int(match.group(2) or default_port)
    if host == "localhost":
        return [Endpoint("127.0.0.1", port), Endpoint("::1", port)]
    return [Endpoint(host, port)]


# ---------------------------------------------------------------------------- apps and routes


def module_file_candidates(base: str, module: str) -> list[str]:
    rel = module.replace(".", "/")
    prefix = f"{base}/" if base else ""
    return [f"{prefix}{rel}.py", f"{prefix}{rel}/__init__.py"]


def find_module(model: Deployment, base: str, module: str) -> PythonModuleFacts | None:
    for candidate in module_file_candidates(base, module):
        facts = model.module_paths.get(candidate)
        if facts is not None:
            return facts
    return None


def module_in_repo(model: Deployment, base: str, module: str) -> bool:
    return any(c in model.root_paths for c in module_file_candidates(base, module))


def routes_of(model: Deployment, module: PythonModuleFacts, app_name: str) -> list[tuple[str, Span]]:
    """Every URL path the app object `app_name` of `module` serves, with where it is declared:
    routes on the app itself (also inside the factory that builds it) and routes of blueprints
    registered on it, with their prefixes. Which module and app a process serves is found by
    checks/health.py (`app_behind`), which follows imported factories.
    """
    found: list[tuple[str, Span]] = []
    for route in module.routes:
        if route.app == app_name and isinstance(route.path, str):
            found.append((route.path, route.span))
    for registration in module.registrations:
        if registration.app != app_name:
            continue
        bp_module, bp = _find_blueprint(model, module, registration.blueprint)
        if bp_module is None:
            continue
        prefix = registration.url_prefix if isinstance(registration.url_prefix, str) else (bp.url_prefix or "")
        if isinstance(registration.url_prefix, Unknown):
            continue
        for route in bp_module.routes:
            if route.app == bp.name and isinstance(route.path, str):
                found.append((_join_url(prefix, route.path), route.span))
    return found


def _find_blueprint(model: Deployment, module: PythonModuleFacts, name: str):
    for bp in module.blueprints:
        if bp.name == name:
            return module, bp
    imported = module.imports.get(name)
    if imported is not None:
        other = find_module(model, posixpath.dirname(module.path), _absolute(module, imported.module)) or \
            model.modules.get(_absolute(module, imported.module))
        if other is not None:
            for bp in other.blueprints:
                if bp.name == (imported.name or name):
                    return other, bp
    return None, None


def _absolute(module: PythonModuleFacts, target: str) -> str:
    if not target.startswith("."):
        return target
    dots = len(target) - len(target.lstrip("."))
    package = module.module.split(".")
    if not module.path.endswith("__init__.py"):
        package = package[:-1]
    package = package[: len(package) - (dots - 1)] if dots > 1 else package
    rest = target.lstrip(".")
    return ".".join([*package, rest] if rest else package)


def _join_url(prefix: str, path: str) -> str:
    if not prefix:
        return path
    return prefix.rstrip("/") + "/" + path.lstrip("/") if path else prefix
