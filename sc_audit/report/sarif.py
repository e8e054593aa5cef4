"""`--format sarif`: SARIF 2.1.0, as GitHub code scanning accepts it (`github/codeql-action/upload-sarif`).

- `tool.driver.rules` is the whole rule catalog, in catalog order, so a result's `ruleIndex` means
  the same rule in every run.
- URIs are relative to one base, recorded once (`uriBaseId` `%SRCROOT%`, whose absolute location
  is in `originalUriBaseIds`): the working directory when the repository root is inside it (the
  Action's workspace), else the root — the same base as the `github` format's paths, so a
  subfolder `path:` puts alerts and annotations on the same files. Columns count Unicode code
  points (`columnKind`), as sc-audit's spans do.
- `properties.security-severity` (GitHub's 0-10 scale) is set on rules tagged `security` and on
  error rules, from the rule's severity: error 7.5 (high: the deploy breaks or the service is
  exposed), warning 5.0 (medium), info 2.0 (low). Other rules are quality findings and carry none,
  so GitHub lists them by `level` only.
- `partialFingerprints.primaryLocationLineHash` is, like GitHub's own fingerprint, a hash of the
  offending line's text with a per-file occurrence counter (`HASH:N`), so an alert keeps its
  identity when unrelated lines move: sha256 of the rule id and the line with its whitespace
  collapsed (the message when the line cannot be read), first 16 hex digits, then `:N` counting
  the findings of that same hash earlier in the same file.
- Skipped files, parser crashes and an early stop are `invocations[0].toolExecutionNotifications`;
  files that could not be parsed are already SC001 results.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from pathlib import Path
from urllib.parse import quote

from .. import __version__, fs
from .safe import json_text

SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/sc-audit/"
ROOT_ID = "%SRCROOT%"
LEVEL = {"error": "error", "warning": "warning", "info": "note"}
SECURITY_SEVERITY = {"error": "7.5", "warning": "5.0", "info": "2.0"}


def render(report, stream) -> None:
    stream.write(json_text(json.dumps(document(report), indent=2, ensure_ascii=False)) + "\n")


def document(report) -> dict:
    from .. import catalog

    rules = list(catalog.load().values())
    descriptors = [rule_descriptor(rule) for rule in rules]
    index = {rule.code: i for i, rule in enumerate(rules)}
    for finding in report.findings:  # a code missing from the catalog still gets a valid ruleIndex
        if finding.rule not in index:
            index[finding.rule] = len(descriptors)
            descriptors.append({"id": finding.rule, "name": finding.name or finding.rule,
                                "shortDescription": {"text": finding.rule}})
    from .github import workspace_prefix

    sources = {f.path: f for f in report.files}
    fingerprints = line_hashes(report.findings, sources)
    prefix = workspace_prefix(Path(report.root))
    base = fs.resolve(Path.cwd()) if prefix else fs.resolve(report.root)
    results = [result(finding, index[finding.rule], fingerprint, prefix)
               for finding, fingerprint in zip(report.findings, fingerprints)]
    return {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "sc-audit", "version": __version__, "semanticVersion": __version__,
                "informationUri": INFORMATION_URI, "rules": descriptors,
            }},
            "invocations": [invocation(report, prefix)],
            "originalUriBaseIds": {ROOT_ID: {"uri": base.as_uri().rstrip("/") + "/"}},
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def rule_descriptor(rule) -> dict:
    descriptor = {
        "id": rule.code,
        "name": rule.name,
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": f"{rule.summary}\n\n{rule.why}"},
        "help": {
            "text": f"{rule.summary}\n\nWhy is this bad?\n{rule.why}\n\nHow to fix\n{rule.fix}",
            "markdown": f"{rule.summary}\n\n## Why is this bad?\n\n{rule.why}\n\n## How to fix\n\n{rule.fix}",
        },
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {"tags": list(rule.tags)},
    }
    if "security" in rule.tags or rule.severity == "error":
        descriptor["properties"]["security-severity"] = SECURITY_SEVERITY[rule.severity]
    return descriptor


def result(finding, rule_index: int, fingerprint: str, prefix: str = "") -> dict:
    out = {
        "ruleId": finding.rule,
        "ruleIndex": rule_index,
        "level": LEVEL[finding.severity],
        "message": {"text": finding.message},
        "locations": [{"physicalLocation": physical_location(finding.span, prefix)}],
        "partialFingerprints": {"primaryLocationLineHash": fingerprint},
    }
    if finding.related:
        out["relatedLocations"] = [
            {"id": i, "physicalLocation": physical_location(related.span, prefix), "message": {"text": related.message}}
            for i, related in enumerate(finding.related, start=1)]
    return out


def physical_location(span, prefix: str = "") -> dict:
    region = {"startLine": max(span.line, 1), "startColumn": max(span.column, 1)}  # SARIF counts from 1
    if span.end_line != span.line or span.end_column > span.column:
        region["endLine"] = max(span.end_line, region["startLine"])
        if span.end_column > 0:
            region["endColumn"] = span.end_column
    # without an end, the region is the rest of the line: better than an empty one
    return {"artifactLocation": artifact(span.path, prefix), "region": region}


def artifact(path: str, prefix: str = "") -> dict:
    return {"uri": quote(prefix + path, safe="/"), "uriBaseId": ROOT_ID}


def line_hashes(findings, sources) -> list[str]:
    seen: Counter[tuple[str, str]] = Counter()
    hashes = []
    for finding in findings:
        source = sources.get(finding.span.path)
        line = source.line(finding.span.line) if source is not None else ""
        text = " ".join(line.split()) or finding.message
        digest = hashlib.sha256(f"{finding.rule}\0{text}".encode("utf-8")).hexdigest()[:16]
        key = (finding.span.path, digest)
        hashes.append(f"{digest}:{seen[key] + 1}")
        seen[key] += 1
    return hashes


def invocation(report, prefix: str = "") -> dict:
    notes = [notification("warning", f"{s.path}: not audited ({s.reason})", s.path, prefix) for s in report.skipped]
    notes += [notification("error", f"{path}: internal error while parsing: {error}", path, prefix)
              for path, error in report.internal_errors]
    if report.truncated:
        notes.append(notification("warning", "stopped early: too many files; the audit is incomplete"))
    notes += [notification("error", f"incomplete: {reason}") for reason in getattr(report, "incomplete", ())]
    out: dict = {"executionSuccessful": True}
    if notes:
        out["toolExecutionNotifications"] = notes
    return out


def notification(level: str, text: str, path: str | None = None, prefix: str = "") -> dict:
    note: dict = {"level": level, "message": {"text": text}}
    if path:
        note["locations"] = [{"physicalLocation": {"artifactLocation": artifact(path, prefix)}}]
    return note
