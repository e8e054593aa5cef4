"""The whole-report cache (answers.py): a plain `check` whose inputs have not changed is answered
without auditing; any change to anything the audit read, to the command line, the configuration,
the environment that shapes output, or to sc-audit itself is a miss. A stale answer is a wrong
audit, so most of these tests change one input and assert the answer changes with it."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import SIGNALCRAFT, write_repo
from sc_audit import answers, checking, fs, userdir
from sc_audit.__main__ import fast_path


@pytest.fixture
def plan(tmp_path) -> Path:
    root = tmp_path / "plan"
    shutil.copytree(SIGNALCRAFT / "plan", root, ignore=shutil.ignore_patterns(".sc-audit-cache"))
    (root / ".git").mkdir()  # the repository's own root, not the test's tmp directory
    return root


@pytest.fixture
def audits(monkeypatch) -> list[int]:
    """Counts the audits really run in this process (a hit runs none)."""
    calls: list[int] = []
    real = checking.check

    def counting(**options):
        calls.append(1)
        return real(**options)

    monkeypatch.setattr(checking, "check", counting)
    return calls


def run(words: list[str], capsys) -> tuple[str, str, int]:
    """`sc-audit check WORDS` in this process: (stdout, stderr, exit code)."""
    import sys

    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(errors="strict")  # as a new process starts (a run sets "replace")
    with pytest.raises(SystemExit) as leaving:
        fast_path(["check", *words])
    out, err = capsys.readouterr()
    return out, err, leaving.value.code


def settle(root: Path, words: list[str], capsys) -> tuple[str, str, int]:
    """Run twice (the second run is answered from the first) and return the answer."""
    first = run(words, capsys)
    second = run(words, capsys)
    assert second == first
    return second


def test_an_unchanged_repository_is_answered_without_an_audit(plan, audits, capsys):
    expected = settle(plan, [str(plan)], capsys)
    audits.clear()
    again = run([str(plan)], capsys)
    assert audits == []
    assert again == expected
    assert expected[2] == 1 and "SC101" in expected[0]


def test_the_second_run_is_already_answered(plan, audits, capsys):
    """The first run makes the parse cache directory in the root; the record leaves it out (the
    audit never reads it), so the second run is answered."""
    first = run([str(plan)], capsys)
    assert (plan / ".sc-audit-cache").is_dir()
    audits.clear()
    assert run([str(plan)], capsys) == first and audits == []


def test_the_answer_is_the_same_as_without_any_cache(plan, audits, capsys):
    cached = settle(plan, [str(plan)], capsys)
    plain = run([str(plan), "--no-cache"], capsys)
    assert cached == plain


@pytest.mark.parametrize("edit", ["content", "same-size-same-mtime"])
def test_an_edited_file_is_a_miss(plan, audits, capsys, edit):
    before = settle(plan, [str(plan)], capsys)
    app = plan / "app.py"
    text = app.read_text()
    stat = app.stat()
    if edit == "content":
        app.write_text(text.replace("app = Flask", "xpp = Flask", 1) + "\n# a longer file\n")
    else:  # the same size and modification time: only the content says it changed
        changed = text.replace("app = Flask", "xpp = Flask", 1)
        assert len(changed) == len(text) and changed != text
        app.write_text(changed)
        os.utime(app, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    audits.clear()
    after = run([str(plan)], capsys)
    assert audits == [1]
    assert after != before
    assert after == run([str(plan), "--no-cache"], capsys)


def test_a_new_file_in_a_listed_directory_is_a_miss(plan, audits, capsys):
    before = settle(plan, [str(plan)], capsys)
    (plan / "deploy" / "extra.sh").write_text("#!/bin/sh\npkill -f 'python app.py'\n")
    audits.clear()
    after = run([str(plan)], capsys)
    assert audits == [1] and after != before


def test_a_removed_file_is_a_miss(plan, audits, capsys):
    before = settle(plan, [str(plan)], capsys)
    (plan / "fix-502-complete.sh").unlink()
    audits.clear()
    after = run([str(plan)], capsys)
    assert audits == [1] and after != before


def test_an_edit_to_an_included_file_outside_discovery_is_a_miss(tmp_path, audits, capsys):
    """An Nginx site includes a file discovery does not list (no extension, no server block):
    the include reader read it, so the answer depends on it."""
    root = write_repo(tmp_path / "repo", {
        ".git/HEAD": "ref: refs/heads/main\n",
        "deploy/site.conf": "server {\n    listen 80;\n    location / {\n        include snippets/upstream;\n    }\n}\n",
        "deploy/snippets/upstream": "proxy_pass http://127.0.0.1:8000;\n",
        "gunicorn.conf.py": 'bind = "127.0.0.1:8000"\n',
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
        "Procfile": "web: gunicorn app:app -c gunicorn.conf.py\n",
    })
    before = settle(root, [str(root)], capsys)
    assert "SC302" not in before[0]
    (root / "deploy" / "snippets" / "upstream").write_text("proxy_pass http://127.0.0.1:9000;\n")
    audits.clear()
    after = run([str(root)], capsys)
    assert audits == [1]
    assert after == run([str(root), "--no-cache"], capsys)
    assert "SC302" in after[0], after[0]


def test_a_changed_symbolic_link_is_a_miss(tmp_path, audits, capsys):
    root = write_repo(tmp_path / "repo", {
        ".git/HEAD": "ref: refs/heads/main\n",
        "confs/good.py": 'bind = "127.0.0.1:8000"\nworkers = 2\n',
        "confs/bad.py": "import multiprocessing\nworkers = multiprocessing.cpu_count() * 2 + 1\n",
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
        "Procfile": "web: gunicorn app:app -c gunicorn.conf.py\n",
    })
    (root / "gunicorn.conf.py").symlink_to("confs/good.py")
    before = settle(root, [str(root)], capsys)
    (root / "gunicorn.conf.py").unlink()
    (root / "gunicorn.conf.py").symlink_to("confs/bad.py")
    audits.clear()
    after = run([str(root)], capsys)
    assert audits == [1]
    assert after != before and after == run([str(root), "--no-cache"], capsys)


def test_a_changed_configuration_is_a_miss(plan, audits, capsys):
    before = settle(plan, [str(plan)], capsys)
    (plan / "sc-audit.toml").write_text('ignore = ["SC101"]\n')
    audits.clear()
    after = run([str(plan)], capsys)
    assert audits == [1] and "SC101" in before[0] and "SC101" not in after[0]


def test_other_words_or_another_working_directory_are_other_keys(plan, audits, capsys, monkeypatch):
    settle(plan, [str(plan)], capsys)
    audits.clear()
    run([str(plan), "--select", "SC1"], capsys)
    assert audits == [1]
    monkeypatch.chdir(plan)
    audits.clear()
    run(["."], capsys)
    assert audits == [1]


def test_the_environment_that_changes_output_is_in_the_key(monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    plain = answers.key(["."])
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert answers.key(["."]) != plain
    monkeypatch.delenv("FORCE_COLOR")
    monkeypatch.setenv("NO_COLOR", "1")
    assert answers.key(["."]) != plain


def test_colour_forced_after_a_plain_run_is_not_answered_from_it(plan, audits, capsys, monkeypatch):
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.delenv("NO_COLOR", raising=False)
    plain = settle(plan, [str(plan)], capsys)
    monkeypatch.setenv("FORCE_COLOR", "1")
    audits.clear()
    coloured = run([str(plan)], capsys)
    assert audits == [1] and "\x1b[" in coloured[0] and "\x1b[" not in plain[0]


def test_sc_audit_itself_is_in_the_key(tmp_path):
    """Any change to a file of the package or its catalog (size or modification time) is another key."""
    tree = write_repo(tmp_path / "pkg", {"a.py": "x = 1\n", "rules/SC101.toml": "code = 'SC101'\n"})
    parts: list = []
    answers._stamp_tree(str(tree), parts)
    os.utime(tree / "a.py", ns=(0, 12345))
    changed: list = []
    answers._stamp_tree(str(tree), changed)
    assert parts != changed and len(parts) == 2


def test_no_cache_neither_reads_nor_writes_answers(plan, audits, capsys):
    run([str(plan), "--no-cache"], capsys)
    run([str(plan), "--no-cache"], capsys)
    assert audits == [1, 1]
    assert not Path(answers._directory()).exists() or not os.listdir(answers._directory())


def stored_answer(plan, capsys) -> Path:
    settle(plan, [str(plan)], capsys)
    files = [p for p in Path(answers._directory()).iterdir() if not p.name.endswith(".tmp")]
    assert len(files) == 1
    return files[0]


def test_an_answer_file_without_this_users_seal_is_not_believed(plan, audits, capsys):
    import marshal

    path = stored_answer(plan, capsys)
    data = path.read_bytes()
    head = len(answers.MAGIC) + answers.SEAL_BYTES
    key, record, chunks, code = marshal.loads(data[head:])
    forged = marshal.dumps((key, record, [("stdout", "all checks passed\n")], 0))
    path.write_bytes(answers.MAGIC + b"\0" * answers.SEAL_BYTES + forged)  # a seal anyone could write
    audits.clear()
    out, _, code = run([str(plan)], capsys)
    assert audits == [1] and code == 1 and "SC101" in out


def test_a_damaged_answer_file_is_a_miss(plan, audits, capsys):
    path = stored_answer(plan, capsys)
    path.write_bytes(path.read_bytes()[:-7])
    audits.clear()
    assert run([str(plan)], capsys)[2] == 1 and audits == [1]


def test_a_huge_answer_file_is_not_read(plan, audits, capsys, monkeypatch):
    path = stored_answer(plan, capsys)
    reads = []
    real = userdir.read_regular_file
    monkeypatch.setattr(userdir, "read_regular_file", lambda p, limit: reads.append(limit) or real(p, limit))
    with open(path, "r+b") as stream:
        stream.truncate(answers.MAX_BYTES + 1)
    audits.clear()
    assert run([str(plan)], capsys)[2] == 1 and audits == [1]
    assert reads and all(limit <= answers.MAX_BYTES for limit in reads)


def test_a_usage_error_is_never_stored(tmp_path, capsys):
    out, err, code = run([str(tmp_path / "missing")], capsys)
    assert code == 2
    directory = Path(answers._directory())
    assert not directory.exists() or not os.listdir(directory)


def test_answers_are_few(plan, capsys, monkeypatch):
    monkeypatch.setattr(answers, "MAX_ANSWERS", 3)
    for select in ("SC1", "SC2", "SC3", "SC4", "SC5"):
        settle(plan, [str(plan), "--select", select], capsys)
    assert len(os.listdir(answers._directory())) == 3


def test_a_tree_that_changes_during_the_audit_keeps_no_answer(tmp_path):
    """The same question answered two ways in one run (a file rewritten while it was audited):
    nothing is kept, whatever the run printed."""
    target = tmp_path / "gunicorn.conf.py"
    target.write_text("workers = 2\n")

    def audit_while_it_changes():
        fs.read_regular(target, 1000)
        target.write_text("workers = 3\n")
        fs.read_regular(target, 1000)
        print("no issues found")
        raise checking.Exit(0)

    with pytest.raises(checking.Exit):
        answers.run_and_keep(answers.key(["changing"]), audit_while_it_changes)
    assert answers.lookup(answers.key(["changing"])) is None
    directory = Path(answers._directory())
    assert not directory.exists() or not os.listdir(directory)


def test_a_run_that_reads_the_same_file_twice_unchanged_keeps_its_answer(tmp_path, capsys):
    target = tmp_path / "gunicorn.conf.py"
    target.write_text("workers = 2\n")

    def audit():
        fs.read_regular(target, 1000)
        fs.read_regular(target, 1000)
        print("no issues found")
        raise checking.Exit(0)

    with pytest.raises(checking.Exit):
        answers.run_and_keep(answers.key(["steady"]), audit)
    assert answers.lookup(answers.key(["steady"])) == ([("stdout", "no issues found"), ("stdout", "\n")], 0)
    target.write_text("workers = 3\n")
    assert answers.lookup(answers.key(["steady"])) is None


# --------------------------------------------------------------------------- by construction

# What may touch the file system directly: fs.py (the audit's reads), the caches and the user
# directory (not inputs of a report), the writers (--fix, baselines, reports to a file) and the
# catalog (the package's own files, in answers.key).
ALLOWED = {"fs.py", "answers.py", "userdir.py", "cache.py", "fix.py", "baseline.py", "cli.py", "catalog.py",
           "checking.py", "graph.py", "__main__.py"}
FILE_SYSTEM = re.compile(r"\bos\.(scandir|listdir|stat|lstat|walk|readlink|access)\(|os\.path\.(realpath|exists|"
                         r"isfile|isdir|getsize)\(|(?<![\w.])open\(|"
                         # fs.*, the model's own file list, fs.Entry and the include index are not the file system
                         r"(?<!\bfs)(?<!\bmodel)(?<!\bentry)(?<!\bindex)(?<!\bwrapper)"
                         r"\.(read_text|read_bytes|exists|is_file|is_dir|is_symlink|resolve|iterdir|glob|rglob|stat|"
                         r"lstat)\(")


def code_lines(path: Path) -> list[tuple[int, str]]:
    """The lines of a module with its strings and comments blanked out."""
    import io
    import tokenize

    lines = path.read_text(encoding="utf-8").splitlines()
    for token in tokenize.generate_tokens(io.StringIO("\n".join(lines) + "\n").readline):
        if token.type in (tokenize.STRING, tokenize.COMMENT):
            (first, start), (last, end) = token.start, token.end
            for number in range(first, last + 1):
                line = lines[number - 1]
                left = start if number == first else 0
                right = end if number == last else len(line)
                lines[number - 1] = line[:left] + " " * (right - left) + line[right:]
    return list(enumerate(lines, 1))


def test_the_audit_reads_files_only_through_fs():
    """Every read an audit makes goes through fs.py, so that the report cache sees it: a read that
    does not is an input whose change would not be noticed (a stale answer)."""
    package = Path(__file__).resolve().parent.parent / "sc_audit"
    offenders = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).as_posix()
        if rel in ALLOWED:
            continue
        offenders += [f"{rel}:{number}: {line.strip()}" for number, line in code_lines(path)
                      if FILE_SYSTEM.search(line)]
    assert offenders == []


def test_the_check_finds_a_read_that_bypasses_fs(tmp_path):
    module = tmp_path / "m.py"
    module.write_text('"""Path.resolve() in a docstring is fine."""\nx = Path(p).read_text()  # a read\n')
    assert [n for n, line in code_lines(module) if FILE_SYSTEM.search(line)] == [2]


def test_checking_reads_only_through_fs_too():
    """checking.py is allowed above for its report writing (--output-file); its reads go through fs."""
    text = (Path(checking.__file__)).read_text(encoding="utf-8")
    reads = [line for line in text.splitlines()
             if re.search(r"\.(exists|is_file|is_dir|resolve|read_text|read_bytes)\(|os\.stat\(", line)
             and "fs." not in line]
    assert reads == []


@pytest.mark.parametrize("words", [["--format", "json"], ["--format", "sarif"], ["--format", "github"],
                                   ["--format", "junit"], ["--format", "concise"], ["--statistics"],
                                   ["--show-files"], ["-q"], ["--select", "SC5", "--exit-zero"]])
def test_every_output_is_given_back_byte_for_byte(plan, audits, capsys, words):
    """What a stored answer prints is what the run printed, stdout and stderr, exit code too."""
    plain = run([str(plan), *words, "--no-cache"], capsys)
    first = run([str(plan), *words], capsys)
    audits.clear()
    stored = run([str(plan), *words], capsys)
    assert audits == [] and stored == first == plain
