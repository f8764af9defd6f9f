"""Helm and kubernetes-validate for the chart tests: render charts offline and validate them.

Helm is a static binary that `.ci/run` installs (scripts/install_helm.sh); without it the
tests fail in CI and skip elsewhere with the command that installs it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from support import unavailable

from floe.deploy.tools import find_tool

ROOT = Path(__file__).resolve().parents[2]
CHARTS = ROOT / "charts"
#: The Kubernetes version manifests are rendered for and validated against.
KUBE_VERSION = "1.31.0"


def helm() -> Path:
    """The helm binary; a missing one fails in CI and skips elsewhere."""
    path = find_tool("helm")
    if path is None:
        unavailable("helm is not installed: run scripts/install_helm.sh")
    return path


def run_helm(*args: str) -> subprocess.CompletedProcess:
    """Run helm; fail the test with helm's own output when it exits non-zero."""
    proc = subprocess.run([str(helm()), *args], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc


def render(chart: str, *args: str, release: str = "floe-platform") -> str:
    """``helm template`` a chart of the repository for the pinned Kubernetes version."""
    return run_helm("template", release, str(CHARTS / chart), "--namespace", "data",
                    "--kube-version", KUBE_VERSION, *args).stdout


def documents(manifest: str) -> list[dict[str, Any]]:
    """The Kubernetes objects of a rendered manifest stream."""
    return [doc for doc in yaml.safe_load_all(manifest) if doc]


def kubernetes_validate(path: Path) -> subprocess.CompletedProcess:
    """Validate a manifest file offline with ``kubernetes-validate --strict``."""
    validator = Path(sys.executable).parent / "kubernetes-validate"
    return subprocess.run([str(validator), "--strict", "--kubernetes-version", KUBE_VERSION,
                           str(path)], capture_output=True, text=True)


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    """The one object of ``kind`` named ``name``."""
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    """Every pod template (Deployment, StatefulSet, Job) with its owner's name."""
    return [(f"{o['kind']}/{o['metadata']['name']}", o["spec"]["template"]["spec"])
            for o in objects if o["kind"] in {"Deployment", "StatefulSet", "Job", "DaemonSet"}]
