"""SC003: suppression comments that suppress nothing.

Whether a suppression was needed is known only after every other rule has run, so the engine
calls this check last and hands it what its suppression stage found unused (`suppress.apply`).
"""

from __future__ import annotations

from ..findings import Finding
from . import check


@check("SC003")
def unused_suppression(model, config, found, unused=()):
    for item in unused:
        yield Finding("SC003", item.message, item.span)
