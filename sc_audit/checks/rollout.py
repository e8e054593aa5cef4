"""SC603, SC604: after a deploy (re)starts a web process, does anything check that it answers,
and can that check fail the deploy?

SC602 (health.py) speaks when a deploy checks one service and not another; SC603 is the general
case: nothing after the restart checks anything. SC604 looks at the checks that exist.
"""

from __future__ import annotations

import shlex

from .. import commands as cmd
from ..findings import Finding, Related
from ..model import is_restart, restarted, steps_by_file
from . import check

# curl options whose value is the next word (or the rest of a short-option cluster)
CURL_VALUE_LETTERS = set("oOwXHdumAeTFbcKExrCYyzQUDEt") - {"O"}
CHECK_WORDS = ("health", "smoke", "check", "verify", "wait", "ready", "alive", "probe", "ping")
PRINTERS = {"head", "tail", "cat", "tee", "less", "more"}
INSPECTORS = {"grep", "egrep", "fgrep", "jq", "python", "python3", "awk", "sed", "test", "diff"}
SHELLS = {"sh", "bash", "zsh", "dash", "sudo"}
DATA_OPTIONS = {"-d", "--data", "--data-raw", "--data-binary", "--data-urlencode", "-F", "--form", "-T",
                "--upload-file", "--json"}


def probes(step) -> bool:
    """Whether a step may check that a service answers: an HTTP request, a port probe, or a
    command whose words name a URL or a check (`./healthcheck.sh`, `wait-for-it`, `python -c
    "…urlopen('http://…')"`). Anything that might be a check counts: its risk is the other way
    round (SC603 stays silent over a step that only looks like a check), which is the safe side."""
    if isinstance(step.meaning, cmd.HttpRequest):
        return True
    argv, _, _ = cmd.strip_wrappers(step.command.argv)
    if not argv:
        return False
    name = cmd.basename(argv[0]).lower()
    if name in ("nc", "ncat", "netcat", "http", "https", "ab", "hey", "wrk", "telnet"):
        return True
    if any(word in name for word in CHECK_WORDS):
        return True
    for word in argv[1:]:
        lowered = word.lower()
        if "http://" in lowered or "https://" in lowered or "/dev/tcp/" in lowered:
            return True
        if lowered.endswith((".sh", ".py")) and any(w in cmd.basename(lowered) for w in CHECK_WORDS):
            return True
    return False


def web_processes(model, step) -> list:
    """The processes a step (re)starts that serve HTTP: they have a known bind."""
    return [p for p in restarted(model, step) if p.binds]


@check("SC603")
def deploy_unchecked(model, config, found):
    for path, steps in sorted(steps_by_file(model).items()):
        if any(isinstance(step.meaning, cmd.HttpRequest) for step in steps):
            continue  # a check exists: whether it reaches each service is SC602's business
        last: dict[int, tuple] = {}  # process -> (process, its last restart step, position)
        last_probe = -1
        for position, step in enumerate(steps):
            for process in web_processes(model, step):
                last[id(process)] = (process, step, position)
            if probes(step):
                last_probe = position
        reported: set = set()
        for process, step, position in last.values():
            if last_probe > position:
                continue
            if step.command.span in reported:
                continue  # `pm2 restart all`: one finding for the step, naming every service
            reported.add(step.command.span)
            yield _unchecked([p for p, s, _ in last.values() if s is step], step)


def _unchecked(processes, step) -> Finding:
    names = ", ".join(f"`{p.name}` ({next(e for e, _ in p.binds)})" for p in processes)
    first = processes[0]
    endpoint = next(e for e, _ in first.binds)
    if endpoint.socket is not None:
        command = f"`curl -fsS --retry 5 --retry-connrefused --unix-socket {endpoint.socket} http://localhost/health`"
    else:
        host = "127.0.0.1" if endpoint.host in (None, "0.0.0.0", "::") else endpoint.host
        command = f"`curl -fsS --retry 5 --retry-connrefused http://{host}:{endpoint.port}/health`"
    related = tuple(Related(p.span, f"`{p.name}` is defined here") for p in processes[:3])
    return Finding("SC603", f"the deploy (re)starts {names} and nothing after it checks that it answers: a release "
                   "that cannot boot (a wrong WSGI target, a missing module, a crash at import, a port in use) passes "
                   f"the deploy, and the first user finds out as a 502. Check it after the restart: {command} "
                   "(with a `/health` route in the app).", step.command.span, related)


# ---------------------------------------------------------------------------- SC604


def curl_flags(argv) -> tuple[set[str], set[str]]:
    """(short letters, long options) that a curl command line sets, values skipped."""
    letters: set[str] = set()
    longs: set[str] = set()
    skip = False
    for word in argv[1:]:
        if skip:
            skip = False
            continue
        if word.startswith("--"):
            longs.add(word.split("=", 1)[0])
            skip = "=" not in word and word in _CURL_LONG_VALUES
        elif word.startswith("-") and len(word) > 1:
            for i, letter in enumerate(word[1:]):
                letters.add(letter)
                if letter in CURL_VALUE_LETTERS:
                    skip = i == len(word) - 2  # the value is the next word unless glued on
                    break
    return letters, longs


_CURL_LONG_VALUES = {"--output", "--write-out", "--request", "--header", "--data", "--data-raw", "--data-binary",
                     "--user", "--max-time", "--connect-timeout", "--retry", "--retry-delay", "--retry-max-time",
                     "--user-agent", "--referer", "--upload-file", "--form", "--cookie", "--cookie-jar", "--cacert",
                     "--cert", "--resolve", "--unix-socket", "--json", "--data-urlencode", "--proxy", "--config"}


def health_check(step) -> bool:
    """A GET of a fixed URL whose result is not saved or piped into another program: what a
    deploy uses to see that a service answers. Not a download (`-o file`, `| bash`), not a
    notification (`-d`, `-X POST`), not a URL we cannot read (a variable)."""
    meaning = step.meaning
    command = step.command
    if not isinstance(meaning, cmd.HttpRequest) or any(command.dynamic):
        return False
    argv, _, _ = cmd.strip_wrappers(command.argv)
    words = set(argv)
    if words & DATA_OPTIONS or any(w.startswith(("--data", "--form", "--json", "-d", "-F")) for w in argv[1:]):
        return False
    for option in ("-X", "--request"):
        if option in argv and argv.index(option) + 1 < len(argv) and argv[argv.index(option) + 1].upper() not in (
                "GET", "HEAD"):
            return False
    if meaning.tool == "curl":
        output = _value_of(argv, ("-o", "--output"))
        if output is not None and output != "/dev/null":
            return False
        if "-O" in words or "--remote-name" in words:
            return False
    else:
        output = _value_of(argv, ("-O", "--output-document"))
        if output is None or output not in ("-", "/dev/null"):
            if "--spider" not in words:
                return False
    feeds = command.pipe_to
    if feeds and cmd.basename(feeds[0]) in SHELLS | {"tar", "gpg", "apt-key", "sudo", "unzip", "gunzip"}:
        return False
    return True


def _value_of(argv, options) -> str | None:
    for i, word in enumerate(argv[:-1]):
        if word in options:
            return argv[i + 1]
    for word in argv:
        for option in options:
            if option.startswith("--") and word.startswith(option + "="):
                return word.split("=", 1)[1]
    return None


def fails_later(steps) -> tuple[dict, dict]:
    """Per file: (shell -> last position of a command that fails the shell: `exit N`/`return N`
    with N not 0, `false`), (URL -> last position of a request of it)."""
    exits: dict = {}
    urls: dict = {}
    for position, step in enumerate(steps):
        argv = step.command.argv
        if argv and (argv[0] == "false" or argv[0] in ("exit", "return") and len(argv) > 1 and argv[1] != "0"):
            exits[_shell_of(step)] = position
        if isinstance(step.meaning, cmd.HttpRequest):
            urls[step.meaning.url] = position
    return exits, urls


def _shell_of(step) -> tuple:
    context = step.command.context
    return context.kind, context.span


def _polled_in_vain(step, position, exits, urls) -> bool:
    """`for i in …; do if curl -f URL; then break; fi; sleep 1; done` with nothing after it that
    fails: when every attempt fails, the loop ends and the deploy goes on as if it had passed.

    Only `for` loops (bounded); `until curl …` never ends without success. False-alarm risk: a
    failure signalled another way (a flag tested by `[ … ]` and an `exit` elsewhere counts as
    failing, so that case is silent; a `kill $$` or `set -e` tricks are not seen)."""
    command = step.command
    if not (command.tested and command.in_loop == "for"):
        return False
    return exits.get(_shell_of(step), -1) < position and urls.get(step.meaning.url, -1) <= position


def leniencies(model, step, restart, waited: bool, polled_in_vain: bool = False) -> list[str]:
    """Why a health check cannot fail the deploy (empty: it can)."""
    command = step.command
    argv, _, _ = cmd.strip_wrappers(command.argv)
    reasons = []
    feeds = command.pipe_to
    fed = cmd.basename(feeds[0]) if feeds else None
    if step.meaning.tool == "curl":
        letters, longs = curl_flags(argv)
        fails = "f" in letters or longs & {"--fail", "--fail-with-body", "--fail-early"}
        inspected = command.in_substitution or command.tested and fed in INSPECTORS or fed in INSPECTORS
        if fed in PRINTERS:
            reasons.append(f"its output is only printed (`| {fed}`), and the pipeline's status is `{fed}`'s")
        elif not fails and not inspected and ("w" in letters or "--write-out" in longs):
            reasons.append("it prints the status code (`-w`) but nothing tests it, and curl without `-f` exits 0 "
                           "on an HTTP error")
        elif not fails and not inspected:
            reasons.append("curl without `-f`/`--fail` exits 0 on an HTTP error (500, 502, 404): only a refused "
                           "connection fails it")
    if command.or_else is not None and command.or_else[:1] and command.or_else[0] in ("true", ":", "echo", "printf"):
        reasons.append(f"`|| {shlex.join(command.or_else)[:30]}` after it turns every failure into success")
    if not reasons and polled_in_vain:
        reasons.append("it is polled in a `for` loop, but when every attempt fails the loop just ends and the "
                       "script goes on (nothing after it exits non-zero)")
    if not reasons and not waited and _single_early_probe(model, step, argv, restart):
        reasons.append("it is one probe right after the restart, with no wait or retry: the service may not "
                       "listen yet (the manager returns once the process is forked), so a good release fails "
                       "the deploy at random, which teaches the team to add `|| true`")
    return reasons


def _single_early_probe(model, step, argv, restart) -> bool:
    """One request, right after a restart we know to return before the service listens (the
    caller knows that no wait, loop or earlier probe came in between).

    False-alarm risk: a restart the model cannot see into (a unit not in the repository, a
    `Type=notify` unit, whose `systemctl restart` waits for Gunicorn's READY=1) never counts;
    a `reload` keeps the old workers answering, so it never counts either."""
    if step.command.in_loop:
        return False
    if step.meaning.tool == "curl":
        _, longs = curl_flags(argv)
        if longs & {"--retry", "--retry-connrefused", "--retry-all-errors"}:
            return False
    elif any(w.startswith(("--tries", "-t", "--retry-connrefused", "--waitretry")) for w in argv):
        return False
    action = getattr(restart.meaning, "action", "start")
    if "reload" in action.lower():
        return False
    processes = restarted(model, restart)
    if not processes:
        return False
    for process in processes:
        if process.manager == "systemd":
            unit = model.units.get(process.span.path)
            if unit is None or unit.service_type not in (None, "simple", "exec", "forking"):
                return False
    return True


def _waits(step) -> bool:
    argv, _, _ = cmd.strip_wrappers(step.command.argv)
    if not argv:
        return False
    name = cmd.basename(argv[0])
    return name in ("sleep", "wait", "timeout") or any(word in name.lower() for word in CHECK_WORDS)


@check("SC604")
def health_check_lenient(model, config, found):
    for path, steps in sorted(steps_by_file(model).items()):
        restart = None  # the last restart step
        waited = False  # a wait, a loop or a probe since that restart
        exits, urls = fails_later(steps)
        for position, step in enumerate(steps):
            if is_restart(step):
                restart, waited = step, False
                continue
            if restart is None:
                continue
            if health_check(step):
                reasons = leniencies(model, step, restart, waited, _polled_in_vain(step, position, exits, urls))
                if reasons:
                    yield Finding("SC604", f"`{_shown(step)}` checks the service after the restart but cannot fail the "
                                  f"deploy: {'; and '.join(reasons)}. A release that answers 502 is reported as a "
                                  "success. Use `curl -fsS --retry 10 --retry-connrefused --retry-delay 1 URL` (no "
                                  "`|| true`), so that the step fails when the service does not answer 2xx.",
                                  step.command.span, (Related(restart.command.span, "the restart it follows"),))
            if step.command.in_loop or _waits(step) or isinstance(step.meaning, cmd.HttpRequest):
                waited = True


def _shown(step) -> str:
    text = shlex.join(step.command.argv)
    return text if len(text) <= 60 else text[:59] + "…"
