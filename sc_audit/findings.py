"""A finding: one problem, at the line a user must change, with the other places involved."""

from __future__ import annotations

from dataclasses import dataclass

from .span import Span

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

    def sort_key(self) -> tuple:
        return (self.span.path, self.span.line, self.span.column, self.rule, self.message)
