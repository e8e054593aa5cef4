"""The library entry point: `audit(path) -> Report`. The CLI is a thin layer over it."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

from . import source as kinds
from .config import Config
from .discover import Discovery, Skipped, discover
from .findings import SEVERITY_RANK, Finding
from .model import Deployment, build
from .parsing import include_reader, parse_file
from .source import SourceFile, decode, looks_binary


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

    @property
    def unreadable(self) -> int:
        """Files that could not be read at all, or only in part (SC001)."""
        return len({f.span.path for f in self.findings if f.rule == "SC001"}) + len(self.skipped)

    def counts(self) -> dict[str, int]:
        counts = {"error": 0, "warning": 0, "info": 0}
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts

    def failed(self, fail_on: str) -> bool:
        threshold = SEVERITY_RANK[fail_on]
        return any(SEVERITY_RANK[f.severity] >= threshold for f in self.findings)


def audit(path: str | Path, config: Config | None = None, cache: bool = True) -> Report:
    """Audit the deployment repository at `path` (a directory, or a single file).

    Without `config`, the settings come from the root's pyproject.toml / sc-audit.toml.
    Raises FileNotFoundError for a missing path and config.ConfigError for a bad config file.
    `cache=False` neither reads nor writes the parse cache.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"{path}: no such file or directory")
    if config is None:
        from .config import load

        config = load(root)
    if root.is_file():
        found = _single_file(root)
        root = root.parent
    else:
        found = discover(root, tuple(config.exclude))
    files_by_path = {f.path: f for f in found.files}
    read_include = include_reader(found.root, files_by_path)

    facts_by_path: dict[str, object] = {}
    internal_errors: list[tuple[str, str]] = []
    for src in found.files:
        facts, error = parse_file(src, read_include)
        facts_by_path[src.path] = facts
        if error:
            internal_errors.append((src.path, error))
    for src in _referenced_files(found, facts_by_path):
        facts, error = parse_file(src, read_include)
        facts_by_path[src.path] = facts
        found.files.append(src)
        if error:
            internal_errors.append((src.path, error))

    model = build(facts_by_path, found.all_paths)
    from .engine import run_checks

    findings = run_checks(model, config, found)
    return Report(root=found.root, findings=findings, model=model, files=found.files,
                  skipped=found.skipped, internal_errors=internal_errors, truncated=found.truncated,
                  config=config)


def _single_file(path: Path) -> Discovery:
    from .discover import kind_by_content, kind_by_name

    root = path.parent.resolve()
    result = Discovery(root=root)
    rel = path.name
    result.all_paths.add(rel)
    data = path.read_bytes()
    if looks_binary(data):
        result.skipped.append(Skipped(rel, "binary"))
        return result
    text, encoding = decode(data)
    kind = kind_by_name(rel) or kind_by_content(rel, text)
    if kind is not None:
        result.files.append(SourceFile(rel, kind, text, encoding))
    return result


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
        try:
            data = (found.root / rel).read_bytes()
        except OSError:
            continue
        if looks_binary(data):
            continue
        text, encoding = decode(data)
        extra.append(SourceFile(rel, kind, text, encoding))
    return extra


def _commands_of(facts: object):
    for command in getattr(facts, "commands", ()) or ():
        yield command.argv
    for command in getattr(facts, "exec_start", ()) or ():
        yield command.argv
    for commands in (getattr(facts, "processes", None) or {}).values():
        for command in commands:
            yield command.argv
