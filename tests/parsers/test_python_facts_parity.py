"""The Python readers on `ast` give the facts the libcst readers gave (scripts/compare_python_facts.py):
every fixture and a set of snippets chosen for where the two trees differ (positions in bytes or
code points, parentheses, implicit concatenation, f-strings, argument order, `elif`)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "scripts"))

import compare_python_facts  # noqa: E402

SNIPPETS = {
    "non_ascii": 'from flask import Flask\nnom = "é"; app = Flask(__name__)  # café\n'
                 '@app.route("/ü" + nom, methods=["GET"])\ndef vue(): pass\nx = f"é{os.getenv(\'É\')}"\n',
    "tabs": "import os\nif os.getenv('A'):\n\tworkers = 2\n\tbind = '0.0.0.0:' + os.getenv('PORT')\nelse:\n\tworkers = 3\n",
    "parentheses": "workers = (2)\nbind = ((os.environ['B']))\nt = (1, 2)\nu = ()\nv = ((a), b)\n"
                   "g = f(x for x in y)\nh = f((x for x in y))\nw = (a or b or c)\nz = x[(1, 2)]\nq = x[1,]\n",
    "multiline": "KNOWN = (\n    'a',  # one\n    (b),\n    # last\n)\nPAIR = ( 1, 2 )\nG = list(\n    x  # c\n    for x in y\n    if x\n)\n"
                 "E = (\n)\nS = (\n    *a,\n    b\n)\n",
    # libcst's readers left `f"""say "{x}"""` Unknown (its text did not read as a literal on its own)
    "fstring_text": r'''x = f"""a"{1}"""
y = f"""line1
line2{2}"""
z = f"""q\"{1}"""
v = f"a\\{1}b"
w = f"\N{BULLET}{2}{{}}"
u = rf"\N{3}"
t = f"{x=!s:>3}{x:=^5}{'=':>3}"
''',
    "global": "def f():\n    global  x, SECURE_PROXY_SSL_HEADER\n    SECURE_PROXY_SSL_HEADER = 1\n",
    "concatenation": 'import os\nbind = "0.0.0.0" ":" f"{os.getenv(\'P\')}"\nname = ("a"\n  "b")\n'
                     'raw = f"{x=}" f"{1:>{w}}"\nspec = f"{3:>4}{\'a\'!r}"\nb = b"x" b"y"\n',
    "arguments": 'import os\nx = os.getenv(default="d", key="K")\ny = int(*a)\nz = min(2, os.cpu_count(), key=k)\n'
                 'w = f(a=1, *b)\napp.add_url_rule("/x", view_func=None)\n',
    "branches": 'import os\nif __name__ == "__main__":\n    app.run(port=1)\nelif __name__ == "__main__":\n'
                '    app.run(port=2)\nelse:\n    if __name__ == "__main__": app.run(port=3)\n'
                'if x: pass\nelif __name__ == "__main__":\n    app.run(port=4)\n'
                'for a, (b, *c) in d: pass\nwith open(f) as g, (h) as (i, j): pass\n'
                'try:\n    timeout = 1\nexcept E:\n    timeout = 2\nelse:\n    timeout = 3\nfinally:\n    k = 4\n'
                'match m:\n    case 1:\n        workers = 5\n',
    "decorators": 'from flask import Flask\napp = Flask(__name__)\n@ (app.websocket)("/ws")  # c\n'
                  '@app.websocket(path="/w2")\n@(app.get("/g"))\nasync def f(a, /, b=1, *c, d, e=2, **g): pass\n'
                  'class  C ( object ) : pass\n',
    "features": 'import os\nfrom werkzeug.middleware.proxy_fix import ProxyFix as P\n'
                'app.config["MAX_CONTENT_LENGTH"] = (16 * 1024) * 1024; request.files\n'
                'app.config.update(MAX_CONTENT_LENGTH=(8 << 20), SECURE_PROXY_SSL_HEADER=1)\n'
                'if x: request.files\nsocketio = SocketIO(app, path="ws")\nf = lambda SECURE_PROXY_SSL_HEADER: 1\n',
    "django": 'from django.urls import include, path\nurlpatterns = [path("a/", include("x.urls")), *extra]\n'
              'urlpatterns += [path("b/", v)]\nif DEBUG:\n    urlpatterns.append(path("c/", w))\n'
              'os.environ.setdefault("DJANGO_SETTINGS_MODULE", "s.settings")\nROOT_URLCONF = "s.urls"\n',
}


@pytest.fixture(scope="module")
def reference():
    found = compare_python_facts.load_reference()
    if found is None:
        pytest.skip("the libcst readers' commit is not in this clone")
    pytest.importorskip("libcst")
    return found


def fixture_files() -> list[Path]:
    return sorted((ROOT / "tests" / "fixtures").rglob("*.py"))


@pytest.mark.parametrize("path", fixture_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_fixture_facts_are_the_libcst_facts(path, reference):
    text = path.read_text(encoding="utf-8")
    assert compare_python_facts.compare_text(str(path.relative_to(ROOT)), text, reference) == []


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippet_facts_are_the_libcst_facts(name, reference):
    from sc_audit.parsers import python_app
    from sc_audit.source import SourceFile

    assert python_app.parse(SourceFile(f"{name}.py", "python-app", SNIPPETS[name])).errors == []
    assert compare_python_facts.compare_text(f"{name}.py", SNIPPETS[name], reference) == []
