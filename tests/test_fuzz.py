"""Fuzzing, briefly: every parser and the whole audit on random bytes and mutated corpus files
(scripts/fuzz.py has the strategies; run it with a large N for the long runs), then the shapes
random mutation rarely reaches: deep nesting, long files, odd encodings, NUL, CR. Property: a
report (findings or SC001) comes back, nothing raises, and each input stays within a CPU bound.
Inputs the fuzzer once broke us with live in tests/fixtures/regressions/."""

from __future__ import annotations

import codecs
import importlib.util
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sc_audit import audit
from sc_audit.config import Config
from sc_audit.source import decode

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "fuzz.py"
REGRESSIONS = Path(__file__).parent / "fixtures" / "regressions"


def load_fuzz():
    spec = importlib.util.spec_from_file_location("sc_audit_fuzz", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


fuzz = load_fuzz()
CORPUS = fuzz.DEFAULT_CORPUS if fuzz.DEFAULT_CORPUS.is_dir() else None
SEEDS = {name: fuzz.seeds(target, CORPUS) for name, target in fuzz.TARGETS.items()}
BRIEF = settings(max_examples=150, deadline=None, database=None, derandomize=False,
                 suppress_health_check=list(HealthCheck))


@pytest.mark.parametrize("name", sorted(fuzz.TARGETS))
@BRIEF
@given(data=st.data())
def test_parser_survives_fuzzing(name, data):
    fuzz.parse_once(fuzz.TARGETS[name], data.draw(fuzz.fuzz_input(SEEDS[name]), label="input"))


@settings(BRIEF, max_examples=200)
@given(data=st.data())
def test_audit_survives_fuzzing(data):
    name = data.draw(st.sampled_from(sorted(fuzz.TARGETS)), label="target")
    fuzz.audit_once(fuzz.TARGETS[name], data.draw(fuzz.fuzz_input(SEEDS[name]), label="input"))


def test_the_fuzzer_mutates():
    """The strategies reach the shapes they promise (not only the seeds as they are)."""
    seen = set()

    @settings(max_examples=300, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def collect(data):
        sample = data.draw(fuzz.fuzz_input(SEEDS["nginx"]))
        seen.add("utf16" if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) else
                 "nul" if b"\0" in sample else "cr" if b"\r" in sample else
                 "seed" if sample in SEEDS["nginx"] else "other")

    collect()
    assert {"nul", "cr", "utf16", "other"} <= seen


# --------------------------------------------------------------------------- regressions


def regression_inputs() -> list[Path]:
    return sorted(REGRESSIONS.glob("*.input"))


def test_regression_inputs_are_named_for_their_target():
    for path in regression_inputs():
        target = path.name.split("--", 1)[0]
        assert target in fuzz.TARGET_NAMES, path.name


@pytest.mark.parametrize("path", regression_inputs(), ids=lambda p: p.name)
def test_regression_input(path):
    """`<target>--<what>.input`: parsed by that target's parser and audited as its file (`audit--`:
    as every target), in a subprocess, since some of them once crashed the interpreter itself."""
    result = subprocess.run([sys.executable, str(SCRIPT), "--replay", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout == f"{path.name}: ok\n"


# --------------------------------------------------------------------------- shapes


def audited(tmp_path: Path, files: dict[str, str | bytes], cpu_seconds: float = 10.0):
    for rel, content in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    started = time.process_time()
    report = audit(tmp_path, Config())
    assert time.process_time() - started < cpu_seconds
    assert report.internal_errors == []
    return report


def messages(report, rule: str = "SC001") -> list[tuple[str, int, str]]:
    return [(f.span.path, f.span.line, f.message) for f in report.findings if f.rule == rule]


def step_lines(report, program: str) -> list[int]:
    return [step.command.span.line for step in report.model.steps if step.command.argv[:1] == (program,)]


DEEP = 5000


@pytest.mark.parametrize("expression", [
    "(" * DEEP + "1" + ")" * DEEP, "[" * DEEP + "]" * DEEP, "f(" * DEEP + ")" * DEEP,
    " + ".join(["1"] * DEEP), "-" * DEEP + "1", "not " * DEEP + "x", "x" + ".a" * DEEP,
    "1" + " if x else 1" * DEEP, "lambda: " * DEEP + "1",
], ids=["parens", "lists", "calls", "sum", "unary", "not", "attributes", "conditional", "lambdas"])
@pytest.mark.parametrize("name", ["gunicorn.conf.py", "app.py"])
def test_a_5000_deep_python_expression(tmp_path, name, expression):
    prefix = "from flask import Flask\napp = Flask(__name__)\n" if name == "app.py" else "bind = '127.0.0.1:8000'\n"
    report = audited(tmp_path, {name: prefix + "workers = " + expression + "\n"})
    ((path, line, message),) = messages(report)
    assert path == name and line >= 1 and ("nested" in message or "syntax error" in message), message


@pytest.mark.parametrize("value", [
    "[" * DEEP + "]" * DEEP, "(" * DEEP + "'x'" + ")" * DEEP, " + ".join(["'x'"] * DEEP),
    "{a: " * DEEP + "1" + "}" * DEEP, "!" * DEEP + "1", "a ? " * DEEP + "1" + " : 2" * DEEP,
    "`${" * DEEP + "1" + "}`" * DEEP, "x" + ".a" * DEEP, "process.env.X" + ".trim()" * DEEP,
], ids=["arrays", "parens", "concatenation", "objects", "not", "conditional", "templates", "members", "calls"])
def test_a_5000_deep_javascript_expression_costs_one_app_at_most(tmp_path, value):
    report = audited(tmp_path, {"ecosystem.config.js": (
        "module.exports = {apps: [{name: 'web', script: 'web.py', interpreter: 'python3'},\n"
        f"  {{name: 'deep', script: 'deep.py', args: {value}}}]}};\n")})
    (pm2,) = report.model.pm2_files.values()
    assert pm2.apps[0].name == "web" and pm2.apps[0].get("script") == "web.py"  # read before the deep part
    assert not any("could not be read" in m for _, _, m in messages(report))  # no RecursionError caught


PM2_FIELDS = ("name", "script", "args", "interpreter", "exec_interpreter", "interpreter_args", "node_args", "cwd",
              "env", "instances", "exec_mode", "max_memory_restart")
JSON_VALUES = (False, True, 0, 2.5, None, [], ["a", 1], {}, {"a": [1]}, "")


def test_pm2_fields_of_any_json_type(tmp_path):
    """`"interpreter": false` once crashed the whole audit (the fuzzer's find): every field the model
    reads may hold any JSON value; what is not a string stays unknown."""
    for index, (field, value) in enumerate((f, v) for f in PM2_FIELDS for v in JSON_VALUES):
        app = {"name": "web", "script": "venv/bin/gunicorn", "args": "-b 127.0.0.1:8000 app:app", field: value}
        report = audited(tmp_path / str(index), {
            "ecosystem.config.json": json.dumps({"apps": [app]}),
            "deploy.sh": "pm2 reload ecosystem.config.json --only web\ncurl -f http://127.0.0.1:8000/health\n",
        })
        assert [m for m in messages(report) if "could not be read" in m[2]] == [], (field, value)


def test_a_10000_line_workflow(tmp_path):
    steps = "".join(f"      - name: step {i}\n        env:\n          N: {i}\n        run: echo {i}\n" for i in range(1250))
    script = "".join(f"          # line {i}\n" for i in range(5000))
    report = audited(tmp_path, {".github/workflows/deploy.yml": (
        "on: push\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n    steps:\n" + steps +
        "      - run: |\n" + script + "          pm2 restart nope\n")})
    assert messages(report) == []
    assert step_lines(report, "pm2") == [5 + 4 * 1250 + 1 + 5000 + 1]  # mapped back into the YAML


def test_a_10000_line_pm2_yaml(tmp_path):
    apps = "".join(f"  - name: app{i}\n    script: app{i}.js\n" for i in range(5000))
    report = audited(tmp_path, {"ecosystem.config.yml": "apps:\n" + apps})
    (pm2,) = report.model.pm2_files.values()
    assert len(pm2.apps) == 5000 and pm2.apps[-1].span.line == 1 + 2 * 4999 + 1
    assert [m for m in messages(report) if "processes in the deployment" not in m[2]] == []  # the cap of model.py


@pytest.mark.parametrize("name", ["gunicorn.conf.py", "app.py"])
def test_a_python_file_of_tiny_statements_is_refused_in_bounded_time(tmp_path, name):
    """Past 200,000 syntax nodes a Python file is an SC001: the work on one file stays bounded."""
    report = audited(tmp_path, {name: "from flask import Flask\napp = Flask(__name__)\n" + "m\n" * 120_000})
    assert messages(report) == [(name, 1, "cannot read this file: too large to read: more than 200,000 syntax nodes")]


def test_a_deep_yaml_document(tmp_path):
    report = audited(tmp_path, {".github/workflows/deploy.yml": "on: " + "[" * DEEP + "]" * DEEP + "\n"})
    ((path, _, message),) = messages(report)
    assert path == ".github/workflows/deploy.yml" and "YAML" in message


def test_a_1000_level_nginx_include_chain(tmp_path):
    files = {f"nginx/inc{i}.conf": f"include inc{i + 1}.conf;\nlocation /l{i} {{ proxy_pass http://127.0.0.1:{8000 + i}; }}\n"
             for i in range(1000)}
    files["nginx/site.conf"] = "server {\n    listen 80;\n    include inc0.conf;\n}\n"
    report = audited(tmp_path, files)
    errors = messages(report)
    assert any("includes nested deeper than" in m for _, _, m in errors), errors
    locations = {p.location for p in report.model.proxies if p.path == "nginx/site.conf"}
    assert {"/l0", "/l1", "/l10"} <= locations  # what the chain held before the limit is kept


def test_nginx_blocks_5000_deep(tmp_path):
    report = audited(tmp_path, {"nginx/site.conf": "server {\n" + "location / {\n" * DEEP + "}\n" * DEEP + "}\n"})
    ((_, _, message),) = messages(report)
    assert "nested deeper than" in message


@pytest.mark.parametrize("script", [
    "echo " + "$(" * DEEP + "x" + ")" * DEEP, "if true; then\n" * DEEP + "fi\n" * DEEP,
    "(" * DEEP + "true" + ")" * DEEP, "true" + " && true" * DEEP, "x=" + "${a:-" * DEEP + "}" * DEEP,
], ids=["substitutions", "ifs", "subshells", "and-chain", "defaults"])
def test_deep_shell(tmp_path, script):
    report = audited(tmp_path, {"deploy.sh": "pm2 restart early\n" + script + "\n"})
    ((_, _, message),) = messages(report)
    assert "nested too deeply" in message
    assert step_lines(report, "pm2") == [1]  # read before the deep part


# --------------------------------------------------------------------------- encodings, NUL, CR

GUNICORN_CONF = "# 설정: 한국어 주석\nbind = '127.0.0.1:8001'\nworkers = 3\ntimeout = 'x'\n"


def gunicorn_settings(report) -> dict:
    (facts,) = report.model.gunicorn_configs.values()
    return {name: value.value for name, value in facts.settings.items()}


@pytest.mark.parametrize("data", [
    codecs.BOM_UTF16_LE + GUNICORN_CONF.encode("utf-16-le"),
    codecs.BOM_UTF16_BE + GUNICORN_CONF.encode("utf-16-be"),
    codecs.BOM_UTF8 + GUNICORN_CONF.encode(),
    GUNICORN_CONF.encode("cp949"),
    GUNICORN_CONF.replace("한국어", "\udcff").encode("utf-8", "surrogateescape"),  # invalid UTF-8
    GUNICORN_CONF.replace("\n", "\r\n").encode(),
    GUNICORN_CONF.replace("\n", "\r").encode(),
], ids=["utf-16-le-bom", "utf-16-be-bom", "utf-8-bom", "cp949", "invalid-utf-8", "crlf", "lone-cr"])
def test_encodings_and_newlines_keep_facts_and_lines(tmp_path, data):
    report = audited(tmp_path, {"gunicorn.conf.py": data})
    assert messages(report) == []
    settings_read = gunicorn_settings(report)
    assert settings_read["bind"] == "127.0.0.1:8001" and settings_read["workers"] == 3
    (facts,) = report.model.gunicorn_configs.values()
    assert facts.settings["workers"].span.line == 3


def test_decode_never_fails_and_normalises_newlines():
    for data in (b"\xff\xfe\x00", b"\xfe\xff\xd8\x00", b"\x80\x81\xfe", b"a\r\nb\rc\n", bytes(range(256))):
        text, encoding = decode(data)
        assert "\r" not in text and encoding


def test_nul_in_the_head_is_binary_and_said(tmp_path):
    report = audited(tmp_path, {"app.service": b"[Service]\nExecStart=/bin/gunicorn\0 app:app\n"})
    assert messages(report) == [("app.service", 1, "not audited: binary; sc-audit could not check it")]


@pytest.mark.parametrize("name", sorted(fuzz.TARGETS))
def test_nul_after_the_head_reaches_every_parser(name):
    target = fuzz.TARGETS[name]
    data = target.seeds[0].encode() + b"#" + b"x" * 9000 + b"\n\0\0 \0\n"
    facts = fuzz.parse_once(target, data)
    assert isinstance(facts.errors, list)


def test_characters_beyond_the_bmp_keep_their_place_in_shell(tmp_path):
    """The shell parser gives tree-sitter a stand-in for them (tree-sitter-bash#337 crashes on one after
    `{`), yet the words and columns are the script's own."""
    report = audited(tmp_path, {"deploy.sh": "echo \"🚀 {ok}\"\npkill -f 'gunicorn 🦄' ; pm2 restart 😀{x}\n"})
    by_program = {step.command.argv[0]: step.command for step in report.model.steps}
    assert by_program["echo"].argv == ("echo", "🚀 {ok}")
    assert by_program["pkill"].argv == ("pkill", "-f", "gunicorn 🦄")
    assert by_program["pm2"].argv == ("pm2", "restart", "😀{x}")
    assert (by_program["pm2"].span.line, by_program["pm2"].span.column) == (2, 25)  # in characters


def test_a_file_of_bad_lines_is_one_finding(tmp_path):
    """The fuzzer's slowest audit: 7,000 lines that are not `name: command`, once 7,000 findings whose
    every source line split the whole file again."""
    report = audited(tmp_path, {"Procfile": "web: gunicorn app:app\n" + "ker\n" * 7000})
    assert messages(report) == [("Procfile", 2, "cannot read this file: not a `name: command` line: 'ker' "
                                                "(and 6999 more lines)")]


def test_crlf_shell_lines_stay_in_place(tmp_path):
    report = audited(tmp_path, {"deploy.sh": b"#!/bin/sh\r\necho one\r\n\r\npm2 restart nope\r\n"})
    assert step_lines(report, "pm2") == [4]


def test_every_parser_on_empty_and_whitespace_input():
    for name, target in fuzz.TARGETS.items():
        for data in (b"", b"\n", b"   \t  ", b"\r\r\r", codecs.BOM_UTF8, codecs.BOM_UTF16_LE):
            fuzz.parse_once(target, data)
