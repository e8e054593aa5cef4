"""A file to audit: its kind, its path relative to the root, and its decoded text."""

from __future__ import annotations

import codecs
import functools
from dataclasses import dataclass

# Kinds of input. Discovery assigns one per file; parsers are chosen by it.
PYTHON_APP = "python-app"
GUNICORN_CONFIG = "gunicorn-config"
PM2 = "pm2"
NGINX = "nginx"
SHELL = "shell"
WORKFLOW = "workflow"
SYSTEMD = "systemd"
PROCFILE = "procfile"
APPSPEC = "appspec"  # AWS CodeDeploy appspec.yml
SUPERVISOR = "supervisor"  # supervisord `[program:x]` files
DOCKERFILE = "dockerfile"
COMPOSE = "compose"
DOTFILE = "dotfile"  # `.env` (Compose interpolation) and `.dockerignore`

KINDS = (PYTHON_APP, GUNICORN_CONFIG, PM2, NGINX, SHELL, WORKFLOW, SYSTEMD, PROCFILE, APPSPEC, SUPERVISOR, DOCKERFILE,
         COMPOSE, DOTFILE)


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: str  # relative to the root, with "/"
    kind: str
    text: str  # newlines normalised to "\n"; a BOM removed
    encoding: str = "utf-8"

    def line(self, number: int) -> str:
        lines = _lines(self.text)
        return lines[number - 1] if 0 < number <= len(lines) else ""


@functools.lru_cache(maxsize=64)
def _lines(text: str) -> tuple[str, ...]:
    """Split once per file, not once per finding (5,000 findings on a 2 MiB file: 10 GB of splitting)."""
    return tuple(text.split("\n"))


FALLBACK_ENCODINGS = ("cp949", "euc-kr", "latin-1")


def decode(data: bytes) -> tuple[str, str]:
    """Decode file bytes as UTF-8 (BOM ok), UTF-16 with a BOM, else cp949/euc-kr, else latin-1.

    Returns (text, encoding). CRLF and lone CR become LF, so that line numbers agree with
    what an editor shows. latin-1 decodes anything, so this never fails.
    """
    if data.startswith(codecs.BOM_UTF8):
        text, encoding = data[3:].decode("utf-8", errors="replace"), "utf-8-sig"
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        text, encoding = data.decode("utf-16", errors="replace"), "utf-16"
    else:
        text = encoding = None
        for candidate in ("utf-8", *FALLBACK_ENCODINGS):
            try:
                text, encoding = data.decode(candidate), candidate
                break
            except UnicodeDecodeError:
                continue
        assert text is not None and encoding is not None  # latin-1 always decodes
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text, encoding


def looks_binary(data: bytes) -> bool:
    """A NUL byte in the first 8 KiB (outside UTF-16) marks a binary file, as git does."""
    head = data[:8192]
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    return b"\0" in head
