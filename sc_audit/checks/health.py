"""SC6xx: health checks. Does the deploy check each service it restarts, on a route that exists?"""

from __future__ import annotations

import posixpath
import re

from .. import commands as cmd
from ..findings import Finding, Related
from ..model import find_module, restarted
from ..model.routes import path_status, route_table, rule_regex
from . import check
from .ports import health_requests, is_local, request_target, serves


def app_behind(model, process):
    """(module facts, app variable) that a process serves, or (None, None) when we cannot tell."""
    launch = process.launch
    if launch is None:
        return None, None
    if process.wsgi is not None:
        module_name, _, attr = process.wsgi.text.partition(":")
        module = find_module(model, process.wsgi.base_dir, module_name) or find_module(model, "", module_name)
        if module is None:
            return None, None
        attr = attr or "application"
        name = attr.split("(", 1)[0]
        if any(app.name == name and app.in_function is None for app in module.apps):
            return module, name
        return _factory_app(model, module, name)
    if launch.program == "python" and launch.script:
        module = model.module_paths.get(posixpath.normpath(posixpath.join(process.cwd or "", launch.script)))
        if module is not None and module.runs:
            return module, module.runs[0].app
    return None, None


def _factory_app(model, module, name: str, depth: int = 0):
    """The app a name stands for: a factory's inner app, or `app = create_app()` with the
    factory imported from another module (`from app import create_app`)."""
    function = module.functions.get(name)
    if function is not None and function.returns_app:
        inner = [app for app in module.apps if app.in_function == name]
        return (module, inner[0].name) if inner else (None, None)
    callee = module.assigned_calls.get(name)
    if callee is None or depth > 3:
        return None, None
    imported = module.imports.get(callee)
    if imported is None:
        return _factory_app(model, module, callee, depth + 1)
    other = find_module(model, posixpath.dirname(module.path), imported.module.lstrip(".")) or \
        model.modules.get(imported.module.lstrip("."))
    if other is None:
        return None, None
    return _factory_app(model, other, imported.name or callee, depth + 1)


def routes_complete(model, module, app_name: str) -> bool:
    """Whether every route of the app is known (no Unknown region anywhere)."""
    return not route_table(model, module, app_name).unknown


def route_regex(rule: str) -> re.Pattern:
    """A Flask (`/u/<int:id>`) or FastAPI (`/u/{id}`) rule as a regex over request paths."""
    return rule_regex(rule)


def routed(routes, path: str) -> bool:
    """Whether one of the (rule, span) routes matches the path (or it with/without a trailing slash)."""
    variants = {path, path.rstrip("/") or "/", path if path.endswith("/") else path + "/"}
    return any(rule_regex(rule).match(v) for rule, _ in routes for v in variants)


def processes_at(model, endpoints, certain: bool = True, limit: int | None = None) -> list:
    """Processes listening at one of the endpoints, in model order (the first `limit`). With
    certain=False, also those bound on the right port at an address we do not know (a Node
    app that reads PORT). Memoized per audit: many checks ask for the same endpoints."""
    key = ("processes_at", tuple(endpoints), certain)
    found = model.memo.get(key)
    if found is None:
        wanted = (True,) if certain else (True, None)
        found = [p for p in model.lookup("bind", endpoints)
                 if any(serves(b, e) in wanted for b, _ in p.binds for e in endpoints)]
        model.memo[key] = found
    return found if limit is None else found[:limit]


@check("SC601")
def health_route_missing(model, config, found):
    for step, endpoints, path in health_requests(model):
        # one process answers a port (several binding it is SC301's business): the first one
        for process in processes_at(model, endpoints, limit=1):
            module, app_name = app_behind(model, process)
            if module is None:
                continue
            table = route_table(model, module, app_name)
            if path_status(table, path) != "unrouted":
                continue
            rules = sorted({r.rule for r in table.routes})
            known = ", ".join(rules[:12]) + (f" and {len(rules) - 12} more" if len(rules) > 12 else "") or "none"
            yield Finding("SC601", f"the deploy checks `{step.meaning.url}`, but the app `{module.path}:{app_name}` "
                          f"behind that port has no route for `{path}` (it routes {known}): the check gets 404, so the "
                          "deploy fails (or, with `|| true`, the check proves nothing). Add the route, e.g. "
                          f"`@{app_name}.route(\"{path}\")` returning `{{\"status\": \"ok\"}}`, or check a route "
                          "that exists.", step.command.span,
                          (Related(process.span, f"`{process.name}` serves this port"),))


def _checked_by(model, step) -> list | None:
    """The processes a health request reaches; None when it goes somewhere we cannot follow."""
    if not isinstance(step.meaning, cmd.HttpRequest) or any(step.command.dynamic):
        return None
    parsed = request_target(step.meaning)
    if parsed is None:
        return None
    endpoints, path = parsed
    if endpoints and all(is_local(e) for e in endpoints):
        return processes_at(model, endpoints, certain=False)
    host = step.meaning.url.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0]
    proxies = [p for p in model.proxies if host in p.server_names and _location_matches(p.location, path)]
    if not proxies:
        return None
    best = max(proxies, key=lambda p: len(p.location))
    return processes_at(model, best.endpoints, certain=False)


def _location_matches(location: str, path: str) -> bool:
    if location.startswith("="):
        return path == location[1:].strip()
    if location.startswith("~"):
        return False
    return path.startswith(location.lstrip("^~ ").strip())


@check("SC602")
def service_unchecked(model, config, found):
    by_file: dict[str, list] = {}
    for step in model.steps:
        by_file.setdefault(step.command.span.path, []).append(step)
    for path, steps in sorted(by_file.items()):
        started: dict[int, tuple] = {}
        for step in steps:
            for process in restarted(model, step):
                if process.binds and process.manager != "container":  # a check of a published port is not followed yet
                    started.setdefault(id(process), (process, step))
        checked: set[int] = set()
        for step in steps:
            if not isinstance(step.meaning, cmd.HttpRequest):
                continue
            reached = _checked_by(model, step)
            if reached is None:
                checked = None
                break
            checked.update(id(p) for p in reached)
        if checked is None or not checked & set(started):
            continue  # nothing is checked here, or a check goes where we cannot follow
        for key, (process, step) in started.items():
            if key in checked:
                continue
            yield _unchecked(model, process, step, [p for k, (p, _) in started.items() if k in checked])


def _unchecked(model, process, step, checked):
    endpoint = next(e for e, _ in process.binds)
    host = "127.0.0.1" if endpoint.host in (None, "0.0.0.0", "::") else endpoint.host
    module, app_name = app_behind(model, process)
    route = "/health"
    add = ""
    if module is not None and path_status(route_table(model, module, app_name), route) == "unrouted":
        add = f" and add `@{app_name}.route(\"/health\")` to `{module.path}`"
    target = f"http://{host}:{endpoint.port}{route}" if endpoint.socket is None else None
    command = f"`curl -fsS --retry 5 --retry-connrefused {target}`" if target else \
        f"`curl -fsS --unix-socket {endpoint.socket} http://localhost{route}`"
    others = ", ".join(f"`{p.name}`" for p in checked)
    return Finding("SC602", f"the deploy (re)starts `{process.name}` ({endpoint}) but never checks that it answers, "
                   f"while it does check {others}: a broken release of it (bad target, missing module, crash at "
                   f"import) passes the deploy and the first user gets a 502. Check it: {command}{add}.",
                   step.command.span, (Related(process.span, f"`{process.name}` is defined here"),))
