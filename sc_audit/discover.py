"""Find the files of a deployment under a root and decide what kind each one is.

Classification is by name first and by a cheap look at the content where a name is
ambiguous (a `*.conf` may be Nginx or supervisord; a `*.json` may be a PM2 file).
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from . import fs
from .fs import CACHE_DIR
from . import source as kinds
from .source import SourceFile, decode, looks_binary

SKIP_DIRS = frozenset(
    {".git", ".hg", ".svn", "node_modules", "venv", ".venv", "env", "__pycache__",
     "build", "dist", ".tox", ".nox", ".mypy_cache", ".pytest_cache", ".ruff_cache",
     CACHE_DIR, "site-packages"}
)
MAX_FILE_BYTES = 2 * 1024 * 1024  # a deployment file is small; anything bigger is skipped, and said
MAX_FILES = 200_000  # bounded work on huge trees

APP_MODULE_NAMES = frozenset({"app.py", "wsgi.py", "asgi.py", "main.py", "run.py", "server.py",
                              "application.py", "__init__.py"})
APP_MARKERS = ("Flask(", "FastAPI(", "Starlette(", "Quart(", "get_wsgi_application(",
               "get_asgi_application(", "create_app", "make_app")
# A module that only adds routes (a router, or views on an app imported from elsewhere): the
# routes model needs it (SC601). Routers named by a registration are read anyway (api.py).
ROUTE_MARKERS = (".route(", "APIRouter(", "Blueprint(", '.get("/', ".get('/", '.post("/', ".post('/")
# Modules that say how the app meets its proxy (Socket.IO, WebSockets, uploads, ProxyFix, a body
# limit): read too, so that the contract rules can follow the app's imports to them.
CONTRACT_MARKERS = ("socketio", "websocket", "request.files", "request.FILES", "UploadFile", "FileField",
                    "ImageField", "MAX_CONTENT_LENGTH", "ProxyFix", "SECURE_PROXY_SSL_HEADER")
SHELL_SHEBANGS = ("sh", "bash", "dash", "zsh", "ksh")


@dataclass(frozen=True, slots=True)
class Skipped:
    path: str
    reason: str  # "larger than 2 MiB", "binary", "not a regular file", "unreadable: …"


@dataclass(slots=True)
class Discovery:
    root: Path
    files: list[SourceFile] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    # every regular file path seen (relative, "/"), classified or not: SC002 asks "is it in the repo?"
    all_paths: set[str] = field(default_factory=set)
    truncated: bool = False  # stopped after MAX_FILES
    incomplete: list[str] = field(default_factory=list)  # what was not read, beyond `skipped` (api.py)
    skipped_paths: set[str] = field(default_factory=set, repr=False)

    def skip(self, rel: str, reason: str) -> None:
        """Say once why a file is not read, however many times it is asked for."""
        if rel not in self.skipped_paths:
            self.skipped_paths.add(rel)
            self.skipped.append(Skipped(rel, reason))


def discover(root: Path, exclude: tuple[str, ...] = (), respect_gitignore: bool = False) -> Discovery:
    """`respect_gitignore`: what the repository's .gitignore files ignore is not read (see gitignore.py)."""
    root = fs.resolve(root)
    result = Discovery(root=root)
    ignore = None
    if respect_gitignore:
        from .gitignore import GitIgnore

        ignore = GitIgnore()
    for rel in _walk(root, exclude, result, ignore):
        kind = kind_by_name(rel)
        if kind is None and not _maybe_by_content(rel):
            continue
        data = read_limited(root, rel, result)
        if data is None:
            continue
        text, encoding = decode(data)
        kind = kind or kind_by_content(rel, text)
        if kind is not None:
            result.files.append(SourceFile(rel, kind, text, encoding))
    result.files.sort(key=lambda f: f.path)
    return result


def _walk(root: Path, exclude: tuple[str, ...], result: Discovery, ignore=None):
    """Yield file paths relative to root, sorted, never leaving the root. An ignored file (`ignore`,
    .gitignore) is in `all_paths` (it is on disk) but not yielded; an ignored directory is not walked."""
    count = 0
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        try:
            entries = fs.listdir(root / rel_dir if rel_dir else root)
        except OSError as error:
            if not rel_dir and isinstance(error, PermissionError):
                raise  # the root itself: the caller says so in one line (exit 2)
            result.skip(rel_dir or ".", f"unreadable: {error.strerror}")
            continue
        subdirs = []
        if ignore is not None:
            _read_gitignore(root, rel_dir, entries, ignore)
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if _excluded(rel, exclude):
                continue
            if not _valid_name(entry.name):  # no report could name it safely
                result.skip(_display_name(rel), "its name is not valid UTF-8 or holds control characters; "
                                                "rename it")
                continue
            try:
                if entry.is_symlink():
                    # a link is followed only when it stays inside the root
                    target = fs.resolve(entry.path)
                    if not target.is_relative_to(root) or not fs.exists(target):
                        if kind_by_name(rel) is not None:  # a deployment file that is not read: say so
                            result.skip(rel, "a symbolic link out of the root" if fs.exists(target)
                                        else "a dangling (or looping) symbolic link")
                        continue
                    if fs.is_dir(target):
                        continue  # linked directories are not walked: no loops, no double counting
                if entry.is_dir():
                    if entry.name not in SKIP_DIRS and not (ignore is not None and ignore.ignored(rel, True)):
                        subdirs.append(rel)
                    continue
            except OSError:
                continue
            if ignore is not None and ignore.ignored(rel, False):
                result.all_paths.add(rel)
                continue
            count += 1
            if count > MAX_FILES:
                result.truncated = True
                result.skip(rel, f"not read, nor anything after it: the tree has more than {MAX_FILES} files")
                return
            result.all_paths.add(rel)
            yield rel
        stack.extend(reversed(subdirs))


def _read_gitignore(root: Path, rel_dir: str, entries, ignore) -> None:
    from .gitignore import MAX_GITIGNORE_BYTES

    for entry in entries:
        if entry.name == ".gitignore":
            try:
                status, data = fs.read_regular(entry.path, MAX_GITIGNORE_BYTES) if entry.is_file() else ("", b"")
            except OSError:
                return
            if status == "ok":
                ignore.read(rel_dir, data.decode("utf-8", errors="replace"))
            return


def _valid_name(name: str) -> bool:
    """UTF-8 (os.scandir gives surrogate escapes for other bytes) without a newline, an ESC or a
    bidi override, which would break line-based output or restyle a terminal."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return name.isprintable()


def _display_name(rel: str) -> str:
    text = rel.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(ch if ch.isprintable() else "\ufffd" for ch in text)


def _excluded(rel: str, patterns: tuple[str, ...]) -> bool:
    name = rel.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(name, p) or rel.startswith(p.rstrip("/") + "/")
               for p in patterns)


def read_limited(root: Path, rel: str, result: Discovery) -> bytes | None:
    """The bytes of a regular text file within the size limit; else None, and `result.skipped` says why.
    Never blocks: a FIFO or a device is not opened."""
    if rel in result.skipped_paths:
        return None
    try:
        status, data = fs.read_regular(root / rel, MAX_FILE_BYTES)
    except OSError as error:
        result.skip(rel, f"unreadable: {error.strerror or error}")
        return None
    if status == "not-regular":
        result.skip(rel, "not a regular file")
        return None
    if status == "too-large" or len(data) > MAX_FILE_BYTES:
        result.skip(rel, f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB")
        return None
    if looks_binary(data):
        result.skip(rel, "binary")
        return None
    return data


def kind_by_name(rel: str) -> str | None:
    """The kind a file has by its name alone, or None when the content must decide."""
    path = PurePosixPath(rel)
    name = path.name
    parts = path.parts
    lower = name.lower()
    if name == "Procfile" or name.startswith("Procfile."):
        return kinds.PROCFILE
    if lower in ("appspec.yml", "appspec.yaml"):
        return kinds.APPSPEC
    if lower.endswith(".service"):
        return kinds.SYSTEMD
    if lower.endswith(".sh") or lower.endswith(".bash"):
        return kinds.SHELL
    if len(parts) >= 3 and parts[-3] == ".github" and parts[-2] == "workflows" and lower.endswith((".yml", ".yaml")):
        return kinds.WORKFLOW
    # a file named as a PM2 ecosystem is one, readable or not (a syntax error is an SC001, not a skip)
    if lower.startswith("ecosystem") and lower.endswith((".config.js", ".config.cjs", ".config.mjs", ".config.json",
                                                        ".config.yml", ".config.yaml")):
        return kinds.PM2
    if lower.startswith("gunicorn") and lower.endswith(".py"):
        return kinds.GUNICORN_CONFIG
    return container_kind_by_name(name)


def container_kind_by_name(name: str) -> str | None:
    """Dockerfiles (`Dockerfile`, `Dockerfile.prod`, `api.Dockerfile`, `Containerfile`), Compose
    files by Compose's own names (`compose.yaml`, `docker-compose.yml`, their overrides and
    `docker-compose.prod.yml`-style variants), `.env` and `.dockerignore`."""
    lower = name.lower()
    if lower.startswith(("dockerfile", "containerfile")) and not lower.endswith((".md", ".txt", ".j2", ".tpl")) \
            or lower.endswith(".dockerfile"):
        return kinds.DOCKERFILE
    if lower.endswith((".yml", ".yaml")) and lower.startswith(("docker-compose", "compose.", "compose-")):
        return kinds.COMPOSE
    if name in (".env", ".dockerignore"):
        return kinds.DOTFILE
    return None


TEMPLATE_SUFFIXES = (".template", ".tpl", ".tmpl", ".j2", ".jinja", ".jinja2")
SITE_DIRS = ("sites-available", "sites-enabled", "conf.d")


def _untemplated(name: str) -> str:
    """`default.conf.template` -> `default.conf`: the name the file has once rendered."""
    lower = name.lower()
    for suffix in TEMPLATE_SUFFIXES:
        if lower.endswith(suffix) and len(lower) > len(suffix):
            return lower[: -len(suffix)]
    return lower


def _maybe_by_content(rel: str) -> bool:
    """Whether a file's content is worth a look (the name alone did not decide)."""
    path = PurePosixPath(rel)
    lower = path.name.lower()
    if lower.endswith((".conf", ".ini", ".json", ".yml", ".yaml", ".py", ".js", ".cjs")):
        return True
    if any(part in SITE_DIRS for part in path.parts):
        return True
    rendered = _untemplated(path.name)
    if rendered != lower and (rendered.endswith((".conf", ".ini")) or "." not in rendered):
        return True  # `default.conf.template`, `nginx.conf.j2`, `site.tpl`
    return "." not in path.name  # an extensionless script with a shebang, a Debian-style site


def kind_by_content(rel: str, text: str) -> str | None:
    path = PurePosixPath(rel)
    lower = path.name.lower()
    if lower.endswith(".py"):
        if lower in APP_MODULE_NAMES or any(marker in text for marker in APP_MARKERS + ROUTE_MARKERS):
            if _creates_app(text):
                return kinds.PYTHON_APP
        return kinds.PYTHON_APP if any(marker in text for marker in CONTRACT_MARKERS) else None
    if lower.endswith((".yml", ".yaml")) and looks_like_compose(text):
        return kinds.COMPOSE
    if lower.endswith((".json", ".yml", ".yaml", ".js", ".cjs")):
        from .parsers import pm2

        return kinds.PM2 if pm2.looks_like_ecosystem(rel, text) else None
    if text.startswith("#!"):
        interpreter = text.split("\n", 1)[0].split("/")[-1].split()
        if interpreter and (interpreter[0] in SHELL_SHEBANGS or
                            (interpreter[0] == "env" and len(interpreter) > 1 and interpreter[1] in SHELL_SHEBANGS)):
            return kinds.SHELL
    return _config_kind(path, text)


def _config_kind(path: PurePosixPath, text: str) -> str | None:
    """A supervisord or Nginx file, by a cheap look at (at most) its first 64 KiB.

    Supervisord: a `[program:x]`, `[group:x]` or `[supervisord]` header, in a `*.conf`, `*.ini`,
    an extensionless file or a template of one. Nginx: a `*.conf`, a file in `sites-available`,
    `sites-enabled` or `conf.d`, or a template of one, holding Nginx statements; an extensionless
    file elsewhere (`deploy/nginx/myapp`) only when it also opens a `server {` or `upstream {`
    block. A Jinja template (`{{ }}`, `{% %}`) of an Nginx file stays out: it is not what Nginx
    reads, and no value of it could be known; an envsubst template (`${VAR}`) is read, its
    placeholders Unknown.
    """
    from .parsers import supervisor_sniff as supervisor
    from .parsers.nginx_sniff import looks_like_nginx

    rendered = _untemplated(path.name)
    templated = rendered != path.name.lower()
    extensionless = "." not in rendered
    in_site_dir = any(part in SITE_DIRS for part in path.parts)
    if (rendered.endswith((".conf", ".ini")) or extensionless or in_site_dir) and \
            supervisor.looks_like_supervisor(text):
        return kinds.SUPERVISOR
    if not (rendered.endswith(".conf") or in_site_dir or extensionless):
        return None
    if templated and ("{{" in text[: supervisor.SNIFF_BYTES] or "{%" in text[: supervisor.SNIFF_BYTES]):
        return None
    if not looks_like_nginx(text):
        return None
    if extensionless and not in_site_dir and not _opens_server_block(text):
        return None
    return kinds.NGINX


_SERVER_BLOCK = re.compile(r"^[ \t]*(?:server|upstream[ \t]+[\w.-]+)[ \t]*\{", re.M)


def _opens_server_block(text: str) -> bool:
    return _SERVER_BLOCK.search(text[:65536]) is not None


COMPOSE_SERVICES = re.compile(r"^services:[ \t]*(#.*)?$", re.M)
COMPOSE_SERVICE_FIELD = re.compile(r"^[ \t]+(image|build):", re.M)


def looks_like_compose(text: str) -> bool:
    """A YAML file with a top-level `services:` whose entries have an `image` or `build`: a Compose
    file under another name (`prod.yml`, passed with `docker compose -f`)."""
    return COMPOSE_SERVICES.search(text) is not None and COMPOSE_SERVICE_FIELD.search(text) is not None


def _creates_app(text: str) -> bool:
    return any(marker in text for marker in APP_MARKERS + ROUTE_MARKERS) or ".route(" in text
