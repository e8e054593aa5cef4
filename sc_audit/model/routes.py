"""Apps and their routes: which module a target names, and which URL paths an app serves.

`route_table` answers, for one app object, which request paths it routes (`KnownRoute`) and under
which prefixes its routes cannot be known (`UnknownRegion`: a mounted sub-app, an extension that
adds routes, a dynamic prefix, a router sc-audit cannot find). `path_status` then says "routed",
"unknown" or "unrouted"; SC601 fires only on "unrouted". Each framework's own rules, from its
source: FastAPI composes prefixes by concatenation (`include_router` prefix + `APIRouter.prefix` +
path); Flask joins a blueprint's `url_prefix` with "/", a registration's `url_prefix` replaces the
blueprint's own, and a nested blueprint's prefix joins its parent's; Django resolves `path()` /
`re_path()` patterns level by level from `ROOT_URLCONF`.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from ..facts import PythonModuleFacts, UrlPattern
from ..span import Span, Unknown
from .records import Deployment

MAX_DEPTH = 8  # nested routers / includes followed
FASTAPI_DOCS = {"openapi_url": "/openapi.json", "docs_url": "/docs",
                "swagger_ui_oauth2_redirect_url": "/docs/oauth2-redirect", "redoc_url": "/redoc"}
# django/urls/converters.py
DJANGO_CONVERTERS = {"str": "[^/]+", "int": "[0-9]+", "slug": "[-a-zA-Z0-9_]+",
                     "uuid": "[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", "path": ".+"}


def module_file_candidates(base: str, module: str) -> list[str]:
    rel = module.replace(".", "/")
    prefix = f"{base}/" if base else ""
    return [f"{prefix}{rel}.py", f"{prefix}{rel}/__init__.py"]


def find_module(model: Deployment, base: str, module: str) -> PythonModuleFacts | None:
    for candidate in module_file_candidates(base, module):
        facts = model.module_paths.get(candidate)
        if facts is not None:
            return facts
    return None


def module_in_repo(model: Deployment, base: str, module: str) -> bool:
    return any(c in model.root_paths for c in module_file_candidates(base, module))


@dataclass(frozen=True, slots=True)
class KnownRoute:
    rule: str  # the full rule as the framework writes it: "/api/items/{id}", "/u/<int:id>", "api/^x$"
    regex: object  # compiled (re, or RE2 for Django regexes) over request paths: `.match(path)`
    span: Span


@dataclass(frozen=True, slots=True)
class UnknownRegion:
    prefix: str  # request paths starting with it may be served ("" = every path)
    reason: str
    span: Span


@dataclass
class RouteTable:
    framework: str
    routes: list[KnownRoute] = field(default_factory=list)
    unknown: list[UnknownRegion] = field(default_factory=list)
    root_path: str = ""  # FastAPI root_path: `/api/health` also reaches `/health`

    def unknown_at(self, prefix: str | Unknown, reason: str, span: Span) -> None:
        self.unknown.append(UnknownRegion(prefix if isinstance(prefix, str) else "", reason, span))


def routes_of(model: Deployment, module: PythonModuleFacts, app_name: str) -> list[tuple[str, Span]]:
    """Every URL rule the app object `app_name` of `module` is known to serve, with where it is
    declared (`route_table` also says where more may be served). Which module and app a process
    serves is found by checks/health.py (`app_behind`)."""
    return [(route.rule, route.span) for route in route_table(model, module, app_name).routes]


def route_table(model: Deployment, module: PythonModuleFacts, app_name: str) -> RouteTable:
    """What the app serves, and where that cannot be known. Memoized per audit."""
    key = ("route_table", module.path, app_name)
    table = model.memo.get(key)
    if table is None:
        table = _build_table(model, module, app_name)
        model.memo[key] = table
    return table


def path_status(table: RouteTable, path: str) -> str:
    """"routed", "unknown" or "unrouted" for a request path.

    A trailing slash is tolerated both ways: Flask and Django (APPEND_SLASH) redirect `/x` to
    `/x/`, Starlette redirects both ways, and a check accepts or follows a redirect. A Flask `/x/`
    request to a `/x` rule is a 404 in truth: this errs silent. With a root_path, `/root/x` is also
    tried as `/x` (Starlette's `get_route_path`)."""
    paths = {path}
    if table.root_path and path.startswith(table.root_path + "/"):
        paths.add(path[len(table.root_path):])
    variants = set()
    for each in paths:
        variants |= {each, each.rstrip("/") or "/", each if each.endswith("/") else each + "/"}
    if any(route.regex.match(v) for route in table.routes for v in variants):
        return "routed"
    if any(v.startswith(region.prefix) for region in table.unknown for v in variants):
        return "unknown"
    return "unrouted"


def _build_table(model: Deployment, module: PythonModuleFacts, app_name: str) -> RouteTable:
    framework = next((a.framework for a in module.apps if a.name == app_name), "flask")
    table = RouteTable(framework)
    if framework == "django":
        _django_table(model, module, table)
        return table
    _app_defaults(module, app_name, table)
    _collect(model, module, app_name, "", table, 0, set())
    return table


def _app_defaults(module: PythonModuleFacts, app_name: str, table: RouteTable) -> None:
    """Routes an app serves without a declaration: FastAPI's docs pages and OpenAPI schema,
    Flask's `/static/` (files, so Unknown). A keyword given as None removes them; a keyword that
    is not a constant makes the whole app Unknown."""
    settings = {s.key: s for s in module.app_settings if s.app == app_name}
    span = next((a.span for a in module.apps if a.name == app_name), Span(module.path, 1))
    if table.framework == "fastapi":
        no_schema = "openapi_url" in settings and settings["openapi_url"].value is None
        for key, default in FASTAPI_DOCS.items():
            given = settings.get(key)
            value = default if given is None else given.value
            if isinstance(value, Unknown):
                table.unknown_at("", f"`{key}` is not a constant", given.span)
            elif value and not no_schema:
                table.routes.append(KnownRoute(value, rule_regex(value), span))
    if table.framework in ("fastapi", "starlette") and "root_path" in settings:
        root = settings["root_path"].value
        if isinstance(root, Unknown):
            table.unknown_at("", "`root_path` is not a constant", settings["root_path"].span)
        elif root:
            table.root_path = root.rstrip("/")
    if table.framework in ("flask", "quart"):
        given = settings.get("static_url_path")
        static = "/static" if given is None else given.value
        if isinstance(static, Unknown):
            table.unknown_at("", "`static_url_path` is not a constant", given.span)
        elif static is not None:
            table.unknown_at(static.rstrip("/") + "/", "static files", span)


def _collect(model: Deployment, module: PythonModuleFacts, owner: str, prefix: str,
             table: RouteTable, depth: int, seen: set) -> None:
    """Routes declared on `owner` (an app or router variable of `module`) under `prefix`, those of
    the routers registered on it (recursively), and those declared on `owner` in modules that
    import it (`from app import app`, then `@app.route` in views.py)."""
    if (module.path, owner, prefix) in seen or depth > MAX_DEPTH:
        return
    seen.add((module.path, owner, prefix))
    if module.errors:
        table.unknown_at(prefix, f"`{module.path}` cannot be read", Span(module.path, 1))
        return
    flask_like = table.framework in ("flask", "quart")
    for route in module.routes:
        if route.app not in (owner, owner + ".router"):
            continue
        if isinstance(route.path, Unknown):
            table.unknown_at(prefix, f"the route path `{route.path.text}` is not a constant", route.span)
            continue
        rule = _flask_join(prefix, route.path) if flask_like else prefix + route.path
        table.routes.append(KnownRoute(rule, rule_regex(rule), route.span))
    for unknown in module.route_unknowns:
        if unknown.app in (owner, owner + ".router"):
            where = prefix + unknown.prefix if isinstance(unknown.prefix, str) else prefix
            table.unknown_at(where, unknown.reason, unknown.span)
    for registration in module.registrations:
        if registration.app in (owner, owner + ".router"):
            _registered(model, module, registration, prefix, flask_like, table, depth, seen)
    for importer, alias in _importers(model, module, owner):
        _collect(model, importer, alias, prefix, table, depth + 1, seen)
    for handoff in module.app_handoffs:
        if handoff.app == owner:
            _handed(model, module, handoff, prefix, table, depth, seen)


def _handed(model, module, handoff, prefix: str, table: RouteTable, depth: int, seen: set) -> None:
    """`register_routes(app)`: the routes the repository's function adds to its parameter. A
    function of the repository that cannot be read makes the prefix Unknown; a function from
    outside the repository (`db.init_app(app)`, `CORS(app)`) is not followed (extensions known to
    add routes are read by the parser)."""
    head, _, rest = handoff.callee.partition(".")
    if not rest and head in module.functions:
        target, name = module, head
    else:
        imported = module.imports.get(head) or module.function_imports.get(head)
        if imported is None or "." in rest:
            return
        if rest:  # views.register(app): `views` a module
            dotted_module = imported.module if imported.name is None else \
                imported.module + ("" if imported.module.endswith(".") else ".") + imported.name
            target, name = _import_target(model, module, dotted_module), rest
        else:
            target, name = _import_target(model, module, imported.module), imported.name or head
        if target is None:
            if _in_repository(model, module, imported.module):
                table.unknown_at(prefix, f"`{handoff.callee}` is given the app and cannot be read", handoff.span)
            return
    function = target.functions.get(name)
    if function is None:
        if target is not module:
            table.unknown_at(prefix, f"`{handoff.callee}` is given the app and cannot be read", handoff.span)
        return
    params = [p for p in function.params if not p.startswith("*")]
    if handoff.keyword is not None:
        param = handoff.keyword if handoff.keyword in params else None
    else:
        param = params[handoff.index] if 0 <= handoff.index < len(params) else None
    if param is None:
        table.unknown_at(prefix, f"`{handoff.callee}` is given the app and cannot be read", handoff.span)
        return
    _collect(model, target, param, prefix, table, depth + 1, seen)


def _in_repository(model: Deployment, module: PythonModuleFacts, target: str) -> bool:
    """Whether an imported module is a file of the repository (read or not)."""
    if target.startswith("."):
        return module_in_repo(model, "", _absolute(module, target))
    directory = posixpath.dirname(module.path)
    while True:
        if module_in_repo(model, directory, target):
            return True
        if not directory:
            return False
        directory = posixpath.dirname(directory)


def _registered(model, module, registration, prefix: str, flask_like: bool, table: RouteTable,
                depth: int, seen: set) -> None:
    """One `register_blueprint` / `include_router`: the router's routes under the composed prefix.
    A router that cannot be found, or a prefix that is not a constant, is Unknown under the part
    of the prefix that is known."""
    given = registration.url_prefix
    if isinstance(given, Unknown):
        table.unknown_at(prefix, f"the prefix `{given.text}` is not a constant", registration.span)
        return
    bp_module, bp = _find_blueprint(model, module, registration.blueprint)
    if bp is None:
        where = (_flask_join(prefix, given) if flask_like else prefix + given) if given else prefix
        table.unknown_at(where, f"`{registration.blueprint}` cannot be followed", registration.span)
        return
    own = bp.url_prefix
    if flask_like:  # BlueprintSetupState: the registration's url_prefix, else the blueprint's
        child = given if given is not None else own
        if isinstance(child, Unknown):
            table.unknown_at(prefix, f"the prefix `{child.text}` is not a constant", bp.span)
            return
        inner = _flask_join(prefix, child) if child else prefix
    else:  # FastAPI: include prefix + APIRouter(prefix=…) + path
        if isinstance(own, Unknown):
            table.unknown_at(prefix + (given or ""), f"the prefix `{own.text}` is not a constant", bp.span)
            return
        inner = prefix + (given or "") + (own or "")
    _collect(model, bp_module, bp.name, inner, table, depth + 1, seen)


def _importers(model: Deployment, module: PythonModuleFacts, name: str):
    """(module, alias) for every module of the repository that imports `name` from `module`."""
    for other, imported in _imports_by_name(model).get(name, ()):
        if other is not module and _import_target(model, other, imported.module) is module:
            yield other, imported.alias


def _imports_by_name(model: Deployment) -> dict[str, list]:
    """Every `from x import name` of the repository's modules, by name, in module order (built once
    per audit: scanning every module for every owner made N = 1000 services quadratic)."""
    if "imports-by-name" not in model.memo:
        index: dict[str, list] = {}
        for other in list(model.module_paths.values()):
            for imported in (*other.imports.values(), *other.function_imports.values()):
                index.setdefault(imported.name, []).append((other, imported))
        model.memo["imports-by-name"] = index
    return model.memo["imports-by-name"]


def _flask_join(prefix: str, path: str) -> str:
    """Flask's BlueprintSetupState.add_url_rule: "/".join((prefix.rstrip("/"), rule.lstrip("/")))."""
    if not prefix:
        return path
    return "/".join((prefix.rstrip("/"), path.lstrip("/"))) if path else prefix


class LiteralRule:
    """A rule without converters (`/health`): it matches its own text only, as its regex
    (`re.escape(rule) + "\\Z"`) would, without compiling one (5,000 compiles: ~1 s at N = 1000)."""

    __slots__ = ("rule",)

    def __init__(self, rule: str) -> None:
        self.rule = rule

    def match(self, path: str) -> bool:
        return path == self.rule


def rule_regex(rule: str) -> re.Pattern | LiteralRule:
    """A Flask (`/u/<int:id>`, `<path:p>`) or Starlette/FastAPI (`/u/{id}`, `{p:path}`) rule as a
    regex over request paths. Every converter but `path` is one segment (`int` is looser than
    Flask's, which can only make a path look routed: SC601 errs silent)."""
    parts = re.split(r"(<[^>]+>|\{[^}]+\})", rule)
    if len(parts) == 1:
        return LiteralRule(rule)
    pattern = ""
    for part in parts:
        if part.startswith("<path:") or (part.startswith("{") and part.endswith(":path}")):
            pattern += ".+" if part.startswith("<") else ".*"
        elif part.startswith(("<", "{")) and part.endswith((">", "}")):
            pattern += "[^/]+"
        else:
            pattern += re.escape(part)
    return re.compile(pattern + r"\Z")


# --------------------------------------------------------------------------- Django


def _django_table(model: Deployment, module: PythonModuleFacts, table: RouteTable) -> None:
    """From the WSGI/ASGI module's DJANGO_SETTINGS_MODULE to the settings' ROOT_URLCONF to its
    urlpatterns. Anything not found is Unknown for the whole app. False-alarm risk: the process's
    environment overrides `os.environ.setdefault` with another settings module whose ROOT_URLCONF
    differs (settings variants usually share it)."""
    span = next((a.span for a in module.apps), Span(module.path, 1))
    settings_name = module.django_settings
    if not isinstance(settings_name, str):
        table.unknown_at("", "DJANGO_SETTINGS_MODULE is not set in the app module", span)
        return
    settings = _import_target(model, module, settings_name)
    urlconf = _root_urlconf(model, settings, 0) if settings is not None else None
    if not isinstance(urlconf, str):
        table.unknown_at("", f"ROOT_URLCONF of `{settings_name}` cannot be read", span)
        return
    urls = _import_target(model, settings, urlconf)
    if urls is None:
        table.unknown_at("", f"`{urlconf}` is not in the repository", span)
        return
    _django_patterns(model, urls, urls.urlpatterns, "", "/", table, 0)


def _root_urlconf(model: Deployment, settings: PythonModuleFacts, depth: int):
    """ROOT_URLCONF of a settings module, or of the modules it star-imports (the last one wins)."""
    if settings.root_urlconf is not None or depth > 4:
        return settings.root_urlconf
    for star in reversed(settings.star_imports):
        base = _import_target(model, settings, star)
        if base is not None:
            found = _root_urlconf(model, base, depth + 1)
            if found is not None:
                return found
    return None


def _django_patterns(model: Deployment, module: PythonModuleFacts, patterns, regex: str, shown: str,
                     table: RouteTable, depth: int) -> None:
    """A urlpatterns list under a prefix: `regex` over the path after its leading "/", as Django's
    resolver sees it. `path()` routes become regexes as Django's `_route_to_regex` builds them;
    `re_path()` regexes anchored with `^` are chained; an unanchored one is Unknown."""
    if module.errors or patterns is None or depth > MAX_DEPTH:
        table.unknown_at("/" + _literal_prefix(regex), f"`{module.path}` has no readable urlpatterns",
                         Span(module.path, 1))
        return
    for pattern in patterns:
        piece = _django_piece(pattern)
        if piece is None:
            table.unknown_at("/" + _literal_prefix(regex), f"`{_text(pattern.route)}` cannot be read as a "
                             "URL pattern", pattern.span)
            continue
        full, full_shown = regex + piece[0], shown + piece[1]
        if pattern.unknown is not None:
            table.unknown_at("/" + _literal_prefix(full), f"{pattern.unknown} cannot be followed", pattern.span)
        elif pattern.children is not None:
            _django_patterns(model, module, list(pattern.children), full, full_shown, table, depth + 1)
        elif pattern.include is not None:
            included = _import_target(model, module, pattern.include)
            if included is None:
                table.unknown_at("/" + _literal_prefix(full), f"`{pattern.include}` is not in the repository",
                                 pattern.span)
            else:
                _django_patterns(model, included, included.urlpatterns, full, full_shown, table, depth + 1)
        else:
            compiled = _django_regex("/" + full + ("$" if pattern.kind == "path" else ""))
            if compiled is None:
                table.unknown_at("/" + _literal_prefix(full), f"`{full_shown}` is not a regex sc-audit reads",
                                 pattern.span)
                continue
            table.routes.append(KnownRoute(full_shown, compiled, pattern.span))


def _django_regex(pattern: str):
    """A URL regex of the audited repository, compiled with RE2 (linear time: a hostile
    `(a+)+$` cannot hang the audit); None when RE2 refuses it (lookarounds, backreferences…)."""
    import re2

    options = re2.Options()
    options.log_errors = False
    options.max_mem = 8 << 20
    try:
        return re2.compile(pattern, options)
    except (re2.error, TypeError, ValueError):
        return None


def _django_piece(pattern: UrlPattern) -> tuple[str, str] | None:
    """(regex, shown) of one pattern's route; None when it cannot be read."""
    if pattern.kind == "unknown" or isinstance(pattern.route, Unknown):
        return None
    route = pattern.route
    if pattern.kind == "path":
        out = ""
        for piece in re.split(r"(<[^<>]+>)", route):
            if piece.startswith("<") and piece.endswith(">"):
                converter = piece[1:-1].split(":", 1)[0] if ":" in piece else "str"
                out += f"(?:{DJANGO_CONVERTERS.get(converter, '.+')})"  # a custom converter: anything
            else:
                out += re.escape(piece)
        return out, route
    if not route:
        return "", ""
    if not route.startswith("^"):
        return None  # Django searches an unanchored regex anywhere in the rest of the path
    return route[1:], route


def _literal_prefix(regex: str) -> str:
    """The literal start of a regex: "api/v1/" of "api/v1/(?P<x>…)" (an Unknown region's prefix)."""
    out, index = "", 0
    while index < len(regex):
        char = regex[index]
        if char == "\\" and index + 1 < len(regex) and not regex[index + 1].isalnum():
            out += regex[index + 1]
            index += 2
            continue
        if char in ".^$*+?{}[]|()\\":
            if char in "*?{" and out:
                out = out[:-1]  # the last literal is optional or repeated
            break
        out += char
        index += 1
    return out


def _text(value) -> str:
    return value.text if isinstance(value, Unknown) else str(value)


# --------------------------------------------------------------------------- finding modules


def _import_target(model: Deployment, module: PythonModuleFacts, target: str) -> PythonModuleFacts | None:
    """The module `module` imports as `target`: relative to its package, else from its own
    directory or any ancestor (the app's sys.path: the root, `src/`, the project directory)."""
    if target.startswith("."):
        return model.modules.get(_absolute(module, target))
    key = ("import_target", posixpath.dirname(module.path), target)
    if key not in model.memo:
        model.memo[key] = _absolute_import(model, posixpath.dirname(module.path), target)
    return model.memo[key]


def _absolute_import(model: Deployment, directory: str, target: str) -> PythonModuleFacts | None:
    while True:
        found = find_module(model, directory, target)
        if found is not None:
            return found
        if not directory:
            return None
        directory = posixpath.dirname(directory)


def _find_blueprint(model: Deployment, module: PythonModuleFacts, name: str):
    """The module and Blueprint/APIRouter fact a registered name stands for: defined in the module,
    imported (`from .views import bp`, also inside the factory), or an attribute of an imported
    module (`from .routers import users` … `users.router`)."""
    for bp in module.blueprints:
        if bp.name == name:
            return module, bp
    head, _, attribute = name.partition(".")
    imported = module.imports.get(head) or module.function_imports.get(head)
    if imported is None or "." in attribute:
        return None, None
    if attribute:  # users.router, `users` a module
        dotted_module = imported.module if imported.name is None else \
            imported.module + ("" if imported.module.endswith(".") else ".") + imported.name
        other, wanted = _import_target(model, module, dotted_module), attribute
    else:
        other, wanted = _import_target(model, module, imported.module), imported.name or head
        if other is not None and not any(bp.name == wanted for bp in other.blueprints):
            again = other.imports.get(wanted)  # re-exported: `from .views import bp` in __init__.py
            if again is not None:
                other, wanted = _import_target(model, other, again.module), again.name or wanted
    if other is None:
        return None, None
    for bp in other.blueprints:
        if bp.name == wanted:
            return other, bp
    return None, None


def _absolute(module: PythonModuleFacts, target: str) -> str:
    if not target.startswith("."):
        return target
    dots = len(target) - len(target.lstrip("."))
    package = module.module.split(".") if module.module else []
    if not module.path.endswith("__init__.py"):
        package = package[:-1]
    package = package[: len(package) - (dots - 1)] if dots > 1 else package
    rest = target.lstrip(".")
    return ".".join([*package, rest] if rest else package)


# --------------------------------------------------------------------------- which files to read


def modules_to_follow(facts: list[PythonModuleFacts], all_paths: set[str]) -> list[str]:
    """Repository files that the routes of these modules lead to but discovery did not read:
    routers imported for a registration (also inside a factory), Django settings, ROOT_URLCONF,
    `include("x.urls")`, star-imported settings bases. Static: the paths are only looked up."""
    wanted: list[str] = []
    for module in facts:
        names: list[tuple[str, str | None]] = []
        for registration in module.registrations:
            head = registration.blueprint.split(".", 1)[0]
            imported = module.imports.get(head) or module.function_imports.get(head)
            if imported is not None:
                names.append((imported.module, imported.name))
        for imported in module.function_imports.values():
            names.append((imported.module, imported.name))
        if module.apps or module.blueprints:  # `from . import views` beside a blueprint or app
            names += [(i.module, i.name) for i in module.imports.values() if i.module.startswith(".")]
        names += [(star, None) for star in module.star_imports]
        for handoff in module.app_handoffs:
            head = handoff.callee.split(".", 1)[0]
            imported = module.imports.get(head) or module.function_imports.get(head)
            if imported is not None:
                names.append((imported.module, imported.name))
        for value in (module.django_settings, module.root_urlconf):
            if isinstance(value, str):
                names.append((value, None))
        names += [(name, None) for name in _django_includes(module.urlpatterns or (), 0)]
        for dotted, name in names:
            for candidate in _candidate_files(module, dotted, name):
                if candidate in all_paths and candidate not in wanted:
                    wanted.append(candidate)
    return wanted


def _django_includes(patterns, depth: int) -> list[str]:
    out = []
    for pattern in patterns:
        if pattern.include is not None:
            out.append(pattern.include)
        if pattern.children is not None and depth < MAX_DEPTH:
            out += _django_includes(pattern.children, depth + 1)
    return out


def _candidate_files(module: PythonModuleFacts, dotted: str, name: str | None) -> list[str]:
    targets = [dotted] + ([dotted + ("" if dotted.endswith(".") else ".") + name] if name else [])
    out = []
    for target in targets:
        if target.startswith("."):
            out += module_file_candidates("", _absolute(module, target))
            continue
        directory = posixpath.dirname(module.path)
        while True:
            out += module_file_candidates(directory, target)
            if not directory:
                break
            directory = posixpath.dirname(directory)
    return [path for path in out if path.endswith(".py")]
