"""SC7xx: containers. A container has its own loopback, its own PID 1 and its own filesystem; the
rules here are the mistakes that only exist because of that (model/containers.py)."""

from __future__ import annotations

import fnmatch
import ipaddress
import posixpath

from ..findings import Finding, Related
from ..model.images import base_name, base_shell
from . import check

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1", "ip6-localhost")


def _loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _own_namespace(container) -> bool:
    """The container has a network namespace of its own (not the host's, not another container's)."""
    mode = container.network_mode or ""
    return not (mode == "host" or mode.startswith(("service:", "container:")))


def _shared_with(model, container) -> bool:
    """Another container joins this one's namespace (`network_mode: service:NAME`): they share loopback."""
    return any((c.network_mode or "") in (f"service:{container.name}",) for c in model.containers
               if c.project == container.project and c is not container)


def _proxied_ports(model, target) -> list[tuple[int, object]]:
    """(container port, proxy) for every container proxy that names `target` by a service name."""
    from ..model.containers import proxied_containers

    return [(port, proxy) for proxy, _, container, port in proxied_containers(model) if container is target]


@check("SC701")
def loopback_bind_in_container(model, config, found):
    """A server binding only loopback inside its own container while that port is published, proxied
    from another container, or EXPOSEd: no connection from outside the container reaches it."""
    for container in model.containers:
        process = container.process
        if process is None or not process.binds_known or not process.binds or not _own_namespace(container):
            continue
        if _shared_with(model, container):
            continue
        if not all(e.socket is None and _loopback(e.host) for e, _ in process.binds):
            continue
        ports = {e.port for e, _ in process.binds}
        why = []
        related = []
        for published in container.published:
            if published.container_port in ports:
                why.append(f"the Compose file publishes port {published.container_port}")
                related.append(Related(published.span, "published here"))
        for port, proxy in _proxied_ports(model, container):
            if port in ports:
                why.append(f"Nginx (`{proxy.target}`) proxies to it from another container")
                related.append(Related(proxy.span, "proxied from another container here"))
        if container.image is not None:
            for port, span in container.image.expose:
                if port in ports and not why:
                    why.append(f"the Dockerfile EXPOSEs port {port}")
                    related.append(Related(span, "exposed here"))
        if not why:
            continue
        bound = ", ".join(sorted({str(e) for e, _ in process.binds}))
        span = next((s for _, s in process.binds if s is not None), process.span)
        yield Finding("SC701", f"`{container.name}` binds {bound} inside its container, while {why[0]}: loopback in a "
                      "container is the container's own, so no connection from outside it — published port, "
                      "another service, the host — reaches the server (connection reset, Nginx answers 502). "
                      "Bind 0.0.0.0 inside the container (publish the port on 127.0.0.1 on the host if it "
                      "must stay private).", span, tuple(related))


@check("SC702")
def nginx_container_proxies_to_loopback(model, config, found):
    """An Nginx container proxying to 127.0.0.1/localhost for a port another service of its project
    serves: localhost in the Nginx container is the Nginx container."""
    for proxy, nginx in model.container_proxies:
        if nginx.project is None or not _own_namespace(nginx) or _shared_with(model, nginx):
            continue
        for endpoint in proxy.endpoints:
            if endpoint.socket is not None or not _loopback(endpoint.host):
                continue
            servers = [c for c in model.containers if c.project == nginx.project and c is not nginx
                       and _serves_port(c, endpoint.port)]
            if not servers:
                continue
            other = servers[0]
            yield Finding("SC702", f"Nginx runs in the container `{nginx.name}` and passes `{proxy.location}` to "
                          f"`{proxy.target}`, but `{other.name}` serves port {endpoint.port} in its own container: "
                          "localhost in the Nginx container is the Nginx container itself, so every request "
                          f"answers 502. Proxy to the service name: `http://{other.name}:{endpoint.port}`.",
                          proxy.span, (Related(other.span, f"`{other.name}` is defined here"),))
            break


def _serves_port(container, port) -> bool:
    if container.process is not None and container.process.binds_known and container.process.binds:
        return any(e.port == port for e, _ in container.process.binds)
    return port in container.expose or any(p.container_port == port for p in container.published)


def _generated_name(model, nginx, host: str) -> bool:
    """`PROJECT_SERVICE_1` (Compose v1) or `PROJECT-SERVICE-1` (v2): the container name Compose makes,
    which Docker's DNS resolves too; the project name (a folder's name, `-p`) is not in the files."""
    import re

    return any(re.fullmatch(rf".+[_-]{re.escape(c.name)}[_-]\d+", host) for c in model.containers
               if c.project == nginx.project)


@check("SC703")
def proxy_to_unknown_service(model, config, found):
    """An Nginx container of a Compose project proxying to a one-word host name that no service of
    the project has (name, alias, container_name, hostname) on a network it shares."""
    if not model.container_proxies:
        return  # and the container model is not imported
    from ..model.containers import reachers

    for proxy, nginx in model.container_proxies:
        if nginx.project is None or not _own_namespace(nginx) or nginx.external_names:
            continue
        for endpoint in proxy.endpoints:
            host = endpoint.host
            if host is None or "." in host or ":" in host or _loopback(host) or "$" in proxy.target:
                continue
            if reachers(model, nginx, host) or _generated_name(model, nginx, host):
                continue
            names = sorted({c.name for c in model.containers if c.project == nginx.project and c is not nginx})
            elsewhere = [c.name for c in model.containers if c.project == nginx.project and host in c.hostnames]
            detail = (f"`{elsewhere[0]}` has that name but shares no network with `{nginx.name}`" if elsewhere
                      else f"the project's services are {', '.join(f'`{n}`' for n in names) or 'none'}")
            yield Finding("SC703", f"Nginx in `{nginx.name}` passes `{proxy.location}` to `{proxy.target}`, but no "
                          f"service of its Compose project answers to `{host}` ({detail}): Nginx exits at start "
                          "with 'host not found in upstream' (or answers 502). Use the service name, or put both "
                          "on one network.", proxy.span, (Related(nginx.span, f"`{nginx.name}` is defined here"),))
            break


@check("SC704")
def server_not_pid1(model, config, found):
    """The server is a child of a shell that stays PID 1: `docker stop` sends SIGTERM to the shell,
    which (as PID 1, without a handler) ignores it; after the stop timeout (10 s) the container is
    killed with SIGKILL, cutting every request in flight. Fires when the shell surely keeps running:
    an entrypoint script that starts the server without `exec`, a `sh -c` whose server is not its
    last command (or piped, or in the background), or `/bin/sh -c` (shell form) in an image whose sh
    is dash (Debian, Ubuntu, python images), which forks even a lone command (tests/live)."""
    reported = set()
    for container in model.containers:
        where = container.server.span if container.script is not None and container.server is not None \
            else container.argv_span
        if where in reported:
            continue  # one image run by several services: one finding
        reported.add(where)
        if container.process is None or container.argv is None or not container.entry_known or container.init:
            continue
        image_shell = base_shell(container.image) if container.image is not None else \
            _shell_of_name(container.image_name)
        if container.script is not None and container.server is not None:
            server = container.server
            if server.argv[:1] == ("exec",) or image_shell == "busybox":
                continue
            yield Finding("SC704", f"`{container.script}` starts the server (`{_short(server.argv)}`) without `exec`: "
                          "the script's shell stays PID 1 of the container and the server is its child. `docker "
                          "stop` sends SIGTERM to the shell, which ignores it as PID 1, and kills the container "
                          "with SIGKILL after the stop timeout (10 s): in-flight requests are cut, Gunicorn never "
                          "shuts down gracefully. Start it with `exec " + _short(server.argv) + "`.",
                          server.span, (Related(container.argv_span or container.span, "the container runs the script here"),))
            continue
        if container.shell_text is None:
            continue
        verdict = _shell_keeps_pid1(model, container, image_shell)
        if verdict is None:
            continue
        yield Finding("SC704", f"`{container.name}` runs its server through `{container.shell_name} -c` "
                      f"({verdict}): the shell stays PID 1 and the server is its child. `docker stop` sends "
                      "SIGTERM to the shell, which ignores it as PID 1, and kills the container with SIGKILL after "
                      "the stop timeout (10 s): in-flight requests are cut. Use the exec form "
                      "(`CMD [\"gunicorn\", …]`), or `exec` the server as the last command.",
                      container.argv_span or container.span)


def _shell_of_name(image_name: str | None) -> str | None:
    if image_name is None:
        return None
    from ..model.images import Image

    return base_shell(Image(dockerfile="", stage=None, base=image_name, from_span=None))


def _shell_keeps_pid1(model, container, image_shell: str | None) -> str | None:
    """Why the shell of `sh -c TEXT` stays PID 1, or None when it may exec the server."""
    from ..model.containers import is_server
    from ..parsers.shell import parse_text
    from ..facts import ShellContext

    span = container.argv_span or container.span
    commands, errors = parse_text(container.shell_text, span.path, span.line, 1, ShellContext(kind="bash-c"))
    if errors:
        return None
    top = [c for c in commands if not c.in_substitution]
    launches = [i for i, c in enumerate(top) if is_server(model, c.argv)]
    if not launches:
        return None
    server = top[launches[-1]]
    if server.argv[:1] == ("exec",):
        return None
    if server.background:
        return "the server runs in the background"
    if server.pipe_to is not None:
        return "the server's output is piped"
    if launches[-1] != len(top) - 1 or server.pipe_from is not None:
        return "the server is not the shell's last command"
    shell = container.shell_name
    if shell in ("sh", "dash") and (image_shell == "dash" or shell == "dash"):
        return "/bin/sh is dash in this image, and dash forks even a lone command"
    return None  # bash and busybox exec the last command of -c; an unknown sh may too


def _short(argv) -> str:
    text = " ".join(argv[:4])
    return text + (" …" if len(argv) > 4 else "")


@check("SC705")
def published_port_unserved(model, config, found):
    """A published port maps to a container port the container's server does not listen on."""
    for container in model.containers:
        process = container.process
        if process is None or not process.binds_known or not process.binds or container.script is not None:
            continue
        if not _own_namespace(container) or len(_launches(model, container)) > 1:
            continue
        ports = {e.port for e, _ in process.binds}
        for published in container.published:
            if published.container_port in ports:
                continue
            bound = ", ".join(sorted({str(e) for e, _ in process.binds}))
            yield Finding("SC705", f"`{container.name}` publishes container port {published.container_port}, but its "
                          f"server (`{_short(process.argv)}`) listens on {bound}: connections to the published "
                          "port are reset. Publish the port the server binds "
                          f"(`{published.host_port or '…'}:{sorted(ports)[0]}`), or bind it there.",
                          published.span, (Related(process.span, "the server's bind"),))


def _launches(model, container) -> list:
    from ..model.containers import is_server

    if container.shell_text is None:
        return [container.process]
    from ..parsers.shell import parse_text
    from ..facts import ShellContext

    span = container.argv_span or container.span
    commands, _ = parse_text(container.shell_text, span.path, span.line, 1, ShellContext(kind="bash-c"))
    return [c for c in commands if is_server(model, c.argv)]


INFRASTRUCTURE = {
    "postgres": "PostgreSQL", "postgis": "PostgreSQL", "postgresql": "PostgreSQL", "mysql": "MySQL",
    "mariadb": "MariaDB", "redis": "Redis", "redis-stack": "Redis", "redis-stack-server": "Redis",
    "valkey": "Valkey", "mongo": "MongoDB", "mongodb": "MongoDB", "rabbitmq": "RabbitMQ",
    "memcached": "Memcached", "elasticsearch": "Elasticsearch", "opensearch": "OpenSearch",
    "cassandra": "Cassandra", "couchdb": "CouchDB", "influxdb": "InfluxDB", "clickhouse-server": "ClickHouse",
    "mssql-server": "SQL Server", "neo4j": "Neo4j", "kafka": "Kafka", "zookeeper": "ZooKeeper",
}


def infrastructure_kind(container) -> str | None:
    names = [container.image_name or ""]
    if container.image is not None:
        names.append(container.image.base)
    for name in names:
        short = base_name(name).rsplit("/", 1)[-1]
        if short in INFRASTRUCTURE:
            return INFRASTRUCTURE[short]
    return None


@check("SC706")
def infrastructure_published(model, config, found):
    """A database, cache or broker service published on all host interfaces."""
    for container in model.containers:
        kind = infrastructure_kind(container)
        if kind is None or container.project is None:
            continue
        for published in container.published:
            if published.host_ip not in (None, "0.0.0.0", "::", ""):
                continue
            host = published.host_port or "an ephemeral port"
            yield Finding("SC706", f"`{container.name}` ({kind}) is published on all host interfaces (host port "
                          f"{host} -> {published.container_port}): anyone who reaches the host reaches the "
                          f"{kind} port, and Docker's own iptables rules bypass ufw/firewalld. The other services "
                          "reach it by service name without any `ports:`; remove the mapping, or bind it to "
                          f"loopback: `\"127.0.0.1:{published.host_port or published.container_port}:"
                          f"{published.container_port}\"`.", published.span)


SECRET_NAMES = (".env", ".env.production", ".env.prod", ".env.local", "id_rsa", "id_ed25519", ".pgpass", ".netrc",
                "credentials.json", "service-account.json")
SECRET_SUFFIXES = (".pem", ".key", ".p12", ".pfx")


def _secret(path: str) -> bool:
    name = posixpath.basename(path).lower()
    return name in SECRET_NAMES or name.endswith(SECRET_SUFFIXES)


def _ignored(path: str, patterns: list[str]) -> bool:
    """Docker's .dockerignore matching (Go filepath.Match per pattern, `**` any folders, a folder
    pattern covers what is under it, `!` re-includes; the last matching pattern decides)."""
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        pattern = posixpath.normpath(pattern.strip().lstrip("/")) if pattern.strip() else ""
        if not pattern:
            continue
        regex_pattern = pattern.replace("**/", "*/").replace("/**", "/*")
        parts = path.split("/")
        prefixes = ["/".join(parts[:i]) for i in range(1, len(parts) + 1)]
        hit = any(fnmatch.fnmatchcase(p, pattern) or fnmatch.fnmatchcase(p, regex_pattern) for p in prefixes)
        if pattern.startswith("**/") or pattern.startswith("**"):
            tail = pattern.lstrip("*").lstrip("/")
            hit = hit or any(fnmatch.fnmatchcase("/".join(parts[i:]), tail) for i in range(len(parts)))
        if hit:
            ignored = not negate
    return ignored


@check("SC707")
def secrets_in_image(model, config, found):
    """A secrets file of the repository (`.env`, private keys) that COPY/ADD puts into the image,
    by name or with its folder, and no `.dockerignore` of the build context leaves out."""
    seen = set()
    for container in model.containers:
        image = container.image
        if image is None or (image.dockerfile, image.stage) in seen:
            continue
        seen.add((image.dockerfile, image.stage))
        ignore = model.dotfiles.get(posixpath.join(image.context, ".dockerignore") if image.context else ".dockerignore")
        patterns = ignore.patterns if ignore is not None else []
        reported = set()
        for copy in image.copies:
            prefix = copy.source.rstrip("/") + "/" if copy.source else ""
            for path in sorted(model.root_paths):
                if not (path == copy.source or path.startswith(prefix)) or not _secret(path) or path in reported:
                    continue
                relative = path[len(image.context) + 1:] if image.context else path
                if _ignored(relative, patterns):
                    continue
                reported.add(path)
                how = "by name" if path == copy.source else f"with `{copy.source or '.'}`"
                yield Finding("SC707", f"`{path}` is copied into the image {how}"
                              f"{'' if ignore is not None else ' (the build context has no .dockerignore)'}: "
                              "anyone who can pull the image (a registry, a shared host, a leaked layer) reads it, "
                              "and it stays in the layer even if a later step deletes it. Leave it out with "
                              f"`.dockerignore` (`{posixpath.basename(path)}`), and pass secrets at run time "
                              "(`env_file:`, secrets).", copy.span)


@check("SC708")
def no_restart_policy(model, config, found):
    """A Compose service that runs a web server (or publishes a port) with no restart policy: after a
    crash or a reboot of the host it stays down (Docker's default is `restart: "no"`)."""
    for container in model.containers:
        if container.project is None or container.restart is not None or container.profiles:
            continue
        if container.process is None and not container.published:
            continue
        yield Finding("SC708", f"`{container.name}` has no restart policy (Docker's default is `no`): when its server "
                      "crashes, or the host reboots, it stays down until someone runs `docker compose up` again. "
                      "Add `restart: unless-stopped`.", container.span)


# the official images without curl (python:*-slim, debian:*-slim) or without curl and wget
NO_CURL_TAGS = ("slim",)


def _probe_tool(words: list[str]) -> str | None:
    """`curl` or `wget` when a health check's command starts with it (directly or in `sh -c`)."""
    import shlex

    text = " ".join(words)
    try:
        first = shlex.split(text)[:1]
    except ValueError:
        return None
    name = posixpath.basename(first[0]) if first else ""
    return name if name in ("curl", "wget") else None


def _healthchecks(container):
    """(probe words, span) of the container's health check: Compose's `healthcheck.test` over the
    Dockerfile's HEALTHCHECK."""
    from ..span import Located

    check = container.healthcheck
    if isinstance(check, dict) and "test" in check:
        test = check["test"]
        if isinstance(test, list) and test and isinstance(test[0], Located):
            words = [t.value for t in test if isinstance(t, Located) and isinstance(t.value, str)]
            if words and words[0] in ("CMD", "CMD-SHELL"):
                return words[1:], test[0].span
            return None
        if isinstance(test, Located) and isinstance(test.value, str):
            return [test.value], test.span
        return None
    image = container.image
    if image is not None and image.healthcheck is not None and image.healthcheck.value[:1] == ("CMD",):
        return list(image.healthcheck.value[1:]), image.healthcheck.span
    return None


@check("SC709")
def healthcheck_tool_missing(model, config, found):
    """A health check that runs curl (or wget) in an image that does not have it: a `-slim` python or
    debian image without a RUN that installs it, or Alpine without curl. The check can never pass."""
    for container in model.containers:
        image = container.image
        base = image.base if image is not None else (container.image_name or "")
        checked = _healthchecks(container)
        if checked is None or not base:
            continue
        words, span = checked
        tool = _probe_tool(words)
        if tool is None:
            continue
        name, _, tag = base.split("@", 1)[0].partition(":")
        short = base_name(base)
        if short not in ("python", "debian"):
            continue
        if "alpine" in tag:
            missing = tool == "curl"  # busybox has wget
        else:
            missing = "slim" in tag
        if not missing or (image is not None and any(tool in run for run in image.runs)):
            continue
        yield Finding("SC709", f"the health check of `{container.name}` runs `{tool}`, which the `{base}` image does not "
                      f"have (and no RUN installs it): the check fails every time, the container is marked "
                      "unhealthy, and services that wait for `condition: service_healthy` never start. Install it "
                      f"(`apt-get install -y --no-install-recommends {tool}`), or probe with Python: "
                      "`python -c \"import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')\"`.",
                      span)
