"""Is this text a supervisord file? Apart from the parser, so that discovery can ask about every
`*.conf` without importing the parser (its dataclasses and regexes) for the Nginx files."""

from __future__ import annotations

import re

SNIFF_BYTES = 65536

_SNIFF = re.compile(r"^[ \t]*\[(?:(?:program|fcgi-program|group|eventlistener):[^\]\n]+|supervisord)\][ \t]*"
                    r"(?:[;#].*)?$", re.M)


def looks_like_supervisor(text: str) -> bool:
    """Cheap content check over the first 64 KiB: a `[program:x]`, `[group:x]`, `[eventlistener:x]`
    or `[supervisord]` section header on a line of its own."""
    return _SNIFF.search(text[:SNIFF_BYTES]) is not None
