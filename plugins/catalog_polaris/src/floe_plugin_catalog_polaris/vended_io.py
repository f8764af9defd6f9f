"""The FileIO of tables whose storage keys the catalog vends (``access_delegation: vended-credentials``).

pyiceberg builds a table's FileIO from the catalog's properties merged with the config the
catalog sent with the table; with vended credentials that config carries the only keys the run
has. Without this FileIO a catalog that vends nothing, or keys that may not write, surfaces as
an S3 error deep in a write (``INTERNAL_FAILURE``, ``ACCESS_DENIED``) that does not say whose
keys were refused. :class:`VendedFileIO` refuses at once when the catalog sent no keys, and
names the catalog and what to check when S3 refuses the vended keys.

Selected with pyiceberg's ``py-io-impl`` property; the catalog's URI travels in the
``floe.vended-by`` property.
"""

from __future__ import annotations

from typing import Any

from pyiceberg.io.pyarrow import PyArrowFile, PyArrowFileIO

from floe.diagnostics import FloeError

#: The ``py-io-impl`` value that selects this FileIO.
IMPL = f"{__name__}.VendedFileIO"
#: The property naming the catalog that vends the keys (its URI).
VENDED_BY = "floe.vended-by"
#: S3 error codes (as pyarrow reports them) that mean the keys were refused.
REFUSED = ("ACCESS_DENIED", "INVALID_ACCESS_KEY_ID", "SIGNATURE_DOES_NOT_MATCH", "EXPIRED_TOKEN",
           "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken")


class VendedFileIO(PyArrowFileIO):
    """``PyArrowFileIO`` for vended keys: no keys is an error, refused keys name the catalog."""

    def __init__(self, properties: Any = None):
        properties = dict(properties or {})
        super().__init__(properties=properties)
        self._catalog = properties.get(VENDED_BY, "the catalog")

    def _require_keys(self, location: str) -> None:
        if location.startswith(("s3://", "s3a://", "s3n://")) and not self.properties.get("s3.access-key-id"):
            raise FloeError(f"the Polaris catalog at {self._catalog} sent no storage credentials for "
                            f"{location}, though floe asked it to vend them (access_delegation: "
                            "vended-credentials); check that the catalog's storage configuration "
                            "allows credential vending for this warehouse and that the principal "
                            "may receive them, or give the storage profile credentials of its own")

    def new_input(self, location: str) -> Any:
        """A readable file; the catalog must have vended keys for an S3 location."""
        self._require_keys(location)
        return super().new_input(location)

    def new_output(self, location: str) -> Any:
        """A writable file whose refusal by S3 names the catalog that vended the keys."""
        self._require_keys(location)
        file = super().new_output(location)
        # Same object, one method more: pyiceberg may check that it is a PyArrowFile.
        file.__class__ = _VendedOutput
        file.vended_by = self._catalog
        return file

    def delete(self, location: Any) -> None:
        """Delete a file; the catalog must have vended keys for an S3 location."""
        self._require_keys(location if isinstance(location, str) else location.location)
        super().delete(location)


class _VendedOutput(PyArrowFile):
    """A ``PyArrowFile`` whose ``create`` explains refused vended keys."""

    vended_by = "the catalog"

    def create(self, overwrite: bool = False) -> Any:
        """Open for writing; an S3 refusal becomes an error naming the vending catalog."""
        try:
            return super().create(overwrite=overwrite)
        except OSError as exc:
            code = next((code for code in REFUSED if code in str(exc)), None)
            if code is None:
                raise
            raise FloeError(f"S3 refused to write {self.location} ({code}) with the storage keys "
                            f"the Polaris catalog at {self.vended_by} vended; check that the role "
                            "or user the catalog vends keys of may write there (s3:PutObject on "
                            "the bucket and prefix of the table's location)") from None
