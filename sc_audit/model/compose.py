"""Compose files as projects: which files make one project (a file and its `*.override.*` files of
the same folder, as `docker compose` reads them without `-f`), and each service's fields after
`${VAR}` interpolation with the project's `.env`.

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
from ..parsers.compose import key_span, keys
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
        if name in ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"):
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
        env_file = dotfiles.get(posixpath.join(directory, ".env") if directory else ".env")
        env = {k: v.value for k, v in env_file.values.items() if isinstance(v.value, str)} if env_file else {}
        project = Project(name=path, files=files, directory=directory, env=env)
        for file in files:
            _merge_file(project, compose_files[file])
        result.append(project)
    return result


def _is_overlay(facts: ComposeFacts) -> bool:
    services = facts.root.get("services")
    if not isinstance(services, dict):
        return False
    entries = [services[k] for k in keys(services) if isinstance(services[k], dict)]
    return bool(entries) and any("image" not in s and "build" not in s for s in entries)


def _merge_file(project: Project, facts: ComposeFacts) -> None:
    services = facts.root.get("services")
    if isinstance(services, dict):
        for name in keys(services):
            fields = services[name]
            if not isinstance(fields, dict):
                continue
            merged = project.services.setdefault(name, {})
            for key in keys(fields):
                merged[key] = fields[key]  # a later file's field replaces (lists of ports are merged below)
                span = key_span(fields, key)
                if span is not None:
                    merged["\0span:" + key] = span
            span = key_span(services, name)
            if span is not None and name not in project.service_spans:
                project.service_spans[name] = span
    networks = facts.root.get("networks")
    if isinstance(networks, dict):
        project.networks.update({k: networks[k] for k in keys(networks)})


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
