"""Read an nginx config (text in memory) into NginxFacts.

Tokens come from crossplane's lexer, fed with the in-memory text. The statement tree is
built here rather than by `crossplane.parse`, because that function reads files from
disk, recurses once per block level (a deeply nested input would hit Python's recursion
limit) and, without argument checks, silently accepts a `}` that ends a statement. The
tree builder below is iterative and reports the syntax errors nginx itself reports:
`unexpected "}"`, `unexpected ";"`, `unexpected "{"`, `unexpected end of file`.

Decisions:
- Time values are seconds: an int when whole, a float otherwise ("500ms" -> 0.5); never
  rounded, so a rule does not take 500 ms for a full second.
- Sizes are bytes ("10m" -> 10485760); "0" (no limit) -> 0.
- An `include` that re-enters a file of the current include chain is cut and reported
  as a ParseError: nginx has no cycle check and keeps re-opening the file until it
  runs out of file descriptors, so `nginx -t` rejects such a config.
- http-level and server-level settings stay at their level. Only nested locations get
  the settings of their enclosing locations merged in (the flat list of locations has
  no parent link, and nginx does inherit them).
- Only `proxy_pass` is recorded as a location's backend (not grpc_pass / uwsgi_pass /
  fastcgi_pass).
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from crossplane.lexer import _lex_file_object

from ..facts import NginxFacts, NginxLocation, NginxServer, NginxUpstream, ParseError
from ..source import SourceFile
from ..span import Located, Span, Unknown

ReadInclude = Callable[[str, str], list[SourceFile]]

MAX_BLOCK_DEPTH = 64  # nesting of blocks, across included files
MAX_INCLUDE_DEPTH = 20  # files in one include chain
MAX_INCLUDED_FILES = 500  # files inlined in all (files that include each other by globs)

TIMEOUTS = frozenset(
    f"{module}_{kind}_timeout"
    for module in ("proxy", "uwsgi", "fastcgi", "grpc", "scgi")
    for kind in ("read", "send", "connect")
)
BODY_SIZE = "client_max_body_size"


@dataclass(slots=True)
class Stmt:
    """One nginx statement. Comments are kept as statements named "#"."""

    name: str
    args: list[str]
    span: Span
    block: list[Stmt] | None = None


# --------------------------------------------------------------------------- public API


def parse(src: SourceFile, read_include: ReadInclude | None = None) -> NginxFacts:
    """Read one nginx file (inlining its includes when `read_include` is given)."""
    facts = NginxFacts(path=src.path)
    try:
        tree = _read_file(src, _Includes(facts, read_include), chain=(src.path,), depth=0)
        _Extractor(facts).main(tree)
        facts.errors[:] = dict.fromkeys(facts.errors)  # a snippet inlined twice errs once
    except Exception as exc:  # never raise on any input
        facts.errors.append(ParseError(f"could not read nginx config: {exc!r}", Span(src.path, 1)))
    return facts


def statements(src: SourceFile) -> list[Stmt]:
    """The statement tree of one file, comments kept as "#" statements, includes not read."""
    try:
        return _read_file(src, _Includes(NginxFacts(path=src.path), None), chain=(src.path,), depth=0)
    except Exception:
        return []


from .nginx_sniff import looks_like_nginx  # noqa: E402,F401  (discovery's sniff, kept importable here)


# --------------------------------------------------------------------------- statement tree


# A comment the lexer yields after the text; it never comes when the text ends inside a
# quoted string (crossplane's lexer then drops that string without a word).
_END_MARK = "#\0sc-audit:end-of-file"


def _tokens(text: str) -> Iterator[tuple[str, int, bool]]:
    return _lex_file_object(io.StringIO(f"{text}\n{_END_MARK}\n"))


@dataclass(slots=True)
class _Includes:
    facts: NginxFacts
    read: ReadInclude | None
    inlined: int = 0  # files inlined so far, counting repeats
    reported: set[Span] = field(default_factory=set)  # include directives with an error

    def files(self, pattern: str, from_path: str, span: Span) -> list[SourceFile]:
        if self.read is None or self.inlined > MAX_INCLUDED_FILES:
            return []
        try:
            found = self.read(pattern, from_path)
            found = [] if found is None else found  # an empty list may still say what it cut
        except Exception:
            return []
        cut = getattr(found, "cut", None)
        if isinstance(cut, str):  # the reader stopped at a limit: what it left unread is a finding
            self.report(f"include {pattern}: {cut}", span)
        return [file for file in found if isinstance(file, SourceFile)]

    def report(self, message: str, span: Span) -> None:
        """One error per include directive, however many chains run through it."""
        if span not in self.reported:
            self.reported.add(span)
            self.facts.errors.append(ParseError(message, span))


def _read_file(src: SourceFile, includes: _Includes, chain: tuple[str, ...], depth: int) -> list[Stmt]:
    builder = _TreeBuilder(src, includes, chain, depth)
    builder.feed(_tokens(src.text))
    if builder.error is not None:
        includes.facts.errors.append(_hint_template(builder.error, src.text))
    return builder.top


def _hint_template(error: ParseError, text: str) -> ParseError:
    if "{{" not in text:
        return error
    message = f"{error.message} (the file looks like a template: it holds '{{{{')"
    return ParseError(message, error.span)


@dataclass(slots=True)
class _TreeBuilder:
    """Builds the statement tree of one file from its tokens, without recursion."""

    src: SourceFile
    includes: _Includes
    chain: tuple[str, ...]
    base_depth: int
    top: list[Stmt] = field(default_factory=list)
    error: ParseError | None = None
    _open: list[Stmt] = field(default_factory=list)  # blocks not closed yet
    _words: list[tuple[str, int, bool]] = field(default_factory=list)
    _skipping: int = 0  # depth inside a block that is skipped
    _last_line: int = 1
    _columns: _Columns | None = None

    def __post_init__(self) -> None:
        self._columns = _Columns(self.src.text)

    def feed(self, tokens: Iterable[tuple[str, int, bool]]) -> None:
        ended = False
        for token, line, quoted in tokens:
            if token.endswith(_END_MARK) and not quoted:  # may end a word: `x \` at the end
                ended = True
                token = token.removesuffix(_END_MARK).rstrip()
                if not token:
                    continue
            self._last_line = line
            if quoted or token not in ("{", ";", "}"):
                self._word(token, line, quoted)
            elif token == ";":
                self._semicolon(line)
            elif token == "{":
                self._open_brace(line)
            else:
                self._close_brace(line)
        if not ended:
            self._fail("unexpected end of file: a quoted string is not closed", self.src.text.count("\n") + 1)
        self._end_of_file()

    # -- token handlers

    def _word(self, token: str, line: int, quoted: bool) -> None:
        if self._skipping:
            return
        if token.startswith("#") and not quoted:
            column = self._columns.find_comment(token, line)
            span = Span(self.src.path, line, column, line, column + len(token))
            self._current().append(Stmt("#", [token[1:]], span))
        else:
            self._words.append((token, line, quoted))

    def _semicolon(self, line: int) -> None:
        if self._skipping:
            return
        if not self._words:
            self._fail('unexpected ";"', line)
            return
        stmt = self._statement(line)
        if stmt.name == "include" and len(stmt.args) == 1:
            self._current().extend(self._include(stmt))
        else:
            self._current().append(stmt)

    def _open_brace(self, line: int) -> None:
        if self._skipping:
            self._skipping += 1
            return
        if not self._words:
            self._fail('unexpected "{"', line)
            self._skipping = 1
            return
        stmt = self._statement(line)
        if self.base_depth + len(self._open) >= MAX_BLOCK_DEPTH:
            self._fail(f"blocks nested deeper than {MAX_BLOCK_DEPTH} levels; skipped", line)
            self._skipping = 1
            return
        stmt.block = []
        self._current().append(stmt)
        self._open.append(stmt)

    def _close_brace(self, line: int) -> None:
        if self._skipping:
            self._skipping -= 1
            return
        if self._words:  # nginx: a statement must end with ";" before "}"
            word = self._words[0]
            self._fail(f'unexpected "}}" (missing ";" after "{word[0]}" on line {word[1]}?)', line)
            self._current().append(self._statement(line))
        if not self._open:
            self._fail('unexpected "}"', line)
            return
        self._open.pop()

    def _end_of_file(self) -> None:
        line = self._last_line
        if self._words:
            word = self._words[0]
            self._fail(
                f'unexpected end of file, expecting ";" or "}}" (after "{word[0]}" on line {word[1]})',
                line,
            )
            self._current().append(self._statement(line))
        if self._open or self._skipping:
            opened = self._open[-1].span.line if self._open else line
            self._fail(f'unexpected end of file, expecting "}}" (block opened on line {opened})', line)

    # -- helpers

    def _current(self) -> list[Stmt]:
        return self._open[-1].block if self._open else self.top

    def _statement(self, end_line: int) -> Stmt:
        words, self._words = self._words, []
        name, line, _ = words[0]
        args = [word for word, _, _ in words[1:]]
        if name == "if":
            args = _if_args(args)
        return Stmt(name, args, self._span(name, line, end_line))

    def _span(self, name: str, line: int, end_line: int) -> Span:
        column, end_column = self._columns.find(name, line, end_line)
        return Span(self.src.path, line, column, end_line, end_column)

    def _fail(self, message: str, line: int) -> None:
        if self.error is None:  # nginx stops at its first error; so do we
            self.error = ParseError(message, Span(self.src.path, line))

    def _include(self, stmt: Stmt) -> list[Stmt]:
        pattern = stmt.args[0]
        facts = self.includes.facts
        facts.includes.append(Located(pattern, stmt.span))
        inlined: list[Stmt] = []
        files = self.includes.files(pattern, self.src.path, stmt.span)
        if not files:
            # kept when a reader was given and found nothing: what it sets is unknown (the
            # extractor marks its level); `statements()` (no reader) leaves includes out
            return [stmt] if self.includes.read is not None else []
        for included in files:
            if included.path in self.chain:
                cycle = " -> ".join((*self.chain, included.path))
                self.includes.report(f"include cycle: {cycle}; nginx would recurse", stmt.span)
                continue
            if len(self.chain) >= MAX_INCLUDE_DEPTH:
                message = f"includes nested deeper than {MAX_INCLUDE_DEPTH} files; {included.path} not read"
                self.includes.report(message, stmt.span)
                continue
            self.includes.inlined += 1
            if self.includes.inlined > MAX_INCLUDED_FILES:
                message = f"more than {MAX_INCLUDED_FILES} included files; {included.path} not read"
                self.includes.report(message, stmt.span)
                break
            if included.path not in facts.included_paths:
                facts.included_paths.append(included.path)
            depth = self.base_depth + len(self._open)
            inlined.extend(_read_file(included, self.includes, (*self.chain, included.path), depth))
        return inlined


def _if_args(args: list[str]) -> list[str]:
    """`if ( $a = b )` -> ["$a", "=", "b"]: parentheses removed, as crossplane does."""
    if not (args and args[0].startswith("(") and args[-1].endswith(")")):
        return args
    args = list(args)
    args[0] = args[0][1:].lstrip()
    args[-1] = args[-1][:-1].rstrip()
    return args[int(not args[0]) : len(args) - int(not args[-1])]


_TERMINATOR = re.compile(r"[;{]")


class _Columns:
    """Finds the column of a directive in its line (the lexer gives only lines).

    Directives on one line are found left to right: a cursor per line moves past each
    statement found, so `location / { proxy_pass x; }` gets both columns right.
    """

    def __init__(self, text: str) -> None:
        self._lines = text.split("\n")
        self._cursor: dict[int, int] = {}

    def _text(self, line: int) -> str:
        return self._lines[line - 1] if 0 < line <= len(self._lines) else ""

    def find(self, name: str, line: int, end_line: int) -> tuple[int, int]:
        text = self._text(line)
        start = self._cursor.get(line, 0)
        match = re.compile(r"(?<![^\s;{}])" + re.escape(name) + r"(?=[\s;{]|$)").search(text, start)
        if match is None:
            return 1, 0
        self._cursor[line] = match.end()
        return match.start() + 1, self._end_column(line, end_line, match.end())

    def find_comment(self, token: str, line: int) -> int:
        text = self._text(line)
        index = text.find(token, self._cursor.get(line, 0))
        if index < 0:
            return 1
        self._cursor[line] = len(text)
        return index + 1

    def _end_column(self, line: int, end_line: int, after: int) -> int:
        """Just past the statement's `;` or `{` when found, else the end of that line."""
        text = self._text(end_line)
        start = after if end_line == line else 0
        found = _TERMINATOR.search(text, start)
        if found is None:
            return len(text) + 1
        end = found.end()
        self._cursor[end_line] = max(self._cursor.get(end_line, 0), end)
        return end + 1


# --------------------------------------------------------------------------- facts


class _Extractor:
    """Walks the statement tree; depth is bounded by MAX_BLOCK_DEPTH."""

    def __init__(self, facts: NginxFacts) -> None:
        self.facts = facts

    def main(self, block: list[Stmt]) -> None:
        """Main or http context (a file of sites-enabled is read inside `http`)."""
        timeouts, body = self._settings(block)
        self.facts.timeouts.update(timeouts)
        self.facts.client_max_body_size = self.facts.client_max_body_size or body
        proxy, unread = _proxy_settings(block)
        self.facts.proxy_settings = {**proxy, **self.facts.proxy_settings}
        self.facts.unread_include = self.facts.unread_include or unread
        for stmt in block:
            if stmt.block is None:
                continue
            if stmt.name == "http":
                self.main(stmt.block)
            elif stmt.name == "server":
                self.facts.servers.append(self._server(stmt))
            elif stmt.name == "upstream" and stmt.args:
                self.facts.upstreams.append(self._upstream(stmt))
        # a snippet that holds only `location` blocks (meant to be included in a server)
        for stmt in _within_ifs(block, "location"):
            self.facts.locations.extend(self._locations(stmt, {}, None))

    def _server(self, stmt: Stmt) -> NginxServer:
        block = stmt.block or []
        timeouts, body = self._settings(block)
        listen = tuple(Located(" ".join(s.args), s.span) for s in block if s.name == "listen")
        names = tuple(name for s in block if s.name == "server_name" for name in s.args)
        locations: list[NginxLocation] = []
        for location in _within_ifs(block, "location"):
            locations.extend(self._locations(location, {}, None))
        proxy, unread = _proxy_settings(block)
        tls = any("ssl" in s.args[1:] for s in block if s.name == "listen") or \
            any(s.args == ["on"] for s in block if s.name == "ssl")
        return NginxServer(stmt.span, listen, names, tuple(locations), timeouts, body, proxy, unread, tls)

    def _locations(self, stmt: Stmt, timeouts: dict, body: Located | None,
                   proxy: dict | None = None, unread: bool = False) -> list[NginxLocation]:
        """This location and its nested ones (flattened; each keeps its own match)."""
        block = stmt.block or []
        own_timeouts, own_body = self._settings(block)
        timeouts = {**timeouts, **own_timeouts}
        body = own_body or body
        own_proxy, own_unread = _proxy_settings(block)
        proxy = {**(proxy or {}), **own_proxy}
        unread = unread or own_unread
        proxy_pass = _proxy_pass(block)
        match = " ".join(stmt.args)
        found = [NginxLocation(match, stmt.span, proxy_pass, timeouts, body, proxy, unread)]
        for nested in _within_ifs(block, "location"):
            found.extend(self._locations(nested, timeouts, body, proxy, unread))
        return found

    def _upstream(self, stmt: Stmt) -> NginxUpstream:
        block = stmt.block or []
        servers = tuple(Located(s.args[0], s.span) for s in block if s.name == "server" and s.args)
        keepalive = timeout = None
        for s in block:
            if s.name == "keepalive" and len(s.args) == 1 and keepalive is None:
                keepalive = Located(int(s.args[0]) if s.args[0].isdigit() else Unknown(s.args[0], s.span), s.span)
            elif s.name == "keepalive_timeout" and timeout is None:
                timeout = self._value(s, parse_time)
        return NginxUpstream(stmt.args[0], stmt.span, servers, keepalive, timeout)

    def _settings(self, block: list[Stmt]) -> tuple[dict[str, Located], Located | None]:
        """Timeouts and client_max_body_size set directly in this block."""
        timeouts: dict[str, Located] = {}
        body: Located | None = None
        for stmt in block:
            if stmt.block is not None:
                continue
            if stmt.name in TIMEOUTS:
                if stmt.name in timeouts:
                    self._duplicate(stmt)
                else:
                    timeouts[stmt.name] = self._value(stmt, parse_time)
            elif stmt.name == BODY_SIZE:
                if body is not None:
                    self._duplicate(stmt)
                else:
                    body = self._value(stmt, parse_size)
        return timeouts, body

    def _value(self, stmt: Stmt, convert: Callable[[str], int | float | None]) -> Located:
        text = " ".join(stmt.args)
        value = convert(text) if len(stmt.args) == 1 else None
        if value is not None:
            return Located(value, stmt.span)
        if "$" not in text:  # "${TIMEOUT}" is a template placeholder, not an error
            self.facts.errors.append(ParseError(f'invalid value "{text}" in "{stmt.name}" directive', stmt.span))
        return Located(Unknown(text, stmt.span), stmt.span)

    def _duplicate(self, stmt: Stmt) -> None:
        self.facts.errors.append(ParseError(f'"{stmt.name}" directive is duplicate', stmt.span))


def _proxy_pass(block: list[Stmt]) -> Located | None:
    """The location's own `proxy_pass`, else the first one inside its `if` blocks."""
    own = [stmt for stmt in block if stmt.name == "proxy_pass" and stmt.block is None]
    found = own or list(_within_ifs(block, "proxy_pass", blocks=False))
    if not found or not found[0].args:
        return None
    return Located(found[0].args[0], found[0].span)


PROXY_ARRAYS = frozenset({"proxy_set_header", "proxy_http_version"})
# Debian's and Ubuntu's /etc/nginx/proxy_params (package nginx-common), which sites include as
# `include proxy_params;`: known, so its headers are not unknown.
DEBIAN_PROXY_PARAMS = (("Host", "$http_host"), ("X-Real-IP", "$remote_addr"),
                       ("X-Forwarded-For", "$proxy_add_x_forwarded_for"), ("X-Forwarded-Proto", "$scheme"))


def _proxy_settings(block: list[Stmt]) -> tuple[dict[str, tuple[Located, ...]], bool]:
    """proxy_set_header / proxy_http_version set directly in this block (value: the argument
    tuple), and whether an `include` here could not be read (then they are unknown)."""
    found: dict[str, list[Located]] = {}
    unread = False
    for stmt in block:
        if stmt.block is not None:
            continue
        if stmt.name in PROXY_ARRAYS:
            found.setdefault(stmt.name, []).append(Located(tuple(stmt.args), stmt.span))
        elif stmt.name == "include" and stmt.args:
            if stmt.args[0] in ("proxy_params", "/etc/nginx/proxy_params"):
                found.setdefault("proxy_set_header", []).extend(
                    Located(pair, stmt.span) for pair in DEBIAN_PROXY_PARAMS)
            else:
                unread = True
    return {name: tuple(values) for name, values in found.items()}, unread


def _within_ifs(block: list[Stmt], name: str, blocks: bool = True) -> Iterator[Stmt]:
    """Statements called `name` in this block or inside its `if` blocks, in order."""
    for stmt in block:
        if stmt.name == name and (stmt.block is not None) == blocks:
            yield stmt
        elif stmt.name == "if" and stmt.block:
            yield from _within_ifs(stmt.block, name, blocks)


# --------------------------------------------------------------------------- values

_TIME_SCALE = {"y": 31536000, "M": 2592000, "w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_TIME_ORDER = list(_TIME_SCALE)
_TIME_PART = re.compile(r" *([0-9]+)(ms|[yMwdhms])? *")


def parse_time(text: str) -> int | float | None:
    """nginx time ("120", "120s", "2m", "1h", "1m30s", "500ms") in seconds; None if invalid.

    Units must come in decreasing order, each once; a bare number counts as seconds and
    may only come last.
    """
    position, rank, milliseconds = 0, -1, 0
    while position < len(text):
        match = _TIME_PART.match(text, position)
        if match is None or match.end() == position:
            return None
        unit = match.group(2) or "s"
        if match.group(2) is None and match.end() != len(text):
            return None
        if _TIME_ORDER.index(unit) <= rank:
            return None
        rank = _TIME_ORDER.index(unit)
        milliseconds += int(match.group(1)) * round(_TIME_SCALE[unit] * 1000)
        position = match.end()
    if rank < 0:
        return None
    seconds, rest = divmod(milliseconds, 1000)
    return seconds if rest == 0 else milliseconds / 1000


_SIZE = re.compile(r"([0-9]+)([kKmMgG]?)")
_SIZE_SCALE = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(text: str) -> int | None:
    """nginx size ("10m", "1g", "512k", "1024", "0") in bytes; None if invalid."""
    match = _SIZE.fullmatch(text)
    if match is None:
        return None
    return int(match.group(1)) * _SIZE_SCALE[match.group(2).lower()]
