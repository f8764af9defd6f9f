"""A run's tables become visible together, or not at all: real `floe run`, real dbt and Dagster,
the embedded catalog read back with plain pyiceberg (not floe code) while runs commit and die.

One product is built once for the module; the tests share its runs (each costs seconds).
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from pyiceberg.catalog.sql import SqlCatalog
from sqlalchemy.exc import OperationalError

from conftest import floe_subprocess

from floe.init import scaffold

TABLES = ["bronze.bronze_customers", "bronze.bronze_orders", "silver.silver_customer_orders",
          "gold.gold_revenue_by_country", "gold.top_countries"]


def catalog(product: Path) -> SqlCatalog:
    return SqlCatalog("floe", uri=f"sqlite:///{product / '.floe/catalog.db'}",
                      warehouse=(product / ".floe/warehouse").as_uri())


def snapshots(product: Path) -> dict[str, int]:
    cat = catalog(product)
    return {name: cat.load_table(name).current_snapshot().snapshot_id for name in TABLES}


def run(product: Path):
    return floe_subprocess(["run"], product, timeout=300)


def unreferenced_files(product: Path) -> list[str]:
    """Files under the warehouse that no table's current metadata references."""
    cat = catalog(product)
    referenced = set()
    for name in TABLES:
        table = cat.load_table(name)
        referenced.add(table.metadata_location)
        referenced |= {entry.metadata_file for entry in table.metadata.metadata_log}
        for snapshot in table.metadata.snapshots:
            referenced.add(snapshot.manifest_list)
            for manifest in snapshot.manifests(table.io):
                referenced.add(manifest.manifest_path)
                referenced |= {entry.data_file.file_path for entry in
                               manifest.fetch_manifest_entry(table.io, discard_deleted=False)}
    files = {path.as_uri() for path in (product / ".floe/warehouse").rglob("*") if path.is_file()}
    return sorted(files - referenced)


@pytest.fixture(scope="module")
def product(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("atomic") / "shop"
    scaffold(path, name="shop")
    result = run(path)
    assert result.returncode == 0, result.stderr
    return path


def test_a_python_asset_failing_after_dbt_built_leaves_every_table_at_its_snapshot(product):
    asset = product / "assets/top_countries.py"
    original = asset.read_text()
    # The asset's own write failing as on a full disk (the error is raised, not a real full disk).
    error = 'raise OSError(28, "No space left on device")'
    asset.write_text(original.replace('    revenue = catalog.read', f'    {error}\n    revenue = catalog.read'))
    before = snapshots(product)
    try:
        result = run(product)
    finally:
        asset.write_text(original)
    assert result.returncode == 1
    assert "top_countries" in result.stderr
    # dbt built and staged its four tables, but nothing became visible.
    assert snapshots(product) == before
    assert unreferenced_files(product) == []


def test_readers_never_see_two_runs_and_sigkill_while_publishing_leaves_one_runs_snapshot(product):
    """A reader polls the catalog with plain pyiceberg while runs commit and while runs are
    killed (SIGKILL, at random points after publishing began, several seeds)."""
    observed: list[tuple[int, ...]] = []
    stop = threading.Event()

    def poll() -> None:
        cat = catalog(product)
        while not stop.is_set():
            try:
                first = cat.load_table(TABLES[0]).current_snapshot().snapshot_id
                ids = tuple(cat.load_table(name).current_snapshot().snapshot_id for name in TABLES)
                # The reader itself loads table by table: keep only reads no commit overlapped
                # (the first table is unchanged from before the others to after them).
                if cat.load_table(TABLES[0]).current_snapshot().snapshot_id == first == ids[0]:
                    observed.append(ids)
            except OperationalError:
                pass  # the database was locked by a commit for longer than sqlite waits

    reader = threading.Thread(target=poll, daemon=True)
    reader.start()
    journal_dir = product / ".floe/publish"
    try:
        for seed in (1, 2, 3):
            before = snapshots(product)
            delay = random.Random(seed).uniform(0.0, 2.0)
            process = subprocess.Popen([sys.executable, "-m", "floe", "run"], cwd=product,
                                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            # Publishing begins with the run's journal.
            deadline = time.monotonic() + 240
            while not list(journal_dir.glob("*.journal")) and process.poll() is None:
                assert time.monotonic() < deadline, "the run never began publishing"
                time.sleep(0.01)
            time.sleep(delay)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=60)
            after = snapshots(product)
            changed = {t for t in TABLES if after[t] != before[t]}
            assert changed in (set(), set(TABLES)), f"seed {seed}: only {sorted(changed)} advanced"
            previous = snapshots(product)
            result = run(product)  # sweeps what the killed run left, then commits its own
            assert result.returncode == 0, result.stderr
            assert "note: the tables were committed with" not in result.stderr
            now = snapshots(product)
            assert all(now[t] != previous[t] for t in TABLES)
            assert unreferenced_files(product) == [], f"seed {seed}"
            assert not list(journal_dir.glob("*.journal"))
    finally:
        stop.set()
        reader.join(timeout=30)
    # Each commit moved every table one snapshot on: a table's position in its history is the
    # run that wrote it, and every consistent read saw all tables from the same run.
    cat = catalog(product)
    position = {name: {entry.snapshot_id: i for i, entry in enumerate(cat.load_table(name).history())}
                for name in TABLES}
    assert observed
    for ids in observed:
        runs = {position[name].get(sid) for name, sid in zip(TABLES, ids)}
        assert len(runs) == 1 and None not in runs, ids
