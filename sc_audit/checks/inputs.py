"""SC0xx: the inputs themselves. Files that could not be read; files the deploy needs that are not there."""

from __future__ import annotations

import posixpath

from .. import commands as cmd
from ..discover import kind_by_name
from ..findings import Finding, Related
from ..model import resolve
from ..span import Span
from . import check


@check("SC001")
def parse_error(model, config, found):
    for error in model.errors:
        yield Finding("SC001", f"cannot read this file: {error.message}", error.span)
    for skipped in found.skipped:
        if kind_by_name(skipped.path) is not None:
            yield Finding("SC001", f"not audited: {skipped.reason}; sc-audit could not check it",
                          Span(skipped.path, 1, 1))


# Paths that the deploy creates itself, or that live on the host, are not expected in the repo.
CREATED_AT_DEPLOY = ("venv/", ".venv/", "env/", "node_modules/", "logs/", "log/", "tmp/", "dist/", "build/")


def _expected_in_repo(path: str) -> bool:
    if not path or path.startswith(("/", "~", "-")) or "$" in path or "*" in path or "{" in path:
        return False
    normal = posixpath.normpath(path)
    return not normal.startswith("..") and not any(normal.startswith(p) or f"/{p}" in normal for p in CREATED_AT_DEPLOY)


@check("SC002")
def missing_file(model, config, found):
    for process in model.processes:
        launch = process.launch
        if launch is not None and launch.gunicorn is not None and launch.gunicorn.config:
            name = launch.gunicorn.config
            if _expected_in_repo(name) and process.config_path and not model.exists(process.config_path):
                yield Finding("SC002", f"Gunicorn reads its settings from `{name}`, which is not in the "
                              "repository: Gunicorn exits at start with 'Error: ... config file ... doesn't exist'. "
                              "Add the file, or fix the path.", process.span)
        if process.manager == "pm2" and process.pm2 is not None:
            yield from _pm2_script(model, process)
    for step in model.steps:
        meaning = step.meaning
        base = posixpath.dirname(step.command.span.path) if step.source == "shell" else ""
        if isinstance(meaning, cmd.Pm2Command) and meaning.action in ("start", "startOrRestart", "startOrReload",
                                                                       "startOrGracefulReload", "reload", "restart"):
            for target in meaning.targets:
                if _looks_like_file(target) and _expected_in_repo(target) and not _exists_near(model, target, base):
                    yield Finding("SC002", f"`pm2 {meaning.action} {target}`: `{target}` is not in the repository; "
                                  "PM2 fails with 'File … not found' and the app is not started. Add the file or fix "
                                  "the path.", step.command.span)
        if isinstance(meaning, cmd.CopyCommand) and _into_system_config(meaning.dest):
            for source in meaning.sources:
                mapped = resolve(model, source) if source.startswith("/") else None  # through the install map
                if mapped and _expected_in_repo(mapped) and not model.exists(mapped):
                    yield Finding("SC002", f"`{meaning.tool}` installs `{source}` (the repository's `{mapped}`, where "
                                  f"the deploy places the checkout) into `{meaning.dest}`, but `{mapped}` is not in "
                                  "the repository: the copy fails on the server and the old configuration stays in "
                                  "force. Commit the file, or fix the path.", step.command.span)
                elif _expected_in_repo(source) and not _exists_near(model, source, base):
                    yield Finding("SC002", f"`{meaning.tool}` installs `{source}` into `{meaning.dest}`, but "
                                  f"`{source}` is not in the repository: the copy fails on the server and the old "
                                  "configuration stays in force. Commit the file, or fix the path.",
                                  step.command.span)


def _pm2_script(model, process):
    app = process.pm2
    script = app.get("script")
    located = app.fields.get("script")
    if not isinstance(script, str) or located is None:
        return
    if "/" not in script and "." not in script:
        return  # a program name (`gunicorn`, `npm`): PM2 finds it on PATH
    if not _expected_in_repo(script) or process.cwd is None:
        return
    path = posixpath.normpath(posixpath.join(process.cwd, script))
    if not model.exists(path) and not model.exists(script):
        yield Finding("SC002", f"PM2 app `{process.name}` runs `{script}`, which is not in the repository "
                      f"(looked in `{process.cwd or '.'}`): PM2 reports 'Script not found' and the app never "
                      "starts. Fix `script` or `cwd`.", located.span,
                      (Related(app.span, "the PM2 app"),))


def _looks_like_file(word: str) -> bool:
    return word.endswith((".js", ".cjs", ".mjs", ".json", ".yml", ".yaml", ".py", ".sh"))


def _exists_near(model, path: str, base: str) -> bool:
    return model.exists(path) or (base and model.exists(posixpath.join(base, path))) or \
        model.exists(posixpath.basename(path)) and "/" not in path


SYSTEM_CONFIG_DIRS = ("/etc/nginx", "/etc/systemd", "/lib/systemd", "/usr/lib/systemd", "/etc/supervisor")


def _into_system_config(dest: str) -> bool:
    return dest.startswith(SYSTEM_CONFIG_DIRS)
