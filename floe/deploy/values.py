"""Chart values computed from platform.yaml and the compiled artifacts.

Only what the files already say becomes a value (secret *references*, endpoints' service names,
the product's name and image); a secret value is never read here. Everything else is the
DevOps team's, in their values files (``-f``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

from floe.artifacts import CompiledArtifacts
from floe.diagnostics import FloeError

#: The Secret key that holds a reference without a key (``{secret_ref: polaris-oauth}`` is the
#: key ``value`` of the Secret ``polaris-oauth``, mounted as the file /var/run/secrets/polaris-oauth).
SINGLE_KEY = "value"


def secret_mounts(refs: Iterator[tuple[str, str | None]]) -> list[dict[str, str]]:
    """One mount per referenced Secret: a directory for refs with keys, else the one key as a file."""
    keyed: dict[str, bool] = {}
    for ref, key in refs:
        keyed[ref] = keyed.get(ref, False) or key is not None
    return [{"ref": ref} if has_keys else {"ref": ref, "key": SINGLE_KEY}
            for ref, has_keys in sorted(keyed.items())]


def _service(endpoint: Any) -> tuple[str, int] | None:
    """``http://otel-collector:4318`` → (otel-collector, 4318); None for a host outside the namespace."""
    if not isinstance(endpoint, str) or not endpoint:
        return None
    parts = urlsplit(endpoint)
    if not parts.hostname or "." in parts.hostname or parts.port is None:
        return None
    return parts.hostname, parts.port


def platform_values(platform_file: Path) -> dict[str, Any]:
    """Values of the floe-platform chart that platform.yaml determines.

    :raises FloeError: when the file is not a valid platform (every problem, file:line:col).
    """
    import yaml

    from floe.validate import validate_file

    result = validate_file(platform_file, as_kind="platform")
    if not result.ok:
        raise FloeError(result.diagnostics)
    data = yaml.safe_load(platform_file.read_text(encoding="utf-8")) or {}
    from floe.profiles import secret_refs

    values: dict[str, Any] = {"secretMounts": secret_mounts((ref.secret_ref, ref.key) for ref in secret_refs(data))}
    observability = data.get("observability") if isinstance(data.get("observability"), dict) else {}
    for key, chart_key in (("otlp_endpoint", "otelCollector"), ("lineage_endpoint", "marquez")):
        service = _service(observability.get(key))
        if service is not None:
            values[chart_key] = {"serviceName": service[0], "port": service[1]}
    return values


def product_values(artifacts: CompiledArtifacts, image: str | None, digest: str | None,
                   platform_release: str) -> dict[str, Any]:
    """Values of the floe-product chart for one compiled product.

    :param image: ``repository[:tag]`` of the image built from ``floe package``'s context.
    :param digest: ``sha256:...`` that pins it (wins over the tag).
    """
    values: dict[str, Any] = {
        "location": {"name": artifacts.product.name},
        "platformRelease": platform_release,
        "secretMounts": secret_mounts((r.secret_ref, r.key) for r in artifacts.secret_refs),
        # Which platform release the product was compiled against, on every pod it runs.
        "platform": {"source": artifacts.platform.source, "digest": artifacts.platform.digest,
                     # an oci:// platform: the release by reference and by its immutable digest
                     "ref": artifacts.platform.ref or "",
                     "releaseDigest": artifacts.platform.release_digest or ""},
    }
    if image:
        repository, tag = _split_image(image)
        values["image"] = {"repository": repository, "tag": tag or artifacts.product.version}
        if digest:
            values["image"]["digest"] = digest
    return values


def _split_image(image: str) -> tuple[str, str | None]:
    if "@" in image:
        raise FloeError(f"--image {image}: give the digest with --image-digest, the name without it")
    name, _, tag = image.rpartition(":")
    if name and "/" not in tag:
        return name, tag
    return image, None
