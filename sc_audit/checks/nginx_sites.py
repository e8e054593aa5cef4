"""How Nginx reaches the app server: `localhost` on two stacks (SC306), upstream keep-alive that
outlives the server's (SC308), two sites that claim one name (SC309)."""

from __future__ import annotations

import posixpath
import re

from ..findings import Finding, Related
from ..model import Endpoint
from . import check
from .contract import worker_class
from .health import processes_at
from .ports import serves

NGINX_UPSTREAM_KEEPALIVE_TIMEOUT = 60  # ngx_http_upstream_keepalive_module: keepalive_timeout 60s
GUNICORN_KEEPALIVE = 2  # gunicorn/config.py Keepalive.default
UVICORN_KEEPALIVE = 5  # uvicorn --timeout-keep-alive default


# --------------------------------------------------------------------------- SC306


def _localhost_port(target: str) -> int | None:
    match = re.match(r"^https?://localhost(?::(\d+))?(?:/|$)", target)
    if match is None:
        return None
    return int(match.group(1) or (443 if target.startswith("https") else 80))


@check("SC306")
def proxy_localhost_dual_stack(model, config, found):
    reported = set()
    for proxy in model.proxies:
        port = _localhost_port(proxy.target)
        if port is None or proxy.span in reported:
            continue
        v4, v6 = Endpoint("127.0.0.1", port), Endpoint("::1", port)
        behind = model.lookup("bind", [v4])
        if not behind or any(not p.binds_known for p in behind):
            continue
        binds = [(p, b, s) for p in behind for b, s in p.binds if b.port == port and b.socket is None]
        if any(b.host is None for _, b, _ in binds):
            continue
        on_v4 = any(serves(b, v4) for _, b, _ in binds)
        on_v6 = any(serves(b, v6) for _, b, _ in binds)
        if on_v4 == on_v6:
            continue
        reported.add(proxy.span)
        process, bound, span = binds[0]
        missing = "[::1]" if on_v4 else "127.0.0.1"
        yield Finding("SC306", f"`proxy_pass {proxy.target}`: Nginx resolves `localhost` once, at start, to both "
                      f"127.0.0.1 and ::1 and uses them in turn, but `{process.name}` listens only on {bound}: every "
                      f"other connection to {missing}:{port} is refused, Nginx logs `connect() failed (111: Connection "
                      "refused)` and retries the other address (proxy_next_upstream), and where it may not retry "
                      "the client gets 502. Write the address the server binds: "
                      f"`proxy_pass http://{'127.0.0.1' if on_v4 else '[::1]'}:{port};`.", proxy.span,
                      (Related(span or process.span, f"`{process.name}` binds {bound} here"),))


# --------------------------------------------------------------------------- SC308


def server_keepalive(process) -> tuple[float, object] | None:
    """(seconds, span) a server keeps an idle connection open; None when it does not keep
    connections (Gunicorn's sync worker closes each one) or when unknown.

    Gunicorn: `keepalive` (default 2 s) for gthread, gevent, eventlet and the uvicorn workers
    (UvicornWorker passes it as `timeout_keep_alive`); uvicorn alone: `--timeout-keep-alive`, 5 s.
    """
    launch = process.launch
    if launch is None:
        return None
    if launch.gunicorn is not None:
        worker = worker_class(process)
        threads = process.settings.get("threads")
        threaded = threads is not None and isinstance(threads.value, int) and threads.value > 1
        if worker is None or (worker in ("sync", "gunicorn.workers.sync.SyncWorker") and not threaded):
            return None  # sync: `Connection: close` after every response (gunicorn/workers/sync.py)
        if threads is not None and not isinstance(threads.value, int) and worker == "sync":
            return None
        setting = process.settings.get("keepalive")
        if setting is None:
            return float(GUNICORN_KEEPALIVE), None
        value = setting.value
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value), setting.span
        return None
    if launch.program == "uvicorn":
        argv = process.argv
        for i, word in enumerate(argv):
            if word == "--timeout-keep-alive" and i + 1 < len(argv):
                return (float(argv[i + 1]), process.span) if argv[i + 1].isdigit() else None
            if word.startswith("--timeout-keep-alive="):
                value = word.split("=", 1)[1]
                return (float(value), process.span) if value.isdigit() else None
        return float(UVICORN_KEEPALIVE), None
    return None


def _reuses_connections(proxy) -> bool | None:
    """Nginx keeps upstream connections only with HTTP/1.1 and the `Connection` header cleared."""
    if proxy.headers is None or proxy.http_version is None:
        return None
    return proxy.http_version == "1.1" and proxy.headers.get("connection", None) in ('""', "''", "")


@check("SC308")
def keepalive_order(model, config, found):
    for path, facts in sorted(model.nginx_files.items()):
        upstreams = {u.name: u for u in facts.upstreams}
        for proxy in (p for p in model.proxies if p.path == path):
            match = re.match(r"^https?://([^/:]+)(?:/|$)", proxy.target)
            upstream = upstreams.get(match.group(1)) if match else None
            if upstream is None or upstream.keepalive is None or not isinstance(upstream.keepalive.value, int):
                continue
            if _reuses_connections(proxy) is not True:
                continue
            timeout = upstream.keepalive_timeout
            if timeout is not None and not isinstance(timeout.value, (int, float)):
                continue
            idle = float(timeout.value) if timeout is not None else float(NGINX_UPSTREAM_KEEPALIVE_TIMEOUT)
            for process in processes_at(model, proxy.endpoints, limit=1):
                kept = server_keepalive(process)
                if kept is None or kept[0] >= idle:
                    continue
                seconds, span = kept
                origin = "" if timeout is not None else " (its default)"
                related = [Related(upstream.keepalive.span, "Nginx keeps idle upstream connections here")]
                if span is not None:
                    related.append(Related(span, f"the server closes idle connections after {seconds:g} s"))
                yield Finding("SC308", f"Nginx keeps idle connections to `{upstream.name}` for {idle:g} s{origin}, "
                              f"but `{process.name}` closes them after {seconds:g} s: a request Nginx sends on a "
                              "connection the server is closing fails with `upstream prematurely closed connection` "
                              "or `Connection reset by peer`, a random 502 under light traffic. Set "
                              f"`keepalive_timeout {max(int(seconds) - 1, 1)}s;` in the upstream (below the server's), or "
                              f"raise the server's keep-alive above {idle:g} s.", proxy.span, tuple(related))
                break


# --------------------------------------------------------------------------- SC309


def _listen_key(text: str) -> str:
    """`listen` as the address:port Nginx groups servers by (`80`, `*:80`, `0.0.0.0:80` are one)."""
    address = text.split()[0] if text.split() else "80"
    if address.startswith("unix:"):
        return address
    if address.isdigit():
        return f"*:{address}"
    match = re.fullmatch(r"(\[[^\]]+\]|[^:]+)(?::(\d+))?", address)
    if match is None:
        return address
    host, port = match.group(1), match.group(2) or "80"
    if host in ("*", "0.0.0.0"):
        host = "*"
    return f"{host}:{port}"


def _enabled_together(model, path_a: str, path_b: str) -> bool:
    """Two nginx files Nginx loads at once: one file; two files of one `sites-enabled/` or
    `conf.d/` folder of the repository; or two files a deploy installs there."""
    if path_a == path_b:
        return True
    folder_a, folder_b = posixpath.dirname(path_a), posixpath.dirname(path_b)
    if folder_a == folder_b and posixpath.basename(folder_a) in ("sites-enabled", "conf.d"):
        return True
    installed_a, installed_b = model.installed.get(path_a), model.installed.get(path_b)
    if installed_a is None or installed_b is None or installed_a.name == installed_b.name:
        return False
    return all(i.kind == "site" and i.name.startswith(("sites-enabled/", "conf.d/")) for i in (installed_a, installed_b))


@check("SC309")
def duplicate_server_name(model, config, found):
    claimed: dict[tuple[str, str], list] = {}  # (listen, name) -> [(path, server)]
    for path, facts in sorted(model.nginx_files.items()):
        for server in facts.servers:
            listens = {_listen_key(located.value) for located in server.listen if isinstance(located.value, str)} \
                or {"*:80"}
            for name in dict.fromkeys(server.server_names):
                if name in ("_", "", '""', "localhost") or "$" in name:
                    continue
                for listen in listens:
                    claimed.setdefault((listen, name.lower()), []).append((path, server))
    reported = set()
    for (key, name), servers in claimed.items():
        listen = key.replace("*:", "0.0.0.0:", 1)
        first_path, first = servers[0]
        for path, server in servers[1:]:
            if server is first or server.span in reported or not _enabled_together(model, first_path, path):
                continue
            reported.add(server.span)
            yield Finding("SC309", f"two servers claim `server_name {name}` on {listen}: Nginx warns `conflicting "
                          f"server name \"{name}\" on {listen}, ignored` and sends every request for {name} to the "
                          f"{'first one' if path == first_path else 'one Nginx reads first (files in alphabetical order)'} "
                          f"({first_path}:{first.span.line}); the other never answers it. Merge them, or "
                          "give each its own name or port.", server.span,
                          (Related(first.span, "the server that gets the traffic"),))


# --------------------------------------------------------------------------- SC307


def _unit_of(model, process):
    if process.manager != "systemd":
        return None
    return model.units.get(process.span.path)


def _socket_helpers(model, unit) -> bool:
    """A `.socket` unit (in the repository, or one the unit names in Requires=/After=/…), or a
    tmpfiles.d rule in the repository, may create the socket or its folder."""
    if any(".socket" in located.value for key, located in unit.directives.items()
           if key in ("Requires", "Wants", "After", "BindsTo") and isinstance(located.value, str)):
        return True
    return any(path.endswith(".socket") or "tmpfiles" in path for path in model.root_paths)


def _runs_as_root(unit) -> bool | None:
    if unit.user is None:
        return True
    return unit.user.value in ("root", "0") if isinstance(unit.user.value, str) else None


def _true(located) -> bool:
    return located is not None and isinstance(located.value, str) and \
        located.value.strip().lower() in ("yes", "true", "on", "1")


@check("SC307")
def unix_socket_unreachable(model, config, found):
    proxied = {e.socket: proxy for proxy in model.proxies for e in proxy.endpoints if e.socket is not None}
    for process in model.processes:
        unit = _unit_of(model, process)
        if unit is None or process.launch is None or process.launch.gunicorn is None:
            continue
        for bound, span in process.binds:
            path = bound.socket
            if path is None or "$" in path or "%" in path:
                continue
            folder = posixpath.dirname(posixpath.normpath(path))
            where = span or process.span
            if folder in ("/run", "/var/run") and _runs_as_root(unit) is False and \
                    "RuntimeDirectory" not in unit.directives and not _socket_helpers(model, unit):
                yield Finding("SC307", f"`{process.name}` runs as `{unit.user.value}` and binds `unix:{path}` directly in "
                              f"{folder}, which only root may write: Gunicorn fails with `Permission denied` at start, "
                              "retries, exits, and Nginx answers 502. Let systemd make a folder the user owns: "
                              f"`RuntimeDirectory={posixpath.basename(path).rsplit('.', 1)[0] or 'app'}` and bind "
                              f"`unix:/run/{posixpath.basename(path).rsplit('.', 1)[0] or 'app'}/"
                              f"{posixpath.basename(path)}` (or use a `.socket` unit).", where,
                              (Related(unit.user.span, "the service's user"),))
                continue
            proxy = proxied.get(path)
            if proxy is None:
                continue
            if folder.startswith("/tmp") and _true(unit.directives.get("PrivateTmp")):
                yield Finding("SC307", f"`{process.name}` has `PrivateTmp=true` and binds `unix:{path}`: the socket is "
                              "made in the service's private /tmp, which Nginx does not see, so Nginx's "
                              f"`proxy_pass` to it fails (`connect() to unix:{path} failed (2: No such file or "
                              "directory)`) and answers 502. Put the socket in a `RuntimeDirectory=` under /run.",
                              where, (Related(unit.directives["PrivateTmp"].span, "a private /tmp"),
                                      Related(proxy.span, "Nginx connects here")))


# --------------------------------------------------------------------------- SC310


def _forwarded_prefix(proxy) -> tuple[str, str] | None:
    """(location prefix, URI it is replaced with) for `location /P/ { proxy_pass http://up/U; }`:
    Nginx replaces the matched prefix by the URI of proxy_pass (ngx_http_proxy_module). None when
    the location is not a plain prefix, proxy_pass has no URI or holds a variable."""
    if " " in proxy.location or not proxy.location.startswith("/") or "$" in proxy.target:
        return None
    match = re.match(r"^https?://(?:unix:[^:]*:|[^/]+)(/.*)?$", proxy.target)
    if match is None or match.group(1) is None:
        return None
    uri = match.group(1)
    if uri == proxy.location:
        return None
    return proxy.location, uri


def _sample(rule: str) -> str:
    """A request path a route matches: its variables filled in (`/u/<int:id>` -> `/u/1`)."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "1", rule)


@check("SC310")
def proxy_prefix_mismatch(model, config, found):
    from .health import app_behind
    from ..model.routes import path_status, route_table

    for proxy in model.proxies:
        rewrite = _forwarded_prefix(proxy)
        if rewrite is None:
            continue
        prefix, uri = rewrite
        for process in processes_at(model, proxy.endpoints, limit=1):
            if process.wsgi is None or "SCRIPT_NAME" in process.env or any("SCRIPT_NAME" in a for a in process.argv):
                continue
            module, name = app_behind(model, process)
            if module is None:
                continue
            table = route_table(model, module, name)
            # the app's own URLs under the prefix, as they arrive through this location
            expecting = [(r.rule, r.span) for r in table.routes if r.rule.startswith(prefix) and len(r.rule) > len(prefix)]
            if not expecting:
                continue
            # silent when any of them may be served as it arrives (a route, or a region not known)
            if any(path_status(table, uri + _sample(rule)[len(prefix):]) != "unrouted" for rule, _ in expecting):
                continue
            rule, span = expecting[0]
            yield Finding("SC310", f"`location {prefix}` with `proxy_pass {proxy.target}` replaces `{prefix}` by "
                          f"`{uri}`, so a request for `{rule}` reaches `{process.name}` as `{uri}{rule[len(prefix):]}`, which no "
                          f"route of the app matches: the app's routes under `{prefix}` all answer 404 through Nginx. "
                          f"Write `proxy_pass {proxy.target[:len(proxy.target) - len(uri)]};` (no URI: the path "
                          "passes unchanged), or register the routes without the prefix.", proxy.span,
                          (Related(span, f"the app routes `{rule}` here"),))
