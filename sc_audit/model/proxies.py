"""The Nginx locations that proxy to an upstream, with their effective read timeout."""

from __future__ import annotations

import re

from ..facts import NginxServer
from ..span import Span
from .network import Endpoint, host_endpoints
from .records import Deployment, Proxy


DEFAULT_PROXY_READ_TIMEOUT = 60.0


def proxies_of(model: Deployment) -> list[Proxy]:
    proxies = []
    for path, facts in sorted(model.nginx_files.items()):
        upstreams = {u.name: u for u in facts.upstreams}
        # a snippet file of bare `location` blocks is served by whichever server includes it
        loose = NginxServer(span=Span(path, 1), locations=tuple(getattr(facts, "locations", ())))
        for server in [*facts.servers, loose]:
            for location in server.locations:
                if location.proxy_pass is None or not isinstance(location.proxy_pass.value, str):
                    continue
                timeout, timeout_span = _inherited(
                    "proxy_read_timeout", location.timeouts, server.timeouts, facts.timeouts)
                target = location.proxy_pass.value
                proxies.append(Proxy(
                    path=path, server_names=server.server_names, location=location.match,
                    target=target, endpoints=tuple(_proxy_endpoints(target, upstreams)),
                    span=location.proxy_pass.span,
                    read_timeout=timeout if timeout is not None else DEFAULT_PROXY_READ_TIMEOUT,
                    read_timeout_span=timeout_span))
    return proxies


def _inherited(name: str, *levels: dict) -> tuple[float | None, Span | None]:
    for level in levels:
        located = level.get(name)
        if located is not None and isinstance(located.value, (int, float)):
            return float(located.value), located.span
        if located is not None:
            return None, located.span  # written but unreadable: unknown, not the default
    return None, None


def _proxy_endpoints(target: str, upstreams: dict) -> list[Endpoint]:
    """proxy_pass http://HOST:PORT/… -> endpoints; an upstream name -> its servers.

    Nginx resolves `localhost` with the system resolver at start: both 127.0.0.1 and
    ::1 on a usual host. Both are returned; a process bound on either serves it.
    """
    match = re.match(r"^(?:https?|grpc)://(.+)$", target)
    if not match or "$" in target:
        return []
    rest = match.group(1)
    if rest.startswith("unix:"):
        socket = rest[5:].split(":", 1)[0]
        return [Endpoint(socket=socket)]
    authority = rest.split("/", 1)[0]
    if authority in upstreams:
        endpoints = []
        for server in upstreams[authority].servers:
            if isinstance(server.value, str):
                endpoints.extend(host_endpoints(server.value.split()[0], 80))
        return endpoints
    default_port = 443 if target.startswith("https") else 80
    return host_endpoints(authority, default_port)
