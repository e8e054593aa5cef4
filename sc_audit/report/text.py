"""`--format text`: findings grouped by file, `path:line:col CODE message`, then a summary.

Colour comes from rich, imported only when the output is a terminal (pre-commit and CI
capture output, so they get plain text without paying rich's import).
"""

from __future__ import annotations

import os
import sys
from itertools import groupby

SEVERITY_STYLE = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def lines(report) -> list[tuple[str, str | None]]:
    """(text, style) pairs, so plain and rich output say exactly the same."""
    out: list[tuple[str, str | None]] = []
    for path, group in groupby(report.findings, key=lambda f: f.span.path):
        out.append((path, "bold underline"))
        for finding in group:
            span = finding.span
            out.append((f"{path}:{span.line}:{span.column} {finding.rule} {finding.message}",
                        SEVERITY_STYLE[finding.severity]))
            for related in finding.related:
                out.append((f"    {related.span.path}:{related.span.line}:{related.span.column} "
                            f"note: {related.message}", "dim"))
        out.append(("", None))
    out.append((summary(report), "bold"))
    return out


def summary(report) -> str:
    counts = report.counts()
    files = len(report.files)
    unreadable = report.unreadable
    parts = [f"{files} file{'s' if files != 1 else ''} audited"]
    if unreadable:
        parts.append(f"{unreadable} could not be read in full")
    if report.truncated:
        parts.append("stopped early: too many files")
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

    console = Console(file=stream, highlight=False, soft_wrap=True)
    for text, style in lines(report):
        console.print(Text(text, style=style or ""))
