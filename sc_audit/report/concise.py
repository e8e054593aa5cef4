"""`--format concise`: one line per finding, `path:line:col CODE message`, then the summary."""

from __future__ import annotations

from .text import incomplete_lines, summary


def render(report, stream) -> None:
    for finding in report.findings:
        span = finding.span
        stream.write(f"{span.path}:{span.line}:{span.column} {finding.rule} {finding.message}\n")
    for line in incomplete_lines(report):
        stream.write(line + "\n")
    stream.write(summary(report) + "\n")
