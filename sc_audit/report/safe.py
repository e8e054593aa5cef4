"""Output that cannot be turned against its reader (issue 13).

Text from audited files (messages quote commands; paths are file names) reaches terminals and
CI logs. Every renderer passes it through here:
- `clean`: a character that is not printable (controls such as ESC, BEL, CR, LF; bidi overrides
  and other format characters; line and paragraph separators) becomes U+FFFD, a visible mark.
  No terminal escape (window title, OSC 8 link, colour, reset), no line break, no reordering.
- `guard`: a line that would start (after blanks, as the runner trims them) with `::` or `##[`
  is a GitHub workflow command (`::set-output`, `::add-mask::`, `::stop-commands::`); it gets
  a visible U+FFFD in front. The github format's own command lines are written without it.
- `json_text`: JSON keeps the data exact but escapes every non-printable character (`\\u202e`).
"""

from __future__ import annotations

MARK = "\ufffd"
COMMAND_STARTS = ("::", "##[")


def clean(text: str) -> str:
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else MARK for ch in text)


def guard(line: str) -> str:
    """A line of output that no CI runner reads as a workflow command."""
    return MARK + line if line.lstrip().startswith(COMMAND_STARTS) else line


def safe_line(text: str) -> str:
    return guard(clean(text))


def json_text(dumped: str) -> str:
    """A json.dumps result (ensure_ascii=False) with every non-printable character escaped."""
    if dumped.isprintable():
        return dumped
    out = []
    for ch in dumped:
        if ch.isprintable() or ch in "\n ":
            out.append(ch)
        elif ord(ch) > 0xFFFF:
            code = ord(ch) - 0x10000
            out.append(f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)
