"""``floe validate`` and ``floe compile`` never import the run-time stack (SPEC §9).

Each check runs a real child process: the CLI entry point ``floe.cli.main`` is invoked by a
small wrapper that afterwards prints ``sorted(sys.modules)`` as JSON, so the test sees exactly
what one command imported, with nothing pre-imported by pytest.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import floe_subprocess

#: Top-level packages of the run-time stack (SPEC §6) and their heaviest dependencies.
HEAVY = ("dagster", "dagster_dbt", "dbt", "pyiceberg", "duckdb", "pyarrow", "pandas", "numpy",
         "sqlalchemy", "grpc", "polars", "boto3", "botocore", "opentelemetry", "openlineage")

_WRAPPER = """\
import json, sys
from floe.cli import main
sys.argv = ["floe", *sys.argv[1:]]
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
print("\\n__MODULES__" + json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def run_and_list_modules(args: list[str], cwd: Path) -> tuple[int, list[str], str]:
    """Run ``floe ARGS`` in a child process; return (exit code, imported modules, output)."""
    proc = subprocess.run([sys.executable, "-c", _WRAPPER, *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)
    output, marker, tail = proc.stderr.rpartition("\n__MODULES__")
    assert marker, f"the wrapper did not finish:\n{proc.stdout}\n{proc.stderr}"
    report = json.loads(tail)
    return report["code"], report["modules"], proc.stdout + output


def heavy_imports(modules: list[str]) -> list[str]:
    return sorted(m for m in modules if m.split(".")[0] in HEAVY)


def test_validate_product_imports_no_runtime_stack(demo: Path) -> None:
    code, modules, output = run_and_list_modules(["validate", "floe.yaml"], demo)
    assert code in (0, None), output
    assert "floe.yaml: ok" in output
    assert heavy_imports(modules) == [], output
    assert "floe.schema.product" in modules  # the wrapper really validated the product


def test_validate_platform_imports_no_runtime_stack(demo: Path) -> None:
    code, modules, output = run_and_list_modules(
        ["validate", "floe.yaml", "platform/local/platform.yaml"], demo)
    assert code in (0, None), output
    assert "platform/local/platform.yaml: ok" in output
    assert heavy_imports(modules) == [], output
    # Profiles were checked through their plugins, and that still imported nothing heavy.
    assert "floe.profiles" in modules
    # Inheritance is read; the enforcement rules, the artifacts and dbt's manifest reader are not.
    assert "floe.enforcement.inheritance" in modules
    assert not {"floe.enforcement.rules", "floe.artifacts", "floe.dbt_project"} & set(modules), output


def test_platform_validate_imports_no_runtime_stack(demo: Path) -> None:
    code, modules, output = run_and_list_modules(["platform", "validate"], demo)
    assert code in (0, None), output
    assert heavy_imports(modules) == [], output


def test_compile_imports_no_runtime_stack(demo: Path) -> None:
    code, modules, output = run_and_list_modules(["compile"], demo)
    assert code in (0, None), (
        "floe compile failed on the demo (is floe-plugin-orchestrator-dagster installed? "
        f"pip install -e plugins/orchestrator_dagster):\n{output}")
    assert (demo / ".floe" / "compiled_artifacts.json").is_file()
    assert heavy_imports(modules) == [], output
    assert "floe.compiler" in modules


def test_lineage_is_drawn_from_the_artifacts_without_the_orchestrators_run_time(demo: Path) -> None:
    code, modules, output = run_and_list_modules(["lineage", "--format", "json"], demo)
    assert code in (0, None), output
    assert '"table:gold.top_countries"' in output
    assert heavy_imports(modules) == [], output
    # Compile asks the orchestrator plugin to resolve its settings (its light plugin module);
    # nothing of its run-time part (assets, definitions) is needed to draw the graph.
    orchestrator = sorted(m for m in modules if m.startswith("floe_plugin_orchestrator_dagster."))
    assert orchestrator == ["floe_plugin_orchestrator_dagster.plugin"], orchestrator


def test_invalid_input_imports_no_runtime_stack(demo: Path) -> None:
    (demo / "floe.yaml").write_text((demo / "floe.yaml").read_text().replace("type: dbt", "type: dbtt"))
    code, modules, output = run_and_list_modules(["compile"], demo)
    assert code == 1, output
    assert heavy_imports(modules) == [], output


def test_python_m_floe_entry_point_with_importtime(demo: Path) -> None:
    """The real ``python -m floe`` entry point, observed with ``-X importtime``."""
    proc = floe_subprocess(["validate", "floe.yaml", "platform/local/platform.yaml"], cwd=demo,
                           env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = set()
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            imported.add(line.rsplit("|", 1)[1].strip())
    assert "floe.cli" in imported, "no import-time report; was PYTHONPROFILEIMPORTTIME honoured?"
    assert heavy_imports(sorted(imported)) == []

    proc = floe_subprocess(["compile"], cwd=demo, env={"PYTHONPROFILEIMPORTTIME": "1"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    imported = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:") and "|" in line}
    assert "floe.compiler" in imported
    assert heavy_imports(sorted(imported)) == []


AWS_PLATFORM = """\
storage:
  default:
    type: s3
    bucket: lake
    region: eu-central-1
    credentials: {mode: iam_role, role_arn: "arn:aws:iam::123456789012:role/Floe"}
secrets:
  backends: [env, {type: aws, region: eu-central-1, prefix: floe/prod/}]
"""


def test_compile_against_aws_backends_imports_no_aws_sdk(demo: Path) -> None:
    """The aws secret backend and the STS credential modes load boto3 only at run time."""
    platform = demo / "platform" / "local" / "platform.yaml"
    text = platform.read_text().replace("storage:\n  default:\n    type: local\n    path: .floe/warehouse\n", "")
    platform.write_text(text.replace("secrets:\n  backends: [env]\n", "") + AWS_PLATFORM)
    for args in (["validate", "floe.yaml", "platform/local/platform.yaml"], ["compile"]):
        code, modules, output = run_and_list_modules(args, demo)
        assert code in (0, None), output
        assert heavy_imports(modules) == [], output
    artifacts = (demo / ".floe" / "compiled_artifacts.json").read_text()
    assert '"type": "aws"' in artifacts and '"mode": "iam_role"' in artifacts
    assert "floe_plugin_secrets_aws.plugin" in modules and "floe.builtin.credentials" in modules


#: OCI, HTTP, TLS and crypto clients: a compile against a cached, locked platform release needs
#: none of them (``socket`` itself is imported by the standard library's own modules).
NETWORK = ("requests", "urllib3", "oras", "cryptography", "http", "ssl")


def test_compile_against_a_cached_locked_oci_platform_imports_no_network_client(demo: Path, oci_registry,
                                                                                tmp_path: Path) -> None:
    env = {"FLOE_CACHE_DIR": str(tmp_path / "cache"), "FLOE_INSECURE_REGISTRIES": oci_registry.host,
           "DOCKER_CONFIG": str(tmp_path)}
    repo = oci_registry.url("acme/import-light")
    published = floe_subprocess(["platform", "publish", "v1.0.0", "--to", repo], cwd=demo, env=env)
    assert published.returncode == 0, published.stdout + published.stderr
    text = (demo / "floe.yaml").read_text()
    (demo / "floe.yaml").write_text(text.replace("profiles:\n", f"platform: {{ref: '{repo}:v1.0.0'}}\nprofiles:\n"))
    first = floe_subprocess(["compile"], cwd=demo, env=env)  # pulls into the cache, writes floe.lock
    assert first.returncode == 0, first.stdout + first.stderr
    assert (demo / "floe.lock").is_file()

    proc = subprocess.run([sys.executable, "-c", _WRAPPER, "compile"], cwd=demo, capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})
    output, _, tail = proc.stderr.rpartition("\n__MODULES__")
    report = json.loads(tail)
    assert report["code"] in (0, None), proc.stdout + output
    modules = report["modules"]
    assert "floe.releases.pull" in modules  # the platform really came from the release cache
    assert sorted(m for m in modules if m.split(".")[0] in NETWORK) == [], output
    assert "floe.releases.registry" not in modules
    assert heavy_imports(modules) == []


def test_validate_with_an_oci_platform_ref_never_contacts_the_registry(demo: Path) -> None:
    import socket

    with socket.socket() as listener:  # stands where the registry would be, and counts callers
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(0.5)
        host = f"127.0.0.1:{listener.getsockname()[1]}"
        text = (demo / "floe.yaml").read_text()
        (demo / "floe.yaml").write_text(text.replace(
            "profiles:\n", f"platform: {{ref: 'oci://{host}/acme/platform:v1.0.0'}}\nprofiles:\n"))
        code, modules, output = run_and_list_modules(["validate", "floe.yaml"], demo)
        assert code in (0, None), output
        assert "floe.yaml: ok" in output
        with pytest.raises(socket.timeout):
            listener.accept()
    assert not [m for m in modules if m.startswith("floe.releases")], output
