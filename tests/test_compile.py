"""`floe compile`: floe.yaml + platform.yaml → .floe/compiled_artifacts.json."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import jsonschema
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import floe
from floe.artifacts import CONTRACT_VERSION, CompiledArtifacts
from floe.diagnostics import FloeError

ARTIFACTS = Path(".floe") / "compiled_artifacts.json"


def _compile(demo: Path, **options) -> CompiledArtifacts:
    return floe.compile(str(demo / "floe.yaml"), **options).artifacts


def test_compile_writes_the_resolved_contract(demo, run_cli):
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 0, result.output
    assert "compute      default   -> duckdb  (floe-plugin-compute-duckdb" in result.stdout
    data = json.loads((demo / ARTIFACTS).read_text())
    assert data["contract_version"] == CONTRACT_VERSION
    assert data["product"]["name"] == "customer-analytics"
    assert data["platform"]["name"] == "laptop"
    assert data["platform"]["source"] == "platform/local/platform.yaml"
    assert data["platform"]["digest"].startswith("sha256:")
    assert data["profiles"]["catalog"] == {
        "profile": "default", "type": "sqlite",
        "plugin": {"distribution": "floe", "version": floe.__version__},
        "config": {"name": "floe", "path": ".floe/catalog.db"}}
    assert data["profiles"]["compute"]["plugin"]["distribution"] == "floe-plugin-compute-duckdb"
    output = data["dbt"]["profiles"]["customer-analytics"]["outputs"]["floe"]
    assert output["type"] == "duckdb" and output["threads"] == 2
    assert data["dbt"]["transforms"][0]["project_dir"] == "dbt"
    assert data["schedules"] == [{"name": "daily_refresh", "cron": "0 6 * * *", "timezone": "UTC",
                                  "transforms": ["core"], "enabled": True}]
    assert data["orchestrator"]["type"] == "dagster"
    assert data["observability"]["attributes"] == {"service.name": "customer-analytics"}


def test_artifacts_validate_against_the_exported_schema(demo, run_cli, tmp_path):
    assert run_cli(["compile"], cwd=demo).exit_code == 0
    assert run_cli(["schema", "export", "--output", tmp_path / "schemas"]).exit_code == 0
    schema = json.loads((tmp_path / "schemas" / "compiled-artifacts.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    data = json.loads((demo / ARTIFACTS).read_text())
    jsonschema.validate(data, schema)
    data["profiles"]["catalog"].pop("plugin")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(data, schema)


def test_exported_yaml_schemas_accept_the_example_files(demo, tmp_path, run_cli):
    assert run_cli(["schema", "export", "--output", tmp_path]).exit_code == 0
    product = json.loads((tmp_path / "floe.schema.json").read_text())
    platform = json.loads((tmp_path / "platform.schema.json").read_text())
    jsonschema.validate(yaml.safe_load((demo / "floe.yaml").read_text()), product)
    jsonschema.validate(yaml.safe_load((demo / "platform/local/platform.yaml").read_text()), platform)
    bad = yaml.safe_load((demo / "platform/local/platform.yaml").read_text())
    bad["compute"]["default"]["thread"] = 2
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, platform)


def test_artifacts_round_trip_through_the_python_api(demo):
    result = floe.compile(str(demo / "floe.yaml"))
    again = floe.CompiledArtifacts.read(result.path)
    assert again == result.artifacts
    assert again.to_json() == result.path.read_text()


def test_an_incompatible_contract_version_is_refused(demo):
    result = floe.compile(str(demo / "floe.yaml"))
    data = json.loads(result.path.read_text())
    data["contract_version"] = "2.0.0"
    with pytest.raises(FloeError, match="contract_version 2.0.0 cannot be read"):
        CompiledArtifacts.from_json(json.dumps(data))


def test_compile_is_byte_identical_for_identical_inputs(demo, tmp_path):
    first = floe.compile(str(demo / "floe.yaml")).path.read_bytes()
    moved = tmp_path / "elsewhere"
    shutil.copytree(demo, moved, ignore=shutil.ignore_patterns(".floe"))
    second = floe.compile(str(moved / "floe.yaml")).path.read_bytes()
    assert first == second


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(version=st.from_regex(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", fullmatch=True),
       owner=st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=12),
       threads=st.integers(min_value=1, max_value=64))
def test_same_inputs_give_the_same_bytes_and_hash(demo, version, owner, threads):
    product = yaml.safe_load((demo / "floe.yaml").read_text())
    product["metadata"].update(version=version, owner=owner)
    (demo / "floe.yaml").write_text(yaml.safe_dump(product))
    platform_file = demo / "platform/local/platform.yaml"
    platform = yaml.safe_load(platform_file.read_text())
    platform["compute"]["default"]["threads"] = threads
    platform_file.write_text(yaml.safe_dump(platform))
    first = floe.compile(str(demo / "floe.yaml")).path.read_bytes()
    second = floe.compile(str(demo / "floe.yaml")).path.read_bytes()
    assert first == second
    data = json.loads(first)
    assert data["product"]["version"] == version
    assert data["dbt"]["profiles"]["customer-analytics"]["outputs"]["floe"]["threads"] == threads


def test_source_hash_changes_when_an_input_changes(demo):
    before = _compile(demo).source_hash
    platform_file = demo / "platform/local/platform.yaml"
    platform_file.write_text(platform_file.read_text().replace("threads: 2", "threads: 3"))
    assert _compile(demo).source_hash != before


SECRET_PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {name: prod, version: "2.0.0"}
storage:
  default:
    type: s3
    bucket: lake
    region: eu-west-1
    credentials:
      mode: static
      access_key_id: {secret_ref: s3-keys, key: access-key-id}
      secret_access_key: {secret_ref: s3-keys, key: secret-access-key}
catalogs:
  default:
    type: polaris
    uri: https://polaris.example.com/api/catalog
    warehouse: prod
    credentials:
      mode: oauth2
      client_id: floe
      client_secret: {secret_ref: polaris-oauth}
      scope: PRINCIPAL_ROLE:DATA_ENGINEER
compute:
  default: {type: duckdb}
"""


def test_artifacts_hold_secret_refs_never_values(demo, monkeypatch):
    (demo / "platform" / "prod").mkdir()
    (demo / "platform" / "prod" / "platform.yaml").write_text(SECRET_PLATFORM)
    monkeypatch.setenv("POLARIS_OAUTH", "canary-value-that-must-not-leak")
    result = floe.compile(str(demo / "floe.yaml"), env="prod")
    text = result.path.read_text()
    assert "canary-value-that-must-not-leak" not in text
    refs = json.loads(text)["secret_refs"]
    assert refs == [{"secret_ref": "polaris-oauth", "key": None},
                    {"secret_ref": "s3-keys", "key": "access-key-id"},
                    {"secret_ref": "s3-keys", "key": "secret-access-key"}]


def test_a_literal_secret_in_platform_yaml_is_refused_without_echoing_it(demo, run_cli):
    platform_file = demo / "platform/local/platform.yaml"
    (demo / "platform" / "prod").mkdir()
    (demo / "platform" / "prod" / "platform.yaml").write_text(
        SECRET_PLATFORM.replace("client_secret: {secret_ref: polaris-oauth}", "client_secret: hunter2-literal"))
    result = run_cli(["compile", "--env", "prod"], cwd=demo)
    assert result.exit_code == 1
    assert "hunter2-literal" not in result.output
    assert ("platform/prod/platform.yaml:21:7: catalogs.default.credentials.client_secret: a literal "
            "value is not allowed in a sensitive field") in result.stderr
    assert not (demo / ARTIFACTS).exists()
    assert platform_file.exists()


def test_unknown_profile_lists_the_profiles_the_platform_defines(demo, run_cli):
    floe_yaml = demo / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text().replace("catalog: default", "catalog: analytics"))
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert ("floe.yaml:11:3: profiles.catalog: platform 'laptop' defines no catalog profile "
            "'analytics'; it defines: default") in result.stderr
    assert not (demo / ARTIFACTS).exists()


def test_a_failed_compile_leaves_previous_artifacts_untouched(demo, run_cli):
    assert run_cli(["compile"], cwd=demo).exit_code == 0
    before = (demo / ARTIFACTS).read_bytes()
    platform_file = demo / "platform/local/platform.yaml"
    platform_file.write_text(platform_file.read_text().replace("type: duckdb", "type: duckdbb"))
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert "did you mean 'duckdb'?" in result.stderr
    assert (demo / ARTIFACTS).read_bytes() == before
    assert [p.name for p in (demo / ".floe").iterdir() if p.suffix == ".tmp"] == []


def test_errors_of_both_files_are_reported_at_once(demo, run_cli):
    floe_yaml = demo / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text().replace("cron: \"0 6 * * *\"", "cron: \"0 25 * * *\""))
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert "schedules[0].cron: cron '0 25 * * *': '25' is not valid in the hour field (0-23)" in result.stderr


def test_unapproved_plugin_type_fails_naming_profile_and_approved_list(demo, run_cli):
    platform_file = demo / "platform/local/platform.yaml"
    platform_file.write_text(platform_file.read_text().replace("compute: [duckdb]", "compute: [spark]"))
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert ("profiles.compute: compute profile 'default' (duckdb) uses a plugin type the platform "
            "has not approved; approved compute types: spark") in result.stderr


def test_missing_dbt_project_is_reported_at_the_transform(demo, run_cli):
    shutil.rmtree(demo / "dbt")
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert "transforms[0].path: no dbt project at './dbt'" in result.stderr


class TestPlatformDiscovery:
    def test_explicit_platform_wins(self, demo, run_cli, tmp_path):
        other = tmp_path / "other.yaml"
        other.write_text((demo / "platform/local/platform.yaml").read_text().replace("name: laptop", "name: other"))
        assert run_cli(["compile", "--platform", other], cwd=demo).exit_code == 0
        assert json.loads((demo / ARTIFACTS).read_text())["platform"]["name"] == "other"

    def test_floe_yaml_platform_ref_comes_next(self, demo, run_cli, monkeypatch):
        (demo / "shared-platform.yaml").write_text(
            (demo / "platform/local/platform.yaml").read_text().replace("name: laptop", "name: pinned"))
        floe_yaml = demo / "floe.yaml"
        floe_yaml.write_text(floe_yaml.read_text() + "platform: {ref: shared-platform.yaml}\n")
        monkeypatch.setenv("FLOE_PLATFORM_FILE", "does-not-matter.yaml")
        assert run_cli(["compile"], cwd=demo).exit_code == 0
        assert json.loads((demo / ARTIFACTS).read_text())["platform"]["name"] == "pinned"

    def test_environment_variable_then_env_directory(self, demo, run_cli, monkeypatch):
        staging = demo / "platform" / "staging"
        staging.mkdir()
        (staging / "platform.yaml").write_text(
            (demo / "platform/local/platform.yaml").read_text().replace("name: laptop", "name: staging"))
        monkeypatch.setenv("FLOE_ENV", "staging")
        assert run_cli(["compile"], cwd=demo).exit_code == 0
        assert json.loads((demo / ARTIFACTS).read_text())["platform"]["name"] == "staging"
        assert run_cli(["compile", "--env", "local"], cwd=demo).exit_code == 0
        assert json.loads((demo / ARTIFACTS).read_text())["platform"]["name"] == "laptop"

    def test_missing_environment_says_what_was_tried(self, demo, run_cli):
        result = run_cli(["compile", "--env", "prod"], cwd=demo)
        assert result.exit_code == 1
        assert "no platform file found for environment 'prod'" in result.stderr
        assert "environments here: local" in result.stderr

    def test_oci_reference_is_pulled_and_an_unreachable_registry_is_a_clear_error(self, demo, run_cli,
                                                                                  tmp_path, monkeypatch):
        # Pulling for real is tested against a real registry in test_releases.py.
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        monkeypatch.setenv("FLOE_CACHE_DIR", str(tmp_path / "cache"))
        result = run_cli(["compile", "--platform", f"oci://127.0.0.1:{port}/p:v1"], cwd=demo)
        assert result.exit_code == 1
        assert f"--platform 'oci://127.0.0.1:{port}/p:v1': cannot reach registry 127.0.0.1:{port}" in result.stderr


def test_usage_errors_exit_2(run_cli, demo):
    assert run_cli(["compile", "--no-such-option"], cwd=demo).exit_code == 2
    assert run_cli(["compile", "--format", "xml"], cwd=demo).exit_code == 2


def test_json_output_for_ci(demo, run_cli):
    result = run_cli(["compile", "--format", "json"], cwd=demo)
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["ok"] is True and data["source_hash"].startswith("sha256:")
