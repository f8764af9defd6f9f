"""What a run is asked to do and what it reports back."""

from __future__ import annotations

from typing import Callable

import attrs


@attrs.frozen
class RunRequest:
    """One ``floe run``: which dbt nodes, whether to rebuild incrementals from scratch."""

    select: str | None = None
    exclude: str | None = None
    full_refresh: bool = False
    #: Called with one line per step (``"dbt  gold_revenue_by_country  ok"``) while running.
    progress: Callable[[str], None] = attrs.field(default=lambda line: None, eq=False)


@attrs.frozen
class TableResult:
    """One table written to the catalog."""

    asset: str
    table: str
    rows: int
    snapshot_id: int
    mode: str
    schema_changes: tuple[str, ...] = ()


@attrs.frozen
class RunOutcome:
    """How a run ended: success, the tables written, and the failure (asset and message)."""

    success: bool
    run_id: str
    tables: tuple[TableResult, ...] = ()
    failed_asset: str | None = None
    error: str | None = None
    seconds: float = 0.0
    #: How the tables reached the catalog: ``one catalog commit``, or the per-table fallback
    #: and why (readers could then see some tables of the run before the others).
    commit: str = ""
