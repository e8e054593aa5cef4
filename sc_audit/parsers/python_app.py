"""A Python web app module: app objects, factories, routes, blueprints, `app.run(...)`.

One walk over the statements (module level, then into functions) collects everything;
factories are resolved at the end (a factory may call one defined further down).
The audited code is never imported or run.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace

from ..facts import (
    AppHandoff,
    AppObject,
    AppRun,
    AppSetting,
    Blueprint,
    BlueprintRegistration,
    Function,
    GuardedSetup,
    ImportedName,
    ParseError,
    PythonModuleFacts,
    Route,
    RouteUnknown,
    UrlPattern,
)
from ..source import SourceFile
from ..span import Located, Span, Unknown
from . import app_features, pyexpr
from .pyexpr import Evaluator, Parsed, Val, argument, call_args, count_args, dotted, kind, name_of

# Last component of the constructor -> framework.
APP_CONSTRUCTORS = {
    "Flask": "flask",
    "FastAPI": "fastapi",
    "Starlette": "starlette",
    "Quart": "quart",
    "get_wsgi_application": "django",
    "get_asgi_application": "django",
}
BLUEPRINT_CONSTRUCTORS = {"Blueprint": "url_prefix", "APIRouter": "prefix"}
HTTP_VERBS = frozenset({"get", "post", "put", "delete", "patch", "head", "options", "trace",
                        "websocket", "websocket_route"})
ROUTE_DECORATORS = frozenset({"route", "api_route"})
URL_RULE_METHODS = {"add_url_rule": ("rule", 2, "view_func"), "add_api_route": ("path", 1, "endpoint"),
                    "add_route": ("path", 1, "route"), "add_websocket_route": ("path", 1, "route"),
                    "add_api_websocket_route": ("path", 1, "endpoint")}
REGISTRATIONS = {"register_blueprint": ("blueprint", "url_prefix"), "include_router": ("router", "prefix")}
# Keywords of an app constructor that move URLs (routes model: FastAPI docs, root_path; Flask static).
APP_URL_SETTINGS = {"fastapi": ("root_path", "docs_url", "redoc_url", "openapi_url",
                                "swagger_ui_oauth2_redirect_url"),
                    "starlette": (), "flask": ("static_url_path", "static_folder"), "quart": ("static_url_path",)}
# Extensions that add routes to the app they are given, which sc-audit does not read (by top-level
# package, through imports): the URL space of that app becomes Unknown (SC601 stays silent).
ROUTE_ADDING_PACKAGES = frozenset({
    "flask_restx", "flask_restplus", "flask_smorest", "flasgger", "flask_admin", "flask_healthz",
    "healthcheck", "prometheus_flask_exporter", "flask_security", "flask_appbuilder", "flask_graphql",
    "graphql_server", "connexion", "prometheus_fastapi_instrumentator", "fastapi_users", "sqladmin",
    "flask_swagger_ui", "flask_openapi3", "spectree", "flask_monitoringdashboard", "dash",
})
SOCKETIO_CONSTRUCTORS = frozenset({"flask_socketio.SocketIO"})
RESTFUL_CONSTRUCTORS = frozenset({"flask_restful.Api"})
DJANGO_SETTINGS_VARIABLE = "DJANGO_SETTINGS_MODULE"
# Django URL helpers whose result is empty unless DEBUG (`static()`), read as adding nothing.
DJANGO_DEBUG_ONLY = frozenset({"static", "staticfiles_urlpatterns"})
# Compound statements walked block by block (a `match` is not walked: its cases are patterns).
COMPOUND = (ast.For, ast.AsyncFor, ast.While, ast.With, ast.AsyncWith, ast.Try, ast.TryStar)
# Names that look like an app or an app factory: app, application, create_app, make_app...
APP_LIKE_NAME = re.compile(r"(^|_)(app|application)($|_)|app$", re.IGNORECASE)


def module_name(path: str) -> str:
    """Dotted module name of a root-relative path: "src/web/app.py" -> "src.web.app"."""
    path = path.removeprefix("./")
    for suffix in (".py", ".pyw"):
        path = path.removesuffix(suffix)
    parts = [part for part in path.split("/") if part]
    if parts and parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def parse(src: SourceFile) -> PythonModuleFacts:
    """Read what a Python module says about its web app. Never raises."""
    facts = PythonModuleFacts(path=src.path, module=module_name(src.path))
    parsed = pyexpr.parse(src)
    if isinstance(parsed, ParseError):
        facts.errors.append(parsed)
        return facts
    try:
        _Reader(parsed, facts).read()
        facts.features = app_features.read(parsed)
    except RecursionError:
        facts.errors.append(ParseError("expression nested too deeply to read", Span(src.path, 1)))
    except Exception as exc:  # a bug here must not stop the audit
        message = f"internal error reading the module: {type(exc).__name__}: {exc}"
        facts.errors.append(ParseError(message, Span(src.path, 1)))
    return facts


@dataclass
class _Scope:
    """Where the walk is: module level or inside a function."""

    function: str | None = None  # innermost function
    module_level: bool = True  # module level (also inside module-level if/try/for)
    main_guard: bool = False  # inside `if __name__ == "__main__":`
    conditional: bool = False  # inside a branch or loop (not the main guard)
    values: dict[str, Val] = field(default_factory=dict)  # names bound in this function
    info: _FunctionInfo | None = None  # the function being read
    in_loop: bool = False  # inside a for/while body: a list grown here has unknown entries
    lists: dict[str, _ListValue] = field(default_factory=dict)  # route lists built in this scope


@dataclass
class _ListValue:
    """A list of route entries as the code builds it (`urlpatterns = [...]`, `+= [...]`,
    `.append(...)`): entry nodes, or why it cannot be read (built in a loop, a call…)."""

    items: list = field(default_factory=list)
    unknown: str | None = None


@dataclass
class _FunctionInfo:
    """What a function does with apps, to tell whether it is a factory."""

    apps: set[str] = field(default_factory=set)  # locals bound to an app constructor
    calls: dict[str, str] = field(default_factory=dict)  # local -> callee: `app = make()`
    returns: list[tuple[str, str]] = field(default_factory=list)  # ("ctor"|"name"|"call", x)


class _Reader:
    def __init__(self, parsed: Parsed, facts: PythonModuleFacts):
        self.parsed = parsed
        self.facts = facts
        self.module_values: dict[str, Val] = {}
        self.resolve: dict[str, str] = {}  # alias -> qualified name, from every import
        self.app_names: set[str] = set()  # names bound to apps (anywhere)
        self.router_names: set[str] = set()  # names bound to blueprints / routers
        self.infos: dict[str, _FunctionInfo] = {}  # top-level functions only
        self.function_nodes: dict[str, object] = {}
        self.module_lists: dict[str, _ListValue] = {}
        self.extensions: dict[str, tuple[str, object]] = {}  # variable -> (qualified ctor, call)
        self.restful_apis: set[str] = set()  # Flask-RESTful `Api` objects

    def read(self) -> None:
        self._block(self.parsed.module.body, _Scope(values=self.module_values, lists=self.module_lists))
        self._finish_functions()
        self._finish_urlpatterns()

    # ---- evaluation

    def _evaluator(self, scope: _Scope) -> Evaluator:
        def lookup(name: str) -> Val | None:
            found = scope.values.get(name)
            return found if found is not None else self.module_values.get(name)

        return Evaluator(self.parsed, lookup, self.resolve)

    def _located(self, node, scope: _Scope) -> Located | None:
        if node is None:
            return None
        return Located(self._evaluator(scope).eval(node).value, self.parsed.span(node))

    def _string_or_unknown(self, node, scope: _Scope) -> str | Unknown:
        val = self._evaluator(scope).eval(node)
        if val.known and isinstance(val.value, str):
            return val.value
        return Unknown(self.parsed.text(node), self.parsed.span(node))

    def _qualified(self, node) -> str:
        """Callee of a call through imports: `F` after `from flask import Flask as F`."""
        return self._qualified_text(dotted(node) or "")

    def _qualified_text(self, path: str) -> str:
        root, _, rest = path.partition(".")
        base = self.resolve.get(root, root)
        return f"{base}.{rest}" if rest else base

    # ---- statements

    def _block(self, statements, scope: _Scope) -> None:
        for statement in statements:
            self._statement(statement, scope)

    def _statement(self, node, scope: _Scope) -> None:
        handler = getattr(self, "_s_" + kind(node), None)
        if handler is not None:
            handler(node, scope)
        elif isinstance(node, COMPOUND):  # while, with, try...
            self._nested(node, scope, conditional=kind(node) != "With")

    def _nested(self, node, scope: _Scope, conditional: bool = True) -> None:
        """Walk every block of a compound statement (body, else, handlers, finally)."""
        inner = replace(scope, conditional=scope.conditional or conditional,
                        in_loop=scope.in_loop or kind(node) in ("For", "While"))
        for block in _blocks(node):
            self._block(block, inner)
        for target in _bound_targets(node):
            self._bind_names(target, target, scope, Val(Unknown(self.parsed.text(target))))

    def _s_If(self, node, scope: _Scope) -> None:
        if scope.module_level and _is_main_guard(node.test, self.parsed):
            guarded = replace(scope, main_guard=True)
            self._block(node.body, guarded)
            if self._is_elif(node.orelse):  # its blocks, as a branch (it is no main guard itself)
                self._nested(node.orelse[0], scope)
            elif node.orelse:
                self._block(node.orelse, replace(scope, conditional=True))
            return
        self._nested(node, scope)

    def _is_elif(self, orelse: list) -> bool:
        """Whether the `else` part of an `if` is an `elif` (`ast` writes both as a list)."""
        if len(orelse) != 1 or not isinstance(orelse[0], ast.If):
            return False
        line, column = self.parsed.start(orelse[0])
        return self.parsed.lines[line - 1].startswith("elif", column)

    def _s_FunctionDef(self, node, scope: _Scope) -> None:
        name = node.name
        header = self.parsed.header_span(node)
        if scope.module_level:
            self.facts.names[name] = header
            self.function_nodes[name] = node
            self.module_values[name] = Val(Unknown(f"def {name}", header))
        for decorator in node.decorator_list:
            self._decorator(decorator, name, scope)
        info = _FunctionInfo()
        if scope.module_level:
            self.infos[name] = info
        inner = _Scope(name, module_level=False, values={}, info=info)
        self._block(node.body, inner)

    def _s_ClassDef(self, node, scope: _Scope) -> None:
        if scope.module_level:
            name = node.name
            self.facts.names[name] = self.parsed.header_span(node)
            self.module_values[name] = Val(Unknown(f"class {name}"))

    def _s_Import(self, node, scope: _Scope) -> None:
        self._route_imports(node, scope)
        for alias, module, name, alias_node in pyexpr.import_bindings(node):
            self.resolve[alias] = pyexpr.qualified_import(module, name)
            if scope.module_level:
                span = self.parsed.span(alias_node)
                self.facts.imports[alias] = ImportedName(alias, module, name, span)
                self.facts.names[alias] = span
                self.module_values.pop(alias, None)

    _s_ImportFrom = _s_Import

    def _s_Return(self, node, scope: _Scope) -> None:
        info = scope.info
        value = node.value
        if info is None or value is None:
            return
        if name_of(value) is not None:
            info.returns.append(("name", name_of(value)))
        elif kind(value) == "Call":
            if self._framework(value) is not None:
                info.returns.append(("ctor", ""))
            elif dotted(value.func) is not None:
                info.returns.append(("call", dotted(value.func)))

    def _s_Expr(self, node, scope: _Scope) -> None:
        if kind(node.value) == "Call":
            self._call(node.value, scope)
            self._route_call(node.value, None, scope)

    def _s_Assign(self, node, scope: _Scope) -> None:
        for target in node.targets:
            self._assign(target, node.value, node, scope)
            self._route_assign(target, node.value, scope)
        if kind(node.value) == "Call":
            self._call(node.value, scope)
            names = [t.id for t in node.targets if kind(t) == "Name"]
            self._route_call(node.value, names[0] if len(names) == 1 else None, scope)

    def _s_AnnAssign(self, node, scope: _Scope) -> None:
        if node.value is not None:
            self._assign(node.target, node.value, node, scope)

    def _s_AugAssign(self, node, scope: _Scope) -> None:
        self._route_augment(node, scope)
        self._bind_names(node.target, node, scope, Val(Unknown(self.parsed.text(node))))

    # ---- assignments

    def _assign(self, target, value, statement, scope: _Scope) -> None:
        val = self._evaluator(scope).eval(value)
        if scope.conditional:
            val = Val(Unknown(self.parsed.text(value), self.parsed.span(value)))
        self._bind_names(target, statement, scope, val)
        names = _names_in(target)
        if kind(value) != "Call" or not names:
            return
        framework = self._framework(value)
        callee = dotted(value.func)
        info = scope.info
        for name in names:
            if framework is not None:
                self._app(name, framework, statement, scope)
                self._app_url_settings(name, framework, value, scope)
                self._constructor_routes(name, value, scope)
            elif self._blueprint(name, value, statement, scope):
                pass
            elif callee is not None:
                if scope.module_level:
                    self.facts.assigned_calls[name] = callee
                if info is not None:
                    info.calls[name] = callee
                if self._looks_like_factory(callee):
                    self.app_names.add(name)

    def _bind_names(self, target, statement, scope: _Scope, val: Val) -> None:
        single = kind(target) == "Name"
        for name in _names_in(target):
            value = val if single else Val(Unknown(self.parsed.text(target)))
            scope.values[name] = value
            if scope.module_level:
                self.facts.names[name] = self.parsed.span(statement)
                self.resolve.pop(name, None)

    def _app(self, name: str, framework: str, statement, scope: _Scope) -> None:
        span = self.parsed.span(statement)
        self.facts.apps.append(AppObject(name, framework, span, scope.function))
        self.app_names.add(name)
        if scope.info is not None:
            scope.info.apps.add(name)

    def _blueprint(self, name: str, call, statement, scope: _Scope) -> bool:
        last = self._qualified(call.func).rsplit(".", 1)[-1]
        prefix_keyword = BLUEPRINT_CONSTRUCTORS.get(last)
        if prefix_keyword is None:
            return False
        prefix_node = argument(call, -1, prefix_keyword)
        prefix = None
        if prefix_node is not None:
            val = self._evaluator(scope).eval(prefix_node)
            prefix = val.value if val.value is None else self._string_or_unknown(prefix_node, scope)
        self.facts.blueprints.append(Blueprint(name, prefix, self.parsed.span(statement)))
        self.router_names.add(name)
        return True

    def _framework(self, call) -> str | None:
        return APP_CONSTRUCTORS.get(self._qualified(call.func).rsplit(".", 1)[-1])

    def _looks_like_factory(self, callee: str) -> bool:
        return bool(APP_LIKE_NAME.search(callee.rsplit(".", 1)[-1]))

    # ---- calls: routes, registrations, runs

    def _call(self, call, scope: _Scope) -> None:
        if scope.main_guard and _is_setup_call(call):
            text = self.parsed.text(call)
            self.facts.guarded_setup.append(GuardedSetup(text if len(text) <= 60 else text[:57] + "...",
                                                         self.parsed.span(call)))
        if kind(call.func) != "Attribute":
            return
        method = call.func.attr
        owner = self.parsed.text(call.func.value)
        if method in URL_RULE_METHODS:
            self._url_rule(call, owner, method, scope)
        elif method in REGISTRATIONS:
            self._registration(call, owner, method, scope)
        elif method == "run":
            self._run(call, owner, scope)

    def _decorator(self, node, function: str, scope: _Scope) -> None:
        if kind(node) != "Call" or kind(node.func) != "Attribute":
            return
        method = node.func.attr
        owner = self.parsed.text(node.func.value)
        path_node = argument(node, 0, "rule", "path")
        if method in ROUTE_DECORATORS:
            methods = self._methods(node, scope, ("GET",))
        elif method in HTTP_VERBS and self._is_router(owner, path_node, scope):
            methods = (method.upper(),)
        else:
            return
        path = self._path(path_node, node, scope)
        self.facts.routes.append(Route(owner, path, methods, self.parsed.span(node), function))

    def _is_router(self, owner: str, path_node, scope: _Scope) -> bool:
        if owner in self.app_names or owner in self.router_names:
            return True
        if path_node is None:
            return False
        path = self._evaluator(scope).eval(path_node).value
        return isinstance(path, str) and path.startswith("/")

    def _path(self, path_node, call, scope: _Scope) -> str | Unknown:
        if path_node is None:
            return Unknown("", self.parsed.span(call))
        return self._string_or_unknown(path_node, scope)

    def _methods(self, call, scope: _Scope, default: tuple[str, ...]) -> tuple[str, ...]:
        node = argument(call, -1, "methods")
        if node is None:
            return default
        value = self._evaluator(scope).eval(node).value
        if isinstance(value, (list, tuple, set)) and all(isinstance(m, str) for m in value):
            return tuple(m.upper() for m in value)
        return ()  # given, but not readable

    def _url_rule(self, call, owner: str, method: str, scope: _Scope) -> None:
        path_keyword, view_index, view_keyword = URL_RULE_METHODS[method]
        path = self._path(argument(call, 0, path_keyword), call, scope)
        view = argument(call, view_index, view_keyword)
        function = dotted(view) if view is not None else None
        methods = self._methods(call, scope, ("GET",))
        self.facts.routes.append(Route(owner, path, methods, self.parsed.span(call), function))

    def _registration(self, call, owner: str, method: str, scope: _Scope) -> None:
        blueprint_keyword, prefix_keyword = REGISTRATIONS[method]
        blueprint = argument(call, 0, blueprint_keyword)
        if blueprint is None:
            return
        prefix_node = argument(call, -1, prefix_keyword)
        prefix = None
        if prefix_node is not None:
            val = self._evaluator(scope).eval(prefix_node)
            prefix = val.value if val.value is None else self._string_or_unknown(prefix_node, scope)
        name = self.parsed.text(blueprint)
        self.facts.registrations.append(BlueprintRegistration(owner, name, prefix, self.parsed.span(call)))

    def _run(self, call, owner: str, scope: _Scope) -> None:
        """`app.run(host, port, debug)`, `socketio.run(app, host, port)`,
        `uvicorn.run("main:app", host=..., port=...)`."""
        positional, keywords = call_args(call)
        first = positional[0] if positional else None
        if first is not None and name_of(first) is not None and self._is_app(name_of(first)):
            app, offset = name_of(first), 1  # socketio.run(app, ...), uvicorn.run(app, ...)
        elif self._is_app(owner):
            app, offset = owner, 0
        elif first is not None and self._is_import_string(first, scope):
            app, offset = self._evaluator(scope).eval(first).value, 1
        elif {"host", "port", "debug"} & keywords.keys():
            app, offset = owner, 0
        else:
            return
        values = [
            self._located(argument(call, offset + index, keyword), scope)
            for index, keyword in enumerate(("host", "port", "debug"))
        ]
        span = self.parsed.span(call)
        reload = self._located(argument(call, -1, "reload", "use_reloader"), scope)
        self.facts.runs.append(AppRun(app, *values, span, under_main_guard=scope.main_guard, server=owner,
                                      reload=reload, in_function=scope.function,
                                      conditional=scope.conditional))

    def _is_app(self, name: str) -> bool:
        return name in self.app_names or bool(APP_LIKE_NAME.search(name))

    def _is_import_string(self, node, scope: _Scope) -> bool:
        value = self._evaluator(scope).eval(node).value
        return isinstance(value, str) and ":" in value  # uvicorn.run("main:app")

    # ---- routes beyond decorators (model/routes.py joins them): imports inside functions,
    # star imports, route lists (Django `urlpatterns`, Starlette `routes=[...]`), mounts,
    # extensions that add routes, Django settings. Each is a small reader; whatever it cannot
    # read becomes a RouteUnknown or an "unknown" UrlPattern, never a missing route.

    def _route_imports(self, node, scope: _Scope) -> None:
        """Function-level imports (blueprints imported inside `create_app`) and star imports
        (`from .base import *` in Django settings). False-alarm risk: none (they only let the
        routes model follow a name; an import it cannot follow leaves routes Unknown)."""
        if pyexpr.is_star_import(node):
            if scope.module_level:
                self.facts.star_imports.append(pyexpr.from_module(node))
            return
        if scope.module_level:
            return
        for alias, module, name, alias_node in pyexpr.import_bindings(node):
            span = self.parsed.span(alias_node)
            self.facts.function_imports.setdefault(alias, ImportedName(alias, module, name, span))

    def _route_assign(self, target, value, scope: _Scope) -> None:
        """`urlpatterns = [...]`, `routes = [...]`, `ROOT_URLCONF = "..."`,
        `os.environ["DJANGO_SETTINGS_MODULE"] = "..."`."""
        if kind(target) == "Subscript" and DJANGO_SETTINGS_VARIABLE in self.parsed.text(target) and \
                self._qualified(target.value) in ("os.environ", "environ"):
            self.facts.django_settings = self._string_or_unknown(value, scope)
            return
        if kind(target) != "Name":
            return
        name = target.id
        if name == "ROOT_URLCONF" and scope.module_level:
            self.facts.root_urlconf = Unknown(self.parsed.text(value), self.parsed.span(value)) \
                if scope.conditional else self._string_or_unknown(value, scope)
        listed = self._list_value(value, scope)
        if listed is not None:
            if scope.in_loop:
                listed = _ListValue(unknown=f"`{name}` is built in a loop")
            scope.lists[name] = listed
        elif name in scope.lists:
            scope.lists[name] = _ListValue(unknown=f"`{name} = {self.parsed.text(value)[:60]}`")

    def _route_augment(self, node, scope: _Scope) -> None:
        """`urlpatterns += [...]` (also under `if settings.DEBUG:`: an entry that may exist
        counts, which can only silence SC601)."""
        if kind(node.target) != "Name" or not isinstance(node.op, ast.Add):
            return
        name = node.target.id
        current = scope.lists.get(name)
        if current is None:
            return
        added = self._list_value(node.value, scope)
        self._grow(name, current, added, scope, node.value)

    def _grow(self, name: str, current: _ListValue, added: _ListValue | None, scope: _Scope, node) -> None:
        if scope.in_loop:
            current.unknown = current.unknown or f"`{name}` grows in a loop"
        elif added is None:
            current.unknown = current.unknown or f"`{name}` grows by `{self.parsed.text(node)[:60]}`"
        else:
            current.items.extend(added.items)
            current.unknown = current.unknown or added.unknown

    def _list_value(self, node, scope: _Scope) -> _ListValue | None:
        """The entries of a list expression, or None when it is not a list at all."""
        if kind(node) in ("List", "Tuple"):
            items, unknown = [], None
            for element in node.elts:
                if kind(element) == "Starred":
                    inner = self._list_value(element.value, scope)
                    if inner is None:
                        unknown = unknown or f"`{self.parsed.text(element)[:60]}`"
                    else:
                        items.extend(inner.items)
                        unknown = unknown or inner.unknown
                else:
                    items.append(element)
            return _ListValue(items, unknown)
        if kind(node) == "BinOp" and isinstance(node.op, ast.Add):
            left, right = self._list_value(node.left, scope), self._list_value(node.right, scope)
            if left is None and right is None:
                return None
            out = _ListValue()
            for part, part_node in ((left, node.left), (right, node.right)):
                if part is None:
                    out.unknown = out.unknown or f"`{self.parsed.text(part_node)[:60]}`"
                else:
                    out.items.extend(part.items)
                    out.unknown = out.unknown or part.unknown
            return out
        if name_of(node) is not None:
            found = scope.lists.get(name_of(node)) or self.module_lists.get(name_of(node))
            return _ListValue(list(found.items), found.unknown) if found is not None else None
        if kind(node) == "Call" and self._qualified(node.func).rsplit(".", 1)[-1] in DJANGO_DEBUG_ONLY:
            return _ListValue()
        if kind(node) in ("ListComp", "GeneratorExp"):
            return _ListValue(unknown=f"`{self.parsed.text(node)[:60]}` (a comprehension)")
        return None

    def _route_call(self, call, assigned: str | None, scope: _Scope) -> None:
        """Calls that add routes without a decorator: `urlpatterns.append(...)`,
        `app.mount("/static", StaticFiles(...))`, `SocketIO(app)`, `Api(app).add_resource(...)`,
        extensions given the app, `os.environ.setdefault("DJANGO_SETTINGS_MODULE", ...)`."""
        qualified = self._qualified(call.func)
        if qualified in ("os.environ.setdefault", "environ.setdefault"):
            key = self._evaluator(scope).eval(argument(call, 0, "key")).value if count_args(call) else None
            value = argument(call, 1, "default")
            if key == DJANGO_SETTINGS_VARIABLE and value is not None:
                self.facts.django_settings = self._string_or_unknown(value, scope)
            return
        if kind(call.func) == "Attribute":
            method, owner = call.func.attr, self.parsed.text(call.func.value)
            if method in ("append", "extend") and owner in scope.lists:
                element = argument(call, 0)
                added = None if element is None else (
                    _ListValue([element]) if method == "append" else self._list_value(element, scope))
                self._grow(owner, scope.lists[owner], added, scope, call)
                return
            if method == "mount":
                self._mount(call, owner, scope)
                return
            if method == "init_app" and owner in self.extensions:
                ctor, ctor_call = self.extensions[owner]
                self._extension(ctor, owner, ctor_call, call, scope)
                return
            if method == "add_resource" and owner in self.restful_apis:
                self._restful_resource(call, owner, scope)
                return
        self._handoff(call)
        root = _root_name(call.func)
        ctor = qualified if dotted(call.func) is not None else self._qualified_text(root or "")
        if assigned is not None and (ctor in SOCKETIO_CONSTRUCTORS or ctor in RESTFUL_CONSTRUCTORS or
                                     ctor.split(".")[0] in ROUTE_ADDING_PACKAGES):
            self.extensions[assigned] = (ctor, call)
            if ctor in RESTFUL_CONSTRUCTORS:
                self.restful_apis.add(assigned)
                self.router_names.add(assigned)
                prefix = argument(call, -1, "prefix")
                value = "" if prefix is None else self._string_or_unknown(prefix, scope)
                self.facts.blueprints.append(Blueprint(assigned, value or None, self.parsed.span(call)))
        if ctor.split(".")[0] in ROUTE_ADDING_PACKAGES or ctor in SOCKETIO_CONSTRUCTORS or ctor in RESTFUL_CONSTRUCTORS:
            self._extension(ctor, assigned, call, call, scope)

    def _handoff(self, call) -> None:
        """The app given to a plain function (`register_routes(app)`): the routes model follows it
        into the function's module when the function is the repository's own."""
        callee = dotted(call.func)
        if callee is None:
            return
        positional, keywords = call_args(call)
        given = [(i, None, node) for i, node in enumerate(positional)] + \
            [(-1, key, node) for key, node in keywords.items()]
        for index, keyword, node in given:
            name = name_of(node)
            if name is not None and (name in self.app_names or name in self.router_names):
                self.facts.app_handoffs.append(AppHandoff(name, callee, index, keyword, self.parsed.span(call)))

    def _app_argument(self, call) -> str | None:
        """The app (or blueprint) variable a call is given: `Ext(app)`, `ext.init_app(app=app)`."""
        node = argument(call, 0, "app")
        name = name_of(node) if node is not None else None
        if name is not None and (name in self.app_names or name in self.router_names):
            return name
        return None

    def _extension(self, ctor: str, name: str | None, ctor_call, call, scope: _Scope) -> None:
        """An extension given an app. Flask-SocketIO serves `/socket.io/` (its `path`);
        Flask-RESTful `Api(app)` is a blueprint-like router; any other route-adding package
        makes the app's URL space Unknown. False-alarm risk: none for SC601 (this only adds
        served or Unknown paths)."""
        app = self._app_argument(call)
        if app is None:
            return
        span = self.parsed.span(call)
        if ctor in SOCKETIO_CONSTRUCTORS:
            path_node = argument(call, -1, "path", "resource") or argument(ctor_call, -1, "path", "resource")
            path = "socket.io" if path_node is None else self._string_or_unknown(path_node, scope)
            if isinstance(path, Unknown) or not path.strip("/"):
                self.facts.route_unknowns.append(RouteUnknown(app, "", "Flask-SocketIO with a dynamic path", span))
                return
            base = "/" + path.strip("/") + "/"
            for rule in (base, base + "<path:engineio>"):
                self.facts.routes.append(Route(app, rule, ("GET", "POST"), span, "SocketIO"))
        elif ctor in RESTFUL_CONSTRUCTORS:
            if name is not None:
                self.facts.registrations.append(BlueprintRegistration(app, name, None, span))
        else:
            self.facts.route_unknowns.append(RouteUnknown(app, "", f"`{ctor}` adds routes", span))

    def _restful_resource(self, call, owner: str, scope: _Scope) -> None:
        """Flask-RESTful `api.add_resource(Resource, "/a", "/b", endpoint=...)`."""
        positional, _ = call_args(call)
        function = dotted(positional[0]) if positional else None
        for node in positional[1:]:
            path = self._string_or_unknown(node, scope)
            self.facts.routes.append(Route(owner, path, ("GET",), self.parsed.span(call), function))

    def _mount(self, call, owner: str, scope: _Scope) -> None:
        """`app.mount("/static", StaticFiles(...))` (Starlette/FastAPI): what the mounted app
        serves is not read, so the prefix is Unknown."""
        path_node = argument(call, 0, "path")
        if path_node is None:
            return
        path = self._string_or_unknown(path_node, scope)
        if isinstance(path, str) and not path.startswith("/") and owner not in self.app_names | self.router_names:
            return
        mounted = argument(call, 1, "app")
        what = self.parsed.text(mounted)[:60] if mounted is not None else "an app"
        self.facts.route_unknowns.append(RouteUnknown(owner, path, f"`{what}` is mounted", self.parsed.span(call)))

    def _app_url_settings(self, name: str, framework: str, call, scope: _Scope) -> None:
        """FastAPI `root_path=`, `docs_url=None`…; Flask `static_url_path=`, as given."""
        for key in APP_URL_SETTINGS.get(framework, ()):
            node = argument(call, -1, key)
            if node is None:
                continue
            val = self._evaluator(scope).eval(node)
            value = None if val.value is None else self._string_or_unknown(node, scope)
            self.facts.app_settings.append(AppSetting(name, key, value, self.parsed.span(node)))

    def _constructor_routes(self, name: str, call, scope: _Scope) -> None:
        """Starlette/FastAPI `routes=[Route(...), Mount(...)]` given to the app constructor."""
        node = argument(call, -1, "routes")
        if node is not None:
            self._route_entries(name, "", node, scope)

    def _route_entries(self, app: str, prefix: str | Unknown, node, scope: _Scope) -> None:
        span = self.parsed.span(node)
        listed = self._list_value(node, scope)
        if listed is None or listed.unknown:
            reason = (listed.unknown if listed else None) or f"`{self.parsed.text(node)[:60]}`"
            self.facts.route_unknowns.append(RouteUnknown(app, prefix, f"routes from {reason}", span))
        for entry in listed.items if listed is not None else ():
            self._route_entry(app, prefix, entry, scope)

    def _route_entry(self, app: str, prefix: str | Unknown, entry, scope: _Scope) -> None:
        """One Starlette routing entry: `Route`, `WebSocketRoute`, `Mount(routes=...)`;
        a `Mount` of an app, a `Host` or anything else is Unknown under its prefix."""
        span = self.parsed.span(entry)
        ctor = self._qualified(entry.func).rsplit(".", 1)[-1] if kind(entry) == "Call" else ""
        path_node = argument(entry, 0, "path") if ctor else None
        path = self._string_or_unknown(path_node, scope) if path_node is not None else Unknown("", span)
        full = prefix + path if isinstance(prefix, str) and isinstance(path, str) else Unknown("", span)
        if ctor in ("Route", "WebSocketRoute", "APIRoute", "APIWebSocketRoute"):
            endpoint = argument(entry, 1, "endpoint")
            methods = self._methods(entry, scope, ("GET",))
            function = dotted(endpoint) if endpoint is not None else None
            self.facts.routes.append(Route(app, full, methods, span, function))
        elif ctor == "Mount" and argument(entry, -1, "routes") is not None:
            self._route_entries(app, full, argument(entry, -1, "routes"), scope)
        elif ctor == "Mount":
            self.facts.route_unknowns.append(RouteUnknown(app, full, "a mounted app", span))
        else:
            self.facts.route_unknowns.append(
                RouteUnknown(app, prefix, f"`{self.parsed.text(entry)[:60]}` in the route list", span))

    # ---- Django

    def _finish_urlpatterns(self) -> None:
        listed = self.module_lists.get("urlpatterns")
        if listed is None:
            return
        scope = _Scope(values=self.module_values, lists=self.module_lists)
        patterns = [self._url_pattern(item, scope, 0) for item in listed.items]
        if listed.unknown:
            patterns.append(UrlPattern("unknown", "", Span(self.facts.path, 1), unknown=listed.unknown))
        self.facts.urlpatterns = patterns

    def _url_pattern(self, node, scope: _Scope, depth: int) -> UrlPattern:
        """`path(route, view)`, `re_path(regex, view)` / `url(...)`, with `include("x.urls")`,
        `include([...])`, `include((patterns, "ns"))`; `admin.site.urls` and anything else that
        cannot be followed is an unknown target. False-alarm risk: a custom function named
        `path` that is not Django's (read as Django's)."""
        span = self.parsed.span(node)
        function = self._qualified(node.func).rsplit(".", 1)[-1] if kind(node) == "Call" else ""
        if function not in ("path", "re_path", "url") or depth > 8:
            return UrlPattern("unknown", "", span, unknown=f"`{self.parsed.text(node)[:60]}`")
        route_node = argument(node, 0, "route", "regex")
        route = self._string_or_unknown(route_node, scope) if route_node is not None else Unknown("", span)
        pattern_kind = "path" if function == "path" else "re_path"
        view = argument(node, 1, "view")
        if view is None:
            return UrlPattern(pattern_kind, route, span, unknown="no view")
        if kind(view) == "Call" and self._qualified(view.func).rsplit(".", 1)[-1] == "include":
            return self._include(pattern_kind, route, span, view, scope, depth)
        if kind(view) in ("List", "Tuple") or self.parsed.text(view).endswith(".urls"):
            return UrlPattern(pattern_kind, route, span, unknown=f"`{self.parsed.text(view)[:60]}`")
        return UrlPattern(pattern_kind, route, span)

    def _include(self, pattern_kind: str, route, span, view, scope: _Scope, depth: int) -> UrlPattern:
        target = argument(view, 0, "arg")
        if target is not None and kind(target) == "Tuple" and target.elts:
            target = target.elts[0].value if kind(target.elts[0]) == "Starred" else target.elts[0]
        if target is None:
            return UrlPattern(pattern_kind, route, span, unknown="include()")
        value = self._evaluator(scope).eval(target).value
        if isinstance(value, str):
            return UrlPattern(pattern_kind, route, span, include=value)
        listed = self._list_value(target, scope)
        if listed is not None:
            children = [self._url_pattern(item, scope, depth + 1) for item in listed.items]
            if listed.unknown:
                children.append(UrlPattern("unknown", "", span, unknown=listed.unknown))
            return UrlPattern(pattern_kind, route, span, children=tuple(children))
        if name_of(target) is not None and name_of(target) in self.resolve:
            imported = self.facts.imports.get(name_of(target)) or self.facts.function_imports.get(name_of(target))
            if imported is not None:
                module = pyexpr.qualified_import(imported.module, imported.name)
                return UrlPattern(pattern_kind, route, span, include=module)
        return UrlPattern(pattern_kind, route, span, unknown=f"`include({self.parsed.text(target)[:60]})`")

    # ---- functions and factories

    def _finish_functions(self) -> None:
        factories = self._factories()
        for name, node in self.function_nodes.items():
            params, required = _parameters(node.args)
            span = self.parsed.header_span(node)
            self.facts.functions[name] = Function(name, span, params, required, name in factories)

    def _factories(self) -> set[str]:
        """Top-level functions that build and return an app (directly or through
        another factory); repeated until nothing changes."""
        factories: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, info in self.infos.items():
                if name not in factories and any(self._returns_app(r, info, factories) for r in info.returns):
                    factories.add(name)
                    changed = True
        return factories

    def _returns_app(self, returned: tuple[str, str], info: _FunctionInfo, factories: set[str]) -> bool:
        what, value = returned
        if what == "ctor":
            return True
        if what == "name":
            if value in info.apps:
                return True
            return value in info.calls and self._is_factory_call(info.calls[value], factories)
        return self._is_factory_call(value, factories)

    def _is_factory_call(self, callee: str, factories: set[str]) -> bool:
        """A local factory, or an imported name that looks like one (`create_app`)."""
        if callee in self.infos:
            return callee in factories
        root = callee.split(".")[0]
        last = self._qualified_text(callee).rsplit(".", 1)[-1]
        return root in self.resolve and bool(APP_LIKE_NAME.search(last))


# --------------------------------------------------------------------------- small helpers


def _blocks(node) -> list[list]:
    """Every block of statements directly inside a compound statement (an `elif` is a block
    holding its `if`)."""
    blocks = [part for name in ("body", "orelse", "finalbody") if (part := getattr(node, name, None))]
    for part in getattr(node, "handlers", ()):
        blocks.append(part.body)
    for case in getattr(node, "cases", ()):
        blocks.append(case.body)
    return blocks


def _bound_targets(node) -> list:
    """Names a compound statement binds itself: `for x in`, `with ... as x`."""
    if kind(node) == "For":
        return [node.target]
    if kind(node) == "With":
        return [item.optional_vars for item in node.items if item.optional_vars is not None]
    return []


def _names_in(target) -> list[str]:
    if kind(target) == "Name":
        return [target.id]
    if kind(target) in ("Tuple", "List"):
        names = []
        for element in target.elts:
            names += _names_in(element.value if kind(element) == "Starred" else element)
        return names
    return []


def _root_name(node) -> str | None:
    """The name a call chain starts from: `Instrumentator` in `Instrumentator().instrument(app).expose`."""
    for _ in range(50):
        if name_of(node) is not None:
            return name_of(node)
        if kind(node) == "Attribute":
            node = node.value
        elif kind(node) == "Call":
            node = node.func
        else:
            return None
    return None


SETUP_METHODS = frozenset({"register_blueprint", "include_router", "init_app", "create_all"})
SETUP_FUNCTION = re.compile(r"^(init|setup|create|initialize)_(db|database|tables?|schema|models)$")


def _is_setup_call(call) -> bool:
    """A call that sets the app up: registers routes, initialises an extension, creates tables."""
    if kind(call.func) == "Attribute":
        return call.func.attr in SETUP_METHODS
    return kind(call.func) == "Name" and bool(SETUP_FUNCTION.match(call.func.id))


def _is_main_guard(test, parsed: Parsed) -> bool:
    text = parsed.text(test).replace(" ", "").replace("'", '"')
    return text in ('__name__=="__main__"', '"__main__"==__name__')


def _parameters(args: ast.arguments) -> tuple[tuple[str, ...], int]:
    """Parameter names in order (`*args`, `**kwargs` with their stars) and how many
    have no default."""
    positional = [*args.posonlyargs, *args.args]
    first_default = len(positional) - len(args.defaults)
    names = [param.arg for param in positional]
    required = min(first_default, len(positional))
    if args.vararg is not None:
        names.append("*" + args.vararg.arg)
    for param, default in zip(args.kwonlyargs, args.kw_defaults, strict=True):
        names.append(param.arg)
        required += default is None
    if args.kwarg is not None:
        names.append("**" + args.kwarg.arg)
    return tuple(names), required
