"""POSIX extended regular expressions (what pgrep/pkill compile) matched in linear time.

procps compiles a pattern with glibc's `regcomp(REG_EXTENDED | REG_NOSUB [| REG_ICASE])` and
asks only whether it matches somewhere. glibc backtracks, and so did Python's `re`: a pattern
from an audited file such as `([^!]+)+!` could hang the audit. Here an ERE is translated, token
by token, into RE2 syntax (google-re2: linear time, no backtracking) and matched there.

Only what is translated faithfully is accepted; anything else raises `Untranslatable` and the
caller treats the match as unknown (never a guess): backreferences (`\\1`, not regular), GNU
escapes other than `\\w \\W \\s \\S \\b \\B`, equivalence classes and collating symbols
(`[[=a=]]`, `[[.a.]]`), intervals past RE2's limit of 1000, stacked repetitions (`a**`), a
repetition with nothing before it, an unmatched `)`, a `{` that is not an interval.
A pattern glibc rejects raises `Invalid` (pgrep then fails with an error). Both are checked
against glibc itself (tests/test_ere.py via ctypes) and against the real pgrep (tests/live).

Known difference kept on purpose: character classes are ASCII (RE2's `[[:alpha:]]`); in a
UTF-8 locale glibc's also take non-ASCII letters. Command lines we predict are ASCII.
"""

from __future__ import annotations

import functools

import re2

MAX_PATTERN = 4096  # longer patterns from audited files are not translated (unknown)
MAX_REPEAT = 1000  # RE2's limit for {m,n}
CLASSES = frozenset({"alpha", "digit", "alnum", "upper", "lower", "space", "blank", "punct", "xdigit",
                     "cntrl", "print", "graph"})
GNU_ESCAPES = {"w": r"\w", "W": r"\W", "s": r"\s", "S": r"\S", "b": r"\b", "B": r"\B"}
SPECIAL = frozenset(".[]()*+?{}|^$\\")


class Untranslatable(ValueError):
    """The pattern uses ERE/GNU syntax we do not translate faithfully: its match is unknown."""


class Invalid(ValueError):
    """glibc would reject the pattern (pgrep exits with an error)."""


def _literal(char: str) -> str:
    if char.isascii() and not char.isalnum() and char != "_":
        return "\\" + char if char.isprintable() and char != " " else f"\\x{ord(char):02x}"
    return char


def _bracket(pattern: str, i: int) -> tuple[str, int]:
    """Translate the bracket expression starting at pattern[i] == '['; returns (re2, next index)."""
    i += 1
    negate = i < len(pattern) and pattern[i] == "^"
    if negate:
        i += 1
    items: list[str] = []  # each a translated single item (char, range or class)
    first = True
    while True:
        if i >= len(pattern):
            raise Invalid("unterminated [")
        c = pattern[i]
        if c == "]" and not first:
            i += 1
            break
        first = False
        if c == "[" and i + 1 < len(pattern) and pattern[i + 1] in ":=.":
            kind = pattern[i + 1]
            end = pattern.find(kind + "]", i + 2)
            if end < 0:
                raise Invalid("unterminated [: [= or [.")
            name = pattern[i + 2:end]
            if kind != ":":
                raise Untranslatable("equivalence classes and collating symbols are not translated")
            if name not in CLASSES:
                raise Invalid(f"unknown character class {name!r}")
            items.append(f"[:{name}:]")
            i = end + 2
            continue
        # a range a-z (a '-' before ']' is a literal)
        if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            low, high = c, pattern[i + 2]
            if not (low.isascii() and low.isalnum() and high.isascii() and high.isalnum()):
                raise Untranslatable("a range between other than letters or digits")
            if ord(low) > ord(high):
                raise Invalid("invalid range end")
            items.append(f"{_literal(low)}-{_literal(high)}")
            i += 3
            if i + 1 < len(pattern) and pattern[i] == "-" and pattern[i + 1] != "]":
                raise Untranslatable("a range followed by -")
            continue
        items.append(_literal(c))
        i += 1
    return ("[^" if negate else "[") + "".join(items) + "]", i


def translate(pattern: str) -> str:
    """The RE2 pattern matching exactly where the POSIX ERE `pattern` matches (unanchored search)."""
    if len(pattern) > MAX_PATTERN:
        raise Untranslatable("pattern too long")
    out: list[str] = []
    depth = 0
    # what the previous token was: "start" (nothing to repeat), "atom", "repeat", "anchor"
    previous = "start"
    i = 0
    n = len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise Invalid("trailing backslash")
            nxt = pattern[i + 1]
            if nxt in SPECIAL:
                out.append("\\" + nxt)
                previous = "atom"
            elif nxt in GNU_ESCAPES:
                out.append(GNU_ESCAPES[nxt])
                previous = "anchor" if nxt in "bB" else "atom"
            else:
                raise Untranslatable(f"escape \\{nxt} is not translated")
            i += 2
            continue
        if c == "[":
            text, i = _bracket(pattern, i)
            out.append(text)
            previous = "atom"
            continue
        if c == "(":
            if i + 1 < n and pattern[i + 1] in "*+?{":
                raise Untranslatable("a repetition at the start of a group")
            out.append("(?:")
            depth += 1
            previous = "start"
            i += 1
            continue
        if c == ")":
            if depth == 0:
                raise Untranslatable("an unmatched )")
            depth -= 1
            out.append(")")
            previous = "atom"
            i += 1
            continue
        if c == "|":
            out.append("|")
            previous = "start"
            i += 1
            continue
        if c in "*+?":
            if previous != "atom":
                raise Untranslatable("a repetition of nothing or of a repetition")
            out.append(c)
            previous = "repeat"
            i += 1
            continue
        if c == "{":
            end = pattern.find("}", i)
            body = pattern[i + 1:end] if end > 0 else ""
            low, comma, high = body.partition(",")
            if end < 0 or not low.isdigit() or not (high.isdigit() or high == "") or not low.isascii() \
                    or not high.isascii():
                raise Untranslatable("a { that is not an interval")
            if previous != "atom":
                raise Untranslatable("an interval repeating nothing or a repetition")
            if int(low) > MAX_REPEAT or (high and int(high) > MAX_REPEAT):
                raise Untranslatable("interval past RE2's limit")
            if high and int(low) > int(high):
                raise Invalid("invalid interval")
            out.append("{" + low + comma + high + "}")
            previous = "repeat"
            i = end + 1
            continue
        if c in "^$":
            out.append(c)
            previous = "anchor"
            i += 1
            continue
        if c == ".":
            out.append(".")
        else:
            out.append(_literal(c))
        previous = "atom"
        i += 1
    if depth:
        raise Invalid("unmatched (")
    return "".join(out)


@functools.lru_cache(maxsize=4096)
def compile_ere(pattern: str, exact: bool = False, ignore_case: bool = False):
    """A compiled RE2 for a procps pattern (-x anchors the whole name/cmdline).

    Raises Untranslatable or Invalid (see the module docstring).
    """
    body = translate(pattern)
    body = f"(?s)^(?:{body})$" if exact else f"(?s){body}"
    options = re2.Options()
    options.log_errors = False
    options.case_sensitive = not ignore_case
    options.max_mem = 8 << 20
    try:
        return re2.compile(body, options)
    except re2.error as error:  # a translation RE2 still refuses (size limits): unknown
        raise Untranslatable(str(error)) from None


def search(pattern: str, subject: str, exact: bool = False, ignore_case: bool = False) -> bool | None:
    """Whether the ERE matches somewhere in `subject`; None when invalid or not translatable."""
    try:
        regex = compile_ere(pattern, exact, ignore_case)
    except (Untranslatable, Invalid):
        return None
    return regex.search(subject) is not None
