"""How much does compile-time enforcement cost on top of dbt's own parse?

Run from anywhere:  python bench/enforcement_speed.py [--models N] [--runs N]

A dbt project of N models (default 1,000: bronze, silver, gold and a share of ``stg_`` models
in models/staging that break medallion naming, most with tests and descriptions, some with
classified columns) is generated in a temporary directory inside a floe product. Then:

1. ``dbt parse`` runs once, through floe (the child process ``floe compile`` starts), timed.
2. floe's own part is timed with that manifest in place: the fingerprint check that lets floe
   skip dbt, reading manifest.json into records, and the rules (naming, layers, coverage,
   descriptions, classifications) — separately, and as the whole in-process
   ``compile_product`` (YAML, plugins, enforcement, artifacts, not written). Median of
   ``--runs`` runs each.

Goal: floe's part (the whole compile with a fresh manifest) <= 0.5 s for 1,000 models. The
ratio to dbt's parse shows what enforcement adds to the parse a user pays for anyway.
Only the standard library, floe and the dbt executable beside this interpreter are used.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

GOAL_SECONDS = 0.5
LAYERS = ("bronze", "silver", "gold")

PRODUCT = """\
apiVersion: floe.dev/v1
kind: DataProduct
metadata: {name: bench, version: "1.0.0"}
transforms:
  - {name: core, type: dbt, path: ./dbt}
"""

PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {name: bench, version: "1.0.0"}
storage: {default: {type: local, path: .floe/warehouse}}
catalogs: {default: {type: sqlite, path: .floe/catalog.db}}
compute: {default: {type: duckdb, path: .floe/bench.duckdb, threads: 2}}
secrets: {backends: [env]}
data_architecture:
  pattern: medallion
  naming: {enforcement: warn}
governance:
  quality_gates:
    minimum_test_coverage: 80
    minimum_test_coverage_by_layer: {gold: 100}
    require_descriptions: true
    block_on_failure: false
  classifications: [public, internal, pii]
"""


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def generate(product: Path, models: int) -> None:
    """Write the product and its dbt project of ``models`` models."""
    dbt = product / "dbt"
    (dbt / "seeds").mkdir(parents=True)
    (product / "floe.yaml").write_text(PRODUCT)
    (product / "platform.yaml").write_text(PLATFORM)
    (dbt / "dbt_project.yml").write_text(
        "name: bench\nversion: '1.0.0'\nconfig-version: 2\nprofile: bench\n"
        "models:\n  bench:\n    +materialized: view\n")
    (dbt / "seeds" / "raw_events.csv").write_text("id,kind,amount\n1,a,1.5\n2,b,2.5\n")
    entries = []
    for i in range(models):
        if i % 20 == 19:  # one in twenty breaks medallion naming, as dbt-style staging models do
            folder, name = "staging", f"stg_events_{i:04d}"
        else:
            layer = LAYERS[i % 3]
            folder, name = layer, f"{layer}_events_{i:04d}"
        upstream = "{{ ref('raw_events') }}" if i < 3 else "{{ ref('%s') }}" % _name(i - 3)
        path = dbt / "models" / folder / f"{name}.sql"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"select id, kind, amount, {i} as generation\nfrom {upstream}\n")
        entry = [f"  - name: {name}"]
        if i % 10:
            entry.append(f"    description: Events, generation {i}.")
        entry.append("    columns:")
        entry.append("      - name: id")
        entry.append("        description: Event key.")
        if i % 7:
            entry.append("        data_tests: [not_null]")
        entry.append("      - name: kind")
        entry.append("        meta: {classification: %s}" % ("pii" if i % 5 == 0 else "internal"))
        entries.append("\n".join(entry))
    (dbt / "models" / "schema.yml").write_text("version: 2\nmodels:\n" + "\n".join(entries) + "\n")


def _name(i: int) -> str:
    if i % 20 == 19:
        return f"stg_events_{i:04d}"
    return f"{LAYERS[i % 3]}_events_{i:04d}"


def median_seconds(fn, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", type=int, default=1000, help="models to generate (default 1000)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs of floe's part (default 7)")
    args = parser.parse_args()
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "False"

    from floe.compiler import compile_product
    from floe.dbt_project import fingerprint, read_manifest
    from floe.enforcement.rules import ProjectModels, enforce

    with tempfile.TemporaryDirectory(prefix="floe-bench-enforce-") as tmp:
        product = Path(tmp) / "bench"
        generate(product, args.models)
        print(f"generated a dbt project of {args.models} models in {product}")

        # 1. dbt parse, once, exactly as floe compile runs it (a child process): the first
        # compile finds no manifest. Its LoadedProject carries the parse's wall time.
        import floe.compiler

        loads = []
        real_load = floe.compiler.load_project
        floe.compiler.load_project = lambda *a, **k: loads.append(real_load(*a, **k)) or loads[-1]
        try:
            first = compile_product(product / "floe.yaml", platform=str(product / "platform.yaml"),
                                    write=False)
        finally:
            floe.compiler.load_project = real_load
        assert loads and loads[0].parsed
        parse_seconds = loads[0].parse_seconds
        output = first.artifacts.dbt.profiles["bench"]["outputs"]["floe"]
        manifest = loads[0].manifest
        size_mb = manifest.stat().st_size / 1e6
        print(f"dbt parse (child process, full parse):     {parse_seconds:7.2f} s  "
              f"(manifest.json {size_mb:.1f} MB)")

        # 2. floe's part, the manifest fresh.
        policy_result = first.artifacts
        project = read_manifest(manifest)
        warnings = sum(1 for r in policy_result.governance.enforcement if r.status == "warn")
        print(f"  {len(project.models)} models; {warnings} warnings per compile "
              f"(naming, coverage, descriptions)")

        from floe.enforcement.inheritance import PlatformFile, merge
        from floe.schema.platform import parse_platform
        from floe.yamlsafe import load_file

        parsed_platform, report = parse_platform(load_file(product / "platform.yaml"))
        policy = merge([PlatformFile(product / "platform.yaml", "platform.yaml", parsed_platform, report)])
        projects = [ProjectModels("core", "dbt", project)]

        t_fingerprint = median_seconds(lambda: fingerprint(product / "dbt", "bench", "floe", output, {}),
                                       args.runs)
        t_read = median_seconds(lambda: read_manifest(manifest), args.runs)
        t_rules = median_seconds(lambda: enforce(policy, projects), args.runs)
        t_compile = median_seconds(lambda: compile_product(product / "floe.yaml",
                                                           platform=str(product / "platform.yaml"),
                                                           write=False), args.runs)
        print(f"floe, median of {args.runs} runs (manifest fresh, dbt not run):")
        print(f"  fingerprint check (hash project files):  {t_fingerprint * 1000:7.1f} ms")
        print(f"  read manifest.json into records:         {t_read * 1000:7.1f} ms")
        print(f"  rules (naming, layers, gates, meta):     {t_rules * 1000:7.1f} ms")
        print(f"  whole compile_product, in process:       {t_compile * 1000:7.1f} ms")
        ratio = t_compile / parse_seconds
        print(f"floe's part / dbt parse:                   {ratio:7.3f}  "
              f"({t_compile:.2f} s vs {parse_seconds:.2f} s)")
        print(f"goal: floe's part <= {GOAL_SECONDS} s for {args.models} models: {t_compile:.2f} s  "
              f"{verdict(t_compile <= GOAL_SECONDS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
