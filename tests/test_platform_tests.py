"""``floe platform test``: a platform's example products compile, or fail, as they must; and
``floe platform publish`` refuses a platform whose cases fail (before contacting a registry)."""

from __future__ import annotations

import shutil
from pathlib import Path

from conftest import EXAMPLE, prime_dbt_cache


def add_case(platform_dir: Path, name: str, expect: str, change=None) -> Path:
    """A case folder: a copy of the example product (its dbt parse cache too) and expect.yaml."""
    case = platform_dir / "tests" / name
    shutil.copytree(EXAMPLE, case, ignore=shutil.ignore_patterns(".floe", "target", "logs", "platform"))
    if change is not None:
        change(case)
    prime_dbt_cache(EXAMPLE, case)
    (case / "expect.yaml").write_text(expect)
    return case


def unknown_compute(case: Path) -> None:
    text = (case / "floe.yaml").read_text()
    (case / "floe.yaml").write_text(text.replace("compute: default", "compute: big"))


def test_cases_that_behave_as_expected_pass(run_cli, demo: Path) -> None:
    platform = demo / "platform" / "local"
    add_case(platform, "ok", "expect: compiles\n")
    add_case(platform, "unknown-profile", "expect: fails\nmessage: \"defines no compute profile 'big'\"\n",
             unknown_compute)
    result = run_cli(["platform", "test", platform / "platform.yaml"], cwd=demo)
    assert result.exit_code == 0, result.output
    assert "PASS  ok: expected it compiles" in result.output
    assert "PASS  unknown-profile: expected it fails with" in result.output
    assert "platform tests: 2 of 2 cases passed" in result.output


def test_a_case_with_the_wrong_outcome_fails_the_run_and_blocks_publish(run_cli, demo: Path) -> None:
    platform = demo / "platform" / "local"
    add_case(platform, "must-fail", "expect: fails\nrule: approved_plugins\n")
    add_case(platform, "must-compile", "expect: compiles\n", unknown_compute)
    result = run_cli(["platform", "test"], cwd=demo)
    assert result.exit_code == 1
    assert "FAIL  must-fail: expected it fails by rule approved_plugins, but it compiled" in result.output
    assert "FAIL  must-compile: expected it compiles, but it failed: platform 'laptop' defines no compute " \
           "profile 'big'" in result.output
    assert "platform tests: 0 of 2 cases passed" in result.output

    # publish runs the cases before it asks any registry (none listens on this port).
    published = run_cli(["platform", "publish", "v1.0.0", "--to", "oci://127.0.0.1:9/acme/platform"], cwd=demo)
    assert published.exit_code == 1
    assert "platform test must-fail failed: expected it fails by rule approved_plugins, but it compiled" \
        in published.output
    assert "cannot reach registry" not in published.output


def test_a_strict_naming_rule_is_pinned_by_a_case(run_cli, demo: Path) -> None:
    platform = demo / "platform" / "local"
    (platform / "platform.yaml").write_text((platform / "platform.yaml").read_text().replace(
        "enforcement: warn", "enforcement: strict"))

    def misnamed(case: Path) -> None:
        models = case / "dbt" / "models"  # out of the layer folders: only its name could place it
        (models / "gold" / "gold_revenue_by_country.sql").rename(models / "revenue_by_country.sql")
        schema = case / "dbt" / "models" / "schema.yml"
        schema.write_text(schema.read_text().replace("gold_revenue_by_country", "revenue_by_country"))
        assets = case / "assets" / "top_countries.py"
        assets.write_text(assets.read_text().replace("gold_revenue_by_country", "revenue_by_country"))

    add_case(platform, "misnamed-gold-model", "expect: fails\nrule: naming\nmessage: revenue_by_country\n",
             misnamed)
    result = run_cli(["platform", "test"], cwd=demo)
    assert result.exit_code == 0, result.output
    assert "PASS  misnamed-gold-model: expected it fails by rule naming with 'revenue_by_country'" in result.output


def test_no_cases_or_a_bad_expect_file_is_a_clear_error(run_cli, demo: Path) -> None:
    result = run_cli(["platform", "test"], cwd=demo)
    assert result.exit_code == 1
    assert "platform/local/tests: no platform test cases" in result.output
    case = add_case(demo / "platform" / "local", "typo", "expect: compile\n")
    result = run_cli(["platform", "test"], cwd=demo)
    assert result.exit_code == 1
    assert f"{case.relative_to(demo)}/expect.yaml:1:1: expect: 'compile' is not one of compiles, fails" in result.output
    assert "Traceback" not in result.output
