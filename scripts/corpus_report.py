"""Audit every file of the real-world corpus in its kind's context and report, per kind: files,
parsed, SC001 count, internal errors, findings per code and the slowest file.

    python scripts/corpus_report.py [--corpus DIR] [--kind KIND] [--json] [--verify | --verify-all]

Each corpus file is copied into a fresh temporary root under the name its tool expects (a PM2
file as `ecosystem.config.js`, a unit as `x.service`, a workflow under `.github/workflows/`, ...)
and audited there, alone, like a one-file repository. The corpus lives beside the repository
checkout (`../shared/corpus`); it is never copied into the project.

`--verify` asks each file's own tool for a second opinion on every SC001, where that is safe
(nothing of the file runs): `nginx -t` on a wrapped copy in a temporary prefix, `python -m
py_compile`, `systemd-analyze verify`, a YAML or JSON load, foreman's Procfile line pattern.
JavaScript and shell files are never run, not even by a checker: their verdict is by hand.
`--verify-all` asks the tools about every file, and lists those they reject without an SC001.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from sc_audit import source as kinds  # noqa: E402
from sc_audit.api import audit  # noqa: E402
from sc_audit.config import Config  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

# corpus folder -> the kind sc-audit must recognise the file as
KIND_OF_FOLDER = {
    "flaskapp": kinds.PYTHON_APP,
    "gunicorn": kinds.GUNICORN_CONFIG,
    "pm2": kinds.PM2,
    "nginx": kinds.NGINX,
    "workflows": kinds.WORKFLOW,
    "scripts": kinds.SHELL,
    "systemd": kinds.SYSTEMD,
    "procfile": kinds.PROCFILE,
}


@dataclass
class FileResult:
    file: str  # the corpus path, e.g. "pm2/foo__ecosystem.config.js"
    folder: str
    placed_as: str  # its path inside the temporary root
    kind: str | None  # the kind discovery gave it; None: not recognised
    ms: float
    sc001: list[str] = field(default_factory=list)  # "line: message"
    internal_errors: list[str] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)  # every finding's code, SC001 included
    verdict: str | None = None  # the file's own tool on it (--verify, files with SC001 only)

    @property
    def parsed(self) -> bool:
        return self.kind == KIND_OF_FOLDER[self.folder] and not self.sc001 and not self.internal_errors


def original_paths(corpus: Path) -> dict[str, str]:
    """saved_file -> the file's path in its own repository (SOURCES.tsv)."""
    table = corpus / "SOURCES.tsv"
    paths: dict[str, str] = {}
    if table.is_file():
        for line in table.read_text(encoding="utf-8").splitlines()[1:]:
            columns = line.split("\t")
            if len(columns) >= 4:
                paths[columns[1]] = columns[3]
    return paths


def placement(folder: str, saved: Path, original: str | None) -> str:
    """The path a corpus file gets in its temporary root: the name its tool looks for."""
    suffix = saved.suffix.lower()
    if folder == "pm2":
        return "ecosystem.config" + (suffix if suffix in (".js", ".cjs", ".mjs", ".json", ".yml", ".yaml") else ".js")
    if folder == "gunicorn":
        return "gunicorn.conf.py"
    if folder == "nginx":
        return "nginx/x.conf"
    if folder == "workflows":
        return ".github/workflows/x" + (".yaml" if suffix == ".yaml" else ".yml")
    if folder == "scripts":
        return "x.sh"
    if folder == "systemd":
        return "x.service"
    if folder == "procfile":
        return "Procfile"
    if folder == "flaskapp":
        # its own path in its repository: `api/__init__.py` stays a package, `wsgi.py` stays `wsgi.py`
        return PurePosixPath(original).as_posix() if original else "app.py"
    raise ValueError(f"unknown corpus folder {folder!r}")


def audit_one(corpus_file: Path, folder: str, original: str | None, config: Config) -> FileResult:
    rel = placement(folder, corpus_file, original)
    name = corpus_file.relative_to(corpus_file.parents[1]).as_posix()
    with tempfile.TemporaryDirectory(prefix="sc-corpus-") as tmp:
        root = Path(tmp)
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(corpus_file, target)
        started = time.perf_counter()
        try:
            report = audit(root, config, cache=False)
        except Exception:  # a traceback out of audit() is the worst outcome: count it, show it
            ms = (time.perf_counter() - started) * 1000
            return FileResult(name, folder, rel, None, ms, internal_errors=[traceback.format_exc()])
        ms = (time.perf_counter() - started) * 1000
    kind = next((f.kind for f in report.files if f.path == rel), None)
    return FileResult(
        file=name, folder=folder, placed_as=rel, kind=kind, ms=round(ms, 1),
        sc001=[f"{f.span.path}:{f.span.line}: {f.message}" for f in report.findings if f.rule == "SC001"],
        internal_errors=[f"{path}: {error}" for path, error in report.internal_errors],
        codes=dict(sorted(Counter(f.rule for f in report.findings).items())),
    )


# --------------------------------------------------------------------------- second opinions

TOOL_TIMEOUT = 30  # seconds


def tool_verdict(corpus_file: Path, folder: str) -> str:
    """What the file's own tool says of it, in one line; never runs the file itself."""
    data = corpus_file.read_bytes()
    if folder == "nginx":
        return _nginx_verdict(data)
    if folder in ("gunicorn", "flaskapp"):
        return _in_temp_dir(data, "x.py", [sys.executable, "-I", "-m", "py_compile", "x.py"], "py_compile")
    if folder == "systemd":
        if not shutil.which("systemd-analyze"):
            return "systemd-analyze not installed"
        return _in_temp_dir(data, "x.service", ["systemd-analyze", "verify", "./x.service"], "systemd-analyze verify")
    if folder == "workflows" or (folder == "pm2" and corpus_file.suffix in (".yml", ".yaml")):
        import yaml

        try:
            yaml.safe_load(data)
            return "yaml.safe_load: loads"
        except yaml.YAMLError as error:
            return f"yaml.safe_load: {_one_line(str(error))}"
    if folder == "pm2" and corpus_file.suffix == ".json":
        try:
            json.loads(data)
            return "json.loads: loads"
        except ValueError as error:
            return f"json.loads: {error}"
    if folder == "procfile":
        # foreman's (and forego's) Procfile line: `^([A-Za-z0-9_-]+):\s*(.+)$`; other lines are ignored
        text = data.decode("utf-8", "replace")
        bad = [line for line in text.splitlines()
               if line.strip() and not line.startswith("#") and not re.match(r"^([A-Za-z0-9_-]+):\s*(.+)$", line)]
        return f"foreman's line pattern: {len(bad)} line(s) do not match: {bad[:3]!r}" if bad else \
            "foreman's line pattern: every line matches"
    return "no safe tool check (JavaScript and shell are never run): by hand"


def _nginx_verdict(data: bytes) -> str:
    """`nginx -t` on the file included in its context (main, http{} or server{}), in a temporary prefix.
    Relative includes get empty stand-ins so that only the file's own syntax is judged."""
    if not shutil.which("nginx"):
        return "nginx not installed (apt-get install nginx-light)"
    text = data.decode("utf-8", "replace")
    if re.search(r"(?m)^\s*(http|events|stream)\s*\{", text):
        wrapper = "include x.conf;\n" + ("" if re.search(r"(?m)^\s*events\s*\{", text) else "events {}\n")
    elif re.search(r"(?m)^\s*(server|upstream|map|geo|log_format)\b", text):
        wrapper = "events {}\nhttp {\n    include x.conf;\n}\n"
    else:
        wrapper = "events {}\nhttp {\n    server {\n        include x.conf;\n    }\n}\n"
    with tempfile.TemporaryDirectory(prefix="sc-nginx-") as tmp:
        prefix = Path(tmp)
        (prefix / "logs").mkdir()
        (prefix / "x.conf").write_bytes(data)
        (prefix / "main.conf").write_text(wrapper)
        for name in re.findall(r"(?m)^\s*include\s+([^\s;$*?]+)\s*;", text):
            if not name.startswith("/") and ".." not in name and name != "x.conf":
                stand_in = prefix / name
                stand_in.parent.mkdir(parents=True, exist_ok=True)
                stand_in.touch()
        command = ["nginx", "-t", "-q", "-p", f"{prefix}/", "-c", f"{prefix}/main.conf", "-e", "stderr",
                   "-g", f"pid {prefix}/nginx.pid;"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
        out = (result.stderr + result.stdout).replace(str(prefix) + "/", "")
    out = re.sub(r"(?m)^\S+ \S+ (\[\w+\]) \d+#\d+: ", r"\1 ", out)  # no timestamps or pids
    return "nginx -t: ok" if result.returncode == 0 else f"nginx -t: {_one_line(out)}"


def _in_temp_dir(data: bytes, name: str, command: list[str], tool: str) -> str:
    with tempfile.TemporaryDirectory(prefix="sc-verify-") as tmp:
        (Path(tmp) / name).write_bytes(data)
        result = subprocess.run(command, cwd=tmp, capture_output=True, text=True, timeout=TOOL_TIMEOUT)
        out = (result.stderr + result.stdout).replace(tmp + "/", "")
    return f"{tool}: ok" if result.returncode == 0 and not out.strip() else f"{tool}: {_one_line(out)}"


def _one_line(text: str, limit: int = 300) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    joined = " | ".join(lines)
    return joined if len(joined) <= limit else joined[: limit - 1] + "…"


# --------------------------------------------------------------------------- the run


# One small file of every kind, audited once before the clock starts: the first file of a kind
# would otherwise be charged for importing its parser (tree-sitter grammars, PyYAML).
WARM_UP = {
    "app.py": "from flask import Flask\napp = Flask(__name__)\n",
    "gunicorn.conf.py": "workers = 2\n",
    "ecosystem.config.js": "module.exports = {apps: [{name: 'web', script: 'app.py'}]};\n",
    "ecosystem.config.yml": "apps:\n  - name: web\n    script: app.py\n",
    "nginx/x.conf": "server { listen 80; location / { proxy_pass http://127.0.0.1:8000; } }\n",
    ".github/workflows/x.yml": "on: push\njobs:\n  d:\n    runs-on: x\n    steps:\n      - run: echo\n",
    "x.sh": "#!/bin/sh\necho ok\n",
    "x.service": "[Service]\nExecStart=/bin/true\n",
    "Procfile": "web: gunicorn app:app\n",
}


def warm_up(config: Config) -> None:
    with tempfile.TemporaryDirectory(prefix="sc-corpus-") as tmp:
        for rel, text in WARM_UP.items():
            (Path(tmp) / rel).parent.mkdir(parents=True, exist_ok=True)
            (Path(tmp) / rel).write_text(text)
        audit(tmp, config, cache=False)


def run(corpus: Path, only_kind: str | None = None) -> list[FileResult]:
    originals = original_paths(corpus)
    config = Config()  # the defaults: no config file applies to a corpus file
    warm_up(config)
    results = []
    for folder in sorted(KIND_OF_FOLDER):
        if only_kind and folder != only_kind:
            continue
        directory = corpus / folder
        if not directory.is_dir():
            continue
        for path in sorted(directory.iterdir()):
            if path.is_file():
                results.append(audit_one(path, folder, originals.get(f"{folder}/{path.name}"), config))
    return results


def summarise(results: list[FileResult]) -> dict[str, dict]:
    summary: dict[str, dict] = {}
    for folder in sorted({r.folder for r in results}):
        group = [r for r in results if r.folder == folder]
        codes: Counter[str] = Counter()
        for result in group:
            codes.update(result.codes)
        slowest = max(group, key=lambda r: r.ms)
        summary[folder] = {
            "files": len(group),
            "parsed": sum(r.parsed for r in group),
            "not_recognised": sum(r.kind != KIND_OF_FOLDER[folder] for r in group),
            "sc001_files": sum(bool(r.sc001) for r in group),
            "sc001": sum(len(r.sc001) for r in group),
            "internal_errors": sum(len(r.internal_errors) for r in group),
            "findings": dict(sorted(codes.items())),
            "slowest": {"file": slowest.file, "ms": slowest.ms},
        }
    return summary


def print_text(results: list[FileResult]) -> None:
    for folder, row in summarise(results).items():
        print(f"{folder}: {row['files']} files, {row['parsed']} parsed, {row['not_recognised']} not recognised, "
              f"SC001 in {row['sc001_files']} ({row['sc001']} findings), {row['internal_errors']} internal errors")
        print(f"  findings: {', '.join(f'{c} {n}' for c, n in row['findings'].items()) or 'none'}")
        print(f"  slowest: {row['slowest']['file']} ({row['slowest']['ms']:.0f} ms)")
    problems = [r for r in results if r.sc001 or r.internal_errors or r.kind != KIND_OF_FOLDER[r.folder]]
    if problems:
        print("\nfiles with SC001, internal errors or not recognised:")
    for result in problems:
        if result.kind != KIND_OF_FOLDER[result.folder]:
            print(f"  {result.file}: recognised as {result.kind or 'nothing'} (placed as {result.placed_as})")
        for message in result.sc001:
            print(f"  {result.file}: SC001 {message}")
        if result.verdict:
            print(f"    {result.verdict}")
        for error in result.internal_errors:
            print(f"  {result.file}: INTERNAL {error.strip()}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help=f"default: {DEFAULT_CORPUS}")
    parser.add_argument("--kind", choices=sorted(KIND_OF_FOLDER), help="only this corpus folder")
    parser.add_argument("--json", action="store_true", help="per-kind summary and per-file results as JSON")
    parser.add_argument("--verify", action="store_true", help="ask each SC001 file's own tool for a verdict")
    parser.add_argument("--verify-all", action="store_true",
                        help="ask the tool about every file; list those it rejects that have no SC001")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus_report: {args.corpus}: no such directory; pass --corpus DIR", file=sys.stderr)
        return 2
    results = run(args.corpus, args.kind)
    if args.verify or args.verify_all:
        for result in results:
            if result.sc001 or args.verify_all:
                result.verdict = tool_verdict(args.corpus / result.file, result.folder)
    if args.json:
        files = [{**asdict(r), "parsed": r.parsed} for r in results]
        print(json.dumps({"kinds": summarise(results), "files": files}, indent=2, ensure_ascii=False))
    else:
        print_text(results)
        if args.verify_all:
            print_disagreements(results)
    return 1 if any(r.internal_errors for r in results) else 0


def print_disagreements(results: list[FileResult]) -> None:
    """Per kind, how many files the tool accepts; then each file it rejects that has no SC001."""
    print("\nthe tools' verdicts on every file:")
    for folder in sorted({r.folder for r in results}):
        group = [r for r in results if r.folder == folder]
        accepted = sum(r.verdict is not None and r.verdict.endswith((": ok", ": loads", "every line matches"))
                       for r in group)
        print(f"  {folder}: {accepted} of {len(group)} accepted")
    for result in results:
        verdict = result.verdict or ""
        if not result.sc001 and not verdict.endswith((": ok", ": loads", "every line matches", "by hand")):
            print(f"  {result.file}: no SC001; {verdict}")


if __name__ == "__main__":
    sys.exit(main())
