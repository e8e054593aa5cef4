"""What each parser reads out of one file: plain data, every fact with its Span.

Parsers produce these; the model builder (model.py) joins them. Nothing here knows
about rules. All types are plain dataclasses so that they can be cached (pickled).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .span import Located, Span, Unknown, plain_state


@plain_state
@dataclass(frozen=True, slots=True)
class ParseError:
    """The file (or a part of it) could not be read. Becomes an SC001 finding."""

    message: str
    span: Span


# --------------------------------------------------------------------------- Python app


@plain_state
@dataclass(frozen=True, slots=True)
class AppObject:
    """A module-level (or factory-local) WSGI/ASGI application object."""

    name: str  # variable name: "app"
    framework: str  # "flask" | "fastapi" | "starlette" | "django" | "quart"
    span: Span
    in_function: str | None = None  # factory function that creates it, if any


@plain_state
@dataclass(frozen=True, slots=True)
class Function:
    name: str
    span: Span
    params: tuple[str, ...] = ()
    required_params: int = 0  # parameters without a default
    returns_app: bool = False  # a factory: builds and returns an app object


@plain_state
@dataclass(frozen=True, slots=True)
class ImportedName:
    """`from MODULE import NAME as ALIAS` (or `import MODULE as ALIAS`: name is None)."""

    alias: str
    module: str  # absolute or relative ("." prefixes) as written
    name: str | None
    span: Span


@plain_state
@dataclass(frozen=True, slots=True)
class Route:
    app: str  # the variable the route is registered on: "app", "bp", "api"
    path: str | Unknown
    methods: tuple[str, ...]  # upper case; ("GET",) when not given
    span: Span
    function: str | None = None  # the view function


@plain_state
@dataclass(frozen=True, slots=True)
class Blueprint:
    name: str  # variable name
    url_prefix: str | None | Unknown  # Unknown: a prefix sc-audit cannot evaluate
    span: Span


@plain_state
@dataclass(frozen=True, slots=True)
class BlueprintRegistration:
    app: str  # variable the blueprint is registered on
    blueprint: str  # variable (or imported alias) of the blueprint
    url_prefix: str | None | Unknown  # None: not given at registration
    span: Span


@plain_state
@dataclass(frozen=True, slots=True)
class RouteUnknown:
    """Part of an app's (or router's) URL space whose routes cannot be read statically: a
    mounted sub-app or StaticFiles, an extension that adds routes (Flask-RESTX, Flask-Admin…),
    a route list built in a loop. Every request path under `prefix` may be served."""

    app: str  # the app / router variable
    prefix: str | Unknown  # "" = the whole URL space; Unknown = a dynamic prefix (the whole space)
    reason: str  # "a mounted sub-app", "flask_restx.Api", …
    span: Span


@plain_state
@dataclass(frozen=True, slots=True)
class AppHandoff:
    """The app (or a router) given to a function: `register_routes(app)`, `init_views(app=app)`.
    The function may add routes to it under its parameter's name."""

    app: str
    callee: str  # as written: "register_routes", "views.init"
    index: int  # positional index, -1 when given by keyword
    keyword: str | None
    span: Span


@plain_state
@dataclass(frozen=True, slots=True)
class AppSetting:
    """A constructor keyword that moves URLs: FastAPI `root_path`, `docs_url`, `redoc_url`,
    `openapi_url`; Flask `static_url_path`. Only when given."""

    app: str
    key: str
    value: str | None | Unknown
    span: Span


@plain_state
@dataclass(frozen=True, slots=True)
class UrlPattern:
    """One entry of a Django `urlpatterns` list: `path(...)`, `re_path(...)` / `url(...)`, or an
    entry that cannot be read (kind "unknown"). `include` is a dotted module name for
    `include("app.urls")`; `children` the entries of `include([...])`; `unknown` says why the
    target cannot be followed (`admin.site.urls`, `include(router.urls)`)."""

    kind: str  # "path" | "re_path" | "unknown"
    route: str | Unknown
    span: Span
    include: str | None = None
    children: tuple[UrlPattern, ...] | None = None
    unknown: str | None = None


@plain_state
@dataclass(frozen=True, slots=True)
class AppRun:
    """`app.run(host=..., port=..., debug=...)`; absent arguments are None."""

    app: str
    host: Located | None
    port: Located | None
    debug: Located | None
    span: Span
    under_main_guard: bool = False  # inside `if __name__ == "__main__":`
    server: str = ""  # the receiver as written: "app", "socketio", "uvicorn"
    reload: Located | None = None  # `reload=` / `use_reloader=`
    in_function: str | None = None  # the function it is called in (None: module level)
    conditional: bool = False  # inside a branch or loop (other than the main guard)


@plain_state
@dataclass(frozen=True, slots=True)
class GuardedSetup:
    """App set-up that only runs under `if __name__ == "__main__":` (`register_blueprint`,
    `db.create_all()`, `ext.init_app(app)`): a WSGI server that imports the module never runs it."""

    text: str  # the call as written, cut short
    span: Span


@dataclass(slots=True)
class AppFeatures:
    """What a module's code says about how its app meets the proxy in front of it (see
    parsers/app_features.py): each a Span where the code says so, None when it does not."""

    socketio: Span | None = None  # Flask-SocketIO / python-socketio is used
    socketio_path: str | None = None  # SocketIO(path=...) as written ("socket.io" by default)
    websocket: Span | None = None  # a WebSocket endpoint (FastAPI/Starlette/Quart, Channels, flask-sock)
    # `@OWNER.websocket("/path")` and kin with a literal path: (owner variable, path, span)
    websocket_routes: tuple[tuple[str, str, Span], ...] = ()
    upload: Span | None = None  # the code reads uploaded files (request.files, UploadFile, FileField)
    proxy_fix: Span | None = None  # ProxyFix / SECURE_PROXY_SSL_HEADER / ProxyHeadersMiddleware
    max_content_length: Located | None = None  # MAX_CONTENT_LENGTH in bytes (int) or Unknown
    imported: tuple[str, ...] = ()  # every module this one imports (relative ones with their dots)
    # module-level `NAME = …` in order: (name, "wsgi" | "asgi" | None when the value is no known
    # app constructor or wrapper, span); the last one of a name is what a server target gets
    bindings: tuple[tuple[str, str | None, Span], ...] = ()


@dataclass(slots=True)
class PythonModuleFacts:
    path: str
    module: str  # dotted module name relative to the root: "app", "pkg.wsgi"
    apps: list[AppObject] = field(default_factory=list)
    functions: dict[str, Function] = field(default_factory=dict)  # top level only
    names: dict[str, Span] = field(default_factory=dict)  # every top-level binding
    imports: dict[str, ImportedName] = field(default_factory=dict)  # by alias
    routes: list[Route] = field(default_factory=list)
    blueprints: list[Blueprint] = field(default_factory=list)
    registrations: list[BlueprintRegistration] = field(default_factory=list)
    runs: list[AppRun] = field(default_factory=list)
    guarded_setup: list[GuardedSetup] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
    features: AppFeatures = field(default_factory=AppFeatures)
    # module-level `name = callee(...)`: name -> callee as written ("create_app")
    assigned_calls: dict[str, str] = field(default_factory=dict)
    # ---- routes (model/routes.py joins them across modules)
    function_imports: dict[str, ImportedName] = field(default_factory=dict)  # imports inside functions
    star_imports: list[str] = field(default_factory=list)  # `from X import *` (module as written)
    route_unknowns: list[RouteUnknown] = field(default_factory=list)
    app_settings: list[AppSetting] = field(default_factory=list)
    app_handoffs: list[AppHandoff] = field(default_factory=list)
    django_settings: str | Unknown | None = None  # os.environ.setdefault("DJANGO_SETTINGS_MODULE", …)
    root_urlconf: str | Unknown | None = None  # ROOT_URLCONF = "…" (module level)
    urlpatterns: list[UrlPattern] | None = None  # module-level `urlpatterns`, None when absent


# --------------------------------------------------------------------------- Gunicorn config


@plain_state
@dataclass(frozen=True, slots=True)
class SettingValue:
    """A gunicorn.conf.py setting, evaluated statically.

    `value` is the value with every env var at its default (Unknown when there is none,
    or when the expression is beyond the evaluator). `cpu_formula` is set when the
    value depends on the CPU count: a small expression tree of tuples, e.g.
    ("+", ("*", ("cpu",), 2), 1), evaluated later with the host's CPU count.
    """

    value: object
    span: Span
    text: str  # source text of the expression
    cpu_formula: tuple | None = None
    env: tuple[str, ...] = ()  # env vars the expression reads
    capped: bool = False  # bounded by min(...) (or a comparison) somewhere


@dataclass(slots=True)
class GunicornConfigFacts:
    path: str
    settings: dict[str, SettingValue] = field(default_factory=dict)
    errors: list[ParseError] = field(default_factory=list)


# --------------------------------------------------------------------------- PM2


@dataclass(slots=True)
class Pm2App:
    """One entry of `apps`. Fields keep their raw values; missing fields are absent.

    Values are Located: value is str/int/float/bool/None/list/dict or Unknown; the
    members of `env`/`env_*` dicts are plain values or Unknown (positions of the whole
    dict are in the Located).
    """

    span: Span  # the app object
    fields: dict[str, Located] = field(default_factory=dict)

    def get(self, key: str, default: object = None) -> object:
        located = self.fields.get(key)
        return default if located is None else located.value

    @property
    def name(self) -> object:
        return self.get("name")


@plain_state
@dataclass(frozen=True, slots=True)
class ShellSnippet:
    """A shell string embedded in a non-shell file, e.g. PM2 deploy `post-deploy`.

    `span` is where the string's text starts (so line offsets inside it add up).
    """

    text: str
    span: Span
    context: str  # "pm2-post-deploy", ...


@dataclass(slots=True)
class Pm2Facts:
    path: str
    apps: list[Pm2App] = field(default_factory=list)
    snippets: list[ShellSnippet] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)


# --------------------------------------------------------------------------- Nginx


@plain_state
@dataclass(frozen=True, slots=True)
class NginxLocation:
    match: str  # "/api/", "= /health", "~ ^/x"
    span: Span
    proxy_pass: Located | None = None  # value: "http://127.0.0.1:8001" (str)
    # proxy_read_timeout etc. in seconds, as Located(int seconds)
    timeouts: dict[str, Located] = field(default_factory=dict)
    client_max_body_size: Located | None = None  # value in bytes (int)
    # proxy_set_header / proxy_http_version as they apply here (enclosing locations merged the
    # way nginx merges arrays: the innermost level that sets a directive replaces the others),
    # values: tuples of the arguments; `unread_include`: an `include` here was not read.
    proxy_settings: dict[str, tuple[Located, ...]] = field(default_factory=dict)
    unread_include: bool = False


@plain_state
@dataclass(frozen=True, slots=True)
class NginxServer:
    span: Span
    listen: tuple[Located, ...] = ()  # raw listen values ("443 ssl", "80")
    server_names: tuple[str, ...] = ()
    locations: tuple[NginxLocation, ...] = ()
    timeouts: dict[str, Located] = field(default_factory=dict)  # server-level
    client_max_body_size: Located | None = None
    proxy_settings: dict[str, tuple[Located, ...]] = field(default_factory=dict)  # server-level
    unread_include: bool = False
    tls: bool = False  # a `listen … ssl` (or `ssl on`): Nginx terminates TLS here


@plain_state
@dataclass(frozen=True, slots=True)
class NginxUpstream:
    name: str
    span: Span
    servers: tuple[Located, ...] = ()  # "127.0.0.1:8001", "unix:/run/app.sock"
    keepalive: Located | None = None  # `keepalive N;`: idle connections kept per worker (int)
    keepalive_timeout: Located | None = None  # seconds; nginx's default 60 s when not set


@dataclass(slots=True)
class NginxFacts:
    path: str
    servers: list[NginxServer] = field(default_factory=list)
    upstreams: list[NginxUpstream] = field(default_factory=list)
    timeouts: dict[str, Located] = field(default_factory=dict)  # http-level
    client_max_body_size: Located | None = None
    # `include` directives as written (value: the pattern), and the root-relative paths
    # of the files that were inlined through them (so the caller does not audit those
    # files a second time as if they were standalone).
    includes: list[Located] = field(default_factory=list)
    included_paths: list[str] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)
    # `location` blocks outside any server: a snippet meant to be included in a server
    locations: list[NginxLocation] = field(default_factory=list)
    proxy_settings: dict[str, tuple[Located, ...]] = field(default_factory=dict)  # http-level
    unread_include: bool = False  # an http-level `include` was not read


# --------------------------------------------------------------------------- Shell


@plain_state
@dataclass(frozen=True, slots=True)
class ShellContext:
    """The shell process that runs a command.

    `cmdline` is the text that process shows in /proc/PID/cmdline, when that text
    contains the command itself (`bash -c '…'`, an ssh session's remote command);
    None for a script file run by path (whose cmdline is just `bash deploy.sh`).
    """

    kind: str  # "script" | "workflow-run" | "ssh-action" | "ssh" | "bash-c" | "pm2-post-deploy"
    cmdline: str | None = None
    span: Span | None = None  # where that shell is started (the ssh command, the step)
    remote: bool = False  # runs on the deploy host (ssh), not on the CI runner
    errexit: bool = False  # the shell starts with -e (`#!/bin/bash -e`, a workflow `run:`)
    ignored_script_stop: Span | None = None  # `script_stop: true` on an ssh-action version without it


@plain_state
@dataclass(frozen=True, slots=True)
class ShellCommand:
    """One simple command, after prefixes like `sudo`/`nohup`/`VAR=x` are kept in argv.

    `argv` holds the words after quote removal. A word with an expansion we cannot
    resolve keeps its text (`$PORT`) and is flagged in `dynamic`; `${PORT:-3000}` is
    resolved to its default `3000` and flagged too.
    """

    argv: tuple[str, ...]
    dynamic: tuple[bool, ...]
    span: Span
    context: ShellContext
    background: bool = False  # ends with `&`
    in_substitution: bool = False  # inside `$(…)` or backticks
    pipe_to: tuple[str, ...] | None = None  # argv of the next command in a pipeline
    pipe_from: tuple[str, ...] | None = None  # argv of the previous command in a pipeline
    substitutions: tuple[tuple[str, ...], ...] = ()  # argvs of $(…) inside its words
    # What the shell does when the command fails (deploy-fail-open, lenient health checks):
    or_else: tuple[str, ...] | None = None  # `cmd || next`: argv run on failure (its `exit`, if any)
    and_then: bool = False  # `cmd && next`: a failure skips the rest of the list
    tested: bool = False  # in the condition of `if`/`while`/`until`: its status is looked at
    in_loop: str = ""  # the innermost loop around it (body or condition): "for", "while", "until"


@dataclass(slots=True)
class ShellFacts:
    path: str
    commands: list[ShellCommand] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)


# --------------------------------------------------------------------------- Workflow


@dataclass(slots=True)
class WorkflowFacts:
    """A GitHub Actions workflow: its shell, mapped back to the YAML's own lines."""

    path: str
    commands: list[ShellCommand] = field(default_factory=list)
    uses: list[Located] = field(default_factory=list)  # "appleboy/ssh-action@v1.0.0"
    errors: list[ParseError] = field(default_factory=list)


# --------------------------------------------------------------------------- CodeDeploy


@plain_state
@dataclass(frozen=True, slots=True)
class AppspecFile:
    """One `files:` entry of a CodeDeploy appspec: `source` (in the revision) lands at `destination`."""

    source: str  # as written: "/" is the whole revision, "app/" a folder of it
    destination: str  # absolute path on the instance
    span: Span  # the entry


@plain_state
@dataclass(frozen=True, slots=True)
class AppspecHook:
    """One script of a lifecycle hook (`hooks: ApplicationStart: - location: scripts/start.sh`)."""

    event: str  # "ApplicationStop", "BeforeInstall", "AfterInstall", "ApplicationStart", "ValidateService", …
    location: str  # relative to the revision root
    span: Span  # the `location` value
    runas: str | None = None


@dataclass(slots=True)
class AppspecFacts:
    path: str
    files: list[AppspecFile] = field(default_factory=list)
    hooks: list[AppspecHook] = field(default_factory=list)  # in lifecycle order, as CodeDeploy runs them
    errors: list[ParseError] = field(default_factory=list)


# --------------------------------------------------------------------------- systemd, Procfile


@dataclass(slots=True)
class SystemdUnitFacts:
    path: str
    name: str  # unit file name: "signalcraft.service"
    exec_start: list[ShellCommand] = field(default_factory=list)  # context kind "systemd"
    working_directory: Located | None = None
    environment: dict[str, Located] = field(default_factory=dict)
    environment_files: list[Located] = field(default_factory=list)  # EnvironmentFile= paths (`-` removed)
    user: Located | None = None
    service_type: str | None = None  # `Type=` (None: not given, systemd's default `simple`)
    # every other `[Service]` directive, its last value (`Restart`, `KillSignal`, `TimeoutStopSec`, …)
    directives: dict[str, Located] = field(default_factory=dict)
    errors: list[ParseError] = field(default_factory=list)


@dataclass(slots=True)
class SupervisorProgram:
    """One `[program:NAME]` section of a supervisord file, with every value supervisord would use.

    `settings` holds each option's effective value (supervisor's default where unset) as a Located
    whose span is the option's value, or the section header for a default. A value that holds a
    `%(...)s` expansion we cannot know is Unknown. `command` is the command line split as
    supervisord splits it (shlex), its words `dynamic` where an expansion is unknown.
    """

    name: str  # the program: [program:NAME]
    span: Span  # the `[program:NAME]` header
    process_name: str = ""  # `process_name` expanded (one record per process when numprocs > 1)
    group: str = ""  # the group supervisorctl knows it by: a [group:G] that lists it, else its name
    command: ShellCommand | None = None  # what supervisord execs (the last command of a `bash -c` string)
    commands: list[ShellCommand] = field(default_factory=list)  # the argv, then a `bash -c` string's commands
    settings: dict[str, Located] = field(default_factory=dict)  # by option name, effective
    given: frozenset[str] = frozenset()  # options written in the file (the rest are defaults)
    environment: dict[str, Located] = field(default_factory=dict)  # `environment=` KEY="val",…

    def value(self, option: str, default: object = None) -> object:
        located = self.settings.get(option)
        return located.value if located is not None else default


@dataclass(slots=True)
class SupervisorFacts:
    path: str
    programs: list[SupervisorProgram] = field(default_factory=list)
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # [group:G] programs=a,b
    includes: list[Located] = field(default_factory=list)  # [include] files= patterns
    errors: list[ParseError] = field(default_factory=list)
    # RuntimeDirectory=, PrivateTmp=, Group=, ListenStream= (of a `.socket` unit), Requires=, Wants=,
    # After=, BindsTo= (the last one of each key)
    directives: dict[str, Located] = field(default_factory=dict)


@dataclass(slots=True)
class ProcfileFacts:
    path: str
    # process type ("web") -> commands of that line (context kind "procfile")
    processes: dict[str, list[ShellCommand]] = field(default_factory=dict)
    errors: list[ParseError] = field(default_factory=list)


# --------------------------------------------------------------------------- containers


@plain_state
@dataclass(frozen=True, slots=True)
class DockerInstruction:
    """One Dockerfile instruction as BuildKit's parser reads it (continuations joined, heredocs kept)."""

    cmd: str  # upper case: "FROM", "COPY", "CMD", …
    value: tuple[str, ...]  # the arguments (exec form: the JSON list; shell form: one string)
    json: bool  # exec form (a JSON array)
    flags: tuple[str, ...]  # "--from=build", "--chown=app", "--interval=5s"
    span: Span  # its lines
    heredocs: tuple[tuple[str, str], ...] = ()  # (name, content)


@dataclass(slots=True)
class DockerfileFacts:
    path: str
    instructions: list[DockerInstruction] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)


@dataclass(slots=True)
class ComposeFacts:
    """A Compose file, composed (never constructed): mappings are dicts, sequences lists, every
    scalar a `Located` holding its text as written (YAML 1.2 reads `22:22` as a string, as Compose
    does), merge keys (`<<: *x`) applied. Interpolation waits for the model (it needs `.env`)."""

    path: str
    root: dict = field(default_factory=dict)
    errors: list[ParseError] = field(default_factory=list)


@dataclass(slots=True)
class DotFileFacts:
    """`.env` (VAR=value lines, for Compose interpolation) or `.dockerignore` (patterns)."""

    path: str
    values: dict[str, Located] = field(default_factory=dict)  # .env
    patterns: list[str] = field(default_factory=list)  # .dockerignore, in order
    errors: list[ParseError] = field(default_factory=list)
