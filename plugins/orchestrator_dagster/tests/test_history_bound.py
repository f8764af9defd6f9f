"""The product's Dagster history stays bounded: old runs are deleted, their files too.

Each run keeps an SQLite event log of its own under ``.floe/dagster/history/runs`` (about half
a megabyte for the demo product); without pruning a dozen runs filled a 20 MiB volume.
"""

from __future__ import annotations

from types import SimpleNamespace

from dagster import asset, materialize

from floe_plugin_orchestrator_dagster.definitions import instance, prune_history


@asset
def tiny() -> int:
    return 1


def test_only_the_most_recent_runs_and_their_event_logs_are_kept(tmp_path):
    context = SimpleNamespace(path=lambda relative: tmp_path / relative)  # what instance() reads
    runs_dir = tmp_path / ".floe/dagster/history/runs"
    with instance(context, {"run_storage": ".floe/dagster", "max_concurrent_runs": 1}) as dagster:
        run_ids = [materialize([tiny], instance=dagster).run_id for _ in range(5)]
        assert {p.stem for p in runs_dir.glob("*.db")} == {*run_ids, "index"}

        assert prune_history(dagster, keep=2) == 3

        assert dagster.get_run_ids() == run_ids[:-3:-1]  # the two newest, newest first
        assert {p.stem for p in runs_dir.glob("*.db")} == {*run_ids[-2:], "index"}
        # What is kept still reads: the newest run's events are all there.
        assert dagster.all_logs(run_ids[-1])
        assert prune_history(dagster, keep=2) == 0
