"""SC3xx: ports and proxies. Who binds what; what Nginx and the health checks connect to."""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from .. import commands as cmd
from ..findings import Finding, Related
from ..model import Endpoint, bind_key, host_endpoints, together
from . import check

WILDCARDS = ("0.0.0.0", "::", "")


@lru_cache(maxsize=4096)
def _family(host: str) -> int | None:
    try:
        return ipaddress.ip_address(host.strip("[]")).version
    except ValueError:
        return 4 if host == "localhost" else None


@lru_cache(maxsize=4096)
def _normal(host: str) -> str:
    return "127.0.0.1" if host == "localhost" else host.strip("[]")


@lru_cache(maxsize=4096)
def overlaps(a: Endpoint, b: Endpoint) -> bool | None:
    """Whether two bound endpoints conflict (None: cannot tell, an address is unknown).

    Linux: `0.0.0.0:P` conflicts with every IPv4 `*:P`; `[::]:P` (bindv6only=0, the
    default) conflicts with every IPv4 and IPv6 `*:P`.
    """
    if a.socket is not None or b.socket is not None:
        return a.socket is not None and a.socket == b.socket
    if a.port != b.port:
        return False
    if a.host is None or b.host is None:
        return None
    host_a, host_b = _normal(a.host), _normal(b.host)
    if host_a == host_b or "::" in (host_a, host_b):
        return True
    if "0.0.0.0" in (host_a, host_b):
        other = host_b if host_a == "0.0.0.0" else host_a
        return _family(other) == 4
    return False


@lru_cache(maxsize=4096)
def serves(bound: Endpoint, target: Endpoint) -> bool | None:
    """Whether a process bound at `bound` accepts a connection to `target` (None: cannot tell)."""
    if bound.socket is not None or target.socket is not None:
        return bound.socket is not None and bound.socket == target.socket
    if bound.port != target.port:
        return False
    if bound.host is None:
        return None
    host, wanted = _normal(bound.host), _normal(target.host or "")
    if host == wanted or host == "::":
        return True
    if host == "0.0.0.0":
        return _family(wanted) == 4
    return False


@lru_cache(maxsize=4096)
def is_local(endpoint: Endpoint) -> bool:
    if endpoint.socket is not None:
        return True
    host = _normal(endpoint.host or "")
    if host in ("0.0.0.0", "::"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@check("SC301")
def port_collision(model, config, found):
    """Processes that bind overlapping endpoints and run at the same time (model.runs: scripts that
    never run together are alternatives; a script that stops X before it starts X replaces it;
    versions of one installed unit are one). One finding per set of colliding processes, at the
    second, naming every start site."""
    by_key: dict = {}
    for p in model.processes:
        for e, s in p.binds:
            by_key.setdefault(bind_key(e), []).append((p, e, s))
    for bound in by_key.values():  # only binds on one port (or socket) can overlap
        for group in _colliding(model, bound[:MAX_BINDS_PER_PORT]):
            second, _, span_b = group[1]
            related = tuple(Related(s or p.span, f"`{_who(p)}` binds {e} here") for p, e, s in group if p is not second)
            yield Finding("SC301", _collision_message(group) + " Whichever starts second fails with 'Address already "
                          "in use' (Gunicorn retries, then exits) and its manager restarts it in a loop, while the "
                          "first keeps answering — possibly with old code. Give each process its own port, or stop "
                          "the old one before starting the new.", span_b or second.span, related)


def _collision_message(group: list) -> str:
    """What collides, naming every start site. One command started at several places (two scripts
    that each start it) is said as that: it is a second copy of it, not a process meeting itself."""
    places: dict[str, list[str]] = {}
    for process, endpoint, span in group:
        places.setdefault(_who(process), []).append(f"{_site(span or process.span)}, {endpoint}")
    named = 0
    parts = []
    for who, sites in places.items():
        shown = sites[:max(MAX_SITES_NAMED - named, 1)]
        named += len(shown)
        if len(sites) == 1:
            parts.append(f"`{who}` ({sites[0]})")
        else:
            parts.append(f"`{who}` started {len(sites)} times ({'; '.join(shown)}"
                         f"{f'; and {len(sites) - len(shown)} more' if len(sites) > len(shown) else ''})")
    if len(places) == 1:
        who = next(iter(places))
        sites = [_site(span or process.span) for process, _, span in group]
        endpoints = sorted({str(endpoint) for _, endpoint, _ in group})
        more = len(sites) - MAX_SITES_NAMED
        return (f"`{who}` is started {len(sites)} times, at {', '.join(sites[:MAX_SITES_NAMED])}"
                f"{f' and {more} more (see the related places)' if more > 0 else ''}, and the copies run at the "
                f"same time on one endpoint ({', '.join(endpoints)}).")
    return f"{len(group)} processes that run at the same time bind one endpoint: {', '.join(parts)}."


MAX_SITES_NAMED = 20  # in the message; every one is a related place
MAX_BINDS_PER_PORT = 300  # pairs are compared on one port; past this, the rest of that port is not


def _colliding(model, bound: list) -> list[list]:
    """Sets of binds (in model order) linked by a collision: overlapping endpoints, different
    processes that run together, and not one app under PM2 and systemd (SC203 says that)."""
    parent = list(range(len(bound)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    linked = set()
    for j, (second, b, _) in enumerate(bound):
        for i in range(j):
            first, a, _ = bound[i]
            if first is second or root(i) == root(j) or overlaps(a, b) is not True:
                continue  # (already in one set: nothing more to learn)
            if {first.manager, second.manager} == {"pm2", "systemd"} or not together(model, first, second):
                continue
            parent[root(j)] = root(i)
            linked.update((i, j))
    groups: dict[int, list] = {}
    for i in sorted(linked):
        groups.setdefault(root(i), []).append(bound[i])
    return [group for group in groups.values() if len({id(p) for p, _, _ in group}) > 1]


def _site(span) -> str:
    return f"{span.path}:{span.line}"


def _who(process) -> str:
    manager = {"pm2": "PM2 app", "systemd": "unit", "supervisor": "supervisor program", "procfile": "Procfile process",
               "script": "background", "implied": "Gunicorn (launcher not in the repository) reading",
               }.get(process.manager, process.manager)
    if process.manager != "script":
        return f"{manager} {process.name}"
    words = " ".join(process.argv[:6])
    return words if len(words) <= 80 else words[:79] + "…"


def _all_binds_known(model) -> bool:
    """Every process that may listen has known endpoints (else a target may be served by it), and so
    has every container on the host side (model.host_ports_unknown: a `${PORT}` publish, a
    Dockerfile whose `docker run -p` we do not see). Something of the repository must start a server:
    a host process, or a Compose service whose server we read."""
    if model.host_ports_unknown:
        return False
    for process in model.processes:
        if process.launch is None or not process.binds_known:
            return False
        if not process.binds and process.launch.program in ("node", "npm", "python", "other", "uvicorn", "flask",
                                                            "hypercorn", "waitress", "daphne"):
            return False
    return bool(model.processes) or any(c.process is not None for c in model.containers if c.project is not None)


def _launchers_elsewhere(model) -> bool:
    """An implied Gunicorn (a config whose launcher is not in the repository) says that launchers live
    on the server; then only a deployment where Nginx reaches none of the known binds is a certain
    mismatch (the config binds a port Nginx never proxies to): a second unserved port may be the
    port of another server-side program (a Node frontend)."""
    return any(p.manager == "implied" for p in model.processes)


def _served(model, endpoints) -> bool | None:
    """Whether a host process, or a container's host port (a published port), serves an endpoint."""
    results = set()
    for listener in model.host_ports:
        if any(serves(listener.endpoint, endpoint) for endpoint in endpoints):
            return True
    for process in model.lookup("bind", endpoints):
        for bound, _ in process.binds:
            for endpoint in endpoints:
                results.add(serves(bound, endpoint))
                if True in results:
                    return True
    if None in results:
        return None
    return False


def health_requests(model):
    """(step, endpoints, path) for every local HTTP request a deploy step makes."""
    for step in model.steps:
        if not isinstance(step.meaning, cmd.HttpRequest) or any(step.command.dynamic):
            continue
        parsed = request_target(step.meaning)
        if parsed is None:
            continue
        endpoints, path = parsed
        if endpoints and all(is_local(e) for e in endpoints):
            yield step, endpoints, path


def request_target(request: cmd.HttpRequest) -> tuple[list[Endpoint], str] | None:
    """(endpoints, path) a request connects to: `curl --unix-socket PATH URL` reaches the process
    bound to PATH (curl then uses the URL only for the request path and the Host header)."""
    parsed = parse_url(request.url)
    if parsed is None:
        return None
    if request.unix_socket is not None:
        return [Endpoint(socket=request.unix_socket)], parsed[1]
    return parsed


def parse_url(url: str) -> tuple[list[Endpoint], str] | None:
    rest = url
    scheme = "http"
    if "://" in url:
        scheme, rest = url.split("://", 1)
    if scheme not in ("http", "https"):
        return None
    authority, slash, path = rest.partition("/")
    path = "/" + path.split("?", 1)[0].split("#", 1)[0] if slash else "/"
    endpoints = host_endpoints(authority.rsplit("@", 1)[-1], 443 if scheme == "https" else 80)
    return endpoints, path


@check("SC302")
def upstream_unbound(model, config, found):
    yield from _container_upstreams_unbound(model)
    if not _all_binds_known(model):
        return
    bound = ", ".join(sorted({str(e) for p in model.processes for e, _ in p.binds})) or "nothing"
    if model.host_ports:
        bound += "; the containers listen on the host at " + ", ".join(sorted({_host_side(h) for h in model.host_ports}))
    if _launchers_elsewhere(model) and any(_served(model, proxy.endpoints) for proxy in model.proxies
                                           if proxy.endpoints and all(is_local(e) for e in proxy.endpoints)):
        return  # some launchers live on the server: an unserved port may be theirs
    for proxy in model.proxies:
        if not proxy.endpoints or not all(is_local(e) for e in proxy.endpoints):
            continue
        if _served(model, proxy.endpoints) is False:
            yield Finding("SC302", f"Nginx passes `{proxy.location}` to `{proxy.target}`, but no process of the "
                          f"deployment listens there (they bind {bound}): every request answers 502 Bad Gateway. "
                          f"{_unpublished(model, proxy.endpoints) or _FIX}", proxy.span)
    for step, endpoints, path in health_requests(model):
        if _served(model, endpoints) is False:
            yield Finding("SC302", f"the deploy checks `{step.meaning.url}`, but no process of the deployment listens "
                          f"there (they bind {bound}): the check fails (or, with `|| true`, proves nothing). Check "
                          "the port the app binds.", step.command.span)


def _host_side(listener) -> str:
    if listener.published is None:
        return f"{listener.endpoint} (`{listener.container.name}`, host network)"
    where = "all interfaces" if listener.published.host_ip in (None, "") else str(listener.endpoint)
    if where == "all interfaces":
        where = f"port {listener.endpoint.port}, all interfaces"
    return f"{where} (`{listener.container.name}` publishes)"


_FIX = "Point proxy_pass at the port the app binds, or bind the app there."


def _unpublished(model, endpoints) -> str | None:
    """The fix when a Compose service's server listens on the target's port inside its container:
    Nginx on the host reaches a container only through a host port, and this one is not published
    there (not at all, or as another host port)."""
    ports = {e.port for e in endpoints if e.port is not None}
    for container in model.containers:
        process = container.process
        if container.project is None or process is None or container.network_mode is not None:
            continue
        port = next((e.port for e, _ in process.binds if e.port in ports), None)
        if port is None:
            continue
        other = next((p for p in container.published if p.container_port == port and p.host_port), None)
        if other is not None:
            return (f"`{container.name}` ({container.project}) publishes its container port {port} as host port "
                    f"{other.host_port}: point proxy_pass there, or publish `\"127.0.0.1:{port}:{port}\"`.")
        return (f"`{container.name}` ({container.project}) listens on port {port} inside its container, but does "
                f"not publish it on the host: publish it on loopback (`ports: [\"127.0.0.1:{port}:{port}\"]`).")
    return None


def _container_upstreams_unbound(model):
    """An Nginx container proxying to a service whose server (known binds, one server) listens on
    other ports (model/containers.py: the service name resolves on the project's network)."""
    if not model.containers:
        return  # and the container model is not imported
    from ..model.containers import proxied_containers

    for proxy, nginx, target, port in proxied_containers(model):
        process = target.process
        if process is None or not process.binds_known or not process.binds or target.script is not None:
            continue
        if any(e.port == port for e, _ in process.binds):
            continue
        bound = ", ".join(sorted({str(e) for e, _ in process.binds}))
        yield Finding("SC302", f"Nginx in the container `{nginx.name}` passes `{proxy.location}` to `{proxy.target}`, "
                      f"but the server of `{target.name}` listens on {bound} in its container, not on port {port}: "
                      "every request answers 502 Bad Gateway. Point proxy_pass at the port the app binds, or bind "
                      "the app there.", proxy.span, (Related(process.span, f"`{target.name}` binds here"),))


@check("SC303")
def backend_exposed(model, config, found):
    from .health import processes_at

    reported = set()
    for proxy in _one_per_target(model.proxies):
        local = [e for e in proxy.endpoints if is_local(e)]
        for process in processes_at(model, local):
            for bound, span in process.binds:
                if bound.host not in WILDCARDS or bound.socket is not None or (id(process), bound) in reported:
                    continue
                if not any(serves(bound, e) for e in local):
                    continue
                reported.add((id(process), bound))
                host = "[::]" if bound.host == "::" else bound.host
                yield Finding("SC303", f"`{_who(process)}` listens on {host}:{bound.port}, all interfaces, while Nginx "
                              f"proxies to it: anyone who can reach the host's port {bound.port} bypasses Nginx (its "
                              "TLS, limits, auth and logging). Bind 127.0.0.1 (or a unix socket) instead.",
                              span or process.span, (Related(proxy.span, "Nginx proxies here"),))
        yield from _published_exposed(model, proxy, local, reported)


def _published_exposed(model, proxy, local, reported):
    """A Compose service published on all host interfaces (`"8000:8000"`, `"0.0.0.0:8000:8000"`, long
    syntax without `host_ip`) behind a host Nginx. Docker routes a published port in the nat table,
    before the INPUT rules of ufw (docs.docker.com, "Packet filtering and firewalls", "Docker and
    ufw"): the host's firewall does not close it. Silent for a service under `profiles:` (not
    started by default) and when a host process binds the same port (two servers cannot both take
    it: they are alternatives, and which one production runs is not known)."""
    for listener in model.host_ports:
        published, container = listener.published, listener.container
        if published is None or published.host_ip not in (None, "", "0.0.0.0", "::") or container.profiles:
            continue
        if id(published) in reported or not any(serves(listener.endpoint, e) for e in local):
            continue
        port = listener.endpoint.port
        if model.lookup("bind", [Endpoint("127.0.0.1", port)]):
            continue
        reported.add(id(published))
        host_port = published.host_port or str(port)
        fix = ("`host_ip: 127.0.0.1`" if published.long_syntax else
               f"`\"127.0.0.1:{host_port}:{published.container_port}\"`")
        yield Finding("SC303", f"`{container.name}` publishes host port {port} on all interfaces while Nginx on the "
                      f"host proxies to it (`{proxy.target}`): anyone who can reach the host's port {port} bypasses "
                      "Nginx (its TLS, limits, auth and logging), and the host's firewall does not stop them: Docker "
                      "routes published ports before ufw's rules see them. Publish it on loopback only: "
                      f"{fix}.", published.span, (Related(proxy.span, "Nginx proxies here"),))


def _one_per_target(proxies):
    """The first proxy of each set of upstream endpoints (the rest reach the same processes)."""
    seen = set()
    for proxy in proxies:
        if proxy.endpoints not in seen:
            seen.add(proxy.endpoints)
            yield proxy
