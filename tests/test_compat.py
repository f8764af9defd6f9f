"""The private pyiceberg, pyarrow and Dagster internals floe relies on exist and behave as
floe assumes (one test per symbol of floe.runtime.compat), and nothing else in floe reaches
for a private symbol.

Every test runs against the installed libraries for real (a SQLite-backed pyiceberg catalog,
pyarrow writing Parquet, a Dagster instance materialising an asset, a REST server on
127.0.0.1), so an upgrade that changes one of them fails here, naming it.
"""

from __future__ import annotations

import ast
import http.server
import importlib
import json
import threading
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from floe.diagnostics import FloeError
from floe.runtime import compat

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def table(tmp_path: Path):
    """A real Iceberg table (format v2) in a SQLite catalog, with one appended snapshot."""
    from pyiceberg.catalog.sql import SqlCatalog

    catalog = SqlCatalog("t", uri=f"sqlite:///{tmp_path / 'catalog.db'}",
                         warehouse=(tmp_path / "warehouse").as_uri())
    catalog.create_namespace("gold")
    data = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "name": ["a", "b", "c"]})
    created = catalog.create_table(("gold", "t"), schema=data.schema)
    created.append(data)
    return catalog.load_table(("gold", "t"))


# -- versions ---------------------------------------------------------------------------------


def test_the_installed_pyiceberg_is_a_supported_one() -> None:
    compat.check_pyiceberg()  # raises on an untested version
    assert compat.pyiceberg_version() in compat.SUPPORTED_PYICEBERG


def test_an_untested_pyiceberg_is_refused_naming_the_supported_version() -> None:
    with pytest.raises(FloeError) as caught:
        compat.check_pyiceberg("0.99.0")
    message = str(caught.value)
    assert "pyiceberg 0.99.0 is installed" in message
    assert f"pyiceberg=={compat.SUPPORTED_PYICEBERG[-1]}" in message


def test_a_run_on_an_untested_pyiceberg_fails_at_its_start_with_nothing_written(
        demo: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(compat, "pyiceberg_version", lambda: "0.99.0")
    result = run_cli(["run"], cwd=demo)
    assert result.exit_code == 1, result.output
    assert "pyiceberg 0.99.0 is installed" in result.output
    assert "Traceback" not in result.output
    # Refused before the catalog was opened and before dbt built anything.
    assert not (demo / ".floe" / "catalog.db").exists()
    assert not (demo / ".floe" / "warehouse").exists()


# -- pyiceberg: transactions ------------------------------------------------------------------


def test_stage_updates_stages_updates_the_commit_applies_and_checks_requirements(table) -> None:
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table.update import AssertRefSnapshotId, AssertTableUUID, SetPropertiesUpdate

    transaction = table.transaction()
    compat.stage_updates(transaction, (SetPropertiesUpdate(updates={"floe.test": "1"}),),
                         (AssertTableUUID(uuid=table.metadata.table_uuid),))
    assert transaction.table_metadata.properties["floe.test"] == "1"
    transaction.commit_transaction()
    assert table.refresh().properties["floe.test"] == "1"

    # Staged against the current snapshot, the catalog re-checks it on commit: another writer's
    # snapshot in between makes the commit fail (floe's guard against concurrent publishes).
    stale = table.transaction()
    compat.stage_updates(stale, (SetPropertiesUpdate(updates={"floe.test": "2"}),),
                         (AssertRefSnapshotId(snapshot_id=table.current_snapshot().snapshot_id, ref="main"),))
    table.append(pa.table({"id": pa.array([4], pa.int64()), "name": ["d"]}))
    with pytest.raises(CommitFailedException):
        stale.commit_transaction()
    assert table.refresh().properties["floe.test"] == "1"


def test_staged_updates_is_a_new_tuple_after_every_change(table) -> None:
    from pyiceberg.table.update import SetPropertiesUpdate

    transaction = table.transaction()
    before = compat.staged_updates(transaction)
    assert before == ()
    update = SetPropertiesUpdate(updates={"a": "1"})
    compat.stage_updates(transaction, (update,))
    after = compat.staged_updates(transaction)
    assert isinstance(after, tuple) and after is not before
    assert after[-1] == update


def test_base_metadata_is_the_table_before_the_staged_updates(table) -> None:
    from pyiceberg.table.update import SetPropertiesUpdate

    transaction = table.transaction()
    compat.stage_updates(transaction, (SetPropertiesUpdate(updates={"a": "1"}),))
    assert compat.base_metadata(transaction) is table.metadata
    assert "a" not in compat.base_metadata(transaction).properties


def test_apply_updates_gives_what_pyiceberg_stages_and_leaves_the_input_alone(table) -> None:
    from pyiceberg.table.update import SetPropertiesUpdate

    updates = (SetPropertiesUpdate(updates={"a": "1"}), SetPropertiesUpdate(updates={"b": "2"}))
    transaction = table.transaction()
    compat.stage_updates(transaction, updates)
    applied = compat.apply_updates(table.metadata, updates)
    # Equal but for the update time, which each application stamps anew.
    assert (applied.model_dump(exclude={"last_updated_ms"})
            == transaction.table_metadata.model_dump(exclude={"last_updated_ms"}))
    assert {"a": "1", "b": "2"}.items() <= applied.properties.items()
    assert "a" not in table.metadata.properties


def test_transaction_table_and_requirements_are_what_its_commit_sends(table) -> None:
    from pyiceberg.table.update import AssertTableUUID, SetPropertiesUpdate

    transaction = table.transaction()
    assert compat.transaction_table(transaction) is table
    requirement = AssertTableUUID(uuid=table.metadata.table_uuid)
    compat.stage_updates(transaction, (SetPropertiesUpdate(updates={"a": "1"}),), (requirement,))
    assert requirement in compat.staged_requirements(transaction)


# -- pyiceberg: catalogs ----------------------------------------------------------------------


def test_rest_catalog_class_prepares_the_session_every_request_goes_through() -> None:
    from requests.adapters import HTTPAdapter

    class Config(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            body = json.dumps({"defaults": {}, "overrides": {}}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    sent: list[str] = []

    class Counting(HTTPAdapter):
        def send(self, request, **kwargs):  # noqa: ANN001, ANN201 - requests' signature
            sent.append(request.url)
            return super().send(request, **kwargs)

    def prepare(session) -> None:  # noqa: ANN001
        session.mount("http://", Counting())

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Config)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        from pyiceberg.catalog.rest import RestCatalog

        cls = compat.rest_catalog_class(prepare)
        assert issubclass(cls, RestCatalog)
        cls("t", uri=f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
    assert any(url.endswith("/v1/config") for url in sent), sent


def test_sql_catalog_internals_stage_check_and_insert_as_the_embedded_catalog_commits(table) -> None:
    from pyiceberg.catalog.sql import SqlCatalog
    from pyiceberg.exceptions import CommitFailedException
    from pyiceberg.table.update import AssertTableUUID, SetPropertiesUpdate

    catalog = table.catalog
    assert isinstance(catalog, SqlCatalog)
    staged = compat.sql_update_and_stage(catalog, table, table.name(), (AssertTableUUID(uuid=table.metadata.table_uuid),),
                                         (SetPropertiesUpdate(updates={"a": "1"}),))
    assert staged.metadata.properties["a"] == "1"
    assert compat.metadata_version(catalog, staged.metadata_location) == \
        compat.metadata_version(catalog, table.metadata_location) + 1
    import uuid

    with pytest.raises(CommitFailedException):  # a failed requirement refuses the change
        compat.sql_update_and_stage(catalog, table, table.name(), (AssertTableUUID(uuid=uuid.uuid4()),), ())
    row = compat.sql_table_row(catalog, "gold", "new_table", "file:///m.json")
    assert {"catalog_name": catalog.name, "table_namespace": "gold", "table_name": "new_table",
            "metadata_location": "file:///m.json"}.items() <= row.items()


def test_rest_session_and_endpoints_are_what_the_rest_catalog_fetched(tmp_path: Path) -> None:
    import requests
    from pyiceberg.catalog.sql import SqlCatalog
    from support.iceberg_rest import RestCatalogServer

    (tmp_path / "w").mkdir()
    backing = SqlCatalog("backing", uri=f"sqlite:///{tmp_path / 'rest.db'}", warehouse=(tmp_path / "w").as_uri())
    server = RestCatalogServer(backing, warehouse="prod", client_id="floe", client_secret="s3cret").start()
    try:
        catalog = compat.rest_catalog_class(lambda session: None)(
            "t", uri=server.url, warehouse="prod", credential="floe:s3cret", scope="PRINCIPAL_ROLE:ALL",
            **{"oauth2-server-uri": f"{server.url}/v1/oauth/tokens"})
        offered = {str(endpoint) for endpoint in compat.rest_supported_endpoints(catalog)}
        assert "POST /v1/{prefix}/transactions/commit" in offered
        session = compat.rest_session(catalog)
        assert isinstance(session, requests.Session)
        # The session carries the catalog's token: a call on it is authorised.
        assert session.get(catalog.url("namespaces", prefixed=True)).status_code == 200
    finally:
        server.stop()


# -- pyiceberg: manifests and Parquet ---------------------------------------------------------


def test_filesystem_factory_builds_a_filesystem_from_the_fileios_current_properties() -> None:
    import pyarrow.fs
    from pyiceberg.io.pyarrow import PyArrowFileIO

    io = PyArrowFileIO(properties={"s3.access-key-id": "old", "s3.secret-access-key": "x",
                                   "s3.region": "us-east-1"})
    local = compat.filesystem_factory(io)("file", None)
    assert isinstance(local, pyarrow.fs.LocalFileSystem)
    first = compat.filesystem_factory(io)("s3", "bucket")
    assert isinstance(first, pyarrow.fs.S3FileSystem)
    # Uncached: a second call builds a new filesystem (the refreshing FileIO relies on it to
    # pick up new keys from the properties).
    io.properties = {**io.properties, "s3.access-key-id": "new"}
    assert compat.filesystem_factory(io)("s3", "bucket") is not first


def test_parquet_writer_options_follow_the_table_properties(tmp_path: Path) -> None:
    options = compat.parquet_writer_options({"write.parquet.compression-codec": "zstd",
                                             "write.parquet.compression-level": "3"})
    assert options["compression"] == "zstd"
    assert options["compression_level"] == 3
    data = pa.table({"x": list(range(100))})
    with pq.ParquetWriter(tmp_path / "f.parquet", data.schema, **options) as writer:
        writer.write_table(data)
    assert pq.ParquetFile(tmp_path / "f.parquet").metadata.row_group(0).column(0).compression == "ZSTD"


def test_inherit_from_manifest_fills_in_what_added_entries_leave_to_their_manifest(table) -> None:
    from pyiceberg.avro.file import AvroFile
    from pyiceberg.manifest import (DEFAULT_READ_VERSION, MANIFEST_ENTRY_SCHEMAS, DataFile,
                                    ManifestEntry)

    manifest = table.current_snapshot().manifests(table.io)[0]
    with AvroFile(table.io.new_input(manifest.manifest_path), MANIFEST_ENTRY_SCHEMAS[DEFAULT_READ_VERSION],
                  {-1: ManifestEntry, 2: DataFile}) as reader:
        raw = list(reader)
    assert raw and raw[0].sequence_number is None  # written as ADDED: inherited, not stored
    entry = compat.inherit_from_manifest(raw[0], manifest)
    assert entry.sequence_number == manifest.sequence_number
    assert entry.snapshot_id == table.current_snapshot().snapshot_id


def test_avro_file_class_and_header_are_what_floes_manifest_reader_builds_on(table) -> None:
    from floe.runtime import manifests

    assert issubclass(manifests._avro_file(), compat.avro_file_class())
    snapshot = table.current_snapshot()
    # floe's reader (a subclass using read_avro_header) reads what pyiceberg's own reader reads.
    assert ([m.manifest_path for m in manifests.of_snapshot(table.io, snapshot)]
            == [m.manifest_path for m in snapshot.manifests(table.io)])
    assert ([e.data_file.file_path for e in manifests.entries(table.io, snapshot.manifests(table.io)[0])]
            == [e.data_file.file_path for e in snapshot.manifests(table.io)[0].fetch_manifest_entry(table.io)])
    from pyiceberg.avro.decoder import new_decoder
    from pyiceberg.manifest import DEFAULT_READ_VERSION, MANIFEST_LIST_FILE_SCHEMAS

    avro = compat.avro_file_class()(table.io.new_input(snapshot.manifest_list),
                                    MANIFEST_LIST_FILE_SCHEMAS[DEFAULT_READ_VERSION])
    with avro.input_file.open() as stream:
        avro.decoder = new_decoder(stream.read())
    header = compat.read_avro_header(avro)
    assert "manifest_path" in header.meta["avro.schema"]


# -- pyarrow ----------------------------------------------------------------------------------


def test_parquet_file_metadata_has_the_statistics_of_the_written_file(tmp_path: Path) -> None:
    data = pa.table({"x": list(range(10))})
    with pq.ParquetWriter(tmp_path / "f.parquet", data.schema) as writer:
        writer.write_table(data)
    metadata = compat.parquet_file_metadata(writer)
    assert metadata.num_rows == 10
    stats = metadata.row_group(0).column(0).statistics
    assert (stats.min, stats.max) == (0, 9)


# -- Dagster ----------------------------------------------------------------------------------


def test_the_queued_run_coordinator_lives_where_dagster_yaml_names_it() -> None:
    module = importlib.import_module(compat.QUEUED_RUN_COORDINATOR_MODULE)
    from dagster import QueuedRunCoordinator

    assert module.QueuedRunCoordinator is QueuedRunCoordinator


def test_sqlite_event_log_storage_has_the_members_floes_subclass_uses(tmp_path: Path) -> None:
    base = compat.sqlite_event_log_storage()
    for member in compat.EVENT_LOG_MEMBERS:
        assert callable(getattr(base, member, None)), member
    storage = base(str(tmp_path))
    lock = compat.event_log_lock(storage)
    assert hasattr(lock, "acquire") and hasattr(lock, "release")
    assert isinstance(compat.event_log_initialized(storage), set)
    storage.dispose()


def test_dagster_stores_every_event_through_floes_event_log_connections(tmp_path: Path) -> None:
    from dagster import DagsterInstance, asset, materialize
    from floe_plugin_orchestrator_dagster.event_storage import FloeSqliteEventLogStorage

    home = tmp_path / "home"
    home.mkdir()
    runs = tmp_path / "runs"
    (home / "dagster.yaml").write_text(
        "telemetry: {enabled: false}\n"
        "event_log_storage:\n  module: floe_plugin_orchestrator_dagster.event_storage\n"
        f"  class: FloeSqliteEventLogStorage\n  config: {{base_dir: {json.dumps(str(runs))}}}\n")

    @asset
    def one() -> int:
        return 1

    with DagsterInstance.from_config(str(home)) as instance:
        storage = instance.event_log_storage
        assert isinstance(storage, FloeSqliteEventLogStorage)
        result = materialize([one], instance=instance)
        assert result.success
        # Dagster opened the run's database through floe's _connect override, and created its
        # tables through compat.event_log_init_db.
        assert result.run_id in storage._engines  # noqa: SLF001 - floe's own attribute
        assert result.run_id in compat.event_log_initialized(storage)
        assert len(storage.get_records_for_run(result.run_id).records) > 3


# -- one place --------------------------------------------------------------------------------

#: Packages whose private symbols floe may reach only through floe/runtime/compat.py.
_GUARDED = ("pyiceberg", "pyarrow", "dagster", "dagster_dbt")
#: Names through which a class reaches its own private members (``other`` in ``__eq__``).
_OWN = ("self", "cls", "other")


def _private_uses(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in _GUARDED:
            if any(part.startswith("_") for part in node.module.split(".")):
                found.append(f"{path}:{node.lineno}: from {node.module}")
            found += [f"{path}:{node.lineno}: import {alias.name}" for alias in node.names
                      if alias.name.startswith("_")]
        elif isinstance(node, ast.Import):
            found += [f"{path}:{node.lineno}: import {alias.name}" for alias in node.names
                      if alias.name.split(".")[0] in _GUARDED
                      and any(p.startswith("_") for p in alias.name.split("."))]
        elif (isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__")
              and not (isinstance(node.value, ast.Name) and node.value.id in _OWN)):
            found.append(f"{path}:{node.lineno}: ._{node.attr[1:]}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and any(
                node.value.startswith(f"{package}._") for package in _GUARDED):
            found.append(f"{path}:{node.lineno}: '{node.value}'")
    return found


def test_no_module_but_compat_reaches_for_a_private_symbol() -> None:
    sources = [*ROOT.glob("floe/**/*.py"), *ROOT.glob("plugins/*/src/**/*.py")]
    assert len(sources) > 50
    compat_module = ROOT / "floe" / "runtime" / "compat.py"
    found = [use for path in sources if path != compat_module for use in _private_uses(path)]
    assert found == [], "private symbols reached outside floe/runtime/compat.py"
    assert _private_uses(compat_module)  # the check sees the uses compat.py does have
