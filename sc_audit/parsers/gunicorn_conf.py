"""gunicorn.conf.py: the settings it leaves at module level, evaluated statically.

Gunicorn `exec`s its config file and reads the module-level names that are settings.
We never run it: top-level statements are followed in order and each assignment is
evaluated by `pyexpr.Evaluator` (env vars at their defaults, CPU count as a formula).
Branches are read conservatively: a name that an `if`/`try`/loop may or may not set
becomes Unknown unless every way through agrees on its value.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from ..facts import GunicornConfigFacts, ParseError, SettingValue
from ..source import SourceFile
from ..span import Span, Unknown
from . import pyexpr
from .pyexpr import Evaluator, Parsed, Val, kind

# Names gunicorn reads from a config file (gunicorn 23 settings, server hooks included).
GUNICORN_HOOKS = frozenset({
    "on_starting", "on_reload", "when_ready", "pre_fork", "post_fork", "post_worker_init",
    "worker_int", "worker_abort", "pre_exec", "pre_request", "post_request", "child_exit",
    "worker_exit", "nworkers_changed", "on_exit", "ssl_context",
})  # fmt: skip
GUNICORN_SETTINGS = GUNICORN_HOOKS | frozenset({
    "config", "wsgi_app", "bind", "backlog", "workers", "worker_class", "threads",
    "worker_connections", "max_requests", "max_requests_jitter", "timeout",
    "graceful_timeout", "keepalive", "limit_request_line", "limit_request_fields",
    "limit_request_field_size", "reload", "reload_engine", "reload_extra_files", "spew",
    "check_config", "print_config", "preload_app", "sendfile", "reuse_port", "chdir",
    "daemon", "raw_env", "pidfile", "worker_tmp_dir", "user", "group", "umask",
    "initgroups", "tmp_upload_dir", "secure_scheme_headers", "forwarded_allow_ips",
    "accesslog", "disable_redirect_access_to_syslog", "access_log_format", "errorlog",
    "loglevel", "capture_output", "logger_class", "logconfig", "logconfig_dict",
    "logconfig_json", "syslog_addr", "syslog", "syslog_prefix", "syslog_facility",
    "enable_stdio_inheritance", "statsd_host", "dogstatsd_tags", "statsd_prefix",
    "proc_name", "default_proc_name", "pythonpath", "paste", "proxy_protocol",
    "proxy_allow_ips", "keyfile", "certfile", "ssl_version", "cert_reqs", "ca_certs",
    "suppress_ragged_eofs", "do_handshake_on_connect", "ciphers", "raw_paste_global_conf",
    "permit_obsolete_folding", "strip_header_spaces", "permit_unconventional_http_method",
    "permit_unconventional_http_version", "casefold_http_method", "forwarder_headers",
    "header_map", "worker_tmp_dir",
})  # fmt: skip

# Calls that change the object they are called on: `raw_env.append(...)`.
MUTATORS = frozenset({
    "append", "extend", "insert", "remove", "pop", "clear", "update", "setdefault",
    "sort", "reverse", "add", "discard",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Binding:
    val: Val
    span: Span
    text: str
    kind: str  # "value" | "import" | "def" | "builtin"


def parse(src: SourceFile) -> GunicornConfigFacts:
    """Read the settings of a gunicorn config file. Never raises."""
    facts = GunicornConfigFacts(path=src.path)
    parsed = pyexpr.parse(src)
    if isinstance(parsed, ParseError):
        facts.errors.append(parsed)
        return facts
    try:
        facts.settings = _Reader(parsed).read()
    except RecursionError:
        facts.errors.append(ParseError("expression nested too deeply to read", Span(src.path, 1)))
    except Exception as exc:  # a bug here must not stop the audit
        message = f"internal error reading the config: {type(exc).__name__}: {exc}"
        facts.errors.append(ParseError(message, Span(src.path, 1)))
    return facts


class _Reader:
    def __init__(self, parsed: Parsed):
        self.parsed = parsed
        builtin = _Binding(Val("__config__"), Span(parsed.path, 1), "__name__", "builtin")
        self.scope: dict[str, _Binding] = {"__name__": builtin}  # gunicorn's exec namespace
        self.imports: dict[str, str] = {}
        self.ev = Evaluator(parsed, self._lookup, self.imports)

    def _lookup(self, name: str) -> Val | None:
        binding = self.scope.get(name)
        return binding.val if binding is not None else None

    def read(self) -> dict[str, SettingValue]:
        self._run(self.parsed.module.body)
        settings = {}
        for name, b in self.scope.items():
            if (name.startswith("__") and name.endswith("__")) or b.kind in ("import", "builtin"):
                continue
            if b.kind == "def" and name not in GUNICORN_HOOKS:
                continue
            v = b.val
            settings[name] = SettingValue(v.value, b.span, b.text, v.cpu, v.env, v.capped)
        return settings

    # ---- statements

    def _run(self, statements) -> None:
        for statement in statements:
            self._statement(statement)

    def _statement(self, node) -> None:
        handler = getattr(self, "_s_" + kind(node), None)
        if handler is not None:
            handler(node)

    def _s_Assign(self, node) -> None:
        val = self.ev.eval(node.value)
        for target in node.targets:
            self._bind(target, val, node, node.value)

    def _s_AnnAssign(self, node) -> None:
        if node.value is not None:  # `workers: 2` alone binds nothing
            self._bind(node.target, self.ev.eval(node.value), node, node.value)

    def _s_AugAssign(self, node) -> None:
        target = node.target
        if kind(target) != "Name":
            self._mutated(target, node)
            return
        current = self._lookup(target.id)
        op = pyexpr.BINARY_OPS.get(type(node.op))
        right = self.ev.eval(node.value)
        if current is None or op is None:
            val = self.ev.unknown(node.value, right)
        else:
            val = self.ev.binop(op, current, right, node)
        self._bind(target, val, node, node)

    def _s_Expr(self, node) -> None:
        call = node.value
        if kind(call) == "Call" and kind(call.func) == "Attribute":
            if call.func.attr in MUTATORS:
                self._mutated(call.func.value, call)

    def _s_Delete(self, node) -> None:
        for target in node.targets:
            for name in _target_names(target):
                self.scope.pop(name, None)

    def _s_Import(self, node) -> None:
        for alias, module, name, alias_node in pyexpr.import_bindings(node):
            self.imports[alias] = pyexpr.qualified_import(module, name)
            val = Val(Unknown(alias, self.parsed.span(alias_node)))
            span, text = self.parsed.span(alias_node), self.parsed.text(alias_node)
            self.scope[alias] = _Binding(val, span, text, "import")

    _s_ImportFrom = _s_Import

    def _s_FunctionDef(self, node) -> None:
        name = node.name
        text = f"def {name}(...)"
        span = self.parsed.header_span(node)
        self._set(name, _Binding(Val(Unknown(text, span)), span, text, "def"))

    _s_ClassDef = _s_FunctionDef

    def _s_If(self, node) -> None:
        test = self.ev.eval(node.test)
        if test.known and not test.env and test.cpu is None:
            self._run_part(node.body if test.value else node.orelse)
            return
        self._branches(test, node.body, node.orelse)

    def _s_For(self, node) -> None:
        self._branches(None, [node.body, node.orelse], loop_target=node.target)

    def _s_While(self, node) -> None:
        self._branches(None, [node.body, node.orelse])

    def _s_Try(self, node) -> None:
        handlers = [h.body for h in node.handlers]
        self._branches(None, [node.body, node.orelse], *handlers, may_skip=False)
        self._run_part(node.finalbody)

    _s_TryStar = _s_Try

    def _s_With(self, node) -> None:
        for item in node.items:
            if item.optional_vars is not None:
                self._bind(item.optional_vars, Val(Unknown("with")), item, item.context_expr)
        self._run_part(node.body)

    def _s_Match(self, node) -> None:
        self._branches(None, *(case.body for case in node.cases))

    # ---- bindings

    def _bind(self, target, val: Val, statement, value_node) -> None:
        span, text = self._span(statement), self.parsed.text(value_node)
        if kind(target) == "Name":
            self._set(target.id, _Binding(val, span, text, "value"))
        elif kind(target) in ("Tuple", "List"):
            items = _unpack(val, len(target.elts))
            for element, item in zip(target.elts, items, strict=True):
                if kind(element) != "Starred":
                    self._bind(element, item, statement, value_node)
                else:  # `a, *rest = ...`
                    for name in _target_names(element.value):
                        self._set(name, _Binding(self.ev.unknown(value_node), span, text, "value"))
        else:  # `x[0] = ...`, `x.y = ...`
            self._mutated(target, statement)

    def _span(self, node) -> Span:
        """Where a statement (or a `with` item, which `ast` gives no position) is."""
        if isinstance(node, ast.withitem):
            return self.parsed.with_item_span(node)
        return self.parsed.span(node)

    def _set(self, name: str, binding: _Binding) -> None:
        self.imports.pop(name, None)
        self.scope[name] = binding

    def _mutated(self, target, node) -> None:
        """`raw_env.append(x)` / `raw_env[0] = x`: the name's value is no longer known."""
        while kind(target) in ("Attribute", "Subscript"):
            target = target.value
        if kind(target) == "Name" and target.id in self.scope:
            old = self.scope[target.id]
            if old.kind == "value" and old.val.known:
                span = self._span(node)
                text = self.parsed.slice(span.line, span.column - 1, span.end_line, span.end_column - 1)
                unknown = Unknown(text, span)
                self.scope[target.id] = replace(old, val=replace(old.val, value=unknown))

    # ---- branches

    def _run_part(self, part) -> None:
        """Run a block (a list of statements: `ast` writes an `elif` as a block holding its
        `if`) or one statement."""
        if isinstance(part, list):
            self._run(part)
        else:
            self._statement(part)

    def _branches(self, test: Val | None, *parts, loop_target=None, may_skip=True) -> None:
        """Run each part from the same state, then keep only what they all agree on.

        A part is a block (a list of statements, run in sequence; empty: runs nothing) or a
        list of blocks run in sequence.
        With a `test`, the parts are the two sides of an `if`. Otherwise, if `may_skip`,
        the state from before also counts as a way through (a loop may not run). For a
        `try`, the ways are the body, or a handler (started, conservatively, from the
        state before the body).
        """
        before = self.scope
        outcomes = [before] if test is None and may_skip else []
        for part in parts:
            self.scope = dict(before)
            for piece in part:
                self._run_part(piece)
            if loop_target is not None:
                for name in _target_names(loop_target):
                    val = self.ev.unknown(loop_target)
                    span, text = self.parsed.span(loop_target), self.parsed.text(loop_target)
                    self._set(name, _Binding(val, span, text, "value"))
            outcomes.append(self.scope)
        self.scope = _agree(before, outcomes, test.env if test is not None else ())


def _agree(before: dict, outcomes: list[dict], test_env: tuple[str, ...]) -> dict:
    merged = dict(before)
    names = {name: None for outcome in outcomes for name in outcome}
    for name in names:
        bindings = [outcome.get(name) for outcome in outcomes]
        first = bindings[0]
        if all(b is first for b in bindings):
            continue
        present = [b for b in bindings if b is not None]
        changed = [b for b in present if b is not before.get(name)] or present
        latest = max(changed, key=lambda b: (b.span.line, b.span.column))
        env = pyexpr.merge_env(*(b.val for b in present))
        if len(present) == len(bindings) and all(pyexpr.same_value(b.val, latest.val) for b in present):
            merged[name] = replace(latest, val=replace(latest.val, env=env))
            continue
        unknown = Unknown(latest.text, latest.span)
        capped = any(b.val.capped for b in present)
        val = Val(unknown, env=pyexpr.merge_env(Val(None, env=test_env), Val(None, env=env)), capped=capped)
        merged[name] = replace(latest, val=val)
    return merged


def _unpack(val: Val, count: int) -> list[Val]:
    if val.known and isinstance(val.value, (list, tuple)) and len(val.value) == count:
        return [Val(item, env=val.env) for item in val.value]
    unknown = val.value if not val.known else Unknown(str(val.value)[:200])
    return [Val(unknown, env=val.env) for _ in range(count)]


def _target_names(target) -> list[str]:
    if kind(target) == "Name":
        return [target.id]
    if kind(target) in ("Tuple", "List"):
        names = []
        for element in target.elts:
            names += _target_names(element.value if kind(element) == "Starred" else element)
        return names
    return []
