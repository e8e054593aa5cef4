"""Which repository an audit models, and which of its findings it reports.

The rules are cross-file (a Gunicorn config names a module, a deploy script kills what a unit
starts), so an audit always models the whole repository, found by walking up from the path given;
the paths given only choose what is *reported*. `sc-audit check deploy` is the full audit's
findings under deploy/, with the root's configuration and the root's cache.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from . import fs

CONFIG_FILES = ("sc-audit.toml", ".sc-audit.toml")
SC_AUDIT_TABLE = re.compile(r"""^\s*\[\s*tool\s*\.\s*["']?sc-audit["']?\s*[\].]""", re.MULTILINE)


class ScopeError(Exception):
    """A path that cannot be a filter of the repository (outside the root): a usage error."""


def find_root(start: Path) -> Path:
    """The repository `start` belongs to: the nearest directory, from `start` up, that holds a
    `.git`, an `sc-audit.toml`/`.sc-audit.toml`, or a pyproject.toml with a `[tool.sc-audit]`
    table; `start` itself (a file's directory) when none does.

    False-alarm risk: a repository nested in another without its own `.git` or configuration (a
    vendored copy, a test fixture) is modelled as part of the outer one; `--root` says otherwise."""
    start = fs.resolve(start)
    base = start if fs.is_dir(start) else start.parent
    for directory in (base, *base.parents):
        if _is_root(directory):
            return directory
    return base


def _is_root(directory: Path) -> bool:
    try:
        if fs.exists(directory / ".git") or any(fs.is_file(directory / name) for name in CONFIG_FILES):
            return True
        status, data = fs.read_regular(directory / "pyproject.toml", 1024 * 1024 - 1)
        if status == "ok":
            return bool(SC_AUDIT_TABLE.search(data.decode("utf-8", errors="replace")))
    except OSError:
        return False
    return False


@dataclass(frozen=True, slots=True)
class Filter:
    """The parts of a repository whose findings are reported: `("",)` is all of it; a directory
    is a prefix ("deploy/"), a file its exact path."""

    paths: tuple[str, ...] = ("",)

    @property
    def everything(self) -> bool:
        return "" in self.paths

    def covers(self, rel: str) -> bool:
        return self.everything or any(rel == p or (p.endswith("/") and rel.startswith(p)) for p in self.paths)


def relative_filter(root: Path, paths: list[Path]) -> Filter:
    """The filter of `paths` (as given, relative to the working directory) inside `root`."""
    root = fs.resolve(root)
    parts = []
    for path in paths:
        absolute = fs.resolve(path)
        try:
            rel = absolute.relative_to(root).as_posix()
        except ValueError:
            raise ScopeError(f"{path}: outside the repository root {root}; give --root, or audit it "
                             "on its own") from None
        if rel == ".":
            return Filter()
        parts.append(rel + "/" if fs.is_dir(absolute) else rel)
    return Filter(tuple(parts) or ("",))
