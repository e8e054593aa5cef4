"""AWS CodeDeploy `appspec.yml` (EC2/On-Premises): where the revision lands, and which scripts run.

Read from the AppSpec reference (docs.aws.amazon.com/codedeploy/latest/userguide/
reference-appspec-file-structure-files.html and …-hooks.html): `files:` is a list of
`source` (in the revision; `/` is all of it) -> `destination` (an absolute path on the
instance), copied during the Install event; `hooks:` maps each lifecycle event to a list
of scripts (`location` relative to the revision root, `runas`, `timeout`), run in the
order of the events, scripts of one event in the order written. The YAML is only
composed (nodes with lines), never constructed.
"""

from __future__ import annotations

from ..facts import AppspecFacts, AppspecFile, AppspecHook, ParseError
from ..source import SourceFile
from ..span import Span

# The EC2/On-Premises lifecycle, in the order CodeDeploy runs it (hooks of other events are
# kept after these, in the order written).
LIFECYCLE = ("BeforeBlockTraffic", "AfterBlockTraffic", "ApplicationStop", "DownloadBundle", "BeforeInstall",
             "Install", "AfterInstall", "ApplicationStart", "ValidateService", "BeforeAllowTraffic",
             "AfterAllowTraffic")


def parse(src: SourceFile) -> AppspecFacts:
    facts = AppspecFacts(path=src.path)
    try:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        root = yaml.compose(src.text, Loader=loader)
    except Exception as exc:  # noqa: BLE001 - a broken file is a finding, not a crash
        facts.errors.append(ParseError(f"cannot read appspec: {type(exc).__name__}"[:200], Span(src.path, 1)))
        return facts
    if not _is(root, "MappingNode"):
        return facts
    for entry in _sequence(_get(root, "files")):
        source, destination = _text(_get(entry, "source")), _text(_get(entry, "destination"))
        if source is not None and destination is not None:
            start, end = _span(src.path, entry), _span(src.path, _get(entry, "destination"))
            span = Span(src.path, start.line, start.column, end.end_line, end.end_column)
            facts.files.append(AppspecFile(source, destination, span))
    hooks = []
    for event, scripts in _items(_get(root, "hooks")):
        for script in _sequence(scripts):
            location = _get(script, "location")
            if _text(location):
                hooks.append(AppspecHook(event, _text(location), _span(src.path, location),
                                         _text(_get(script, "runas"))))
    order = {event: i for i, event in enumerate(LIFECYCLE)}
    facts.hooks = sorted(hooks, key=lambda h: order.get(h.event, len(LIFECYCLE)))  # stable: written order kept
    return facts


def _is(node, kind: str) -> bool:
    return type(node).__name__ == kind


def _get(node, key: str):
    if not _is(node, "MappingNode"):
        return None
    for key_node, value in node.value:
        if _is(key_node, "ScalarNode") and key_node.value == key:
            return value
    return None


def _items(node):
    return [(k.value, v) for k, v in node.value if _is(k, "ScalarNode")] if _is(node, "MappingNode") else []


def _sequence(node):
    return list(node.value) if _is(node, "SequenceNode") else []


def _text(node) -> str | None:
    return node.value if _is(node, "ScalarNode") and isinstance(node.value, str) and node.value else None


def _span(path: str, node) -> Span:
    start, end = node.start_mark, node.end_mark
    return Span(path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)
