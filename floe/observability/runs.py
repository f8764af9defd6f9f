"""floe's own small run log, ``.floe/runs.jsonl``: what ``floe runs`` lists.

``floe run`` appends one line per run (id, status, start, duration, tables written), so listing
recent runs needs neither Dagster nor its run storage. The file is trimmed to the last
:data:`KEEP` runs once it grows past :data:`TRIM_AT` lines.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from floe.runtime import RunOutcome

#: The log, relative to the product's ``.floe/``.
RUNS_FILE = "runs.jsonl"
KEEP = 500
TRIM_AT = 1000


def record_run(state_dir: Path, product: str, outcome: "RunOutcome") -> None:
    """Append ``outcome`` to the run log; a log that cannot be written never fails the run."""
    started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=outcome.seconds)
    entry = {"run_id": outcome.run_id, "product": product,
             "status": "success" if outcome.success else "failed",
             "started_at": started.isoformat(timespec="seconds"), "seconds": round(outcome.seconds, 2),
             "tables": [{"table": t.table, "rows": t.rows, "snapshot_id": t.snapshot_id, "mode": t.mode}
                        for t in outcome.tables],
             "failed_asset": outcome.failed_asset, "error": outcome.error}
    path = state_dir / RUNS_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
        _trim(path)
    except OSError:
        pass


def read_runs(state_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The logged runs, most recent first (at most ``limit``); unreadable lines are skipped."""
    path = state_dir / RUNS_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    runs = []
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and "run_id" in entry:
            runs.append(entry)
            if limit is not None and len(runs) >= limit:
                break
    return runs


def _trim(path: Path) -> None:
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    if len(lines) > TRIM_AT:
        from floe.artifacts import write_atomic

        write_atomic(path, "".join(lines[-KEEP:]))
