"""``oci://HOST[:PORT]/REPO[:TAG][@sha256:HEX]`` references to platform releases."""

from __future__ import annotations

import re

import attrs

from floe.diagnostics import FloeError

SCHEME = "oci://"
#: Repository path components as the OCI distribution spec allows them.
_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_REPO = re.compile(rf"{_COMPONENT}(?:/{_COMPONENT})*")
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
                   r"(?::[0-9]{1,5})?|\[[0-9a-fA-F:]+\](?::[0-9]{1,5})?")
_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def digest_of(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``: the content address OCI registries and floe's cache use."""
    import hashlib

    return "sha256:" + hashlib.sha256(data).hexdigest()


@attrs.frozen
class Reference:
    """A parsed ``oci://`` reference: registry host, repository, and a tag and/or a digest."""

    host: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def repo_url(self) -> str:
        """``oci://HOST/REPO`` without tag or digest."""
        return f"{SCHEME}{self.host}/{self.repository}"

    def with_digest(self, digest: str) -> "Reference":
        """The same reference pinned to ``digest``."""
        return attrs.evolve(self, digest=digest)

    def __str__(self) -> str:
        out = self.repo_url
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def is_oci(ref: str | None) -> bool:
    """Whether ``ref`` names a release in a registry rather than a file."""
    return isinstance(ref, str) and ref.startswith(SCHEME)


def parse(ref: str, what: str = "reference", need_version: bool = True) -> Reference:
    """Parse an ``oci://`` reference; :class:`FloeError` says what form is expected.

    :param need_version: a tag or a digest must be present (pulls); publishing takes neither.
    """
    example = "oci://registry.example.com/acme/platform:v1.3.0 (or @sha256:<64 hex digits>)"
    if not is_oci(ref):
        raise FloeError(f"{what} '{ref}' is not an OCI reference; write {example}")
    rest = ref[len(SCHEME):]
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not DIGEST.fullmatch(digest):
            raise FloeError(f"{what} '{ref}': '{digest}' is not a sha256 digest; write "
                            "@sha256:<64 lowercase hex digits>")
    host, _, path = rest.partition("/")
    if not path or not _HOST.fullmatch(host):
        raise FloeError(f"{what} '{ref}' names no registry host and repository; write {example}")
    tag = None
    last = path.rsplit("/", 1)[-1]
    if ":" in last:
        path, tag = path.rsplit(":", 1)
        if not _TAG.fullmatch(tag):
            raise FloeError(f"{what} '{ref}': '{tag}' is not a valid tag (letters, digits, '_', '.', "
                            "'-', at most 128)")
    if not _REPO.fullmatch(path):
        raise FloeError(f"{what} '{ref}': repository '{path}' must be lowercase path components "
                        "(letters, digits, '.', '_', '-') separated by '/'")
    if need_version and tag is None and digest is None:
        raise FloeError(f"{what} '{ref}' names no version; add a tag (:v1.3.0) or a digest "
                        "(@sha256:...) so every compile uses the same platform")
    if not need_version and (tag or digest):
        raise FloeError(f"{what} '{ref}': give the repository only (oci://HOST/REPO); the version "
                        "is the command's argument")
    return Reference(host, path, tag, digest)
