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
             "failed_asset": outcome.failed_asset, "error": _scrub(outcome.error)}
    path = state_dir / RUNS_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
        _trim(path)
    except OSError:
        pass


def _scrub(text: str | None) -> str | None:
    import sys

    # Only a process that resolved a secret has loaded the scrubber, and only it has values.
    scrubber = sys.modules.get("floe.runtime.scrub")
    return scrubber.scrub(text) if scrubber is not None else text


def read_runs(state_dir: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The logged runs, most recent first (at most ``limit``); unreadable lines are skipped."""
    path = state_dir / RUNS_FILE
    try:
        # A damaged byte spoils one line, not the log.
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return []
    except OSError as exc:
        from floe.diagnostics import FloeError
        from floe.filekinds import file_problem

        raise FloeError(f"{path}: the run log {file_problem(path) or 'cannot be read: ' + str(exc)}; "
                        f"move it away and floe run starts a new one") from None
    runs = []
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except (ValueError, RecursionError):
            continue
        if _well_formed(entry):
            runs.append(entry)
            if limit is not None and len(runs) >= limit:
                break
    return runs


def _well_formed(entry: Any) -> bool:
    """True for a line ``record_run`` could have written; anything else is skipped as junk."""
    if not isinstance(entry, dict) or not isinstance(entry.get("run_id"), str):
        return False
    tables = entry.get("tables", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) and isinstance(t.get("table"), str)
                                               for t in tables):
        return False
    seconds = entry.get("seconds", 0)
    return isinstance(seconds, (int, float)) and not isinstance(seconds, bool) \
        and all(isinstance(entry.get(k), (str, type(None)))
                for k in ("status", "started_at", "failed_asset", "error", "product"))


def _trim(path: Path) -> None:
    with open(path, encoding="utf-8") as fh:
        lines = fh.readlines()
    if len(lines) > TRIM_AT:
        from floe.artifacts import write_atomic

        write_atomic(path, "".join(lines[-KEEP:]))
