"""`sc-audit` and `python -m sc_audit`: answer `--version`, `rules` and plain `check` lines
before importing typer; a plain `check` whose inputs have not changed since it last ran is
answered from the whole-report cache (answers.py) before anything heavy is imported.

Importing typer (and click) takes longer than a warm audit. Any other command line goes to the
typer app in cli.py, which stays the reference: the answers here are its answers, byte for byte
and exit code for exit code (tests/test_fast_path.py runs both). A `check` line is taken here
only when every word is one of the few plain forms `plain_check` knows; anything else (help,
stdin, --fix, an option twice, a value that looks like an option) goes to typer.
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
    if args[:1] == ["check"]:
        options = plain_check(args[1:])
        if options is not None:
            wanted = None
            if not options.get("no_cache"):
                from . import answers

                wanted = answers.key(args[1:])
                found = answers.lookup(wanted)
                if found is not None:
                    answers.replay(*found)  # leaves: the output and exit code of the same run before
            from pathlib import Path  # only now: a stored answer needs no pathlib

            from .checking import Exit, check

            options["paths"] = [Path(p) for p in options["paths"]] if options["paths"] else None
            try:
                if wanted is None:
                    check(**options)
                else:
                    answers.run_and_keep(wanted, lambda: check(**options))
            except Exit as done:
                sys.stdout.flush()
                sys.exit(done.exit_code)
    return False


CHECK_FORMATS = ("text", "concise", "json", "sarif", "github", "junit")
CHECK_CHOICES = {"--format": ("output_format", CHECK_FORMATS), "--fail-on": ("fail_on", ("error", "warning", "info")),
                 "--color": ("colour", ("auto", "always", "never"))}
CHECK_LISTS = {"--select": "select", "--ignore": "ignore", "--extend-select": "extend_select"}
CHECK_FLAGS = {"--no-cache": "no_cache", "--quiet": "quiet", "-q": "quiet", "--statistics": "statistics",
               "--exit-zero": "exit_zero", "--show-files": "show_files", "--changed": "changed"}


def plain_check(words: list[str]) -> dict | None:
    """The keyword arguments of `checking.check` for a plain `check` line (its paths as the words
    given: `fast_path` makes them Paths), or None for typer.

    Plain: paths that are not `-` and do not start with `-`; the flags in CHECK_FLAGS, each at most
    once; `--format`, `--fail-on`, `--color` once each with one of their choices; `--select`,
    `--ignore`, `--extend-select` (repeatable) with a value not starting with `-`. Values come as
    `--opt value` or `--opt=value`.
    """
    options: dict = {}
    paths: list[str] = []
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if not word.startswith("-"):
            if not word or word != word.strip() or "\x00" in word:
                return None
            paths.append(word)
            continue
        if word in CHECK_FLAGS:
            if CHECK_FLAGS[word] in options:
                return None
            options[CHECK_FLAGS[word]] = True
            continue
        name, equals, value = word.partition("=")
        if name not in CHECK_CHOICES and name not in CHECK_LISTS:
            return None
        if not equals:
            if index >= len(words):
                return None
            value = words[index]
            index += 1
        if not value or value.startswith("-"):
            return None
        if name in CHECK_CHOICES:
            key, choices = CHECK_CHOICES[name]
            if key in options or value not in choices:
                return None
            options[key] = value
        else:
            options.setdefault(CHECK_LISTS[name], []).append(value)
    options["paths"] = paths or None
    return options


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
