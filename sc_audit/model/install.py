"""The install map: where the repository lands on a host, and how host paths map back to it."""

from __future__ import annotations

import posixpath

from .. import commands as cmd
from .records import Deployment, Step


def repo_dir(model: Deployment, value: object, base: str) -> str | None:
    """Map a directory as the deploy names it to a directory of the repository.

    A relative path is taken from `base`. An absolute host path (`/var/www/app/backend`)
    is where the repository is deployed: its longest tail that is a directory of the
    repository wins (`backend`), else the root.
    """
    if not isinstance(value, str) or "$" in value or "{" in value:
        return None
    if not value.startswith("/") and not value.startswith("~"):
        joined = posixpath.normpath(posixpath.join(base, value))
        return "" if joined == "." else joined
    parts = [p for p in value.split("/") if p and p != "~"]
    for start in range(len(parts)):
        candidate = "/".join(parts[start:])
        if candidate and model.exists(candidate) and candidate not in model.root_paths:
            return candidate
    return ""


def working_directories(steps: list[Step]) -> list[str | None]:
    """The host directory each step runs in, as far as earlier `cd /abs/dir` steps of the same
    shell tell (None when unknown). A `cd` inside `$(…)` or a subshell is not followed."""
    current: dict[tuple, str | None] = {}
    result = []
    for step in steps:
        command = step.command
        shell = (command.span.path, command.context.kind, command.context.span)
        here = current.get(shell)
        result.append(here)
        argv, _, _ = cmd.strip_wrappers(command.argv)
        if argv and argv[0] == "cd" and not command.in_substitution:
            target = argv[1] if len(argv) > 1 else None
            if target is None or any(command.dynamic) or target == "-":
                current[shell] = None
            elif target.startswith("/"):
                current[shell] = posixpath.normpath(target)
            else:
                current[shell] = posixpath.normpath(posixpath.join(here, target)) if here else None
    return result
