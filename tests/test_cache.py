"""The parse cache: warm runs give the same answer without parsing; nothing wrong in it can
change an answer, crash a run or run code."""

from __future__ import annotations

import os
import pickle
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SIGNALCRAFT, write_repo
from sc_audit import api, cache
from sc_audit.api import audit


@pytest.fixture
def plan(tmp_path) -> Path:
    root = tmp_path / "plan"
    shutil.copytree(SIGNALCRAFT / "plan", root, ignore=shutil.ignore_patterns(cache.CACHE_DIR))
    return root


@pytest.fixture
def parsed(monkeypatch) -> list[str]:
    """The paths the parsers are run on (in this process), in order."""
    calls: list[str] = []
    real = api.parse_file

    def counting(src, read_include=None):
        calls.append(src.path)
        return real(src, read_include)

    monkeypatch.setattr(api, "parse_file", counting)
    return calls


def answer(report) -> list[tuple]:
    return [(f.rule, f.span, f.message) for f in report.findings]


def cache_file(root: Path) -> Path:
    return root / cache.CACHE_DIR / "tree.pickle"


def test_a_warm_run_parses_nothing_and_answers_the_same(plan, parsed):
    cold = audit(plan, cache=True)
    assert sorted(parsed) == sorted(f.path for f in cold.files) and parsed
    assert (plan / cache.CACHE_DIR / ".gitignore").read_text().splitlines()[-1] == "*"
    parsed.clear()
    warm = audit(plan, cache=True)
    assert parsed == []
    assert answer(warm) == answer(cold) == answer(audit(plan))
    assert [f.path for f in warm.files] == [f.path for f in cold.files]


def test_a_changed_file_is_parsed_again(plan, parsed):
    before = audit(plan, cache=True)
    assert "SC101" in {f.rule for f in before.findings}  # wsgi_app = "app:create_app()", and app.py has no factory
    conf = plan / "gunicorn.conf.py"
    conf.write_text(conf.read_text().replace('wsgi_app = "app:create_app()"', 'wsgi_app = "app:app"'))
    parsed.clear()
    after = audit(plan, cache=True)
    assert parsed == ["gunicorn.conf.py"]
    assert "SC101" not in {f.rule for f in after.findings}
    assert answer(after) == answer(audit(plan))


def test_an_nginx_entry_follows_the_files_its_includes_inline(tmp_path, parsed):
    root = write_repo(tmp_path / "repo", {
        "deploy/site.conf": "server {\n  listen 80;\n  include snippets/api.inc;\n}\n",
        "deploy/snippets/api.inc": "location /api/ {\n  proxy_pass http://127.0.0.1:8001;\n}\n",
    })
    assert [p.endpoints[0].port for p in audit(root, cache=True).model.proxies] == [8001]
    (root / "deploy/snippets/api.inc").write_text("location /api/ {\n  proxy_pass http://127.0.0.1:9001;\n}\n")
    parsed.clear()
    assert [p.endpoints[0].port for p in audit(root, cache=True).model.proxies] == [9001]
    assert parsed == ["deploy/site.conf"]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "empty"])
def test_a_corrupt_cache_file_is_ignored_and_replaced(plan, parsed, damage):
    expected = answer(audit(plan, cache=True))
    data = cache_file(plan).read_bytes()
    damaged = {"garbage": b"\x80\x05not a pickle at all", "truncated": data[: len(data) // 2],
               "flipped": data[:-10] + bytes([data[-10] ^ 0xFF]) + data[-9:], "empty": b""}[damage]
    cache_file(plan).write_bytes(damaged)
    parsed.clear()
    assert answer(audit(plan, cache=True)) == expected
    assert parsed  # everything parsed again ...
    parsed.clear()
    assert answer(audit(plan, cache=True)) == expected
    assert parsed == []  # ... and the cache written anew


def _rewrite_entry(root: Path, path: str, blob: bytes) -> None:
    """Replace the pickled facts of one file, sealed with this user's key (as only its owner could)."""
    fingerprint = cache.parser_fingerprint()
    entries = cache._read_file(cache_file(root), fingerprint, cache.machine_key())
    src = next(s for s in audit(root).files if s.path == path)
    key = cache.file_key(fingerprint, src)
    assert key in entries
    entries[key] = (entries[key][0], blob)
    payload = pickle.dumps((cache.FORMAT, fingerprint, entries))
    cache_file(root).write_bytes(cache.MAGIC + cache._seal(payload, cache.machine_key()) + payload)


class _Opens:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_tampered_entry_runs_no_code_and_is_parsed_again(plan, parsed, tmp_path):
    expected = answer(audit(plan, cache=True))
    marker = tmp_path / "the cache ran code"
    _rewrite_entry(plan, "gunicorn.conf.py", pickle.dumps(_Opens(str(marker))))
    parsed.clear()
    assert answer(audit(plan, cache=True)) == expected
    assert not marker.exists()
    assert parsed == ["gunicorn.conf.py"]


def test_an_entry_of_the_wrong_kind_is_a_miss(plan, parsed):
    expected = answer(audit(plan, cache=True))
    wrong = pickle.dumps(next(f for f in audit(plan).model.pm2_files.values()))  # valid facts, another kind
    _rewrite_entry(plan, "gunicorn.conf.py", wrong)
    parsed.clear()
    assert answer(audit(plan, cache=True)) == expected
    assert parsed == ["gunicorn.conf.py"]


def test_no_cache_neither_reads_nor_writes(plan):
    audit(plan, cache=False)
    assert not (plan / cache.CACHE_DIR).exists()
    # plant facts that differ from the file (a valid entry: no SC101 any more) ...
    honest = audit(plan, cache=True)
    fixed = plan / "fixed-conf.py"
    fixed.write_text((plan / "gunicorn.conf.py").read_text().replace("app:create_app()", "app:app"))
    from sc_audit.parsers import gunicorn_conf
    from sc_audit.source import SourceFile

    planted = gunicorn_conf.parse(SourceFile("gunicorn.conf.py", "gunicorn-config", fixed.read_text()))
    fixed.unlink()
    _rewrite_entry(plan, "gunicorn.conf.py", pickle.dumps(planted))
    assert "SC101" not in {f.rule for f in audit(plan, cache=True).findings}  # the cache is read ...
    stamp = cache_file(plan).stat().st_mtime_ns
    assert answer(audit(plan, cache=False)) == answer(honest)  # ... and --no-cache does not read it
    result = subprocess.run([sys.executable, "-m", "sc_audit", "check", str(plan), "--no-cache"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1 and "SC101" in result.stdout
    assert cache_file(plan).stat().st_mtime_ns == stamp  # nor writes it


def test_a_parser_change_invalidates_every_entry(plan, parsed, monkeypatch):
    audit(plan, cache=True)
    monkeypatch.setattr(cache, "parser_fingerprint", lambda: b"another parser version")
    parsed.clear()
    audit(plan, cache=True)
    assert sorted(parsed) == sorted(f.path for f in audit(plan).files)


def test_the_fingerprint_follows_parser_source_and_version(tmp_path, monkeypatch):
    package = tmp_path / "sc_audit"
    shutil.copytree(Path(cache.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__", "_rules"))
    monkeypatch.setattr(cache, "__file__", str(package / "cache.py"))
    first = cache.parser_fingerprint()
    assert cache.parser_fingerprint() == first
    nginx = package / "parsers" / "nginx.py"
    nginx.write_text(nginx.read_text() + "\n# a change\n")
    second = cache.parser_fingerprint()
    assert second != first
    monkeypatch.setattr(cache, "__version__", "99.0")
    assert cache.parser_fingerprint() != second


def test_an_unwritable_root_uses_the_user_cache_dir(plan, parsed, tmp_path, monkeypatch):
    (plan / cache.CACHE_DIR).write_text("not a directory")  # nothing can be made there
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    audit(plan, cache=True)
    parsed.clear()
    audit(plan, cache=True)
    assert parsed == []
    assert list((tmp_path / "user-cache" / "sc-audit").glob("*/tree.pickle"))


def test_auditing_one_file_keeps_the_tree_entries(plan, parsed):
    audit(plan, cache=True)
    audit(plan / "gunicorn.conf.py", cache=True)
    parsed.clear()
    audit(plan, cache=True)
    assert parsed == []


def test_parsing_in_worker_processes_gives_the_same_facts(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    shutil.copytree(SIGNALCRAFT / "plan", root / "a", ignore=shutil.ignore_patterns(cache.CACHE_DIR))
    shutil.copytree(SIGNALCRAFT / "fixed", root / "b", ignore=shutil.ignore_patterns(cache.CACHE_DIR))
    serial = audit(root)
    monkeypatch.setattr(api, "PARALLEL_MIN_PYTHON_FILES", 1)
    pools = []
    start = api._start_workers
    monkeypatch.setattr(api, "_start_workers", lambda files: pools.append(start(files)) or pools[-1])
    parallel = audit(root, cache=True)
    assert pools and pools[0] is not None  # the workers did run
    assert answer(parallel) == answer(serial)
    assert parallel.model.modules.keys() == serial.model.modules.keys()
    assert parallel.model.gunicorn_configs == serial.model.gunicorn_configs


def test_a_warm_cli_run_does_not_import_the_parsers(plan):
    def run():
        return subprocess.run([sys.executable, "-X", "importtime", "-m", "sc_audit", "check", str(plan)],
                              capture_output=True, text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})

    cold, warm = run(), run()
    assert cold.returncode == warm.returncode == 1
    assert cold.stdout == warm.stdout
    imported = {line.split("|")[-1].strip() for line in warm.stderr.splitlines() if line.startswith("import time:")}
    cold_imported = {line.split("|")[-1].strip() for line in cold.stderr.splitlines()}
    assert "sc_audit.parsers.python_app" in cold_imported and "libcst" not in cold_imported  # read with `ast`
    assert not {"libcst", "tree_sitter", "yaml"} & imported


def test_links_planted_in_the_tree_are_not_followed(plan, tmp_path, monkeypatch):
    expected = answer(audit(plan))
    (plan / cache.CACHE_DIR).mkdir()
    cache_file(plan).symlink_to("/dev/zero")  # read through, it would never end
    assert answer(audit(plan, cache=True)) == expected
    assert cache_file(plan).is_file() and not cache_file(plan).is_symlink()  # replaced, not written through

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.rmtree(plan / cache.CACHE_DIR)
    (plan / cache.CACHE_DIR).symlink_to(elsewhere)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    assert answer(audit(plan, cache=True)) == expected
    assert list(elsewhere.iterdir()) == []  # nothing written where the link leads
    assert list((tmp_path / "user-cache" / "sc-audit").glob("*/tree.pickle"))


def test_a_committed_cache_with_a_recomputed_checksum_is_not_trusted(plan, parsed):
    """Issue 13: a `.sc-audit-cache/tree.pickle` committed with crafted facts and the unkeyed
    checksum recomputed turned findings into "no issues found". Only this user's key seals."""
    expected = answer(audit(plan, cache=True))
    fingerprint = cache.parser_fingerprint()
    entries = cache._read_file(cache_file(plan), fingerprint, cache.machine_key())
    empty = {key: (lookups, pickle.dumps(None)) for key, (lookups, _) in entries.items()}
    payload = pickle.dumps((cache.FORMAT, fingerprint, empty))
    cache_file(plan).write_bytes(cache.MAGIC + cache._digest(payload) + payload)  # anyone can compute this
    parsed.clear()
    assert answer(audit(plan, cache=True)) == expected
    assert parsed  # parsed again: the forged file was not read


def test_a_cache_file_larger_than_facts_can_be_is_not_read(plan, monkeypatch):
    audit(plan, cache=True)
    with open(cache_file(plan), "r+b") as handle:  # sparse: 1 GiB of zeros at no disk cost
        handle.truncate(1 << 30)
    reads = []
    real = cache._read_regular_file
    monkeypatch.setattr(cache, "_read_regular_file", lambda path, limit=cache.MAX_CACHE_BYTES: reads.append(
        (path, limit)) or real(path, limit))
    audit(plan, cache=True)
    assert any(limit < (1 << 30) for path, limit in reads if path == cache_file(plan))
    assert cache_file(plan).stat().st_size < (1 << 20)  # refused unread, then written anew
