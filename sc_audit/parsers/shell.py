"""Shell scripts and snippets -> ShellCommand facts, via tree-sitter-bash.

Nothing is executed: the text is parsed, and every simple command found anywhere
(lists, pipelines, subshells, loops, functions, `$(…)`, `bash -c '…'`, `ssh host '…'`,
`ssh host <<EOF`) becomes one ShellCommand whose span points into the audited file.

Positions. A snippet is mapped to its file by a *line map*: a list where entry i is
`(file_line, file_column)` (both 1-based) of the first character of snippet line i
(0-based). A character at column c (0-based, in characters) of snippet line i is at
file column `file_column + c`. Lines past the end of the map continue on the following
file lines at column 1; `parse_text(..., line, column)` without a map is the same as
the map `[(line, column)]`. Nested strings (`bash -c '…'`) get a map built from the
position of their string in the outer snippet, so maps compose.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace

from ..facts import ParseError, ShellCommand, ShellContext, ShellFacts
from ..source import SourceFile
from ..span import Span

LineMap = list[tuple[int, int]]

MAX_TREE_DEPTH = 150  # deeper syntax trees are reported, not walked (recursion limit)
MAX_ERRORS = 20  # per snippet: one broken quote should not flood the report

SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh"})

# Commands that run their arguments as a command; value: their options taking a value.
WRAPPERS: dict[str, frozenset[str]] = {
    "sudo": frozenset({"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "--user", "--group", "--chdir"}),
    "env": frozenset({"-u", "-C", "-S", "--unset", "--chdir", "--split-string"}),
    "nice": frozenset({"-n", "--adjustment"}),
    "timeout": frozenset({"-s", "-k", "--signal", "--kill-after"}),
    "sshpass": frozenset({"-p", "-f", "-d", "-P"}),
    "exec": frozenset({"-a"}),
    "time": frozenset({"-f", "-o"}),
    "stdbuf": frozenset({"-i", "-o", "-e"}),
    "ionice": frozenset({"-c", "-n", "-p"}),
    "nohup": frozenset(),
    "setsid": frozenset(),
    "command": frozenset(),
}

SSH_ARG_OPTIONS = frozenset("BbcDEeFIiJLlmOoPpQRSWw")

# `"$REMOTE"`, `$REMOTE`, `"${REMOTE}"`: a word that is one variable, whole
PAYLOAD_REFERENCE = re.compile(r'"?\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))"?')

# `${X:-default}` and friends: the value when X is unset is the default.
DEFAULT_OPERATORS = frozenset({":-", "-", ":=", "="})

REDIRECTS = frozenset({"file_redirect", "heredoc_redirect", "herestring_redirect"})

ASSIGNMENT = re.compile(r"[A-Za-z_]\w*=")
GH_EXPRESSION = re.compile(rb"\$\{\{[^\n]*?\}\}")
# tree-sitter-bash 0.25 reads out of bounds, and crashes the process (SIGSEGV on Linux), on a
# character beyond U+FFFF after a `{` (tree-sitter/tree-sitter-bash#337). It parses a stand-in of
# the same byte length: two `é`, word characters like any other non-ASCII letter.
ASTRAL_CHARACTER = re.compile(rb"[\xf0-\xf7][\x80-\xbf]{3}")
ASTRAL_STAND_IN = "éé".encode()

# `cmd <<EOF; then` (or `; do`, `;`): valid bash that tree-sitter-bash cannot parse
HEREDOC_THEN = re.compile(r"<<(-?)[ \t]*(['\"]?)([A-Za-z_][\w.-]*)\2([ \t]*;[ \t]*(then|do)?)[ \t]*$")


@functools.cache
def _parser():
    """The tree-sitter parser, built on first use (importing this module stays cheap)."""
    import tree_sitter
    import tree_sitter_bash

    return tree_sitter.Parser(tree_sitter.Language(tree_sitter_bash.language()))


# --------------------------------------------------------------------------- public API


def parse(src: SourceFile) -> ShellFacts:
    """A `*.sh` file: its commands run by a shell whose cmdline is just the script path."""
    context = ShellContext(kind="script", errexit=shebang_errexit(src.text))
    commands, errors = parse_text(src.text, src.path, 1, 1, context)
    return ShellFacts(path=src.path, commands=commands, errors=errors)


def shebang_errexit(text: str) -> bool:
    """`#!/bin/bash -e` (or `-eu`, `-xe`): the script runs with errexit from its first line.
    Only when run by path; `bash deploy.sh` ignores the shebang (a risk we accept: unknown
    callers are the common case, and the author meant -e)."""
    first = text.split("\n", 1)[0]
    if not first.startswith("#!"):
        return False
    return any(word.startswith("-") and not word.startswith("--") and "e" in word for word in first[2:].split()[1:])


def parse_text(
    text: str,
    path: str,
    line: int,
    column: int,
    context: ShellContext,
    line_map: LineMap | None = None,
    *,
    gh_expressions: bool = False,
) -> tuple[list[ShellCommand], list[ParseError]]:
    """Parse a shell snippet that starts at (line, column) of `path`; never raises.

    `line_map` (see the module docstring) overrides line/column for snippets whose
    lines are not contiguous in the file (YAML block scalars). With `gh_expressions`,
    GitHub `${{ … }}` expressions are parsed as plain words, kept as written in argv
    and flagged dynamic.
    """
    out = _Output()
    line_map = list(line_map) if line_map else [(line, column)]
    try:
        _Snippet(text, path, line_map, context, out, gh_expressions, depth=0).run()
    except Exception as exc:  # noqa: BLE001 - the promise: a ParseError, never an exception
        out.errors.append(ParseError(f"cannot parse shell: {type(exc).__name__}", Span(path, line, column)))
    commands = [command for command in out.commands if command is not None]
    return commands, out.errors


def is_simple_command(text: str) -> bool:
    """True when `sh -c TEXT` would exec TEXT's only command in place of the shell.

    Then the shell's own cmdline (which contains TEXT) disappears from the process
    table. That is the case for one simple command, without `;`, `&&`, `|`, `&`, newline.
    """
    try:
        data = _normalise(text).replace(b"\0", b" ")
        data = GH_EXPRESSION.sub(lambda m: b"_" * len(m.group()), data)
        root = _parser().parse(data).root_node
        return _is_simple_root(root)
    except Exception:  # noqa: BLE001 - a helper for contexts must never break a parser
        return False


def shell_c_argument(argv: list[str] | tuple[str, ...]) -> int | None:
    """Index of the command string in `[VAR=x] [sudo …] bash [opts] -c STR`, else None."""
    argv = list(argv)
    k = _command_index(argv)
    if k < len(argv) and (_basename(argv[k]) in SHELLS or _basename(argv[k]) == "su"):
        return _shell_c_index(argv, k)
    return None


# --------------------------------------------------------------------------- internals


@dataclass
class _Output:
    commands: list[ShellCommand | None] = field(default_factory=list)
    errors: list[ParseError] = field(default_factory=list)


def _normalise(text: str) -> bytes:
    """UTF-8 bytes; a lone surrogate becomes '?' so that 1 char stays 1 char."""
    return text.encode("utf-8", "replace")


def _is_simple_root(root) -> bool:
    if any(child.type == "&" for child in root.children):
        return False
    statements = [child for child in root.named_children if child.type != "comment"]
    if len(statements) != 1:
        return False
    node = statements[0]
    if node.type == "redirected_statement":
        node = node.child_by_field_name("body")
    return node is not None and node.type == "command" and not node.has_error


STATEMENTS = frozenset({
    "command", "redirected_statement", "list", "pipeline", "comment", "variable_assignment",
    "declaration_command", "unset_command", "subshell", "compound_statement", "if_statement",
    "for_statement", "c_style_for_statement", "while_statement", "case_statement",
    "function_definition", "negated_command", "test_command",
})  # fmt: skip


def _first_fragment(error_node):
    """Where an ERROR node goes wrong: tree-sitter often starts it at an earlier, good
    statement (an unclosed `if` swallows the file), so skip the complete statements."""
    for child in error_node.children:
        if not (child.type in STATEMENTS and not child.has_error):
            return child
    return error_node


def _basename(word: str) -> str:
    return word.rsplit("/", 1)[-1]


def _command_index(argv: list[str]) -> int:
    """Index of the program run by `A=1 sudo -u x env B=2 nohup PROGRAM …`."""
    k = 0
    while k < len(argv) and ASSIGNMENT.match(argv[k]):
        k += 1
    return _skip_wrappers(argv, k)


def _skip_wrappers(argv: list[str], k: int) -> int:
    """Index of the command run by `sudo -u x env A=1 nohup CMD …` (CMD), from k."""
    while k < len(argv) and _basename(argv[k]) in WRAPPERS:
        name = _basename(argv[k])
        takes_value = WRAPPERS[name]
        k += 1
        while k < len(argv):
            word = argv[k]
            if word == "--":
                k += 1
                break
            if word.startswith("-") and len(word) > 1:
                k += 2 if word in takes_value else 1
            elif name == "env" and "=" in word:
                k += 1
            else:
                break
        if name == "timeout" and k < len(argv):
            k += 1  # the duration
    return k


def _shell_c_index(argv: list[str], k: int) -> int | None:
    """With argv[k] a shell (or `su`), the index of its `-c` command string, if any."""
    if _basename(argv[k]) == "su":
        for i in range(k + 1, len(argv) - 1):
            if argv[i] in ("-c", "--command"):
                return i + 1
        return None
    c_seen = False
    i = k + 1
    while i < len(argv):
        word = argv[i]
        if word in ("--", "-"):
            i += 1
            break
        if word.startswith("--"):
            i += 2 if word in ("--rcfile", "--init-file") else 1
        elif len(word) > 1 and word[0] in "-+":
            c_seen = c_seen or (word[0] == "-" and "c" in word)
            i += 2 if ("o" in word or "O" in word) else 1
        else:
            break
    return i if c_seen and i < len(argv) else None


def _reads_stdin(argv: list[str], k: int) -> bool:
    """argv[k] is a shell given no script and no -c: it reads commands from stdin."""
    return k < len(argv) and _basename(argv[k]) in SHELLS and all(
        word.startswith("-") and "c" not in word.lstrip("-") or word.startswith("--")
        for word in argv[k + 1 :]
    )


def _ssh_command_start(argv: list[str], k: int) -> int:
    """With argv[k] == ssh: index of the first remote-command word (len(argv) if none)."""
    i, host_seen = k + 1, False
    while i < len(argv):
        word = argv[i]
        if word == "--":
            i += 1
            if not host_seen:
                i += 1  # the host
            break
        if word.startswith("-") and len(word) > 1:
            i += 1
            for pos, letter in enumerate(word[1:], start=1):
                if letter in SSH_ARG_OPTIONS:
                    if pos == len(word) - 1:
                        i += 1  # `-p 22`: the value is the next word
                    break
            continue
        if host_seen:
            break
        host_seen = True  # OpenSSH reads options after the host too, up to the command
        i += 1
    return min(i, len(argv))


def _dq_unescape(text: str) -> str:
    """Backslash removal inside double quotes: only before $ ` " \\ and newline."""
    return re.sub(r'\\([$`"\\\n])', lambda m: "" if m.group(1) == "\n" else m.group(1), text)


def _unquoted_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: "" if m.group(1) == "\n" else m.group(1), text, flags=re.S)


_ANSI_C = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "a": "\a", "e": "\x1b", "0": "\0"}


def _ansi_c_unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ANSI_C.get(m.group(1), "\\" + m.group(1)), text, flags=re.S)


@dataclass
class _Word:
    value: str
    dynamic: bool
    node: object  # the tree-sitter node of the word


def _fix_heredoc_then(text: str) -> tuple[str, dict[int, int]]:
    """Rewrite `cmd <<EOF; then` + body + `EOF` + `next` as `cmd <<EOF` + body + `EOF` +
    `then next`, which tree-sitter-bash parses. Returns the new text and, per line, how
    many characters were inserted at its start (to subtract from columns)."""
    if "<<" not in text:
        return text, {}
    lines = text.split("\n")
    shifts: dict[int, int] = {}
    for row, line in enumerate(lines):
        match = HEREDOC_THEN.search(line) if line.count("<<") == 1 and "<<<" not in line else None
        if match is None:
            continue
        dash, delimiter, keyword = match.group(1), match.group(3), match.group(5)
        end = next(
            (r for r in range(row + 1, len(lines)) if (lines[r].lstrip("\t") if dash else lines[r]) == delimiter),
            None,
        )
        if end is None or (keyword and (end + 1 >= len(lines) or end + 1 in shifts)):
            continue
        lines[row] = line[: match.start(4)] + " " * len(match.group(4)) + line[match.end(4) :]
        if keyword:
            lines[end + 1] = f"{keyword} {lines[end + 1]}"
            shifts[end + 1] = len(keyword) + 1
    return "\n".join(lines), shifts


class _Snippet:
    """One parsed text: the script, or a string nested in it (`bash -c`, ssh)."""

    def __init__(self, text, path, line_map, context, out, gh, depth):
        text, self.shifts = _fix_heredoc_then(text)
        self.data = _normalise(text)
        self.path = path
        self.line_map = line_map
        self.context = context
        self.out = out
        self.gh = gh
        self.depth = depth
        self.lines = self.data.split(b"\n")
        self.ascii = self.data.isascii()
        self.masks: list[tuple[int, int]] = []
        self.errors = 0
        self.too_deep = False
        self.payloads: dict[str, tuple[str, object, bool] | None] = {}  # variable -> (text, node, quoted); None: used

    # ------------------------------------------------------------------ positions

    def _parse_bytes(self) -> bytes:
        data = self.data.replace(b"\0", b" ")  # tree-sitter stops reading at NUL
        if not self.ascii:  # same length: every byte offset stays true, and text comes from self.data
            data = ASTRAL_CHARACTER.sub(ASTRAL_STAND_IN, data)
        if self.gh:
            self.masks = [m.span() for m in GH_EXPRESSION.finditer(data)]
            # same length, so every byte offset and column stays true
            data = GH_EXPRESSION.sub(lambda m: b"_" * len(m.group()), data)
        return data

    def char_column(self, row: int, byte_column: int) -> int:
        if self.ascii or row >= len(self.lines):
            return byte_column
        return len(self.lines[row][:byte_column].decode("utf-8", "replace"))

    def file_position(self, row: int, char_column: int) -> tuple[int, int]:
        char_column = max(char_column - self.shifts.get(row, 0), 0)
        if row < len(self.line_map):
            file_line, file_column = self.line_map[row]
            return file_line, file_column + char_column
        last_line, _ = self.line_map[-1]
        return last_line + row - len(self.line_map) + 1, 1 + char_column

    def point(self, point) -> tuple[int, int]:
        row, byte_column = point
        return self.file_position(row, self.char_column(row, byte_column))

    def span(self, start, end) -> Span:
        line, column = self.point(start)
        end_line, end_column = self.point(end)
        return Span(self.path, line, column, end_line, end_column)

    def node_span(self, node) -> Span:
        return self.span(node.start_point, node.end_point)

    def text(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8", "replace")

    def node_text(self, node) -> str:
        return self.text(node.start_byte, node.end_byte)

    def masked(self, node) -> bool:
        return any(s < node.end_byte and e > node.start_byte for s, e in self.masks)

    def line_from(self, node) -> str:
        """The text from node's start to the end of its line, shortened."""
        end = self.data.find(b"\n", node.start_byte)
        text = self.text(node.start_byte, len(self.data) if end < 0 else end).strip()
        return text if len(text) <= 40 else text[:39] + "…"

    def error(self, node, message: str, whole: bool = True) -> None:
        self.errors += 1
        if self.errors <= MAX_ERRORS:
            span = self.node_span(node) if whole else self.span(node.start_point, node.start_point)
            self.out.errors.append(ParseError(message, span))

    def error_at(self, node) -> None:
        """Report the first ERROR/MISSING node under `node`, at node's start."""
        stack = [node]
        while stack:
            current = stack.pop()
            if current.is_missing:
                self.error(node, f"cannot parse shell here: missing {current.type!r}")
                return
            if current.is_error:
                self.error(node, f"cannot parse shell here: {self.line_from(current)!r}")
                return
            stack.extend(reversed(current.children))
        self.error(node, "cannot parse shell here")

    # ------------------------------------------------------------------ walking

    def run(self) -> None:
        root = _parser().parse(self._parse_bytes()).root_node
        self.walk(root, background=False, in_sub=False, level=self.depth, in_error=False)

    def walk(self, node, background, in_sub, level, in_error) -> list[int]:
        """Emit the commands under node; return the indices of those at this level.

        Commands inside `$(…)` or nested shells are emitted but not returned: a caller
        uses the list for pipelines and for its own `substitutions`.
        """
        if level > MAX_TREE_DEPTH:
            if not self.too_deep:
                self.too_deep = True
                self.error(node, "cannot parse shell here: nested too deeply")
            return []
        kind = node.type
        if node.is_missing:
            if not in_error:
                self.error_at(node)
            return []
        if kind == "ERROR" and not in_error:
            fragment = _first_fragment(node)
            self.error(fragment, f"cannot parse shell here: {self.line_from(fragment)!r}")
            in_error = True
        if kind == "command":
            return self.command(node, (), background, in_sub, level, in_error)
        if kind in ("declaration_command", "unset_command"):
            return self.command(node, (), background, in_sub, level, in_error)
        if kind == "redirected_statement":
            return self.redirected(node, background, in_sub, level, in_error)
        if kind == "pipeline":
            return self.pipeline(node, background, in_sub, level, in_error)
        if kind == "list":
            return self.and_or_list(node, background, in_sub, level, in_error)
        if kind in ("if_statement", "while_statement", "for_statement", "c_style_for_statement"):
            return self.compound(node, background, in_sub, level, in_error)
        if kind in ("command_substitution", "process_substitution"):
            self.walk_children(node, False, True, level, in_error)
            return []
        if kind in ("heredoc_body", "comment"):
            return []  # a heredoc not fed to a shell is data
        if kind == "variable_assignment" and not in_sub:
            self.remember_payload(node)
        return self.walk_children(node, background, in_sub, level, in_error)

    def remember_payload(self, node) -> None:
        """`REMOTE=$(cat <<'EOF' … EOF)` or `REMOTE="cd /srv && …"`: text that `ssh host "$REMOTE"`
        may later run as a remote command. Any other value forgets the variable."""
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        if name is None:
            return
        key = self.node_text(name)
        payload = self.payload_of(value) if value is not None else None
        if payload is None:
            self.payloads.pop(key, None)
        else:
            self.payloads[key] = payload

    def payload_of(self, value):
        if value.type == "command_substitution":
            statements = [c for c in value.named_children if c.type != "comment"]
            if len(statements) != 1 or statements[0].type != "redirected_statement":
                return None
            body = statements[0].child_by_field_name("body")
            if body is None or body.type != "command" or self.node_text(body).strip() not in ("cat", "cat -"):
                return None
            for redirect in statements[0].named_children:
                if redirect.type == "heredoc_redirect":
                    text_node = next((c for c in redirect.named_children if c.type == "heredoc_body"), None)
                    if text_node is not None:
                        return self.node_text(text_node), text_node, False
            return None
        if value.type in ("string", "raw_string"):
            text, dynamic = self.value(value, [], 0)
            return None if dynamic else (text, value, True)
        return None

    def payload_used(self, word: _Word):
        """The payload a word stands for when it is just `"$NAME"` / `${NAME}` of a remembered variable.
        Read at its first use only: its commands are where it is written, once (and a payload sent
        many times cannot multiply the work)."""
        match = PAYLOAD_REFERENCE.fullmatch(self.node_text(word.node))
        if not match:
            return None
        name = match.group(1) or match.group(2)
        payload = self.payloads.get(name)
        if payload is not None:
            self.payloads[name] = None  # used: a later `ssh … "$NAME"` neither re-reads it nor runs `$NAME`
        return payload

    def walk_children(self, node, background, in_sub, level, in_error) -> list[int]:
        found: list[int] = []
        children = node.children
        for i, child in enumerate(children):
            after = children[i + 1] if i + 1 < len(children) else None
            if child.is_missing:
                if not in_error:  # `if` without `fi`: report it where the `if` starts
                    self.error(node, f"cannot parse shell here: missing {child.type!r}", whole=False)
                continue
            if not child.is_named:
                continue
            if after is not None and after.is_error and after.start_point[0] == child.end_point[0]:
                if child.type in ("command", "redirected_statement"):
                    continue  # `x "unterminated`: the ERROR holds the rest of this command
            ends_with_amp = after is not None and after.type == "&"
            found += self.walk(child, background or ends_with_amp, in_sub, level + 1, in_error)
        return found

    def redirected(self, node, background, in_sub, level, in_error) -> list[int]:
        body = node.child_by_field_name("body")
        redirects = [child for child in node.named_children if child.type in REDIRECTS]
        if body is not None and body.type == "negated_command" and body.named_children:
            body = body.named_children[0]  # `! ssh host <<EOF`
        if body is not None and body.type == "command":
            found = self.command(body, redirects, background, in_sub, level + 1, in_error)
        else:
            found = self.walk(body, background, in_sub, level + 1, in_error) if body is not None else []
            for redirect in redirects:
                self.walk(redirect, False, True, level + 1, in_error)
        for redirect in redirects:
            if redirect.type == "heredoc_redirect":
                found += self.after_heredoc(redirect, found, background, in_sub, level, in_error)
        return found

    def after_heredoc(self, redirect, found, background, in_sub, level, in_error) -> list[int]:
        """tree-sitter-bash puts the rest of the line (`<<EOF && next`, `<<EOF | tee`) into
        the heredoc redirect: walk it as the statements it is."""
        more: list[int] = []
        for child in redirect.named_children:
            if child.type in ("heredoc_start", "heredoc_body", "heredoc_end"):
                continue
            inner = self.walk(child, background, in_sub, level + 1, in_error)
            if child.type == "pipeline" and found and inner:
                self.link(found, inner)
            more += inner
        return more

    def pipeline(self, node, background, in_sub, level, in_error) -> list[int]:
        elements = [
            self.walk(child, background, in_sub, level + 1, in_error)
            for child in node.named_children
            if child.type != "comment"
        ]
        for left, right in zip(elements, elements[1:]):
            self.link(left, right)
        return [i for element in elements for i in element]

    def and_or_list(self, node, background, in_sub, level, in_error) -> list[int]:
        """`a && b || c`: tree-sitter nests it to the left, ((a && b) || c). Mark what the
        left side's failure leads to: `||` runs the right side, `&&` skips it."""
        found: list[int] = []
        operator = None
        children = node.children
        for i, child in enumerate(children):
            if child.type in ("&&", "||"):
                operator = child.type
                continue
            if not child.is_named or child.type == "comment":
                continue
            after = children[i + 1] if i + 1 < len(children) else None
            inner = self.walk(child, background or (after is not None and after.type == "&"), in_sub,
                              level + 1, in_error)
            if operator is not None and found:
                self.mark_failure(found, operator, inner)
            found += inner
        return found

    def mark_failure(self, left: list[int], operator: str, right: list[int]) -> None:
        commands = self.out.commands
        right_argvs = [commands[i].argv for i in right if commands[i] is not None]
        # `|| { echo failed; exit 1; }`: what matters is that the right side stops the shell
        stops = [argv for argv in right_argvs if argv and argv[0] in ("exit", "return", "false")]
        following = stops[0] if stops else (right_argvs[0] if right_argvs else ())
        for i in left:
            command = commands[i]
            if command is None:
                continue
            if operator == "&&":
                commands[i] = replace(command, and_then=True)
            elif command.or_else is None:
                commands[i] = replace(command, or_else=following)

    def compound(self, node, background, in_sub, level, in_error) -> list[int]:
        """`if`/`while`/`until`/`for`: mark the commands of conditions and of loop bodies."""
        loop = node.type != "if_statement"
        start = len(self.out.commands)
        found: list[int] = []
        for i, child in enumerate(node.children):
            if child.is_missing:
                if not in_error:  # `if` without `fi`: report it where the `if` starts
                    self.error(node, f"cannot parse shell here: missing {child.type!r}", whole=False)
                continue
            if not child.is_named or child.type == "comment":
                continue
            before = len(self.out.commands)
            found += self.walk(child, background, in_sub, level + 1, in_error)
            if node.field_name_for_child(i) == "condition" and node.type != "for_statement":
                self.mark_range(before, "tested")
        if loop:
            kind = "for" if node.type != "while_statement" else node.children[0].type  # `while`/`until`
            self.mark_range(start, "in_loop", kind)
        return found

    def mark_range(self, start: int, flag: str, value: object = True) -> None:
        """Set a flag on the commands emitted since `start` (an inner loop's kind is kept)."""
        commands = self.out.commands
        for i in range(start, len(commands)):
            if commands[i] is not None and not getattr(commands[i], flag):
                commands[i] = replace(commands[i], **{flag: value})

    def link(self, left: list[int], right: list[int]) -> None:
        """Set pipe_to/pipe_from between two neighbouring elements of a pipeline."""
        commands = self.out.commands
        if not left or not right or commands[right[0]] is None or commands[left[-1]] is None:
            return
        first_right, last_left = commands[right[0]], commands[left[-1]]
        for i in left:
            if commands[i] is not None:
                commands[i] = replace(commands[i], pipe_to=first_right.argv)
        for i in right:
            if commands[i] is not None:
                commands[i] = replace(commands[i], pipe_from=last_left.argv)

    # ------------------------------------------------------------------ commands

    def command(self, node, redirects, background, in_sub, level, in_error) -> list[int]:
        if node.has_error:
            if not in_error:
                self.error_at(node)
            return []
        words, subs, stdin = [], [], None
        end_point = node.end_point
        for child in node.children:
            kind = child.type
            if kind in REDIRECTS:
                stdin = self.redirect(child, words, subs, level) or stdin
            elif kind == "variable_assignment":
                words.append(self.assignment(child, subs, level))
            elif kind == "command_name":
                words += [self.word(c, subs, level) for c in child.named_children[:1]]
            elif child.is_named and kind != "comment":
                words.append(self.word(child, subs, level))
            elif node.type != "command" and child.type.isalpha():  # `export`, `local`, `unset`
                words.append(_Word(child.type, False, child))
        for redirect in redirects:
            stdin = self.redirect(redirect, words, subs, level) or stdin
            targets = [c for c in redirect.named_children if c.type != "file_descriptor"]
            if redirect.type == "file_redirect" and len(targets) > 1:
                end_point = max(end_point, redirect.end_point)
        if not words:
            return []

        index = len(self.out.commands)
        self.out.commands.append(None)  # keeps source order: the command before its $(…)
        substitutions = []
        for sub in subs:
            inner = self.walk_children(sub, False, True, level + 1, in_error)
            substitutions += [self.out.commands[i].argv for i in inner if self.out.commands[i] is not None]
        command = ShellCommand(
            argv=tuple(w.value for w in words),
            dynamic=tuple(w.dynamic for w in words),
            span=self.span(node.start_point, end_point),
            context=self.context,
            background=background and not in_sub,
            in_substitution=in_sub,
            substitutions=tuple(substitutions),
        )
        self.out.commands[index] = command
        if node.type == "command":
            self.nested_shells(words, stdin, command, level)
        return [index]

    def redirect(self, node, words, subs, level):
        """Collect arguments written after a redirection; return a heredoc/herestring."""
        kind = node.type
        if kind == "heredoc_redirect":
            return next((c for c in node.named_children if c.type == "heredoc_body"), None)
        if kind == "herestring_redirect":
            return next((c for c in node.named_children), None)
        # `cmd > out arg`: tree-sitter puts `arg` into the redirect; bash passes it on
        targets = [c for c in node.named_children if c.type != "file_descriptor"]
        for extra in targets[1:]:
            words.append(self.word(extra, subs, level))
        for target in targets[:1]:
            self.word(target, subs, level)  # for the $(…) it may hold
        return None

    def assignment(self, node, subs, level) -> _Word:
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        if name is None or value is None:
            return _Word(self.node_text(node), self.masked(node), node)
        val = self.word(value, subs, level)
        prefix = self.text(node.start_byte, value.start_byte)
        return _Word(prefix + val.value, val.dynamic, node)

    # ------------------------------------------------------------------ words

    def word(self, node, subs, level) -> _Word:
        value, dynamic = self.value(node, subs, level)
        return _Word(value, dynamic or self.masked(node), node)

    def value(self, node, subs, level) -> tuple[str, bool]:
        """A word's text after quote removal, and whether it holds an expansion."""
        if level > MAX_TREE_DEPTH:
            return self.node_text(node), True
        kind = node.type
        text = self.node_text(node)
        if kind == "word":
            return _unquoted_unescape(text), False
        if kind == "raw_string":
            return text[1:-1] if len(text) >= 2 else text, False
        if kind == "ansi_c_string":
            return _ansi_c_unescape(text[2:-1]), False
        if kind in ("string", "translated_string"):
            return self.string(node, subs, level)
        if kind == "concatenation":
            return self.pieces(node, node.start_byte, node.end_byte, subs, level, _unquoted_unescape)
        if kind == "expansion":
            return self.expansion(node, subs, level)
        if kind in ("command_substitution", "process_substitution"):
            subs.append(node)
            return text, True
        if kind in ("simple_expansion", "arithmetic_expansion"):
            return text, True
        return text, "$" in text or "`" in text

    def string(self, node, subs, level) -> tuple[str, bool]:
        quotes = [c for c in node.children if c.type == '"']
        start = quotes[0].end_byte if quotes else node.start_byte
        end = quotes[-1].start_byte if len(quotes) > 1 else node.end_byte
        return self.pieces(node, start, end, subs, level, _dq_unescape)

    def pieces(self, node, start, end, subs, level, unescape) -> tuple[str, bool]:
        """Join the named children of node in [start, end), with the text between them."""
        parts, dynamic, pos = [], False, start
        for child in node.named_children:
            if child.start_byte < start or child.end_byte > end:
                continue
            parts.append(unescape(self.text(pos, child.start_byte)))
            if child.type == "string_content":
                parts.append(_dq_unescape(self.node_text(child)))
            else:
                value, child_dynamic = self.value(child, subs, level + 1)
                parts.append(value)
                dynamic = dynamic or child_dynamic
            pos = child.end_byte
        parts.append(unescape(self.text(pos, end)))
        return "".join(parts), dynamic

    def expansion(self, node, subs, level) -> tuple[str, bool]:
        children = node.children
        if (
            len(children) >= 4
            and children[1].is_named
            and children[2].type in DEFAULT_OPERATORS
            and children[-1].type == "}"
        ):
            default, _ = self.pieces(node, children[2].end_byte, children[-1].start_byte, subs, level, _unquoted_unescape)
            return default, True
        for child in node.named_children:  # `${X:-$(cmd)}`-like forms still run cmd
            if child.type in ("command_substitution", "process_substitution"):
                subs.append(child)
        return self.node_text(node), True

    # ------------------------------------------------------------------ nested shells

    def nested_shells(self, words: list[_Word], stdin, command, level) -> None:
        """Commands of the shells this command starts: ssh, `bash -c`, `bash <<EOF`."""
        argv = [w.value for w in words]
        k = _command_index(argv)
        if k >= len(argv):
            return
        name = _basename(argv[k])
        if name == "ssh":
            start = _ssh_command_start(argv, k)
            remote = words[start:]
            payload = self.payload_used(remote[0]) if len(remote) == 1 else None
            if payload is not None:  # `ssh host "$REMOTE"` with REMOTE's text known
                text, node, quoted = payload
                cmdline = None if is_simple_command(text) else text
                self.nested(text, node, ShellContext("ssh", cmdline, command.span, remote=True), level, quoted)
            elif remote:
                text = " ".join(w.value for w in remote)
                cmdline = None if is_simple_command(text) else text
                context = ShellContext("ssh", cmdline, command.span, remote=True)
                self.nested(text, remote[0].node, context, level)
            remote_argv = " ".join(w.value for w in remote).split()
            if stdin is not None and (not remote_argv or _reads_stdin(remote_argv, _command_index(remote_argv))):
                self.nested_stdin(stdin, ShellContext("ssh", None, command.span, remote=True), level)
        elif name in SHELLS or name == "su":
            index = _shell_c_index(argv, k)
            if index is not None:
                text = words[index].value
                cmdline = None if is_simple_command(text) else text
                context = ShellContext("bash-c", cmdline, command.span, remote=self.context.remote)
                self.nested(text, words[index].node, context, level)
            elif stdin is not None and _reads_stdin(argv, k):
                context = ShellContext("bash-c", None, command.span, remote=self.context.remote)
                self.nested_stdin(stdin, context, level)

    def nested_stdin(self, node, context, level) -> None:
        if node.type == "heredoc_body":
            self.nested(self.node_text(node), node, context, level, quoted=False)
        else:  # a herestring word
            self.nested(self.value(node, [], level)[0], node, context, level)

    def nested(self, text: str, node, context: ShellContext, level: int, quoted: bool | None = None) -> None:
        """Parse `text`, written at `node`, as the commands of another shell."""
        row, byte_column = node.start_point
        column = self.char_column(row, byte_column)
        if quoted is None:
            quoted = self.node_text(node)[:1] in ("'", '"')
        first = column + (1 if quoted else 0)
        line_map = [self.file_position(row + i, first if i == 0 else 0) for i in range(text.count("\n") + 1)]
        _Snippet(text, self.path, line_map, context, self.out, self.gh, depth=level + 1).run()
