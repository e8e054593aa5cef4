"""Every read the audit makes of the file system, in one place.

An audit is a function of what it reads: the directories it lists, the files it reads, the
paths it probes and resolves (and of the command line, configuration and version, which
answers.py keys on). Each function here is one kind of read. While `RECORD` is a dict, each
call also notes its question and its answer there, so that the whole-report cache can later
ask every question again (`unchanged`) and give the stored report only when every answer is
the same — which makes a stale answer impossible for any input that goes through this module.
tests/test_answers.py keeps the rest of the package from reading files any other way.

Answers are plain data (str, int, bytes, tuples) so that they can be stored with `marshal`;
file contents are noted by an unkeyed BLAKE2b hash (compared, never trusted: the stored
record is sealed by answers.py).
"""

from __future__ import annotations

import os
import stat as _stat

try:  # the module behind hashlib.blake2b, without hashlib's OpenSSL load
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter without it
    from hashlib import blake2b

# question (kind, path, argument) -> answer; None when nothing is being recorded
RECORD: dict | None = None
# set when one question got two answers in one audit (the tree changed under it): keep nothing
CHANGED_DURING_AUDIT = [False]


def _note(question: tuple, answer) -> None:
    if RECORD is None:
        return
    earlier = RECORD.setdefault(question, answer)
    if earlier != answer:
        CHANGED_DURING_AUDIT[0] = True


def _digest(data: bytes) -> bytes:
    return blake2b(data, digest_size=16).digest()


def _error(error: OSError) -> tuple:
    return ("error", error.errno or 0, type(error).__name__)


def _raise(answer: tuple, path) -> None:
    """Raise again the error an answer records (same errno, so the same message and class)."""
    if answer and answer[0] == "error":
        raise OSError(answer[1], os.strerror(answer[1]) if answer[1] else "unknown error", str(path))


# --------------------------------------------------------------------------- directories


class Entry:
    """A directory entry as listed: what it is, without following a symbolic link."""

    __slots__ = ("name", "path", "kind")

    def __init__(self, name: str, path: str, kind: str) -> None:
        self.name, self.path, self.kind = name, path, kind  # kind: d, f, l (link), o (other), ? (unknown)

    def is_symlink(self) -> bool:
        return self._known() == "l"

    def is_dir(self) -> bool:
        return self._known() == "d"

    def is_file(self) -> bool:
        return self._known() == "f"

    def _known(self) -> str:
        if self.kind == "?":
            raise OSError(0, "the entry could not be examined", self.path)
        return self.kind


def _entry_kind(entry: os.DirEntry) -> str:
    try:
        if entry.is_symlink():
            return "l"
        if entry.is_dir(follow_symlinks=False):
            return "d"
        return "f" if entry.is_file(follow_symlinks=False) else "o"
    except OSError:
        return "?"


CACHE_DIR = ".sc-audit-cache"  # sc-audit's own parse cache: never an input, and written by every run


def _ask_listdir(path: str) -> tuple:
    """The sorted (name, kind) entries of a directory, without a `.sc-audit-cache` directory: the
    walk and the include index never enter it, and leaving it out keeps the first run's record
    true for the second (the first run makes it)."""
    try:
        with os.scandir(path) as entries:
            return tuple(sorted((entry.name, kind) for entry in entries
                                if (kind := _entry_kind(entry)) != "d" or entry.name != CACHE_DIR))
    except OSError as error:
        return _error(error)


def _asked(question: str, path: os.PathLike | str) -> tuple[str, tuple]:
    """(path, answer) of a question answered as `unchanged` will ask it again (QUESTIONS), noted
    while recording; the error it records is raised."""
    path = os.fspath(path)
    answer = QUESTIONS[question](path, None)
    _note((question, path, None), answer)
    _raise(answer, path)
    return path, answer


def listdir(path: os.PathLike | str) -> list[Entry]:
    """The entries of a directory, sorted by name (os.scandir's errors are raised)."""
    path, answer = _asked("listdir", path)
    return [Entry(name, os.path.join(path, name), kind) for name, kind in answer]


# --------------------------------------------------------------------------- files


def _ask_read(path: str, limit: int) -> tuple:
    try:
        info = os.stat(path)
        if not _stat.S_ISREG(info.st_mode):
            return ("not-regular", b"")
        if info.st_size > limit:
            return ("too-large", b"")
        if info.st_size == 0:  # empty, or a pseudo-file (/proc/kmsg blocks a reader): never opened
            return ("ok", b"")
        with open(path, "rb") as handle:
            return ("ok", handle.read(limit + 1))
    except OSError as error:
        return _error(error)


def read_regular(path: os.PathLike | str, limit: int) -> tuple[str, bytes]:
    """("ok", bytes) of a regular file of at most `limit` bytes (read up to limit + 1: a file that
    grew is seen to be too large); ("not-regular", b"") for a FIFO or a device, which is never
    opened; ("too-large", b""); an OSError raised for anything else."""
    path = os.fspath(path)
    answer = _ask_read(path, limit)
    if answer[0] == "error":
        _note(("read", path, limit), answer)
        _raise(answer, path)
    _note(("read", path, limit), (answer[0], _digest(answer[1])))
    return answer


def _ask_kind(path: str) -> tuple:
    """What a path is, following links: d, f, o (other), "" (nothing there); or the error
    pathlib would raise (it answers False for ENOENT, ENOTDIR, EBADF and ELOOP)."""
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        if error.errno in (2, 20, 9, 40):  # ENOENT, ENOTDIR, EBADF, ELOOP
            return ("",)
        return _error(error)
    except ValueError:  # an embedded NUL: pathlib answers False
        return ("",)
    return ("d",) if _stat.S_ISDIR(mode) else ("f",) if _stat.S_ISREG(mode) else ("o",)


def kind(path: os.PathLike | str) -> str:
    """d, f, o (other) or "" (nothing there), following links."""
    return _asked("kind", path)[1][0]


def exists(path: os.PathLike | str) -> bool:
    """As Path.exists()."""
    return kind(path) != ""


def is_file(path: os.PathLike | str) -> bool:
    """As Path.is_file()."""
    return kind(path) == "f"


def is_dir(path: os.PathLike | str) -> bool:
    """As Path.is_dir()."""
    return kind(path) == "d"


def _ask_openable(path: str) -> tuple:
    try:
        with open(path, "rb"):
            return ("ok",)
    except OSError as error:
        return _error(error)


def check_readable(path: os.PathLike | str) -> None:
    """Open a regular file and close it: its PermissionError, if any, is raised."""
    if is_file(path):
        _asked("openable", path)


# --------------------------------------------------------------------------- paths


def _ask_realpath(path: str) -> tuple:
    try:
        return ("path", os.path.realpath(path))
    except OSError as error:  # pragma: no cover - realpath is not strict
        return _error(error)


def resolve(path: os.PathLike | str):
    """As Path.resolve(): absolute, with every symbolic link followed (depends on the links and on
    the working directory, which answers.py keys on)."""
    from pathlib import Path  # here: the report cache's check needs no pathlib

    return Path(_asked("realpath", path)[1][1])


# --------------------------------------------------------------------------- asking again

QUESTIONS = {"listdir": lambda path, _: _ask_listdir(path),
             "read": lambda path, limit: _answer_of_read(path, limit),
             "kind": lambda path, _: _ask_kind(path),
             "openable": lambda path, _: _ask_openable(path),
             "realpath": lambda path, _: _ask_realpath(path)}


def _answer_of_read(path: str, limit: int) -> tuple:
    answer = _ask_read(path, limit)
    return answer if answer[0] == "error" else (answer[0], _digest(answer[1]))


def unchanged(record: dict) -> bool:
    """Whether every question of a recorded audit still gets the same answer."""
    for (question, path, argument), answer in record.items():
        ask = QUESTIONS.get(question)
        if ask is None or ask(path, argument) != answer:
            return False
    return True


class recording:
    """`with fs.recording() as record:` notes every read made inside the block in `record`."""

    def __enter__(self) -> dict:
        global RECORD
        RECORD = {}
        CHANGED_DURING_AUDIT[0] = False
        return RECORD

    def __exit__(self, *exc) -> None:
        global RECORD
        RECORD = None
