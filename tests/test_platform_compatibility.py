"""A product's compatibility pin: a platform outside the accepted range fails compile, naming
both versions (floe.yaml ``platform.version`` or the seeds' ``.floe/platform-version.yaml``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.releases.compatibility import satisfies


def pin_range(demo: Path, text: str) -> None:
    floe_yaml = demo / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text().replace("profiles:\n", f"platform:\n  version: \"{text}\"\nprofiles:\n", 1))


def set_platform_version(demo: Path, version: str) -> None:
    platform = demo / "platform" / "local" / "platform.yaml"
    platform.write_text(platform.read_text().replace('version: "1.0.0"', f'version: "{version}"'))


def test_a_platform_outside_the_floe_yaml_range_fails_naming_both_versions(run_cli, demo: Path) -> None:
    pin_range(demo, ">=1.2.0, <2.0.0")
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert ("platform 'laptop' is version 1.0.0, outside the range >=1.2.0, <2.0.0 that floe.yaml "
            "platform.version accepts") in result.output
    set_platform_version(demo, "1.4.2")
    assert run_cli(["compile"], cwd=demo).exit_code == 0


def test_the_seed_platform_version_file_sets_an_inclusive_min_and_max(run_cli, demo: Path) -> None:
    (demo / ".floe").mkdir(exist_ok=True)
    (demo / ".floe" / "platform-version.yaml").write_text(
        'platform_config_version: "platform-config-v1.2.3"\n'
        'compatibility:\n  min_version: "platform-config-v1.2.0"\n  max_version: "platform-config-v1.3.0"\n')
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 1
    assert "is version 1.0.0, outside the range >=1.2.0, <=1.3.0 that .floe/platform-version.yaml accepts" \
        in result.output
    set_platform_version(demo, "1.3.0")
    assert run_cli(["compile"], cwd=demo).exit_code == 0


def test_an_invalid_range_is_a_located_validation_error(run_cli, demo: Path) -> None:
    pin_range(demo, ">=1.2")
    result = run_cli(["validate", "floe.yaml"], cwd=demo)
    assert result.exit_code == 1
    assert "floe.yaml:" in result.output and "platform.version: '>=1.2' is not a version comparator" in result.output


@pytest.mark.parametrize("version,text,expected", [
    ("1.3.0-rc.1", ">=1.3.0", False), ("1.3.0-rc.1", ">=1.3.0-beta.2", True), ("1.3.0", ">1.3.0-rc.9", True),
    ("1.9.9", "^1.2.0", True), ("2.0.0", "^1.2.0", False), ("0.3.1", "^0.3.0", True), ("0.4.0", "^0.3.0", False),
    ("1.2.9", "~1.2.0", True), ("1.3.0", "~1.2.0", False), ("1.2.3", "==1.2.3", True), ("1.2.3", "!=1.2.3", False),
])
def test_semantic_version_precedence(version: str, text: str, expected: bool) -> None:
    assert satisfies(version, text) is expected
