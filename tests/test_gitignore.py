"""`.gitignore` is honoured as git reads it: generated or vendored deploy files are not audited."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli, write_repo
from sc_audit import audit
from sc_audit.config import Config
from sc_audit.gitignore import GitIgnore

KILL = "#!/bin/bash\nnohup python3 app.py &\n"


@pytest.mark.parametrize("lines, path, is_dir, ignored", [
    ("*.sh", "deploy/run.sh", False, True),
    ("*.sh\n!keep.sh", "deploy/keep.sh", False, False),
    ("/build.sh", "build.sh", False, True),
    ("/build.sh", "sub/build.sh", False, False),  # anchored
    ("gen/", "gen", True, True),
    ("gen/", "gen", False, False),  # directories only
    ("a/**/b.sh", "a/x/y/b.sh", False, True),
    ("a/**/b.sh", "a/b.sh", False, True),
    ("**/vendor", "x/vendor", True, True),
    ("vendor/**", "vendor/x/y.sh", False, True),
    ("deploy/*.sh", "deploy/sub/x.sh", False, False),  # `*` does not cross `/`
    ("# comment\n\n\\#lit", "#lit", False, True),
    ("[ab].sh", "a.sh", False, True),
    ("[!ab].sh", "a.sh", False, False),
    ("?.sh", "ab.sh", False, False),
])
def test_patterns_match_as_git_matches_them(lines, path, is_dir, ignored):
    ignore = GitIgnore()
    ignore.read("", lines)
    assert ignore.ignored(path, is_dir) is ignored


def test_a_nested_gitignore_applies_under_its_directory_and_has_the_last_word():
    ignore = GitIgnore()
    ignore.read("", "*.sh\n")
    ignore.read("deploy", "!run.sh\n/local.sh\n")
    assert not ignore.ignored("deploy/run.sh", False)
    assert ignore.ignored("other/run.sh", False)
    assert ignore.ignored("deploy/local.sh", False) and ignore.ignored("deploy/x/local.sh", False)


def test_ignored_files_are_not_audited_unless_asked(tmp_path):
    root = write_repo(tmp_path / "repo", {
        ".gitignore": "generated/\n*.local.sh\n",
        "deploy.sh": KILL, "generated/deploy.sh": KILL, "me.local.sh": KILL,
        "vendor/.gitignore": "*\n!keep.sh\n", "vendor/x.sh": KILL, "vendor/keep.sh": KILL,
    })
    paths = {f.span.path for f in audit(root).findings}
    assert paths == {"deploy.sh", "vendor/keep.sh"}
    assert {f.span.path for f in audit(root, Config(respect_gitignore=False)).findings} == {
        "deploy.sh", "generated/deploy.sh", "me.local.sh", "vendor/x.sh", "vendor/keep.sh"}
    flag = json.loads(run_cli("check", str(root), "--no-respect-gitignore", "--format", "json").stdout)
    assert len({f["path"] for f in flag["findings"]}) == 5
    (root / "sc-audit.toml").write_text("respect-gitignore = false\n", encoding="utf-8")
    config = json.loads(run_cli("check", str(root), "--format", "json").stdout)
    assert len({f["path"] for f in config["findings"]}) == 5
    back = json.loads(run_cli("check", str(root), "--respect-gitignore", "--format", "json").stdout)
    assert len({f["path"] for f in back["findings"]}) == 2


def test_extend_exclude_adds_to_the_configuration(tmp_path):
    root = write_repo(tmp_path / "repo", {"sc-audit.toml": 'exclude = ["a.sh"]\n', "a.sh": KILL, "b.sh": KILL,
                                          "c.sh": KILL})
    paths = lambda *args: {f["path"] for f in json.loads(run_cli(
        "check", str(root), "--format", "json", *args).stdout)["findings"]}
    assert paths() == {"b.sh", "c.sh"}
    assert paths("--extend-exclude", "b.sh") == {"c.sh"}
    assert paths("--exclude", "c.sh") == {"a.sh", "b.sh"}
