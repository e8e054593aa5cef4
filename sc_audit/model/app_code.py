"""The code of an app: the module a server's target names and the repository modules it imports,
transitively. The rules of the Nginx/app-server contract (Socket.IO, WebSockets, uploads,
ProxyFix) read the features of that code, not of every module of the repository, so that a
monorepo's other app does not speak for this one."""

from __future__ import annotations

import posixpath

from ..facts import PythonModuleFacts
from .records import Deployment
from .routes import find_module

MAX_MODULES = 400  # modules followed from one target; past this, the rest are not read


def app_code(model: Deployment, module: PythonModuleFacts, base_dir: str = "") -> list[PythonModuleFacts]:
    """`module` and every repository module reachable from it through its imports (anywhere in
    the module, also inside functions: an app factory imports its blueprints there).

    False-alarm risk: an import that only a test or a CLI path takes; a name imported from a
    package (`from pkg import x`) is followed as the module `pkg.x` when one exists.
    """
    key = ("app_code", module.path, base_dir)
    found = model.memo.get(key)
    if found is not None:
        return found
    order = [module]
    seen = {module.path}
    queue = [module]
    while queue and len(order) < MAX_MODULES:
        current = queue.pop(0)
        for name in current.features.imported:
            target = _resolve(model, current, name, base_dir)
            if target is not None and target.path not in seen:
                seen.add(target.path)
                order.append(target)
                queue.append(target)
    model.memo[key] = order
    return order


def _resolve(model: Deployment, importer: PythonModuleFacts, name: str, base_dir: str):
    if name.startswith("."):
        dots = len(name) - len(name.lstrip("."))
        package = posixpath.dirname(importer.path)
        for _ in range(dots - 1):
            package = posixpath.dirname(package)
        rest = name.lstrip(".")
        if not rest:
            return model.module_paths.get(posixpath.join(package, "__init__.py") if package else "__init__.py")
        return find_module(model, package, rest)
    return find_module(model, base_dir, name) or (find_module(model, "", name) if base_dir else None)


def features_of(model: Deployment, module: PythonModuleFacts, base_dir: str = "") -> dict[str, object]:
    """The first place the app's code says each feature (socketio, websocket, upload, proxy_fix,
    max_content_length, socketio_path), by name; a feature the code never shows is absent."""
    found: dict[str, object] = {}
    for facts in app_code(model, module, base_dir):
        for name in ("socketio", "socketio_path", "websocket", "upload", "proxy_fix", "max_content_length"):
            value = getattr(facts.features, name)
            if value is not None and name not in found:
                found[name] = value
    return found
