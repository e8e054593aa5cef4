"""The library entry point: `audit(path) -> Report`. The CLI is a thin layer over it."""

from __future__ import annotations

import posixpath
import sys
from dataclasses import dataclass, field
from pathlib import Path

from . import fs
from . import source as kinds
from .config import Config
from .discover import Discovery, Skipped, discover, read_limited
from .findings import SEVERITY_RANK, Finding
from .model import Deployment, build
from .budget import AuditBudget
from .parsing import failed_facts, include_reader, parse_file
from .scope import Filter, find_root, relative_filter
from .source import SourceFile, decode


@dataclass(slots=True)
class Report:
    root: Path
    findings: list[Finding]
    model: Deployment
    files: list[SourceFile]
    skipped: list[Skipped] = field(default_factory=list)
    internal_errors: list[tuple[str, str]] = field(default_factory=list)  # (path, error)
    truncated: bool = False
    config: Config = field(default_factory=Config)
    # what was not read, in words: a report with any is never clean (exit 1, said in every format)
    incomplete: list[str] = field(default_factory=list)
    # what is reported: the findings, files and skips under these paths (the model is always whole)
    scope: Filter = field(default_factory=Filter)
    fixed: int | None = None  # after `--fix`: how many findings the fixes removed

    @property
    def shown_files(self) -> list[SourceFile]:
        """The files read under the paths asked for (all of them without a filter)."""
        return [f for f in self.files if self.scope.covers(f.path)]

    @property
    def unreadable(self) -> int:
        """Files that could not be read at all, or only in part (SC001)."""
        return len({f.span.path for f in self.findings if f.rule == "SC001"} | {s.path for s in self.skipped})

    def counts(self) -> dict[str, int]:
        counts = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts

    def failed(self, fail_on: str) -> bool:
        """Findings at or above `fail_on`, or an incomplete audit (never a pass over the unread)."""
        threshold = SEVERITY_RANK[fail_on]
        return bool(self.incomplete) or any(SEVERITY_RANK[f.severity] >= threshold for f in self.findings)


def audit(path: str | Path, config: Config | None = None, cache: bool = False,
          only: list[str | Path] | None = None, replace: dict[str, str] | None = None) -> Report:
    """Audit the deployment repository at `path` (a directory), or the one file `path` names.

    A directory is the repository's root. A file is audited as part of its repository (found by
    walking up from it: see scope.find_root), and only its findings are reported. `only` (paths
    inside the root) limits the findings reported in the same way; the model is always the whole
    repository's. Without `config`, the settings come from the root's pyproject.toml / sc-audit.toml.
    Raises FileNotFoundError for a missing path, config.ConfigError for a bad config file and
    scope.ScopeError for an `only` path outside the root.
    `cache=True` reads and writes the parse cache (`.sc-audit-cache/` under the root, see
    cache.py), as the CLI does; the default neither reads nor writes it, so that a library call
    leaves the audited tree as it found it.
    `replace` maps root-relative paths to the text to audit in place of the file's (an editor's
    unsaved buffer, `sc-audit check - --stdin-filename PATH`).
    """
    root = Path(path)
    if not fs.exists(root):
        raise FileNotFoundError(f"{path}: no such file or directory")
    if not fs.is_dir(root) and not fs.is_file(root):  # a FIFO, a device: never opened, no tree walked
        return _not_a_file(root, config)
    if not fs.is_dir(root):
        fs.check_readable(root)  # the file given cannot be read: PermissionError, for the caller to say
        only = [*(only or ()), root]
        root = find_root(root)
    for wanted in only or ():
        if not fs.exists(wanted):
            raise FileNotFoundError(f"{wanted}: no such file or directory")
    scope = relative_filter(root, [Path(p) for p in only]) if only else Filter()
    if config is None:
        from .config import load

        config = load(root)
    found = discover(root, tuple(config.exclude), respect_gitignore=config.respect_gitignore)
    for rel, text in (replace or {}).items():
        _replace_file(found, rel, text)
    files_by_path = {f.path: f for f in found.files}
    read_include = include_reader(found.root, files_by_path)

    store = None
    if cache and found.files:  # nothing to parse, nothing to cache: no cache directory either
        from .cache import open_cache

        store = open_cache(found.root, "tree", sum(len(f.text) for f in found.files))
    facts_by_path: dict[str, object] = {}
    internal_errors: list[tuple[str, str]] = []
    budget = AuditBudget()
    _parse_all(found.files, read_include, store, facts_by_path, internal_errors, budget)
    extra = _referenced_files(found, facts_by_path)
    _parse_all(extra, read_include, store, facts_by_path, internal_errors, budget)
    found.files.extend(extra)
    _follow_route_modules(found, facts_by_path, read_include, store, internal_errors, budget)
    if store is not None:
        store.save()

    model = build(facts_by_path, found.all_paths)
    from .engine import run_checks

    findings = [f for f in run_checks(model, config, found) if scope.covers(f.span.path)]
    named_unreadable = [f"{Path(p).name}: not a regular file or a directory (a FIFO, a device): nothing was read"
                        for p in only or () if not fs.is_dir(p) and not fs.is_file(p)]
    return Report(root=found.root, findings=findings, model=model, files=found.files,
                  skipped=[s for s in found.skipped if scope.covers(s.path)],
                  internal_errors=[e for e in internal_errors if scope.covers(e[0])],
                  truncated=found.truncated, config=config, scope=scope, incomplete=named_unreadable + _incomplete(found, budget))


def _not_a_file(path: Path, config: Config | None) -> Report:
    """The path given is a FIFO or a device: nothing is read, and the report says so (exit 1)."""
    path = path.absolute()
    found = Discovery(root=fs.resolve(path.parent))
    reason = "not a regular file or a directory (a FIFO, a device)"
    found.skip(path.name, reason)
    return Report(root=found.root, findings=[], model=build({}, set()), files=[], skipped=found.skipped,
                  config=config or Config(), incomplete=[f"{path.name}: {reason}: nothing was read"])


def _incomplete(found: Discovery, budget: AuditBudget) -> list[str]:
    """What the audit could not read, beyond files named as deployment files (their SC001s):
    a walk stopped at its limit, a directory or file that could not be opened, the budget."""
    reasons = list(found.incomplete)
    for skipped in found.skipped:
        if skipped.reason.startswith(("unreadable", "not read")):
            path = skipped.path if len(skipped.path) <= 160 else f"{skipped.path[:80]}…{skipped.path[-60:]}"
            reasons.append(f"{path}: {skipped.reason}")
    return reasons + budget.reasons()



# A Python file takes ~1 ms to read with `ast` (it took ~10 ms with libcst), about what the other
# kinds take: the forked workers pay for their start only with many files. Measured on 2 cores
# (benchmarks/README.md): 40 files 2x slower in workers, 200 files 1.5x slower, 2000 files even.
PARALLEL_MIN_PYTHON_FILES = 500
PYTHON_KINDS = (kinds.PYTHON_APP, kinds.GUNICORN_CONFIG)


def _parse_all(files: list[SourceFile], read_include, store, facts_by_path: dict[str, object],
               internal_errors: list[tuple[str, str]], budget: AuditBudget) -> None:
    """Parse each file once: from the cache when it has not changed, else with its parser
    (Python files in worker processes when there are enough of them). Files past the audit's
    budget are not parsed: their facts are one error that says so (an SC001)."""
    results: dict[str, object] = {}
    misses = []
    for src in files:
        refused = budget.admit(src.path, len(src.text))
        if refused is not None:
            results[src.path] = failed_facts(src, refused)
            continue
        facts = store.get(src, read_include) if store is not None else None
        if facts is None:
            misses.append(src)
        else:
            results[src.path] = facts
    heavy = [src for src in misses if src.kind in PYTHON_KINDS]
    pending = _start_workers(heavy) if len(heavy) >= PARALLEL_MIN_PYTHON_FILES else None
    for src in misses:
        if pending is not None and src.kind in PYTHON_KINDS:
            continue
        recorder = store.recorder(read_include) if store is not None else read_include
        facts, error = parse_file(src, recorder)
        results[src.path] = facts
        if error:
            internal_errors.append((src.path, error))
        elif store is not None:
            store.put(src, facts, recorder.lookups)
    if pending is not None:
        for src, (facts, error, blob) in zip(heavy, _collect(pending)):
            results[src.path] = facts
            if error:
                internal_errors.append((src.path, error))
            elif store is not None:
                store.put(src, facts, blob=blob)
    for src in files:  # in discovery order, whatever finished first
        facts_by_path[src.path] = results[src.path]


def _start_workers(files: list[SourceFile]):
    """Parse `files` in a pool of forked processes; None when there is no second core, no fork,
    or other threads (forking a threaded process can deadlock it)."""
    import multiprocessing
    import os
    import threading

    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count() or 1
    if cpus < 2 or sys.platform != "linux" or threading.active_count() > 1 \
            or "fork" not in multiprocessing.get_all_start_methods():
        return None
    from concurrent.futures import ProcessPoolExecutor

    workers = min(cpus, 4)
    size = max(1, len(files) // (workers * 4))
    chunks = [files[i:i + size] for i in range(0, len(files), size)]
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"))
        return pool, [pool.submit(_parse_chunk, chunk) for chunk in chunks], files
    except OSError:  # no processes to be had: parse here
        return None


def _collect(pending) -> list[tuple[object, str | None, bytes | None]]:
    """(facts, error, pickled facts) of each file, in order."""
    import pickle

    pool, futures, files = pending
    results = []
    try:
        for future in futures:
            results.extend((pickle.loads(blob), error, blob) for blob, error in future.result())
    except Exception:  # a worker died (killed, out of memory): parse here what it had
        results = [(*parse_file(src), None) for src in files]
    finally:
        pool.shutdown(cancel_futures=True)
    return results


def _parse_chunk(files: list[SourceFile]) -> list[tuple[bytes, str | None]]:
    """In a worker: the facts come back pickled, as the parse cache stores them (pickled once)."""
    import pickle

    results = []
    for src in files:
        facts, error = parse_file(src)
        results.append((pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL), error))
    return results


def _replace_file(found: Discovery, rel: str, text: str) -> None:
    """Audit `text` as the file `rel` (read or not from disk), when its name or text is one sc-audit reads."""
    from .discover import kind_by_content, kind_by_name

    found.files = [f for f in found.files if f.path != rel]
    found.all_paths.add(rel)
    kind = kind_by_name(rel) or kind_by_content(rel, text)
    if kind is not None:
        found.files.append(SourceFile(rel, kind, text, "utf-8"))
        found.files.sort(key=lambda f: f.path)


def _referenced_files(found: Discovery, facts_by_path: dict[str, object]) -> list[SourceFile]:
    """Python files that a command names but discovery did not classify: `gunicorn -c conf/prod.py`
    makes conf/prod.py a Gunicorn config; `gunicorn web.server:api` makes web/server.py an app module."""
    from .commands import Launch, interpret
    from .model import module_file_candidates, pm2_argv

    wanted: dict[str, str] = {}
    for facts in facts_by_path.values():
        for command in _commands_of(facts):
            launch = interpret(command)
            if not isinstance(launch, Launch) or launch.gunicorn is None:
                continue
            if launch.gunicorn.config and not launch.gunicorn.config.startswith(("/", "python:")):
                wanted.setdefault(posixpath.normpath(launch.gunicorn.config), kinds.GUNICORN_CONFIG)
            elif launch.gunicorn.config and launch.gunicorn.config.startswith("/"):
                # `-c /srv/app/conf/prod.py`: read the repository files it may be (2+ trailing parts);
                # which one it is, if any, the install map decides (model/install.py)
                parts = [p for p in launch.gunicorn.config.split("/") if p]
                for start in range(1, len(parts) - 1):
                    wanted.setdefault("/".join(parts[start:]), kinds.GUNICORN_CONFIG)
            if launch.gunicorn.target:
                module = launch.gunicorn.target.split(":", 1)[0]
                for candidate in module_file_candidates("", module):
                    wanted.setdefault(candidate, kinds.PYTHON_APP)
        for app in getattr(facts, "apps", ()):
            if hasattr(app, "fields"):
                argv = pm2_argv(app)
                launch = interpret(argv) if argv else None
                if isinstance(launch, Launch) and launch.gunicorn and launch.gunicorn.config:
                    wanted.setdefault(posixpath.normpath(launch.gunicorn.config), kinds.GUNICORN_CONFIG)
    for facts in facts_by_path.values():
        value = getattr(facts, "settings", {}).get("wsgi_app") if hasattr(facts, "settings") else None
        if value is not None and isinstance(value.value, str):
            for candidate in module_file_candidates("", value.value.split(":", 1)[0]):
                wanted.setdefault(candidate, kinds.PYTHON_APP)
    extra = []
    for rel, kind in sorted(wanted.items()):
        if rel in facts_by_path or rel not in found.all_paths or not rel.endswith(".py"):
            continue
        data = read_limited(found.root, rel, found)  # never a FIFO (it would block), never 50 MB
        if data is None:
            continue
        text, encoding = decode(data)
        extra.append(SourceFile(rel, kind, text, encoding))
    return extra


ROUTE_FOLLOW_ROUNDS = 4  # router imported by a router imported by the app…
ROUTE_FOLLOW_MAX_FILES = 300


def _follow_route_modules(found: Discovery, facts_by_path: dict[str, object], read_include, store,
                          internal_errors: list[tuple[str, str]], budget: AuditBudget) -> None:
    """Read the Python modules the apps' routes lead to (routers imported from other modules,
    Django settings and URLconfs), a few rounds deep, bounded."""
    from .facts import PythonModuleFacts
    from .model.routes import modules_to_follow

    files_left = ROUTE_FOLLOW_MAX_FILES
    done: set[str] = set()
    for _ in range(ROUTE_FOLLOW_ROUNDS):
        modules = [f for p, f in facts_by_path.items() if isinstance(f, PythonModuleFacts) and p not in done]
        done.update(f.path for f in modules)
        extra = []
        for rel in modules_to_follow(modules, found.all_paths):
            if rel in facts_by_path or files_left <= 0:
                continue
            data = read_limited(found.root, rel, found)
            if data is None:
                continue
            files_left -= 1
            text, encoding = decode(data)
            extra.append(SourceFile(rel, kinds.PYTHON_APP, text, encoding))
        if not extra:
            return
        _parse_all(extra, read_include, store, facts_by_path, internal_errors, budget)
        found.files.extend(extra)


def _commands_of(facts: object):
    for command in getattr(facts, "commands", ()) or ():
        yield command.argv
    for command in getattr(facts, "exec_start", ()) or ():
        yield command.argv
    for commands in (getattr(facts, "processes", None) or {}).values():
        for command in commands:
            yield command.argv
