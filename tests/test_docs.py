"""The docs: rule pages generated from rules/ and up to date, and the hand-written pages in step
with the code they describe (CLI options, config keys, the action's inputs, working examples)."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest
import yaml

from conftest import write_repo
from sc_audit import audit, catalog
from sc_audit.config import HOST_KEYS, KEYS, load

REPO = Path(__file__).resolve().parent.parent
DOCS = REPO / "docs"
_spec = importlib.util.spec_from_file_location("gen_rule_docs", REPO / "scripts" / "gen_rule_docs.py")
gen = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(gen)


def blocks(page: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", (DOCS / page).read_text(encoding="utf-8"), re.S | re.M)


# --------------------------------------------------------------------------- generated rule pages


def test_rule_pages_are_up_to_date():
    assert gen.stale(gen.render_all()) == [], "docs/rules is stale: run python scripts/gen_rule_docs.py"


def test_every_rule_has_a_page_listed_in_the_index():
    index = (DOCS / "rules" / "index.md").read_text(encoding="utf-8")
    for code in catalog.load():
        assert (DOCS / "rules" / f"{code}.md").is_file(), code
        assert f"[{code}]({code}.md)" in index


RULE = '''
code = "SC901"
name = "demo-rule"
severity = "warning"
summary = "A summary with a | pipe."
why = """
Because.
"""
fix = "Do the other thing."

[[examples]]
name = "it fires"
expect = ["SC901", "SC002"]
[examples.files]
"ecosystem.config.js" = \'\'\'
module.exports = { apps: [{ name: `web`, script: "server.js" }] };
\'\'\'
"sites-available/app" = \'\'\'
server { listen 80; }
\'\'\'
"deploy" = \'\'\'
#!/bin/bash
echo "```"
\'\'\'

[[examples]]
name = "it does not"
expect = []
[examples.files]
"Procfile" = \'\'\'
web: gunicorn app:app
\'\'\'
'''


def test_generator_documents_a_new_rule_in_ruffs_shape(tmp_path):
    (tmp_path / "SC901.toml").write_text(RULE, encoding="utf-8")
    pages = gen.render_all(tmp_path)
    page = pages["SC901.md"]
    headings = re.findall(r"^#+ .*", page, re.M)
    assert headings == ["# SC901 demo-rule", "## What it does", "## Why is this bad?", "## Example",
                        "## Use instead", "## How to fix", "## Silencing it"]
    example, use_instead = page.split("## Example")[1].split("## Use instead")
    assert "*it fires:*" in example and "*it does not:*" in use_instead
    assert "```javascript\nmodule.exports" in example
    assert "```nginx\nserver { listen 80; }\n```" in example
    assert '````bash\n#!/bin/bash\necho "```"\n````' in example  # a fence longer than the content's
    assert "```text\nweb: gunicorn app:app\n```" in use_instead
    assert "Severity: **warning** · Tags: none" in page
    assert "## Other rules" in pages["index.md"]
    assert "| [SC901](SC901.md) | demo-rule | warning | A summary with a \\| pipe. |" in pages["index.md"]


def test_generator_names_a_broken_rule_file(tmp_path):
    (tmp_path / "SC902.toml").write_text('code = "SC902"\nname = "no-text"\n', encoding="utf-8")
    with pytest.raises(gen.RuleFileError, match=r"SC902\.toml: missing or not a string: severity, summary"):
        gen.render_all(tmp_path)
    (tmp_path / "SC902.toml").write_text('code = "SC902\n', encoding="utf-8")
    with pytest.raises(gen.RuleFileError, match=r"SC902\.toml"):
        gen.render_all(tmp_path)


def test_stale_finds_changed_missing_and_orphan_pages(tmp_path):
    (tmp_path / "SC901.toml").write_text(RULE, encoding="utf-8")
    pages = gen.render_all(tmp_path)
    docs = tmp_path / "docs"
    docs.mkdir()
    assert gen.stale(pages, docs) == ["SC901.md", "index.md"]
    for name, text in pages.items():
        (docs / name).write_text(text, encoding="utf-8")
    assert gen.stale(pages, docs) == []
    (docs / "index.md").write_text("edited by hand\n", encoding="utf-8")
    (docs / "SC900.md").write_text("a rule that is gone\n", encoding="utf-8")
    assert gen.stale(pages, docs) == ["index.md", "SC900.md"]


# --------------------------------------------------------------------------- hand-written pages


def test_relative_links_resolve():
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+\.md)(?:#[^)]*)?\)", page.read_text(encoding="utf-8")):
            assert (page.parent / target).is_file(), f"{page.relative_to(REPO)} links to missing {target}"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # typer's own use of click, at import
def test_cli_page_documents_every_command_and_option():
    import typer

    from sc_audit.cli import app

    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    group = typer.main.get_command(app)
    for name, command in group.commands.items():
        assert f"sc-audit {name}" in text, name
        for param in command.params:
            for opt in param.opts:
                if opt.startswith("--"):
                    assert f"`{opt}" in text, f"{name} {opt}"
    assert "--version" in text


def test_configuration_page_documents_every_key_and_its_example_loads(tmp_path):
    text = (DOCS / "configuration.md").read_text(encoding="utf-8")
    for key in KEYS - {"host"}:
        assert f"| `{key}` |" in text, key
    for key in HOST_KEYS:
        assert f"| `host.{key}` |" in text, key
    (example,) = blocks("configuration.md", "toml")
    (tmp_path / "pyproject.toml").write_text(example, encoding="utf-8")
    config = load(tmp_path)
    assert config.fail_on == "error" and config.host_memory_mib == 2048 and config.worker_memory_mib == 300
    assert config.severity == {"SC602": "error", "SC4": "info"}


def test_suppression_example_suppresses_what_it_says(tmp_path):
    (example,) = blocks("suppressions.md", "bash")
    suppressed = audit(write_repo(tmp_path / "with", {"deploy.sh": example}))
    assert suppressed.findings == []
    bare = re.sub(r" *# sc-audit:.*", "", example)
    found = audit(write_repo(tmp_path / "without", {"deploy.sh": bare}))
    assert {f.rule for f in found.findings} == {"SC502", "SC202"}


def test_ci_workflow_uses_the_actions_real_inputs_and_outputs():
    action = yaml.safe_load((REPO / "action.yml").read_text(encoding="utf-8"))
    (workflow,) = [yaml.safe_load(b) for b in blocks("ci.md", "yaml") if "jobs:" in b]
    assert workflow["permissions"]["security-events"] == "write"
    steps = workflow["jobs"]["sc-audit"]["steps"]
    audit_step = next(s for s in steps if s.get("id") == "sc-audit")
    assert set(audit_step.get("with", {})) <= set(action["inputs"])
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@v3"))
    assert upload["with"]["sarif_file"] == "${{ steps.sc-audit.outputs.sarif-file }}"
    text = (DOCS / "ci.md").read_text(encoding="utf-8")
    for name in [*action["inputs"], *action["outputs"]]:
        assert f"| `{name}` |" in text, name


def test_pre_commit_page_uses_the_hook_id():
    (hook,) = yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    configs = [yaml.safe_load(b) for b in blocks("pre-commit.md", "yaml") if b.startswith("repos:")]
    assert configs and all(r["hooks"][0]["id"] == hook["id"] for c in configs for r in c["repos"])
