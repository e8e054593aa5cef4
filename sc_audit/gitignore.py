"""`.gitignore` files, as git reads them: generated or vendored deploy files are not audited.

Every `.gitignore` from the root down applies to the paths under its directory; a deeper one
wins over a shallower one, and within a file the last matching line wins. The syntax is git's
(gitignore(5)): `#` comments, `!` negation, a trailing `/` for directories only, a `/` at the start
or in the middle anchors the pattern to the file's directory, `*`, `?`, `[…]` and `**`. As in git,
a file under an ignored directory cannot be re-included (the directory is not walked).
`.git/info/exclude` and the global excludes file are not read: they are one user's, not the
repository's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_GITIGNORE_BYTES = 256 * 1024  # a hostile tree's 50 MB .gitignore is not read
MAX_PATTERNS = 10_000


@dataclass(frozen=True, slots=True)
class Pattern:
    base: str  # the directory of the .gitignore ("" at the root; else "dir/")
    regex: re.Pattern
    negated: bool
    directories_only: bool


def parse(text: str, base: str) -> list[Pattern]:
    patterns = []
    for line in text.splitlines()[:MAX_PATTERNS]:
        pattern = _compile(line, base)
        if pattern is not None:
            patterns.append(pattern)
    return patterns


def _compile(line: str, base: str) -> Pattern | None:
    if line.endswith("\r"):
        line = line[:-1]
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(line) > len(stripped):
        stripped += " "  # `\ ` keeps one trailing space
    line = stripped
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated:
        line = line[1:]
    elif line.startswith("\\!") or line.startswith("\\#"):
        line = line[1:]
    directories_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    body = _translate(line.lstrip("/"))
    prefix = "" if anchored else "(?:.*/)?"
    try:
        regex = re.compile(f"{prefix}{body}", re.DOTALL)
    except re.error:
        return None  # git ignores a line it cannot read; so do we
    return Pattern(base, regex, negated, directories_only)


def _translate(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i) and (i == 0 or pattern[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("/**", i) and i + 3 == len(pattern):
            out.append("/.*")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1:i + 2] in ("!", "^") else i + 1)
            if end == -1:
                out.append(re.escape("["))
                i += 1
                continue
            inner = pattern[i + 1:end]
            if inner.startswith("!"):
                inner = "^" + inner[1:]
            out.append("[" + inner.replace("\\", "\\\\") + "]")
            i = end + 1
        elif pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


@dataclass(slots=True)
class GitIgnore:
    """The patterns of the `.gitignore` files read so far, by the directory that holds each."""

    by_base: dict[str, list[Pattern]] = field(default_factory=dict)

    def read(self, rel_dir: str, text: str) -> None:
        """Add the `.gitignore` of `rel_dir` ("" for the root)."""
        base = f"{rel_dir}/" if rel_dir else ""
        patterns = parse(text, base)
        if patterns:
            self.by_base[base] = patterns

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """Whether git ignores `rel` (its parent directories are not ignored: they were walked)."""
        if not self.by_base:
            return False
        result = False
        bases = [""] + [rel[:i + 1] for i, ch in enumerate(rel) if ch == "/"]
        for base in bases:  # the root's file first: a deeper one has the last word
            for pattern in self.by_base.get(base, ()):
                if pattern.directories_only and not is_dir:
                    continue
                if pattern.regex.fullmatch(rel[len(base):]):
                    result = not pattern.negated
        return result
