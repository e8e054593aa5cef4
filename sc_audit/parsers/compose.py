"""A Compose file (compose.yaml, docker-compose*.yml, overrides, `-f` files): composed with
PyYAML's safe loader (nodes with lines; nothing constructed), turned into dicts, lists and
`Located` scalars. Merge keys (`<<: *defaults`, as in `x-` extension fields) are applied, as
Compose applies them. Bounded: a budget of nodes (aliases count each time they are walked) and
a depth limit, so that a billion-laughs file costs a finding, not the audit.

Scalars keep their text as written: Compose (go-yaml v3, YAML 1.2) reads `ports: [22:22]` as
the string "22:22", where YAML 1.1 would read a base-60 number.

Compose's merge tags `!reset` and `!override` on a mapping's value are kept beside it (`key_tag`):
the value itself is read as written, and model/compose.py applies the tag when it merges files.
"""

from __future__ import annotations

from ..facts import ComposeFacts, ParseError
from ..source import SourceFile
from ..span import Located, Span

MAX_NODES = 50_000
MAX_DEPTH = 40


class _TooBig(Exception):
    pass


def parse(src: SourceFile) -> ComposeFacts:
    facts = ComposeFacts(path=src.path)
    try:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        root = yaml.compose(src.text, Loader=loader)
    except Exception as exc:  # noqa: BLE001 - a broken file is a finding, not a crash
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 1
        facts.errors.append(ParseError(f"cannot read this Compose file: {type(exc).__name__}"
                                       f"{': ' + str(getattr(exc, 'problem', '') or '')[:120] if mark else ''}",
                                       Span(src.path, line)))
        return facts
    if root is None:
        return facts
    budget = [MAX_NODES]
    try:
        value = _convert(src.path, root, budget, 0)
    except _TooBig:
        facts.errors.append(ParseError(f"more than {MAX_NODES} YAML nodes (aliases counted where used), or nested "
                                       f"deeper than {MAX_DEPTH}: this Compose file is not read", Span(src.path, 1)))
        return facts
    if isinstance(value, dict):
        facts.root = value
    else:
        facts.errors.append(ParseError("a Compose file is a mapping (`services:` …): docker compose rejects this one",
                                       Span(src.path, 1)))
    return facts


def _kind(node) -> str:
    return type(node).__name__


def _convert(path: str, node, budget: list[int], depth: int):
    budget[0] -= 1
    if budget[0] < 0 or depth > MAX_DEPTH:
        raise _TooBig
    kind = _kind(node)
    if kind == "ScalarNode":
        span = Span(path, node.start_mark.line + 1, node.start_mark.column + 1)
        value = node.value
        if node.tag == "tag:yaml.org,2002:null" or (not node.style and value in ("", "~", "null", "Null", "NULL")):
            value = None
        return Located(value, span)
    if kind == "SequenceNode":
        return [_convert(path, item, budget, depth + 1) for item in node.value]
    if kind == "MappingNode":
        result: dict = {}
        merged: dict = {}
        for key_node, value_node in node.value:
            if _kind(key_node) != "ScalarNode":
                continue
            if key_node.value == "<<" and key_node.tag in ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:str") \
                    and not key_node.style:
                sources = value_node.value if _kind(value_node) == "SequenceNode" else [value_node]
                for source in sources:
                    converted = _convert(path, source, budget, depth + 1)
                    if isinstance(converted, dict):
                        for k, v in converted.items():
                            merged.setdefault(k, v)  # the first source wins, as in YAML's merge spec
                continue
            result[key_node.value] = _convert(path, value_node, budget, depth + 1)
            result.setdefault(_key_span(key_node.value), Span(path, key_node.start_mark.line + 1,
                                                                   key_node.start_mark.column + 1))
            if value_node.tag in MERGE_TAGS:
                result[_key_tag(key_node.value)] = value_node.tag
        for k, v in merged.items():
            result.setdefault(k, v)  # keys written here override the merged ones
        return result
    return None


def _key_span(key: str) -> str:
    """Where a mapping key is written is kept under a key no Compose field can have."""
    return f"\0span:{key}"


def key_span(mapping: dict, key: str) -> Span | None:
    value = mapping.get(_key_span(key))
    return value if isinstance(value, Span) else None


MERGE_TAGS = ("!reset", "!override")


def _key_tag(key: str) -> str:
    """A merge tag written on a key's value is kept under a key no Compose field can have."""
    return f"\0tag:{key}"


def key_tag(mapping: dict, key: str) -> str | None:
    """`!reset` or `!override` when the key's value carries that tag (Compose's merge tags)."""
    value = mapping.get(_key_tag(key))
    return value if isinstance(value, str) else None


def keys(mapping: dict) -> list[str]:
    return [k for k in mapping if not k.startswith("\0")]
