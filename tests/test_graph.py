"""`sc-audit graph`: the deployment drawn as text, Mermaid and DOT, with findings on their nodes."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import SIGNALCRAFT, write_repo
from sc_audit import audit
from sc_audit.graph import render_graph

PLAN = SIGNALCRAFT / "plan"
DOCS = Path(__file__).resolve().parents[1] / "docs" / "graph.md"


@pytest.fixture(scope="module")
def plan_report():
    return audit(PLAN)


# ---------------------------------------------------------------------------- parsing our own output


MERMAID_NODE = re.compile(r'^\s*([a-z][a-z0-9_]*)\["([^"]*)"\]$')
MERMAID_EDGE = re.compile(r'^\s*([a-z][a-z0-9_]*) (-->|-\.->)(?:\|"([^"]*)"\|)? ([a-z][a-z0-9_]*)$')
MERMAID_SUBGRAPH = re.compile(r'^\s*subgraph [a-z][a-z0-9_]*\["[^"]*"\]$')
MERMAID_OTHER = re.compile(r"^\s*(end|classDef finding [^;]+|class [a-z0-9_,]+ finding)$")


def parse_mermaid(text: str) -> tuple[dict, list]:
    """Labels by node id and (source label, edge label, target label); fails on any other line."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    labels, edges, depth = {}, [], 0
    for line in lines[1:]:
        if node := MERMAID_NODE.match(line):
            assert node[1] not in labels, f"node declared twice: {line}"
            labels[node[1]] = node[2]
        elif edge := MERMAID_EDGE.match(line):
            edges.append((edge[1], edge[3] or "", edge[4], edge[2] == "-.->"))
        elif MERMAID_SUBGRAPH.match(line):
            depth += 1
        elif MERMAID_OTHER.match(line):
            depth -= line.strip() == "end"
        else:
            raise AssertionError(f"not a Mermaid line we emit: {line!r}")
    assert depth == 0
    assert all(s in labels and t in labels for s, _, t, _ in edges), "an edge to an undeclared node"
    return labels, [(_unescape(labels[s]), _unescape(label), _unescape(labels[t])) for s, label, t, _ in edges]


def _unescape(text: str) -> str:
    for entity, char in (("#quot;", '"'), ("#lt;", "<"), ("#gt;", ">"), ("#96;", "`"), ("#124;", "|"),
                         ("#35;", "#")):
        text = text.replace(entity, char)
    return text


DOT_NODE = re.compile(r'^\s*([a-z][a-z0-9_]*) \[label="((?:[^"\\]|\\.)*)", shape=\w+(?:, color=red)?\];$')
DOT_EDGE = re.compile(r'^\s*([a-z][a-z0-9_]*) -> ([a-z][a-z0-9_]*)(?: \[(.*)\])?;$')


def parse_dot(text: str) -> tuple[dict, list]:
    labels, edges = {}, []
    for line in text.splitlines():
        if node := DOT_NODE.match(line):
            labels[node[1]] = node[2].replace('\\"', '"').replace("\\\\", "\\")
        elif edge := DOT_EDGE.match(line):
            label = re.search(r'label="((?:[^"\\]|\\.)*)"', edge[3] or "")
            edges.append((edge[1], label[1] if label else "", edge[2]))
    assert text.startswith("digraph deployment {\n") and text.rstrip().endswith("}")
    assert text.count("{") == text.count("}")
    assert all(s in labels and t in labels for s, _, t in edges)
    return labels, [(labels[s], label, labels[t]) for s, label, t in edges]


# ---------------------------------------------------------------------------- the SignalCraft plan


def test_text_follows_nginx_to_the_wsgi_target(plan_report):
    lines = render_graph(plan_report, "text").splitlines()
    start = lines.index("  nginx signalcraft.kr location /api/ai/ ⚠ SC403")
    assert lines[start + 1:start + 4] == [
        "    → 127.0.0.1:8001",
        "      → signalcraft-python.service (systemd) ⚠ SC401",
        "        → WSGI app:create_app() ⚠ SC101",
    ]
    # the background Flask app: its port, the app object, its routes
    start = lines.index("  127.0.0.1:5000")
    assert lines[start + 1:start + 5] == [
        "    → python3 app.py (script) ⚠ SC104 SC202",
        "      → app.py: app (flask)",
        "        → /api/ai/analyze",
        "        → /api/ai/status",
    ]


def test_text_groups_deploy_steps_per_file(plan_report):
    lines = render_graph(plan_report, "text").splitlines()
    workflow = lines.index("  .github/workflows/auto-deploy.yml")
    script = lines.index("  fix-502-complete.sh")
    assert workflow < script
    pkill = lines.index("    62: pkill -f 'python.*app.py' ⚠ SC501 SC503")
    assert workflow < pkill < script
    assert lines[pkill + 1] == "      misses → signalcraft-python.service (systemd) ⚠ SC401"
    restart = lines.index("    80: sudo systemctl restart signalcraft-python ⚠ SC602")
    assert lines[restart + 1] == "      restart → signalcraft-python.service (systemd) ⚠ SC401"
    # the same pattern in the script does stop the Flask app that script starts
    assert "      kills → python3 app.py (script) ⚠ SC104 SC202" in lines[script:]
    assert "      checks / → signalcraft-nodejs (pm2)" in lines[script:]
    assert "    67: pm2 restart signalcraft-python ⚠ SC201" in lines


def test_mermaid_edges_and_findings(plan_report):
    labels, edges = parse_mermaid(render_graph(plan_report, "mermaid"))
    assert ("nginx signalcraft.kr location /api/ai/ ⚠ SC403", "", "127.0.0.1:8001") in edges
    assert ("127.0.0.1:8001", "", "signalcraft-python.service (systemd) ⚠ SC401") in edges
    assert ("signalcraft-python.service (systemd) ⚠ SC401", "", "WSGI app:create_app() ⚠ SC101") in edges
    assert ("62: pkill -f 'python.*app.py' ⚠ SC501 SC503", "misses",
            "signalcraft-python.service (systemd) ⚠ SC401") in edges
    assert ("app.py: app (flask)", "", "/api/ai/status") in edges
    # a process whose address is unknown (Node reads PORT) is a dashed "maybe"
    assert ("127.0.0.1:3000", "maybe", "signalcraft-nodejs (pm2)") in edges
    text = render_graph(plan_report, "mermaid")
    assert '    subgraph deploy_1["deploy: .github/workflows/auto-deploy.yml"]' in text
    flagged = re.search(r"^    class (\S+) finding$", text, re.M)[1].split(",")
    assert {labels[node] for node in flagged} >= {"WSGI app:create_app() ⚠ SC101",
                                                   "62: pkill -f 'python.*app.py' ⚠ SC501 SC503"}
    assert all("⚠" in labels[node] for node in flagged)


def test_dot_edges_and_findings(plan_report):
    text = render_graph(plan_report, "dot")
    labels, edges = parse_dot(text)
    assert ("127.0.0.1:8001", "", "signalcraft-python.service (systemd) ⚠ SC401") in edges
    assert ("signalcraft-python.service (systemd) ⚠ SC401", "", "WSGI app:create_app() ⚠ SC101") in edges
    assert ("62: pkill -f 'python.*app.py' ⚠ SC501 SC503", "misses",
            "signalcraft-python.service (systemd) ⚠ SC401") in edges
    assert "subgraph cluster_deploy_2 {" in text and 'label="deploy: fix-502-complete.sh";' in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
@pytest.mark.parametrize("root", [PLAN, SIGNALCRAFT / "fixed"])
def test_graphviz_accepts_the_dot_output(root):
    result = subprocess.run(["dot", "-Tsvg"], input=render_graph(audit(root), "dot"), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "<svg" in result.stdout


def test_output_is_deterministic(plan_report):
    again = audit(PLAN)
    for fmt in ("text", "mermaid", "dot"):
        assert render_graph(again, fmt) == render_graph(plan_report, fmt)


def test_fixed_repository_has_no_marks_and_the_health_check_edge():
    report = audit(SIGNALCRAFT / "fixed")
    labels, edges = parse_mermaid(render_graph(report, "mermaid"))
    assert not any("⚠" in label for label in labels.values())
    assert ("79: curl -f http://localhost:8001/health", "checks /health", "signalcraft-flask (pm2)") in edges
    assert ("WSGI app:app", "", "app.py: app (flask)") in edges
    assert ("app.py: app (flask)", "", "/health") in edges


def test_docs_graph_is_the_commands_output():
    """docs/graph.md shows what `sc-audit graph tests/fixtures/signalcraft/plan --format mermaid` prints."""
    result = subprocess.run([sys.executable, "-m", "sc_audit", "graph", str(PLAN), "--format", "mermaid"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    block = re.search(r"```mermaid\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert block is not None, "docs/graph.md has no mermaid block"
    assert block[1] == result.stdout, "docs/graph.md is out of date: paste the command's output into it"


# ---------------------------------------------------------------------------- awkward input


TRICKY = {
    "app.py": """
from flask import Flask
app = Flask(__name__)

@app.route("/u/<int:id>|x#1")
def user(id):
    return "x"
""",
    "deploy/site.conf": """
server {
    listen 80;
    server_name "ex\\"ample.com";
    location ~ ^/api/(?<x>.*)$ { proxy_pass http://127.0.0.1:8000; }
    location /var { proxy_pass http://$host:9000; }
}
""",
    "deploy.sh": """
#!/bin/bash
pkill -f "gunicorn: master \\"x\\" [a]pp|end" || true
gunicorn 'app:app' -b 127.0.0.1:8000 &
""",
    "ecosystem.config.js": """
module.exports = { apps: [{ name: 'we"ird <name> end', script: 'venv/bin/gunicorn' }] };
""",
}


def test_quotes_brackets_and_keywords_are_escaped(tmp_path):
    report = audit(write_repo(tmp_path, TRICKY))
    labels, edges = parse_mermaid(render_graph(report, "mermaid"))
    assert "nginx ex\"ample.com location ~ ^/api/(?<x>.*)$" in map(_unescape, labels.values())
    assert "/u/<int:id>|x#1" in map(_unescape, labels.values())
    assert any(label.startswith('we"ird <name> end (pm2)') for label in map(_unescape, labels.values()))
    assert ("127.0.0.1:8000", "", "gunicorn app:app (script) ⚠ SC202") in edges
    assert "nginx ex\"ample.com location /var → http://$host:9000" in map(_unescape, labels.values())
    dot_labels, _ = parse_dot(render_graph(report, "dot"))
    assert any(label.startswith("2: pkill -f 'gunicorn: master \"x\" [a]pp|end'") for label in dot_labels.values())
    if shutil.which("dot"):
        result = subprocess.run(["dot", "-Tsvg"], input=render_graph(report, "dot"), capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr


def test_a_finding_on_no_drawn_node_goes_on_its_file(tmp_path):
    report = audit(write_repo(tmp_path, {"gunicorn.conf.py": "bind = (\n", "deploy.sh": "#!/bin/bash\n"}))
    assert any(f.rule == "SC001" for f in report.findings)
    text = render_graph(report, "text")
    assert "Findings elsewhere\n  gunicorn.conf.py ⚠ SC001\n" in text
    labels, _ = parse_mermaid(render_graph(report, "mermaid"))
    assert "gunicorn.conf.py ⚠ SC001" in labels.values()


def test_unknown_format_is_refused(plan_report):
    with pytest.raises(ValueError, match="unknown graph format"):
        render_graph(plan_report, "svg")


def test_a_host_nginx_reaches_the_container_behind_a_published_port(tmp_path):
    root = write_repo(tmp_path, {
        "Dockerfile": 'FROM python:3.12-slim\nWORKDIR /app\nCOPY . .\nCMD ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]\n',
        "app.py": "from flask import Flask\napp = Flask(__name__)\n",
        "compose.yaml": 'services:\n  web:\n    build: .\n    ports:\n      - "127.0.0.1:8000:8000"\n',
        "deploy/site.conf": "server {\n    listen 80;\n    location / {\n        proxy_pass http://127.0.0.1:8000;\n"
                            "    }\n}\n",
    })
    labels, edges = parse_mermaid(render_graph(audit(root), "mermaid"))
    assert ("127.0.0.1:8000", "published", "container web (compose.yaml): gunicorn -b 0.0.0.0:8000 app:app") in edges
    other = write_repo(tmp_path / "other", {
        "compose.yaml": 'services:\n  web:\n    image: x\n    command: gunicorn -b 0.0.0.0:9000 app:app\n'
                        '    ports:\n      - "127.0.0.1:9000:9000"\n',
        "deploy/site.conf": "server {\n    listen 80;\n    location / {\n        proxy_pass http://127.0.0.1:8000;\n"
                            "    }\n}\n",
    })
    _, edges = parse_mermaid(render_graph(audit(other), "mermaid"))
    assert not [e for e in edges if e[1] == "published"]
