"""Every rule has a catalog entry with docs and examples; every example audits as it says."""

import pytest

from sc_audit import audit, catalog
from sc_audit.checks import load_all
from sc_audit.config import Config, load

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
    config = load(tmp_path)
    if not RULES[code].default:  # an opt-in rule's examples show it turned on
        config = config.override(extend_select=(*config.extend_select, code))
    report = audit(tmp_path, config=config)
    raised = sorted({f.rule for f in report.findings})
    assert raised == sorted(set(example.expect)), [(f.rule, f.span.path, f.span.line, f.message)
                                                   for f in report.findings]


def test_opt_in_rules_run_only_when_named_exactly():
    assert Config().enabled("SC999")
    assert not Config().enabled("SC999", opt_in=True)
    assert not Config(select=("SC9",)).enabled("SC999", opt_in=True)
    assert not Config(extend_select=("SC",)).enabled("SC999", opt_in=True)
    assert Config(select=("SC999",)).enabled("SC999", opt_in=True)
    assert Config(extend_select=("SC999",)).enabled("SC999", opt_in=True)
    assert not Config(extend_select=("SC999",), ignore=("SC9",)).enabled("SC999", opt_in=True)
