"""The contract between Nginx and the app server: what one side sends, the other must accept.

SC106 asgi-under-wsgi-worker, SC107 socketio-workers, SC304 websocket-upgrade-missing,
SC305 proxy-scheme-untrusted, SC405 upload-limit. Each joins an Nginx location, the server
process behind it (model: proxies → endpoints → processes) and the app that process serves
(its target module and the repository modules that module imports). A value that is not
known on either side (an unread include, a worker class from the environment, an app whose
framework is unclear) keeps the rule silent.
"""

from __future__ import annotations

import re

from ..findings import Finding, Related
from ..model.app_code import features_of
from . import check
from .capacity import evaluate_formula
from .health import app_behind, processes_at

# Gunicorn worker classes by the calling convention they use for the app (gunicorn/workers/__init__.py
# SUPPORTED_WORKERS of 27.0.1, eventlet of the versions before it, and the uvicorn workers).
WSGI_WORKERS = frozenset({
    "sync", "gthread", "gevent", "gevent_wsgi", "gevent_pywsgi", "eventlet", "tornado",
    "gunicorn.workers.sync.SyncWorker", "gunicorn.workers.gthread.ThreadWorker",
    "gunicorn.workers.ggevent.GeventWorker", "gunicorn.workers.ggevent.GeventPyWSGIWorker",
    "gunicorn.workers.geventlet.EventletWorker", "geventwebsocket.gunicorn.workers.GeventWebSocketWorker",
})
ASGI_WORKERS = frozenset({
    "asgi", "gunicorn.workers.gasgi.ASGIWorker",
    "uvicorn.workers.UvicornWorker", "uvicorn.workers.UvicornH11Worker",
    "uvicorn_worker.UvicornWorker", "uvicorn_worker.UvicornH11Worker",
})
FRAMEWORK_INTERFACES = {"flask": "wsgi", "fastapi": "asgi", "starlette": "asgi", "quart": "asgi"}
SCHEME_HEADERS = ("x-forwarded-proto", "x-forwarded-protocol", "x-forwarded-ssl")  # gunicorn secure_scheme_headers


# --------------------------------------------------------------------------- the server side


def worker_class(process) -> str | None:
    """A Gunicorn process's worker class as written (`sync` when nothing sets it); None when
    unknown (a config we could not read, an expression)."""
    setting = process.settings.get("worker_class")
    if setting is None:
        return "sync"
    return setting.value.strip() if isinstance(setting.value, str) else None


def _gunicorn_interface(process) -> str | None:
    worker = worker_class(process)
    if worker in WSGI_WORKERS:
        return "wsgi"
    if worker in ASGI_WORKERS:
        return "asgi"
    return None


def _uvicorn_interface(process) -> str | None:
    """uvicorn calls the app as ASGI unless `--interface wsgi` (its `auto` takes a class-less
    callable without a coroutine `__call__` for ASGI2, never for WSGI: uvicorn/config.py)."""
    argv = process.argv
    for i, word in enumerate(argv):
        if word == "--interface" and i + 1 < len(argv):
            return {"wsgi": "wsgi", "asgi3": "asgi", "asgi2": "asgi", "auto": "asgi"}.get(argv[i + 1])
        if word.startswith("--interface="):
            return {"wsgi": "wsgi", "asgi3": "asgi", "asgi2": "asgi", "auto": "asgi"}.get(word.split("=", 1)[1])
    return "asgi"


# How each launcher calls the app it serves. A launcher the model learns (hypercorn, daphne, …)
# plugs in here with one function; where a launcher is missing, the rules stay silent for it.
SERVER_INTERFACES = {"gunicorn": _gunicorn_interface, "uvicorn": _uvicorn_interface}


def server_interface(process) -> str | None:
    launch = process.launch
    if launch is None:
        return None
    program = "gunicorn" if launch.gunicorn is not None else launch.program
    function = SERVER_INTERFACES.get(program)
    return function(process) if function is not None else None


def worker_count(process) -> int | None:
    """How many processes serve the app: Gunicorn `workers` (WEB_CONCURRENCY when unset; a CPU
    formula counted for one CPU, its smallest), uvicorn `--workers`. None when unknown."""
    launch = process.launch
    if launch is None:
        return None
    if launch.gunicorn is not None:
        setting = process.settings.get("workers")
        if setting is None:
            concurrency = process.env.get("WEB_CONCURRENCY")
            if concurrency is None:
                return 1
            return int(concurrency) if isinstance(concurrency, str) and concurrency.isdigit() else None
        if setting.cpu_formula is not None and not setting.env:
            return evaluate_formula(setting.cpu_formula, 1)
        value = setting.value
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    if launch.program == "uvicorn":
        argv = process.argv
        for i, word in enumerate(argv):
            if word == "--workers" and i + 1 < len(argv):
                return int(argv[i + 1]) if argv[i + 1].isdigit() else None
            if word.startswith("--workers="):
                value = word.split("=", 1)[1]
                return int(value) if value.isdigit() else None
        return None if "WEB_CONCURRENCY" in process.env else 1
    return None


# --------------------------------------------------------------------------- the app side


def app_interface(module, name: str) -> str | None:
    """How the object a server target names wants to be called: "wsgi", "asgi", or None.

    A module-level name: its last module-level binding (`app = Flask(…)`, `application =
    get_asgi_application()`, `app = WsgiToAsgi(app)`); rebound to anything else, unknown. An app
    built inside a factory: its framework's. False-alarm risk: a module that binds the name
    again inside an `if`, which the last binding does not see.
    """
    bindings = [b for b in module.features.bindings if b[0] == name]
    if bindings:
        return bindings[-1][1]
    inner = [app for app in module.apps if app.name == name and app.in_function is not None]
    if len(inner) == 1:
        return FRAMEWORK_INTERFACES.get(inner[0].framework)
    return None


def served_app(model, process):
    """(module, app name, features) of the app a process serves, or None when unknown."""
    module, name = app_behind(model, process)
    if module is None or module.errors:
        return None
    base = process.wsgi.base_dir if process.wsgi is not None else (process.cwd or "")
    return module, name, features_of(model, module, base)


def _app_span(module, name: str):
    bindings = [b for b in module.features.bindings if b[0] == name]
    if bindings:
        return bindings[-1][2]
    for app in module.apps:
        if app.name == name:
            return app.span
    return None


# --------------------------------------------------------------------------- SC106


@check("SC106")
def asgi_under_wsgi_worker(model, config, found):
    for process in model.processes:
        served = server_interface(process)
        if served is None or process.wsgi is None:
            continue
        module, name = app_behind(model, process)
        if module is None or module.errors:
            continue
        wanted = app_interface(module, name)
        if wanted is None or wanted == served:
            continue
        setting = process.settings.get("worker_class")
        where = setting.span if setting is not None and setting.span is not None else process.wsgi.span
        worker = worker_class(process)
        related = tuple(Related(span, f"`{name}` is built here") for span in [_app_span(module, name)] if span)
        if wanted == "asgi":
            yield Finding("SC106", f"`{process.wsgi.text}` is an ASGI app, but Gunicorn `{process.name}` runs the "
                          f"`{worker}` worker, which calls it as WSGI (`app(environ, start_response)`): every request "
                          "fails with a TypeError (500) and the app never starts its lifespan. Run it with "
                          "`-k uvicorn_worker.UvicornWorker` (or `-k uvicorn.workers.UvicornWorker`), or under uvicorn.",
                          where, related)
        else:
            yield Finding("SC106", f"`{process.wsgi.text}` is a WSGI app, but `{process.name}` serves it with "
                          f"`{worker}`, which calls it as ASGI (`await app(scope, receive, send)`): every request fails "
                          "with a TypeError (500). Use a WSGI worker (`sync`, `gthread`), or uvicorn's "
                          "`--interface wsgi`.", where, related)


# --------------------------------------------------------------------------- SC107


@check("SC107")
def socketio_workers(model, config, found):
    for process in model.processes:
        if process.launch is None or process.launch.gunicorn is None:
            continue  # uvicorn --workers N: the same story, once the model reads its target
        app = served_app(model, process)
        if app is None or "socketio" not in app[2]:
            continue
        workers = worker_count(process)
        if workers is None or workers <= 1:
            continue
        setting = process.settings.get("workers")
        where = setting.span if setting is not None and setting.span is not None else process.span
        yield Finding("SC107", f"Gunicorn `{process.name}` runs {workers}{'+' if setting and setting.cpu_formula else ''}"
                      " workers for an app that uses Socket.IO: Gunicorn hands each request to any worker, so a "
                      "client's long-polling requests land on workers that do not know its session (400 'Invalid "
                      "session', endless reconnects), and an emit reaches only the clients of one worker. Flask-SocketIO "
                      "and python-socketio support one worker per Gunicorn: use `-w 1` with `-k eventlet`/`gevent` or "
                      "`--threads 100`; to scale, run several single-worker servers behind Nginx `ip_hash` with a "
                      "message queue (`SocketIO(app, message_queue='redis://')`).", where,
                      (Related(app[2]["socketio"], "Socket.IO is used here"),))


# --------------------------------------------------------------------------- nginx locations


def _server_of(model, proxy):
    facts = model.nginx_files.get(proxy.path)
    if facts is None or proxy.server_span is None:
        return None
    for server in facts.servers:
        if server.span == proxy.server_span:
            return server
    return None


def location_for(locations, path: str):
    """The location Nginx picks for a request path (ngx_http_core_find_location): an exact `=`
    match, else the longest prefix; that prefix wins outright with `^~`, else the first regex
    (`~`, `~*`) in order that matches, else the prefix. None when a regex cannot be read or a
    named location is involved."""
    longest = None
    for location in locations:
        modifier, _, pattern = location.match.partition(" ") if " " in location.match else ("", "", location.match)
        if modifier == "=" and pattern == path:
            return location
        if modifier in ("", "^~") and path.startswith(pattern):
            if longest is None or len(pattern) > len(_pattern(longest)):
                longest = location
    if longest is not None and longest.match.startswith("^~ "):
        return longest
    for location in locations:
        modifier, _, pattern = location.match.partition(" ")
        if modifier in ("~", "~*"):
            try:
                if re.search(pattern, path, re.IGNORECASE if modifier == "~*" else 0):
                    return location
            except re.error:
                return None
    return longest


def _pattern(location) -> str:
    return location.match.split(" ", 1)[1] if " " in location.match else location.match


# --------------------------------------------------------------------------- SC304


def upgrades(proxy) -> bool | None:
    """Whether the location passes a WebSocket upgrade: `proxy_http_version 1.1` and the
    `Upgrade` and `Connection` headers (nginx sends neither hop-by-hop header on its own, and
    speaks HTTP/1.0 to the upstream by default). None when a value is unknown."""
    if proxy.headers is None or proxy.http_version is None:
        return None
    return proxy.http_version == "1.1" and "upgrade" in proxy.headers and \
        "upgrade" in proxy.headers.get("connection", "").lower()


def _socket_paths(module, name: str, features: dict) -> list[tuple[str, str, object]]:
    """(request path, what, span) of the app's WebSocket endpoints whose path is known."""
    paths = []
    if "socketio" in features:
        path = (features.get("socketio_path") or "socket.io").strip("/")
        paths.append((f"/{path}/", "Socket.IO", features["socketio"]))
    for facts_owner, path, span in getattr(module.features, "websocket_routes", ()):
        if facts_owner == name and path.startswith("/"):
            paths.append((path, "WebSocket", span))
    return paths


@check("SC304")
def websocket_upgrade_missing(model, config, found):
    reported = set()
    for proxy in model.proxies:
        server = _server_of(model, proxy)
        if server is None:
            continue
        for process in processes_at(model, proxy.endpoints, limit=1):
            app = served_app(model, process)
            if app is None:
                continue
            module, name, features = app
            for path, what, span in _socket_paths(module, name, features):
                chosen = location_for(server.locations, path)
                if chosen is None or chosen.span != proxy.location_span or (proxy.span, path) in reported:
                    continue
                if upgrades(proxy) is not False:
                    continue
                reported.add((proxy.span, path))
                missing = [] if proxy.http_version == "1.1" else ["`proxy_http_version 1.1;`"]
                if "upgrade" not in proxy.headers:
                    missing.append("`proxy_set_header Upgrade $http_upgrade;`")
                if "upgrade" not in proxy.headers.get("connection", "").lower():
                    missing.append('`proxy_set_header Connection "upgrade";`')
                effect = ("the client falls back to HTTP long-polling (many more requests, higher latency; a client "
                          "set to `transports: ['websocket']` never connects)" if what == "Socket.IO" else
                          "the handshake fails and the client never connects")
                yield Finding("SC304", f"Nginx location `{proxy.location}` passes `{path}` ({what}) to `{process.name}` "
                              f"without {' and '.join(missing)}: Nginx speaks HTTP/1.0 to the upstream and drops the "
                              f"hop-by-hop `Upgrade`/`Connection` headers, so the WebSocket upgrade never reaches the app "
                              f"and {effect}. Add them to this location.", proxy.span,
                              (Related(span, f"the app serves {what} here"),))


# --------------------------------------------------------------------------- SC305


def _forwarded_allow_ips(process) -> list[str] | None:
    """Gunicorn's forwarded_allow_ips as a list ("127.0.0.1,::1" by default since 22.0;
    "127.0.0.1" before: gunicorn/config.py ForwardedAllowIPS); None when unknown."""
    setting = process.settings.get("forwarded_allow_ips")
    value = setting.value if setting is not None else process.env.get("FORWARDED_ALLOW_IPS")
    if value is None:
        return None if "FORWARDED_ALLOW_IPS" in process.env else ["127.0.0.1", "::1"]
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(part, str) for part in value):
        return list(value)
    return None


def _trusts(allowed: list[str], peer) -> bool | None:
    """Whether Gunicorn takes the scheme headers from this peer (gunicorn/http/message.py: a
    unix-socket peer always, else `*` or the address or a network that holds it)."""
    import ipaddress

    if peer.socket is not None or "*" in allowed:
        return True
    try:
        address = ipaddress.ip_address((peer.host or "").strip("[]"))
    except ValueError:
        return None
    for entry in allowed:
        try:
            if address in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            return None
    return False


@check("SC305")
def proxy_scheme_untrusted(model, config, found):
    for proxy in model.proxies:
        if not proxy.tls or proxy.headers is None:
            continue
        behind = [p for p in processes_at(model, proxy.endpoints, limit=1) if server_interface(p) is not None]
        if not behind:
            continue
        process = behind[0]
        app = served_app(model, process)
        if app is None:
            continue
        sent = [h for h in SCHEME_HEADERS if h in proxy.headers]
        if not sent:
            yield Finding("SC305", f"Nginx terminates TLS and passes `{proxy.location}` to `{process.name}` without "
                          "`X-Forwarded-Proto`: the app sees every request as `http://`, so `url_for(_external=True)`, "
                          "absolute redirects and OAuth callbacks point to `http://`, Django's `SECURE_SSL_REDIRECT` "
                          "loops and its CSRF origin check rejects HTTPS forms (403). Add "
                          "`proxy_set_header X-Forwarded-Proto $scheme;` (or `include proxy_params;`).", proxy.span)
            continue
        if process.launch.gunicorn is None or "proxy_fix" in app[2]:
            continue
        allowed = _forwarded_allow_ips(process)
        if allowed is None:
            continue
        peers = [e for e in proxy.endpoints if e in {b for b, _ in process.binds} or e.socket is not None] or \
            list(proxy.endpoints)
        verdicts = {_trusts(allowed, peer) for peer in peers}
        if verdicts != {False}:
            continue
        setting = process.settings.get("forwarded_allow_ips")
        yield Finding("SC305", f"Nginx sends `X-Forwarded-Proto` for `{proxy.location}`, but Gunicorn `{process.name}` "
                      f"trusts it only from {', '.join(allowed)} (`forwarded_allow_ips`) and Nginx connects from "
                      f"{peers[0].host}: Gunicorn drops the header, the app sees `http://`, and absolute URLs, "
                      "redirects and secure-cookie checks go wrong. Add the proxy's address to "
                      "`forwarded_allow_ips`, or wrap the app in `ProxyFix(app.wsgi_app, x_proto=1)`.",
                      setting.span if setting is not None and setting.span else proxy.span,
                      (Related(proxy.span, "Nginx proxies here"),))


# --------------------------------------------------------------------------- SC405


def _mib(size: int) -> str:
    return f"{size / 1048576:g} MiB" if size >= 1048576 else f"{size // 1024} KiB" if size >= 1024 else f"{size} bytes"


@check("SC405")
def upload_limit(model, config, found):
    reported = set()
    for proxy in model.proxies:
        if proxy.body_size is None or proxy.body_size == 0:
            continue  # unknown, or 0: no limit at all
        for process in processes_at(model, proxy.endpoints, limit=1):
            app = served_app(model, process)
            if app is None:
                continue
            module, name, features = app
            limit = features.get("max_content_length")
            if limit is not None and limit.value is None:
                limit = None  # `MAX_CONTENT_LENGTH = None`: no limit, as when it is not set
            key = (proxy.path, proxy.server_span, process.name)
            if key in reported:
                continue
            origin = "its default" if proxy.body_size_span is None else "`client_max_body_size`"
            if limit is not None and isinstance(limit.value, int) and limit.value > proxy.body_size:
                reported.add(key)
                yield Finding("SC405", f"the app accepts request bodies up to {_mib(limit.value)} "
                              f"(`MAX_CONTENT_LENGTH`), but Nginx allows {_mib(proxy.body_size)} ({origin}) for "
                              f"`{proxy.location}`: a larger upload gets Nginx's own 413 Request Entity Too Large "
                              "page and never reaches the app. Set `client_max_body_size` to the app's limit in "
                              "this server.", proxy.body_size_span or proxy.span,
                              (Related(limit.span, "the app's limit"),))
            elif limit is None and "upload" in features and proxy.body_size_span is None:
                reported.add(key)
                yield Finding("SC405", f"the app reads uploaded files, but Nginx's `client_max_body_size` is not set "
                              f"for `{proxy.location}` (nor its server): Nginx's default of 1 MiB answers 413 Request "
                              "Entity Too Large to any bigger upload (a phone photo) before it reaches the app. Set "
                              "`client_max_body_size` in the server to what the app should accept.", proxy.span,
                              (Related(features["upload"], "the app reads uploads here"),))
