"""YAML from strangers: composed once, and the size its aliases expand to bounded.

An alias (`*step`) is the same node object as its anchor: a walker that reads each node
where it appears reads a shared node once per use, and a few kilobytes of `&a [*b, *b, …]`
levels expand into millions of nodes. `expanded_size` counts what a full walk would visit,
in time linear in the distinct nodes (memoised by node identity); callers refuse a document
past their limit (an SC001 that says so) and memoise their own per-node work.

Shared helper: the workflow, PM2 and container parsers call it (`safe_load_bounded` for a
parser that wants plain Python values, as `yaml.safe_load` gives, without the blow-up).
"""

from __future__ import annotations

# What a full walk may visit in one document. Real workflows and compose files have a few
# thousand nodes; the largest seen in the corpus is far below this.
MAX_EXPANDED_NODES = 50_000


class TooLarge(ValueError):
    """The document expands (through aliases) past the limit, or an alias contains itself."""

    def __init__(self, limit: int, recursive: bool = False) -> None:
        self.limit = limit
        self.recursive = recursive
        super().__init__("a YAML alias refers to a node that contains it" if recursive else
                         f"its YAML aliases expand it past {limit:,} nodes")


def _children(node) -> list:
    value = node.value
    if isinstance(value, list):
        if value and isinstance(value[0], tuple):  # a mapping: (key, value) pairs
            return [part for pair in value for part in pair]
        return value
    return []


def expanded_size(root, limit: int = MAX_EXPANDED_NODES) -> int:
    """The nodes a walk that follows every alias visits; raises TooLarge past `limit`.

    Iterative (a deep document cannot hit Python's recursion limit here) and memoised by node
    identity: each distinct node is counted once, whatever its number of uses.
    """
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    stack: list[tuple[object, bool]] = [(root, False)]
    while stack:
        node, expanded = stack.pop()
        key = id(node)
        if expanded:
            on_path.discard(key)
            total = 1 + sum(sizes[id(child)] for child in _children(node))
            if total > limit:
                raise TooLarge(limit)
            sizes[key] = total
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise TooLarge(limit, recursive=True)
        on_path.add(key)
        stack.append((node, True))
        for child in _children(node):
            if id(child) not in sizes:
                if id(child) in on_path:
                    raise TooLarge(limit, recursive=True)
                stack.append((child, False))
    return sizes[id(root)]


def _loader():
    import yaml

    return yaml, getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def compose_all_bounded(text: str, limit: int = MAX_EXPANDED_NODES):
    """yaml.compose_all, each document checked with expanded_size (TooLarge past `limit`)."""
    yaml, loader = _loader()
    for document in yaml.compose_all(text, Loader=loader):
        if document is not None:
            expanded_size(document, limit)
        yield document


def safe_load_bounded(text: str, limit: int = MAX_EXPANDED_NODES) -> object:
    """yaml.safe_load of the first document, refused (TooLarge) when its aliases expand past
    `limit` nodes. The values built share what the aliases share, as safe_load's do."""
    yaml, loader = _loader()
    node = yaml.compose(text, Loader=loader)
    if node is None:
        return None
    expanded_size(node, limit)
    return yaml.constructor.SafeConstructor().construct_document(node)
