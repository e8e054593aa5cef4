"""SC104, SC105: which server really serves the app — a development server (`flask run`,
`manage.py runserver`, `app.run()`, reload mode) under a production launcher, and a module that
starts a server of its own (or keeps its set-up under `__main__`) when Gunicorn/uvicorn imports it.

The launchers, managers and server kinds are matched through small functions
(`production_launcher`, `dev_server`, `served_modules`) so that a new manager (supervisor, a
container) or a new launcher kind plugs in by extending them.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from .. import commands as cmd
from ..findings import Finding, Related
from ..model import find_module
from ..span import Span
from . import check
from .wsgi import parse_target

# Managers that run a process for good: a unit, a PM2 app, a Procfile line, a server a deploy
# script leaves running (nohup, &), and the managers other branches add.
PRODUCTION_MANAGERS = frozenset({"systemd", "pm2", "procfile", "script", "supervisor", "container"})
DEV_FILE = re.compile(r"(^|[._\-/])(dev|develop|development|local|test|tests|debug)([._\-/]|$)", re.IGNORECASE)
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})


def production_launcher(process) -> bool:
    """A process a production launcher runs.

    False-alarm risk: a unit, ecosystem file or script kept for local development under a neutral
    name; files whose path says `dev`, `local`, `test` or `debug` (`Procfile.dev`,
    `start-dev.sh`) are left out.
    """
    return process.manager in PRODUCTION_MANAGERS and not DEV_FILE.search(process.span.path)


@dataclass(frozen=True, slots=True)
class DevServer:
    what: str  # "`flask run` (the Werkzeug development server)"
    span: Span  # where it is chosen (the launcher, or the setting)
    debug: Span | None = None  # where debug mode is switched on
    related: tuple[Related, ...] = ()
    note: str = ""  # extra sentence (uvicorn drops --workers)
    risk: str = ("it is made for development (one process, no worker management, no protection against "
                 "slow clients), not for serving traffic")


def runs_django_runserver(launch) -> bool:
    """`python manage.py runserver …` (the launchers branch may replace this with a launcher kind).
    False-alarm risk: none known; a script named manage.py that is not Django's is not a server."""
    return launch.program == "python" and launch.script is not None and \
        posixpath.basename(launch.script) == "manage.py" and "runserver" in launch.argv


def _flask_debug(process, launch) -> bool:
    if "--debug" in launch.argv:
        return True
    env = {**process.env, **launch.env}
    return str(env.get("FLASK_DEBUG", "")).lower() in TRUE_WORDS or env.get("FLASK_ENV") == "development"


def _script_module(model, process, launch):
    if process.cwd is None or not launch.script or "$" in launch.script:
        return None
    path = launch.script if launch.script.startswith("/") else \
        posixpath.normpath(posixpath.join(process.cwd or "", launch.script))
    return model.module_paths.get(path)


def _server_run(module, run) -> str | None:
    """What an unconditional top-level (or `__main__`) run of `module` starts, or None.

    `app.run()` on a Flask app is Werkzeug's development server; `uvicorn.run(..., reload=True)` is
    uvicorn's reloader. `socketio.run(app)` is left out: Flask-SocketIO picks eventlet or gevent
    when installed (a production server), which the repository alone does not tell.
    """
    if run.in_function is not None or run.conditional:
        return None
    flask_apps = {app.name for app in module.apps if app.framework == "flask" and app.in_function is None}
    if run.server in flask_apps:
        return "werkzeug"
    if run.server == "uvicorn" and run.reload is not None and run.reload.value is True:
        return "uvicorn-reload"
    return None


def dev_server(model, process) -> DevServer | None:
    """The development server (or reload mode) a process runs, or None."""
    launch = process.launch
    if launch is None:
        return None
    if launch.program == "flask":
        debug = process.span if _flask_debug(process, launch) else None
        return DevServer("`flask run` (Werkzeug's development server)", process.span, debug)
    if runs_django_runserver(launch):
        return DevServer("`manage.py runserver` (Django's development server)", process.span)
    if launch.gunicorn is not None:
        reload = process.settings.get("reload")
        if reload is not None and reload.value is True:
            return DevServer("Gunicorn with `reload` on", reload.span or process.span,
                             risk="Gunicorn's reloader is meant for development: it restarts the workers when a "
                                  "file changes — a `git pull` or an upload restarts the site mid-request, and "
                                  "every worker watches the whole code tree")
        return None
    if launch.program == "uvicorn" and "--reload" in launch.argv:
        note = ""
        if any(w == "--workers" or w.startswith("--workers=") for w in launch.argv):
            note = (" uvicorn ignores `--workers` with `--reload` (uvicorn/config.py: '\"workers\" flag is "
                    "ignored when reloading is enabled'): one process serves everything.")
        return DevServer("uvicorn with `--reload`", process.span, note=note,
                         risk="the reloader is meant for development: one process that restarts whenever a file "
                              "changes (a `git pull` restarts the site mid-request)")
    if launch.program == "python" and launch.script:
        module = _script_module(model, process, launch)
        if module is None or module.errors:
            return None
        for run in module.runs:
            kind = _server_run(module, run)
            if kind == "werkzeug":
                debug = run.debug.span if run.debug is not None and run.debug.value is True else None
                return DevServer(f"`{launch.script}`, whose `{run.server}.run()` is Werkzeug's development server",
                                 process.span, debug, (Related(run.span, "the server it starts"),))
            if kind == "uvicorn-reload":
                return DevServer(f"`{launch.script}`, whose `uvicorn.run(…, reload=True)` runs the reloader",
                                 process.span, None, (Related(run.span, "the reloader is switched on here"),))
    return None


def _launcher_words(process) -> str:
    manager = {"systemd": f"systemd unit `{process.name}`", "pm2": f"PM2 app `{process.name}`",
               "procfile": f"Procfile process `{process.name}`", "script": "a command the deploy leaves running in the background",
               "supervisor": f"supervisor program `{process.name}`", "container": f"container `{process.name}`"}
    return manager.get(process.manager, f"`{process.name}`")


@check("SC104")
def dev_server_in_production(model, config, found):
    for process in model.processes:
        if not production_launcher(process):
            continue
        server = dev_server(model, process)
        if server is None:
            continue
        related = server.related
        if server.span != process.span:
            related = (Related(process.span, "the production launcher"), *related)
        if server.debug is not None:
            if server.debug != server.span:
                related = (*related, Related(server.debug, "debug mode is on here"))
            yield Finding("SC104", f"{_launcher_words(process)} runs {server.what}, in debug mode: the Werkzeug "
                          "debugger runs Python code for anyone who can reach it, and the server is single-process "
                          "and unhardened. Serve the app with Gunicorn (`gunicorn -w 2 -b 127.0.0.1:8000 "
                          "app:app`) and keep debug off in production.", server.span, related, level="error")
            continue
        yield Finding("SC104", f"{_launcher_words(process)} runs {server.what} in production: {server.risk}."
                      f"{server.note} Serve the app with Gunicorn (or uvicorn for ASGI), without reload.",
                      server.span, related)


# ---------------------------------------------------------------------------- SC105


UVICORN_VALUE_OPTIONS = frozenset({"--host", "--port", "--uds", "--fd", "--workers", "--app-dir", "--env-file",
                                   "--log-level", "--log-config", "--root-path", "--header", "-H",
                                   "--forwarded-allow-ips", "--reload-dir", "--reload-include",
                                   "--reload-exclude", "--reload-delay", "--loop", "--http", "--ws",
                                   "--lifespan", "--interface", "--limit-concurrency", "--backlog",
                                   "--limit-max-requests", "--timeout-keep-alive", "--ssl-keyfile",
                                   "--ssl-certfile", "--ssl-keyfile-password", "--ssl-version",
                                   "--ssl-cert-reqs", "--ssl-ca-certs", "--ssl-ciphers",
                                   "--timeout-graceful-shutdown", "--ws-max-size", "--ws-ping-interval",
                                   "--ws-ping-timeout", "--ws-max-queue", "--h11-max-incomplete-event-size"})
APP_URI = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


def uvicorn_target(argv: tuple[str, ...]) -> str | None:
    """The `module:attr` a uvicorn command line serves (the launchers branch may move this into the
    model). False-alarm risk: none; a target we cannot read is None."""
    words = list(argv)
    start = next((i for i, w in enumerate(words) if cmd.basename(w) == "uvicorn"), None)
    if start is None:
        return None
    i = start + 1
    while i < len(words):
        word = words[i]
        if word in UVICORN_VALUE_OPTIONS:
            i += 2
            continue
        if not word.startswith("-"):
            return word if APP_URI.match(word) else None
        i += 1
    return None


def served_modules(model):
    """(module facts, server name, the span that names the module) for each module Gunicorn or
    uvicorn imports. Unknown targets and modules outside the repository give nothing."""
    seen: set[str] = set()
    for target in model.wsgi_targets:
        parsed = parse_target(target.text)
        if parsed is None:
            continue
        module = find_module(model, target.base_dir, parsed.module) or find_module(model, "", parsed.module)
        if module is not None and module.path not in seen:
            seen.add(module.path)
            yield module, "Gunicorn", target.span
    for process in model.processes:
        launch = process.launch
        if launch is None or launch.program != "uvicorn" or process.cwd is None:
            continue
        text = uvicorn_target(launch.argv)
        if text is None:
            continue
        module = find_module(model, process.cwd, text.split(":")[0])
        if module is not None and module.path not in seen:
            seen.add(module.path)
            yield module, "uvicorn", process.span


@check("SC105")
def server_run_at_import(model, config, found):
    for module, server, named in served_modules(model):
        if module.errors:
            continue
        at_import = [run for run in module.runs if run.in_function is None and not run.under_main_guard
                     and not run.conditional]
        if at_import:
            run = at_import[0]
            yield Finding("SC105", f"`{module.path}` calls `{run.server}.run()` at module level, and {server} "
                          f"imports that module: every import starts a second server, which blocks the worker "
                          "(it never answers) and binds its own port (\"Address already in use\", or a debug "
                          "server open to anyone). Move the call under `if __name__ == \"__main__\":`.",
                          run.span, (Related(named, f"{server} imports `{module.path}` here"),), level="error")
            continue
        if module.guarded_setup:
            first = module.guarded_setup[0]
            more = f" (and {len(module.guarded_setup) - 1} more)" if len(module.guarded_setup) > 1 else ""
            yield Finding("SC105", f"`{first.text}`{more} runs only under `if __name__ == \"__main__\":` in "
                          f"`{module.path}`, and {server} imports the module (its `__name__` is not "
                          "`\"__main__\"`): under it the set-up never runs — blueprints are not registered "
                          "(404), extensions and tables are not initialised. Move the set-up to module level or "
                          "into the app factory.", first.span,
                          (Related(named, f"{server} imports `{module.path}` here"),), level="warning")
