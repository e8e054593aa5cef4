"""SC5xx: kills in deploy scripts, matched the way pkill matches against what really runs."""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

from .. import commands as cmd
from ..findings import Finding, Related
from ..procview import PLACEHOLDERS, View, kill_matches, pattern_matches_text
from . import check

GENERIC_WORDS = {"python", "python3", "python2", "node", "nodejs", "bash", "sh", "venv", "bin", "usr", "local",
                 "env", "var", "www", "srv", "opt", "home", "app", "server", "main", "run", "py", "js", "master",
                 "worker"}

# Processes any host runs beside the deployment: a kill that selects these is too broad.
BYSTANDERS = (
    ("any other Python program (e.g. `python3 /usr/bin/unattended-upgrade`)",
     View("/usr/bin/python3 /usr/bin/unattended-upgrade", "unattended-upgr", "main", "plain", 0)),
    ("any other Python program (e.g. a cron job `python3 /home/ubuntu/scripts/backup.py`)",
     View("python3 /home/ubuntu/scripts/backup.py", "python3", "main", "plain", 0)),
    ("any other Node program (e.g. `node /home/ubuntu/tools/index.js`)",
     View("node /home/ubuntu/tools/index.js", "node", "main", "plain", 0)),
    ("the PM2 daemon itself (`PM2 v5.4.3: God Daemon`), which takes every PM2 app down with it",
     View("PM2 v5.4.3: God Daemon (/home/ubuntu/.pm2)", "PM2 v5.4.3: God", "main", "plain", 0)),
)


@dataclass(frozen=True, slots=True)
class Kill:
    step: object  # model.Step of the command that kills
    command: cmd.KillCommand  # the matching part: pkill, killall, or the pgrep that feeds kill
    text: str  # as written, for messages


def kills(model):
    """Every kill by pattern: `pkill`, `killall`, `pgrep … | xargs kill`, `kill $(pgrep …)`, and
    `ps … | grep … | xargs kill` / `kill $(ps … | grep …)` (model/pipelines.py). Kills by port
    (`fuser -k`) and by pidfile are exact: never here."""
    for step in model.steps:
        meaning = step.meaning
        argv = step.command.argv
        if isinstance(meaning, cmd.KillCommand) and meaning.tool in ("pkill", "killall") and meaning.pattern:
            if not _dynamic_pattern(step, meaning):
                yield Kill(step, meaning, shlex.join(argv))
        elif isinstance(meaning, cmd.KillCommand) and meaning.tool == "pgrep" and meaning.pattern:
            feeds = step.command.pipe_to or ()
            if "kill" in feeds or (feeds and cmd.basename(feeds[0]) == "xargs" and "kill" in feeds):
                if not _dynamic_pattern(step, meaning):
                    yield Kill(step, meaning, shlex.join(argv) + " | " + shlex.join(feeds))
        elif isinstance(meaning, cmd.KillCommand) and meaning.tool == "ps":
            yield Kill(step, meaning, _ps_text(model, step))
            continue
        program, _, _ = cmd.strip_wrappers(argv)
        if program and cmd.basename(program[0]) == "kill":
            for inner in step.command.substitutions:
                meaning = cmd.interpret(inner)
                if isinstance(meaning, cmd.KillCommand) and meaning.tool == "pgrep" and meaning.pattern:
                    yield Kill(step, meaning, f"kill $({shlex.join(inner)})")


def _ps_text(model, step) -> str:
    """`ps aux | grep x | awk … | xargs kill` or `kill $(ps aux | grep x …)`, as written."""
    if step.command.substitutions:
        return " ".join(step.command.argv)  # the `$(…)` word is kept as written
    steps = model.steps
    index = next(i for i, s in enumerate(steps) if s is step)
    chain = [step]
    while index > 0 and len(chain) <= 16 and steps[index - 1].command.pipe_to == steps[index].command.argv:
        chain.insert(0, steps[index - 1])
        index -= 1
    return " | ".join(shlex.join(s.command.argv) for s in chain)


def _dynamic_pattern(step, meaning) -> bool:
    return any(d and word == meaning.pattern for word, d in zip(step.command.argv, step.command.dynamic))


def pattern_words(pattern: str) -> set[str]:
    """The literal words of a regex: `python.*app.py` -> {python, app.py}."""
    words = set()
    for word in re.findall(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*", pattern.replace("\\.", ".")):
        for part in word.split("/"):
            part = part.strip(".:-")
            if len(part) >= 3:
                words.add(part.lower())
    return words


def identities(process) -> set[str]:
    """Words that name a process: its program, script, WSGI module and target, its manager's name for it."""
    names = {process.name.lower(), process.name.lower().removesuffix(".service")}
    if process.supervisor is not None:
        names.update({process.supervisor.name.lower(), process.supervisor.group.lower()})
    launch = process.launch
    if launch is not None:
        names.add(launch.program)
        if launch.script:
            names.add(posixpath.basename(launch.script).lower())
        names.update(posixpath.basename(a).lower() for a in process.argv[:2])
    if process.wsgi is not None:
        module = process.wsgi.text.split(":", 1)[0]
        names.update({process.wsgi.text.lower(), module.rsplit(".", 1)[-1].lower() + ".py"})
    return {n for n in names if n}


def runtime(process) -> str | None:
    if process.launch is None:
        return None
    if process.launch.program in ("node", "npm"):
        return "node"
    return "python"


def named(model, kill: Kill) -> list:
    """The processes a kill pattern names: by program, script, module, target or service name.
    A pattern of only generic words (`python3`, `node`) names every process of that runtime."""
    words = pattern_words(kill.command.pattern)
    specific = words - GENERIC_WORDS
    candidates = [p for p in model.processes if p.views]
    if specific:
        return [p for p in candidates if any(_related(w, identities(p)) for w in specific)]
    kinds = {"node" if w in ("node", "nodejs") else "python" for w in words if w.startswith(("python", "node"))}
    return [p for p in candidates if runtime(p) in kinds]


def targets(model, kill: Kill) -> list:
    """The processes a kill is aimed at: those it names, among the managed services and the
    processes started by the same file (a server another script starts is not this deploy's)."""
    path = kill.step.command.span.path
    return [p for p in named(model, kill) if p.manager != "script" or p.span.path == path]


def _related(word: str, names: set[str]) -> bool:
    return any(word == n or (len(word) >= 4 and word in n) or (len(n) >= 4 and n in word) for n in names)


def match_in_world(kill: Kill, process, world: str) -> bool | None:
    """Whether the kill selects the process's main process (Gunicorn's master) in `world`,
    the same for every guess of what we cannot know; None when the guesses disagree."""
    views = [v for v in process.views if v.world == world] or process.views  # one world for non-Gunicorn
    results = {kill_matches(kill.command, v) for v in views if v.role == "main"}
    if not results or None in results or len(results) > 1:
        return None
    return results.pop()


def _worlds(process) -> list[str]:
    return sorted({v.world for v in process.views})


def _shown(process) -> str:
    plain = next((v for v in process.views if v.world == "plain" and v.role == "main"), None)
    titled = next((v for v in process.views if v.world == "setproctitle" and v.role == "main"), None)
    names = {v.comm for v in process.views if v.world == "plain" and v.role == "main"}
    name = f"name `{plain.comm}`" if plain and len(names) == 1 else "its name depends on the directory"
    text = f"`{plain.cmdline}` ({name})" if plain else "?"
    if titled:
        text += f", or `{titled.cmdline}` when setproctitle is installed"
    for placeholder in PLACEHOLDERS:
        text = text.replace(placeholder, "<dir>")
    return text


@check("SC501")
def kill_misses_process(model, config, found):
    for kill in kills(model):
        aimed = targets(model, kill)
        if not aimed:
            continue
        for world in ("plain", "setproctitle"):
            results = [match_in_world(kill, p, world) for p in aimed]
            if any(r is not False for r in results):
                continue
            missed = aimed
            first = next((p for p in missed if world in _worlds(p)), missed[0])
            how = "" if world == "plain" else " when setproctitle is installed (Gunicorn then renames its processes)"
            scope = "the whole command line" if kill.command.full else "the 15-character process name"
            yield Finding("SC501", f"`{kill.text}` matches none of the processes it is meant to stop{how}: "
                          f"`{first.name}` runs as {_shown(first)}, and the pattern is matched against {scope}. "
                          "The old process keeps running (old code, holding its port) and the new one cannot bind. "
                          f"Stop it through its manager ({_manager_stop(first)}), or use a pattern that matches "
                          "the real command line.", kill.step.command.span,
                          tuple(Related(p.span, f"`{p.name}` is started here") for p in missed[:3]))
            break


def _manager_stop(process) -> str:
    if process.manager == "pm2":
        return f"`pm2 stop {process.name}`"
    if process.manager == "systemd":
        return f"`systemctl stop {process.name}`"
    if process.manager == "supervisor" and process.supervisor is not None:
        return f"`supervisorctl stop {supervisor_namespec(process.supervisor)}`"
    return "run it under PM2 or systemd"


def supervisor_namespec(program) -> str:
    """The name supervisorctl knows one process by: `name`, or `group:process` (supervisor/options.py
    make_namespec)."""
    return program.group if program.group == program.process_name else f"{program.group}:{program.process_name}"


@check("SC502")
def kill_too_broad(model, config, found):
    for kill in kills(model):
        aimed = {id(p) for p in named(model, kill)}
        hits = [label for label, view in BYSTANDERS if kill_matches(kill.command, view)]
        for process in model.processes:
            if id(process) in aimed or not process.views:
                continue
            if any(match_in_world(kill, process, w) for w in _worlds(process)):
                hits.append(f"`{process.name}` ({process.manager}), another service of this deployment")
        if hits:
            yield Finding("SC502", f"`{kill.text}` also kills {'; '.join(hits[:3])}. A deploy that runs it takes "
                          "down more than it restarts. Stop the service through its manager, or anchor the "
                          "pattern on its own command line.", kill.step.command.span)
    for step in model.steps:
        yield from _kill_by_port(step)


def _kill_by_port(step):
    argv, _, _ = cmd.strip_wrappers(step.command.argv)
    if not argv or cmd.basename(argv[0]) != "kill":
        return
    for inner in step.command.substitutions:
        meaning = cmd.interpret(inner)
        if isinstance(meaning, cmd.KillCommand) and meaning.tool == "lsof" and meaning.ports:
            if not any(w.startswith("-sTCP:LISTEN") or w == "-sTCP:LISTEN" for w in inner):
                port = meaning.ports[0]
                yield Finding("SC502", f"`kill $({' '.join(inner)})` kills every process with a connection to port "
                              f"{port}, not only the one listening on it: Nginx workers proxying to it and clients "
                              f"are killed too. Add `-sTCP:LISTEN`: `lsof -t -i:{port} -sTCP:LISTEN`.",
                              step.command.span)


@check("SC503")
def kill_matches_own_session(model, config, found):
    for kill in kills(model):
        context = kill.step.command.context
        if not kill.command.full or context.cmdline is None or kill.command.tool == "killall":
            continue
        if not pattern_matches_text(kill.command, context.cmdline):
            continue
        shell = {"ssh-action": "the ssh-action session (`bash -c` with the whole script)",
                 "ssh": "the `ssh` session's remote shell (`bash -c '…'`)",
                 "bash-c": "the `bash -c` shell running it",
                 "procfile": "the `sh -c` shell running it"}.get(context.kind, "the shell running it")
        related = (Related(context.span, "that shell starts here"),) if context.span else ()
        yield Finding("SC503", f"`{kill.text}` also matches {shell}, whose own command line contains the pattern "
                      "text: pkill kills the deploy session itself (exit 143, 'Process exited with status 143') and "
                      "the rest of the deploy never runs. Stop the service through its manager, or write the pattern "
                      "so it cannot match itself (`pkill -f \"[g]unicorn\"`).", kill.step.command.span, related)
