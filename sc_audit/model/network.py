"""Where processes listen and proxies connect: endpoints, and which endpoints can serve which."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where a process listens or a proxy connects: TCP host:port or a unix socket path."""

    host: str | None = None  # "127.0.0.1", "0.0.0.0", "::", "localhost"; None for unix
    port: int | None = None
    socket: str | None = None

    def __str__(self) -> str:
        if self.socket is not None:
            return f"unix:{self.socket}"
        if self.host is None:
            return f"port {self.port}"  # the address is not known, only the port
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def all_interfaces(self) -> bool:
        return self.host in ("0.0.0.0", "::", "")


def parse_endpoint(text: str, default_host: str = "127.0.0.1") -> Endpoint | None:
    """'127.0.0.1:8001', '0.0.0.0:80', '[::]:8000', ':8000', '8000', 'unix:/run/x.sock'."""
    text = text.strip()
    if text.startswith("unix:"):
        path = text[5:]
        return Endpoint(socket=path.rstrip(":")) if path else None
    if text.startswith("/"):
        return None
    match = re.fullmatch(r"\[([0-9a-fA-F:.]*)\]:(\d+)", text) or re.fullmatch(r"([^:\s/]*):(\d+)", text)
    if match:
        host = match.group(1) or "0.0.0.0"
        return Endpoint(host=host, port=int(match.group(2)))
    if text.isdigit():
        return Endpoint(host=default_host, port=int(text))
    return None


def bind_key(endpoint: Endpoint) -> object:
    """What two endpoints must share for one to serve the other: the unix socket, else the port."""
    return ("unix", endpoint.socket) if endpoint.socket is not None else endpoint.port


def host_endpoints(authority: str, default_port: int) -> list[Endpoint]:
    if authority.startswith("unix:"):
        return [Endpoint(socket=authority[5:])]
    match = re.fullmatch(r"\[([0-9a-fA-F:.]+)\](?::(\d+))?", authority) or \
        re.fullmatch(r"([^:]+)(?::(\d+))?", authority)
    if not match:
        return []
    host, port = match.group(1), int(match.group(2) or default_port)
    if host == "localhost":
        return [Endpoint("127.0.0.1", port), Endpoint("::1", port)]
    return [Endpoint(host, port)]
