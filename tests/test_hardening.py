"""Issue 13 (hardening round 2): inputs of a few kilobytes that hung or blinded the audit.

Bounds are asserted as work counters and SC001s, not wall-clock: the machines are shared.
Where a time guard is needed it is generous (a child process, 20 s for what takes < 1 s).
The same inputs live in tests/fixtures/regressions/ and run under scripts/fuzz.py --replay.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sc_audit import audit, yamlsafe
from sc_audit.config import Config
from sc_audit.parsers import shell

REGRESSIONS = Path(__file__).parent / "fixtures" / "regressions"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def sc001(report) -> list[str]:
    return [f.message for f in report.findings if f.rule == "SC001"]


# --------------------------------------------------------------------------- shared YAML/JS nodes


def test_a_run_step_reused_by_alias_is_parsed_once(tmp_path, monkeypatch):
    """3.6 KB of `steps: [*s, *s, …]` over many jobs: each use was parsed again (~45 s, 500 MiB)."""
    calls = []
    real = shell.parse_text
    monkeypatch.setattr(shell, "parse_text", lambda *a, **k: calls.append(1) or real(*a, **k))
    data = (REGRESSIONS / "workflow--run-step-reused-by-alias.input").read_text()
    report = audit(write(tmp_path, {".github/workflows/deploy.yml": data}), Config())
    assert len(calls) == 1
    assert any("YAML aliases repeat its scripts past 2 MiB" in m for m in sc001(report))


def test_a_few_reuses_keep_every_command(tmp_path):
    report = audit(write(tmp_path, {".github/workflows/deploy.yml": (
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - &s\n        run: pm2 restart web\n      - *s\n      - *s\n")}), Config())
    assert sc001(report) == []
    assert [s.command.argv for s in report.model.steps if s.command.argv[:1] == ("pm2",)] == \
        [("pm2", "restart", "web")] * 3


def test_nested_aliases_past_the_bound_are_an_sc001(tmp_path):
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    text = "on: push\n" + "\n".join(levels) + "\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: *a8\n"
    report = audit(write(tmp_path, {".github/workflows/deploy.yml": text}), Config())
    assert any("expand it past 50,000 nodes" in m for m in sc001(report))


def test_expanded_size_is_linear_in_distinct_nodes():
    import yaml

    text = "a0: &a0 [x, x]\n" + "".join(f"a{i}: &a{i} [*a{i - 1}, *a{i - 1}]\n" for i in range(1, 60))
    node = yaml.compose(text, Loader=yaml.SafeLoader)
    with pytest.raises(yamlsafe.TooLarge):
        yamlsafe.expanded_size(node)  # 2**60 nodes if walked; counted in ~200 steps
    assert yamlsafe.expanded_size(yaml.compose("a: &x [1, 2]\nb: *x\n", Loader=yaml.SafeLoader)) == 9


def test_a_recursive_alias_is_refused():
    import yaml

    node = yaml.compose("a: &x [1, *x]\n", Loader=yaml.SafeLoader)
    with pytest.raises(yamlsafe.TooLarge, match="contains it"):
        yamlsafe.expanded_size(node)


def test_safe_load_bounded():
    assert yamlsafe.safe_load_bounded("a: &x [1, 2]\nb: *x\n") == {"a": [1, 2], "b": [1, 2]}
    bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]\n" for i in range(1, 9))
    with pytest.raises(yamlsafe.TooLarge):
        yamlsafe.safe_load_bounded(bomb)


@pytest.mark.parametrize("name, regression", [
    ("ecosystem.config.js", "pm2-js--apps-share-one-nested-value.input"),
    ("ecosystem.config.yml", "pm2-yaml--apps-share-one-alias.input"),
])
def test_pm2_apps_sharing_one_nested_value(tmp_path, name, regression):
    """60 apps x 40 fields of one 9,990-member value: re-walked and copied per field (15 s, 650 MiB
    on a 21 KB file). Each shared value is sized and copied once; the total is bounded."""
    data = (REGRESSIONS / regression).read_text()
    report = audit(write(tmp_path, {name: data}), Config())
    assert any("shared values expand this file's apps past 200,000 members" in m for m in sc001(report))
    (pm2,) = report.model.pm2_files.values()
    assert [app.name for app in pm2.apps] == [f"w{j}" for j in range(60)]  # names and scripts still read


def test_pm2_shared_value_under_the_bound_is_read(tmp_path):
    report = audit(write(tmp_path, {"ecosystem.config.js": (
        "const env = {A: '1', B: '2'};\nmodule.exports = {apps: [\n"
        "  {name: 'a', script: 'a.py', env: env},\n  {name: 'b', script: 'b.py', env: env}]};\n")}), Config())
    (pm2,) = report.model.pm2_files.values()
    assert [app.get("env") for app in pm2.apps] == [{"A": "1", "B": "2"}] * 2
    assert [m for m in sc001(report) if "expand" in m] == []


# --------------------------------------------------------------------------- long literals


def test_split_words_is_shlex_split():
    import random
    import shlex

    from sc_audit.model import split_words

    def reference(text):
        try:
            return shlex.split(text)
        except ValueError:
            return text.split()

    rng = random.Random(13)
    alphabet = [" ", "a", "b", "\\", '"', "'", "\t", "\n", "x y", '\\"', "é"]
    for _ in range(20_000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
        assert split_words(text) == reference(text), text


def test_split_words_is_linear():
    """shlex grows a word a character at a time: a 1 MB PM2 `args` took 53 s, 2 MB 287 s.
    A generous CPU-time guard (CPU, not wall: shared machines); this takes about a second."""
    import time

    from sc_audit.model import split_words

    started = time.process_time()
    assert split_words("a" * 2_000_000) == ["a" * 2_000_000]
    assert len(split_words('"' + 'a\\"' * 500_000 + '"')[0]) == 1_000_000
    assert split_words('"' + "a" * 2_000_000)[0].startswith('"a')
    assert time.process_time() - started < 20


def test_a_pm2_literal_past_the_string_bound_is_an_sc001(tmp_path):
    import json

    app = {"name": "w", "script": "venv/bin/gunicorn", "interpreter": "none",
           "args": "-b 127.0.0.1:8000 app:app --name " + "a" * 1_100_000}
    report = audit(write(tmp_path, {"ecosystem.config.json": json.dumps({"apps": [app]})}), Config())
    assert any("a value longer than 1,000,000 characters was not read" in m for m in sc001(report))


# --------------------------------------------------------------------------- nginx includes


def test_include_globs_that_match_nothing_index_the_tree_once(tmp_path, monkeypatch):
    """2,000 `include` globs over 1,000 directories globbed the whole tree each time (~50 s)."""
    import os as os_module

    from sc_audit import fs

    listed = []
    real_scandir = os_module.scandir
    monkeypatch.setattr(fs.os, "scandir", lambda path: listed.append(path) or real_scandir(path))
    files = {f"d{i}/x.txt": "" for i in range(1000)}
    files["nginx/site.conf"] = "server {\n    listen 80;\n" + "".join(
        f"    include nomatch{i}/*.conf;\n" for i in range(2000)) + "}\n"
    report = audit(write(tmp_path, files), Config())
    # each directory once for discovery and once for the index (it was once per glob: 2,000,000)
    assert len(listed) <= 2 * 1002 + 10
    assert sc001(report) == []  # globs that match nothing are legal, and cheap


def test_too_many_include_globs_is_an_sc001(tmp_path):
    from sc_audit.parsing import MAX_INCLUDE_GLOBS

    files = {"nginx/site.conf": "server {\n    listen 80;\n" + "".join(
        f"    include none{i}/*.conf;\n" for i in range(MAX_INCLUDE_GLOBS + 5)) + "}\n"}
    report = audit(write(tmp_path, files), Config())
    assert any(f"more than {MAX_INCLUDE_GLOBS:,} include globs" in m for m in sc001(report))


def test_an_include_glob_cut_at_its_limit_is_an_sc001(tmp_path):
    """A broken proxy_pass in the 201st included file was never seen, and nothing said so."""
    files = {f"nginx/conf.d/s{i:03}.conf": "location /x { }\n" for i in range(250)}
    files["nginx/site.conf"] = "server {\n    listen 80;\n    include conf.d/*.conf;\n}\n"
    report = audit(write(tmp_path, files), Config())
    assert any("matches 250 files; only the first 200 were read" in m and "conf.d/s200.conf" in m
               for m in sc001(report)), sc001(report)


def test_include_globs_follow_glob3(tmp_path):
    from sc_audit.parsing import TreeIndex

    write(tmp_path, {"a/x.conf": "", "a/.hidden.conf": "", "a/b/y.conf": "", "c/x.conf": "", "a/x.txt": ""})
    index = TreeIndex(tmp_path)
    budget = [1000]
    assert index.glob("a/*.conf", budget) == ["a/x.conf"]  # not the dot file, not a/b/
    assert index.glob("*/x.conf", budget) == ["a/x.conf", "c/x.conf"]
    assert index.glob("a/.*.conf", budget) == ["a/.hidden.conf"]
    assert index.glob("a/b/y.conf", budget) == ["a/b/y.conf"]
    assert index.glob("a/[bx]*", budget) == ["a/b", "a/x.conf", "a/x.txt"]
    assert index.glob("nope/*", budget) == []


# --------------------------------------------------------------------------- the audit's budget


def test_six_2_mib_scripts_stop_at_the_audit_budget(tmp_path):
    """Limits were per file only: six 2 MiB scripts took 43 s and 524 MiB."""
    from sc_audit.budget import MAX_AUDIT_BYTES

    line = "echo " + "x" * 70 + "\n"
    body = "#!/bin/sh\n" + line * ((2 * 1024 * 1024 - 100) // len(line))
    report = audit(write(tmp_path, {f"deploy{i}.sh": body for i in range(6)}), Config())
    refused = [f.span.path for f in report.findings if f.rule == "SC001" and "budget" in f.message]
    assert refused == [f"deploy{i}.sh" for i in range(MAX_AUDIT_BYTES // len(body), 6)]
    assert report.incomplete and "deploy2.sh and 3 more" in report.incomplete[0]
    assert report.failed("error")


# --------------------------------------------------------------------------- never clean over the unread


@pytest.mark.parametrize("name", ["ecosystem.config.json", "ecosystem.config.yml", "ecosystem.config.yaml"])
def test_a_broken_file_named_as_pm2_is_an_sc001(tmp_path, name):
    report = audit(write(tmp_path, {name: "{apps: [\n" if name.endswith("json") else "apps: [\n  - name: x\n"}),
                   Config())
    assert [f.span.path for f in report.findings if f.rule == "SC001"] == [name]


def test_a_walk_stopped_at_its_limit_is_incomplete(tmp_path, monkeypatch):
    from sc_audit import discover

    monkeypatch.setattr(discover, "MAX_FILES", 50)
    report = audit(write(tmp_path, {**{f"a{i:03}.txt": "" for i in range(60)},
                                    "deploy.sh": "pm2 restart web\n"}), Config())
    assert report.incomplete and "more than 50 files" in report.incomplete[0]
    assert report.failed("error")


def test_a_directory_that_cannot_be_opened_is_incomplete(tmp_path):
    """3,000 nested directories: the path grows too long to open; the walk said nothing (exit 0).
    Twenty levels of 250-character names pass PATH_MAX (4096) as well, and stay easy to remove."""
    import os
    import shutil

    name = "d" * 250
    fds = [os.open(tmp_path, os.O_RDONLY)]
    try:
        for _ in range(20):  # relative to a directory descriptor: deeper than a path can name
            os.mkdir(name, dir_fd=fds[-1])
            fds.append(os.open(name, os.O_RDONLY, dir_fd=fds[-1]))
        report = audit(tmp_path, Config())
        assert any("unreadable" in reason for reason in report.incomplete), report.incomplete
        assert report.failed("error")
    finally:
        for fd in fds:
            os.close(fd)
        shutil.rmtree(tmp_path / name)  # by descriptors: long paths are fine


@pytest.mark.parametrize("special", ["fifo", "/dev/zero"])
def test_a_fifo_or_a_device_as_the_path_is_incomplete(tmp_path, special):
    import os

    if special == "fifo":
        path = tmp_path / "pipe"
        os.mkfifo(path)
    else:
        path = Path(special)
    report = audit(path, Config())  # returns at once: never opened
    assert any("not a regular file or a directory" in reason for reason in report.incomplete)
    assert report.failed("error")


def test_incomplete_is_said_in_every_format(tmp_path, monkeypatch):
    import io
    import json

    from sc_audit import discover
    from sc_audit.report import FORMATS, render

    monkeypatch.setattr(discover, "MAX_FILES", 2)
    report = audit(write(tmp_path, {"a.txt": "", "b.txt": "", "c.txt": ""}), Config())
    assert not report.findings and report.incomplete
    for name in FORMATS:
        out = io.StringIO()
        render(name, report, out)
        text = out.getvalue()
        assert "no issues found" not in text, name
        assert "more than 2 files" in text, name
    out = io.StringIO()
    render("json", report, out)
    assert json.loads(out.getvalue())["summary"]["incomplete"] == report.incomplete


def test_a_zero_length_pseudo_file_is_never_opened(tmp_path, monkeypatch):
    """As root, `sc-audit check /proc` blocked reading /proc/kmsg (a regular file of size 0)."""
    import builtins

    from sc_audit import discover

    write(tmp_path, {"deploy.sh": ""})
    opened = []
    real_open = builtins.open
    monkeypatch.setattr(builtins, "open", lambda *a, **k: opened.append(a[0]) or real_open(*a, **k))
    found = discover.Discovery(root=tmp_path)
    assert discover.read_limited(tmp_path, "deploy.sh", found) == b""
    assert opened == []


# --------------------------------------------------------------------------- output safety

HOSTILE_PATTERN = ("gunicorn\n::error title=pwned::owned\n::add-mask::x\n::stop-commands::tok\n"
                   "\x1b]0;TITLE\x07\x1b]8;;http://evil/\x07link\x1b]8;;\x07\u202e\u2066\x1b[0m\n"
                   "##[error]old\n%0A::set-output name=x::y\r::notice::cr")
HOSTILE_REPO = {
    "deploy.sh": ("#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app > log 2>&1 &\n"
                  f"pkill -f '{HOSTILE_PATTERN}'\n"),
    "::warning title=x::y.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8001 app:app &\n",
    "##[error]z.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8002 app:app &\n",
}
OWN_GITHUB_LINE = r"^::(error|warning|notice) (file=[^,\n]*,line=\d+|title=sc-audit incomplete)"


def _rendered(report, name: str) -> str:
    import io

    from sc_audit.report import render

    out = io.StringIO()
    render(name, report, out)
    return out.getvalue()


@pytest.mark.parametrize("name", ["text", "concise", "json", "sarif", "github", "junit"])
def test_no_output_format_passes_on_control_characters_or_workflow_commands(tmp_path, name):
    import re

    report = audit(write(tmp_path, HOSTILE_REPO), Config())
    assert any("pwned" in f.message for f in report.findings)  # the pattern is quoted in a finding
    assert {f.span.path for f in report.findings} >= {"::warning title=x::y.sh", "##[error]z.sh"}
    text = _rendered(report, name)
    for line in text.split("\n"):
        assert line.isprintable(), (name, line)  # no ESC, BEL, CR, bidi override, separator
        if line.lstrip().startswith(("::", "##[")):
            assert name == "github" and re.match(OWN_GITHUB_LINE, line), (name, line)
    if name == "github":  # the file's line breaks do not reach the runner, not even as %0A
        assert "%0A::" not in text and "%0D::" not in text


def test_json_keeps_the_data_and_escapes_it(tmp_path):
    import json

    report = audit(write(tmp_path, HOSTILE_REPO), Config())
    document = json.loads(_rendered(report, "json"))
    assert any("\u202e" in f["message"] and "\x1b" in f["message"] for f in document["findings"])


def test_a_stdout_that_is_not_utf8_degrades_characters(tmp_path):
    import os
    import subprocess
    import sys

    write(tmp_path, {"deploy.sh": "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 app:app &\n"
                                  "pkill -f '한국어 🚀 gunicorn'\n"})
    for encoding in ("ascii", "euc-kr", "cp1252"):
        result = subprocess.run([sys.executable, "-m", "sc_audit", "check", str(tmp_path), "--no-cache"],
                                capture_output=True, env={**os.environ, "PYTHONIOENCODING": encoding})
        assert result.returncode == 1 and b"Traceback" not in result.stderr, (encoding, result.stderr[-500:])
        assert b"findings" in result.stdout


def test_a_deeply_nested_config_is_a_config_error(tmp_path):
    import subprocess
    import sys

    write(tmp_path, {"sc-audit.toml": "x = " + "[" * 5000 + "]" * 5000 + "\n"})
    result = subprocess.run([sys.executable, "-m", "sc_audit", "check", str(tmp_path), "--no-cache"],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "nested too deeply" in result.stderr and "RecursionError" not in result.stderr
