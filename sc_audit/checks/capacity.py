"""SC4xx: capacity and timeouts. Worker counts, memory, and who gives up first on a slow request."""

from __future__ import annotations

import re

from ..findings import Finding, Related
from ..model import services
from ..span import Unknown
from . import check

DEFAULT_GUNICORN_TIMEOUT = 30  # gunicorn/config.py Timeout.default
# What a process without a memory limit is budgeted at, by runtime (MiB): a small Node or
# Python web process at rest. Gunicorn is counted per worker with `worker-memory` instead.
RUNTIME_MEMORY_MIB = {"node": 100, "npm": 120, "python": 120, "flask": 120, "uvicorn": 150, "hypercorn": 150,
                      "daphne": 150, "waitress": 120, "other": 100}


def evaluate_formula(tree: tuple | None, cpus: int) -> int | None:
    """Evaluate a cpu_formula tree (see facts.SettingValue) for a host with `cpus` CPUs."""
    if tree is None:
        return None
    if not isinstance(tree, tuple):
        return tree if isinstance(tree, (int, float)) else None
    op, *args = tree
    if op == "cpu":
        return cpus
    values = [evaluate_formula(a, cpus) if isinstance(a, tuple) else a for a in args]
    if any(not isinstance(v, (int, float)) for v in values):
        return None
    operations = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
                  "//": lambda a, b: a // b if b else None, "/": lambda a, b: a / b if b else None,
                  "min": min, "max": max}
    if op not in operations:
        return None
    try:
        result = operations[op](*values)
    except TypeError:
        return None
    return int(result) if isinstance(result, (int, float)) else None


@check("SC401")
def workers_unbounded(model, config, found):
    for path, facts in sorted(model.gunicorn_configs.items()):
        workers = facts.settings.get("workers")
        if workers is None or workers.cpu_formula is None or workers.capped or workers.env:
            continue
        users = [p for p in model.processes if p.config_path == path]
        if users and all(p.settings.get("workers") and p.settings["workers"].source != "config" for p in users):
            continue  # every process that reads this file sets its own worker count
        example = ", ".join(f"{c} CPUs → {evaluate_formula(workers.cpu_formula, c)}" for c in (2, 8, 32))
        limited = _cpu_limited(model, path)
        text = (f"`workers = {workers.text}` grows with the CPU count and has no cap and no "
                f"environment override ({example} workers): each sync worker holds a full copy of the app, so "
                "a bigger instance type (or a CPU count that the container does not limit) runs out of "
                "memory and the OOM killer takes workers (502s).")
        default, related = "2", ()
        if limited is not None:
            cpus = limited.cpus.value
            default = str(int(2 * cpus) + 1)
            text += (f" The container `{limited.name}` is limited to {cpus:g} CPU (`cpus`), but the CPU count "
                     "Python reads is the host's (a CPU quota does not change it): on an 8-CPU host that is "
                     f"{evaluate_formula(workers.cpu_formula, 8)} workers sharing {cpus:g} CPU.")
            related = (Related(limited.cpus.span, f"`{limited.name}` is limited to {cpus:g} CPU here"),)
        yield Finding("SC401", text + f" Use `workers = int(os.getenv(\"GUNICORN_WORKERS\", \"{default}\"))` or cap it "
                      "with `min(…)`.", workers.span, related)


def _cpu_limited(model, path: str):
    """The first Compose service with a CPU limit whose Gunicorn reads the config at `path`."""
    return next((c for c in model.containers if c.cpus is not None and c.process is not None
                 and c.process.config_path == path), None)


def memory_mib(value: object) -> float | None:
    """PM2 max_memory_restart: '512M', '1G', '300K', or a number of bytes."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return value / (1024 * 1024)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([KMG]?)B?\s*", value, re.IGNORECASE)
        if match:
            number, unit = float(match.group(1)), match.group(2).upper()
            return {"": number / (1024 * 1024), "K": number / 1024, "M": number, "G": number * 1024}[unit]
    return None


def gunicorn_workers(process, config) -> int | None:
    setting = process.settings.get("workers")
    if setting is None:
        concurrency = process.env.get("WEB_CONCURRENCY")
        return int(concurrency) if isinstance(concurrency, str) and concurrency.isdigit() else 1
    if isinstance(setting.value, bool):
        return None
    if isinstance(setting.value, int):
        return setting.value
    if isinstance(setting.value, str) and setting.value.isdigit():
        return int(setting.value)
    if setting.cpu_formula is not None and config.host_cpus:
        return evaluate_formula(setting.cpu_formula, config.host_cpus)
    return None


def _instances(process) -> int | None:
    if process.pm2 is None:
        return 1
    value = process.pm2.get("instances", 1)
    if isinstance(value, int) and not isinstance(value, bool) and value >= 1:
        return value
    if isinstance(value, str) and value.isdigit() and int(value) >= 1:
        return int(value)
    return None


@check("SC402")
def memory_budget(model, config, found):
    if not config.host_memory_mib:
        return
    terms: list[tuple[str, float]] = []
    anchor = other = None  # the finding points at a Gunicorn `workers` line when there is one
    for process in services(model.processes):  # versions of one installed unit count once
        if process.manager == "procfile" or process.launch is None:
            continue  # Procfile processes run on their own dynos
        copies = _instances(process)
        if copies is None:
            return
        if process.launch.gunicorn is not None:
            workers = gunicorn_workers(process, config)
            if workers is None:
                return  # unknown: say nothing
            size = (workers + 1) * config.worker_memory_mib * copies
            terms.append((f"{process.name}: ({workers} workers + 1 master) × {config.worker_memory_mib} MiB"
                          + (f" × {copies}" if copies > 1 else ""), size))
            setting = process.settings.get("workers")
            anchor = anchor or (setting.span if setting is not None and setting.span else process.span)
            continue
        other = other or process.span
        limit = memory_mib(process.pm2.get("max_memory_restart")) if process.pm2 is not None else None
        if limit is not None:
            terms.append((f"{process.name}: max_memory_restart {limit:g} MiB" + (f" × {copies}" if copies > 1 else ""),
                          limit * copies))
        else:
            default = RUNTIME_MEMORY_MIB.get(process.launch.program, 100)
            terms.append((f"{process.name}: ~{default} MiB ({process.launch.program})", default * copies))
    anchor = anchor or other
    total = sum(size for _, size in terms)
    if anchor is None or total <= config.host_memory_mib:
        return
    breakdown = " + ".join(f"{label} = {size:g} MiB" for label, size in terms)
    yield Finding("SC402", f"the processes of this deployment need about {total:g} MiB, more than the host's "
                  f"{config.host_memory_mib} MiB: {breakdown}. Under load the kernel's OOM killer ends workers (502s) "
                  "or the host swaps to a halt. Lower Gunicorn `workers` (or `worker-memory` if you measured "
                  "less), or use a bigger host.", anchor)


def _sync_timeout(process) -> int | None:
    """The longest a request may run in this Gunicorn process, when its workers are sync."""
    worker_class = process.settings.get("worker_class")
    if worker_class is not None and worker_class.value not in ("sync", "gunicorn.workers.sync.SyncWorker"):
        return None
    threads = process.settings.get("threads")
    if threads is not None and not (isinstance(threads.value, int) and threads.value <= 1):
        return None  # gthread: the timeout is a heartbeat, not a request limit
    timeout = process.settings.get("timeout")
    if timeout is None:
        return DEFAULT_GUNICORN_TIMEOUT
    value = timeout.value
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


@check("SC403")
def proxy_timeout_short(model, config, found):
    from .health import processes_at

    longest: dict = {}  # upstream endpoints -> (timeout, process) of the slowest Gunicorn behind them
    for proxy in model.proxies:
        if proxy.endpoints not in longest:
            behind = [(t, p) for p in processes_at(model, proxy.endpoints)
                      if p.launch is not None and p.launch.gunicorn is not None
                      for t in [_sync_timeout(p)] if t is not None]
            longest[proxy.endpoints] = max(behind, key=lambda item: item[0], default=None)
        slowest = longest[proxy.endpoints]
        if slowest is None or proxy.read_timeout >= slowest[0]:
            continue
        timeout, process = slowest
        setting = process.settings.get("timeout")
        origin = "Nginx's default" if proxy.read_timeout_span is None else "proxy_read_timeout"
        related = (Related(setting.span, f"Gunicorn allows {timeout} s here"),) if setting and setting.span else ()
        yield Finding("SC403", f"Nginx waits {proxy.read_timeout:g} s ({origin}) for `{proxy.location}`, but "
                      f"Gunicorn `{process.name}` lets a request run {timeout} s: a request slower than "
                      f"{proxy.read_timeout:g} s gets 504 Gateway Timeout while the worker keeps working on it. "
                      f"Set `proxy_read_timeout {timeout + 10}s;` in this location (or make the work "
                      "asynchronous).", proxy.read_timeout_span or proxy.span, related)
    yield from _container_timeouts(model)


def _container_timeouts(model):
    """SC403 between an Nginx container and the Gunicorn of the service it proxies to."""
    if not model.containers:
        return  # and the container model is not imported
    from ..model.containers import proxied_containers

    seen = set()
    for proxy, _, target, port in proxied_containers(model):
        process = target.process
        if process is None or process.launch is None or process.launch.gunicorn is None or \
                (proxy.span, id(target)) in seen or not any(e.port == port for e, _ in process.binds):
            continue
        seen.add((proxy.span, id(target)))
        if process.cwd is None and "timeout" not in process.settings:
            continue  # a config in the image (unknown) may set it
        timeout = _sync_timeout(process)
        if timeout is None or proxy.read_timeout >= timeout:
            continue
        setting = process.settings.get("timeout")
        origin = "Nginx's default" if proxy.read_timeout_span is None else "proxy_read_timeout"
        related = (Related(setting.span, f"Gunicorn allows {timeout} s here"),) if setting and setting.span else ()
        yield Finding("SC403", f"Nginx waits {proxy.read_timeout:g} s ({origin}) for `{proxy.location}`, but "
                      f"Gunicorn in the container `{target.name}` lets a request run {timeout} s: a request slower "
                      f"than {proxy.read_timeout:g} s gets 504 Gateway Timeout while the worker keeps working on it. "
                      f"Set `proxy_read_timeout {timeout + 10}s;` in this location (or make the work "
                      "asynchronous).", proxy.read_timeout_span or proxy.span, related)


@check("SC404")
def memory_limit_misses_workers(model, config, found):
    for process in model.processes:
        if process.pm2 is None or process.launch is None or process.launch.gunicorn is None:
            continue
        located = process.pm2.fields.get("max_memory_restart")
        if located is None or isinstance(located.value, Unknown):
            continue
        yield Finding("SC404", f"`max_memory_restart: {located.value!r}` on PM2 app `{process.name}` watches only the "
                      "Gunicorn master, a small process; the workers that grow are its children and PM2 never "
                      "counts them: the limit never fires, or it restarts the whole server at once. Remove it and let "
                      "Gunicorn recycle workers (`max_requests`, `max_requests_jitter`).", located.span)
