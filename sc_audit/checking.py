"""`sc-audit check`, without the command-line parser: cli.py (typer) and the fast path in
__main__.py both call `check`, so the two give the same answers byte for byte.

A usage or internal error prints one line and raises Exit(2), as click's exit does in cli.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

from . import fs


class Exit(Exception):
    """Leave with this exit code (cli.py turns it into typer.Exit)."""

    def __init__(self, code: int = 0) -> None:
        super().__init__(code)
        self.exit_code = code


def _codes(values: list[str] | None) -> tuple[str, ...]:
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
    raise Exit(2)


def _globs(values: list[str] | None) -> tuple[str, ...]:
    return tuple(part.strip() for value in values or () for part in value.split(",") if part.strip())


CONFIG_NAMES = ("pyproject.toml", "sc-audit.toml", ".sc-audit.toml")


def check(paths: list[Path] | None = None, root_option: Path | None = None, stdin_filename: Path | None = None,
          changed: bool = False, output_format: str = "text", select: list[str] | None = None,
          ignore: list[str] | None = None, extend_select: list[str] | None = None, fail_on: str | None = None,
          baseline: Path | None = None, write_baseline: Path | None = None, fix: bool = False,
          diff: bool = False, exclude: list[str] | None = None, extend_exclude: list[str] | None = None,
          respect_gitignore: bool | None = None, no_cache: bool = False, output_file: Path | None = None,
          exit_zero: bool = False, quiet: bool = False, statistics: bool = False, show_files: bool = False,
          colour: str = "auto", debug: bool = False) -> None:
    """Audit a deployment repository and report its problems; always ends by raising Exit."""
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
            if not fs.exists(path) and path != stdin_filename:
                raise FileNotFoundError(path)
            fs.check_readable(path)  # a named file that cannot be read: one line, exit 2
        root = fs.resolve(root_option) if root_option is not None else find_root(given[0])
        if not fs.is_dir(root):
            fail(f"{root_option}: not a directory; --root is the repository's top directory")
        if stdin_filename is not None:
            rel = _relative(root, stdin_filename)
            replace[rel] = sys.stdin.read()
        config = load(root).override(select=selected, ignore=ignored, extend_select=extended,
                                     fail_on=fail_on, exclude=_globs(exclude),
                                     respect_gitignore=respect_gitignore)
        if extend_exclude:
            config = config.override(exclude=config.exclude + _globs(extend_exclude))
        only = _report_paths(root, given, changed)
        report = audit(root, config, cache=not no_cache, only=only, replace=replace)
        if show_files:
            for src in report.shown_files:
                print(f"{src.path}  ({src.kind})")
            raise Exit(0)
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
            raise Exit(0)
        if baseline is not None:
            from .baseline import apply

            report = apply(report, baseline)
    except Exit:
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
    _output(report, output_format, output_file, quiet, statistics, colour, debug)
    # an incomplete audit is never a pass, not even with --exit-zero: something was not read
    raise Exit(1 if report.incomplete or (report.failed(report.config.fail_on) and not exit_zero) else 0)


def _output(report, output_format: str, output_file: Path | None, quiet: bool, statistics: bool,
            colour: str, debug: bool = False) -> None:
    import io

    from .report import render, text

    text.FORCED_COLOUR = {"always": True, "never": False}.get(colour)
    try:  # a stdout that cannot encode a character (ascii, euc-kr, cp1252) degrades it, never crashes
        sys.stdout.reconfigure(errors="replace")
    except (AttributeError, ValueError):
        pass
    buffer = io.StringIO() if (quiet or statistics or output_file is not None) else None
    stream = buffer if buffer is not None else sys.stdout
    try:
        if statistics:
            _statistics(report, stream)
        else:
            render(output_format, report, stream)
    except Exception as error:
        if debug:
            raise
        fail(f"internal error while writing the report: {type(error).__name__}: {error}")
    if buffer is None:
        return
    written = buffer.getvalue()
    if quiet and output_format in ("text", "concise") or quiet and statistics:
        lines = written.splitlines(keepends=True)
        written = "".join(lines[:-1]).rstrip("\n") + "\n" if len(lines) > 1 else ""
    if output_file is not None:
        try:
            output_file.write_text(written, encoding="utf-8")
        except OSError as error:
            fail(f"{output_file}: cannot write the report ({error.strerror or error})")
    else:
        sys.stdout.write(written)


def _statistics(report, stream) -> None:
    """As ruff's `--statistics`: one line per rule, most frequent first, then the summary."""
    from collections import Counter

    from .report.text import summary

    counts = Counter((f.rule, f.name) for f in report.findings)
    for (code, name), count in sorted(counts.items(), key=lambda item: (-item[1], item[0])):
        stream.write(f"{count:>5}  {code}  {name}\n")
    stream.write(summary(report) + "\n")


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
        raise Exit(1 if patch else 0)
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
        return fs.resolve(path).relative_to(root).as_posix()
    except ValueError:
        raise ScopeError(f"{path}: outside the repository root {root}; give --root") from None


def _report_paths(root: Path, given: list[Path], changed: bool) -> list[Path] | None:
    """The paths whose findings are reported; None for the whole repository."""
    if changed:
        return None  # decided after the audit: what involves the changed files
    resolved = [fs.resolve(p) for p in given]
    return None if all(p == root for p in resolved) else given


def _touching(report, root: Path, given: list[Path]):
    """The findings at a changed file or involving one (a change to app.py breaks the target in
    gunicorn.conf.py: that finding names app.py); every finding when the configuration changed."""
    import dataclasses

    rels = {_relative(root, p) for p in given}
    if rels & set(CONFIG_NAMES) or any(fs.resolve(p) == root for p in given):
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
        if fs.is_dir(path) or (path == stdin_filename and not fs.exists(path)):
            continue
        rel = _relative(root, path)
        if rel not in read:
            fail(f"{path}: not a deployment file sc-audit reads (see `sc-audit check --show-files`), "
                 "or excluded by the configuration")
    if not report.shown_files and not report.skipped:
        where = ", ".join(str(p) for p in given)
        fail(f"no deployment files found under {where}: nothing to audit (sc-audit reads Gunicorn, PM2, "
             "systemd, Nginx, Procfile, shell and workflow files, and the apps they run)")
