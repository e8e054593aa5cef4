"""Settings of one audit run. (Reading them from pyproject.toml comes with the CI-gate issue.)"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class Config:
    select: tuple[str, ...] = ()  # codes or prefixes; empty: every rule
    ignore: tuple[str, ...] = ()
    fail_on: str = "warning"  # lowest severity that makes the exit code 1
    exclude: tuple[str, ...] = ()  # glob patterns of paths not to read
    host_memory_mib: int | None = None  # [host] memory; None: unknown
    host_cpus: int | None = None
    worker_memory_mib: int = 200
    severity: dict[str, str] = field(default_factory=dict)  # code -> severity override

    def enabled(self, code: str) -> bool:
        if self.select and not any(code.startswith(prefix) for prefix in self.select):
            return False
        return not any(code.startswith(prefix) for prefix in self.ignore)
