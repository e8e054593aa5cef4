"""Python app reader: app objects, factories, names, imports, routes, blueprints, runs."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sc_audit.facts import PythonModuleFacts
from sc_audit.parsers import python_app
from sc_audit.source import SourceFile, decode
from sc_audit.span import Unknown

CORPUS = Path("/work/shared/corpus/flaskapp")
ROOT = Path(__file__).resolve().parents[2]


def read(text: str, path: str = "app.py") -> PythonModuleFacts:
    return python_app.parse(SourceFile(path, "python-app", textwrap.dedent(text).lstrip("\n")))


def run_values(run) -> tuple:
    return tuple(None if v is None else v.value for v in (run.host, run.port, run.debug))


# --------------------------------------------------------------------------- module names


@pytest.mark.parametrize(
    "path, module",
    [
        ("app.py", "app"),
        ("pkg/__init__.py", "pkg"),
        ("src/web/app.py", "src.web.app"),
        ("./wsgi.py", "wsgi"),
    ],
)
def test_module_name(path, module):
    assert python_app.module_name(path) == module
    assert python_app.parse(SourceFile(path, "python-app", "")).module == module


def test_reading_python_does_not_import_libcst():
    code = (
        "import sys, sc_audit.parsers.python_app as a, sc_audit.parsers.gunicorn_conf as g;"
        "from sc_audit.source import SourceFile;"
        "text = 'from flask import Flask\\napp = Flask(__name__)\\nworkers = 2\\n';"
        "assert a.parse(SourceFile('app.py', 'python-app', text)).apps;"
        "assert g.parse(SourceFile('g.py', 'gunicorn-config', text)).settings['workers'].value == 2;"
        "assert 'libcst' not in sys.modules, 'libcst imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


# --------------------------------------------------------------------------- app objects


def test_module_level_flask_app_with_span():
    facts = read(
        """
        from flask import Flask
        app = Flask(__name__)
        """
    )
    (app,) = facts.apps
    assert (app.name, app.framework, app.in_function) == ("app", "flask", None)
    assert (app.span.line, app.span.column, app.span.end_column) == (2, 1, 22)
    assert facts.names["app"].line == 2


@pytest.mark.parametrize(
    "text, framework",
    [
        ("import flask\napp = flask.Flask(__name__)\n", "flask"),
        ("from flask import Flask as F\napp = F(__name__)\n", "flask"),
        ("from fastapi import FastAPI\napp = FastAPI(title='x')\n", "fastapi"),
        ("from starlette.applications import Starlette\napp = Starlette()\n", "starlette"),
        ("from quart import Quart\napp = Quart(__name__)\n", "quart"),
        ("from django.core.wsgi import get_wsgi_application\napp = get_wsgi_application()\n", "django"),
        ("from django.core.asgi import get_asgi_application\napp = get_asgi_application()\n", "django"),
        ("from flask import Flask\napp: Flask = Flask(__name__)\n", "flask"),
    ],
)
def test_app_constructors(text, framework):
    (app,) = read(text).apps
    assert (app.name, app.framework, app.span.line) == ("app", framework, 2)


def test_chained_assignment_binds_two_app_names():
    facts = read("from flask import Flask\napplication = app = Flask(__name__)\n")
    assert sorted(a.name for a in facts.apps) == ["app", "application"]


# --------------------------------------------------------------------------- factories


def test_factories_and_their_parameters():
    facts = read(
        """
        import flask
        from .factory import create_app as base_factory

        def create_app(config_name, debug=False, *args, testing, **kwargs):
            app = flask.Flask(__name__)
            if debug:
                app.debug = True
            return app

        def direct():
            return flask.Flask(__name__)

        def through_another():
            return create_app("prod", testing=False)

        def through_local():
            application = create_app("prod", testing=False)
            return application

        def imported_factory():
            return base_factory()

        def helper(x):
            value = x
            return value
        """
    )
    f = facts.functions
    assert f["create_app"].params == ("config_name", "debug", "*args", "testing", "**kwargs")
    assert f["create_app"].required_params == 2
    assert f["create_app"].span.line == 4
    for name in ("create_app", "direct", "through_another", "through_local", "imported_factory"):
        assert f[name].returns_app, name
    assert not f["helper"].returns_app
    (app,) = facts.apps
    assert (app.name, app.in_function, app.span.line) == ("app", "create_app", 5)


def test_factory_defined_after_its_caller():
    facts = read(
        """
        def make():
            return build()

        def build():
            from flask import Flask
            app = Flask(__name__)
            return app
        """
    )
    assert facts.functions["make"].returns_app and facts.functions["build"].returns_app


def test_app_from_an_imported_factory():
    facts = read(
        """
        from app import create_app
        from . import views
        from ..core.settings import Config as Cfg
        import os.path
        import werkzeug.middleware.proxy_fix as pf

        app = create_app()
        """,
        path="wsgi.py",
    )
    assert facts.apps == []  # AppObject is only for constructor calls
    assert facts.names["app"].line == 7
    assert facts.assigned_calls == {"app": "create_app"}
    imp = facts.imports
    assert (imp["create_app"].module, imp["create_app"].name, imp["create_app"].span.line) == ("app", "create_app", 1)
    assert (imp["views"].module, imp["views"].name) == (".", "views")
    assert (imp["Cfg"].module, imp["Cfg"].name) == ("..core.settings", "Config")
    assert (imp["os"].module, imp["os"].name) == ("os.path", None)
    assert (imp["pf"].module, imp["pf"].name) == ("werkzeug.middleware.proxy_fix", None)
    assert set(facts.names) == {"create_app", "views", "Cfg", "os", "pf", "app"}


def test_names_cover_every_top_level_binding():
    facts = read(
        """
        import json
        X = 1
        a, (b, c) = 1, (2, 3)
        class Config:
            inner = 1
        def view():
            local = 2
        if True:
            in_branch = 1
        for item in []:
            pass
        with open("f") as fh:
            pass
        try:
            from ujson import loads
        except ImportError:
            loads = json.loads
        counter: int = 0
        X += 1
        """
    )
    assert set(facts.names) == {
        "json", "X", "a", "b", "c", "Config", "view", "in_branch", "item", "fh", "loads", "counter",
    }  # fmt: skip
    assert "local" not in facts.names and "inner" not in facts.names
    assert facts.names["X"].line == 19  # the last binding
    assert facts.imports["loads"].module == "ujson"  # every import stays, even if rebound


# --------------------------------------------------------------------------- routes


def test_flask_routes():
    facts = read(
        """
        from flask import Flask
        app = Flask(__name__)
        PREFIX = "/v1"

        @app.route("/")
        def index():
            return "ok"

        @app.route("/items", methods=["get", "POST"])
        def items():
            pass

        @app.get("/health")
        def health():
            pass

        @app.route(PREFIX + "/x")
        def x():
            pass

        @app.route(make_path())
        def dynamic():
            pass

        def legacy():
            pass

        app.add_url_rule("/legacy", "legacy", legacy, methods=["PUT"])
        app.add_url_rule(rule="/kw", view_func=legacy)
        """
    )
    routes = [(r.app, r.path, r.methods, r.function, r.span.line) for r in facts.routes]
    assert routes[:4] == [
        ("app", "/", ("GET",), "index", 5),
        ("app", "/items", ("GET", "POST"), "items", 9),
        ("app", "/health", ("GET",), "health", 13),
        ("app", "/v1/x", ("GET",), "x", 17),
    ]
    dynamic = facts.routes[4]
    assert isinstance(dynamic.path, Unknown) and dynamic.path.text == "make_path()"
    assert routes[5:] == [
        ("app", "/legacy", ("PUT",), "legacy", 28),
        ("app", "/kw", ("GET",), "legacy", 29),
    ]
    assert facts.routes[0].span.column == 2  # after the "@"


def test_routes_inside_a_factory():
    facts = read(
        """
        from flask import Flask
        def create_app():
            app = Flask(__name__)

            @app.route("/ping", methods=("GET",))
            def ping():
                return "pong"

            return app
        """
    )
    (route,) = facts.routes
    assert (route.app, route.path, route.function, route.span.line) == ("app", "/ping", "ping", 5)
    assert facts.functions["create_app"].returns_app


def test_fastapi_routers_and_registrations():
    facts = read(
        """
        from fastapi import APIRouter, FastAPI
        from .users import router as users_router

        router = APIRouter(prefix="/items", tags=["items"])

        @router.get("")
        async def list_items():
            ...

        @router.api_route("/{id}", methods=["GET", "DELETE"])
        async def item(id: int):
            ...

        app = FastAPI()
        app.include_router(router, prefix="/api")
        app.include_router(users_router)

        @app.post("/login")
        def login():
            ...

        @cache.get("key")
        def not_a_route():
            ...
        """
    )
    assert [(b.name, b.url_prefix, b.span.line) for b in facts.blueprints] == [("router", "/items", 4)]
    routes = [(r.app, r.path, r.methods, r.function) for r in facts.routes]
    assert routes == [
        ("router", "", ("GET",), "list_items"),
        ("router", "/{id}", ("GET", "DELETE"), "item"),
        ("app", "/login", ("POST",), "login"),
    ]
    regs = [(r.app, r.blueprint, r.url_prefix, r.span.line) for r in facts.registrations]
    assert regs == [("app", "router", "/api", 15), ("app", "users_router", None, 16)]


def test_flask_blueprints():
    facts = read(
        """
        import os
        from flask import Blueprint, Flask
        from .auth import auth_bp

        bp = Blueprint("api", __name__, url_prefix="/api")
        plain = Blueprint("plain", __name__)

        @bp.route("/users", methods=["GET"])
        def users():
            pass

        app = Flask(__name__)
        app.register_blueprint(bp)
        app.register_blueprint(auth_bp, url_prefix="/auth")
        app.register_blueprint(plain, url_prefix=os.environ["PREFIX"])
        """
    )
    assert [(b.name, b.url_prefix, b.span.line) for b in facts.blueprints] == [("bp", "/api", 5), ("plain", None, 6)]
    assert facts.routes[0].app == "bp" and facts.routes[0].path == "/users"
    regs = facts.registrations
    assert [(r.blueprint, r.url_prefix) for r in regs[:2]] == [("bp", None), ("auth_bp", "/auth")]
    assert isinstance(regs[2].url_prefix, Unknown) and regs[2].url_prefix.text == 'os.environ["PREFIX"]'


# --------------------------------------------------------------------------- app.run


def test_run_values_and_main_guard():
    facts = read(
        """
        import os
        from flask import Flask
        app = Flask(__name__)
        app.run(debug=True)

        if __name__ == "__main__":
            port = int(os.environ.get("PORT", 5000))
            app.run(host="0.0.0.0", port=port, debug=os.getenv("DEBUG"))
            app.run("127.0.0.1", int(os.environ.get("PORT", 8080)), False)
        """
    )
    first, second, third = facts.runs
    assert run_values(first) == (None, None, True) and not first.under_main_guard
    assert first.span.line == 4
    assert second.under_main_guard and second.app == "app"
    assert second.host.value == "0.0.0.0" and second.port.value == 5000
    assert isinstance(second.debug.value, Unknown) and second.debug.value.text == 'os.getenv("DEBUG")'
    assert (second.port.span.line, second.port.span.column) == (8, 34)
    assert run_values(third) == ("127.0.0.1", 8080, False)


def test_other_runs():
    facts = read(
        """
        import threading, asyncio, uvicorn
        from app import create_app
        app, socketio = create_app()
        threading.Thread(target=print).run()
        asyncio.run(main())
        if '__main__' == __name__:
            socketio.run(app, host="0.0.0.0", port=5000)
            uvicorn.run("main:app", host="0.0.0.0", port=8000)

        def main():
            application = create_app()
            application.run(port=9000)
        """
    )
    runs = [(r.app, run_values(r), r.under_main_guard) for r in facts.runs]
    assert runs == [
        ("app", ("0.0.0.0", 5000, None), True),
        ("main:app", ("0.0.0.0", 8000, None), True),
        ("application", (None, 9000, None), False),
    ]


def test_values_bound_in_branches_are_unknown():
    facts = read(
        """
        import os
        from flask import Flask
        app = Flask(__name__)
        if os.getenv("PROD"):
            port = 80
        else:
            port = 8080
        app.run(port=port)
        """
    )
    assert isinstance(facts.runs[0].port.value, Unknown)


# --------------------------------------------------------------------------- errors


def test_syntax_error_line():
    facts = read("from flask import Flask\napp = Flask(__name__)\n\ndef broken(:\n    pass\n")
    (error,) = facts.errors
    assert error.span.line == 4 and error.message.startswith("syntax error")
    assert facts.apps == []


def test_unclosed_bracket_points_at_it():
    (error,) = read("x = 1\napp = Flask(\n    __name__\n").errors
    assert error.span.line == 2


@pytest.mark.parametrize(
    "text",
    [
        "x = " + "(" * 5000 + "1" + ")" * 5000 + "\n",
        "x = " + "[" * 5000 + "]" * 5000 + "\n",
        "x = " + "-" * 5000 + "1\n",
        "x = " + "not " * 5000 + "1\n",
        "x = " + " + ".join(["1"] * 5000) + "\n",
        "x = f" + "()" * 5000 + "\n",
        "x = " + "lambda: " * 5000 + "1\n",
        "x = " + "1 if a else " * 5000 + "2\n",
        "".join("    " * i + "if x:\n" for i in range(5000)) + "    " * 5000 + "pass\n",
        "x = " + "lambda: " * 5000 + "1\n)\n",
        "x = " + "f(" * 150 + ")" * 150 + "\n",
    ],
    ids=["parens", "lists", "unary", "not", "sum", "calls", "lambda", "ifexp", "indent", "broken", "150-calls"],
)
def test_deep_nesting_gives_a_parse_error(text):
    start = time.perf_counter()
    facts = python_app.parse(SourceFile("deep.py", "python-app", text))
    assert len(facts.errors) == 1
    assert time.perf_counter() - start < 3


def test_moderate_nesting_still_reads():
    text = "from flask import Flask\napp = Flask(__name__)\nx = " + "f(" * 90 + ")" * 90 + "\n"
    facts = python_app.parse(SourceFile("a.py", "python-app", text))
    assert facts.errors == [] and facts.apps[0].name == "app"


def test_nul_cr_and_crlf():
    (error,) = read("x = 1\ny = 2\x00\n").errors
    assert (error.span.line, error.span.column) == (2, 6)
    text = "from flask import Flask\r\napp = Flask(__name__)\r@app.route('/')\r\ndef i():\r    pass\r\n"
    facts = python_app.parse(SourceFile("a.py", "python-app", text))
    assert facts.errors == [] and facts.apps[0].span.line == 2 and facts.routes[0].span.line == 3


PY_FRAGMENTS = st.sampled_from(
    [
        "app", " = ", "Flask(__name__)", "@app.route(", "'/x'", ")", "(", "def f():", "\n", "\r\n", "\r",
        "    ", "return app", "if __name__ == '__main__':", "app.run(", "port=", "5000", ", ", "\x00",
        "import flask", "from . import x", "Blueprint(", "url_prefix=", "methods=[", "]", "'GET'", ":",
        "\\", "#", "'", '"', "f'{", "}'", "lambda", "\t", "async ", "class C:", "app.register_blueprint(bp",
    ]
)  # fmt: skip


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(PY_FRAGMENTS, max_size=40).map("".join) | st.text(max_size=200))
def test_never_raises(text):
    facts = python_app.parse(SourceFile("a.py", "python-app", text))
    assert all("internal error" not in e.message for e in facts.errors)


VALID_LINES = st.sampled_from(
    [
        "from flask import Flask, Blueprint",
        "app = Flask(__name__)",
        "bp = Blueprint('b', __name__, url_prefix='/b')",
        "@app.route('/a', methods=['GET'])\ndef a():\n    return app",
        "@bp.get(path())\ndef b():\n    pass",
        "def create_app(x, y=1):\n    app = Flask(__name__)\n    return app",
        "def other():\n    return create_app(1)",
        "app.register_blueprint(bp, url_prefix=f'/{app}')",
        "if __name__ == '__main__':\n    app.run(host='0.0.0.0', port=int(os.getenv('P', 1)))",
        "app.run(*args, **kwargs)",
        "app.add_url_rule('/r', view_func=a)",
        "x, *y = app",
        "for app in []:\n    app.run()",
        "try:\n    import os\nexcept Exception as e:\n    os = None",
        "with x as (a, b):\n    app = Flask(__name__)",
        "class K:\n    app = Flask(__name__)",
        "async def f():\n    return await g()",
        "del app",
        "app: Flask",
        "app.config['X'] = 1",
        "@app.route\ndef bare():\n    pass",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(VALID_LINES, min_size=1, max_size=10))
def test_valid_programs_read_without_errors(lines):
    facts = python_app.parse(SourceFile("a.py", "python-app", "\n".join(lines) + "\n"))
    assert facts.errors == []


# --------------------------------------------------------------------------- the corpus


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []


def read_file(path: Path) -> PythonModuleFacts:
    text, _ = decode(path.read_bytes())
    return python_app.parse(SourceFile(path.name, "python-app", text))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
def test_corpus_reads_and_finds_apps_and_routes():
    files = corpus_files()
    results = [read_file(path) for path in files]
    assert len(files) >= 35
    assert all(not r.errors for r in results)
    with_app = [r for r in results if r.apps or any(f.returns_app for f in r.functions.values())]
    from_factory = [r for r in results if r not in with_app and "app" in r.assigned_calls]
    # measured: 27 of 40 build an app or a factory; 11 more bind `app = create_app(...)`
    assert len(with_app) >= 0.65 * len(files)
    assert len(with_app) + len(from_factory) >= 0.9 * len(files)
    with_routes = [r for r in with_app if r.routes]
    assert len(with_routes) >= 0.6 * len(with_app)  # measured: 20 of 27
    assert sum(len(r.routes) for r in results) >= 45  # measured: 50
    assert sum(1 for r in results if r.runs) >= 0.6 * len(files)  # measured: 29 of 40


def corpus_file(name: str) -> PythonModuleFacts:
    path = CORPUS / name
    if not path.exists():
        pytest.skip("file absent")
    return read_file(path)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
def test_corpus_exact_facts():
    facts = corpus_file("jamieyoung0502__makers-solutions__solutions__phase_two__4_tdd_route_with_db__app.py")
    assert [(r.path, r.methods, r.span.line) for r in facts.routes] == [
        ("/albums", ("POST",), 11),
        ("/albums", ("GET",), 22),
        ("/artists", ("GET",), 28),
        ("/artists", ("POST",), 34),
    ]
    (run,) = facts.runs
    assert run_values(run) == (None, 5000, True) and run.under_main_guard and run.span.line == 42

    facts = corpus_file("higherrrrrrr__higherrrrrrr.fun__api__app.py")
    assert facts.functions["create_app"].returns_app
    assert [(a.name, a.in_function, a.span.line) for a in facts.apps] == [("app", "create_app", 14)]
    assert [r.path for r in facts.routes] == ["/", "/health", "/api/endpoints", "/eth/price"]
    assert [(r.blueprint, r.span.line) for r in facts.registrations] == [("blueprint", 49), ("twitter", 50)]
    assert facts.registrations[1].url_prefix == "/api"
    assert run_values(facts.runs[0]) == ("0.0.0.0", 5000, False)

    facts = corpus_file("0xCarti__InvoiceManager__run.py")
    (run,) = facts.runs
    assert (run.app, run_values(run), run.span.line) == ("app", ("0.0.0.0", 5000, True), 9)
    assert facts.assigned_calls["app"] == "create_app" and facts.imports["create_app"].module == "app"

    facts = corpus_file("Iron512__VRS-Elo__server.py")
    assert [(a.name, a.span.line) for a in facts.apps] == [("task", 7)] and facts.runs == []
    assert {r.app for r in facts.routes} == {"task"} and len(facts.routes) == 3


def test_spans_count_code_points_and_tabs_one_column():
    # `ast` counts UTF-8 bytes; the facts' columns count characters (a tab is one)
    facts = read('from flask import Flask\nnom = "日本"; app = Flask(__name__)\nif True:\n\tapi = Flask("é")\n')
    (app, api) = facts.apps
    assert (app.span.line, app.span.column, app.span.end_column) == (2, 13, 34)
    assert (api.span.line, api.span.column, api.span.end_column) == (4, 2, 18)


def test_unknown_text_is_the_source_without_grouping_parentheses():
    from sc_audit.parsers import gunicorn_conf

    text = 'import os\nbind = ("é:" + (os.environ["PÖRT"]))\nworkers = (1, os.cpu_count())\n'
    settings = gunicorn_conf.parse(SourceFile("g.py", "gunicorn-config", text)).settings
    assert settings["bind"].value == Unknown('"é:" + (os.environ["PÖRT"])', settings["bind"].value.span)
    assert (settings["bind"].value.span.column, settings["bind"].value.span.end_column) == (9, 36)
    assert settings["workers"].value.text == "1, os.cpu_count()"  # a tuple's own parentheses too
