"""Joins that once made N services quadratic are now indexed once per audit; each index must give
exactly what the scan it replaced gave. (Speed itself is benchmarks/run.py's job, not a test's.)"""

from __future__ import annotations

import pickle
import posixpath
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import write_repo
from sc_audit.api import audit
from sc_audit.checks import stopping
from sc_audit.facts import Route
from sc_audit.model.install import _holding
from sc_audit.model.records import Deployment, Placement
from sc_audit.model.routes import rule_regex
from sc_audit.span import Located, Span

SEGMENTS = st.sampled_from(["opt", "app", "srv", "www", "x", "app2"])
HOSTS = st.lists(SEGMENTS, min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))


@settings(max_examples=300, deadline=None)
@given(hosts=st.lists(st.tuples(HOSTS, st.booleans()), max_size=8), path=HOSTS)
def test_placements_holding_a_path_are_the_ones_a_scan_finds(hosts, path):
    placements = [Placement(host + ("/" if slash and host != "/" else ""), f"r{i}", Span("d.sh", i + 1), "git")
                  for i, (host, slash) in enumerate(hosts)]
    model = Deployment(root_paths=set(), placements=placements)
    path = posixpath.normpath(path)
    scanned = [p for p in placements if path == p.host or path.startswith(p.host.rstrip("/") + "/")]
    indexed = [p for p in _holding(model, path)
               if path == p.host or path.startswith(p.host.rstrip("/") + "/")]
    assert indexed == scanned


def test_the_placement_index_follows_a_new_map():
    model = Deployment(root_paths=set(), placements=[Placement("/opt/a", "", Span("d.sh", 1), "git")])
    assert [p.repo for p in _holding(model, "/opt/a/x")] == [""]
    model.placements = [Placement("/opt/b", "b", Span("d.sh", 2), "git")]
    assert _holding(model, "/opt/a/x") == []


@given(rule=st.text(alphabet="/ab.-_<>{}:", max_size=12), path=st.text(alphabet="/ab.-_<>{}:", max_size=12))
def test_a_literal_rule_matches_as_its_regex_would(rule, path):
    matcher = rule_regex(rule)
    if re.split(r"(<[^>]+>|\{[^}]+\})", rule) == [rule]:
        assert bool(matcher.match(path)) == bool(re.compile(re.escape(rule) + r"\Z").match(path))


def test_facts_unpickle_to_equal_objects():
    span = Span("a.py", 3, 2, 3, 9)
    located = Located("x", span)
    assert pickle.loads(pickle.dumps(span)) == span
    assert pickle.loads(pickle.dumps(located)) == located
    route = Route("app", "/health", ("GET",), span, "health")
    assert pickle.loads(pickle.dumps(route)) == route


def test_the_pm2_kill_signal_is_read_once_per_audit(tmp_path, monkeypatch):
    calls = []
    real = stopping._pm2_kill_signal
    monkeypatch.setattr(stopping, "_pm2_kill_signal", lambda model: calls.append(1) or real(model))
    apps = "".join(f"    {{ name: 'web{i}', script: 'venv/bin/gunicorn', interpreter: 'none', "
                   f"args: 'app:app -b 127.0.0.1:{8000 + i}' }},\n"
                   for i in range(6))
    root = write_repo(tmp_path, {
        "ecosystem.config.js": f"module.exports = {{\n  apps: [\n{apps}  ],\n}};\n",
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
    })
    report = audit(root)
    assert calls == [1]
    assert sum(f.rule == "SC208" for f in report.findings) == 6


def test_a_repository_without_containers_never_imports_the_container_model(tmp_path):
    """~13 ms of every run on a host-only repository (a check importing it before asking whether
    there were containers brought it back once)."""
    import subprocess
    import sys

    from conftest import SIGNALCRAFT

    code = ("import sys; from sc_audit import audit; audit(sys.argv[1]); "
            "print('sc_audit.model.containers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(SIGNALCRAFT / "plan")], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
