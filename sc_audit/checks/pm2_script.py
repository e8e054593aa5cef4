"""SC206: a PM2 `script` given as a bare program name (`gunicorn`), which PM2 looks up on its own
PATH, not in the project's virtualenv.

PM2 (lib/Common.js, `prepareAppConf`): `pm_exec_path = path.resolve(cwd, app.script)`; when no
such file exists, `which(app.script)` on the PATH of the process that runs `pm2 start` (the
deploy's shell), else "Script not found". The interpreter is then applied to that path
(`resolveInterpreter`): `venv/bin/python /usr/bin/gunicorn`, or, with `interpreter: 'none'`, the
system's `gunicorn` itself.
"""

from __future__ import annotations

import posixpath

from .. import commands as cmd
from ..findings import Finding, Related
from ..model import steps_by_shell
from ..span import Unknown
from . import check
from .managers import PYTHON_ENTRY_POINTS, _venv_evidence

VENV_WORDS = ("venv/", "virtualenv", "/.venv", "env/bin/", "/envs/", "pyenv")
PM2_STARTS = {"start", "restart", "reload", "startOrRestart", "startOrReload", "startOrGracefulReload"}


def bare_entry_point(script: object) -> str | None:
    """The Python entry point a PM2 `script` names without a path (`gunicorn`), or None."""
    if not isinstance(script, str) or "/" in script:
        return None
    return script if script in PYTHON_ENTRY_POINTS else None


def venv_interpreter(interpreter: object) -> bool:
    """An interpreter path inside a virtualenv. False-alarm risk: a folder named like one."""
    return isinstance(interpreter, str) and any(word in interpreter for word in VENV_WORDS)


def activates_venv_before_pm2(model) -> object | None:
    """A deploy shell that activates a virtualenv (`source venv/bin/activate`, `export PATH=…venv…`)
    and then runs `pm2 start`/`restart`: there `which` finds the venv's program. The span of that
    `pm2` command, or None. False-alarm risk (it makes the finding milder, never louder): none."""
    for steps in steps_by_shell(model):
        active = False
        for step in steps:
            argv = step.command.argv
            if argv and argv[0] in ("source", ".") and len(argv) > 1 and argv[1].endswith("bin/activate"):
                active = True
            elif argv and argv[0] == "export" and any(w.startswith("PATH=") and venv_interpreter(w) for w in argv):
                active = True
            elif active and isinstance(step.meaning, cmd.Pm2Command) and step.meaning.action in PM2_STARTS:
                return step.command.span
    return None


@check("SC206")
def pm2_script_from_path(model, config, found):
    venv = ...  # looked for once, when needed
    activated = ...
    for process in model.processes:
        app = process.pm2
        if process.manager != "pm2" or app is None:
            continue
        program = bare_entry_point(app.get("script"))
        located = app.fields.get("script")
        interpreter = app.get("interpreter", app.get("exec_interpreter"))
        if program is None or located is None or interpreter is None or isinstance(interpreter, Unknown) \
                or not isinstance(interpreter, str):
            continue  # no interpreter: SC205 speaks (Node would run it)
        if process.cwd is None or model.exists(posixpath.join(process.cwd, program)):
            continue  # a file of that name in the app's cwd is what PM2 runs
        evidence = None
        if venv_interpreter(interpreter):
            evidence = app.fields["interpreter" if "interpreter" in app.fields else "exec_interpreter"].span
        else:
            venv = _venv_evidence(model) if venv is ... else venv
            evidence = venv
        if evidence is None:
            continue  # nothing says the packages live in a virtualenv
        activated = activates_venv_before_pm2(model) if activated is ... else activated
        related = [Related(evidence, "the virtualenv the app is meant to run from")]
        where = f"the PATH of the shell that runs `pm2 start` ({_pm2_lookup()})"
        if activated is not None:
            related.append(Related(activated, "this `pm2` runs with the virtualenv activated"))
            yield Finding("SC206", f"PM2 app `{process.name}` gives `script: '{program}'` as a bare name: PM2 "
                          f"looks it up in the app's `cwd`, then on {where}. The deploy activates the virtualenv "
                          f"first, so it finds the venv's `{program}` today — but a `pm2 start` from another "
                          "shell (by hand, `pm2 startup` scripts, another deploy) resolves the system's program "
                          f"or none. Give the full path: `script: '/abs/path/venv/bin/{program}'`.",
                          located.span, tuple(related), level="warning")
            continue
        what = "runs the system's program (without the venv's packages) when one is installed, or fails with " \
               "\"Script not found\" and the app never starts"
        if not interpreter.endswith("none") and venv_interpreter(interpreter):
            what = ("runs the system's copy under the venv's Python when one is installed (whichever version "
                    "that is), or fails with \"Script not found\" and the app never starts")
        yield Finding("SC206", f"PM2 app `{process.name}` gives `script: '{program}'` as a bare name: PM2 looks it "
                      f"up in the app's `cwd`, then on {where}, never in the virtualenv; so it {what}. Give the "
                      f"full path: `script: '/abs/path/venv/bin/{program}'` (with `interpreter: 'none'` or the "
                      "venv's python).", located.span, tuple(related), level="error")


def _pm2_lookup() -> str:
    return "lib/Common.js: `path.resolve(cwd, script)`, then `which(script)`"
