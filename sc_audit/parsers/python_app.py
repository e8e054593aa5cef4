"""A Python web app module: app objects, factories, routes, blueprints, `app.run(...)`.

One walk over the statements (module level, then into functions) collects everything;
factories are resolved at the end (a factory may call one defined further down).
The audited code is never imported or run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from ..facts import (
    AppObject,
    AppRun,
    Blueprint,
    BlueprintRegistration,
    Function,
    ImportedName,
    ParseError,
    PythonModuleFacts,
    Route,
)
from ..source import SourceFile
from ..span import Located, Span, Unknown
from . import app_features, pyexpr
from .pyexpr import Evaluator, Parsed, Val, argument, call_args, dotted, kind

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
HTTP_VERBS = frozenset({"get", "post", "put", "delete", "patch", "head", "options"})
ROUTE_DECORATORS = frozenset({"route", "api_route"})
URL_RULE_METHODS = {"add_url_rule": ("rule", 2, "view_func"), "add_api_route": ("path", 1, "endpoint")}
REGISTRATIONS = {"register_blueprint": ("blueprint", "url_prefix"), "include_router": ("router", "prefix")}
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

    def read(self) -> None:
        self._block(self.parsed.module.body, _Scope(values=self.module_values))
        self._finish_functions()

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
        elif hasattr(node, "body"):  # while, with, match...
            self._nested(node, scope, conditional=kind(node) != "With")

    def _nested(self, node, scope: _Scope, conditional: bool = True) -> None:
        """Walk every block of a compound statement (body, else, handlers, finally)."""
        inner = replace(scope, conditional=scope.conditional or conditional)
        for block in _blocks(node):
            self._block(block, inner)
        for target in _bound_targets(node):
            self._bind_names(target, target, scope, Val(Unknown(self.parsed.text(target))))

    def _s_SimpleStatementLine(self, node, scope: _Scope) -> None:
        self._block(node.body, scope)

    def _s_SimpleStatementSuite(self, node, scope: _Scope) -> None:
        self._block(node.body, scope)

    def _s_If(self, node, scope: _Scope) -> None:
        if scope.module_level and _is_main_guard(node.test, self.parsed):
            guarded = replace(scope, main_guard=True)
            self._block(_statements(node.body), guarded)
            if node.orelse is not None:
                self._nested(node.orelse, scope)
            return
        self._nested(node, scope)

    def _s_FunctionDef(self, node, scope: _Scope) -> None:
        name = node.name.value
        header = self.parsed.span_between(node, node.name)
        if scope.module_level:
            self.facts.names[name] = header
            self.function_nodes[name] = node
            self.module_values[name] = Val(Unknown(f"def {name}", header))
        for decorator in node.decorators:
            self._decorator(decorator.decorator, name, scope)
        info = _FunctionInfo()
        if scope.module_level:
            self.infos[name] = info
        inner = _Scope(name, module_level=False, values={}, info=info)
        self._block(_statements(node.body), inner)

    def _s_ClassDef(self, node, scope: _Scope) -> None:
        if scope.module_level:
            name = node.name.value
            self.facts.names[name] = self.parsed.span_between(node, node.name)
            self.module_values[name] = Val(Unknown(f"class {name}"))

    def _s_Import(self, node, scope: _Scope) -> None:
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
        if kind(value) == "Name":
            info.returns.append(("name", value.value))
        elif kind(value) == "Call":
            if self._framework(value) is not None:
                info.returns.append(("ctor", ""))
            elif dotted(value.func) is not None:
                info.returns.append(("call", dotted(value.func)))

    def _s_Expr(self, node, scope: _Scope) -> None:
        if kind(node.value) == "Call":
            self._call(node.value, scope)

    def _s_Assign(self, node, scope: _Scope) -> None:
        for target in node.targets:
            self._assign(target.target, node.value, node, scope)
        if kind(node.value) == "Call":
            self._call(node.value, scope)

    def _s_AnnAssign(self, node, scope: _Scope) -> None:
        if node.value is not None:
            self._assign(node.target, node.value, node, scope)

    def _s_AugAssign(self, node, scope: _Scope) -> None:
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
            prefix = val.value if isinstance(val.value, str) else None
        self.facts.blueprints.append(Blueprint(name, prefix, self.parsed.span(statement)))
        self.router_names.add(name)
        return True

    def _framework(self, call) -> str | None:
        return APP_CONSTRUCTORS.get(self._qualified(call.func).rsplit(".", 1)[-1])

    def _looks_like_factory(self, callee: str) -> bool:
        return bool(APP_LIKE_NAME.search(callee.rsplit(".", 1)[-1]))

    # ---- calls: routes, registrations, runs

    def _call(self, call, scope: _Scope) -> None:
        if kind(call.func) != "Attribute":
            return
        method = call.func.attr.value
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
        method = node.func.attr.value
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
        if first is not None and kind(first) == "Name" and self._is_app(first.value):
            app, offset = first.value, 1  # socketio.run(app, ...), uvicorn.run(app, ...)
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
        self.facts.runs.append(AppRun(app, *values, span, under_main_guard=scope.main_guard))

    def _is_app(self, name: str) -> bool:
        return name in self.app_names or bool(APP_LIKE_NAME.search(name))

    def _is_import_string(self, node, scope: _Scope) -> bool:
        value = self._evaluator(scope).eval(node).value
        return isinstance(value, str) and ":" in value  # uvicorn.run("main:app")

    # ---- functions and factories

    def _finish_functions(self) -> None:
        factories = self._factories()
        for name, node in self.function_nodes.items():
            params, required = _parameters(node.params)
            span = self.parsed.span_between(node, node.name)
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


def _statements(block) -> list:
    """Statements of an IndentedBlock / SimpleStatementSuite."""
    body = getattr(block, "body", ())
    return list(body) if isinstance(body, (list, tuple)) else []


def _blocks(node) -> list[list]:
    """Every block of statements directly inside a compound statement."""
    blocks = []
    for name in ("body", "orelse", "finalbody"):
        part = getattr(node, name, None)
        if part is None:
            continue
        if kind(part) == "If":  # elif
            blocks.append([part])
        elif kind(part) in ("Else", "Finally"):
            blocks.append(_statements(part.body))
        else:
            blocks.append(_statements(part))
    for part in getattr(node, "handlers", ()):
        blocks.append(_statements(part.body))
    for case in getattr(node, "cases", ()):
        blocks.append(_statements(case.body))
    return blocks


def _bound_targets(node) -> list:
    """Names a compound statement binds itself: `for x in`, `with ... as x`."""
    if kind(node) in ("For",):
        return [node.target]
    if kind(node) == "With":
        return [item.asname.name for item in node.items if item.asname is not None]
    return []


def _names_in(target) -> list[str]:
    if kind(target) == "Name":
        return [target.value]
    if kind(target) in ("Tuple", "List"):
        names = []
        for element in target.elements:
            names += _names_in(element.value)
        return names
    return []


def _is_main_guard(test, parsed: Parsed) -> bool:
    text = parsed.text(test).replace(" ", "").replace("'", '"')
    return text in ('__name__=="__main__"', '"__main__"==__name__')


def _parameters(params) -> tuple[tuple[str, ...], int]:
    """Parameter names in order (`*args`, `**kwargs` with their stars) and how many
    have no default."""
    star = [params.star_arg] if kind(params.star_arg) == "Param" else []
    kwargs = [params.star_kwarg] if params.star_kwarg is not None else []
    names, required = [], 0
    for param in [*params.posonly_params, *params.params, *star, *params.kwonly_params, *kwargs]:
        names.append(param.star + param.name.value)
        required += not param.star and param.default is None
    return tuple(names), required
