"""The rule catalog: one TOML file per rule in `rules/`, shipped inside the wheel.

Every surface reads it: the engine (names, severities), `sc-audit rules`, `explain`,
SARIF metadata and the docs. A check without a catalog entry is a bug (a test says so).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Example:
    name: str
    files: dict[str, str]
    expect: tuple[str, ...]  # codes the example must raise (empty: must raise none of this rule)


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    name: str
    severity: str
    summary: str
    why: str
    fix: str
    examples: tuple[Example, ...] = field(default=())
    tags: tuple[str, ...] = ()
    default: bool = True  # False: opt-in, on only when `select`/`extend-select` names its code
    references: tuple[str, ...] = ()  # public issues and docs that show the failure


def rules_dir() -> Path:
    """`sc_audit/_rules` in an installed wheel; the repository's `rules/` in a checkout."""
    here = Path(__file__).resolve().parent
    installed = here / "_rules"
    return installed if installed.is_dir() else here.parent / "rules"


@lru_cache(maxsize=1)
def load() -> dict[str, Rule]:
    rules: dict[str, Rule] = {}
    for path in sorted(rules_dir().glob("SC*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
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
