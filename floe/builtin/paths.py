"""Checks for paths written in platform.yaml."""

from __future__ import annotations

from pathlib import PurePosixPath

from floe.schema.structure import Invalid, field_check


@field_check
def relative_path(value: str) -> None:
    """attrs validator: a path inside the product (relative, no ``..``), stored as written."""
    if not value or "\x00" in value:
        raise Invalid("expected a non-empty path")
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts:
        raise Invalid(f"'{value}' must be a relative path inside the product directory "
                      "(no leading '/', no '..'), e.g. .floe/warehouse")
