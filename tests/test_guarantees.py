"""What sc-audit promises whatever it is given (docs/limits.md): it runs nothing it reads, stays
inside the root, skips and reports what it cannot read, bounds its work, gives the same bytes
every time, never calls an incomplete audit clean, and fails with one clear line.

Most tests run the CLI in a subprocess, as a user would. The big bounded-work runs (100,000
files) are opt-in: SC_AUDIT_SLOW_TESTS=1.
"""

from __future__ import annotations

import ast
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sc_audit import api, audit
from sc_audit.config import Config
from sc_audit.discover import MAX_FILE_BYTES
from sc_audit.report import text as text_report

PACKAGE = Path(__file__).resolve().parents[1] / "sc_audit"
SIGNALCRAFT_PLAN = Path(__file__).parent / "fixtures" / "signalcraft" / "plan"
SLOW = os.environ.get("SC_AUDIT_SLOW_TESTS") == "1"
STRACE = shutil.which("strace")
IS_ROOT = os.geteuid() == 0
SETPRIV = shutil.which("setpriv")
SC_AUDIT_SCRIPT = Path(sys.executable).parent / "sc-audit"


def write(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip("\n"), encoding="utf-8")
    return root


def check(root: Path, *args: str, cwd: Path | None = None, env: dict | None = None, prefix: tuple = (),
          timeout: float = 120, module: bool = True) -> subprocess.CompletedProcess:
    """`python -m sc_audit check ROOT ARGS` (or the `sc-audit` console script) in a subprocess."""
    program = [sys.executable, "-m", "sc_audit"] if module else [str(SC_AUDIT_SCRIPT)]
    return subprocess.run([*prefix, *program, "check", str(root), "--no-cache", *args], cwd=cwd or root.parent,
                          env=env, capture_output=True, text=True, timeout=timeout)


# --------------------------------------------------------------------------- no execution


def booby_traps(marks: Path, port: int) -> dict[str, str]:
    """Files of every kind that would create a file in `marks`, or connect to `port`, if run."""
    return {
        "gunicorn.conf.py": f"""
            import os, socket, subprocess
            open({str(marks / 'gunicorn-conf')!r}, "w").close()
            socket.create_connection(("127.0.0.1", {port}))
            subprocess.run(["touch", {str(marks / 'gunicorn-conf-exec')!r}])
            bind = "127.0.0.1:8000"
            wsgi_app = "app:create_app()"
            """,
        "app.py": f"""
            import os, socket
            from flask import Flask
            os.system("touch {marks / 'app'}")
            socket.create_connection(("127.0.0.1", {port}))

            def create_app():
                app = Flask(__name__)

                @app.route("/health")
                def health():
                    return "ok"
                return app
            """,
        "ecosystem.config.js": f"""
            require('fs').writeFileSync('{marks / 'pm2'}', 'x');
            require('child_process').execSync('touch {marks / 'pm2-exec'}');
            require('net').connect({port}, '127.0.0.1');
            module.exports = {{ apps: [{{ name: 'web', script: 'venv/bin/gunicorn', interpreter: 'none',
                                        args: '-c gunicorn.conf.py' }}] }};
            """,
        "deploy.sh": f"""
            #!/bin/bash
            touch {marks / 'deploy'}
            exec 3<>/dev/tcp/127.0.0.1/{port}
            curl -fsS http://127.0.0.1:{port}/health
            python3 -c "open('{marks / 'deploy-python'}', 'w')"
            pm2 reload ecosystem.config.js
            """,
        ".github/workflows/deploy.yml": f"""
            on: push
            jobs:
              deploy:
                runs-on: ubuntu-latest
                steps:
                  - run: touch {marks / 'workflow'} && curl http://127.0.0.1:{port}/
                  - uses: appleboy/ssh-action@v1
                    with:
                      script: touch {marks / 'ssh-action'}
            """,
        "Procfile": f"web: touch {marks / 'procfile'} && gunicorn app:app\n",
        "app.service": f"""
            [Service]
            ExecStartPre=/usr/bin/touch {marks / 'unit'}
            ExecStart=/bin/sh -c 'touch {marks / "unit-sh"}; exec gunicorn app:app'
            """,
        "nginx/site.conf": f"server {{ listen 80; location / {{ proxy_pass http://127.0.0.1:{port}; }} }}\n",
        # A repository's own modules named like sc-audit's dependencies: never imported in their place.
        **{f"{name}.py": f"open({str(marks / ('shadow-' + name))!r}, 'w').close()\n"
           for name in ("yaml", "typer", "click", "rich", "libcst", "crossplane", "tree_sitter", "tomllib")},
    }


@pytest.fixture
def listener():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        server.settimeout(0.2)
        yield server


def assert_nobody_connected(server: socket.socket) -> None:
    with pytest.raises(TimeoutError):
        server.accept()[0].close()


def strace_log(log: Path) -> list[str]:
    return [line for line in log.read_text(errors="replace").splitlines() if "(" in line]


def assert_only_sc_audit_was_executed(lines: list[str], root: Path) -> None:
    """Every execve is sc-audit's own start (its command line holds `check ROOT`): no program run."""
    execs = [line for line in lines if re.search(r"\bexecve\(", line)]
    assert execs, "strace saw no execve at all: the log is not what it seems"
    strangers = [line for line in execs if f'"check", "{root}"' not in line]
    assert strangers == []


@pytest.mark.parametrize("module", [True, False], ids=["python -m sc_audit", "sc-audit script"])
def test_nothing_audited_runs(tmp_path, listener, module):
    marks = tmp_path / "marks"
    marks.mkdir()
    root = write(tmp_path / "repo", booby_traps(marks, listener.getsockname()[1]))
    prefix: tuple = ()
    log = tmp_path / "strace.log"
    if STRACE:
        prefix = (STRACE, "-f", "-qq", "-s", "4096", "-e", "trace=execve,connect", "-o", str(log))
    result = check(root, "--format", "json", cwd=root, prefix=prefix, module=module)  # cwd: the hostile repo
    assert result.returncode == 1, result.stderr
    rules = {f["rule"] for f in json.loads(result.stdout)["findings"]}
    assert "SC202" not in rules and "SC001" not in rules  # the traps were read, as text
    assert sorted(p.name for p in marks.iterdir()) == []
    assert_nobody_connected(listener)
    if STRACE:
        lines = strace_log(log)
        assert_only_sc_audit_was_executed(lines, root)
        assert [line for line in lines if "connect(" in line] == []


@pytest.mark.skipif(not STRACE, reason="strace not installed (apt-get install strace)")
def test_parse_workers_run_no_program(tmp_path, listener):
    """Many Python files are parsed in forked workers (api._start_workers): sc-audit's own code,
    still no execve and no marker."""
    marks = tmp_path / "marks"
    marks.mkdir()
    traps = booby_traps(marks, listener.getsockname()[1])
    files = {f"svc{i}/app.py": traps["app.py"].replace("/app'", f"/app{i}'").replace("/app\"", f"/app{i}\"")
             for i in range(api.PARALLEL_MIN_PYTHON_FILES + 10)}
    root = write(tmp_path / "repo", {**traps, **files})
    log = tmp_path / "strace.log"
    result = check(root, "--format", "json", prefix=(STRACE, "-f", "-qq", "-s", "4096", "-e", "trace=execve,connect", "-o", str(log)))
    assert result.returncode == 1, result.stderr
    assert sorted(p.name for p in marks.iterdir()) == []
    assert_nobody_connected(listener)
    lines = strace_log(log)
    assert_only_sc_audit_was_executed(lines, root)
    assert [line for line in lines if "connect(" in line] == []


FORBIDDEN_MODULES = {"subprocess", "pty", "runpy", "ctypes", "code"}
FORBIDDEN_CALLS = {"eval", "exec", "__import__", "import_module", "execfile", "system", "popen", "spawnl", "spawnv",
                   "execv", "execve", "execvp", "execl", "execlp", "fork", "posix_spawn"}


def test_no_code_path_can_run_a_program():
    """No module of sc-audit imports a way to run programs or evaluate code. (compile() in fix.py
    compiles a fixed file to check its syntax; it never runs it. multiprocessing forks parse
    workers of sc-audit's own code, with the 'fork' context: no exec. cache.py's find_spec looks
    up where a parser library is installed, by name.)"""
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                offenders += [(path.name, a.name) for a in node.names if a.name.split(".")[0] in FORBIDDEN_MODULES]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module.split(".")[0] in FORBIDDEN_MODULES:
                    offenders.append((path.name, node.module))
            elif isinstance(node, ast.Call):
                name = node.func.id if isinstance(node.func, ast.Name) else None
                if isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name) \
                        and node.func.value.id in ("os", "importlib"):
                    name = node.func.attr
                own_module = name == "import_module" and len(node.args) == 2 and \
                    isinstance(node.args[1], ast.Name) and node.args[1].id == "__name__"  # report/: `.sarif`
                if name in FORBIDDEN_CALLS and not own_module:
                    offenders.append((path.name, f"{name}() at line {node.lineno}"))
                if name == "get_context" or (isinstance(node.func, ast.Attribute) and node.func.attr == "get_context"):
                    assert [a.value for a in node.args if isinstance(a, ast.Constant)] == ["fork"], path
    assert offenders == []


# --------------------------------------------------------------------------- confinement

SECRET = "SECRET-7f3a9c"


def test_includes_and_links_never_leave_the_root(tmp_path):
    outside = write(tmp_path / "outside", {
        "secret.conf": f"server {{ listen 81; server_name {SECRET}; location / {{ proxy_pass http://127.0.0.1:9999; }} }}\n",
        "deploy.sh": f"#!/bin/sh\npm2 restart {SECRET}\n",
        "app.py": f"from flask import Flask\napp = Flask('{SECRET}')\n",
    })
    secret_conf = outside / "secret.conf"
    root = write(tmp_path / "repo", {
        "nginx/site.conf": f"""
            server {{
                listen 80;
                include {secret_conf};
                include ../../outside/secret.conf;
                include ../outside/*.conf;
                include ../../*/secret.conf;
                include /etc/nginx/*.conf;
                include link.conf;
                include ../up/outside/secret.conf;
                location / {{ proxy_pass http://127.0.0.1:8000; }}
            }}
            """,
    })
    (root / "nginx" / "link.conf").symlink_to(secret_conf)
    (root / "outside-deploy.sh").symlink_to(outside / "deploy.sh")
    (root / "up").symlink_to(tmp_path)  # a directory link out of the root
    (root / "rootfs").symlink_to("/")
    (root / "loop-a.sh").symlink_to(root / "loop-b.sh")
    (root / "loop-b.sh").symlink_to(root / "loop-a.sh")
    (root / "self").symlink_to(root)
    (root / "gone.service").symlink_to(root / "nowhere")
    (root / "wsgi.py").symlink_to(outside / "app.py")

    prefix: tuple = ()
    log = tmp_path / "strace.log"
    if STRACE:
        prefix = (STRACE, "-f", "-qq", "-s", "4096", "-e", "trace=open,openat,openat2", "-o", str(log))
    outputs = [check(root, "--format", fmt, prefix=prefix if fmt == "json" else ()) for fmt in ("json", "text")]
    for result in outputs:
        assert result.returncode in (0, 1), result.stderr
        assert SECRET not in result.stdout + result.stderr
        assert "9999" not in result.stdout
    report = audit(root, Config())
    assert all(SECRET not in f.text for f in report.files)
    assert all(not f.path.startswith(("/", "..")) for f in report.files)
    assert [p.endpoints for p in report.model.proxies if any(e.port == 9999 for e in p.endpoints)] == []
    skipped = {s.path: s.reason for s in report.skipped}
    assert skipped["outside-deploy.sh"] == "a symbolic link out of the root"
    assert skipped["gone.service"] == skipped["loop-a.sh"] == "a dangling (or looping) symbolic link"
    sc001 = {f.span.path for f in report.findings if f.rule == "SC001"}
    assert {"outside-deploy.sh", "gone.service", "loop-a.sh", "loop-b.sh"} <= sc001
    if STRACE:
        opened = re.findall(r'open(?:at2?)?\((?:AT_FDCWD, )?"([^"]+)"', log.read_text(errors="replace"))
        assert opened, "strace saw no open at all"
        assert [p for p in opened if p.startswith(str(outside)) or "/up/" in p or "/rootfs/" in p] == []


def test_unreadable_kinds_are_reported_and_skipped(tmp_path):
    root = write(tmp_path / "repo", {
        "deploy.sh": "#!/bin/sh\n" + "echo x\n" * (MAX_FILE_BYTES // 7 + 10),
        "app.service": b"[Service]\nExecStart=/bin/gunicorn\0\x01\x02app:app\n",
        "Procfile": "web: gunicorn -c conf/gunicorn.py app:app\n",
    })
    os.mkfifo(root / "restart.sh")
    (root / "conf").mkdir()
    os.mkfifo(root / "conf" / "gunicorn.py")  # named by the Procfile: read as a Gunicorn config
    result = check(root, "--format", "json", timeout=60)  # a FIFO opened for reading would block forever
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    skipped = {s["path"]: s["reason"] for s in document["summary"]["skipped"]}
    assert skipped == {"deploy.sh": "larger than 2 MiB", "app.service": "binary", "restart.sh": "not a regular file",
                       "conf/gunicorn.py": "not a regular file"}
    sc001 = {f["path"]: f["message"] for f in document["findings"] if f["rule"] == "SC001"}
    assert sc001 == {
        "deploy.sh": "not audited: larger than 2 MiB; sc-audit could not check it",
        "app.service": "not audited: binary; sc-audit could not check it",
        "restart.sh": "not audited: not a regular file; sc-audit could not check it",
        "conf/gunicorn.py": "not audited: not a regular file; sc-audit could not check it",
    }
    assert document["summary"]["unreadable"] == 4
    assert "4 could not be read in full" in check(root, timeout=60).stdout


def test_a_fifo_given_as_the_path_does_not_hang(tmp_path):
    fifo = tmp_path / "gunicorn.conf.py"
    os.mkfifo(fifo)
    result = check(fifo, "--format", "json", timeout=60)
    summary = json.loads(result.stdout)["summary"]
    assert summary["skipped"] == [{"path": "gunicorn.conf.py", "reason": "not a regular file"}]
    assert summary["incomplete"] and result.returncode == 1  # never a clean exit over what was not read
    assert "could not be read in full" in check(fifo, timeout=60).stdout


def test_hostile_file_names_are_reported_not_printed(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    (root / "Procfile").write_text("web: gunicorn app:app\n")
    for raw in (b"deploy\xff.sh", b"x\x1b[31m.service", b"a\nb.sh"):
        with open(os.fsencode(root) + b"/" + raw, "wb") as handle:
            handle.write(b"#!/bin/sh\necho\n")
    for fmt in ("text", "concise", "json", "sarif", "github", "junit"):
        result = check(root, "--format", fmt)
        assert result.returncode == 1, (fmt, result.stderr)
        assert "Traceback" not in result.stderr
        assert "\x1b" not in result.stdout and "\udcff" not in result.stdout
    report = audit(root, Config())
    assert sorted(s.path for s in report.skipped) == ["a\ufffdb.sh", "deploy\ufffd.sh", "x\ufffd[31m.service"]


# --------------------------------------------------------------------------- bounded work


def measured_audit(root: Path, timeout: float) -> dict:
    """Audit in a child process: its CPU seconds and peak memory (MiB), and the report's counts."""
    code = textwrap.dedent(f"""
        import json, re, sys, time
        from sc_audit import audit
        from sc_audit.config import Config
        started = time.process_time()
        report = audit({str(root)!r}, Config())
        with open("/proc/self/status") as status:  # VmHWM: this process's peak; ru_maxrss would
            peak = re.search(r"VmHWM:\\s+(\\d+) kB", status.read())  # count the forking parent's
        print(json.dumps({{"cpu": time.process_time() - started,
                          "rss_mib": int(peak.group(1)) / 1024,
                          "files": len(report.files), "skipped": [s.reason for s in report.skipped],
                          "sc001": sorted(f.message for f in report.findings if f.rule == "SC001"),
                          "truncated": report.truncated}}))
        """)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


DEPLOYMENT_FILES = [
    ("job{i}.sh", "#!/bin/sh\ncurl -f http://127.0.0.1:{port}/health\n"),
    ("unit{i}.service", "[Service]\nExecStart=/srv/venv/bin/gunicorn -b 127.0.0.1:{port} app:app\n"),
    ("site{i}.conf", "server {{ listen 80; location / {{ proxy_pass http://127.0.0.1:{port}; }} }}\n"),
    ("Procfile", "web: gunicorn -b 0.0.0.0:{port} app:app\n"),
]
OTHER_FILES = [("notes{i}.md", "text\n"), ("mod{i}.py", "x = 1\n"), ("data{i}.json", "{{}}\n"),
               ("cfg{i}.yml", "a: 1\n"), ("lib{i}.js", "module.exports = 1;\n"), ("README{i}", "text\n")]


def many_small_files(root: Path, count: int) -> None:
    """A tree of `count` small files, one in ten a deployment file, 100 to a directory."""
    for i in range(count):
        directory = root / f"d{i // 1000}" / f"e{i // 100 % 10}"
        if i % 100 == 0:
            directory.mkdir(parents=True)
        name, content = DEPLOYMENT_FILES[i // 10 % 4] if i % 10 == 0 else OTHER_FILES[i % 6]
        (directory / name.format(i=i)).write_text(content.format(port=8000 + i % 500))


@pytest.mark.parametrize("count", [100_000] if SLOW else [10_000])
def test_many_small_files(tmp_path, count):
    many_small_files(tmp_path / "repo", count)
    measured = measured_audit(tmp_path / "repo", timeout=600)
    # docs/limits.md: ~4 s and ~55 MiB for 100,000 files
    cpu_bound, memory_bound = (60, 400) if count > 10_000 else (20, 200)
    assert measured["cpu"] < cpu_bound and measured["rss_mib"] < memory_bound, measured
    assert measured["files"] > count // 20


def test_a_50_mb_file(tmp_path):
    root = tmp_path / "repo"
    root.mkdir()
    with open(root / "gunicorn.conf.py", "wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: costs no disk, reads like 50 MB of NULs
    with open(root / "deploy.sh", "wb") as handle:
        handle.write(b"echo ok\n" * (50 * 1024 * 1024 // 8))
    measured = measured_audit(root, timeout=120)
    assert measured["skipped"] == ["larger than 2 MiB", "larger than 2 MiB"]
    assert measured["cpu"] < 10 and measured["rss_mib"] < 150, measured
    single = check(root / "deploy.sh", "--format", "json", timeout=120)  # the file given by itself
    assert json.loads(single.stdout)["summary"]["skipped"] == [{"path": "deploy.sh", "reason": "larger than 2 MiB"}]


def test_hostile_model_sizes_are_capped(tmp_path):
    """Checks pair processes with proxies, steps and each other: past the caps of model.py the rest
    is not checked, and SC001 says so, instead of work (and findings) growing with the square."""
    n = 20_000 if SLOW else 3_000
    root = write(tmp_path / "repo", {
        "Procfile": "".join(f"w{i}: gunicorn -b 0.0.0.0:8000 app:app\n" for i in range(n)),
        "nginx/site.conf": "server {\n listen 80;\n" + "".join(
            f" location /x{i} {{ proxy_pass http://127.0.0.1:8000; }}\n" for i in range(n)) + "}\n",
        "deploy.sh": "".join(f"pkill -f 'gunicorn app{i}:app'\ncurl -f http://127.0.0.1:8000/x{i}\n" for i in range(n)),
    })
    measured = measured_audit(root, timeout=600)
    assert measured["sc001"] == [
        "cannot read this file: more than 1500 processes in the deployment: the rest are not checked",
        "cannot read this file: more than 200 kill commands in the deployment: the rest are not checked",
        "cannot read this file: more than 2000 proxied locations in the deployment: the rest are not checked",
    ]
    assert measured["cpu"] < (60 if SLOW else 30), measured


def test_stopping_early_is_said(tmp_path, monkeypatch):
    from sc_audit import discover

    monkeypatch.setattr(discover, "MAX_FILES", 5)
    root = write(tmp_path / "repo", {f"f{i}.txt": "x\n" for i in range(10)})
    report = audit(root, Config())
    assert report.truncated
    assert report.skipped[-1].reason == "not read, nor anything after it: the tree has more than 5 files"
    assert "no issues" not in text_report.summary(report)


# --------------------------------------------------------------------------- determinism


def shuffled_copy(source: Path, target: Path, seed: int) -> None:
    """Copy a tree, creating its directories and files in a shuffled order."""
    files = [p for p in source.rglob("*") if p.is_file()]
    random.Random(seed).shuffle(files)
    for path in files:
        destination = target / path.relative_to(source)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)


def test_two_runs_give_identical_bytes(tmp_path):
    source = write(tmp_path / "source", {
        "extra/ecosystem.config.js": "module.exports = {apps: [{name: 'b', script: 'x.py'}, {name: 'a', script: 'y.py'}]};\n",
        "extra/Procfile": "web: gunicorn -b 0.0.0.0:8001 app:app\nworker: gunicorn -b 0.0.0.0:8001 app:app\n",
        "extra/nginx/z.conf": "server { location / { proxy_pass http://127.0.0.1:8002; } }\n",
        "extra/nginx/a.conf": "server { location / { proxy_pass http://127.0.0.1:8003; } }\n",
        "extra/café/ü.sh": "nohup gunicorn app:app &\npm2 restart nope\n",
    })
    shutil.copytree(SIGNALCRAFT_PLAN, source / "plan")
    envs = [{"LC_ALL": "C", "LANG": "C", "PYTHONHASHSEED": "1"},
            {"LC_ALL": "tr_TR.UTF-8", "LANG": "ko_KR.UTF-8", "PYTHONHASHSEED": "4242"}]
    outputs = {}
    for index, env in enumerate(envs):
        root = tmp_path / f"run{index}" / "repo"
        shuffled_copy(source, root, seed=index)
        for fmt in ("json", "text", "sarif"):
            result = check(root, "--format", fmt, env={**os.environ, **env, "PYTHONIOENCODING": "utf-8"})
            assert result.returncode == 1, result.stderr
            # SARIF's base is the working directory (root.parent here): the same in both runs
            outputs.setdefault(fmt, []).append(result.stdout.replace(str(root), "ROOT")
                                               .replace(str(root.parent), "CWD"))
    for fmt, (first, second) in outputs.items():
        assert first == second, fmt
    assert len(json.loads(outputs["json"][0])["findings"]) >= 10


# --------------------------------------------------------------------------- honesty


def test_an_audit_with_sc001_is_never_clean(tmp_path):
    root = write(tmp_path / "repo", {"gunicorn.conf.py": "workers = (2\n"})
    result = check(root)
    assert result.returncode == 1
    assert "no issues" not in result.stdout.lower()
    assert "1 could not be read in full" in result.stdout
    assert "SC001" in result.stdout


def test_an_unread_file_without_sc001_still_makes_the_audit_incomplete(tmp_path):
    root = write(tmp_path / "repo", {"data.json": b"\0\1\2 binary", "Procfile": "web: gunicorn -b 127.0.0.1:8000 x:y\n",
                                     "x.py": "from flask import Flask\ny = Flask(__name__)\n"})
    result = check(root)
    assert result.returncode == 0, result.stdout
    assert "no issues" not in result.stdout
    assert result.stdout.strip().endswith("1 could not be read in full: no other findings, but the audit is incomplete.")


@pytest.mark.parametrize("severity, fail_on, code", [
    (None, "warning", 1), (None, "error", 1), ("warning", "error", 0), ("warning", "warning", 1),
    ("info", "warning", 0), ("info", "info", 1),
])
def test_exit_code_follows_sc001_severity_and_fail_on(tmp_path, severity, fail_on, code):
    files = {"gunicorn.conf.py": "workers = (2\n"}
    if severity:
        files["sc-audit.toml"] = f'[severity]\nSC001 = "{severity}"\n'
    root = write(tmp_path / "repo", files)
    result = check(root, "--fail-on", fail_on)
    assert result.returncode == code, result.stdout + result.stderr
    assert "no issues" not in result.stdout


# --------------------------------------------------------------------------- error messages


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 2, result
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("sc-audit: error: ")
    for word in words:
        assert word in lines[0], lines[0]


def test_missing_path(tmp_path):
    missing = tmp_path / "nowhere"
    assert_one_line_error(check(missing), str(missing), "no such file or directory", "give the path")


@pytest.mark.parametrize("config, words", [
    ('fail-on = "sometimes"\n', ["sc-audit.toml:1", "fail-on", "fix the configuration"]),
    ('select = ["SC1"\n', ["sc-audit.toml:", "invalid TOML", "fix the configuration"]),
    ('colour = true\n', ["sc-audit.toml:1", "unknown key `colour`", "fix the configuration"]),
    (b'select = ["\xff"]\n', ["sc-audit.toml:1", "cannot read", "fix the configuration"]),
])
def test_bad_config(tmp_path, config, words):
    root = write(tmp_path / "repo", {"sc-audit.toml": config, "Procfile": "web: gunicorn app:app\n"})
    assert_one_line_error(check(root), *words)


def without_dac_override() -> tuple:
    """A command prefix under which root obeys file permissions (CAP_DAC_OVERRIDE dropped), so that
    chmod 000 makes a file unreadable to the child even when the tests run as root."""
    if not IS_ROOT:
        return ()
    if SETPRIV is None:
        pytest.skip("running as root, where chmod 000 does not stop reads, and setpriv is not installed")
    caps = "-dac_override,-dac_read_search"
    return (SETPRIV, f"--bounding-set={caps}", f"--inh-caps={caps}")


def test_unreadable_file_given_as_the_path(tmp_path):
    target = write(tmp_path / "repo", {"gunicorn.conf.py": "workers = 2\n"}) / "gunicorn.conf.py"
    target.chmod(0)
    assert_one_line_error(check(target, prefix=without_dac_override()), str(target), "permission denied",
                          "run sc-audit as a user who can read it")


def test_unreadable_root(tmp_path):
    root = write(tmp_path / "repo", {"Procfile": "web: gunicorn app:app\n"})
    root.chmod(0)
    try:
        assert_one_line_error(check(root, prefix=without_dac_override()), str(root), "permission denied")
    finally:
        root.chmod(0o755)


def test_unreadable_file_inside_the_root_is_an_sc001(tmp_path):
    root = write(tmp_path / "repo", {"deploy.sh": "#!/bin/sh\necho\n", "Procfile": "web: gunicorn app:app\n"})
    (root / "deploy.sh").chmod(0)
    result = check(root, "--format", "json", prefix=without_dac_override())
    assert result.returncode == 1, result.stderr
    sc001 = [(f["path"], f["message"]) for f in json.loads(result.stdout)["findings"] if f["rule"] == "SC001"]
    assert sc001 == [("deploy.sh", "not audited: unreadable: Permission denied; sc-audit could not check it")]


def test_internal_errors_are_one_line_without_a_traceback(tmp_path, monkeypatch):
    """The last line of defence: should a bug escape the parsers' own guard, the CLI says one line."""
    from typer.testing import CliRunner

    from sc_audit import api, cli

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(api, "build", broken)
    root = write(tmp_path / "repo", {"Procfile": "web: gunicorn app:app\n"})
    result = CliRunner().invoke(cli.app, ["check", str(root), "--no-cache"])
    assert result.exit_code == 2
    assert "internal error: RuntimeError: boom" in result.output and "Traceback" not in result.output
