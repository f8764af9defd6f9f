"""Compile-time enforcement (ADR-0016, SPEC §7): naming, layers, quality gates, approved
plugins, classifications and data-mesh inheritance.

The rules are unit-tested on manifest records built here (fast). The end-to-end tests compile
a product around ``fixtures/dbt_stg`` — a small DuckDB dbt project whose ``stg_`` models sit
in ``models/staging`` — and share one real ``dbt parse`` of it per session through floe's
manifest cache (see ``conftest.prime_dbt_cache``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, prime_dbt_cache

from floe.dbt_project import DbtColumn, DbtModel, fingerprint, read_manifest
from floe.enforcement.rules import ProjectModels, enforce
from floe.enforcement.inheritance import PlatformFile, Policy, merge
from floe.schema.platform import parse_platform
from floe.yamlsafe import load_text

ARTIFACTS = Path(".floe") / "compiled_artifacts.json"

PROFILES = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {name: acme, version: "1.2.3"}
storage: {default: {type: local, path: .floe/warehouse}}
catalogs: {default: {type: sqlite, path: .floe/catalog.db}}
compute: {default: {type: duckdb, path: .floe/payments.duckdb}}
orchestrator: {type: dagster}
secrets: {backends: [env]}
"""

MEDALLION_STRICT = PROFILES + """\
data_architecture:
  pattern: medallion
  naming:
    enforcement: strict
"""

PRODUCT = """\
apiVersion: floe.dev/v1
kind: DataProduct
metadata: {name: payments, version: "1.0.0", owner: finance}
transforms:
  - {name: core, type: dbt, path: ./dbt}
"""

STG_PAYMENTS = ("dbt/models/staging/stg_payments.sql: naming: 'stg_payments' violates medallion "
                "naming; expected bronze_*, silver_* or gold_*")
STG_CUSTOMER_PAYMENTS = ("dbt/models/staging/stg_customer_payments.sql: naming: "
                         "'stg_customer_payments' violates medallion naming; expected bronze_*, "
                         "silver_* or gold_*")


# -- helpers ----------------------------------------------------------------------------------


def policy(text: str, file: str = "platform.yaml") -> Policy:
    """The effective policy of one platform document (no parents); fails on any error."""
    parsed, report = parse_platform(load_text(text, file))
    assert parsed is not None and not report.errors, "\n".join(map(str, report.items))
    result = merge([PlatformFile(Path(file), file, parsed, report)])
    assert not report.errors, "\n".join(map(str, report.items))
    return result


def policy_errors(text: str) -> list[str]:
    """Every error the platform document gets, structuring and policy checks together."""
    parsed, report = parse_platform(load_text(text, "platform.yaml"))
    if parsed is not None and not report.errors:
        merge([PlatformFile(Path("platform.yaml"), "platform.yaml", parsed, report)])
    return [str(d) for d in report.errors]


def model(name: str, path: str | None = None, tests: tuple[str, ...] = (), description: str = "",
          alias: str | None = None, columns: tuple[DbtColumn, ...] = ()) -> DbtModel:
    """A model record as :func:`floe.dbt_project.read_manifest` builds them."""
    path = path or f"models/{name}.sql"
    folders = tuple(Path(path).parent.parts[1:])
    return DbtModel(unique_id=f"model.p.{name}", name=name, alias=alias or name,
                    original_file_path=path, folders=folders, fqn=("p", *folders, name),
                    resource_type="model", materialized="table", description=description,
                    columns=columns, meta={}, tests=tests)


def run(pol: Policy, *models: DbtModel):
    from floe.dbt_project import DbtProjectModels

    return enforce(pol, [ProjectModels("core", "dbt", DbtProjectModels("p", tuple(models)))])


def lines(outcome) -> list[str]:
    return [f"{r.status}: {r.file}: {r.rule}: {r.message}" for r in outcome.results]


# -- naming and layers ------------------------------------------------------------------------


def test_medallion_prefixes_place_models_and_anything_else_is_a_violation():
    outcome = run(policy(MEDALLION_STRICT), model("bronze_orders"), model("gold_revenue"),
                  model("stg_payments", "models/staging/stg_payments.sql"))
    assert lines(outcome) == [
        "fail: dbt/models/staging/stg_payments.sql: naming: 'stg_payments' violates medallion "
        "naming; expected bronze_*, silver_* or gold_*"]
    assert {m.name: m.layer for m in outcome.models["dbt"]} == {
        "bronze_orders": "bronze", "gold_revenue": "gold", "stg_payments": None}


def test_a_layer_folder_places_a_model_without_the_prefix():
    outcome = run(policy(MEDALLION_STRICT), model("customers", "models/silver/customers.sql"))
    assert outcome.results == []
    assert outcome.models["dbt"][0].layer == "silver"


def test_naming_folders_map_dbt_style_folders_to_layers():
    text = MEDALLION_STRICT + "    folders: {staging: bronze, marts: gold}\n"
    outcome = run(policy(text), model("stg_payments", "models/staging/stg_payments.sql"),
                  model("revenue", "models/marts/finance/revenue.sql"))
    assert outcome.results == []
    assert {m.name: m.layer for m in outcome.models["dbt"]} == {"stg_payments": "bronze",
                                                                "revenue": "gold"}


def test_a_name_and_a_folder_that_disagree_is_a_violation():
    outcome = run(policy(MEDALLION_STRICT), model("gold_orders", "models/silver/gold_orders.sql"))
    assert lines(outcome) == [
        "fail: dbt/models/silver/gold_orders.sql: naming: 'gold_orders' is named for layer gold but "
        "sits in folder silver/ (layer silver); rename it or move it"]


def test_an_alias_is_the_table_name_and_must_fit_the_layer_too():
    outcome = run(policy(MEDALLION_STRICT), model("silver_orders", alias="orders"),
                  model("silver_items", alias="gold_items"))
    assert lines(outcome) == [
        "fail: dbt/models/silver_items.sql: naming: alias 'gold_items' of 'silver_items' names layer "
        "gold, but the model is in layer silver",
        "fail: dbt/models/silver_orders.sql: naming: alias 'orders' of 'silver_orders' violates "
        "medallion naming; expected bronze_*, silver_* or gold_*"]


def test_kimball_knows_staging_intermediate_dimensions_and_facts():
    text = PROFILES + "data_architecture: {pattern: kimball, naming: {enforcement: strict}}\n"
    outcome = run(policy(text), model("stg_orders"), model("int_orders_joined"), model("dim_customer"),
                  model("fct_orders"), model("orders"))
    assert {m.name: m.layer for m in outcome.models["dbt"]} == {
        "stg_orders": "staging", "int_orders_joined": "intermediate", "dim_customer": "marts",
        "fct_orders": "marts", "orders": None}
    assert lines(outcome) == ["fail: dbt/models/orders.sql: naming: 'orders' violates kimball naming; "
                              "expected stg_*, int_*, dim_* or fct_*"]


def test_custom_patterns_must_match_the_whole_name():
    text = PROFILES + """\
data_architecture:
  pattern: custom
  naming:
    enforcement: warn
    patterns: {raw: 'raw_[a-z0-9_]+', mart: 'mart_[a-z0-9_]+'}
"""
    outcome = run(policy(text), model("raw_orders"), model("mart_Revenue"))
    assert lines(outcome) == [
        "warn: dbt/models/mart_Revenue.sql: naming: 'mart_Revenue' violates custom naming; expected "
        "a name matching raw: raw_[a-z0-9_]+ or mart: mart_[a-z0-9_]+"]
    assert {m.name: m.layer for m in outcome.models["dbt"]} == {"raw_orders": "raw", "mart_Revenue": None}
    assert not outcome.failed


def test_layers_narrow_the_pattern():
    text = MEDALLION_STRICT + "  layers: [silver, gold]\n"
    outcome = run(policy(text), model("bronze_orders", "models/bronze/bronze_orders.sql"))
    assert lines(outcome) == [
        "fail: dbt/models/bronze/bronze_orders.sql: naming: 'bronze_orders' violates medallion naming; "
        "expected silver_* or gold_*"]


def test_naming_off_checks_nothing_but_still_records_layers():
    text = PROFILES + "data_architecture:\n  pattern: medallion\n  naming:\n    enforcement: off\n"
    outcome = run(policy(text), model("stg_payments"), model("gold_revenue"))
    assert outcome.results == [] and outcome.summary == []
    assert {m.name: m.layer for m in outcome.models["dbt"]} == {"stg_payments": None,
                                                                "gold_revenue": "gold"}


# -- quality gates ----------------------------------------------------------------------------


def test_coverage_below_the_minimum_names_the_untested_models():
    text = PROFILES + "governance: {quality_gates: {minimum_test_coverage: 80}}\n"
    outcome = run(policy(text), model("a", tests=("test.p.t1",)), model("b"), model("c"))
    assert lines(outcome) == [
        "fail: dbt/dbt_project.yml: quality.test_coverage: test coverage is 33.3% (1 of 3 models have "
        "a test), below the minimum of 80%; add a test to b, c"]
    assert (outcome.quality.models, outcome.quality.tested, outcome.quality.test_coverage) == (3, 1, 33.3)


def test_block_on_failure_false_turns_missed_gates_into_warnings():
    text = PROFILES + "governance: {quality_gates: {minimum_test_coverage: 50, block_on_failure: false}}\n"
    outcome = run(policy(text), model("a"), model("b", tests=("test.p.t",)), model("c"))
    assert [r.status for r in outcome.results] == ["warn"] and not outcome.failed


def test_coverage_per_layer():
    text = MEDALLION_STRICT + """\
governance:
  quality_gates:
    minimum_test_coverage_by_layer: {gold: 100}
"""
    outcome = run(policy(text), model("gold_a", tests=("test.p.t",)), model("gold_b"), model("bronze_c"))
    assert lines(outcome) == [
        "fail: dbt/dbt_project.yml: quality.test_coverage.gold: test coverage of layer gold is 50% (1 "
        "of 2 models have a test), below its minimum of 100%; add a test to gold_b"]
    assert outcome.quality.by_layer["bronze"].percent == 0.0
    assert outcome.quality.by_layer["gold"].minimum == 100


def test_required_descriptions_of_models_and_columns():
    text = PROFILES + ("governance: {quality_gates: {require_descriptions: true, "
                       "require_column_descriptions: true}}\n")
    outcome = run(policy(text), model("a", description="Orders."),
                  model("b", columns=(DbtColumn("id", "", {}), DbtColumn("x", "Described.", {}))))
    assert lines(outcome) == [
        "fail: dbt/models/b.sql: quality.column_descriptions: column 'id' of 'b' has no description",
        "fail: dbt/models/b.sql: quality.descriptions: 'b' has no description; describe it in a "
        "models: entry of a .yml file"]
    assert (outcome.quality.undocumented_models, outcome.quality.undocumented_columns) == (1, 1)


# -- classification ---------------------------------------------------------------------------


def test_column_meta_classifications_are_collected_and_checked_against_the_platform_list():
    text = PROFILES + "governance: {classifications: [public, pii]}\n"
    outcome = run(policy(text), model("a", columns=(
        DbtColumn("email", "", {"classification": "pii"}),
        DbtColumn("phone", "", {"classification": ["pi"]}),
        DbtColumn("id", "", {}))))
    assert [(c.model, c.column, c.classification) for c in outcome.classifications] == [
        ("a", "email", ["pii"]), ("a", "phone", ["pi"])]
    assert lines(outcome) == [
        "fail: dbt/models/a.sql: classification: column 'phone' of 'a' is classified 'pi', which is "
        "not one of the platform's classifications (public, pii) (did you mean 'pii'?)"]


# -- the policy in platform.yaml --------------------------------------------------------------


def test_policy_mistakes_say_what_to_write():
    assert policy_errors(PROFILES + "data_architecture: {pattern: custom, naming: {enforcement: warn, "
                         "patterns: {raw: 'raw_(['}}}\n") == [
        "platform.yaml:9:66: data_architecture.naming.patterns: the pattern for layer 'raw' is not a "
        "valid regular expression (unterminated character set at position 5); write a Python regex "
        "the whole model name must match, e.g. 'raw_[a-z0-9_]+'"]
    assert policy_errors(PROFILES + "data_architecture: {naming: {enforcement: strict}}\n") == [
        "platform.yaml:9:30: data_architecture.naming.enforcement: naming enforcement 'strict' needs a "
        "data_architecture.pattern: medallion, kimball or custom"]
    assert policy_errors(PROFILES + "data_architecture: {pattern: medallion, naming: {folders: "
                         "{staging: bronz}}}\n") == [
        "platform.yaml:9:50: data_architecture.naming.folders: folder 'staging' maps to 'bronz', which "
        "is not a layer (did you mean 'bronze'?); layers: bronze, silver or gold"]
    assert policy_errors(PROFILES + "governance: {quality_gates: {minimum_test_coverage_by_layer: "
                         "{gold: 120}}}\n") == [
        "platform.yaml:9:30: governance.quality_gates.minimum_test_coverage_by_layer: 120 (layer gold) "
        "is not a percentage; use a whole number from 0 to 100"]
    assert policy_errors(PROFILES + "data_architecture: {pattern: custom}\n") == [
        "platform.yaml:9:21: data_architecture.pattern: pattern custom needs a regex per layer under "
        "data_architecture.naming.patterns, e.g. {raw: 'raw_[a-z0-9_]+', mart: 'mart_[a-z0-9_]+'}"]


def test_unquoted_off_is_the_word_off():
    pol = policy(PROFILES + "data_architecture:\n  pattern: medallion\n  naming:\n    enforcement: off\n")
    assert pol.data_architecture.naming.enforcement == "off"


# -- inheritance (files on disk, no dbt) ------------------------------------------------------


ENTERPRISE = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {name: acme-enterprise, version: "3.0.0", scope: enterprise}
data_architecture:
  pattern: medallion
  naming: {enforcement: warn}
governance:
  quality_gates: {minimum_test_coverage: 50, block_on_failure: true}
  approved_plugins: {compute: [duckdb, spark]}
"""

DOMAIN = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {name: sales-domain, version: "1.4.0", scope: domain, parent: ../enterprise.yaml}
data_architecture:
  naming: {enforcement: strict}
governance:
  quality_gates: {minimum_test_coverage: 60}
  approved_plugins: {compute: [duckdb]}
"""


def mesh(root: Path, product_policy: str) -> Path:
    """enterprise.yaml <- domains/sales.yaml <- product/platform/local/platform.yaml."""
    (root / "enterprise.yaml").write_text(ENTERPRISE)
    (root / "domains").mkdir()
    (root / "domains" / "sales.yaml").write_text(DOMAIN)
    leaf = root / "product" / "platform" / "local" / "platform.yaml"
    leaf.parent.mkdir(parents=True)
    leaf.write_text(PROFILES.replace('version: "1.2.3"}', 'version: "1.2.3", scope: product, '
                                     'parent: ../../../domains/sales.yaml}') + product_policy)
    return leaf


def test_a_three_level_chain_merges_root_first_and_a_child_may_tighten(tmp_path, run_cli):
    mesh(tmp_path, "governance: {quality_gates: {minimum_test_coverage: 75, "
                   "require_descriptions: true}}\n")
    result = run_cli(["platform", "compile", "--format", "json"], cwd=tmp_path / "product")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["chain"] == ["../enterprise.yaml", "../domains/sales.yaml", "platform/local/platform.yaml"]
    sources = {r["rule"]: (r["value"], r["source"]) for r in data["rules"]}
    assert sources["data_architecture.pattern"] == ("medallion", "../enterprise.yaml")
    assert sources["data_architecture.naming.enforcement"] == ("strict", "../domains/sales.yaml")
    assert sources["governance.quality_gates.minimum_test_coverage"] == (75, "platform/local/platform.yaml")
    assert sources["governance.quality_gates.require_descriptions"] == (True, "platform/local/platform.yaml")
    assert sources["governance.quality_gates.block_on_failure"] == (True, "../enterprise.yaml")
    assert sources["governance.approved_plugins.compute"] == (["duckdb"], "../domains/sales.yaml")


def test_platform_compile_prints_the_effective_policy_with_its_sources(tmp_path, run_cli):
    mesh(tmp_path, "")
    result = run_cli(["platform", "compile"], cwd=tmp_path / "product")
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out[0] == "platform/local/platform.yaml: ok (acme 1.2.3)"
    assert out[1] == "inherits: ../enterprise.yaml -> ../domains/sales.yaml -> platform/local/platform.yaml"
    rows = {line.split()[0]: line.split()[1:] for line in out[3:]}
    assert rows["data_architecture.naming.enforcement"] == ["strict", "../domains/sales.yaml"]
    assert rows["governance.quality_gates.minimum_test_coverage"] == ["60", "../domains/sales.yaml"]
    assert rows["governance.quality_gates.require_descriptions"] == ["false", "default"]


def test_loosening_an_inherited_rule_names_both_files_and_the_rule(tmp_path, run_cli):
    mesh(tmp_path, """\
data_architecture:
  naming: {enforcement: warn}
governance:
  quality_gates: {minimum_test_coverage: 40}
  approved_plugins: {compute: [duckdb, spark]}
""")
    result = run_cli(["platform", "compile"], cwd=tmp_path / "product")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "platform/local/platform.yaml:10:12: data_architecture.naming.enforcement: 'warn' is weaker "
        "than 'strict' set by ../domains/sales.yaml; a child platform may tighten an inherited rule, "
        "never loosen it",
        "platform/local/platform.yaml:12:19: governance.quality_gates.minimum_test_coverage: 40% is "
        "below the minimum of 60% set by ../domains/sales.yaml; a child platform may tighten an "
        "inherited rule, never loosen it",
        "platform/local/platform.yaml:13:22: governance.approved_plugins.compute: compute type spark "
        "is not in the list [duckdb] set by ../domains/sales.yaml; a child platform may tighten an "
        "inherited rule, never loosen it"]


def test_a_parent_that_loosens_its_own_parent_is_reported_in_its_own_file(tmp_path, run_cli):
    mesh(tmp_path, "")
    (tmp_path / "domains" / "sales.yaml").write_text(DOMAIN.replace(
        "minimum_test_coverage: 60", "block_on_failure: false"))
    result = run_cli(["platform", "compile"], cwd=tmp_path / "product")
    assert result.exit_code == 1
    assert ("../domains/sales.yaml:7:19: governance.quality_gates.block_on_failure: false drops the "
            "requirement (true) set by ../enterprise.yaml; a child platform may tighten an inherited "
            "rule, never loosen it") in result.stderr


def test_a_cycle_in_the_parent_chain_is_an_error(tmp_path, run_cli):
    mesh(tmp_path, "")
    (tmp_path / "enterprise.yaml").write_text(ENTERPRISE.replace(
        "scope: enterprise}", "scope: enterprise, parent: domains/sales.yaml}"))
    result = run_cli(["platform", "compile"], cwd=tmp_path / "product")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "../enterprise.yaml:3:72: metadata.parent: the parent chain loops back to "
        "../domains/sales.yaml: platform/local/platform.yaml -> ../domains/sales.yaml -> "
        "../enterprise.yaml -> ../domains/sales.yaml; a platform cannot be its own ancestor")


def test_a_missing_parent_is_an_error_at_metadata_parent(tmp_path, run_cli):
    leaf = mesh(tmp_path, "")
    (tmp_path / "domains" / "sales.yaml").unlink()
    result = run_cli(["platform", "compile", leaf], cwd=tmp_path / "product")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        "platform/local/platform.yaml:3:58: metadata.parent: parent platform "
        "'../../../domains/sales.yaml' not found (looked for ../domains/sales.yaml); give a path "
        "relative to this file")


# -- the dbt project as dbt parses it ---------------------------------------------------------


@pytest.fixture(scope="session")
def stg_template(tmp_path_factory) -> Path:
    """A product around fixtures/dbt_stg with a non-blocking platform; parsed once per session."""
    root = tmp_path_factory.mktemp("stg-template") / "payments"
    shutil.copytree(FIXTURES / "dbt_stg", root / "dbt")
    (root / "floe.yaml").write_text(PRODUCT)
    (root / "platform.yaml").write_text(PROFILES)
    return root


@pytest.fixture
def stg(stg_template, tmp_path) -> Path:
    """A private copy of the stg product, with the session's parsed manifest."""
    target = tmp_path / "payments"
    shutil.copytree(stg_template, target)
    prime_dbt_cache(stg_template, target, platform=str(stg_template / "platform.yaml"))
    return target


def test_manifest_records_are_what_dbt_parsed(stg):
    models = {m.name: m for m in read_manifest(stg / ".floe/dbt/core/target/manifest.json").models}
    assert sorted(models) == ["bronze_customers", "stg_customer_payments", "stg_payments"]
    payments = models["stg_payments"]
    assert payments.original_file_path == "models/staging/stg_payments.sql"
    assert payments.folders == ("staging",) and payments.materialized == "view"
    assert payments.tests == ("test.payments.assert_payments_are_positive",)  # a singular test
    customers = models["bronze_customers"]
    assert len(customers.tests) == 2 and customers.description == "Customers as loaded."
    assert {c.name: c.meta for c in customers.columns}["email"] == {"classification": "pii"}
    assert models["stg_customer_payments"].alias == "customer_payments"


def test_strict_medallion_fails_on_stg_models_like_adr_0016(stg, run_cli):
    (stg / "platform.yaml").write_text(MEDALLION_STRICT)
    result = run_cli(["compile", "--platform", "platform.yaml"], cwd=stg)
    assert result.exit_code == 1
    err = result.stderr.splitlines()
    assert err[:4] == ["[1/4] Loading platform platform.yaml", "      ✓ Platform: acme 1.2.3",
                       "      ✓ Compute: duckdb", "      ✓ Architecture: medallion (strict enforcement)"]
    assert "      ✗ naming: 2 of 3 models violate medallion naming (strict)" in err
    assert err[-3:] == ["[4/4] Compilation FAILED", STG_CUSTOMER_PAYMENTS, STG_PAYMENTS]
    assert not (stg / ARTIFACTS).exists()
    assert sorted(p.name for p in (stg / "dbt").iterdir()) == ["dbt_project.yml", "models", "seeds", "tests"]


def test_warn_compiles_with_warnings_and_records_results_and_layers(stg, run_cli):
    (stg / "platform.yaml").write_text(MEDALLION_STRICT.replace("strict", "warn") + """\
governance:
  quality_gates: {minimum_test_coverage: 80, block_on_failure: false}
""")
    result = run_cli(["compile", "--platform", "platform.yaml"], cwd=stg)
    assert result.exit_code == 0, result.output
    assert [line for line in result.stderr.splitlines() if "warning:" in line] == [
        STG_CUSTOMER_PAYMENTS.replace(": naming:", ": warning: naming:"),
        STG_PAYMENTS.replace(": naming:", ": warning: naming:"),
        "dbt/dbt_project.yml: warning: quality.test_coverage: test coverage is 66.7% (2 of 3 models "
        "have a test), below the minimum of 80%; add a test to stg_customer_payments"]
    assert "compute      default   -> duckdb  (floe-plugin-compute-duckdb" in result.stdout
    data = json.loads((stg / ARTIFACTS).read_text())
    enforcement = data["governance"]["enforcement"]
    assert {"rule": "naming", "status": "warn", "subject": "stg_payments",
            "file": "dbt/models/staging/stg_payments.sql",
            "message": "'stg_payments' violates medallion naming; expected bronze_*, silver_* or "
                       "gold_*"} in enforcement
    assert {"rule": "naming", "status": "warn", "subject": "models", "file": None,
            "message": "2 of 3 models violate medallion naming (warn)"} in enforcement
    assert {m["name"]: m["layer"] for m in data["dbt"]["transforms"][0]["models"]} == {
        "bronze_customers": "bronze", "stg_customer_payments": None, "stg_payments": None}
    assert data["governance"]["quality"]["test_coverage"] == 66.7
    assert data["governance"]["classifications"] == [
        {"model": "bronze_customers", "column": "email", "classification": ["pii"],
         "file": "dbt/models/bronze/bronze_customers.sql"},
        {"model": "stg_customer_payments", "column": "email", "classification": ["pii", "contact"],
         "file": "dbt/models/staging/stg_customer_payments.sql"}]


def test_json_output_for_ci_carries_errors_and_enforcement_results(stg, run_cli):
    (stg / "platform.yaml").write_text(MEDALLION_STRICT)
    result = run_cli(["compile", "--platform", "platform.yaml", "--format", "json"], cwd=stg)
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["ok"] is False and data["path"] is None
    assert [(e["file"], e["path"], e["message"]) for e in data["errors"]] == [
        ("dbt/models/staging/stg_customer_payments.sql", "naming",
         "'stg_customer_payments' violates medallion naming; expected bronze_*, silver_* or gold_*"),
        ("dbt/models/staging/stg_payments.sql", "naming",
         "'stg_payments' violates medallion naming; expected bronze_*, silver_* or gold_*")]
    assert {r["status"] for r in data["enforcement"] if r["rule"] == "naming"} == {"fail"}


def test_folders_mapping_makes_the_stg_product_compliant_except_its_alias(stg, run_cli):
    (stg / "platform.yaml").write_text(MEDALLION_STRICT + "    folders: {staging: silver}\n")
    result = run_cli(["compile", "--platform", "platform.yaml"], cwd=stg)
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "dbt/models/staging/stg_customer_payments.sql: naming: alias 'customer_payments' of "
        "'stg_customer_payments' violates medallion naming; expected bronze_*, silver_* or gold_*")


def test_an_inherited_strict_rule_fails_the_product(stg, run_cli, tmp_path):
    (tmp_path / "enterprise.yaml").write_text(ENTERPRISE.replace("enforcement: warn", "enforcement: strict"))
    (stg / "platform.yaml").write_text(PROFILES.replace(
        'version: "1.2.3"}', 'version: "1.2.3", parent: ../enterprise.yaml}'))
    result = run_cli(["compile", "--platform", "platform.yaml"], cwd=stg)
    assert result.exit_code == 1
    assert "      ✓ Inherits: ../enterprise.yaml" in result.stderr
    assert STG_PAYMENTS in result.stderr.splitlines()


def test_the_manifest_is_reused_until_the_project_changes(stg, run_cli):
    result = run_cli(["compile", "--platform", "platform.yaml"], cwd=stg)
    assert result.exit_code == 0, result.output
    assert "      ✓ core: 3 dbt models found (manifest up to date)" in result.stderr
    output = {"type": "duckdb", "path": ".floe/payments.duckdb"}
    before = fingerprint(stg / "dbt", "payments", "floe", output, {})
    # threads and engine settings cannot change a parse (dbt's own partial parsing agrees) ...
    assert fingerprint(stg / "dbt", "payments", "floe", {**output, "threads": 8,
                                                         "settings": {"memory_limit": "1GB"}}, {}) == before
    # ... a model, the target, a var or the database file can.
    assert fingerprint(stg / "dbt", "payments", "prod", output, {}) != before
    assert fingerprint(stg / "dbt", "payments", "floe", output, {"day": 1}) != before
    assert fingerprint(stg / "dbt", "payments", "floe", {**output, "path": "x.duckdb"}, {}) != before
    (stg / "dbt/models/staging/stg_payments.sql").write_text("select 1 as payment_id\n")
    assert fingerprint(stg / "dbt", "payments", "floe", output, {}) != before


def test_a_dbt_parse_error_is_a_clean_error_with_dbts_message(stg, run_cli):
    (stg / "dbt/models/staging/stg_refunds.sql").write_text("select * from {{ ref('stg_refund') }}\n")
    result = run_cli(["compile", "--platform", "platform.yaml"], cwd=stg)
    assert result.exit_code == 1
    err = result.stderr.splitlines()
    index = err.index("dbt/dbt_project.yml: dbt parse: dbt could not parse the project (exit 2); dbt says:")
    assert err[index + 1:] == [
        "  Encountered an error:", "  Compilation Error",
        "    Model 'model.payments.stg_refunds' (models/staging/stg_refunds.sql) depends on a node "
        "named 'stg_refund' which was not found"]
    assert "Traceback" not in result.output and not (stg / ARTIFACTS).exists()
