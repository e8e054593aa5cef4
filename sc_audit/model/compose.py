"""Compose files as projects: which files make one project (a file and its `*.override.*` files of
the same folder, as `docker compose` reads them without `-f`), the files merged as Compose merges
them (`merge`), and each service's fields
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

    name: str  # the main file's path: the key of the project
    files: list[str]
    directory: str  # the project directory (of the first file): relative paths start here
    env: dict[str, str] = field(default_factory=dict)  # from `.env` of that directory
    services: dict[str, dict] = field(default_factory=dict)  # name -> fields (merged, raw)
    service_spans: dict[str, Span] = field(default_factory=dict)
    networks: dict = field(default_factory=dict)  # top-level `networks:`


def projects(compose_files: dict[str, ComposeFacts], dotfiles: dict[str, DotFileFacts]) -> list[Project]:
    """A Compose file and the override files beside it (`docker-compose.override.yml` next to
    `docker-compose.yml`, `compose.override.yaml` next to `compose.yaml`) are one project; every
    other Compose file (`docker-compose.prod.yml`) is a project of its own, merged over the base
    file of its folder when its services lack `image`/`build` (it is an overlay passed with a
    second `-f`). False-alarm risk: a variant file that a deploy uses alone while it is partial
    (then Compose would reject it)."""
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
    result = []
    for path in mains:
        directory = posixpath.dirname(path)
        files = [path]
        base = base_of.get(directory)
        if base is not None and base != path and _is_overlay(compose_files[path]):
            files = [base, path]
        elif base == path:
            files += overrides.get(directory, [])
        result.append(_project(path, files, compose_files, dotfiles))
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
