"""Processes from each launcher (PM2, systemd, Procfile, a deploy script), and how the OS shows them."""

from __future__ import annotations

import posixpath

from .. import commands as cmd
from ..facts import Pm2App, ShellCommand, SupervisorProgram, SystemdUnitFacts
from ..span import Unknown
from .install import Cwd, repo_dir
from .records import Deployment, Process, Step


def pm2_process(model: Deployment, path: str, app: Pm2App) -> Process:
    name = app.name if isinstance(app.name, str) else "(unnamed PM2 app)"
    argv = pm2_argv(app)
    launch = cmd.interpret(argv) if argv else None
    if isinstance(launch, cmd.Launch) is False:
        launch = None
    cwd_value = app.get("cwd")
    file_dir = posixpath.dirname(path)
    cwd = repo_dir(model, cwd_value, file_dir) if cwd_value is not None else file_dir
    env = {}
    env_value = app.get("env")
    if isinstance(env_value, dict):
        env = {k: v for k, v in env_value.items() if not isinstance(v, Unknown)}
    if launch is not None:
        env = {**launch.env, **env}
    host_cwd = cwd_value if isinstance(cwd_value, str) and cwd_value.startswith("/") else None
    return Process(name=name, manager="pm2", span=app.span, argv=argv, launch=launch, cwd=cwd,
                   env=env, pm2=app, pm2_path=path, host_cwd=host_cwd)


def pm2_argv(app: Pm2App) -> tuple[str, ...]:
    """The command PM2 runs for an app: [interpreter, interpreter_args…, script, args…].

    PM2 picks the interpreter from `interpreter` or from the script's extension
    (lib/API/interpreter.json); `interpreter: 'none'` execs the script itself. A script
    without a known extension runs with node.
    """
    script = app.get("script")
    if not isinstance(script, str):
        return ()
    args = app.get("args")
    if isinstance(args, str):
        args_list = split_words(args)
    elif isinstance(args, list) and all(isinstance(a, str) for a in args):
        args_list = list(args)
    else:
        args_list = []
    interpreter = app.get("interpreter", app.get("exec_interpreter"))
    if isinstance(interpreter, Unknown) or not isinstance(interpreter, (str, type(None))):
        return ()  # `interpreter: false` or a number: PM2's schema check decides, not us
    interpreter_args = app.get("interpreter_args", app.get("node_args"))
    extra = split_words(interpreter_args) if isinstance(interpreter_args, str) else []
    if interpreter is None:
        interpreter = pm2_default_interpreter(script)
    if interpreter == "none":
        return (script, *args_list)
    return (interpreter, *extra, script, *args_list)


PM2_EXTENSIONS = {".sh": "bash", ".py": "python", ".rb": "ruby", ".php": "php", ".pl": "perl",
                  ".coffee": "coffee", ".ls": "lsc", ".ts": "bun", ".tsx": "bun", ".js": "node",
                  ".mjs": "node", ".cjs": "node"}


def pm2_default_interpreter(script: str) -> str:
    extension = posixpath.splitext(script)[1]
    return PM2_EXTENSIONS.get(extension, "node")


def split_words(text: str) -> list[str]:
    import shlex

    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def systemd_process(model: Deployment, path: str, unit: SystemdUnitFacts) -> Process:
    command = unit.exec_start[-1]
    cwd = repo_dir(model, unit.working_directory.value, "") if unit.working_directory else ""
    installed = model.installed.get(path)
    name = installed.name if installed is not None and installed.kind == "unit" else unit.name
    process = command_process(model, name, "systemd", command, cwd)
    if unit.working_directory and isinstance(unit.working_directory.value, str) \
            and unit.working_directory.value.startswith("/"):
        process.host_cwd = unit.working_directory.value
    for key, located in unit.environment.items():
        if not isinstance(located.value, Unknown):
            process.env.setdefault(key, located.value)
    return process


def supervisor_process(model: Deployment, path: str, program: SupervisorProgram) -> Process | None:
    """A `[program:x]` process: its command as supervisord execs it (no shell), in `directory=`.

    `directory` unset: the process runs in supervisord's own working directory, which the
    repository does not tell (`/` under the Debian service), so `cwd` is unknown (None). An
    absolute directory maps through the install map as a unit's WorkingDirectory does.
    False-alarm risk: as `repo_dir`'s guess where the map knows nothing of the directory.
    """
    command = program.command
    if command is None:
        return None
    directory = program.settings.get("directory")
    cwd = None
    if directory is not None and isinstance(directory.value, str) and directory.value.startswith("/"):
        cwd = repo_dir(model, directory.value, "")  # relative: from supervisord's cwd, unknown
    process = command_process(model, program.process_name or program.name, "supervisor", command, cwd)
    process.supervisor = program
    if directory is not None and isinstance(directory.value, str) and directory.value.startswith("/"):
        process.host_cwd = posixpath.normpath(directory.value)
    for key, located in program.environment.items():
        if not isinstance(located.value, Unknown):
            process.env.setdefault(key, located.value)
    return process


def command_process(model: Deployment, name: str, manager: str, command: ShellCommand,
                     cwd: str | None) -> Process:
    argv, env, _ = cmd.strip_wrappers(command.argv)
    launch = cmd.interpret(command.argv)
    if not isinstance(launch, cmd.Launch):
        launch = None
    return Process(name=name, manager=manager, span=command.span, argv=argv, launch=launch,
                   cwd=cwd, env=dict(env))


LONG_RUNNING = ("gunicorn", "uvicorn", "flask", "python", "node", "npm", "other")


def script_process(model: Deployment, step: Step, here: Cwd) -> Process | None:
    """A server started by a deploy step itself, outside any process manager."""
    launch = step.meaning
    if not isinstance(launch, cmd.Launch):
        return None
    command = step.command
    detached = command.background or any(w in launch.wrappers for w in ("nohup", "setsid", "screen", "tmux"))
    daemon = launch.gunicorn is not None and launch.gunicorn.settings.get("daemon") is True
    if not (detached or daemon):
        return None
    if step.source == "workflow" and not command.context.remote:
        return None  # a server a CI job starts for its own tests
    if here.repo is not None:
        cwd = here.repo
    else:
        cwd = repo_dir(model, here.host, "") if here.host else ""
    return Process(name=" ".join([posixpath.basename(launch.argv[0]), *launch.argv[1:2]]), manager="script",
                   span=command.span, argv=launch.argv, launch=launch, cwd=cwd, env=dict(launch.env),
                   host_cwd=here.host)


# ---------------------------------------------------------------------------- as the OS shows it


def views(process: Process) -> list:
    """The process's /proc views in each world (see procview.py). Empty when the command is unknown."""
    from .. import procview

    if not process.argv:
        return []
    argvs, comms = [], []
    runner = process.launch.runner if process.launch is not None else None
    program = process.launch.argv if runner is not None else process.argv
    for guess in (0, 1):
        if process.manager == "pm2":
            argv, comm = _pm2_exec(process, guess)
        else:
            argv = procview.exec_views(program, process.host_cwd, guess)
            comm = procview.comm_of(program[0])
        argvs.append(argv)
        comms.append(comm)
    title = None
    if process.launch is not None and process.launch.gunicorn is not None:
        proc_name = process.settings.get("proc_name")
        if proc_name is not None and not isinstance(proc_name.value, str):
            return []  # an unknown title: no view is certain
        if proc_name is not None:
            title = proc_name.value
        else:
            # gunicorn/app/wsgiapp.py: default_proc_name is the positional app URI, else "gunicorn"
            title = process.launch.gunicorn.target or "gunicorn"
    shown = procview.process_views(argvs, comms, title, has_workers=title is not None)
    if runner is not None and not runner.execs:
        shown += runner_views(runner, program, gunicorn=title is not None)
    return shown


def runner_views(runner, program: tuple[str, ...], gunicorn: bool) -> list:
    """`uv run CMD` stays as the parent of CMD (it spawns it and forwards signals), so a kill that
    selects either process stops the server: the runner is one more main view. Its command line
    holds the whole command (a kill that matches CMD's words matches it too); it is named `uv`.
    `pipenv run` and `poetry run` exec CMD in place: nothing of them is left to see."""
    from .. import procview

    argv = (*runner.argv, *program)
    worlds = procview.WORLDS if gunicorn else ("plain",)
    return [procview.View(" ".join(argv), procview.comm_of(argv[0]), "main", world, guess, argv[0])
            for world in worlds for guess in (0, 1)]


def _pm2_exec(process: Process, guess: int) -> tuple[tuple[str, ...], str]:
    """How PM2 (lib/God/ForkMode.js) spawns an app in fork mode.

    `interpreter: 'none'`: the script itself (through its shebang); another interpreter:
    `INTERPRETER [interpreter_args] /abs/script args`; Node apps run in PM2's
    ProcessContainerFork.js, which sets the title to `node /abs/script`.
    """
    from .. import procview

    argv = process.argv
    base = process.host_cwd or procview.PLACEHOLDERS[guess]
    app = process.pm2
    script = app.get("script") if app is not None else None
    interpreter = argv[0]
    if isinstance(script, str) and interpreter == script:  # interpreter: 'none'
        absolute = script if script.startswith("/") else posixpath.join(base, script)
        if "/" not in script:
            absolute = posixpath.join(procview.PLACEHOLDERS[guess], "bin", script)
        shown = procview.exec_views((absolute, *argv[1:]), process.host_cwd, guess)
        return shown, procview.comm_of(script)
    index = argv.index(script) if isinstance(script, str) and script in argv else 1
    absolute = script if isinstance(script, str) and script.startswith("/") else \
        posixpath.join(base, str(script))
    if isinstance(script, str) and "/" not in script and "." not in script:
        absolute = posixpath.join(procview.PLACEHOLDERS[guess], "bin", script)  # found on PATH
    shown = (*argv[:index], absolute, *argv[index + 1:])
    if posixpath.basename(interpreter) in ("node", "nodejs"):
        # ProcessContainerFork.js: process.title = 'node ' + script, one argument that also
        # renames comm (seen live, tests/live)
        return (f"node {absolute}",), f"node {absolute}"[:procview.COMM_LENGTH]
    return shown, procview.comm_of(interpreter)
