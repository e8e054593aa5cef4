"""The parse cache: the facts of files that have not changed, so that a warm run neither
parses them nor imports a parser (tree-sitter, PyYAML, crossplane).

An entry is found by a key that hashes everything its facts depend on: the parser
fingerprint (the package version, the source of the modules that make facts, the installed
parser libraries), the file's kind, path, encoding and text. No setting of `Config` changes
what a parser reads; one that ever does belongs in the key. An Nginx file's facts also depend
on the files its `include`s inline: its entry records each include lookup with the files it
found, and counts only while the same lookups find the same files.

Storage: one file per audited target (`tree.pickle` for a directory), written atomically,
holding only the entries of the last run (so it never grows stale). It lives in
`.sc-audit-cache/` under the audited root (with a `.gitignore` of `*`), or in the user cache
directory when the root is not writable; when neither is, there is no cache.

A cache file is data from the audited tree, so it is read like untrusted input. It is sealed
with a keyed hash (BLAKE2b with a 32-byte key made once per user, `key` in the user cache
directory, mode 0600): a cache committed to the repository by someone else cannot carry a valid
seal, whatever it holds (an unkeyed checksum anyone can recompute let crafted facts turn findings
into "no issues found"). No key to be had: no cache. A file larger than the facts of the audited
files could be is not read at all. Its unpickler builds nothing but the plain fact classes (no
other callable, so no code runs). Anything wrong - truncated, corrupt, old, foreign - is a miss.
"""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

try:  # the module behind hashlib.blake2b, without hashlib's OpenSSL load (~3 ms per run)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - an interpreter without it
    from hashlib import blake2b

from . import __version__
from . import source as kinds
from .source import SourceFile
from .userdir import KEY_BYTES, machine_key  # noqa: F401 - machine_key is this module's too
from .userdir import cache_base as _user_cache_base
from .userdir import read_regular_file as _read_regular_file

CACHE_DIR = ".sc-audit-cache"
FORMAT = 1  # the layout of the cache file; bump it when that changes
MAGIC = b"sc-audit-cache\n"
DIGEST_SIZE = 32

# Modules whose source shapes the facts: any change to them makes every entry stale.
FACT_MODULES = ("facts.py", "span.py", "source.py", "parsing.py")
PARSER_LIBRARIES = ("tree_sitter", "tree_sitter_bash", "tree_sitter_javascript", "crossplane", "yaml", "dockerfile")


def _digest(*parts: bytes) -> bytes:
    h = blake2b(digest_size=DIGEST_SIZE)
    for part in parts:
        h.update(part)
        h.update(b"\0")
    return h.digest()


def _seal(payload: bytes, key: bytes) -> bytes:
    """The keyed hash that makes a cache file this user's own."""
    h = blake2b(payload, digest_size=DIGEST_SIZE, key=key)
    return h.digest()


def parser_fingerprint() -> bytes:
    """What the parsers are: package version, their source, the parser libraries installed."""
    package = Path(__file__).parent
    parts = [f"{FORMAT}:{__version__}:{sys.version_info[:2]}".encode()]
    sources = [package / name for name in FACT_MODULES]
    sources += sorted((package / "parsers").glob("*.py"))
    for path in sources:
        try:
            parts.append(path.name.encode() + b":" + path.read_bytes())
        except OSError:
            parts.append(path.name.encode() + b":unreadable")
    parts.extend(_library_stamp(name) for name in PARSER_LIBRARIES)
    return _digest(*parts)


def _library_stamp(name: str) -> bytes:
    """The installed version of a parser library, by its files (found without importing it)."""
    from importlib.util import find_spec

    try:
        spec = find_spec(name)
        stat = os.stat(spec.origin) if spec and spec.origin else None
    except (ImportError, ValueError, OSError):
        stat = None
    if stat is None:
        return f"{name}:absent".encode()
    return f"{name}:{spec.origin}:{stat.st_size}:{stat.st_mtime_ns}".encode()


def file_key(fingerprint: bytes, src: SourceFile) -> bytes:
    return _digest(fingerprint, src.kind.encode(), src.path.encode("utf-8", "surrogatepass"),
                   src.encoding.encode(), src.text.encode("utf-8", "surrogatepass"))


def text_hash(text: str) -> bytes:
    return _digest(text.encode("utf-8", "surrogatepass"))


# --------------------------------------------------------------------------- reading untrusted pickles


def _allowed_classes() -> dict[tuple[str, str], type]:
    from . import facts, span

    allowed = {}
    for module in (facts, span):
        for name, value in vars(module).items():
            if isinstance(value, type) and value.__module__ == module.__name__:
                allowed[(module.__name__, name)] = value
    for value in (set, frozenset, complex):
        allowed[("builtins", value.__name__)] = value
    return allowed


class _FactsUnpickler(pickle.Unpickler):
    """Builds only fact classes and plain containers: a tampered file cannot run code."""

    allowed: dict[tuple[str, str], type] = {}

    def find_class(self, module: str, name: str):
        found = self.allowed.get((module, name))
        if found is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not a fact class")
        return found


def _loads(data: bytes):
    import io

    if not _FactsUnpickler.allowed:
        _FactsUnpickler.allowed = _allowed_classes()
    return _FactsUnpickler(io.BytesIO(data)).load()


def _expected_types() -> dict[str, tuple[type, ...]]:
    from . import facts

    return {
        kinds.PYTHON_APP: (facts.PythonModuleFacts,),
        kinds.GUNICORN_CONFIG: (facts.GunicornConfigFacts,),
        kinds.PM2: (facts.Pm2Facts,),
        kinds.NGINX: (facts.NginxFacts,),
        kinds.SHELL: (facts.ShellFacts,),
        kinds.WORKFLOW: (facts.WorkflowFacts,),
        kinds.SYSTEMD: (facts.SystemdUnitFacts,),
        kinds.PROCFILE: (facts.ProcfileFacts,),
        kinds.APPSPEC: (facts.AppspecFacts,),
        kinds.SUPERVISOR: (facts.SupervisorFacts,),
        kinds.DOCKERFILE: (facts.DockerfileFacts,),
        kinds.COMPOSE: (facts.ComposeFacts,),
        kinds.DOTFILE: (facts.DotFileFacts,),
    }


# --------------------------------------------------------------------------- the cache


class RecordingReader:
    """Wraps an Nginx include reader, remembering every lookup and what it found."""

    def __init__(self, read_include) -> None:
        self.read_include = read_include
        self.lookups: list[tuple[str, str, tuple[tuple[str, bytes], ...]]] = []

    def __call__(self, pattern: str, from_path: str) -> list[SourceFile]:
        found = self.read_include(pattern, from_path)
        self.lookups.append((pattern, from_path, _found_files(found)))
        return found


def _found_files(found: list[SourceFile]) -> tuple[tuple[str, bytes], ...]:
    return tuple((f.path, text_hash(f.text)) for f in found)


class ParseCache:
    """Facts by file key. `get` before parsing, `put` after, `save` at the end of the run."""

    def __init__(self, path: Path | None, fingerprint: bytes, key: bytes | None = None,
                 max_bytes: int = 0) -> None:
        self.path = path if key is not None else None  # no key, no cache
        self.fingerprint = fingerprint
        self.key = key
        self.entries: dict[bytes, tuple[tuple, bytes]] = {}  # key -> (include lookups, pickled facts)
        self.used: dict[bytes, tuple[tuple, bytes]] = {}
        self.changed = False
        self._types: dict[str, tuple[type, ...]] | None = None
        if self.path is not None:
            self.entries = _read_file(self.path, fingerprint, key, max_bytes or MAX_CACHE_BYTES)

    def get(self, src: SourceFile, read_include=None) -> object | None:
        """The cached facts of `src`, or None (a miss: parse it)."""
        key = file_key(self.fingerprint, src)
        entry = self.entries.get(key)
        if entry is None:
            return None
        lookups, blob = entry
        try:
            for pattern, from_path, files in lookups:
                if read_include is None or _found_files(read_include(pattern, from_path)) != files:
                    return None
            facts = _loads(blob)
        except Exception:  # a corrupt entry is a miss, never an error
            return None
        if self._types is None:
            self._types = _expected_types()
        if not isinstance(facts, self._types.get(src.kind, ())) or getattr(facts, "path", None) != src.path:
            return None
        self.used[key] = entry
        return facts

    def recorder(self, read_include) -> RecordingReader:
        """An include reader for a parse whose facts will be `put` with its `lookups`."""
        return RecordingReader(read_include)

    def put(self, src: SourceFile, facts: object, lookups: list | tuple = (), blob: bytes | None = None) -> None:
        """Remember freshly parsed facts (or `blob`, them pickled already). Pickled now, before
        the model builder touches them."""
        if blob is None:
            try:
                blob = pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL)
            except Exception:  # facts that cannot be stored are parsed again next time
                return
        self.used[file_key(self.fingerprint, src)] = (tuple(lookups), blob)
        self.changed = True

    def save(self) -> None:
        """Write this run's entries (only when something changed). Failing to write is not an error."""
        if self.path is None or (not self.changed and self.used.keys() == self.entries.keys()):
            return
        payload = pickle.dumps((FORMAT, self.fingerprint, self.used), protocol=pickle.HIGHEST_PROTOCOL)
        # a new file of a random name (O_EXCL: never through a link planted in the tree), then renamed;
        # as tempfile.mkstemp does, without importing tempfile (~3 ms of every run that writes)
        temporary = self.path.parent / f".tmp-{os.getpid()}-{os.urandom(8).hex()}"
        try:
            handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600)
        except OSError:
            return
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(MAGIC + _seal(payload, self.key) + payload)
            os.replace(temporary, self.path)
        except OSError:
            try:
                os.unlink(temporary)
            except OSError:
                pass


def _read_file(path: Path, fingerprint: bytes, key: bytes | None, max_bytes: int = 0) -> dict:
    """The entries of a cache file; {} when it is missing, unreadable, larger than `max_bytes`,
    corrupt, not sealed with this user's key, or of other parsers."""
    from .answers import compare_digest  # hmac's, without importing hashlib (OpenSSL)

    if key is None:
        return {}
    data = _read_regular_file(path, max_bytes or MAX_CACHE_BYTES)
    if data is None:
        return {}
    head = len(MAGIC) + DIGEST_SIZE
    if not data.startswith(MAGIC) or len(data) < head:
        return {}
    payload = data[head:]
    if not compare_digest(_seal(payload, key), data[len(MAGIC):head]):
        return {}
    try:
        # the outer layer holds only tuples, bytes and a dict: nothing to build
        fmt, stored_fingerprint, entries = _PlainUnpickler(payload).load()
    except Exception:
        return {}
    if fmt != FORMAT or stored_fingerprint != fingerprint or not isinstance(entries, dict):
        return {}
    valid = {}
    for key, entry in entries.items():
        if isinstance(key, bytes) and isinstance(entry, tuple) and len(entry) == 2 \
                and isinstance(entry[0], tuple) and isinstance(entry[1], bytes):
            valid[key] = entry
    return valid


MAX_CACHE_BYTES = 1 << 30
# What the facts of the audited files can take, at most: a cache file past it is never read
# (a 1 GiB file of zeros was read whole: 1-2 GB of memory).
CACHE_BYTES_PER_TEXT = 32
CACHE_BYTES_BASE = 16 << 20


def cache_limit(text_chars: int) -> int:
    return min(MAX_CACHE_BYTES, CACHE_BYTES_BASE + CACHE_BYTES_PER_TEXT * text_chars)


class _PlainUnpickler(pickle.Unpickler):
    def __init__(self, payload: bytes) -> None:
        import io

        super().__init__(io.BytesIO(payload))

    def find_class(self, module: str, name: str):
        raise pickle.UnpicklingError(f"{module}.{name}: the cache file holds plain data only")


# --------------------------------------------------------------------------- where it lives


def open_cache(root: Path, target: str = "tree", text_chars: int = 0) -> ParseCache:
    """The cache of an audit of `root`: of the whole tree (`target` "tree"), or of one file of it
    (`target` "file:NAME"), each in a file of its own. `text_chars`: the audited files' size, which
    bounds what their facts can take."""
    fingerprint = parser_fingerprint()
    key = machine_key()
    directory = _cache_dir(root) if key is not None else None
    name = "tree.pickle" if target == "tree" else f"file-{_digest(target.encode()).hex()[:16]}.pickle"
    return ParseCache(directory / name if directory is not None else None, fingerprint, key,
                      cache_limit(text_chars))


def _cache_dir(root: Path) -> Path | None:
    """`.sc-audit-cache/` under the root, else the user cache directory, else None (no cache)."""
    for directory in (root / CACHE_DIR, _user_cache_dir(root)):
        if directory is not None and _usable(directory):
            return directory
    return None


def _user_cache_dir(root: Path) -> Path | None:
    base = _user_cache_base()
    if not base:
        return None
    return Path(base) / "sc-audit" / _digest(str(root).encode("utf-8", "surrogatepass")).hex()[:24]


def _usable(directory: Path) -> bool:
    """The directory exists (made, with its .gitignore, if need be), is no link and can be written."""
    if directory.is_symlink():
        return False  # it could lead anywhere out of the tree
    if directory.is_dir():
        return os.access(directory, os.W_OK | os.X_OK)
    try:
        directory.mkdir(parents=True)
        (directory / ".gitignore").write_text("# made by sc-audit: its parse cache\n*\n", encoding="utf-8")
        (directory / "CACHEDIR.TAG").write_text(
            "Signature: 8a477f597d28d172789f06886806bc55\n# sc-audit's parse cache (bford.info/cachedir)\n",
            encoding="utf-8")
    except OSError:
        return False
    return True
