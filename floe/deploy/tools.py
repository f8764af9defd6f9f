"""Finding the command-line tools deployment drives: ``helm`` and ``kubectl``."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from floe.diagnostics import FloeError

#: Where ``scripts/install_helm.sh`` puts its pinned static binaries.
CACHE_BIN = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "floe" / "tools" / "helm-4.1.4" / "bin"

INSTALL_HINTS = {
    "helm": "install Helm 3.8 or newer (https://helm.sh/docs/intro/install/: a static binary, "
            "`brew install helm` or your package manager) and put it on PATH, or set FLOE_HELM",
    "kubectl": "install kubectl (https://kubernetes.io/docs/tasks/tools/) and put it on PATH, or "
               "set FLOE_KUBECTL",
}


def find_tool(name: str) -> Path | None:
    """``$FLOE_<NAME>``, else ``name`` on PATH, else the copy the install script cached."""
    override = os.environ.get(f"FLOE_{name.upper()}")
    if override:
        return Path(override) if Path(override).is_file() else None
    found = shutil.which(name)
    if found:
        return Path(found)
    cached = CACHE_BIN / name
    return cached if cached.is_file() and os.access(cached, os.X_OK) else None


def require_tool(name: str) -> Path:
    """The tool's path, or a FloeError that says how to install it."""
    path = find_tool(name)
    if path is None:
        raise FloeError(f"{name} is not installed (looked at $FLOE_{name.upper()}, PATH and "
                        f"{CACHE_BIN}): {INSTALL_HINTS[name]}")
    return path
