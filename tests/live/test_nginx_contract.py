"""The Nginx ↔ Gunicorn facts the contract rules rest on (SC304, SC305, SC308, SC309, SC405),
proven with the real Nginx (run as an unprivileged user with a temporary prefix, on loopback)
in front of the real Gunicorn:

- SC405: a 2 MiB body through a location with no `client_max_body_size` gets Nginx's 413 and
  never reaches the app; `client_max_body_size 20m` in the server lets it through.
- SC304: through a default location the app sees HTTP/1.0 and no `Upgrade` header; with
  `proxy_http_version 1.1` and the two headers it sees both.
- SC305: Gunicorn takes `X-Forwarded-Proto` from 127.0.0.1 by default, drops it when
  `forwarded_allow_ips` excludes the peer, and takes it over a unix socket whatever the setting.
- SC308: Gunicorn's sync worker answers `Connection: close`; gthread keeps the connection and
  closes it after `keepalive` seconds.
- SC309: two servers with one name on one port: `nginx -t` warns "conflicting server name" and
  the first one gets the requests.
Only the processes these tests start are stopped, by PID.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import live_support as live  # noqa: E402

pytestmark = pytest.mark.live

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
NOBODY = 65534

ECHO_APP = '''\
import os


def app(environ, start_response):
    body = environ["wsgi.input"].read()
    lines = [
        "protocol=" + environ.get("SERVER_PROTOCOL", ""),
        "upgrade=" + environ.get("HTTP_UPGRADE", ""),
        "scheme=" + environ["wsgi.url_scheme"],
        "length=" + str(len(body)),
        "name=" + os.environ.get("APP_NAME", "app"),
    ]
    out = "\\n".join(lines).encode() + b"\\n"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]
'''


def _need_nginx() -> str:
    if NGINX is None:
        pytest.skip("nginx is not installed (Debian: nginx-light)")
    return NGINX


def _as_nobody() -> dict:
    """Run Nginx unprivileged: as ourselves, or as nobody when the tests run as root."""
    return {"user": NOBODY, "group": NOBODY} if os.geteuid() == 0 else {}


def _chown_tree(path: Path) -> None:
    if os.geteuid() != 0:
        return
    for folder, _, files in os.walk(path):
        os.chown(folder, NOBODY, NOBODY)
        for name in files:
            os.chown(os.path.join(folder, name), NOBODY, NOBODY)


class Nginx:
    """One Nginx master with a private prefix; `http_block` is the body of `http { }`."""

    def __init__(self, prefix: Path, http_block: str):
        self.prefix = prefix
        prefix.mkdir(parents=True, exist_ok=True)
        (prefix / "logs").mkdir(exist_ok=True)
        temp = "".join(f"    {kind}_temp_path {prefix}/{kind}_temp;\n"
                       for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        self.conf = live.write(prefix / "nginx.conf", f"""\
worker_processes 1;
daemon off;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log info;
events {{ worker_connections 64; }}
http {{
    access_log off;
{temp}{http_block}
}}
""")
        _chown_tree(prefix)
        self.popen: subprocess.Popen | None = None
        self.seen = None

    def test_config(self) -> subprocess.CompletedProcess:
        return subprocess.run([NGINX, "-t", "-p", str(self.prefix), "-c", str(self.conf)], capture_output=True,
                              text=True, timeout=30, stdin=subprocess.DEVNULL, **_as_nobody())

    def start(self, port: int) -> None:
        log = open(self.prefix / "logs" / "stderr.log", "wb")
        self.popen = subprocess.Popen([NGINX, "-p", str(self.prefix), "-c", str(self.conf)], stdin=subprocess.DEVNULL,
                                      stdout=log, stderr=log, start_new_session=True, **_as_nobody())
        log.close()
        self.seen = live.see(self.popen.pid)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.popen.poll() is None and not _listening(port):
            time.sleep(0.05)
        if not _listening(port):
            errors = (self.prefix / "logs" / "stderr.log").read_text(errors="replace")
            self.stop()
            pytest.fail(f"nginx did not start: {errors[-1500:]}")

    def stop(self) -> None:
        if self.popen is None:
            return
        workers = [live.see(pid) for pid in live.children(self.popen.pid)]
        live.stop([s for s in [self.seen, *workers] if s is not None], [self.popen])
        self.popen = None


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


class Gunicorn:
    def __init__(self, venv, root: Path, args: list[str], env: dict | None = None):
        self.log = root / "gunicorn.log"
        with open(self.log, "wb") as out:
            self.popen = subprocess.Popen([str(venv.bin / "gunicorn"), *args, "app:app"], cwd=root,
                                          stdin=subprocess.DEVNULL, stdout=out, stderr=out, start_new_session=True,
                                          env={**os.environ, **(env or {})})
        self.seen = live.see(self.popen.pid)

    def wait(self, ready) -> None:
        deadline = time.monotonic() + live.START_TIMEOUT
        while time.monotonic() < deadline and self.popen.poll() is None and not ready():
            time.sleep(0.1)
        if not ready():
            self.stop()
            pytest.fail(f"gunicorn did not start: {self.log.read_text(errors='replace')[-1500:]}")

    def stop(self) -> None:
        workers = [live.see(pid) for pid in live.children(self.popen.pid)]
        live.stop([s for s in [self.seen, *workers] if s is not None], [self.popen])


@pytest.fixture
def world(venvs, tmp_path):
    """Start Gunicorn and Nginx on demand; stop all of them at the end."""
    _need_nginx()
    started: list = []
    root = tmp_path / "app"
    live.write(root / "app.py", ECHO_APP)
    shared = Path(tempfile.mkdtemp(prefix="scl-nginx-"))  # reachable by an unprivileged Nginx
    os.chmod(shared, 0o755)

    class World:
        venv = venvs["plain"]
        app_root = root
        public = shared

        def gunicorn(self, args, ready, env=None):
            server = Gunicorn(self.venv, root, args, env)
            started.append(server)
            server.wait(ready)
            return server

        def nginx(self, http_block, port, name="nginx"):
            server = Nginx(shared / name, http_block)
            started.append(server)
            server.start(port)
            return server

    try:
        yield World()
    finally:
        for server in reversed(started):
            server.stop()
        shutil.rmtree(shared, ignore_errors=True)


def _get(port: int, path: str = "/", data: bytes | None = None, headers: dict | None = None) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def _server(port: int, upstream: str, location_extra: str = "", server_extra: str = "") -> str:
    return f"""
    server {{
        listen 127.0.0.1:{port};
        server_name localhost;
{server_extra}
        location / {{
            proxy_pass {upstream};
{location_extra}
        }}
    }}
"""


def test_a_2mib_upload_through_the_default_limit_gets_413(world):
    app_port, front, raised = live.free_port(), live.free_port(), live.free_port()
    world.gunicorn(["-b", f"127.0.0.1:{app_port}"], lambda: live.answers(app_port))
    upstream = f"http://127.0.0.1:{app_port}"
    world.nginx(_server(front, upstream) + _server(raised, upstream, server_extra="client_max_body_size 20m;"), front)
    body = b"x" * (2 * 1024 * 1024)
    status, text = _get(front, data=body)
    assert status == 413 and "nginx" in text  # Nginx's own page: the app never saw it
    status, text = _get(raised, data=body)
    assert status == 200 and f"length={len(body)}" in text


def test_the_upgrade_needs_http_1_1_and_the_headers(world):
    app_port, bare, upgraded = live.free_port(), live.free_port(), live.free_port()
    world.gunicorn(["-b", f"127.0.0.1:{app_port}"], lambda: live.answers(app_port))
    upstream = f"http://127.0.0.1:{app_port}"
    upgrade = ("proxy_http_version 1.1;\n proxy_set_header Upgrade $http_upgrade;\n"
               " proxy_set_header Connection \"upgrade\";")
    world.nginx(_server(bare, upstream) + _server(upgraded, upstream, location_extra=upgrade), bare)
    handshake = {"Upgrade": "websocket", "Connection": "Upgrade"}
    _, text = _get(bare, headers=handshake)
    assert "protocol=HTTP/1.0" in text and "upgrade=\n" in text
    _, text = _get(upgraded, headers=handshake)
    assert "protocol=HTTP/1.1" in text and "upgrade=websocket" in text


def test_gunicorn_trusts_the_scheme_header_by_peer(world):
    trusted, excluded = live.free_port(), live.free_port()
    world.gunicorn(["-b", f"127.0.0.1:{trusted}"], lambda: live.answers(trusted))
    world.gunicorn(["-b", f"127.0.0.1:{excluded}", "--forwarded-allow-ips", "10.0.0.5"],
                   lambda: live.answers(excluded))
    sock_dir = world.public / "run"
    sock_dir.mkdir()
    os.chmod(sock_dir, 0o777)
    sock = sock_dir / "app.sock"
    world.gunicorn(["-b", f"unix:{sock}", "--forwarded-allow-ips", "10.0.0.5"], lambda: sock.exists())
    front_trusted, front_excluded, front_unix, front_none = (live.free_port() for _ in range(4))
    scheme = "proxy_set_header X-Forwarded-Proto https;"  # what `$scheme` is behind `listen 443 ssl`
    world.nginx(_server(front_trusted, f"http://127.0.0.1:{trusted}", scheme)
                + _server(front_excluded, f"http://127.0.0.1:{excluded}", scheme)
                + _server(front_unix, f"http://unix:{sock}", scheme)
                + _server(front_none, f"http://127.0.0.1:{trusted}"), front_trusted)
    assert "scheme=https" in _get(front_trusted)[1]  # default forwarded_allow_ips holds 127.0.0.1
    assert "scheme=http\n" in _get(front_excluded)[1]  # the header is dropped
    assert "scheme=https" in _get(front_unix)[1]  # a unix-socket peer is always trusted
    assert "scheme=http\n" in _get(front_none)[1]  # no header: the app sees http


def _raw_request(port: int) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    return conn


def _read_response(conn: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")))
    while len(rest) < length:
        rest += conn.recv(4096)
    return head


def test_sync_closes_gthread_keeps_for_keepalive_seconds(world):
    sync, threaded = live.free_port(), live.free_port()
    world.gunicorn(["-b", f"127.0.0.1:{sync}"], lambda: live.answers(sync))
    world.gunicorn(["-b", f"127.0.0.1:{threaded}", "--threads", "2", "--keep-alive", "1"],
                   lambda: live.answers(threaded))
    with _raw_request(sync) as conn:
        head = _read_response(conn)
        assert b"connection: close" in head.lower()
    with _raw_request(threaded) as conn:
        head = _read_response(conn)
        assert b"connection: close" not in head.lower()
        started = time.monotonic()
        assert conn.recv(1) == b""  # the server closes the idle connection …
        assert 0.5 < time.monotonic() - started < 5  # … after about `keepalive` seconds


def test_two_servers_with_one_name_the_first_wins(world):
    first, second, front = live.free_port(), live.free_port(), live.free_port()
    world.gunicorn(["-b", f"127.0.0.1:{first}"], lambda: live.answers(first), env={"APP_NAME": "first"})
    world.gunicorn(["-b", f"127.0.0.1:{second}"], lambda: live.answers(second), env={"APP_NAME": "second"})
    block = "".join(f"""
    server {{
        listen 127.0.0.1:{front};
        server_name example.com;
        location / {{ proxy_pass http://127.0.0.1:{port}; }}
    }}
""" for port in (first, second))
    nginx = world.nginx(block, front)
    checked = nginx.test_config()
    assert checked.returncode == 0 and "conflicting server name" in checked.stderr
    for _ in range(3):
        assert "name=first" in _get(front, headers={"Host": "example.com"})[1]


def test_localhost_is_both_addresses_and_nginx_tries_both(world):
    """SC306: where the resolver gives `localhost` both 127.0.0.1 and ::1 (Debian's /etc/hosts),
    Nginx uses both, and a server on 127.0.0.1 alone costs a refused connect per round."""
    addresses = {info[4][0] for info in socket.getaddrinfo("localhost", 80, proto=socket.IPPROTO_TCP)}
    if "::1" not in addresses or "127.0.0.1" not in addresses:
        pytest.skip(f"`localhost` resolves to {sorted(addresses)} here, not to both 127.0.0.1 and ::1")
    app_port, front = live.free_port(), live.free_port()
    world.gunicorn(["-b", f"127.0.0.1:{app_port}"], lambda: live.answers(app_port))
    nginx = world.nginx(_server(front, f"http://localhost:{app_port}"), front)
    statuses = [_get(front)[0] for _ in range(4)]
    assert statuses == [200] * 4  # retried on the other address
    errors = (nginx.prefix / "logs" / "error.log").read_text(errors="replace")
    assert f"[::1]:{app_port}" in errors and "Connection refused" in errors
