"""Which paths an app routes (model/routes.py), through SC601 on small repositories of each shape:
every shape has a check on a path that is truly unrouted (SC601 fires) and one that the app routes
through a prefix, an include or an extension, or that sc-audit cannot know (SC601 stays silent)."""

import textwrap

import pytest

from sc_audit.model.routes import path_status, route_table


def unit(target: str, worker: str = "") -> dict:
    return {"deploy/app.service": "[Service]\nWorkingDirectory=/srv/app\n"
                                  f"ExecStart=/srv/app/venv/bin/gunicorn {worker}-b 127.0.0.1:8000 {target}\n"}


def check(path: str) -> dict:
    return {"deploy.sh": f"#!/bin/bash\nsudo systemctl restart app\ncurl -fsS http://127.0.0.1:8000{path}\n"}


def files(texts: dict[str, str]) -> dict:
    return {name: textwrap.dedent(text).lstrip() for name, text in texts.items()}


def sc601(repo, app_files: dict, target: str, path: str, worker: str = "") -> list:
    report = repo({**unit(target, worker), **check(path), **app_files})
    return [f for f in report.findings if f.rule == "SC601"]


UVICORN = "-k uvicorn.workers.UvicornWorker "

# --------------------------------------------------------------------------- FastAPI / Starlette

FASTAPI_ROUTERS = files({
    "main.py": """
        from fastapi import FastAPI
        from app.routers import ops

        app = FastAPI()
        app.include_router(ops.router, prefix="/api")
        """,
    "app/__init__.py": "",
    "app/routers/__init__.py": "",
    "app/routers/ops.py": """
        from fastapi import APIRouter

        router = APIRouter(prefix="/v1", tags=["ops"])


        @router.get("/health")
        async def health():
            return {"status": "ok"}
        """,
})


@pytest.mark.parametrize(("path", "fires"), [("/api/v1/health", False), ("/health", True), ("/v1/health", True),
                                             ("/api/v1/health/", False), ("/docs", False)])
def test_fastapi_prefixes_compose_across_modules(repo, path, fires):
    found = sc601(repo, FASTAPI_ROUTERS, "main:app", path, UVICORN)
    assert bool(found) == fires
    if fires:
        assert "/api/v1/health" in found[0].message


def test_fastapi_relative_import_of_a_router_module(repo):
    app = files({
        "svc/__init__.py": "",
        "svc/main.py": """
            from fastapi import FastAPI
            from .health import router as health_router

            app = FastAPI(docs_url=None)
            app.include_router(health_router, prefix="/internal")
            """,
        "svc/health.py": """
            from fastapi import APIRouter

            router = APIRouter()


            @router.get("/ping")
            def ping():
                return "pong"
            """,
    })
    assert not sc601(repo, app, "svc.main:app", "/internal/ping", UVICORN)
    assert sc601(repo, app, "svc.main:app", "/docs", UVICORN)  # docs_url=None: no /docs


def test_fastapi_dynamic_prefix_is_unknown(repo):
    app = files({"main.py": """
        from fastapi import APIRouter, FastAPI
        from config import settings

        router = APIRouter()


        @router.get("/health")
        def health():
            return {}


        app = FastAPI()
        app.include_router(router, prefix=settings.API_PREFIX)
        """})
    assert not sc601(repo, app, "main:app", "/api/v1/health", UVICORN)


def test_a_router_that_cannot_be_found_is_unknown_under_its_prefix(repo):
    app = files({"main.py": """
        from fastapi import FastAPI
        from some_installed_package import router

        app = FastAPI()
        app.include_router(router, prefix="/ext")


        @app.get("/")
        def index():
            return {}
        """})
    assert not sc601(repo, app, "main:app", "/ext/health", UVICORN)
    assert sc601(repo, app, "main:app", "/health", UVICORN)


def test_fastapi_mounts(repo):
    static = files({"main.py": """
        from fastapi import FastAPI
        from fastapi.staticfiles import StaticFiles

        app = FastAPI()
        app.mount("/static", StaticFiles(directory="static"), name="static")
        """})
    assert not sc601(repo, static, "main:app", "/static/ok.txt", UVICORN)
    assert sc601(repo, static, "main:app", "/health", UVICORN)
    everything = files({"main.py": """
        from fastapi import FastAPI
        from fastapi.staticfiles import StaticFiles

        app = FastAPI()
        app.mount("/", StaticFiles(directory="dist", html=True))
        """})
    assert not sc601(repo, everything, "main:app", "/health", UVICORN)


STARLETTE = files({"main.py": """
    from starlette.applications import Starlette
    from starlette.routing import Mount, Route


    async def ping(request):
        ...

    api_routes = [Route("/ping", ping)]
    routes = [
        Route("/", ping),
        Mount("/api", routes=api_routes),
        Mount("/admin", app=admin_app),
    ]
    app = Starlette(routes=routes)
    """})


@pytest.mark.parametrize(("path", "fires"), [("/api/ping", False), ("/admin/health", False), ("/health", True),
                                             ("/ping", True)])
def test_starlette_route_lists_and_mounts(repo, path, fires):
    assert bool(sc601(repo, STARLETTE, "main:app", path, UVICORN)) == fires


def test_starlette_routes_built_in_a_loop_are_unknown(repo):
    app = files({"main.py": """
        from starlette.applications import Starlette
        from starlette.routing import Route

        routes = []
        for name in ("a", "b"):
            routes.append(Route(f"/{name}", handler))
        app = Starlette(routes=routes)
        """})
    assert not sc601(repo, app, "main:app", "/health", UVICORN)


def test_fastapi_root_path_and_catch_all(repo):
    rooted = files({"main.py": """
        from fastapi import FastAPI

        app = FastAPI(root_path="/api")


        @app.get("/health")
        def health():
            return {}
        """})
    assert not sc601(repo, rooted, "main:app", "/api/health", UVICORN)
    assert not sc601(repo, rooted, "main:app", "/health", UVICORN)
    assert sc601(repo, rooted, "main:app", "/api/ready", UVICORN)
    catch_all = files({"main.py": """
        from fastapi import FastAPI

        app = FastAPI()


        @app.get("/{full_path:path}")
        def spa(full_path: str):
            return {}
        """})
    assert not sc601(repo, catch_all, "main:app", "/health", UVICORN)


# --------------------------------------------------------------------------- Flask

FLASK_FACTORY = files({
    "wsgi.py": """
        from app import create_app

        app = create_app()
        """,
    "app/__init__.py": """
        from flask import Flask


        def create_app():
            app = Flask(__name__)
            from .main import main as main_blueprint
            app.register_blueprint(main_blueprint)
            from .api import api as api_blueprint
            app.register_blueprint(api_blueprint, url_prefix="/api/v1")
            return app
        """,
    "app/main/__init__.py": """
        from flask import Blueprint

        main = Blueprint("main", __name__)

        from . import views
        """,
    "app/main/views.py": """
        from . import main


        @main.route("/health")
        def health():
            return "ok"
        """,
    "app/api/__init__.py": """
        from flask import Blueprint

        api = Blueprint("api", __name__, url_prefix="/ignored")


        def status():
            return {}


        api.add_url_rule("/status", view_func=status)
        """,
})


@pytest.mark.parametrize(("path", "fires"), [("/health", False), ("/api/v1/status", False), ("/status", True),
                                             ("/ignored/status", True), ("/static/app.css", False)])
def test_flask_blueprints_registered_in_a_factory(repo, path, fires):
    assert bool(sc601(repo, FLASK_FACTORY, "wsgi:app", path)) == fires


def test_flask_nested_blueprints(repo):
    app = files({"app.py": """
        from flask import Blueprint, Flask

        app = Flask(__name__)
        parent = Blueprint("parent", __name__, url_prefix="/api")
        child = Blueprint("child", __name__, url_prefix="/v1")


        @child.get("/health")
        def health():
            return "ok"


        parent.register_blueprint(child)
        app.register_blueprint(parent)
        """})
    assert not sc601(repo, app, "app:app", "/api/v1/health")
    assert sc601(repo, app, "app:app", "/v1/health")


def test_flask_views_on_an_app_imported_from_the_package(repo):
    app = files({
        "app/__init__.py": """
            from flask import Flask

            app = Flask(__name__)

            from app import routes
            """,
        "app/routes.py": """
            from app import app


            @app.route("/health")
            def health():
                return "ok"
            """,
    })
    assert not sc601(repo, app, "app:app", "/health")
    assert sc601(repo, app, "app:app", "/ready")


def test_flask_socketio_serves_socket_io(repo):
    app = files({"app.py": """
        from flask import Flask
        from flask_socketio import SocketIO

        app = Flask(__name__)
        socketio = SocketIO()
        socketio.init_app(app, cors_allowed_origins="*")
        """})
    assert not sc601(repo, app, "app:app", "/socket.io/?EIO=4&transport=polling")
    assert sc601(repo, app, "app:app", "/health")


def test_flask_restful_resources_and_restx(repo):
    restful = files({"app.py": """
        from flask import Flask
        from flask_restful import Api, Resource


        class Health(Resource):
            def get(self):
                return {"ok": True}


        app = Flask(__name__)
        api = Api(app, prefix="/v2")
        api.add_resource(Health, "/health", "/healthz")
        """})
    assert not sc601(repo, restful, "app:app", "/v2/healthz")
    assert sc601(repo, restful, "app:app", "/health")
    restx = files({"app.py": """
        from flask import Flask
        from flask_restx import Api

        app = Flask(__name__)
        api = Api(app)
        """})
    assert not sc601(repo, restx, "app:app", "/health")


def test_flask_catch_all_and_dynamic_rules(repo):
    catch_all = files({"app.py": """
        from flask import Flask

        app = Flask(__name__)


        @app.route("/", defaults={"path": ""})
        @app.route("/<path:path>")
        def spa(path):
            return "index"
        """})
    assert not sc601(repo, catch_all, "app:app", "/health")
    converter = files({"app.py": """
        from flask import Flask

        app = Flask(__name__)


        @app.route("/items/<int:item_id>")
        def item(item_id):
            return "item"
        """})
    assert not sc601(repo, converter, "app:app", "/items/5")
    assert sc601(repo, converter, "app:app", "/items")
    loop = files({"app.py": """
        from flask import Flask

        app = Flask(__name__)
        for name in ("a", "b"):
            app.add_url_rule(f"/{name}", name, lambda: "x")
        """})
    assert not sc601(repo, loop, "app:app", "/health")


# --------------------------------------------------------------------------- Django

DJANGO = files({
    "manage.py": """
        import os
        import sys

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
        """,
    "proj/__init__.py": "",
    "proj/wsgi.py": """
        import os

        from django.core.wsgi import get_wsgi_application

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "proj.settings")
        application = get_wsgi_application()
        """,
    "proj/settings/__init__.py": "from .base import *\n",
    "proj/settings/base.py": """
        DEBUG = False
        ROOT_URLCONF = "proj.urls"
        """,
    "proj/urls.py": """
        from django.conf import settings
        from django.conf.urls.static import static
        from django.contrib import admin
        from django.urls import include, path, re_path

        from . import views

        urlpatterns = [
            path("admin/", admin.site.urls),
            path("api/", include("api.urls")),
            path("v2/", include([path("items/<int:pk>/", views.item)])),
            re_path(r"^healthz/?$", views.healthz),
            path("accounts/", include("django.contrib.auth.urls")),
        ] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
        """,
    "api/__init__.py": "",
    "api/urls.py": """
        from django.urls import path

        from . import views

        urlpatterns = [
            path("health/", views.health, name="health"),
        ]
        """,
})


@pytest.mark.parametrize(("path", "fires"), [
    ("/api/health/", False), ("/api/health", False), ("/healthz", False), ("/healthz/", False),
    ("/admin/login/", False), ("/accounts/login/", False), ("/v2/items/5/", False),
    ("/health", True), ("/health/", True), ("/v2/items/x/", True), ("/api/ready/", True),
])
def test_django_urlconf_from_the_settings(repo, path, fires):
    found = sc601(repo, DJANGO, "proj.wsgi:application", path)
    assert bool(found) == fires
    if fires:
        assert "/api/health/" in found[0].message


def test_django_without_readable_settings_is_unknown(repo):
    app = dict(DJANGO)
    app["proj/wsgi.py"] = app["proj/wsgi.py"].replace('"proj.settings"', "os.environ['SETTINGS']")
    assert not sc601(repo, app, "proj.wsgi:application", "/health")


def test_django_unanchored_regex_and_router_urls_are_unknown(repo):
    app = dict(DJANGO)
    app["api/urls.py"] = textwrap.dedent("""
        from django.urls import include, path, re_path
        from rest_framework import routers

        router = routers.DefaultRouter()
        urlpatterns = [
            path("v1/", include(router.urls)),
            re_path(r"status", views.status),
        ]
        """)
    assert not sc601(repo, app, "proj.wsgi:application", "/api/v1/health")
    assert not sc601(repo, app, "proj.wsgi:application", "/api/anything/status")
    assert sc601(repo, app, "proj.wsgi:application", "/health")


# --------------------------------------------------------------------------- the table itself


def test_path_status_of_a_table(repo):
    report = repo({**unit("main:app", UVICORN), **FASTAPI_ROUTERS})
    module = report.model.module_paths["main.py"]
    table = route_table(report.model, module, "app")
    assert {r.rule for r in table.routes} >= {"/api/v1/health", "/docs", "/openapi.json"}
    assert [path_status(table, p) for p in ("/api/v1/health", "/api/v1/ready")] == ["routed", "unrouted"]


def test_a_hostile_django_regex_cannot_hang_the_audit(repo):
    app = dict(DJANGO)
    app["api/urls.py"] = 'from django.urls import re_path\n\nurlpatterns = [re_path(r"^(a+)+$", views.slow)]\n'
    assert sc601(repo, app, "proj.wsgi:application", "/api/" + "a" * 40 + "!")  # RE2: linear time
    app["api/urls.py"] = 'from django.urls import re_path\n\nurlpatterns = [re_path(r"^(?=x)x$", views.other)]\n'
    assert not sc601(repo, app, "proj.wsgi:application", "/api/y")  # RE2 refuses a lookahead: Unknown
    assert sc601(repo, app, "proj.wsgi:application", "/health")


def test_fastapi_template_shape_two_levels_of_routers(repo):
    """The full-stack template: main includes api_router with settings' prefix … here a constant."""
    app = files({
        "backend/app/__init__.py": "",
        "backend/app/main.py": """
            from fastapi import FastAPI

            from app.api.api_v1.api import api_router

            app = FastAPI(openapi_url="/api/v1/openapi.json")
            app.include_router(api_router, prefix="/api/v1")
            """,
        "backend/app/api/__init__.py": "",
        "backend/app/api/api_v1/__init__.py": "",
        "backend/app/api/api_v1/api.py": """
            from fastapi import APIRouter

            from app.api.api_v1.endpoints import items, utils

            api_router = APIRouter()
            api_router.include_router(items.router, prefix="/items", tags=["items"])
            api_router.include_router(utils.router, prefix="/utils", tags=["utils"])
            """,
        "backend/app/api/api_v1/endpoints/__init__.py": "",
        "backend/app/api/api_v1/endpoints/items.py": """
            from fastapi import APIRouter

            router = APIRouter()


            @router.get("/{item_id}")
            def read_item(item_id: int):
                return {}
            """,
        "backend/app/api/api_v1/endpoints/utils.py": """
            from fastapi import APIRouter

            router = APIRouter()


            @router.get("/health-check/")
            async def health_check() -> bool:
                return True
            """,
    })
    unit_files = {"deploy/app.service": "[Service]\nWorkingDirectory=/srv/app/backend\nExecStart=/srv/app/venv/bin/"
                                        "gunicorn -k uvicorn.workers.UvicornWorker -b 127.0.0.1:8000 app.main:app\n"}
    for path, fires in (("/api/v1/utils/health-check/", False), ("/api/v1/items/3", False),
                        ("/api/v1/health-check/", True), ("/api/v1/openapi.json", False), ("/openapi.json", True)):
        report = repo({**unit_files, **check(path), **app})
        assert bool([f for f in report.findings if f.rule == "SC601"]) == fires, path


def test_routes_added_by_a_function_given_the_app(repo):
    app = files({
        "app.py": """
            from flask import Flask
            from flask_cors import CORS

            from web.routes import register_routes
            from web import views

            app = Flask(__name__)
            CORS(app)
            register_routes(app)
            views.init(server=app)
            """,
        "web/__init__.py": "",
        "web/routes.py": """
            def register_routes(flask_app):
                @flask_app.route("/health")
                def health():
                    return "ok"
            """,
        "web/views.py": """
            def init(server):
                server.add_url_rule("/about", "about", lambda: "about")
            """,
    })
    assert not sc601(repo, app, "app:app", "/health")
    assert not sc601(repo, app, "app:app", "/about")
    assert sc601(repo, app, "app:app", "/ready")
    broken = dict(app)
    broken["web/routes.py"] = "def register_routes(flask_app):\n    print 'py2'\n"
    assert not sc601(repo, broken, "app:app", "/ready")  # a function that cannot be read: Unknown
