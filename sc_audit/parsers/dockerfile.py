"""A Dockerfile, read by BuildKit's own parser (the `dockerfile` package wraps
github.com/moby/buildkit/frontend/dockerfile/parser, compiled): the instructions Docker sees,
with continuations joined, exec form (JSON) told from shell form, flags and heredocs kept.
See docs/containers.md for why this parser and what was measured.
"""

from __future__ import annotations

from ..facts import DockerfileFacts, DockerInstruction, ParseError
from ..source import SourceFile
from ..span import Span

# BuildKit's dispatcher (frontend/dockerfile/instructions/parse.go) rejects any other word
KNOWN = frozenset({"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK", "LABEL",
                   "MAINTAINER", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"})
# BuildKit's parser is linear but slow on huge inputs (~25 µs a line); real Dockerfiles have
# tens to hundreds of lines. Past this the file is not read, and an SC001 says so.
MAX_LINES = 20_000


def parse(src: SourceFile) -> DockerfileFacts:
    facts = DockerfileFacts(path=src.path)
    if src.text.count("\n") > MAX_LINES:
        facts.errors.append(ParseError(f"more than {MAX_LINES} lines: this Dockerfile is not read", Span(src.path, 1)))
        return facts
    if "\0" in src.text:
        facts.errors.append(ParseError("a NUL character: docker build cannot read this file", Span(src.path, 1)))
        return facts
    import dockerfile

    try:
        commands = dockerfile.parse_string(src.text)
    except dockerfile.GoParseError as error:
        facts.errors.append(ParseError(f"docker build cannot parse this file: {str(error)[:200]}", Span(src.path, 1)))
        return facts
    for command in commands:
        name = command.cmd.upper()
        span = Span(src.path, command.start_line, 1, command.end_line)
        if name not in KNOWN:
            facts.errors.append(ParseError(f"unknown instruction `{name[:40]}`: docker build rejects it", span))
            continue
        heredocs = tuple((h.name, h.content) for h in command.heredocs)
        facts.instructions.append(DockerInstruction(name, tuple(command.value), bool(command.json),
                                                    tuple(command.flags), span, heredocs))
    return facts
