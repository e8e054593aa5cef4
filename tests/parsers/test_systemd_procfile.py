"""systemd unit and Procfile parsers."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sc_audit.facts import ProcfileFacts, SystemdUnitFacts
from sc_audit.parsers import procfile, systemd
from sc_audit.source import SourceFile

SYSTEMD_CORPUS = Path("/work/shared/corpus/systemd")
PROCFILE_CORPUS = Path("/work/shared/corpus/procfile")

UNIT = """\
[Unit]
Description=app
; a comment

[Service]
User=www-data
Environment="A=1" B=2 'C=x y'
Environment=PORT=8001
WorkingDirectory=-/srv/app
ExecStartPre=/bin/true
ExecStart=-/srv/app/venv/bin/gunicorn --workers 3 \\
    # comments inside a continuation are skipped
    --bind "unix:/run/app.sock" ${OPTS} $EXTRA %i app:app
ExecStart=+/bin/bash -c 'cd /srv/app && exec gunicorn app:app'

[Install]
WantedBy=multi-user.target
"""


def unit(text: str, path: str = "deploy/app.service") -> SystemdUnitFacts:
    return systemd.parse(SourceFile(path, "systemd", text))


def procs(text: str) -> ProcfileFacts:
    return procfile.parse(SourceFile("Procfile", "procfile", text))


# --------------------------------------------------------------------------- systemd


def test_unit_fields():
    facts = unit(UNIT)
    assert facts.name == "app.service"
    assert facts.user.value == "www-data" and facts.user.span.line == 6
    assert facts.working_directory.value == "/srv/app"
    assert (facts.working_directory.span.line, facts.working_directory.span.column) == (9, 19)
    assert {k: v.value for k, v in facts.environment.items()} == {"A": "1", "B": "2", "C": "x y", "PORT": "8001"}
    assert facts.environment["B"].span.column == 19
    assert not facts.errors


def test_exec_start_words_prefixes_and_continuation():
    first = unit(UNIT).exec_start[0]
    assert first.argv == (
        "/srv/app/venv/bin/gunicorn", "--workers", "3", "--bind", "unix:/run/app.sock", "${OPTS}", "$EXTRA", "%i", "app:app",
    )
    assert first.dynamic == (False,) * 5 + (True, True, True, False)
    assert first.context.kind == "systemd" and first.context.cmdline is None
    assert (first.span.line, first.span.column, first.span.end_line) == (11, 12, 13)


def test_exec_start_bash_c_is_parsed():
    commands = unit(UNIT).exec_start
    bash = commands[1]
    assert bash.argv == ("/bin/bash", "-c", "cd /srv/app && exec gunicorn app:app")
    gunicorn = next(c for c in commands if c.argv[:2] == ("exec", "gunicorn"))
    assert gunicorn.context.kind == "bash-c"
    assert gunicorn.context.cmdline == "cd /srv/app && exec gunicorn app:app"
    assert (gunicorn.span.line, gunicorn.span.column) == (14, 41)


def test_exec_start_reset_and_at_prefix():
    facts = unit("[Service]\nExecStart=/bin/a\nExecStart=\nExecStart=@/usr/bin/python3 myname app.py\n")
    assert [c.argv for c in facts.exec_start] == [("/usr/bin/python3", "app.py")]


def test_systemd_escapes_and_quotes():
    facts = unit('[Service]\nExecStart=/bin/echo "a b"\\x c\\ d $$HOME 100%%\n')
    assert facts.exec_start[0].argv == ("/bin/echo", "a bx", "c d", "$HOME", "100%")
    assert facts.exec_start[0].dynamic == (False,) * 5


def test_malformed_unit_lines_are_one_error():
    facts = unit("[Service]\nExecStart=/bin/x\nserver {\n  listen 80;\n}\n[Broken\n")
    assert facts.exec_start[0].argv == ("/bin/x",)
    lines = sorted(e.span.line for e in facts.errors)
    assert lines == [3, 6]
    assert "2 more" in next(e.message for e in facts.errors if e.span.line == 3)


def test_systemd_corpus():
    if not SYSTEMD_CORPUS.is_dir():
        pytest.skip("corpus not present")
    files = sorted(SYSTEMD_CORPUS.iterdir())
    with_exec = 0
    for path in files:
        facts = unit(path.read_text(errors="replace"), path=path.name)
        assert isinstance(facts, SystemdUnitFacts)
        with_exec += bool(facts.exec_start)
    assert with_exec >= len(files) - 1


def test_systemd_corpus_continuation_file():
    path = SYSTEMD_CORPUS / "Beirdo__video-render-flow-scripts__gunicorn.service"
    if not path.is_file():
        pytest.skip("corpus not present")
    facts = unit(path.read_text(), path=path.name)
    (command,) = facts.exec_start
    assert command.argv == ("/usr/bin/gunicorn3", "--pid", "/run/gunicorn/pid", "--bind", "unix:/run/gunicorn/socket", "rpcserver:app")
    assert (command.span.line, command.span.end_line) == (12, 13)
    assert facts.user.value == "gjhurlbu" and facts.working_directory.value == "/opt/video/render/scripts"


# --------------------------------------------------------------------------- Procfile


def test_procfile_lines():
    facts = procs("# comment\nweb: gunicorn app:app --bind 0.0.0.0:$PORT\n\nworker: celery -A app worker & sleep 1\n")
    (web,) = facts.processes["web"]
    assert web.argv == ("gunicorn", "app:app", "--bind", "0.0.0.0:$PORT")
    assert web.dynamic == (False, False, False, True)
    assert (web.span.line, web.span.column) == (2, 6)
    assert web.context.kind == "procfile" and web.context.cmdline is None
    celery, sleep = facts.processes["worker"]
    assert celery.background and sleep.argv == ("sleep", "1")
    assert celery.context.cmdline == "celery -A app worker & sleep 1"
    assert sleep.span.column == 32
    assert not facts.errors


def test_procfile_malformed_line_is_an_error_and_parsing_continues():
    facts = procs("web : gunicorn a:b\nrelease: flask db upgrade\nworker:\n")
    assert [e.span.line for e in facts.errors] == [1, 3]
    assert list(facts.processes) == ["release"]


def test_procfile_shell_error_has_line():
    facts = procs('web: gunicorn "app:app\n')
    assert facts.errors and facts.errors[0].span.line == 1


def test_procfile_corpus():
    if not PROCFILE_CORPUS.is_dir():
        pytest.skip("corpus not present")
    for path in sorted(PROCFILE_CORPUS.iterdir()):
        assert isinstance(procs(path.read_text(errors="replace")), ProcfileFacts)
    facts = procs((PROCFILE_CORPUS / "IrsathDev__Smart_QA__Procfile").read_text())
    (web,) = facts.processes["web"]
    assert web.argv[-2:] == ("--port", "8000") and web.dynamic[-1]
    facts = procs((PROCFILE_CORPUS / "IrishMehta__Telco_Churn_Prediction_Case_Study__Procfile").read_text())
    assert [c.argv[0] for c in facts.processes["web"]] == ["sh", "streamlit"]
    assert facts.processes["web"][1].context.cmdline == "sh setup.sh && streamlit run helper.py"


# --------------------------------------------------------------------------- property


PIECES = st.sampled_from(["[Service]", "\n", "ExecStart=", "Environment=", "\\\n", '"', "'", "$", "%", "{{", "}}",
                          "\0", "\r", "web:", "bash -c '", "$(", "#", "=", " "])


@settings(max_examples=50, deadline=None)
@given(st.lists(PIECES | st.text(max_size=6), max_size=40))
def test_property_never_raises(parts):
    text = "".join(parts)
    assert isinstance(unit(text), SystemdUnitFacts)
    assert isinstance(procs(text), ProcfileFacts)


def test_property_extremes():
    for text in ["ExecStart=" + "$( " * 1000, "web: " + "$( " * 1000, "[Service]\nExecStart=/bin/x \\\n" * 2000, "x" * 100_000]:
        assert isinstance(unit(text), SystemdUnitFacts)
        assert isinstance(procs(text), ProcfileFacts)


def test_service_type_is_kept():
    assert unit("[Service]\nType=notify\nExecStart=/srv/venv/bin/gunicorn app:app\n").service_type == "notify"
    assert unit("[Service]\nExecStart=/srv/venv/bin/gunicorn app:app\n").service_type is None
