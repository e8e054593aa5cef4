"""`.env` (the variables Compose interpolates) and `.dockerignore` (what a build context leaves out).

`.env` follows Compose's dotenv format (compose-go/dotenv): `KEY=VALUE`, optional `export `,
`#` comments, single quotes literal, double quotes with escapes, an unquoted value ends at ` #`.
"""

from __future__ import annotations

import posixpath
import re

from ..facts import DotFileFacts
from ..source import SourceFile
from ..span import Located, Span

LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s?(.*)$")
MAX_ENTRIES = 5000


def parse(src: SourceFile) -> DotFileFacts:
    facts = DotFileFacts(path=src.path)
    name = posixpath.basename(src.path)
    lines = src.text.split("\n")
    if name == ".dockerignore":
        facts.patterns = [line.strip() for line in lines[:MAX_ENTRIES] if line.strip() and not line.lstrip().startswith("#")]
        return facts
    for number, line in enumerate(lines[:MAX_ENTRIES], start=1):
        match = LINE.match(line)
        if match is None or line.lstrip().startswith("#"):
            continue
        facts.values[match.group(1)] = Located(_value(match.group(2)), Span(src.path, number, 1))
    return facts


def _value(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1]
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return raw[1:-1].replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
    return re.split(r"\s+#", raw, maxsplit=1)[0].strip()
