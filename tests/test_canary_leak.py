"""Canary leak test: no secret value ever leaves the process that resolved it (SPEC §2, §9).

Every secret reference of a product gets a random canary value, provided the ways a platform
provides secrets (an environment variable, a ``NAME_FILE`` file, a Kubernetes secret volume).
Then the real CLI runs in child processes, as verbosely as floe and dbt allow: validate,
compile, ``secrets check`` (all present, and one missing), a passing ``floe run`` whose dbt
profile really uses the secrets, and a failing one. Afterwards nothing may contain any canary:
not stdout or stderr of any command, and not one byte of any file under the product
(CompiledArtifacts, ``.floe/dbt`` logs, target/ and profiles, Dagster's run storage and event
logs, the DuckDB and Iceberg files, traces and lineage wherever they are written), the HOME or
the TMPDIR the commands ran with. Only the secret sources themselves, outside those trees, hold
the values.

A canary is searched for as written, base64-encoded, and by each half, so that a truncated or
partially masked value is caught too.
"""

from __future__ import annotations

import base64
import hashlib
import secrets as random
import shutil

import pytest
from pyiceberg.catalog.sql import SqlCatalog

from conftest import EXAMPLE, floe_subprocess

LOCAL_SECRETS = """\
    settings:
      http_proxy_username: {secret_ref: proxy, key: username}
      http_proxy_password: {secret_ref: proxy-password}
"""

CLOUD_PLATFORM = """\
apiVersion: floe.dev/v1
kind: Platform
metadata: {name: cloud, version: "1.0.0"}
storage:
  default:
    type: s3
    bucket: lake
    region: eu-central-1
    endpoint: http://127.0.0.1:9
    path_style_access: true
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
      scope: "PRINCIPAL_ROLE:ALL"
compute:
  default:
    type: duckdb
    path: .floe/warehouse.duckdb
    threads: 2
    memory_limit: 2GB
%s
orchestrator: {type: dagster}
secrets:
  backends: [env, {type: k8s, root: %s}]
"""

#: dbt proves it received the values by hashing them (a hash is not the value).
PROXY_CHECK = """\
select md5(current_setting('http_proxy_username')) as username_md5,
       md5(current_setting('http_proxy_password')) as password_md5
"""
BROKEN = "select * from a_table_that_does_not_exist\n"


def canary() -> str:
    return "cnry" + random.token_hex(14)


def needles(value: str) -> list[bytes]:
    """The forms a leaked value could take: as is, base64, and each half."""
    raw = value.encode()
    half = len(raw) // 2
    return [raw, base64.b64encode(raw), raw[:half], raw[half:]]


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """The product, the secret sources and the environment every command runs with."""
    root = tmp_path_factory.mktemp("canary")
    product, home, tmp, mounted, files = (root / name for name in
                                          ("shop", "home", "tmp", "mounted", "secret-files"))
    shutil.copytree(EXAMPLE, product, ignore=shutil.ignore_patterns(".floe"))
    for directory in (home, tmp, mounted / "proxy", mounted / "s3-keys", files):
        directory.mkdir(parents=True)
    values = {"proxy#username": canary(), "proxy-password": canary(), "s3-keys#access-key-id": canary(),
              "s3-keys#secret-access-key": canary(), "polaris-oauth": canary()}
    # Kubernetes secret volumes, one file per key ...
    (mounted / "proxy" / "username").write_text(values["proxy#username"])
    (mounted / "s3-keys" / "access-key-id").write_text(values["s3-keys#access-key-id"])
    (mounted / "s3-keys" / "secret-access-key").write_text(values["s3-keys#secret-access-key"] + "\n")
    # ... a Docker-style secret file named by NAME_FILE, and a plain environment variable.
    (files / "polaris-oauth").write_text(values["polaris-oauth"] + "\n")
    env = {"PROXY_PASSWORD": values["proxy-password"],
           "POLARIS_OAUTH_FILE": str(files / "polaris-oauth"),
           "HOME": str(home), "TMPDIR": str(tmp),
           # As verbose as it gets: tracebacks on internal errors, dbt's debug logging.
           "FLOE_DEBUG": "1", "DBT_DEBUG": "1", "DBT_LOG_LEVEL_FILE": "debug"}
    local = product / "platform" / "local" / "platform.yaml"
    local.write_text(local.read_text()
                     .replace("    memory_limit: 2GB\n", "    memory_limit: 2GB\n" + LOCAL_SECRETS)
                     .replace("backends: [env]", f"backends: [env, {{type: k8s, root: {mounted}}}]"))
    (product / "platform" / "cloud").mkdir()
    (product / "platform" / "cloud" / "platform.yaml").write_text(
        CLOUD_PLATFORM % (LOCAL_SECRETS.rstrip("\n"), mounted))
    (product / "dbt" / "models" / "gold" / "gold_proxy_check.sql").write_text(PROXY_CHECK)
    return {"root": root, "product": product, "searched": [product, home, tmp], "values": values,
            "env": env}


@pytest.fixture(scope="module")
def outputs(scene):
    """Run every command; return ``{label: (exit code, stdout + stderr)}``."""
    product, env = scene["product"], scene["env"]
    results = {}

    def floe(label: str, *args: str, timeout: float = 300, **extra_env: str) -> None:
        proc = floe_subprocess(list(args), product, env={**env, **extra_env}, timeout=timeout)
        results[label] = (proc.returncode, proc.stdout + proc.stderr)

    floe("validate", "validate", "floe.yaml", "platform/local/platform.yaml",
         "platform/cloud/platform.yaml")
    floe("compile local", "compile", "--env", "local")
    floe("compile cloud", "compile", "--env", "cloud", "-o", ".floe/cloud_artifacts.json",
         "--format", "json")
    floe("secrets check local", "secrets", "check")
    floe("secrets check cloud", "secrets", "check", "--env", "cloud", "--format", "json")
    floe("secrets check missing", "secrets", "check", "--env", "cloud", PROXY_PASSWORD="")
    floe("run passing", "run")
    (product / "dbt" / "models" / "gold" / "gold_broken.sql").write_text(BROKEN)
    floe("run failing", "run")
    return results


def test_every_command_behaved_as_a_user_expects(outputs):
    codes = {label: code for label, (code, _) in outputs.items()}
    assert codes == {"validate": 0, "compile local": 0, "compile cloud": 0, "secrets check local": 0,
                     "secrets check cloud": 0, "secrets check missing": 1, "run passing": 0,
                     "run failing": 1}, outputs
    assert "proxy (key username)  k8s      ok" in outputs["secrets check local"][1]
    assert "proxy-password        env      ok" in outputs["secrets check local"][1]
    assert '"backend": "k8s"' in outputs["secrets check cloud"][1]
    assert ("secret 'proxy-password' was not found; tried env: $PROXY_PASSWORD, $PROXY_PASSWORD_FILE"
            in outputs["secrets check missing"][1])
    assert "succeeded: 6 tables written" in outputs["run passing"][1]
    assert "floe run failed at gold_broken" in outputs["run failing"][1]


def test_dbt_really_received_the_secrets(scene, outputs):
    product, values = scene["product"], scene["values"]
    catalog = SqlCatalog("floe", uri=f"sqlite:///{product / '.floe' / 'catalog.db'}",
                         warehouse=(product / ".floe" / "warehouse").as_uri())
    rows = catalog.load_table("gold.gold_proxy_check").scan().to_arrow().to_pylist()
    md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
    assert rows == [{"username_md5": md5(values["proxy#username"]),
                     "password_md5": md5(values["proxy-password"])}]


def test_no_canary_in_any_output(scene, outputs):
    leaks = [(label, value_name) for label, (_, text) in outputs.items()
             for value_name, value in scene["values"].items()
             for needle in needles(value) if needle in text.encode()]
    assert leaks == []


def test_no_canary_in_any_file_the_commands_wrote(scene, outputs):
    files = [path for top in scene["searched"] for path in top.rglob("*")
             if path.is_file() and not path.is_symlink()]
    product = scene["product"]
    written = {path.relative_to(product).as_posix() for path in files if path.is_relative_to(product)}
    # The search covered what each part of floe writes.
    for expected in (".floe/compiled_artifacts.json", ".floe/cloud_artifacts.json",
                     ".floe/dbt/core/logs/dbt.log", ".floe/dbt/core/run/profiles.yml",
                     ".floe/warehouse.duckdb", ".floe/catalog.db"):
        assert expected in written
    assert any(name.startswith(".floe/dagster/") for name in written)
    assert any(name.startswith(".floe/warehouse/gold/") for name in written)
    leaks = []
    for path in files:
        data = path.read_bytes()
        leaks += [(str(path), value_name) for value_name, value in scene["values"].items()
                  for needle in needles(value) if needle in data]
    assert leaks == []
    assert len(files) > 50
