"""The `sc-audit` command line: a thin layer over `sc_audit.audit`.

Exit codes (like ruff's): 0 nothing at or above `--fail-on`, 1 findings, 2 usage or internal error.
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Pre-deploy audit for Python web apps under Gunicorn, PM2/systemd and Nginx.")


Format = Enum("Format", {name: name for name in ("text", "concise", "json", "sarif", "github", "junit")}, type=str)


class ListFormat(str, Enum):
    text = "text"
    json = "json"


class GraphFormat(str, Enum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


class Severity(str, Enum):
    error = "error"
    warning = "warning"
    info = "info"


def _version(value: bool) -> None:
    if value:
        print(f"sc-audit {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Pre-deploy audit for Python web apps under Gunicorn, PM2/systemd and Nginx."""


def _codes(values: Optional[List[str]]) -> tuple[str, ...]:
    """Codes, prefixes or rule names, comma-separated or repeated; one that selects no rule is a
    usage error (exit 2), as it is in the configuration file."""
    from .config import selector

    codes: list[str] = []
    for value in values or ():
        for part in (v.strip() for v in value.split(",")):
            if part:
                try:
                    codes.append(selector(part))
                except ValueError as problem:
                    fail(str(problem))
    return tuple(codes)


def fail(message: str) -> None:
    print(f"sc-audit: error: {message}", file=sys.stderr)
    raise typer.Exit(2)


def _globs(values: Optional[List[str]]) -> tuple[str, ...]:
    return tuple(part.strip() for value in values or () for part in value.split(",") if part.strip())


CONFIG_NAMES = ("pyproject.toml", "sc-audit.toml", ".sc-audit.toml")


@app.command()
def check(
    paths: Optional[List[Path]] = typer.Argument(
        None, readable=False,  # unreadable: our one-line error, not click's box
        help="What to report: the repository (default: .), or directories and files in it; `-` reads "
             "stdin (with --stdin-filename). The whole repository is always audited."),
    root_option: Optional[Path] = typer.Option(
        None, "--root", help="The repository root (default: found by walking up from the first PATH)."),
    stdin_filename: Optional[Path] = typer.Option(
        None, "--stdin-filename", help="The path of the file whose text `-` reads from stdin."),
    changed: bool = typer.Option(
        False, "--changed", help="The PATHs are the files a change touched (pre-commit): report the findings "
                                 "at them or involving them; a configuration file among them reports all."),
    output_format: Format = typer.Option(Format.text, "--format", help="Output format."),
    select: Optional[List[str]] = typer.Option(None, help="Only these codes or prefixes (comma-separated)."),
    ignore: Optional[List[str]] = typer.Option(None, help="Skip these codes or prefixes (comma-separated)."),
    extend_select: Optional[List[str]] = typer.Option(None, "--extend-select", help="Add these codes or prefixes."),
    fail_on: Optional[Severity] = typer.Option(None, "--fail-on",
                                               help="Lowest severity that fails (exit 1); default warning."),
    baseline: Optional[Path] = typer.Option(None, "--baseline", help="Report only findings not in this baseline."),
    write_baseline: Optional[Path] = typer.Option(None, "--write-baseline",
                                                  help="Write the current findings to this baseline file and exit 0."),
    fix: bool = typer.Option(False, "--fix", help="Apply the safe fixes sc-audit can prove."),
    diff: bool = typer.Option(False, "--diff", help="Show the safe fixes as a diff; change nothing."),
    exclude: Optional[List[str]] = typer.Option(
        None, "--exclude", help="Glob patterns of paths not to read (comma-separated), in place of the configuration's."),
    extend_exclude: Optional[List[str]] = typer.Option(
        None, "--extend-exclude", help="Glob patterns of paths not to read, in addition to the configuration's."),
    respect_gitignore: Optional[bool] = typer.Option(
        None, "--respect-gitignore/--no-respect-gitignore",
        help="Skip what the repository's .gitignore files ignore (default: yes)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the parse cache."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on internal errors."),
) -> None:
    """Audit a deployment repository and report its problems."""
    from .api import audit
    from .config import ConfigError, load
    from .scope import ScopeError, find_root

    given = list(paths or [Path(".")])
    replace: dict[str, str] = {}
    if any(str(p) == "-" for p in given):
        if stdin_filename is None:
            fail("`-` reads a file's text from stdin: give its path with --stdin-filename")
        given = [stdin_filename if str(p) == "-" else p for p in given]
    selected, ignored, extended = _codes(select), _codes(ignore), _codes(extend_select)
    try:
        for path in given:
            if not path.exists() and path != stdin_filename:
                raise FileNotFoundError(path)
            if path.is_file():
                path.open("rb").close()  # a named file that cannot be read: one line, exit 2
        root = root_option.resolve() if root_option is not None else find_root(given[0])
        if not root.is_dir():
            fail(f"{root_option}: not a directory; --root is the repository's top directory")
        if stdin_filename is not None:
            rel = _relative(root, stdin_filename)
            replace[rel] = sys.stdin.read()
        config = load(root).override(select=selected, ignore=ignored, extend_select=extended,
                                     fail_on=fail_on.value if fail_on else None, exclude=_globs(exclude),
                                     respect_gitignore=respect_gitignore)
        if extend_exclude:
            config = config.override(exclude=config.exclude + _globs(extend_exclude))
        only = _report_paths(root, given, changed)
        report = audit(root, config, cache=not no_cache, only=only, replace=replace)
        if changed:
            report = _touching(report, root, given)
        else:
            _say_what_was_not_read(report, root, given, stdin_filename)
        if fix or diff:
            report = _fix(report, fix and not diff, lambda: audit(root, config, cache=not no_cache, only=only))
        if write_baseline is not None:
            from .baseline import write

            count = write(report, write_baseline)
            print(f"sc-audit: wrote {count} finding(s) to {write_baseline}", file=sys.stderr)
            raise typer.Exit(0)
        if baseline is not None:
            from .baseline import apply

            report = apply(report, baseline)
    except typer.Exit:
        raise
    except (ConfigError, ScopeError) as error:
        fail(f"{error}; fix the configuration" if isinstance(error, ConfigError) else str(error))
    except FileNotFoundError as error:
        fail(f"{error.args[0] if error.args else given[0]}: no such file or directory; give the path of the "
             "repository to audit, or of a file in it")
    except PermissionError as error:
        fail(f"{error.filename or given[0]}: permission denied; run sc-audit as a user who can read it")
    except Exception as error:  # the last line of defence: one line, exit 2
        if debug:
            raise
        fail(f"internal error: {type(error).__name__}: {error} (run with --debug for a traceback)")
    from .report import render

    render(output_format.value, report)
    raise typer.Exit(1 if report.failed(report.config.fail_on) else 0)


def _fix(report, write: bool, audit_again):
    """`--fix`: write the proven fixes, then audit again and say which findings they removed
    ("N fixed, M remaining"); a change after which its finding stays is not called fixed.
    `--diff` (also with `--fix`) writes nothing: the patch, and exit 1 when there is one."""
    from .fix import apply_fixes

    changes: list = []
    patch = apply_fixes(report, write=write, applied=changes)
    if not write:
        sys.stdout.write(patch)
        for change in changes:
            print(f"sc-audit: would fix {change.rule} {change.finding.path}:{change.finding.line}: {change.note}",
                  file=sys.stderr)
        raise typer.Exit(1 if patch else 0)
    after = audit_again()
    remaining = {(f.rule, f.span.path, f.span.line) for f in after.findings}
    for change in changes:
        where = f"{change.rule} {change.finding.path}:{change.finding.line}"
        if (change.rule, change.finding.path, change.finding.line) in remaining:
            print(f"sc-audit: changed, not fixed: {where}: {change.note}; the finding stays", file=sys.stderr)
        else:
            print(f"sc-audit: fixed {where}: {change.note}", file=sys.stderr)
    # a fix can remove more than its own finding (a right kill pattern no longer kills the session)
    after.fixed = len({(f.rule, f.span.path, f.span.line) for f in report.findings} - remaining)
    return after


def _relative(root: Path, path: Path) -> str:
    from .scope import ScopeError

    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError:
        raise ScopeError(f"{path}: outside the repository root {root}; give --root") from None


def _report_paths(root: Path, given: list[Path], changed: bool) -> list[Path] | None:
    """The paths whose findings are reported; None for the whole repository."""
    if changed:
        return None  # decided after the audit: what involves the changed files
    resolved = [p.resolve() for p in given]
    return None if all(p == root for p in resolved) else given


def _touching(report, root: Path, given: list[Path]):
    """The findings at a changed file or involving one (a change to app.py breaks the target in
    gunicorn.conf.py: that finding names app.py); every finding when the configuration changed."""
    import dataclasses

    rels = {_relative(root, p) for p in given}
    if rels & set(CONFIG_NAMES) or any(p.resolve() == root for p in given):
        return report
    findings = [f for f in report.findings
                if f.span.path in rels or any(r.span.path in rels for r in f.related)]
    shown = {f.span.path for f in findings} | rels
    from .scope import Filter

    return dataclasses.replace(report, findings=findings, scope=Filter(tuple(sorted(shown))),
                               skipped=[s for s in report.skipped if s.path in rels])


def _say_what_was_not_read(report, root: Path, given: list[Path], stdin_filename: Path | None) -> None:
    """A named file sc-audit does not read, or a directory without a deployment file, is an error:
    "no issues found" would turn a gate green on a typo."""
    read = {f.path for f in report.files} | {s.path for s in report.skipped}
    for path in given:
        if path.is_dir() or (path == stdin_filename and not path.exists()):
            continue
        rel = _relative(root, path)
        if rel not in read:
            fail(f"{path}: not a deployment file sc-audit reads (see `sc-audit check --show-files`), "
                 "or excluded by the configuration")
    if not report.shown_files and not report.skipped:
        where = ", ".join(str(p) for p in given)
        fail(f"no deployment files found under {where}: nothing to audit (sc-audit reads Gunicorn, PM2, "
             "systemd, Nginx, Procfile, shell and workflow files, and the apps they run)")


@app.command()
def rules(output_format: ListFormat = typer.Option(ListFormat.text, "--format", help="Output format.")) -> None:
    """List the rule catalog."""
    from . import catalog

    entries = catalog.load().values()
    if output_format is ListFormat.json:
        import json

        print(json.dumps([{"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary}
                          for r in entries], indent=2))
        return
    for rule in entries:
        print(f"{rule.code}  {rule.name:<28} {rule.severity:<8} {rule.summary}")


@app.command()
def explain(code: str = typer.Argument(..., help="A rule code, e.g. SC501.")) -> None:
    """Show a rule's documentation: what it does, why it matters, how to fix it."""
    from . import catalog

    rule = catalog.load().get(code.upper())
    if rule is None:
        fail(f"unknown rule {code!r}; `sc-audit rules` lists them")
    print(f"{rule.code} {rule.name} ({rule.severity})\n\n{rule.summary}\n\nWhy is this bad?\n{rule.why}\n\n"
          f"How to fix\n{rule.fix}")


@app.command()
def graph(
    path: Path = typer.Argument(Path("."), help="The repository to draw."),
    output_format: GraphFormat = typer.Option(GraphFormat.text, "--format", help="text, mermaid or dot."),
) -> None:
    """Draw the deployment: Nginx -> endpoint -> process -> app -> routes, deploy steps, findings."""
    from .api import audit
    from .config import ConfigError
    from .graph import render_graph

    try:
        report = audit(path)
    except FileNotFoundError:
        fail(f"{path}: no such file or directory; give the path of the repository to draw")
    except ConfigError as error:
        fail(f"{error}; fix the configuration")
    sys.stdout.write(render_graph(report, output_format.value))


def main() -> None:
    app()
