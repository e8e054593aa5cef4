"""gunicorn.conf.py reader: settings evaluated statically, with lines, env vars, CPU formulas."""

from __future__ import annotations

import ast
import textwrap
import time
from pathlib import Path

import pytest
from hypothesis import assume, HealthCheck, given, settings
from hypothesis import strategies as st

from sc_audit.facts import GunicornConfigFacts
from sc_audit.parsers import gunicorn_conf
from sc_audit.source import SourceFile, decode
from sc_audit.span import Unknown

CORPUS = Path("/work/shared/corpus/gunicorn")

PLAN = """
import multiprocessing
bind = "127.0.0.1:8001"
workers = multiprocessing.cpu_count() * 2 + 1
worker_class = "sync"
timeout = 120
keepalive = 5
accesslog = "-"
max_requests = 1000
max_requests_jitter = 50
wsgi_app = "app:create_app()"
"""


def read(text: str, path: str = "gunicorn.conf.py") -> GunicornConfigFacts:
    return gunicorn_conf.parse(SourceFile(path, "gunicorn-config", textwrap.dedent(text).lstrip("\n")))


def values(text: str) -> dict:
    return {name: s.value for name, s in read(text).settings.items()}


# --------------------------------------------------------------------------- the SignalCraft plan


def test_signalcraft_plan_config():
    facts = read(PLAN)
    s = facts.settings
    assert facts.errors == []
    assert set(s) == {
        "bind", "workers", "worker_class", "timeout", "keepalive", "accesslog",
        "max_requests", "max_requests_jitter", "wsgi_app",
    }  # fmt: skip
    assert s["bind"].value == "127.0.0.1:8001" and s["bind"].span.line == 2
    assert isinstance(s["workers"].value, Unknown)
    assert s["workers"].cpu_formula == ("+", ("*", ("cpu",), 2), 1)
    assert s["workers"].text == "multiprocessing.cpu_count() * 2 + 1"
    assert s["workers"].span.line == 3 and not s["workers"].capped
    assert s["timeout"].value == 120 and s["timeout"].span.line == 5
    assert s["max_requests"].value == 1000 and s["max_requests_jitter"].value == 50
    assert s["wsgi_app"].value == "app:create_app()"
    assert s["wsgi_app"].span.line == 10 and s["wsgi_app"].span.column == 1
    assert s["wsgi_app"].text == '"app:create_app()"'


def test_getenv_default_converted_with_int():
    s = read("import os\nworkers = int(os.getenv('GUNICORN_WORKERS', '2'))\n").settings["workers"]
    assert s.value == 2 and s.env == ("GUNICORN_WORKERS",)
    assert s.span.line == 2 and s.text == "int(os.getenv('GUNICORN_WORKERS', '2'))"


# --------------------------------------------------------------------------- env vars


def test_env_var_forms():
    facts = read(
        """
        import os
        from os import environ
        bind = os.environ.get("BIND", "0.0.0.0:8000")
        timeout = int(environ.get("TIMEOUT", 30))
        workers = os.environ["WORKERS"]
        threads = os.getenv("THREADS")
        keepalive = int(os.getenv("KEEPALIVE", default="5"))
        """
    )
    s = facts.settings
    assert (s["bind"].value, s["bind"].env) == ("0.0.0.0:8000", ("BIND",))
    assert (s["timeout"].value, s["timeout"].env) == (30, ("TIMEOUT",))
    assert isinstance(s["workers"].value, Unknown) and s["workers"].env == ("WORKERS",)
    assert isinstance(s["threads"].value, Unknown) and s["threads"].env == ("THREADS",)
    assert s["keepalive"].value == 5
    assert "os" not in s and "environ" not in s  # imported modules are not settings


def test_env_var_without_default_or_fallback_takes_the_fallback():
    s = read(
        """
        import os, multiprocessing
        workers = int(os.environ.get("WEB_CONCURRENCY") or 3)
        threads = int(os.environ.get("T") or (2 * multiprocessing.cpu_count()))
        bind = os.getenv("BIND", "") or ":5002"
        """
    ).settings
    assert s["workers"].value == 3 and s["workers"].env == ("WEB_CONCURRENCY",)
    assert s["threads"].cpu_formula == ("*", 2, ("cpu",)) and s["threads"].env == ("T",)
    assert s["bind"].value == ":5002"


def test_env_through_names_bound_earlier():
    s = read(
        """
        import os
        HOST = os.getenv("HOST", "127.0.0.1")
        PORT = int(os.getenv("PORT", 5000))
        bind = f"{HOST}:{PORT}"
        """
    ).settings
    assert s["bind"].value == "127.0.0.1:5000"
    assert s["bind"].env == ("HOST", "PORT")
    assert s["PORT"].value == 5000  # plain module names are kept too


# --------------------------------------------------------------------------- CPU count


@pytest.mark.parametrize(
    "text, formula",
    [
        ("import multiprocessing as mp\nworkers = mp.cpu_count() * 2 + 1\n", ("+", ("*", ("cpu",), 2), 1)),
        ("from multiprocessing import cpu_count\nworkers = 2 * cpu_count()\n", ("*", 2, ("cpu",))),
        ("import os\nworkers = os.cpu_count() // 2\n", ("//", ("cpu",), 2)),
        ("import os\nworkers = len(os.sched_getaffinity(0)) - 1\n", ("-", ("cpu",), 1)),
        ("import os\ncores = os.cpu_count()\nworkers = cores * 2\n", ("*", ("cpu",), 2)),
        ("import os\nworkers = int(os.cpu_count() / 2)\n", ("//", ("/", ("cpu",), 2), 1)),
        ("import os\nworkers = max(2, os.cpu_count())\n", ("max", 2, ("cpu",))),
    ],
)
def test_cpu_formulas(text, formula):
    s = read(text).settings["workers"]
    assert isinstance(s.value, Unknown)
    assert s.cpu_formula == formula


def test_min_caps_and_keeps_a_tree_node():
    s = read(
        """
        import multiprocessing
        workers = min(multiprocessing.cpu_count() * 2 + 1, 8)
        threads = min(4, 2)
        """
    ).settings
    assert s["workers"].cpu_formula == ("min", ("+", ("*", ("cpu",), 2), 1), 8)
    assert s["workers"].capped
    assert s["threads"].value == 2 and s["threads"].capped


def test_cpu_formula_with_env_default():
    s = read(
        """
        import os, multiprocessing
        workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
        """
    ).settings["workers"]
    assert s.cpu_formula == ("+", ("*", ("cpu",), 2), 1) and s.env == ("GUNICORN_WORKERS",)


# --------------------------------------------------------------------------- strings and numbers


def test_string_building():
    v = values(
        """
        host = "0.0.0.0"
        port = 8000
        a = host + ":" + str(port)
        b = f"{host}:{port}"
        c = "%s:%s" % (host, port)
        d = "{}:{}".format(host, port)
        e = "{h}:{p}".format(h=host, p=port)
        f = "unix:" "/run/app.sock"
        g = f"{port:>6}|{host!r}"
        h = "INFO".lower()
        """
    )
    assert v["a"] == v["b"] == v["c"] == v["d"] == v["e"] == "0.0.0.0:8000"
    assert v["f"] == "unix:/run/app.sock"
    assert v["g"] == "  8000|'0.0.0.0'"
    assert v["h"] == "info"


def test_literals_and_arithmetic():
    v = values(
        """
        raw_env = ["A=1", "B=2"]
        bind = ("127.0.0.1:8000", "[::1]:8000")
        secure_scheme_headers = {"X-FORWARDED-PROTO": "https"}
        timeout = 2 * 60
        graceful_timeout = timeout // 4
        umask = 0o007
        preload_app = not False
        daemon = None
        limit = 1_000
        ratio = float("0.5")
        on = bool(1)
        """
    )
    assert v["raw_env"] == ["A=1", "B=2"]
    assert v["bind"] == ("127.0.0.1:8000", "[::1]:8000")
    assert v["secure_scheme_headers"] == {"X-FORWARDED-PROTO": "https"}
    assert (v["timeout"], v["graceful_timeout"], v["umask"]) == (120, 30, 7)
    assert v["preload_app"] is True and v["daemon"] is None
    assert (v["limit"], v["ratio"], v["on"]) == (1000, 0.5, True)


def test_augmented_assignment_and_reassignment():
    facts = read("timeout = 30\ntimeout += 30\nworkers = 2\nworkers = 4\n")
    s = facts.settings
    assert s["timeout"].value == 60 and s["timeout"].span.line == 2
    assert s["workers"].value == 4 and s["workers"].span.line == 4


def test_what_cannot_be_known_is_unknown_with_its_text():
    s = read(
        """
        from myconf import settings
        def compute():
            return 3
        workers = compute()
        bind = settings.BIND
        timeout = 1 / 0
        when_ready = lambda server: None
        """
    ).settings
    assert s["workers"].value == Unknown("compute()", s["workers"].value.span)
    assert s["workers"].value.span.line == 4
    assert s["bind"].text == "settings.BIND" and isinstance(s["bind"].value, Unknown)
    assert isinstance(s["timeout"].value, Unknown)
    assert isinstance(s["when_ready"].value, Unknown)
    assert "compute" not in s and "settings" not in s


def test_failing_augmented_assignment_is_unknown():
    s = read("workers = 'x'\nworkers += 1\ntimeout = 1\ntimeout /= 0\n").settings
    assert isinstance(s["workers"].value, Unknown) and isinstance(s["timeout"].value, Unknown)


def test_mutation_makes_a_value_unknown():
    s = read('raw_env = ["A=1"]\nraw_env.append("B=2")\n').settings
    assert isinstance(s["raw_env"].value, Unknown) and s["raw_env"].span.line == 1


def test_annotation_alone_binds_nothing():
    v = values("workers: 2\nbind: str = '0.0.0.0:80'\n")
    assert v == {"bind": "0.0.0.0:80"}


def test_tuple_unpacking():
    v = values("host, port = '0.0.0.0', 80\nbind = f'{host}:{port}'\n")
    assert v["bind"] == "0.0.0.0:80"


def test_hooks_dunders_and_helpers():
    s = read(
        """
        __doc__ = "x"
        def post_fork(server, worker):
            pass
        def _helper():
            pass
        class Worker:
            pass
        _private = 1
        """
    ).settings
    assert set(s) == {"post_fork", "_private"}
    assert isinstance(s["post_fork"].value, Unknown) and s["post_fork"].span.line == 2


def test_huge_values_are_refused_quickly():
    start = time.perf_counter()
    v = values(
        """
        a = "x" * 10**9
        b = 9 ** 9 ** 9
        c = "%999999999s" % "a"
        d = "{:999999999}".format(1)
        e = f"{1:999999999}"
        s = "y" * 50000
        f = [s] * 50000
        g = str(f)
        h = "{0.__class__}".format(s)
        """
    )
    assert time.perf_counter() - start < 2
    for name in "abcdegh":
        assert isinstance(v[name], Unknown), name


# --------------------------------------------------------------------------- branches


def test_branch_values_agree_or_become_unknown():
    s = read(
        """
        import os
        if os.getenv("PROD"):
            workers = 4
            timeout = 30
        else:
            workers = 4
            timeout = 60
        if os.getenv("DEV"):
            reload = True
        """
    ).settings
    assert s["workers"].value == 4
    assert isinstance(s["timeout"].value, Unknown) and s["timeout"].env == ("PROD",)
    assert s["timeout"].span.line == 7
    assert isinstance(s["reload"].value, Unknown)


def test_branch_on_a_known_constant_is_followed():
    v = values(
        """
        DEBUG = False
        if DEBUG:
            loglevel = "debug"
        elif 1 > 2:
            loglevel = "never"
        else:
            loglevel = "info"
        if __name__ == "__main__":
            workers = 99
        """
    )
    assert v["loglevel"] == "info"
    assert "workers" not in v  # gunicorn's exec namespace has __name__ == "__config__"


def test_try_and_loops_are_conservative():
    s = read(
        """
        workers = 2
        try:
            import ujson
            timeout = 10
        except ImportError:
            timeout = 10
        try:
            keepalive = int("x")
        except ValueError:
            keepalive = 5
        for i in range(3):
            workers += 1
        with open("x") as fh:
            threads = 4
        """
    ).settings
    assert s["timeout"].value == 10
    assert isinstance(s["keepalive"].value, Unknown)
    assert isinstance(s["workers"].value, Unknown)
    assert s["threads"].value == 4


def test_party_wall_style_override_in_branch():
    s = read(
        """
        import os, multiprocessing
        ENV = os.getenv("ENV")
        workers = multiprocessing.cpu_count() * 2 + 1
        if ENV in ["development", "dev"]:
            workers = 4
        """
    ).settings
    assert isinstance(s["workers"].value, Unknown) and s["workers"].cpu_formula is None
    assert "ENV" in s["workers"].env


# --------------------------------------------------------------------------- errors


def test_syntax_error_gives_parse_error_at_its_line():
    facts = read("bind = '0.0.0.0:80'\nworkers = = 3\n")
    assert facts.settings == {}
    assert len(facts.errors) == 1 and facts.errors[0].span.line == 2


def test_unclosed_bracket_points_at_the_opening_line():
    facts = read("timeout = 30\nraw_env = [\n  'A=1',\n")
    assert facts.errors and facts.errors[0].span.line == 2


@pytest.mark.parametrize(
    "text",
    [
        "workers = " + "(" * 5000 + "1" + ")" * 5000 + "\n",
        "workers = " + "-" * 5000 + "1\n",
        "workers = " + "+".join(["1"] * 5000) + "\n",
        "workers = " + "lambda: " * 5000 + "1\n",
        "workers = " + "lambda: " * 5000 + "1\n)\n",
        "workers = a" + ".b" * 5000 + "\n",
    ],
    ids=["parens", "unary", "sum", "lambda", "lambda-broken", "attributes"],
)
def test_deep_nesting_gives_a_parse_error_not_a_crash(text):
    facts = gunicorn_conf.parse(SourceFile("g.py", "gunicorn-config", text))
    assert len(facts.errors) == 1 and facts.errors[0].span.line == 1


def test_nul_byte_and_carriage_returns():
    assert read("bind = 'a'\x00\n").errors[0].span.line == 1
    facts = gunicorn_conf.parse(SourceFile("g.py", "gunicorn-config", "x = 1\r\nworkers = 3\rtimeout = 4\n"))
    assert facts.errors == []
    assert facts.settings["timeout"].value == 4 and facts.settings["timeout"].span.line == 3


FRAGMENTS = st.sampled_from(
    [
        "workers", " = ", "bind", "'0.0.0.0:80'", "os.getenv(", "'X'", ", ", ")", "(", "[", "]",
        "\n", "\r\n", "\r", "    ", "if ", ":", "else", "import os", "multiprocessing.cpu_count()",
        " * ", " + ", " // ", "f'{", "}'", "%", "\\", "\x00", "#", "\"", "'", "min(", "1", "0x", "lambda",
        "try:", "except:", "for x in y:", "def f():", "return", ".format(", "**", "~", "\t",
    ]
)  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(FRAGMENTS, max_size=40).map("".join) | st.text(max_size=200))
def test_never_raises(text):
    facts = gunicorn_conf.parse(SourceFile("g.py", "gunicorn-config", text))
    assert all("internal error" not in e.message for e in facts.errors)
    for setting in facts.settings.values():
        assert setting.span.line >= 1


LEAVES = st.sampled_from(
    [
        "1", "0", "-3", "2.5", "'a'", "''", "'%s'", "'{}'", "None", "True", "workers", "bind",
        "os.getenv('X')", "os.getenv('Y', '4')", "os.environ['Z']", "multiprocessing.cpu_count()",
        "[1, 'b']", "('x',)", "{'k': 1}", "undefined_name", "10**400", "'x' * 3",
    ]
)  # fmt: skip


def _combine(children):
    two = st.tuples(children, children)
    return st.one_of(
        two.map(lambda t: f"({t[0]} {'+'} {t[1]})"),
        two.map(lambda t: f"({t[0]} * {t[1]})"),
        two.map(lambda t: f"({t[0]} // {t[1]})"),
        two.map(lambda t: f"({t[0]} % {t[1]})"),
        two.map(lambda t: f"({t[0]} ** {t[1]})"),
        two.map(lambda t: f"({t[0]} or {t[1]})"),
        two.map(lambda t: f"({t[0]} if {t[1]} else {t[0]})"),
        two.map(lambda t: f"min({t[0]}, {t[1]})"),
        two.map(lambda t: f"max({t[0]}, {t[1]})"),
        two.map(lambda t: f"'{{}}:{{}}'.format({t[0]}, {t[1]})"),
        st.tuples(LEAVES, LEAVES).map(lambda t: f'f"{{ ({t[0]}) }}-{{ ({t[1]})!r }}"'),
        two.map(lambda t: f"[{t[0]}, {t[1]}][0]"),
        two.map(lambda t: f"({t[0]} < {t[1]})"),
        children.map(lambda c: f"int({c})"),
        children.map(lambda c: f"str({c})"),
        children.map(lambda c: f"float({c})"),
        children.map(lambda c: f"(not {c})"),
        children.map(lambda c: f"(-{c})"),
    )


EXPRESSIONS = st.recursive(LEAVES, _combine, max_leaves=12)
STATEMENTS = st.one_of(
    st.tuples(st.sampled_from(["workers", "bind", "timeout", "x"]), EXPRESSIONS).map(lambda t: f"{t[0]} = {t[1]}"),
    st.tuples(st.sampled_from(["workers", "timeout"]), EXPRESSIONS).map(lambda t: f"{t[0]} += {t[1]}"),
    EXPRESSIONS.map(lambda e: f"if {e}:\n    workers = 2\nelse:\n    workers = 3"),
    st.just("raw_env.append('A=1')"),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STATEMENTS, min_size=1, max_size=6))
def test_evaluator_never_raises_on_valid_programs(statements):
    text = "import os, multiprocessing\n" + "\n".join(statements) + "\n"
    try:  # nested same-kind quotes in f-strings are valid from Python 3.12 only
        ast.parse(text)
    except SyntaxError:
        assume(False)
    facts = gunicorn_conf.parse(SourceFile("g.py", "gunicorn-config", text))
    assert facts.errors == []
    for setting in facts.settings.values():
        assert isinstance(setting.text, str) and setting.span.line >= 2


# --------------------------------------------------------------------------- the corpus


def corpus_files() -> list[Path]:
    return sorted(p for p in CORPUS.iterdir() if p.is_file()) if CORPUS.is_dir() else []


def read_file(path: Path) -> GunicornConfigFacts:
    text, _ = decode(path.read_bytes())
    return gunicorn_conf.parse(SourceFile(path.name, "gunicorn-config", text))


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
def test_corpus_reads_without_errors_and_finds_settings():
    files = corpus_files()
    results = [read_file(path) for path in files]
    assert len(files) >= 50
    assert all(not r.errors for r in results)
    with_bind_or_workers = sum(1 for r in results if "bind" in r.settings or "workers" in r.settings)
    assert with_bind_or_workers >= 0.95 * len(files)  # measured: 59 of 60
    workers = [r.settings["workers"] for r in results if "workers" in r.settings]
    readable = [w for w in workers if isinstance(w.value, int) or w.cpu_formula is not None]
    assert len(readable) >= 0.85 * len(workers)  # measured: 51 of 55
    binds = [r.settings["bind"] for r in results if "bind" in r.settings]
    assert sum(1 for b in binds if isinstance(b.value, (str, list))) >= 0.9 * len(binds)  # 52 of 54


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
@pytest.mark.parametrize(
    "name, setting, value, line, formula, env, capped",
    [
        ("094459__game-engine__gunicorn.conf.py", "workers", 4, 5, None, ("GUNICORN_WORKERS",), False),
        ("0uwl__VaultKeeper__gunicorn.conf.py", "bind", "0.0.0.0:5985", 3, None, ("VAULTKEEPER_WEB_PORT",), False),
        ("1genadam__tileshop-rag__gunicorn.conf.py", "workers", None, None, ("min", 2, ("cpu",)), (), True),
        ("2000Emmanuel__Python-Static-website__gunicorn.conf.py", "wsgi_app",
         "Python_Static_website.wsgi:application", 15, None, (), False),
        ("2000Emmanuel__Python-Static-website__gunicorn.conf.py", "workers",
         None, 9, ("+", ("*", ("cpu",), 2), 1), (), False),
        ("17media__fortuned__config__gunicorn.conf.py", "workers",
         None, 6, ("*", 2, ("cpu",)), ("GUNICORN_WORKERS",), False),
        ("99percentcocoa__paperplus-server__gunicorn_config.py", "workers", 1, 11, None, ("PAPERPLUS_WORKERS",), True),
        ("0rl4nd0l__greyhound-racing-collector__gunicorn.conf.py", "bind", ":5002", None, None,
         ("GUNICORN_BIND", "PORT"), False),
    ],
)  # fmt: skip
def test_corpus_exact_facts(name, setting, value, line, formula, env, capped):
    path = CORPUS / name
    if not path.exists():
        pytest.skip("file absent")
    s = read_file(path).settings[setting]
    if value is None:
        assert isinstance(s.value, Unknown)
    else:
        assert s.value == value
    if line is not None:
        assert s.span.line == line
    assert (s.cpu_formula, s.env, s.capped) == (formula, env, capped)


@pytest.mark.skipif(not CORPUS.is_dir(), reason="corpus absent")
def test_corpus_annotation_only_config_keeps_only_bind():
    path = CORPUS / "bbhagat1234__python-docs-hello-world__gunicorn.py"
    if not path.exists():
        pytest.skip("file absent")
    # `workers: 2` is an annotation: gunicorn never sees a `workers` setting there
    assert set(read_file(path).settings) == {"bind"}


def test_syntax_is_the_interpreters():
    # The file is read with this interpreter's grammar: what it refuses (here Python 3.12's
    # `type` statement and nested same-quote f-strings, on 3.11) is an SC001 with its line.
    text = 'import os\ntype Port = int\nbind = f"{os.getenv("HOST", "0.0.0.0")}:80"\n'
    try:
        ast.parse(text)
    except SyntaxError as exc:
        (error,) = read(text).errors
        assert error.span.line == exc.lineno and error.message.startswith("syntax error: ")
    else:
        assert read(text).settings["bind"].value == "0.0.0.0:80"
    assert read("print 'hi'\nworkers = 1\n").errors[0].span.line == 1  # Python 2 stays an error
