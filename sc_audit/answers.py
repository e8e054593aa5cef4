"""The whole-report cache: the answer of a `check` run given again, before anything heavy is
imported, when nothing it depends on has changed.

What an answer depends on, and how each part is checked:
- what the audit read: every directory listing, file read, path probe and resolved link, as
  recorded by fs.py during the run that made the answer. All of them are asked again and must
  get the same answers (file contents compared by hash) — so an edit to any file the audit read,
  an included Nginx file or a file outside discovery's list included, a new or removed file in a
  directory it listed, or a changed link is a miss. Nothing is trusted from stat times;
- the command line's words and the working directory (relative paths, the root found from it);
- sc-audit itself and what it runs on: the size and modification time of every file of the
  package and of its rule catalog, the interpreter, and the modification time of every
  directory on sys.path (installing or removing a library changes its site-packages);
- the environment that changes output (ENVIRONMENT), whether stdout and stderr are terminals,
  and their encodings.
The answer is the run's output (stdout and stderr, in order) and exit code. Only runs that end
with exit 0 or 1 are kept, and none whose inputs changed while it ran.

Answers live in the user cache directory (never in the audited tree), one file per key, at most
MAX_ANSWERS of them (the oldest are removed). Each is sealed with the user's key (userdir.py):
a file this user's sc-audit did not write is never believed. A file larger than MAX_BYTES is not
read.
"""

from __future__ import annotations

import marshal
import os
import sys

from . import fs, userdir

try:  # what hmac.compare_digest is, without hmac's hashlib (and OpenSSL) import
    from _operator import _compare_digest as compare_digest
except ImportError:  # pragma: no cover
    from hmac import compare_digest

FORMAT = 1  # bump when the layout of an answer or of its key changes
MAGIC = b"sc-audit-answer\n"
SEAL_BYTES = 32
MAX_ANSWERS = 64
MAX_BYTES = 64 * 1024 * 1024
# Environment variables that change what a run prints (report/text.py's colour decision).
ENVIRONMENT = ("FORCE_COLOR", "NO_COLOR", "TERM")


def _blake2b():
    try:
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover
        from hashlib import blake2b
    return blake2b


def _stamp_tree(directory: str, parts: list) -> None:
    """(path, size, mtime) of every file under `directory`, bytecode caches left out."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        parts.append((directory, "absent"))
        return
    for entry in entries:
        if entry.name == "__pycache__":
            continue
        if entry.is_dir(follow_symlinks=False):
            _stamp_tree(entry.path, parts)
        else:
            try:
                info = entry.stat()
            except OSError:
                continue
            parts.append((entry.path, info.st_size, info.st_mtime_ns))


def _sys_path_stamps() -> list:
    stamps = []
    for entry in sys.path:
        try:
            stamps.append((entry, os.stat(entry or ".").st_mtime_ns))
        except OSError:
            stamps.append((entry, None))
    return stamps


def _stream_stamp(stream) -> tuple:
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        terminal = None
    return (terminal, getattr(stream, "encoding", None), getattr(stream, "errors", None))


def key(words: list[str]) -> bytes:
    """Everything an answer depends on but the audited files (fs.py's record checks those)."""
    package = os.path.dirname(os.path.abspath(__file__))
    parts: list = [FORMAT, words, os.getcwd(), sys.executable, sys.version]
    _stamp_tree(package, parts)
    _stamp_tree(os.path.join(os.path.dirname(package), "rules"), parts)
    parts.append(_sys_path_stamps())
    parts.append([(name, os.environ.get(name)) for name in ENVIRONMENT])
    parts.append([_stream_stamp(sys.stdout), _stream_stamp(sys.stderr)])
    return _blake2b()(repr(parts).encode("utf-8", "surrogatepass"), digest_size=32).digest()


def _directory() -> str | None:
    base = userdir.cache_base()
    return os.path.join(base, "sc-audit", "answers") if base else None


def _seal(payload: bytes, secret: bytes) -> bytes:
    return _blake2b()(payload, digest_size=SEAL_BYTES, key=secret).digest()


def lookup(wanted: bytes) -> tuple[list, int] | None:
    """(output chunks, exit code) of an earlier run of the same `key` whose every read still gets
    the same answer; None for a miss (or anything wrong with the stored file)."""
    directory, secret = _directory(), userdir.machine_key()
    if directory is None or secret is None:
        return None
    data = userdir.read_regular_file(os.path.join(directory, wanted.hex()), MAX_BYTES)
    if data is None or not data.startswith(MAGIC) or len(data) < len(MAGIC) + SEAL_BYTES:
        return None
    payload = data[len(MAGIC) + SEAL_BYTES:]
    if not compare_digest(_seal(payload, secret), data[len(MAGIC):len(MAGIC) + SEAL_BYTES]):
        return None
    try:
        stored_key, record, chunks, code = marshal.loads(payload)  # sealed: written by this user's sc-audit
    except Exception:
        return None
    if stored_key != wanted or not isinstance(record, dict) or not fs.unchanged(record):
        return None
    return chunks, code


def replay(chunks: list, code: int) -> None:
    """Print an answer as the run that made it printed it, and leave with its exit code."""
    for stream in (sys.stdout, sys.stderr):
        try:  # as checking._output does: a character the stream cannot encode is degraded
            stream.reconfigure(errors="replace")
        except (AttributeError, ValueError):
            pass
    for name, text in chunks:
        (sys.stdout if name == "stdout" else sys.stderr).write(text)
    sys.stdout.flush()
    sys.exit(code)


class Tee:
    """A stream that writes through and keeps what was written, in order with its sibling."""

    def __init__(self, stream, name: str, chunks: list) -> None:
        self._stream, self._name, self._chunks = stream, name, chunks

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        self._chunks.append((self._name, text))
        return written

    def __getattr__(self, attribute):
        return getattr(self._stream, attribute)


def run_and_keep(wanted: bytes, run) -> None:
    """Call `run()` (which ends by raising checking.Exit) with its reads recorded and its output
    kept; store the answer under `wanted` (the `key` taken before the run: the run reconfigures
    stdout's error handling) when the run was complete and unchanged while it ran."""
    from .checking import Exit

    chunks: list = []
    real = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = Tee(real[0], "stdout", chunks), Tee(real[1], "stderr", chunks)
    try:
        with fs.recording() as record:
            run()
    except Exit as done:
        sys.stdout, sys.stderr = real
        if done.exit_code in (0, 1) and not fs.CHANGED_DURING_AUDIT[0]:
            _store(wanted, record, chunks, done.exit_code)
        raise
    finally:
        sys.stdout, sys.stderr = real


def _store(wanted: bytes, record: dict, chunks: list, code: int) -> None:
    directory, secret = _directory(), userdir.machine_key()
    if directory is None or secret is None:
        return
    try:
        payload = marshal.dumps((wanted, record, chunks, code))
    except ValueError:  # something unmarshallable: keep nothing
        return
    if len(payload) + len(MAGIC) + SEAL_BYTES > MAX_BYTES:
        return
    path = os.path.join(directory, wanted.hex())
    temporary = f"{path}.{os.getpid()}-{os.urandom(8).hex()}.tmp"
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(temporary, flags, 0o600), "wb") as stream:
            stream.write(MAGIC + _seal(payload, secret) + payload)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return
    _prune(directory)


def _prune(directory: str) -> None:
    """Keep the MAX_ANSWERS most recently written answers."""
    try:
        entries = [e for e in os.scandir(directory) if e.is_file(follow_symlinks=False)]
        if len(entries) <= MAX_ANSWERS:
            return
        entries.sort(key=lambda e: e.stat().st_mtime_ns)
        for entry in entries[:len(entries) - MAX_ANSWERS]:
            os.unlink(entry.path)
    except OSError:
        pass
