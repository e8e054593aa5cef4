"""Per-audit limits: what one audit may parse in all, beyond each file's own limits.

Each file is bounded (2 MiB, syntax nodes, depth), but six 2 MiB scripts took 43 s and
524 MiB. Files are admitted in discovery order while the audit's text budget lasts; a file
past it is not parsed: it gets an SC001 that says so, and the report is incomplete.
Admission counts cached files too, so that a cache never changes what a report says.
"""

from __future__ import annotations

MAX_AUDIT_BYTES = 4 * 1024 * 1024  # characters of deployment files parsed by one audit


class AuditBudget:
    def __init__(self, max_bytes: int = MAX_AUDIT_BYTES) -> None:
        self.max_bytes = max_bytes
        self.spent = 0
        self.refused: list[str] = []  # paths not parsed

    def admit(self, path: str, size: int) -> str | None:
        """None when the file may be parsed; else the reason it is not (for its SC001)."""
        if self.spent + size > self.max_bytes and self.spent:  # a lone file within its own limit passes
            self.refused.append(path)
            return (f"not read: the audit's budget of {self.max_bytes // (1024 * 1024)} MiB of deployment "
                    f"files was spent on the files before it")
        self.spent += size
        return None

    def reasons(self) -> list[str]:
        if not self.refused:
            return []
        more = f" and {len(self.refused) - 1} more" if len(self.refused) > 1 else ""
        return [f"{self.refused[0]}{more}: not read, past the audit's budget of "
                f"{self.max_bytes // (1024 * 1024)} MiB of deployment files"]
