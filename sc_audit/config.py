"""Settings of one audit run, and where they come from.

`[tool.sc-audit]` in pyproject.toml, or `sc-audit.toml` / `.sc-audit.toml` at the audited root
(the first found wins). Command-line flags override the file. An unknown key or a bad value is
an error naming the file and line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from . import fs

SEVERITIES = ("error", "warning", "info")
CODE = re.compile(r"^SC\d{0,3}$")


class ConfigError(Exception):
    """A configuration problem: `path:line: message`."""


@dataclass(slots=True)
class Config:
    select: tuple[str, ...] = ()  # codes or prefixes; empty: every rule
    ignore: tuple[str, ...] = ()
    extend_select: tuple[str, ...] = ()
    per_file_ignores: dict[str, tuple[str, ...]] = field(default_factory=dict)  # glob -> codes
    fail_on: str = "warning"  # lowest severity that makes the exit code 1
    exclude: tuple[str, ...] = ()  # glob patterns of paths not to read
    respect_gitignore: bool = True  # what the repository's .gitignore files ignore is not read
    host_memory_mib: int | None = None  # [host] memory; None: unknown
    host_cpus: int | None = None
    worker_memory_mib: int = 200
    severity: dict[str, str] = field(default_factory=dict)  # code -> severity override
    source: str | None = None  # the file the settings came from

    def enabled(self, code: str, opt_in: bool = False) -> bool:
        """Whether a rule runs. An opt-in rule (catalog `default = false`) runs only when `select`
        or `extend-select` names its exact code: a prefix such as `SC2` does not turn it on."""
        if opt_in:
            selected = code in self.select or code in self.extend_select
        else:
            selected = not self.select or any(code.startswith(prefix) for prefix in self.select)
            selected = selected or any(code.startswith(prefix) for prefix in self.extend_select)
        return selected and not any(code.startswith(prefix) for prefix in self.ignore)

    def ignored_in(self, code: str, path: str) -> bool:
        from fnmatch import fnmatch

        return any(fnmatch(path, glob) and any(code.startswith(c) for c in codes)
                   for glob, codes in self.per_file_ignores.items())

    def override(self, **changes) -> Config:
        """A copy with the command line's non-empty values on top."""
        return replace(self, **{k: v for k, v in changes.items() if v not in (None, (), {})})


def find_file(root: Path) -> tuple[Path, dict] | None:
    """The config file that applies to `root`, with its sc-audit table."""
    base = root if fs.is_dir(root) else root.parent
    for name in ("sc-audit.toml", ".sc-audit.toml"):
        candidate = base / name
        if fs.is_file(candidate):
            return candidate, _read(candidate)
    pyproject = base / "pyproject.toml"
    if fs.is_file(pyproject):
        table = _read(pyproject, only_if=_may_hold_our_table).get("tool", {}).get("sc-audit")
        if table is not None:
            return pyproject, table
    return None


def _may_hold_our_table(text: str) -> bool:
    """Whether a pyproject.toml can hold a `tool.sc-audit` table: its text names `sc-audit` (or has
    a `\\u` escape, which a quoted key could spell it with). One that cannot is not parsed: importing
    tomllib (with typing and datetime) is ~10 ms of a run, and its other tables are not ours."""
    return "sc-audit" in text or "\\u" in text or "\\U" in text


def _read(path: Path, only_if=None) -> dict:
    """The TOML of a configuration file, read once; {} when `only_if(text)` says it cannot matter."""
    try:
        text = _text(path)
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path}:1: cannot read: {error}") from None
    if only_if is not None and not only_if(text):
        return {}
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        match = re.search(r"line (\d+)", str(error))
        # no line in the message: the error is "at end of document"
        line = match.group(1) if match else max(1, len(text.splitlines()))
        raise ConfigError(f"{path}:{line}: invalid TOML: {error}") from None
    except RecursionError:  # tomllib recurses per nesting level
        raise ConfigError(f"{path}:1: invalid TOML: nested too deeply") from None


MAX_CONFIG_BYTES = 1024 * 1024


def _text(path: Path) -> str:
    """A configuration file's text (through fs: what the audit read, for the report cache)."""
    status, data = fs.read_regular(path, MAX_CONFIG_BYTES)
    if status == "not-regular":
        raise OSError("not a regular file")
    if status == "too-large" or len(data) > MAX_CONFIG_BYTES:
        raise OSError("larger than 1 MiB")
    return data.decode("utf-8")


def load(root: Path) -> Config:
    found = find_file(Path(root))
    if found is None:
        return Config()
    path, table = found
    return from_table(table, path)


KEYS = {"select", "ignore", "extend-select", "per-file-ignores", "severity", "fail-on", "exclude", "host",
        "worker-memory", "respect-gitignore"}
HOST_KEYS = {"memory", "cpus"}


def from_table(table: dict, path: Path) -> Config:
    text = _text(path)

    def error(key: str, message: str) -> ConfigError:
        return ConfigError(f"{path}:{_line_of(text, key, path.name == 'pyproject.toml')}: {message}")

    config = Config(source=str(path))
    for key, value in table.items():
        if key not in KEYS:
            raise error(key, f"unknown key `{key}` (known: {', '.join(sorted(KEYS))})")
        if key in ("select", "ignore", "extend-select"):
            setattr(config, key.replace("-", "_"), _codes(value, lambda m: error(key, m)))
        elif key == "exclude":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise error(key, "`exclude` must be a list of glob patterns")
            config.exclude = tuple(value)
        elif key == "respect-gitignore":
            if not isinstance(value, bool):
                raise error(key, f"`respect-gitignore` must be true or false, not {value!r}")
            config.respect_gitignore = value
        elif key == "fail-on":
            if value not in SEVERITIES:
                raise error(key, f"`fail-on` must be one of {', '.join(SEVERITIES)}, not {value!r}")
            config.fail_on = value
        elif key == "severity":
            if not isinstance(value, dict):
                raise error(key, "`severity` must be a table of CODE = \"error\"|\"warning\"|\"info\"")
            for code, severity in value.items():
                if not CODE.match(code) or severity not in SEVERITIES:
                    raise error(code, f"bad severity override {code} = {severity!r}")
                _codes([code], lambda m: error(code, m))
            config.severity = dict(value)
        elif key == "per-file-ignores":
            if not isinstance(value, dict):
                raise error(key, "`per-file-ignores` must be a table of \"glob\" = [codes]")
            config.per_file_ignores = {glob: _codes(codes, lambda m: error(glob, m)) for glob, codes in value.items()}
        elif key == "worker-memory":
            config.worker_memory_mib = _mib(value, lambda m: error(key, m))
        elif key == "host":
            if not isinstance(value, dict):
                raise error(key, "`host` must be a table with `memory` and `cpus`")
            for host_key, host_value in value.items():
                if host_key not in HOST_KEYS:
                    raise error(host_key, f"unknown key `host.{host_key}` (known: memory, cpus)")
            if "memory" in value:
                config.host_memory_mib = _mib(value["memory"], lambda m: error("memory", m))
            if "cpus" in value:
                cpus = value["cpus"]
                if not isinstance(cpus, int) or isinstance(cpus, bool) or cpus < 1:
                    raise error("cpus", f"`host.cpus` must be a positive integer, not {cpus!r}")
                config.host_cpus = cpus
    return config


def _codes(value, error) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise error(f"expected a list of rule codes or prefixes like \"SC5\", got {value!r}")
    try:
        return tuple(selector(v) for v in value)
    except ValueError as problem:
        raise error(str(problem)) from None


def selector(value: str) -> str:
    """A rule code or prefix as given (`sc5`, `SC501`) or a rule's name (`kill-misses-process`),
    as the code or prefix it means. ValueError when it selects no rule: a typo must not turn a
    gate green by selecting nothing."""
    from . import catalog

    rules = catalog.load()
    text = value.strip()
    by_name = {rule.name: code for code, rule in rules.items()}
    if text.lower() in by_name:
        return by_name[text.lower()]
    code = text.upper()
    if not CODE.match(code):
        raise ValueError(f"`{text}` is none of sc-audit's rule codes or prefixes (like \"SC5\") nor a rule "
                         "name (`sc-audit rules` lists them)")
    if not any(known.startswith(code) for known in rules):
        raise ValueError(f"`{text}` matches no rule (`sc-audit rules` lists them)")
    return code


def _mib(value, error) -> int:
    """'1G', '512M', '512MiB', 2048 (MiB) -> MiB."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*", value, re.IGNORECASE)
        if match:
            number = float(match.group(1))
            factor = {"K": 1 / 1024, "": 1, "M": 1, "G": 1024, "T": 1024 * 1024}[match.group(2).upper()]
            if number * factor > 0:
                return max(1, int(number * factor))
    raise error(f"expected a memory size like \"1G\" or \"512M\", got {value!r}")


def _line_of(text: str, key: str, pyproject: bool = False) -> int:
    """The line that sets `key` (or opens a `[….key]` table), looking only inside sc-audit's tables:
    in a pyproject.toml, `select` in `[tool.ruff]` is not ours."""
    assignment = re.compile(rf"""^["']?{re.escape(key)}["']?\s*[=.]""")
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.match(r"^\[\[?([^\]]+)\]", stripped)
        if header:
            table = re.sub(r"""\s|["']""", "", header.group(1))
            if not pyproject or table.startswith("tool.sc-audit."):
                if table.rsplit(".", 1)[-1] == key:
                    return number
            continue
        ours = not pyproject or table == "tool.sc-audit" or table.startswith("tool.sc-audit.")
        if ours and assignment.match(stripped):
            return number
    return 1
