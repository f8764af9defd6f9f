"""Secret backend ``k8s``: a directory where Kubernetes mounts secret volumes.

``{secret_ref: polaris-oauth}`` is the file ``<root>/polaris-oauth``; ``{secret_ref: polaris,
key: client-secret}`` is ``<root>/polaris/client-secret`` (a secret volume holds one file per
key). Values are read only at run time, in the process that needs them.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

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


def _path(config: dict, ref: Any) -> Path:
    base = Path(config["root"]) / ref.secret_ref
    return base / ref.key if ref.key else base


def _keys(directory: Path) -> list[str]:
    # The kubelet's atomic writer keeps its own entries (`..data`, `..2024_...`) beside the keys.
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("..") and p.is_file())


@hookimpl
def floe_secrets_lookup(config: dict, ref: Any) -> Any:
    """The file ``<root>/<ref>`` or, with a key, ``<root>/<ref>/<key>`` (trailing newline dropped).

    A reference without a key that names a directory of keys is an error that lists the keys.
    """
    from floe.diagnostics import FloeError
    from floe.runtime.secrets import read_secret_file, ref_label

    path = _path(config, ref)
    if not path.is_file():
        if path.is_dir() and not ref.key:
            keys = _keys(path)
            raise FloeError(f"secret {ref_label(ref)}: {path} is a secret volume with the keys "
                            f"{', '.join(keys) or '(none)'}; name one in platform.yaml: "
                            f"{{secret_ref: {ref.secret_ref}, key: {keys[0] if keys else '<key>'}}}")
        return None
    try:
        return read_secret_file(path)
    except OSError as exc:
        raise FloeError(f"secret {ref_label(ref)}: {path} exists but cannot be read "
                        f"({exc.strerror or type(exc).__name__}); check the volume's file mode "
                        "and the user the process runs as") from None


@hookimpl
def floe_secrets_describe(config: dict, ref: Any) -> list[str]:
    """The one file the secret would be in."""
    return [str(_path(config, ref))]
