"""`floe package`, `floe platform deploy` and `floe deploy`: the build context and the releases.

Packaging and dry runs are complete here (helm renders offline). No Kubernetes API server can
run on this machine, so a real `helm upgrade --install` is exercised only up to helm's failure
to reach the (absent) cluster, which must come back as helm's message and exit 1.
"""

from __future__ import annotations

import secrets as random
from pathlib import Path

import pytest
import yaml

from conftest import floe_subprocess
from support.helm import documents, find, helm

CANARY = "canary-" + random.token_hex(12)


def _all_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file())


def test_package_writes_a_build_context_with_artifacts_manifest_and_lock(demo):
    # Files that hold secrets by convention, beside and inside the product: never packaged.
    (demo / ".env").write_text(f"POLARIS_OAUTH={CANARY}\n")
    (demo / "dbt" / "profiles.yml").write_text(f"x: {{password: {CANARY}}}\n")
    (demo / "dbt" / "target").mkdir()
    (demo / "dbt" / "target" / "leak.json").write_text(CANARY)
    proc = floe_subprocess(["package", "--image", "registry.example.com/sales:1.0.0"], cwd=demo,
                           env={"POLARIS_OAUTH": CANARY}, timeout=180)
    assert proc.returncode == 0, proc.stderr
    context = demo / ".floe" / "package"
    files = {p.relative_to(context).as_posix() for p in context.rglob("*") if p.is_file()}
    assert {"Dockerfile", ".dockerignore", "requirements.lock", "product/floe.yaml",
            "product/code_location.py", "product/.floe/compiled_artifacts.json",
            "product/.floe/dbt/core/target/manifest.json", "product/.floe/dbt/core/fingerprint",
            "product/dbt/dbt_project.yml", "product/assets/top_countries.py"} <= files
    assert not {f for f in files if f.endswith(("profiles.yml", ".env", "leak.json"))}
    assert (context / "product/.floe/compiled_artifacts.json").read_bytes() == \
        (demo / ".floe/compiled_artifacts.json").read_bytes()
    assert CANARY.encode() not in _all_bytes(context)
    assert CANARY not in proc.stdout + proc.stderr
    lock = (context / "requirements.lock").read_text().splitlines()
    assert "dagster==1.13.27" in lock and "dbt-core==1.11.16" in lock


def test_package_carries_the_asset_modules_floe_yaml_names(demo):
    # A module named in floe.yaml is imported relative to the product, so the image needs it.
    (demo / "shared_assets").mkdir()
    (demo / "shared_assets" / "__init__.py").write_text("")
    (demo / "shared_assets" / "ranking.py").write_text(
        "from floe.assets import FloeCatalog, floe_asset\n\n\n"
        "@floe_asset(deps=['gold_revenue_by_country'], layer='gold')\n"
        "def best_country(catalog: FloeCatalog):\n"
        "    return catalog.read('gold.gold_revenue_by_country').slice(0, 1)\n")
    floe_yaml = demo / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text() + "assets:\n  modules: [shared_assets.ranking]\n")
    proc = floe_subprocess(["package"], cwd=demo, timeout=180)
    assert proc.returncode == 0, proc.stderr
    product = demo / ".floe" / "package" / "product"
    assert (product / "shared_assets" / "ranking.py").read_bytes() == \
        (demo / "shared_assets" / "ranking.py").read_bytes()


def test_the_dockerfile_pins_its_base_runs_non_root_and_installs_the_lock(demo):
    proc = floe_subprocess(["package", "--base-image", "python:3.11-slim@sha256:" + "0" * 64],
                           cwd=demo, timeout=180)
    assert proc.returncode == 0, proc.stderr
    dockerfile = (demo / ".floe" / "package" / "Dockerfile").read_text()
    lines = dockerfile.splitlines()
    assert f"ARG BASE_IMAGE=python:3.11-slim@sha256:{'0' * 64}" in lines
    assert "FROM ${BASE_IMAGE}" in lines
    assert "RUN pip install --no-cache-dir -r /opt/floe/requirements.lock" in lines
    user = [line for line in lines if line.startswith("USER ")]
    assert user == ["USER 10001:10001"]
    # After USER nothing runs as root again, and no secret is passed as a build argument.
    assert lines.index(user[0]) > max(i for i, line in enumerate(lines) if line.startswith("RUN "))
    assert [line for line in lines if line.startswith("ARG ")] == [lines[lines.index("FROM ${BASE_IMAGE}") - 1]]


def test_package_of_a_product_that_does_not_compile_writes_nothing(demo):
    (demo / "floe.yaml").write_text((demo / "floe.yaml").read_text().replace("catalog: default", "catalog: nope"))
    proc = floe_subprocess(["package"], cwd=demo, timeout=120)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and "nope" in proc.stderr
    assert not (demo / ".floe" / "package").exists()


PLATFORM_DEV = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {name: acme, version: "1.0.0"}
catalogs:
  default:
    type: polaris
    uri: https://polaris.example.com/api/catalog
    warehouse: dev
    credentials: {mode: oauth2, client_id: floe, client_secret: {secret_ref: polaris-oauth},
                  scope: "PRINCIPAL_ROLE:ALL"}
storage:
  default:
    type: s3
    bucket: lake
    region: eu-central-1
    credentials:
      mode: static
      access_key_id: {secret_ref: s3-keys, key: access-key-id}
      secret_access_key: {secret_ref: s3-keys, key: secret-access-key}
compute:
  default: {type: duckdb}
secrets: {backends: [env, k8s]}
observability: {traces: true, lineage: true, otlp_endpoint: "http://collector:4318",
                lineage_endpoint: "http://lineage:5000"}
"""


@pytest.fixture
def platform_repo(tmp_path) -> Path:
    (tmp_path / "platform" / "dev").mkdir(parents=True)
    (tmp_path / "platform" / "dev" / "platform.yaml").write_text(PLATFORM_DEV)
    return tmp_path


def test_platform_deploy_dry_run_prints_the_manifests_it_would_apply(platform_repo):
    helm()  # fails in CI, skips elsewhere, when helm is missing
    proc = floe_subprocess(["platform", "deploy", "--env", "dev", "--dry-run"], cwd=platform_repo,
                           env={"POLARIS_OAUTH": CANARY, "S3_KEYS_FILE": "/nonexistent"})
    assert proc.returncode == 0, proc.stderr
    objects = documents(proc.stdout)
    configmap = find(objects, "ConfigMap", "floe-platform-platform")
    assert configmap["data"]["platform.yaml"] == PLATFORM_DEV
    assert {o["metadata"].get("namespace") for o in objects if o["kind"] == "Role"} == {"floe-dev"}
    daemon = find(objects, "Deployment", "floe-platform-daemon")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m.get("subPath") for m in daemon["containers"][0]["volumeMounts"]}
    # {secret_ref: polaris-oauth}: the file; {secret_ref: s3-keys, key: ...}: the directory of keys.
    assert mounts["/var/run/secrets/polaris-oauth"] == "value"
    assert mounts["/var/run/secrets/s3-keys"] is None
    assert CANARY not in proc.stdout + proc.stderr


def test_platform_deploy_takes_the_optional_services_names_from_platform_yaml(platform_repo):
    helm()
    extra = platform_repo / "observability.yaml"
    extra.write_text("otelCollector: {enabled: true}\nmarquez: {enabled: true}\n")
    proc = floe_subprocess(["platform", "deploy", "--env", "dev", "--dry-run", "-f", extra],
                           cwd=platform_repo)
    assert proc.returncode == 0, proc.stderr
    objects = documents(proc.stdout)
    collector = find(objects, "Service", "collector")
    assert [p["port"] for p in collector["spec"]["ports"]] == [4318, 4317]
    assert find(objects, "Service", "lineage")["spec"]["ports"][0]["port"] == 5000


def test_platform_deploy_of_an_invalid_platform_names_file_line_and_path(platform_repo):
    path = platform_repo / "platform" / "dev" / "platform.yaml"
    path.write_text(PLATFORM_DEV.replace("mode: oauth2", "mode: oauth"))
    proc = floe_subprocess(["platform", "deploy", "--env", "dev", "--dry-run"], cwd=platform_repo)
    assert proc.returncode == 1
    assert "platform.yaml:" in proc.stderr and "credentials.mode" in proc.stderr
    assert proc.stdout == "" and "Traceback" not in proc.stderr


def test_deploy_without_helm_says_how_to_install_it(platform_repo):
    proc = floe_subprocess(["platform", "deploy", "--env", "dev", "--dry-run"], cwd=platform_repo,
                           env={"FLOE_HELM": str(platform_repo / "no-helm")})
    assert proc.returncode == 1
    assert "helm is not installed" in proc.stderr and "https://helm.sh/docs/intro/install/" in proc.stderr


def test_a_failed_release_reports_helms_message_and_exits_1(platform_repo):
    helm()
    # No cluster can run here: a kubeconfig naming a closed port makes helm's upgrade fail the
    # way an unreachable or refusing cluster does.
    kubeconfig = platform_repo / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "not-a-secret"}}]}))
    proc = floe_subprocess(["platform", "deploy", "--env", "dev"], cwd=platform_repo,
                           env={"KUBECONFIG": str(kubeconfig), "FLOE_KUBECTL": "/bin/true"},
                           timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert "helm upgrade --install floe-platform" in proc.stderr
    assert "helm: " in proc.stderr and "127.0.0.1:9" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_deploy_dry_run_releases_the_product_as_a_code_location(demo):
    helm()
    digest = "sha256:" + "cd" * 32
    proc = floe_subprocess(["deploy", "--dry-run", "--image", "registry.example.com/sales:1.0.0",
                            "--image-digest", digest], cwd=demo, timeout=120)
    assert proc.returncode == 0, proc.stderr
    objects = documents(proc.stdout)
    deployment = find(objects, "Deployment", "customer-analytics")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"registry.example.com/sales@{digest}"
    from floe.compiler import compile_product

    compiled = compile_product(demo / "floe.yaml", write=False).artifacts
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert annotations["floe.dev/platform-digest"] == compiled.platform.digest


def test_deploy_needs_the_image(demo):
    proc = floe_subprocess(["deploy", "--dry-run"], cwd=demo)
    assert proc.returncode == 2 and "--image is required" in proc.stderr


def test_platform_init_scaffolds_a_repository_that_validates_and_deploys(tmp_path):
    helm()
    repo = tmp_path / "acme-platform"
    proc = floe_subprocess(["platform", "init", repo], cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for env in ("local", "dev", "prod"):
        checked = floe_subprocess(["platform", "validate", "--env", env], cwd=repo)
        assert checked.returncode == 0, (env, checked.stderr)
    assert (repo / ".github" / "workflows" / "platform.yaml").is_file()
    rendered = floe_subprocess(["platform", "deploy", "--env", "dev", "--dry-run", "-f",
                                "charts/values-dev.yaml"], cwd=repo)
    assert rendered.returncode == 0, rendered.stderr
    objects = documents(rendered.stdout)
    # Every Secret the manifests refer to has a template, with the keys they read.
    templates = {path.name.removesuffix(".example.yaml"): yaml.safe_load(path.read_text())
                 for path in (repo / "secrets").glob("*.example.yaml")}
    referenced = set()
    for obj in objects:
        spec = obj.get("spec", {}).get("template", {}).get("spec", {})
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                referenced.add((volume["secret"]["secretName"], None))
        for container in spec.get("containers", []):
            for entry in container.get("env", []):
                ref = entry.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add((ref["name"], ref["key"]))
    assert {name for name, _ in referenced} == set(templates)
    for name, key in referenced:
        assert key is None or key in templates[name]["stringData"]
    assert all(v == "REPLACE_ME" for t in templates.values() for v in t["stringData"].values())
    assert find(objects, "Deployment", "marquez")["spec"]["replicas"] == 1
    again = floe_subprocess(["platform", "init", repo], cwd=tmp_path)
    assert again.returncode == 1 and "not an empty directory" in again.stderr
