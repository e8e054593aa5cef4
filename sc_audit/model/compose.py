"""Compose files as projects: which files make one project (the `-f` files a deployment names, in
that order; else a file and its `*.override.*` files of the same folder, as `docker compose` reads
them without `-f`), the files merged as Compose merges them (`merge`), and each service's fields
after `${VAR}` interpolation with the project's `.env`.

Interpolation (compose-spec, "Interpolation"): `$VAR`, `${VAR}`, `${VAR:-default}` (unset or
empty), `${VAR-default}` (unset), `${VAR:?err}`, `${VAR:+alt}`, `$$` for a literal `$`. A variable
that `.env` does not set and that has no default is Unknown (the deploy host's environment may
set it): the field is None and no rule reads it.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

from .. import commands as cmd
from ..facts import ComposeFacts, DotFileFacts
from ..parsers.compose import key_span, key_tag, keys
from ..span import Located, Span

# `${VAR}`, `${VAR:-x}`, `${VAR-x}`, `${VAR:?x}`, `${VAR?x}`, `${VAR:+x}`, `${VAR+x}`, `$VAR`, `$$`
VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])((?:[^{}]|\{[^{}]*\})*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(text: str, env: dict[str, str]) -> str | None:
    """Compose's interpolation of one string; None when a variable's value is unknown."""
    if "$" not in text:
        return text
    unknown = False

    def replace(match: re.Match) -> str:
        nonlocal unknown
        if match.group(0) == "$$":
            return "$"
        name = match.group(1) or match.group(4)
        operator, word = match.group(2), match.group(3) or ""
        value = env.get(name)
        if operator in (":-", "-"):
            use_default = value is None or (operator == ":-" and value == "")
            if use_default:
                inner = interpolate(word, env)
                if inner is None:
                    unknown = True
                    return ""
                return inner
            return value
        if operator in (":+", "+"):
            if value is None:
                unknown = True  # the host may set it
                return ""
            return (interpolate(word, env) or "") if (value != "" or operator == "+") else ""
        if value is None:
            unknown = True
            return ""
        return value

    result = VARIABLE.sub(replace, text)
    return None if unknown else result


@dataclass(slots=True)
class Project:
    """One `docker compose` project: its files in the order Compose merges them."""

    name: str  # the main file's path (or the `-f` files joined with " + "): the key of the project
    files: list[str]
    directory: str  # the project directory (of the first file): relative paths start here
    env: dict[str, str] = field(default_factory=dict)  # from `.env` of that directory
    services: dict[str, dict] = field(default_factory=dict)  # name -> fields (merged, raw)
    service_spans: dict[str, Span] = field(default_factory=dict)
    networks: dict = field(default_factory=dict)  # top-level `networks:`
    named: bool = False  # the deployment names these files (`docker compose -f A -f B up`)


def projects(compose_files: dict[str, ComposeFacts], dotfiles: dict[str, DotFileFacts],
             named: tuple[tuple[str, ...], ...] = (), default_dirs: frozenset[str] = frozenset()) -> list[Project]:
    """The projects of the repository.

    `named`: the file lists the deployment starts with `-f` (or COMPOSE_FILE), each a project in
    that order (see `named_file_lists`). `default_dirs`: folders where the deployment starts
    Compose without naming files.

    The other files are grouped as `docker compose` would read them without `-f`: a Compose file
    and the override files beside it (`docker-compose.override.yml` next to `docker-compose.yml`,
    `compose.override.yaml` next to `compose.yaml`) are one project; every other Compose file
    (`docker-compose.prod.yml`) is a project of its own, merged over the base file of its folder
    when its services lack `image`/`build` (it is an overlay passed with a second `-f`). A guessed
    project whose main file the deployment names with `-f` is left out: the deployment says how
    that file is used (the folder's default project stays when the deployment also runs Compose
    there without `-f`). False-alarm risk: a variant file that a deploy uses alone while it is
    partial (then Compose would reject it); a combination the deployment does not name in a file
    we read (a developer's `docker compose up`) is not audited once the deployment names another."""
    overrides, mains = {}, []
    for path in sorted(compose_files):
        name = posixpath.basename(path).lower()
        if ".override." in name:
            overrides.setdefault(posixpath.dirname(path), []).append(path)
        else:
            mains.append(path)
    base_of = {}
    for path in mains:
        name = posixpath.basename(path).lower()
        if name in DEFAULT_NAMES:
            base_of.setdefault(posixpath.dirname(path), path)
    named = tuple(dict.fromkeys(files for files in named if files and all(f in compose_files for f in files)))
    named_mains = {files[0] for files in named} | {f for files in named for f in files[1:]
                                                  if ".override." not in posixpath.basename(f).lower()}
    guessed: list[tuple[str, list[str]]] = []
    for path in mains:
        directory = posixpath.dirname(path)
        files = [path]
        base = base_of.get(directory)
        if base is not None and base != path and _is_overlay(compose_files[path]):
            files = [base, path]
        elif base == path:
            files += overrides.get(directory, [])
        if path in named_mains and not (base == path and directory in default_dirs):
            continue
        guessed.append((path, files))
    result = []
    seen_files = set()
    for path, files in guessed:
        seen_files.add(tuple(files))
        result.append(_project(path, files, compose_files, dotfiles))
    names = {p.name for p in result}
    for files in named:
        if files in seen_files:
            for project in result:
                if tuple(project.files) == files:
                    project.named = True
            continue
        seen_files.add(files)
        name = files[0] if len(files) == 1 and files[0] not in names else " + ".join(files)
        if name in names:
            name = "-f " + " -f ".join(files)
        names.add(name)
        project = _project(name, list(files), compose_files, dotfiles)
        project.named = True
        result.append(project)
    return result


DEFAULT_NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")


def _project(name: str, files: list[str], compose_files: dict[str, ComposeFacts],
             dotfiles: dict[str, DotFileFacts]) -> Project:
    directory = posixpath.dirname(files[0])
    env_file = dotfiles.get(posixpath.join(directory, ".env") if directory else ".env")
    env = {k: v.value for k, v in env_file.values.items() if isinstance(v.value, str)} if env_file else {}
    project = Project(name=name, files=files, directory=directory, env=env)
    for file in files:
        _merge_file(project, compose_files[file])
    return project


def _is_overlay(facts: ComposeFacts) -> bool:
    services = facts.root.get("services")
    if not isinstance(services, dict):
        return False
    entries = [services[k] for k in keys(services) if isinstance(services[k], dict)]
    return bool(entries) and any("image" not in s and "build" not in s for s in entries)


def _merge_file(project: Project, facts: ComposeFacts) -> None:
    """Merge one more file into the project, as Compose merges its `-f` files in order."""
    services = facts.root.get("services")
    if isinstance(services, dict):
        for name in keys(services):
            tag = key_tag(services, name)
            if tag == "!reset":
                project.services.pop(name, None)
                continue
            fields = services[name]
            if not isinstance(fields, dict):
                continue
            earlier = {} if tag == "!override" else project.services.get(name, {})
            project.services[name] = merge(earlier, fields, project.env, ("services", "*"))
            span = key_span(services, name)
            if span is not None and name not in project.service_spans:
                project.service_spans[name] = span
    networks = facts.root.get("networks")
    if isinstance(networks, dict):
        project.networks = merge(project.networks, networks, project.env, ("networks",))


# ---------------------------------------------------------------------------- merging files
#
# The Compose specification's merge rules (compose-spec 13-merge.md, "Merge and override") as
# compose-go applies them (override/merge.go `mergeSpecials`, override/uncity.go `unique`): a
# mapping merges by key, recursively; a sequence appends; `command`, `entrypoint` and
# `healthcheck.test` are replaced; `ports`, `volumes`, `secrets`, `configs`, `expose`,
# `environment`, `env_file`, `profiles`, … append but keep one entry per identity, the later
# entry taking the earlier one's place; `networks` and `depends_on` merge as mappings (a list is a
# mapping of names); `build` as a mapping (a string is its `context`); `!reset` removes what the
# earlier files set, `!override` replaces it. Every value keeps the span of the file it comes
# from; a key's span is that of the last file that sets it.

REPLACED = (("services", "*", "command"), ("services", "*", "entrypoint"), ("services", "*", "healthcheck", "test"))
AS_MAPPING = (("services", "*", "networks"), ("services", "*", "depends_on"), ("services", "*", "models"))


def _is(path: tuple[str, ...], patterns) -> bool:
    return any(len(path) == len(p) and all(a == "*" or a == b for a, b in zip(p, path)) for p in patterns)


def merge(earlier: dict, later: dict, env: dict[str, str], path: tuple[str, ...]) -> dict:
    """`later` merged over `earlier` (neither is changed: the facts are shared with other audits)."""
    result = dict(earlier)
    for key in keys(later):
        tag = key_tag(later, key)
        span_key = "\0span:" + key
        if tag == "!reset":
            result.pop(key, None)
            result.pop(span_key, None)
            continue
        value = later[key]
        if span_key in later:
            result[span_key] = later[span_key]
        if key not in result or tag == "!override":
            result[key] = _without_resets(value)
            continue
        result[key] = _merge_value(result[key], value, env, path + (key,))
    return result


def _without_resets(value: object) -> object:
    """A value as its file sets it, less the keys it marks `!reset` (and the tags themselves)."""
    if not isinstance(value, dict):
        return value
    reset = {k for k in keys(value) if key_tag(value, k) == "!reset"}
    return {k: _without_resets(v) for k, v in value.items()
            if not k.startswith("\0tag:") and k not in reset and not (k.startswith("\0span:") and k[6:] in reset)}


def _merge_value(earlier: object, later: object, env: dict[str, str], path: tuple[str, ...]) -> object:
    if _is(path, REPLACED):
        return _without_resets(later)
    if _is(path, (("services", "*", "environment"),)):
        return _merge_environment(earlier, later)
    if later is None or (isinstance(later, Located) and later.value is None):
        return earlier  # an empty value adds nothing (compose-go: `if o == nil { return e }`)
    if _is(path, AS_MAPPING):
        return merge(_as_mapping(earlier), _as_mapping(later), env, path)
    if _is(path, (("services", "*", "build"),)):
        return merge(_build_mapping(earlier), _build_mapping(later), env, path)
    if _is(path, (("services", "*", "logging"),)) and isinstance(earlier, dict) and isinstance(later, dict):
        drivers = [text(m.get("driver"), env) for m in (earlier, later)]
        if all(d is not None for d in drivers) and drivers[0].value != drivers[1].value:
            return _without_resets(later)  # another driver: its options replace the earlier ones
    if isinstance(earlier, dict) and isinstance(later, dict):
        return merge(earlier, later, env, path)
    identity = next((f for pattern, f in UNIQUE.items() if _is(path, (pattern,))), None)
    if isinstance(earlier, list) and isinstance(later, list):
        return _unique(earlier + later, identity, env) if identity else earlier + later
    if _is(path, AS_LIST):
        return _unique(_as_list(earlier) + _as_list(later), identity or _whole, env)
    return _without_resets(later)


def _as_mapping(value: object) -> dict:
    """`[a, b]` as `{a: null, b: null}` (`networks:`, `depends_on:` — whose default condition
    `service_started` is what an entry without one means), keeping where each name is written."""
    if isinstance(value, dict):
        return value
    result: dict = {}
    if isinstance(value, list):
        for item in value:
            if isinstance(item, Located) and isinstance(item.value, str):
                result[item.value] = None
                result["\0span:" + item.value] = item.span
    return result


def _build_mapping(value: object) -> dict:
    if isinstance(value, Located):
        return {"context": value}
    return value if isinstance(value, dict) else {}


def _as_list(value: object) -> list:
    return value if isinstance(value, list) else [value] if isinstance(value, Located) else []


def _merge_environment(earlier: object, later: object) -> object:
    """One entry per variable, the later file's winning, `VAR` without a value too (it then comes
    from the host's environment): compose-go turns both forms into `KEY=VALUE` lists and keeps one
    entry per key. Two mappings stay a mapping; otherwise the result is a list. Every entry keeps
    its own span."""
    if isinstance(earlier, dict) and isinstance(later, dict):
        result = dict(earlier)
        for key in keys(later):
            result.pop(key, None)
            result.pop("\0span:" + key, None)
            if key_tag(later, key) == "!reset":
                continue
            result[key] = later[key]
            if "\0span:" + key in later:
                result["\0span:" + key] = later["\0span:" + key]
        return result
    entries: dict[str, Located] = {}
    for value in (earlier, later):
        if isinstance(value, dict):
            for key in keys(value):
                entries.pop(key, None)
                if key_tag(value, key) == "!reset":
                    continue
                item = value[key]
                if isinstance(item, Located) and item.value is None:
                    entries[key] = Located(key, key_span(value, key) or item.span)
                elif isinstance(item, Located) and isinstance(item.value, str):
                    entries[key] = Located(f"{key}={item.value}", item.span)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, Located) and isinstance(item.value, str):
                    key = item.value.partition("=")[0]
                    entries.pop(key, None)
                    entries[key] = item
    return list(entries.values())


def _unique(items: list, identity, env: dict[str, str]) -> list:
    """Entries in order, one per identity: a later entry takes the place of an earlier one with
    the same identity (compose-go's `EnforceUnicity`)."""
    result: list = []
    where: dict = {}
    for item in items:
        key = identity(item, env)
        if key is None:
            result.append(item)
        elif key in where:
            result[where[key]] = item
        else:
            where[key] = len(result)
            result.append(item)
    return result


def _scalar(item: object, env: dict[str, str]) -> str | None:
    if not isinstance(item, Located) or not isinstance(item.value, str):
        return None
    value = interpolate(item.value, env)
    return value if value is not None else item.value


def _whole(item: object, env: dict[str, str]):
    if isinstance(item, dict):
        path = _scalar(item.get("path"), env)
        return ("path", path) if path is not None else None
    return _scalar(item, env)


def _port_identity(item: object, env: dict[str, str]):
    """{host ip, published port, container port, protocol} (compose-go's `portIndexer` over the
    canonical long form: `8000:8000` and `0.0.0.0:8000:8000` are one entry)."""
    if isinstance(item, dict):
        target = _scalar(item.get("target"), env)
        if target is None:
            return None
        return (_scalar(item.get("host_ip"), env) or "0.0.0.0", _scalar(item.get("published"), env) or "",
                target, _scalar(item.get("protocol"), env) or "tcp")
    value = _scalar(item, env)
    if value is None:
        return None
    value, _, protocol = value.strip().partition("/")
    ip = ""
    if value.startswith("["):
        ip, _, value = value[1:].partition("]")
        value = value.lstrip(":")
    parts = value.split(":")
    if len(parts) > 3:
        return None
    if len(parts) == 3:
        ip, parts = parts[0], parts[1:]
    published, target = (parts[0], parts[1]) if len(parts) == 2 else ("", parts[0])
    return (ip or "0.0.0.0", published, target, protocol or "tcp")


def _volume_identity(item: object, env: dict[str, str]):
    """The container path (compose-go's `volumeIndexer`): a later file's `./x:/app` replaces `.:/app`."""
    if isinstance(item, dict):
        return ("target", _scalar(item.get("target"), env))
    value = _scalar(item, env)
    if value is None:
        return None
    parts = value.split(":")
    target = parts[1] if len(parts) >= 2 else parts[0]
    return ("target", posixpath.normpath(target) if target.startswith("/") else target)


def _mount_identity(default: str):
    def identity(item: object, env: dict[str, str]):
        if isinstance(item, dict):
            target = _scalar(item.get("target"), env)
            return target if target is not None else f"{default}/{_scalar(item.get('source'), env)}"
        value = _scalar(item, env)
        return f"{default}/{value}" if value is not None else None
    return identity


def _key_identity(item: object, env: dict[str, str]):
    value = _scalar(item, env)
    return value.partition("=")[0] if value is not None else None


UNIQUE = {
    ("services", "*", "ports"): _port_identity,
    ("services", "*", "volumes"): _volume_identity,
    ("services", "*", "secrets"): _mount_identity("/run/secrets"),
    ("services", "*", "configs"): _mount_identity(""),
    ("services", "*", "expose"): _whole,
    ("services", "*", "env_file"): _whole,
    ("services", "*", "profiles"): _whole,
    ("services", "*", "dns"): _whole,
    ("services", "*", "tmpfs"): _whole,
    ("services", "*", "cap_add"): _whole,
    ("services", "*", "cap_drop"): _whole,
    ("services", "*", "extra_hosts"): _whole,
    ("services", "*", "links"): _key_identity,
    ("services", "*", "labels"): _key_identity,
    ("services", "*", "sysctls"): _key_identity,
    ("services", "*", "networks", "*", "aliases"): _whole,
}
AS_LIST = (("services", "*", "env_file"), ("services", "*", "dns"), ("services", "*", "tmpfs"))


# ---------------------------------------------------------------------------- `-f` files named by the deployment

COMPOSE_GLOBAL_VALUES = {"-f", "--file", "-p", "--project-name", "--profile", "--env-file", "--project-directory",
                         "--ansi", "--parallel", "--progress"}
STARTS = ("up", "start", "restart", "run", "create")  # the subcommands that start the project's containers


@dataclass(frozen=True, slots=True)
class Invocation:
    """`docker compose [GLOBAL OPTIONS] SUBCOMMAND ARGS` (or `docker-compose …`) as written."""

    files: tuple[str, ...] | None  # `-f`/`--file` (or COMPOSE_FILE) in order; (): none named; None: unknown
    project_directory: str | None  # `--project-directory` as written
    subcommand: str | None
    args: tuple[str, ...]  # the words after the subcommand


def invocation(argv: tuple[str, ...], dynamic: tuple[bool, ...] = (), compose_file: str | None = "") -> Invocation | None:
    """Read a Compose command line: `-f A`, `--file A`, `--file=A`, `-fA`, and a `COMPOSE_FILE=a:b`
    prefix (or `compose_file`, from an earlier `export`; None: set to something unknown), which
    only counts when no `-f` is given (compose-go `WithConfigFileEnv`). A file named by a variable
    or `-` (stdin) makes the list unknown."""
    stripped, env, _ = cmd.strip_wrappers(tuple(argv))
    offset = len(argv) - len(stripped)
    flags = tuple(dynamic[offset:]) if tuple(argv[offset:]) == stripped and len(dynamic) == len(argv) else ()
    if len(stripped) >= 2 and cmd.basename(stripped[0]) == "docker" and stripped[1] == "compose":
        i = 2
    elif stripped and cmd.basename(stripped[0]) == "docker-compose":
        i = 1
    else:
        return None
    if "COMPOSE_FILE" in env:
        prefix_dynamic = any(d for w, d in zip(argv[:offset], dynamic) if w.startswith("COMPOSE_FILE="))
        compose_file = None if prefix_dynamic else env["COMPOSE_FILE"]
    files: list[str] = []
    unknown = False
    directory = None
    while i < len(stripped) and stripped[i].startswith("-") and stripped[i] != "--":
        word = stripped[i]
        value_at = i
        if word.startswith("--") and "=" in word:
            key, value = word.split("=", 1)
            step = 1
        elif word.startswith("-f") and not word.startswith("--") and len(word) > 2:
            key, value, step = "-f", word[2:].removeprefix("="), 1
        elif word in COMPOSE_GLOBAL_VALUES:
            key, value, step = word, stripped[i + 1] if i + 1 < len(stripped) else None, 2
            value_at = i + 1
        else:
            key, value, step = word, None, 1
        written = value is not None and not (flags and value_at < len(flags) and flags[value_at]) and "$" not in value
        if key in ("-f", "--file"):
            if written and value != "-":
                files.append(value)
            else:
                unknown = True
        elif key == "--project-directory":
            directory = value if written else "$"
        i += step
    if not files and not unknown:
        if compose_file is None or "$" in (compose_file or ""):
            unknown = True
        elif compose_file:
            files = [f for f in compose_file.split(":") if f]
    subcommand = stripped[i] if i < len(stripped) else None
    return Invocation(None if unknown else tuple(files), directory, subcommand, tuple(stripped[i + 1:]))


@dataclass(slots=True)
class ComposeRuns:
    """How the deployment starts Compose: the file lists it names (each a project, in order),
    the folders where it starts Compose without naming files, and each command's resolved files."""

    named: tuple[tuple[str, ...], ...] = ()
    default_dirs: frozenset[str] = frozenset()
    by_span: dict = field(default_factory=dict)  # command span -> resolved files; () none named; None unknown


def compose_runs(model) -> ComposeRuns:
    """The Compose commands that start containers (`up`, `start`, `restart`, `run`, `create`) in
    deploy scripts, workflow steps and systemd units (`ExecStart=`), and the files each names.

    A relative `-f` file is read from the command's working directory as the install model knows
    it (`cd` in the same shell, or the unit's `WorkingDirectory=` through the install map); when
    that is unknown, from the repository root or the script's own folder, whichever holds every
    file. An absolute one resolves through the install map. A list counts only when every file
    is a Compose file of the repository: no project is made from a variable, stdin, or a file we
    do not have. `COMPOSE_FILE=a.yml:b.yml` as the command's prefix or `export`ed earlier in the
    same shell counts when no `-f` is given. False-alarm risk: a `cd` we cannot follow (into a
    variable) before the command, where another folder holds files of the same names."""
    memo = model.memo.get("compose-runs")
    if memo is not None:
        return memo
    from .install import resolve, working_directories

    named: list[tuple[str, ...]] = []
    default_dirs: set[str] = set()
    by_span: dict = {}
    exported: dict[tuple, str | None] = {}

    def note(command, inv: Invocation, bases: list[str]) -> None:
        if inv.files is None:
            by_span[command.span] = None
            return
        if not inv.files:
            by_span[command.span] = ()
            if inv.project_directory is None:
                default_dirs.update(bases or [""])
            elif "$" not in inv.project_directory:
                default_dirs.update(_folder(posixpath.join(b, inv.project_directory)) for b in bases or [""])
            return
        if inv.project_directory is not None:
            by_span[command.span] = None  # another project folder than the first file's: not followed
            return
        found = _resolve_files(model, inv.files, bases, resolve)
        by_span[command.span] = found
        if found is not None:
            named.append(found)

    steps = model.steps
    for step, here in zip(steps, working_directories(steps)):
        command = step.command
        shell = (command.span.path, command.context.kind, command.context.span)
        if command.argv[:1] == ("export",):
            for word, flag in zip(command.argv[1:], command.dynamic[1:]):
                if word.startswith("COMPOSE_FILE="):
                    exported[shell] = None if flag else word.partition("=")[2]
            continue
        inv = invocation(command.argv, command.dynamic, exported.get(shell, ""))
        if inv is None or inv.subcommand not in STARTS:
            continue
        if here.repo is not None:
            bases = [here.repo]
        else:
            mapped = resolve(model, here.host) if here.host else None
            script_dir = posixpath.dirname(command.span.path) if step.source == "shell" else ""
            bases = [mapped] if mapped is not None else list(dict.fromkeys(["", script_dir]))
        note(command, inv, bases)
    for _, unit in sorted(model.units.items()):
        workdir = unit.working_directory.value if unit.working_directory is not None else None
        for command in unit.exec_start:
            inv = invocation(command.argv, command.dynamic)
            if inv is None or inv.subcommand not in STARTS:
                continue
            if isinstance(workdir, str) and workdir.startswith("/"):
                mapped = resolve(model, workdir)
                bases = [mapped] if mapped is not None else [""]
            else:
                bases = []  # systemd runs it in `/`: only absolute files resolve
            note(command, inv, bases)
    runs = ComposeRuns(tuple(named), frozenset(default_dirs), by_span)
    model.memo["compose-runs"] = runs
    return runs


def _folder(path: str) -> str:
    path = posixpath.normpath(path)
    return "" if path == "." else path


def _resolve_files(model, files: tuple[str, ...], bases: list[str], resolve) -> tuple[str, ...] | None:
    """The repository's Compose files a `-f` list names, from the first base that holds them all."""
    for base in bases or [None]:
        found = []
        for file in files:
            if file.startswith("/"):
                path = resolve(model, file)
            elif base is None or file.startswith("~"):
                path = None
            else:
                path = posixpath.normpath(posixpath.join(base, file))
            if path is None or path not in model.compose_files:
                break
            found.append(path)
        else:
            return tuple(found)
    return None


# ---------------------------------------------------------------------------- field readers


def text(value: object, env: dict[str, str]) -> Located | None:
    """A scalar field, interpolated; None when absent, null, or unknown."""
    if not isinstance(value, Located) or not isinstance(value.value, str):
        return None
    result = interpolate(value.value, env)
    return Located(result, value.span) if result is not None else None


def words(value: object, env: dict[str, str]) -> tuple[tuple[str, ...], Span] | None:
    """`command:`/`entrypoint:` as argv: a list as is; a string split as Compose splits it
    (shell words, no shell runs it). None when absent or unknown."""
    if isinstance(value, Located):
        located = text(value, env)
        if located is None:
            return None
        try:
            return tuple(shlex.split(located.value)), value.span
        except ValueError:
            return None
    if isinstance(value, list) and value:
        items = [text(item, env) for item in value]
        if any(item is None for item in items):
            return None
        return tuple(item.value for item in items), value[0].span
    return None


def mapping(value: object, env: dict[str, str]) -> dict[str, Located]:
    """`environment:`-style fields: a mapping or a list of `KEY=VALUE`; unknown values left out."""
    result: dict[str, Located] = {}
    if isinstance(value, dict):
        for key in keys(value):
            item = value[key]
            located = text(item, env)
            if located is not None:
                result[key] = located
    elif isinstance(value, list):
        for item in value:
            located = text(item, env)
            if located is not None and "=" in located.value:
                key, _, val = located.value.partition("=")
                result[key] = Located(val, located.span)
    return result


def names(value: object) -> list[tuple[str, object]]:
    """A list of names or a mapping of name -> options (`networks:`, `depends_on:`)."""
    if isinstance(value, list):
        return [(item.value, None) for item in value if isinstance(item, Located) and isinstance(item.value, str)]
    if isinstance(value, dict):
        return [(key, value[key]) for key in keys(value)]
    return []
