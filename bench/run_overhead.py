"""What `floe run` costs on top of dbt, and how fast tables reach Iceberg.

Run: ``python bench/run_overhead.py [--sizes 50x100000,500x1000] [--runs 5]``
(or ``--models N --rows R`` for one size; ``--repeats`` publishes per series, default 20).

For each size, generates a dbt project of N models over R-row inputs (bronze models generate
rows with DuckDB's ``range``; silver and gold models transform them), then prints:

(a) ``floe run`` wall time ÷ plain ``dbt build`` wall time on the same project and DuckDB,
    both as subprocesses in this process tree, medians of ``--runs``          (goal ≤ 1.2)
    and beside it the floor every ``floe run`` pays (``bench/floor.py``: importing Dagster and
    pyiceberg, a Dagster instance and run) against the budget the goal leaves
(b) Iceberg publish throughput ÷ ``pyarrow.parquet.write_table`` throughput for the same
    Arrow tables, once the table history is at its bound (runs 11-20)
    (goal ≥ 0.6 at 50 × 100k, ≥ 0.5 at 500 × 1k)
(c) publish time of the 20th publish of every table ÷ the 1st (median of two series on fresh
    catalogs): the cost must not grow with snapshot history                    (goal ≤ 1.1)
(d) where the time goes: one ``floe run`` and one steady publish under cProfile, time by
    package (profiling inflates Python-heavy parts; read it as proportions).
(e) ``floe run`` with its lineage sent through openlineage-python (``OPENLINEAGE_URL`` at a
    receiver in this process: the client is imported on a background thread) ÷ ``floe run``
    with lineage to floe's own file (no openlineage import), medians of ``--runs``, at the
    first size only                                                             (goal ≤ 1.05)
"""

from __future__ import annotations

import argparse
import cProfile
import http.server
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from floor import orchestration_floor, print_orchestration_floor

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
ENV = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DAGSTER_DISABLE_TELEMETRY": "1"}


def generate(product: Path, models: int, rows: int) -> None:
    """A floe product whose dbt project has ``models`` table models over ``rows``-row inputs."""
    from floe.init import scaffold

    scaffold(product, name="bench")
    project = product / "dbt"
    for folder in ("bronze", "silver", "gold"):
        for old in (project / "models" / folder).glob("*.sql"):
            old.unlink()
    (project / "models" / "schema.yml").unlink()
    for seed in (project / "seeds").glob("*.csv"):
        seed.unlink()
    (product / "assets" / "top_countries.py").unlink()
    bronze = max(1, models // 5)
    gold = max(1, models // 5)
    silver = models - bronze - gold
    for i in range(bronze):
        (project / "models/bronze" / f"bronze_events_{i}.sql").write_text(
            f"select range as event_id, range % 1000 as customer_id, (range * {i + 7}) % 10007 / 100.0 as amount,\n"
            f"       'type_' || (range % 17)::varchar as event_type, date '2024-01-01' + (range % 365)::integer as day\n"
            f"from range({rows})\n")
    for i in range(silver):
        source = f"bronze_events_{i % bronze}"
        (project / "models/silver" / f"silver_events_{i}.sql").write_text(
            f"select event_id, customer_id, amount * {1 + i % 3} as amount, upper(event_type) as event_type, day\n"
            f"from {{{{ ref('{source}') }}}} where amount >= {i % 5}\n")
    for i in range(gold):
        source = f"silver_events_{i % silver}"
        (project / "models/gold" / f"gold_daily_{i}.sql").write_text(
            f"select day, event_type, count(*) as events, sum(amount) as amount\n"
            f"from {{{{ ref('{source}') }}}} group by day, event_type\n")
    platform = product / "platform/local/platform.yaml"
    platform.write_text(platform.read_text().replace("memory_limit: 2GB", "memory_limit: 4GB"))


def timed(command: list[str], cwd: Path, env: dict | None = None) -> float:
    start = time.perf_counter()
    result = subprocess.run(command, cwd=cwd, env=env or ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return elapsed


def plain_dbt_profile(product: Path) -> Path:
    """A hand-written profiles.yml for the baseline: a DuckDB file of its own."""
    profiles = product / "baseline"
    profiles.mkdir()
    (profiles / "profiles.yml").write_text(
        "floe:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {profiles / 'baseline.duckdb'}\n      threads: 2\n"
        "      settings: {memory_limit: 4GB}\n")
    return profiles


def bench_run(product: Path, runs: int) -> tuple[float, float]:
    profiles = plain_dbt_profile(product)
    dbt = [str(BIN / "dbt"), "build", "--project-dir", "dbt", "--profiles-dir", str(profiles),
           "--target-path", str(profiles / "target"), "--log-path", str(profiles / "logs")]
    floe = [sys.executable, "-m", "floe", "run"]
    timed(dbt, product)  # warm the OS cache and dbt's partial parse, for both sides
    timed(floe, product)
    dbt_times, floe_times = [], []
    for _ in range(runs):  # interleaved, so load on this shared machine hits both alike
        dbt_times.append(timed(dbt, product))
        floe_times.append(timed(floe, product))
    return statistics.median(dbt_times), statistics.median(floe_times)


class Collector(http.server.ThreadingHTTPServer):
    """Answers every POST with 200 and counts them by path."""

    def __init__(self) -> None:
        self.received: dict[str, int] = {}
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.received[self.path] = server.received.get(self.path, 0) + 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


def bench_lineage_client(product: Path, runs: int) -> tuple[float, float, int]:
    """Median ``floe run`` seconds with lineage to the local file and through openlineage-python's
    http transport, interleaved; and how many events the receiver got."""
    server = Collector()
    floe = [sys.executable, "-m", "floe", "run"]
    client_env = {**ENV, "OPENLINEAGE_URL": server.url}
    try:
        file_times, client_times = [], []
        for _ in range(runs):
            file_times.append(timed(floe, product))
            client_times.append(timed(floe, product, client_env))
    finally:
        server.shutdown()
        server.server_close()
    return statistics.median(file_times), statistics.median(client_times), sum(server.received.values()) // runs


def model_tables(product: Path) -> dict[str, object]:
    import duckdb

    with duckdb.connect(str(product / ".floe" / "warehouse.duckdb"), read_only=True) as con:
        names = [row[0] for row in con.sql("select table_name from information_schema.tables "
                                           "where table_schema = 'main' order by 1").fetchall()]
        return {name: con.table(name).to_arrow_table() for name in names}


#: Where a profiled function lives, by the first of these its file path contains.
PACKAGES = ("floe/runtime/publish", "floe/runtime/snapshots", "floe/runtime/manifests",
            "floe/runtime/commit", "floe_plugin_orchestrator_dagster", "floe", "pyiceberg", "pyarrow",
            "pydantic", "sqlalchemy", "dagster_dbt", "dagster", "dbt", "duckdb", "jinja2", "avro",
            "threading", "concurrent")


def time_by_package(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own time (not including callees) of every function, summed by package."""
    totals: dict[str, float] = {}
    for (path, _, name), (_, _, own, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        where = next((p for p in PACKAGES if f"/{p}/" in path or f"/{p}." in path), None)
        if where is None and path == "~":
            where = ("waiting on locks/threads" if "acquire" in name
                     else "imports" if any(w in name for w in ("marshal", "exec", "__build_class__", "imp."))
                     else "C calls (I/O, Parquet, SQLite, DuckDB)")
        elif where is None:
            where = "imports" if path.startswith("<frozen") else "other Python"
        totals[where] = totals.get(where, 0.0) + own
    return sorted(totals.items(), key=lambda item: -item[1])


def print_breakdown(title: str, stats: pstats.Stats, top: int = 8) -> None:
    parts = time_by_package(stats)
    total = sum(seconds for _, seconds in parts) or 1.0
    print(f"    {title}: " + ", ".join(f"{name} {100 * seconds / total:.0f}%"
                                       for name, seconds in parts[:top]))


def profile_run(product: Path) -> pstats.Stats:
    """One ``floe run`` in a child process under cProfile."""
    out = product / "run.prof"
    timed([sys.executable, "-m", "cProfile", "-o", str(out), "-m", "floe", "run"], product)
    return pstats.Stats(str(out))


def bench_publish(tables: dict[str, object], work: Path, repeats: int = 20,
                  series: int = 2) -> tuple[float, list[list[float]], pstats.Stats]:
    """Median time of writing every table with pyarrow, and ``series`` runs of ``repeats``
    publishes of every table, each run on a fresh catalog."""
    import pyarrow.parquet as pq

    from floe.builtin.catalog_sqlite import embedded_catalog

    passes = []
    for attempt in range(3):
        parquet_dir = work / f"parquet-{attempt}"
        parquet_dir.mkdir()
        start = time.perf_counter()
        for name, table in tables.items():
            pq.write_table(table, parquet_dir / f"{name}.parquet")
        passes.append(time.perf_counter() - start)
    all_rounds, profile = [], cProfile.Profile()
    for number in range(series):
        (work / f"warehouse-{number}").mkdir()
        # The catalog floe run uses on the embedded default.
        catalog = embedded_catalog("bench", uri=f"sqlite:///{work / f'catalog-{number}.db'}",
                                   warehouse=(work / f"warehouse-{number}").as_uri())
        rounds = []
        for _ in range(repeats):
            start = time.perf_counter()
            publish_all(catalog, tables)
            rounds.append(time.perf_counter() - start)
        all_rounds.append(rounds)
        if number == 0:
            # Where a steady publish's time goes (not timed: profiling slows it down). Staged
            # on this thread, as cProfile sees only the thread it runs on.
            from floe.runtime.commit import commit_tables
            from floe.runtime.publish import stage_table

            profile.enable()
            commit_tables(catalog, [stage_table(catalog, name.split("_")[0], name, table, asset=name)
                                    for name, table in tables.items()])
            profile.disable()
    return statistics.median(passes), all_rounds, pstats.Stats(profile)


def publish_all(catalog: object, tables: dict[str, object]) -> None:
    """As floe run publishes: every table of a run staged, then all committed at once."""
    from floe.runtime.publish import Publisher, stage_table

    publisher = Publisher(catalog)
    for name, table in tables.items():
        publisher.submit(name, lambda name=name, table=table: stage_table(
            catalog, name.split("_")[0], name, table, asset=name))
    publisher.commit()


#: The sizes measured by default: (models, rows per input).
SIZES = ((50, 100_000), (500, 1_000))
#: Goal for (b) publish throughput ÷ pyarrow, by size; other sizes take the lower one.
THROUGHPUT_GOAL = {(50, 100_000): 0.6, (500, 1_000): 0.5}


def bench_size(models: int, rows: int, runs: int, repeats: int, tmp: Path, floor: dict[str, float],
               lineage: bool = False) -> None:
    product = tmp / f"bench-{models}x{rows}"
    generate(product, models, rows)
    print(f"== {models} models over {rows:,}-row inputs, {runs} runs each after one warm-up")
    dbt_s, floe_s = bench_run(product, runs)
    ratio = floe_s / dbt_s
    print(f"(a) plain dbt build     median {dbt_s:6.2f} s")
    print(f"    floe run            median {floe_s:6.2f} s   (+{floe_s - dbt_s:.2f} s)")
    print(f"    ratio {ratio:.2f}   goal <= 1.2   {'PASS' if ratio <= 1.2 else 'MISS'}")
    print_orchestration_floor(floor, dbt_s, allowed=0.2)
    if lineage:
        file_s, client_s, events = bench_lineage_client(product, runs)
        print(f"(e) floe run, lineage to .floe/lineage/events.jsonl   median {file_s:6.2f} s")
        print(f"    floe run, lineage via openlineage-python ({events} events/run)   median {client_s:6.2f} s")
        print(f"    ratio {client_s / file_s:.2f}   goal <= 1.05   {'PASS' if client_s / file_s <= 1.05 else 'MISS'}")
    tables = model_tables(product)
    megabytes = sum(t.nbytes for t in tables.values()) / 1e6
    from floe.runtime.snapshots import SNAPSHOTS_KEPT

    work = tmp / f"publish-{models}x{rows}"
    work.mkdir()
    parquet_s, series, publish_profile = bench_publish(tables, work, repeats=repeats)
    # Publishing once the history is at its bound (runs 11-20) is what a product that runs
    # every day sees; the first overwrite is shown beside it.
    first_overwrite = statistics.median(rounds[min(1, len(rounds) - 1)] for rounds in series)
    steady = statistics.median(x for rounds in series for x in (rounds[SNAPSHOTS_KEPT:] or rounds[-1:]))
    throughput = parquet_s / steady
    goal = THROUGHPUT_GOAL.get((models, rows), 0.5)
    print(f"(b) {len(tables)} tables, {megabytes:.0f} MB of Arrow data")
    print(f"    pyarrow.parquet.write_table  {parquet_s:6.2f} s  ({megabytes / parquet_s:6.1f} MB/s, median of 3)")
    print(f"    floe publish, 2nd run        {first_overwrite:6.2f} s  ({megabytes / first_overwrite:6.1f} MB/s)")
    print(f"    floe publish, runs 11-{repeats}    {steady:6.2f} s  ({megabytes / steady:6.1f} MB/s, history at its "
          f"bound of {SNAPSHOTS_KEPT} snapshots; 2 threads, as floe run)")
    print(f"    ratio {throughput:.2f} (2nd run: {parquet_s / first_overwrite:.2f})   goal >= {goal}   "
          f"{'PASS' if throughput >= goal else 'MISS'}")
    growth = statistics.median(rounds[-1] / rounds[0] for rounds in series)
    for number, rounds in enumerate(series, 1):
        print(f"(c) series {number}: 1st publish (creates) {rounds[0]:.2f} s, 2nd {rounds[min(1, len(rounds) - 1)]:.2f} s, "
              f"last (#{len(rounds)}) {rounds[-1]:.2f} s")
    print(f"    ratio last/1st {growth:.2f} (median of {len(series)} series)   goal <= 1.1   "
          f"{'PASS' if growth <= 1.1 else 'MISS'}")
    print("(d) where the time goes (cProfile, own time by package)")
    print_breakdown("floe run", profile_run(product))
    print_breakdown("one steady publish (staged on one thread)", publish_profile)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default=None,
                        help="MODELSxROWS[,MODELSxROWS...]; default 50x100000,500x1000")
    parser.add_argument("--models", type=int, default=None, help="one size: this many models ...")
    parser.add_argument("--rows", type=int, default=None, help="... over inputs of this many rows")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=20, help="publishes per series (c)")
    options = parser.parse_args()
    if options.models is not None or options.rows is not None:
        sizes = [(options.models or SIZES[0][0], options.rows or SIZES[0][1])]
    elif options.sizes:
        sizes = [tuple(int(n) for n in size.lower().split("x")) for size in options.sizes.split(",")]
    else:
        sizes = list(SIZES)
    print("timings are wall-clock medians on this machine, shared with other work: expect noise")
    floor = orchestration_floor(options.runs)  # what (a) cannot go below (bench/floor.py)
    with tempfile.TemporaryDirectory(prefix="floe-bench-run-") as tmp:
        for number, (models, rows) in enumerate(sizes):
            bench_size(models, rows, options.runs, options.repeats, Path(tmp), floor, lineage=number == 0)


if __name__ == "__main__":
    main()
