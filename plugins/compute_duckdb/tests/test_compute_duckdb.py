"""The duckdb compute plugin: its settings, the dbt target it resolves to, and its errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from floe.plugins import PluginRegistry
from floe.testing import assert_plugin_conforms, resolve_section


def resolve(settings: dict):
    resolved, report = resolve_section("compute", "duckdb", settings)
    return resolved, [str(d) for d in report.items]


def test_duckdb_honours_the_plugin_contract():
    assert_plugin_conforms(
        "compute", "duckdb",
        valid=[{}, {"properties": {"threads": 4, "memory_limit": "4GB"}},
               {"path": "data/x.duckdb", "threads": 2, "memory_limit": "80%",
                "settings": {"preserve_insertion_order": False}, "extensions": ["iceberg"]}],
        invalid=[({"threads": 0}, "threads: threads must be at least 1"),
                 ({"threads": "4"}, "threads: expected an integer"),
                 ({"memory_limit": "4 gigs"}, "memory_limit: '4 gigs' is not a memory size"),
                 ({"memory_limit": "120%"}, "is not a memory size"),
                 ({"path": "/var/db.duckdb"}, "path: '/var/db.duckdb' must be a relative path"),
                 ({"path": "../db.duckdb"}, "must be a relative path"),
                 ({"properties": {"cpus": 4}}, "properties.cpus: unknown key 'cpus'"),
                 ({"thread": 4}, "unknown key 'thread' (did you mean 'threads'?)")],
    )


def test_the_entry_point_is_registered_by_this_distribution():
    plugin = PluginRegistry().load("compute", "duckdb")
    assert plugin.provenance == {"distribution": "floe-plugin-compute-duckdb", "version": "0.1.0"}


def test_defaults_resolve_to_a_database_inside_the_product():
    resolved, messages = resolve({})
    assert messages == []
    assert resolved.config == {
        "database": ".floe/floe.duckdb",
        "dbt_profile": {"type": "duckdb", "path": ".floe/floe.duckdb"},
    }


def test_seed_properties_resolve_like_top_level_keys():
    seed, _ = resolve({"properties": {"threads": 4, "memory_limit": "4GB"}})
    flat, _ = resolve({"threads": 4, "memory_limit": "4GB"})
    assert seed.config == flat.config == {
        "database": ".floe/floe.duckdb",
        "dbt_profile": {"type": "duckdb", "path": ".floe/floe.duckdb", "threads": 4,
                        "settings": {"memory_limit": "4GB", "threads": 4}},
    }


def test_full_profile_is_sorted_and_deduplicated():
    resolved, messages = resolve({
        "path": "warehouse/analytics.duckdb", "threads": 8,
        "settings": {"preserve_insertion_order": False, "enable_progress_bar": True,
                     "temp_directory": ".floe/tmp", "index_scan_percentage": 0.5},
        "extensions": ["parquet", "iceberg", "httpfs", "iceberg"],
    })
    assert messages == []
    assert resolved.config == {
        "database": "warehouse/analytics.duckdb",
        "dbt_profile": {
            "type": "duckdb", "path": "warehouse/analytics.duckdb", "threads": 8,
            "settings": {"enable_progress_bar": True, "index_scan_percentage": 0.5,
                         "preserve_insertion_order": False, "temp_directory": ".floe/tmp",
                         "threads": 8},
            "extensions": ["httpfs", "iceberg", "parquet"],
        },
    }
    assert list(resolved.config["dbt_profile"]["settings"]) == sorted(
        resolved.config["dbt_profile"]["settings"])


@pytest.mark.parametrize("limit", ["4GB", "512MB", "1.5GiB", "4 gb", "100%", "1%", "80%"])
def test_memory_limit_accepts_sizes_and_shares(limit):
    resolved, messages = resolve({"memory_limit": limit})
    assert messages == []
    assert resolved.config["dbt_profile"]["settings"] == {"memory_limit": limit}


@pytest.mark.parametrize("limit", ["4", "GB", "0%", "101%", "-1GB", "4PB", "lots"])
def test_memory_limit_refuses_other_forms(limit):
    resolved, messages = resolve({"memory_limit": limit})
    assert resolved is None
    assert messages == [f"platform.yaml: compute.default.memory_limit: '{limit}' is not a memory "
                        "size: write an amount with a unit, e.g. 4GB, 512MB, 1.5GiB, or a share of "
                        "RAM from 1% to 100%, e.g. 80%"]


def test_unsupported_extension_is_refused_with_the_list():
    resolved, messages = resolve({"extensions": ["iceberg", "spatial"]})
    assert resolved is None
    assert messages == ["platform.yaml: compute.default.extensions[1]: 'spatial' is not one of "
                        "avro, httpfs, iceberg, json, parquet"]


def test_a_limit_set_in_both_places_names_both_paths():
    resolved, messages = resolve({"threads": 2, "properties": {"threads": 4}})
    assert resolved is None
    assert messages == ["platform.yaml: compute.default.properties.threads: threads is set twice, "
                        "at compute.default.threads and at compute.default.properties.threads; "
                        "keep one of them"]


def test_bad_settings_are_each_reported_at_their_key():
    resolved, messages = resolve({"settings": {"memory_limit": "1GB", "bad-name": 1,
                                               "nested": {"a": 1}, "empty": None}})
    assert resolved is None
    assert messages == [
        "platform.yaml: compute.default.settings.memory_limit: set memory_limit with the profile's "
        "own 'memory_limit:' key, not under settings",
        "platform.yaml: compute.default.settings.bad-name: 'bad-name' is not a DuckDB setting name "
        "(letters, digits and '_'), e.g. preserve_insertion_order",
        "platform.yaml: compute.default.settings.nested: a DuckDB setting takes a string, number or "
        "true/false, e.g. preserve_insertion_order: false, or {secret_ref: <name>} for a secret",
        "platform.yaml: compute.default.settings.empty: a DuckDB setting takes a string, number or "
        "true/false, e.g. preserve_insertion_order: false, or {secret_ref: <name>} for a secret",
    ]


def test_compute_takes_no_credentials():
    resolved, messages = resolve({"credentials": {"mode": "static", "access_key_id": "x",
                                                  "secret_access_key": {"secret_ref": "k"}}})
    assert resolved is None
    assert messages == ["platform.yaml: compute.default.credentials: duckdb compute takes no "
                        "credentials: it runs inside floe's own process; remove the block"]


def test_loading_the_plugin_does_not_import_duckdb():
    code = ("import sys; from floe.plugins import PluginRegistry; "
            "PluginRegistry().load('compute', 'duckdb'); "
            "print(sorted(m for m in ('duckdb', 'dbt', 'dagster', 'pyiceberg') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- values DuckDB would refuse only seconds into a run -----------------------------------------


@pytest.mark.parametrize("threads", [10 ** 29, 4097])
def test_more_threads_than_duckdb_can_use_are_refused_at_compile(threads):
    resolved, messages = resolve({"threads": threads})
    assert resolved is None
    assert messages == [f"platform.yaml: compute.default.threads: threads must be at most 4096, got "
                        f"{threads}; write the number of cores DuckDB may use, e.g. 4, or leave it "
                        "out to use every core"]


@pytest.mark.parametrize("limit", ["0GB", "1B", "16MB", "0.01GB"])
def test_a_memory_limit_too_small_to_build_a_table_is_refused(limit):
    resolved, messages = resolve({"memory_limit": limit})
    assert resolved is None
    assert messages == [f"platform.yaml: compute.default.memory_limit: memory_limit {limit} is too "
                        "small for DuckDB to build tables (it fails with 'Out of Memory' below "
                        "32MB); write e.g. 512MB or 4GB"]


def test_a_memory_limit_duckdb_cannot_represent_is_refused():
    resolved, messages = resolve({"memory_limit": "99999999999999999999TB"})
    assert resolved is None
    assert messages == ["platform.yaml: compute.default.memory_limit: memory_limit "
                        "99999999999999999999TB is larger than DuckDB can represent; write what "
                        "the machine has, e.g. 64GB, or a share of RAM such as 80%"]


@pytest.mark.parametrize("path", [".floe", ".floe/", "./.floe", "data/", ".floe/catalog.db",
                                  ".floe/warehouse", ".floe/dagster", ".floe/publish", ".floe/package"])
def test_a_database_path_that_is_a_folder_or_floes_own_is_refused(path):
    resolved, messages = resolve({"path": path})
    assert resolved is None
    assert len(messages) == 1 and messages[0].startswith("platform.yaml: compute.default.path: "), messages
    assert "e.g. .floe/warehouse.duckdb" in messages[0]


def test_an_unknown_duckdb_setting_is_refused_with_the_closest_name():
    resolved, messages = resolve({"settings": {"preserve_insertion_ordr": False}})
    assert resolved is None
    from floe_plugin_compute_duckdb.setting_names import DUCKDB_VERSION

    assert messages == ["platform.yaml: compute.default.settings.preserve_insertion_ordr: "
                        f"'preserve_insertion_ordr' is not a DuckDB {DUCKDB_VERSION} setting (did you mean "
                        "'preserve_insertion_order'?); see SELECT name FROM duckdb_settings() for "
                        "the full list"]


def test_settings_of_the_extensions_floe_installs_are_known():
    resolved, messages = resolve({"settings": {"s3_region": "eu-west-1", "http_timeout": 30,
                                               "TimeZone": "UTC"}})
    assert messages == []
    assert resolved.config["dbt_profile"]["settings"] == {"TimeZone": "UTC", "http_timeout": 30,
                                                          "s3_region": "eu-west-1"}
