"""Renderers of a Report. Each format is a module with `render(report, stream)`, imported only when used."""

from __future__ import annotations

import importlib
import sys

FORMATS = {
    "text": "text",  # grouped by file, source line and caret, summary (rich on a terminal)
    "concise": "concise",  # one line per finding
    "json": "json_format",
    "sarif": "sarif",  # SARIF 2.1.0 for GitHub code scanning
    "github": "github",  # ::error workflow commands (annotations)
    "junit": "junit",  # JUnit XML for CI test reports
}


def render(name: str, report, stream=None) -> None:
    module = importlib.import_module(f".{FORMATS[name]}", __name__)
    module.render(report, stream or sys.stdout)
