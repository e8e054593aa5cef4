"""Differential check of the Python readers: the facts of every Python file, read by the current
readers (CPython's `ast`) and by the libcst readers they replaced, must be identical.

    python scripts/compare_python_facts.py [--ref COMMIT] [--corpus DIR] [--extra DIR ...] [--limit N]

The libcst readers are taken from git history (`--ref`, by default the last commit that had them:
REFERENCE) into a temporary package beside `sc_audit`, so they read into the same fact classes.
Each file is read as a Python app module and as a Gunicorn config (the two kinds discover.py
gives Python files); the facts are compared by their `repr` (which also tells 1 from 1.0 and True,
and dict orders apart), and the first differing field is printed. Inputs: every `*.py` under the
corpus (`../shared/corpus`), under tests/fixtures and under each `--extra` directory.

Exit status: 0 when every file gives identical facts, 1 otherwise. Files that one reader refuses
and the other reads (a syntax only one of the two grammars takes) are listed apart: the readers
now take CPython's grammar as the truth (the interpreter Gunicorn imports the file with).
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib
import subprocess
import sys
import tempfile
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from a checkout without install

from sc_audit.source import SourceFile, decode  # noqa: E402

# The last commit whose readers were libcst's.
REFERENCE = "b6a5ddb374c41a5e7aac304ebc0c872415f60f72"
READERS = ("pyexpr", "python_app", "gunicorn_conf", "app_features")
PACKAGE = "sc_audit._libcst_readers"
DEFAULT_CORPUS = ROOT.parent / "shared" / "corpus"


def load_reference(ref: str = REFERENCE, root: Path = ROOT) -> types.ModuleType | None:
    """The libcst readers of `ref` as a package (python_app, gunicorn_conf); None without git
    or without that commit (a shallow clone)."""
    if PACKAGE in sys.modules:
        return sys.modules[PACKAGE]
    target = Path(tempfile.mkdtemp(prefix="sc-audit-libcst-readers-"))
    for name in READERS:
        try:
            text = subprocess.run(["git", "show", f"{ref}:sc_audit/parsers/{name}.py"], cwd=root,
                                  capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        (target / f"{name}.py").write_text(text, encoding="utf-8")
    (target / "__init__.py").write_text("", encoding="utf-8")
    importlib.import_module("sc_audit")
    package = types.ModuleType(PACKAGE)
    package.__path__ = [str(target)]
    package.__package__ = PACKAGE
    sys.modules[PACKAGE] = package
    for name in ("python_app", "gunicorn_conf"):
        setattr(package, name, importlib.import_module(f"{PACKAGE}.{name}"))
    return package


def first_difference(old: object, new: object, where: str = "") -> str | None:
    """Where two fact objects first differ (a dotted path and both values), None when equal."""
    if repr(old) == repr(new):
        return None
    if type(old) is not type(new):
        return f"{where or '.'}: {old!r} != {new!r}"
    if dataclasses.is_dataclass(old):
        for f in dataclasses.fields(old):
            found = first_difference(getattr(old, f.name), getattr(new, f.name), f"{where}.{f.name}")
            if found:
                return found
    elif isinstance(old, dict):
        if list(old) != list(new):
            return f"{where} keys: {list(old)!r} != {list(new)!r}"
        for key in old:
            found = first_difference(old[key], new[key], f"{where}[{key!r}]")
            if found:
                return found
    elif isinstance(old, (list, tuple)):
        if len(old) != len(new):
            return f"{where} length {len(old)} != {len(new)}: {old!r} != {new!r}"
        for index, (a, b) in enumerate(zip(old, new, strict=True)):
            found = first_difference(a, b, f"{where}[{index}]")
            if found:
                return found
    return f"{where or '.'}: {old!r} != {new!r}"


def compare_text(path: str, text: str, reference: types.ModuleType) -> list[str]:
    """Differences between the two readers on one file, as the two Python kinds."""
    from sc_audit.parsers import gunicorn_conf, python_app

    out = []
    for kind, old_reader, new_reader in (("python-app", reference.python_app, python_app),
                                         ("gunicorn-config", reference.gunicorn_conf, gunicorn_conf)):
        src = SourceFile(path, kind, text)
        old, new = old_reader.parse(src), new_reader.parse(src)
        found = first_difference(old, new)
        if found:
            old_error, new_error = bool(old.errors), bool(new.errors)
            label = "parsability" if old_error != new_error else "facts"
            out.append(f"{label}: {path} as {kind}: {found}")
    return out


def inputs(corpus: Path, extra: list[Path]) -> list[Path]:
    roots = [corpus, ROOT / "tests" / "fixtures", *extra]
    return [path for root in roots if root.is_dir() for path in sorted(root.rglob("*.py")) if path.is_file()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", default=REFERENCE, help="commit with the libcst readers")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--extra", type=Path, action="append", default=[], help="more directories of *.py")
    parser.add_argument("--limit", type=int, default=0, help="compare at most N files")
    parser.add_argument("--all", action="store_true", help="print every difference, not the first 20")
    args = parser.parse_args(argv)
    reference = load_reference(args.ref)
    if reference is None:
        print(f"cannot load the libcst readers of {args.ref} (no git, or not in this clone)", file=sys.stderr)
        return 2
    files = inputs(args.corpus, args.extra)
    if args.limit:
        files = files[: args.limit]
    differences, parsability = [], []
    for path in files:
        text, _ = decode(path.read_bytes())
        for line in compare_text(str(path), text, reference):
            found = parsability if line.startswith("parsability") else differences
            found.append(line)
            if args.all or found is parsability or len(differences) <= 20:
                print(line, flush=True)
    print(f"{len(files)} files compared (each as a Python app and as a Gunicorn config): "
          f"{len(differences)} differences in facts, {len(parsability)} in parsability")
    return 1 if differences else 0


if __name__ == "__main__":
    sys.exit(main())
