"""A Dockerfile as the image it builds: the stage that runs (the last, or compose's `target`), with
what it inherits from earlier stages, its command (ENTRYPOINT + CMD), WORKDIR, USER, ENV, EXPOSE,
HEALTHCHECK, STOPSIGNAL, and where COPY/ADD put repository files (the install map of an image).

Docker's rules, from the Dockerfile reference (docs.docker.com/reference/dockerfile):
- shell form `CMD x` runs `/bin/sh -c "x"`; exec form `CMD ["x"]` runs x itself;
- ENTRYPOINT exec form + CMD: CMD's words are appended; ENTRYPOINT shell form ignores CMD;
- setting ENTRYPOINT resets a CMD inherited from the base image;
- a relative WORKDIR or COPY destination is taken from the WORKDIR before it;
- `FROM stage` inherits the earlier stage's configuration; `COPY --from` copies from a stage or
  image, not from the repository.
What an external base image sets (its CMD, ENTRYPOINT, USER, WORKDIR) is not in the repository:
Unknown, never a default.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

from ..facts import DockerfileFacts, DockerInstruction
from ..span import Located, Span


@dataclass(frozen=True, slots=True)
class Copy:
    """COPY/ADD from the build context: repository `source` (a file or folder, "" = the context
    root) lands at absolute `dest` in the image."""

    source: str
    dest: str
    span: Span
    whole_context: bool  # `COPY . .` (the whole context)
    into_dir: bool  # the destination is a directory (ends with `/`, or several sources)


@dataclass(slots=True)
class Image:
    dockerfile: str
    stage: str | None  # the stage's name (`AS name`), if any
    base: str  # the external image the stage chain starts from ("python:3.11-slim"); "" for scratch
    from_span: Span
    entrypoint: Located | None = None  # value: tuple (exec form) or str (shell form)
    cmd: Located | None = None
    entrypoint_written: bool = False  # this repository sets ENTRYPOINT (else the base image's stands)
    workdir: str | None = None  # absolute; None: not set here (the base image's, unknown)
    user: Located | None = None
    env: dict[str, str] = field(default_factory=dict)
    expose: list[tuple[int, Span]] = field(default_factory=list)
    copies: list[Copy] = field(default_factory=list)
    healthcheck: DockerInstruction | None = None
    stopsignal: Located | None = None
    context: str = ""  # the build context, a repository folder
    runs: list[str] = field(default_factory=list)  # RUN texts of the stage chain (what they install)
    shell: tuple[str, ...] = ("/bin/sh", "-c")  # SHELL: what the shell form runs with

    def to_repo(self, image_path: str, files: set[str]) -> str | None:
        """The repository path an absolute image path holds, through the last COPY that put it
        there (`files`: the repository's files, to tell a copied file from a folder); None when
        no COPY did (a file of the base image, or one made by RUN)."""
        path = posixpath.normpath(image_path)
        for copy in reversed(self.copies):
            dest = posixpath.normpath(copy.dest)
            if copy.source in files:  # a file: `COPY a.py /srv/` is /srv/a.py
                target = posixpath.join(dest, posixpath.basename(copy.source)) if copy.into_dir else dest
                if path == target:
                    return copy.source
                continue
            if path == dest:  # a folder: its contents land in dest
                return copy.source
            if path.startswith(dest.rstrip("/") + "/"):
                rest = path[len(dest.rstrip("/")) + 1:]
                return posixpath.normpath(posixpath.join(copy.source, rest)) if copy.source else rest
        return None


# images whose /bin/sh and entrypoint are known: no ENTRYPOINT, /bin/sh is dash (Debian, Ubuntu)
# or busybox (Alpine). Other bases may set an ENTRYPOINT we cannot see.
NO_ENTRYPOINT_BASES = ("python", "debian", "ubuntu", "alpine", "buildpack-deps", "pypy")


def base_name(base: str) -> str:
    """`docker.io/library/python:3.11-slim@sha256:…` -> `python`."""
    name = base.split("@", 1)[0]
    name = name.rsplit("/", 1)[-1] if name.startswith(("docker.io/library/", "library/")) else name
    return name.split(":", 1)[0].lower()


def base_shell(image: Image) -> str | None:
    """Which /bin/sh the image has: "dash" (Debian and Ubuntu, and the python images built on
    them), "busybox" (Alpine), None when the base is not one we know."""
    name = base_name(image.base)
    tag = image.base.split("@", 1)[0].split(":", 1)[1].lower() if ":" in image.base.split("@", 1)[0] else ""
    if name == "alpine" or "alpine" in tag:
        return "busybox"
    if name in ("python", "debian", "ubuntu", "buildpack-deps", "pypy"):
        return "dash"
    return None


def image_of(facts: DockerfileFacts, target: str | None, context: str) -> Image | None:
    """The image a build of `facts` produces (stage `target`, else the last), or None when the
    file has no FROM or names a target it lacks."""
    stages: list[tuple[str | None, str, Span, list[DockerInstruction]]] = []
    args: dict[str, str] = {}
    for instruction in facts.instructions:
        if instruction.cmd == "FROM":
            words = list(instruction.value)
            name = words[2].lower() if len(words) >= 3 and words[1].lower() == "as" else None
            stages.append((name, _substitute(words[0], args) or "", instruction.span, []))
        elif not stages:
            if instruction.cmd == "ARG":
                for word in instruction.value:
                    key, _, default = word.partition("=")
                    if default:
                        args[key] = default.strip("\"'")
        else:
            stages[-1][3].append(instruction)
    if not stages:
        return None
    index = len(stages) - 1
    if target is not None:
        names = [s[0] for s in stages]
        if target.lower() not in names:
            return None
        index = names.index(target.lower())
    chain = [index]
    by_name = {s[0]: i for i, s in enumerate(stages) if s[0]}
    while True:
        base = stages[chain[-1]][1].lower()
        earlier = by_name.get(base)
        if earlier is None or earlier >= chain[-1] or earlier in chain:
            break
        chain.append(earlier)
    root_stage = stages[chain[-1]]
    image = Image(dockerfile=facts.path, stage=stages[index][0], base=root_stage[1], from_span=stages[index][2],
                  context=context)
    for position in reversed(chain):
        for instruction in stages[position][3]:
            _apply(image, instruction, context)
    return image


def _apply(image: Image, instruction: DockerInstruction, context: str) -> None:
    name, value, span = instruction.cmd, instruction.value, instruction.span
    if name == "SHELL" and instruction.json and value:
        image.shell = tuple(value)
    elif name in ("CMD", "ENTRYPOINT"):
        command = Located(tuple(value) if instruction.json else (value[0] if value else ""), span)
        if name == "CMD":
            image.cmd = command
        else:
            image.entrypoint, image.entrypoint_written = command, True
            image.cmd = None  # ENTRYPOINT resets the CMD inherited so far
    elif name == "WORKDIR" and value:
        path = _substitute(value[0], image.env)
        if path is None:
            image.workdir = None
        else:
            image.workdir = posixpath.normpath(posixpath.join(image.workdir or "/", path))
    elif name == "USER" and value:
        image.user = Located(value[0], span)
    elif name == "ENV":
        for key, val in _env_pairs(value):
            image.env[key] = val
    elif name == "ARG":
        for word in value:
            key, eq, default = word.partition("=")
            if eq and key not in image.env:
                image.env.setdefault(key, default.strip("\"'"))
    elif name == "EXPOSE":
        for word in value:
            port = _substitute(word, image.env)
            if port and re.fullmatch(r"\d+(/tcp)?", port):
                image.expose.append((int(port.split("/")[0]), span))
    elif name in ("COPY", "ADD"):
        _copy(image, instruction, context)
    elif name == "HEALTHCHECK":
        image.healthcheck = instruction
    elif name == "RUN":
        image.runs.append(" ".join(value) + "".join(content for _, content in instruction.heredocs))
    elif name == "STOPSIGNAL" and value:
        image.stopsignal = Located(value[0], span)


def _copy(image: Image, instruction: DockerInstruction, context: str) -> None:
    if any(flag.startswith("--from") for flag in instruction.flags) or instruction.heredocs:
        return
    words = list(instruction.value)
    if len(words) < 2:
        return
    *sources, dest = words
    dest = _substitute(dest, image.env)
    if dest is None:
        return
    directory_dest = dest.endswith("/") or len(sources) > 1 or dest in (".", "./")
    dest_abs = posixpath.normpath(posixpath.join(image.workdir or "/", dest)) if not dest.startswith("/") \
        else posixpath.normpath(dest)
    if not dest.startswith("/") and image.workdir is None:
        return  # relative to a WORKDIR of the base image: unknown
    for source in sources:
        source = _substitute(source, image.env)
        if source is None or "://" in source or any(c in source for c in "*?["):
            continue
        repo = posixpath.normpath(posixpath.join(context, source.lstrip("/")))
        repo = "" if repo == "." else repo
        if repo.startswith(".."):
            continue
        image.copies.append(Copy(repo, dest_abs, instruction.span, repo == context, directory_dest))


def _env_pairs(value: tuple[str, ...]) -> list[tuple[str, str]]:
    """BuildKit gives ENV as alternating key, value words (both forms)."""
    pairs = []
    for i in range(0, len(value) - 1, 2):
        raw = value[i + 1]
        try:
            words = shlex.split(raw)
            raw = " ".join(words)
        except ValueError:
            pass
        pairs.append((value[i], raw))
    return pairs


VARIABLE = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-+][^}]*)?\}|([A-Za-z_][A-Za-z0-9_]*))")


def _substitute(text: str, env: dict[str, str]) -> str | None:
    """Dockerfile variable substitution for ENV/ARG values we know; None when one is unknown."""
    if "$" not in text:
        return text
    unknown = False

    def replace(match: re.Match) -> str:
        nonlocal unknown
        name = match.group(1) or match.group(2)
        whole = match.group(0)
        if name in env:
            return env[name]
        default = re.fullmatch(r"\$\{[A-Za-z_][A-Za-z0-9_]*:?-([^}]*)\}", whole)
        if default:
            return default.group(1)
        unknown = True
        return whole

    result = VARIABLE.sub(replace, text)
    return None if unknown else result
