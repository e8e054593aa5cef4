"""`--format concise`: one line per finding, `path:line:col CODE headline` (the message's first
clause, ~100 characters: `sc-audit check` or `--format text` give the whole), then the summary."""

from __future__ import annotations

from .safe import safe_line
from .text import incomplete_lines, summary


def render(report, stream) -> None:
    for finding in report.findings:
        span = finding.span
        stream.write(safe_line(f"{span.path}:{span.line}:{span.column} {finding.rule} {finding.headline}") + "\n")
    for line in incomplete_lines(report):
        stream.write(safe_line(line) + "\n")
    stream.write(safe_line(summary(report)) + "\n")
