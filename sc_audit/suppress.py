"""Inline suppressions: `# sc-audit: ignore[SC501] -- reason` and `ignore-file[SC401]`.

A suppression is read from a real comment of the audited file, found by a small tokenizer
per kind (Python's `tokenize`; a shell/Nginx scanner that knows quotes and heredocs; a YAML
scanner that reads `run: |` blocks as shell; a JS scanner for strings, templates and regexes),
so `echo "# sc-audit: ignore[SC501]"` or a URL fragment never counts.

A line suppression covers its own line, and the next line when the comment stands alone on
its line. A file suppression covers the whole file. Codes are codes or prefixes (`SC5`); no
codes means every rule. What a suppression did not suppress is reported by SC003.
"""

from __future__ import annotations

import bisect
import io
import re
import tokenize
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from . import source as kinds
from .findings import Finding
from .span import Span

UNUSED = "SC003"  # unused-suppression: judged after every other rule has run
MARKER = "sc-audit:"
DIRECTIVE = re.compile(r"sc-audit:\s*(ignore[\w-]*)", re.IGNORECASE)
CODE_SYNTAX = re.compile(r"^SC\d{0,3}$")


@dataclass(frozen=True, slots=True)
class Comment:
    line: int
    column: int  # 1-based, where the comment starts
    text: str  # from the comment marker to the end of the comment (on this line)
    standalone: bool  # the line holds nothing but this comment


@dataclass(slots=True)
class Suppression:
    span: Span  # the directive inside the comment
    directive: str  # "sc-audit: ignore[SC501]" as written, for messages
    file_level: bool
    codes: tuple[str, ...] | None  # the valid codes or prefixes written; None (no list): every rule
    lines: frozenset[int]  # the lines a line suppression covers
    problems: list[str] = field(default_factory=list)  # malformed directive, unknown codes
    used: set[str] = field(default_factory=set)  # the codes that suppressed something

    def covers(self, finding: Finding) -> list[str]:
        """The codes of this suppression that cover `finding` (["*"] for a bare one)."""
        if finding.span.path != self.span.path or not (self.file_level or finding.span.line in self.lines):
            return []
        if self.codes is None:
            return ["*"]
        return [code for code in self.codes if finding.rule.startswith(code)]


@dataclass(frozen=True, slots=True)
class Unused:
    """A suppression that suppressed nothing, or that names what is not a rule: SC003's input."""

    span: Span
    message: str


# --------------------------------------------------------------------------- reading


def collect(files: Iterable, rule_codes: Iterable[str]) -> list[Suppression]:
    """The suppressions written in `files` (SourceFile-like: path, kind, text)."""
    rule_codes = tuple(rule_codes)
    suppressions: list[Suppression] = []
    for src in files:
        if MARKER not in src.text.lower():
            continue  # the common case: no scan at all
        for comment in comments_of(src.path, src.kind, src.text):
            suppression = parse(src.path, comment, rule_codes)
            if suppression is not None:
                suppressions.append(suppression)
    return suppressions


def comments_of(path: str, kind: str, text: str) -> list[Comment]:
    lower = path.lower()
    if kind in (kinds.PYTHON_APP, kinds.GUNICORN_CONFIG) or lower.endswith(".py"):
        return python_comments(text)
    if kind in (kinds.SHELL, kinds.PROCFILE, kinds.DOCKERFILE, kinds.DOTFILE):
        return hash_comments(text, shell=True)
    if kind == kinds.NGINX:
        return hash_comments(text, shell=False)
    if kind == kinds.SYSTEMD:
        return line_comments(text)
    if kind == kinds.SUPERVISOR:
        return ini_comments(text)
    if kind == kinds.WORKFLOW or lower.endswith((".yml", ".yaml")):
        return yaml_comments(text)
    if kind == kinds.PM2 and lower.endswith((".js", ".cjs", ".mjs")):
        return js_comments(text)
    return []  # JSON has no comments


def parse(path: str, comment: Comment, rule_codes: tuple[str, ...]) -> Suppression | None:
    match = DIRECTIVE.search(comment.text)
    if match is None:
        return None
    word = match.group(1).lower()
    rest = comment.text[match.end():]
    directive_end = match.end()
    problems: list[str] = []
    codes: tuple[str, ...] | None = None  # no code list: every rule
    if word not in ("ignore", "ignore-file"):
        problems.append(f"`{match.group(1)}` is not a directive (write `ignore[CODES]` or `ignore-file[CODES]`)")
        codes = ()
    elif rest.lstrip().startswith("["):
        opened = rest.index("[")
        closed = rest.find("]", opened)
        written = [c.strip() for c in rest[opened + 1:closed].split(",") if c.strip()] if closed >= 0 else []
        directive_end += closed + 1 if closed >= 0 else 0
        codes = tuple(code.upper() for code in written if _known(code, rule_codes))
        if closed < 0:
            problems.append("the `[` of the code list is never closed")
        elif not written:
            problems.append("the code list is empty (leave out `[]` to mean every rule)")
        for code in written:
            if not CODE_SYNTAX.match(code.upper()):
                problems.append(f"`{code}` is not an sc-audit rule code (codes look like SC501, or a prefix like SC5)")
            elif not _known(code, rule_codes):
                problems.append(f"`{code}` is not a rule code: no sc-audit rule starts with it")
    directive = comment.text[match.start():directive_end]
    column = comment.column + match.start()
    span = Span(path, comment.line, column, comment.line, column + len(directive))
    lines = frozenset({comment.line, comment.line + 1} if comment.standalone else {comment.line})
    return Suppression(span, directive, word == "ignore-file", codes, lines, problems)


def _known(code: str, rule_codes: tuple[str, ...]) -> bool:
    code = code.upper()
    return bool(CODE_SYNTAX.match(code)) and any(rule.startswith(code) for rule in rule_codes)


# --------------------------------------------------------------------------- applying


def apply(findings: Iterable[Finding], suppressions: list[Suppression],
          judged: Callable[[str, str], bool] | None = None,
          rule_codes: Iterable[str] = ()) -> tuple[list[Finding], list[Unused]]:
    """Drop the suppressed findings. With `judged(rule, path)` (did that rule run on that file?),
    also return what each suppression left unused; a code is judged only when every rule it
    covers ran, so `--select` and per-file ignores never make a suppression look unused."""
    by_path: dict[str, list[Suppression]] = {}
    for suppression in suppressions:
        by_path.setdefault(suppression.span.path, []).append(suppression)
    kept: list[Finding] = []
    for finding in findings:
        suppressed = False
        for suppression in by_path.get(finding.span.path, ()):
            codes = suppression.covers(finding)
            if codes:
                suppression.used.update(codes)
                suppressed = True
        if not suppressed:
            kept.append(finding)
    if judged is None:
        return kept, []
    rule_codes = tuple(code for code in rule_codes if code != UNUSED)
    return kept, [unused for s in suppressions if (unused := _unused(s, judged, rule_codes)) is not None]


def _unused(suppression: Suppression, judged: Callable[[str, str], bool],
            rule_codes: tuple[str, ...]) -> Unused | None:
    path = suppression.span.path

    def ran(code: str) -> bool:
        covered = [rule for rule in rule_codes if rule.startswith(code)]
        return bool(covered) and all(judged(rule, path) for rule in covered)

    where = "in this file" if suppression.file_level else \
        "on this line or the next" if len(suppression.lines) > 1 else "on this line"
    problems = list(suppression.problems)
    if suppression.codes is None:
        if "*" not in suppression.used and ran(""):
            problems.append(f"there is no finding {where}")
    else:
        idle = [code for code in suppression.codes if code not in suppression.used and ran(code)]
        if idle:
            problems.append(f"there is no {' or '.join(idle)} finding {where}")
    if not problems:
        return None
    return Unused(suppression.span, f"unused suppression `{suppression.directive}`: {'; '.join(problems)}. "
                  "Remove it (or the codes that do not fire), or correct it.")


# --------------------------------------------------------------------------- comment scanners


def python_comments(text: str) -> list[Comment]:
    """Python comments from `tokenize`; past a tokenize error, a plain `#` scan of the rest."""
    lines = text.split("\n")
    comments: list[Comment] = []
    last_row = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type == tokenize.COMMENT:
                row, col = token.start
                comments.append(Comment(row, col + 1, token.string, not lines[row - 1][:col].strip()))
            last_row = token.end[0]
    except (tokenize.TokenError, SyntaxError):
        rest = hash_comments("\n".join(lines[last_row:]), shell=False)
        comments += [Comment(c.line + last_row, c.column, c.text, c.standalone) for c in rest]
    return comments


HEREDOC = re.compile(r"<<(?P<dash>-)?\s*(?:'(?P<single>[^']*)'|\"(?P<double>[^\"]*)\"|\\?(?P<word>[A-Za-z_]\w*))")


def hash_comments(text: str, shell: bool = True) -> list[Comment]:
    """`#` comments of shell (`shell=True`: also `$'…'`, `${…}`, backticks, heredoc bodies) or Nginx.

    A `#` starts a comment only at the start of a word, outside quotes.
    """
    breaks = " \t;&|()" if shell else " \t;{}"
    lines = text.split("\n")
    comments: list[Comment] = []
    heredocs: list[tuple[str, bool]] = []  # pending (delimiter, strip leading tabs)
    quote = ""  # "'", '"', "`", "$'" while inside one
    braces = 0  # depth inside `${…}`, where `#` is an operator
    index = 0
    while index < len(lines):
        line = lines[index]
        j = 0
        while j < len(line):
            char = line[j]
            if quote:
                if char == "\\" and quote != "'":
                    j += 1
                elif char == quote[-1]:
                    quote = ""
            elif braces:
                if char == "\\":
                    j += 1
                elif char == "}":
                    braces -= 1
                elif char in "'\"":
                    quote = char
                elif line.startswith("${", j):
                    braces += 1
                    j += 1
            elif char == "\\":
                j += 1
            elif char in "'\"" or (shell and char == "`"):
                quote = char
            elif shell and line.startswith("$'", j):
                quote = "$'"
                j += 1
            elif shell and line.startswith("${", j):
                braces = 1
                j += 1
            elif char == "#" and (j == 0 or line[j - 1] in breaks):
                comments.append(Comment(index + 1, j + 1, line[j:], not line[:j].strip()))
                break
            elif shell and line.startswith("<<", j) and not line.startswith("<<<", j):
                match = HEREDOC.match(line, j)
                if match:
                    delimiter = match.group("single") or match.group("double") or match.group("word") or ""
                    heredocs.append((delimiter, bool(match.group("dash"))))
                    j = match.end()
                    continue
            j += 1
        index += 1
        if heredocs and not quote:
            index = _after_heredocs(lines, index, heredocs)
            heredocs = []
    return comments


def _after_heredocs(lines: list[str], index: int, heredocs: list[tuple[str, bool]]) -> int:
    """The line after the bodies of `heredocs`, which start at `index`. A delimiter that never
    comes (`$((a << b))` is no heredoc) leaves the lines to be scanned as code."""
    for delimiter, strip_tabs in heredocs:
        for end in range(index, len(lines)):
            body = lines[end].lstrip("\t") if strip_tabs else lines[end]
            if body == delimiter:
                index = end + 1
                break
        else:
            return index
    return index


def line_comments(text: str) -> list[Comment]:
    """systemd: only whole lines starting with `#` or `;` are comments (`#` after a value is part of it)."""
    comments = []
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.lstrip()
        if stripped.startswith(("#", ";")):
            comments.append(Comment(number, len(line) - len(stripped) + 1, stripped, True))
    return comments


def ini_comments(text: str) -> list[Comment]:
    """supervisord (Python's configparser with inline_comment_prefixes `;`/`#`): whole-line comments,
    and a `;` or `#` after whitespace ends a value."""
    comments = []
    for number, line in enumerate(text.split("\n"), 1):
        stripped = line.lstrip()
        if stripped.startswith(("#", ";")):
            comments.append(Comment(number, len(line) - len(stripped) + 1, stripped, True))
            continue
        match = re.search(r"\s[;#]", line)
        if match is not None:
            start = match.start() + 1
            comments.append(Comment(number, start + 1, line[start:], False))
    return comments


BLOCK_SCALAR = re.compile(r"(?:^|[:\-])\s*[|>][-+1-9]{0,2}\s*$")


def yaml_comments(text: str) -> list[Comment]:
    """YAML comments, and the shell comments inside block scalars (`run: |`, `script: |`)."""
    lines = text.split("\n")
    comments: list[Comment] = []
    index = 0
    while index < len(lines):
        line = lines[index]
        start = _yaml_comment_start(line)
        if start is not None:
            comments.append(Comment(index + 1, start + 1, line[start:], not line[:start].strip()))
        index += 1
        if not BLOCK_SCALAR.search(line[:start] if start is not None else line):
            continue
        header_indent = len(line) - len(line.lstrip(" "))
        first, indent = index, None
        while index < len(lines):
            body = lines[index]
            if body.strip():
                body_indent = len(body) - len(body.lstrip(" "))
                if indent is None and body_indent <= header_indent or indent is not None and body_indent < indent:
                    break
                indent = body_indent if indent is None else indent
            index += 1
        if indent is not None:
            block = "\n".join(body[indent:] for body in lines[first:index])
            comments += [Comment(first + c.line, c.column + indent, c.text, c.standalone)
                         for c in hash_comments(block, shell=True)]
    return comments


def _yaml_comment_start(line: str) -> int | None:
    """Where a YAML comment starts on `line`: a `#` after a space, outside a quoted scalar."""
    quote = ""
    scalar_start = True  # a quote here opens a quoted scalar; elsewhere it is a plain character
    j = 0
    while j < len(line):
        char = line[j]
        if quote:
            if quote == '"' and char == "\\":
                j += 1
            elif char == quote:
                if quote == "'" and line.startswith("''", j):
                    j += 1
                else:
                    quote = ""
        elif char == "#" and (j == 0 or line[j - 1] in " \t"):
            return j
        elif char in "'\"" and scalar_start:
            quote = char
        if char not in " \t":
            after = line[j + 1:j + 2]
            scalar_start = char in "[{," or (char in "-:?" and after in ("", " ", "\t"))
        j += 1
    return None


def js_comments(text: str) -> list[Comment]:
    """`//` and `/* */` comments of a JS file, outside strings, template literals and regexes."""
    starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]
    comments: list[Comment] = []
    templates: list[int] = []  # brace depth inside each open `${…}`
    previous = ""  # the last significant character: decides whether `/` starts a regex
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char in " \t\r\n":
            i += 1
            continue
        if text.startswith("//", i) or text.startswith("/*", i):
            if text.startswith("//", i):
                end = text.find("\n", i)
                end = n if end < 0 else end
            else:
                end = text.find("*/", i + 2)
                end = n if end < 0 else end + 2
            comments += _pieces(text, starts, i, end)
            i = end
            continue
        if char in "'\"":
            i = _skip_quoted(text, i, char)
        elif char == "`" or (char == "}" and templates and templates[-1] == 0):
            if char == "}":
                templates.pop()
            i = _skip_template(text, i + 1, templates)
        elif char == "/" and (not previous or previous in "(,=:[!&|?{};+-*%<>~^"):
            i = _skip_regex(text, i)
        else:
            if templates and char == "{":
                templates[-1] += 1
            elif templates and char == "}":
                templates[-1] -= 1
            i += 1
        previous = char
    return comments


def _skip_quoted(text: str, i: int, quote: str) -> int:
    j = i + 1
    while j < len(text) and text[j] != quote and text[j] != "\n":
        j += 2 if text[j] == "\\" else 1
    return j + 1


def _skip_template(text: str, j: int, templates: list[int]) -> int:
    """From inside a template literal to after its closing backtick, or into a `${`."""
    while j < len(text):
        if text[j] == "\\":
            j += 2
        elif text[j] == "`":
            return j + 1
        elif text.startswith("${", j):
            templates.append(0)
            return j + 2
        else:
            j += 1
    return j


def _skip_regex(text: str, i: int) -> int:
    j, in_class = i + 1, False
    while j < len(text) and text[j] != "\n":
        if text[j] == "\\":
            j += 1
        elif text[j] == "[":
            in_class = True
        elif text[j] == "]":
            in_class = False
        elif text[j] == "/" and not in_class:
            return j + 1
        j += 1
    return j


def _pieces(text: str, starts: list[int], begin: int, end: int) -> list[Comment]:
    """One Comment per line of the comment text[begin:end]."""
    pieces = []
    offset = begin
    while offset < end:
        row = bisect.bisect_right(starts, offset) - 1
        line_end = text.find("\n", offset)
        line_end = len(text) if line_end < 0 else line_end
        stop = min(end, line_end)
        alone = not text[starts[row]:offset].strip() and not text[stop:line_end].strip()
        pieces.append(Comment(row + 1, offset - starts[row] + 1, text[offset:stop], alone))
        offset = line_end + 1
    return pieces
