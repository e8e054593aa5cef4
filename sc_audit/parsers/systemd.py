"""systemd `*.service` units -> ExecStart commands, WorkingDirectory, Environment, User.

systemd does not run ExecStart through a shell: it splits the line into words itself
(quotes honoured, C escapes, `$VAR`/`${VAR}` and `%i` specifiers substituted at start).
Those words are read here; a `bash -c '…'` among them is parsed as shell.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..facts import ParseError, ShellCommand, ShellContext, SystemdUnitFacts
from ..source import SourceFile
from .pieces import PiecedText
from ..span import Located, Span
from . import shell

EXEC_PREFIXES = "-@+!:|"  # `-/bin/x`: ignore failure, `@`: argv[0] given, `+`/`!`: privileges
C_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "a": "\a", "b": "\b", "f": "\f", "v": "\v", "s": " "}


def parse(src: SourceFile) -> SystemdUnitFacts:
    facts = SystemdUnitFacts(path=src.path, name=src.path.rsplit("/", 1)[-1])
    try:
        _read(src, facts)
    except Exception as exc:  # noqa: BLE001 - a broken file is a finding, not a crash
        facts.errors.append(ParseError(f"cannot read unit: {type(exc).__name__}", Span(src.path, 1)))
    return facts


# --------------------------------------------------------------------------- lines


@dataclass
class _Logical(PiecedText):
    """A line after joining `\\`-continuations, with where each piece came from."""

    def span(self, path: str, start: int, end: int) -> Span:
        line, column = self.position(start)
        end_line, end_column = self.position(end)
        return Span(path, line, column, end_line, end_column)


def _logical_lines(text: str):
    """Yield _Logical lines; comments (also inside a continuation) are dropped."""
    current: _Logical | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        stripped = raw.strip()
        if current is not None and stripped.startswith(("#", ";")):
            continue  # systemd skips comment lines inside a continuation
        if current is None and (not stripped or stripped.startswith(("#", ";"))):
            continue
        indent = len(raw) - len(raw.lstrip())
        body = raw[indent:].rstrip()
        continued = body.endswith("\\")
        if continued:
            body = body[:-1]
        if current is None:
            current = _Logical("", [])
        elif current.text:
            current.text += " "  # the backslash-newline becomes a space
        current.pieces.append((len(current.text), number, indent + 1))
        current.text += body
        if not continued:
            yield current
            current = None
    if current is not None:
        yield current


# --------------------------------------------------------------------------- words


def split_words(text: str) -> list[tuple[str, bool, int, int]]:
    """systemd's word splitting: (value, dynamic, start, end offsets) per word.

    Quotes group, backslashes are C escapes, `$$`/`%%` are literal; `$VAR`, `${VAR}`,
    `%i` are substituted at start (dynamic). A template's `{{ … }}` stays one word.
    """
    words, i, n = [], 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        start, value, dynamic, quote = i, [], False, None
        while i < n and (quote or not text[i].isspace()):
            char = text[i]
            if quote and char == quote:
                quote = None
            elif not quote and char in "\"'":
                quote = char
            elif char == "\\" and i + 1 < n:
                i += 1
                value.append(C_ESCAPES.get(text[i], text[i]))
            elif char in "$%" and text[i + 1 : i + 2] == char:
                value.append(char)
                i += 1
            elif char == "$" or (char == "%" and text[i + 1 : i + 2].isalpha()):
                dynamic = True
                value.append(char)
            elif not quote and text.startswith("{{", i) and "}}" in text[i:]:
                close = text.index("}}", i) + 2
                value.append(text[i:close])
                dynamic, i = True, close - 1
            else:
                value.append(char)
            i += 1
        words.append(("".join(value), dynamic, start, i))
    return words


# --------------------------------------------------------------------------- directives


RECORDED_DIRECTIVES = frozenset({"RuntimeDirectory", "PrivateTmp", "Group", "ListenStream",
                                 "Requires", "Wants", "After", "BindsTo"})


def _read(src: SourceFile, facts: SystemdUnitFacts) -> None:
    section, malformed = None, []
    for logical in _logical_lines(src.text):
        text = logical.text
        if text.startswith("["):
            if not text.endswith("]"):
                facts.errors.append(ParseError(f"invalid section header: {text[:40]!r}", logical.span(src.path, 0, len(text))))
            section = text.strip("[]").strip()
            continue
        key, equals, value = text.partition("=")
        if not equals:
            malformed.append(logical)
            continue
        key = key.strip()
        value_start = len(text) - len(value.lstrip())
        value = value.strip()
        if key in RECORDED_DIRECTIVES and section in (None, "Unit", "Service", "Socket") and value:
            facts.directives[key] = Located(value, logical.span(src.path, value_start, value_start + len(value)))
        if section not in (None, "Service"):
            continue
        if key == "ExecStart":
            _exec_start(src.path, facts, logical, value, value_start)
        elif key == "WorkingDirectory" and value:
            skip = 1 if value.startswith("-") else 0  # `-`: a missing directory is ok
            span = logical.span(src.path, value_start + skip, value_start + len(value))
            facts.working_directory = Located(value[skip:], span)
        elif key == "User" and value:
            facts.user = Located(value, logical.span(src.path, value_start, value_start + len(value)))
        elif key == "EnvironmentFile" and value:
            skip = 1 if value.startswith("-") else 0  # `-`: a missing file is ok
            span = logical.span(src.path, value_start + skip, value_start + len(value))
            facts.environment_files.append(Located(value[skip:], span))
        elif key == "Type" and value:
            facts.service_type = value
        elif key == "Environment":
            _environment(src.path, facts, logical, value, value_start)
        elif section == "Service" and key not in ("ExecStart", "WorkingDirectory", "User", "EnvironmentFile", "Type"):
            if value:
                span = logical.span(src.path, value_start, value_start + len(value))
                facts.directives[key] = Located(value, span)
            else:
                facts.directives.pop(key, None)  # `Key=` resets it
    if malformed:  # one finding, not one per line of a pasted nginx block
        first = malformed[0]
        more = f" (and {len(malformed) - 1} more lines)" if len(malformed) > 1 else ""
        message = f"not `Key=Value`: {first.text[:40]!r}{more}"
        facts.errors.append(ParseError(message, first.span(src.path, 0, len(first.text))))


def _environment(path: str, facts: SystemdUnitFacts, logical: _Logical, value: str, offset: int) -> None:
    for word, _, start, end in split_words(value):
        name, equals, setting = word.partition("=")
        if equals and name:
            facts.environment[name] = Located(setting, logical.span(path, offset + start, offset + end))


def _exec_start(path: str, facts: SystemdUnitFacts, logical: _Logical, value: str, offset: int) -> None:
    if not value:
        facts.exec_start.clear()  # `ExecStart=` resets the list (drop-ins)
        return
    prefixes = len(value) - len(value.lstrip(EXEC_PREFIXES))
    words = split_words(value[prefixes:])
    if "@" in value[:prefixes] and len(words) >= 2:
        words = [words[0], *words[2:]]  # the second word is only argv[0]'s name
    if not words:
        return
    base = offset + prefixes
    span = logical.span(path, base + words[0][2], offset + len(value))
    context = ShellContext("systemd", None, logical.span(path, 0, len(logical.text)))
    argv = tuple(word[0] for word in words)
    facts.exec_start.append(ShellCommand(argv, tuple(word[1] for word in words), span, context))
    index = shell.shell_c_argument(argv)
    if index is not None:
        _shell_string(path, facts, logical, words[index], base, span)


def _shell_string(path, facts, logical, word, base, span) -> None:
    """`ExecStart=/bin/bash -c 'cd /app && exec gunicorn …'`: the string's commands."""
    text, _, start, _ = word
    quoted = logical.text[base + start : base + start + 1] in ("'", '"')
    line, column = logical.position(base + start + (1 if quoted else 0))
    cmdline = None if shell.is_simple_command(text) else text
    context = ShellContext("bash-c", cmdline, span)
    commands, errors = shell.parse_text(text, path, line, column, context)
    facts.exec_start += commands
    facts.errors += errors
