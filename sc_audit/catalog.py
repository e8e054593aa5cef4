"""The rule catalog: one TOML file per rule in `rules/`, shipped inside the wheel.

Every surface reads it: the engine (names, severities), `sc-audit rules`, `explain`,
SARIF metadata and the docs. A check without a catalog entry is a bug (a test says so).

Parsing the TOML files costs more than a warm audit does, so `scripts/gen_rule_docs.py` also
writes them, parsed, to `sc_audit/_catalog.json` with the SHA-256 of the rule files it read.
`load()` uses that file only when the rule files present now have the same hash (their bytes
are read and hashed on every start, which is cheap); a rule file changed, added or removed since
makes it parse the TOML files as before. A stale compiled file is slower, never wrong.
"""

from __future__ import annotations

from collections import namedtuple
from functools import lru_cache
from pathlib import Path

# Plain named tuples, not dataclasses: `sc-audit rules` then imports neither dataclasses nor
# inspect (~10 ms, a third of the command).

# name; files: {path: text}; expect: the codes the example must raise (empty: none of this rule)
Example = namedtuple("Example", "name files expect")

# code, name, severity, summary, why, fix; examples (Example, …); tags; default (False: opt-in, on
# only when `select`/`extend-select` names its code); references (public issues and docs)
Rule = namedtuple("Rule", "code name severity summary why fix examples tags default references",
                  defaults=((), (), True, ()))


def rules_dir() -> Path:
    """`sc_audit/_rules` in an installed wheel; the repository's `rules/` in a checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "_rules"
    return installed if installed.is_dir() else here.parent / "rules"


COMPILED = Path(__file__).resolve().parent / "_catalog.json"


def rule_files(directory: Path) -> list[tuple[str, bytes]]:
    return [(path.name, path.read_bytes()) for path in sorted(directory.glob("SC*.toml"))]


def source_hash(files: list[tuple[str, bytes]]) -> str:
    """The hash of the rule files' names and bytes, in order."""
    try:  # blake2b without hashlib's OpenSSL load (~2 ms of every run)
        from _blake2 import blake2b
    except ImportError:  # pragma: no cover
        from hashlib import blake2b
    digest = blake2b(digest_size=32)
    for name, data in files:
        digest.update(b"%d:%s\0%d:" % (len(name), name.encode("utf-8"), len(data)))
        digest.update(data)
    return digest.hexdigest()


def parse_all(files: list[tuple[str, bytes]]) -> list[dict]:
    import tomllib

    return [tomllib.loads(data.decode("utf-8")) for _, data in files]


def compiled(files: list[tuple[str, bytes]], compiled_path: Path) -> list[dict] | None:
    """The parsed rule files from the compiled catalog, when it was made from these very files."""
    import json

    try:
        stored = json.loads(compiled_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(stored, dict) or stored.get("source_hash") != source_hash(files):
        return None
    return stored.get("rules")


def compile_catalog(directory: Path) -> str:
    """The text of `_catalog.json` for the rule files in `directory`."""
    import json

    files = rule_files(directory)
    return json.dumps({"source_hash": source_hash(files), "rules": parse_all(files)},
                      indent=0, ensure_ascii=False) + "\n"


@lru_cache(maxsize=1)
def load() -> dict[str, Rule]:
    return load_from(rules_dir())


def load_from(directory: Path, compiled_path: Path = COMPILED) -> dict[str, Rule]:
    files = rule_files(directory)
    parsed = compiled(files, compiled_path)
    if parsed is None:
        parsed = parse_all(files)
    rules: dict[str, Rule] = {}
    for data in parsed:
        examples = tuple(
            Example(name=e["name"], files=dict(e["files"]), expect=tuple(e.get("expect", ())))
            for e in data.get("examples", ())
        )
        rules[data["code"]] = Rule(
            code=data["code"], name=data["name"], severity=data["severity"],
            summary=data["summary"].strip(), why=data["why"].strip(), fix=data["fix"].strip(),
            examples=examples, tags=tuple(data.get("tags", ())),
            default=bool(data.get("default", True)), references=tuple(data.get("references", ())),
        )
    return rules
