"""sc-audit's process views (sc_audit/procview.py, model._views) against the real thing.

Every launch style below is started for real on 127.0.0.1 (Gunicorn from a venv with and
without setproctitle, under a systemd-like exec, `python -m`, a Procfile line, a deploy
script's `nohup … &`, PM2; a Node app under PM2; `python3 app.py`), the tiny repository
that describes it is audited, and for a table of patterns the real `pgrep` (never pkill)
is compared with `procview.kill_matches` on the predicted view of the same role (main or
worker) in the same world. Only the PIDs these tests started are ever looked at or stopped.

Run: `pytest tests/live` (add `-s` to see the table of real cmdline/comm per style);
`pytest -m "not live"` leaves these out. Versions and the install cache: live_support.py.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import live_support as live  # noqa: E402
from sc_audit import audit  # noqa: E402
from sc_audit import commands as cmd  # noqa: E402
from sc_audit import procview  # noqa: E402

pytestmark = pytest.mark.live

APP_PY = '''\
"""A plain WSGI app: `gunicorn app:app`, or `python3 app.py PORT` (served by wsgiref)."""
import sys


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\\n"]


if __name__ == "__main__":
    from wsgiref.simple_server import make_server

    make_server("127.0.0.1", int(sys.argv[1]), app).serve_forever()
'''

SERVER_JS = '''\
const http = require("http");
const port = Number(process.argv[2]);
http.createServer((req, res) => res.end("ok\\n")).listen(port, "127.0.0.1");
'''

GUNICORN_LAUNCHERS = ("systemd-abs", "systemd-python-m", "procfile-relative", "deploy-nohup-relative",
                      "pm2-none", "pm2-python")
OTHER_LAUNCHERS = ("pm2-node", "deploy-python3")
PM2_LAUNCHERS = ("pm2-none", "pm2-python", "pm2-node")


def _style_ids() -> list[str]:
    ids = [f"{launcher}/{world}/{'named' if named else 'unnamed'}"
           for launcher in GUNICORN_LAUNCHERS for world in ("plain", "setproctitle") for named in (False, True)]
    return ids + [f"{launcher}/plain/unnamed" for launcher in OTHER_LAUNCHERS]


STYLE_IDS = _style_ids()

# pgrep arguments (the pattern last). `{marker}` is filled with the style's own marker.
PATTERNS: list[tuple[str, ...]] = [
    ("gunicorn",),
    ("-f", "gunicorn"),
    ("-x", "gunicorn"),
    ("-f", "python.*app.py"),
    ("-f", "gunicorn.*app:app"),
    ("-f", "gunicorn: master"),
    ("-f", "gunicorn: worker"),
    ("-f", "app:app"),
    ("-f", "app:app$"),
    ("python3",),
    ("-x", "python3"),
    ("-f", "python3"),
    ("python",),
    ("-f", "python"),
    ("-f", "venv/bin/gunicorn"),
    ("-f", "bin/python"),
    ("-f", "-m gunicorn"),
    ("-f", "node .*server.js"),
    ("-f", "node server.js"),
    ("-f", "server.js"),
    ("node",),
    ("-x", "node"),
    ("-f", "PM2"),
    ("-f", "pm2"),
    ("-f", "God Daemon"),
    ("-x", "gunicorn: maste"),
    ("gunicorn: maste",),
    ("-f", "^gunicorn"),
    ("-f", "^/"),
    ("-f", "gunicorn -c"),
    ("-f", r"127\.0\.0\.1:"),
    ("-i", "GUNICORN"),
    ("-fi", "VENV/BIN"),
    ("-f", "[[:alpha:]]+: master"),
    ("-x", "-f", r"gunicorn: master \[app:app\]"),
    ("-f", "gunicorn|node"),
    ("-f", "gunicorn("),  # not a valid regex: pgrep fails, the model cannot tell
    ("-f", "{marker}"),
    ("-f", "{marker}$"),
    ("-x", "-f", r"gunicorn: master \[{marker}\]"),
]

# killall names, never run: judged with psmisc's own rules (see psmisc_killall below).
KILLALL_NAMES: list[tuple[str, ...]] = [
    ("gunicorn",),
    ("-e", "gunicorn"),
    ("python",),
    ("python3",),
    ("node",),
    ("gunicorn: maste",),
    ("gunicorn: master [app:app]",),
    ("-e", "gunicorn: master [app:app]"),
    ("{comm}-other",),
    ("-e", "{comm}-other"),
    ("{venv}/bin/python3",),  # a path: killall compares /proc/PID/exe with that file
    ("{node}",),
]


# ---------------------------------------------------------------------------- the fleet


@dataclass
class Style:
    id: str
    key: str  # s00, s01, …: names its files
    launcher: str
    world: str
    named: bool
    port: int
    marker: str
    repo: Path
    venv: live.Venv | None
    unknown_dir: str | None = None  # the real directory behind the model's placeholders
    workdir: str | None = None  # the directory a deploy.sh `cd`s to before starting it
    popen: subprocess.Popen | None = None
    pidfile: Path | None = None
    pm2_name: str | None = None
    main: live.Seen | None = None
    workers: list[live.Seen] = field(default_factory=list)
    process: object = None  # the sc-audit model Process
    cleanup: list[Path] = field(default_factory=list)

    @property
    def gunicorn(self) -> bool:
        return self.launcher in GUNICORN_LAUNCHERS

    def roles(self) -> list[tuple[str, live.Seen]]:
        return [("main", self.main), *(("worker", w) for w in self.workers)]


def _gunicorn_args(style: Style) -> str:
    args = f"-w 1 -b 127.0.0.1:{style.port}"
    if style.named and style.launcher == "deploy-nohup-relative":
        args += f" -c gunicorn_{style.marker}.py"  # proc_name from a config file
    elif style.named:
        args += f" --name {style.marker}"
    return args + " app:app"


def _prepare(style: Style, app_dir: Path, pids_dir: Path, pm2) -> None:
    """Write the style's repository (what sc-audit audits) and start the process."""
    repo, venv = style.repo, style.venv
    repo.mkdir(parents=True)
    live.write(repo / "app.py", APP_PY)
    launcher = style.launcher
    if launcher in ("systemd-abs", "systemd-python-m"):
        program = f"{venv.bin}/gunicorn" if launcher == "systemd-abs" else f"{venv.bin}/python -m gunicorn"
        exec_start = f"{program} {_gunicorn_args(style)}"
        live.write(repo / "x.service", f"[Unit]\nDescription=sc-audit live {style.id}\n\n[Service]\n"
                   f"WorkingDirectory={app_dir}\nExecStart={exec_start}\nRestart=always\n\n"
                   "[Install]\nWantedBy=multi-user.target\n")
        # systemd execs ExecStart's words as argv, in WorkingDirectory
        style.popen = _spawn(shlex.split(exec_start), app_dir, style)
    elif launcher == "procfile-relative":
        line = f"venv/bin/gunicorn {_gunicorn_args(style)}"
        live.write(repo / "Procfile", f"web: {line}\n")
        style.unknown_dir = str(venv.root)
        # a Procfile runner runs the line with a shell in the app's directory; one simple command is exec'd
        style.popen = _spawn(["bash", "-c", line], venv.root, style)
    elif launcher == "deploy-nohup-relative":
        if style.named:
            config = f"proc_name = {style.marker!r}\n"
            live.write(repo / f"gunicorn_{style.marker}.py", config)
            style.cleanup.append(live.write(venv.root / f"gunicorn_{style.marker}.py", config))
        style.unknown_dir = str(venv.root)
        style.pidfile = pids_dir / f"{style.key}.pid"
        _deploy_script(style, venv.root, f"venv/bin/gunicorn {_gunicorn_args(style)}")
    elif launcher == "deploy-python3":
        style.pidfile = pids_dir / f"{style.key}.pid"
        _deploy_script(style, app_dir, f"python3 app.py {style.port}")
    elif launcher in PM2_LAUNCHERS:
        style.pm2_name = f"scl-{style.marker}"
        if launcher == "pm2-node":
            live.write(repo / "server.js", SERVER_JS)
            app = (f"script: 'server.js',\n      args: '{style.port}',\n      cwd: '{app_dir}',\n")
        else:
            interpreter = "none" if launcher == "pm2-none" else f"{venv.bin}/python"
            app = (f"script: '{venv.bin}/gunicorn',\n      interpreter: '{interpreter}',\n"
                   f"      args: '{_gunicorn_args(style)}',\n      cwd: '{app_dir}',\n")
        live.write(repo / "ecosystem.config.js",
                   "module.exports = {\n  apps: [\n    {\n"
                   f"      name: '{style.pm2_name}',\n      {app.strip()}\n"
                   "      exec_mode: 'fork',\n      autorestart: false,\n    },\n  ],\n};\n")
        done = pm2.run("start", str(repo / "ecosystem.config.js"))
        assert done.returncode == 0, f"pm2 start failed for {style.id}: {done.stderr[-2000:]}"


def _spawn(argv: list[str], cwd: Path, style: Style) -> subprocess.Popen:
    log = open(style.repo.parent / f"{style.key}.log", "wb")
    try:
        return subprocess.Popen(argv, cwd=cwd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    finally:
        log.close()


def _deploy_script(style: Style, workdir: Path, command: str) -> None:
    """A deploy.sh that `cd`s to an absolute directory and starts the server with `nohup … &`."""
    script = (f"#!/bin/bash\nset -e\ncd {workdir}\n"
              f"nohup {command} > /dev/null 2>&1 &\n"
              f"echo $! > {style.pidfile}\n")
    path = live.write(style.repo / "deploy.sh", script)
    style.workdir = str(workdir)
    env = dict(os.environ)
    # `python3` is found on PATH: put a venv's bin first, so it is a real interpreter (not a pyenv shim)
    env["PATH"] = f"{style.venv.bin if style.venv else ''}:{env.get('PATH', '')}"
    done = subprocess.run(["bash", str(path)], cwd=style.repo, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, f"deploy.sh of {style.id} failed: {done.stderr}"


def _find_main(style: Style, pm2) -> int | None:
    if style.popen is not None:
        return style.popen.pid
    if style.pidfile is not None:
        try:
            return int(style.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
    if style.pm2_name is not None:
        for app in pm2.jlist():
            if app.get("name") == style.pm2_name and app.get("pid"):
                return int(app["pid"])
    return None


@pytest.fixture(scope="session")
def fleet(request, venvs, tmp_path_factory):
    """Every launch style, running, with its audited model process. Stopped at the end by PID."""
    try:
        pm2 = request.getfixturevalue("pm2")
    except pytest.skip.Exception as error:
        pm2, pm2_skip = None, str(error)
    else:
        pm2_skip = None
    base = tmp_path_factory.mktemp("live")
    app_dir = base / "app"
    live.write(app_dir / "app.py", APP_PY)
    live.write(app_dir / "server.js", SERVER_JS)
    for venv in venvs.values():
        live.write(venv.root / "app.py", APP_PY)  # the relative styles run in the venv's deployment dir
    pids_dir = base / "pids"
    pids_dir.mkdir()

    styles: dict[str, Style] = {}
    for index, style_id in enumerate(STYLE_IDS):
        launcher, world, naming = style_id.split("/")
        if launcher in PM2_LAUNCHERS and pm2 is None:
            continue
        port = live.free_port()
        style = Style(style_id, f"s{index:02d}", launcher, world, naming == "named", port, f"scmark{index:02d}p{port}",
                      base / "repos" / style_id.replace("/", "-"),
                      venvs[world] if launcher != "pm2-node" else None)
        if launcher == "pm2-node":
            style.marker = f"{app_dir}/server.js"
        elif launcher == "deploy-python3":
            style.marker = f"app.py {port}"
        elif not style.named:
            style.marker = f"127.0.0.1:{port}"
        styles[style_id] = style

    started: list[Style] = []
    try:
        for style in styles.values():
            started.append(style)
            _prepare(style, app_dir, pids_dir, pm2)
        _await(styles.values(), pm2)
        for style in styles.values():
            report = audit(style.repo)
            processes = report.model.processes
            assert len(processes) == 1, f"{style.id}: sc-audit found {len(processes)} processes in {style.repo}"
            style.process = processes[0]
        yield {"styles": styles, "pm2": pm2, "pm2_skip": pm2_skip, "base": base}
    finally:
        _stop_fleet(started)


def _await(styles, pm2) -> None:
    """Wait (bounded) until every server answers and every Gunicorn master has its worker."""
    deadline = time.monotonic() + live.START_TIMEOUT
    pending = list(styles)
    while pending and time.monotonic() < deadline:
        for style in list(pending):
            if not live.answers(style.port):
                continue
            pid = _find_main(style, pm2)
            main = live.see(pid) if pid else None
            if main is None:
                continue
            workers = [live.see(c) for c in live.children(main.pid)]
            workers = [w for w in workers if w is not None]
            if style.gunicorn and not workers:
                continue
            style.main, style.workers = main, workers
            pending.remove(style)
        time.sleep(0.1)
    if pending:
        logs = {s.id: _log_tail(s) for s in pending}
        raise AssertionError(f"not serving within {live.START_TIMEOUT}s: {logs}")


def _log_tail(style: Style) -> str:
    log = style.repo.parent / f"{style.key}.log"
    try:
        return log.read_text(errors="replace")[-500:]
    except OSError:
        return "(no log)"


def _stop_fleet(started: list[Style]) -> None:
    recorded: list[live.Seen] = []
    popens = []
    for style in started:
        if style.popen is not None:
            popens.append(style.popen)
            if style.main is None:  # never came up: its PID is still our own child
                seen = live.see(style.popen.pid)
                if seen is not None:
                    recorded.append(seen)
                    recorded += [s for s in map(live.see, live.children(seen.pid)) if s]
        if style.pidfile is not None and style.main is None:
            try:
                seen = live.see(int(style.pidfile.read_text().strip()))
            except (OSError, ValueError):
                seen = None
            if seen is not None:
                recorded += [seen, *[s for s in map(live.see, live.children(seen.pid)) if s]]
        if style.main is not None and style.pm2_name is None:
            recorded.append(style.main)
            recorded += style.workers
        for path in style.cleanup:
            path.unlink(missing_ok=True)
    live.stop(recorded, popens)  # PM2's apps stop with its private daemon (the pm2 fixture)


def _style(fleet, style_id: str) -> Style:
    if style_id.split("/")[0] in PM2_LAUNCHERS and fleet["pm2"] is None:
        pytest.skip(fleet["pm2_skip"])
    return fleet["styles"][style_id]


@pytest.fixture(scope="session")
def pgrep_results(fleet):
    """The real pgrep's answer to each pattern (filled in per style for `{marker}`)."""
    results: dict[tuple[str, ...], tuple[int, set[int]]] = {}
    for style in fleet["styles"].values():
        for args in PATTERNS:
            filled = _fill(args, style)
            if filled not in results:
                results[filled] = live.pgrep(_pgrep_argv(filled))
    return results


def _fill(args: tuple[str, ...], style: Style) -> tuple[str, ...]:
    return tuple(a.replace("{marker}", style.marker) for a in args)


def _pgrep_argv(args: tuple[str, ...]) -> tuple[str, ...]:
    """pgrep's argv: a pattern that starts with `-` goes after `--`."""
    *flags, pattern = args
    return (*flags, "--", pattern) if pattern.startswith("-") else args


# ---------------------------------------------------------------------------- predictions


def _views(style: Style, role: str) -> list[procview.View]:
    return [v for v in style.process.views if v.role == role and v.world == style.world]


def _substituted(style: Style, view: procview.View) -> procview.View:
    """The view with the unknown directory filled in with the real one (where the test knows it)."""
    if style.unknown_dir is None:
        return view
    placeholder = procview.PLACEHOLDERS[view.guess]
    return procview.View(view.cmdline.replace(placeholder, style.unknown_dir),
                         view.comm.replace(placeholder, style.unknown_dir)[:procview.COMM_LENGTH],
                         view.role, view.world, view.guess, view.argv0.replace(placeholder, style.unknown_dir))


def _predict(kill: cmd.KillCommand, views: list[procview.View], style: Style, seen: live.Seen):
    """(prediction, how): True/False when every guess agrees. When the guesses disagree the
    model is unsure and its rules stay silent; then the guess that is right (the one whose
    view, with the real directory filled in, is what /proc shows) must still predict right."""
    if not views:
        return "no view", ""
    answers = {procview.kill_matches(kill, v) for v in views}
    if len(answers) == 1:
        return answers.pop(), ""
    right = [v for v in views
             if (_substituted(style, v).cmdline, _substituted(style, v).comm) == (seen.cmdline, seen.comm)]
    filled = {procview.kill_matches(kill, _substituted(style, v)) for v in right}
    how = "unsure between guesses; the right guess says this"
    return (filled.pop() if len(filled) == 1 else "ambiguous"), how


def _describe(style: Style, role: str, seen: live.Seen) -> str:
    views = _views(style, role)
    predicted = "; ".join(f"[guess {v.guess}] {v.cmdline!r} comm={v.comm!r}" for v in views) or "(no view)"
    return f"real cmdline={seen.cmdline!r} comm={seen.comm!r}\n      predicted: {predicted}"


# ---------------------------------------------------------------------------- the tests


@pytest.mark.parametrize("style_id", STYLE_IDS)
def test_views_match_proc(fleet, style_id):
    """The predicted cmdline and comm are what /proc shows (placeholders filled with the real dir)."""
    style = _style(fleet, style_id)
    problems = []
    for role, seen in style.roles():
        views = _views(style, role)
        if not views:
            problems.append(f"{role}: no predicted view in world {style.world}\n      {_describe(style, role, seen)}")
            continue
        # where the model has two guesses for what it cannot know (a directory, the venv's
        # python name), one of them must be exactly what /proc shows
        shown = {(_substituted(style, v).cmdline, _substituted(style, v).comm) for v in views}
        if (seen.cmdline, seen.comm) not in shown or len(shown) > len(procview.SHEBANG_PYTHONS):
            problems.append(f"{role}: {_describe(style, role, seen)}")
    assert not problems, f"{style_id}:\n  " + "\n  ".join(problems)


def _cells_report(style: Style, judge) -> str:
    """Check every (pattern, role) cell; return a report of the disagreements ("" if none).

    `judge(role, seen)` yields (command text, real answer, KillCommand). A role the model
    has no view for is one disagreement, not one per pattern.
    """
    blocks = []
    for role, seen in style.roles():
        views = _views(style, role)
        header = f"[{role}] {_describe(style, role, seen)}"
        if not views:
            blocks.append(f"{header}\n      -> sc-audit has no {role} view in world {style.world!r}")
            continue
        lines = []
        for text, real, kill in judge(role, seen):
            predicted, how = _predict(kill, views, style, seen)
            # killall NAME-with-/ compares /proc/PID/exe, which the model does not know: no claim
            no_claim = predicted is None and kill.tool == "killall" and "/" in (kill.pattern or "")
            ok = predicted is None if real == "error" else (predicted is real or no_claim)
            if not ok:
                lines.append(f"      {text}: real={real} predicted={predicted}{' (' + how + ')' if how else ''}")
        if lines:
            blocks.append(header + "\n" + "\n".join(lines))
    return "\n  ".join(blocks)


@pytest.mark.parametrize("style_id", STYLE_IDS)
def test_pgrep_agrees_with_kill_matches(fleet, pgrep_results, style_id):
    """For every pattern, the real pgrep selects the style's process iff sc-audit predicts it."""
    style = _style(fleet, style_id)

    def judge(role, seen):
        for args in PATTERNS:
            filled = _fill(args, style)
            code, pids = pgrep_results[filled]
            kill = cmd.interpret(("pgrep", *_pgrep_argv(filled)))
            assert isinstance(kill, cmd.KillCommand), filled
            yield f"pgrep {shlex.join(_pgrep_argv(filled))}", ("error" if code >= 2 else seen.pid in pids), kill

    report = _cells_report(style, judge)
    assert not report, f"{style_id}: real pgrep vs kill_matches\n  {report}"


def _replace_all(text: str, values: dict) -> str:
    for key, value in values.items():
        if value is not None:
            text = text.replace(key, value)
    return text


def psmisc_killall(args: tuple[str, ...], seen: live.Seen) -> bool | str:
    """Whether psmisc's `killall [-e] NAME` (23.x, src/killall.c) selects a process. Not run, emulated.

    The name is compared with /proc/PID/stat's comm. Only when comm is 15 characters long
    (possibly cut) does killall read the cmdline: it takes the first argument whose basename
    starts with those 15 characters as the full name. A NAME of 15+ characters must then
    equal that full name; without one, its first 15 characters are compared with comm
    (with -e such a process is skipped).
    """
    exact = "-e" in args[:-1]
    name = args[-1]
    if "/" in name:  # "processes executing that particular file": /proc/PID/exe is that file
        try:
            wanted = os.stat(name)
        except OSError:
            return "error"  # killall prints the stat error and exits, killing nothing
        try:
            running = os.stat(f"/proc/{seen.pid}/exe")
        except OSError:
            return False
        return (wanted.st_dev, wanted.st_ino) == (running.st_dev, running.st_ino)
    comm = seen.comm
    command = None
    if len(comm) == procview.COMM_LENGTH:
        for word in seen.raw_cmdline.split(b"\0"):
            if not word:
                break
            base = word.decode("utf-8", "replace").rsplit("/", 1)[-1]
            if base[:procview.COMM_LENGTH] == comm:
                command = base
                break
        if exact and command is None:
            return False
    if len(comm) != procview.COMM_LENGTH or len(name) < procview.COMM_LENGTH:
        return name == comm
    return name == command if command is not None else name[:procview.COMM_LENGTH] == comm


@pytest.mark.parametrize("style_id", STYLE_IDS)
def test_killall_semantics(fleet, style_id):
    """killall is never run: the real comm/cmdline are judged with psmisc's rules instead."""
    style = _style(fleet, style_id)

    def judge(role, seen):
        node = shutil.which("node")
        values = {"{comm}": seen.comm, "{venv}": str(style.venv.venv) if style.venv else None,
                  "{node}": os.path.realpath(node) if node else None}
        for args in KILLALL_NAMES:
            if any(key in a and values[key] is None for a in args for key in values):
                continue  # no such file for this style
            filled = tuple(_replace_all(a, values) for a in args)
            yield f"killall {shlex.join(filled)}", psmisc_killall(filled, seen), cmd.interpret(("killall", *filled))

    report = _cells_report(style, judge)
    assert not report, f"{style_id}: psmisc killall rules on the real views vs kill_matches\n  {report}"


@pytest.mark.parametrize("style_id", [s for s in STYLE_IDS if s.startswith("deploy-")])
def test_deploy_script_cwd_is_known(fleet, style_id):
    """A deploy.sh that runs `cd /abs/dir` before `nohup … &`: the model could know the directory."""
    style = _style(fleet, style_id)
    assert style.process.host_cwd == style.workdir, (
        f"cwd={style.process.cwd!r} host_cwd={style.process.host_cwd!r}, the script cds to {style.workdir}")


def test_real_views_table(fleet, capsys):
    """Print what Linux really shows for each launch style (`pytest -s` to see it)."""
    lines = ["", "style | role | /proc/PID/cmdline | /proc/PID/comm"]
    for style in fleet["styles"].values():
        for role, seen in style.roles():
            lines.append(f"{style.id} | {role} | {seen.cmdline} | {seen.comm}")
    pm2 = fleet["pm2"]
    daemon = live.see(pm2.daemon_pid()) if pm2 is not None and pm2.daemon_pid() else None
    if daemon is not None:
        lines.append(f"PM2 daemon | main | {daemon.cmdline} | {daemon.comm}")
    table = "\n".join(lines)
    (fleet["base"] / "real-views.txt").write_text(table + "\n", encoding="utf-8")
    with capsys.disabled():
        print(table)
    assert len(lines) > 2


def test_pm2_daemon(fleet, pgrep_results, capsys):
    """The private PM2 daemon: `PM2 vX: God Daemon (PM2_HOME)`, named by its first 15 characters.

    sc-audit models it as a bystander (checks/kills.py BYSTANDERS): same shape, and every
    pattern of the table selects it exactly when pgrep selects the real one.
    """
    pm2 = fleet["pm2"]
    if pm2 is None:
        pytest.skip(fleet["pm2_skip"])
    pid = pm2.daemon_pid()
    assert pid is not None, f"no {pm2.home}/pm2.pid"
    seen = live.see(pid)
    assert seen is not None
    code, pids = live.pgrep(("-f", "God Daemon"))
    assert code == 0 and pid in pids
    with capsys.disabled():
        print(f"\nPM2 daemon: cmdline={seen.cmdline!r} comm={seen.comm!r}")
    assert seen.cmdline == f"PM2 v{pm2.version}: God Daemon ({pm2.home})"
    assert seen.comm == seen.cmdline[:procview.COMM_LENGTH]

    from sc_audit.checks.kills import BYSTANDERS

    modeled = [view for label, view in BYSTANDERS if "God Daemon" in view.cmdline]
    assert len(modeled) == 1, "sc-audit should model the PM2 daemon as a bystander"
    view = modeled[0]
    assert re.fullmatch(r"PM2 v[0-9.]+: God Daemon \(/.+/\.pm2\)", view.cmdline), view.cmdline
    assert view.comm == view.cmdline[:procview.COMM_LENGTH]
    disagreements = []
    for args in PATTERNS:
        if "{marker}" in "".join(args):
            continue
        code, pids = pgrep_results[args]
        kill = cmd.interpret(("pgrep", *_pgrep_argv(args)))
        predicted = procview.kill_matches(kill, view)
        real = "error" if code >= 2 else pid in pids
        if (predicted is None) != (real == "error") or (real != "error" and predicted is not real):
            disagreements.append(f"pgrep {shlex.join(_pgrep_argv(args))}: real={real} predicted={predicted}")
    assert not disagreements, "\n".join(disagreements)


# ---------------------------------------------------------------------------- bash -c


def test_bash_c_cmdline():
    """`bash -c 'sleep 30; true' MARK` stays a shell showing its whole -c string (and $0);
    `bash -c 'sleep 31' MARK` (one simple command) is exec'd: the PID shows `sleep 31`."""
    if shutil.which("pgrep") is None or shutil.which("bash") is None:
        pytest.skip("needs bash and pgrep")
    marker = f"scmark-bash-{os.getpid()}-{time.monotonic_ns()}"
    kept = subprocess.Popen(["bash", "-c", "sleep 30; true", f"{marker}-kept"], stdin=subprocess.DEVNULL,
                            start_new_session=True)
    execd = subprocess.Popen(["bash", "-c", "sleep 31", f"{marker}-execd"], stdin=subprocess.DEVNULL,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        shell = sleeper = child = None
        while time.monotonic() < deadline:
            shell, sleeper = live.see(kept.pid), live.see(execd.pid)
            kids = live.children(kept.pid)
            child = live.see(kids[0]) if kids else None
            # comm changes at exec a moment before the new cmdline can be read: wait for both
            if shell and sleeper and child and sleeper.comm == "sleep" and child.comm == "sleep" \
                    and sleeper.cmdline and child.cmdline:
                break
            time.sleep(0.05)
        assert shell is not None and sleeper is not None and child is not None
        assert (shell.cmdline, shell.comm) == (f"bash -c sleep 30; true {marker}-kept", "bash")
        assert (child.cmdline, child.comm) == ("sleep 30", "sleep")
        assert (sleeper.cmdline, sleeper.comm) == ("sleep 31", "sleep")  # the marker ($0) is gone with the exec
        _, pids = live.pgrep(("-f", "sleep 30; true"))
        assert kept.pid in pids and child.pid not in pids
        _, pids = live.pgrep(("-f", marker))
        assert kept.pid in pids and execd.pid not in pids
        # sc-audit's reading of a shell's own command line agrees
        kill = cmd.interpret(("pgrep", "-f", "sleep 30; true"))
        assert procview.pattern_matches_text(kill, shell.cmdline)
        assert not procview.pattern_matches_text(kill, sleeper.cmdline)
    finally:
        # our own unreaped children (and the shell's sleep): their PIDs cannot have been reused
        ours = [live.see(kept.pid), live.see(execd.pid), *map(live.see, live.children(kept.pid))]
        live.stop([s for s in ours if s is not None], [kept, execd])
