"""Run the right parser for each discovered file; never let a parser take the audit down."""

from __future__ import annotations

import glob
import posixpath
from pathlib import Path

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


MAX_INCLUDE_FILES = 200


def include_reader(root: Path, files_by_path: dict[str, SourceFile]):
    """An Nginx include resolver confined to the root.

    Nginx resolves a relative include against its prefix (/etc/nginx); in a repository
    the best guess is the including file's directory, then the root. Absolute paths,
    `..` escapes and symlinks out of the root are never read.
    """
    root = root.resolve()

    def read_include(pattern: str, from_path: str) -> list[SourceFile]:
        if pattern.startswith("/") or "$" in pattern:
            return []
        found: list[SourceFile] = []
        for base in (posixpath.dirname(from_path), ""):
            rel_pattern = posixpath.normpath(posixpath.join(base, pattern))
            if rel_pattern.startswith(".."):
                continue
            matches = sorted(glob.glob(str(root / rel_pattern)))[:MAX_INCLUDE_FILES]
            for match in matches:
                real = Path(match).resolve()
                if not real.is_relative_to(root) or not real.is_file():
                    continue
                rel = real.relative_to(root).as_posix()
                known = files_by_path.get(rel)
                if known is not None:
                    found.append(SourceFile(rel, kinds.NGINX, known.text, known.encoding))
                    continue
                try:
                    with open(real, "rb") as handle:  # a regular file (is_file above): never blocks
                        data = handle.read(MAX_FILE_BYTES + 1)
                except OSError:
                    continue
                if len(data) > MAX_FILE_BYTES or looks_binary(data):
                    continue
                text, encoding = decode(data)
                found.append(SourceFile(rel, kinds.NGINX, text, encoding))
            if found:
                return found
        return found

    return read_include
