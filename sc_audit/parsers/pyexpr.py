"""Shared helpers to read Python source statically.

- `parse(src)`: a safety pre-check, then libcst, then positions (resolved once).
- `Parsed.span(node)` / `Parsed.text(node)`: where a node is and its source text.
- `Evaluator`: a small evaluator of constant expressions (literals, names bound
  earlier, env var defaults, CPU-count formulas, string formatting).

Nothing here imports, runs or `exec`s the audited code. libcst is imported lazily,
inside `parse`, so that importing this module stays cheap.
"""

from __future__ import annotations

import ast
import io
import re
import string
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from ..facts import ParseError
from ..source import SourceFile
from ..span import Span, Unknown

# Deeper syntax trees are refused before libcst sees them: libcst's native parser
# crashes the process (segfault) on a few thousand nested levels, takes seconds on a
# few hundred and its Python side hits the recursion limit near 400. Real code stays
# well below 40.
MAX_DEPTH = 100
# In a file CPython rejects, libcst still gets a go (it knows newer syntax) unless a
# logical line looks able to nest deeply.
MAX_TOKENS_PER_LINE = 1000

# libcst takes ~30 µs per syntax node (2 MiB of `m\n` would take a minute): a bigger file is
# refused, which bounds a Python file to a few seconds. Real modules stay far below (a 10,000-line
# module has ~100,000 nodes).
MAX_NODES = 200_000
MAX_TOKENS = 3 * MAX_NODES  # the same bound where CPython refused the file and libcst gets a go

# Values bigger than this are not built (no "x" * 10**9).
MAX_SIZE = 100_000
MAX_INT_BITS = 100_000


# --------------------------------------------------------------------------- parsing


@dataclass(frozen=True, slots=True)
class Problem:
    line: int
    column: int
    message: str
    newer_syntax_possible: bool = False  # CPython refused it; libcst may still read it


class Parsed:
    """A parsed module with its positions: libcst nodes -> Span / source text."""

    __slots__ = ("path", "module", "positions", "lines")

    def __init__(self, path: str, module: object, positions: Mapping, lines: list[str]):
        self.path = path
        self.module = module
        self.positions = positions
        self.lines = lines

    def span(self, node: object) -> Span:
        r = self.positions[node]
        return Span(self.path, r.start.line, r.start.column + 1, r.end.line, r.end.column + 1)

    def span_between(self, first: object, last: object) -> Span:
        a, b = self.positions[first], self.positions[last]
        return Span(self.path, a.start.line, a.start.column + 1, b.end.line, b.end.column + 1)

    def text(self, node: object) -> str:
        r = self.positions[node]
        (l1, c1), (l2, c2) = (r.start.line, r.start.column), (r.end.line, r.end.column)
        if l1 == l2:
            return self.lines[l1 - 1][c1:c2]
        middle = self.lines[l1 : l2 - 1]
        return "\n".join([self.lines[l1 - 1][c1:], *middle, self.lines[l2 - 1][:c2]])


def parse(src: SourceFile) -> Parsed | ParseError:
    """Parse `src` with libcst. Never raises: problems come back as a ParseError."""
    text = src.text
    if "\r" in text:  # SourceFile text is normalised already; be safe anyway
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    problem = precheck(text)
    if problem is not None and not problem.newer_syntax_possible:
        return _error(src, problem)
    try:
        import libcst
        from libcst.metadata import MetadataWrapper, PositionProvider
    except ImportError as exc:  # pragma: no cover - libcst is a dependency
        return ParseError(f"cannot read Python files: {exc}", Span(src.path, 1))
    try:
        module = libcst.parse_module(text)
        positions = _positions(MetadataWrapper(module, unsafe_skip_copy=True), PositionProvider)
    except libcst.ParserSyntaxError as exc:
        if problem is not None:  # CPython's message is the clearer one
            return _error(src, problem)
        # CPython accepts the file: a libcst limit (e.g. thousands of implicitly
        # concatenated strings), not the user's mistake.
        message = exc.message.splitlines()[0] if exc.message else "invalid syntax"
        return ParseError(f"could not read: {message}", Span(src.path, exc.raw_line, exc.raw_column + 1))
    except RecursionError:
        return ParseError("expression nested too deeply to read", Span(src.path, 1))
    except BaseException as exc:  # libcst's native parser may raise a Rust panic
        if isinstance(exc, (KeyboardInterrupt, SystemExit)):
            raise
        return ParseError(f"could not parse: {type(exc).__name__}", Span(src.path, 1))
    return Parsed(src.path, module, positions, text.split("\n"))


def _error(src: SourceFile, problem: Problem) -> ParseError:
    return ParseError(problem.message, Span(src.path, problem.line, problem.column))


def _positions(wrapper, provider) -> Mapping:
    """Positions of every node, resolved once.

    `wrapper.resolve` also runs an empty batched visit over the whole tree (about 40%
    of the time); the provider's own `_gen` skips it. Fall back if libcst changes.
    """
    try:
        return provider()._gen(wrapper)
    except (AttributeError, TypeError):
        return wrapper.resolve(provider)


def precheck(text: str) -> Problem | None:
    """Refuse, cheaply, what libcst cannot take safely: NUL bytes and deep nesting.

    CPython's own parser (C, ~1 ms per 200 lines; it only builds a tree) does the work.
    """
    if "\0" in text:
        return _position_problem(text, text.index("\0"), "file contains a NUL byte")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text)
    except (RecursionError, MemoryError):
        return Problem(1, 1, "expression nested too deeply to read")
    except SyntaxError as exc:
        retry = "too many" not in exc.msg and _tokens_look_shallow(text)
        return Problem(exc.lineno or 1, max(exc.offset or 1, 1), f"syntax error: {exc.msg}", retry)
    except Exception as exc:  # ValueError and the like
        return Problem(1, 1, f"could not parse: {exc}")
    deep_line, nodes = _shape(tree)
    if deep_line:
        return Problem(deep_line, 1, f"expression nested more than {MAX_DEPTH} levels deep")
    if nodes > MAX_NODES:
        return Problem(1, 1, f"too large to read: more than {MAX_NODES:,} syntax nodes")
    return None


def _position_problem(text: str, index: int, message: str) -> Problem:
    line = text.count("\n", 0, index) + 1
    column = index - (text.rfind("\n", 0, index) + 1) + 1
    return Problem(line, column, message)


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


def _tokens_look_shallow(text: str) -> bool:
    import tokenize

    depth = count = total = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            count += 1
            total += 1
            if total > MAX_TOKENS:
                return False
            if token.type == tokenize.OP:
                if token.string in "([{":
                    depth += 1
                elif token.string in ")]}":
                    depth -= 1
            elif token.type == tokenize.NEWLINE:
                count = 0
            if depth > MAX_DEPTH or count > MAX_TOKENS_PER_LINE:
                return False
    except Exception:
        return False
    return True


# --------------------------------------------------------------------------- helpers on nodes


def kind(node: object) -> str:
    return type(node).__name__


def dotted(node: object) -> str | None:
    """`a.b.c` for a Name/Attribute chain, else None."""
    parts = []
    while kind(node) == "Attribute":
        parts.append(node.attr.value)
        node = node.value
    if kind(node) != "Name":
        return None
    parts.append(node.value)
    return ".".join(reversed(parts))


def call_args(call: object) -> tuple[list, dict]:
    """Positional argument nodes (until a `*x`) and keyword argument nodes of a Call."""
    positional, keywords = [], {}
    for arg in call.args:
        if arg.keyword is not None:
            keywords[arg.keyword.value] = arg.value
        elif arg.star:
            break
        elif not keywords:
            positional.append(arg.value)
    return positional, keywords


def argument(call: object, index: int, *names: str) -> object | None:
    positional, keywords = call_args(call)
    for name in names:
        if name in keywords:
            return keywords[name]
    return positional[index] if 0 <= index < len(positional) else None


def import_bindings(node: object) -> list[tuple[str, str, str | None, object]]:
    """(alias, module, name, alias node) for an Import / ImportFrom statement."""
    out = []
    if kind(node) == "Import":
        for alias in node.names:
            module = dotted(alias.name) or ""
            if alias.asname is not None:
                out.append((alias.asname.name.value, module, None, alias))
            else:
                out.append((module.split(".")[0], module, None, alias))
        return out
    if kind(node.names) == "ImportStar":
        return out
    module = "." * len(node.relative) + (dotted(node.module) or "" if node.module else "")
    for alias in node.names:
        name = dotted(alias.name) or ""
        bound = alias.asname.name.value if alias.asname is not None else name
        out.append((bound, module, name, alias))
    return out


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
    "Add": "+", "Subtract": "-", "Multiply": "*", "Divide": "/",
    "FloorDivide": "//", "Modulo": "%", "Power": "**",
}  # fmt: skip
AUGMENTED_OPS = {name + "Assign": op for name, op in BINARY_OPS.items()}
COMPARE_OPS = {
    "Equal": lambda a, b: a == b,
    "NotEqual": lambda a, b: a != b,
    "LessThan": lambda a, b: a < b,
    "LessThanEqual": lambda a, b: a <= b,
    "GreaterThan": lambda a, b: a > b,
    "GreaterThanEqual": lambda a, b: a >= b,
    "In": lambda a, b: a in b,
    "NotIn": lambda a, b: a not in b,
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
    """Evaluates libcst expressions without running anything.

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
        method = getattr(self, "_e_" + kind(node), None)
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

    def _e_Integer(self, node):
        return Val(ast.literal_eval(node.value))

    _e_Float = _e_Integer
    _e_Imaginary = _e_Integer

    def _e_SimpleString(self, node):
        value = node.evaluated_value
        return Val(value) if isinstance(value, str) else self.unknown(node)

    def _e_ConcatenatedString(self, node):
        left, right = self.eval(node.left), self.eval(node.right)
        if left.known and right.known and isinstance(left.value, str) and isinstance(right.value, str):
            return Val(left.value + right.value, env=merge_env(left, right))
        return self.unknown(node, left, right)

    def _e_FormattedString(self, node):
        prefix = node.start.rstrip("'\"").replace("f", "").replace("F", "")
        quote = node.start[len(node.start.rstrip("'\"")) :]
        pieces, parts, size = [], [], 0
        for part in node.parts:
            if kind(part) == "FormattedStringText":
                text = ast.literal_eval(prefix + quote + part.value + quote)
                pieces.append(text.replace("{{", "{").replace("}}", "}"))
                continue
            val = self._formatted_expression(part)
            parts.append(val)
            if not val.known:
                return self.unknown(node, *parts)
            pieces.append(val.value)
            size += len(val.value)
            if size > MAX_SIZE:
                return self.unknown(node, *parts)
        return Val("".join(pieces), env=merge_env(*parts))

    def _formatted_expression(self, part) -> Val:
        val = self.eval(part.expression)
        if not val.known or part.equal is not None or not _plain(val.value):
            return self.unknown(part, val)
        spec = ""
        for spec_part in part.format_spec or ():
            if kind(spec_part) != "FormattedStringText":
                return self.unknown(part, val)
            spec += spec_part.value
        if _BIG_NUMBER.search(spec):
            return self.unknown(part, val)
        value = val.value
        conversion = {"r": repr, "a": ascii, "s": str}.get(part.conversion or "")
        if conversion is not None:
            value = conversion(value)
        return Val(format(value, spec), env=val.env)

    def _e_Name(self, node):
        constant = {"True": True, "False": False, "None": None}
        if node.value in constant:
            return Val(constant[node.value])
        val = self.lookup(node.value)
        return val if val is not None else self.unknown(node)

    def _e_List(self, node):
        return self._sequence(node, list)

    def _e_Tuple(self, node):
        return self._sequence(node, tuple)

    def _sequence(self, node, cls):
        vals = []
        for element in node.elements:
            if kind(element) != "Element":
                return self.unknown(node, *vals)
            vals.append(self.eval(element.value))
        if not all(v.known for v in vals):
            return self.unknown(node, *vals)
        return Val(cls(v.value for v in vals), env=merge_env(*vals))

    def _e_Dict(self, node):
        out, vals = {}, []
        for element in node.elements:
            if kind(element) != "DictElement":
                return self.unknown(node, *vals)
            key, value = self.eval(element.key), self.eval(element.value)
            vals += [key, value]
            if not (key.known and value.known) or not isinstance(key.value, PLAIN):
                return self.unknown(node, *vals)
            out[key.value] = value.value
        return Val(out, env=merge_env(*vals))

    # ---- operators

    def _e_BinaryOperation(self, node):
        left, right = self.eval(node.left), self.eval(node.right)
        op = BINARY_OPS.get(kind(node.operator))
        if op is None:
            return self.unknown(node, left, right)
        return self.binop(op, left, right, node)

    def _e_UnaryOperation(self, node):
        val = self.eval(node.expression)
        op = kind(node.operator)
        if not val.known:
            return self.unknown(node, val)
        if op == "Not":
            return Val(not val.value, env=val.env)
        if op == "Minus" and is_number(val.value):
            return Val(-val.value, env=val.env)
        if op == "Plus" and is_number(val.value):
            return Val(+val.value, env=val.env)
        return self.unknown(node, val)

    def _e_BooleanOperation(self, node):
        left = self.eval(node.left)
        is_or = kind(node.operator) == "Or"
        if left.unset and is_or:  # env var not set: None, so `or` takes the right side
            right = self.eval(node.right)
            return replace(right, env=merge_env(left, right))
        if not left.known:
            return self.unknown(node, left, self.eval(node.right))
        if bool(left.value) == is_or:  # `x or y` with x truthy, `x and y` with x falsy
            return left
        right = self.eval(node.right)
        return replace(right, env=merge_env(left, right), capped=left.capped or right.capped)

    def _e_Comparison(self, node):
        left = self.eval(node.left)
        vals, result = [left], True
        for target in node.comparisons:
            right = self.eval(target.comparator)
            vals.append(right)
            op = kind(target.operator)
            if not (left.known and right.known):
                result = None
            elif result is not None:
                result = result and _compare(op, left.value, right.value)
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
        if len(node.slice) != 1 or kind(node.slice[0].slice) != "Index":
            return self.unknown(node)
        index = self.eval(node.slice[0].slice.value)
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
        if kind(node.func) == "Attribute":
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
        if len(positional) != 1 or keywords or len(node.args) != 1:
            if name == "int" and len(positional) == 2 and len(node.args) == 2:
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
        if keywords or len(positional) != len(node.args) or not vals:
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
        if len(node.args) != 1 or len(positional) != 1:
            return self.unknown(node)
        inner = positional[0]
        if kind(inner) == "Call" and self.qualname(inner.func) == "os.sched_getaffinity":
            return Val(self.unknown(node).value, cpu=("cpu",))
        val = self.eval(inner)
        if val.known and isinstance(val.value, (str, list, tuple, dict)):
            return Val(len(val.value), env=val.env)
        return self.unknown(node, val)

    def _path_join(self, node) -> Val:
        import posixpath

        positional, keywords = call_args(node)
        vals = [self.eval(p) for p in positional]
        if keywords or len(positional) != len(node.args) or not vals:
            return self.unknown(node, *vals)
        if not all(v.known and isinstance(v.value, str) for v in vals):
            return self.unknown(node, *vals)
        return Val(posixpath.join(*(v.value for v in vals)), env=merge_env(*vals))

    def _method(self, node) -> Val:
        method = node.func.attr.value
        base = self.eval(node.func.value)
        positional, keywords = call_args(node)
        args = [self.eval(p) for p in positional]
        kwargs = {k: self.eval(v) for k, v in keywords.items()}
        vals = [base, *args, *kwargs.values()]
        if len(positional) + len(keywords) != len(node.args):  # *args / **kwargs
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


def _compare(op: str, a: object, b: object) -> object:
    if op in COMPARE_OPS:
        return COMPARE_OPS[op](a, b)
    if op in ("Is", "IsNot") and (b is None or isinstance(b, bool)):
        return (a is b) == (op == "Is")
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
