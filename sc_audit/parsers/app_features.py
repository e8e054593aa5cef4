"""What a Python module says about how its app meets the proxy in front of it: Socket.IO,
WebSocket endpoints, file uploads, a ProxyFix, MAX_CONTENT_LENGTH, and the modules it imports.

One iterative walk over the libcst tree (no recursion, so a deeply nested module is no risk);
names are matched as written and through the module's imports. Nothing is imported or run.
False-alarm risk, for the rules that read these: a module that imports Flask-SocketIO or reads
`request.files` in code that never runs (a dead branch, a test helper imported by the app).
"""

from __future__ import annotations

import re

from ..facts import AppFeatures
from ..span import Located, Unknown
from .pyexpr import Parsed, dotted, import_bindings, kind, qualified_import

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
    stack = [(parsed.module, True, False)]
    seen = 0
    while stack and seen < MAX_NODES:
        node, module_level, deep = stack.pop()
        seen += 1
        what = kind(node)
        if what in ("FunctionDef", "ClassDef", "Lambda"):
            module_level = False
        elif module_level and what == "Assign" and len(bindings) < MAX_BINDINGS:
            bindings.extend(_binding(node, parsed))
        if what in ("Import", "ImportFrom"):
            _import(node, parsed, features, imported, aliases)
            continue
        if what in ("SimpleStatementLine", "Decorator") and not deep and marked:
            where = parsed.positions[node]
            deep = any(number in marked for number in range(where.start.line, where.end.line + 1))
        if deep:
            if what == "Attribute":
                _attribute(node, parsed, features, aliases)
            elif what == "Name":
                _name(node, parsed, features, aliases)
            elif what == "Decorator":
                _decorator(node, parsed, features)
            elif what in ("Assign", "AnnAssign"):
                _assign(node, parsed, features)
            elif what == "Call":
                _call(node, parsed, features, aliases)
        children = getattr(node, "children", ()) if deep else _statement_children(node)
        stack.extend((child, module_level, deep) for child in reversed(children))
    features.imported = tuple(dict.fromkeys(imported))[:MAX_IMPORTS]
    features.bindings = tuple(bindings)
    return features


def _statement_children(node) -> list:
    """Statements (and decorators) directly inside a node, without descending into expressions."""
    what = kind(node)
    if what == "SimpleStatementLine":
        return list(node.body)
    found = list(getattr(node, "decorators", ()))
    for name in ("body", "orelse", "finalbody"):
        part = getattr(node, name, None)
        if part is None or isinstance(part, (str, bytes)):
            continue
        if isinstance(part, (list, tuple)):
            found.extend(part)
        elif kind(part) in ("IndentedBlock", "SimpleStatementSuite"):
            found.extend(part.body)
        else:
            found.append(part)  # Else, Finally, an elif If
    found.extend(getattr(node, "handlers", ()))
    found.extend(getattr(node, "cases", ()))
    return [child for child in found if kind(child) not in ("Expr",) or what == "SimpleStatementLine"]


def _binding(node, parsed: Parsed) -> list:
    interface = None
    value = node.value
    if kind(value) == "Call":
        callee = dotted(value.func) or ""
        interface = INTERFACES.get(callee.rsplit(".", 1)[-1])
    span = parsed.span(node)
    return [(t.target.value, interface, span) for t in node.targets if kind(t.target) == "Name"]


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
    name = node.attr.value
    if name == "files" and dotted(node.value) == "request" and features.upload is None:
        features.upload = parsed.span(node)  # Flask/Quart `request.files`, Django `request.FILES` below
    elif name == "FILES" and features.upload is None:
        features.upload = parsed.span(node)
    elif name in UPLOAD_ATTRIBUTES and features.upload is None:
        features.upload = parsed.span(node)  # forms.FileField, models.ImageField
    elif name in PROXY_FIX_NAMES and features.proxy_fix is None:
        features.proxy_fix = parsed.span(node)


def _name(node, parsed: Parsed, features: AppFeatures, aliases: dict) -> None:
    if node.value == "SECURE_PROXY_SSL_HEADER" and features.proxy_fix is None:
        features.proxy_fix = parsed.span(node)


def _decorator(node, parsed: Parsed, features: AppFeatures) -> None:
    call = node.decorator
    func = call.func if kind(call) == "Call" else call
    if kind(func) != "Attribute" or func.attr.value not in WEBSOCKET_METHODS:
        return
    if features.websocket is None:
        features.websocket = parsed.span(node)
    first = call.args[0].value if kind(call) == "Call" and call.args else None
    if first is not None and kind(first) == "SimpleString" and len(features.websocket_routes) < 200:
        owner = dotted(func.value) or ""
        features.websocket_routes += ((owner, first.evaluated_value, parsed.span(node)),)


def _call(node, parsed: Parsed, features: AppFeatures, aliases: dict) -> None:
    func = node.func
    last = func.attr.value if kind(func) == "Attribute" else (func.value if kind(func) == "Name" else "")
    if last in WEBSOCKET_METHODS and kind(func) == "Attribute" and features.websocket is None:
        features.websocket = parsed.span(node)
    callee = dotted(func) or ""
    root, _, rest = callee.partition(".")
    qualified = f"{aliases.get(root, root)}.{rest}" if rest else aliases.get(root, root)
    if _socketio_server(qualified) and features.socketio is None:
        features.socketio = parsed.span(node)
    if last == "SocketIO" or aliases.get(last, "").startswith(SOCKETIO_MODULES):
        for arg in node.args:
            if arg.keyword is not None and arg.keyword.value == "path" and kind(arg.value) == "SimpleString":
                features.socketio_path = arg.value.evaluated_value
    for arg in node.args:  # app.config.update(MAX_CONTENT_LENGTH=…), dict(MAX_CONTENT_LENGTH=…)
        if arg.keyword is not None and arg.keyword.value == "MAX_CONTENT_LENGTH":
            features.max_content_length = Located(_size(arg.value, parsed), parsed.span(arg))


def _assign(node, parsed: Parsed, features: AppFeatures) -> None:
    targets = [t.target for t in node.targets] if kind(node) == "Assign" else [node.target]
    if node.value is None:
        return
    for target in targets:
        if _names_max_content_length(target):
            features.max_content_length = Located(_size(node.value, parsed), parsed.span(node))


def _names_max_content_length(target) -> bool:
    """`MAX_CONTENT_LENGTH = …`, `app.config["MAX_CONTENT_LENGTH"] = …`, `app.max_content_length = …`."""
    what = kind(target)
    if what == "Name":
        return target.value == "MAX_CONTENT_LENGTH"
    if what == "Attribute":
        return target.attr.value in ("MAX_CONTENT_LENGTH", "max_content_length")
    if what == "Subscript" and len(target.slice) == 1:
        index = getattr(target.slice[0].slice, "value", None)
        return kind(index) == "SimpleString" and index.evaluated_value == "MAX_CONTENT_LENGTH"
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
    if what == "Integer":
        return int(node.value.replace("_", ""), 0)
    if what == "Name" and node.value == "None":
        return None
    if what == "BinaryOperation":
        left, right = _constant(node.left, depth + 1), _constant(node.right, depth + 1)
        if not (isinstance(left, int) and isinstance(right, int)):
            return Unknown("")
        operator = kind(node.operator)
        if operator == "Multiply":
            return left * right
        if operator == "Add":
            return left + right
        if operator == "LeftShift" and 0 <= right < 64:
            return left << right
        if operator == "Power" and 0 <= right < 64:
            return left ** right
    return Unknown("")
