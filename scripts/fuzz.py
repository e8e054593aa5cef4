"""Fuzz every parser and the whole audit with hypothesis; print the example count per target.

    python scripts/fuzz.py N [--target NAME ...] [--corpus DIR] [--found DIR]
    python scripts/fuzz.py --replay FILE ...   # kept inputs, `<target>--<what>.input`

Inputs are the corpus files of each kind (and a few built-in seeds, so it runs without the
corpus), mutated: random bytes, truncations, byte flips, insertions of syntax characters, NUL
bytes, CRLF and lone CR, splices of two files, repeated slices, and re-encodings (UTF-16 with a
BOM, cp949, latin-1, invalid UTF-8). The property: the parser (or `audit()`) returns, never
raises, and finishes within a time bound. tests/test_fuzz.py runs the same properties briefly.

A failing input is shrunk by hypothesis and written to --found (default /tmp/sc-audit-fuzz);
keep it under tests/fixtures/regressions/ as `<target>-<what>.input` once fixed.
"""

from __future__ import annotations

import argparse
import codecs
import faulthandler
import signal
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without install

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from sc_audit import source as kinds  # noqa: E402
from sc_audit.facts import ParseError  # noqa: E402
from sc_audit.source import SourceFile, decode  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TIME_LIMIT = 10.0  # seconds of CPU per input; the inputs are at most a few hundred KiB
MAX_SEED_BYTES = 64 * 1024


@dataclass(frozen=True)
class Target:
    name: str
    kind: str
    path: str  # where the file sits in an audited root
    corpus: tuple[str, ...]  # corpus folder and, optionally, file suffixes
    seeds: tuple[str, ...]


TARGETS = {t.name: t for t in (
    Target("python-app", kinds.PYTHON_APP, "app.py", ("flaskapp",), (
        "from flask import Flask\n\napp = Flask(__name__)\n\n\n@app.route('/health')\ndef health():\n"
        "    return 'ok'\n\n\nif __name__ == '__main__':\n    app.run(port=5000)\n",
        "def create_app(config=None):\n    app = Flask(__name__)\n    app.register_blueprint(bp, url_prefix='/api')\n"
        "    return app\n",
    )),
    Target("gunicorn-config", kinds.GUNICORN_CONFIG, "gunicorn.conf.py", ("gunicorn",), (
        "import multiprocessing, os\nbind = os.getenv('BIND', '127.0.0.1:8000')\n"
        "workers = multiprocessing.cpu_count() * 2 + 1\ntimeout = 120\nwsgi_app = 'app:create_app()'\n",
    )),
    Target("pm2-js", kinds.PM2, "ecosystem.config.js", ("pm2", ".js", ".cjs", ".mjs"), (
        "const path = require('path');\nmodule.exports = {\n  apps: [{\n    name: 'web',\n"
        "    script: 'venv/bin/gunicorn',\n    args: `-c gunicorn.conf.py ${process.env.APP || 'app:app'}`,\n"
        "    interpreter: 'none',\n    cwd: path.join(__dirname, 'srv'),\n    instances: 2,\n  }],\n"
        "  deploy: { prod: { 'post-deploy': 'pm2 reload ecosystem.config.js' } },\n};\n",
    )),
    Target("pm2-json", kinds.PM2, "ecosystem.config.json", ("pm2", ".json"), (
        '{"apps": [{"name": "web", "script": "app.py", "interpreter": "python3", "exec_mode": "fork"}]}\n',
    )),
    Target("pm2-yaml", kinds.PM2, "ecosystem.config.yml", ("pm2", ".yml", ".yaml"), (
        "apps:\n  - name: web\n    script: gunicorn\n    args: app:app -b 127.0.0.1:8000\n    interpreter: none\n",
    )),
    Target("nginx", kinds.NGINX, "nginx/site.conf", ("nginx",), (
        "upstream app { server 127.0.0.1:8000; }\nserver {\n    listen 80;\n    server_name example.com;\n"
        "    client_max_body_size 10m;\n    location / {\n        proxy_pass http://app;\n"
        "        proxy_read_timeout 60s;\n    }\n    location ~ ^/(api|v1)/ { if ($x) { return 403; } }\n}\n",
    )),
    Target("shell", kinds.SHELL, "deploy.sh", ("scripts",), (
        "#!/bin/bash\nset -e\ncd /srv/app && git pull\npkill -f 'gunicorn app:app' || true\n"
        "nohup venv/bin/gunicorn -b 0.0.0.0:8000 app:app > log 2>&1 &\nssh host <<'EOF'\npm2 restart web\nEOF\n"
        "curl -fsS http://127.0.0.1:8000/health\n",
    )),
    Target("workflow", kinds.WORKFLOW, ".github/workflows/deploy.yml", ("workflows",), (
        "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: appleboy/ssh-action@v1\n"
        "        with:\n          script: |\n            cd /srv/app\n            pm2 restart web\n"
        "      - run: |\n          curl -f http://localhost:8000/health\n",
    )),
    Target("systemd", kinds.SYSTEMD, "app.service", ("systemd",), (
        "[Unit]\nDescription=app\n\n[Service]\nUser=www\nWorkingDirectory=/srv/app\nEnvironment=\"A=1\" B=2\n"
        "ExecStart=/srv/app/venv/bin/gunicorn --workers 3 \\\n  --bind unix:/run/app.sock app:app\n"
        "Restart=always\n\n[Install]\nWantedBy=multi-user.target\n",
    )),
    Target("procfile", kinds.PROCFILE, "Procfile", ("procfile",), (
        "web: gunicorn app:app --bind 0.0.0.0:$PORT --workers ${WEB_CONCURRENCY:-2}\nworker: celery -A app worker\n",
    )),
    # Issue 13's shapes: the mutations (repeat, splice) grow them into storms.
    Target("workflow-aliases", kinds.WORKFLOW, ".github/workflows/deploy.yml", ("workflows",), (
        "on: push\nx: &s\n  run: |\n    pm2 restart web && curl -f http://127.0.0.1:8000/health\n"
        "l: &l [*s, *s, *s, *s, *s, *s, *s, *s]\njobs:\n  a: &j\n    runs-on: ubuntu-latest\n    steps: *l\n"
        "  b: *j\n  c: *j\n  d: *j\n",
        "a0: &a0 [x, x, x, x]\na1: &a1 [*a0, *a0, *a0, *a0]\na2: &a2 [*a1, *a1, *a1, *a1]\n"
        "jobs:\n  a:\n    steps: *a2\n",
    )),
    Target("pm2-shared", kinds.PM2, "ecosystem.config.js", ("pm2", ".js"), (
        "const a = [1,2,3,4,5,6,7,8,9,10];\nconst b = [a,a,a,a,a,a,a,a,a,a];\nconst c = [b,b,b,b,b,b,b,b,b];\n"
        "module.exports = {apps: [{name: 'w0', script: 'app.py', f1: c, f2: c, f3: c, env: {A: c}},\n"
        "  {name: 'w1', script: 'app.py', f1: c, f2: c, f3: c}]};\n",
        "module.exports = {apps: [{name: 'w', script: 'venv/bin/gunicorn', interpreter: 'none', args: '"
        + "a" * 60_000 + "'}]};\n",
    )),
    Target("pm2-yaml-shared", kinds.PM2, "ecosystem.config.yml", ("pm2", ".yml", ".yaml"), (
        "a: &a [1,2,3,4,5,6,7,8,9,10]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\napps:\n"
        "  - {name: w0, script: app.py, f1: *b, f2: *b}\n  - {name: w1, script: app.py, f1: *b, f2: *b}\n",
    )),
    Target("nginx-includes", kinds.NGINX, "nginx/site.conf", ("nginx",), (
        "server {\n    listen 80;\n" + "".join(f"    include n{i}/*.conf;\n    include */x{i}.conf;\n"
                                               for i in range(40)) + "    location / { proxy_pass http://127.0.0.1:8000; }\n}\n",
    )),
    Target("kill-pattern", kinds.SHELL, "deploy.sh", ("scripts",), (
        "#!/bin/bash\nnohup venv/bin/gunicorn -b 127.0.0.1:8000 --workers 3 app:app > log 2>&1 &\n"
        "pkill -f '([^!]+)+!'\npkill -f '(a*)*b'\npgrep -f '(x+x+)+y' && pkill -x '(.*a){12}'\n"
        "pkill -f '[[:alpha:]]+: master \\[app:app\\]'\npkill -f 'gunicorn|node'\n",
    )),
)}
AUDIT = "audit"  # the whole audit of a one-file root, for any of the targets above
TARGET_NAMES = (*TARGETS, AUDIT)


# --------------------------------------------------------------------------- seeds


def seeds(target: Target, corpus: Path | None = DEFAULT_CORPUS) -> list[bytes]:
    """The built-in seeds and the target's corpus files (when the corpus is there), by name order."""
    found = [seed.encode() for seed in target.seeds]
    folder, *suffixes = target.corpus
    directory = corpus / folder if corpus is not None else None
    if directory is not None and directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.is_file() and (not suffixes or path.suffix in suffixes):
                found.append(path.read_bytes()[:MAX_SEED_BYTES])
    return found


# --------------------------------------------------------------------------- mutations

# Bytes that matter to some grammar: brackets, quotes, escapes, comments, separators, BOMs.
SYNTAX = [b"\0", b"\r", b"\r\n", b"\n", b"\t", b" ", b"{", b"}", b"(", b")", b"[", b"]", b'"', b"'", b"`",
          b"${", b"$(", b"${{", b"}}", b"\\", b"\\\n", b":", b";", b"#", b"//", b"/*", b"*/", b"<<EOF\n",
          b"=", b",", b"...", b"&", b"|", b"-", b"*", b"\xff", b"\xc3", b"\xe2\x80\xa8", b"\xef\xbb\xbf",
          b"\xff\xfe", b"\x1b[31m", b"%", b"@", b"!", b"?", b"0x", b"1e999", b"9" * 40]


def _reencode(data: bytes, encoding: str) -> bytes:
    text = data.decode("utf-8", errors="replace")
    if encoding == "utf-16":  # with a BOM, like Windows editors write it
        return codecs.BOM_UTF16_LE + text.encode("utf-16-le", errors="replace")
    if encoding == "utf-16-be":
        return codecs.BOM_UTF16_BE + text.encode("utf-16-be", errors="replace")
    if encoding == "utf-16-nobom":
        return text.encode("utf-16-le", errors="replace")
    if encoding == "utf-8-sig":
        return codecs.BOM_UTF8 + data
    return text.encode(encoding, errors="replace")


@st.composite
def mutation(draw, data: bytes) -> bytes:
    size = len(data)
    position = draw(st.integers(0, size))
    how = draw(st.sampled_from(("truncate", "flip", "insert", "syntax", "delete", "repeat", "newlines",
                                "nul", "encode", "invalid-utf8")))
    if how == "truncate":
        return data[:position]
    if how == "flip":
        if not size:
            return data
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            index = draw(st.integers(0, size - 1))
            out[index] ^= draw(st.integers(1, 255))
        return bytes(out)
    if how == "insert":
        return data[:position] + draw(st.binary(min_size=1, max_size=32)) + data[position:]
    if how == "syntax":
        return data[:position] + draw(st.sampled_from(SYNTAX)) * draw(st.integers(1, 3)) + data[position:]
    if how == "delete":
        return data[:position] + data[position + draw(st.integers(1, 64)):]
    if how == "repeat":
        end = min(size, position + draw(st.integers(1, 200)))
        return data[:end] + data[position:end] * draw(st.integers(2, 200)) + data[end:]
    if how == "newlines":
        return data.replace(b"\n", draw(st.sampled_from((b"\r\n", b"\r", b"\n\r", b"\r\r\n"))))
    if how == "nul":
        return data[:position] + b"\0" * draw(st.integers(1, 4)) + data[position:]
    if how == "encode":
        return _reencode(data, draw(st.sampled_from(("utf-16", "utf-16-be", "utf-16-nobom", "utf-8-sig",
                                                     "cp949", "latin-1"))))
    # invalid UTF-8: a lone continuation byte, an overlong form, a truncated sequence, a surrogate
    return data[:position] + draw(st.sampled_from((b"\x80", b"\xc0\xaf", b"\xe2\x82", b"\xed\xa0\x80",
                                                   b"\xf8\x88\x80\x80\x80"))) + data[position:]


@st.composite
def fuzz_input(draw, seed_list: list[bytes]) -> bytes:
    """Random bytes, or a seed (a corpus file) after one to three mutations, or two seeds spliced."""
    start = draw(st.sampled_from(("random", "seed", "seed", "seed", "splice")))
    if start == "random":
        return draw(st.binary(max_size=2048))
    data = draw(st.sampled_from(seed_list))
    if start == "splice":
        other = draw(st.sampled_from(seed_list))
        data = data[:draw(st.integers(0, len(data)))] + other[draw(st.integers(0, len(other))):]
    for _ in range(draw(st.integers(1, 3))):
        data = draw(mutation(data))
    return data


# --------------------------------------------------------------------------- properties


class TooSlow(BaseException):  # a BaseException, so that a parser's `except Exception` cannot swallow it
    pass


@contextmanager
def time_limit(seconds: float):
    """Interrupt the block after `seconds` of CPU time, and fail it if it used more.

    CPU time (ITIMER_PROF), not wall time: the machines that run this are shared, and a loop
    burns CPU whatever the load. SIGPROF is handled in the main thread only.
    """
    def expire(signum, frame):
        raise TooSlow(f"used more than {seconds} s of CPU")

    previous = signal.signal(signal.SIGPROF, expire)
    signal.setitimer(signal.ITIMER_PROF, seconds)
    started = time.process_time()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)
    used = time.process_time() - started
    if used > seconds:
        raise TooSlow(f"used {used:.1f} s of CPU (limit {seconds} s)")


def parse_once(target: Target, data: bytes):
    """Decode and parse `data` as the target's kind by calling its parser directly (not through
    parsing.parse_file, which would turn a parser's exception into an SC001 and hide it)."""
    from sc_audit.parsing import _dispatch

    text, encoding = decode(data)
    src = SourceFile(target.path, target.kind, text, encoding)
    with time_limit(TIME_LIMIT):
        facts = _dispatch(src, None)
    errors = facts.errors
    assert isinstance(errors, list), errors
    for error in errors:
        assert isinstance(error, ParseError), error
        assert error.span.line >= 1 and error.span.column >= 1, error
        assert error.message.strip(), error
        assert not error.message.startswith(SAFETY_NETS), error  # a bug the parser's last guard caught
    return facts


# Messages of the parsers' last-resort `except Exception`: seen, they are a bug to fix.
SAFETY_NETS = ("PM2 file could not be read:", "cannot parse shell: ", "internal error")


def audit_once(target: Target, data: bytes):
    """Write `data` at the target's path in a fresh root and audit it; render every format too."""
    import io

    from sc_audit.api import Report, audit
    from sc_audit.config import Config
    from sc_audit.report import FORMATS, render

    with tempfile.TemporaryDirectory(prefix="sc-fuzz-") as tmp:
        path = Path(tmp) / target.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        with time_limit(TIME_LIMIT):
            report = audit(tmp, Config(), cache=False)
            for name in FORMATS:
                render(name, report, io.StringIO())
            shown = io.StringIO()
            render("text", report, shown)
    assert isinstance(report, Report)
    assert not report.internal_errors, report.internal_errors
    assert not [f for f in report.findings if f.rule == "SC001" and any(net in f.message for net in SAFETY_NETS)]
    known = {f.path for f in report.files} | {s.path for s in report.skipped}
    for finding in report.findings:
        assert finding.span.path in known, finding
    if any(f.rule == "SC001" for f in report.findings) or report.incomplete:  # honesty: never "no issues"
        assert "no issues" not in shown.getvalue(), shown.getvalue()  # after an SC001 or an unread part
        assert report.failed("error")
    return report


# --------------------------------------------------------------------------- the long run


def run_target(name: str, examples: int, corpus: Path | None, found: Path, chunk: int = 2000) -> tuple[int, float]:
    """Run `examples` examples (in chunks, so that hypothesis's memory stays flat); (count, slowest s)."""
    calls = 0
    slowest = 0.0
    slowest_input = b""
    failing: list[bytes] = []  # the last input that failed: after shrinking, the minimal one
    pool = {t: seeds(TARGETS[t], corpus) for t in TARGETS}
    if name == AUDIT:
        strategy = st.sampled_from(sorted(TARGETS)).flatmap(lambda t: st.tuples(st.just(t), fuzz_input(pool[t])))
    else:
        strategy = st.tuples(st.just(name), fuzz_input(pool[name]))
    found.mkdir(parents=True, exist_ok=True)
    current = found / f"{name}-current.input"  # should a parser's C code crash the process: its input

    def check(case: tuple[str, bytes]) -> None:
        nonlocal calls, slowest, slowest_input
        target_name, data = case
        calls += 1
        faulthandler.dump_traceback_later(TIME_LIMIT * 30, exit=True)  # stuck (in C, or waiting): say where, stop
        current.write_bytes(data)
        started = time.process_time()
        try:
            if name == AUDIT:
                audit_once(TARGETS[target_name], data)
            else:
                parse_once(TARGETS[target_name], data)
        except BaseException:
            failing[:] = [data]
            raise
        elapsed = time.process_time() - started
        if elapsed > slowest:
            slowest, slowest_input = elapsed, data

    while calls < examples:
        size = min(chunk, examples - calls)
        test = settings(max_examples=size, deadline=None, database=None, derandomize=False,
                        suppress_health_check=list(HealthCheck), phases=(Phase.generate, Phase.shrink))(
            given(strategy)(check))
        try:
            test()
        except BaseException:
            out = _keep(found, f"{name}-{int(time.time())}.input", failing[0] if failing else b"")
            print(f"{name}: FAILED after {calls} examples; the shrunk input is in {out}", flush=True)
            raise
    _keep(found, f"{name}-slowest.input", slowest_input)
    current.unlink()
    return calls, slowest


def _keep(found: Path, name: str, data: bytes) -> Path:
    found.mkdir(parents=True, exist_ok=True)
    (found / name).write_bytes(data)
    return found / name


def replay(paths: list[Path]) -> None:
    """Parse and audit kept inputs as their target (`audit--…` inputs: as every target). A small
    input is parsed five times: a crash that depends on memory layout (tree-sitter-bash#337) does
    not happen every time; a big one is kept for its time, which once is enough to measure."""
    for path in paths:
        target = path.name.split("--", 1)[0]
        data = path.read_bytes()
        for name in TARGETS if target == AUDIT else [target]:
            for _ in range(5 if len(data) <= 4096 else 1):
                parse_once(TARGETS[name], data)
            audit_once(TARGETS[name], data)
        print(f"{path.name}: ok", flush=True)


def main(argv: list[str] | None = None) -> int:
    faulthandler.enable()  # a crash inside a parser's C code: say where
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("examples", type=int, nargs="?", default=0, help="examples per target")
    parser.add_argument("--replay", type=Path, nargs="+", metavar="FILE", help="replay kept inputs, then stop")
    parser.add_argument("--target", action="append", choices=TARGET_NAMES, help="default: every target")
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--found", type=Path, default=Path(tempfile.gettempdir()) / "sc-audit-fuzz")
    args = parser.parse_args(argv)
    if args.replay:
        replay(args.replay)
        return 0
    corpus = args.corpus if args.corpus.is_dir() else None
    if corpus is None:
        print(f"fuzz: no corpus at {args.corpus}; built-in seeds only", file=sys.stderr)
    failed = []
    for name in args.target or TARGET_NAMES:
        started = time.perf_counter()
        try:
            count, slowest = run_target(name, args.examples, corpus, args.found)
            faulthandler.cancel_dump_traceback_later()
        except BaseException as error:  # report and go on with the other targets
            print(f"{name}: {type(error).__name__}: {str(error)[:2000]}", flush=True)
            failed.append(name)
            continue
        print(f"{name}: {count} examples, no failure, slowest {slowest * 1000:.0f} ms of CPU, "
              f"{time.perf_counter() - started:.0f} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
