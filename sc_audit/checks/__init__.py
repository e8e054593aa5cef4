"""Checks: small functions over the model, grouped by domain, registered by rule code."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..findings import Finding

CHECKS: dict[str, Callable] = {}


def check(code: str):
    """Register a check function for a rule code. It takes (model, options) and yields Findings."""

    def register(function: Callable[..., Iterable[Finding]]):
        CHECKS[code] = function
        return function

    return register


def load_all() -> dict[str, Callable]:
    # registration happens on import
    from . import capacity, containers, deploys, health, inputs, kills, managers, ports, rollout, suppressions, wsgi  # noqa: F401

    return CHECKS
