"""SC209–SC211 (opt-in): how a managed web process is kept running — restarted after a crash, not
as root, its output reaching the logs. Each reads the manager's settings through a small
function per manager, so supervisor programs and containers plug in beside systemd.
"""

from __future__ import annotations

import posixpath

from .. import commands as cmd
from ..findings import Finding, Related
from . import check

WEB_PROGRAMS = frozenset({"gunicorn", "uvicorn", "flask"})


def serves_http(process) -> bool:
    """A process that serves HTTP: a WSGI/ASGI server, or a program with a known bind.
    False-alarm risk: a worker that binds a port for something else than HTTP."""
    launch = process.launch
    if launch is None:
        return False
    return launch.program in WEB_PROGRAMS or bool(process.binds)


def _unit(model, process):
    return model.units.get(process.span.path) if process.manager == "systemd" else None


def _user_unit(path: str) -> bool:
    """A unit kept for `systemctl --user` (it runs as that user)."""
    return "/user/" in f"/{path}" or posixpath.basename(posixpath.dirname(path)) == "user"


@check("SC209")
def systemd_no_restart(model, config, found):
    for process in model.processes:
        unit = _unit(model, process)
        if unit is None or not serves_http(process):
            continue
        restart = unit.directives.get("Restart")
        if restart is not None and restart.value != "no":
            continue
        where = (Related(restart.span, "`Restart=no` is set here"),) if restart is not None else ()
        yield Finding("SC209", f"systemd unit `{process.name}` serves HTTP but has "
                      f"{'`Restart=no`' if restart is not None else 'no `Restart=` (the default is `no`)'}: after "
                      "a crash or an OOM kill it stays down until someone starts it by hand. Add "
                      "`Restart=on-failure` (or `always`) and `RestartSec=2`.", process.span, where)


def runs_as_root(model, process):
    """(True, span) when the manager starts the server as root, (False, None) when not or unknown.

    systemd: no `User=` (or `User=root`) in a system unit. Gunicorn's own `user` setting (`-u`)
    drops the workers' privileges, so it counts as not root. Other managers plug in here.
    False-alarm risk: a unit whose `User=` comes from a drop-in file the repository lacks.
    """
    unit = _unit(model, process)
    if unit is None or _user_unit(unit.path):
        return False, None
    if "user" in process.settings:
        return False, None
    if unit.user is None:
        return True, None
    if unit.user.value in ("root", "0"):
        return True, unit.user.span
    return False, None


@check("SC210")
def server_runs_as_root(model, config, found):
    for process in model.processes:
        if not serves_http(process):
            continue
        root, span = runs_as_root(model, process)
        if not root:
            continue
        how = "`User=root`" if span is not None else "no `User=`, so it runs as root"
        yield Finding("SC210", f"systemd unit `{process.name}` starts a web server with {how}: a bug in the app "
                      "or a dependency gives an attacker the whole host. Add `User=` (a dedicated account, e.g. "
                      "`www-data`) and `Group=`.", process.span,
                      (Related(span, "set here"),) if span is not None else ())
    for container in model.containers:
        root, span, how = container_runs_as_root(container)
        if root:
            yield Finding("SC210", f"container `{container.name}` runs its web server as root ({how}): a bug in "
                          "the app or a dependency gives an attacker root in the container, and whatever it "
                          "mounts. Add `RUN useradd --create-home app` and `USER app` to the Dockerfile (or "
                          "`user:` in the Compose service).", container.argv_span or container.span,
                          (Related(span, "the image's user comes from here"),) if span is not None else ())


def container_runs_as_root(container) -> tuple[bool, object, str]:
    """(True, where, how) when a container starts its web server as root: Compose `user: root`
    (or 0), an image whose last `USER` is root, or no USER at all over an official base that sets
    none (python, debian, alpine …: root). Gunicorn's `user` setting drops the workers'
    privileges and counts as not root. False-alarm risk: a server that drops privileges itself
    by other means (`gosu`/`su-exec` in an entrypoint script we do not follow); a base image we
    do not know (it may set a USER) is unknown and never fires."""
    from ..model.containers import container_user

    process = container.process
    if process is None or not serves_http(process) or "user" in process.settings:
        return False, None, ""
    if container.script is not None or any(cmd.basename(w) in ("gosu", "su-exec", "setpriv", "chpst")
                                           for w in container.argv or ()):
        return False, None, ""
    user, span = container_user(container)
    if user is None or user.split(":", 1)[0] not in ("root", "0"):
        return False, None, ""
    if container.user is not None:
        return True, span, f"its user is `{user}`"
    return True, span, "the image sets no `USER`, and its base image runs as root"


def output_unbuffered(model, process) -> bool | None:
    """Whether a `python script.py` under a manager writes its `print()` output unbuffered.

    True: `python -u`, `PYTHONUNBUFFERED` set; PM2 always sets PYTHONUNBUFFERED=1 for a python
    interpreter (lib/Common.js resolveInterpreter). None (unknown): a systemd `EnvironmentFile=`
    may set it. False otherwise (stdout is a pipe to the journal: block-buffered).
    """
    launch = process.launch
    if process.manager == "pm2":
        return True
    flags = []
    for word in launch.argv[1:]:
        if not word.startswith("-"):
            break
        flags.append(word)
    if any(flag.startswith("-") and not flag.startswith("--") and "u" in flag[1:] for flag in flags):
        return True
    env = {**process.env, **launch.env}
    if "PYTHONUNBUFFERED" in env:
        return True
    unit = _unit(model, process)
    if unit is not None and unit.environment_files:
        return None
    return False


MANAGED = frozenset({"systemd", "pm2", "supervisor"})


@check("SC211")
def python_output_buffered(model, config, found):
    for process in model.processes:
        launch = process.launch
        if process.manager not in MANAGED or launch is None or launch.program != "python" or not launch.script:
            continue
        if not cmd.is_python(launch.argv[0]) or output_unbuffered(model, process) is not False:
            continue
        yield Finding("SC211", f"`{' '.join(launch.argv[:3])}` runs under {process.manager} with Python's output "
                      "buffered: stdout is a pipe there, so `print()` output reaches the logs in 8 KiB blocks, "
                      "late or never when the process is killed. Use `python -u`, or set "
                      "`Environment=PYTHONUNBUFFERED=1`.", process.span)
