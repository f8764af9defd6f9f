"""Every private pyiceberg, pyarrow and Dagster symbol floe relies on, in one place.

floe writes Iceberg snapshots itself (see :mod:`floe.runtime.snapshots`) and keeps Dagster's
event log cheap, and both need a few internals those libraries do not promise to keep. Each
one is reached only through this module, and ``tests/test_compat.py`` checks every one of
them — that it exists and behaves the way floe uses it — against the installed versions.

A pyiceberg release floe was not tested with could change what those internals mean and make
floe write manifests that readers misread, so a run refuses to start on one
(:func:`check_pyiceberg`): the message names the versions floe supports.

Nothing here imports a heavy library at import time; each function imports what it needs.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from floe.diagnostics import FloeError

#: pyiceberg versions whose internals tests/test_compat.py has been run against.
SUPPORTED_PYICEBERG = ("0.12.0",)
#: The module, named in a Dagster home's ``dagster.yaml``, that holds ``QueuedRunCoordinator``.
#: Dagster documents the run coordinator only under this private path.
QUEUED_RUN_COORDINATOR_MODULE = "dagster._core.run_coordinator"
#: Members of Dagster's ``SqliteEventLogStorage`` that floe's subclass overrides or uses:
#: ``_connect(shard)`` is the context manager every read and write goes through.
EVENT_LOG_MEMBERS = ("_connect", "_initdb", "conn_string_for_shard")


# -- versions ---------------------------------------------------------------------------------


def pyiceberg_version() -> str:
    """The installed pyiceberg's version."""
    from importlib.metadata import version

    return version("pyiceberg")


def check_pyiceberg(installed: str | None = None) -> None:
    """Refuse to run on a pyiceberg release floe's private-symbol tests have not covered.

    :param installed: the version to check (default: the installed one).
    :raises FloeError: naming the installed version and the supported ones.
    """
    installed = installed or pyiceberg_version()
    if installed not in SUPPORTED_PYICEBERG:
        supported = " or ".join(SUPPORTED_PYICEBERG)
        raise FloeError(f"pyiceberg {installed} is installed, but this floe writes Iceberg snapshots "
                        f"with internals tested only on pyiceberg {supported}; install it with "
                        f"pip install 'pyiceberg=={SUPPORTED_PYICEBERG[-1]}' (or upgrade floe)")


# -- pyiceberg: transactions ------------------------------------------------------------------


def stage_updates(transaction: Any, updates: tuple, requirements: tuple = ()) -> None:
    """Stage table updates and their requirements in a pyiceberg ``Transaction``.

    ``Transaction._apply`` is the entry point pyiceberg's own snapshot producers use; the
    catalog checks the requirements when the transaction commits.
    """
    transaction._apply(updates, requirements)  # noqa: SLF001


def staged_updates(transaction: Any) -> tuple:
    """The updates a transaction has staged so far (a tuple replaced on every change)."""
    return transaction._updates  # noqa: SLF001


def base_metadata(transaction: Any) -> Any:
    """The metadata of the table as the transaction found it (before its staged updates)."""
    return transaction._table.metadata  # noqa: SLF001


def transaction_table(transaction: Any) -> Any:
    """The table a transaction stages changes on (a ``StagedTable`` for a table it creates)."""
    return transaction._table  # noqa: SLF001


def staged_requirements(transaction: Any) -> tuple:
    """The requirements a transaction has staged so far, as its commit would send them."""
    return transaction._requirements  # noqa: SLF001


def apply_updates(metadata: Any, updates: Iterable[Any]) -> Any:
    """``metadata`` with ``updates`` applied, as the catalog would apply them on commit.

    Each update returns a new metadata object; ``metadata`` itself is not changed.
    """
    from pyiceberg.table.update import _apply_table_update, _TableMetadataUpdateContext

    context = _TableMetadataUpdateContext()
    for update in updates:
        metadata = _apply_table_update(update, metadata, context)
    return metadata


# -- pyiceberg: catalogs ---------------------------------------------------------------------


def rest_catalog_class(prepare_session: Callable[[Any], None]) -> type:
    """pyiceberg's ``RestCatalog`` whose HTTP session ``prepare_session`` adjusts (adapters for
    timeouts, retries and TLS) before the catalog sends anything on it.

    ``RestCatalog._config_headers`` is the first step of pyiceberg's session set-up, before the
    first token request and the ``/v1/config`` call: adjusting the session there gives those
    requests floe's settings too (``_create_session`` returns only after both were sent).
    """
    from pyiceberg.catalog.rest import RestCatalog

    class FloeRestCatalog(RestCatalog):
        def _config_headers(self, session: Any) -> None:
            prepare_session(session)
            super()._config_headers(session)

    return FloeRestCatalog


def sql_update_and_stage(catalog: Any, current: Any, identifier: tuple, requirements: tuple,
                         updates: tuple) -> Any:
    """The ``StagedTable`` a metastore catalog would commit: requirements checked against
    ``current`` (``None`` for a new table), updates applied, a new metadata location chosen
    (``MetastoreCatalog._update_and_stage_table``). Raises ``CommitFailedException`` when a
    requirement fails."""
    return catalog._update_and_stage_table(current, identifier, requirements, updates)  # noqa: SLF001


def sql_table_row(catalog: Any, namespace: str, table_name: str, metadata_location: str) -> dict[str, Any]:
    """The column values of a new row of ``SqlCatalog``'s ``iceberg_tables`` table
    (``SqlCatalog._create_table_row``)."""
    return catalog._create_table_row(namespace, table_name, metadata_location)  # noqa: SLF001


def metadata_version(catalog: Any, metadata_location: str) -> int:
    """The version number in a metadata file's name (``00007-<uuid>.metadata.json`` → 7;
    ``MetastoreCatalog._parse_metadata_version``)."""
    return catalog._parse_metadata_version(metadata_location)  # noqa: SLF001


def rest_session(catalog: Any) -> Any:
    """The ``requests`` session a pyiceberg ``RestCatalog`` signs its calls with (OAuth2 token,
    TLS settings, floe's adapters): the multi-table commit is posted on it (``_session``)."""
    return catalog._session  # noqa: SLF001


def rest_supported_endpoints(catalog: Any) -> Any:
    """The endpoints the REST server listed in ``/v1/config`` (``_supported_endpoints``), or
    nothing when the server listed none."""
    return getattr(catalog, "_supported_endpoints", ())


# -- pyiceberg: manifests and Parquet ---------------------------------------------------------


def filesystem_factory(fileio: Any) -> Callable[[str, str | None], Any]:
    """The function a ``PyArrowFileIO`` builds a pyarrow filesystem with for a scheme and
    netloc from its current properties (``PyArrowFileIO._initialize_fs``), uncached."""
    return fileio._initialize_fs  # noqa: SLF001


def parquet_writer_options(table_properties: dict[str, str]) -> dict[str, Any]:
    """``pyarrow.parquet.ParquetWriter`` options for a table's ``write.parquet.*`` properties
    (compression, level, page sizes), as pyiceberg derives them for its own writes."""
    from pyiceberg.io.pyarrow import _get_parquet_writer_kwargs

    return _get_parquet_writer_kwargs(table_properties)


def inherit_from_manifest(entry: Any, manifest: Any) -> Any:
    """A manifest entry with the snapshot id and sequence numbers it inherits from its manifest
    filled in (entries written as ``ADDED`` leave them to the manifest)."""
    from pyiceberg.manifest import _inherit_from_manifest

    return _inherit_from_manifest(entry, manifest)


def avro_file_class() -> type:
    """pyiceberg's ``AvroFile`` reader, for a subclass that resolves each schema once.

    A subclass's ``__enter__`` sets ``decoder`` (from ``input_file``), ``header`` (with
    :func:`read_avro_header`), ``schema`` and ``reader``; ``read_schema``, ``read_types`` and
    ``read_enums`` are the constructor's arguments.
    """
    from pyiceberg.avro.file import AvroFile

    return AvroFile


def read_avro_header(avro_file: Any) -> Any:
    """Read the Avro header of an ``AvroFile`` whose ``decoder`` is set."""
    return avro_file._read_header()  # noqa: SLF001


# -- pyarrow ----------------------------------------------------------------------------------


def parquet_file_metadata(writer: Any) -> Any:
    """The ``FileMetaData`` of a closed ``pyarrow.parquet.ParquetWriter`` (column statistics
    for the Iceberg manifest), without reading the file back."""
    return writer.writer.metadata


# -- Dagster ----------------------------------------------------------------------------------


def sqlite_event_log_storage() -> type:
    """Dagster's ``SqliteEventLogStorage``, the event log of a Dagster home on local disk."""
    from dagster._core.storage.event_log.sqlite.sqlite_event_log import SqliteEventLogStorage

    return SqliteEventLogStorage


def event_log_lock(storage: Any) -> Any:
    """The lock under which a ``SqliteEventLogStorage`` uses its databases."""
    return storage._db_lock  # noqa: SLF001


def event_log_initialized(storage: Any) -> set:
    """The shard names whose database a ``SqliteEventLogStorage`` has created its tables in."""
    return storage._initialized_dbs  # noqa: SLF001


def event_log_init_db(storage: Any, engine: Any) -> None:
    """Create Dagster's event-log tables in the database of ``engine`` (when missing)."""
    storage._initdb(engine)  # noqa: SLF001


__all__ = ["SUPPORTED_PYICEBERG", "check_pyiceberg", "stage_updates", "staged_updates",
           "base_metadata", "apply_updates", "transaction_table", "staged_requirements",
           "sql_update_and_stage", "sql_table_row", "metadata_version", "rest_session",
           "rest_supported_endpoints", "filesystem_factory", "parquet_writer_options", "inherit_from_manifest",
           "avro_file_class", "rest_catalog_class", "read_avro_header", "parquet_file_metadata", "sqlite_event_log_storage",
           "event_log_lock", "event_log_initialized", "event_log_init_db",
           "QUEUED_RUN_COORDINATOR_MODULE", "EVENT_LOG_MEMBERS"]
