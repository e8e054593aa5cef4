"""Kills written as pipelines, read into the KillCommand of the step that sends the signal.

- `ps aux | grep gunicorn | grep -v grep | awk '{print $2}' | xargs kill -9` and
  `kill $(ps -ef | grep '[g]unicorn' | awk '{print $2}')`: the greps select lines of `ps`'s output,
  which hold the user and numbers, then the whole command line (`ps aux`, `ps -ef`; not cut when
  ps writes into a pipe and COLUMNS is unset, procps-ng, proven in tests/live) or only the name
  (`ps -e`, `ps -A`, `-o comm`). procview.kill_matches matches them like grep.
- `kill -HUP $(cat /run/app/gunicorn.pid)`, `cat app.pid | xargs kill`: exactly the process that
  wrote the file (Gunicorn's `pidfile`); no pattern, so never SC501/SC502.

`pgrep … | xargs kill` and `kill $(pgrep …)` are read where they were (checks/kills.py): the
pgrep step is the KillCommand. Anything else in a chain (`sed`, `grep -c`, a variable in a
pattern) leaves the step unread, as before: an unread kill never fires a rule.
"""

from __future__ import annotations

import re
from dataclasses import replace

from .. import commands as cmd

# grep options understood; any other option (`-c`, `-o`, `-l`, `-m`, `-A` …) leaves the pipeline unread
GREP_LETTERS = set("viEFPwxGse")
# stages that only pick columns or fewer lines: they change which PID is printed, not which lines match
PASSING = ("awk", "cut", "tr", "head", "tail", "sort", "uniq")
SIGNAL_NUMBERS = {"1": "HUP", "2": "INT", "3": "QUIT", "9": "KILL", "15": "TERM", "10": "USR1", "12": "USR2"}
STOP_SIGNALS = frozenset({"TERM", "KILL", "INT", "QUIT"})
MAX_STAGES = 16  # a longer pipeline is not a kill we read (hostile input: no quadratic walk back)


def read_pipeline_kills(steps: list) -> list:
    """The steps with the signalling step of each ps or pidfile pipeline given its KillCommand."""
    steps = list(steps)
    for index, step in enumerate(steps):
        if step.meaning is not None:
            continue
        argv, _, _ = cmd.strip_wrappers(step.command.argv)
        if not argv:
            continue
        name = cmd.basename(argv[0])
        meaning = None
        if name == "xargs":
            chain = _chain_before(steps, index)
            if chain is not None:
                meaning = _kill_of_chain([s.command.argv for s in chain], argv)
        elif name == "kill" and step.command.substitutions:
            inner = _inner_steps(steps, index)
            if inner is not None:
                meaning = _kill_of_chain([s.command.argv for s in inner], argv)
        if meaning is not None:
            steps[index] = replace(step, meaning=meaning)
    return steps


def _chain_before(steps: list, index: int) -> list | None:
    """The commands that feed steps[index] through one pipeline, none of them with a variable."""
    chain = []
    i = index
    while i > 0 and len(chain) <= MAX_STAGES and steps[i - 1].command.pipe_to == steps[i].command.argv and \
            steps[i - 1].command.span.path == steps[i].command.span.path:
        chain.insert(0, steps[i - 1])
        i -= 1
    if not chain or len(chain) > MAX_STAGES or any(any(s.command.dynamic) for s in chain):
        return None
    return chain


def _inner_steps(steps: list, index: int) -> list | None:
    """The steps of `kill $(…)`'s substitution (they follow it), when they are one plain pipeline."""
    wanted = steps[index].command.substitutions
    if len(wanted) > MAX_STAGES:
        return None
    inner = steps[index + 1: index + 1 + len(wanted)]
    if [s.command.argv for s in inner] != list(wanted) or any(any(s.command.dynamic) for s in inner):
        return None
    for left, right in zip(inner, inner[1:]):
        if left.command.pipe_to != right.command.argv:
            return None
    return inner


def _kill_of_chain(chain: list[tuple[str, ...]], killer: tuple[str, ...]) -> cmd.KillCommand | None:
    """A KillCommand for `CHAIN | xargs kill` / `kill $(CHAIN)` (killer: the xargs or kill argv)."""
    signal = kill_signal(killer)
    if signal is False:
        return None
    first, _, _ = cmd.strip_wrappers(chain[0])
    if not first:
        return None
    if cmd.basename(first[0]) == "cat" and len(chain) == 1 and len(first) == 2 and not first[1].startswith("-"):
        return cmd.KillCommand("pidfile", None, pidfile=first[1], signal=signal)
    if cmd.basename(first[0]) != "ps":
        return None
    shape = ps_shape(first[1:])
    if shape is None:
        return None
    filters = []
    for stage in chain[1:]:
        argv, _, _ = cmd.strip_wrappers(stage)
        name = cmd.basename(argv[0]) if argv else ""
        if name in ("grep", "egrep", "fgrep"):
            grep = grep_filter(argv)
            if grep is None:
                return None
            filters.append(grep)
        elif name not in PASSING or (name == "awk" and not _prints_a_column(argv)):
            return None
    selecting = [f for f in filters if not f.invert]
    if not selecting:
        return None  # every process but some: not a kill aimed at a service
    return cmd.KillCommand("ps", selecting[0].pattern, full=shape[1] == "args", ignore_case=selecting[0].ignore_case,
                           filters=tuple(filters), ps_format=shape[0], ps_column=shape[1], signal=signal)


def kill_signal(argv: tuple[str, ...]) -> str | None | bool:
    """The signal of `kill [-SIG | -s SIG | -n N]` or `xargs [opts] [sudo] kill …` ("TERM" by default);
    False when argv sends no kill at all (xargs running something else)."""
    argv = list(argv)
    if argv and cmd.basename(argv[0]) == "xargs":
        i = 1
        while i < len(argv) and argv[i].startswith("-"):
            i += 2 if argv[i] in ("-I", "-n", "-P", "-L", "-d", "-s", "-E", "-a") else 1
        argv, _, _ = cmd.strip_wrappers(tuple(argv[i:]))
        argv = list(argv)
    if not argv or cmd.basename(argv[0]) != "kill":
        return False
    for i, word in enumerate(argv[1:], start=1):
        if word in ("-s", "-n", "--signal") and i + 1 < len(argv):
            return _signal_name(argv[i + 1])
        if word.startswith("-") and len(word) > 1 and word != "--":
            return _signal_name(word[1:])
        if not word.startswith("-"):
            break
    return "TERM"


def _signal_name(text: str) -> str | None:
    text = text.upper().removeprefix("SIG")
    if text.isdigit():
        return SIGNAL_NUMBERS.get(text)
    return text if re.fullmatch(r"[A-Z0-9]+", text) else None


def ps_shape(args: tuple[str, ...]) -> tuple[str, str] | None:
    """(prefix, column) of what `ps ARGS` prints on each line: ("user"|"pid", "args"|"comm").
    None for a format we do not read (`-C name`, `-p PID`, an `-o` list without a command column)."""
    words = list(args)
    if any(w in ("-C", "-p", "--pid", "-u", "-U", "--ppid", "-t", "--sort") for w in words):
        return None
    fields: list[str] = []
    formatted = False
    i = 0
    while i < len(words):
        word = words[i]
        letters = word[1:] if word.startswith("-") and not word.startswith("--") else word
        value = None
        if word.startswith("--format"):
            value = word.split("=", 1)[1] if "=" in word else (words[i + 1] if i + 1 < len(words) else "")
            i += 0 if "=" in word else 1
        elif not word.startswith("--") and "o" in letters:
            rest = letters[letters.index("o") + 1:]
            value = rest or (words[i + 1] if i + 1 < len(words) else "")
            i += 0 if rest else 1
        if value is not None:
            formatted = True
            fields += [f.split("=", 1)[0] for f in re.split(r"[ ,]+", value) if f]
        i += 1
    if formatted:
        if not fields or fields[-1] not in ("args", "cmd", "command", "comm", "ucomm", "ucmd"):
            return None  # the command column must come last (ps pads the others, never cuts them)
        prefix = "user" if any(f in ("user", "uname", "euser", "ruser", "uid") for f in fields) else "pid"
        return prefix, "args" if fields[-1] in ("args", "cmd", "command") else "comm"
    letters = "".join(w.lstrip("-") for w in words)
    dashed = any(w.startswith("-") for w in words)
    bsd = any(not w.startswith("-") for w in words) or "-aux" in words  # procps reads `-aux` as `aux`
    if bsd and ("u" in letters or "a" in letters or "x" in letters):
        return ("user" if "u" in letters else "pid"), "args"  # aux: USER PID … COMMAND; ax: PID TTY STAT TIME COMMAND
    if dashed and ("e" in letters or "A" in letters):
        return ("user", "args") if "f" in letters or "F" in letters else ("pid", "comm")
    return None


def _prints_a_column(argv: tuple[str, ...]) -> bool:
    """`awk '{print $2}'` (a column, no pattern of its own)."""
    program = next((w for w in argv[1:] if not w.startswith("-")), "")
    return re.fullmatch(r"\s*\{\s*print\s+\$\d+\s*;?\s*\}\s*", program) is not None


def grep_filter(argv: tuple[str, ...]) -> cmd.GrepFilter | None:
    """`grep [-viEFPwx] PATTERN` (or `-e PATTERN`, `egrep`, `fgrep`); None for anything else."""
    name = cmd.basename(argv[0])
    flavor = {"egrep": "extended", "fgrep": "fixed"}.get(name, "basic")
    flags: set[str] = set()
    pattern = None
    i = 1
    while i < len(argv):
        word = argv[i]
        if word == "--":
            if i + 1 < len(argv) and pattern is None:
                pattern = argv[i + 1]
            i += 2
            break
        if word in ("-e", "--regexp") and i + 1 < len(argv):
            if pattern is not None:
                return None  # several patterns
            pattern = argv[i + 1]
            i += 2
            continue
        if word.startswith("--"):
            long = {"--invert-match": "v", "--ignore-case": "i", "--extended-regexp": "E", "--fixed-strings": "F",
                    "--perl-regexp": "P", "--word-regexp": "w", "--line-regexp": "x", "--basic-regexp": "G",
                    "--no-messages": "s"}.get(word)
            if long is None:
                return None
            flags.add(long)
        elif word.startswith("-") and len(word) > 1:
            letters = set(word[1:])
            if not letters <= GREP_LETTERS:
                return None
            if "e" in letters:
                return None  # `-ve PATTERN` style: rare, left unread
            flags |= letters
        elif pattern is None:
            pattern = word
        else:
            return None  # a file operand: grep reads the file, not ps
        i += 1
    if pattern is None or i < len(argv):
        return None
    for letter, kind in (("E", "extended"), ("F", "fixed"), ("P", "perl"), ("G", "basic")):
        if letter in flags:
            flavor = kind
    return cmd.GrepFilter(pattern, flavor, "i" in flags, "v" in flags, "w" in flags, "x" in flags)


def stops_by_signal(signal: str | None) -> bool | None:
    """Whether a signal ends a server (Gunicorn: TERM/INT/QUIT shut down, KILL ends; HUP reloads,
    USR2 re-execs, TTIN/TTOU change the worker count, WINCH stops only the workers). None: unknown."""
    if signal is None:
        return None
    return signal in STOP_SIGNALS
