"""`--format github`: GitHub Actions workflow commands, one annotation per finding, then a summary.

    ::error file=gunicorn.conf.py,line=13,endLine=13,col=1,endColumn=30,title=SC101 WSGI target `app:create_app()` calls ...::WSGI target ...

error → `::error`, warning → `::warning`, info → `::notice`. Values are escaped as GitHub's toolkit
(`@actions/core`) escapes them. Paths are made relative to the working directory when the audited
root is inside it, because GitHub resolves `file=` against the workspace: `sc-audit check deploy/`
annotates `deploy/nginx.conf`, not `nginx.conf`.

GitHub shows at most 10 annotations of each type per step; the others stay in the log, and the
summary line says how many that is.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from .. import fs
from .safe import clean, safe_line
from .text import summary

COMMAND = {"error": "error", "warning": "warning", "info": "notice"}
ANNOTATION_LIMIT = 10  # per type and step


def escape_data(text: str) -> str:
    """As @actions/core escapes; control characters (ESC, BEL) of audited files are cleaned first."""
    return clean(text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A"))


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def render(report, stream) -> None:
    prefix = workspace_prefix(Path(report.root))
    for finding in report.findings:
        stream.write(annotation(finding, prefix) + "\n")
    for reason in getattr(report, "incomplete", ()):
        stream.write(f"::error title=sc-audit incomplete::{escape_data(reason)}\n")
    stream.write(safe_line(closing_line(report)) + "\n")


def annotation(finding, prefix: str = "") -> str:
    span = finding.span
    props = [("file", prefix + span.path), ("line", span.line), ("endLine", span.end_line)]
    if span.end_line == span.line:  # GitHub takes columns only on single-line annotations
        props += [("col", span.column), ("endColumn", max(span.end_column, span.column))]
    props.append(("title", clean(f"{finding.rule} {finding.headline}")))
    message = clean(finding.message) + "".join(
        f"\n  note: {prefix}{clean(r.span.path)}:{r.span.line}:{r.span.column}: {clean(r.message)}"
        for r in finding.related)
    rendered = ",".join(f"{key}={escape_property(str(value))}" for key, value in props)
    return f"::{COMMAND[finding.severity]} {rendered}::{escape_data(message)}"


def closing_line(report) -> str:
    line = "sc-audit: " + summary(report)
    counts = Counter(f.severity for f in report.findings)
    hidden = sum(max(n - ANNOTATION_LIMIT, 0) for n in counts.values())
    if hidden:
        line += (f" {hidden} more not shown as annotations (GitHub shows {ANNOTATION_LIMIT} of each type"
                 " per step): they are in the log above.")
    return line


def workspace_prefix(root: Path) -> str:
    """The audited root relative to the working directory, as a `dir/` prefix ("" when it is the cwd
    or outside it)."""
    try:
        relative = fs.resolve(root).relative_to(fs.resolve(Path.cwd()))
    except (OSError, ValueError):
        return ""
    return "" if str(relative) == "." else relative.as_posix() + "/"
