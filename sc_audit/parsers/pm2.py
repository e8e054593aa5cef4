"""PM2 ecosystem files (JS, JSON, YAML), read statically into Pm2Facts.

Nothing is executed: JS and JSON are parsed with tree-sitter and a small evaluator of
literals turns the tree into values; what it cannot know becomes Unknown. YAML is read
with `yaml.compose`, which keeps line numbers.

PM2 itself takes `config.apps` when present, else the whole config (an array of apps
or one app object); this parser follows it.

Paths built from `__dirname` (`path.join(__dirname, 'a')`) come out as "a": relative to
the config file's folder. A relative path written as a literal is, for PM2, relative to
the directory `pm2 start` runs in (Common.prepareAppConf), usually the same folder.
"""

from __future__ import annotations

import bisect
import math
import posixpath
import re

from ..facts import ParseError, Pm2App, Pm2Facts, ShellSnippet
from ..source import SourceFile
from ..span import Located, Span, Unknown

YAML_SUFFIXES = (".yml", ".yaml")
DEPLOY_HOOKS = ("pre-setup", "post-setup", "pre-deploy-local", "pre-deploy", "post-deploy")
SNIPPET_CONTEXT = "pm2-post-deploy"
# Values nested deeper than this become Unknown: keeps recursion far from Python's limit.
MAX_DEPTH = 64
# Keys that only a PM2 app object carries (to recognise a top-level single-app JSON).
PM2_ONLY_KEYS = frozenset(
    "exec_mode instances exec_interpreter interpreter interpreter_args node_args "
    "max_memory_restart autorestart merge_logs log_date_format env_production "
    "error_file out_file kill_timeout".split()
)
PATH_MODULES = ("path", "node:path")
JSON_ROOTS = ("object", "array", "parenthesized_expression")
DECLARATIONS = ("lexical_declaration", "variable_declaration")
PATH_FUNCTIONS = ("join", "resolve", "dirname")
# ESM's stand-in for __dirname: dirname(fileURLToPath(import.meta.url))
ESM_FILE = re.compile(r"^(\w+\.)?fileURLToPath\(\s*import\.meta\.url\s*\)$")
# Bounds against inputs built to blow up (doubling strings, arrays of arrays of aliases).
MAX_ITEMS = 10_000
MAX_STRING = 1_000_000
# What all fields of one file may expand to together (a shared value counts at each use).
MAX_EXPANDED = 200_000
_CONTINUATION_BYTES = bytes(range(0x80, 0xC0))

_js_parser = None


def parse(src: SourceFile) -> Pm2Facts:
    """Read one ecosystem file. Never raises: problems become ParseError."""
    facts = Pm2Facts(path=src.path)
    try:
        root = _read_root(src.path, src.text, facts.errors)
        if root is not None:
            _collect(root, src, facts)
    except Exception as exc:  # the safety net of "never raises"; a bug, if ever seen
        facts.errors.append(ParseError(f"PM2 file could not be read: {exc}", Span(src.path, 1)))
    return facts


def looks_like_ecosystem(path: str, text: str) -> bool:
    """True when a JSON/YAML (or JS) file is a PM2 ecosystem: a top-level `apps` list.

    Also counted: a JSON object (or array of objects) with `script` and a PM2-only key,
    a "process file" PM2 accepts without `apps`; and a deploy-only file with hooks.
    """
    if not any(word in text for word in ("apps", "script", "deploy")):
        return False
    if path.lower().endswith(YAML_SUFFIXES) and not re.search(r"(?m)^[\"']?(apps|deploy)[\"']?\s*:", text):
        return False
    try:
        root = _read_root(path, text, [])
    except Exception:  # as in parse(): never raise during discovery
        return False
    if isinstance(root, _Obj) and "apps" in root:
        return isinstance(root["apps"], (_Arr, Unknown))
    if isinstance(root, _Obj) and isinstance(root.get("deploy"), _Obj):
        targets = [t for t in root["deploy"].values() if isinstance(t, _Obj)]
        return any(hook in target for target in targets for hook in DEPLOY_HOOKS)
    apps = _process_file_apps(root)
    return bool(apps) and bool(PM2_ONLY_KEYS & apps[0].keys())


# --------------------------------------------------------------------------- values


class _Obj(dict):
    """An object value that remembers where it and each of its values were written."""

    def __init__(self, span: Span) -> None:
        super().__init__()
        self.span = span
        self.spans: dict[str, Span] = {}

    def put(self, key: str, value: object, span: Span) -> None:
        self[key] = value  # a re-defined key keeps its first place, as in JS
        self.spans[key] = span


class _Arr(list):
    """An array value with the span of each element, and its unreadable `...spreads`."""

    def __init__(self, span: Span) -> None:
        super().__init__()
        self.span = span
        self.spans: list[Span] = []
        self.unknown_spreads: list[Unknown] = []

    def add(self, value: object, span: Span) -> None:
        self.append(value)
        self.spans.append(span)


class _Plainer:
    """Turns evaluated values into plain facts, each shared value once.

    Apps may share one nested value (`const c = [b, b, …]; {f1: c, f2: c, …}` or YAML `*c`):
    its size and its plain copy are computed once per value identity (the values live as long
    as this object), and what all fields of the file expand to together is bounded by
    MAX_EXPANDED; past it a field is Unknown and the file gets one error saying so.
    """

    def __init__(self) -> None:
        self.sizes: dict[int, int] = {}
        self.copies: dict[int, object] = {}
        self.expanded = 0
        self.exhausted: Span | None = None
        self.too_long: Span | None = None

    def plain(self, value: object, span: Span) -> object:
        if isinstance(value, str) and len(value) > MAX_STRING:  # a literal, bounded as concatenations are
            self.too_long = self.too_long or span
            return Unknown(text="(string too long)", span=span)
        size = self.size(value)
        if not size:
            return value if not isinstance(value, (dict, list)) else self.copy(value)
        if size > MAX_ITEMS:
            return Unknown(text="(value too large)", span=getattr(value, "span", None))
        self.expanded += size
        if self.expanded > MAX_EXPANDED:
            self.exhausted = self.exhausted or span
            return Unknown(text="(not read: the file's values expand too far)", span=span)
        return self.copy(value)

    def size(self, value: object, depth: int = 0) -> int:
        """Members in all, counting a shared part at each use (memoised: linear in distinct values)."""
        if not isinstance(value, (dict, list)):
            return 0
        key = id(value)
        if key not in self.sizes:
            items = value.values() if isinstance(value, dict) else value
            total = len(value)
            for item in items:
                total += self.size(item, depth + 1) if depth < MAX_DEPTH * 2 else MAX_ITEMS
                if total > MAX_ITEMS:
                    break
            self.sizes[key] = total
        return self.sizes[key]

    def copy(self, value: object) -> object:
        if not isinstance(value, (dict, list)):
            return value
        key = id(value)
        if key not in self.copies:
            if isinstance(value, dict):
                self.copies[key] = {name: self.copy(item) for name, item in value.items()}
            else:
                self.copies[key] = [self.copy(item) for item in value]
        return self.copies[key]


def _js_str(value: object) -> str | None:
    """JS String(value) for the primitives; None for objects/arrays/Unknown."""
    if isinstance(value, str):
        return value
    if value is True or value is False:
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return repr(value)
    return None


def _join(parts: list[str], separator: str = "") -> str | None:
    """The joined string; None past MAX_STRING (against doubling concatenations)."""
    if sum(len(part) for part in parts) + len(separator) * len(parts) > MAX_STRING:
        return None
    return separator.join(parts)


def _truthy(value: object) -> bool:
    if isinstance(value, float) and math.isnan(value):
        return False
    return value not in (False, None, 0, "") or isinstance(value, (dict, list))


def _number(value: float) -> int | float:
    """JS has one number type: keep integral values as int."""
    if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


# --------------------------------------------------------------------------- roots


def _read_root(path: str, text: str, errors: list[ParseError]) -> object | None:
    """The configuration value a file exports, or None (with an error) when absent."""
    if path.lower().endswith(YAML_SUFFIXES):
        return _yaml_root(path, text, errors)
    return _js_root(path, text, errors)


def _collect(root: object, src: SourceFile, facts: Pm2Facts) -> None:
    if isinstance(root, Unknown):
        facts.errors.append(_unknown_error("PM2 configuration cannot be read statically", root, src.path))
        return
    process_apps = _process_file_apps(root)
    plainer = _Plainer()
    if isinstance(root, _Obj) and "apps" in root:
        _collect_apps(root["apps"], root.spans["apps"], facts, plainer)
    elif process_apps:
        facts.apps.extend(_app(app, plainer) for app in process_apps)
    elif not (isinstance(root, _Obj) and "deploy" in root):  # a deploy-only file is fine
        span = getattr(root, "span", None) or Span(src.path, 1)
        facts.errors.append(ParseError("no `apps` found in the PM2 configuration", span))
    if isinstance(root, _Obj) and isinstance(root.get("deploy"), _Obj):
        _collect_deploy(root["deploy"], src, facts)
    if plainer.exhausted is not None:
        facts.errors.append(ParseError(
            f"partly read: shared values expand this file's apps past {MAX_EXPANDED:,} members; "
            "fields from here on were not read", plainer.exhausted))
    if plainer.too_long is not None:
        facts.errors.append(ParseError(
            f"partly read: a value longer than {MAX_STRING:,} characters was not read", plainer.too_long))


def _process_file_apps(root: object) -> list[_Obj]:
    """Apps of a config without `apps`: one app object, or an array of them."""
    candidates = root if isinstance(root, _Arr) else [root]
    return [item for item in candidates if isinstance(item, _Obj) and "script" in item]


def _collect_apps(apps: object, span: Span, facts: Pm2Facts, plainer: _Plainer) -> None:
    if isinstance(apps, Unknown):
        facts.errors.append(_unknown_error("apps cannot be read statically", apps, span.path, span))
    elif isinstance(apps, _Obj):  # PM2 wraps a single object in a list
        facts.apps.append(_app(apps, plainer))
    elif isinstance(apps, _Arr):
        for item, item_span in zip(apps, apps.spans):
            if isinstance(item, _Obj):
                facts.apps.append(_app(item, plainer))
            elif isinstance(item, Unknown):
                error = _unknown_error("app cannot be read statically", item, span.path, item_span)
                facts.errors.append(error)
            else:
                kind = "a list" if isinstance(item, list) else _short(repr(item))
                facts.errors.append(ParseError(f"app entry is not an object: {kind}", item_span))
        for spread in apps.unknown_spreads:
            facts.errors.append(_unknown_error("apps cannot be read statically", spread, span.path, span))
    else:
        facts.errors.append(ParseError("apps is not a list of app objects", span))


def _app(obj: _Obj, plainer: _Plainer) -> Pm2App:
    fields = {key: Located(plainer.plain(value, obj.spans[key]), obj.spans[key]) for key, value in obj.items()}
    return Pm2App(span=obj.span, fields=fields)


def _collect_deploy(deploy: _Obj, src: SourceFile, facts: Pm2Facts) -> None:
    for target in deploy.values():
        if not isinstance(target, _Obj):
            continue
        for hook in DEPLOY_HOOKS:
            value = target.get(hook)
            if isinstance(value, str):
                facts.snippets.append(_snippet(value, target.spans[hook], src))
            elif isinstance(value, _Arr):  # a list of commands
                for item, item_span in zip(value, value.spans):
                    if isinstance(item, str):
                        facts.snippets.append(_snippet(item, item_span, src))


def _snippet(text: str, span: Span, src: SourceFile) -> ShellSnippet:
    return ShellSnippet(text=text, span=_content_start(span, src), context=SNIPPET_CONTEXT)


def _content_start(span: Span, src: SourceFile) -> Span:
    """Where a string's text starts: after its quote, or on the line after a YAML `|`/`>`."""
    line = src.line(span.line)
    opener = line[span.column - 1 : span.column]
    if opener in ("'", '"', "`"):
        return Span(span.path, span.line, span.column + 1, span.end_line, span.end_column)
    if opener in ("|", ">") and span.end_line > span.line:
        body = src.line(span.line + 1)
        indent = len(body) - len(body.lstrip(" "))
        return Span(span.path, span.line + 1, indent + 1, span.end_line, span.end_column)
    return span


def _unknown_error(message: str, value: Unknown, path: str, fallback: Span | None = None) -> ParseError:
    span = value.span or fallback or Span(path, 1)
    return ParseError(f"{message}: {_short(value.text)}", span)


def _short(text: str, limit: int = 80) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


# --------------------------------------------------------------------------- JS / JSON


def _parser():
    """The tree-sitter JS parser, built on first use (keeps `import` of this module cheap)."""
    global _js_parser
    if _js_parser is None:
        import tree_sitter
        import tree_sitter_javascript

        _js_parser = tree_sitter.Parser(tree_sitter.Language(tree_sitter_javascript.language()))
    return _js_parser


def _js_root(path: str, text: str, errors: list[ParseError]) -> object | None:
    # JSON's top-level `{` would parse as a block: read it as `(…)`, shifting offsets back.
    prefix = "(" if path.lower().endswith(".json") else ""
    suffix = "\n)" if prefix else ""
    data = (prefix + text + suffix).encode("utf-8", errors="surrogatepass")
    tree = _parser().parse(data)
    positions = _Positions(path, data, len(prefix), len(data) - len(prefix) - len(suffix))
    syntax = _first_syntax_error(tree.root_node)
    if syntax is not None:
        errors.append(ParseError(_syntax_message(syntax), positions.span(syntax)))
    evaluator = _JsEval(positions)
    root = evaluator.root(tree.root_node)
    if syntax is not None and not (isinstance(root, _Obj) and "apps" in root or _process_file_apps(root)):
        salvaged = evaluator.salvage_apps(tree.root_node)
        if salvaged:
            root = _Obj(positions.span(tree.root_node))
            root.put("apps", salvaged, salvaged.span)
    if root is None and syntax is None:
        errors.append(
            ParseError("no PM2 configuration found (module.exports / export default)", Span(path, 1))
        )
    return root


def _first_syntax_error(root):
    """The first ERROR or MISSING node in document order (iterative: trees may be deep)."""
    if not root.has_error:
        return None
    stack = [root]
    while stack:
        node = stack.pop()
        if node.is_error or node.is_missing:
            return node
        stack.extend(child for child in reversed(node.children) if child.has_error or child.is_missing)
    return None


def _syntax_message(node) -> str:
    if node.is_missing:
        return f"syntax error: missing {node.type!r}"
    return "syntax error"


class _Positions:
    """Byte offsets of tree-sitter nodes to 1-based line/column Spans of the original text."""

    def __init__(self, path: str, data: bytes, shift: int, size: int) -> None:
        self.path = path
        self.data = data[shift : shift + size]
        self.shift = shift
        self.ascii = self.data.isascii()
        self.line_starts = [0] + [match.end() for match in re.finditer(b"\n", self.data)]

    def span(self, node) -> Span:
        line, column = self._point(node.start_byte)
        end_line, end_column = self._point(node.end_byte)
        return Span(self.path, line, column, end_line, end_column)

    def _point(self, offset: int) -> tuple[int, int]:
        offset = min(max(offset - self.shift, 0), len(self.data))
        index = bisect.bisect_right(self.line_starts, offset) - 1
        start = self.line_starts[index]
        if self.ascii:
            return index + 1, offset - start + 1
        chars = len(self.data[start:offset].translate(None, _CONTINUATION_BYTES))
        return index + 1, chars + 1


def _text(node) -> str:
    if node is None or node.text is None:
        return ""
    return node.text.decode("utf-8", errors="replace")


def _named(node) -> list:
    return [child for child in node.named_children if child.type != "comment"]


class _JsEval:
    """Evaluates literal JS expressions; anything else becomes Unknown."""

    def __init__(self, positions: _Positions) -> None:
        self.positions = positions
        self.bindings: dict[str, object] = {}  # top-level name -> initializer node
        self.values: dict[str, object] = {}  # memo of evaluated bindings
        self.active: set[str] = set()  # bindings being evaluated (cycle guard)
        self.path_modules: set[str] = {"path"}  # names bound to the `path` module
        self.path_functions: dict[str, str] = {}  # local name -> "join" | "resolve"

    # ----------------------------------------------------------------- program

    def root(self, program) -> object | None:
        """Scan top-level statements; return the value PM2 would load, or None."""
        root_node = None
        extras: list[tuple[str, object]] = []  # module.exports.K = V
        for statement in _named(program):
            if statement.type in DECLARATIONS:
                self._declare(statement)
            elif statement.type == "import_statement":
                self._import(statement)
            elif statement.type == "export_statement":
                declaration = statement.child_by_field_name("declaration")
                if declaration is not None and declaration.type in DECLARATIONS:
                    self._declare(declaration)  # `export const apps = […]`
                elif any(child.type == "default" for child in statement.children):
                    root_node, extras = statement.child_by_field_name("value"), []
            elif statement.type == "expression_statement":
                expression = (_named(statement) or [None])[0]
                target = self._exports_target(expression)
                if target == "":
                    root_node, extras = expression.child_by_field_name("right"), []
                elif target:
                    extras.append((target, expression.child_by_field_name("right")))
                elif root_node is None and expression is not None and expression.type in JSON_ROOTS:
                    root_node = expression  # a plain JSON document
        if root_node is None and not extras:
            return None
        root = self.value(root_node, 0) if root_node is not None else _Obj(self.span(program))
        if isinstance(root, _Obj):
            for key, value_node in extras:
                root.put(key, self.value(value_node, 1), self.span(value_node))
        return root

    def salvage_apps(self, program) -> _Arr:
        """After a syntax error that hid the exports: every object literal with a `script`
        key, outermost first, in document order."""
        found = _Arr(self.span(program))
        stack = [program]
        while stack:
            node = stack.pop()
            if node.type == "object" and "script" in self._literal_keys(node):
                found.add(self.value(node, 0), self.span(node))
            else:
                stack.extend(reversed(node.named_children))
        return found

    def _literal_keys(self, node) -> set[str]:
        keys = set()
        for pair in node.named_children:
            key = pair.child_by_field_name("key") if pair.type == "pair" else None
            if key is not None and key.type in ("property_identifier", "string"):
                keys.add(_text(key).strip("'\""))
        return keys

    def _exports_target(self, expression) -> str | None:
        """'' for `module.exports = …`, 'K' for `module.exports.K = …` / `exports.K = …`."""
        if expression is None or expression.type != "assignment_expression":
            return None
        left = expression.child_by_field_name("left")
        if left is None or expression.child_by_field_name("right") is None:
            return None
        text = "".join(_text(left).split())
        if text == "module.exports":
            return ""
        for prefix in ("module.exports.", "exports."):
            if text.startswith(prefix) and text[len(prefix) :].isidentifier():
                return text[len(prefix) :]
        return None

    def _declare(self, statement) -> None:
        for declarator in statement.named_children:
            if declarator.type != "variable_declarator":
                continue
            name, value = declarator.child_by_field_name("name"), declarator.child_by_field_name("value")
            if name is None or value is None:
                continue
            module = self._required_module(value)
            if name.type == "identifier":
                self.bindings.setdefault(_text(name), value)
                if module in PATH_MODULES:
                    self.path_modules.add(_text(name))
            elif name.type == "object_pattern" and module in PATH_MODULES:
                self._path_names(name)

    def _path_names(self, pattern) -> None:
        """`const { join, resolve: r } = require('path')`."""
        for item in pattern.named_children:
            if item.type == "shorthand_property_identifier_pattern":
                self.path_functions[_text(item)] = _text(item)
            elif item.type == "pair_pattern":
                key, value = item.child_by_field_name("key"), item.child_by_field_name("value")
                if key is not None and value is not None:
                    self.path_functions[_text(value)] = _text(key)

    def _import(self, statement) -> None:
        source = statement.child_by_field_name("source")
        if source is None or self._literal_string(source) not in PATH_MODULES:
            return
        for clause in statement.named_children:
            if clause.type != "import_clause":
                continue
            for item in clause.named_children:
                if item.type == "identifier":
                    self.path_modules.add(_text(item))
                elif item.type == "namespace_import":
                    self.path_modules.update(_text(n) for n in item.named_children if n.type == "identifier")
                elif item.type == "named_imports":
                    for spec in item.named_children:
                        name, alias = spec.child_by_field_name("name"), spec.child_by_field_name("alias")
                        if name is not None:
                            self.path_functions[_text(alias or name)] = _text(name)

    def _required_module(self, node) -> str | None:
        """'path' for `require('path')`."""
        if node.type != "call_expression":
            return None
        function, arguments = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if function is None or _text(function) != "require" or arguments is None:
            return None
        args = _named(arguments)
        return self._literal_string(args[0]) if len(args) == 1 else None

    def _literal_string(self, node) -> str | None:
        return self._string(node) if node.type == "string" else None

    # ----------------------------------------------------------------- values

    def span(self, node) -> Span:
        return self.positions.span(node)

    def unknown(self, node) -> Unknown:
        return Unknown(text=_text(node), span=self.span(node))

    def value(self, node, depth: int) -> object:
        if node is None:
            return Unknown(text="")
        if depth > MAX_DEPTH:
            return Unknown(text=_short(_text(node)), span=self.span(node))
        handler = self.HANDLERS.get(node.type)
        if handler is None:
            return self.unknown(node)
        return handler(self, node, depth + 1)

    def _object(self, node, depth: int) -> _Obj:
        obj = _Obj(self.span(node))
        for member in _named(node):
            if member.type == "pair":
                self._pair(obj, member, depth)
            elif member.type == "shorthand_property_identifier":
                obj.put(_text(member), self._identifier(member, depth), self.span(member))
            elif member.type == "spread_element":
                spread = self.value(_named(member)[0] if _named(member) else None, depth)
                if isinstance(spread, _Obj):  # an unknown spread adds nothing
                    for key, item in spread.items():
                        obj.put(key, item, spread.spans[key])
        return obj

    def _pair(self, obj: _Obj, pair, depth: int) -> None:
        key = self._key(pair.child_by_field_name("key"), depth)
        value_node = pair.child_by_field_name("value")
        if key is None or value_node is None:
            return
        broken = [child for child in pair.children if child.type == "ERROR"]
        if broken:  # syntax error inside: `script: 'a.js' {next app…` — keep the first literal
            inner = _named(broken[0])
            value = self.value(inner[0], depth) if inner else self.unknown(broken[0])
            obj.put(key, value, self.span(inner[0] if inner else broken[0]))
            return
        obj.put(key, self.value(value_node, depth), self.span(value_node))

    def _key(self, node, depth: int) -> str | None:
        if node is None:
            return None
        if node.type in ("property_identifier", "private_property_identifier"):
            return _text(node)
        if node.type == "computed_property_name":
            inner = _named(node)
            value = self.value(inner[0], depth) if inner else None
        else:
            value = self.value(node, depth)
        if isinstance(value, (dict, list, Unknown)):
            return None
        return _js_str(value)

    def _array(self, node, depth: int) -> _Arr:
        arr = _Arr(self.span(node))
        for element in _named(node):
            if element.type == "spread_element":
                self._spread_into(arr, element, depth)
                continue
            arr.add(self.value(element, depth), self.span(element))
            arr_extra = self._swallowed_apps(element, depth) if element.has_error else []
            for extra in arr_extra:
                arr.add(extra, extra.span)
        return arr

    def _spread_into(self, arr: _Arr, element, depth: int) -> None:
        inner = _named(element)
        spread = self.value(inner[0] if inner else None, depth)
        if isinstance(spread, _Arr) and len(arr) + len(spread) <= MAX_ITEMS:
            for item, span in zip(spread, spread.spans):
                arr.add(item, span)
            arr.unknown_spreads.extend(spread.unknown_spreads)
        elif isinstance(spread, (_Arr, Unknown)):
            arr.unknown_spreads.append(Unknown(text=_text(element), span=self.span(element)))

    def _swallowed_apps(self, element, depth: int) -> list[_Obj]:
        """Objects that a syntax error pulled into a broken pair of this element.

        With a missing comma, tree-sitter nests the next app object inside the previous
        one (`{…script: 'b.js' {name: 'c'…}`): give it back to the array.
        """
        if element.type != "object":
            return []
        found = []
        for pair in _named(element):
            value_node = pair.child_by_field_name("value") if pair.type == "pair" else None
            if value_node is None or value_node.type != "object":
                continue
            if any(child.type == "ERROR" for child in pair.children):
                value = self.value(value_node, depth)
                if "script" in value or "name" in value:
                    found.append(value)
        return found

    def _string(self, node, depth: int = 0) -> str:
        parts = []
        for child in node.named_children:
            if child.type == "string_fragment":
                parts.append(_text(child))
            elif child.type == "escape_sequence":
                parts.append(_unescape(_text(child)))
        return "".join(parts)

    def _template(self, node, depth: int) -> object:
        parts = []
        for child in node.named_children:
            if child.type == "string_fragment":
                parts.append(_text(child))
            elif child.type == "escape_sequence":
                parts.append(_unescape(_text(child)))
            elif child.type == "template_substitution":
                inner = _named(child)
                text = _js_str(self.value(inner[0], depth)) if inner else None
                if text is None:
                    return self.unknown(node)
                parts.append(text)
        text = _join(parts)
        return self.unknown(node) if text is None else text

    def _number_literal(self, node, depth: int) -> object:
        text = _text(node).replace("_", "").rstrip("n")
        try:
            if text[:2].lower() in ("0x", "0o", "0b"):
                return int(text, 0)
            return _number(float(text))
        except ValueError:
            return self.unknown(node)

    def _literal(self, node, depth: int) -> object:
        return {"true": True, "false": False, "null": None, "undefined": None}[node.type]

    def _unary(self, node, depth: int) -> object:
        operator = node.child_by_field_name("operator")
        value = self.value(node.child_by_field_name("argument"), depth)
        op = _text(operator) if operator is not None else ""
        if isinstance(value, Unknown):
            return self.unknown(node)
        if op == "!":
            return not _truthy(value)
        if op in ("-", "+") and isinstance(value, (int, float)) and not isinstance(value, bool):
            return value if op == "+" else -value
        return self.unknown(node)

    def _parenthesized(self, node, depth: int) -> object:
        inner = [child for child in _named(node) if child.type != "ERROR"]
        return self.value(inner[0], depth) if inner else self.unknown(node)

    def _binary(self, node, depth: int) -> object:
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        operator = node.child_by_field_name("operator")
        op = _text(operator) if operator is not None else ""
        if op in ("||", "??"):
            if _reads_env(left):  # PM2 starts with the default when the variable is unset
                return self.value(right, depth)
            first = self.value(left, depth)
            if isinstance(first, Unknown):
                return self.unknown(node)
            keep = _truthy(first) if op == "||" else first is not None
            return first if keep else self.value(right, depth)
        if op == "+":
            return self._plus(node, self.value(left, depth), self.value(right, depth))
        return self.unknown(node)

    def _plus(self, node, left: object, right: object) -> object:
        if isinstance(left, (str, int, float)) and isinstance(right, (str, int, float)):
            if isinstance(left, str) or isinstance(right, str):
                left_text, right_text = _js_str(left), _js_str(right)
                if left_text is not None and right_text is not None:
                    text = _join([left_text, right_text])
                    return self.unknown(node) if text is None else text
            elif not isinstance(left, bool) and not isinstance(right, bool):
                try:
                    total = left + right
                except OverflowError:  # a huge hex literal plus a float
                    return self.unknown(node)
                return total if isinstance(total, int) else _number(total)
        return self.unknown(node)

    def _ternary(self, node, depth: int) -> object:
        condition = self.value(node.child_by_field_name("condition"), depth)
        if isinstance(condition, Unknown):
            return self.unknown(node)
        branch = "consequence" if _truthy(condition) else "alternative"
        return self.value(node.child_by_field_name(branch), depth)

    def _identifier(self, node, depth: int) -> object:
        name = _text(node)
        if name == "__dirname":
            return "."
        if name == "undefined":
            return None
        if name not in self.bindings or name in self.active:
            return self.unknown(node)
        if name not in self.values:
            self.active.add(name)
            try:
                self.values[name] = self.value(self.bindings[name], depth)
            finally:
                self.active.discard(name)
        return self.values[name]

    def _member(self, node, depth: int) -> object:
        if _reads_env(node):
            return self.unknown(node)
        obj_node, prop = node.child_by_field_name("object"), node.child_by_field_name("property")
        if prop is None:
            return self.unknown(node)
        return self._lookup(node, self.value(obj_node, depth), _text(prop))

    def _subscript(self, node, depth: int) -> object:
        if _reads_env(node):
            return self.unknown(node)
        index = self.value(node.child_by_field_name("index"), depth)
        key = _js_str(index) if not isinstance(index, (dict, list, Unknown)) else None
        if key is None:
            return self.unknown(node)
        return self._lookup(node, self.value(node.child_by_field_name("object"), depth), key)

    def _lookup(self, node, container: object, key: str) -> object:
        if isinstance(container, dict) and key in container:
            return container[key]
        if isinstance(container, list) and key.isdigit() and int(key) < len(container):
            return container[int(key)]
        if isinstance(container, (list, str)) and key == "length":
            return len(container)
        return self.unknown(node)

    def _call(self, node, depth: int) -> object:
        function, arguments = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        if function is None or arguments is None or arguments.type != "arguments":
            return self.unknown(node)
        arg_nodes = _named(arguments)
        if function.type == "member_expression" and _text(function.child_by_field_name("property")) == "join":
            joined = self._array_join(function.child_by_field_name("object"), arg_nodes, depth)
            if joined is not None:
                return joined
        kind = self._path_call(function)
        if kind is None:
            return self.unknown(node)
        if kind == "dirname" and len(arg_nodes) == 1 and ESM_FILE.match("".join(_text(arg_nodes[0]).split())):
            return "."
        args = [self.value(arg, depth) for arg in arg_nodes]
        if not all(isinstance(arg, str) for arg in args):
            return self.unknown(node)
        result = PATH_CALLS[kind](args)
        return self.unknown(node) if result is None else result

    def _array_join(self, array_node, arg_nodes: list, depth: int) -> str | None:
        """`[…].join(sep)` of known strings and numbers (args built as a list, then joined)."""
        if array_node is None or array_node.type != "array" or len(arg_nodes) > 1:
            return None
        items = self.value(array_node, depth)
        separator = self.value(arg_nodes[0], depth) if arg_nodes else ","
        texts = [_js_str(item) for item in items] if isinstance(items, list) else [None]
        if not isinstance(separator, str) or None in texts or items.unknown_spreads:
            return None
        return _join(texts, separator)

    def _path_call(self, function) -> str | None:
        """'join' / 'resolve' / 'dirname' when the callee is one of the `path` module's."""
        if function.type == "identifier":
            kind = self.path_functions.get(_text(function))
        elif function.type == "member_expression":
            obj, prop = function.child_by_field_name("object"), function.child_by_field_name("property")
            if obj is None or prop is None:
                return None
            is_path = _text(obj) in self.path_modules or self._required_module(obj) in PATH_MODULES
            kind = _text(prop) if is_path else None
        else:
            return None
        return kind if kind in PATH_FUNCTIONS else None

    HANDLERS = {
        "object": _object,
        "array": _array,
        "string": _string,
        "template_string": _template,
        "number": _number_literal,
        "true": _literal,
        "false": _literal,
        "null": _literal,
        "undefined": _literal,
        "unary_expression": _unary,
        "parenthesized_expression": _parenthesized,
        "binary_expression": _binary,
        "ternary_expression": _ternary,
        "identifier": _identifier,
        "member_expression": _member,
        "subscript_expression": _subscript,
        "call_expression": _call,
    }


def _reads_env(node, depth: int = 0) -> bool:
    """`process.env.X`, `process.env['X']`, `process.env.X?.trim()`, `parseInt(process.env.X)`,
    or a `||`/`??` chain of those: a value that comes from the environment. Past MAX_DEPTH (a
    5,000-long `a.b.c…` chain): not known to, so no RecursionError and no quadratic work."""
    if node is None or depth > MAX_DEPTH:
        return False
    if node.type in ("member_expression", "subscript_expression"):
        obj = node.child_by_field_name("object")
        return obj is not None and (_is_process_env(obj) or _reads_env(obj, depth + 1))
    if node.type == "call_expression":
        function = node.child_by_field_name("function")
        arguments = node.child_by_field_name("arguments")
        if function is None:
            return False
        if function.type == "member_expression":  # process.env.X.trim()
            return _reads_env(function.child_by_field_name("object"), depth + 1)
        args = _named(arguments) if arguments is not None else []
        converts = _text(function) in ("parseInt", "parseFloat", "Number", "String")
        return converts and bool(args) and _reads_env(args[0], depth + 1)
    if node.type == "parenthesized_expression":
        inner = _named(node)
        return bool(inner) and _reads_env(inner[-1], depth + 1)
    if node.type == "binary_expression":
        operator = node.child_by_field_name("operator")
        if operator is not None and _text(operator) in ("||", "??"):
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            return _reads_env(left, depth + 1) and _reads_env(right, depth + 1)
    return False


def _is_process_env(node) -> bool:
    """`process.env`, however spaced; a long node is not (its text is not built)."""
    return node.end_byte - node.start_byte <= 200 and "".join(_text(node).split()) == "process.env"


_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0", "\n": ""}


def _unescape(sequence: str) -> str:
    body = sequence[1:]
    if body in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[body]
    hex_digits = body[1:].strip("{}") if body[:1] in ("x", "u") else ""
    if hex_digits:
        try:
            return chr(int(hex_digits, 16))
        except (ValueError, OverflowError):
            return sequence
    return body


def _path_join(parts: list[str]) -> str | None:
    """path.join with `__dirname` read as "." (paths relative to the config's folder)."""
    joined = "/".join(part for part in parts if part)
    return posixpath.normpath(joined) if joined else "."


def _path_resolve(parts: list[str]) -> str | None:
    """path.resolve; None when the result depends on the process's working directory."""
    start = max((i for i, part in enumerate(parts) if part.startswith("/")), default=None)
    if start is None:
        # Relative to process.cwd(), unless it starts from __dirname (".").
        if not parts or parts[0] != ".":
            return None
        start = 0
    return posixpath.normpath("/".join(part for part in parts[start:] if part))


def _path_dirname(parts: list[str]) -> str | None:
    if len(parts) != 1:
        return None
    return posixpath.dirname(parts[0].rstrip("/")) or "."


PATH_CALLS = {"join": _path_join, "resolve": _path_resolve, "dirname": _path_dirname}


# --------------------------------------------------------------------------- YAML


def _yaml_root(path: str, text: str, errors: list[ParseError]) -> object | None:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        node = yaml.compose(text, Loader=loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        span = Span(path, mark.line + 1, mark.column + 1) if mark else Span(path, 1)
        errors.append(ParseError(f"YAML error: {_short(str(exc.problem or exc), 120)}", span))
        return None
    except (yaml.YAMLError, RecursionError) as exc:
        errors.append(ParseError(f"YAML error: {_short(str(exc), 120)}", Span(path, 1)))
        return None
    if node is None:
        errors.append(ParseError("empty PM2 configuration", Span(path, 1)))
        return None
    return _YamlEval(path).value(node, 0)


class _YamlEval:
    MERGE_TAG = "tag:yaml.org,2002:merge"

    def __init__(self, path: str) -> None:
        import yaml

        self.yaml = yaml
        self.path = path
        self.constructor = yaml.constructor.SafeConstructor()
        self.done: dict[int, object] = {}  # id(node) -> value: an alias is read once
        self.active: set[int] = set()  # nodes being read: a recursive alias

    def span(self, node) -> Span:
        start, end = node.start_mark, node.end_mark
        return Span(self.path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def value(self, node, depth: int) -> object:
        if isinstance(node, self.yaml.ScalarNode):
            return self._scalar(node)
        if depth > MAX_DEPTH or id(node) in self.active:
            return Unknown(text="(nested too deep)", span=self.span(node))
        if id(node) not in self.done:
            self.active.add(id(node))
            self.done[id(node)] = self._collection(node, depth + 1)
            self.active.discard(id(node))
        return self.done[id(node)]

    def _collection(self, node, depth: int) -> object:
        if isinstance(node, self.yaml.MappingNode):
            return self._mapping(node, depth)
        arr = _Arr(self.span(node))
        for item in node.value[:MAX_ITEMS]:
            arr.add(self.value(item, depth), self.span(item))
        return arr

    def _scalar(self, node) -> object:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except Exception:  # PyYAML's constructors fail in many ways on odd tags (`!!timestamp x`)
            return Unknown(text=str(node.value), span=self.span(node))
        if isinstance(value, (str, int, float, bool)) or value is None:
            return value
        return str(node.value)  # timestamps, binary: keep the text as written

    def _mapping(self, node, depth: int) -> _Obj:
        obj = _Obj(self.span(node))
        for key_node, value_node in node.value:
            if key_node.tag == self.MERGE_TAG:  # `<<: *common` — earlier keys win
                self._merge(obj, value_node, depth)
        for key_node, value_node in node.value:
            if key_node.tag == self.MERGE_TAG or not isinstance(key_node, self.yaml.ScalarNode):
                continue
            key = _js_str(self._scalar(key_node))
            if key is not None:
                obj.put(key, self.value(value_node, depth), self.span(value_node))
        return obj

    def _merge(self, obj: _Obj, value_node, depth: int) -> None:
        sources = value_node.value if isinstance(value_node, self.yaml.SequenceNode) else [value_node]
        for source in sources:
            merged = self.value(source, depth)
            if isinstance(merged, _Obj):
                for key, item in merged.items():
                    if key not in obj:
                        obj.put(key, item, merged.spans[key])
