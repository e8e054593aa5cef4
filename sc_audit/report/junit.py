"""`--format junit`: JUnit XML for CI test reports (GitLab, Jenkins, Azure, test-reporter actions).

One `<testsuite>` per audited file (named by its path), so a report shows which files were checked:
each finding is a `<testcase>` with a `<failure>` (type = severity, message = the finding, text =
location and notes); a file without findings has one passing `<testcase name="no issues">`; a file
that was not audited (binary, too large) has one `<skipped>` test case.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from . import safe

# Characters that XML 1.0 cannot carry at all, not even escaped.
NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean(text: str) -> str:
    """No control character (no line break either: the only ones are our own) and nothing XML cannot carry."""
    return safe.clean(NOT_XML.sub("\ufffd", text))


def render(report, stream) -> None:
    stream.write(document(report) + "\n")


def document(report) -> str:
    by_path: dict[str, list] = {f.path: [] for f in report.files}
    for finding in report.findings:
        by_path.setdefault(finding.span.path, []).append(finding)
    skipped = {s.path: s.reason for s in report.skipped}

    root = ET.Element("testsuites", name="sc-audit")
    for path in sorted(set(by_path) | set(skipped)):
        suite = ET.SubElement(root, "testsuite", name=clean(path))
        findings = by_path.get(path, [])
        for finding in findings:
            failure_case(suite, finding)
        if path in skipped:
            case = ET.SubElement(suite, "testcase", name="audit", classname=clean(path), file=clean(path))
            ET.SubElement(case, "skipped", message=clean(f"not audited: {skipped[path]}"))
        elif not findings:
            ET.SubElement(suite, "testcase", name="no issues", classname=clean(path), file=clean(path))
        set_counts(suite, tests=len(suite), failures=len(findings), skipped=int(path in skipped))
    incomplete = list(getattr(report, "incomplete", ()))
    if incomplete:  # what was not read fails a test of its own: a partial audit never passes
        suite = ET.SubElement(root, "testsuite", name="sc-audit")
        case = ET.SubElement(suite, "testcase", name="the audit read everything", classname="sc-audit")
        failure = ET.SubElement(case, "failure", type="incomplete", message=clean(incomplete[0]))
        failure.text = "\n".join(clean(reason) for reason in incomplete)
        set_counts(suite, tests=1, failures=1, skipped=0)
    set_counts(root, tests=sum(int(s.get("tests")) for s in root),
               failures=len(report.findings) + bool(incomplete), skipped=len(skipped))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def failure_case(suite, finding) -> None:
    span = finding.span
    case = ET.SubElement(suite, "testcase", name=clean(f"{finding.rule} {finding.name} at {span.line}:{span.column}"),
                         classname=clean(span.path), file=clean(span.path), line=str(span.line))
    failure = ET.SubElement(case, "failure", type=finding.severity, message=clean(finding.message))
    notes = "".join(f"\n  note: {clean(f'{r.span.path}:{r.span.line}:{r.span.column}: {r.message}')}"
                    for r in finding.related)
    failure.text = clean(f"{span.path}:{span.line}:{span.column} {finding.rule} ({finding.severity}) "
                         f"{finding.message}") + notes


def set_counts(element, tests: int, failures: int, skipped: int) -> None:
    element.set("tests", str(tests))
    element.set("failures", str(failures))
    element.set("errors", "0")
    element.set("skipped", str(skipped))
