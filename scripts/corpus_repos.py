"""Rebuild each source repository of the corpus from `SOURCES.tsv` and audit it whole.

    python scripts/corpus_repos.py [--corpus DIR] [--repo OWNER/NAME] [--kind KIND]
                                   [--code SC301,SC4] [--json] [--keep DIR] [--select CODES]

A corpus file is saved as `kind/OWNER__REPO__PATH`; its row in SOURCES.tsv gives the repository
and the path inside it. Every row of one repository is written back at its path into a fresh
temporary root, and that root is audited as a user would audit the repository (all rules that are
on by default, plus `--select`). This is the "rebuilt per repository" run the rule issues ask for:
cross-file findings only appear when a repository's files meet again.

Prints, per repository, its findings one per line (`repo  path:line  CODE  message`), then the
counts per code, the internal errors and the SC001 count. `--json` prints one JSON object per
finding instead. `--keep DIR` leaves the rebuilt repositories in DIR (for reading by hand).
Nothing of the corpus is ever copied into the project.
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
import tempfile
import traceback
from collections import Counter, defaultdict
from pathlib import Path, PurePosixPath

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from sc_audit.api import audit  # noqa: E402
from sc_audit.config import Config, load  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def repositories(corpus: Path) -> dict[str, list[tuple[str, str, str]]]:
    """repo -> [(kind, saved file, path in the repository)], from SOURCES.tsv."""
    rows: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    with open(corpus / "SOURCES.tsv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            rows[row["repo"]].append((row["kind"], row["saved_file"], row["path"]))
    return dict(rows)


def rebuild(corpus: Path, rows: list[tuple[str, str, str]], into: Path) -> None:
    for _, saved, path in rows:
        relative = PurePosixPath(path)
        if relative.is_absolute() or ".." in relative.parts:
            continue  # never write outside the rebuilt root
        target = into / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        source = corpus / saved
        if source.is_file() and not source.is_symlink():
            shutil.copyfile(source, target)


def audit_repository(corpus: Path, repo: str, rows, select: list[str], keep: Path | None):
    root = Path(tempfile.mkdtemp(prefix="sc-corpus-")) if keep is None else keep / repo.replace("/", "__")
    try:
        if keep is not None and root.exists():
            shutil.rmtree(root)
        root.mkdir(parents=True, exist_ok=True)
        rebuild(corpus, rows, root)
        config = load(root) if any(p.endswith(("pyproject.toml", "sc-audit.toml")) for _, _, p in rows) else Config()
        if select:
            config.extend_select = (*config.extend_select, *select)
        report = audit(root, config=config)
        return report, None
    except Exception:  # noqa: BLE001 - a crash is what this script is here to find
        return None, traceback.format_exc()
    finally:
        if keep is None:
            shutil.rmtree(root, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--repo", action="append", default=[], help="only this repository (repeatable)")
    parser.add_argument("--kind", action="append", default=[], help="only repositories with a file of this kind")
    parser.add_argument("--code", default="", help="only print findings whose code starts with one of these")
    parser.add_argument("--select", default="", help="also turn on these (opt-in) codes")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", type=Path, default=None)
    args = parser.parse_args(argv)

    codes = tuple(c.strip() for c in args.code.split(",") if c.strip())
    select = [c.strip() for c in args.select.split(",") if c.strip()]
    repos = repositories(args.corpus)
    chosen = sorted(r for r, rows in repos.items()
                    if (not args.repo or r in args.repo) and (not args.kind or any(k in args.kind for k, _, _ in rows)))
    counts: Counter[str] = Counter()
    crashes: list[tuple[str, str]] = []
    for repo in chosen:
        report, crash = audit_repository(args.corpus, repo, repos[repo], select, args.keep)
        if crash is not None:
            crashes.append((repo, crash))
            continue
        for path, error in report.internal_errors:
            crashes.append((repo, f"{path}: {error}"))
        for finding in report.findings:
            counts[finding.rule] += 1
            if codes and not finding.rule.startswith(codes):
                continue
            if args.json:
                print(json.dumps({"repo": repo, "rule": finding.rule, "path": finding.span.path,
                                  "line": finding.span.line, "message": finding.message,
                                  "related": [f"{r.span.path}:{r.span.line}: {r.message}" for r in finding.related]}))
            else:
                print(f"{repo}  {finding.span.path}:{finding.span.line}  {finding.rule}  {finding.message}")
    if not args.json:
        print(f"\n{len(chosen)} repositories; findings per code: "
              + ", ".join(f"{code} {n}" for code, n in sorted(counts.items())))
        for repo, crash in crashes:
            print(f"INTERNAL ERROR in {repo}:\n{crash}")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
