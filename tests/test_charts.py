"""The Helm charts: lint, render for every values file, validate as Kubernetes objects.

charts/floe-platform deploys the Dagster webserver and daemon over PostgreSQL with the
K8sRunLauncher and the platform file as a ConfigMap; charts/floe-product deploys one product as
a code location. Rendering is offline (``helm template``), validation is offline
(``kubernetes-validate --strict``); no API server runs here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from support.helm import (CHARTS, documents, find, kubernetes_validate, pod_specs, render,
                          run_helm)

DIGEST = "sha256:" + "ab" * 32

#: A platform file with what a YAML round trip would change: comments, flow style, quotes,
#: unicode, trailing spaces and no final newline. The ConfigMap must carry it byte for byte.
PLATFORM = """\
# prod platform — owned by the platform team   
apiVersion: floe.dev/v1
kind: Platform
metadata: {name: acme, version: "1.2.3"}
catalogs:
  default:
    type: polaris
    uri: 'https://polaris.example.com/api/catalog'
    warehouse: prod
    credentials: {mode: oauth2, client_id: floe, client_secret: {secret_ref: polaris-oauth},
                  scope: "PRINCIPAL_ROLE:ALL"}
secrets: {backends: [env, k8s]}
observability: {traces: true, lineage: true, otlp_endpoint: "http://otel-collector:4318"}
# naïve ünïcode, a tab\there and a backslash \\n"""


@pytest.fixture(scope="module")
def platform_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("platform") / "platform.yaml"
    path.write_bytes(PLATFORM.encode())
    return path


def _platform(platform_file: Path, *args: str) -> list[dict]:
    return documents(render("floe-platform", "--set-file", f"platformFile={platform_file}", *args))


def _product(*args: str) -> list[dict]:
    return documents(render("floe-product", "--set", "image.repository=registry.example.com/sales",
                            *args, release="customer-analytics"))


def _values_files(chart: str) -> list[str]:
    return sorted(p.name for p in (CHARTS / chart).glob("values-*.yaml"))


def test_each_chart_passes_helm_lint(platform_file):
    run_helm("lint", "--strict", str(CHARTS / "floe-platform"), "--set-file",
             f"platformFile={platform_file}")
    run_helm("lint", "--strict", str(CHARTS / "floe-product"), "--set",
             "image.repository=registry.example.com/sales", "--set", f"image.digest={DIGEST}")


@pytest.mark.parametrize("chart", ["floe-platform", "floe-product"])
def test_every_values_file_renders_valid_kubernetes_objects(chart, platform_file, tmp_path):
    files = _values_files(chart)
    assert files == ["values-dev.yaml", "values-local.yaml", "values-prod.yaml"]
    for name in files:
        if chart == "floe-platform":
            # With everything optional switched on, so that every template is validated.
            manifest = render(chart, "-f", str(CHARTS / chart / name), "--set-file",
                              f"platformFile={platform_file}", "--set", "otelCollector.enabled=true",
                              "--set", "marquez.enabled=true", "--set",
                              "secretMounts[0].ref=polaris-oauth,secretMounts[0].key=client-secret",
                              "--set", "codeLocations[0].name=customer-analytics")
        else:
            manifest = render(chart, "-f", str(CHARTS / chart / name), "--set",
                              "image.repository=registry.example.com/sales", "--set",
                              f"image.digest={DIGEST}", "--set", "secretMounts[0].ref=s3-keys",
                              release="customer-analytics")
        path = tmp_path / f"{chart}-{name}"
        path.write_text(manifest)
        result = kubernetes_validate(path)
        assert result.returncode == 0, f"{chart} {name}:\n{result.stdout}\n{result.stderr}"
        assert documents(manifest), f"{chart} {name} rendered nothing"


def test_the_platform_configmap_is_the_platform_file_byte_for_byte(platform_file):
    configmap = find(_platform(platform_file), "ConfigMap", "floe-platform-platform")
    assert configmap["data"]["platform.yaml"].encode() == platform_file.read_bytes()


def test_the_platform_file_is_mounted_at_etc_floe_and_its_change_rolls_the_pods(platform_file, tmp_path):
    objects = _platform(platform_file)
    changed = tmp_path / "platform.yaml"
    changed.write_bytes(platform_file.read_bytes().replace(b"1.2.3", b"1.2.4"))
    after = _platform(changed)
    for name in ("floe-platform-webserver", "floe-platform-daemon"):
        spec = find(objects, "Deployment", name)["spec"]["template"]
        mount = [m for m in spec["spec"]["containers"][0]["volumeMounts"] if m["name"] == "floe-platform"]
        assert mount == [{"name": "floe-platform", "mountPath": "/etc/floe/platform.yaml",
                          "subPath": "platform.yaml", "readOnly": True}]
        before_sum = spec["metadata"]["annotations"]["checksum/platform"]
        after_sum = find(after, "Deployment", name)["spec"]["template"]["metadata"]["annotations"]["checksum/platform"]
        assert before_sum != after_sum


def test_every_container_has_requests_limits_and_runs_as_non_root(platform_file):
    objects = [*_platform(platform_file, "--set", "otelCollector.enabled=true", "--set",
                          "marquez.enabled=true"),
               *_product("--set", f"image.digest={DIGEST}")]
    specs = pod_specs(objects)
    assert len(specs) == 6  # webserver, daemon, postgresql, collector, marquez, code server
    for owner, spec in specs:
        for container in spec.get("initContainers", []) + spec["containers"]:
            label = f"{owner} container {container['name']}"
            resources = container.get("resources", {})
            assert {"cpu", "memory"} <= set(resources.get("requests", {})), label
            assert {"cpu", "memory"} <= set(resources.get("limits", {})), label
            context = {**spec.get("securityContext", {}), **container.get("securityContext", {})}
            assert context.get("runAsNonRoot") is True, label
            assert context.get("runAsUser", 0) != 0, label
            assert context.get("allowPrivilegeEscalation") is False, label


def test_postgres_password_comes_from_the_secret_and_key_the_values_name(platform_file):
    objects = _platform(platform_file, "--set", "postgresql.passwordSecret.name=db-creds",
                        "--set", "postgresql.passwordSecret.key=pg-pass")
    for name in ("floe-platform-webserver", "floe-platform-daemon"):
        env = find(objects, "Deployment", name)["spec"]["template"]["spec"]["containers"][0]["env"]
        password = [e for e in env if e["name"] == "DAGSTER_PG_PASSWORD"]
        assert password == [{"name": "DAGSTER_PG_PASSWORD", "valueFrom": {
            "secretKeyRef": {"name": "db-creds", "key": "pg-pass"}}}]
    instance = yaml.safe_load(find(objects, "ConfigMap", "floe-platform-instance")["data"]["dagster.yaml"])
    assert instance["storage"]["postgres"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    run_env = instance["run_launcher"]["config"]["run_k8s_config"]["container_config"]["env"]
    assert {"name": "DAGSTER_PG_PASSWORD",
            "value_from": {"secret_key_ref": {"name": "db-creds", "key": "pg-pass"}}} in run_env


def test_prod_uses_the_external_postgres_and_bundles_none(platform_file):
    objects = _platform(platform_file, "-f", str(CHARTS / "floe-platform" / "values-prod.yaml"))
    assert not [o for o in objects if o["kind"] == "StatefulSet"]
    instance = yaml.safe_load(find(objects, "ConfigMap", "floe-platform-instance")["data"]["dagster.yaml"])
    db = instance["storage"]["postgres"]["postgres_db"]
    assert (db["hostname"], db["params"]) == ("dagster-db.prod.internal", {"sslmode": "require"})


def test_secrets_are_mounted_by_reference_in_the_k8s_backends_layout(platform_file):
    objects = _platform(platform_file, "--set",
                        "secretMounts[0].ref=polaris-oauth,secretMounts[0].key=client-secret",
                        "--set", "secretMounts[1].ref=s3-keys,secretMounts[1].secretName=lake-keys")
    pod = find(objects, "Deployment", "floe-platform-daemon")["spec"]["template"]["spec"]
    mounts = {m["mountPath"]: m for m in pod["containers"][0]["volumeMounts"]}
    # {secret_ref: polaris-oauth} is the file /var/run/secrets/polaris-oauth; {secret_ref: s3-keys,
    # key: k} is /var/run/secrets/s3-keys/k, one file per key of the Secret.
    assert mounts["/var/run/secrets/polaris-oauth"]["subPath"] == "client-secret"
    assert "subPath" not in mounts["/var/run/secrets/s3-keys"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/var/run/secrets/s3-keys"]["name"]]["secret"] == {"secretName": "lake-keys"}
    launcher = yaml.safe_load(find(objects, "ConfigMap", "floe-platform-instance")["data"]["dagster.yaml"])
    run_mounts = {m["mount_path"] for m in launcher["run_launcher"]["config"]["volume_mounts"]}
    assert {"/etc/floe/platform.yaml", "/var/run/secrets/polaris-oauth", "/var/run/secrets/s3-keys"} <= run_mounts


def test_the_run_launcher_config_is_valid_for_dagster_k8s(platform_file):
    from dagster._config import process_config
    from dagster_k8s import K8sRunLauncher

    for name in _values_files("floe-platform"):
        objects = _platform(platform_file, "-f", str(CHARTS / "floe-platform" / name))
        instance = yaml.safe_load(find(objects, "ConfigMap", "floe-platform-instance")["data"]["dagster.yaml"])
        launcher = instance["run_launcher"]
        assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher")
        result = process_config(K8sRunLauncher.config_type(), launcher["config"])
        assert result.success, f"{name}: {[e.message for e in result.errors]}"
    broken = dict(launcher["config"], run_k8s_config={"container_cfg": {}})
    assert not process_config(K8sRunLauncher.config_type(), broken).success


def test_the_values_schema_rejects_a_misspelled_key(platform_file):
    import subprocess

    from support.helm import helm

    proc = subprocess.run([str(helm()), "template", "x", str(CHARTS / "floe-platform"), "--set-file",
                           f"platformFile={platform_file}", "--set", "webserver.replica=2"],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "replica" in proc.stderr


def test_rendering_without_the_platform_file_says_how_to_give_it():
    import subprocess

    from support.helm import helm

    proc = subprocess.run([str(helm()), "template", "x", str(CHARTS / "floe-platform")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "--set-file platformFile=" in proc.stderr


def test_the_code_server_and_its_runs_use_the_image_pinned_by_digest():
    objects = _product("--set", "image.tag=1.0.0", "--set", f"image.digest={DIGEST}",
                       "--set", "secretMounts[0].ref=s3-keys")
    container = find(objects, "Deployment", "customer-analytics")["spec"]["template"]["spec"]["containers"][0]
    image = f"registry.example.com/sales@{DIGEST}"
    assert container["image"] == image
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["DAGSTER_CURRENT_IMAGE"] == image
    context = json.loads(env["DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT"])["k8s"]
    assert [m["mount_path"] for m in context["volume_mounts"]] == ["/var/run/secrets/s3-keys"]
    assert container["args"][:2] == ["code-server", "start"]


def test_the_pods_name_the_platform_release_the_product_was_compiled_against():
    release = "oci://registry.example.com/acme/platform:v1.2.0"
    objects = _product("--set", "image.tag=1.0.0", "--set", f"platform.ref={release}",
                       "--set", f"platform.releaseDigest={DIGEST}")
    annotations = find(objects, "Deployment", "customer-analytics")["spec"]["template"]["metadata"]["annotations"]
    assert annotations["floe.dev/platform-ref"] == release
    assert annotations["floe.dev/platform-release-digest"] == DIGEST
    # a platform from a file has neither
    plain = find(_product("--set", "image.tag=1.0.0"), "Deployment", "customer-analytics")
    assert not {"floe.dev/platform-ref", "floe.dev/platform-release-digest"} & set(
        plain["spec"]["template"]["metadata"]["annotations"])


def test_the_product_chart_refuses_to_render_without_an_image():
    import subprocess

    from support.helm import helm

    proc = subprocess.run([str(helm()), "template", "x", str(CHARTS / "floe-product")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "floe package" in proc.stderr


def test_secrets_reach_the_pods_only_by_reference(platform_file):
    # The charts refer to Secrets by name and key: they define none with contents, and every
    # sensitive variable of every container comes from a secretKeyRef, never a literal value.
    manifests = render("floe-platform", "--set-file", f"platformFile={platform_file}", "--set",
                       "secretMounts[0].ref=polaris-oauth", "--set", "secretMounts[1].ref=s3-keys",
                       "--set", "otelCollector.enabled=true", "--set", "marquez.enabled=true")
    manifests += render("floe-product", "--set", "image.repository=r.example.com/p", "--set",
                        f"image.digest={DIGEST}", "--set", "secretMounts[0].ref=s3-keys")
    objects = documents(manifests)
    assert not [o for o in objects if o["kind"] == "Secret" and (o.get("data") or o.get("stringData"))]
    sensitive = [(owner, env) for owner, spec in pod_specs(objects)
                 for container in [*spec.get("initContainers", []), *spec["containers"]]
                 for env in container.get("env", [])
                 if any(word in env["name"].upper() for word in ("PASSWORD", "SECRET", "TOKEN"))]
    assert sensitive, "the charts pass the PostgreSQL password to Dagster: a sensitive variable"
    literal = [(owner, env["name"]) for owner, env in sensitive
               if "value" in env or "secretKeyRef" not in env.get("valueFrom", {})]
    assert literal == []


def test_the_run_job_dagster_k8s_builds_from_the_rendered_config_is_valid_and_pinned(platform_file, tmp_path):
    """The Job a scheduled run would become, built offline by dagster-k8s's own code.

    The K8sRunLauncher is configured from the rendered dagster.yaml (with a kubeconfig naming a
    closed port instead of the in-cluster config: no API server runs here, and none is called);
    the run's code origin carries the image and container context the rendered code server
    reports. The Job it constructs must be a valid Kubernetes object in the pinned image, with
    the platform file, both products' secret mounts and the password by reference.
    """
    from dagster._core.code_pointer import FileCodePointer
    from dagster._core.origin import JobPythonOrigin, RepositoryPythonOrigin
    from dagster._core.storage.dagster_run import DagsterRun
    from dagster_k8s import K8sRunLauncher
    from dagster_k8s.job import construct_dagster_k8s_job
    from kubernetes.client import ApiClient

    platform = _platform(platform_file, "-f", str(CHARTS / "floe-platform" / "values-prod.yaml"),
                         "--set", "secretMounts[0].ref=polaris-oauth,secretMounts[0].key=value")
    product = _product("-f", str(CHARTS / "floe-product" / "values-prod.yaml"), "--set",
                       f"image.digest={DIGEST}", "--set", "secretMounts[0].ref=s3-keys")
    config = yaml.safe_load(find(platform, "ConfigMap", "floe-platform-instance")["data"]["dagster.yaml"])
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
        "users": [{"name": "u", "user": {"token": "not-a-secret"}}]}))
    launcher = K8sRunLauncher(**{**config["run_launcher"]["config"], "load_incluster_config": False,
                                 "kubeconfig_file": str(kubeconfig)})
    container = find(product, "Deployment", "customer-analytics")["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    origin = JobPythonOrigin("daily_refresh", RepositoryPythonOrigin(
        "/usr/local/bin/python", FileCodePointer("/opt/floe/product/code_location.py", "defs"),
        container_image=env["DAGSTER_CURRENT_IMAGE"],
        container_context=json.loads(env["DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT"])))
    run = DagsterRun(job_name="daily_refresh", run_id="0123abcd", job_code_origin=origin)
    context = launcher.get_container_context_for_run(run)
    job = construct_dagster_k8s_job(
        job_config=context.get_k8s_job_config(job_image=env["DAGSTER_CURRENT_IMAGE"], run_launcher=launcher),
        args=["dagster", "api", "execute_run", "{}"], job_name="dagster-run-0123abcd",
        pod_name="dagster-run-0123abcd", component="run_worker",
        user_defined_k8s_config=context.run_k8s_config, labels={})
    manifest = ApiClient().sanitize_for_serialization(job)
    manifest.update(apiVersion="batch/v1", kind="Job")
    path = tmp_path / "run-job.yaml"
    path.write_text(yaml.safe_dump(manifest))
    result = kubernetes_validate(path)
    assert result.returncode == 0, result.stdout + result.stderr

    pod = manifest["spec"]["template"]["spec"]
    run_container = pod["containers"][0]
    assert run_container["image"] == f"registry.example.com/sales@{DIGEST}"
    mounts = {m["mountPath"] for m in run_container["volumeMounts"]}
    assert {"/etc/floe/platform.yaml", "/var/run/secrets/polaris-oauth", "/var/run/secrets/s3-keys"} <= mounts
    assert len({v["name"] for v in pod["volumes"]}) == len(pod["volumes"])
    assert {"name": "DAGSTER_PG_PASSWORD", "valueFrom": {"secretKeyRef": {
        "name": "dagster-postgresql", "key": "postgresql-password"}}} in run_container["env"]
    # The location's run_k8s_config (prod: more memory for runs) wins over the platform's.
    assert run_container["resources"]["limits"] == {"cpu": "4", "memory": "8Gi"}
    assert run_container["securityContext"]["runAsNonRoot"] is True
    assert manifest["spec"]["ttlSecondsAfterFinished"] == 604800
