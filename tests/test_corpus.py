"""The real-world corpus (../shared/corpus, 379 files of 8 kinds): every file audited in its kind's
context by scripts/corpus_report.py. No internal error, no traceback; SC001 only on the files
listed here, each with the reason (docs/corpus.md has the tools' own verdicts)."""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from sc_audit.parsers import nginx, pm2, systemd
from sc_audit.source import SourceFile, decode

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "corpus_report.py"
CORPUS = ROOT.parent / "shared" / "corpus"

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason=f"the corpus is not at {CORPUS} (beside the checkout)")

# file -> why SC001 is right there. A new SC001 (or one that goes away) fails the test: decide, then edit.
ALLOWED_SC001 = {
    "nginx/EXP-Codes__flask-file-server__nginx__flask.conf":
        "stray `; ...` comment lines after the server block; nginx -t: unexpected \";\" in line 18",
    "nginx/Michael-F-Bryan__website__ansible__roles__nginx__templates__michaelfbryan.com":
        "a Jinja template (`server_name {{ domain }}`); nginx -t rejects it until rendered",
    "nginx/ojos__ansible-roles__proxy_gunicorn__templates__nginx.http.server.conf.tpl":
        "a Jinja template (`server {{ gunicorn_bind }}`); nginx -t rejects it until rendered",
    "pm2/34r7h__cardano-python-js__process.json":
        "audited under the name `ecosystem.config.json` (corpus_report.py names each PM2 file so): a file "
        "whose name says PM2 ecosystem is read as one, and this one holds only watch options, no app: "
        "`pm2 start` would start nothing, and the audit says it could not read an app (issue #13)",
    "pm2/draadnu__openstad-frontend__ecosystem__ecosystem.config.js":
        "its only app is `require('./app')`, another module sc-audit does not evaluate: the file is "
        "valid for PM2, but its app is unknown, so the audit of it is incomplete and says so",
    "procfile/IrisJohn__Diabetes-Deployed-Repo__Procfile":
        "`web : gunicorn ...` (space before the colon) does not match the Procfile line format",
    "systemd/AnishaDatla22__NIR_Windows__gunicorn.service":
        "an Nginx server block pasted under [Install]; systemd-analyze: Missing '=', ignoring line (x13)",
}

# file -> why discovery does not take it for its folder's kind (unknown stays unknown).
NOT_RECOGNISED = {
    "flaskapp/IronicNinja__stock-scraper-multi__run.py":
        "creates no app: imports one from a package that is not in the corpus",
}


@functools.cache
def load_script():
    spec = importlib.util.spec_from_file_location("corpus_report", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus_run() -> dict:
    result = subprocess.run([sys.executable, str(SCRIPT), "--json", "--corpus", str(CORPUS)],
                            capture_output=True, text=True, timeout=600)
    assert "Traceback" not in result.stderr, result.stderr
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


def test_every_corpus_file_is_audited(corpus_run):
    counted = {kind: row["files"] for kind, row in corpus_run["kinds"].items()}
    on_disk = {folder: sum(1 for p in (CORPUS / folder).iterdir() if p.is_file()) for folder in counted}
    assert counted == on_disk
    assert set(counted) == {"flaskapp", "gunicorn", "nginx", "pm2", "procfile", "scripts", "systemd", "workflows"}
    assert sum(counted.values()) >= 379


def test_no_internal_error(corpus_run):
    errors = {f["file"]: f["internal_errors"] for f in corpus_run["files"] if f["internal_errors"]}
    assert errors == {}
    assert all(row["internal_errors"] == 0 for row in corpus_run["kinds"].values())


def test_sc001_only_where_justified(corpus_run):
    with_sc001 = {f["file"]: f["sc001"] for f in corpus_run["files"] if f["sc001"]}
    assert set(with_sc001) == set(ALLOWED_SC001), with_sc001
    for messages in with_sc001.values():
        assert len(messages) == 1, messages  # one error per broken file, at the first bad line


def test_kinds_are_recognised(corpus_run):
    unrecognised = {f["file"] for f in corpus_run["files"] if f["kind"] is None}
    assert unrecognised == set(NOT_RECOGNISED)
    wrong = {f["file"]: f["kind"] for f in corpus_run["files"] if f["kind"] not in (None, kind_of(f["folder"]))}
    assert wrong == {}


def test_summary_counts_agree_with_files(corpus_run):
    for kind, row in corpus_run["kinds"].items():
        files = [f for f in corpus_run["files"] if f["folder"] == kind]
        assert row["parsed"] == sum(f["parsed"] for f in files)
        assert row["sc001_files"] == sum(bool(f["sc001"]) for f in files)
        assert row["parsed"] + row["sc001_files"] + row["not_recognised"] == row["files"]
        assert row["slowest"]["ms"] == max(f["ms"] for f in files)
        assert row["findings"].get("SC001", 0) == row["sc001"]


def kind_of(folder: str) -> str:
    return load_script().KIND_OF_FOLDER[folder]


# --------------------------------------------------------------------------- the tools agree


def verdict(file: str) -> str:
    return load_script().tool_verdict(CORPUS / file, file.split("/", 1)[0])


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed (apt-get install nginx-light)")
@pytest.mark.parametrize("file", [f for f in ALLOWED_SC001 if f.startswith("nginx/")])
def test_nginx_rejects_the_nginx_files_with_sc001(file):
    said = verdict(file)
    assert said.startswith("nginx -t: [emerg]") and "test failed" in said, said


@pytest.mark.skipif(shutil.which("nginx") is None, reason="nginx not installed (apt-get install nginx-light)")
@pytest.mark.parametrize("file", ["nginx/00-Python__multi-flask-docker-nginx-deployment__nginx__nginx.conf",
                                  "nginx/0rxa__reverse-proxy-lesson__nginx__default.conf",
                                  "nginx/SSSokach__dialogue-demo__nginx__sites-available__default"])
def test_the_nginx_wrapper_is_sound(file):
    """The wrapping (main, http{} or server{} context, a temporary prefix) lets nginx accept good files,
    so its rejection of the files above is about them, not about the wrapper."""
    assert verdict(file) == "nginx -t: ok"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
def test_systemd_warns_about_the_unit_with_sc001():
    assert "x.service:19: Missing '=', ignoring line" in verdict("systemd/AnishaDatla22__NIR_Windows__gunicorn.service")


def test_procfile_line_format_rejects_the_procfile_with_sc001():
    assert "1 line(s) do not match" in verdict("procfile/IrisJohn__Diabetes-Deployed-Repo__Procfile")


# --------------------------------------------------------------------------- partial reads keep their facts


def corpus_source(file: str, name: str, kind: str) -> SourceFile:
    text, encoding = decode((CORPUS / file).read_bytes())
    return SourceFile(name, kind, text, encoding)


def test_nginx_file_with_trailing_garbage_keeps_its_server():
    facts = nginx.parse(corpus_source("nginx/EXP-Codes__flask-file-server__nginx__flask.conf", "x.conf", "nginx"))
    assert [(e.message, e.span.line) for e in facts.errors] == [('unexpected ";"', 18)]
    (server,) = facts.servers
    assert [item.value for item in server.listen] == ["8080"]
    assert server.server_names == ("flask.local.com",)
    assert server.client_max_body_size.value == 1024 * 1024 * 1024
    assert [location.match for location in server.locations] == ["/", "@flask"]
    assert [include.value for include in facts.includes] == ["uwsgi_params"]


def test_nginx_template_keeps_what_is_not_templated():
    facts = nginx.parse(corpus_source("nginx/ojos__ansible-roles__proxy_gunicorn__templates__nginx.http.server.conf.tpl",
                                      "x.conf", "nginx"))
    assert [e.span.line for e in facts.errors] == [2]
    assert [upstream.name for upstream in facts.upstreams] == ["app_server"]
    (server,) = facts.servers
    assert [item.value for item in server.listen] == ["80"]
    proxied = [location for location in server.locations if location.proxy_pass is not None]
    assert [(loc.match, loc.proxy_pass.value, loc.proxy_pass.span.line) for loc in proxied] == \
        [("@proxy_to_app", "http://app_server", 43)]


def test_systemd_unit_with_pasted_nginx_keeps_its_service():
    facts = systemd.parse(corpus_source("systemd/AnishaDatla22__NIR_Windows__gunicorn.service", "x.service", "systemd"))
    assert [e.span.line for e in facts.errors] == [19]
    (command,) = facts.exec_start
    assert command.argv[0] == "/usr/bin/gunicorn3" and command.argv[-1] == "nir_rest:app"
    assert command.span.line == 11
    assert facts.working_directory.value == "/home/ubuntu/NIRO"
    assert facts.user.value == "ubuntu"


def test_pm2_file_with_a_required_app_keeps_its_deploy_hook():
    facts = pm2.parse(corpus_source("pm2/draadnu__openstad-frontend__ecosystem__ecosystem.config.js",
                                    "ecosystem.config.js", "pm2"))
    assert [e.span.line for e in facts.errors] == [5]
    assert facts.apps == []
    assert [(s.text, s.span.line) for s in facts.snippets] == [("pm2 restart ecosystem.config.js --env staging", 14)]
