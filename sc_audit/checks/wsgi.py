"""SC1xx: the WSGI target a Gunicorn process serves, against the module it names."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..findings import Finding, Related
from ..model import find_module, module_in_repo
from . import check

TARGET = re.compile(r"^(?P<module>[A-Za-z_][\w.]*)(?::(?P<attr>[A-Za-z_]\w*)(?P<call>\(.*\))?)?$")


@dataclass(frozen=True, slots=True)
class ParsedTarget:
    module: str
    attr: str
    called: bool


def parse_target(text: str) -> ParsedTarget | None:
    match = TARGET.match(text.strip())
    if not match:
        return None
    return ParsedTarget(match["module"], match["attr"] or "application", match["call"] is not None)


def _resolve(model, target):
    """(parsed, module facts or None, module_in_repo) for a target we can reason about."""
    parsed = parse_target(target.text)
    if parsed is None:
        return None, None, False
    module = find_module(model, target.base_dir, parsed.module) or find_module(model, "", parsed.module)
    present = module is not None or module_in_repo(model, target.base_dir, parsed.module) or \
        module_in_repo(model, "", parsed.module)
    return parsed, module, present


def _defines(module, name: str) -> bool:
    return name in module.names or name in module.functions or name in module.imports or \
        any(app.name == name and app.in_function is None for app in module.apps)


def _app_objects(module) -> list:
    return [app for app in module.apps if app.in_function is None]


def _factories(module) -> list:
    return [f for f in module.functions.values() if f.returns_app]


def _suggestion(parsed: ParsedTarget, module) -> tuple[str, tuple[Related, ...]]:
    apps = _app_objects(module)
    factories = _factories(module)
    if apps:
        app = apps[0]
        return (f"it defines the app object `{app.name}`: use `{parsed.module}:{app.name}`",
                (Related(app.span, f"`{app.name}` is created here"),))
    if factories:
        factory = factories[0]
        return (f"it defines the factory `{factory.name}`: use `{parsed.module}:{factory.name}()`",
                (Related(factory.span, f"factory `{factory.name}` is defined here"),))
    return ("point the target at the app object the module creates", ())


@check("SC101")
def factory_missing(model, config, found):
    for target in model.wsgi_targets:
        parsed, module, _ = _resolve(model, target)
        if parsed is None or module is None or not parsed.called or module.errors:
            continue
        if _defines(module, parsed.attr):
            continue
        hint, related = _suggestion(parsed, module)
        yield Finding("SC101", f"WSGI target `{target.text}` calls `{parsed.attr}()`, which `{module.path}` does not "
                      f"define: every Gunicorn worker fails to boot ('Failed to find attribute') and the site "
                      f"answers 502. {hint[0].upper()}{hint[1:]}.", target.span, related)


@check("SC102")
def target_unresolved(model, config, found):
    for target in model.wsgi_targets:
        parsed, module, present = _resolve(model, target)
        if parsed is None:
            continue
        if not present:
            if target.base_dir is None or _maybe_installed(parsed.module):
                continue
            where = f"`{target.base_dir}/`" if target.base_dir else "the repository root"
            yield Finding("SC102", f"WSGI target `{target.text}`: module `{parsed.module}` is not in the repository "
                          f"(looked from {where}): Gunicorn exits with 'ModuleNotFoundError' and the site answers 502. "
                          "Fix the module path, or the working directory (`--chdir`, `cwd`).", target.span)
            continue
        if module is None or module.errors or parsed.called or _defines(module, parsed.attr):
            continue
        hint, related = _suggestion(parsed, module)
        yield Finding("SC102", f"WSGI target `{target.text}`: `{module.path}` defines no `{parsed.attr}` "
                      f"(Gunicorn's default name is `application`): workers fail with 'Failed to find attribute' "
                      f"and the site answers 502. {hint[0].upper()}{hint[1:]}.", target.span, related)


def _maybe_installed(module: str) -> bool:
    """A dotted module of a well-known package is not expected in the repository."""
    return module.split(".")[0] in {"django", "flask", "werkzeug", "gunicorn", "uvicorn", "starlette", "fastapi"}


@check("SC103")
def factory_not_called(model, config, found):
    for target in model.wsgi_targets:
        parsed, module, _ = _resolve(model, target)
        if parsed is None or module is None or parsed.called:
            continue
        function = module.functions.get(parsed.attr)
        if function is None or not function.returns_app:
            continue
        if any(app.name == parsed.attr and app.in_function is None for app in module.apps):
            continue
        call = "()" if function.required_params == 0 else "(…)"
        yield Finding("SC103", f"WSGI target `{target.text}` names the factory `{parsed.attr}` without calling it: "
                      f"Gunicorn serves the function itself, so every request fails with a TypeError (500). "
                      f"Use `{parsed.module}:{parsed.attr}{call}`.", target.span,
                      (Related(function.span, f"`{parsed.attr}` builds and returns the app"),))
