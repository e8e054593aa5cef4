"""Run every enabled check over the model; fill names and severities from the catalog; apply
per-file ignores and inline suppressions; last, report the suppressions that suppressed nothing."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from . import catalog, suppress
from .catalog import Rule
from .checks import load_all
from .config import Config
from .discover import Discovery
from .findings import Finding
from .model import Deployment


def run_checks(model: Deployment, config: Config, found: Discovery) -> list[Finding]:
    rules = catalog.load()
    checks = load_all()
    findings: list[Finding] = []
    for code, function in sorted(checks.items()):
        if code != suppress.UNUSED and config.enabled(code, opt_in=not rules[code].default):
            findings += _finish(function(model, config, found), rules[code], config)

    suppressions = suppress.collect(found.files, rules)
    findings, unused = suppress.apply(
        findings, suppressions, rule_codes=rules,
        judged=lambda code, path: config.enabled(code, opt_in=code in rules and not rules[code].default)
        and not config.ignored_in(code, path))
    if config.enabled(suppress.UNUSED):
        late = _finish(checks[suppress.UNUSED](model, config, found, unused), rules[suppress.UNUSED], config)
        findings += suppress.apply(late, suppressions)[0]  # `ignore[SC003]` works like any other code

    unique = {(f.rule, f.span, f.message): f for f in findings}
    return sorted(unique.values(), key=Finding.sort_key)


def _finish(findings: Iterable[Finding], rule: Rule, config: Config) -> list[Finding]:
    """Name and severity from the catalog and the config; drop what per-file-ignores ignores."""
    severity = severity_of(rule, config)
    overridden = any(rule.code.startswith(prefix) for prefix in config.severity)
    return [dataclasses.replace(finding, name=rule.name,
                                severity=finding.level if finding.level and not overridden else severity)
            for finding in findings if not config.ignored_in(rule.code, finding.span.path)]


def severity_of(rule: Rule, config: Config) -> str:
    """The configured severity of a rule: the longest matching code or prefix wins (`SC4`, `SC401`)."""
    matching = [prefix for prefix in config.severity if rule.code.startswith(prefix)]
    return config.severity[max(matching, key=len)] if matching else rule.severity
