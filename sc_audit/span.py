"""Source positions and values that may be unknown.

Every fact sc-audit learns keeps the place it came from, so that a finding can point
at the line a user must change.
"""

from __future__ import annotations

from dataclasses import dataclass, fields


def plain_state(cls):
    """Pickle a frozen slotted dataclass by its fields' values, without asking `fields()` per object.

    For such classes dataclasses adds a `__setstate__` that calls `fields(self)` for every object
    unpickled: 146,000 calls, ~1.3 s, to read the parse cache of 1,000 services. This one knows the
    names once (the state is the same tuple of values, in field order)."""
    names = tuple(f.name for f in fields(cls))

    def __getstate__(self):
        return tuple(getattr(self, name) for name in names)

    def __setstate__(self, state):
        for name, value in zip(names, state):
            object.__setattr__(self, name, value)

    cls.__getstate__, cls.__setstate__ = __getstate__, __setstate__
    return cls


@plain_state
@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A region of a file. `path` is relative to the audited root, with `/`.

    Lines and columns are 1-based; `end_column` is exclusive (like ruff's).
    """

    path: str
    line: int
    column: int = 1
    end_line: int = 0
    end_column: int = 0

    def __post_init__(self) -> None:
        if self.end_line < self.line:
            object.__setattr__(self, "end_line", self.line)
        if self.end_line == self.line and self.end_column < self.column:
            object.__setattr__(self, "end_column", self.column)


@plain_state
@dataclass(frozen=True, slots=True)
class Unknown:
    """A value that static reading cannot know (an env var without default, a call).

    Rules never fire on an Unknown: no false alarm from what we could not read.
    """

    text: str
    span: Span | None = None

    def __bool__(self) -> bool:  # an Unknown is never taken as a truthy setting
        return False


def is_unknown(value: object) -> bool:
    return isinstance(value, Unknown)


@plain_state
@dataclass(frozen=True, slots=True)
class Located:
    """A value read from a file, with where it was written.

    `value` is a plain Python value (str, int, float, bool, None, list, dict) or Unknown.
    """

    value: object
    span: Span
