"""Baselines: accept today's findings, fail on new ones.

`--write-baseline FILE` records each finding as (rule, path, fingerprint); `--baseline FILE`
drops the findings recorded there. Entries count: two identical findings need two entries.

The fingerprint is what the finding is about, not where it is: the rule, the path, the text of
the offending line (whitespace collapsed) and the subject of the message (up to its first `: ` or
`. `, numbers taken out). Code moving up or down keeps it, and so does a change elsewhere that
only rewords the consequence or the advice (`… and add @app.route("/health")`), or a count in
it (`need about 1832 MiB`). A change to the offending line, or to what is wrong, makes a new one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

from .config import ConfigError

VERSION = 1
SUBJECT_END = re.compile(r"`[^`]*`|(?P<end>[:.](?:\s|$))")  # a `: ` or `. ` outside backquotes


def fingerprint(finding, source_line: str) -> str:
    subject = re.sub(r"\d+", "#", _subject(finding.message))
    key = "\n".join((finding.rule, finding.span.path, " ".join(source_line.split()), " ".join(subject.split())))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:20]


def _subject(message: str) -> str:
    for match in SUBJECT_END.finditer(message):
        if match.group("end"):
            return message[:match.start()]
    return message


def entries(report) -> list[dict]:
    """One baseline entry per finding of `report`, in the report's order."""
    sources = {f.path: f for f in report.files}
    result = []
    for finding in report.findings:
        source = sources.get(finding.span.path)
        source_line = source.line(finding.span.line) if source is not None else ""
        result.append({"rule": finding.rule, "path": finding.span.path,
                       "fingerprint": fingerprint(finding, source_line),
                       "source": " ".join(source_line.split())[:120]})  # for a reviewer's eyes only
    return result


def write(report, path) -> int:
    """Write the report's findings to the baseline file `path`; return how many."""
    recorded = sorted(entries(report), key=lambda e: (e["path"], e["rule"], e["source"], e["fingerprint"]))
    document = {"version": VERSION, "tool": "sc-audit",
                "comment": "findings accepted as they are; `sc-audit check --baseline FILE` reports only new ones",
                "findings": recorded}
    try:
        Path(path).write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{path}: cannot write the baseline: {error.strerror or error}") from None
    return len(recorded)


def read(path) -> Counter:
    """The (rule, path, fingerprint) entries of a baseline file, counted."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: baseline file not found (write one with --write-baseline)") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the baseline: {getattr(error, 'strerror', None) or error}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(f"{path}:{error.lineno}: not a baseline file: invalid JSON ({error.msg})") from None
    findings = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(findings, list) or document.get("version") != VERSION:
        raise ConfigError(f"{path}: not an sc-audit baseline (expected {{\"version\": {VERSION}, \"findings\": "
                          "[...]}); write one with --write-baseline")
    counted: Counter = Counter()
    for number, entry in enumerate(findings, 1):
        if not isinstance(entry, dict) or not all(isinstance(entry.get(k), str)
                                                  for k in ("rule", "path", "fingerprint")):
            raise ConfigError(f"{path}: baseline entry {number} lacks rule, path or fingerprint")
        counted[(entry["rule"], entry["path"], entry["fingerprint"])] += 1
    return counted


def apply(report, path):
    """The report without the findings recorded in the baseline file `path` (each entry drops one)."""
    remaining = read(path)
    kept = []
    for finding, entry in zip(report.findings, entries(report)):
        key = (entry["rule"], entry["path"], entry["fingerprint"])
        if remaining[key] > 0:
            remaining[key] -= 1
        else:
            kept.append(finding)
    return dataclasses.replace(report, findings=kept)

