"""The install map: where the repository lands on a host, and how host paths map back to it.

Each inference is one function below, with the line that says so kept as a Span, and its
false-alarm risk in its docstring. What the map cannot resolve stays Unknown (None).

- `git_placements`: `cd DIR` + `git pull|fetch|reset|checkout`, `git -C DIR pull`, `git clone URL DIR`
- `copy_placements`: `rsync -av ./ host:/srv/app/`, `scp -r . host:/srv/app`, `cp -r . /srv/app`
- `appspec_placements`: CodeDeploy `files:` (source -> destination)
- `anchor_placements`: a unit's or PM2 app's own absolute path that ends in a repository file
- `resolve`: an absolute host path -> the repository path it is (None: unknown)
- `installed_names`: `cp deploy/x.service /etc/systemd/system/y.service` -> the unit `y.service`
- `working_directories`: the directory each deploy command runs in
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from .. import commands as cmd
from ..span import Span
from .records import Deployment, Installed, Placement, Step

# Host directories that hold the system, never a checkout of the repository.
SYSTEM_DIRS = ("/etc", "/usr", "/lib", "/lib64", "/bin", "/sbin", "/var/log", "/var/run", "/run",
               "/proc", "/sys", "/dev", "/boot")


@dataclass(frozen=True, slots=True)
class Cwd:
    """Where a deploy command runs: a host directory (`cd /srv/app`) and/or a repository
    directory (`cd "$(dirname "$0")"`: the script's own folder). None: unknown."""

    host: str | None = None
    repo: str | None = None


# ---------------------------------------------------------------------------- building the map


def install_map(model: Deployment, cwds: list[Cwd]) -> list[Placement]:
    """Every placement the files state, in a stable order. Placements of one host directory
    that disagree make it unknown (see `resolve`)."""
    placements = [*git_placements(model.steps, cwds), *copy_placements(model, model.steps, cwds),
                  *appspec_placements(model), *anchor_placements(model)]
    seen, result = set(), []
    for placement in placements:
        key = (placement.host, placement.repo)
        if key not in seen:
            seen.add(key)
            result.append(placement)
    return result


def _host_dir(value: str) -> str | None:
    """A literal absolute directory (`/srv/app/`, `~/app` is not: whose home is unknown)."""
    if not value.startswith("/") or any(c in value for c in "$`*?{[") or not value.isprintable():
        return None
    normal = posixpath.normpath(value)
    return None if normal == "/" or _under(normal, SYSTEM_DIRS) else normal


def _under(path: str, roots) -> bool:
    return any(path == r or path.startswith(r + "/") for r in roots)


GIT_IN_PLACE = ("pull", "fetch", "reset", "checkout", "merge", "rebase", "stash")


def git_placements(steps: list[Step], cwds: list[Cwd]) -> list[Placement]:
    """`cd /srv/app && git pull` (also fetch, reset, checkout), `git -C /srv/app pull`, `git clone
    URL /srv/app`: the repository's root is checked out at that directory.

    git works from any folder of a checkout, so DIR is the root unless the script sits in a folder
    DIR ends with (`_checkout_folder`). False-alarm risk: the pulled repository may be another one
    (a deploy script that updates a second checkout), or DIR a subfolder that the script's own
    place does not reveal; then paths resolve into this repository wrongly. Accepted: a deploy script
    kept in a repository nearly always updates that repository. A `git` on the CI runner (a
    workflow step that is not run over ssh) is the runner's own checkout and is skipped.
    """
    found = []
    for step, here in zip(steps, cwds):
        command = step.command
        if step.source == "workflow" and not command.context.remote:
            continue
        argv, _, _ = cmd.strip_wrappers(command.argv)
        if not argv or cmd.basename(argv[0]) != "git" or any(command.dynamic):
            continue
        words = list(argv[1:])
        directory = here.host
        while len(words) >= 2 and words[0] == "-C":
            directory = words[1] if words[1].startswith("/") else \
                (posixpath.join(directory, words[1]) if directory else None)
            words = words[2:]
        if any(w.startswith(("--git-dir", "--work-tree")) for w in words):
            continue  # the checkout is elsewhere than the working directory: not followed
        action = next((w for w in words if not w.startswith("-")), None)
        if action in GIT_IN_PLACE and directory:
            host = _host_dir(directory)
        elif action == "clone":
            positional = _clone_positionals(words[words.index("clone") + 1:])
            if not positional:
                continue
            target = positional[1] if len(positional) >= 2 else \
                posixpath.basename(positional[0].rstrip("/")).removesuffix(".git")
            host = _host_dir(target) if target.startswith("/") else \
                (_host_dir(posixpath.join(directory, target)) if directory else None)
        else:
            continue
        words = [action]
        if host:
            found.append(Placement(host, _checkout_folder(step, host, words[0]), command.span, f"git {words[0]}"))
    return found


# git clone options that take a value (git-clone(1)); the rest are flags
CLONE_VALUE_OPTIONS = {"-b", "--branch", "-o", "--origin", "-c", "--config", "--depth", "--reference",
                       "--separate-git-dir", "-j", "--jobs", "--filter", "-u", "--upload-pack", "--template",
                       "--shallow-since", "--shallow-exclude", "--server-option", "--reference-if-able"}


def _clone_positionals(args: list[str]) -> list[str]:
    """`git clone [options] URL [DIR]` -> [URL, DIR?]."""
    positional, i = [], 0
    while i < len(args):
        word = args[i]
        if word in CLONE_VALUE_OPTIONS:
            i += 2
            continue
        if not word.startswith("-"):
            positional.append(word)
        i += 1
    return positional


def _checkout_folder(step: Step, host: str, action: str) -> str:
    """Which folder of the repository a `cd DIR && git pull` stands in: git works from any folder of a
    checkout. A script kept in a folder that DIR ends with (`app/restart.sh` doing `cd /srv/x/app`)
    stands in its own folder; else DIR is the checkout's root. A clone's target is always the root."""
    folder = posixpath.dirname(step.command.span.path) if step.source == "shell" else ""
    if action != "clone" and folder and (host + "/").endswith("/" + folder + "/"):
        return folder
    return ""


def copy_placements(model: Deployment, steps: list[Step], cwds: list[Cwd]) -> list[Placement]:
    """`rsync -av ./ user@host:/srv/app/`, `scp -r . host:/srv/app`, `cp -r backend/ /srv/api`: a
    folder of the repository (the root for `.`) lands at the absolute target.

    Sources are read from the command's known repository directory, else the root (a workflow
    runs in its checkout; a deploy script is usually run from the root). rsync's rule is kept:
    `src/` copies the contents into the target, `src` the folder itself into `target/src`.
    False-alarm risk: a script run from elsewhere, or a source that is a build output of the
    same name, maps the wrong folder; a target under /etc, /usr, /run … is never a placement.
    """
    found = []
    for step, here in zip(steps, cwds):
        meaning = step.meaning
        if not isinstance(meaning, cmd.CopyCommand) or meaning.tool not in ("rsync", "scp", "cp") or \
                any(step.command.dynamic) or len(meaning.sources) != 1:
            continue
        dest = meaning.dest.split(":", 1)[1] if re.match(r"^[\w.@-]+:", meaning.dest) else meaning.dest
        host = _host_dir(dest)
        source = meaning.sources[0]
        if host is None or source.startswith(("/", "~", "-")) or ":" in source:
            continue
        if meaning.tool == "cp" and not {"-r", "-R", "-a", "--recursive", "--archive"} & set(step.command.argv) \
                and not any(re.fullmatch(r"-[a-zA-Z]*[rRa][a-zA-Z]*", w) for w in step.command.argv[1:]):
            continue
        base = here.repo or ""
        repo = posixpath.normpath(posixpath.join(base, source.rstrip("*").rstrip("/") or "."))
        repo = "" if repo == "." else repo
        if repo.startswith("..") or (repo and (repo in model.root_paths or not model.exists(repo))):
            continue  # a file, or nothing of the repository
        contents = source in (".", "./", "./*", "*") or source.endswith("/") or meaning.tool != "rsync" and \
            not dest.endswith("/")
        if not contents and repo:
            host = posixpath.join(host, posixpath.basename(repo))
        found.append(Placement(host, repo, step.command.span, meaning.tool))
    return found


def appspec_placements(model: Deployment) -> list[Placement]:
    """CodeDeploy `files: - source: / destination: /home/ubuntu/app`: the revision's folder
    `source` (`/` the whole revision) lands at `destination`.

    False-alarm risk: the revision may not be the repository root (a build step that bundles a
    subfolder); appspec.yml must sit at the revision's root, so a nested appspec.yml's folder is
    taken as the revision. A `source` that is a single file maps nothing.
    """
    found = []
    for path, facts in sorted(model.appspecs.items()):
        revision = posixpath.dirname(path)
        for entry in facts.files:
            host = _host_dir(entry.destination)
            source = entry.source.strip("/")
            repo = posixpath.normpath(posixpath.join(revision, source)) if source else revision
            repo = "" if repo == "." else repo
            if host is None or repo.startswith("..") or repo in model.root_paths or \
                    (repo and not model.exists(repo)):
                continue
            found.append(Placement(host, repo, entry.span, "appspec files"))
    return found


def anchor_placements(model: Deployment) -> list[Placement]:
    """An absolute path in a unit's ExecStart or EnvironmentFile, or in a supervisor program's
    `command`, that ends in a repository file (`--config /opt/app/deploy/gunicorn.conf.py` while
    the repository has `deploy/gunicorn.conf.py`): the rest (`/opt/app`) is where the repository
    root lands. A program's `directory` plays the unit's WorkingDirectory.

    Only paths of two or more components after the host prefix anchor (`deploy/x.conf.py`), or one
    component when it is the unit's own WorkingDirectory that holds it; system directories never.
    False-alarm risk: a host file that happens to share a two-level name with a repository file
    (`/opt/tools/deploy/run.sh` beside a repository `deploy/run.sh`).
    """
    found = []
    for _, unit in sorted(model.units.items()):
        workdir = unit.working_directory.value if unit.working_directory else None
        words = [(w, command.span) for command in unit.exec_start for w in command.argv]
        words += [(v.value, v.span) for v in unit.environment_files if isinstance(v.value, str)]
        for word, span in words:
            for value in _absolute_values(word):
                placement = _anchor(model, value, workdir if isinstance(workdir, str) else None, span)
                if placement is not None:
                    found.append(placement)
    for _, facts in sorted(model.supervisor_files.items()):
        for program in facts.programs:
            directory = program.settings.get("directory")
            workdir = directory.value if directory is not None and isinstance(directory.value, str) else None
            words = [(w, command.span) for command in program.commands for w in command.argv]
            if workdir is not None:
                words.append((workdir, directory.span))
            for word, span in words:
                for value in _absolute_values(word):
                    placement = _anchor(model, value, workdir, span, "a path of the supervisor program")
                    if placement is not None:
                        found.append(placement)
    return found


def _absolute_values(word: str) -> list[str]:
    """`/a/b`, `--config=/a/b`, `-c/a/b` -> the absolute paths a word holds."""
    values = []
    for part in re.split(r"[=\s]", word):
        if part.startswith("/"):
            values.append(part)
    return values


def _anchor(model: Deployment, value: str, workdir: str | None, span: Span,
            how: str = "a path of the unit") -> Placement | None:
    if any(c in value for c in "$`*?{["):
        return None
    parts = [p for p in posixpath.normpath(value).split("/") if p]
    for start in range(1, len(parts)):
        tail = "/".join(parts[start:])
        prefix = "/" + "/".join(parts[:start])
        if tail not in model.root_paths or _host_dir(prefix) is None:
            continue
        if len(parts) - start >= 2 or (workdir is not None and posixpath.normpath(workdir) == prefix):
            return Placement(prefix, "", span, how)
    return None


# ---------------------------------------------------------------------------- using the map


def resolve(model: Deployment, host_path: object) -> str | None:
    """The repository path an absolute host path is, through the longest placement that holds it
    (`/opt/app/deploy/x.py` with `/opt/app` <- root: `deploy/x.py`); None when no placement
    holds it, when placements of that directory disagree, or when it leaves the folder.
    Whether the file exists is the caller's question."""
    if not isinstance(host_path, str) or not host_path.startswith("/") or any(c in host_path for c in "$`*?{"):
        return None
    path = posixpath.normpath(host_path)
    best: list[Placement] = []
    for placement in _holding(model, path):
        if path == placement.host or path.startswith(placement.host.rstrip("/") + "/"):
            if not best or len(placement.host) > len(best[0].host):
                best = [placement]
            elif len(placement.host) == len(best[0].host):
                best.append(placement)
    if not best or len({p.repo for p in best}) > 1:
        return None
    rest = path[len(best[0].host):].lstrip("/")
    joined = posixpath.normpath(posixpath.join(best[0].repo, rest)) if rest or best[0].repo else ""
    if joined == ".":
        return ""
    return None if joined.startswith("..") else joined


def _holding(model: Deployment, path: str) -> list[Placement]:
    """The placements whose host directory is `path` or one of its ancestors, in map order (an
    index built once per map: a scan of every placement per path made N = 1000 services quadratic)."""
    memo = model.memo.get("placements-by-host")
    if memo is None or memo[0] is not model.placements or memo[1] != len(model.placements):
        index: dict[str, list[tuple[int, Placement]]] = {}
        for order, placement in enumerate(model.placements):
            index.setdefault(placement.host.rstrip("/"), []).append((order, placement))
        memo = model.memo["placements-by-host"] = (model.placements, len(model.placements), index)
    index = memo[2]
    found, directory = [], path.rstrip("/")
    while True:
        found += index.get(directory, ())
        if not directory:
            break
        directory = directory.rpartition("/")[0]
    return [placement for _, placement in sorted(found, key=lambda item: item[0])]


def repo_dir(model: Deployment, value: object, base: str) -> str | None:
    """Map a directory as the deploy names it to a directory of the repository.

    A relative path is taken from `base`. An absolute host path resolves through the install map
    when a placement holds it. Else (the map knows nothing of it) the old guess stands: its
    longest tail that is a directory of the repository (`/var/www/app/backend` -> `backend`), else
    the root. False-alarm risk of that guess: a host folder named like a repository folder.
    """
    if not isinstance(value, str) or "$" in value or "{" in value:
        return None
    if not value.startswith("/") and not value.startswith("~"):
        joined = posixpath.normpath(posixpath.join(base, value))
        return "" if joined == "." else joined
    mapped = resolve(model, value)
    if mapped is not None and (mapped == "" or model.exists(mapped)):
        return mapped
    parts = [p for p in value.split("/") if p and p != "~"]
    for start in range(len(parts)):
        candidate = "/".join(parts[start:])
        if candidate and model.exists(candidate) and candidate not in model.root_paths:
            return candidate
    return ""


def repo_file(model: Deployment, value: str, base: str | None) -> str | None:
    """A file a command names (`-c deploy/g.py`, `--config /opt/app/deploy/g.py`) as a repository
    path: relative from `base` (None: unknown), absolute through the map. None: unknown."""
    if value.startswith("/"):
        return resolve(model, value)
    if base is None or "$" in value:
        return None
    joined = posixpath.normpath(posixpath.join(base, value))
    return None if joined.startswith("..") else joined


# ---------------------------------------------------------------------------- installed names

INSTALL_DIRS = {
    "unit": ("/etc/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system"),
    "site": ("/etc/nginx/sites-available", "/etc/nginx/sites-enabled", "/etc/nginx/conf.d"),
    "program": ("/etc/supervisor/conf.d", "/etc/supervisord.d"),
}


def installed_names(model: Deployment, cwds: list[Cwd]) -> dict[str, Installed]:
    """`sudo cp deploy/gunicorn.service /etc/systemd/system/myapp-web.service`: the repository file
    is installed as the unit `myapp-web.service` (also `install -m 644`, `ln -s`, `rsync`, `mv`);
    into a directory it keeps its own name. Nginx sites under `sites-available|sites-enabled|conf.d`
    and supervisor programs under `/etc/supervisor/conf.d` likewise; a site linked from
    `sites-available` into `sites-enabled` (`ln -s /etc/nginx/sites-available/x /etc/nginx/sites-enabled/`)
    is known by its enabled name.

    The source is read from the command's known directory (repository or mapped host), else the
    root, else the script's own folder. False-alarm risk: a script run from another folder copies
    another file of the same relative name.
    """
    found: dict[str, Installed] = {}
    at_host: dict[str, str] = {}  # host path -> the repository file installed there
    for step, here in zip(model.steps, cwds):
        meaning = step.meaning
        if not isinstance(meaning, cmd.CopyCommand) or any(step.command.dynamic):
            continue
        dest = posixpath.normpath(meaning.dest) if meaning.dest.startswith("/") else None
        if dest is None:
            continue
        for kind, dirs in INSTALL_DIRS.items():
            into_dir = dest in dirs or meaning.dest.endswith("/")
            parent = dest if into_dir else posixpath.dirname(dest)
            if parent not in dirs:
                continue
            for source in meaning.sources:
                repo = at_host.get(posixpath.normpath(source)) or _source_file(model, step, here, source)
                if repo is None:
                    continue
                name = posixpath.basename(source.rstrip("/")) if into_dir else posixpath.basename(dest)
                at_host[posixpath.join(parent, name)] = repo
                shown = f"{posixpath.basename(parent)}/{name}" if kind == "site" else name
                earlier = found.get(repo)
                # a site is known by its enabled name (`ln -s …/sites-available/x …/sites-enabled/`)
                if earlier is None or (kind == "site" and parent.endswith("sites-enabled")):
                    found[repo] = Installed(repo, kind, shown, step.command.span)
    return found


def _source_file(model: Deployment, step: Step, here: Cwd, source: str) -> str | None:
    if source.startswith("/"):
        mapped = resolve(model, source)
        return mapped if mapped in model.root_paths else None
    if source.startswith(("~", "-")) or "$" in source:
        return None
    script_dir = posixpath.dirname(step.command.span.path) if step.source == "shell" else ""
    bases = [here.repo] if here.repo is not None else \
        ([resolve(model, here.host)] if here.host else []) + ["", script_dir]
    for base in bases:
        if base is None:
            continue
        candidate = posixpath.normpath(posixpath.join(base, source))
        if candidate in model.root_paths:
            return candidate
    return None


# ---------------------------------------------------------------------------- where commands run

OWN_DIR = re.compile(r'^"?\$\(\s*dirname\s+"?\$(?:0|\{0\}|\{BASH_SOURCE(?:\[0\])?\}|BASH_SOURCE)"?\s*\)"?'
                     r'(?P<rest>/[^$`]*)?$')


def script_own_dir(word: str, script: str) -> str | None:
    """`cd "$(dirname "$0")"` (or `${BASH_SOURCE[0]}`, with `/..` after it): the script's own folder
    in the repository. False-alarm risk: a script copied elsewhere before it runs."""
    match = OWN_DIR.match(word)
    if match is None:
        return None
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(script), (match["rest"] or "").lstrip("/")))
    return None if joined.startswith("..") else ("" if joined == "." else joined)


def working_directories(steps: list[Step]) -> list[Cwd]:
    """The directory each step runs in, as far as earlier `cd` steps of the same shell tell:
    `cd /abs/dir` (host), `cd "$(dirname "$0")"` in a script (its own repository folder), and
    relative `cd`s from a known one. A `cd` inside `$(…)` or a subshell is not followed."""
    current: dict[tuple, Cwd] = {}
    result = []
    for step in steps:
        command = step.command
        shell = (command.span.path, command.context.kind, command.context.span)
        here = current.get(shell, Cwd())
        result.append(here)
        argv, _, _ = cmd.strip_wrappers(command.argv)
        if argv and argv[0] == "cd" and not command.in_substitution:
            target = argv[1] if len(argv) > 1 else None
            own = script_own_dir(target, command.span.path) if target and command.context.kind == "script" else None
            if own is not None:
                current[shell] = Cwd(None, own)
            elif target is None or any(command.dynamic) or target == "-":
                current[shell] = Cwd()
            elif target.startswith("/"):
                current[shell] = Cwd(posixpath.normpath(target), None)
            else:
                host = posixpath.normpath(posixpath.join(here.host, target)) if here.host else None
                repo = posixpath.normpath(posixpath.join(here.repo, target)) if here.repo is not None else None
                if repo is not None and (repo == "." or repo.startswith("..")):
                    repo = "" if repo == "." else None
                current[shell] = Cwd(host, repo)
    return result
