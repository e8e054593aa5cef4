"""The compiled catalog (sc_audit/_catalog.json) is in step with rules/, and is used only while
it is: a rule file changed, added or removed since makes `load` parse the TOML files again."""

from __future__ import annotations

import shutil
from pathlib import Path

from sc_audit import catalog

REPO = Path(__file__).resolve().parent.parent


def test_the_compiled_catalog_is_in_step_with_the_rule_files():
    assert catalog.COMPILED.read_text(encoding="utf-8") == catalog.compile_catalog(REPO / "rules"), \
        "sc_audit/_catalog.json is stale: run python scripts/gen_rule_docs.py"


def test_the_compiled_catalog_gives_what_the_toml_files_give(tmp_path):
    from_toml = catalog.load_from(REPO / "rules", compiled_path=tmp_path / "absent.json")
    assert catalog.load_from(REPO / "rules") == from_toml
    assert list(catalog.load_from(REPO / "rules")) == list(from_toml)
    assert catalog.compiled(catalog.rule_files(REPO / "rules"), catalog.COMPILED) is not None


def _copy(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    compiled = tmp_path / "_catalog.json"
    compiled.write_text(catalog.compile_catalog(rules), encoding="utf-8")
    return rules


def test_an_edited_rule_file_is_read_not_the_stale_compiled_one(tmp_path):
    rules = _copy(tmp_path)
    path = sorted(rules.glob("SC*.toml"))[0]
    code = path.stem
    before = catalog.load_from(rules, tmp_path / "_catalog.json")[code]
    text = path.read_text(encoding="utf-8").replace(before.name, before.name + "-renamed", 1)
    path.write_text(text, encoding="utf-8")
    assert catalog.load_from(rules, tmp_path / "_catalog.json")[code].name == before.name + "-renamed"


def test_an_added_or_removed_rule_file_is_seen(tmp_path):
    rules = _copy(tmp_path)
    compiled = tmp_path / "_catalog.json"
    first, second = sorted(rules.glob("SC*.toml"))[:2]
    first.unlink()
    assert first.stem not in catalog.load_from(rules, compiled)
    text = second.read_text(encoding="utf-8").replace(f'"{second.stem}"', '"SC999"', 1)
    (rules / "SC999.toml").write_text(text, encoding="utf-8")
    assert "SC999" in catalog.load_from(rules, compiled)


def test_a_damaged_compiled_file_falls_back_to_the_toml_files(tmp_path):
    rules = _copy(tmp_path)
    compiled = tmp_path / "_catalog.json"
    compiled.write_text("{not json", encoding="utf-8")
    assert catalog.load_from(rules, compiled) == catalog.load_from(REPO / "rules", tmp_path / "absent.json")


def test_the_nginx_sniff_knows_crossplanes_directive_names():
    from crossplane.analyzer import DIRECTIVES

    from sc_audit.parsers.nginx_sniff import DIRECTIVE_NAMES

    assert DIRECTIVE_NAMES == frozenset(DIRECTIVES), "update sc_audit/parsers/nginx_sniff.py from crossplane"


def test_discovery_and_the_catalog_do_not_import_crossplane():
    import subprocess
    import sys

    fixture = REPO / "tests" / "fixtures" / "signalcraft" / "plan"
    code = ("import sys; from pathlib import Path; from sc_audit import catalog, discover; catalog.load(); "
            f"found = discover.discover(Path({str(fixture)!r})); "
            "print(' '.join(sorted(sys.modules)), len(found.files))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert loaded.returncode == 0, loaded.stderr
    modules = set(loaded.stdout.split())
    assert "crossplane" not in modules and "sc_audit.parsers.nginx" not in modules
    assert "tomllib" not in modules
