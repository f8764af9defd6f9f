"""Driving Helm: ``helm template`` for a dry run, ``helm upgrade --install --wait`` to deploy."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any, Callable

import attrs

from floe.deploy.tools import require_tool
from floe.diagnostics import Diagnostic, FloeError

#: The Kubernetes version a dry run renders for when no cluster is asked.
KUBE_VERSION = "1.31.0"


@attrs.frozen
class Release:
    """One ``helm`` invocation: a chart installed as ``name`` in ``namespace``."""

    name: str
    chart: Path
    namespace: str
    values: dict[str, Any]
    value_files: tuple[Path, ...] = ()
    set_files: dict[str, Path] = attrs.Factory(dict)


def _args(release: Release, values_file: Path) -> list[str]:
    args = [release.name, str(release.chart), "--namespace", release.namespace,
            "-f", str(values_file)]
    for path in release.value_files:
        if not path.is_file():
            raise FloeError(f"{path}: no such values file")
        args += ["-f", str(path)]
    for key, path in release.set_files.items():
        args += ["--set-file", f"{key}={path}"]
    return args


def run(release: Release, dry_run: bool, progress: Callable[[str], None],
        timeout: str = "10m") -> str:
    """Render (dry run) or deploy the release; return helm's output.

    The computed values go to helm as a file (they hold no secret); the user's ``-f`` files
    come after, so theirs win.

    :raises FloeError: helm or kubectl missing (with the install hint), or helm failed (its
        own message).
    """
    helm = require_tool("helm")
    if not dry_run:
        require_tool("kubectl")
    with tempfile.TemporaryDirectory(prefix="floe-deploy-") as tmp:
        values_file = Path(tmp) / "floe-values.yaml"
        values_file.write_text(json.dumps(release.values, indent=2, sort_keys=True) + "\n")
        if dry_run:
            command = [str(helm), "template", *_args(release, values_file), "--kube-version", KUBE_VERSION]
        else:
            command = [str(helm), "upgrade", "--install", *_args(release, values_file),
                       "--create-namespace", "--wait", "--timeout", timeout]
            progress(f"helm upgrade --install {release.name} ({release.chart.name}) in namespace "
                     f"{release.namespace}, waiting up to {timeout} for the pods to be ready ...")
        proc = subprocess.run(command, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.strip().splitlines() if line.strip()] or [
            f"helm exited {proc.returncode}"]
        raise FloeError([Diagnostic("", 0, 0, "", f"helm: {line.removeprefix('Error: ')}")
                         for line in lines])
    return proc.stdout
