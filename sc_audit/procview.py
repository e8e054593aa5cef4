"""How Linux will show a process: its /proc/PID/cmdline and its 15-character name (comm).

A kill pattern is checked by matching it, with pkill's own rules, against these views.
Facts (checked live by tests/live/): a script run by path through its shebang shows as
`INTERPRETER SCRIPT ARGS` and is named after the script (`gunicorn`); `python3 -m gunicorn`
is named `python3`; with setproctitle installed, Gunicorn rewrites both, to
`gunicorn: master [PROC_NAME]` (name `gunicorn: maste`) and `gunicorn: worker [PROC_NAME]`.
Whether setproctitle is installed is unknown to a static reader, so each Gunicorn process
has both worlds; a kill must work in both.

Where a part of the command line is unknown (the directory PM2 resolves a script in, the
path a shell finds `gunicorn` on), it is filled with two different placeholders; a match
that differs between them depends on what we cannot know, and rules stay silent on it.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass

from . import commands as cmd
from . import ere

COMM_LENGTH = 15
PLACEHOLDERS = ("/srv/unknown-a", "/opt/elsewhere-b")  # two guesses for an unknown directory
# two guesses for a venv's shebang interpreter: `python3 -m venv` writes bin/python3, a venv made
# by `python -m venv` or pip's own launcher may name bin/python (seen live, tests/live)
SHEBANG_PYTHONS = ("python3", "python")
WORLDS = ("plain", "setproctitle")


@dataclass(frozen=True, slots=True)
class View:
    cmdline: str  # /proc/PID/cmdline with NULs shown as spaces
    comm: str  # /proc/PID/comm: the name, at most 15 characters
    role: str  # "main" (the process a manager starts; Gunicorn's master) or "worker"
    world: str  # "plain" | "setproctitle"
    guess: int  # which placeholder filled unknown directories (0 or 1)
    argv0: str = ""  # the first NUL-separated argument (a rewritten title is one argument)


def comm_of(path: str) -> str:
    return posixpath.basename(path)[:COMM_LENGTH]


def exec_views(argv: tuple[str, ...], cwd: str | None, guess: int) -> tuple[str, ...]:
    """The argv a process shows after exec: a script with a shebang gets its interpreter in front.

    `argv[0]` is the program as the manager passes it. A bare name is found on PATH (its
    directory unknown); a relative path stays relative in argv (execve keeps what it was
    given) but its shebang interpreter is absolute.
    """
    program = argv[0]
    name = posixpath.basename(program)
    if cmd.is_python(name) or name in ("node", "nodejs", "bash", "sh"):
        return argv
    # an entry point script (gunicorn, uvicorn, a venv bin/ file) runs through its shebang
    python = SHEBANG_PYTHONS[guess]
    if "/" in program:
        absolute = program if program.startswith("/") else posixpath.join(_dir(cwd, guess), program)
        interpreter = posixpath.join(posixpath.dirname(posixpath.normpath(absolute)), python)
        return (interpreter, program, *argv[1:])
    found = posixpath.join(PLACEHOLDERS[guess], "bin", program)
    return (posixpath.join(PLACEHOLDERS[guess], "bin", python), found, *argv[1:])


def _dir(cwd: str | None, guess: int) -> str:
    return cwd if cwd and cwd.startswith("/") else PLACEHOLDERS[guess]


def process_views(exec_argv_by_guess: list[tuple[str, ...]], comm_by_guess: list[str], gunicorn_title: str | None,
                  has_workers: bool) -> list[View]:
    """Views of one process in each world. `gunicorn_title` is the proc_name Gunicorn puts in brackets."""
    views: list[View] = []
    for guess, (argv, comm) in enumerate(zip(exec_argv_by_guess, comm_by_guess)):
        cmdline = " ".join(argv)
        first = argv[0] if argv else ""
        views.append(View(cmdline, comm[:COMM_LENGTH], "main", "plain", guess, first))
        if gunicorn_title is None:
            continue
        if has_workers:
            views.append(View(cmdline, comm[:COMM_LENGTH], "worker", "plain", guess, first))
        master = f"gunicorn: master [{gunicorn_title}]"
        worker = f"gunicorn: worker [{gunicorn_title}]"
        views.append(View(master, master[:COMM_LENGTH], "main", "setproctitle", guess, master))
        if has_workers:
            views.append(View(worker, worker[:COMM_LENGTH], "worker", "setproctitle", guess, worker))
    return views


# ---------------------------------------------------------------------------- pkill's matching

def compile_pattern(pattern: str, exact: bool = False, ignore_case: bool = False):
    """A procps pattern (POSIX extended regex, unanchored; -x anchors it) compiled for a
    linear-time engine (sc_audit/ere.py: a pattern from an audited file can never hang us).

    Returns None when the pattern is not a valid regex (pkill then fails with an error) or
    uses a construct we do not translate faithfully: either way the match is unknown.
    """
    try:
        return ere.compile_ere(pattern, exact, ignore_case)
    except (ere.Untranslatable, ere.Invalid):
        return None


def kill_matches(kill: cmd.KillCommand, view: View) -> bool | None:
    """Whether pkill/pgrep/killall would select a process shown as `view`. None: cannot tell."""
    if kill.tool == "ps":
        return ps_line_matches(kill, view)
    if kill.pattern is None:
        return None
    if kill.tool == "killall":
        return _killall_matches(kill.pattern, view)
    regex = compile_pattern(kill.pattern, kill.exact, kill.ignore_case)
    if regex is None:
        return None
    subject = view.cmdline if kill.full else view.comm
    return regex.search(subject) is not None


def _killall_matches(name: str, view: View) -> bool | None:
    """psmisc killall (killall.c): a NAME with `/` is compared with /proc/PID/exe, which we do
    not model; a name of a process whose comm fills all 15 characters is compared with the
    base name of its first argument; otherwise with comm, exactly."""
    if "/" in name:
        return None
    if len(view.comm) == COMM_LENGTH:
        return posixpath.basename(view.argv0) == name
    return view.comm == name


def pattern_matches_text(kill: cmd.KillCommand, text: str) -> bool:
    """Whether a -f pattern matches an arbitrary command line (a shell's own)."""
    if kill.tool == "ps":
        return ps_line_matches(kill, View(text, text[:COMM_LENGTH], "main", "plain", 0, text)) is True
    regex = compile_pattern(kill.pattern or "", kill.exact, kill.ignore_case)
    return regex is not None and regex.search(text) is not None


# ---------------------------------------------------------------------------- ps | grep

# What `ps` prints before the command column, for two made-up processes (user, PID, usage, TTY,
# state, times are not known statically): a grep must decide the same for every guess, else we
# cannot tell. `ps aux` and `ps -ef` (user first), `ps ax`/`-eo pid,args` (PID first).
PS_PREFIXES = {
    "user": ("root        1234  0.0  0.1 123456  7890 ?        Ss   10:00   0:01 ",
             "www-data   98765  1.2  3.4 654321 43210 pts/0    Sl+  Dec01  12:34 ",
             "ubuntu     98765   98700  2 Dec01 pts/0    00:12:34 "),
    "pid": ("   1234 ?        Ss     0:01 ", "  98765 pts/0    Sl+   12:34 "),
}


def ps_line_matches(kill: cmd.KillCommand, view: View) -> bool | None:
    """Whether `ps … | grep …` keeps the line of a process shown as `view` (every grep in turn,
    `-v` ones dropping what they match). procps-ng writes the whole command line into a pipe
    (no cut at the terminal width unless COLUMNS is set; tests/live). None: cannot tell."""
    text = view.cmdline if kill.ps_column == "args" else view.comm
    results = set()
    for prefix in PS_PREFIXES.get(kill.ps_format, ("",)):
        line = prefix + text
        kept: bool | None = True
        for grep in kill.filters:
            found = grep_selects(grep, line)
            if found is None:
                kept = None
                break
            if not found:
                kept = False
                break
        results.add(kept)
    return results.pop() if len(results) == 1 else None


def grep_selects(grep, line: str) -> bool | None:
    """Whether one grep keeps `line` (with -v: keeps it when the pattern does not match)."""
    regex = compile_pattern(grep_to_extended(grep.pattern, grep.flavor), grep.line, grep.ignore_case)
    if regex is None:
        return None
    matched = regex.search(line) is not None
    if grep.word and matched:
        return None  # -w: the match must stand between non-word characters; not modelled
    return matched != grep.invert


ERE_SPECIAL = set(".[]()*+?{}|^$\\")


def grep_to_extended(pattern: str, flavor: str) -> str:
    """A grep pattern as a POSIX extended regex (what compile_pattern reads).

    Basic (grep's default, GNU): `\\( \\) \\{ \\} \\| \\+ \\?` are the operators and the bare
    characters are literal; `\\<`/`\\>` word edges become `\\b`. Fixed (-F): every character literal.
    """
    if flavor == "fixed":
        return "".join("\\" + c if c in ERE_SPECIAL else c for c in pattern)
    if flavor != "basic":
        return pattern
    out = []
    i = 0
    in_bracket = False
    while i < len(pattern):
        c = pattern[i]
        if in_bracket:
            out.append(c)
            if c == "]" and not (out[-2:-1] == ["["] or out[-3:-1] == ["[", "^"]):
                in_bracket = False
            i += 1
            continue
        if c == "\\" and i + 1 < len(pattern):
            nxt = pattern[i + 1]
            if nxt in "(){}|+?":
                out.append(nxt)
            elif nxt in "<>":
                out.append("\\b")
            else:
                out.append(c + nxt)
            i += 2
            continue
        if c == "[":
            in_bracket = True
            out.append(c)
        elif c in "(){}|+?":
            out.append("\\" + c)
        elif c == "*" and (not out or out[-1] in ("^", "(")):
            out.append("\\*")  # a leading `*` is literal in a BRE
        else:
            out.append(c)
        i += 1
    return "".join(out)
