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
    codes: list[str] = []
    for value in values or ():
        codes += [v.strip().upper() for v in value.split(",") if v.strip()]
    return tuple(codes)


def fail(message: str) -> None:
    print(f"sc-audit: error: {message}", file=sys.stderr)
    raise typer.Exit(2)


@app.command()
def check(
    path: Path = typer.Argument(Path("."), readable=False,  # unreadable: our one-line error, not click's box
                                help="The repository (or one file) to audit."),
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
    no_cache: bool = typer.Option(False, "--no-cache", help="Do not read or write the parse cache."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on internal errors."),
) -> None:
    """Audit a deployment repository and report its problems."""
    from .api import audit
    from .config import ConfigError, load

    try:
        config = load(path) if path.exists() else None
        if config is not None:
            config = config.override(select=_codes(select), ignore=_codes(ignore),
                                     extend_select=_codes(extend_select),
                                     fail_on=fail_on.value if fail_on else None)
        report = audit(path, config, cache=not no_cache)
        if fix or diff:
            from .fix import apply_fixes

            patch = apply_fixes(report, write=fix)
            if diff:
                sys.stdout.write(patch)
                raise typer.Exit(0)
            report = audit(path, config, cache=not no_cache)  # what is left after the fixes
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
    except ConfigError as error:
        fail(f"{error}; fix the configuration")
    except FileNotFoundError:
        fail(f"{path}: no such file or directory; give the path of the repository to audit")
    except PermissionError:
        fail(f"{path}: permission denied; run sc-audit as a user who can read it")
    except Exception as error:  # the last line of defence: one line, exit 2
        if debug:
            raise
        fail(f"internal error: {type(error).__name__}: {error} (run with --debug for a traceback)")
    from .report import render

    try:  # a stdout that cannot encode a character (ascii, euc-kr, cp1252) degrades it, never crashes
        sys.stdout.reconfigure(errors="replace")
    except (AttributeError, ValueError):
        pass
    try:
        render(output_format.value, report)
    except Exception as error:
        if debug:
            raise
        fail(f"internal error while writing the report: {type(error).__name__}: {error}")
    raise typer.Exit(1 if report.failed(report.config.fail_on) else 0)


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
