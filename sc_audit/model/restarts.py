"""Deploy steps that (re)start processes, and the shells the steps run in.

Shared by the health-check rules (SC602, SC603, SC604) and the deploy rules (SC5xx): which
processes of the model a step starts, and which steps belong to one deploy file or one shell.
"""

from __future__ import annotations

import posixpath

from .. import commands as cmd
from .records import Deployment, Process, Step

RESTART_ACTIONS = {"restart", "reload", "start", "startOrRestart", "startOrReload", "startOrGracefulReload",
                   "gracefulReload"}
SERVICE_RESTARTS = ("restart", "start", "reload", "try-restart", "reload-or-restart")
# supervisorctl: `update` restarts the programs whose configuration changed and starts new ones,
# `reload` restarts supervisord and with it every program; `reread` only reads the files.
SUPERVISOR_RESTARTS = ("restart", "start", "update", "reload")


def supervisor_selected(model: Deployment, names: tuple[str, ...], action: str = "restart") -> list[Process]:
    """The supervisor processes `supervisorctl ACTION NAME…` acts on (supervisor/options.py
    split_namespec, rpcinterface._getGroupAndProcess): `all` (and `reload`, and `update` without
    a name) every program; `G:*` or `G:` the group G; `G:P` process P of group G; a bare `N` the
    group N (`start`/`stop`/`restart` of a group name act on the whole group)."""
    programs = [p for p in model.processes if p.manager == "supervisor" and p.supervisor is not None]
    if action == "reload" or "all" in names or (action == "update" and not names):
        return programs
    chosen = []
    for name in names:
        group, colon, process_name = name.partition(":")
        if not colon or process_name in ("", "*"):
            chosen += model.lookup("supervisor-group", [group])
        else:
            chosen += [p for p in model.lookup("supervisor-group", [group])
                       if p.supervisor.process_name == process_name]
    return chosen


def restarted(model: Deployment, step: Step) -> list[Process]:
    """The processes of the model a deploy step (re)starts (empty when it names none we know)."""
    meaning = step.meaning
    if isinstance(meaning, cmd.Pm2Command) and meaning.action in RESTART_ACTIONS:
        chosen = []
        for target in meaning.targets:
            if target == "all":
                chosen += [p for p in model.processes if p.manager == "pm2"]
            elif target.endswith((".js", ".cjs", ".mjs", ".json", ".yml", ".yaml")):
                file_name = posixpath.basename(target)
                if meaning.only:
                    chosen += [p for p in model.lookup("pm2-name", meaning.only)
                               if posixpath.basename(p.pm2_path) == file_name]
                else:
                    chosen += model.lookup("pm2-file", [file_name])
            else:
                chosen += model.lookup("pm2-name", [target])
        return chosen
    if isinstance(meaning, cmd.ServiceCommand) and meaning.action in SERVICE_RESTARTS:
        units = {u if u.endswith(".service") else f"{u}.service" for u in meaning.units}
        return model.lookup("unit", units)
    if isinstance(meaning, cmd.SupervisorctlCommand) and meaning.action in SUPERVISOR_RESTARTS:
        return supervisor_selected(model, meaning.names, meaning.action)
    if isinstance(meaning, cmd.Launch):
        return model.lookup("script-span", [step.command.span])
    if model.containers:
        from .containers import compose_restarted

        return compose_restarted(model, step)
    return []


def is_restart(step: Step) -> bool:
    """Whether a step (re)starts a service, known to the model or not: `systemctl restart X`,
    `pm2 restart|start|reload …`, `supervisorctl restart|start|update|reload …`, a server launched in the background by the deploy."""
    meaning = step.meaning
    if isinstance(meaning, cmd.Pm2Command):
        return meaning.action in RESTART_ACTIONS
    if isinstance(meaning, cmd.ServiceCommand):
        return meaning.action in SERVICE_RESTARTS
    if isinstance(meaning, cmd.SupervisorctlCommand):
        return meaning.action in SUPERVISOR_RESTARTS
    if isinstance(meaning, cmd.Launch):
        return step.command.background or any(w in meaning.wrappers for w in ("nohup", "setsid", "screen", "tmux"))
    return False


def steps_by_file(model: Deployment) -> dict[str, list[Step]]:
    """Deploy steps per file, in file order."""
    by_file: dict[str, list[Step]] = {}
    for step in model.steps:
        by_file.setdefault(step.command.span.path, []).append(step)
    return by_file


def steps_by_shell(model: Deployment) -> list[list[Step]]:
    """Deploy steps per shell process: a script file, one workflow `run:`, one ssh-action
    `script:`, one `ssh host '…'` payload, one `bash -c '…'` (in file order)."""
    shells: dict[tuple, list[Step]] = {}
    for step in model.steps:
        context = step.command.context
        shells.setdefault((step.command.span.path, context.kind, context.span), []).append(step)
    return list(shells.values())
