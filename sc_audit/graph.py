"""`sc-audit graph`: the deployment as a picture.

Nginx location -> endpoint -> process (and its manager) -> WSGI target -> app -> routes,
and the deploy steps (grouped per deploy file) with edges to what they kill, restart and
health-check. Each finding is marked on the node it concerns (` ⚠ SC501`). The edges
come from the same functions the checks use, so the picture and the findings agree.

Three renderers over one graph: an indented text tree, Mermaid (`flowchart LR`) and
Graphviz DOT. Output is deterministic: nodes and edges follow the model's order.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from . import commands as cmd
from .checks.health import _checked_by, app_behind
from .checks.kills import kills, match_in_world, named, targets
from .checks.ports import parse_url, serves
from .model import restarted, routes_of
from .span import Span

WHOLE_FILE = 10**9  # an end line past any file: a span that stands for the whole file
MAX_COMMAND = 60  # characters of a command shown in a step's label
KIND_ORDER = ("nginx", "endpoint", "process", "target", "app", "route", "step", "install", "file")


@dataclass(slots=True)
class Node:
    id: str
    kind: str  # one of KIND_ORDER
    label: str
    group: str | None = None  # the deploy file of a step
    codes: list[str] = field(default_factory=list)  # rule codes of the findings on it

    @property
    def title(self) -> str:
        return self.label + (" ⚠ " + " ".join(self.codes) if self.codes else "")


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    label: str = ""
    maybe: bool = False  # drawn dashed: the model cannot tell for certain


@dataclass(slots=True)
class Graph:
    nodes: dict[str, Node] = field(default_factory=dict)  # by id, in creation order
    edges: list[Edge] = field(default_factory=list)


def render_graph(report, fmt: str) -> str:
    graph = build_graph(report)
    renderers = {"text": render_text, "mermaid": render_mermaid, "dot": render_dot}
    if fmt not in renderers:
        raise ValueError(f"unknown graph format {fmt!r}; use text, mermaid or dot")
    return renderers[fmt](graph)


# ---------------------------------------------------------------------------- building


class _Builder:
    def __init__(self, model):
        self.model = model
        self.graph = Graph()
        self.ids: dict[tuple, str] = {}  # node key -> id
        self.anchors: list[tuple[Span, str]] = []  # spans a finding may point at, and their node

    def node(self, key: tuple, kind: str, label: str, name: str, spans=(), group: str | None = None) -> str:
        if key in self.ids:
            return self.ids[key]
        base = f"{kind}_{_slug(name)}"
        node_id, n = base, 1
        while node_id in self.graph.nodes:
            n += 1
            node_id = f"{base}_{n}"
        self.ids[key] = node_id
        label = "".join(c if c.isprintable() else "\ufffd" for c in label)  # no ESC of a file reaches a terminal
        self.graph.nodes[node_id] = Node(node_id, kind, label, group)
        self.anchors.extend((span, node_id) for span in spans if span is not None)
        return node_id

    def edge(self, source: str, target: str, label: str = "", maybe: bool = False) -> None:
        edge = Edge(source, target, label, maybe)
        if edge not in self.graph.edges:
            self.graph.edges.append(edge)


def build_graph(report) -> Graph:
    builder = _Builder(report.model)
    endpoint_ids = _proxies(builder)
    for process in report.model.processes:
        _process(builder, process, endpoint_ids)
    _containers(builder)
    _published_behind_proxies(builder, endpoint_ids)
    _orphan_targets(builder)
    _install_map(builder)
    _steps(builder, {f.span for f in report.findings})
    _mark(builder, report.findings)
    return builder.graph


def _proxies(b: _Builder) -> dict:
    """Nginx locations and the endpoints they pass to (also those of a file written for a container we
    cannot place: still drawn where the file sends them); returns {Endpoint: node id}."""
    endpoint_ids = {}
    for proxy in [*b.model.proxies, *b.model.unplaced_proxies]:
        server = proxy.server_names[0] if proxy.server_names else "_"
        spans = [proxy.span, *_location_spans(b.model, proxy)]
        node = b.node(("nginx", proxy.path, proxy.span), "nginx", f"nginx {server} location {proxy.location}",
                      f"{server}_{proxy.location}", spans)
        if not proxy.endpoints:
            b.graph.nodes[node].label += f" → {proxy.target}"  # an upstream we cannot resolve
        for endpoint in proxy.endpoints:
            endpoint_ids[endpoint] = b.node(("endpoint", str(endpoint)), "endpoint", str(endpoint), str(endpoint))
            b.edge(node, endpoint_ids[endpoint])
    return endpoint_ids


def _location_spans(model, proxy) -> list[Span]:
    """The location block and its server block, so findings inside them land on the proxy."""
    facts = model.nginx_files.get(proxy.path)
    for server in facts.servers if facts else ():
        for location in server.locations:
            if location.proxy_pass is not None and location.proxy_pass.span == proxy.span:
                return [location.span, server.span]
    return []


def _process(b: _Builder, process, endpoint_ids: dict) -> None:
    model = b.model
    settings = [s.span for name, s in process.settings.items() if name != "wsgi_app"]  # the target has its node
    spans = [process.span, *(s for _, s in process.binds), *settings]
    if process.config_path:
        spans.append(Span(process.config_path, 1, end_line=WHOLE_FILE))
    if process.manager == "systemd":
        spans.append(Span(process.span.path, 1, end_line=WHOLE_FILE))
    if process.supervisor is not None:  # the [program:x] header and every option of it
        spans += [process.supervisor.span, *(located.span for located in process.supervisor.settings.values())]
    node = b.node(("process", process.manager, process.name, process.span), "process",
                  f"{process.name} ({process.manager})", process.name, spans)
    for bound, _ in process.binds:
        verdicts = {endpoint: serves(bound, endpoint) for endpoint in endpoint_ids}
        for endpoint, verdict in verdicts.items():
            if verdict is not False:
                b.edge(endpoint_ids[endpoint], node, "" if verdict else "maybe", maybe=verdict is None)
        if not any(v is not False for v in verdicts.values()):  # a port no proxy passes to
            endpoint = b.node(("endpoint", str(bound)), "endpoint", str(bound), str(bound))
            b.edge(endpoint, node)
    parent = node
    if process.wsgi is not None:
        parent = _target(b, process.wsgi)
        b.edge(node, parent)
    module, app_name = app_behind(model, process)
    if module is None:
        return
    app_object = next((a for a in module.apps if a.name == app_name), None)
    framework = f" ({app_object.framework})" if app_object else ""
    app = b.node(("app", module.path, app_name), "app", f"{module.path}: {app_name}{framework}",
                 f"{module.path}_{app_name}", [app_object.span] if app_object else [])
    b.edge(parent, app)
    for path, span in routes_of(model, module, app_name):
        route = b.node(("route", path, span), "route", path, f"{span.path}_{path}", [span])
        b.edge(app, route)


def _containers(b: _Builder) -> None:
    """Containers (model/containers.py): the host ports they publish → the container → its server's
    WSGI target; an Nginx container's locations → `service:port` on the project's network → the
    container that answers to that name."""
    from .model.containers import proxied_containers

    nodes = {}
    for container in b.model.containers:
        process = container.process
        where = container.project or container.name
        what = " ".join(process.argv[:4]) if process is not None else (container.image_name or "")
        spans = [container.span, container.argv_span, *(p.span for p in container.published)]
        if process is not None:
            spans += [process.span, *(s for _, s in process.binds)]
        label = f"container {container.name}" + (f" ({where})" if container.project else "") + (f": {what}" if what else "")
        node = nodes[id(container)] = b.node(("container", where, container.name), "process", label,
                                             f"container_{container.name}", spans)
        for published in container.published:
            host = f"{published.host_ip or '0.0.0.0'}:{published.host_port or '(any port)'}"
            endpoint = b.node(("published", where, host, published.container_port), "endpoint",
                              f"host {host}", f"host_{host}", [published.span])
            b.edge(endpoint, node, f"publishes → :{published.container_port}")
        if process is not None and process.wsgi is not None:
            b.edge(node, _target(b, process.wsgi))
    for proxy, nginx, target, port in proxied_containers(b.model):
        location = b.node(("nginx", proxy.path, proxy.span), "nginx",
                          f"nginx in {nginx.name} location {proxy.location}", f"{nginx.name}_{proxy.location}",
                          [proxy.span, *_location_spans(b.model, proxy)])
        address = b.node(("service", target.project, target.name, port), "endpoint", f"{target.name}:{port}",
                         f"{target.name}_{port}")
        b.edge(nodes[id(nginx)], location)
        b.edge(location, address)
        b.edge(address, nodes[id(target)])


def _published_behind_proxies(b: _Builder, endpoint_ids: dict) -> None:
    """A host Nginx passing to an address a container's published port (or host-network bind)
    serves: the endpoint → the container, as SC302 counts it served."""
    from .checks.ports import serves

    for endpoint, endpoint_id in endpoint_ids.items():
        for listener in b.model.host_ports:
            if serves(listener.endpoint, endpoint):
                where = listener.container.project or listener.container.name
                container = b.node(("container", where, listener.container.name), "process",
                                   f"container {listener.container.name}", f"container_{listener.container.name}")
                b.edge(endpoint_id, container, "published" if listener.published is not None else "host network")


def _target(b: _Builder, target) -> str:
    return b.node(("target", target.text, target.span), "target", f"WSGI {target.text}", target.text, [target.span])


def _orphan_targets(b: _Builder) -> None:
    """WSGI targets of Gunicorn configs that no process reads: still where findings point."""
    for target in b.model.wsgi_targets:
        _target(b, target)


def _install_map(b: _Builder) -> None:
    """The install map: where the repository lands (with the line that says so), and the names
    its files are installed under (a unit's edge goes to the process it defines)."""
    for placement in b.model.placements:
        folder = f"`{placement.repo}/`" if placement.repo else "the repository root"
        b.node(("install", placement.host, placement.repo), "install",
               f"{placement.host} ⇐ {folder} ({placement.how}, {placement.span.path}:{placement.span.line})",
               f"{placement.host}_{placement.repo}", [placement.span])
    for path, installed in sorted(b.model.installed.items()):
        node = b.node(("install", installed.kind, installed.name, path), "install",
                      f"{installed.kind} {installed.name} ⇐ {path} ({installed.span.path}:{installed.span.line})",
                      f"{installed.kind}_{installed.name}_{path}", [installed.span])
        for process in b.model.processes:
            if process.manager in ("systemd", "supervisor") and process.span.path == path:
                b.edge(node, _process_id(b, process), "installed as")


def _steps(b: _Builder, finding_spans: set) -> None:
    """Deploy steps that kill, (re)start or check something, or that a finding points at."""
    kills_by_span: dict[Span, list] = {}
    for kill in kills(b.model):
        kills_by_span.setdefault(kill.step.command.span, []).append(kill)
    for step in b.model.steps:
        span = step.command.span
        edges = []
        for kill in kills_by_span.get(span, ()):
            edges += _kill_edges(b.model, kill)
        action = "start" if isinstance(step.meaning, cmd.Launch) else getattr(step.meaning, "action", "")
        edges += [(p, action, False) for p in restarted(b.model, step) if p.manager != "container"]  # not drawn yet
        checks = isinstance(step.meaning, cmd.HttpRequest)
        if checks:
            parsed = parse_url(step.meaning.url)
            path = parsed[1] if parsed else "?"
            edges += [(p, f"checks {path}", False) for p in _checked_by(b.model, step) or ()]
        if not (edges or checks or span in finding_spans):
            continue
        text = shlex.join(step.command.argv)
        if step.command.pipe_to:
            text += " | " + shlex.join(step.command.pipe_to)
        if len(text) > MAX_COMMAND:
            text = text[:MAX_COMMAND - 1] + "…"
        node = b.node(("step", span), "step", f"{span.line}: {text}", f"{span.path}_{span.line}_{span.column}",
                      [span], group=span.path)
        for process, label, maybe in edges:
            b.edge(node, _process_id(b, process), label, maybe)


def _process_id(b: _Builder, process) -> str:
    return b.ids[("process", process.manager, process.name, process.span)]


def _kill_edges(model, kill) -> list[tuple]:
    """(process, label, maybe) for what a kill is aimed at, and for what else it hits."""
    edges = []
    aimed = targets(model, kill)
    for process in aimed:
        verdicts = {w: match_in_world(kill, process, w) for w in sorted({v.world for v in process.views})}
        missed = [w for w, v in verdicts.items() if v is False]
        if len(missed) == len(verdicts):
            edges.append((process, "misses", False))
        elif missed:
            edges.append((process, f"misses with {', '.join(missed)}", False))
        elif None in verdicts.values():
            edges.append((process, "kills?", True))
        else:
            edges.append((process, "kills", False))
    aimed_ids = {id(p) for p in named(model, kill)} | {id(p) for p in aimed}
    for process in model.processes:
        if id(process) in aimed_ids or not process.views:
            continue
        if any(match_in_world(kill, process, w) for w in sorted({v.world for v in process.views})):
            edges.append((process, "also kills", False))
    return edges


def _mark(b: _Builder, findings) -> None:
    """Each finding on the node(s) with the smallest span that holds it; else on a node for its file."""
    for finding in findings:
        holders = [(_size(span), node) for span, node in b.anchors if _holds(span, finding.span)]
        if holders:
            smallest = min(size for size, _ in holders)
            nodes = sorted({node for size, node in holders if size == smallest}, key=list(b.graph.nodes).index)
            preferred = [n for n in nodes if b.graph.nodes[n].kind in RULE_KINDS.get(finding.rule[:3], ())]
            nodes = preferred or nodes
        else:
            path = finding.span.path
            nodes = [b.node(("file", path), "file", path, path)]
        for node in nodes:
            codes = b.graph.nodes[node].codes
            if finding.rule not in codes:
                codes.append(finding.rule)
                codes.sort()


# One span can stand for several nodes (a command line is a step, the process it starts and its
# WSGI target): the rule's domain says which of them the finding is about.
RULE_KINDS = {"SC1": ("target", "app", "route"), "SC2": ("process",), "SC3": ("endpoint", "nginx", "process"),
              "SC4": ("process", "nginx"), "SC5": ("step",), "SC6": ("step", "route"),
              "SC7": ("process", "endpoint", "nginx")}


def _holds(span: Span, inner: Span) -> bool:
    end = (span.end_line, span.end_column if span.end_line != span.line or span.end_column > span.column
           else WHOLE_FILE)
    return span.path == inner.path and (span.line, span.column) <= (inner.line, inner.column) <= end


def _size(span: Span) -> tuple[int, int]:
    return span.end_line - span.line, span.end_column - span.column


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").lower()[:40] or "x"


# ---------------------------------------------------------------------------- text


def render_text(graph: Graph) -> str:
    lines = ["Deployment (Nginx → endpoint → process → WSGI target → app → routes)"]
    children: dict[str, list[Edge]] = {}
    has_parent = set()
    for edge in graph.edges:
        if graph.nodes[edge.source].kind not in ("step", "install"):
            children.setdefault(edge.source, []).append(edge)
            has_parent.add(edge.target)
    shown: set[str] = set()

    def walk(node_id: str, prefix: str, depth: int) -> None:
        node = graph.nodes[node_id]
        again = node_id in shown
        lines.append("  " * depth + prefix + node.title + (" (see above)" if again else ""))
        if again:
            return
        shown.add(node_id)
        for edge in children.get(node_id, ()):
            walk(edge.target, _arrow(edge), depth + 1)

    roots = [n for n in graph.nodes.values() if n.id not in has_parent and n.kind not in ("step", "file", "install")]
    for root in sorted(roots, key=lambda n: KIND_ORDER.index(n.kind)):
        walk(root.id, "", 1)
    steps = [n for n in graph.nodes.values() if n.kind == "step"]
    if steps:
        lines.append("Deploy steps")
    for group in _groups(graph):
        lines.append(f"  {group}")
        for node in (n for n in steps if n.group == group):
            lines.append(f"    {node.title}")
            for edge in (e for e in graph.edges if e.source == node.id):
                lines.append(f"      {_arrow(edge)}{graph.nodes[edge.target].title}")
    installs = [n for n in graph.nodes.values() if n.kind == "install"]
    if installs:
        lines.append("Install map")
        for node in installs:
            lines.append(f"  {node.title}")
            for edge in (e for e in graph.edges if e.source == node.id):
                lines.append(f"    {_arrow(edge)}{graph.nodes[edge.target].title}")
    files = [n for n in graph.nodes.values() if n.kind == "file"]
    if files:
        lines.append("Findings elsewhere")
        lines += [f"  {n.title}" for n in files]
    return "\n".join(lines) + "\n"


def _arrow(edge: Edge) -> str:
    return f"{edge.label} → " if edge.label else "→ "


def _groups(graph: Graph) -> list[str]:
    groups: list[str] = []
    for node in graph.nodes.values():
        if node.group is not None and node.group not in groups:
            groups.append(node.group)
    return groups


# ---------------------------------------------------------------------------- mermaid

MERMAID_ESCAPES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;", "|": "#124;"}


def _mermaid_text(text: str) -> str:
    return '"' + "".join(MERMAID_ESCAPES.get(c, c) for c in text) + '"'


def render_mermaid(graph: Graph) -> str:
    lines = ["flowchart LR"]
    for node in graph.nodes.values():
        if node.group is None:
            lines.append(f"    {node.id}[{_mermaid_text(node.title)}]")
    for number, group in enumerate(_groups(graph), 1):
        lines.append(f"    subgraph deploy_{number}[{_mermaid_text('deploy: ' + group)}]")
        lines += [f"        {n.id}[{_mermaid_text(n.title)}]" for n in graph.nodes.values() if n.group == group]
        lines.append("    end")
    for edge in graph.edges:
        arrow = "-.->" if edge.maybe else "-->"
        label = f"|{_mermaid_text(edge.label)}|" if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    flagged = [n.id for n in graph.nodes.values() if n.codes]
    if flagged:
        lines.append("    classDef finding stroke:#d33,stroke-width:2px")
        lines.append(f"    class {','.join(flagged)} finding")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------- dot


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


DOT_SHAPES = {"nginx": "box", "endpoint": "ellipse", "process": "box3d", "target": "note", "app": "component",
              "route": "plaintext", "step": "box", "install": "cds",
              "file": "folder"}


def _dot_node(node: Node) -> str:
    extra = ", color=red" if node.codes else ""
    return f"{node.id} [label={_dot_text(node.title)}, shape={DOT_SHAPES[node.kind]}{extra}];"


def render_dot(graph: Graph) -> str:
    lines = ["digraph deployment {", "    rankdir=LR;", '    node [fontname="Helvetica"];',
             '    edge [fontname="Helvetica"];']
    lines += [f"    {_dot_node(n)}" for n in graph.nodes.values() if n.group is None]
    for number, group in enumerate(_groups(graph), 1):
        lines.append(f"    subgraph cluster_deploy_{number} {{")
        lines.append(f"        label={_dot_text('deploy: ' + group)};")
        lines += [f"        {_dot_node(n)}" for n in graph.nodes.values() if n.group == group]
        lines.append("    }")
    for edge in graph.edges:
        attributes = []
        if edge.label:
            attributes.append(f"label={_dot_text(edge.label)}")
        if edge.maybe:
            attributes.append("style=dashed")
        suffix = f" [{', '.join(attributes)}]" if attributes else ""
        lines.append(f"    {edge.source} -> {edge.target}{suffix};")
    lines.append("}")
    return "\n".join(lines) + "\n"
