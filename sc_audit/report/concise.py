"""`--format concise`: one line per finding, `path:line:col CODE message`, then the summary."""

from __future__ import annotations

from .text import summary


def render(report, stream) -> None:
    for finding in report.findings:
        span = finding.span
        stream.write(f"{span.path}:{span.line}:{span.column} {finding.rule} {finding.message}\n")
    stream.write(summary(report) + "\n")
