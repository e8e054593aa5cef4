"""`sc-audit check --fix` / `--diff`: the fixes sc-audit can prove safe, and only those.

A fixer looks at one finding and either returns a Change (an exact text edit at a span, or
a libcst transform for Python) or says why it leaves the finding alone. Every changed file
is then read again with sc-audit's own parser, and the change is kept only if the file
still parses and says exactly what the fix meant it to say (the new WSGI target, the new
route, the new kill pattern, `interpreter: 'none'`) and nothing else changed. What cannot
be proven is never touched.

Fixes: SC101/SC103 rewrite the WSGI target to what the module defines; SC601/SC602 add a
`/health` route (or the path the deploy checks) to a module-level Flask app; SC205 adds
`interpreter: 'none'` for a venv entry point in a JS/JSON ecosystem file; SC501 rewrites a
kill pattern that is proven to select its target in every world and nothing else.
"""

from __future__ import annotations

import dataclasses
import difflib
import posixpath
import re
import sys
from dataclasses import dataclass, field
from typing import Callable

import libcst as cst
from libcst.metadata import MetadataWrapper, PositionProvider

from . import source as kinds
from .checks.health import app_behind, processes_at
from .checks.kills import BYSTANDERS, GENERIC_WORDS, kills, match_in_world, pattern_words, targets
from .checks.managers import PYTHON_ENTRY_POINTS
from .checks.ports import health_requests
from .checks.wsgi import parse_target
from .model import find_module
from .model.routes import path_status, route_table
from .parsing import parse_file
from .procview import kill_matches, pattern_matches_text
from .source import SourceFile, decode
from .span import Span

COMMAND_KINDS = (kinds.SHELL, kinds.WORKFLOW, kinds.SYSTEMD, kinds.PROCFILE)
SHELL_KINDS = (kinds.SHELL, kinds.WORKFLOW, kinds.PROCFILE)  # run through a shell: we can add quotes
# Characters that make an unquoted word mean something else: to a shell; to systemd's own
# splitting (specifiers, variables); anywhere else (a PM2 `args` string), anything unusual.
SHELL_SPECIAL = re.compile(r"[()\[\]{}*?~$`\\\"'|&;<>!#\s]")
SPECIAL = {kinds.SHELL: SHELL_SPECIAL, kinds.WORKFLOW: SHELL_SPECIAL, kinds.PROCFILE: SHELL_SPECIAL,
           kinds.SYSTEMD: re.compile(r"[%$\\\"';\s]")}
PLAIN_WORD = re.compile(r"[^A-Za-z0-9_.:/=,@+-]")
PM2_TEXT_FILES = (".js", ".cjs", ".mjs", ".json")
PLAIN_PATH = re.compile(r"/[A-Za-z0-9._~/-]*")  # a health path we may add as a Flask rule as is
HEALTH_NAMES = ("health", "health_check", "healthcheck")
ROUTE_DECORATORS = {"route", "get", "post", "put", "delete", "patch"}


@dataclass(frozen=True, slots=True)
class TextEdit:
    start: int  # offsets into the file's text
    end: int
    text: str


@dataclass(slots=True)
class Change:
    """One fix in one file. `verify(old_facts, new_facts)` proves the file now says what was meant."""

    rule: str
    finding: Span
    path: str
    note: str  # what was done, for the log
    verify: Callable[[object, object], bool] | None = None  # for Python files; others use `expected`
    edit: TextEdit | None = None  # located by span in the text sc-audit read
    transform: Callable[[str], str | None] | None = None  # located by content (libcst)
    key: tuple = ()  # two findings with one fix (SC601 and SC602 on one route) apply it once
    expected: dict = field(default_factory=dict)  # for command and PM2 files, see _verify_file


class NotFixed(Exception):
    """Raised by a fixer with the reason it leaves a finding alone."""


def apply_fixes(report, write: bool, log=None, applied: list | None = None) -> str:
    """Fix what can be proven safe. Returns a unified diff of every change (paths a/…, b/…);
    writes the files only when `write`. What was fixed, and what not and why, goes to `log`;
    with `applied`, the changes made (or that would be) are appended to it instead of logged, for
    the caller to say which of them removed their finding."""
    log = log if log is not None else sys.stderr
    sources = {f.path: f for f in report.files}
    changes: list[Change] = []
    seen_keys = set()
    for finding in report.findings:
        fixer = FIXERS.get(finding.rule)
        if fixer is None:
            continue
        where = f"{finding.rule} {finding.span.path}:{finding.span.line}"
        try:
            change = fixer(report, finding, sources)
        except NotFixed as reason:
            print(f"sc-audit: not fixed: {where}: {reason}", file=log)
            continue
        except Exception as error:  # a fixer bug costs its fix, never the others
            print(f"sc-audit: not fixed: {where}: internal error ({type(error).__name__}: {error})", file=log)
            continue
        if change.key and change.key in seen_keys:
            continue
        seen_keys.add(change.key)
        changes.append(change)

    patches = []
    for path in sorted({c.path for c in changes}):
        file_changes = [c for c in changes if c.path == path]
        src = sources[path]
        new_text, problem = _changed_text(src, file_changes)
        if problem is None and write:
            problem = _write(report.root, src, new_text)
        if problem:
            for change in file_changes:
                print(f"sc-audit: not fixed: {change.rule} {change.finding.path}:{change.finding.line}: {problem}",
                      file=log)
            continue
        patches.append(_unified_diff(path, src.text, new_text))
        if applied is not None:
            applied.extend(file_changes)
            continue
        for change in file_changes:
            verb = "fixed" if write else "would fix"
            print(f"sc-audit: {verb} {change.rule} {change.finding.path}:{change.finding.line}: {change.note}",
                  file=log)
    return "".join(patches)


# ---------------------------------------------------------------------------- applying and proving


def _changed_text(src: SourceFile, changes: list[Change]) -> tuple[str, str | None]:
    """The file's new text, or the reason the changes cannot be kept."""
    text = src.text
    edits = sorted({c.edit for c in changes if c.edit is not None}, key=lambda e: e.start, reverse=True)
    for later, earlier in zip(edits, edits[1:]):
        if earlier.end > later.start:
            return text, "two fixes overlap in this file"
    for edit in edits:
        text = text[:edit.start] + edit.text + text[edit.end:]
    for change in changes:
        if change.transform is not None:
            try:
                text = change.transform(text)
            except Exception as error:  # libcst on code we did not expect: leave the file alone
                return src.text, f"internal error ({type(error).__name__}: {error})"
            if text is None:
                return src.text, "the code is not in the shape the fix needs"
    if text == src.text:
        return text, "nothing to change"
    problem = _verify_file(src, text, changes)
    return text, problem


def _verify_file(src: SourceFile, new_text: str, changes: list[Change]) -> str | None:
    """Read the new text with sc-audit's own parser: it must parse as well as before, and each
    change must show in the facts exactly as meant."""
    if src.kind in (kinds.PYTHON_APP, kinds.GUNICORN_CONFIG):
        try:
            compile(new_text, src.path, "exec", dont_inherit=True)  # compiled, never run
        except (SyntaxError, ValueError) as error:
            return f"the fixed file would not compile ({error})"
    old_facts, _ = parse_file(src)
    new_facts, _ = parse_file(dataclasses.replace(src, text=new_text))
    if len(getattr(new_facts, "errors", ())) > len(getattr(old_facts, "errors", ())):
        return "the fixed file would not parse"
    if src.kind in COMMAND_KINDS:
        replacements = [item for c in changes for item in c.expected.get("words", ())]
        if _argvs(new_facts) != _argvs(old_facts, replacements):
            return "the fixed commands would not read as intended"
    if src.kind == kinds.PM2:
        overrides = [item for c in changes for item in c.expected.get("fields", ())]
        if _pm2_values(new_facts) != _pm2_values(old_facts, overrides):
            return "the fixed PM2 apps would not read as intended"
    if not all(change.verify(old_facts, new_facts) for change in changes if change.verify):
        return "the fixed file would not say what the fix means"
    return None


def _argvs(facts, replacements=()) -> list[tuple[int, tuple[str, ...]]]:
    """(line, argv) of every command; with replacements (line, old word, new word) applied, also
    inside a word that holds a whole command (`ssh host "pkill -f 'x'"`)."""
    commands = list(getattr(facts, "commands", None) or getattr(facts, "exec_start", None) or [])
    for line_commands in (getattr(facts, "processes", None) or {}).values():
        commands += line_commands
    result = []
    for command in commands:
        argv = command.argv
        for line, old, new in replacements:
            if command.span.line == line:
                argv = tuple(word.replace(old, new) for word in argv)
        result.append((command.span.line, argv))
    return result


def _pm2_values(facts, overrides=()) -> list[dict]:
    apps = [{key: located.value for key, located in app.fields.items()} for app in facts.apps]
    for index, key, value in overrides:
        apps[index][key] = value
    return apps


def _unified_diff(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"a/{path}", tofile=f"b/{path}")
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def _write(root, src: SourceFile, new_text: str) -> str | None:
    """Write with the file's own encoding and line endings; refuse if it changed since it was read."""
    target = root / src.path
    try:
        data = target.read_bytes()
    except OSError as error:
        return f"cannot read it again ({error.strerror})"
    text, encoding = decode(data)
    if text != src.text:
        return "the file changed since it was read"
    if encoding == "utf-16" or b"\r" in data.replace(b"\r\n", b""):
        return "its encoding or line endings cannot be written back exactly"
    if b"\r\n" in data:
        if data.count(b"\r\n") != data.count(b"\n"):
            return "it mixes line endings"
        new_text = new_text.replace("\n", "\r\n")
    try:
        target.write_bytes(new_text.encode(encoding))
    except (OSError, UnicodeEncodeError) as error:
        return f"cannot write it ({error})"
    return None


def _offset(text: str, line: int, column: int) -> int:
    lines = text.split("\n")
    if not 0 < line <= len(lines):
        raise NotFixed("its location is not in the file")
    return sum(len(x) + 1 for x in lines[:line - 1]) + column - 1


def _span_region(text: str, span: Span) -> tuple[int, int]:
    start = _offset(text, span.line, span.column)
    end = _offset(text, span.end_line, span.end_column) if span.end_column else start
    return start, max(start, end)


def _replace_word(src: SourceFile, span: Span, old: str, new: str) -> TextEdit:
    """Replace the one occurrence of the word `old` inside `span`, keeping its quotes."""
    start, end = _span_region(src.text, span)
    region = src.text[start:end]
    hits = [m.start() for m in re.finditer(re.escape(old), region)
            if _bounded(region, m.start() - 1) and _bounded(region, m.end())]
    if len(hits) != 1:
        raise NotFixed(f"`{old}` is not written once, as is, in the command")
    at = hits[0]
    before, after = region[at - 1:at], region[at + len(old):at + len(old) + 1]
    quoted = before in "\"'" and before and before == after
    if not quoted and SPECIAL.get(src.kind, PLAIN_WORD).search(new):
        if src.kind not in SHELL_KINDS:
            raise NotFixed(f"`{new}` would need quoting in {src.path}")
        new = f"'{new}'"
    if quoted and (before in new or (before == '"' and re.search(r'[$`]|\\[$`"\\]', new))):
        raise NotFixed(f"`{new}` cannot go inside {before}…{before} as is")
    return TextEdit(start + at, start + at + len(old), new)


def _bounded(region: str, index: int) -> bool:
    return index < 0 or index >= len(region) or region[index] in " \t\n\"'="


# ---------------------------------------------------------------------------- SC101 / SC103


def fix_wsgi_target(report, finding, sources) -> Change:
    model = report.model
    target = next((t for t in model.wsgi_targets if t.span == finding.span), None)
    parsed = parse_target(target.text) if target else None
    if parsed is None:
        raise NotFixed("the WSGI target is not one sc-audit can read")
    module = find_module(model, target.base_dir, parsed.module)
    if module is None or module.errors:
        raise NotFixed(f"module `{parsed.module}` is not read in full from the working directory")
    new = _right_target(finding.rule, parsed, module)
    src = sources.get(target.span.path)
    if src is None:
        raise NotFixed(f"{target.span.path} was not read")
    note = f"WSGI target `{target.text}` → `{new}`"
    if src.kind == kinds.GUNICORN_CONFIG:
        def verify(old, facts):
            value = facts.settings.get("wsgi_app")
            return value is not None and value.value == new

        return Change(finding.rule, finding.span, src.path, note, verify,
                      transform=lambda text: _set_config_string(text, "wsgi_app", target.text, new, target.span.line))
    span = target.span
    if src.kind == kinds.PM2:
        app = next((a for _, a in model.pm2_apps() if a.span == span), None)
        args = app.fields.get("args") if app else None
        if args is None or not isinstance(args.value, str):
            raise NotFixed("the target is not in a PM2 `args` string")
        position = [a for p, a in model.pm2_apps() if p == src.path].index(app)
        edit = _replace_word(src, args.span, target.text, new)
        replaced = args.value.replace(target.text, new)
        return Change(finding.rule, finding.span, src.path, note, edit=edit,
                      expected={"fields": [(position, "args", replaced)]})
    if src.kind not in COMMAND_KINDS:
        raise NotFixed(f"sc-audit does not edit {src.kind} files")
    edit = _replace_word(src, span, target.text, new)
    return Change(finding.rule, finding.span, src.path, note, edit=edit,
                  expected={"words": [(span.line, target.text, new)]})


def _right_target(rule: str, parsed, module) -> str:
    if rule == "SC103":
        function = module.functions.get(parsed.attr)
        if function is None or function.required_params:
            raise NotFixed(f"`{parsed.attr}` needs arguments sc-audit cannot choose")
        return f"{parsed.module}:{parsed.attr}()"
    apps = [a.name for a in module.apps if a.in_function is None]
    factories = [f.name for f in module.functions.values() if f.returns_app]
    if len(apps) + len(factories) != 1:
        raise NotFixed(f"`{module.path}` does not define exactly one app object or factory to point at")
    if apps:
        return f"{parsed.module}:{apps[0]}"
    factory = module.functions[factories[0]]
    if factory.required_params:
        raise NotFixed(f"the factory `{factory.name}` needs arguments sc-audit cannot choose")
    return f"{parsed.module}:{factory.name}()"


def _set_config_string(text: str, name: str, old: str, new: str, line: int) -> str | None:
    """`NAME = "old"` at module level on `line` -> `NAME = "new"`, same quotes; None if not so written."""
    try:
        wrapper = MetadataWrapper(cst.parse_module(text))
    except cst.ParserSyntaxError:
        return None
    module = wrapper.module
    positions = wrapper.resolve(PositionProvider)
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine) or positions[statement].start.line != line:
            continue
        if len(statement.body) != 1:
            return None
        assign = statement.body[0]
        targets_ = [t.target for t in assign.targets] if isinstance(assign, cst.Assign) else \
            [assign.target] if isinstance(assign, cst.AnnAssign) else []
        value = getattr(assign, "value", None)
        if [getattr(t, "value", None) for t in targets_] != [name] or not isinstance(value, cst.SimpleString):
            return None
        if value.evaluated_value != old or value.quote in new or "\\" in new:
            return None
        replaced = value.with_changes(value=f"{value.prefix}{value.quote}{new}{value.quote}")
        return module.deep_replace(value, replaced).code
    return None


# ---------------------------------------------------------------------------- SC601 / SC602


def fix_health_route(report, finding, sources) -> Change:
    model = report.model
    if finding.rule == "SC601":
        found = next(((endpoints, path) for step, endpoints, path in health_requests(model)
                      if step.command.span == finding.span), None)
        if found is None:
            raise NotFixed("the health check is not in the model")
        endpoints, path = found
        apps = {(m.path, name): (m, name) for m, name in (app_behind(model, p)
                                                          for p in processes_at(model, endpoints)) if m}
        if len(apps) != 1:
            raise NotFixed("the port is not served by exactly one app sc-audit can read")
        module, app_name = next(iter(apps.values()))
    else:
        related = {r.span for r in finding.related}
        process = next((p for p in model.processes if p.span in related), None)
        module, app_name = app_behind(model, process) if process else (None, None)
        path = "/health"
        if module is None:
            raise NotFixed("the app behind the service is not one sc-audit can read (fix its WSGI target first); "
                           "add the health check to the deploy yourself")
    if not PLAIN_PATH.fullmatch(path):
        raise NotFixed(f"`{path}` is not a plain path to add as a route")
    app = next((a for a in module.apps if a.name == app_name and a.in_function is None), None)
    if app is None or app.framework != "flask":
        raise NotFixed(f"`{app_name}` in {module.path} is not a module-level Flask app")
    status = path_status(route_table(model, module, app_name), path)
    if status == "unknown":
        raise NotFixed(f"not every route of `{app_name}` in {module.path} is known")
    if status == "routed":
        raise NotFixed(f"`{app_name}` already routes `{path}`; add the health check to the deploy yourself")
    if sources.get(module.path) is None:
        raise NotFixed(f"{module.path} was not read")
    taken = set(module.names) | set(module.functions) | set(module.imports)
    function = next((n for n in (*HEALTH_NAMES, *(f"health_{i}" for i in range(2, 100))) if n not in taken))

    def verify(old, facts):
        return any(r.app == app_name and r.path == path and r.function == function for r in facts.routes)

    note = f"new route `@{app_name}.route(\"{path}\")` in {module.path}"
    if finding.rule == "SC602":
        note += ("; the deploy still does not check it: add the health check command yourself (sc-audit does not "
                 "edit deploy commands it cannot prove)")
    return Change(finding.rule, finding.span, module.path, note, verify,
                  transform=lambda text: _add_route(text, app_name, path, function),
                  key=("route", module.path, app_name, path))


def _add_route(text: str, app_name: str, path: str, function: str) -> str | None:
    """A `@APP.route(PATH)` view returning {"status": "ok"} after the app's last route (else after the
    app is created), with the module's quotes, indentation and blank lines."""
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return None
    if sum(_assigns(statement, app_name) for statement in module.body) != 1:
        return None  # the app is created in a branch, or rebound (wrapped) later
    anchor, quote = None, '"'
    for index, statement in enumerate(module.body):
        if isinstance(statement, cst.FunctionDef):
            for decorator in statement.decorators:
                if _route_decorator(decorator, app_name):
                    anchor = index
                    quote = _first_string_quote(decorator) or quote
        elif anchor is None and _assigns(statement, app_name):
            anchor = index
    if anchor is None:
        return None
    indent = module.default_indent
    code = (f"@{app_name}.route({quote}{path}{quote})\ndef {function}():\n"
            f"{indent}return {{{quote}status{quote}: {quote}ok{quote}}}\n")
    view = cst.parse_statement(code, config=module.config_for_parsing)
    previous = module.body[anchor]
    blank = sum(1 for line in previous.leading_lines if line.comment is None) \
        if isinstance(previous, cst.FunctionDef) else 2
    view = view.with_changes(leading_lines=[cst.EmptyLine()] * blank)
    body = list(module.body)
    body.insert(anchor + 1, view)
    return module.with_changes(body=body).code


def _route_decorator(decorator: cst.Decorator, app_name: str) -> bool:
    call = decorator.decorator
    return isinstance(call, cst.Call) and isinstance(call.func, cst.Attribute) and \
        isinstance(call.func.value, cst.Name) and call.func.value.value == app_name and \
        call.func.attr.value in ROUTE_DECORATORS


def _first_string_quote(decorator: cst.Decorator) -> str | None:
    args = decorator.decorator.args
    if args and isinstance(args[0].value, cst.SimpleString):
        return args[0].value.quote if args[0].value.quote in ("'", '"') else None
    return None


def _assigns(statement, name: str) -> bool:
    return isinstance(statement, cst.SimpleStatementLine) and any(
        isinstance(s, cst.Assign) and any(isinstance(t.target, cst.Name) and t.target.value == name
                                          for t in s.targets) for s in statement.body)


# ---------------------------------------------------------------------------- SC205


def fix_pm2_interpreter(report, finding, sources) -> Change:
    found = next(((path, a) for path, a in report.model.pm2_apps()
                  if a.fields.get("script") is not None and a.fields["script"].span == finding.span), None)
    if found is None:
        raise NotFixed("the PM2 app is not in the model")
    path, app = found
    script = app.get("script")
    venv = posixpath.basename(posixpath.dirname(posixpath.dirname(script)))
    if posixpath.basename(script) not in PYTHON_ENTRY_POINTS or posixpath.basename(posixpath.dirname(script)) != "bin" \
            or not re.search(r"venv|virtualenv|^\.?env$", venv):
        raise NotFixed(f"`{script}` is not an entry point in a virtualenv's bin/ (set `interpreter` yourself)")
    src = sources.get(path)
    if src is None or not path.endswith(PM2_TEXT_FILES):
        raise NotFixed("sc-audit only edits JS and JSON ecosystem files")
    span = app.fields["script"].span
    lines = src.text.split("\n")
    line = lines[span.line - 1]
    head, tail = line[:span.column - 1], line[span.end_column - 1:]
    key = re.fullmatch(r"(\s*)(script|'script'|\"script\")(\s*:\s*)", head)
    if span.end_line != span.line or key is None or tail.strip() not in ("", ","):
        raise NotFixed("the `script:` property is not alone on its line")
    indent, name, separator = key.groups()
    quote = line[span.column - 1]
    if quote not in "'\"":
        raise NotFixed("the script is not a plain string")
    prop = name.replace("script", "interpreter") + separator + f"{quote}none{quote}"
    end_of_line = _offset(src.text, span.line, len(line) + 1)
    if tail.strip() == ",":
        edit = TextEdit(end_of_line, end_of_line, f"\n{indent}{prop},")
    else:  # the last property: it gains a comma, the new one stays last
        value_end = _offset(src.text, span.line, span.end_column)
        edit = TextEdit(value_end, end_of_line, f"{tail.rstrip()},\n{indent}{prop}")
    position = [a for p, a in report.model.pm2_apps() if p == path].index(app)
    return Change("SC205", finding.span, path, f"`interpreter: 'none'` for PM2 app `{app.name}`",
                  edit=edit, expected={"fields": [(position, "interpreter", "none")]})


# ---------------------------------------------------------------------------- SC501


def fix_kill_pattern(report, finding, sources) -> Change:
    model = report.model
    found = [k for k in kills(model) if k.step.command.span == finding.span]
    if len(found) != 1 or found[0].command.tool not in ("pkill", "pgrep") or \
            found[0].command.pattern not in found[0].step.command.argv:
        raise NotFixed("the kill is not one pkill/pgrep pattern sc-audit can rewrite")
    kill = found[0]
    src = sources.get(finding.span.path)
    if src is None or src.kind not in (kinds.SHELL, kinds.WORKFLOW):
        raise NotFixed("sc-audit only rewrites kills in shell scripts and workflows")
    aimed = targets(model, kill)
    old = kill.command.pattern
    for candidate in _candidates(kill, aimed):
        new_kill = dataclasses.replace(kill, command=dataclasses.replace(kill.command, pattern=candidate))
        if _selects_only(model, new_kill, aimed, old):
            edit = _replace_word(src, finding.span, old, candidate)
            names = ", ".join(f"`{p.name}`" for p in aimed)
            return Change("SC501", finding.span, src.path, f"kill pattern `{old}` → `{candidate}` (proven to select "
                          f"{names}, and no other process)", edit=edit,
                          expected={"words": [(finding.span.line, old, candidate)]})
    raise NotFixed("no pattern provably selects its target in every world and nothing else; stop the service "
                   "through its manager")


def _candidates(kill, aimed) -> list[str]:
    """Patterns from words every view of the targets shows: `server\\.js`, then `[s]erver\\.js`
    (a bracket keeps the pattern from matching the shell that runs it)."""
    subjects = [v.cmdline if kill.command.full else v.comm for p in aimed for v in p.views if v.role == "main"]
    if not subjects:
        return []
    words = {w for w in re.findall(r"[A-Za-z0-9_][A-Za-z0-9_.:-]*", subjects[0])
             if len(w) >= 3 and w.lower() not in GENERIC_WORDS and all(w in s for s in subjects)}
    original = pattern_words(kill.command.pattern)
    ordered = sorted(words, key=lambda w: (w.lower() not in original, -len(w), w))
    patterns = []
    for word in ordered:
        escaped = word.replace(".", "\\.")
        patterns += [escaped, f"[{escaped[0]}]{escaped[1:]}"]
    return patterns


def _selects_only(model, kill, aimed, old_pattern: str) -> bool:
    """The kill selects each target's main process in every world, and no other process of the
    deployment, no usual bystander, and not the shell that runs it."""
    if {id(p) for p in targets(model, kill)} != {id(p) for p in aimed}:
        return False  # the checks would take it as aimed elsewhere
    for process in aimed:
        worlds = {v.world for v in process.views}
        if not worlds or not all(match_in_world(kill, process, w) is True for w in worlds):
            return False
    for process in model.processes:
        if any(process is p for p in aimed) or not process.views:
            continue
        if any(match_in_world(kill, process, w) is not False for w in {v.world for v in process.views}):
            return False
    if any(kill_matches(kill.command, view) is not False for _, view in BYSTANDERS):
        return False
    session = kill.step.command.context.cmdline
    if session is not None:
        for text in (session, session.replace(old_pattern, kill.command.pattern)):
            if pattern_matches_text(kill.command, text):
                return False
    return True


FIXERS = {"SC101": fix_wsgi_target, "SC103": fix_wsgi_target, "SC205": fix_pm2_interpreter,
          "SC501": fix_kill_pattern, "SC601": fix_health_route, "SC602": fix_health_route}
