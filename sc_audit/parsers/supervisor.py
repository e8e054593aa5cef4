"""supervisord files -> `[program:x]` sections, `[group:x]`, `[include] files=`.

Read as supervisord reads them (supervisor/options.py, datatypes.py, process.py at commit
abc60468, Dec 2025):

- the file is Python's RawConfigParser with `inline_comment_prefixes=(';', '#')` and
  `strict=False`: a `;` or `#` after whitespace starts a comment, a line indented deeper than
  its option continues the value, `=` or `:` ends the option name, names are lower-cased,
  a section given twice is merged;
- option values are then `%`-formatted with supervisor's expansions: `here` (the file's folder
  on the host), `program_name`, `group_name`, `host_node_name`, `process_num`, `numprocs`, and
  `ENV_X` for the environment of supervisord, of `[supervisord] environment=` and of the
  program's own `environment=`. `%%` is a `%`;
- `environment=` is `KEY="val",KEY2=val` read with shlex (`datatypes.dict_of_key_value_pairs`);
- `command` is split with `shlex.split` and exec'd directly (no shell); `directory` is the
  child's working directory, unset = supervisord's own (unknown here);
- defaults: autostart true, autorestart unexpected, startsecs 1, startretries 3, stopsignal TERM,
  stopwaitsecs 10, stopasgroup false, killasgroup = stopasgroup, numprocs 1, numprocs_start 0,
  process_name `%(program_name)s`.

What the repository cannot say stays Unknown: `%(here)s` (where the file is installed),
`%(host_node_name)s`, and `%(ENV_X)s` for a variable no `environment=` of the file sets. A Jinja
or envsubst placeholder (`{{ x }}`, `${X}`) is Unknown too, and a Jinja control line
(`{% if %}`) is skipped, never an error: the file is a template, not what supervisord reads.
"""

from __future__ import annotations

import re
import shlex
import signal
from dataclasses import dataclass

from ..facts import ParseError, ShellCommand, ShellContext, SupervisorFacts, SupervisorProgram
from ..source import SourceFile
from .pieces import PiecedText
from ..span import Located, Span, Unknown
from . import shell
from .supervisor_sniff import SNIFF_BYTES, looks_like_supervisor  # noqa: F401 - discovery's sniff, here too

TRUTHY = ("yes", "true", "on", "1")  # supervisor/datatypes.py TRUTHY_STRINGS
FALSY = ("no", "false", "off", "0")
MAX_NUMPROCS = 32  # processes modelled per program (hostile input: numprocs=100000)


def parse(src: SourceFile) -> SupervisorFacts:
    facts = SupervisorFacts(path=src.path)
    try:
        sections = _read_sections(src, facts)
        _programs(src, facts, sections)
    except Exception as exc:  # noqa: BLE001 - a broken file is a finding, not a crash
        facts.errors.append(ParseError(f"cannot read supervisord file: {type(exc).__name__}", Span(src.path, 1)))
    return facts


# --------------------------------------------------------------------------- lines -> sections


@dataclass
class _Value(PiecedText):
    """An option's value: its text (continuation lines joined by newlines) and where each piece sits."""

    def span(self, path: str, start: int = 0, end: int | None = None) -> Span:
        end = len(self.text.rstrip()) if end is None else end
        line, column = self.position(start)
        end_line, end_column = self.position(max(start, end - 1))
        return Span(path, line, column, end_line, end_column + 1)


@dataclass
class _Section:
    name: str
    span: Span
    options: dict[str, _Value]
    option_spans: dict[str, Span]  # the whole `key = value` line


_SECTION = re.compile(r"\[(?P<header>.+)\]")
_OPTION = re.compile(r"(?P<option>.*?)\s*(?P<vi>[=:])\s*(?P<value>.*)$")


def _comment_start(line: str) -> int | None:
    """configparser: a full-line `#`/`;` comment, or an inline one preceded by whitespace."""
    if line.strip().startswith(("#", ";")):
        return 0
    match = re.search(r"(?:^|(?<=\s))[;#]", line)
    return match.start() if match else None


def _read_sections(src: SourceFile, facts: SupervisorFacts) -> dict[str, _Section]:
    sections: dict[str, _Section] = {}
    current: _Section | None = None
    option: str | None = None
    indent_level = 0
    bad: list[tuple[int, str]] = []
    for number, raw in enumerate(src.text.split("\n"), start=1):
        stripped_raw = raw.strip()
        if stripped_raw.startswith(("{%", "{#")) and stripped_raw.endswith(("%}", "#}")):
            continue  # a Jinja control line: the file is a template
        cut = _comment_start(raw)
        line = raw[:cut] if cut is not None else raw
        value = line.strip()
        if not value:
            if cut is None and current is not None and option is not None:
                current.options[option].text += "\n"  # configparser keeps empty lines inside values
            continue
        indent = len(line) - len(line.lstrip())
        if current is not None and option is not None and indent > indent_level:
            held = current.options[option]
            if held.text and not held.text.endswith("\n"):
                held.text += "\n"
            held.pieces.append((len(held.text), number, indent + 1))
            held.text += value
            continue
        indent_level = indent
        header = _SECTION.match(value)
        if header:
            name = header.group("header")
            span = Span(src.path, number, indent + 1, number, indent + 1 + len(value))
            current = sections.setdefault(name, _Section(name, span, {}, {}))  # strict=False: merged
            option = None
            continue
        match = _OPTION.match(value)
        if current is None or match is None or not match.group("option").strip():
            bad.append((number, value))
            option = None
            continue
        option = match.group("option").rstrip().lower()
        start = indent + match.start("value")
        current.options[option] = _Value(match.group("value").strip(), [(0, number, start + 1)])
        current.option_spans[option] = Span(src.path, number, indent + 1, number, indent + 1 + len(value))
    for held in (v for s in sections.values() for v in s.options.values()):
        held.text = held.text.rstrip()
    if bad:
        number, text = bad[0]
        more = f" (and {len(bad) - 1} more lines)" if len(bad) > 1 else ""
        where = "before any [section]" if not sections or number < min(s.span.line for s in sections.values()) \
            else "not `key = value`"
        facts.errors.append(ParseError(f"supervisord cannot read this file: {where}: {text[:40]!r}{more}",
                                       Span(src.path, number, 1, number, 1 + len(text))))
    return sections


# --------------------------------------------------------------------------- expansions


_EXPANSION = re.compile(r"%(?:%|\((?P<name>[^)]*)\)(?P<spec>[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa])|(?P<bad>.?))")


@dataclass(frozen=True)
class _Expanded:
    text: str  # unknown expansions written as `${NAME}`
    unknown: tuple[str, ...]  # names we could not expand
    error: str | None = None


def expand(text: str, known: dict[str, object], allowed_unknown) -> _Expanded:
    """`s % expansions` as supervisor's options.expand does it: known names substituted, names
    supervisord knows but we do not (`here`, `ENV_X` …) kept as `${NAME}` and listed, anything
    else an error (supervisord refuses the file: "cannot be expanded")."""
    unknown: list[str] = []
    out: list[str] = []
    position = 0
    for match in _EXPANSION.finditer(text):
        out.append(text[position:match.start()])
        position = match.end()
        if match.group(0) == "%%":
            out.append("%")
            continue
        if match.group("bad") is not None:
            return _Expanded(text, tuple(unknown), f"`{text[:60]}` is badly formatted for supervisord's "
                                                   f"`%` expansion (write `%%` for a `%`)")
        name, spec = match.group("name"), match.group("spec")
        if name in known:
            try:
                out.append(("%" + spec) % known[name])
            except (TypeError, ValueError):
                return _Expanded(text, tuple(unknown), f"`%({name}){spec}` cannot format {known[name]!r}")
        elif allowed_unknown(name):
            unknown.append(name)
            out.append("${" + name + "}")
        else:
            return _Expanded(text, tuple(unknown), f"`%({name})` cannot be expanded by supervisord (it knows "
                                                   "here, program_name, group_name, host_node_name, "
                                                   "process_num, numprocs and ENV_*)")
    out.append(text[position:])
    return _Expanded("".join(out), tuple(unknown))


def _placeholder(text: str) -> bool:
    """A template's placeholder: Jinja `{{ x }}`, envsubst `${X}`, Puppet `<%= x %>`."""
    return "{{" in text or "${" in text or "<%" in text


def environment_pairs(text: str) -> dict[str, str]:
    """supervisor/datatypes.py dict_of_key_value_pairs: `KEY="val",KEY2=val` with shlex."""
    lexer = shlex.shlex(text, posix=True)
    lexer.wordchars += "/.+-():"
    tokens = list(lexer)
    pairs: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        triple = tokens[i:i + 3]
        if len(triple) != 3 or triple[1] != "=":
            raise ValueError(f"Unexpected end of key/value pairs in value {text[:60]!r}")
        pairs[triple[0]] = triple[2]
        i += 4
    return pairs


# --------------------------------------------------------------------------- programs


def _programs(src: SourceFile, facts: SupervisorFacts, sections: dict[str, _Section]) -> None:
    error = _Errors(src.path, facts)
    global_env: dict[str, str] = {}
    main = sections.get("supervisord")
    if main is not None and "environment" in main.options:
        held = main.options["environment"]
        expanded = expand(held.text, {}, lambda name: name == "here" or name.startswith("ENV_") or
                          name == "host_node_name")
        if expanded.error is None and not expanded.unknown and not _placeholder(held.text):
            try:
                global_env = environment_pairs(expanded.text)
            except ValueError as exc:
                error(str(exc), held.span(src.path))
    include = sections.get("include")
    if include is not None:
        files = include.options.get("files")
        if files is None:
            error("[include] has no `files =`: supervisord refuses the file", include.span)
        else:
            for pattern in files.text.split():
                facts.includes.append(Located(pattern, files.span(src.path)))
    members: dict[str, str] = {}
    for name, section in sections.items():
        if name.startswith("group:"):
            group = name.split(":", 1)[1].strip()
            programs = section.options.get("programs")
            listed = tuple(p.strip() for p in programs.text.split(",") if p.strip()) if programs else ()
            facts.groups[group] = listed
            for program in listed:
                members.setdefault(program, group)
    for name, section in sections.items():
        if name.startswith("program:"):
            program = name.split(":", 1)[1].strip()
            facts.programs += _program(src, section, program, members.get(program, program), global_env, error)


class _Errors:
    def __init__(self, path: str, facts: SupervisorFacts) -> None:
        self.path, self.facts = path, facts

    def __call__(self, message: str, span: Span) -> None:
        self.facts.errors.append(ParseError(message, span))


def _allowed_unknown(name: str) -> bool:
    return name in ("here", "host_node_name") or name.startswith("ENV_")


def _program(src: SourceFile, section: _Section, name: str, group: str, global_env: dict[str, str],
             error) -> list[SupervisorProgram]:
    path = src.path
    options = section.options
    if any(c in name for c in " :/") and not _placeholder(name):
        error(f"invalid program name {name!r}: supervisord refuses ' ', ':' and '/'", section.span)
        return []
    known: dict[str, object] = {"program_name": name, "group_name": group,
                                **{f"ENV_{k}": v for k, v in global_env.items()}}

    def get(option: str, default: str, values: dict | None = None) -> Located:
        """The option's text expanded (Unknown when it holds what we cannot know), or the default."""
        held = options.get(option)
        if held is None:
            return Located(default, section.span)
        span = held.span(path)
        if _placeholder(held.text):
            return Located(Unknown(held.text, span), span)
        expanded = expand(held.text, values if values is not None else known, _allowed_unknown)
        if expanded.error is not None:
            error(f"`{option}`: {expanded.error}", span)
            return Located(Unknown(held.text, span), span)
        if expanded.unknown:
            return Located(Unknown(held.text, span), span)
        return Located(expanded.text, span)

    settings: dict[str, Located] = {}

    def typed(option: str, default: str, convert) -> None:
        located = get(option, default)
        if isinstance(located.value, Unknown):
            settings[option] = located
            return
        try:
            settings[option] = Located(convert(located.value), located.span)
        except ValueError as exc:
            error(f"`{option} = {located.value}`: {exc}: supervisord refuses the file", located.span)
            settings[option] = Located(Unknown(str(located.value), located.span), located.span)

    typed("autostart", "true", _boolean)
    typed("autorestart", "unexpected", _autorestart)
    typed("startsecs", "1", int)
    typed("startretries", "3", int)
    typed("stopsignal", "TERM", _signal_name)
    typed("stopwaitsecs", "10", int)
    typed("stopasgroup", "false", _boolean)
    stopasgroup = settings["stopasgroup"].value
    default_kill = "true" if stopasgroup is True else "false"
    if isinstance(stopasgroup, Unknown) and "killasgroup" not in options:
        settings["killasgroup"] = settings["stopasgroup"]
    else:
        typed("killasgroup", default_kill, _boolean)
    if settings["stopasgroup"].value is True and settings["killasgroup"].value is False:
        error("`stopasgroup = true` with `killasgroup = false`: supervisord refuses the file",
              settings["killasgroup"].span)
    typed("numprocs", "1", int)
    typed("numprocs_start", "0", int)
    user = get("user", "")
    if user.value != "":
        settings["user"] = user
    process_name = options.get("process_name")
    numprocs = settings["numprocs"].value
    start = settings["numprocs_start"].value
    if isinstance(numprocs, int) and numprocs > 1 and \
            "%(process_num)" not in (process_name.text if process_name is not None else "%(program_name)s"):
        error("`numprocs` > 1 but `process_name` lacks `%(process_num)`: supervisord refuses the file",
              process_name.span(path) if process_name is not None else settings["numprocs"].span)
    if "command" not in options:
        error(f"[program:{name}] has no `command =`: supervisord refuses the file", section.span)
        return []
    if not isinstance(numprocs, int) or not isinstance(start, int):
        numbers = [None]  # how many, unknown: one process whose numbered values are unknown
    else:
        numbers = list(range(start, start + max(0, min(numprocs, MAX_NUMPROCS))))
    programs = []
    given = frozenset(options)
    for number in numbers:
        values = dict(known)
        if number is not None:
            values.update(process_num=number, numprocs=numprocs)
        env_located: dict[str, Located] = {}
        held = options.get("environment")
        if held is not None:
            env_located = _environment(path, held, values, error)
            values.update({f"ENV_{k}": v.value for k, v in env_located.items() if isinstance(v.value, str)})
        own = dict(settings)
        for option in ("directory", "command"):
            if option in options:
                own[option] = get(option, "", values)
        proc_name = get("process_name", "%(program_name)s", values) if process_name is not None else \
            Located(name, section.span)
        if isinstance(proc_name.value, str) and any(c in proc_name.value for c in " :/") and \
                not _placeholder(proc_name.value):
            error(f"invalid process name {proc_name.value!r}: supervisord refuses ' ', ':' and '/'", proc_name.span)
        own["process_name"] = proc_name
        shown = proc_name.value if isinstance(proc_name.value, str) else name
        programs.append(SupervisorProgram(name=name, span=section.span, process_name=shown, group=group,
                                          command=None, settings=own, given=given, environment=env_located))
        programs[-1].commands = _command(path, options["command"], own["command"], error)
        programs[-1].command = programs[-1].commands[-1] if programs[-1].commands else None
        if number is None:
            break
    return programs


def _environment(path: str, held: _Value, values: dict, error) -> dict[str, Located]:
    span = held.span(path)
    if _placeholder(held.text):
        return {}
    expanded = expand(held.text, values, _allowed_unknown)
    if expanded.error is not None:
        error(f"`environment`: {expanded.error}", span)
        return {}
    try:
        pairs = environment_pairs(expanded.text)
    except ValueError as exc:
        error(f"`environment`: {exc}: supervisord refuses the file", span)
        return {}
    found = {}
    for key, value in pairs.items():
        at = held.text.find(key)
        key_span = held.span(path, at, at + len(key)) if at >= 0 else span
        shown: object = value
        if "${" in value and any("${" + n + "}" in value for n in expanded.unknown):
            shown = Unknown(value, key_span)
        found[key] = Located(shown, key_span)
    return found


def _command(path: str, held: _Value, located: Located, error) -> list[ShellCommand]:
    """The command as supervisord execs it: shlex words, no shell. A word holding an expansion we
    cannot know (written `${NAME}`) is dynamic. `bash -c '…'` adds the commands of its string."""
    span = held.span(path)
    if isinstance(located.value, Unknown):
        text = held.text
        if _placeholder(text):
            words = _words(text)
            if words is None:
                return []
            return [ShellCommand(tuple(words), tuple(True if _placeholder(w) or "%(" in w else False
                                                     for w in words), span, ShellContext("supervisor", None, span))]
        expanded = expand(text, {}, lambda name: True)
        text = expanded.text
    else:
        text = str(located.value)
    words = _words(text)
    if words is None:
        error(f"`command`: supervisord cannot split {held.text[:60]!r} (an unclosed quote)", span)
        return []
    if not words:
        error("`command` is empty: supervisord cannot start the program", span)
        return []
    context = ShellContext("supervisor", None, span)
    dynamic = tuple("${" in w for w in words)
    commands = [ShellCommand(tuple(words), dynamic, span, context)]
    index = shell.shell_c_argument(tuple(words))
    if index is not None and not dynamic[index]:
        inner = words[index]
        at = held.text.find(inner)  # where the string sits in the file, when written as it is read
        line, column = held.position(max(at, 0))
        cmdline = None if shell.is_simple_command(inner) else inner
        parsed, errors = shell.parse_text(inner, path, line, column, ShellContext("bash-c", cmdline, span))
        commands += parsed
    return commands


def _words(text: str) -> list[str] | None:
    try:
        return shlex.split(text)
    except ValueError:
        return None


def _boolean(value: str) -> bool:
    lower = value.lower()
    if lower in TRUTHY:
        return True
    if lower in FALSY:
        return False
    raise ValueError("not a valid boolean value")


def _autorestart(value: str) -> object:
    """supervisor/datatypes.py auto_restart: true, false or `unexpected`."""
    lower = value.lower()
    if lower in TRUTHY:
        return True
    if lower in FALSY:
        return False
    if lower == "unexpected":
        return "unexpected"
    raise ValueError("not true, false or unexpected")


def _signal_name(value: str) -> str:
    """supervisor/datatypes.py signal_number, shown by name: `TERM`, `QUIT`, `9` -> `KILL`."""
    try:
        number = int(value)
    except ValueError:
        name = value.strip().upper()
        name = name if name.startswith("SIG") else "SIG" + name
        number = getattr(signal, name, None)
        if not isinstance(number, int):
            raise ValueError("not a signal name") from None
    try:
        return signal.Signals(number).name.removeprefix("SIG")
    except ValueError:
        raise ValueError("not a signal number") from None
