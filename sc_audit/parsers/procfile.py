"""Procfile (Heroku, foreman, honcho) -> the shell commands of each process type.

Each line is `type: command`; the runners start the command with `/bin/sh -c COMMAND`,
so its text is that shell's cmdline (unless it is one simple command, which sh execs).
"""

from __future__ import annotations

import re

from ..facts import ParseError, ProcfileFacts, ShellContext
from ..source import SourceFile
from ..span import Span
from . import shell

# the pattern foreman and honcho use; other lines are ignored by them
LINE = re.compile(r"^([A-Za-z0-9_-]+):[ \t]*(.*)$")


def parse(src: SourceFile) -> ProcfileFacts:
    facts = ProcfileFacts(path=src.path)
    malformed: list[tuple[str, Span]] = []
    try:
        for number, line in enumerate(src.text.split("\n"), start=1):
            _line(src.path, facts, number, line, malformed)
    except Exception as exc:  # noqa: BLE001 - a broken file is a finding, not a crash
        facts.errors.append(ParseError(f"cannot read Procfile: {type(exc).__name__}", Span(src.path, 1)))
    if malformed:  # one finding, not one per line of a file that is not a Procfile
        (text, span), more = malformed[0], len(malformed) - 1
        message = f"not a `name: command` line: {text[:40]!r}" + (f" (and {more} more lines)" if more else "")
        facts.errors.append(ParseError(message, span))
        facts.errors.sort(key=lambda error: (error.span.line, error.span.column))
    return facts


def _line(path: str, facts: ProcfileFacts, number: int, line: str, malformed: list) -> None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return
    whole_line = Span(path, number, 1, number, len(line) + 1)
    match = LINE.match(line)
    if match is None:
        malformed.append((stripped, whole_line))
        return
    name, command = match.group(1), match.group(2).rstrip()
    if not command:
        facts.errors.append(ParseError(f"process type {name!r} has no command", whole_line))
        return
    cmdline = None if shell.is_simple_command(command) else command
    context = ShellContext("procfile", cmdline, whole_line)
    commands, errors = shell.parse_text(command, path, number, match.start(2) + 1, context)
    facts.processes[name] = commands  # a repeated type replaces the earlier one, as in honcho
    facts.errors += errors
