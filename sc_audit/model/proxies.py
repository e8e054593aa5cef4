"""The Nginx locations that proxy to an upstream, with their effective read timeout."""

from __future__ import annotations

import re

from ..facts import NginxServer
from ..span import Span
from .network import Endpoint, host_endpoints
from .records import DEFAULT_CLIENT_MAX_BODY_SIZE, Deployment, Proxy


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
                body, body_span = _body_size(location, server, facts, loose=server is loose)
                levels = (location, server, facts)
                proxies.append(Proxy(
                    path=path, server_names=server.server_names, location=location.match,
                    target=target, endpoints=tuple(_proxy_endpoints(target, upstreams)),
                    span=location.proxy_pass.span,
                    read_timeout=timeout if timeout is not None else DEFAULT_PROXY_READ_TIMEOUT,
                    read_timeout_span=timeout_span,
                    headers=proxy_headers(levels, loose=server is loose),
                    http_version=_http_version(levels, loose=server is loose),
                    tls=server.tls, body_size=body, body_size_span=body_span,
                    location_span=location.span, server_span=server.span if server is not loose else None))
    return proxies


def _array(name: str, levels, loose: bool):
    """The values nginx applies for an array directive (proxy_set_header, …): those of the innermost
    level that sets it. Unknown (None) when a level at or inside that one has an `include` we could
    not read, or when the location is a loose snippet (the server that includes it is not known)."""
    for level in levels:
        if level.unread_include:
            return None
        values = level.proxy_settings.get(name)
        if values:
            return values
    return None if loose else ()


def proxy_headers(levels, loose: bool = False) -> dict[str, str] | None:
    """Headers Nginx sets on the proxied request, by lower-case name (nginx adds `Host:
    $proxy_host` and `Connection: close` itself when they are not set)."""
    values = _array("proxy_set_header", levels, loose)
    if values is None:
        return None
    headers = {}
    for located in values:
        if len(located.value) == 2:
            headers[located.value[0].lower()] = located.value[1]
    return headers


def _http_version(levels, loose: bool) -> str | None:
    values = _array("proxy_http_version", levels, loose)
    if values is None:
        return None
    return values[-1].value[0] if values and values[-1].value else "1.0"


def _body_size(location, server, facts, loose: bool) -> tuple[int | None, Span | None]:
    """client_max_body_size, inherited location > server > http (nginx's default 1m). A value of
    a level we could not read fully (an unread include) is unknown; so is a loose snippet's (the
    server that includes it may set one). A site file's http level is the host's nginx.conf: taken
    as the packaged one, which sets none (false-alarm risk: a host whose nginx.conf raises it)."""
    for level in (location, server, facts):
        if loose and level is server:
            return None, None
        located = level.client_max_body_size
        if located is not None:
            return (located.value if isinstance(located.value, int) else None), located.span
        if level.unread_include:
            return None, None
    return DEFAULT_CLIENT_MAX_BODY_SIZE, None


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
