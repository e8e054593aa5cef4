"""Apps and their routes: which module a target names, and which URL paths an app serves."""

from __future__ import annotations

import posixpath

from ..facts import PythonModuleFacts
from ..span import Span, Unknown
from .records import Deployment


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


def routes_of(model: Deployment, module: PythonModuleFacts, app_name: str) -> list[tuple[str, Span]]:
    """Every URL path the app object `app_name` of `module` serves, with where it is declared:
    routes on the app itself (also inside the factory that builds it) and routes of blueprints
    registered on it, with their prefixes. Which module and app a process serves is found by
    checks/health.py (`app_behind`), which follows imported factories.
    """
    found: list[tuple[str, Span]] = []
    for route in module.routes:
        if route.app == app_name and isinstance(route.path, str):
            found.append((route.path, route.span))
    for registration in module.registrations:
        if registration.app != app_name:
            continue
        bp_module, bp = _find_blueprint(model, module, registration.blueprint)
        if bp_module is None:
            continue
        prefix = registration.url_prefix if isinstance(registration.url_prefix, str) else (bp.url_prefix or "")
        if isinstance(registration.url_prefix, Unknown):
            continue
        for route in bp_module.routes:
            if route.app == bp.name and isinstance(route.path, str):
                found.append((_join_url(prefix, route.path), route.span))
    return found


def _find_blueprint(model: Deployment, module: PythonModuleFacts, name: str):
    for bp in module.blueprints:
        if bp.name == name:
            return module, bp
    imported = module.imports.get(name)
    if imported is not None:
        other = find_module(model, posixpath.dirname(module.path), _absolute(module, imported.module)) or \
            model.modules.get(_absolute(module, imported.module))
        if other is not None:
            for bp in other.blueprints:
                if bp.name == (imported.name or name):
                    return other, bp
    return None, None


def _absolute(module: PythonModuleFacts, target: str) -> str:
    if not target.startswith("."):
        return target
    dots = len(target) - len(target.lstrip("."))
    package = module.module.split(".")
    if not module.path.endswith("__init__.py"):
        package = package[:-1]
    package = package[: len(package) - (dots - 1)] if dots > 1 else package
    rest = target.lstrip(".")
    return ".".join([*package, rest] if rest else package)


def _join_url(prefix: str, path: str) -> str:
    if not prefix:
        return path
    return prefix.rstrip("/") + "/" + path.lstrip("/") if path else prefix
