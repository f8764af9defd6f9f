"""Signatures in cosign's key-pair format, made and checked with ``cryptography``.

``floe platform publish --sign KEY`` signs the release's manifest digest without touching the
release: an ECDSA P-256 signature over a "simple signing" JSON payload naming the digest,
stored in a separate manifest under the tag ``sha256-<hex>.sig`` of the same repository (one
layer per signature, the payload as the layer, the base64 signature in the layer annotation
``dev.cosignproject.cosign/signature``). That is where and how cosign stores and finds
key-pair signatures, so ``cosign verify --key pub.pem --insecure-ignore-tlog`` accepts them.

A product that pins ``platform: {verify: {public_key: FILE}}`` (or a platform whose
``metadata.parent_verify`` names one) refuses a release without a valid signature, on every
pull and every cache read: cached signatures are verified again each time.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from floe.diagnostics import FloeError
from floe.releases.reference import digest_of

PAYLOAD_MEDIA = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
CONFIG_MEDIA = "application/vnd.oci.image.config.v1+json"


def signature_tag(digest: str) -> str:
    """``sha256:<hex>`` → ``sha256-<hex>.sig`` (cosign's tag for the digest's signatures)."""
    return digest.replace(":", "-") + ".sig"


def payload(repository: str, digest: str) -> bytes:
    """The simple-signing payload for a manifest digest (compact JSON, as signed)."""
    return json.dumps({"critical": {"identity": {"docker-reference": repository},
                                    "image": {"docker-manifest-digest": digest},
                                    "type": "cosign container image signature"},
                       "optional": None}, separators=(",", ":"), sort_keys=True).encode()


def load_private_key(path: Path) -> Any:
    """An unencrypted PEM EC P-256 private key (``openssl ecparam -name prime256v1 -genkey``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FloeError(f"signing key '{path}': cannot read it ({exc.strerror})") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise FloeError(f"signing key '{path}': not an unencrypted PEM private key ({exc}); create one with "
                        "openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise FloeError(f"signing key '{path}': must be an ECDSA P-256 key (cosign's key-pair format)")
    return key


def load_public_key(pem: bytes, where: str) -> Any:
    """A PEM EC P-256 public key (``cosign.pub`` or ``openssl ec -pubout``)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError):
        raise FloeError(f"{where}: not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise FloeError(f"{where}: must be an ECDSA P-256 public key")
    return key


def sign(key: Any, repository: str, digest: str) -> tuple[bytes, str]:
    """``(payload, base64 DER signature)`` over the payload's SHA-256."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    body = payload(repository, digest)
    return body, base64.b64encode(key.sign(body, ec.ECDSA(hashes.SHA256()))).decode()


def _verifies(public_key: Any, body: bytes, signature: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    try:
        public_key.verify(base64.b64decode(signature, validate=True), body, ec.ECDSA(hashes.SHA256()))
        return True
    except (InvalidSignature, ValueError):
        return False


def signature_manifest(layers: list[tuple[bytes, str]]) -> tuple[bytes, dict[str, bytes]]:
    """The ``.sig`` manifest for ``(payload, signature)`` layers, and the blobs it references."""
    diff_ids = [digest_of(body) for body, _ in layers]
    config = json.dumps({"architecture": "", "config": {}, "created": "0001-01-01T00:00:00Z",
                         "history": [{"created": "0001-01-01T00:00:00Z"}], "os": "",
                         "rootfs": {"type": "layers", "diff_ids": diff_ids}},
                        separators=(",", ":"), sort_keys=True).encode()
    blobs = {digest_of(config): config}
    descriptors = []
    for body, signature in layers:
        digest = digest_of(body)
        blobs[digest] = body
        descriptors.append({"mediaType": PAYLOAD_MEDIA, "digest": digest, "size": len(body),
                            "annotations": {SIGNATURE_ANNOTATION: signature}})
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": CONFIG_MEDIA, "digest": digest_of(config),
                           "size": len(config)},
                "layers": descriptors}
    return json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode(), blobs


def signature_layers(manifest: bytes) -> list[tuple[str, int, str]]:
    """``(payload digest, size, signature)`` of each signature layer of a ``.sig`` manifest."""
    try:
        data = json.loads(manifest)
    except ValueError:
        return []
    out = []
    for layer in data.get("layers") or [] if isinstance(data, dict) else []:
        if isinstance(layer, dict) and layer.get("mediaType") == PAYLOAD_MEDIA:
            signature = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
            if isinstance(signature, str) and isinstance(layer.get("digest"), str) and isinstance(layer.get("size"), int):
                out.append((layer["digest"], layer["size"], signature))
    return out


def check_signed(public_key: Any, digest: str, manifest: bytes, payloads: dict[str, bytes], where: str) -> None:
    """Accept the release only if some layer is a valid signature by ``public_key`` of ``digest``."""
    layers = signature_layers(manifest)
    if not layers:
        raise FloeError(f"{where}: the release is not signed (no signature under {signature_tag(digest)}); "
                        "it is required to be: publish it with --sign, or remove platform.verify")
    for payload_digest, _, signature in layers:
        body = payloads.get(payload_digest)
        if body is None or not _verifies(public_key, body, signature):
            continue
        try:
            signed = json.loads(body)["critical"]["image"]["docker-manifest-digest"]
        except (ValueError, KeyError, TypeError):
            continue
        if signed == digest:
            return
    raise FloeError(f"{where}: no signature of {digest} verifies with the required public key; the release "
                    "was signed with another key, or the signature was altered: refusing it")


def public_key_from(value: Any, base_dir: Path, where: str) -> Any:
    """The public key a ``verify: {public_key: ...}`` names: a PEM file (relative to the file
    that names it) or a secret reference holding the PEM text."""
    from floe.runtime.secrets import as_ref

    ref = as_ref(value)
    if ref is not None:
        from floe.builtin.secrets_env import floe_secrets_lookup
        from floe.runtime.secrets import missing_secret

        secret = floe_secrets_lookup({}, ref)
        if secret is None:
            raise missing_secret(ref, [("env", [f"${ref.env_var_name}", f"${ref.env_var_name}_FILE"])])
        return load_public_key(secret.reveal().encode(), f"{where} (secret '{ref.secret_ref}')")
    path = base_dir / str(value)
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise FloeError(f"{where}: public key file '{value}' cannot be read ({exc.strerror})") from None
    return load_public_key(pem, f"{where} ('{value}')")
