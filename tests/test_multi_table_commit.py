"""One commit for many tables: the embedded catalog's database transaction, the Iceberg REST
multi-table commit (against the REST stand-in on 127.0.0.1), the per-table fallback, and the
journal that lets the next run delete what a killed one wrote. Tables are read back with plain
pyiceberg."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.catalog.sql import SqlCatalog

from floe.builtin.catalog_sqlite import embedded_catalog
from floe.diagnostics import FloeError
from floe.runtime.journal import Journal, sweep
from floe.runtime.publish import Publisher, publish, stage_table
from floe_plugin_catalog_polaris.runtime import _RestCatalog
from support.iceberg_rest import RestCatalogServer

REST = {"timeouts": {"connect_seconds": 5, "read_seconds": 30}, "retries": 0, "tls": {}}


@pytest.fixture
def server(tmp_path):
    (tmp_path / "rest-warehouse").mkdir()
    backing = SqlCatalog("backing", uri=f"sqlite:///{tmp_path / 'rest.db'}",
                         warehouse=(tmp_path / "rest-warehouse").as_uri())
    server = RestCatalogServer(backing, warehouse="prod", client_id="floe", client_secret="s3cret").start()
    yield server
    server.stop()


def rest_catalog(server):
    return _RestCatalog(REST)("polaris", uri=server.url, warehouse="prod", credential="floe:s3cret",
                              scope="PRINCIPAL_ROLE:ALL", **{"oauth2-server-uri": f"{server.url}/v1/oauth/tokens"})


@pytest.fixture(params=["embedded", "pyiceberg", "rest", "rest-without-transactions"])
def catalog(request, tmp_path):
    """Every kind of catalog a run commits to: the one-commit kinds and the fallback kinds."""
    (tmp_path / "warehouse").mkdir()
    if request.param.startswith("rest"):
        server = request.getfixturevalue("server")
        server.multi_table_commit = request.param == "rest"
        return rest_catalog(server)
    make = SqlCatalog if request.param == "pyiceberg" else embedded_catalog
    return make("test", uri=f"sqlite:///{tmp_path / 'catalog.db'}", warehouse=(tmp_path / "warehouse").as_uri())


def publish_run(catalog, value, names=("a", "b", "c"), journal=None):
    publisher = Publisher(catalog, journal=journal)
    for name in names:
        publisher.submit(name, lambda name=name: stage_table(catalog, "gold", name, pa.table({"v": [value]}),
                                                       asset=name, journal=journal))
    return publisher.commit(), publisher.how


def values(catalog, name):
    return catalog.load_table(f"gold.{name}").scan().to_arrow().column("v").to_pylist()


def test_a_run_reports_whether_its_tables_went_in_one_catalog_commit(catalog, request):
    _, first = publish_run(catalog, 1)  # creates
    results, second = publish_run(catalog, 2)
    one = request.node.callspec.params["catalog"] in ("embedded", "rest")
    assert first == second
    assert first == "one catalog commit" if one else first.startswith("one commit per table (")
    for name in "abc":
        assert values(catalog, name) == [2]
        assert catalog.load_table(f"gold.{name}").current_snapshot().snapshot_id == results[name].snapshot_id


def test_losing_a_concurrent_commit_on_several_tables_names_every_one(catalog, request):
    publish_run(catalog, 1)
    staged_run = Publisher(catalog)
    for name in "abc":
        staged_run.submit(name, lambda name=name: stage_table(catalog, "gold", name, pa.table({"v": [3]}), asset=name))
    staged_run.wait()
    # Another writer commits to a and c between this run's staging and its commit.
    for name in "ac":
        publish(catalog, "gold", name, pa.table({"v": [2]}), asset=name)
    with pytest.raises(FloeError) as failure:
        staged_run.commit()
    message = str(failure.value)
    assert "gold.a" in message and "gold.c" in message and "changed by another writer" in message
    one = request.node.callspec.params["catalog"] in ("embedded", "rest")
    if one:
        # One commit: b is not committed either; every table is as the other writer left it.
        assert "no table of this run was committed" in message and "gold.b" not in message
        assert [values(catalog, n) for n in "abc"] == [[2], [1], [2]]
    else:
        assert "other tables were committed" in message
        assert [values(catalog, n) for n in "abc"] == [[2], [3], [2]]


def test_the_rest_stand_in_applies_a_transaction_whole_or_answers_409_with_nothing_applied(server):
    catalog = rest_catalog(server)
    publish_run(catalog, 1)
    token = server.issue_token()

    def post(changes):
        request = urllib.request.Request(f"{server.url}/v1/transactions/commit", method="POST",
                                         data=json.dumps({"table-changes": changes}).encode(),
                                         headers={"Authorization": f"Bearer {token}",
                                                  "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request) as response:
                return response.status, None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def change(name, uuid, key, value):
        return {"identifier": {"namespace": ["gold"], "name": name},
                "requirements": [{"type": "assert-table-uuid", "uuid": uuid}],
                "updates": [{"action": "set-properties", "updates": {key: value}}]}

    a, b = (catalog.load_table(f"gold.{n}") for n in "ab")
    status, body = post([change("a", str(a.metadata.table_uuid), "owner", "x"),
                         change("b", "00000000-0000-0000-0000-000000000000", "owner", "x")])
    assert status == 409 and body["error"]["type"] == "CommitFailedException"
    assert "gold.b" in body["error"]["message"] and "gold.a" not in body["error"]["message"]
    assert "owner" not in catalog.load_table("gold.a").properties  # nothing applied
    status, _ = post([change("a", str(a.metadata.table_uuid), "owner", "x"),
                      change("b", str(b.metadata.table_uuid), "owner", "y")])
    assert status == 204
    assert [catalog.load_table(f"gold.{n}").properties["owner"] for n in "ab"] == ["x", "y"]
    config = urllib.request.Request(f"{server.url}/v1/config?warehouse=prod",
                                    headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(config) as response:
        assert "POST /v1/{prefix}/transactions/commit" in json.loads(response.read())["endpoints"]


def test_the_next_run_deletes_what_a_killed_run_staged_and_keeps_what_it_committed(tmp_path):
    (tmp_path / "warehouse").mkdir()
    catalog = embedded_catalog("test", uri=f"sqlite:///{tmp_path / 'catalog.db'}",
                               warehouse=(tmp_path / "warehouse").as_uri())
    journals = tmp_path / "publish"
    publish_run(catalog, 1, journal=Journal(journals))
    files = sorted(p for p in (tmp_path / "warehouse").rglob("*") if p.is_file())
    # A run killed after staging (data files, manifests written; no commit, no cleanup): its
    # journal stays behind, as SIGKILL would leave it.
    killed = Publisher(catalog, journal=Journal(journals))
    for name in ("a", "b", "new"):
        killed.submit(name, lambda name=name: stage_table(catalog, "gold", name, pa.table({"v": [9]}),
                                                    asset=name, journal=killed.journal))
    killed.wait()
    assert len(list((tmp_path / "warehouse").rglob("*.parquet"))) > len([f for f in files if f.suffix == ".parquet"])
    deleted = sweep(catalog, journals)
    assert deleted > 0 and not list(journals.glob("*.journal"))
    assert sorted(p for p in (tmp_path / "warehouse").rglob("*") if p.is_file() and "new.db" not in str(p)) == files
    assert not list((tmp_path / "warehouse").rglob("*new*/**/*.parquet"))
    # A journal of a run that committed before it was killed keeps the files it committed.
    journal = Journal(journals)
    publish_run(catalog, 2, journal=journal)
    journal.path.write_text(json.dumps(["gold.a", "w", catalog.load_table("gold.a").metadata_location]) + "\n")
    sweep(catalog, journals)
    assert values(catalog, "a") == [2]
    assert Path(catalog.load_table("gold.a").metadata_location.removeprefix("file://")).exists()
