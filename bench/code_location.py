"""Code-location load time: floe's packaged definitions ÷ dagster-dbt's manifest-based loading.

Run: ``python bench/code_location.py [--models 1000] [--runs 3]``

Scaffolds the demo product, adds ``--models`` dbt models (1,000 by default), runs ``floe package``
(which compiles and builds the dbt manifest into the context), then times, interleaved, two child
processes that do what a code server does when it loads a location — import, build the
``Definitions`` and resolve them (``Definitions.validate_loadable``):

- **floe**: the packaged ``code_location.py`` (``FloeDefinitions.from_compiled_artifacts``);
- **dagster-dbt**: the documented manifest-based loading over the same prebuilt manifest —
  ``@dbt_assets(manifest=...)`` with a ``DbtCliResource`` in ``Definitions``.

Prints the median wall time of each, the ratio floe ÷ dagster-dbt (goal ≤ 0.5) and floe's
absolute time against Dagster's 180 s code-location timeout. A measurement, not a test: exit 0
either way, 1 only when something fails to load.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 180.0
GOAL = 0.5

FLOE_LOAD = """
from dagster import Definitions
import code_location
Definitions.validate_loadable(code_location.defs)
"""

DAGSTER_DBT_LOAD = """
import sys
from pathlib import Path
from dagster import Definitions
from dagster_dbt import DbtCliResource, dbt_assets

product = Path(sys.argv[1])
manifest = product / ".floe" / "dbt" / "core" / "target" / "manifest.json"

@dbt_assets(manifest=manifest)
def project_assets(context, dbt: DbtCliResource):
    yield from dbt.cli(["build"], context=context).stream()

dbt = DbtCliResource(project_dir=str(product / "dbt"), dbt_executable=str(Path(sys.executable).parent / "dbt"))
defs = Definitions(assets=[project_assets], resources={"dbt": dbt})
Definitions.validate_loadable(defs)
"""


def add_models(product: Path, count: int) -> None:
    """``count`` silver models, each a view over a bronze model, documented and tested."""
    folder = product / "dbt" / "models" / "silver" / "generated"
    folder.mkdir(parents=True)
    schema = ["version: 2", "models:"]
    for i in range(count):
        name = f"silver_generated_{i:04d}"
        (folder / f"{name}.sql").write_text(
            "{{ config(materialized='view') }}\n"
            f"select customer_id, {i} as generation from {{{{ ref('bronze_customers') }}}}\n")
        schema += [f"  - name: {name}", f"    description: generated model {i}",
                   "    columns:", "      - name: customer_id", "        description: the customer",
                   "        data_tests: [not_null]"]
    (folder / "schema.yml").write_text("\n".join(schema) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()
    env = {**os.environ, "DAGSTER_DISABLE_TELEMETRY": "1", "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    if "floe" not in sys.modules and not (Path(sys.executable).parent / "floe").exists():
        env["PYTHONPATH"] = str(ROOT)

    from floe.init import scaffold

    tmp = Path(tempfile.mkdtemp(prefix="floe-bench-location-"))
    try:
        product = tmp / "big"
        scaffold(product, name="big")
        add_models(product, options.models)
        started = time.perf_counter()
        packaged = subprocess.run([sys.executable, "-m", "floe", "package"], cwd=product, env=env,
                                  capture_output=True, text=True)
        if packaged.returncode != 0:
            sys.exit(f"floe package failed:\n{packaged.stderr[-3000:]}")
        package_seconds = time.perf_counter() - started
        location = product / ".floe" / "package" / "product"

        def timed(code: str, *args: str) -> float:
            start = time.perf_counter()
            result = subprocess.run([sys.executable, "-c", code, *args], cwd=location, env=env,
                                    capture_output=True, text=True)
            if result.returncode != 0:
                sys.exit(f"loading failed:\n{result.stderr[-3000:]}")
            return time.perf_counter() - start

        if options.runs > 1:
            # Warm-up: the first import of each stack writes .pyc files and fills the OS cache.
            timed(FLOE_LOAD)
            timed(DAGSTER_DBT_LOAD, str(location))
        floe_times, dbt_times = [], []
        for _ in range(options.runs):
            floe_times.append(timed(FLOE_LOAD))
            dbt_times.append(timed(DAGSTER_DBT_LOAD, str(location)))
        floe_median, dbt_median = statistics.median(floe_times), statistics.median(dbt_times)
        ratio = floe_median / dbt_median
        print(f"product: {options.models} generated models (+ the demo's), floe package {package_seconds:.1f}s")
        print(f"floe code location (packaged artifacts + manifest)  median {floe_median:6.2f}s  {[round(t, 2) for t in floe_times]}")
        print(f"dagster-dbt @dbt_assets(manifest=...)              median {dbt_median:6.2f}s  {[round(t, 2) for t in dbt_times]}")
        print(f"ratio floe / dagster-dbt = {ratio:.2f}  (goal <= {GOAL}: {'PASS' if ratio <= GOAL else 'MISS'})")
        print(f"absolute floe load = {floe_median:.2f}s of Dagster's {TIMEOUT:.0f}s code-location timeout "
              f"({floe_median / TIMEOUT:.1%}: {'PASS' if floe_median < TIMEOUT / 10 else 'MISS'} against a tenth of it)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
