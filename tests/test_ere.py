"""sc_audit/ere.py against glibc's own regcomp/regexec (what pgrep calls), and its time bound.

glibc is reached through ctypes with the flags procps uses (REG_EXTENDED | REG_NOSUB, plus
REG_ICASE for -i). Every pattern ere.py translates must agree with glibc on every subject;
a pattern glibc rejects must never be reported as matching. The live pgrep check of the same
table is tests/live/test_ere_pgrep.py.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import random
import subprocess
import sys

import pytest

from sc_audit import ere

REG_EXTENDED, REG_ICASE, REG_NOSUB = 1, 2, 8


def _libc():
    name = ctypes.util.find_library("c")
    if not name or not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(name)
    if not hasattr(libc, "gnu_get_libc_version"):
        return None
    return libc


LIBC = _libc()
needs_glibc = pytest.mark.skipif(LIBC is None, reason="needs glibc (procps's regex)")


def glibc_search(pattern: str, subject: str, ignore_case: bool = False) -> bool | None:
    """glibc's answer: True/False, None when regcomp rejects the pattern."""
    buf = ctypes.create_string_buffer(256)  # regex_t is 64 bytes on x86-64
    flags = REG_EXTENDED | REG_NOSUB | (REG_ICASE if ignore_case else 0)
    if LIBC.regcomp(buf, pattern.encode(), flags) != 0:
        return None
    try:
        return LIBC.regexec(buf, subject.encode(), 0, None, 0) == 0
    finally:
        LIBC.regfree(buf)


SUBJECTS = [
    "", "gunicorn", "gunicorn: master [app:app]", "/srv/app/venv/bin/python3 /srv/app/venv/bin/gunicorn app:app",
    "python3 -m gunicorn -b 127.0.0.1:8000 app:app", "node /srv/app/server.js", "a]b", "x\\d", "x-d", "ab{2}",
    "aaa!", "a*b", "a+b?", "GUNICORN", "Gunicorn", "tab\there", "(paren)", "a|b", "^caret$", "dots...",
    "digits 0123", "under_score", "word.boundary", "[bracket]", "ÿ non-ascii é",
]

PATTERNS = [
    "gunicorn", "^gunicorn", "gunicorn$", "app:app$", "python.*app", "gunicorn|node", "[[:alpha:]]+: master",
    r"gunicorn: master \[app:app\]", r"127\.0\.0\.1:", "[]a]", "[^]a]", "[a-]", "[]-a]", r"[\d]", r"x\\d",
    "[[:digit:]]{4}", "a{2}", "a{2,}", "a{1,2}!", "ab{2}", r"ab\{2\}", "(a|b)+", "(a|)", "()", "a||b", "|a",
    "[.]", "[*+?]", "a.b", "^$", "$^", "a^", "$a", "[^[:space:]]+", "[[:upper:]]", "[[:punct:]]", "[[:xdigit:]]+",
    "[[:cntrl:]]", "[[:print:]]", "[[:graph:]]", "[[:blank:]]", r"\w+", r"\W", r"\s", r"\S+", r"\bboundary",
    r"\Bound", "([^!]+)+!", "(a*)*b", "x*", "[a-c-e]", "[%--]", "[!-/]", "é", "[é]", "[^a-z]", "G.*N",
    "gunicorn(", "a{2,1}", "[b-a]", "[[:nope:]]", "[a", "a\\", "(a", "a)", "*a", "a**", "+a", "a{", "a{x}",
    "a{,2}", r"(a)\1", r"\n", r"\d", "[[=a=]]", "[[.a.]]", "(*a)", "a|*b", "^*", "a{1001}",
]


@needs_glibc
@pytest.mark.parametrize("ignore_case", [False, True])
def test_table_agrees_with_glibc(ignore_case):
    disagreements = []
    for pattern in PATTERNS:
        for subject in SUBJECTS:
            ours = ere.search(pattern, subject, ignore_case=ignore_case)
            theirs = glibc_search(pattern, subject, ignore_case)
            if ours is None:
                continue  # unknown: never a finding, whatever glibc says
            if ours != theirs:
                disagreements.append((pattern, subject, ours, theirs))
    assert not disagreements


def test_unknown_constructs_are_unknown():
    for pattern in (r"(a)\1", r"\d", "[[=a=]]", "[[.a.]]", "a**", "*a", "a{1001}", "a{x}", "a)"):
        assert ere.search(pattern, "a") is None, pattern


def test_invalid_patterns_are_unknown():
    for pattern in ("gunicorn(", "[a", "a\\", "a{2,1}", "[b-a]", "[[:nope:]]"):
        with pytest.raises(ere.Invalid):
            ere.translate(pattern)
        assert ere.search(pattern, "gunicorn(") is None


def test_exact_anchors_the_whole_subject():
    assert ere.search("gunicorn|node", "node", exact=True)
    assert not ere.search("gunicorn|node", "nodes", exact=True)
    assert not ere.search("a", "ab", exact=True)


@needs_glibc
def test_random_patterns_agree_with_glibc():
    """Small random EREs over a small alphabet: wherever ere.py answers, glibc answers the same."""
    rng = random.Random(13)
    atoms = ["a", "b", ".", "[ab]", "[^a]", "[[:alpha:]]", "\\.", "(a|b)", "()", "x"]
    ops = ["", "", "*", "+", "?", "{2}", "{1,2}"]
    subjects = ["", "a", "b", "ab", "ba", "aab", "x.", "abab", "bbbb", "a.b", "xyz"]
    disagreements = []
    for _ in range(1500):
        parts = []
        for _ in range(rng.randint(1, 4)):
            parts.append(rng.choice(atoms) + rng.choice(ops))
            if rng.random() < 0.15:
                parts.append("|")
        pattern = ("^" if rng.random() < 0.2 else "") + "".join(parts) + ("$" if rng.random() < 0.2 else "")
        for subject in subjects:
            ours = ere.search(pattern, subject)
            if ours is not None and ours != glibc_search(pattern, subject):
                disagreements.append((pattern, subject, ours))
    assert not disagreements[:10]


def test_nested_quantifiers_run_in_linear_time():
    """Issue 13: `pkill -f '([^!]+)+!'` hung the audit through Python's backtracking `re`.
    Run in a child with a generous 20 s guard (RE2 answers in milliseconds)."""
    code = ("from sc_audit import ere\n"
            "assert ere.search('([^!]+)+!', 'a' * 200000) is False\n"
            "assert ere.search('(a*)*b', 'a' * 200000) is False\n"
            "assert ere.search('(x+x+)+y', 'x' * 200000) is False\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=20)
