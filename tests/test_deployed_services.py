"""The rendered deployment really runs: Dagster webserver, daemon and the product's code server
over a real PostgreSQL, configured only by what the charts render.

No Kubernetes API server can run on this machine, so the pods are played by processes: the
test renders both charts the way ``floe platform deploy --dry-run`` / ``floe deploy --dry-run``
print them, takes the Dagster instance (``dagster.yaml``) and the workspace from the rendered
ConfigMaps, and swaps exactly one thing, the run launcher: Dagster's ``DefaultRunLauncher``
instead of the ``K8sRunLauncher`` (whose config is checked against dagster-k8s's own schema in
test_charts.py). Each process gets the command, arguments and environment of its rendered
container, with the pod's paths moved under a temporary directory (``/etc/floe`` → the platform
file from the ConfigMap, ``/var/run/secrets/<ref>`` → the Secret volumes laid out as the kubelet
would, ``secretKeyRef`` env vars → the values of the test's stand-in Secrets) and ``0.0.0.0``
replaced by ``127.0.0.1``. The run process gets the env the run launcher would give a run pod.

Then a floe.yaml schedule fires through the daemon, the run publishes Iceberg tables, the
webserver's GraphQL API reports SUCCESS, and a daemon restart keeps the schedule's state.
"""

from __future__ import annotations

import json
import os
import secrets as random
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from pyiceberg.catalog.sql import SqlCatalog

from conftest import EXAMPLE, floe_subprocess, prime_dbt_cache
from support import free_port
from support.helm import documents, find, helm
from support.postgres import postgres  # noqa: F401 - the session fixture

BIN = Path(sys.executable).parent
LOCATION = "customer-analytics"
SECRETS_IN_PLATFORM = """\
    settings:
      http_proxy_username: {secret_ref: proxy, key: username}
      http_proxy_password: {secret_ref: proxy-password}
"""
REPOSITORY = "__repository__"


def _graphql(port: int, query: str) -> dict:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/graphql",
                                     data=json.dumps({"query": query}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=20) as response:
        answer = json.load(response)
    assert "errors" not in answer, answer
    return answer["data"]


class Pods:
    """The deployment's processes, each started like its rendered container."""

    def __init__(self, root: Path, moves: dict[str, str], secrets: dict[str, dict[str, str]]):
        self.root, self.moves, self.secrets = root, moves, secrets
        self.processes: dict[str, subprocess.Popen] = {}

    def local(self, text: str) -> str:
        for pod_path, here in self.moves.items():
            text = text.replace(pod_path, here)
        return text.replace("0.0.0.0", "127.0.0.1")

    def env(self, entries: list[dict]) -> dict[str, str]:
        """A container's env: plain values moved, ``secretKeyRef``s resolved from the Secrets."""
        out = {}
        for entry in entries:
            source = entry.get("valueFrom") or entry.get("value_from")
            if source:
                ref = source.get("secretKeyRef") or source.get("secret_key_ref")
                out[entry["name"]] = self.secrets[ref["name"]][ref["key"]]
            else:
                out[entry["name"]] = self.local(entry["value"])
        return out

    def start(self, name: str, container: dict, extra_env: dict[str, str], cwd: Path) -> None:
        command = [self.local(str(a)) for a in container["command"] + container.get("args", [])]
        command[0] = str(BIN / command[0])
        env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(self.root / "home"),
               "LANG": "C.UTF-8", **self.env(container["env"]), **extra_env}
        log = open(self.root / f"{name}.log", "ab")
        self.processes[name] = subprocess.Popen(command, cwd=cwd, env=env, stdout=log,
                                                stderr=subprocess.STDOUT, start_new_session=True)
        log.close()

    def stop(self, name: str) -> None:
        process = self.processes.pop(name)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-4000:]}"
                         for p in sorted(self.root.glob("*.log")))


@pytest.fixture(scope="module")
def deployment(postgres, tmp_path_factory):  # noqa: F811 - the session fixture
    helm()
    root = tmp_path_factory.mktemp("deployed")
    (root / "home").mkdir()
    pod = root / "pod"
    secret_root = pod / "var" / "run" / "secrets"
    canaries = {"username": "canary-" + random.token_hex(10), "password": "canary-" + random.token_hex(10)}
    # The Secrets of the namespace, as `kubectl create secret` would hold them.
    secrets = {"proxy": {"username": canaries["username"]},
               "proxy-password": {"value": canaries["password"]},
               "floe-postgresql": {"password": postgres.password}}

    # -- the data team's product, its schedule every minute so the test sees it fire
    source = root / "source" / LOCATION
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(".floe", "target", "logs"))
    prime_dbt_cache(EXAMPLE, source)
    floe_yaml = source / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text().replace('cron: "0 6 * * *"', 'cron: "* * * * *"'))
    # -- the platform team's file: secrets only from the Kubernetes mounts
    platform_file = source / "platform" / "local" / "platform.yaml"
    platform_file.write_text(platform_file.read_text()
                             .replace("    memory_limit: 2GB\n", "    memory_limit: 2GB\n" + SECRETS_IN_PLATFORM)
                             .replace("backends: [env]", f"backends: [{{type: k8s, root: {secret_root}}}]"))

    proc = floe_subprocess(["package", "--image", f"registry.example.com/{LOCATION}:1.0.0"],
                           cwd=source, timeout=300)
    assert proc.returncode == 0, proc.stderr
    product = source / ".floe" / "package" / "product"

    code_port, web_port = free_port(), free_port()
    (root / "platform-values.yaml").write_text(yaml.safe_dump({
        "postgresql": {"enabled": False, "host": "127.0.0.1", "port": postgres.port,
                       "username": postgres.user, "database": postgres.database},
        "codeLocations": [{"name": LOCATION, "host": "127.0.0.1", "port": code_port}]}))
    (root / "product-values.yaml").write_text(yaml.safe_dump({
        "location": {"port": code_port, "productDir": str(product)}}))
    rendered = floe_subprocess(["platform", "deploy", platform_file, "--env", "local", "--dry-run",
                                "-f", root / "platform-values.yaml"], cwd=source)
    assert rendered.returncode == 0, rendered.stderr
    platform_objects = documents(rendered.stdout)
    rendered = floe_subprocess(["deploy", "--env", "local", "--dry-run", "--image",
                                f"registry.example.com/{LOCATION}:1.0.0", "--image-digest",
                                "sha256:" + "ef" * 32, "-f", root / "product-values.yaml"],
                               cwd=source, timeout=120)
    assert rendered.returncode == 0, rendered.stderr
    product_objects = documents(rendered.stdout)

    # -- what the ConfigMaps hold, at the paths the pods mount them
    home = root / "dagster_home"
    home.mkdir()
    instance = yaml.safe_load(find(platform_objects, "ConfigMap", "floe-platform-instance")["data"]["dagster.yaml"])
    k8s_launcher = instance["run_launcher"]
    # The one swap: there is no cluster to start Jobs in.
    instance["run_launcher"] = {"module": "dagster._core.launcher", "class": "DefaultRunLauncher"}
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance))
    workspace = root / "workspace.yaml"
    workspace.write_text(find(platform_objects, "ConfigMap", "floe-platform-workspace")["data"]["workspace.yaml"])
    etc = pod / "etc" / "floe"
    etc.mkdir(parents=True)
    (etc / "platform.yaml").write_text(find(platform_objects, "ConfigMap", "floe-platform-platform")["data"]["platform.yaml"])

    pods = Pods(root, {"/etc/floe": str(etc), "/opt/dagster/dagster_home": str(home),
                       "/opt/dagster/workspace.yaml": str(workspace)}, secrets)
    code_pod = find(product_objects, "Deployment", LOCATION)["spec"]["template"]["spec"]
    # -- the Secret volumes, laid out as the kubelet mounts them
    volumes = {v["name"]: v for v in code_pod["volumes"]}
    for mount in code_pod["containers"][0]["volumeMounts"]:
        if not mount["mountPath"].startswith("/var/run/secrets/"):
            continue
        secret = secrets[volumes[mount["name"]]["secret"]["secretName"]]
        target = secret_root / mount["mountPath"].removeprefix("/var/run/secrets/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if mount.get("subPath"):
            target.write_text(secret[mount["subPath"]])
        else:
            target.mkdir()
            for key, value in secret.items():
                (target / key).write_text(value)
    # What the K8sRunLauncher gives every run pod (the PostgreSQL password by reference): the
    # DefaultRunLauncher starts runs from the code server, so its process carries that env too.
    run_env = pods.env(k8s_launcher["config"]["run_k8s_config"]["container_config"]["env"])
    yield {"root": root, "pods": pods, "product": product, "home": home, "canaries": canaries,
           "code_pod": code_pod, "run_env": run_env, "web_port": web_port, "code_port": code_port,
           "platform": find(platform_objects, "Deployment", "floe-platform-webserver")["spec"]["template"]["spec"],
           "daemon": find(platform_objects, "Deployment", "floe-platform-daemon")["spec"]["template"]["spec"],
           "postgres": postgres}
    for name in list(pods.processes):
        pods.stop(name)


def _wait(what: str, check, timeout: float, pods: Pods):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, process in pods.processes.items():
            assert process.poll() is None, f"{name} exited {process.returncode}\n{pods.logs()}"
        try:
            result = check()
        except (OSError, ValueError, KeyError, AssertionError):
            result = None
        if result:
            return result
        time.sleep(2)
    pytest.fail(f"{what}: not within {timeout} s\n{pods.logs()}")


SCHEDULE = f"""{{ scheduleOrError(scheduleSelector: {{repositoryLocationName: "{LOCATION}",
    repositoryName: "{REPOSITORY}", scheduleName: "daily_refresh"}}) {{
  ... on Schedule {{ cronSchedule scheduleState {{ status ticks(limit: 50) {{ tickId status timestamp runIds }} }} }}
  ... on PythonError {{ message }} }} }}"""
RUNS = """{ runsOrError { ... on Runs { results { runId status tags { key value } } } } }"""


def test_a_schedule_fires_through_the_daemon_and_the_run_succeeds_on_postgres(deployment):
    pods, product = deployment["pods"], deployment["product"]
    manifest = product / ".floe" / "dbt" / "core" / "target" / "manifest.json"
    manifest_before = manifest.read_bytes()

    # The code server first; readiness as the pod's probe checks it.
    code = deployment["code_pod"]["containers"][0]
    pods.start("code-server", code, deployment["run_env"], cwd=Path(pods.local(code["workingDir"])))
    probe = [str(BIN / "dagster"), *code["readinessProbe"]["exec"]["command"][1:]]
    started = time.monotonic()
    _wait("code server ready", lambda: subprocess.run(probe, capture_output=True).returncode == 0, 180, pods)
    print(f"code location ready in {time.monotonic() - started:.1f}s")
    # Loading the location used the manifest built into the image: dbt never parsed it.
    assert manifest.read_bytes() == manifest_before
    assert not (product / ".floe" / "dbt" / "core" / "logs").exists()

    web = deployment["platform"]["containers"][0]
    web = {**web, "args": [a if a != "3000" else str(deployment["web_port"]) for a in web["args"]]}
    pods.start("webserver", web, {}, cwd=deployment["home"])
    pods.start("daemon", deployment["daemon"]["containers"][0], {}, cwd=deployment["home"])
    port = deployment["web_port"]
    schedule = _wait("schedule visible", lambda: _graphql(port, SCHEDULE)["scheduleOrError"].get("scheduleState"),
                     180, pods)
    assert schedule["status"] == "RUNNING"  # floe.yaml's schedule, enabled by default

    def finished_scheduled_run():
        runs = _graphql(port, RUNS)["runsOrError"]["results"]
        scheduled = [r for r in runs if {"key": "dagster/schedule_name", "value": "daily_refresh"} in r["tags"]]
        done = [r for r in scheduled if r["status"] in {"SUCCESS", "FAILURE", "CANCELED"}]
        return done[0] if done else None

    run = _wait("a scheduled run finished", finished_scheduled_run, 300, pods)
    assert run["status"] == "SUCCESS", pods.logs()

    # The run published the product's tables, read back with plain pyiceberg.
    catalog = SqlCatalog("floe", uri=f"sqlite:///{product / '.floe' / 'catalog.db'}",
                         warehouse=(product / ".floe" / "warehouse").as_uri())
    revenue = catalog.load_table("gold.gold_revenue_by_country")
    assert revenue.current_snapshot() is not None and revenue.scan().to_arrow().num_rows > 0
    assert catalog.load_table("gold.top_countries").scan().to_arrow().num_rows == 2

    # Runs, events and schedule state live in PostgreSQL, not in files of the Dagster home.
    assert not [p for p in deployment["home"].rglob("*") if p.suffix in {".db", ".sqlite"}]
    dump = deployment["postgres"].dump()
    assert run["runId"] in dump


def test_restarting_the_daemon_keeps_the_schedule_state(deployment):
    pods, port = deployment["pods"], deployment["web_port"]
    if "daemon" not in pods.processes:
        pytest.fail("the previous test did not leave the deployment running")
    before = _graphql(port, SCHEDULE)["scheduleOrError"]["scheduleState"]
    ticked = [t for t in before["ticks"] if t["runIds"]]
    assert ticked, before
    pods.stop("daemon")
    # With no daemon at all, the webserver still reads the state from PostgreSQL.
    down = _graphql(port, SCHEDULE)["scheduleOrError"]["scheduleState"]
    assert down["status"] == "RUNNING" and down["ticks"] == before["ticks"]
    pods.start("daemon", deployment["daemon"]["containers"][0], {}, cwd=deployment["home"])
    last = max(t["timestamp"] for t in before["ticks"])

    def next_tick():
        state = _graphql(port, SCHEDULE)["scheduleOrError"]["scheduleState"]
        newer = [t for t in state["ticks"] if t["timestamp"] > last and t["status"] != "STARTED"]
        return state if newer else None

    after = _wait("the restarted daemon's next tick", next_tick, 150, pods)
    # The restarted daemon went on from the stored cursor: each earlier tick is kept, with the
    # same single run, and no earlier tick was evaluated again.
    by_id = {t["tickId"]: t for t in after["ticks"]}
    for tick in ticked:
        assert by_id[tick["tickId"]]["runIds"] == tick["runIds"]
    stamps = [t["timestamp"] for t in after["ticks"]]
    assert len(stamps) == len(set(stamps))


def test_no_secret_reaches_the_database_the_logs_or_the_product(deployment):
    pods = deployment["pods"]
    for name in list(pods.processes):
        pods.stop(name)
    dump = deployment["postgres"].dump()
    logs = pods.logs()
    files = b"".join(p.read_bytes() for p in deployment["product"].rglob("*") if p.is_file())
    for value in deployment["canaries"].values():
        assert value not in dump and value not in logs
        assert value.encode() not in files
    assert deployment["postgres"].password not in dump and deployment["postgres"].password not in logs
