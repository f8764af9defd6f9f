"""How fast is ``floe validate``? Two figures against the goals of SPEC §9.

Run from anywhere:  python bench/validate_speed.py [--runs N] [--profiles N] [--repeat N]

(a) CLI start-up: the median wall time of N child processes ``python -m floe validate
    floe.yaml`` (on a freshly scaffolded product) divided by the median of
    ``python -c "import yaml, click"`` measured in the same process tree: the price of floe
    on top of the two libraries any YAML CLI pays for. Goal: ratio <= 3. The first validate
    of a file fills the detect-secrets cache (.floe/cache beside the file), so the cold first
    run is reported apart from the warm median.
(b) Profile resolution: a generated platform with many profiles (storage/local, plus
    compute/duckdb when that plugin is installed) is parsed once, then
    ``floe.profiles.Resolver(...).validate_all()`` runs several times in process. Goal:
    <= 1 ms per profile.

Only the standard library and floe are used.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

RATIO_GOAL = 3.0
MS_PER_PROFILE_GOAL = 1.0


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def wall(cmd: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{proc.stdout}{proc.stderr}")
    return elapsed


def bench_cli(runs: int) -> bool:
    print(f"(a) floe validate start-up, {runs} runs each")
    with tempfile.TemporaryDirectory(prefix="floe-bench-") as tmp:
        work = Path(tmp) / "demo"
        # A fresh `floe init` product without .floe/: the first run really is cold.
        from floe.init import scaffold

        scaffold(work, name="customer-analytics")
        validate = [sys.executable, "-m", "floe", "validate", "floe.yaml"]
        baseline = [sys.executable, "-c", "import yaml, click"]
        wall(baseline, work)  # warm the OS file cache for the interpreter itself
        cold = wall(validate, work)
        if not any((work / ".floe" / "cache").glob("secretscan-*.json")):
            print("    note: no detect-secrets cache was written; every run below is cold")
        warm_times, base_times = [], []
        for _ in range(runs):  # interleaved, so drift in machine load hits both alike
            warm_times.append(wall(validate, work))
            base_times.append(wall(baseline, work))
    warm, base = statistics.median(warm_times), statistics.median(base_times)
    ratio = warm / base
    cold_ratio = cold / base
    print(f"    python -c 'import yaml, click'   median {base * 1000:7.1f} ms")
    print(f"    floe validate floe.yaml (cold)   first  {cold * 1000:7.1f} ms   "
          f"(fills .floe/cache; ratio {cold_ratio:.2f})")
    print(f"    floe validate floe.yaml (warm)   median {warm * 1000:7.1f} ms   "
          f"(min {min(warm_times) * 1000:.1f}, max {max(warm_times) * 1000:.1f})")
    print(f"    ratio warm/baseline = {ratio:.2f}   goal <= {RATIO_GOAL:g}   {verdict(ratio <= RATIO_GOAL)}")
    print(f"    warm validate = {warm * 1000:.0f} ms   goal < 500 ms (SPEC §9)   {verdict(warm < 0.5)}")
    return ratio <= RATIO_GOAL


def platform_text(kind: str, count: int) -> str:
    """A platform.yaml (written as JSON, which YAML reads) with ``count`` profiles of ``kind``."""
    if kind == "storage":
        section = {"storage": {f"s{i:03d}": {"type": "local", "path": f".floe/warehouse/{i}"}
                               for i in range(count)}}
    else:
        section = {"storage": {"default": {"type": "local", "path": ".floe/warehouse"}},
                   "compute": {f"c{i:03d}": {"type": "duckdb", "path": f".floe/db{i}.duckdb",
                                             "threads": 2, "memory_limit": "2GB"}
                               for i in range(count)}}
    data = {"apiVersion": "floe.dev/v1", "kind": "Platform",
            "metadata": {"name": "bench", "version": "1.0.0"}, **section,
            "secrets": {"backends": ["env"]}}
    return json.dumps(data, indent=1)


def bench_profiles(count: int, repeat: int) -> bool:
    from floe.diagnostics import Report
    from floe.plugins.manager import PluginRegistry
    from floe.profiles import Resolver
    from floe.schema.platform import parse_platform
    from floe.validate import validate_platform_doc
    from floe.yamlsafe import load_text

    print(f"(b) profile resolution, {count} profiles, Resolver.validate_all() x {repeat}")
    registry = PluginRegistry()
    kinds = ["storage"]
    if "duckdb" in registry.types("compute"):
        kinds.append("compute")
    else:
        print("    note: compute plugin 'duckdb' not installed; measuring storage profiles only")
    # The platform names no orchestrator; validate_all() resolves the default one if installed.
    if "dagster" in registry.types("orchestrator"):
        print("    note: the default orchestrator (dagster) is resolved once per run as well")
    all_ok = True
    for kind in kinds:
        text = platform_text(kind, count)
        doc = load_text(text, "platform.yaml")
        parsed, report = parse_platform(doc)
        if parsed is None:
            sys.exit("generated platform is invalid:\n" + "\n".join(map(str, report.items)))
        first = time.perf_counter()
        Resolver(parsed, registry, Report(doc.file, doc.positions)).validate_all()  # loads plugins
        first = time.perf_counter() - first
        times = []
        for _ in range(repeat):
            report = Report(doc.file, doc.positions)
            start = time.perf_counter()
            resolved = Resolver(parsed, registry, report).validate_all()
            times.append(time.perf_counter() - start)
            if report.errors:
                sys.exit("generated platform has errors:\n" + "\n".join(map(str, report.errors)))
        section = "storage" if kind == "storage" else "compute"
        assert len(resolved[section]) >= count
        per = statistics.median(times) / count * 1000
        ok = per <= MS_PER_PROFILE_GOAL
        all_ok &= ok
        # The whole in-process path a `floe validate platform.yaml` takes, for context.
        start = time.perf_counter()
        _, full = validate_platform_doc(load_text(text, "platform.yaml"), registry)
        full_time = time.perf_counter() - start
        if full.errors:
            sys.exit("generated platform has errors:\n" + "\n".join(map(str, full.errors)))
        label = "storage/local" if kind == "storage" else "compute/duckdb"
        print(f"    {label:15s} {per:6.3f} ms/profile (median of {repeat}; first run incl. plugin "
              f"load {first / count * 1000:.3f})   goal <= {MS_PER_PROFILE_GOAL:g} ms   {verdict(ok)}")
        print(f"    {'':15s} load+parse+resolve of the whole file: {full_time * 1000:.1f} ms "
              f"({full_time / count * 1000:.3f} ms/profile)")
    return all_ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="subprocess runs for (a) (default 15)")
    parser.add_argument("--profiles", type=int, default=200, help="profiles for (b) (default 200)")
    parser.add_argument("--repeat", type=int, default=7, help="validate_all() runs for (b) (default 7)")
    args = parser.parse_args()
    if not _floe_importable():  # a plain checkout: use it, here and in the child processes
        sys.path.insert(0, str(ROOT))
        os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    print(f"python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs; floe from "
          f"{_floe_location()}")
    ok_a = bench_cli(args.runs)
    ok_b = bench_profiles(args.profiles, args.repeat)
    print(f"summary: (a) {verdict(ok_a)}  (b) {verdict(ok_b)}")
    return 0


def _floe_importable() -> bool:
    try:
        import floe  # noqa: F401
    except ImportError:
        return False
    return True


def _floe_location() -> str:
    import floe

    return str(Path(floe.__file__).resolve().parent)


if __name__ == "__main__":
    sys.exit(main())
