"""What a plugin's ``resolve`` hook receives besides its settings."""

from __future__ import annotations

from typing import Any

import attrs

from floe.diagnostics import DocPath, Report


@attrs.define
class ResolveContext:
    """Where a profile stands and how to report problems in it.

    Paths given to :meth:`error` and :meth:`warn` are relative to the section being resolved
    (``("credentials", "mode")``); floe turns them into ``file:line:col: dotted.path`` lines.
    """

    kind: str
    type: str
    #: The profile's name (``default``), or the section name for singletons.
    profile: str
    #: The section's path in platform.yaml, e.g. ``("catalogs", "default")``.
    path: DocPath
    report: Report
    #: The resolved ``credentials`` block of this profile, when it has one.
    credentials: dict | None = None
    #: The product being compiled; ``None`` while validating a platform on its own.
    product: Any = None
    #: The platform being compiled (:class:`floe.schema.platform.Platform`).
    platform: Any = None

    @property
    def product_name(self) -> str | None:
        """The product's name, when a product is being compiled."""
        return self.product.metadata.name if self.product is not None else None

    def error(self, subpath: DocPath, message: str) -> None:
        """Report an error at ``subpath`` inside this section."""
        self.report.error(tuple(self.path) + tuple(subpath), message)

    def warn(self, subpath: DocPath, message: str) -> None:
        """Report a warning at ``subpath`` inside this section."""
        self.report.warn(tuple(self.path) + tuple(subpath), message)
