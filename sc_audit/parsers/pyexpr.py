"""Shared helpers to read Python source statically, on CPython's own `ast`.

- `parse(src)`: one `ast.parse` per file, with its size and depth checked.
- `Parsed.span(node)` / `Parsed.text(node)`: where a node is and its source text, in
  code points (as libcst, which sc-audit used before, counted them; `ast` counts UTF-8 bytes).
- `Evaluator`: a small evaluator of constant expressions (literals, names bound
  earlier, env var defaults, CPU-count formulas, string formatting).

Nothing here imports, runs or `exec`s the audited code (`ast.parse` only builds a tree).
libcst stays the tool for rewriting code (`fix.py`), never loaded to read it.
"""

from __future__ import annotations

import ast
import re
import string
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from ..facts import ParseError
from ..source import SourceFile
from ..span import Span, Unknown

# Deeper syntax trees are refused: the readers and the evaluator recurse on expressions and
# real code stays well below 40 levels.
MAX_DEPTH = 100
# A bigger file is refused (an SC001), which bounds the work on a hostile file. Real modules
# stay far below (a 10,000-line module has ~100,000 nodes).
MAX_NODES = 200_000

# Values bigger than this are not built (no "x" * 10**9).
MAX_SIZE = 100_000
MAX_INT_BITS = 100_000

OPENING, CLOSING = "([{", ")]}"


# --------------------------------------------------------------------------- parsing


class Parsed:
    """A parsed module with its source lines: `ast` nodes -> Span / source text.

    Positions are libcst's "syntactic" ones, which the facts have always carried: columns
    count code points, an expression's grouping parentheses are not part of it (nor a
    parenthesized tuple's or generator's own), a statement ends at its last token.
    """

    __slots__ = ("path", "module", "lines")

    def __init__(self, path: str, module: ast.Module, lines: list[str]):
        self.path = path
        self.module = module
        self.lines = lines

    # ---- positions: (line, column) pairs, 1-based lines, 0-based code-point columns

    def column(self, line: int, byte_offset: int) -> int:
        """A code-point column from `ast`'s UTF-8 byte offset on `line`."""
        if byte_offset <= 0 or not 0 < line <= len(self.lines):
            return max(byte_offset, 0)
        text = self.lines[line - 1]
        if text.isascii():
            return byte_offset
        return len(text.encode("utf-8")[:byte_offset].decode("utf-8", "ignore"))

    def start(self, node) -> tuple[int, int]:
        return node.lineno, self.column(node.lineno, node.col_offset)

    def end(self, node) -> tuple[int, int]:
        return node.end_lineno, self.column(node.end_lineno, node.end_col_offset)

    def range(self, node) -> tuple[int, int, int, int]:
        """Where `node` is, without the parentheses libcst left out of it."""
        (l1, c1), (l2, c2) = self.start(node), self.end(node)
        if isinstance(node, ast.GeneratorExp):
            return self._inside(node.elt, _last_of_generator(node))
        if isinstance(node, ast.Tuple) and self._wrapped(l1, c1, l2, c2):
            if not node.elts:  # `()`: an empty position after the `(`
                return l1, c1 + 1, l1, c1 + 1
            return self._inside(node.elts[0], node.elts[-1], trailing_comma=True)
        return l1, c1, l2, c2

    def _inside(self, first, last, trailing_comma: bool = False) -> tuple[int, int, int, int]:
        """From the first child to the last (each with its own parentheses, and a trailing comma
        when the node has one): a bracketed tuple's or generator's position to libcst, whose
        brackets, and the blank space and comments inside them, are not the node's."""
        l1, c1, _, _ = self._grouped(first)
        _, _, l2, c2 = self._grouped(last)
        if trailing_comma:
            line, column = self._next_token(l2, c2)
            if line <= len(self.lines) and self.lines[line - 1].startswith(",", column):
                l2, c2 = line, column + 1
        return l1, c1, l2, c2

    def _next_token(self, line: int, column: int) -> tuple[int, int]:
        """The position of the next character that is not blank space, a comment or a line
        continuation."""
        while line <= len(self.lines):
            text = self.lines[line - 1]
            while column < len(text) and text[column] in " \t\f\\":
                column += 1
            if column < len(text) and text[column] != "#":
                return line, column
            line, column = line + 1, 0
        return line, column

    def parenthesized(self, node) -> bool:
        """Whether `node` (a tuple) is written in its own parentheses: `(a, b)`, not `a, b`."""
        return self._wrapped(*self.start(node), *self.end(node))

    def _wrapped(self, l1: int, c1: int, l2: int, c2: int) -> bool:
        """Whether the text starts with `(` whose `)` is its last character."""
        text = self.slice(l1, c1, l2, c2)
        if not (text.startswith("(") and text.endswith(")")):
            return False
        return _closing(text, 0) == len(text) - 1

    def slice(self, l1: int, c1: int, l2: int, c2: int) -> str:
        lines = self.lines
        if not (0 < l1 <= l2 <= len(lines)):
            return ""
        if l1 == l2:
            return lines[l1 - 1][c1:c2]
        return "\n".join([lines[l1 - 1][c1:], *lines[l1 : l2 - 1], lines[l2 - 1][:c2]])

    def span(self, node) -> Span:
        l1, c1, l2, c2 = self.range(node)
        return Span(self.path, l1, c1 + 1, l2, c2 + 1)

    def text(self, node) -> str:
        return self.slice(*self.range(node))

    def header_span(self, node) -> Span:
        """`def name` / `async def name` / `class name`: from the keyword to the end of the name."""
        line, column = self.start(node)
        keyword = r"class" if isinstance(node, ast.ClassDef) else r"(?:async[\s\\]+)?def"
        text = self.slice(line, column, min(line + 20, len(self.lines)), 10**9)
        found = re.match(keyword + r"[\s\\]+" + re.escape(node.name), text)
        if found is None:  # pragma: no cover - the grammar puts the name there
            return Span(self.path, line, column + 1)
        end_line, end_column = advance(line, column, text[: found.end()])
        return Span(self.path, line, column + 1, end_line, end_column + 1)

    def decorator_range(self, expression) -> tuple[int, int, int, int]:
        """A decorator: from its `@` to the end of its expression (with its parentheses)."""
        line, column = self.start(expression)
        opened = 0
        while True:
            text = self.lines[line - 1][:column]
            stripped = text.rstrip(" \t\f\\")
            if stripped.endswith("("):
                opened += 1
                column = len(stripped) - 1
            elif stripped.endswith("@"):
                column = len(stripped) - 1
                break
            elif stripped == "" and line > 1:
                line -= 1
                column = len(self.lines[line - 1])
            else:  # pragma: no cover - the grammar puts the `@` there
                break
        end_line, end_column = self._after_closing(*self.end(expression), opened)
        return line, column, end_line, end_column

    def with_item_span(self, item) -> Span:
        """A `with` item: its expression and its `as` target, each with its own parentheses."""
        l1, c1, _, _ = self._grouped(item.context_expr)
        last = item.optional_vars if item.optional_vars is not None else item.context_expr
        _, _, l2, c2 = self._grouped(last)
        return Span(self.path, l1, c1 + 1, l2, c2 + 1)

    def _grouped(self, node) -> tuple[int, int, int, int]:
        """`node` with the grouping parentheses around it: `(h)`."""
        (l1, c1), (l2, c2) = self.start(node), self.end(node)
        while True:
            before = self.lines[l1 - 1][:c1].rstrip(" \t\f")
            after = self.lines[l2 - 1][c2:]
            stripped = after.lstrip(" \t\f")
            if not (before.endswith("(") and stripped.startswith(")")):
                return l1, c1, l2, c2
            c1 = len(before) - 1
            c2 = c2 + len(after) - len(stripped) + 1

    def _after_closing(self, line: int, column: int, count: int) -> tuple[int, int]:
        """The position after `count` closing parentheses that follow (line, column)."""
        while count > 0 and line <= len(self.lines):
            text = self.lines[line - 1]
            while column < len(text) and text[column] in " \t\f\\":
                column += 1
            if column < len(text) and text[column] == ")":
                column += 1
                count -= 1
            elif column >= len(text) or text[column] == "#":
                line, column = line + 1, 0
            else:  # pragma: no cover - the grammar closes them there
                break
        return line, column


def _last_of_generator(node: ast.GeneratorExp):
    last = node.generators[-1]
    return last.ifs[-1] if last.ifs else last.iter


def advance(line: int, column: int, text: str) -> tuple[int, int]:
    newlines = text.count("\n")
    if not newlines:
        return line, column + len(text)
    return line + newlines, len(text) - text.rfind("\n") - 1


def _closing(text: str, index: int) -> int:
    """Index of the bracket that closes the one at `index`, skipping strings and comments;
    -1 when it is not closed."""
    depth, i, n = 0, index, len(text)
    while i < n:
        c = text[i]
        if c in OPENING:
            depth += 1
        elif c in CLOSING:
            depth -= 1
            if depth == 0:
                return i
        elif c == "#":
            i = text.find("\n", i)
            if i < 0:
                return -1
        elif c in "'\"":
            i = _string_end(text, i)
            if i < 0:
                return -1
            continue
        i += 1
    return -1


def _string_end(text: str, i: int) -> int:
    """Index after the string literal whose quote starts at `i` (-1 when unterminated)."""
    quote = text[i] * 3 if text.startswith(text[i] * 3, i) else text[i]
    k, n = i + len(quote), len(text)
    while k < n:
        if text[k] == "\\":
            k += 2
        elif text.startswith(quote, k):
            return k + len(quote)
        else:
            k += 1
    return -1


def string_tokens(text: str) -> list[str]:
    """The string literals of an (implicitly concatenated) string's source text."""
    tokens, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\f\n\\":
            i += 1
        elif c == "#":
            i = text.find("\n", i)
            i = n if i < 0 else i
        else:
            j = i
            while j < n and text[j] not in "'\"":
                j += 1
            end = _string_end(text, j) if j < n else -1
            if end < 0:
                return [text[i:]]
            tokens.append(text[i:end])
            i = end
    return tokens


def parse(src: SourceFile) -> Parsed | ParseError:
    """Parse `src` with CPython's parser (once). Never raises: problems come back as a ParseError.

    The grammar is this interpreter's: a file it refuses is one Gunicorn's Python refuses too
    when it is this version or older.
    """
    text = src.text
    if "\r" in text:  # SourceFile text is normalised already; be safe anyway
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in text:
        return _position_error(src, text, text.index("\0"), "file contains a NUL byte")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (RecursionError, MemoryError):
        return ParseError("expression nested too deeply to read", Span(src.path, 1))
    except SyntaxError as exc:
        return ParseError(f"syntax error: {exc.msg}", Span(src.path, exc.lineno or 1, max(exc.offset or 1, 1)))
    except Exception as exc:  # ValueError and the like
        return ParseError(f"could not parse: {exc}", Span(src.path, 1))
    deep_line, nodes = _shape(tree)
    if deep_line:
        return ParseError(f"expression nested more than {MAX_DEPTH} levels deep", Span(src.path, deep_line))
    if nodes > MAX_NODES:
        return ParseError(f"too large to read: more than {MAX_NODES:,} syntax nodes", Span(src.path, 1))
    return Parsed(src.path, tree, text.split("\n"))


def _position_error(src: SourceFile, text: str, index: int, message: str) -> ParseError:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return ParseError(message, Span(src.path, line, column))


def _shape(tree: ast.AST) -> tuple[int, int]:
    """(line of the first node deeper than MAX_DEPTH, else 0; number of nodes), iteratively."""
    stack = [(tree, 1, 1)]
    children = ast.iter_child_nodes
    nodes = 0
    while stack:
        node, depth, line = stack.pop()
        nodes += 1
        line = getattr(node, "lineno", line)
        if depth > MAX_DEPTH:
            return line, nodes
        for child in children(node):
            stack.append((child, depth + 1, line))
    return 0, nodes


# --------------------------------------------------------------------------- helpers on nodes

# One name for the async and plain forms: `async def` is read as `def`.
_KINDS = {ast.AsyncFunctionDef: "FunctionDef", ast.AsyncFor: "For", ast.AsyncWith: "With"}


def kind(node: object) -> str:
    cls = type(node)
    return _KINDS.get(cls) or cls.__name__


def name_of(node: object) -> str | None:
    """The identifier of a Name, also of the `True`/`False`/`None` keywords (names to libcst)."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, bool)):
        return str(node.value)
    return None


def dotted(node: object) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    name = name_of(node)
    if name is None:
        return None
    parts.append(name)
    return ".".join(reversed(parts))


def arguments(call: ast.Call) -> list:
    """A call's arguments in source order: expressions, `*x` (Starred), `k=v` and `**x` (keyword)."""
    if not call.keywords:
        return list(call.args)
    if not call.args:
        return list(call.keywords)
    return sorted([*call.args, *call.keywords], key=lambda n: (n.lineno, n.col_offset))


def count_args(call: ast.Call) -> int:
    return len(call.args) + len(call.keywords)


def call_args(call: ast.Call) -> tuple[list, dict]:
    """Positional argument nodes (until a `*x` or `**x`) and keyword argument nodes of a Call."""
    positional, keywords = [], {}
    for arg in arguments(call):
        if isinstance(arg, ast.keyword):
            if arg.arg is None:
                break
            keywords[arg.arg] = arg.value
        elif isinstance(arg, ast.Starred):
            break
        elif not keywords:
            positional.append(arg)
    return positional, keywords


def argument(call: ast.Call, index: int, *names: str) -> ast.expr | None:
    positional, keywords = call_args(call)
    for name in names:
        if name in keywords:
            return keywords[name]
    return positional[index] if 0 <= index < len(positional) else None


def import_bindings(node) -> list[tuple[str, str, str | None, ast.alias]]:
    """(alias, module, name, alias node) for an Import / ImportFrom statement."""
    out = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            bound = alias.asname if alias.asname is not None else alias.name.split(".")[0]
            out.append((bound, alias.name, None, alias))
        return out
    if is_star_import(node):
        return out
    module = from_module(node)
    for alias in node.names:
        out.append((alias.asname if alias.asname is not None else alias.name, module, alias.name, alias))
    return out


def is_star_import(node) -> bool:
    return isinstance(node, ast.ImportFrom) and node.names[0].name == "*"


def from_module(node: ast.ImportFrom) -> str:
    """The module of `from MODULE import ...` as written: "." * level + dotted name."""
    return "." * node.level + (node.module or "")


def qualified_import(module: str, name: str | None) -> str:
    """What an imported alias stands for: "os" or "multiprocessing.cpu_count"."""
    if name is None:
        return module
    return f"{module}.{name}" if module and not module.endswith(".") else module + name


# --------------------------------------------------------------------------- evaluator


@dataclass(frozen=True, slots=True)
class Val:
    """An evaluated expression.

    `value`: plain value, or Unknown. `cpu`: formula over ("cpu",) when the value
    depends on the CPU count. `env`: env vars read. `unset`: the value is an env var
    without default (None when the variable is not set), so `x or y` gives y.
    """

    value: object
    cpu: tuple | None = None
    env: tuple[str, ...] = ()
    capped: bool = False
    unset: bool = False

    @property
    def known(self) -> bool:
        return not isinstance(self.value, Unknown)


ENV_GET = frozenset({"os.getenv", "os.environ.get", "environ.get", "os.environ.setdefault"})
ENV_MAPPING = frozenset({"os.environ", "environ"})
CPU_COUNT = frozenset({"multiprocessing.cpu_count", "os.cpu_count", "psutil.cpu_count"})
CPU_FORMULA_OPS = frozenset({"+", "-", "*", "//", "/"})
BINARY_OPS = {
    ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.FloorDiv: "//", ast.Mod: "%", ast.Pow: "**",
}  # fmt: skip
COMPARE_OPS = {
    ast.Eq: lambda a, b: a == b,
    ast.NotEq: lambda a, b: a != b,
    ast.Lt: lambda a, b: a < b,
    ast.LtE: lambda a, b: a <= b,
    ast.Gt: lambda a, b: a > b,
    ast.GtE: lambda a, b: a >= b,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
STR_METHODS = frozenset({"lower", "upper", "strip", "lstrip", "rstrip", "title", "split", "replace"})
PLAIN = (str, int, float, bool, type(None))
_BIG_NUMBER = re.compile(r"\d{5,}|\*")


def merge_env(*vals: Val) -> tuple[str, ...]:
    out: list[str] = []
    for val in vals:
        out.extend(name for name in val.env if name not in out)
    return tuple(out)


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def same_value(a: Val, b: Val) -> bool:
    if not (a.known and b.known):
        return False
    return type(a.value) is type(b.value) and a.value == b.value and a.cpu == b.cpu


def _plain_size(value: object) -> int | None:
    """Printed size estimate of a plain value; None when not plain or over MAX_SIZE.

    Iterative with a budget: shared references ([a] * 50000) cannot make it slow.
    """
    total, stack = 0, [value]
    while stack:
        item = stack.pop()
        total += 2
        if isinstance(item, str):
            total += len(item)
        elif isinstance(item, (bool, type(None), float)):
            total += 5
        elif isinstance(item, int):
            total += item.bit_length() // 3 + 1
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        else:
            return None
        if total > MAX_SIZE or len(stack) > MAX_SIZE:
            return None
    return total


def _plain(value: object) -> bool:
    return _plain_size(value) is not None


def _too_big(value: object) -> bool:
    if isinstance(value, (str, list, tuple, dict)):
        return len(value) > MAX_SIZE
    if isinstance(value, int):
        return value.bit_length() > MAX_INT_BITS
    return False


class Evaluator:
    """Evaluates `ast` expressions without running anything.

    `lookup(name)` gives the Val of a name bound earlier in the file (None: unbound);
    `imports` maps an alias to what it stands for ("mp" -> "multiprocessing").
    """

    def __init__(
        self,
        parsed: Parsed,
        lookup: Callable[[str], Val | None],
        imports: Mapping[str, str],
    ):
        self.parsed = parsed
        self.lookup = lookup
        self.imports = imports

    # ---- entry points

    def eval(self, node: object) -> Val:
        method = getattr(self, "_e_" + type(node).__name__, None)
        if method is None:
            return self.unknown(node)
        try:
            val = method(node)
        except Exception:  # a Python operation on plain values failed: 1 / 0, "a" + 1
            return self.unknown(node)
        if val.known and _too_big(val.value):
            return self.unknown(node, val)
        return val

    def unknown(self, node: object, *parts: Val, cpu: tuple | None = None) -> Val:
        text = self.parsed.text(node)
        return Val(
            Unknown(text, self.parsed.span(node)),
            cpu=cpu,
            env=merge_env(*parts),
            capped=any(p.capped for p in parts),
        )

    def qualname(self, node: object) -> str | None:
        """What a Name/Attribute chain refers to, through imports ("mp.cpu_count" ->
        "multiprocessing.cpu_count"). None when its root is a name bound in the file."""
        path = dotted(node)
        if path is None:
            return None
        root, _, rest = path.partition(".")
        if root in self.imports:
            base = self.imports[root]
        elif self.lookup(root) is not None:
            return None
        else:
            base = root
        return f"{base}.{rest}" if rest else base

    def binop(self, op: str, left: Val, right: Val, node: object) -> Val:
        env, capped = merge_env(left, right), left.capped or right.capped
        if left.cpu is not None or right.cpu is not None:
            a, b = _formula_term(left), _formula_term(right)
            if op not in CPU_FORMULA_OPS or a is None or b is None:
                return self.unknown(node, left, right)
            return replace(self.unknown(node, left, right), cpu=(op, a, b))
        if not (left.known and right.known):
            return self.unknown(node, left, right)
        try:
            value = _apply(op, left.value, right.value)
        except Exception:  # "a" + 1, 1 / 0: not a value
            value = Unknown("")
        if isinstance(value, Unknown) or _too_big(value):
            return self.unknown(node, left, right)
        return Val(value, env=env, capped=capped)

    # ---- literals

    def _e_Constant(self, node):
        value = node.value
        if isinstance(value, str):
            return self._string(node)
        if isinstance(value, (bytes, type(Ellipsis))):
            return self.unknown(node)
        return Val(value)  # int, float, complex, True, False, None

    def _e_JoinedStr(self, node):
        return self._string(node)

    def _string(self, node) -> Val:
        """A string literal, an f-string, or several of them implicitly concatenated (which
        `ast` joins into one node): each literal is evaluated, then they are joined."""
        text = self.parsed.text(node)
        tokens = string_tokens(text)
        if len(tokens) <= 1:
            return self._one_string(node, text)
        vals = [self._token(token) for token in tokens]
        if all(v.known and isinstance(v.value, str) for v in vals):
            return Val("".join(v.value for v in vals), env=merge_env(*vals))
        return self.unknown(node, *vals)

    def _token(self, token: str) -> Val:
        """One literal of a concatenation, read on its own (only its value and env are used)."""
        try:
            node = ast.parse(token.lstrip(), mode="eval").body
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            return Val(Unknown(token))
        parsed = Parsed(self.parsed.path, self.parsed.module, token.lstrip().split("\n"))
        return Evaluator(parsed, self.lookup, self.imports).eval(node)

    def _one_string(self, node, text: str) -> Val:
        if isinstance(node, ast.Constant):
            return Val(node.value)
        prefix, quote, raw_pieces, debug = _fstring_parts(text)
        pieces, parts, size, index = [], [], 0, 0
        for part in node.values:
            if isinstance(part, ast.Constant):
                raw = raw_pieces[index] if index < len(raw_pieces) else ""
                if raw.endswith(("\\", quote[:1])) and not _text_reads(prefix, quote, raw):
                    return self.unknown(node)
                pieces.append(part.value)
                continue
            val = self._formatted_value(part, index < len(debug) and debug[index])
            index += 1
            parts.append(val)
            if not val.known:
                return self.unknown(node, *parts)
            pieces.append(val.value)
            size += len(val.value)
            if size > MAX_SIZE:
                return self.unknown(node, *parts)
        return Val("".join(pieces), env=merge_env(*parts))

    def _formatted_value(self, part: ast.FormattedValue, debug: bool) -> Val:
        """One `{expression!conversion:spec}` of an f-string; `{x=}` is left unknown."""
        val = self.eval(part.value)
        if not val.known or debug or not _plain(val.value):
            return _part_unknown(val)
        spec = ""
        for spec_part in part.format_spec.values if part.format_spec is not None else ():
            if not isinstance(spec_part, ast.Constant):
                return _part_unknown(val)
            spec += spec_part.value
        if _BIG_NUMBER.search(spec):
            return _part_unknown(val)
        value = val.value
        conversion = {114: repr, 97: ascii, 115: str}.get(part.conversion)
        if conversion is not None:
            value = conversion(value)
        return Val(format(value, spec), env=val.env)

    def _e_Name(self, node):
        val = self.lookup(node.id)
        return val if val is not None else self.unknown(node)

    def _e_List(self, node):
        return self._sequence(node, list)

    def _e_Tuple(self, node):
        return self._sequence(node, tuple)

    def _sequence(self, node, cls):
        vals = []
        for element in node.elts:
            if isinstance(element, ast.Starred):
                return self.unknown(node, *vals)
            vals.append(self.eval(element))
        if not all(v.known for v in vals):
            return self.unknown(node, *vals)
        return Val(cls(v.value for v in vals), env=merge_env(*vals))

    def _e_Dict(self, node):
        out, vals = {}, []
        for key_node, value_node in zip(node.keys, node.values, strict=True):
            if key_node is None:  # `**other`
                return self.unknown(node, *vals)
            key, value = self.eval(key_node), self.eval(value_node)
            vals += [key, value]
            if not (key.known and value.known) or not isinstance(key.value, PLAIN):
                return self.unknown(node, *vals)
            out[key.value] = value.value
        return Val(out, env=merge_env(*vals))

    # ---- operators

    def _e_BinOp(self, node):
        left, right = self.eval(node.left), self.eval(node.right)
        op = BINARY_OPS.get(type(node.op))
        if op is None:
            return self.unknown(node, left, right)
        return self.binop(op, left, right, node)

    def _e_UnaryOp(self, node):
        val = self.eval(node.operand)
        op = type(node.op)
        if not val.known:
            return self.unknown(node, val)
        if op is ast.Not:
            return Val(not val.value, env=val.env)
        if op is ast.USub and is_number(val.value):
            return Val(-val.value, env=val.env)
        if op is ast.UAdd and is_number(val.value):
            return Val(+val.value, env=val.env)
        return self.unknown(node, val)

    def _e_BoolOp(self, node):
        """`a or b or c` as ((a or b) or c). An unknown part-way result is only ever part of the
        whole's unknown, so the whole node stands for the parts (its text is not kept)."""
        is_or = isinstance(node.op, ast.Or)
        left = self.eval(node.values[0])
        for right_node in node.values[1:]:
            left = self._boolean(node, left, right_node, is_or)
        return left

    def _boolean(self, node, left: Val, right_node, is_or: bool) -> Val:
        if left.unset and is_or:  # env var not set: None, so `or` takes the right side
            right = self.eval(right_node)
            return replace(right, env=merge_env(left, right))
        if not left.known:
            return self.unknown(node, left, self.eval(right_node))
        if bool(left.value) == is_or:  # `x or y` with x truthy, `x and y` with x falsy
            return left
        right = self.eval(right_node)
        return replace(right, env=merge_env(left, right), capped=left.capped or right.capped)

    def _e_Compare(self, node):
        left = self.eval(node.left)
        vals, result = [left], True
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            vals.append(right)
            if not (left.known and right.known):
                result = None
            elif result is not None:
                result = result and _compare(type(op), left.value, right.value)
            left = right
        if result is None or isinstance(result, Unknown):
            capped = any(v.cpu is not None for v in vals)
            return replace(self.unknown(node, *vals), capped=capped or any(v.capped for v in vals))
        return Val(bool(result), env=merge_env(*vals))

    def _e_IfExp(self, node):
        test = self.eval(node.test)
        if test.known and not test.env:
            chosen = self.eval(node.body if test.value else node.orelse)
            return replace(chosen, capped=chosen.capped or test.capped)
        body, orelse = self.eval(node.body), self.eval(node.orelse)
        if same_value(body, orelse):
            return replace(body, env=merge_env(test, body, orelse))
        return self.unknown(node, test, body, orelse)

    def _e_Subscript(self, node):
        index_node = node.slice
        if isinstance(index_node, ast.Tuple) and not self.parsed.parenthesized(index_node):
            # `x[a, b]` is not read; `x[a,]` is read as `x[a]` (as libcst did)
            if len(index_node.elts) != 1 or isinstance(index_node.elts[0], ast.Starred):
                return self.unknown(node)
            index_node = index_node.elts[0]
        if isinstance(index_node, (ast.Slice, ast.Starred)):
            return self.unknown(node)
        index = self.eval(index_node)
        if self.qualname(node.value) in ENV_MAPPING:  # os.environ["X"]: no default
            env = (index.value,) if isinstance(index.value, str) else ()
            return replace(self.unknown(node, index), env=merge_env(index, Val(None, env=env)))
        base = self.eval(node.value)
        if not (base.known and index.known):
            return self.unknown(node, base, index)
        return Val(base.value[index.value], env=merge_env(base, index))

    # ---- calls

    def _e_Call(self, node):
        name = self.qualname(node.func)
        if name in ENV_GET:
            return self._env_get(node)
        if name in CPU_COUNT:
            return Val(self.unknown(node).value, cpu=("cpu",))
        if name in ("int", "float", "str", "bool"):
            return self._convert(node, name)
        if name in ("min", "max"):
            return self._min_max(node, name)
        if name == "len":
            return self._len(node)
        if name == "os.path.join":
            return self._path_join(node)
        if isinstance(node.func, ast.Attribute):
            return self._method(node)
        return self.unknown(node)

    def _env_get(self, node) -> Val:
        key_node = argument(node, 0, "key")
        key = self.eval(key_node) if key_node is not None else Val(None)
        env = (key.value,) if isinstance(key.value, str) else ()
        default_node = argument(node, 1, "default")
        if default_node is None:
            unknown = self.unknown(node, key)
            return replace(unknown, env=merge_env(key, Val(None, env=env)), unset=True)
        default = self.eval(default_node)
        return replace(default, env=merge_env(key, Val(None, env=env), default))

    def _convert(self, node, name) -> Val:
        positional, keywords = call_args(node)
        total = count_args(node)
        if len(positional) != 1 or keywords or total != 1:
            if name == "int" and len(positional) == 2 and total == 2:
                return self._int_base(node, positional)
            return self.unknown(node, *(self.eval(p) for p in positional))
        val = self.eval(positional[0])
        if val.cpu is not None and name in ("int", "float"):
            cpu = val.cpu if name == "float" or _integral(val.cpu) else ("//", val.cpu, 1)
            return replace(self.unknown(node, val), cpu=cpu)
        if not val.known or not _plain(val.value):
            return self.unknown(node, val)
        value = val.value
        converter = {"int": int, "float": float, "str": str, "bool": bool}[name]
        if name == "int" and isinstance(value, str) and len(value) > 100:
            return self.unknown(node, val)
        return Val(converter(value), env=val.env, capped=val.capped)

    def _int_base(self, node, positional) -> Val:
        val, base = self.eval(positional[0]), self.eval(positional[1])
        if val.known and base.known and isinstance(val.value, str) and len(val.value) <= 100:
            return Val(int(val.value, base.value), env=merge_env(val, base))
        return self.unknown(node, val, base)

    def _min_max(self, node, name) -> Val:
        positional, keywords = call_args(node)
        vals = [self.eval(p) for p in positional]
        capped = name == "min" or any(v.capped for v in vals)
        if keywords or len(positional) != count_args(node) or not vals:
            return replace(self.unknown(node, *vals), capped=capped)
        if len(vals) == 1 and vals[0].known and isinstance(vals[0].value, (list, tuple)):
            vals = [Val(item, env=vals[0].env) for item in vals[0].value]
            if not vals:
                return replace(self.unknown(node), capped=capped)
        if any(v.cpu is not None for v in vals):
            terms = [_formula_term(v) for v in vals]
            if any(t is None for t in terms):
                return replace(self.unknown(node, *vals), capped=capped)
            formula = terms[0]
            for term in terms[1:]:
                formula = (name, formula, term)
            return replace(self.unknown(node, *vals), cpu=formula, capped=capped)
        if not all(v.known and is_number(v.value) for v in vals):
            return replace(self.unknown(node, *vals), capped=capped)
        pick = min if name == "min" else max
        return Val(pick(v.value for v in vals), env=merge_env(*vals), capped=capped)

    def _len(self, node) -> Val:
        positional, _ = call_args(node)
        if count_args(node) != 1 or len(positional) != 1:
            return self.unknown(node)
        inner = positional[0]
        if isinstance(inner, ast.Call) and self.qualname(inner.func) == "os.sched_getaffinity":
            return Val(self.unknown(node).value, cpu=("cpu",))
        val = self.eval(inner)
        if val.known and isinstance(val.value, (str, list, tuple, dict)):
            return Val(len(val.value), env=val.env)
        return self.unknown(node, val)

    def _path_join(self, node) -> Val:
        import posixpath

        positional, keywords = call_args(node)
        vals = [self.eval(p) for p in positional]
        if keywords or len(positional) != count_args(node) or not vals:
            return self.unknown(node, *vals)
        if not all(v.known and isinstance(v.value, str) for v in vals):
            return self.unknown(node, *vals)
        return Val(posixpath.join(*(v.value for v in vals)), env=merge_env(*vals))

    def _method(self, node) -> Val:
        method = node.func.attr
        base = self.eval(node.func.value)
        positional, keywords = call_args(node)
        args = [self.eval(p) for p in positional]
        kwargs = {k: self.eval(v) for k, v in keywords.items()}
        vals = [base, *args, *kwargs.values()]
        if len(positional) + len(keywords) != count_args(node):  # *args / **kwargs
            return self.unknown(node, *vals)
        if not all(v.known for v in vals) or not isinstance(base.value, str):
            return self.unknown(node, *vals)
        plain_args = [a.value for a in args]
        plain_kwargs = {k: v.value for k, v in kwargs.items()}
        if method == "format":
            value = _str_format(base.value, plain_args, plain_kwargs)
        elif method in STR_METHODS and _simple_args(base.value, plain_args, plain_kwargs):
            value = getattr(base.value, method)(*plain_args)
        else:
            value = Unknown("")
        if isinstance(value, Unknown):
            return self.unknown(node, *vals)
        return Val(value, env=merge_env(*vals))


def _part_unknown(val: Val) -> Val:
    """An unknown part of a bigger expression: only its env vars and cap are kept."""
    return Val(Unknown(""), env=merge_env(val), capped=val.capped)


def _fstring_parts(text: str) -> tuple[str, str, list[str], list[bool]]:
    """An f-string literal's prefix (without the f), quote, the raw text between its replacement
    fields (`{{` kept) and, for each field in order, whether it is `{x=}`."""
    i, n = 0, len(text)
    while i < n and text[i] not in "'\"":
        i += 1
    if i >= n:
        return "", '"', [], []
    prefix = text[:i].replace("f", "").replace("F", "")
    quote = text[i] * 3 if text.startswith(text[i] * 3, i) else text[i:i + 1]
    i += len(quote)
    end = max(i, n - len(quote))
    pieces, fields, start = [], [], i
    while i < end:
        if text.startswith("{{", i) or text.startswith("}}", i):
            i += 2
        elif text[i] == "\\":  # an escape; `\N{NAME}` holds braces, `\{` is a backslash and a field
            if text.startswith("N{", i + 1) and "r" not in prefix.lower():
                i = text.find("}", i) + 1 or end
            else:
                i += 1 if text[i + 1 : i + 2] in ("{", "}") else 2
        elif text[i] == "{":
            pieces.append(text[start:i])
            debug, i = _field(text, i + 1)
            fields.append(debug)
            start = i
        else:
            i += 1
    pieces.append(text[start:end])
    return prefix, quote, pieces, fields


def _text_reads(prefix: str, quote: str, raw: str) -> bool:
    """Whether the text between two fields reads as a string literal on its own: how libcst's
    readers decoded it (`f\"\"\"say "{x}\"\"\"`'s `say "` did not, so its value was Unknown)."""
    try:
        ast.literal_eval(prefix + quote + raw + quote)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


def _field(text: str, i: int) -> tuple[bool, int]:
    """(whether the field's expression ends with `=`, index after the field's `}`)."""
    n, depth, debug = len(text), 0, False
    while i < n:  # the expression
        c = text[i]
        if c in "'\"":
            end = _string_end(text, i)
            i = n if end < 0 else end
            continue
        if c in OPENING:
            depth += 1
        elif c in CLOSING and depth > 0:
            depth -= 1
        elif depth == 0 and c == "=" and text[i - 1] not in "=!<>" and not text.startswith("==", i):
            debug = True
        elif depth == 0 and (c in ":}" or (c == "!" and not text.startswith("!=", i))):
            break
        i += 1
    depth = 1
    while i < n and depth:  # conversion and spec, which may hold fields of their own
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
        i += 1
    return debug, i


def _simple_args(text: str, args: list, kwargs: dict) -> bool:
    if kwargs or not all(isinstance(a, (str, int)) and not isinstance(a, bool) for a in args):
        return False
    grown = max((len(a) for a in args if isinstance(a, str)), default=0)
    return len(text) * (grown + 1) <= MAX_SIZE


def _formula_term(val: Val) -> object | None:
    """A CPU formula, or a numeric constant, as a term of a bigger formula."""
    if val.cpu is not None:
        return val.cpu
    if val.known and is_number(val.value):
        return val.value
    return None


def _integral(formula: object) -> bool:
    """True when a formula always gives an int (no `/`, no float constants)."""
    if isinstance(formula, tuple):
        if formula and formula[0] == "/":
            return False
        return all(_integral(item) for item in formula[1:])
    return not isinstance(formula, float)


def _apply(op: str, a: object, b: object) -> object:
    """`a op b` on plain values, refusing what would be huge. Unknown when refused."""
    refused = Unknown("")
    if op == "%" and isinstance(a, str):
        return _percent_format(a, b)
    if op == "**":
        if not (is_number(a) and is_number(b)) or abs(b) > 64 or abs(a) > 2**64:
            return refused
    if op == "*":
        if isinstance(a, int) and isinstance(b, (str, list, tuple)):
            a, b = b, a
        if isinstance(a, (str, list, tuple)) and isinstance(b, int) and len(a) * b > MAX_SIZE:
            return refused
    if op == "+" and isinstance(a, (str, list, tuple)) and isinstance(b, (str, list, tuple)):
        if len(a) + len(b) > MAX_SIZE:
            return refused
    if isinstance(a, dict) or isinstance(b, dict):
        return refused
    operations = {
        "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
        "//": lambda: a // b, "%": lambda: a % b, "**": lambda: a**b,
    }  # fmt: skip
    return operations[op]()


def _compare(op: type, a: object, b: object) -> object:
    if op in COMPARE_OPS:
        return COMPARE_OPS[op](a, b)
    if op in (ast.Is, ast.IsNot) and (b is None or isinstance(b, bool)):
        return (a is b) == (op is ast.Is)
    return Unknown("")


def _percent_format(fmt: str, args: object) -> object:
    if _BIG_NUMBER.search(fmt) or _plain_size(args) is None:
        return Unknown("")
    return fmt % args


def _str_format(fmt: str, args: list, kwargs: dict) -> object:
    if not _plain(args) or not _plain(kwargs):
        return Unknown("")
    sizes = [_plain_size(arg) for arg in [*args, *kwargs.values()]]
    if None in sizes:
        return Unknown("")
    fields = 0
    for _, field, spec, _ in string.Formatter().parse(fmt):
        if field is None:
            continue
        fields += 1
        if field and not (field.isdigit() or field.isidentifier()):
            return Unknown("")  # no {0.attr} or {0[key]}
        if spec and ("{" in spec or _BIG_NUMBER.search(spec)):
            return Unknown("")
    if len(fmt) + fields * max(sizes, default=0) > MAX_SIZE:
        return Unknown("")
    return fmt.format(*args, **kwargs)
