"""Build the Deployment from the facts of every file, in one direction: files -> steps ->
processes -> settings and binds -> targets -> proxies."""

from __future__ import annotations

from .. import commands as cmd
from ..facts import (
    AppspecFacts,
    ComposeFacts,
    DockerfileFacts,
    DotFileFacts,
    GunicornConfigFacts,
    NginxFacts,
    ParseError,
    Pm2Facts,
    ProcfileFacts,
    PythonModuleFacts,
    ShellFacts,
    SupervisorFacts,
    SystemdUnitFacts,
    WorkflowFacts,
)
from .gunicorn import collect_targets, implied_processes, resolve_binds, resolve_gunicorn
from .install import install_map, installed_names, working_directories
from .processes import command_process, pm2_process, script_process, supervisor_process, systemd_process, views
from .pipelines import read_pipeline_kills
from .proxies import proxies_of
from .records import Deployment, Step
from .runs import build_runs


def build(facts_by_path: dict[str, object], root_paths: set[str]) -> Deployment:
    model = Deployment(root_paths=root_paths)
    for path, facts in sorted(facts_by_path.items()):
        model.errors.extend(getattr(facts, "errors", ()))
        if isinstance(facts, PythonModuleFacts):
            model.modules.setdefault(facts.module, facts)
            model.module_paths[path] = facts
        elif isinstance(facts, GunicornConfigFacts):
            model.gunicorn_configs[path] = facts
        elif isinstance(facts, Pm2Facts):
            model.pm2_files[path] = facts
        elif isinstance(facts, NginxFacts):
            model.nginx_files[path] = facts
        elif isinstance(facts, SystemdUnitFacts):
            model.units[path] = facts
        elif isinstance(facts, AppspecFacts):
            model.appspecs[path] = facts
        elif isinstance(facts, SupervisorFacts):
            model.supervisor_files[path] = facts
        elif isinstance(facts, ShellFacts):
            model.shell_paths.add(path)
            model.shell_facts[path] = facts
        elif isinstance(facts, DockerfileFacts):
            model.dockerfiles[path] = facts
        elif isinstance(facts, ComposeFacts):
            model.compose_files[path] = facts
        elif isinstance(facts, DotFileFacts):
            model.dotfiles[path] = facts
    model.nginx_all = set(model.nginx_files)
    included = {p for f in model.nginx_files.values() for p in f.included_paths}
    for path in included:
        model.nginx_files.pop(path, None)

    for path, facts in sorted(facts_by_path.items()):
        if isinstance(facts, (ShellFacts, WorkflowFacts)):
            source = "shell" if isinstance(facts, ShellFacts) else "workflow"
            for command in facts.commands:
                model.steps.append(Step(command, cmd.interpret(command.argv), source))
        elif isinstance(facts, Pm2Facts):
            for snippet_commands in getattr(facts, "snippet_commands", ()):
                for command in snippet_commands:
                    model.steps.append(Step(command, cmd.interpret(command.argv), "pm2"))
    _cap(model, model.steps, MAX_STEPS, "deploy commands", lambda step: step.command.span)
    model.steps[:] = read_pipeline_kills(model.steps)
    _cap_kills(model)
    # the install map before any process: where the repository lands, under which names
    cwds = working_directories(model.steps)
    model.placements = install_map(model, cwds)
    model.installed = installed_names(model, cwds)

    for path, facts in sorted(model.pm2_files.items()):
        for app in facts.apps:
            model.processes.append(pm2_process(model, path, app))
    for path, unit in sorted(model.units.items()):
        if unit.exec_start:
            model.processes.append(systemd_process(model, path, unit))
    for path, facts in sorted(model.supervisor_files.items()):
        for program in facts.programs:
            process = supervisor_process(model, path, program)
            if process is not None:
                model.processes.append(process)
    for path, facts in sorted(facts_by_path.items()):
        if isinstance(facts, ProcfileFacts):
            for name, line_commands in facts.processes.items():
                if line_commands:
                    model.processes.append(command_process(model, name, "procfile", line_commands[-1], ""))
    for step, here in zip(model.steps, cwds):
        process = script_process(model, step, here)
        if process is not None:
            model.processes.append(process)
    _cap(model, model.processes, MAX_PROCESSES, "processes", lambda process: process.span)

    for process in model.processes:
        resolve_gunicorn(model, process)
    model.processes.extend(implied_processes(model, cwds))
    for process in model.processes:
        if process.manager == "implied":
            resolve_gunicorn(model, process)
        resolve_binds(model, process)
        process.views = views(process) if process.manager != "implied" else []
    model.runs = build_runs(model, cwds)
    collect_targets(model)
    model.proxies = proxies_of(model)
    if model.dockerfiles or model.compose_files:  # the container model is imported only when there are any
        from .containers import place_containers

        place_containers(model)
    _cap(model, model.proxies, MAX_PROXIES, "proxied locations", lambda proxy: proxy.span)
    return model


# Bounded work on hostile input. The joins between processes, proxies and steps are indexed
# (linear); what stays a product is each kill pattern matched against every process's views, so
# kills have a cap of their own. Real deployments have tens of each and a 1,000-service monorepo
# stays under every cap (docs/limits.md); past a cap the rest is not checked, and an SC001 says so.
MAX_PROCESSES = 1500
MAX_PROXIES = 2000
MAX_STEPS = 20000
MAX_KILLS = 200


def _cap_kills(model: Deployment) -> None:
    kills = [i for i, step in enumerate(model.steps) if isinstance(step.meaning, cmd.KillCommand)]
    if len(kills) <= MAX_KILLS:
        return
    first_dropped = model.steps[kills[MAX_KILLS]]
    model.errors.append(ParseError(f"more than {MAX_KILLS} kill commands in the deployment: the rest are not "
                                   "checked", first_dropped.command.span))
    dropped = set(kills[MAX_KILLS:])
    model.steps[:] = [step for i, step in enumerate(model.steps) if i not in dropped]


def _cap(model: Deployment, items: list, limit: int, what: str, span_of) -> None:
    if len(items) > limit:
        model.errors.append(ParseError(f"more than {limit} {what} in the deployment: the rest are not checked",
                                       span_of(items[limit])))
        del items[limit:]
