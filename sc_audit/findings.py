"""A finding: one problem, at the line a user must change, with the other places involved."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .span import Span

HEADLINE_MAX = 100
# a clause ends at `: `, `. `, `; ` or ` — ` outside backquotes
_CLAUSE_END = re.compile(r"`[^`]*`|(?P<end>[:.;](?=\s)| — )")
_COMMA = re.compile(r"`[^`]*`|(?P<end>, )")
_CODE = re.compile(r"`[^`]*`")
_ASIDE = re.compile(r" \((?:`[^`]*`|[^()`])*\)(?!\w)")

SEVERITIES = ("error", "warning", "info")
SEVERITY_RANK = {"error": 3, "warning": 2, "info": 1}


@dataclass(frozen=True, slots=True)
class Related:
    span: Span
    message: str


@dataclass(frozen=True, slots=True)
class Finding:
    rule: str  # "SC101"
    message: str
    span: Span
    related: tuple[Related, ...] = ()
    name: str = ""  # filled from the catalog: "wsgi-factory-missing"
    severity: str = "error"  # filled from the catalog (and config overrides)
    # the check's own severity, for a rule with two (`debug=True` makes a dev server an error);
    # a configured override still wins
    level: str | None = None

    @property
    def headline(self) -> str:
        """The message's first clause, at most ~100 characters: what is wrong, for one-line lists
        (`concise`, the `github` title). The full message says why and how to fix it."""
        return headline(self.message)

    def sort_key(self) -> tuple:
        return (self.span.path, self.span.line, self.span.column, self.rule, self.message)


def headline(message: str) -> str:
    text = _CODE.sub(lambda m: m.group() if len(m.group()) <= 42 else m.group()[:37] + "…`", message)
    first = _cut(text, _CLAUSE_END, 40)  # "WSGI target `x:y`" alone says nothing yet
    if len(first) <= HEADLINE_MAX:
        return first
    first = _ASIDE.sub("", first)  # "(Nginx's default)", "(2 CPUs → 5, …)": the detail, not the problem
    if len(first) <= HEADLINE_MAX:
        return first
    shorter = _cut(first[:HEADLINE_MAX], _COMMA, 40, last=True)
    if shorter != first[:HEADLINE_MAX]:
        return shorter
    return first[:HEADLINE_MAX - 1].rsplit(" ", 1)[0] + "…"


def _cut(text: str, boundary: re.Pattern, at_least: int, last: bool = False) -> str:
    """`text` up to its first (or `last`) boundary after `at_least` characters; all of it without one."""
    cut = None
    for match in boundary.finditer(text):
        if match.group("end") and match.start() >= at_least:
            cut = match.start()
            if not last:
                break
    return text[:cut].rstrip() if cut is not None else text
