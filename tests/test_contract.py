"""The inferences of the Nginx ↔ app-server contract rules, one by one: what a module says
about its app (app_features), what a location sends (nginx inheritance), which location Nginx
picks, and how the model joins them."""

from __future__ import annotations

from sc_audit import audit
from sc_audit.checks.contract import app_interface, location_for, upgrades, worker_count
from sc_audit.parsers import nginx, python_app
from sc_audit.source import SourceFile

from conftest import write_repo


def module(text: str, path: str = "app.py"):
    return python_app.parse(SourceFile(path, "python-app", text))


def site(text: str, read_include=None):
    return nginx.parse(SourceFile("site.conf", "nginx", text), read_include)


# --------------------------------------------------------------------------- app features


def test_features_of_a_flask_socketio_upload_app():
    facts = module(
        "from flask import Flask, request\n"
        "from flask_socketio import SocketIO\n"
        "app = Flask(__name__)\n"
        "app.config['MAX_CONTENT_LENGTH'] = 50 << 20\n"
        "socketio = SocketIO(app, path='/ws/socket.io')\n"
        "@app.route('/up', methods=['POST'])\n"
        "def up():\n"
        "    return request.files['f'].filename\n")
    features = facts.features
    assert features.socketio is not None and features.socketio.line == 2
    assert features.socketio_path == "/ws/socket.io"
    assert features.upload is not None and features.upload.line == 8
    assert features.max_content_length.value == 50 * 1024 * 1024
    assert features.proxy_fix is None


def test_a_limit_that_is_not_a_constant_is_unknown():
    facts = module("import os\nMAX_CONTENT_LENGTH = int(os.environ['LIMIT'])\n")
    assert type(facts.features.max_content_length.value).__name__ == "Unknown"
    assert module("MAX_CONTENT_LENGTH = None\n").features.max_content_length.value is None


def test_words_in_comments_and_strings_do_not_count():
    facts = module("# request.files and SocketIO are not used here\nTEXT = 'UploadFile'\n")
    assert facts.features.upload is None and facts.features.socketio is None


def test_websocket_routes_keep_owner_and_path():
    facts = module(
        "from fastapi import FastAPI, WebSocket\n"
        "app = FastAPI()\n"
        "@app.websocket('/ws/{room}')\n"
        "async def ws(websocket: WebSocket):\n"
        "    pass\n")
    assert [(owner, path) for owner, path, _ in facts.features.websocket_routes] == [("app", "/ws/{room}")]


def test_the_last_binding_decides_the_interface():
    facts = module("from flask import Flask\nfrom asgiref.wsgi import WsgiToAsgi\n"
                   "app = Flask(__name__)\napp = WsgiToAsgi(app)\n")
    assert app_interface(facts, "app") == "asgi"
    facts = module("from fastapi import FastAPI\nimport wrap\napp = FastAPI()\napp = wrap.it(app)\n")
    assert app_interface(facts, "app") is None  # rebound to something unknown
    facts = module("from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n",
                   "proj/wsgi.py")
    assert app_interface(facts, "application") == "wsgi"


def test_imports_are_followed_to_the_module_that_uses_socketio(tmp_path):
    write_repo(tmp_path, {
        "app.py": "from flask import Flask\n\ndef create_app():\n    app = Flask(__name__)\n"
                  "    from .ext import socketio\n    socketio.init_app(app)\n    return app\n",
        "ext.py": "from flask_socketio import SocketIO\nsocketio = SocketIO()\n",
        "other.py": "from flask_socketio import SocketIO\n",
        "gunicorn.conf.py": "bind = '127.0.0.1:8000'\nworkers = 2\nwsgi_app = 'app:create_app()'\n",
    })
    report = audit(tmp_path)
    assert [f.rule for f in report.findings] == ["SC107"]
    assert "ext.py" in [r.span.path for r in report.findings[0].related]


# --------------------------------------------------------------------------- nginx


def test_a_location_header_replaces_the_servers_headers():
    facts = site("server { listen 443 ssl; proxy_set_header X-Forwarded-Proto $scheme;\n"
                 "  location / { proxy_pass http://127.0.0.1:8000; }\n"
                 "  location /ws { proxy_set_header Upgrade $http_upgrade; proxy_pass http://127.0.0.1:8000; } }\n")
    [server] = facts.servers
    assert server.tls
    root, ws = server.locations
    assert not root.proxy_settings and [v.value for v in server.proxy_settings["proxy_set_header"]] == \
        [("X-Forwarded-Proto", "$scheme")]
    assert [v.value for v in ws.proxy_settings["proxy_set_header"]] == [("Upgrade", "$http_upgrade")]


def test_proxy_params_is_known_and_other_unread_includes_are_not(tmp_path):
    write_repo(tmp_path, {"deploy/nginx.conf": (
        "server { listen 443 ssl;\n"
        "  location / { include proxy_params; proxy_pass http://127.0.0.1:8000; }\n"
        "  location /b { include snippets/x.conf; proxy_pass http://127.0.0.1:8000; } }\n")})
    proxies = {p.location: p for p in audit(tmp_path).model.proxies}
    assert proxies["/"].headers["x-forwarded-proto"] == "$scheme"
    assert proxies["/b"].headers is None and proxies["/b"].http_version is None


def test_body_size_inherits_http_server_location(tmp_path):
    write_repo(tmp_path, {"deploy/nginx.conf": (
        "http { client_max_body_size 5m;\n"
        " server { listen 80; location / { proxy_pass http://127.0.0.1:8000; }\n"
        "  location /up { client_max_body_size 50m; proxy_pass http://127.0.0.1:8000; } }\n"
        " server { listen 81; client_max_body_size 0; location / { proxy_pass http://127.0.0.1:8000; } } }\n")})
    sizes = [(p.location, p.body_size) for p in audit(tmp_path).model.proxies]
    assert sizes == [("/", 5 * 1024 * 1024), ("/up", 50 * 1024 * 1024), ("/", 0)]


def test_location_for_follows_nginx_order():
    facts = site("server {\n location / { }\n location /socket.io { }\n location ^~ /static/ { }\n"
                 " location ~ \\.php$ { }\n location = /exact { } }\n")
    locations = facts.servers[0].locations
    pick = lambda path: location_for(locations, path).match  # noqa: E731
    assert pick("/socket.io/") == "/socket.io"
    assert pick("/exact") == "= /exact"
    assert pick("/static/x.php") == "^~ /static/"
    assert pick("/a.php") == "~ \\.php$"
    assert pick("/other") == "/"


def test_upgrade_needs_version_and_both_headers(tmp_path):
    write_repo(tmp_path, {"deploy/nginx.conf": (
        "server { listen 80;\n"
        " location /a { proxy_pass http://127.0.0.1:8000; proxy_http_version 1.1;\n"
        "   proxy_set_header Upgrade $http_upgrade; proxy_set_header Connection $connection_upgrade; }\n"
        " location /b { proxy_pass http://127.0.0.1:8000; proxy_set_header Upgrade $http_upgrade;\n"
        "   proxy_set_header Connection upgrade; } }\n")})
    proxies = {p.location: p for p in audit(tmp_path).model.proxies}
    assert upgrades(proxies["/a"]) is True
    assert upgrades(proxies["/b"]) is False  # HTTP/1.0 by default


# --------------------------------------------------------------------------- servers


def test_worker_count_reads_formula_and_environment(tmp_path):
    write_repo(tmp_path, {
        "app.py": "def app(e, s):\n    return []\n",
        "deploy/a.service": "[Service]\nExecStart=/v/bin/gunicorn -b 127.0.0.1:1 app:app\n",
        "deploy/b.service": "[Service]\nEnvironment=WEB_CONCURRENCY=4\nExecStart=/v/bin/gunicorn -b 127.0.0.1:2 app:app\n",
        "deploy/c.service": "[Service]\nExecStart=/v/bin/gunicorn -w $W -b 127.0.0.1:3 app:app\n",
    })
    counts = {p.name: worker_count(p) for p in audit(tmp_path).model.processes}
    assert counts == {"a.service": 1, "b.service": 4, "c.service": None}


def test_a_socketio_client_is_not_a_socketio_server():
    assert module("import socketio\nsio = socketio.Client()\n").features.socketio is None
    assert module("import socketio\nsio = socketio.AsyncServer()\n").features.socketio is not None
    assert module("from socketio import WSGIApp\n").features.socketio is not None
    assert module("from flask_socketio import emit\n").features.socketio is not None
