"""SC2xx: process managers. PM2 apps named by the deploy, who manages what, how PM2 launches it."""

from __future__ import annotations

import posixpath

from .. import commands as cmd
from ..findings import Finding, Related
from ..model import pm2_default_interpreter
from ..span import Unknown
from . import check

# pm2 actions whose arguments name apps that must already exist
NAMING_ACTIONS = {"restart", "reload", "stop", "delete", "del", "logs", "describe", "show", "info", "env",
                  "gracefulReload", "reset", "sendSignal", "scale", "monitor", "unmonitor", "inspect"}
# pm2 actions that take an ecosystem file and `--only NAMES`
FILE_ACTIONS = {"start", "restart", "reload", "startOrRestart", "startOrReload", "startOrGracefulReload",
                "stop", "delete"}


def _names_known(model) -> bool:
    """We can only say an app is undefined when every ecosystem file was read in full."""
    if not model.pm2_files:
        return False
    for facts in model.pm2_files.values():
        if facts.errors or any(not isinstance(app.name, str) for app in facts.apps):
            return False
    return True


def _started_names(model) -> set[str]:
    """Apps the deploy itself creates: `pm2 start x --name NAME`."""
    names = set()
    for step in model.steps:
        if isinstance(step.meaning, cmd.Pm2Command) and step.meaning.action == "start" and step.meaning.name:
            names.add(step.meaning.name)
    return names


def _is_app_name(word: str) -> bool:
    return not (word == "all" or word.isdigit() or "/" in word or "$" in word or
                word.endswith((".js", ".cjs", ".mjs", ".json", ".yml", ".yaml", ".py", ".sh", ".config")))


@check("SC201")
def pm2_app_undefined(model, config, found):
    if not _names_known(model):
        return
    defined = model.pm2_names() | _started_names(model)
    files = ", ".join(f"`{p}`" for p in sorted(model.pm2_files))
    listing = ", ".join(f"`{n}`" for n in sorted(model.pm2_names())) or "none"
    for step in model.steps:
        meaning = step.meaning
        if not isinstance(meaning, cmd.Pm2Command):
            continue
        names: list[str] = []
        if meaning.action in NAMING_ACTIONS:
            names += [t for t in meaning.targets if _is_app_name(t)]
        if meaning.action in FILE_ACTIONS:
            names += list(meaning.only)
        for name in names:
            if name in defined:
                continue
            yield Finding("SC201", f"`pm2 {meaning.action}` names the app `{name}`, which no ecosystem file defines "
                          f"({files} {'defines' if len(model.pm2_files) == 1 else 'define'} {listing}): PM2 answers \"Process or Namespace {name} not found\" and the "
                          "new code never runs. Add the app to the ecosystem file, or use its real name.",
                          step.command.span)


@check("SC202")
def unmanaged_process(model, config, found):
    for process in model.processes:
        if process.manager != "script":
            continue
        launch = process.launch
        how = "with `&`" if not launch.wrappers else f"with `{' '.join(w for w in launch.wrappers if w != 'sudo')}`"
        if launch.gunicorn is not None and launch.gunicorn.settings.get("daemon") is True:
            how = "with `--daemon`"
        yield Finding("SC202", f"the deploy starts `{' '.join(process.argv[:4])}` in the background {how}, outside "
                      "any process manager: nothing restarts it when it crashes or the host reboots, and the next "
                      "deploy must find and kill it by pattern. Run it under PM2 or a systemd unit.", process.span)


def _signature(process) -> tuple | None:
    launch = process.launch
    if launch is None:
        return None
    if launch.gunicorn is not None and process.wsgi is not None:
        return ("wsgi", process.wsgi.text.split("(")[0])
    if launch.script:
        return ("script", posixpath.basename(launch.script))
    return None


@check("SC203")
def dual_managed(model, config, found):
    units_by_signature: dict = {}
    units_by_bind: dict = {}
    for unit in (p for p in model.processes if p.manager == "systemd"):
        if _signature(unit) is not None:
            units_by_signature.setdefault(_signature(unit), []).append(unit)
        for bound, _ in unit.binds:
            units_by_bind.setdefault(bound, []).append(unit)
    for pm2 in (p for p in model.processes if p.manager == "pm2"):
        reported = set()
        same_command = units_by_signature.get(_signature(pm2), []) if _signature(pm2) is not None else []
        same_port = [u for bound, _ in pm2.binds for u in units_by_bind.get(bound, [])]
        for unit, what in [*((u, "the same command") for u in same_command), *((u, "the same port") for u in same_port)]:
            if id(unit) in reported:
                continue
            reported.add(id(unit))
            yield Finding("SC203", f"PM2 app `{pm2.name}` and systemd unit `{unit.name}` run {what}: both "
                          "managers start it, the second copy fails with 'Address already in use' and is restarted "
                          "forever, and a restart through one manager leaves the other's copy running. Keep one "
                          "manager and remove the other.", pm2.span, (Related(unit.span, f"`{unit.name}` runs it too"),))


NODE_INTERPRETERS = {"node", "nodejs", "bun"}
PYTHON_ENTRY_POINTS = {"gunicorn", "uvicorn", "hypercorn", "daphne", "celery", "flask", "waitress-serve"}


def _interpreter(app) -> object:
    return app.get("interpreter", app.get("exec_interpreter"))


def _runs_non_node(app) -> str | None:
    """The non-Node program a PM2 app runs, or None when it is Node (or unknown)."""
    interpreter = _interpreter(app)
    script = app.get("script")
    if isinstance(interpreter, Unknown) or not isinstance(script, str):
        return None
    if interpreter is None:
        interpreter = pm2_default_interpreter(script)
    if interpreter == "none":
        base = posixpath.basename(script)
        return base if base in PYTHON_ENTRY_POINTS or base.endswith(".py") else None
    name = posixpath.basename(str(interpreter))
    return None if name in NODE_INTERPRETERS else name


@check("SC204")
def cluster_non_node(model, config, found):
    for path, app in model.pm2_apps():
        program = _runs_non_node(app)
        if program is None:
            continue
        mode = app.fields.get("exec_mode")
        instances = app.fields.get("instances")
        if mode is not None and isinstance(mode.value, str) and mode.value in ("cluster", "cluster_mode"):
            yield Finding("SC204", f"PM2 app `{app.name}` runs `{program}` in `exec_mode: '{mode.value}'`: PM2's "
                          "cluster mode shares a port between Node processes only; for another interpreter PM2 falls "
                          "back to starting copies that each try to bind the port. Use `exec_mode: 'fork'` and let "
                          "the server scale itself (Gunicorn `workers`).", mode.span)
        if instances is not None and _many(instances.value):
            yield Finding("SC204", f"PM2 app `{app.name}` runs `{program}` with `instances: {instances.value!r}`: "
                          "every copy binds the same port, all but the first fail with 'Address already in use' and "
                          "PM2 restarts them forever. Use `instances: 1` and set the worker count in the server "
                          "(Gunicorn `workers`).", instances.span)


def _many(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return value > 1 or value in (0, -1)  # 0 / -1 / 'max': one per CPU
    if isinstance(value, str):
        return value == "max" or (value.lstrip("-").isdigit() and (int(value) > 1 or int(value) in (0, -1)))
    return False


def _venv_evidence(model):
    """Where the deployment shows it uses a virtualenv (`python3 -m venv`, `venv/bin/…`), if it does."""
    for step in model.steps:
        argv = step.command.argv
        if any("venv/bin/" in word or word.endswith(("venv/bin/activate", "/activate")) for word in argv) or \
                ("-m" in argv and any(w in ("venv", "virtualenv") for w in argv)):
            return step.command.span
    for process in model.processes:
        if process.argv and "venv/bin/" in process.argv[0]:
            return process.span
    return None


@check("SC205")
def interpreter_missing(model, config, found):
    """PM2's choice (lib/Common.js, resolveInterpreter): `interpreter`, else the extension map
    (lib/API/interpreter.json: .py -> `python`, or `python3` when PATH has no `python`), else,
    for a script without a known extension, `none` for a binary file and Node for a text one."""
    venv = ...  # not looked for yet: once per audit, not once per app
    for path, app in model.pm2_apps():
        script = app.get("script")
        located = app.fields.get("script")
        if not isinstance(script, str) or located is None or _interpreter(app) is not None:
            continue
        base = posixpath.basename(script)
        extension = posixpath.splitext(base)[1]
        if base in PYTHON_ENTRY_POINTS:
            yield Finding("SC205", f"PM2 app `{app.name}` runs `{script}` with no `interpreter`: PM2 runs a text "
                          "script without a known extension with Node, which fails on the Python entry point with a "
                          "SyntaxError and restarts it forever. Set `interpreter: 'none'` (the entry point's shebang "
                          "picks the venv's Python) or `interpreter: '<venv>/bin/python'`.", located.span,
                          (Related(app.span, "the PM2 app"),))
        elif extension == ".py":
            venv = _venv_evidence(model) if venv is ... else venv
            if venv is None:
                continue  # dependencies may be installed for the system Python: nothing to say
            yield Finding("SC205", f"PM2 app `{app.name}` runs `{script}` with no `interpreter`: PM2 maps `.py` to "
                          "the system's `python` (or `python3`), never the project's virtualenv, so the app starts "
                          "without the packages the deploy installs there and dies with ModuleNotFoundError. Set "
                          "`interpreter` to the venv's Python (`/abs/path/venv/bin/python`).", located.span,
                          (Related(app.span, "the PM2 app"), Related(venv, "the deploy uses a virtualenv here")))
