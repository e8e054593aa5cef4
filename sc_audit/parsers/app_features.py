"""What a Python module says about how its app meets the proxy in front of it: Socket.IO,
WebSocket endpoints, file uploads, a ProxyFix, MAX_CONTENT_LENGTH, and the modules it imports.

One iterative walk over the `ast` tree (no recursion, so a deeply nested module is no risk);
names are matched as written and through the module's imports. Nothing is imported or run.
False-alarm risk, for the rules that read these: a module that imports Flask-SocketIO or reads
`request.files` in code that never runs (a dead branch, a test helper imported by the app).
"""

from __future__ import annotations

import ast
import re

from ..facts import AppFeatures
from ..span import Located, Span, Unknown
from .pyexpr import Parsed, advance, arguments, dotted, import_bindings, kind, name_of, qualified_import, string_tokens

SOCKETIO_MODULES = ("flask_socketio", "socketio")
SOCKETIO_SERVERS = frozenset(f"socketio.{name}" for name in ("Server", "AsyncServer", "WSGIApp", "ASGIApp"))
WEBSOCKET_IMPORTS = ("channels", "flask_sock", "fastapi.WebSocket", "starlette.websockets",
                     "starlette.routing.WebSocketRoute", "quart.websocket", "litestar.websocket")
WEBSOCKET_METHODS = frozenset({"websocket", "websocket_route", "add_websocket_route", "add_api_websocket_route"})
UPLOAD_IMPORTS = ("fastapi.UploadFile", "fastapi.File", "starlette.datastructures.UploadFile",
                  "flask_wtf.file.FileField", "wtforms.FileField", "wtforms.fields.FileField",
                  "wtforms.MultipleFileField", "flask_uploads", "flask_reuploaded")
UPLOAD_ATTRIBUTES = frozenset({"FileField", "ImageField", "MultipleFileField"})
PROXY_FIX_NAMES = frozenset({"ProxyFix", "ProxyHeadersMiddleware", "SECURE_PROXY_SSL_HEADER"})
# The calling convention of what a constructor or wrapper returns (last name of the callee).
INTERFACES = {
    "Flask": "wsgi", "get_wsgi_application": "wsgi", "WSGIHandler": "wsgi", "Bottle": "wsgi",
    "Falcon": "wsgi", "App": None, "WSGIApp": "wsgi", "ASGIMiddleware": "wsgi", "AsgiToWsgi": "wsgi",
    "FastAPI": "asgi", "Starlette": "asgi", "Quart": "asgi", "Litestar": "asgi", "get_asgi_application": "asgi",
    "ASGIHandler": "asgi", "ProtocolTypeRouter": "asgi", "ASGIApp": "asgi", "WsgiToAsgi": "asgi",
    "WSGIMiddleware": "asgi",
}
MAX_BINDINGS = 2000
MAX_NODES = 200_000  # a walk stops here (hostile input); what it found so far stands
MAX_IMPORTS = 500


# Expression-level features: a statement's expressions are walked only when its text holds one
# of these (walking every node of every module costs as much as parsing it).
DEEP_MARKERS = re.compile(r"request\.files|\.FILES|FileField|ImageField|UploadFile|File\(|ProxyFix|"
                          r"ProxyHeadersMiddleware|SECURE_PROXY_SSL_HEADER|MAX_CONTENT_LENGTH|max_content_length|"
                          r"SocketIO|socketio\.|websocket|WebSocket")


def read(parsed: Parsed) -> AppFeatures:
    features = AppFeatures()
    imported: list[str] = []
    aliases: dict[str, str] = {}  # alias -> qualified name
    bindings: list = []
    marked = {number for number, line in enumerate(parsed.lines, 1) if DEEP_MARKERS.search(line)}
    # Work items, walked in source order: (what, node, module level, deep). "stmt": a statement
    # met outside a line (a compound one, or a simple one in a one-line suite: `if x: y = 1`);
    # "line": the simple statements of one logical line; "decorator": a decorator's expression;
    # "expr": any node under a line or a decorator whose lines hold a marker.
    stack: list = [("block", parsed.module.body, True, False)]
    seen = 0
    while stack and seen < MAX_NODES:
        what, node, module_level, deep = stack.pop()
        seen += 1
        if what == "block":
            stack.extend(reversed(_block_items(node, parsed, module_level)))
            continue
        if what == "line":
            first, last = node[0], node[-1]
            deep = bool(marked) and any(number in marked for number in range(first.lineno, last.end_lineno + 1))
            stack.extend(("expr" if deep else "simple", statement, module_level, deep) for statement in reversed(node))
            continue
        if what == "decorator":
            line, _, end_line, _ = parsed.decorator_range(node)
            if marked and any(number in marked for number in range(line, end_line + 1)):
                _decorator(node, parsed, features)
                stack.append(("expr", node, module_level, True))
            continue
        kind_ = kind(node)
        if kind_ in ("FunctionDef", "ClassDef", "Lambda"):
            module_level = False
        elif module_level and kind_ == "Assign" and len(bindings) < MAX_BINDINGS:
            bindings.extend(_binding(node, parsed))
        if kind_ in ("Import", "ImportFrom"):
            _import(node, parsed, features, imported, aliases)
            continue
        if what == "expr":
            _deep(node, kind_, parsed, features, aliases)
            stack.extend(("expr", child, module_level, True) for child in reversed(_children(node)))
        elif what == "stmt":
            stack.extend(reversed(_compound_items(node, parsed, module_level)))
    features.imported = tuple(dict.fromkeys(imported))[:MAX_IMPORTS]
    features.bindings = tuple(bindings)
    return features


def _deep(node, kind_: str, parsed: Parsed, features: AppFeatures, aliases: dict) -> None:
    """The expression-level features of one node under a marked line."""
    if kind_ == "Attribute":
        _attribute(node, parsed, features, aliases)
    elif kind_ == "Name":
        _name(node.id, parsed.span(node), features)
    elif kind_ == "keyword" and node.arg is not None:  # `f(NAME=...)`: a name, as written
        _name(node.arg, _name_span(node, node.arg, parsed), features)
    elif kind_ == "arg":  # `lambda NAME: ...`
        _name(node.arg, _name_span(node, node.arg, parsed), features)
    elif kind_ in ("Global", "Nonlocal") and "SECURE_PROXY_SSL_HEADER" in node.names:
        _name("SECURE_PROXY_SSL_HEADER", _declared_span(node, "SECURE_PROXY_SSL_HEADER", parsed), features)
    elif kind_ in ("Assign", "AnnAssign"):
        _assign(node, parsed, features)
    elif kind_ == "Call":
        _call(node, parsed, features, aliases)


COMPOUND = (ast.If, ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.TryStar,
            ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Match)


def _block_items(statements: list, parsed: Parsed, module_level: bool) -> list:
    """Work items of an indented block (or the module): compound statements one by one, simple
    statements by logical line (statements joined by `;` share one)."""
    items, line = [], []
    for statement in statements:
        if isinstance(statement, COMPOUND):
            if line:
                items.append(("line", line, module_level, False))
                line = []
            items.append(("stmt", statement, module_level, False))
        elif line and statement.lineno == line[-1].end_lineno:
            line.append(statement)
        else:
            if line:
                items.append(("line", line, module_level, False))
            line = [statement]
    if line:
        items.append(("line", line, module_level, False))
    return items


def _compound_items(node, parsed: Parsed, module_level: bool) -> list:
    """Decorators, then each block of a compound statement (body, else, finally, handlers,
    cases, in that order); an `elif` is the `if` statement it holds."""
    items = [("decorator", expression, module_level, False) for expression in getattr(node, "decorator_list", ())]
    blocks = [getattr(node, name, None) or [] for name in ("body", "orelse", "finalbody")]
    blocks += [handler.body for handler in getattr(node, "handlers", ())]
    blocks += [case.body for case in getattr(node, "cases", ())]
    for block in blocks:
        if not block:
            continue
        first = block[0]
        line, column = parsed.start(first)
        if parsed.lines[line - 1][:column].strip():  # a one-line suite: `if x: y = 1` (no bare calls)
            items.extend(("stmt" if isinstance(s, COMPOUND) else "simple", s, module_level, False)
                         for s in block if kind(s) != "Expr")
        else:
            items.extend(_block_items(block, parsed, module_level))
    return items


def _children(node) -> list:
    """The child nodes of an expression (or simple statement) in source order."""
    if isinstance(node, ast.Call):
        return [node.func, *arguments(node)]
    if isinstance(node, ast.Dict):
        return [child for pair in zip(node.keys, node.values, strict=True) for child in pair if child is not None]
    if isinstance(node, ast.IfExp):
        return [node.body, node.test, node.orelse]
    return [child for child in ast.iter_child_nodes(node) if not isinstance(child, _NO_POSITION)]


_NO_POSITION = (ast.expr_context, ast.operator, ast.boolop, ast.unaryop, ast.cmpop)


def _name_span(node, name: str, parsed: Parsed) -> Span:
    line, column = parsed.start(node)
    return Span(parsed.path, line, column + 1, line, column + 1 + len(name))


def _declared_span(node, name: str, parsed: Parsed) -> Span:
    """Where `name` is written in a `global` / `nonlocal` statement (`ast` keeps only the names)."""
    line, column, _, _ = parsed.range(node)
    text = parsed.text(node)
    found = re.search(r"(?<![\w])" + re.escape(name) + r"(?![\w])", text)
    if found is None:  # pragma: no cover - the statement holds the name
        return parsed.span(node)
    line, column = advance(line, column, text[: found.start()])
    return Span(parsed.path, line, column + 1, line, column + 1 + len(name))


def _binding(node, parsed: Parsed) -> list:
    interface = None
    value = node.value
    if kind(value) == "Call":
        callee = dotted(value.func) or ""
        interface = INTERFACES.get(callee.rsplit(".", 1)[-1])
    span = parsed.span(node)
    return [(t.id, interface, span) for t in node.targets if kind(t) == "Name"]


def _import(node, parsed: Parsed, features: AppFeatures, imported: list, aliases: dict) -> None:
    for alias, module, name, alias_node in import_bindings(node):
        qualified = qualified_import(module, name)
        aliases[alias] = qualified
        imported.append(module)
        if name is not None:
            imported.append(qualified)  # `from pkg import views`: views may be a module
        span = parsed.span(alias_node)
        if _socketio_server(qualified) and features.socketio is None:
            features.socketio = span
        if _under(qualified, WEBSOCKET_IMPORTS) and features.websocket is None:
            features.websocket = span
        if _under(qualified, UPLOAD_IMPORTS) and features.upload is None:
            features.upload = span
        if qualified.rsplit(".", 1)[-1] in PROXY_FIX_NAMES and features.proxy_fix is None:
            features.proxy_fix = span


def _socketio_server(qualified: str) -> bool:
    """Flask-SocketIO, or a python-socketio server (`socketio.Server`, `AsyncServer`, `WSGIApp`,
    `ASGIApp`); `import socketio` alone may be its client (`socketio.Client()`), which serves nothing."""
    return _under(qualified, ("flask_socketio",)) or qualified in SOCKETIO_SERVERS


def _under(qualified: str, prefixes: tuple[str, ...]) -> bool:
    return any(qualified == p or qualified.startswith(p + ".") for p in prefixes)


def _attribute(node, parsed: Parsed, features: AppFeatures, aliases: dict) -> None:
    name = node.attr
    if name == "files" and dotted(node.value) == "request" and features.upload is None:
        features.upload = parsed.span(node)  # Flask/Quart `request.files`, Django `request.FILES` below
    elif name == "FILES" and features.upload is None:
        features.upload = parsed.span(node)
    elif name in UPLOAD_ATTRIBUTES and features.upload is None:
        features.upload = parsed.span(node)  # forms.FileField, models.ImageField
    elif name in PROXY_FIX_NAMES and features.proxy_fix is None:
        features.proxy_fix = parsed.span(node)


def _name(name: str, span: Span, features: AppFeatures) -> None:
    if name == "SECURE_PROXY_SSL_HEADER" and features.proxy_fix is None:
        features.proxy_fix = span


def _decorator(expression, parsed: Parsed, features: AppFeatures) -> None:
    call = expression
    func = call.func if kind(call) == "Call" else call
    if kind(func) != "Attribute" or func.attr not in WEBSOCKET_METHODS:
        return
    line, column, end_line, end_column = parsed.decorator_range(expression)
    span = Span(parsed.path, line, column + 1, end_line, end_column + 1)
    if features.websocket is None:
        features.websocket = span
    given = arguments(call) if kind(call) == "Call" else []
    first = None
    if given:
        first = given[0].value if isinstance(given[0], (ast.keyword, ast.Starred)) else given[0]
    if first is not None and _literal(first, parsed) and len(features.websocket_routes) < 200:
        owner = dotted(func.value) or ""
        features.websocket_routes += ((owner, first.value, span),)


def _literal(node, parsed: Parsed) -> bool:
    """One string literal (not an f-string, not several joined): a simple string to libcst."""
    return kind(node) == "Constant" and isinstance(node.value, (str, bytes)) and \
        len(string_tokens(parsed.text(node))) == 1


def _call(node, parsed: Parsed, features: AppFeatures, aliases: dict) -> None:
    func = node.func
    last = func.attr if kind(func) == "Attribute" else (name_of(func) or "")
    if last in WEBSOCKET_METHODS and kind(func) == "Attribute" and features.websocket is None:
        features.websocket = parsed.span(node)
    callee = dotted(func) or ""
    root, _, rest = callee.partition(".")
    qualified = f"{aliases.get(root, root)}.{rest}" if rest else aliases.get(root, root)
    if _socketio_server(qualified) and features.socketio is None:
        features.socketio = parsed.span(node)
    if last == "SocketIO" or aliases.get(last, "").startswith(SOCKETIO_MODULES):
        for keyword in node.keywords:
            if keyword.arg == "path" and _literal(keyword.value, parsed):
                features.socketio_path = keyword.value.value
    for keyword in node.keywords:  # app.config.update(MAX_CONTENT_LENGTH=…), dict(MAX_CONTENT_LENGTH=…)
        if keyword.arg == "MAX_CONTENT_LENGTH":
            features.max_content_length = Located(_size(keyword.value, parsed), parsed.span(keyword))


def _assign(node, parsed: Parsed, features: AppFeatures) -> None:
    targets = node.targets if kind(node) == "Assign" else [node.target]
    if node.value is None:
        return
    for target in targets:
        if _names_max_content_length(target, parsed):
            features.max_content_length = Located(_size(node.value, parsed), parsed.span(node))


def _names_max_content_length(target, parsed: Parsed) -> bool:
    """`MAX_CONTENT_LENGTH = …`, `app.config["MAX_CONTENT_LENGTH"] = …`, `app.max_content_length = …`."""
    what = kind(target)
    if what == "Name":
        return target.id == "MAX_CONTENT_LENGTH"
    if what == "Attribute":
        return target.attr in ("MAX_CONTENT_LENGTH", "max_content_length")
    if what == "Subscript":
        index = target.slice
        if kind(index) == "Tuple" and len(index.elts) == 1 and not parsed.parenthesized(index):
            index = index.elts[0]  # `x["A",]`: one index to libcst
        return _literal(index, parsed) and index.value == "MAX_CONTENT_LENGTH"
    return False


def _size(node, parsed: Parsed) -> object:
    """A size written as constant arithmetic (`16 * 1024 * 1024`, `50 << 20`, `None`); anything
    else (an env var, a name) is Unknown."""
    value = _constant(node, depth=0)
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 50 or value is None:
        return value
    return Unknown(parsed.text(node), parsed.span(node))


def _constant(node, depth: int) -> object:
    if depth > 20:
        return Unknown("")
    what = kind(node)
    if what == "Constant" and (node.value is None or type(node.value) is int):
        return node.value
    if what == "BinOp":
        left, right = _constant(node.left, depth + 1), _constant(node.right, depth + 1)
        if not (isinstance(left, int) and isinstance(right, int)):
            return Unknown("")
        operator = type(node.op)
        if operator is ast.Mult:
            return left * right
        if operator is ast.Add:
            return left + right
        if operator is ast.LShift and 0 <= right < 64:
            return left << right
        if operator is ast.Pow and 0 <= right < 64:
            return left ** right
    return Unknown("")
