"""`--format json`: a stable, versioned document (paths relative to the root, with `/`)."""

from __future__ import annotations

import json

from .safe import json_text


def finding_dict(finding) -> dict:
    span = finding.span
    return {
        "rule": finding.rule, "name": finding.name, "severity": finding.severity,
        "path": span.path, "line": span.line, "column": span.column,
        "end_line": span.end_line, "end_column": span.end_column,
        "message": finding.message,
        "headline": finding.headline,
        "related": [{"path": r.span.path, "line": r.span.line, "column": r.span.column, "message": r.message}
                    for r in finding.related],
    }


def render(report, stream) -> None:
    stream.write(document(report) + "\n")


def document(report) -> str:
    counts = report.counts()
    document = {
        "version": 1,
        "findings": [finding_dict(f) for f in report.findings],
        "summary": {"files": len(report.files), "findings": len(report.findings), **counts,
                    "unreadable": report.unreadable,
                    "skipped": [{"path": s.path, "reason": s.reason} for s in report.skipped],
                    "incomplete": list(getattr(report, "incomplete", ()))},
    }
    return json_text(json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False))
