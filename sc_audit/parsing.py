"""Run the right parser for each discovered file; never let a parser take the audit down."""

from __future__ import annotations

import fnmatch
import posixpath
from pathlib import Path

from . import fs
from . import source as kinds
from .discover import MAX_FILE_BYTES
from .facts import ParseError
from .source import SourceFile, decode, looks_binary
from .span import Span


def parse_file(src: SourceFile, read_include=None) -> tuple[object, str | None]:
    """(facts, internal error text or None). An internal error is kept as an SC001 too."""
    try:
        return _dispatch(src, read_include), None
    except RecursionError:
        return _failed(src, "too deeply nested to read"), "RecursionError"
    except Exception as error:  # a parser bug must cost one file, never the audit
        text = f"{type(error).__name__}: {error}"
        return _failed(src, f"internal error while reading this file ({text})"), text


def _dispatch(src: SourceFile, read_include):
    kind = src.kind
    if kind == kinds.PYTHON_APP:
        from .parsers import python_app
        return python_app.parse(src)
    if kind == kinds.GUNICORN_CONFIG:
        from .parsers import gunicorn_conf
        return gunicorn_conf.parse(src)
    if kind == kinds.PM2:
        from .parsers import pm2
        return pm2.parse(src)
    if kind == kinds.NGINX:
        from .parsers import nginx
        return nginx.parse(src, read_include=read_include)
    if kind == kinds.SHELL:
        from .parsers import shell
        return shell.parse(src)
    if kind == kinds.WORKFLOW:
        from .parsers import workflow
        return workflow.parse(src)
    if kind == kinds.SYSTEMD:
        from .parsers import systemd
        return systemd.parse(src)
    if kind == kinds.PROCFILE:
        from .parsers import procfile
        return procfile.parse(src)
    if kind == kinds.APPSPEC:
        from .parsers import appspec
        return appspec.parse(src)
    if kind == kinds.SUPERVISOR:
        from .parsers import supervisor
        return supervisor.parse(src)
    if kind == kinds.DOCKERFILE:
        from .parsers import dockerfile
        return dockerfile.parse(src)
    if kind == kinds.COMPOSE:
        from .parsers import compose
        return compose.parse(src)
    if kind == kinds.DOTFILE:
        from .parsers import dotfiles
        return dotfiles.parse(src)
    raise ValueError(f"no parser for kind {kind!r}")


class _Failed:
    """Facts of a file whose parser crashed: only the error."""

    def __init__(self, path: str, error: ParseError) -> None:
        self.path = path
        self.errors = [error]


def _failed(src: SourceFile, message: str) -> _Failed:
    return _Failed(src.path, ParseError(message, Span(src.path, 1, 1)))


failed_facts = _failed  # facts of a file that was not parsed (the audit's budget): the reason only


MAX_INCLUDE_FILES = 200  # files one include directive reads
MAX_INCLUDE_GLOBS = 2_000  # include globs (with * ? [) resolved in one audit, matching or not
MAX_GLOB_WORK = 1_000_000  # directory entries include globs may look at in one audit
MAX_INDEXED = 200_000  # entries of the tree index (as discovery's file limit)


class Included(list):
    """The files an include directive reads; `cut` says what was left unread, if anything."""

    cut: str | None = None


def _magic(segment: str) -> bool:
    return any(char in segment for char in "*?[")


class TreeIndex:
    """The root's directories, listed once (lazily, at the first include), for every glob.

    Globbing the tree again for each of 2,000 includes that match nothing took ~50 s; here a
    glob costs the entries of the directories its pattern reaches, counted against
    MAX_GLOB_WORK. Matches follow glob(3): `*` and `?` stay within one path segment and do not
    match a leading dot. Linked directories are not entered (no loops); linked files are listed.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self.dirs: dict[str, dict[str, bool]] | None = None  # dir -> {name: is_dir}, names sorted
        self.truncated = False

    def _build(self) -> dict[str, dict[str, bool]]:
        dirs: dict[str, dict[str, bool]] = {}
        stack, count = [""], 0
        while stack:
            rel = stack.pop()
            try:
                entries = fs.listdir(self.root / rel if rel else self.root)
            except OSError:
                continue
            listing: dict[str, bool] = {}
            for entry in entries:
                count += 1
                if count > MAX_INDEXED:
                    self.truncated = True
                    break
                try:
                    is_dir = entry.is_dir()
                except OSError:
                    continue
                listing[entry.name] = is_dir
                if is_dir:
                    stack.append(f"{rel}/{entry.name}" if rel else entry.name)
            dirs[rel] = listing
            if self.truncated:
                break
        return dirs

    def glob(self, pattern: str, budget: list[int]) -> list[str]:
        """Relative paths matching `pattern` (relative, normalised), sorted; spends `budget[0]`."""
        if self.dirs is None:
            self.dirs = self._build()
        current = [""]
        segments = pattern.split("/")
        for index, segment in enumerate(segments):
            last = index == len(segments) - 1
            following: list[str] = []
            for directory in current:
                listing = self.dirs.get(directory)
                if listing is None:
                    continue
                if not _magic(segment):
                    budget[0] -= 1
                    names = [segment] if segment in listing else []
                else:
                    budget[0] -= len(listing)
                    names = [name for name in listing if (segment.startswith(".") or not name.startswith("."))
                             and fnmatch.fnmatchcase(name, segment)]
                for name in names:
                    if last or listing[name]:
                        following.append(f"{directory}/{name}" if directory else name)
                if budget[0] < 0:
                    return sorted(following)
            current = following
        return sorted(current)


def include_reader(root: Path, files_by_path: dict[str, SourceFile]):
    """An Nginx include resolver confined to the root.

    Nginx resolves a relative include against its prefix (/etc/nginx); in a repository
    the best guess is the including file's directory, then the root. Absolute paths,
    `..` escapes and symlinks out of the root are never read. What a limit leaves unread
    is said (`Included.cut`), and the parser makes it an SC001.
    """
    root = fs.resolve(root)
    index = TreeIndex(root)
    work = [MAX_GLOB_WORK]
    directives = [0]

    def read_include(pattern: str, from_path: str) -> Included:
        found = Included()
        if pattern.startswith("/") or "$" in pattern:
            return found
        directives[0] += _magic(pattern)  # a literal path costs a lookup per segment (MAX_GLOB_WORK)
        if directives[0] > MAX_INCLUDE_GLOBS:
            found.cut = f"not read: more than {MAX_INCLUDE_GLOBS:,} include globs in the audit"
            return found
        for base in (posixpath.dirname(from_path), ""):
            rel_pattern = posixpath.normpath(posixpath.join(base, pattern))
            if rel_pattern.startswith("..") or rel_pattern == ".":
                continue
            matches = index.glob(rel_pattern, work)
            if work[0] < 0:
                found.cut = (f"not read in full: include globs looked at more than {MAX_GLOB_WORK:,} directory "
                             "entries in the audit")
            if index.truncated:
                found.cut = f"not read in full: the tree has more than {MAX_INDEXED:,} entries to look in"
            if len(matches) > MAX_INCLUDE_FILES:
                found.cut = (f"partly read: the include matches {len(matches):,} files; only the first "
                             f"{MAX_INCLUDE_FILES} were read (the rest from {matches[MAX_INCLUDE_FILES]} on were not)")
                matches = matches[:MAX_INCLUDE_FILES]
            for rel in matches:
                source = _included_file(root, rel, files_by_path)
                if source is not None:
                    found.append(source)
            if found or found.cut:
                return found
        return found

    return read_include


def _included_file(root: Path, rel: str, files_by_path: dict[str, SourceFile]) -> SourceFile | None:
    real = fs.resolve(root / rel)
    if not real.is_relative_to(root) or not fs.is_file(real):
        return None
    rel = real.relative_to(root).as_posix()
    known = files_by_path.get(rel)
    if known is not None:
        return SourceFile(rel, kinds.NGINX, known.text, known.encoding)
    try:
        status, data = fs.read_regular(real, MAX_FILE_BYTES)  # a FIFO or a device is never opened
    except OSError:
        return None
    if status != "ok" or len(data) > MAX_FILE_BYTES or looks_binary(data):
        return None
    text, encoding = decode(data)
    return SourceFile(rel, kinds.NGINX, text, encoding)
