"""Benchmark sc-audit: median wall time, CPU time and peak RSS of whole command runs.

    python benchmarks/run.py            # the full table (N = 10, 100, 1000; gixy; ~5 minutes)
    python benchmarks/run.py --quick    # small N, few runs, no gixy (the CI step)

Every number is a median over several runs of a fresh process (time.perf_counter around
the process; peak RSS from os.wait4, the largest of the process and its children). Inputs
are copied to a temporary directory first, so the parse cache never lands in the repository.
`cold` empties the cache before each run (the run parses everything, then writes the cache);
`warm` runs on the cache the previous run left. `cpu` is user + system time of the process
and its children: on a shared machine it moves less than the wall time.

Python writes and reads its bytecode cache as usual (PYTHONDONTWRITEBYTECODE is dropped; the
bytecode of every run goes to a directory under the user cache, not into the checkout).

gixy-ng (a Python Nginx analyser) is the peer: it is installed from PyPI into its own
virtual environment under the user cache directory (it must not share ours: it brings
modules of its own). It reads the plan fixture's Nginx site as it is: gixy accepts a file
of bare `server` blocks.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
FIXTURES = REPO / "tests" / "fixtures" / "signalcraft"
NGINX_SITE = Path("deploy") / "nginx-signalcraft.conf"
GIXY_PACKAGE = "gixy-ng"
CACHE_DIR = ".sc-audit-cache"
BENCH_CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "sc-audit-bench"
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = str(BENCH_CACHE / "pycache")

sys.path.insert(0, str(HERE))
from make_monorepo import make  # noqa: E402


# --------------------------------------------------------------------------- measuring


def run_once(command: list[str]) -> tuple[float, float, int, int]:
    """(wall seconds, cpu seconds, peak RSS in KiB, exit code) of one run, output discarded."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, process.returncode


def measure(command: list[str], runs: int, before=None, warmup: int = 1) -> dict:
    """Median time and RSS over `runs` runs; `before()` is called before each (e.g. empty the cache)."""
    for _ in range(warmup):
        if before:
            before()
        run_once(command)
    times, cpus, peaks, codes = [], [], [], set()
    for _ in range(runs):
        if before:
            before()
        elapsed, cpu, peak, code = run_once(command)
        times.append(elapsed)
        cpus.append(cpu)
        peaks.append(peak)
        codes.add(code)
    return {"time": statistics.median(times), "cpu": statistics.median(cpus), "rss": statistics.median(peaks),
            "codes": sorted(codes), "runs": runs}


def emptier(root: Path):
    """Before each cold run: no parse cache, and no stored report (answers.py) either."""
    def empty() -> None:
        shutil.rmtree(root / CACHE_DIR, ignore_errors=True)
        if ENV.get("XDG_CACHE_HOME"):
            shutil.rmtree(Path(ENV["XDG_CACHE_HOME"]) / "sc-audit" / "answers", ignore_errors=True)
    return empty


def fit_exponent(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of log(time) against log(N)."""
    xs = [math.log(n) for n, _ in points]
    ys = [math.log(t) for _, t in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def import_time(python: str, module: str, runs: int) -> float:
    """Median cumulative `-X importtime` of `module`, in seconds."""
    values = []
    for _ in range(runs):
        result = subprocess.run([python, "-X", "importtime", "-c", f"import {module}"],
                                capture_output=True, text=True, env=ENV)
        for line in result.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[2].strip() == module:
                values.append(int(parts[1]) / 1e6)
    return statistics.median(values) if values else float("nan")


# --------------------------------------------------------------------------- the tools


def sc_audit_command() -> list[str]:
    script = Path(sys.executable).with_name("sc-audit")
    if script.exists():
        return [str(script)]
    found = shutil.which("sc-audit")
    return [found] if found else [sys.executable, "-m", "sc_audit"]


def gixy_command() -> tuple[list[str] | None, str]:
    """gixy in its own venv under the user cache directory, installed on first use."""
    base = BENCH_CACHE / "gixy-venv"
    gixy = base / "bin" / "gixy"
    if not gixy.exists():
        print(f"installing {GIXY_PACKAGE} into {base} ...", file=sys.stderr)
        try:
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(base)], check=True, capture_output=True)
            subprocess.run([str(base / "bin" / "python"), "-m", "pip", "install", "-q", GIXY_PACKAGE],
                           check=True, capture_output=True, timeout=600)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
            return None, f"not available ({type(error).__name__})"
    version = subprocess.run([str(base / "bin" / "python"), "-m", "pip", "show", GIXY_PACKAGE],
                             capture_output=True, text=True).stdout
    match = re.search(r"^Version: (\S+)", version, re.M)
    return [str(gixy)], f"{GIXY_PACKAGE} {match.group(1) if match else '?'}"


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:
        cpus = os.cpu_count()
    return f"{model}, {cpus} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def load() -> str:
    try:
        return " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        return "?"


# --------------------------------------------------------------------------- the table


def _duration(seconds: float) -> str:
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def changer(root: Path, rel: str):
    """Before each run, change one file (a new comment line): the pre-commit case, where the report
    cache misses and the parse cache holds every other file."""
    count = [0]

    def change() -> None:
        count[0] += 1
        with open(root / rel, "a", encoding="utf-8") as stream:
            stream.write(f"# edit {count[0]}\n")
    return change


def ruff_command() -> list[str] | None:
    script = Path(sys.executable).with_name("ruff")
    found = str(script) if script.exists() else shutil.which("ruff")
    return [found, "check", "--no-cache", "--quiet", "--exit-zero"] if found else None


def verdict(value: float, limit: float, unit: str = "x") -> str:
    return f"target <= {limit:g}{unit}: {'holds' if value <= limit else 'misses'}"


# The targets of issue #15, measured as ratios in one run (never as a timed unit test).
TARGETS = {"warm/gixy": 0.25, "warm/ruff": 3.0, "changed/gixy": 0.5, "cold/gixy": 1.0, "version/floor": 2.0,
           "rules/floor": 4.0, "N1000 cold s": 5.0, "N1000 changed s": 1.0, "N1000 MB": 100, "exponent": 1.0}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small N, 3 runs, no gixy (for CI)")
    parser.add_argument("--sizes", type=lambda s: [int(x) for x in s.split(",")], help="monorepo sizes, e.g. 10,100")
    parser.add_argument("--runs", type=int, help="runs per small measurement (default 11, quick 3)")
    parser.add_argument("--no-gixy", action="store_true", help="skip the gixy comparison")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([5, 10, 20] if args.quick else [10, 100, 1000])
    runs = args.runs or (3 if args.quick else 11)
    with_gixy = not (args.no_gixy or args.quick)

    sc_audit = sc_audit_command()
    version = subprocess.run([*sc_audit, "--version"], capture_output=True, text=True).stdout.strip()
    rows: list[tuple[str, ...]] = []  # what, median wall, median cpu, peak RSS, note
    load_before = load()

    def row(what: str, result: dict, note: str = "", expected: int | None = 0) -> None:
        if expected is not None and result["codes"] != [expected]:
            note = f"exit codes {result['codes']}, expected {expected}: not a valid measurement"
        rows.append((what, _duration(result["time"]), _duration(result["cpu"]), f"{result['rss'] / 1024:.0f} MB",
                     note))

    with tempfile.TemporaryDirectory(prefix="sc-audit-bench-") as temporary:
        work = Path(temporary)
        python = sys.executable
        # sc-audit's user cache (its key and the report cache) of this run only, like a new user's
        ENV["XDG_CACHE_HOME"] = str(work / "user-cache")

        floor = measure([python, "-c", "pass"], runs)
        row("`python3 -c pass`", floor, "the interpreter's floor")
        for name, command, limit in (("`sc-audit --version`", [*sc_audit, "--version"], TARGETS["version/floor"]),
                                     ("`sc-audit rules`", [*sc_audit, "rules"], TARGETS["rules/floor"])):
            result = measure(command, runs)
            ratio = result["time"] / floor["time"]
            row(name, result, f"{ratio:.2f}x the floor ({verdict(ratio, limit)})")
        cli_import = import_time(python, "sc_audit.cli", max(3, runs // 2))
        package_import = import_time(python, "sc_audit", max(3, runs // 2))

        checks: dict[str, dict] = {}
        ruff = {}
        ruff_cmd = ruff_command()
        for fixture in ("plan", "fixed"):
            root = work / fixture
            shutil.copytree(FIXTURES / fixture, root, ignore=shutil.ignore_patterns(CACHE_DIR))
            command = [*sc_audit, "check", str(root)]
            checks[f"{fixture} cold"] = measure(command, runs, before=emptier(root))
            checks[f"{fixture} warm"] = measure(command, runs)
            checks[f"{fixture} one file changed"] = measure(command, runs, before=changer(root, "gunicorn.conf.py"))
            if ruff_cmd is not None:
                ruff[fixture] = measure([*ruff_cmd, str(root)], runs)
                row(f"`ruff check` signalcraft/{fixture}", ruff[fixture], "the tool a pre-commit user already runs",
                    expected=None)

        gixy_note = "skipped (--quick or --no-gixy)"
        gixy = None
        if with_gixy:
            gixy_cmd, gixy_note = gixy_command()
            if gixy_cmd is not None:
                gixy = measure([*gixy_cmd, str(work / "plan" / NGINX_SITE)], runs)
                row(f"gixy on the plan's Nginx site ({gixy_note})", gixy, "the peer: one file kind, one file",
                    expected=None)
        for name, result in checks.items():
            fixture, kind = name.split(" ", 1)
            notes = []
            if gixy is not None:
                limit = TARGETS[{"cold": "cold/gixy", "warm": "warm/gixy"}.get(kind, "changed/gixy")]
                ratio = result["time"] / gixy["time"]
                notes.append(f"{ratio:.2f}x gixy ({verdict(ratio, limit)})")
            if kind == "warm" and fixture in ruff:
                ratio = result["time"] / ruff[fixture]["time"]
                notes.append(f"{ratio:.2f}x ruff ({verdict(ratio, TARGETS['warm/ruff'])})")
            row(f"`sc-audit check` signalcraft/{name}", result, "; ".join(notes),
                expected=1 if fixture == "plan" else 0)

        scaling: dict[str, list[tuple[int, float]]] = {"cold": [], "warm": [], "one file changed": []}
        for size in sizes:
            root = make(size, work / f"monorepo-{size}")
            count = sum(1 for _ in root.rglob("*") if _.is_file())
            command = [*sc_audit, "check", str(root)]
            size_runs = runs if size <= 100 else max(3, runs // 3)
            cold = measure(command, size_runs, before=emptier(root), warmup=0 if size > 100 else 1)
            warm = measure(command, size_runs)
            changed = measure(command, size_runs, before=changer(root, "services/svc0001/gunicorn.conf.py"))
            for kind, result in (("cold", cold), ("warm", warm), ("one file changed", changed)):
                scaling[kind].append((size, result["time"]))
                note = ""
                if size == 1000 and kind != "warm":
                    limit = TARGETS["N1000 cold s"] if kind == "cold" else TARGETS["N1000 changed s"]
                    megabytes = result["rss"] / 1024
                    note = (f"{verdict(result['time'], limit, ' s')}; {megabytes:.0f} MB "
                            f"({verdict(megabytes, TARGETS['N1000 MB'], ' MB')})")
                row(f"monorepo N={size} ({count} files) {kind}", result, note)

    print(f"sc-audit benchmark: {version}; {machine()}")
    print(f"load average before: {load_before}, after: {load()}; medians of {runs} runs "
          f"(N > 100: {max(3, runs // 3)}), peak RSS of the largest process\n")
    print("| run | wall | cpu | peak RSS | note |")
    print("| --- | ---: | ---: | ---: | --- |")
    for cells in rows:
        print("| " + " | ".join(cells) + " |")
    print()
    print(f"import time (`-X importtime`, median): sc_audit {package_import * 1000:.1f} ms, "
          f"sc_audit.cli {cli_import * 1000:.1f} ms")
    if gixy is None:
        print(f"gixy: {gixy_note}")
    if ruff_cmd is None:
        print("ruff: not installed (pip install ruff): no ruff ratio")
    if len(sizes) >= 2:
        for kind, points in scaling.items():
            exponent = fit_exponent(points)
            note = f" ({verdict(exponent, TARGETS['exponent'], '')})" if max(sizes) >= 1000 else ""
            tail = ""
            if len(points) >= 3:
                tail = f"; between the two largest N: {fit_exponent(points[-2:]):.2f}"
            print(f"scaling exponent, {kind} (log-log least squares over N={sizes}): {exponent:.2f}{note}{tail}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
