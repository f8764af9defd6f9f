"""What `floe run` on Trino costs on top of a plain `dbt build` with dbt-trino.

Run: ``python bench/trino_overhead.py [--models 10] [--rows 100000] [--runs 3]``
(needs the JVM servers: ``bash .ci/fetch-jvm-peers``).

Starts moto's S3, Apache Iceberg's REST catalog server on it and a single-node Trino on that
catalog, all on 127.0.0.1, and generates a dbt project of N table models over R-row inputs.
Then prints, in one run, with both sides as subprocesses in this process tree:

  ``floe run`` on Trino wall time ÷ plain ``dbt build`` (dbt-trino, same server and project),
  medians of ``--runs``                                                       (goal ≤ 1.1)

On Trino the engine writes the Iceberg tables itself, so the difference is floe's
orchestration only (compile check, Dagster, reading each table's snapshot back). Also prints
Trino's start-up time and resident memory, and the floor every ``floe run`` pays
(``bench/floor.py``) against the budget the goal leaves.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from floor import orchestration_floor, print_orchestration_floor

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
BIN = Path(sys.executable).parent
ENV = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DAGSTER_DISABLE_TELEMETRY": "1"}


def generate(product: Path, models: int, rows: int, platform: str) -> None:
    """A floe product whose dbt project has ``models`` table models over ``rows``-row inputs."""
    project = product / "dbt"
    for folder in ("bronze", "silver"):
        (project / "models" / folder).mkdir(parents=True, exist_ok=True)
    (project / "dbt_project.yml").write_text(
        "name: bench\nversion: '1.0.0'\nconfig-version: 2\nprofile: bench\nmodel-paths: [models]\n"
        "models:\n  bench:\n    +materialized: table\n")
    bronze = max(1, models // 2)
    # Trino's sequence() holds at most 10,000 elements: a cross join of two makes the rows.
    side = max(1, int(rows ** 0.5))
    for i in range(bronze):
        (project / "models/bronze" / f"bronze_events_{i}.sql").write_text(
            f"select a * {side} + b as event_id, (a * {side} + b) % 1000 as customer_id,\n"
            f"       cast(((a * {side} + b) * {i + 7}) % 10007 as double) / 100 as amount\n"
            f"from unnest(sequence(0, {side - 1})) as x(a) cross join unnest(sequence(0, {side - 1})) as y(b)\n")
    for i in range(models - bronze):
        (project / "models/silver" / f"silver_customers_{i}.sql").write_text(
            f"select customer_id, count(*) as events, sum(amount) as amount\n"
            f"from {{{{ ref('bronze_events_{i % bronze}') }}}} group by customer_id\n")
    (product / "floe.yaml").write_text("name: bench\nversion: '0.1.0'\ntransforms: [{path: dbt}]\n")
    (product / "platform" / "trino").mkdir(parents=True)
    (product / "platform" / "trino" / "platform.yaml").write_text(platform)


def plain_profile(directory: Path, trino: dict) -> None:
    """The dbt-trino profile a team without floe would write for the same server."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "profiles.yml").write_text(json.dumps({"bench": {"target": "dev", "outputs": {"dev": {
        "type": "trino", "method": "none", "host": trino["host"], "port": trino["port"],
        "http_scheme": "http", "user": "floe", "database": "lake", "schema": "plain", "threads": 2}}}}))


def timed(command: list[str], cwd: Path, env: dict) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return seconds


def measure(lake: dict, env: dict, platform: str, models: int, rows: int, runs: int) -> dict:
    """Median wall seconds of ``floe run`` and of plain ``dbt build`` on the running servers."""
    work = Path(tempfile.mkdtemp(prefix="floe-trino-bench-"))
    try:
        product = work / "bench"
        generate(product, models, rows, platform)
        plain_profile(work / "plain-profiles", lake["trino"])
        env = {**ENV, **env}
        floe_cmd = [str(BIN / "floe"), "run", "--env", "trino"]
        dbt_cmd = [str(BIN / "dbt"), "build", "--project-dir", str(product / "dbt"),
                   "--profiles-dir", str(work / "plain-profiles"), "--target-path", str(work / "plain-target"),
                   "--log-path", str(work / "plain-logs")]
        if runs > 1:
            # A first run of each: creates schemas and tables, compiles the product.
            timed(floe_cmd, product, env)
            timed(dbt_cmd, product, env)
        floe_s, dbt_s = [], []
        for _ in range(runs):
            floe_s.append(timed(floe_cmd, product, env))
            dbt_s.append(timed(dbt_cmd, product, env))
        return {"floe": statistics.median(floe_s), "dbt": statistics.median(dbt_s)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from test_trino_engine import PLATFORM, TRINO, _env, servers

    with tempfile.TemporaryDirectory() as scratch, servers(Path(scratch)) as lake:
        trino = lake["trino"]
        print(f"Trino 476 start-up: {trino['startup_seconds']:.1f} s to /v1/info starting=false, "
              f"{trino['rss_bytes'] / 2**20:.0f} MiB resident when ready")
        platform = PLATFORM.format(name="trino", s3=lake["s3"], uri=lake["uri"],
                                   compute=TRINO.format(port=trino["port"]))
        result = measure(lake, _env(), platform, args.models, args.rows, args.runs)
    ratio = result["floe"] / result["dbt"]
    print(f"{args.models} models x {args.rows} rows, median of {args.runs}: floe run {result['floe']:.1f} s, "
          f"plain dbt build {result['dbt']:.1f} s")
    print(f"floe run on Trino / plain dbt build with dbt-trino: {ratio:.2f}  (goal <= 1.1)")
    print_orchestration_floor(orchestration_floor(args.runs), result["dbt"], allowed=0.1)


if __name__ == "__main__":
    main()
