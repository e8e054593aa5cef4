"""SC504-SC507, SC207: how a deploy script stops, updates and restarts what it deploys.

- SC505 deploy-fail-open: a shell that restarts services goes on after a failed update step.
- SC506 deploy-skips-install: new code is restarted without installing its dependencies or
  migrating its database first.
- SC507 secret-on-command-line: a secret written into a command line on the server.
- SC504 kill-sigkill: SIGKILL aimed at Gunicorn/uvicorn.
- SC207 pm2-not-persisted (opt-in): `pm2 start` without `pm2 save`.

All of them read the deploy steps in file order, shell by shell (model.restarts).
"""

from __future__ import annotations

import posixpath
import re
import shlex

from .. import commands as cmd
from ..findings import Finding, Related
from ..model import is_restart, restarted, steps_by_file, steps_by_shell
from . import check

# ---------------------------------------------------------------------------- what a step does


def program(step) -> tuple[str, ...]:
    """argv without wrappers (`sudo`, `VAR=x`, `nohup`)."""
    argv, _, _ = cmd.strip_wrappers(step.command.argv)
    return argv


def _python_module(argv) -> tuple[str, tuple[str, ...]] | None:
    """`python -m pip install …` -> ("pip", ("install", …))."""
    if argv and cmd.is_python(argv[0]) and len(argv) >= 3 and argv[1] == "-m":
        return argv[2], tuple(argv[3:])
    return None


def update_kind(step) -> str | None:
    """What a step that can fail does before a restart: "update" (new code), "install",
    "build", "test", "migrate"; None for anything else."""
    argv = program(step)
    if not argv:
        return None
    name = cmd.basename(argv[0])
    words = argv[1:]
    module = _python_module(argv)
    if module is not None:
        name, words = module
    first = next((w for w in words if not w.startswith("-")), "")
    if name == "git" and first in ("pull", "fetch", "reset", "checkout", "merge", "clone", "switch", "rebase"):
        return "update"
    if name in ("pip", "pip3") and first in ("install", "sync"):
        return "install"
    if name in ("poetry", "pipenv", "uv", "pip-sync") and first in ("install", "sync", "pip", ""):
        return "install"
    if name in ("npm", "yarn", "pnpm") and first in ("install", "ci", "i"):
        return "install"
    if name in ("npm", "yarn", "pnpm") and first in ("run", "build") and "build" in words:
        return "build"
    if name in ("pytest", "tox") or (name in ("npm", "yarn") and first == "test"):
        return "test"
    if migrates(argv):
        return "migrate"
    return None


def migrates(argv) -> bool:
    """`manage.py migrate`, `flask db upgrade`, `alembic upgrade head`."""
    words = [cmd.basename(w) for w in argv]
    if "manage.py" in words and "migrate" in words:
        return True
    if words[:1] == ["flask"] or (len(words) > 2 and cmd.is_python(words[0]) and words[1:3] == ["-m", "flask"]):
        return "db" in words and "upgrade" in words
    return "alembic" in words and "upgrade" in words


def installs(step) -> bool:
    return update_kind(step) == "install"


def runs_unknown_script(step) -> bool:
    """A step that runs a script or a make target of the repository: what it does is not read
    here (`./install.sh`, `bash scripts/deploy.sh`, `make deploy`). `source venv/bin/activate`
    only changes the environment."""
    argv = program(step)
    if not argv:
        return False
    name = cmd.basename(argv[0])
    if name in ("source", ".") and any("activate" in w for w in argv[1:]):
        return False
    if name in ("make", "just", "invoke", "fab", "ansible-playbook", "source", "."):
        return True
    if name in ("bash", "sh", "zsh") and len(argv) > 1 and not argv[1].startswith("-"):
        return True
    return argv[0].endswith((".sh", ".bash")) or argv[0].startswith("./")


def sets_errexit(step) -> bool:
    """`set -e`, `set -eux`, `set -o errexit`, `set -Eeuo pipefail`."""
    argv = program(step)
    if not argv or argv[0] != "set" or step.command.in_substitution:
        return False
    for i, word in enumerate(argv[1:], start=1):
        if word.startswith("-") and not word.startswith("--") and "e" in word[1:]:
            return True
        if word == "-o" and i + 1 < len(argv) and argv[i + 1] == "errexit":
            return True
    return False


def handled(command) -> bool:
    """Whether the shell looks at the command's failure: `cmd && next`, `cmd || exit 1`,
    `if cmd; then`, or `cmd || true` (the author chose to go on: not an oversight)."""
    return command.and_then or command.tested or command.or_else is not None


# ---------------------------------------------------------------------------- SC505


@check("SC505")
def deploy_fail_open(model, config, found):
    for steps in steps_by_shell(model):
        context = steps[0].command.context
        if context.errexit:
            continue
        first_e = next((i for i, s in enumerate(steps) if sets_errexit(s) or _traps_errors(s) or _sources(s)),
                       len(steps))
        if context.ignored_script_stop is not None and first_e == len(steps):
            yield Finding("SC505", "`script_stop: true` is not an input of this appleboy/ssh-action version (it was "
                          "removed in v1.2.1 and from the `v1` tag): GitHub warns 'Unexpected input' and ignores it, "
                          "so the script goes on after a failing command, and the step's status is that of the last "
                          "command. Put `set -e` on the first line of `script:` instead.",
                          context.ignored_script_stop, (Related(context.span, "the script it was meant to stop"),)
                          if context.span else ())
            continue
        yield from _fail_open(steps[:first_e])
        yield from _cd_unchecked(steps[:first_e])


def _sources(step) -> bool:
    """`source lib.sh` / `. ./common.sh`: the sourced file may `set -e` (it is not read here).
    `source venv/bin/activate` does not."""
    argv = program(step)
    return len(argv) > 1 and argv[0] in ("source", ".") and "activate" not in argv[1]


def _traps_errors(step) -> bool:
    argv = program(step)
    return bool(argv) and argv[0] == "trap" and "ERR" in argv[2:]


def _fail_open(steps):
    """The first update step whose failure nobody looks at, before a restart in the same shell."""
    unchecked = None
    for step in steps:
        command = step.command
        if command.in_substitution:
            continue
        if unchecked is None and update_kind(step) is not None and not handled(command):
            unchecked = step
        elif unchecked is not None and is_restart(step):
            what = shlex.join(unchecked.command.argv)
            what = what if len(what) <= 50 else what[:49] + "…"
            shell = _shell_name(step.command.context)
            yield Finding("SC505", f"`{what}` can fail, and {shell} goes on: it runs without `set -e` and nothing "
                          f"checks this command, so the deploy still restarts (`{shlex.join(step.command.argv)[:50]}`) "
                          "on the old or half-updated code and may report success. Put `set -e` (or `set -euo "
                          "pipefail`) first, or chain the steps with `&&` / end them with `|| exit 1`.",
                          unchecked.command.span, (Related(step.command.span, "the restart that still runs"),))
            return


def _shell_name(context) -> str:
    return {"ssh-action": "the ssh-action script", "ssh": "the `ssh` session's script",
            "bash-c": "the `bash -c` script"}.get(context.kind, "the script")


DESTRUCTIVE = re.compile(r"^(git (reset --hard|clean)|rm -[a-zA-Z]*r[a-zA-Z]*f?|rm -[a-zA-Z]*f[a-zA-Z]*r)")


def _cd_unchecked(steps):
    """`cd DIR` without `|| exit`, then `git reset --hard`/`git clean`/`rm -rf` on a relative path:
    when the cd fails, they run in whatever directory the shell is in (the home directory)."""
    for position, step in enumerate(steps):
        argv = program(step)
        command = step.command
        if not argv or argv[0] != "cd" or len(argv) != 2 or handled(command) or command.in_substitution:
            continue
        if argv[1] in ("-", "~", "$HOME") or any(command.dynamic) and not argv[1].startswith("/"):
            continue
        for later in steps[position + 1:]:
            if program(later)[:1] == ("cd",):
                break
            text = " ".join(program(later))
            if DESTRUCTIVE.match(text) and not any(w.startswith("/") for w in program(later)[2:]):
                yield Finding("SC505", f"`cd {argv[1]}` is not checked and the script runs without `set -e`: if the "
                              f"directory is missing (a first deploy, a typo), `{text[:40]}` runs in the directory the "
                              "shell happens to be in. Write `cd DIR || exit 1`, or `set -e` first.", command.span,
                              (Related(later.command.span, "the destructive step"),))
                break


# ---------------------------------------------------------------------------- SC506

PYTHON_MANIFESTS = ("requirements.txt", "pyproject.toml", "Pipfile", "setup.py")


def python_manifests(model) -> list[str]:
    return sorted(p for p in model.root_paths if posixpath.basename(p) in PYTHON_MANIFESTS)


def migration_setup(model) -> str | None:
    """What in the repository says the database has migrations: Django's manage.py with a
    migrations package, Alembic's alembic.ini, Flask-Migrate's migrations/env.py."""
    paths = model.root_paths
    if any(posixpath.basename(p) == "manage.py" for p in paths) and \
            any("/migrations/0" in "/" + p and p.endswith(".py") for p in paths):
        return "Django (`manage.py` and migrations)"
    if any(posixpath.basename(p) == "alembic.ini" for p in paths):
        return "Alembic (`alembic.ini`)"
    if any(p.endswith("migrations/env.py") for p in paths):
        return "Flask-Migrate/Alembic (`migrations/env.py`)"
    return None


def updates_code(step) -> bool:
    """`git pull`/`git reset --hard origin/…`/`git checkout`, or an rsync/scp to a host."""
    if update_kind(step) == "update":
        return True
    meaning = step.meaning
    return isinstance(meaning, cmd.CopyCommand) and meaning.tool in ("rsync", "scp") and ":" in meaning.dest


def python_served(model, step) -> list:
    return [p for p in restarted(model, step)
            if p.wsgi is not None or (p.launch is not None and p.launch.program in ("gunicorn", "uvicorn", "python",
                                                                                    "flask", "hypercorn", "waitress",
                                                                                    "daphne"))]


@check("SC506")
def deploy_skips_install(model, config, found):
    manifests = python_manifests(model)
    if not manifests:
        return
    migrations = migration_setup(model)
    by_file = steps_by_file(model)
    migrating_files = {path for path, steps in by_file.items() if any(migrates(program(s)) for s in steps)}
    migrating_process = any(migrates(p.argv) for p in model.processes)  # a Procfile `release:` line
    for path, steps in sorted(by_file.items()):
        migrated_elsewhere = migrating_process or bool(migrating_files - {path})
        update = None
        for position, step in enumerate(steps):
            if updates_code(step):
                update = (position, step)
                continue
            if update is None:
                continue
            served = python_served(model, step)
            if not served:
                continue
            between = steps[update[0] + 1:position]
            if any(runs_unknown_script(s) for s in between):
                break
            if not any(installs(s) for s in between):
                yield Finding("SC506", f"the deploy updates the code (`{shlex.join(update[1].command.argv)[:40]}`) and "
                              f"restarts `{served[0].name}` without installing its dependencies ({manifests[0]}): a "
                              "release that adds or upgrades a package boots with the old ones and fails at import "
                              "(ModuleNotFoundError, 502). Run `venv/bin/pip install -r requirements.txt` (or `pip "
                              "install .`) between the update and the restart.", step.command.span,
                              (Related(update[1].command.span, "the code is updated here"),))
                break
            if migrations:
                later = [s for s in steps[position + 1:] if migrates(program(s))]
                if any(migrates(program(s)) for s in between):
                    break
                if not later and (migrated_elsewhere or any(runs_unknown_script(s) for s in steps[position + 1:])):
                    break
                when = "after the restart, while the new code already serves requests on the old schema" if later \
                    else "never"
                yield Finding("SC506", f"the repository has {migrations}, but the deploy runs the migrations {when}: "
                              "new code that expects a new column fails with a database error (500) until they run. "
                              "Run them after the install and before the restart (`python manage.py migrate "
                              "--noinput`, `flask db upgrade`, `alembic upgrade head`).",
                              (later[0] if later else step).command.span,
                              (Related(step.command.span, f"`{served[0].name}` is restarted here"),))
            break


# ---------------------------------------------------------------------------- SC507

SECRET_EXPRESSION = re.compile(r"\$\{\{\s*secrets\.([A-Za-z0-9_]+)\s*\}\}")
PASSWORD_OPTIONS = {"--password", "--passwd", "--pass", "--token", "--secret", "--api-key", "--apikey",
                    "--access-token", "--auth-token", "--client-secret", "--db-password"}
PASSWORD_SHORT = {"mysql": "-p", "mysqldump": "-p", "mysqladmin": "-p", "sshpass": "-p", "docker": "-p",
                  "podman": "-p", "mariadb": "-p"}
# names that say the value is secret (`DEPLOY_PATH`, `EC2_USER`, `HOST` kept in secrets are not)
SECRET_NAME = re.compile(r"(PASS|TOKEN|SECRET|KEY|CREDENTIAL|PWD|PRIVATE|DOTENV|ENV_FILE|ENV_BASE64|AUTH)", re.I)


def _secret_in_words(step) -> tuple[str, str] | None:
    """(what, how) when a command on the server carries a secret in its words.

    `${{ secrets.X }}` is pasted into the script's text by GitHub before the script reaches the
    server: it is in the argv of the command and in the remote `bash -c` command line. A
    password option (`--password`, `mysql -p…`) with a variable value puts the value in the argv
    of a program (not a shell builtin like `echo`), which every user sees in `ps`.
    Only names that say "secret" count (`…_PASSWORD`, `…_TOKEN`, `…_KEY`, `DOTENV`): many
    workflows keep paths and user names in `secrets` too. False-alarm risk: a `…_KEY` that is
    not secret (a public key)."""
    command = step.command
    for word in command.argv:
        match = SECRET_EXPRESSION.search(word)
        if match and SECRET_NAME.search(match.group(1)):
            return (f"`secrets.{match.group(1)}`", "pasted into the script's text by GitHub, so it is in the command "
                    "line of the remote shell that runs the script")
    argv = program(step)
    if not argv:
        return None
    name = cmd.basename(argv[0])
    short = PASSWORD_SHORT.get(name)
    offset = len(command.argv) - len(argv)
    for i, word in enumerate(argv[1:], start=1):
        dynamic = command.dynamic[offset + i] if offset + i < len(command.dynamic) else False
        key, eq, value = word.partition("=")
        if key in PASSWORD_OPTIONS and eq and dynamic:
            return f"`{key}=…`", f"given to `{name}` as an argument"
        if word in PASSWORD_OPTIONS and i + 1 < len(argv):
            next_dynamic = command.dynamic[offset + i + 1] if offset + i + 1 < len(command.dynamic) else False
            if next_dynamic and SECRET_NAME.search(argv[i + 1]):
                return f"`{word} {argv[i + 1]}`", f"given to `{name}` as an argument"
        if short and word.startswith(short) and len(word) > 2 and dynamic and SECRET_NAME.search(word):
            return f"`{word}`", f"given to `{name}` as an argument"
        if short and word == short and i + 1 < len(argv) and name != "mysql" and name != "mysqldump":
            next_dynamic = command.dynamic[offset + i + 1] if offset + i + 1 < len(command.dynamic) else False
            if next_dynamic and SECRET_NAME.search(argv[i + 1]):
                return f"`{short} {argv[i + 1]}`", f"given to `{name}` as an argument"
    return None


@check("SC507")
def secret_on_command_line(model, config, found):
    for step in model.steps:
        if not step.command.context.remote:
            continue
        secret = _secret_in_words(step)
        if secret is None:
            continue
        what, how = secret
        yield Finding("SC507", f"{what} is {how} on the server: while it runs, any user of the host "
                      "sees it in `ps` (/proc/PID/cmdline), and it may land in logs and shell history. Pass it in "
                      "the environment (ssh-action `envs:`, `env:` of the step) and read it from a file or stdin "
                      "(`--password-stdin`, `sudo -S` fed by a file, a `.my.cnf`), or give the deploy user a "
                      "sudoers rule instead of a password.", step.command.span)


def _head(step) -> str:
    text = " ".join(program(step)[:2]) or step.command.argv[0]
    return text[:30]


# ---------------------------------------------------------------------------- SC504

KILL_SIGNALS = {"-9", "-KILL", "-SIGKILL", "-s9", "-sKILL", "-sSIGKILL", "--signal=KILL", "--signal=9",
                "--signal=SIGKILL"}
SERVERS = re.compile(r"gunicorn|uvicorn", re.I)
MASTER_ONLY = re.compile(r"(\.pid\b|pgrep\s+-o|--oldest|head\s+-(n\s*)?1\b)")


def sigkill(argv) -> bool:
    """`kill -9`, `kill -KILL`, `kill -s KILL`, `pkill -9`, `killall -9`, `killall -s KILL`."""
    words = list(argv)
    for i, word in enumerate(words):
        if word in KILL_SIGNALS:
            return True
        if word in ("-s", "--signal") and i + 1 < len(words) and words[i + 1].upper().removeprefix("SIG") in (
                "KILL", "9"):
            return True
    return False


def _pipeline_before(steps, index) -> list:
    """The commands that feed steps[index] through a pipeline (`ps aux | grep x | awk … | xargs kill`)."""
    chain = []
    i = index
    while i > 0 and steps[i - 1].command.pipe_to == steps[i].command.argv and \
            steps[i - 1].command.span.path == steps[i].command.span.path:
        chain.insert(0, steps[i - 1])
        i -= 1
    return chain


def sigkill_target(model, steps, index) -> tuple[str, str] | None:
    """(the kill as written, the text that says what it aims at: its pattern, its `$(…)`, the
    commands that feed it) when that text names Gunicorn or uvicorn; None otherwise (a PID in a
    variable is unknown and never fires)."""
    step = steps[index]
    argv = program(step)
    if not argv:
        return None
    name = cmd.basename(argv[0])
    if name == "fuser" and _fuser_sigkill(argv):
        ported = _port_server(model, [argv])
        return (" ".join(step.command.argv), ported) if ported is not None else None
    if name == "xargs":
        argv = argv[1:]
        while argv and argv[0].startswith("-"):
            argv = argv[1:]
        name = cmd.basename(argv[0]) if argv else ""
    if name not in ("kill", "pkill", "killall") or not sigkill(argv):
        return None
    ported = _port_server(model, [argv, *step.command.substitutions])
    if ported is not None:
        return " ".join(step.command.argv), ported
    feeding = [" ".join(s.command.argv) for s in _pipeline_before(steps, index)]
    aim = " ".join([*feeding, " ".join(argv), *(" ".join(sub) for sub in step.command.substitutions)])
    if name == "kill" and not feeding and not step.command.substitutions:
        return None  # `kill -9 $PID`: what the variable holds is not known
    if not SERVERS.search(aim):
        return None
    return " | ".join([*feeding, " ".join(step.command.argv)]), aim


def _fuser_sigkill(argv) -> bool:
    """`fuser -k PORT/tcp` sends SIGKILL unless a signal is given (`-TERM`, `-15`; man fuser)."""
    kills = any(w == "--kill" or (w.startswith("-") and not w.startswith("--") and "k" in w[1:]) for w in argv[1:])
    named_signal = any(re.fullmatch(r"-(SIG)?[A-Z]+\d*|-\d+", w) and w not in ("-9", "-KILL", "-SIGKILL")
                       for w in argv[1:] if w[1:].isupper() or w[1:].isdigit())
    return kills and not named_signal


def _port_server(model, argvs) -> str | None:
    """"gunicorn" or "uvicorn" when a kill by port (`fuser -k 8000/tcp`, `lsof -t -i:8000`) hits
    a port that a Gunicorn/uvicorn process of the model binds; None otherwise."""
    for argv in argvs:
        meaning = cmd.interpret(tuple(argv))
        if not isinstance(meaning, cmd.KillCommand) or not meaning.ports:
            continue
        ports = {int(p) for p in meaning.ports if p.isdigit()}
        for process in model.processes:
            program_name = process.launch.program if process.launch else None
            if program_name in ("gunicorn", "uvicorn") and any(e.port in ports for e, _ in process.binds):
                return f"{program_name} (port {sorted(ports)[0]})"
    return None


@check("SC504")
def kill_sigkill(model, config, found):
    steps = model.steps
    for index, step in enumerate(steps):
        target = sigkill_target(model, steps, index)
        if target is None:
            continue
        text, aim = target
        master_only = bool(MASTER_ONLY.search(aim))
        server = SERVERS.search(aim).group(0).lower()
        if master_only:
            effect = (f"aimed at the {server} master alone, it leaves the workers running: each notices only when "
                      "its parent PID changes, after up to half the worker `timeout` (15 s by default, Gunicorn "
                      "gunicorn/workers/sync.py `is_parent_alive`), and until then they hold the listening socket, so "
                      "the next start fails with 'Connection in use' and exits")
        else:
            effect = "the workers die mid-request (clients get a reset or a 502) and nothing is cleaned up"
        yield Finding("SC504", f"`{text[:60]}` sends SIGKILL to {server}: no graceful shutdown; {effect}. Stop it "
                      "through its manager (`systemctl stop`, `pm2 stop`), or send TERM (`kill -TERM $(cat "
                      "app.pid)`: Gunicorn finishes the requests in flight within `graceful_timeout`) and wait for "
                      "the PID to exit.", step.command.span)


# ---------------------------------------------------------------------------- SC207


@check("SC207")
def pm2_not_persisted(model, config, found):
    starts = []
    for step in model.steps:
        meaning = step.meaning
        if not isinstance(meaning, cmd.Pm2Command):
            continue
        if meaning.action in ("save", "startup", "resurrect"):
            return
        context = step.command.context
        if meaning.action in ("start", "startOrRestart", "startOrReload") and \
                not (context.kind == "workflow-run" and not context.remote):
            starts.append(step)
    if starts:
        step = starts[0]
        yield Finding("SC207", f"`{shlex.join(step.command.argv)[:50]}` starts apps under PM2, but nothing in the "
                      "deployment runs `pm2 save` (or sets up `pm2 startup`): PM2 forgets them when the host "
                      "reboots (or the daemon is killed), and the site stays down until someone starts them by "
                      "hand. Run `pm2 save` after the start, and `pm2 startup` once on the host.", step.command.span)
