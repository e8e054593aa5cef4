"""`sc-audit` and `python -m sc_audit`: answer `--version` and `rules` before importing typer.

Importing typer (and click) takes longer than everything these two commands do. Any other
command line goes to the typer app in cli.py, which stays the reference: the answers here
are its answers, byte for byte and exit code for exit code (tests/test_fast_path.py runs both).
"""

from __future__ import annotations

import os
import sys

RULES_FORMATS = {(): "text", ("--format", "text"): "text", ("--format", "json"): "json",
                 ("--format=text",): "text", ("--format=json",): "json"}


def main() -> None:
    if not fast_path(sys.argv[1:]):
        from .cli import main as typer_main

        typer_main()


def fast_path(args: list[str]) -> bool:
    """Answer the command line here when it is one of the few that need no option parsing."""
    if any(name.startswith("_") and name.endswith("_COMPLETE") for name in os.environ):
        return False  # click's shell completion protocol: leave it to click
    if args in (["--version"], ["-V"]):
        from . import __version__

        print(f"sc-audit {__version__}")
        return True
    if args[:1] == ["rules"] and tuple(args[1:]) in RULES_FORMATS:
        print_rules(RULES_FORMATS[tuple(args[1:])])
        return True
    return False


def print_rules(output_format: str) -> None:
    """As `sc-audit rules` in cli.py prints them."""
    from . import catalog

    entries = catalog.load().values()
    if output_format == "json":
        import json

        print(json.dumps([{"code": r.code, "name": r.name, "severity": r.severity, "summary": r.summary}
                          for r in entries], indent=2))
        return
    for rule in entries:
        print(f"{rule.code}  {rule.name:<28} {rule.severity:<8} {rule.summary}")


if __name__ == "__main__":
    # `python -m` puts the working directory first on sys.path: run inside the audited repository,
    # its own `yaml.py` or `typer.py` would be imported, and run, in place of ours.
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    main()
