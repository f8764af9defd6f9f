"""The hook specifications themselves: documented, and one contract per plugin kind."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import floe
from floe.plugins import PLUGIN_KINDS, hookspecs
from floe.testing import assert_plugin_conforms

FIXTURE_PLUGIN = Path(__file__).resolve().parent / "fixtures" / "example_plugin"


def _hooks():
    return [(name, fn) for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
            if name.startswith("floe_")]


def _released(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split(".")[:2])


def test_every_hook_is_documented_with_returns_and_version():
    for name, fn in _hooks():
        doc = inspect.getdoc(fn) or ""
        assert doc.splitlines() and doc.splitlines()[0].endswith("."), f"{name} lacks a summary line"
        assert ":returns:" in doc, f"{name} does not document what it returns"
        assert ".. versionadded::" in doc, f"{name} does not say when it was added"
        for param in inspect.signature(fn).parameters:
            assert f":param {param}:" in doc, f"{name} does not document parameter {param}"


def test_every_hook_says_when_it_is_called_and_whether_it_is_first_result():
    for name, fn in _hooks():
        doc = inspect.getdoc(fn) or ""
        assert "Called " in doc, f"{name} does not say when floe calls it"
        firstresult = getattr(fn, f"{hookspecs.PROJECT}_spec")["firstresult"]
        assert ("First result (``firstresult=True``)" in doc) == firstresult, (
            f"{name}: the docstring must say whether the hook is first-result")


def test_every_hook_types_its_context_and_secret_ref():
    expected = {"context": {"ResolveContext", "RunContext"}, "ref": {"SecretRef"}}
    for name, fn in _hooks():
        for param, annotation in inspect.signature(fn).parameters.items():
            if param in expected:
                assert annotation.annotation in expected[param], (
                    f"{name}: {param} is annotated {annotation.annotation!r}")
        if "context" in inspect.signature(fn).parameters:
            kind = "ResolveContext" if name.endswith("_resolve") else "RunContext"
            assert inspect.signature(fn).parameters["context"].annotation == kind, name


def test_version_markers_name_released_versions_only():
    current = _released(floe.__version__)
    for name, fn in _hooks():
        doc = inspect.getdoc(fn) or ""
        for marker in re.findall(r"\.\. version(?:added|changed)::\s*([0-9.]+)", doc):
            assert _released(marker) <= current, (
                f"{name} says {marker}, but floe is at {floe.__version__}")


def test_every_kind_has_a_settings_and_a_resolve_hook():
    names = {name for name, _ in _hooks()}
    for kind in PLUGIN_KINDS:
        assert {f"floe_{kind}_settings", f"floe_{kind}_resolve"} <= names


def test_built_in_plugins_honour_the_contract():
    assert_plugin_conforms("storage", "local", valid=[{}, {"path": "data/warehouse"}],
                           invalid=[({"path": "../outside"}, "must be a relative path")])
    assert_plugin_conforms("storage", "s3", valid=[{"bucket": "lake", "region": "eu-west-1"}],
                           invalid=[({"bucket": "Bad_Bucket"}, "not a valid S3 bucket name")])
    assert_plugin_conforms("catalog", "sqlite", valid=[{}],
                           invalid=[({"path": "/abs/catalog.db"}, "relative path")])
    assert_plugin_conforms("secrets", "env", valid=[{}, {"prefix": "FLOE_"}],
                           invalid=[({"prefix": "lower"}, "not a valid environment variable prefix")])
    assert_plugin_conforms("credentials", "oauth2",
                           valid=[{"client_id": "floe", "client_secret": {"secret_ref": "oauth"}}],
                           invalid=[({"client_id": "floe", "client_secret": "literal"},
                                     "a literal value is not allowed")])
    assert_plugin_conforms("credentials", "iam_role",
                           valid=[{"role_arn": "arn:aws:iam::123456789012:role/Floe"}],
                           invalid=[({"role_arn": "role/Floe"}, "is not an IAM role ARN"),
                                    ({"role_arn": "arn:aws:iam::123456789012:role/F",
                                      "duration_seconds": 60}, "outside STS's range")])
    assert_plugin_conforms("credentials", "service_account",
                           valid=[{"role_arn": "arn:aws:iam::123456789012:role/Floe"}])
    assert_plugin_conforms("credentials", "static",
                           valid=[{"access_key_id": "AKIDEXAMPLE", "secret_access_key": {"secret_ref": "s3"}}])
    assert_plugin_conforms("credentials", "vended_credentials", valid=[{}],
                           invalid=[({"role_arn": "x"}, "takes no settings")])


def test_an_example_plugin_package_installs_and_is_selected_through_platform_yaml(tmp_path):
    """Build and install tests/fixtures/example_plugin for real, then select its type."""
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                          "--no-build-isolation", "--target", str(site), str(FIXTURE_PLUGIN)],
                         capture_output=True, text=True, timeout=300)
    assert pip.returncode == 0, pip.stderr
    product = tmp_path / "product"
    (product / "dbt").mkdir(parents=True)
    (product / "dbt" / "dbt_project.yml").write_text("name: p\n")
    (product / "floe.yaml").write_text("name: p\nversion: '1'\ntransforms: [{path: ./dbt}]\n")
    (product / "platform.yaml").write_text("""\
storage:
  default: {type: gcs, bucket: acme-lake, project: acme-data, path: products}
catalogs:
  default: {type: sqlite}
compute:
  default: {type: duckdb}
""")
    env = {"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}
    run = subprocess.run([sys.executable, "-m", "floe", "compile", "--platform", "platform.yaml"],
                         cwd=product, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "storage      default   -> gcs  (floe-plugin-storage-gcs 0.3.1)" in run.stdout
    text = (product / ".floe" / "compiled_artifacts.json").read_text()
    assert '"warehouse": "gs://acme-lake/products"' in text
    listed = subprocess.run([sys.executable, "-m", "floe", "plugins", "list"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert "floe-plugin-storage-gcs" in listed.stdout
