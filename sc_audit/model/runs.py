"""Runs: what one deploy executes, in order, and which processes run at the same time.

A run starts at a file nothing else calls (a workflow, a top-level script, a CodeDeploy
appspec) and follows the scripts it calls (`bash scripts/deploy.sh`, `./start.sh`,
`source x.sh`, an appspec hook's `location`) where they are called. Scripts that no run
holds together are alternatives: their processes never run at the same time.
"""

from __future__ import annotations

import posixpath

from .. import commands as cmd
from .install import Cwd, resolve
from .pipelines import stops_by_signal
from .records import Deployment, Process

SHELLS = ("bash", "sh", "zsh", "dash", "ksh", "source", ".")
MAX_DEPTH = 8  # nested script calls followed
MAX_RUN_STEPS = 20000  # steps of one run (hostile input: a script calling itself through many names)
MAX_TOTAL_RUN_STEPS = 500_000  # of all runs together; past it, later runs are cut (fewer SC301, never more)


def called_script(model: Deployment, index: int, here: Cwd) -> str | None:
    """The repository script a step runs: `bash scripts/deploy.sh`, `sh -e x.sh`, `./start.sh`,
    `source ./env.sh`, `bash /srv/app/deploy.sh` (through the install map). Read from the step's
    known directory, else the root, else the calling script's folder.

    False-alarm risk: a script run from another folder than assumed names another file of the
    same relative path; then two alternatives may be taken to run together (or not).
    """
    step = model.steps[index]
    argv, _, _ = cmd.strip_wrappers(step.command.argv)
    if not argv or any(step.command.dynamic[: len(step.command.argv)]):
        return None
    words = list(argv)
    if cmd.basename(words[0]) in SHELLS:
        rest = [w for w in words[1:] if not w.startswith("-")]
        if not rest or any(w in ("-c", "-s") for w in words[1:]):
            return None
        candidate = rest[0]
    elif "/" in words[0] or words[0].endswith(".sh"):
        candidate = words[0]
    else:
        return None
    if candidate.startswith("/"):
        mapped = resolve(model, candidate)
        return mapped if mapped in model.shell_paths else None
    own = posixpath.dirname(step.command.span.path) if step.source == "shell" else ""
    bases = [here.repo] if here.repo is not None else \
        [b for b in ([resolve(model, here.host)] if here.host else []) if b is not None] + ["", own]
    for base in bases:
        path = posixpath.normpath(posixpath.join(base, candidate))
        if path in model.shell_paths:
            return path
    return None


def build_runs(model: Deployment, cwds: list[Cwd]) -> list[tuple[str, list[int]]]:
    """(root file, step indexes in the order the run executes them) for every run."""
    by_file: dict[str, list[int]] = {}
    for i, step in enumerate(model.steps):
        by_file.setdefault(step.command.span.path, []).append(i)
    calls = {i: called_script(model, i, cwds[i]) for i in range(len(model.steps))}
    hooks = {path: [h.location.lstrip("/") for h in facts.hooks] for path, facts in model.appspecs.items()}
    hook_scripts = {}
    for path, locations in hooks.items():
        revision = posixpath.dirname(path)
        hook_scripts[path] = [p for p in (posixpath.normpath(posixpath.join(revision, loc)) for loc in locations)
                              if p in by_file]
    called = {c for c in calls.values() if c} | {p for scripts in hook_scripts.values() for p in scripts}

    def inline(path: str, stack: tuple[str, ...], out: list[int]) -> None:
        for i in by_file.get(path, ()):
            if len(out) >= MAX_RUN_STEPS:
                return
            out.append(i)
            callee = calls[i]
            if callee and callee not in stack and len(stack) < MAX_DEPTH:
                inline(callee, (*stack, callee), out)

    runs = []
    total = 0
    roots = [(path, hook_scripts[path]) for path in sorted(hook_scripts)] + \
        [(path, [path]) for path in sorted(by_file) if path not in called]
    for path, scripts in roots:
        out: list[int] = []
        for script in scripts:
            inline(script, (script,), out)
        out = out[: max(0, MAX_TOTAL_RUN_STEPS - total)]
        total += len(out)
        runs.append((path, out))
    return runs


def services(processes: list[Process]) -> list[Process]:
    """The processes with the versions of one installed unit (one unit name) or one supervisor
    program (one `group:process` name) counted once: the first.
    For rules that add processes up (memory); every version is still checked on its own."""
    seen, result = set(), []
    for process in processes:
        if process.manager in ("systemd", "supervisor"):
            key = (process.manager, _supervisor_key(process) if process.manager == "supervisor" else process.name)
            if key in seen:
                continue
            seen.add(key)
        result.append(process)
    return result


def _supervisor_key(process: Process) -> tuple[str, str]:
    program = process.supervisor
    return (program.group, program.process_name) if program is not None else (process.name, process.name)


def versions_of_one_program(model: Deployment, first: Process, second: Process) -> bool:
    """Two supervisor processes that supervisord would hold as one: the same `group:process` name
    (supervisord merges sections of one name, the last file read wins), or two repository files
    installed under one name (`cp deploy/a.conf /etc/supervisor/conf.d/app.conf` and a later
    `cp deploy/b.conf …/app.conf`). False-alarm risk: two hosts' programs of one name, which then
    never meet on one host either."""
    if _supervisor_key(first) == _supervisor_key(second):
        return True
    if first.span.path == second.span.path:
        return False  # two programs of one file
    one = model.installed.get(first.span.path)
    other = model.installed.get(second.span.path)
    return one is not None and other is not None and one.kind == other.kind == "program" and one.name == other.name


def stops(model: Deployment, index: int, process: Process) -> bool:
    """Whether a deploy step may stop `process` for good: a kill whose pattern selects its main process
    as the OS shows it (procview), `fuser -k`/`lsof` on a port it binds, `systemctl stop` of its
    unit, `pm2 stop|delete` of its name (or `all`), `supervisorctl stop` of its program, group or `all`.
    A restart is not a stop. A kill we cannot read
    (a variable, a process whose command line is unknown) may stop it: then no collision is certain."""
    key = ("stops", index, id(process))
    if key not in model.memo:
        model.memo[key] = _stops(model, index, process)
    return model.memo[key]


def _stops(model: Deployment, index: int, process: Process) -> bool:
    from .. import procview

    step = model.steps[index]
    meaning = step.meaning
    if isinstance(meaning, cmd.KillCommand) and meaning.tool == "pidfile":
        return pidfile_stops(model, meaning, process)
    if isinstance(meaning, cmd.KillCommand) and meaning.tool == "ps":
        # the `$(…)` of `kill $(ps … | grep …)` is the pipeline we read, not an unknown
        if stops_by_signal(meaning.signal) is False:
            return False
        return any(v.role == "main" and procview.kill_matches(meaning, v) is not False for v in process.views) \
            or not process.views
    if isinstance(meaning, cmd.KillCommand):
        if any(step.command.dynamic):
            return True  # a pattern or port we cannot read may stop it: no collision is certain
        if meaning.ports:
            return any(str(bound.port) in meaning.ports for bound, _ in process.binds if bound.port is not None)
        return any(v.role == "main" and procview.kill_matches(meaning, v) is not False for v in process.views) \
            or not process.views
    if isinstance(meaning, cmd.ServiceCommand) and meaning.action in ("stop", "kill") and process.manager == "systemd":
        return process.name.removesuffix(".service") in {u.removesuffix(".service") for u in meaning.units}
    if isinstance(meaning, cmd.Pm2Command) and meaning.action in ("stop", "delete", "kill") and \
            process.manager == "pm2":
        return "all" in meaning.targets or process.name in meaning.targets
    if isinstance(meaning, cmd.SupervisorctlCommand) and meaning.action in ("stop", "remove") and \
            process.manager == "supervisor":
        from .restarts import supervisor_selected

        return any(p is process for p in supervisor_selected(model, meaning.names, meaning.action))
    return False


def pidfile_stops(model: Deployment, kill: cmd.KillCommand, process: Process) -> bool:
    """Whether `kill -SIG $(cat PATH)` may stop `process`: a stopping signal (TERM, INT, QUIT, KILL;
    not HUP or USR2, Gunicorn's reload and re-exec) and PATH the pidfile it writes, or one no process
    of the model is known to write (a script's `echo $! > PATH`). Not a process whose known pidfile
    is another file, nor any process when PATH is another process's pidfile.
    False-alarm risk: a relative pidfile compared by its file name only."""
    if stops_by_signal(kill.signal) is False:
        return False
    written = {id(p): _pidfile_of(p) for p in model.processes}
    own = written.get(id(process))
    if own is not None:
        return _same_file(own, kill.pidfile)
    return not any(path is not None and _same_file(path, kill.pidfile) for path in written.values())


def _pidfile_of(process: Process) -> str | None:
    setting = process.settings.get("pidfile")
    if setting is not None and isinstance(setting.value, str):
        return setting.value
    server = process.launch.server if process.launch is not None else None
    if server is not None and server.kind == "hypercorn":
        return server.option("-p", "--pid")
    return None


def _same_file(a: str, b: str | None) -> bool:
    if b is None:
        return True
    if a.startswith("/") and b.startswith("/"):
        return posixpath.normpath(a) == posixpath.normpath(b)
    return posixpath.basename(a) == posixpath.basename(b)


def together(model: Deployment, first: Process, second: Process) -> bool:
    """Whether two processes can run at the same time.

    Processes of a manager (systemd, PM2, Procfile, an implied Gunicorn) run all the time, except
    two versions of one installed unit (one name). A process a deploy script starts runs from its
    step on, in the runs that hold that step; it meets another process when some run holds both
    and does not stop the earlier one in between (a script that kills X before it starts X
    replaces it). False-alarm risk: a stop we read as certain that fails on the host.
    """
    if first is second:
        return False
    if first.manager == second.manager == "systemd" and first.name == second.name:
        return False  # versions of one unit
    if first.manager == second.manager == "supervisor" and versions_of_one_program(model, first, second):
        return False
    if first.manager != "script" and second.manager != "script":
        return True
    positions = model.memo.get("run-positions")
    if positions is None:
        positions = {}
        for run, (_, order) in enumerate(model.runs):
            for position, i in enumerate(order):
                positions.setdefault(model.steps[i].command.span, []).append((run, position))
        model.memo["run-positions"] = positions
    if first.manager != "script" or second.manager != "script":
        managed, started = (first, second) if second.manager == "script" else (second, first)
        for run, position in positions.get(started.span, ()):
            order = model.runs[run][1]
            if not any(stops(model, i, managed) for i in order[:position]):
                return True
        return False
    at_first = dict(positions.get(first.span, ()))
    for run, position in positions.get(second.span, ()):
        if run not in at_first:
            continue
        a, b = sorted((at_first[run], position))
        early = first if at_first[run] <= position else second
        order = model.runs[run][1]
        if a != b and not any(stops(model, i, early) for i in order[a + 1:b]):
            return True
    return False
