"""Secret backend ``k8s``: a directory where Kubernetes mounts secret volumes."""

from __future__ import annotations

from pathlib import PurePosixPath

import attrs

from floe.plugins import ResolveContext, hookimpl
from floe.schema.structure import Invalid, field_check


@field_check
def _root(value: str) -> None:
    if not value or "\x00" in value:
        raise Invalid("expected an absolute directory, e.g. /var/run/secrets")
    path = PurePosixPath(value)
    # Mounts live at fixed places in the container; a relative root would depend on the
    # working directory and '..' could point outside the mount.
    if not path.is_absolute() or ".." in path.parts:
        raise Invalid(f"'{value}' must be an absolute directory without '..', e.g. /var/run/secrets")


@attrs.frozen
class K8sBackend:
    """``root``: the directory secret volumes are mounted under."""

    root: str = attrs.field(default="/var/run/secrets", validator=_root)


@hookimpl
def floe_secrets_settings() -> type:
    """The k8s backend takes the mount ``root``."""
    return K8sBackend


@hookimpl
def floe_secrets_resolve(settings: K8sBackend, context: ResolveContext) -> dict:
    """Resolve to the mount root, normalised (``/mnt//secrets/`` → ``/mnt/secrets``)."""
    return {"root": str(PurePosixPath(settings.root))}
