"""Every rule has a catalog entry with docs and examples; every example audits as it says."""

import pytest

from sc_audit import audit, catalog
from sc_audit.checks import load_all

from conftest import write_repo

RULES = catalog.load()
EXAMPLES = [(rule.code, example) for rule in RULES.values() for example in rule.examples]


def test_every_check_has_a_catalog_entry_and_back():
    assert set(load_all()) == set(RULES)


@pytest.mark.parametrize("code", sorted(RULES))
def test_entry_is_complete(code):
    rule = RULES[code]
    assert rule.name and rule.summary and rule.why and rule.fix
    assert rule.severity in ("error", "warning", "info")
    assert any(code in e.expect for e in rule.examples), "an example that fires"
    assert any(code not in e.expect for e in rule.examples), "an example that does not"


@pytest.mark.parametrize("code,example", EXAMPLES, ids=[f"{c}-{e.name}" for c, e in EXAMPLES])
def test_example(tmp_path, code, example):
    write_repo(tmp_path, example.files)
    report = audit(tmp_path)
    raised = sorted({f.rule for f in report.findings})
    assert raised == sorted(set(example.expect)), [(f.rule, f.span.path, f.span.line, f.message)
                                                   for f in report.findings]
