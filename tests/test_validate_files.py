"""`floe validate` and `floe platform validate`: strict schemas, located errors, all at once."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import SEED_EXAMPLES

import floe.schema.product  # noqa: F401 - registers nothing, but keeps imports explicit
from floe.schema.product import cron_problem


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_the_example_product_and_platform_validate(run_cli, demo):
    result = run_cli(["validate", "floe.yaml", "platform/local/platform.yaml"], cwd=demo)
    assert result.exit_code == 0, result.output
    assert "floe.yaml: ok (product)" in result.stdout
    assert "platform/local/platform.yaml: ok (platform)" in result.stdout


def test_every_mistake_is_reported_at_once_with_position_path_and_hint(run_cli, tmp_path):
    path = _write(tmp_path, "platform.yaml", """\
apiVersion: floe.dev/v1
kind: Platform
catalogs:
  default:
    type: polaris
    uri: https://polaris:8181/api/catalog
    warehouse: prod
    credentials:
      mode: oauth
      client_id: floe
compute:
  default:
    type: duckdb
    thread: 4
data_architecture:
  naming: {enforcement: strictt}
""")
    result = run_cli(["platform", "validate", path])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert (f"{path}:9:7: catalogs.default.credentials.mode: no credentials plugin 'oauth' is "
            "installed (did you mean 'oauth2'?)") in lines[0] + "".join(lines)
    assert any(line.startswith(f"{path}:14:5: compute.default.thread: unknown key 'thread' "
                               "(did you mean 'threads'?)") for line in lines)
    assert any(line.startswith(f"{path}:16:12: data_architecture.naming.enforcement: 'strictt' is not "
                               "one of off, warn, strict (did you mean 'strict'?)") for line in lines)
    assert "Traceback" not in result.output


def test_json_format_lists_diagnostics_for_machines(run_cli, tmp_path):
    path = _write(tmp_path, "floe.yaml", "apiVersion: floe.dev/v1\nkind: DataProduct\n"
                  "metadata: {name: Bad Name, version: '1'}\ntransforms: [{name: a, path: .}]\n")
    result = run_cli(["validate", path, "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False
    diag = data["files"][0]["diagnostics"][0]
    assert diag["path"] == "metadata.name" and diag["line"] == 3 and diag["severity"] == "error"
    assert "not a valid name" in diag["message"]


@pytest.mark.parametrize("key, hint", [
    ("uri", "move 'uri' to platform.yaml"),
    ("token", "move 'token' to platform.yaml"),
    ("credentials", "move 'credentials' to platform.yaml"),
])
def test_infrastructure_in_floe_yaml_points_to_platform_yaml(run_cli, tmp_path, key, hint):
    path = _write(tmp_path, "floe.yaml", f"""\
name: p
version: "1"
transforms:
  - path: ./dbt
    {key}: something
""")
    result = run_cli(["validate", path])
    assert result.exit_code == 1
    assert f"{path}:5:5: transforms[0].{key}:" in result.stderr
    assert hint in result.stderr


def test_secret_looking_strings_in_floe_yaml_are_refused(run_cli, tmp_path):
    path = _write(tmp_path, "floe.yaml", """\
name: p
version: "1"
transforms: [{path: ./dbt}]
observability:
  attributes:
    deploy.key: "AKIAIOSFODNN7EXAMPLE"
""")
    result = run_cli(["validate", path])
    assert result.exit_code == 1
    assert f"{path}:6:5: observability.attributes.deploy.key: looks like a secret (AWS Access Key)" in result.stderr
    assert "AKIAIOSFODNN7EXAMPLE" not in result.output


def test_secret_refs_that_look_like_paths_are_refused(run_cli, tmp_path):
    path = _write(tmp_path, "platform.yaml", """\
catalogs:
  default:
    type: polaris
    uri: https://polaris/api/catalog
    warehouse: w
    credentials:
      mode: oauth2
      client_id: floe
      client_secret: {secret_ref: ../../etc/shadow}
""")
    result = run_cli(["platform", "validate", path])
    assert result.exit_code == 1
    assert "catalogs.default.credentials.client_secret: secret_ref '../../etc/shadow' looks like a path" in result.stderr


def test_flat_seed_forms_normalise_to_the_canonical_product(tmp_path):
    from floe.schema.product import parse_product
    from floe.yamlsafe import load_text

    product, report = parse_product(load_text("""\
name: sales-analytics
version: "1.0.0"
storage: default
catalog: lake
transforms:
  - name: raw_to_bronze
    type: dbt
    project: sales_dbt
    models:
      - path: models/bronze/*.sql
schedule:
  cron: "0 6 * * *"
""", "floe.yaml"))
    assert report.items == []
    assert product.metadata.name == "sales-analytics" and product.metadata.version == "1.0.0"
    assert (product.profiles.storage, product.profiles.catalog, product.profiles.compute) == ("default", "lake", "default")
    assert product.transforms[0].path == "sales_dbt"
    assert product.transforms[0].select == "path:models/bronze/*.sql"
    assert product.schedules[0].name == "default" and product.schedules[0].timezone == "UTC"


def test_an_unquoted_version_number_is_refused_with_the_fix(run_cli, tmp_path):
    path = _write(tmp_path, "floe.yaml", "name: p\nversion: 1.0\ntransforms: [{path: .}]\n")
    result = run_cli(["validate", path])
    assert result.exit_code == 1
    assert f'{path}:2:1: metadata.version: expected a string, got the number 1.0; quote it: "1.0"' in result.stderr


def test_plugins_shorthand_selects_default_profiles(run_cli, tmp_path):
    path = _write(tmp_path, "manifest.yaml", """\
apiVersion: floe.dev/v1
kind: Manifest
plugins:
  compute: {type: duckdb, threads: 2}
  catalog: {type: polaris}
  semantic_layer: {type: cube}
""")
    result = run_cli(["validate", path])
    assert result.exit_code == 0, result.output
    assert "warning: plugins.semantic_layer: plugin kind 'semantic_layer' is not supported" in result.stderr
    assert "warning: catalogs.default: 'polaris' is selected but not configured" in result.stderr
    profiles = run_cli(["platform", "list-profiles", path, "--format", "json"])
    assert json.loads(profiles.stdout) == [
        {"kind": "catalog", "profile": "default", "type": "polaris"},
        {"kind": "compute", "profile": "default", "type": "duckdb"}]


def test_list_profiles_uses_the_environment(run_cli, demo):
    result = run_cli(["platform", "list-profiles", "--env", "local"], cwd=demo)
    assert result.exit_code == 0
    assert result.stdout.split("\n")[0].split() == ["storage", "default", "local"]


@pytest.mark.parametrize("expr, problem", [
    ("0 6 * * *", None), ("*/15 0-6 1,15 jan-mar mon-fri", None), ("@daily", None),
    ("0 6 * *", "has 4 fields"), ("61 * * * *", "'61' is not valid in the minute field"),
    ("*/0 * * * *", "bad step '0'"),
])
def test_cron_expressions(expr, problem):
    found = cron_problem(expr)
    assert (found is None) if problem is None else (problem in found)


# -- the seed documents' examples (../shared/examples/seed) ---------------------------------

def _seed_files(kind: str) -> list[Path]:
    folder = SEED_EXAMPLES / kind
    if not folder.is_dir():
        if os.environ.get("CI"):
            raise AssertionError(f"{folder} is missing in CI")
        return []
    return sorted(folder.glob("*.yaml"))


@pytest.mark.parametrize("path", _seed_files("accept"), ids=lambda p: p.name)
def test_seed_accept_examples_validate(run_cli, path):
    result = run_cli(["validate", path])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("path", _seed_files("reject"), ids=lambda p: p.name)
def test_seed_reject_examples_say_what_to_do(run_cli, path):
    result = run_cli(["validate", path])
    assert result.exit_code == 1
    assert "move 'polaris' to platform.yaml" in result.stderr
    assert "Traceback" not in result.output


def test_seed_architecture_pair_fails_to_compile_listing_what_the_platform_defines(run_cli, tmp_path):
    if not SEED_EXAMPLES.is_dir():
        pytest.skip("../shared is not beside this checkout")
    product = tmp_path / "floe.yaml"
    product.write_text((SEED_EXAMPLES / "accept" / "architecture-floe.yaml").read_text())
    (tmp_path / "sales_dbt").mkdir()
    (tmp_path / "sales_dbt" / "dbt_project.yml").write_text("name: sales\n")
    platform = SEED_EXAMPLES / "accept" / "architecture-platform.yaml"
    result = run_cli(["compile", "--platform", platform], cwd=tmp_path)
    assert result.exit_code == 1
    assert "profiles.catalog: platform" in result.stderr
    assert "defines no catalog profiles at all (it defines: storage.default)" in result.stderr


def test_seed_adr0002_pair_compiles_once_a_dbt_project_exists(run_cli, tmp_path):
    if not SEED_EXAMPLES.is_dir():
        pytest.skip("../shared is not beside this checkout")
    (tmp_path / "floe.yaml").write_text((SEED_EXAMPLES / "accept" / "adr0002-floe.yaml").read_text())
    (tmp_path / "dbt").mkdir()
    (tmp_path / "dbt" / "dbt_project.yml").write_text("name: x\n")
    result = run_cli(["compile", "--platform", SEED_EXAMPLES / "accept" / "adr0002-platform.yaml"], cwd=tmp_path)
    assert result.exit_code == 0, result.output
    data = json.loads((tmp_path / ".floe" / "compiled_artifacts.json").read_text())
    assert data["profiles"]["catalog"]["config"]["credentials"]["client_secret"] == {"secret_ref": "polaris-oauth-credentials"}
    assert data["secret_refs"] == [{"secret_ref": "polaris-oauth-credentials", "key": None}]
