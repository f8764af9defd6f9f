"""The floor under `floe run`: what it pays before doing any work of its own, on this machine.

Run: ``python bench/floor.py [--runs 3] [--rows 1000]``

The run benches compare ``floe run`` with a plain ``dbt build``; their goals leave floe a
budget (``run_overhead.py``: 0.2 × the dbt build; ``trino_overhead.py``: 0.1 ×). Two costs come
with the design itself, and this script measures them so that a goal can be checked against
what is possible at all:

(1) Orchestration, from fresh interpreters (medians of ``--runs``): importing Dagster once
    dbt's own modules are imported (plain ``dbt build`` imports those too); importing
    pyiceberg's catalog and ``pyarrow.parquet``; creating a Dagster instance from the
    ``dagster.yaml`` floe writes (its databases made by an earlier run) and materializing one
    trivial asset, as ``floe run`` does. Their sum is paid by every ``floe run``, whatever the
    size of the product.
(2) One Iceberg snapshot per table, with pyiceberg's own code (no floe code): loading the
    table from the embedded catalog, writing a manifest with one entry and a manifest list
    with one manifest, beside ``pyarrow.parquet.write_table`` of the same ``--rows``-row
    table. pyiceberg's part is the least a table's publish costs on top of its Parquet,
    and it runs under the GIL.

The run benches import :func:`orchestration_floor` and print it beside their ratio.
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
import warnings
from pathlib import Path

#: Run in a fresh interpreter: prints the seconds of each step as JSON.
_ORCHESTRATION = r"""
import json, sys, time
marks = [time.perf_counter()]
import dbt.cli.main, dbt.contracts.graph.manifest  # imported by plain `dbt build` as well
marks.append(time.perf_counter())
import dagster
marks.append(time.perf_counter())
import pyarrow.parquet, pyiceberg.catalog.sql, pyiceberg.table
marks.append(time.perf_counter())
from dagster import DagsterInstance, asset, materialize
home = sys.argv[1]  # floe's Dagster home (its dagster.yaml); an earlier run made the databases

@asset
def one() -> int:
    return 1

with DagsterInstance.from_config(home) as instance:
    materialize([one], instance=instance)
marks.append(time.perf_counter())
print(json.dumps({"dagster import": marks[2] - marks[1], "pyiceberg + pyarrow import": marks[3] - marks[2],
                  "dagster instance + one-asset run": marks[4] - marks[3]}))
"""


def orchestration_floor(runs: int = 3) -> dict[str, float]:
    """Median seconds of each orchestration cost (see the module docstring), and their ``total``."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DAGSTER_DISABLE_TELEMETRY": "1"}
    samples: list[dict[str, float]] = []
    from floe.runtime import compat
    from floe_plugin_orchestrator_dagster.definitions import INSTANCE_YAML

    with tempfile.TemporaryDirectory(prefix="floe-bench-floor-") as home:
        # The dagster.yaml floe writes for a product: its event-log storage, its run coordinator.
        Path(home, "dagster.yaml").write_text(INSTANCE_YAML.format(
            runs=json.dumps(str(Path(home) / "history" / "runs")), max_runs=1,
            coordinator_module=compat.QUEUED_RUN_COORDINATOR_MODULE))
        for number in range(runs + 1):  # the first creates the home's databases: not counted
            result = subprocess.run([sys.executable, "-c", _ORCHESTRATION, home], capture_output=True,
                                    text=True, env=env, timeout=300, check=False)
            if result.returncode != 0:
                sys.exit(f"the orchestration floor failed:\n{result.stderr[-3000:]}")
            if number:
                samples.append(json.loads(result.stdout.strip().splitlines()[-1]))
    floor = {key: statistics.median(sample[key] for sample in samples) for key in samples[0]}
    floor["total"] = sum(floor.values())
    return floor


def print_orchestration_floor(floor: dict[str, float], baseline_s: float, allowed: float) -> None:
    """Print ``floor`` beside the budget a goal of ``1 + allowed`` × ``baseline_s`` leaves."""
    parts = ", ".join(f"{name} {seconds:.2f} s" for name, seconds in floor.items() if name != "total")
    budget = allowed * baseline_s
    print(f"    floor: {parts} = {floor['total']:.2f} s before floe does any work "
          f"(budget {allowed:.1f} x {baseline_s:.2f} s = {budget:.2f} s: "
          f"{'within' if floor['total'] <= budget else 'ABOVE'} it)")


def table_floor(rows: int = 1000, repeats: int = 200) -> dict[str, float]:
    """Milliseconds per table of pyiceberg's snapshot calls and of pyarrow's write (see above)."""
    with tempfile.TemporaryDirectory(prefix="floe-bench-floor-") as scratch:
        return _table_floor(Path(scratch), rows, repeats)


def _table_floor(work: Path, rows: int, repeats: int) -> dict[str, float]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.manifest import ManifestEntry, ManifestEntryStatus, write_manifest, write_manifest_list

    (work / "warehouse").mkdir()
    catalog = SqlCatalog("floor", uri=f"sqlite:///{work / 'catalog.db'}", warehouse=(work / "warehouse").as_uri())
    catalog.create_namespace("bench")
    data = pa.table({"event_id": pa.array(range(rows), pa.int64()),
                     "amount": pa.array([i * 0.01 for i in range(rows)], pa.float64()),
                     "event_type": pa.array([f"type_{i % 17}" for i in range(rows)], pa.string())})
    table = catalog.create_table(("bench", "events"), schema=data.schema)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the first overwrite finds nothing to delete, and says so
        for _ in range(10):  # a history at floe's bound of ten snapshots, as a daily product has
            table.overwrite(data)
    table = catalog.load_table(("bench", "events"))
    metadata = table.metadata
    data_file = list(table.scan().plan_files())[0].file

    def manifest() -> object:
        with write_manifest(format_version=metadata.format_version, spec=metadata.spec(),
                            schema=metadata.schema(), output_file=table.io.new_output(str(work / "m.avro")),
                            snapshot_id=1, avro_compression="gzip") as writer:
            writer.add(ManifestEntry.from_args(status=ManifestEntryStatus.ADDED, snapshot_id=1,
                                               data_file=data_file))
        return writer.to_manifest_file()

    written = manifest()

    def manifest_list() -> None:
        with write_manifest_list(format_version=metadata.format_version,
                                 output_file=table.io.new_output(str(work / "l.avro")), snapshot_id=1,
                                 parent_snapshot_id=None, sequence_number=1, avro_compression="gzip") as lists:
            lists.add_manifests([written])

    steps = {"pyarrow.parquet.write_table": lambda: pq.write_table(data, work / "d.parquet"),
             "catalog.load_table": lambda: catalog.load_table(("bench", "events")),
             "write_manifest (1 entry)": manifest, "write_manifest_list (1 manifest)": manifest_list}
    out = {}
    for name, step in steps.items():
        start = time.perf_counter()
        for _ in range(repeats):
            step()
        out[name] = (time.perf_counter() - start) / repeats * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1000)
    options = parser.parse_args()
    floor = orchestration_floor(options.runs)
    print(f"(1) orchestration, fresh interpreters, median of {options.runs}:")
    for name, seconds in floor.items():
        print(f"    {name:36} {seconds:6.2f} s")
    per_table = table_floor(options.rows)
    parquet = per_table.pop("pyarrow.parquet.write_table")
    print(f"(2) one snapshot per table, {options.rows:,} rows, ms per table:")
    print(f"    {'pyarrow.parquet.write_table':36} {parquet:6.2f} ms")
    for name, ms in per_table.items():
        print(f"    {name:36} {ms:6.2f} ms   (pyiceberg)")
    # The Parquet write releases the GIL and may overlap on a second core; pyiceberg's calls
    # hold it, so they alone bound how many tables a second one process publishes.
    print(f"    publish / pyarrow throughput at best with pyiceberg's calls (the Parquet writes "
          f"overlapped entirely): {parquet / sum(per_table.values()):.2f}")


if __name__ == "__main__":
    main()
