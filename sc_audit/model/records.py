"""The records of the model: settings, WSGI targets, processes, proxies, deploy steps, and the
Deployment that holds them with its indexes."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field

from .. import commands as cmd
from ..facts import (
    AppspecFacts,
    GunicornConfigFacts,
    NginxFacts,
    ParseError,
    Pm2App,
    Pm2Facts,
    PythonModuleFacts,
    ShellCommand,
    SupervisorFacts,
    SupervisorProgram,
    SystemdUnitFacts,
)
from ..span import Span
from .network import Endpoint, bind_key


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
    manager: str  # "pm2" | "systemd" | "supervisor" | "procfile" | "script" | "implied" (a config, its launcher unknown)
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
    supervisor: SupervisorProgram | None = None  # the [program:x] section, for supervisor processes:
    # its stopsignal, stopwaitsecs, stopasgroup, killasgroup, autorestart… in `supervisor.settings`
    host_cwd: str | None = None  # the working directory on the host, when absolute and known
    views: list = field(default_factory=list)  # procview.View: how the OS shows it (see procview.py)

    @property
    def program(self) -> str | None:
        return self.launch.program if self.launch else None


DEFAULT_CLIENT_MAX_BODY_SIZE = 1024 * 1024  # nginx: client_max_body_size 1m (ngx_http_core_module)


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
    # the contract with the app server (see proxies.py): None where a value is unknown
    headers: dict[str, str] | None = None  # proxy_set_header, by lower-case name; None: unknown
    http_version: str | None = "1.0"  # proxy_http_version (nginx's default 1.0); None: unknown
    tls: bool = False  # the server terminates TLS
    body_size: int | None = DEFAULT_CLIENT_MAX_BODY_SIZE  # client_max_body_size in bytes; None: unknown
    body_size_span: Span | None = None  # None when nginx's default applies
    location_span: Span | None = None
    server_span: Span | None = None


@dataclass(frozen=True, slots=True)
class Step:
    """One command of a deploy: a shell line, a workflow step, a PM2 hook."""

    command: ShellCommand
    meaning: cmd.Interpretation | None
    source: str  # kind of file: "shell", "workflow", "pm2"


@dataclass(frozen=True, slots=True)
class Placement:
    """The install map: the repository folder `repo` ("" = root) lands at the host directory `host`."""

    host: str  # absolute, normalised
    repo: str
    span: Span  # the line that says so
    how: str  # "git pull", "rsync", "appspec files", "a path of the unit", …


@dataclass(frozen=True, slots=True)
class Installed:
    """A repository file installed under a name: the unit `myapp-web.service`, the site
    `sites-enabled/myapp`, the supervisor program file `app.conf`."""

    path: str  # the repository file
    kind: str  # "unit" | "site" | "program"
    name: str
    span: Span  # the copy that installs it


@dataclass(slots=True)
class Deployment:
    root_paths: set[str]  # every file in the repository (relative)
    modules: dict[str, PythonModuleFacts] = field(default_factory=dict)  # by module name
    module_paths: dict[str, PythonModuleFacts] = field(default_factory=dict)  # by path
    gunicorn_configs: dict[str, GunicornConfigFacts] = field(default_factory=dict)  # by path
    pm2_files: dict[str, Pm2Facts] = field(default_factory=dict)
    nginx_files: dict[str, NginxFacts] = field(default_factory=dict)  # top-level files only
    units: dict[str, SystemdUnitFacts] = field(default_factory=dict)
    appspecs: dict[str, AppspecFacts] = field(default_factory=dict)
    supervisor_files: dict[str, SupervisorFacts] = field(default_factory=dict)
    placements: list[Placement] = field(default_factory=list)  # the install map
    installed: dict[str, Installed] = field(default_factory=dict)  # by repository path
    shell_paths: set[str] = field(default_factory=set)  # repository scripts read as shell
    runs: list[tuple[str, list[int]]] = field(default_factory=list)  # (root file, step indexes in order)
    processes: list[Process] = field(default_factory=list)
    proxies: list[Proxy] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    wsgi_targets: list[WsgiTarget] = field(default_factory=list)  # every target, deduplicated
    errors: list[ParseError] = field(default_factory=list)
    # containers (model/containers.py): the files they come from, and what they run
    dockerfiles: dict = field(default_factory=dict)  # path -> DockerfileFacts
    compose_files: dict = field(default_factory=dict)  # path -> ComposeFacts
    dotfiles: dict = field(default_factory=dict)  # path -> DotFileFacts (`.env`, `.dockerignore`)
    shell_facts: dict = field(default_factory=dict)  # path -> ShellFacts (entrypoint scripts)
    nginx_all: set = field(default_factory=set)  # every Nginx file, included ones too
    containers: list = field(default_factory=list)  # containers.Container
    container_proxies: list = field(default_factory=list)  # (Proxy, the Nginx Container) — not in `proxies`
    unplaced_proxies: list = field(default_factory=list)  # Proxies of Nginx files written for a container we
    # cannot place (they name a Compose service): in neither `proxies` nor `container_proxies`
    # where containers listen on the host (containers.host_listeners): never in `processes`, which host
    # rules manage (kills, managers); the proxy rules read both
    host_ports: list = field(default_factory=list)  # containers.HostPort
    host_ports_unknown: list = field(default_factory=list)  # Spans where a host listener is unknown
    # indexes built on first use (see `lookup`, `exists`), with the size they were built for
    _tables: tuple | None = field(default=None, repr=False, compare=False)
    memo: dict = field(default_factory=dict, repr=False)  # per-audit results of joins, by key
    _directories: tuple | None = field(default=None, repr=False, compare=False)

    def lookup(self, table: str, keys) -> list[Process]:
        """Processes by an index, in model order, so that joins over many processes stay linear.

        Tables: "bind" (keys: Endpoints; the processes bound on their port or unix socket, the
        only ones that can serve them), "pm2-name", "pm2-file" (the ecosystem file's name),
        "unit" (systemd unit name), "supervisor-group" (the group supervisorctl knows a program by),
        "script-span" (where a deploy step starts a server).
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


def _process_tables(processes: list[Process]) -> dict[str, dict]:
    tables: dict[str, dict] = {"bind": {}, "pm2-name": {}, "pm2-file": {}, "unit": {}, "script-span": {},
                               "supervisor-group": {}}
    for position, process in enumerate(processes):
        keys = [("bind", bind_key(bound)) for bound, _ in process.binds]
        if process.manager == "pm2":
            keys.append(("pm2-name", process.name))
            if process.pm2_path:
                keys.append(("pm2-file", posixpath.basename(process.pm2_path)))
        elif process.manager == "systemd":
            keys.append(("unit", process.name))
        elif process.manager == "supervisor" and process.supervisor is not None:
            keys.append(("supervisor-group", process.supervisor.group))
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
