"""GitHub Actions workflows -> the shell commands of their steps, on the YAML's lines.

`run:` steps are parsed as bash (unless the step's shell is another language). Steps of
ssh actions (appleboy/ssh-action and a few alike) are parsed as remote shell. The YAML
is only composed (nodes with positions), never constructed or run.
"""

from __future__ import annotations

import re

from .. import yamlsafe
from ..discover import MAX_FILE_BYTES
from ..facts import ParseError, ShellContext, WorkflowFacts
from ..source import SourceFile
from ..span import Located, Span
from . import shell

# action (without @ref) -> (keys of `with:` holding a remote script, script is the cmdline)
# appleboy/ssh-action and github-action-ssh run the script as one `$SHELL -c SCRIPT`;
# how the others hand over their script is not known, so no cmdline for them.
SSH_ACTIONS: dict[str, tuple[tuple[str, ...], bool]] = {
    "appleboy/ssh-action": (("script",), True),
    "garygrossgarten/github-action-ssh": (("command",), True),
    "cross-the-world/ssh-pipeline": (("script",), False),
    "easingthemes/ssh-deploy": (("SCRIPT_BEFORE", "SCRIPT_AFTER"), False),
}


def parse(src: SourceFile) -> WorkflowFacts:
    facts = WorkflowFacts(path=src.path)
    try:
        _Workflow(src, facts).run()
    except Exception as exc:  # noqa: BLE001 - a broken file is a finding, not a crash
        facts.errors.append(ParseError(f"cannot read workflow: {type(exc).__name__}: {exc}"[:200], Span(src.path, 1)))
    return facts


def _loader():
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# --------------------------------------------------------------------------- YAML nodes


def _is_mapping(node) -> bool:
    return type(node).__name__ == "MappingNode"


def _is_sequence(node) -> bool:
    return type(node).__name__ == "SequenceNode"


def _is_scalar(node) -> bool:
    return type(node).__name__ == "ScalarNode"


def _get(node, key: str):
    """The value node of `key` in a mapping node, or None."""
    if not _is_mapping(node):
        return None
    for key_node, value_node in node.value:
        if _is_scalar(key_node) and key_node.value == key:
            return value_node
    return None


def _items(node):
    return [(k.value, v) for k, v in node.value if _is_scalar(k)] if _is_mapping(node) else []


def _text(node) -> str | None:
    return node.value if _is_scalar(node) else None


def _span(path: str, node) -> Span:
    start, end = node.start_mark, node.end_mark
    return Span(path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


# --------------------------------------------------------------------------- line maps


def line_map(node, file_lines: list[str]) -> list[tuple[int, int]]:
    """shell.LineMap of a scalar's value: where each value line starts in the file."""
    value_lines = node.value.split("\n")
    line, column = node.start_mark.line, node.start_mark.column
    if node.style == "|":
        return _literal_map(value_lines, line + 1, file_lines)
    if node.style != ">" and len(value_lines) == 1:
        quote = 1 if node.style in ("'", '"') else 0
        return [(line + 1, column + 1 + quote)]
    return _aligned_map(value_lines, line, column, file_lines)


def _literal_map(value_lines, first: int, file_lines) -> list[tuple[int, int]]:
    """`run: |`: value line i is file line first+i, less the block's indentation."""
    indent = 0
    for i, text in enumerate(value_lines):
        raw = file_lines[first + i] if first + i < len(file_lines) else ""
        if text.strip():
            indent = len(raw) - len(text) if raw.endswith(text) else len(raw) - len(raw.lstrip(" "))
            break
    return [(first + i + 1, indent + 1) for i in range(len(value_lines))]


def _aligned_map(value_lines, line: int, column: int, file_lines) -> list[tuple[int, int]]:
    """Folded, plain or quoted multi-line scalars: find each value line's first word in
    the file, going forward (folding joins lines, so this is the best fit, not exact)."""
    result, row, start_column = [], line, column
    for text in value_lines:
        token = text.split()[0] if text.strip() else ""
        found = None
        for candidate in range(row, min(row + 50, len(file_lines))):
            start = start_column if candidate == line else 0
            position = file_lines[candidate].find(token, start) if token else -1
            if position >= 0:
                found = (candidate, position - (len(text) - len(text.lstrip())))
                break
        if found is None:
            result.append((row + 1, 1))
            continue
        row, position = found
        result.append((row + 1, max(position, 0) + 1))
        row += 1
    return result


# --------------------------------------------------------------------------- walking


class _Workflow:
    def __init__(self, src: SourceFile, facts: WorkflowFacts):
        self.src = src
        self.facts = facts
        self.file_lines = src.text.split("\n")
        # a script reused by alias is parsed once (per context); what reuse adds is bounded
        self.parsed: dict[tuple[int, ShellContext], tuple[list, list]] = {}
        self.expanded_bytes = 0
        self.cut_at: int | None = None  # the line past which the expansion budget stopped reading

    def run(self) -> None:
        yaml, _ = _loader()
        try:
            for document in yamlsafe.compose_all_bounded(self.src.text):
                self.document(document)
        except yamlsafe.TooLarge as exc:
            self.facts.errors.append(ParseError(f"not read: {exc}", Span(self.src.path, 1)))
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            message = f"invalid YAML: {exc.problem or exc.context or 'syntax error'}"
            self.facts.errors.append(ParseError(message, Span(self.src.path, line, column)))
        except yaml.YAMLError as exc:
            self.facts.errors.append(ParseError(f"invalid YAML: {exc}"[:200], Span(self.src.path, 1)))

    def document(self, root) -> None:
        default_shell = _text(_get(_get(_get(root, "defaults"), "run"), "shell"))
        for _, job in _items(_get(root, "jobs")):
            self.uses(_get(job, "uses"))  # a reusable workflow
            job_shell = _text(_get(_get(_get(job, "defaults"), "run"), "shell")) or default_shell
            runs_on = _text(_get(job, "runs-on")) or ""
            steps = _get(job, "steps")
            for step in steps.value if _is_sequence(steps) else []:
                self.step(step, job_shell, "windows" in runs_on.lower())

    def uses(self, node) -> str | None:
        value = _text(node)
        if value is not None:
            self.facts.uses.append(Located(value, _span(self.src.path, node)))
        return value

    def step(self, step, job_shell: str | None, windows: bool) -> None:
        if not _is_mapping(step):
            return
        action = self.uses(_get(step, "uses"))
        run = _get(step, "run")
        if _is_scalar(run):
            step_shell = _text(_get(step, "shell")) or job_shell
            if _is_posix_shell(step_shell, windows):
                context = ShellContext("workflow-run", None, _span(self.src.path, run),
                                       errexit=_errexit(step_shell))
                self.shell(run, context)
        if action:
            keys, script_is_cmdline = SSH_ACTIONS.get(action.split("@")[0].strip().lower(), ((), False))
            with_node = _get(step, "with")
            for key in keys:
                script = _get(with_node, key)
                if _is_scalar(script) and script.value.strip():
                    keeps_text = script_is_cmdline and not shell.is_simple_command(script.value)
                    cmdline = script.value if keeps_text else None
                    span = _span(self.src.path, script)
                    errexit, ignored = _script_stop(action, _get(with_node, "script_stop"), self.src.path)
                    self.shell(script, ShellContext("ssh-action", cmdline, span, remote=True, errexit=errexit,
                                                    ignored_script_stop=ignored))

    def shell(self, node, context: ShellContext) -> None:
        if self.cut_at is not None:
            return
        self.expanded_bytes += len(node.value)
        if self.expanded_bytes > MAX_FILE_BYTES:  # aliases reuse scripts past what a file may hold
            self.cut_at = node.start_mark.line + 1
            self.facts.errors.append(ParseError(
                f"partly read: YAML aliases repeat its scripts past {MAX_FILE_BYTES // (1024 * 1024)} MiB "
                f"(a file's limit); the steps after that point were not read",
                _span(self.src.path, node)))
            return
        key = (id(node), context)
        if key in self.parsed:  # the same node again (an alias): its commands again, its errors once
            self.facts.commands += self.parsed[key][0]
            return
        commands, errors = self.parsed[key] = self._parse(node, context)
        self.facts.commands += commands
        self.facts.errors += errors

    def _parse(self, node, context: ShellContext) -> tuple[list, list]:
        commands, errors = shell.parse_text(
            node.value,
            self.src.path,
            node.start_mark.line + 1,
            node.start_mark.column + 1,
            context,
            line_map=line_map(node, self.file_lines),
            gh_expressions=True,
        )
        return commands, errors


def _is_posix_shell(name: str | None, windows: bool) -> bool:
    """Default shell is bash (pwsh on Windows runners); `bash -e {0}`, `sh` are shells too."""
    if name is None:
        return not windows
    program = name.split()[0].rsplit("/", 1)[-1] if name.split() else ""
    return program in shell.SHELLS


def _errexit(name: str | None) -> bool:
    """GitHub runs `run:` with `bash -e {0}` when no shell is given, `bash --noprofile --norc
    -eo pipefail {0}` for `shell: bash`, `sh -e {0}` for `shell: sh` (docs: "Exit codes and
    error action preference"); a custom template (`bash {0}`) has -e only if it says so."""
    if name is None or name.strip() in ("bash", "sh"):
        return True
    return any(word.startswith("-") and not word.startswith("--") and "e" in word for word in name.split()[1:])


def _script_stop(action: str, node, path: str) -> tuple[bool, Span | None]:
    """(errexit, span of an ignored `script_stop: true`) for an ssh action's script.

    appleboy/ssh-action had a `script_stop` input (stop at the first failing line) up to
    v1.2.0; commit 1c1ad10 ("remove script stop functionality", PR #350, first in v1.2.1
    and in the moving `v1` tag) removed it from action.yml, so GitHub ignores it ("Unexpected
    input") and the script runs on after a failure (appleboy/ssh-action#367). A ref we cannot
    place (a commit SHA, a fork) counts as honouring it: unknown never fires.
    """
    if not (_is_scalar(node) and str(node.value).strip().lower() == "true"):
        return False, None
    name, _, ref = action.partition("@")
    if name.strip().lower() != "appleboy/ssh-action" or not _script_stop_removed(ref.strip()):
        return True, None
    return False, _span(path, node)


def _script_stop_removed(ref: str) -> bool:
    if ref in ("master", "main", "v1"):
        return True
    match = re.fullmatch(r"v(\d+)(?:\.(\d+))?(?:\.(\d+))?", ref)
    if match is None:
        return False
    version = tuple(int(part) if part else 0 for part in match.groups())
    return version >= (1, 2, 1)
