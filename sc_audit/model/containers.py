"""Containers: each a process in its own network namespace, with its own loopback and filesystem.

Services of one Compose project reach each other by service name (and `aliases`,
`container_name`, `hostname`) on the networks they share (`default` when none is named);
`ports:` publish a container port on the host; `network_mode: host` shares the host's namespace
(then loopback is the host's), `service:X` shares X's. The command a container runs is ENTRYPOINT +
CMD (or Compose's `entrypoint:`/`command:`), in the image's WORKDIR, whose files COPY put there from
the build context: the install map of a container (images.py).

Facts other rules read (runs-as-root, dev-server): `Container.user` (None: no USER anywhere we can
see — the base image's user, root for the python/debian/alpine images), `Container.argv` (the
command as the container runs it, or None when unknown), `Container.process` (the server it runs,
a model Process with `manager == "container"`, never in `Deployment.processes`).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from .. import commands as cmd
from ..facts import ShellCommand, ShellContext
from ..parsers.compose import key_span, keys
from ..span import Located, Span, Unknown
from . import compose as cf
from .images import NO_ENTRYPOINT_BASES, Image, base_name, image_of
from .network import Endpoint
from .records import Deployment, Process

SHELLS = ("sh", "bash", "dash", "ash", "zsh")
INIT_WRAPPERS = ("tini", "dumb-init", "docker-init", "catatonit")
USER_WRAPPERS = ("gosu", "su-exec")


@dataclass(frozen=True, slots=True)
class Published:
    """`ports:` entry: host address:port -> container port."""

    host_ip: str | None  # None: all interfaces (Docker's default)
    host_port: str | None  # "8000", "8000-8010", None (an ephemeral port)
    container_port: int
    span: Span
    long_syntax: bool = False  # `- target: 8000` … rather than `- "8000:8000"`


@dataclass(frozen=True, slots=True)
class Mount:
    """A repository file or folder mounted into the container (`volumes: ./nginx.conf:/etc/nginx/…`)."""

    source: str  # repository path ("" = the project folder)
    target: str  # absolute path in the container
    span: Span


@dataclass(slots=True)
class Container:
    name: str  # the service name, or the Dockerfile's path for an image no Compose file runs
    project: str | None  # the Compose file that defines it (its project's key); None: a bare Dockerfile
    span: Span  # the service key, or the Dockerfile's FROM
    image: Image | None = None  # the image built from the repository
    image_name: str | None = None  # Compose `image:` (pulled, or the build's tag)
    argv: tuple[str, ...] | None = None  # ENTRYPOINT + CMD as the container runs it; None: unknown
    argv_span: Span | None = None
    shell_text: str | None = None  # the script `sh -c` runs, when the command is `sh -c TEXT`
    shell_name: str | None = None  # "sh", "bash"
    script: str | None = None  # the repository script the command runs (an entrypoint script)
    server: ShellCommand | None = None  # the command that starts the server (in the shell text or script)
    process: Process | None = None
    published: list[Published] = field(default_factory=list)
    ports_unknown: list[Span] = field(default_factory=list)  # `ports:` entries that cannot be read (a variable)
    expose: list[int] = field(default_factory=list)
    networks: dict[str, tuple[str, ...]] = field(default_factory=dict)  # network -> aliases
    network_mode: str | None = None
    hostnames: set[str] = field(default_factory=set)
    user: Located | None = None  # Compose `user:` over the image's USER
    restart: Located | None = None
    init: bool = False  # `init: true`, or tini/dumb-init in the command
    entry_known: bool = False  # the ENTRYPOINT is known (written here, or a base image without one)
    depends_on: dict[str, str] = field(default_factory=dict)  # service -> condition
    mounts: list[Mount] = field(default_factory=list)
    cpus: Located | None = None  # the CPU limit (a float), where it is written
    stop_signal: Located | None = None  # Compose `stop_signal:` over the image's STOPSIGNAL; None: SIGTERM
    stop_grace: Located | None = None  # Compose `stop_grace_period:` (text, "1m30s"); None: Docker's 10 s
    env: dict[str, str] = field(default_factory=dict)
    healthcheck: object = None
    nginx: bool = False
    nginx_files: list[str] = field(default_factory=list)  # repository Nginx files this container reads
    external_names: bool = False  # links, external_links, extra_hosts or external networks: other names resolve
    env_unknown: bool = False  # `env_file:` (not read): any variable may be set there
    profiles: tuple[str, ...] = ()
    compose_files: tuple[str, ...] = ()  # the project's files, in the order Compose merges them


# ---------------------------------------------------------------------------- building


def build_containers(model: Deployment) -> list[Container]:
    """Every container of the deployment: each Compose service, and each Dockerfile no service builds."""
    containers: list[Container] = []
    built: set[str] = set()
    runs = cf.compose_runs(model)
    for project in cf.projects(model.compose_files, model.dotfiles, runs.named, runs.default_dirs):
        services = sorted(project.services)
        for name in services:
            container = service_container(model, project, name)
            if container.image is not None:
                built.add(container.image.dockerfile)
            containers.append(container)
        _link_project(model, [c for c in containers if c.project == project.name], project)
    for path, facts in sorted(model.dockerfiles.items()):
        if path in built:
            continue
        image = image_of(facts, None, posixpath.dirname(path))
        if image is None:
            continue
        container = Container(name=path, project=None, span=image.from_span, image=image)
        container.user = image.user
        container.stop_signal = image.stopsignal
        container.expose = [port for port, _ in image.expose]
        container.env = dict(image.env)
        _command(model, container, None, None)
        _nginx(model, container)
        containers.append(container)
    return containers[:MAX_CONTAINERS]


MAX_CONTAINERS = 1000


def _written(fields: dict, key: str, env: dict[str, str], where: Span) -> Located | None:
    """A scalar field of a service: None when absent; its value Unknown when it is written but cannot
    be read (a variable the project does not set), so that no rule takes the default for it."""
    if key not in fields:
        return None
    located = cf.text(fields.get(key), env)
    return located or Located(Unknown(f"`{key}` cannot be read"), key_span(fields, key) or where)


def service_container(model: Deployment, project: cf.Project, name: str) -> Container:
    fields, env = project.services[name], project.env
    container = Container(name=name, project=project.name,
                          span=project.service_spans.get(name) or Span(project.files[0], 1),
                          compose_files=tuple(project.files))
    image_name = cf.text(fields.get("image"), env)
    container.image_name = image_name.value if image_name else None
    container.image = _build_image(model, project, fields.get("build"), env)
    container.env = dict(container.image.env) if container.image else {}
    container.env.update({k: v.value for k, v in cf.mapping(fields.get("environment"), env).items()})
    container.env_unknown = "env_file" in fields or (
        isinstance(fields.get("environment"), (dict, list)) and
        len(cf.mapping(fields.get("environment"), env)) < _entries(fields.get("environment")))
    container.user = cf.text(fields.get("user"), env) or (container.image.user if container.image else None)
    container.stop_signal = _written(fields, "stop_signal", env, container.span) or (
        container.image.stopsignal if container.image else None)
    container.stop_grace = _written(fields, "stop_grace_period", env, container.span)
    container.restart = cf.text(fields.get("restart"), env)
    deploy = fields.get("deploy")
    if container.restart is None and isinstance(deploy, dict) and isinstance(deploy.get("restart_policy"), dict):
        condition = cf.text(deploy["restart_policy"].get("condition"), env)
        container.restart = condition or Located("on-failure", key_span(deploy, "restart_policy") or container.span)
    init = cf.text(fields.get("init"), env)
    container.init = init is not None and init.value.lower() == "true"
    mode = cf.text(fields.get("network_mode"), env)
    container.network_mode = mode.value if mode else None
    container.published, container.ports_unknown = _ports(fields.get("ports"), env)
    if "ports" in fields and not isinstance(fields["ports"], list) and fields["ports"] is not None:
        container.ports_unknown.append(key_span(fields, "ports") or container.span)
    container.expose = [int(p.value.split("/")[0]) for p in fields.get("expose", [])
                        if isinstance(fields.get("expose"), list) and isinstance(p, Located)
                        and isinstance(p.value, str) and re.fullmatch(r"\d+(/tcp)?", p.value)]
    if container.image:
        container.expose += [port for port, _ in container.image.expose]
    container.hostnames = {name}
    for key in ("container_name", "hostname"):
        value = cf.text(fields.get(key), env)
        if value:
            container.hostnames.add(value.value)
    networks = cf.names(fields.get("networks")) or ([("default", None)] if container.network_mode is None else [])
    for network, options in networks:
        aliases: tuple[str, ...] = ()
        if isinstance(options, dict) and isinstance(options.get("aliases"), list):
            aliases = tuple(a.value for a in options["aliases"] if isinstance(a, Located) and isinstance(a.value, str))
        container.networks[network] = aliases
        container.hostnames.update(aliases)
    container.external_names = any(k in fields for k in ("links", "external_links", "extra_hosts")) or any(
        isinstance(project.networks.get(n), dict) and "external" in project.networks[n] for n in container.networks)
    for dependency, options in cf.names(fields.get("depends_on")):
        condition = cf.text(options.get("condition"), env) if isinstance(options, dict) else None
        container.depends_on[dependency] = condition.value if condition else "service_started"
    container.mounts = _mounts(fields.get("volumes"), env, project.directory)
    container.cpus = _cpus(fields, env)
    container.healthcheck = fields.get("healthcheck")
    profiles = fields.get("profiles")
    if isinstance(profiles, list):
        container.profiles = tuple(p.value for p in profiles if isinstance(p, Located) and isinstance(p.value, str))
    entrypoint = cf.words(fields.get("entrypoint"), env) if "entrypoint" in fields else None
    command = cf.words(fields.get("command"), env) if "command" in fields else None
    if ("entrypoint" in fields and entrypoint is None) or ("command" in fields and command is None):
        container.argv = None  # written but unknown (a variable): the command is unknown
        _nginx(model, container)
        return container
    _command(model, container, entrypoint, command)
    _nginx(model, container)
    return container


def _build_image(model: Deployment, project: cf.Project, build: object, env: dict[str, str]) -> Image | None:
    if build is None:
        return None
    target = None
    dockerfile = "Dockerfile"
    if isinstance(build, Located):
        context = cf.text(build, env)
        if context is None:
            return None
        context_value = context.value
    elif isinstance(build, dict):
        context = cf.text(build.get("context"), env)
        context_value = context.value if context else "."
        named = cf.text(build.get("dockerfile"), env)
        if named is not None:
            dockerfile = named.value
        elif "dockerfile" in build or "dockerfile_inline" in build:
            return None
        chosen = cf.text(build.get("target"), env)
        target = chosen.value if chosen else None
    else:
        return None
    if "://" in context_value or context_value.startswith(("git@", "/")):
        return None  # a remote or absolute context: not this repository
    context_dir = posixpath.normpath(posixpath.join(project.directory, context_value))
    context_dir = "" if context_dir == "." else context_dir
    if context_dir.startswith(".."):
        return None
    path = posixpath.normpath(posixpath.join(context_dir, dockerfile))
    facts = model.dockerfiles.get(path)
    if facts is None or facts.errors:
        return None
    return image_of(facts, target, context_dir)


PORT = re.compile(r"^(?:(?P<ip>\[[0-9a-fA-F:.]*\]|[0-9.]+|[^:]*?):)??(?:(?P<host>\d+(?:-\d+)?)?:)?"
                  r"(?P<container>\d+)(?:-\d+)?(?:/(?P<proto>tcp|udp|sctp))?$")


def _ports(value: object, env: dict[str, str]) -> tuple[list[Published], list[Span]]:
    """Short syntax `[HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTO]` (ranges: the first port) and the
    long syntax (`target`, `published`, `host_ip`, `protocol`). UDP ports are not HTTP: left out.
    Also returns where an entry is unknown: a variable `.env` does not set (in the entry, or in a
    long-syntax `published`/`host_ip`), or text Compose's syntax does not have — never read as
    "no port" or "all interfaces"."""
    result: list[Published] = []
    unknown: list[Span] = []
    if not isinstance(value, list):
        return result, unknown
    for item in value:
        if isinstance(item, Located):
            located = cf.text(item, env)
            if located is None or not isinstance(item.value, str):
                if located is None:
                    unknown.append(item.span)
                continue
            match = PORT.match(located.value.strip())
            if match is None:
                if not located.value.strip().endswith(("/udp", "/sctp")):
                    unknown.append(item.span)
                continue
            if match.group("proto") in ("udp", "sctp"):
                continue
            ip = match.group("ip")
            ip = ip.strip("[]") if ip else None
            if match.group("host") is None and ip is None and ":" not in located.value:
                host = None  # only the container port: an ephemeral host port on all interfaces
            else:
                host = match.group("host")
            result.append(Published(ip or None, host, int(match.group("container")), item.span))
        elif isinstance(item, dict):
            target = cf.text(item.get("target"), env)
            protocol = cf.text(item.get("protocol"), env)
            if protocol and protocol.value != "tcp":
                continue
            published = cf.text(item.get("published"), env)
            ip = cf.text(item.get("host_ip"), env)
            if target is None or not target.value.isdigit() or (item.get("published") is not None and
                                                                 published is None) or \
                    (item.get("host_ip") is not None and ip is None) or ("protocol" in item and protocol is None):
                unknown.append(next((item[k].span for k in keys(item) if isinstance(item[k], Located)),
                                    None) or key_span(item, "target") or Span("", 1))
                continue
            result.append(Published(ip.value if ip else None, published.value if published else None,
                                    int(target.value), target.span, long_syntax=True))
    return result, unknown


def _mounts(value: object, env: dict[str, str], directory: str) -> list[Mount]:
    """Bind mounts of repository paths (`./x:/y[:ro]`, long syntax `type: bind`); named volumes
    and absolute host paths are not the repository."""
    result = []
    if not isinstance(value, list):
        return result
    for item in value:
        source = target = None
        span = None
        if isinstance(item, Located):
            located = cf.text(item, env)
            if located is None:
                continue
            parts = located.value.split(":")
            if len(parts) >= 2:
                source, target, span = parts[0], parts[1], item.span
        elif isinstance(item, dict):
            s, t = cf.text(item.get("source"), env), cf.text(item.get("target"), env)
            if s and t:
                source, target, span = s.value, t.value, t.span
        if source is None or target is None or not source.startswith(".") or not target.startswith("/"):
            continue
        repo = posixpath.normpath(posixpath.join(directory, source))
        if repo.startswith(".."):
            continue
        result.append(Mount("" if repo == "." else repo, posixpath.normpath(target), span))
    return result


def _cpus(fields: dict, env: dict[str, str]) -> Located | None:
    """`cpus:` or `deploy.resources.limits.cpus` (a CPU quota), as a number with its place."""
    candidates = [fields.get("cpus")]
    deploy = fields.get("deploy")
    if isinstance(deploy, dict) and isinstance(deploy.get("resources"), dict):
        limits = deploy["resources"].get("limits")
        if isinstance(limits, dict):
            candidates.append(limits.get("cpus"))
    for candidate in candidates:
        located = cf.text(candidate, env)
        if located is not None:
            try:
                value = float(located.value.strip("'\""))
            except ValueError:
                return None
            return Located(value, located.span) if value > 0 else None
    return None


# ---------------------------------------------------------------------------- the command


def _command(model: Deployment, container: Container, entrypoint, command) -> None:
    """ENTRYPOINT + CMD as Docker combines them, with Compose's overrides; then the server in it.

    An ENTRYPOINT of an external base image is not in the repository: then `argv` is the CMD alone
    and `entry_known` is False (most such entrypoints end in `exec "$@"`, so the CMD still runs)."""
    image = container.image
    if entrypoint is not None:  # Compose's entrypoint drops the image's CMD
        words, span = entrypoint
        if command is not None:
            words, span = (*words, *command[0]), command[1]
        container.argv, container.argv_span, container.entry_known = words, span, True
    else:
        entry: tuple[str, ...] = ()
        span = None
        cmd_located = image.cmd if image is not None else None
        if image is not None and image.entrypoint is not None:
            entry, span = _form(image.entrypoint.value, image.shell), image.entrypoint.span
            container.entry_known = True
            if isinstance(image.entrypoint.value, str):
                command, cmd_located = None, None  # shell-form ENTRYPOINT ignores CMD
        else:
            base = image.base if image is not None else (container.image_name or "")
            container.entry_known = base_name(base) in NO_ENTRYPOINT_BASES and (image is not None or bool(base))
        if command is not None:
            entry, span = (*entry, *command[0]), command[1]
        elif cmd_located is not None:
            entry, span = (*entry, *_form(cmd_located.value, image.shell)), cmd_located.span
        if not entry:
            return
        container.argv, container.argv_span = entry, span
    _server(model, container)


def _form(value, shell: tuple[str, ...] = ("/bin/sh", "-c")) -> tuple[str, ...]:
    """Exec form as is; shell form run by the image's SHELL (`/bin/sh -c` unless SHELL changes it)."""
    return tuple(value) if isinstance(value, tuple) else (*shell, value)


def _server(model: Deployment, container: Container) -> None:
    """Find the command that starts the server: the command itself, the one `sh -c` runs, or the one
    an entrypoint script of the repository runs (`exec "$@"` hands over to the rest of argv)."""
    from ..parsers.shell import parse_text

    argv = list(container.argv or ())
    while argv and posixpath.basename(argv[0]) in (*INIT_WRAPPERS, *USER_WRAPPERS):
        if posixpath.basename(argv[0]) in INIT_WRAPPERS:
            container.init = True
            argv = argv[1:]
            while argv and argv[0].startswith("-"):
                argv = argv[2:] if argv[0] in ("-s", "-e", "-p") else argv[1:]  # tini options; `--`
        else:
            argv = argv[2:]  # gosu USER cmd…
    if not argv:
        return
    program = posixpath.basename(argv[0])
    span = container.argv_span or container.span
    if program in SHELLS and len(argv) >= 3 and argv[1] in ("-c", "-ec", "-ce", "-exc", "-xc"):
        container.shell_name, container.shell_text = program, argv[2]
        context = ShellContext(kind="bash-c", cmdline=" ".join(argv))
        commands, _ = parse_text(argv[2], span.path, span.line, 1, context)
        commands = [Located(c.argv, span) for c in commands if not c.in_substitution]
        _pick_server(model, container, [c.value for c in commands], span)
        return
    script_argv = argv[1:] if program in SHELLS and len(argv) >= 2 else argv
    script = _script_path(model, container, script_argv[0])
    if script is not None and script in model.shell_facts:
        container.script = script
        facts = model.shell_facts[script]
        launches = [c for c in facts.commands if is_server(model, c.argv) and not c.in_substitution]
        hands_over = any(c.argv[:2] in (("exec", "$@"), ("exec", "${@}")) or
                         (c.argv and c.argv[0] == "exec" and c.argv[-1] in ("$@", "${@}")) for c in facts.commands)
        if launches:
            container.server = launches[-1]
            _process(model, container, launches[-1].argv, launches[-1].span)
        elif hands_over and len(script_argv) > 1:
            _pick_server(model, container, [tuple(script_argv[1:])], span)
        return
    _pick_server(model, container, [tuple(argv)], span)


def _pick_server(model: Deployment, container: Container, argvs: list[tuple[str, ...]], span: Span) -> None:
    for argv in reversed(argvs):
        if is_server(model, argv):
            _process(model, container, argv, span)
            return


SERVER_SCRIPTS = ("app.py", "main.py", "run.py", "server.py", "wsgi.py", "asgi.py", "application.py")


def is_server(model: Deployment, argv: tuple[str, ...]) -> bool:
    """A command that starts a Python web server: gunicorn, uvicorn, `flask run`, `manage.py
    runserver`, or `python app.py` (a script named like an app, or one that calls `app.run`).
    `python manage.py migrate` and other one-off scripts are not."""
    launch = cmd.interpret(argv)
    if not isinstance(launch, cmd.Launch):
        return False
    if launch.program in ("gunicorn", "uvicorn", "flask"):
        return True
    if launch.program == "python" and launch.script:
        name = posixpath.basename(launch.script)
        if name == "manage.py":
            return "runserver" in launch.argv
        module = model.module_paths.get(launch.script.lstrip("./"))
        return name in SERVER_SCRIPTS or (module is not None and bool(module.runs))
    return False


def _script_path(model: Deployment, container: Container, word: str) -> str | None:
    """The repository script a command word names, through the image's COPY map (or a mount)."""
    image = container.image
    if image is None or "$" in word:
        return None
    path = word if word.startswith("/") else posixpath.join(image.workdir or "/", word) if image.workdir else None
    if path is None:
        return None
    repo = to_repo(model, container, path)
    return repo if repo is not None and repo in model.root_paths else None


def _process(model: Deployment, container: Container, argv: tuple[str, ...], span: Span) -> None:
    """The server as a model Process (manager "container"), its Gunicorn settings and binds resolved in
    the container's own filesystem: the working directory is the repository folder COPY (or a bind
    mount) put at WORKDIR. Where that folder is unknown, only the command line counts, and a bind it
    does not give is unknown (a config in the image may set one)."""
    from .gunicorn import resolve_binds, resolve_gunicorn
    from .records import Setting

    launch = cmd.interpret(argv)
    if not isinstance(launch, cmd.Launch):
        return
    cwd = _repo_workdir(model, container)
    env = {**container.env, **launch.env}
    launch = _with_env_defaults(launch, env)
    if launch.gunicorn is not None and launch.gunicorn.config and launch.gunicorn.config.startswith("/") \
            and cwd is not None:
        config = to_repo(model, container, launch.gunicorn.config)
        if config is None:
            cwd = None  # a config the repository does not hold: its settings are unknown
        else:
            relative = posixpath.relpath(config, cwd or ".")
            argv = tuple(relative if a == launch.gunicorn.config else a for a in argv)
            launch = _with_env_defaults(cmd.interpret(argv), env)
    process = Process(name=container.name, manager="container", span=span, argv=launch.argv, launch=launch,
                      cwd=cwd, env=env)
    container.process = process
    if launch.gunicorn is not None and cwd is None:
        args = launch.gunicorn
        process.settings = {name: Setting(name, value, span, "command line") for name, value in args.settings.items()}
        if not args.binds or "GUNICORN_CMD_ARGS" in env:
            process.binds_known = False
            return
        process.settings["bind"] = Setting("bind", list(args.binds), span, "command line")
    elif cwd is not None:
        resolve_gunicorn(model, process)
    resolve_binds(model, process)
    if container.env_unknown and _bind_from_environment(launch, process):
        process.binds, process.binds_known = [], False


def _bind_from_environment(launch: cmd.Launch, process: Process) -> bool:
    """Whether the bind is a default that a variable may change (FLASK_RUN_HOST, UVICORN_HOST,
    PORT, GUNICORN_CMD_ARGS): then an `env_file:` we do not read makes it unknown."""
    if launch.gunicorn is not None:
        return process.settings.get("bind") is None or process.settings["bind"].source == "default"
    flags = ("--host", "-h", "--port", "-p", "--uds", "--fd")
    return launch.program in ("flask", "uvicorn") and not any(
        a in flags or a.startswith(tuple(f + "=" for f in flags)) for a in launch.argv)


def _entries(value: object) -> int:
    from ..parsers.compose import keys

    return len(keys(value)) if isinstance(value, dict) else len(value) if isinstance(value, list) else 0


def to_repo(model: Deployment, container: Container, path: str) -> str | None:
    """The repository path at an absolute path of the container: a bind mount first (it hides what the
    image has there), then the image's COPY map; None when neither puts a repository file there."""
    path = posixpath.normpath(path)
    for mount in sorted(container.mounts, key=lambda m: -len(m.target)):
        if path == mount.target:
            return mount.source
        if path.startswith(mount.target.rstrip("/") + "/"):
            rest = path[len(mount.target.rstrip("/")) + 1:]
            return posixpath.normpath(posixpath.join(mount.source, rest)) if mount.source else rest
    if container.image is None:
        return None
    return container.image.to_repo(path, model.root_paths)


def _with_env_defaults(launch: cmd.Launch, env: dict) -> cmd.Launch:
    """`flask run` reads FLASK_RUN_HOST/PORT and uvicorn UVICORN_HOST/PORT when the option is absent."""
    import dataclasses

    prefix = {"flask": "FLASK_RUN_", "uvicorn": "UVICORN_"}.get(launch.program)
    if prefix is None:
        return launch
    changes = {}
    for option, key in (("host", "HOST"), ("port", "PORT")):
        flags = ("--host", "-h") if option == "host" else ("--port", "-p")
        written = any(a in flags or a.startswith(tuple(f + "=" for f in flags)) for a in launch.argv)
        if not written and prefix + key in env:
            changes[option] = str(env[prefix + key])
    return dataclasses.replace(launch, **changes) if changes else launch


def _repo_workdir(model: Deployment, container: Container) -> str | None:
    """The repository folder at the container's WORKDIR; None when unknown (no WORKDIR, or not a copy)."""
    image = container.image
    if image is None or image.workdir is None:
        return None
    repo = to_repo(model, container, image.workdir)
    if repo is None or not (repo == "" or model.exists(repo)):
        return None
    return repo


# ---------------------------------------------------------------------------- Nginx in a container


def is_nginx_image(name: str | None) -> bool:
    return name is not None and base_name(name).split("/")[-1] in ("nginx", "nginx-unprivileged", "openresty")


def _nginx(model: Deployment, container: Container) -> None:
    """An Nginx container (its image, or a Dockerfile FROM nginx) reads the repository's Nginx files
    mounted (or copied) under /etc/nginx."""
    image = container.image
    container.nginx = is_nginx_image(container.image_name) or (image is not None and is_nginx_image(image.base))
    if not container.nginx:
        return
    sources = [m.source for m in container.mounts if m.target.startswith("/etc/nginx")]
    if image is not None:
        sources += [c.source for c in image.copies if posixpath.normpath(c.dest).startswith("/etc/nginx")]
    files = []
    for source in sources:
        for path in model.nginx_all:
            if path == source or (source == "" or path.startswith(source.rstrip("/") + "/")):
                files.append(path)
    container.nginx_files = sorted(set(files))


def _link_project(model: Deployment, containers: list[Container], project: cf.Project) -> None:
    """`network_mode: service:X` shares X's namespace: X's names reach it."""
    by_name = {c.name: c for c in containers}
    for container in containers:
        mode = container.network_mode or ""
        if mode.startswith("service:") and mode[8:] in by_name:
            container.networks = dict(by_name[mode[8:]].networks)


def _written_for_a_container(model: Deployment, proxies: list) -> set[str]:
    """Nginx files that no container reads as far as we can see, but that proxy to a Compose service
    by its name (`server web:8000;`): a name that resolves only on the project's network, so the file
    is written for an Nginx container whose mount we do not see (commented out, or a path from a
    variable). Its proxies are neither the host's nor a known container's. False-alarm risk: none
    for the host rules (they lose these proxies); a host whose /etc/hosts names the service
    loses its host proxy findings."""
    names = {name for c in model.containers if c.project is not None for name in c.hostnames}
    return {proxy.path for proxy in proxies if any(e.host in names for e in proxy.endpoints)}


def place_containers(model: Deployment) -> None:
    """Build the containers; the proxies of Nginx files a container reads move to
    `container_proxies` (their hosts resolve in the container's network, not on the host), and those
    of files written for a container we cannot place to `unplaced_proxies`; the WSGI targets of
    container servers join the deployment's (SC101–SC103 check them); the containers' host ports
    are listed (host_listeners)."""
    if not (model.dockerfiles or model.compose_files):
        return
    model.containers = build_containers(model)
    owner = {}
    for container in model.containers:
        for path in container.nginx_files:
            owner.setdefault(path, container)
    unplaced = _written_for_a_container(model, [p for p in model.proxies if p.path not in owner])
    if owner or unplaced:
        host = []
        for proxy in model.proxies:
            if proxy.path in owner:
                model.container_proxies.append((proxy, owner[proxy.path]))
            elif proxy.path in unplaced:
                model.unplaced_proxies.append(proxy)
            else:
                host.append(proxy)
        model.proxies = host
    seen = {(t.text, t.span) for t in model.wsgi_targets}
    for container in model.containers:
        process = container.process
        if process is None or process.wsgi is None or process.cwd is None:
            continue
        if "PYTHONPATH" in process.env or "pythonpath" in process.settings:
            continue  # modules may come from elsewhere
        key = (process.wsgi.text, process.wsgi.span)
        if key not in seen:
            seen.add(key)
            model.wsgi_targets.append(process.wsgi)
    model.host_ports, model.host_ports_unknown = host_listeners(model.containers)


# ---------------------------------------------------------------------------- the host side


@dataclass(frozen=True, slots=True)
class HostPort:
    """Where a container is reached on the host: a published port, or a bind of a server that shares
    the host's network namespace (`network_mode: host`)."""

    endpoint: Endpoint  # on the host
    container: Container
    published: Published | None  # None: a bind in the host's namespace
    span: Span


MAX_RANGE = 100  # ports of one published range read one by one; a wider range is unknown


def host_listeners(containers: list[Container]) -> tuple[list[HostPort], list[Span]]:
    """The host-side listeners of the Compose services, and where one is unknown.

    Docker listens at each published `HOST_IP:HOST_PORT` on the host (docker-proxy, and NAT rules
    that answer first) whether or not the container's server listens behind it: the host port is
    taken and a connection to it reaches the container (SC705 says when nothing answers there). No
    host IP is Docker's default, all host addresses, IPv4 and IPv6 (`[::]`). An ephemeral host port
    (`"8000"`, `"127.0.0.1::8000"`) is no fixed address anything can be pointed at: not a listener.
    A `network_mode: host` server binds the host itself: its binds are host listeners.

    Unknown (the Spans returned): a `ports:` entry with a variable `.env` does not set, a range
    wider than MAX_RANGE, a host-network container whose server or binds are unknown, and a
    Dockerfile that no Compose file runs while it runs a server (or EXPOSEs a port): the
    `docker run -p …` that runs it is not in what sc-audit reads.

    False-alarm risk: every Compose project counts as running, and every service, profiles too —
    a port published only by a development Compose file serves the host's Nginx here. For a rule
    that a listener *silences* (SC302) that only costs a missed finding; a rule that *fires on* a
    listener (SC303) must decide for itself whether the service is the one production runs."""
    listeners: list[HostPort] = []
    unknown: list[Span] = []
    for container in containers:
        if container.project is None:
            if container.process is not None or container.expose:
                unknown.append(container.span)
            continue
        if container.network_mode == "host":
            process = container.process
            if process is None or not process.binds_known or not process.binds:
                unknown.append(container.argv_span or container.span)
                continue
            listeners.extend(HostPort(bound, container, None, span or process.span) for bound, span in process.binds)
            continue
        unknown.extend(container.ports_unknown)
        for published in container.published:
            ports = _port_range(published.host_port)
            if ports is None:
                unknown.append(published.span)
                continue
            host = published.host_ip if published.host_ip not in (None, "") else "::"
            listeners.extend(HostPort(Endpoint(host, port), container, published, published.span) for port in ports)
    return listeners, unknown


def _port_range(text: str | None) -> range | None:
    """The host ports of a `ports:` entry: none for an ephemeral port, None when too wide to read."""
    if text is None:
        return range(0)
    first, _, last = text.partition("-")
    start, end = int(first), int(last or first)
    return range(start, end + 1) if 0 <= end - start < MAX_RANGE else None


# ---------------------------------------------------------------------------- who reaches whom


def reachers(model: Deployment, container: Container, host: str) -> list[Container]:
    """The containers of `container`'s project that the host name `host` names on a network they share."""
    found = []
    for other in model.containers:
        if other.project != container.project or other.project is None or host not in other.hostnames:
            continue
        if set(other.networks) & set(container.networks):
            found.append(other)
    return found


def proxied_containers(model: Deployment):
    """(proxy, Nginx container, target container, container port) for each container proxy whose
    host is a service of the Nginx container's project on a shared network."""
    for proxy, nginx in model.container_proxies:
        for endpoint in proxy.endpoints:
            if endpoint.host is None or endpoint.port is None:
                continue
            for target in reachers(model, nginx, endpoint.host):
                yield proxy, nginx, target, endpoint.port


# ---------------------------------------------------------------------------- deploy steps

COMPOSE_UP_VALUES = {"--scale", "-t", "--timeout", "--wait-timeout", "--pull", "--exit-code-from", "--attach",
                     "--no-attach"}


def compose_restarted(model: Deployment, step) -> list[Process]:
    """The web containers `docker compose up|restart|start [SERVICE…]` (or `docker-compose …`) starts,
    each as a Process bound on its published host ports (what a deploy's health check can reach).
    `up --wait` waits for the health checks itself: nothing then. The project is the one of the
    `-f` files (compose.compose_runs resolves them from the command's folder; unresolved, the
    projects of files with those names), else the Compose files at the repository root.
    False-alarm risk: a script that `cd`s to another project folder before the command."""
    inv = cf.invocation(step.command.argv, step.command.dynamic)
    if inv is None or inv.files is None or inv.subcommand not in ("up", "restart", "start"):
        return []  # not Compose, another subcommand, or files we cannot name (a variable)
    files = list(inv.files or ())
    rest, j = inv.args, 0
    services = []
    while j < len(rest):
        word = rest[j]
        if word == "--wait":
            return []
        if word.startswith("-"):
            j += 2 if word in COMPOSE_UP_VALUES else 1
            continue
        services.append(word)
        j += 1
    names = {posixpath.basename(f) for f in files}
    named = cf.compose_runs(model).by_span.get(step.command.span)
    chosen = [c for c in model.containers if c.project is not None and
              (c.compose_files == named if named else
               (posixpath.basename(c.project) in names) if names else posixpath.dirname(c.project) == "")]
    memo = model.memo.setdefault("compose-web", {})
    result = []
    for container in chosen:
        if services and container.name not in services:
            continue
        if container.process is None and not container.nginx:
            continue
        if id(container) not in memo:
            memo[id(container)] = _published_process(container)
        if memo[id(container)] is not None:
            result.append(memo[id(container)])
    return result


def _published_process(container: Container) -> Process | None:
    binds = [(Endpoint(p.host_ip or "0.0.0.0", int(p.host_port)), p.span) for p in container.published
             if p.host_port is not None and p.host_port.isdigit()]
    if not binds:
        return None
    return Process(name=f"{container.name} (Compose service)", manager="container", span=container.span,
                   binds=binds)


# ---------------------------------------------------------------------------- facts for other rules


def container_user(container: Container) -> tuple[str | None, Span | None]:
    """Who the container's process runs as: (user, where it is set). Compose's `user:`, else the
    image's last USER (inherited through `FROM stage`); with neither, "root" for the official bases
    that set no USER (python, debian, ubuntu, alpine …) with the FROM line as the place, and
    (None, None) — unknown — for any other base (it may set a USER we cannot see)."""
    if container.user is not None and isinstance(container.user.value, str):
        return container.user.value, container.user.span
    base = container.image.base if container.image is not None else (container.image_name or "")
    if base and base_name(base) in NO_ENTRYPOINT_BASES:
        return "root", container.image.from_span if container.image is not None else container.span
    return None, None
