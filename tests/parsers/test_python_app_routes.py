"""Python app reader, the facts the routes model joins: route lists, mounts, extensions, Django."""

from __future__ import annotations

import textwrap

from sc_audit.facts import PythonModuleFacts
from sc_audit.parsers import python_app
from sc_audit.source import SourceFile
from sc_audit.span import Unknown


def read(text: str, path: str = "app.py") -> PythonModuleFacts:
    return python_app.parse(SourceFile(path, "python-app", textwrap.dedent(text).lstrip("\n")))


def test_django_urlpatterns_grow_and_include():
    facts = read(
        """
        from django.conf import settings
        from django.conf.urls.static import static
        from django.contrib import admin
        from django.urls import include, path, re_path
        from . import api_urls

        extra = [path("b/", views.b)]
        urlpatterns = [
            path("admin/", admin.site.urls),
            path("api/", include(("api.urls", "api"), namespace="api")),
            path("mod/", include(api_urls)),
            path("x/", include(extra)),
            re_path(r"^r/(?P<pk>[0-9]+)$", views.r),
        ] + static(settings.MEDIA_URL)
        if settings.DEBUG:
            urlpatterns += [path("debug/", views.debug)]
        urlpatterns.append(path(settings.HOOK, views.hook))
        ROOT_URLCONF = "proj.urls"
        """,
        "proj/urls.py",
    )
    entries = [(p.kind, p.route, p.include, p.unknown is not None) for p in facts.urlpatterns]
    assert entries[:3] == [("path", "admin/", None, True), ("path", "api/", "api.urls", False),
                           ("path", "mod/", ".api_urls", False)]
    assert facts.urlpatterns[3].children[0].route == "b/"
    assert entries[4] == ("re_path", "^r/(?P<pk>[0-9]+)$", None, False)
    assert entries[5][1] == "debug/"  # a DEBUG-only entry counts: it can only silence SC601
    assert isinstance(facts.urlpatterns[6].route, Unknown)
    assert len(entries) == 7 and facts.root_urlconf == "proj.urls"


def test_urlpatterns_built_in_a_loop_are_unknown():
    facts = read(
        """
        from django.urls import path

        urlpatterns = []
        for name in NAMES:
            urlpatterns.append(path(name + "/", view))
        """,
        "urls.py",
    )
    assert facts.urlpatterns[-1].kind == "unknown" and "loop" in facts.urlpatterns[-1].unknown


def test_django_settings_module_and_star_imports():
    wsgi = read('import os\nos.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings.prod")\n', "proj/wsgi.py")
    assert wsgi.django_settings == "proj.settings.prod"
    dynamic = read('import os\nos.environ["DJANGO_SETTINGS_MODULE"] = os.environ["X"]\n', "wsgi.py")
    assert isinstance(dynamic.django_settings, Unknown)
    settings = read("from .base import *\nfrom .local import *\n", "proj/settings/__init__.py")
    assert settings.star_imports == [".base", ".local"] and settings.root_urlconf is None


def test_starlette_routes_mounts_and_settings():
    facts = read(
        """
        from fastapi import FastAPI
        from starlette.routing import Mount, Route, WebSocketRoute

        routes = [Route("/a", a), Mount("/m", routes=[Route("/b", b)]), Mount("/sub", app=sub), *more]
        app = FastAPI(routes=routes, root_path="/api", docs_url=None, redoc_url=PREFIX + "/redoc")
        app.mount("/static", StaticFiles(directory="static"))

        @app.websocket("/ws")
        async def ws(websocket):
            ...
        """
    )
    assert [(r.app, r.path) for r in facts.routes] == [("app", "/a"), ("app", "/m/b"), ("app", "/ws")]
    unknowns = [(u.app, u.prefix) for u in facts.route_unknowns]
    assert unknowns == [("app", ""), ("app", "/sub"), ("app", "/static")]  # `*more`, the mounts
    settings = {s.key: s.value for s in facts.app_settings}
    assert settings["root_path"] == "/api" and settings["docs_url"] is None
    assert isinstance(settings["redoc_url"], Unknown)


def test_extensions_that_add_routes():
    facts = read(
        """
        from flask import Flask
        from flask_socketio import SocketIO
        from flask_restful import Api
        from flask_admin import Admin
        from prometheus_fastapi_instrumentator import Instrumentator

        app = Flask(__name__)
        socketio = SocketIO(app, path="/ws/socket.io")
        api = Api(app, prefix="/v1")
        api.add_resource(Health, "/health")
        Admin(app, name="admin")
        Instrumentator().instrument(app).expose(app)
        """
    )
    routes = [(r.app, r.path) for r in facts.routes]
    assert ("app", "/ws/socket.io/") in routes and ("api", "/health") in routes
    assert [(b.name, b.url_prefix) for b in facts.blueprints] == [("api", "/v1")]
    assert [(r.app, r.blueprint) for r in facts.registrations] == [("app", "api")]
    assert [u.reason for u in facts.route_unknowns] == ["`flask_admin.Admin` adds routes",
                                                         "`prometheus_fastapi_instrumentator.Instrumentator` adds routes"]


def test_blueprint_imported_inside_the_factory_and_dynamic_prefix():
    facts = read(
        """
        from flask import Blueprint, Flask

        bp = Blueprint("bp", __name__, url_prefix=PREFIX)

        def create_app():
            app = Flask(__name__)
            from .views import main as main_bp
            app.register_blueprint(main_bp)
            return app
        """
    )
    assert isinstance(facts.blueprints[0].url_prefix, Unknown)
    imported = facts.function_imports["main_bp"]
    assert (imported.module, imported.name) == (".views", "main") and "main_bp" not in facts.imports
