"""Run every enabled check over the model; fill names and severities from the catalog."""

from __future__ import annotations

import dataclasses

from . import catalog
from .checks import load_all
from .config import Config
from .discover import Discovery
from .findings import Finding
from .model import Deployment


def run_checks(model: Deployment, config: Config, found: Discovery) -> list[Finding]:
    rules = catalog.load()
    findings: list[Finding] = []
    for code, function in sorted(load_all().items()):
        if not config.enabled(code):
            continue
        rule = rules[code]
        severity = config.severity.get(code, rule.severity)
        for finding in function(model, config, found):
            if config.ignored_in(code, finding.span.path):
                continue
            findings.append(dataclasses.replace(finding, name=rule.name, severity=severity))
    unique = {(f.rule, f.span, f.message): f for f in findings}
    return sorted(unique.values(), key=Finding.sort_key)
