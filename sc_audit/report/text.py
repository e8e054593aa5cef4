"""`--format text`: findings grouped by file, each with its source line and a caret, then a summary.

    gunicorn.conf.py:13:1 SC101 WSGI target `app:create_app()` calls `create_app()`, ...
       |
    13 | wsgi_app = "app:create_app()"
       | ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
       |
       = note: app.py:9:1: `app` is created here

Colour comes from rich, imported only when the output is a terminal (pre-commit and CI
capture output, so they get plain text without paying rich's import).
"""

from __future__ import annotations

import os
import unicodedata
from itertools import groupby

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}
GUTTER_STYLE = "blue"
TAB_SIZE = 4


def lines(report) -> list[tuple[str, str | None]]:
    """(text, style) pairs, so plain and rich output say exactly the same."""
    sources = {f.path: f for f in report.files}
    out: list[tuple[str, str | None]] = []
    for path, group in groupby(report.findings, key=lambda f: f.span.path):
        out.append((path, "bold underline"))
        for finding in group:
            out += finding_lines(finding, sources.get(path))
            out.append(("", None))
    out.append((summary(report), "bold"))
    return [(printable(text), style) for text, style in out]


def finding_lines(finding, source) -> list[tuple[str, str | None]]:
    span = finding.span
    out: list[tuple[str, str | None]] = [
        (f"{span.path}:{span.line}:{span.column} {finding.rule} {finding.message}", SEVERITY_STYLE[finding.severity])]
    number = str(span.line)
    blank = " " * len(number) + " |"
    code = source.line(span.line) if source is not None else ""
    if code.strip():
        start, width = caret_position(code, span)
        out += [(blank, GUTTER_STYLE), (f"{number} | {code.expandtabs(TAB_SIZE).rstrip()}", None),
                (f"{blank} {' ' * start}{'^' * width}", SEVERITY_STYLE[finding.severity])]
        if finding.related:
            out.append((blank, GUTTER_STYLE))
    for related in finding.related:
        where = related.span
        out.append((f"{' ' * len(number)} = note: {where.path}:{where.line}:{where.column}: {related.message}", "dim"))
    return out


def caret_position(code: str, span) -> tuple[int, int]:
    """(offset, width) of the caret under `code`, in terminal cells: tabs expanded, wide characters
    counted twice. `^^^^` covers a single-line span; a multi-line span gets one caret at its start."""
    start = min(max(span.column, 1) - 1, len(code))
    offset = display_width(code[:start].expandtabs(TAB_SIZE))
    if span.end_line != span.line or span.end_column <= span.column:
        return offset, 1
    end = min(span.end_column - 1, len(code.rstrip()))
    return offset, max(display_width(code[:end].expandtabs(TAB_SIZE)) - offset, 1)


def display_width(text: str) -> int:
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def printable(text: str) -> str:
    """No control character of the audited files reaches the terminal (a stray ESC would restyle it)."""
    text = text.expandtabs(TAB_SIZE)
    if text.isprintable():
        return text
    return "".join("\ufffd" if unicodedata.category(ch) == "Cc" else ch for ch in text)


def summary(report) -> str:
    counts = report.counts()
    files = len(report.shown_files)
    unreadable = report.unreadable
    parts = [f"{files} file{'s' if files != 1 else ''} audited"]
    if not report.scope.everything:  # `check deploy`: the whole repository was modelled
        parts[0] += f" (of {len(report.files)} in the repository)"
    if unreadable:
        parts.append(f"{unreadable} could not be read in full")
    if report.truncated:
        parts.append("stopped early: too many files")
    if report.fixed is not None:  # after --fix, as ruff says it
        parts.append(f"{report.fixed} fixed, {len(report.findings)} remaining")
    if not report.findings:
        if unreadable:
            return ", ".join(parts) + ": no other findings, but the audit is incomplete."
        return ", ".join(parts) + ": no issues found."
    found = ", ".join(f"{n} {sev}{'s' if n != 1 and sev != 'info' else ''}" for sev, n in counts.items() if n)
    return ", ".join(parts) + f": {len(report.findings)} finding{'s' if len(report.findings) != 1 else ''} ({found})."


def use_colour(stream) -> bool:
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def render(report, stream) -> None:
    if not use_colour(stream):
        stream.write("\n".join(text for text, _ in lines(report)) + "\n")
        return
    from rich.console import Console
    from rich.text import Text

    console = Console(file=stream, highlight=False, soft_wrap=True, emoji=False, markup=False)
    for text, style in lines(report):
        console.print(Text(text, style=style or ""))
