"""The dagster orchestrator plugin: settings, and the jobs and schedules of a product."""

from __future__ import annotations

import re

import pytest

from floe.plugins import PluginRegistry
from floe.schema.product import parse_product
from floe.testing import assert_plugin_conforms, resolve_section
from floe.yamlsafe import load_text

SETTINGS = {"run_storage": ".floe/dagster", "max_concurrent_runs": 1,
            "webserver": {"host": "127.0.0.1", "port": 3000}}


def product(yaml_text: str):
    parsed, report = parse_product(load_text(yaml_text, "floe.yaml"))
    assert parsed is not None, "\n".join(map(str, report.items))
    return parsed


def resolve(settings: dict, product_=None):
    resolved, report = resolve_section("orchestrator", "dagster", settings, product=product_)
    return resolved, [str(d) for d in report.items]


def test_dagster_honours_the_plugin_contract():
    assert_plugin_conforms(
        "orchestrator", "dagster",
        valid=[{}, {"run_storage": "state/dagster", "max_concurrent_runs": 4,
                    "webserver": {"host": "0.0.0.0", "port": 8080}}],
        invalid=[({"max_concurrent_runs": 0}, "max_concurrent_runs: max_concurrent_runs must be at "
                                              "least 1, got 0"),
                 ({"run_storage": "/var/dagster"}, "run_storage: '/var/dagster' must be a relative path"),
                 ({"webserver": {"port": 70000}}, "webserver.port: 70000 is not a TCP port (1-65535)"),
                 ({"webserver": {"host": ""}}, "webserver.host: '' is not a host name or address"),
                 ({"webserver": {"port": "3000"}}, "webserver.port: expected an integer"),
                 ({"max_runs": 2}, "unknown key 'max_runs'")],
    )


def test_the_entry_point_is_registered_by_this_distribution():
    plugin = PluginRegistry().load("orchestrator", "dagster")
    assert plugin.provenance == {"distribution": "floe-plugin-orchestrator-dagster",
                                 "version": "0.1.0"}


def test_without_a_product_only_the_settings_resolve():
    resolved, messages = resolve({})
    assert messages == []
    assert resolved.config == SETTINGS


def test_one_job_per_transform_and_single_transform_schedules_reuse_it():
    compiled = product("""
apiVersion: floe.dev/v1
kind: DataProduct
metadata: {name: customer-analytics, version: "1.0.0"}
transforms:
  - {name: core, type: dbt, path: ./dbt, select: "tag:nightly", exclude: "tag:slow"}
  - {name: marts, type: dbt, path: ./marts}
schedules:
  - {name: daily_refresh, cron: "0 6 * * *", timezone: UTC, transforms: [core]}
""")
    resolved, messages = resolve({"max_concurrent_runs": 2}, compiled)
    assert messages == []
    assert resolved.config == {
        **SETTINGS, "max_concurrent_runs": 2,
        "jobs": [
            {"name": "core", "transforms": ["core"], "select": "tag:nightly", "exclude": "tag:slow"},
            {"name": "marts", "transforms": ["marts"], "select": None, "exclude": None},
        ],
        "schedules": [
            {"name": "daily_refresh", "cron": "0 6 * * *", "timezone": "UTC", "enabled": True,
             "job": "core"},
        ],
    }


def test_schedules_of_several_or_all_transforms_get_a_job_of_their_own():
    compiled = product("""
name: sales
version: "2.0.0"
transforms:
  - {name: staging, path: ./staging}
  - {name: marts, path: ./marts}
  - {name: exports, path: ./exports}
schedules:
  - {name: nightly, cron: "0 2 * * *", timezone: Europe/Berlin, transforms: [staging, marts, staging]}
  - {name: weekly, cron: "@weekly", enabled: false}
""")
    resolved, messages = resolve({}, compiled)
    assert messages == []
    assert resolved.config["jobs"][3:] == [
        {"name": "nightly_job", "transforms": ["staging", "marts"]},
        {"name": "weekly_job", "transforms": ["staging", "marts", "exports"]},
    ]
    assert resolved.config["schedules"] == [
        {"name": "nightly", "cron": "0 2 * * *", "timezone": "Europe/Berlin", "enabled": True,
         "job": "nightly_job"},
        {"name": "weekly", "cron": "@weekly", "timezone": "UTC", "enabled": False,
         "job": "weekly_job"},
    ]


def test_the_seed_singular_schedule_of_a_one_transform_product_targets_its_job():
    compiled = product("""
name: customer-analytics
version: "1.0.0"
transforms:
  - type: dbt
    path: ./dbt
schedule:
  cron: "0 6 * * *"
""")
    resolved, _ = resolve({}, compiled)
    assert resolved.config["jobs"] == [{"name": "dbt", "transforms": ["dbt"], "select": None,
                                        "exclude": None}]
    assert resolved.config["schedules"] == [{"name": "default", "cron": "0 6 * * *",
                                             "timezone": "UTC", "enabled": True, "job": "dbt"}]


def test_names_are_made_valid_and_unique_deterministically():
    compiled = product("""
name: orders
version: "1.0.0"
transforms:
  - {name: customer-orders, path: ./a}
  - {name: customer_orders, path: ./b}
  - {name: config, path: ./c}
  - {name: daily.load, path: ./d}
schedules:
  - {name: daily-refresh, cron: "0 6 * * *", transforms: [customer-orders]}
  - {name: daily_refresh, cron: "0 7 * * *", transforms: [config, customer_orders]}
  - {name: class, cron: "0 8 * * *", transforms: [daily.load]}
""")
    resolved, messages = resolve({}, compiled)
    assert messages == []
    jobs = [(job["name"], job["transforms"]) for job in resolved.config["jobs"]]
    assert jobs == [
        ("customer_orders_2", ["customer-orders"]),  # a name valid as written keeps it
        ("customer_orders", ["customer_orders"]),
        ("config_job", ["config"]),
        ("daily_load", ["daily.load"]),
        ("daily_refresh_job", ["config", "customer_orders"]),
    ]
    schedules = [(s["name"], s["job"]) for s in resolved.config["schedules"]]
    assert schedules == [("daily_refresh", "customer_orders_2"),
                         ("daily_refresh_2", "daily_refresh_job"),
                         ("class_schedule", "daily_load")]
    valid = re.compile(r"[A-Za-z0-9_]+")
    for name in [j for j, _ in jobs] + [s for s, _ in schedules]:
        assert valid.fullmatch(name)
    assert resolve({}, compiled)[0] == resolved


@pytest.mark.parametrize("raw, expected", [
    ("daily-refresh", "daily_refresh"), ("a b", "a_b"), ("ok_1", "ok_1"), ("", "job"),
    ("type", "type_job"), ("for", "for_job"), ("café", "caf_"),
])
def test_dagster_name(raw, expected):
    from floe_plugin_orchestrator_dagster.plugin import dagster_name

    assert dagster_name(raw, "job") == expected


def test_the_dagster_home_floe_writes_queues_ui_runs_and_keeps_floes_event_log(tmp_path):
    from types import SimpleNamespace

    from dagster._core.run_coordinator import QueuedRunCoordinator

    from floe_plugin_orchestrator_dagster.definitions import instance
    from floe_plugin_orchestrator_dagster.event_storage import FloeSqliteEventLogStorage

    context = SimpleNamespace(path=lambda relative: tmp_path / relative)  # what instance() reads
    with instance(context, {"run_storage": ".floe/dagster", "max_concurrent_runs": 3}) as dagster:
        assert isinstance(dagster.run_coordinator, QueuedRunCoordinator)
        assert dagster.run_coordinator.get_run_queue_config().max_concurrent_runs == 3
        assert isinstance(dagster.event_log_storage, FloeSqliteEventLogStorage)
    assert (tmp_path / ".floe/dagster/history/runs/index.db").is_file()
