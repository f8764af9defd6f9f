"""One catalog commit for all the tables of a run.

A run's tables become visible together. A catalog that can commit several tables atomically
says so by having a ``commit_tables(changes, journal)`` method (floe's embedded catalog does it
in one database transaction; floe's REST catalog through the Iceberg REST multi-table commit
endpoint, when the server advertises it). Any other catalog gets one commit per table, and the
run reports that fallback.

``commit_tables(changes, journal)`` takes a list of :class:`TableChange` and returns, in the same
order, each table's new ``(metadata, metadata_location)``. It raises
:class:`TablesCommitFailed` naming every table whose requirements failed, having applied
nothing. A catalog that has the method but cannot use it now (a REST server without the
endpoint) says why in ``multi_table_commit_unavailable``; one whose server cannot create tables
inside the commit (Iceberg's reference REST server) creates them right after it and says how
many in ``created_after_commit``, which the run reports.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, NamedTuple, Sequence

from floe.diagnostics import FloeError
from floe.runtime import compat, snapshots

if TYPE_CHECKING:
    from floe.runtime.journal import Journal
    from floe.runtime.publish import Staged

#: How a run's tables reached the catalog, for the run summary.
ONE_COMMIT = "one catalog commit"


class TableChange(NamedTuple):
    """One table's part of a multi-table commit, as the Iceberg REST spec's CommitTableRequest."""

    table: Any  # the pyiceberg Table the changes were staged on (a StagedTable for a new one)
    requirements: tuple
    updates: tuple
    #: The table's metadata with ``updates`` applied, as staging computed it (saves the
    #: catalog applying them again); ``None`` if not known.
    staged: Any = None


class TablesCommitFailed(Exception):
    """Another writer changed some of the tables: nothing was committed."""

    def __init__(self, tables: Sequence[str], detail: str = ""):
        super().__init__(detail or ", ".join(tables))
        self.tables = list(tables)
        self.detail = detail


def compat_table(transaction: Any) -> Any:
    """The table a pyiceberg transaction stages changes on."""
    return compat.transaction_table(transaction)


def pending(transaction: Any) -> TableChange:
    """The requirements and updates a pyiceberg transaction would commit, as its own
    ``commit_transaction`` would send them."""
    from pyiceberg.table import CreateTableTransaction
    from pyiceberg.table.update import AssertCreate, AssertTableUUID

    table = compat_table(transaction)
    updates = compat.staged_updates(transaction)  # what commit_transaction sends
    if isinstance(transaction, CreateTableTransaction):
        return TableChange(table, (AssertCreate(),), updates)
    requirements = (*compat.staged_requirements(transaction),
                    AssertTableUUID(uuid=transaction.table_metadata.table_uuid))
    return TableChange(table, requirements, updates, transaction.table_metadata)


def commit_tables(catalog: Any, staged: list["Staged"], journal: "Journal | None" = None) -> str:
    """Commit every staged table; return how (:data:`ONE_COMMIT`, or the fallback and why).

    After the commit, the files of the snapshots it expired are deleted (recorded in the
    journal first, so a run killed meanwhile has the next run delete them).

    :raises FloeError: naming every table another writer changed meanwhile; with one catalog
        commit no table changed, with the per-table fallback the others committed.
    """
    from floe.runtime.journal import OBSOLETE

    if not staged:
        return ONE_COMMIT
    obsolete = {id(item): item.obsolete() for item in staged}
    if journal is not None:
        for item in staged:
            journal.record(item.result.table, OBSOLETE, obsolete[id(item)])
    multi = getattr(catalog, "commit_tables", None)
    unavailable = getattr(catalog, "multi_table_commit_unavailable", None) if multi else (
        f"the catalog ({type(catalog).__name__}) has no multi-table commit")
    if multi is not None and not unavailable:
        changes = [pending(item.transaction) for item in staged]
        try:
            responses = multi(changes, journal)
        except TablesCommitFailed as exc:
            raise _conflict(exc.tables, exc.detail, nothing_committed=True) from None
        for item, (metadata, location) in zip(staged, responses):
            item.table.metadata, item.table.metadata_location = metadata, location
            item.committed = True
        apart = getattr(catalog, "created_after_commit", 0)
        how = ONE_COMMIT if not apart else (
            f"{ONE_COMMIT} for the existing tables and {apart} new table(s) created right after it "
            "(the catalog cannot create tables inside a multi-table commit)")
    else:
        _commit_each(staged)
        how = f"one commit per table ({unavailable})"
    # After the commit: a failed commit never loses a file; a file that cannot be deleted
    # stays behind, unreferenced (the journal goes when the run finishes, so no later run
    # retries it). Deleting is waiting on the file system, so two threads share it.
    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="floe-delete") as pool:
        list(pool.map(lambda item: snapshots.delete_files(item.table.io, obsolete[id(item)]), staged))
    return how


def _commit_each(staged: list["Staged"]) -> None:
    from pyiceberg.exceptions import CommitFailedException

    failed, details = [], []
    for item in staged:
        try:
            item.transaction.commit_transaction()
            item.committed = True
        except CommitFailedException as exc:
            failed.append(item.result.table)
            details.append(str(exc))
    if failed:
        raise _conflict(failed, "; ".join(details), nothing_committed=len(failed) == len(staged))


def _conflict(tables: Sequence[str], detail: str, nothing_committed: bool) -> FloeError:
    names = ", ".join(tables)
    kept = ("no table of this run was committed" if nothing_committed
            else "the run's other tables were committed (this catalog commits tables one by one)")
    noun = "table" if len(tables) == 1 else "tables"
    return FloeError(f"{noun} {names} {'was' if len(tables) == 1 else 'were'} changed by another "
                     f"writer while this run published ({detail}); {kept}, and each of those "
                     "tables keeps the other writer's snapshot. Run again to publish on top of it")
