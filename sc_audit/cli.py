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
                  context_settings={"help_option_names": ["-h", "--help"]},
                  help="Pre-deploy audit for Python web apps under Gunicorn, PM2/systemd and Nginx.")


Format = Enum("Format", {name: name for name in ("text", "concise", "json", "sarif", "github", "junit")}, type=str)


class ListFormat(str, Enum):
    text = "text"
    json = "json"


class GraphFormat(str, Enum):
    text = "text"
    mermaid = "mermaid"
    dot = "dot"


class Colour(str, Enum):
    auto = "auto"
    always = "always"
    never = "never"


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
    version: bool = typer.Option(False, "--version", "-V", callback=_version, is_eager=True,
                                 help="Show the version."),
) -> None:
    """Pre-deploy audit for Python web apps under Gunicorn, PM2/systemd and Nginx."""


def fail(message: str) -> None:
    print(f"sc-audit: error: {message}", file=sys.stderr)
    raise typer.Exit(2)


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
    output_file: Optional[Path] = typer.Option(None, "--output-file", "-o",
                                               help="Write the report to this file instead of stdout."),
    exit_zero: bool = typer.Option(False, "--exit-zero", help="Exit 0 even when findings reach --fail-on."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print the findings and nothing else (no summary)."),
    statistics: bool = typer.Option(False, "--statistics", help="Print the number of findings of each rule."),
    show_files: bool = typer.Option(False, "--show-files",
                                    help="List the files sc-audit reads, with their kind, and exit."),
    colour: Colour = typer.Option(Colour.auto, "--color", help="Colour the text output: auto, always or never."),
    debug: bool = typer.Option(False, "--debug", help="Show a traceback on internal errors."),
) -> None:
    """Audit a deployment repository and report its problems."""
    from . import checking

    try:
        checking.check(
            paths, root_option, stdin_filename, changed, output_format.value, select, ignore, extend_select,
            fail_on.value if fail_on else None, baseline, write_baseline, fix, diff, exclude, extend_exclude,
            respect_gitignore, no_cache, output_file, exit_zero, quiet, statistics, show_files, colour.value, debug)
    except checking.Exit as done:
        raise typer.Exit(done.exit_code) from None


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
def explain(code: str = typer.Argument(..., help="A rule code or name, e.g. SC501 or kill-misses-process.")) -> None:
    """Show a rule's documentation: what it does, why it matters, how to fix it, and its examples."""
    from . import catalog

    rules = catalog.load()
    by_name = {rule.name: rule for rule in rules.values()}
    rule = rules.get(code.upper()) or by_name.get(code.lower())
    if rule is None:
        fail(f"unknown rule {code!r}; `sc-audit rules` lists them")
    print(f"{rule.code} {rule.name} ({rule.severity})\n\n{rule.summary}\n\nWhy is this bad?\n{rule.why}\n\n"
          f"How to fix\n{rule.fix}")
    for example in rule.examples:
        verdict = f"raises {', '.join(example.expect)}" if example.expect else f"does not raise {rule.code}"
        print(f"\nExample: {example.name} ({verdict})")
        for path, text in example.files.items():
            body = "\n".join("    " + line for line in text.strip("\n").splitlines())
            print(f"  {path}:\n{body}")


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
