"""``floe platform init``: a platform team's repository, ready to validate, publish and deploy.

Layout::

    platform/<env>/platform.yaml     one platform file per environment (local, dev, prod)
    charts/values-<env>.yaml         the DevOps team's overrides of the floe-platform chart
    secrets/<name>.example.yaml      templates of the Kubernetes Secrets the platform refers to
    .github/workflows/platform.yaml  CI: validate, test, publish, deploy
    README.md, .gitignore

Secrets are never written: the templates hold placeholders, and ``.gitignore`` keeps filled-in
copies out of the repository.
"""

from __future__ import annotations

import re
from pathlib import Path

from floe.artifacts import write_atomic
from floe.diagnostics import FloeError

_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")

LOCAL = """\
# platform.yaml for "local": everything embedded, no server, no cloud (floe run on a laptop).
apiVersion: floe.dev/v1
kind: Platform
metadata:
  name: {name}
  version: "0.1.0"
storage:
  default: {{type: local, path: .floe/warehouse}}
catalogs:
  default: {{type: sqlite, path: .floe/catalog.db}}
compute:
  default: {{type: duckdb, path: .floe/warehouse.duckdb, threads: 2, memory_limit: 2GB}}
orchestrator: {{type: dagster}}
secrets: {{backends: [env]}}
observability: {{traces: true, lineage: true}}
data_architecture: {{pattern: medallion, naming: {{enforcement: warn}}}}
governance:
  quality_gates: {{minimum_test_coverage: 80, block_on_failure: false}}
  approved_plugins: {{compute: [duckdb]}}
"""

CLUSTER = """\
# platform.yaml for "{env}": a Polaris catalog over S3, secrets from Kubernetes Secrets mounted at
# /var/run/secrets/<ref> (templates in secrets/), deployed with `floe platform deploy --env {env}`.
apiVersion: floe.dev/v1
kind: Platform
metadata:
  name: {name}
  version: "0.1.0"
storage:
  default:
    type: s3
    bucket: {name}-{env}-lake
    region: eu-central-1
    credentials:
      mode: static
      access_key_id: {{secret_ref: s3-keys, key: access-key-id}}
      secret_access_key: {{secret_ref: s3-keys, key: secret-access-key}}
catalogs:
  default:
    type: polaris
    uri: https://polaris.{env}.example.com/api/catalog
    warehouse: {env}
    credentials:
      mode: oauth2
      client_id: floe-{env}
      client_secret: {{secret_ref: polaris-oauth}}
      scope: "PRINCIPAL_ROLE:DATA_ENGINEER"
compute:
  default: {{type: duckdb, threads: 4, memory_limit: 4GB}}
orchestrator: {{type: dagster}}
secrets: {{backends: [env, k8s]}}
observability:
  traces: true
  lineage: true
  otlp_endpoint: http://otel-collector:4318
  lineage_endpoint: http://marquez:5000
data_architecture: {{pattern: medallion, naming: {{enforcement: {enforcement}}}}}
governance:
  quality_gates: {{minimum_test_coverage: 80, block_on_failure: {block}}}
  approved_plugins: {{compute: [duckdb]}}
"""

VALUES = {
    "local": "# Overrides of the floe-platform chart for local (kind, k3d, minikube).\n"
             "postgresql: {enabled: true}\n",
    "dev": "# Overrides of the floe-platform chart for dev.\n"
           "postgresql: {enabled: true}\n"
           "otelCollector: {enabled: true}\n"
           "marquez: {enabled: true}\n",
    "prod": "# Overrides of the floe-platform chart for prod: an external PostgreSQL.\n"
            "postgresql:\n  enabled: false\n  host: dagster-db.prod.internal\n"
            "  passwordSecret: {name: floe-postgresql, key: password}\n"
            "  params: {sslmode: require}\n"
            "webserver: {replicas: 2}\n",
}

SECRETS = {
    "floe-postgresql": ("Dagster's PostgreSQL password (chart value postgresql.passwordSecret).",
                        {"password": "REPLACE_ME"}),
    "polaris-oauth": ("{secret_ref: polaris-oauth}: one value, the file /var/run/secrets/polaris-oauth.",
                      {"value": "REPLACE_ME"}),
    "s3-keys": ("{secret_ref: s3-keys, key: ...}: one file per key under /var/run/secrets/s3-keys/.",
                {"access-key-id": "REPLACE_ME", "secret-access-key": "REPLACE_ME"}),
}

SECRET = """\
# {why}
# Fill in a copy (secrets/{name}.yaml is git-ignored) and apply it: kubectl apply -n floe-<env> -f
# Or create it directly: kubectl create secret generic {name} {literals}
apiVersion: v1
kind: Secret
metadata:
  name: {name}
type: Opaque
stringData:
{data}"""

WORKFLOW = """\
# CI of the {name} platform: validate and test every environment on each change; on a tag,
# publish the platform release and deploy it to dev.
name: platform
on:
  pull_request:
  push:
    branches: [main]
    tags: ["v*"]
jobs:
  validate:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {{python-version: "3.11"}}
      - run: pip install floe floe-plugin-catalog-polaris floe-plugin-secrets-k8s floe-plugin-orchestrator-dagster
      - run: for env in local dev prod; do floe platform validate --env "$env"; done
      - run: for env in local dev prod; do floe platform compile --env "$env"; done
      - name: render the charts exactly as they would be applied
        run: for env in local dev prod; do floe platform deploy --env "$env" --dry-run -f "charts/values-$env.yaml" > "/tmp/$env.yaml"; done
  publish-and-deploy:
    if: startsWith(github.ref, 'refs/tags/v')
    needs: validate
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {{python-version: "3.11"}}
      - run: pip install floe floe-plugin-catalog-polaris floe-plugin-secrets-k8s floe-plugin-orchestrator-dagster
      - run: floe platform publish "${{{{ github.ref_name }}}}" --env dev
      - uses: azure/setup-helm@v4
      - name: deploy to dev (the cluster's kubeconfig comes from a CI secret, never the repository)
        env:
          KUBECONFIG_DATA: ${{{{ secrets.DEV_KUBECONFIG }}}}
        run: |
          echo "$KUBECONFIG_DATA" > "$RUNNER_TEMP/kubeconfig"
          KUBECONFIG="$RUNNER_TEMP/kubeconfig" floe platform deploy --env dev -f charts/values-dev.yaml
"""

README = """\
# {name}: the platform repository

Platform engineers own `platform/<env>/platform.yaml`; DevOps own `charts/values-<env>.yaml` and
the Kubernetes Secrets (templates in `secrets/`). Data products refer to this platform by profile
name only.

```bash
floe platform validate --env dev                  # every profile through its plugin
floe platform compile --env dev                   # the effective policy, rule by rule
floe platform deploy --env dev --dry-run -f charts/values-dev.yaml   # the manifests, applied by nothing
kubectl create namespace floe-dev && kubectl apply -n floe-dev -f secrets/<filled-in copies>
floe platform deploy --env dev -f charts/values-dev.yaml             # helm upgrade --install --wait
```

The platform file reaches every pod as a ConfigMap at `/etc/floe/platform.yaml`, byte for byte;
secrets only as Secret volumes at `/var/run/secrets/<ref>` and `secretKeyRef` env vars.
"""

GITIGNORE = "# Filled-in Secrets never enter the repository.\nsecrets/*.yaml\n!secrets/*.example.yaml\n.floe/\n"


def scaffold_platform(directory: Path, name: str | None = None, force: bool = False) -> list[Path]:
    """Write a platform repository into ``directory``; return the files written.

    :raises FloeError: the directory is not empty (without ``force``), or the name is invalid.
    """
    directory = Path(directory)
    if directory.exists() and (not directory.is_dir() or (any(directory.iterdir()) and not force)):
        raise FloeError(f"{directory}: exists and is not an empty directory; choose a new one, or "
                        "pass --force to write over what is there")
    name = name or re.sub(r"[^a-z0-9-]+", "-", directory.resolve().name.lower()).strip("-")
    if not _NAME.fullmatch(name or ""):
        raise FloeError(f"'{name}' is not a valid platform name: lowercase letters, digits and '-', "
                        "starting and ending with a letter or digit")
    files = {"platform/local/platform.yaml": LOCAL.format(name=name),
             "platform/dev/platform.yaml": CLUSTER.format(name=name, env="dev", enforcement="warn", block="false"),
             "platform/prod/platform.yaml": CLUSTER.format(name=name, env="prod", enforcement="strict", block="true"),
             ".github/workflows/platform.yaml": WORKFLOW.format(name=name),
             "README.md": README.format(name=name), ".gitignore": GITIGNORE}
    for env, text in VALUES.items():
        files[f"charts/values-{env}.yaml"] = text
    for secret, (why, keys) in SECRETS.items():
        files[f"secrets/{secret}.example.yaml"] = SECRET.format(
            why=why, name=secret, literals=" ".join(f"--from-literal={k}=..." for k in keys),
            data="".join(f"  {k}: {v}\n" for k, v in keys.items()))
    written = []
    for relative, text in sorted(files.items()):
        write_atomic(directory / relative, text)
        written.append(directory / relative)
    return written
