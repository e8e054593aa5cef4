"""SC208: the process manager cuts Gunicorn's graceful stop short.

Gunicorn (gunicorn/arbiter.py): SIGTERM is a graceful stop — the master closes the listeners,
sends SIGTERM to the workers and waits up to `graceful_timeout` (default 30 s) for them to finish
their requests; SIGINT and SIGQUIT are a quick shutdown (`stop(False)`: SIGQUIT to the workers,
which exit at once, requests cut). What each manager sends, and how long it waits before SIGKILL,
is a `StopPolicy`; a manager plugs in by adding a function to `STOP_POLICIES`.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass

from .. import commands as cmd
from ..findings import Finding, Related
from ..model import repo_dir
from ..span import Span, Unknown
from . import check

GRACEFUL = {"SIGTERM"}
QUICK = {"SIGINT", "SIGQUIT", "SIGKILL"}
DEFAULT_GRACEFUL_TIMEOUT = 30.0  # gunicorn/config.py GracefulTimeout


@dataclass(frozen=True, slots=True)
class StopPolicy:
    """How a manager stops a process: the signal, the seconds before SIGKILL, and whether the
    signal reaches only the process it started (not a child a wrapper script left running)."""

    manager: str  # "PM2", "systemd"
    signal: str | None  # "SIGTERM"; None when unknown
    signal_span: Span | None  # where it is set (None: the manager's default)
    timeout: float | None  # seconds; None when unknown
    timeout_span: Span | None
    signal_default: str  # how the default is described: "PM2's default (PM2_KILL_SIGNAL)"
    timeout_default: str
    main_only: bool = False  # the signal reaches the started process alone
    main_only_span: Span | None = None


def signal_name(text: object) -> str | None:
    if isinstance(text, int):
        return {2: "SIGINT", 3: "SIGQUIT", 9: "SIGKILL", 15: "SIGTERM"}.get(text)
    if not isinstance(text, str) or not text.strip():
        return None
    word = text.strip().upper()
    if word.isdigit():
        return signal_name(int(word))
    return word if word.startswith("SIG") else "SIG" + word


def pm2_kill_signal(model) -> tuple[str | None, Span | None]:
    """The signal PM2 sends: `PM2_KILL_SIGNAL` of the daemon, else SIGINT (constants.js). PM2 has no
    per-app signal (lib/God/Methods.js killProcess sends `cst.KILL_SIGNAL`). A deploy that sets the
    variable anywhere is taken at its word (one value), or unknown (several). Once per audit: it
    is the same for every app (asked per app, it made N = 1000 apps quadratic: 19 s)."""
    if "pm2-kill-signal" not in model.memo:
        model.memo["pm2-kill-signal"] = _pm2_kill_signal(model)
    return model.memo["pm2-kill-signal"]


def _pm2_kill_signal(model) -> tuple[str | None, Span | None]:
    values = {}
    for step in model.steps:
        for word in step.command.argv:
            if word.startswith("PM2_KILL_SIGNAL="):
                values.setdefault(word.partition("=")[2], step.command.span)
    if not values:
        return "SIGINT", None
    if len(values) == 1:
        [(value, span)] = values.items()
        return signal_name(value), span
    return None, None


def _pm2_policy(model, process) -> StopPolicy | None:
    app = process.pm2
    if app is None:
        return None
    signal, signal_span = pm2_kill_signal(model)
    located = app.fields.get("kill_timeout")
    timeout, timeout_span = 1.6, None  # constants.js KILL_TIMEOUT: 1600 ms
    if located is not None:
        value = located.value
        timeout = value / 1000 if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        timeout_span = located.span
    treekill = app.fields.get("treekill")
    main_only = treekill is not None and treekill.value is False
    return StopPolicy("PM2", signal, signal_span, timeout, timeout_span, "PM2's default (PM2_KILL_SIGNAL unset)",
                      "PM2's default `kill_timeout` of 1600 ms", main_only, treekill.span if main_only else None)


SYSTEMD_UNITS = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "second": 1, "seconds": 1,
                 "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600,
                 "hours": 3600, "d": 86400, "day": 86400, "days": 86400}


def systemd_seconds(text: str) -> float | None:
    """A systemd time span (`90`, `90s`, `1min 30s`, `infinity`) in seconds; None when unreadable."""
    text = text.strip().lower()
    if text == "infinity":
        return math.inf
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", text)
    if not parts or re.sub(r"[\d.\sa-z]", "", text):
        return None
    total = 0.0
    for number, unit in parts:
        if unit and unit not in SYSTEMD_UNITS:
            return None
        total += float(number) * SYSTEMD_UNITS.get(unit or "s", 1)
    return total


def _systemd_policy(model, process) -> StopPolicy | None:
    unit = model.units.get(process.span.path)
    if unit is None:
        return None
    directives = unit.directives
    signal_located = directives.get("KillSignal")
    signal = signal_name(signal_located.value) if signal_located else "SIGTERM"
    if signal_located is not None and "$" in signal_located.value:
        signal = None
    timeout_located = directives.get("TimeoutStopSec") or directives.get("TimeoutSec")
    timeout = systemd_seconds(timeout_located.value) if timeout_located else 90.0  # DefaultTimeoutStopSec
    mode = directives.get("KillMode")
    main_only = mode is not None and mode.value in ("mixed", "process", "none")
    return StopPolicy("systemd", signal, signal_located.span if signal_located else None, timeout,
                      timeout_located.span if timeout_located else None, "systemd's default `KillSignal=SIGTERM`",
                      "systemd's default `TimeoutStopSec` of 90 s", main_only, mode.span if main_only else None)


def _supervisor_policy(model, process) -> StopPolicy | None:
    """supervisord sends `stopsignal` (TERM by default) and SIGKILL after `stopwaitsecs` (10 s), to
    the process it started alone unless `stopasgroup=true` (supervisor/process.py `stop` and `kill`).
    A value we could not read (an unknown `%(...)s`) is unknown: no finding rests on it."""
    program = process.supervisor
    if program is None:
        return None
    given = program.given

    def setting(option: str):
        located = program.settings.get(option)
        if located is None or isinstance(located.value, Unknown):
            return None, None
        return located.value, located.span if option in given else None

    signal, signal_span = setting("stopsignal")
    timeout, timeout_span = setting("stopwaitsecs")
    group, group_span = setting("stopasgroup")
    return StopPolicy("supervisor", signal_name(signal) if signal is not None else None, signal_span,
                      float(timeout) if isinstance(timeout, int) else None, timeout_span,
                      "supervisor's default `stopsignal=TERM`", "supervisor's default `stopwaitsecs=10`",
                      main_only=group is False, main_only_span=group_span or program.span)


DOCKER_STOP_TIMEOUT = 10.0  # `docker stop`'s and Compose's default grace period (docs: docker container stop)
DURATION = re.compile(r"(\d+(?:\.\d+)?)(h|ms|us|m|s)")
DURATION_UNITS = {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6}


def compose_seconds(text: str) -> float | None:
    """A Compose duration (`10s`, `1m30s`, `1.5s`, `500ms`) in seconds; None when unreadable."""
    parts = DURATION.findall(text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        return None
    return sum(float(number) * DURATION_UNITS[unit] for number, unit in parts)


def _container_of(model, process):
    if "container-of-process" not in model.memo:
        model.memo["container-of-process"] = {id(c.process): c for c in model.containers if c.process is not None}
    return model.memo["container-of-process"].get(id(process))


def _deploy_sets_stop_time(model) -> bool:
    """A deploy step that gives `docker …`/`docker-compose …` a timeout of its own (`-t N`, `-tN`,
    `--time`, `--timeout`): then the grace period of a stop is not the file's. Once per audit (the
    same for every container)."""
    if "deploy-sets-stop-time" not in model.memo:
        model.memo["deploy-sets-stop-time"] = _any_stop_time(model)
    return model.memo["deploy-sets-stop-time"]


def _any_stop_time(model) -> bool:
    for step in model.steps:
        argv = step.command.argv
        if not argv or cmd.basename(argv[0]) not in ("docker", "docker-compose"):
            continue
        for word in argv[1:]:
            if word in ("-t", "--time", "--timeout") or word.startswith(("--time=", "--timeout=")) or \
                    (word.startswith("-t") and word[2:].isdigit()):
                return True
    return False


def _container_policy(model, process) -> StopPolicy | None:
    """Docker sends the image's STOPSIGNAL (Compose `stop_signal:` over it; SIGTERM when neither)
    and SIGKILL after the grace period (Compose `stop_grace_period:`, `docker stop -t`; 10 s), to
    the container's PID 1 (docs.docker.com, docker container stop). A quick signal is always
    reported. The grace period is weighed only when the repository writes it or Gunicorn's
    `graceful_timeout`: Docker's 10 s against Gunicorn's default 30 s is the norm of every
    containerised Gunicorn, and long requests are rare — reporting it everywhere would bury the
    rest. False-alarm risk: `docker run --stop-signal`/`--stop-timeout` or a `docker stop -t` we
    do not see; a deploy step passing a timeout makes the grace period unknown."""
    container = _container_of(model, process)
    if container is None:
        return None
    signal, signal_span = "SIGTERM", None
    if container.stop_signal is not None:
        value = container.stop_signal.value
        signal = None if isinstance(value, Unknown) else signal_name(value)
        signal_span = container.stop_signal.span
    timeout, timeout_span = DOCKER_STOP_TIMEOUT, None
    if container.stop_grace is not None:
        value = container.stop_grace.value
        timeout = None if isinstance(value, Unknown) else compose_seconds(str(value))
        timeout_span = container.stop_grace.span
    if _deploy_sets_stop_time(model) or (container.stop_grace is None and "graceful_timeout" not in process.settings):
        timeout = None
    return StopPolicy("Docker", signal, signal_span, timeout, timeout_span, "the image's STOPSIGNAL",
                      "Docker's default grace period of 10 s", True, None)


# manager -> its stop policy
STOP_POLICIES: dict[str, Callable] = {"pm2": _pm2_policy, "systemd": _systemd_policy,
                                      "supervisor": _supervisor_policy, "container": _container_policy}
MANAGED_AS = {"PM2": "app", "systemd": "unit", "supervisor": "program", "Docker": "container"}
QUICK_FIX = {"PM2": ": start the PM2 daemon with `PM2_KILL_SIGNAL=SIGTERM` (PM2 has no per-app signal), "
                    "or run Gunicorn under systemd.",
             "systemd": ": use `KillSignal=SIGTERM`.",
             "supervisor": ": use `stopsignal=TERM` (supervisor's default).",
             "Docker": ": use `STOPSIGNAL SIGTERM` (Docker's default), or remove `stop_signal`."}


def graceful_timeout(process) -> tuple[float | None, Span | None]:
    setting = process.settings.get("graceful_timeout")
    if setting is None:
        return DEFAULT_GRACEFUL_TIMEOUT, None
    value = setting.value
    if isinstance(value, str) and re.fullmatch(r"\d+(\.\d+)?", value):
        value = float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or isinstance(value, Unknown):
        return None, None
    return float(value), setting.span


def wrapped_gunicorn(model, process):
    """A Gunicorn that a wrapper script the manager runs starts without `exec` (so the manager's
    signal reaches the shell, not Gunicorn): the span of that command, or None.

    False-alarm risk: a script that forwards signals itself (`trap … TERM`); such a script is
    left alone.
    """
    if process.launch is not None or not process.argv:
        return None
    words = [w for w in process.argv if not w.startswith("-")]
    if words and cmd.basename(words[0]) in ("bash", "sh", "dash", "zsh"):
        words = words[1:]
    if not words or not words[0].endswith(".sh"):
        return None
    script = words[0]
    base = process.cwd or ""
    if script.startswith("/"):
        directory = repo_dir(model, posixpath.dirname(script), "")
        path = posixpath.join(directory, posixpath.basename(script)) if directory is not None else None
    else:
        path = posixpath.normpath(posixpath.join(base, script))
    if path is None or path not in model.shell_paths:
        return None
    steps = [s for s in model.steps if s.command.span.path == path]
    if any(s.command.argv[:1] == ("trap",) for s in steps):
        return None
    for step in steps:
        launch = step.meaning
        if isinstance(launch, cmd.Launch) and launch.gunicorn is not None and "exec" not in launch.wrappers:
            return step.command.span
    return None


@check("SC208")
def stop_timeout_short(model, config, found):
    for process in [*model.processes, *(c.process for c in model.containers if c.process is not None)]:
        policy_of = STOP_POLICIES.get(process.manager)
        if policy_of is None:
            continue
        gunicorn = process.launch is not None and process.launch.gunicorn is not None
        wrapper = None if gunicorn else wrapped_gunicorn(model, process)
        if not gunicorn and wrapper is None:
            continue
        policy = policy_of(model, process)
        if policy is None:
            continue
        name = f"{policy.manager} {MANAGED_AS[policy.manager]} `{process.name}`"
        if wrapper is not None:
            if policy.main_only:
                yield Finding("SC208", f"{name} runs a wrapper script that starts Gunicorn without `exec`, and "
                              f"{policy.manager} signals only the process it started (the shell): Gunicorn never "
                              "hears the stop, keeps serving (old code, holding the port) until the SIGKILL after "
                              "the timeout, and its workers are killed mid-request. Start it with `exec gunicorn "
                              "…` in the script.", wrapper,
                              (Related(process.span, "the manager runs the wrapper here"),
                               Related(policy.main_only_span, "only the main process is signalled")))
            continue
        where = (Related(policy.signal_span, "the signal is set here"),) if policy.signal_span else ()
        if policy.signal in QUICK:
            how = "the signal" if policy.signal_span else policy.signal_default
            yield Finding("SC208", f"{name} stops Gunicorn with {policy.signal} ({how}): Gunicorn treats "
                          f"{policy.signal} as a quick shutdown (gunicorn/arbiter.py: workers get SIGQUIT and exit "
                          "at once), so every restart and deploy cuts the requests in flight. Gunicorn stops "
                          "gracefully on SIGTERM"
                          + QUICK_FIX[policy.manager],
                          process.span, where)
            continue
        if policy.signal not in GRACEFUL or policy.timeout is None:
            continue
        graceful, graceful_span = graceful_timeout(process)
        if graceful is None or policy.timeout >= graceful:
            continue
        related = [Related(graceful_span, "`graceful_timeout` is set here")] if graceful_span else []
        timeout_words = (f"after {_seconds(policy.timeout)}" if policy.timeout_span
                         else f"after {_seconds(policy.timeout)} ({policy.timeout_default})")
        if policy.timeout_span is not None:
            related.insert(0, Related(policy.timeout_span, "the stop timeout is set here"))
        yield Finding("SC208", f"{name} sends SIGKILL {timeout_words}, but Gunicorn's graceful stop may take "
                      f"`graceful_timeout` = {_seconds(graceful)}"
                      f"{'' if graceful_span else ' (the default)'}: requests still running after "
                      f"{_seconds(policy.timeout)} are cut, and workers die without cleaning up. Give the manager "
                      f"at least `graceful_timeout` (or lower `graceful_timeout`).",
                      policy.timeout_span or process.span, tuple(related))


def _seconds(value: float) -> str:
    if value == math.inf:
        return "never"
    if value < 10 and value != int(value):
        return f"{value:g} s"
    return f"{int(value)} s" if value == int(value) else f"{value:g} s"
