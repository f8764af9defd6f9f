"""Python assets: plain functions that floe runs after the tables they read.

::

    from floe.assets import FloeCatalog, floe_asset

    @floe_asset(deps=["gold_revenue_by_country"])
    def top_countries(catalog: FloeCatalog):
        revenue = catalog.read("gold.gold_revenue_by_country")
        return revenue.sort_by([("revenue", "descending")]).slice(0, 3)

The function receives the product's catalog through any parameter annotated ``FloeCatalog``
and returns a ``pyarrow.Table`` (published as ``<layer>.<name>``) or ``None``. No orchestrator
or observability code belongs here: the orchestrator plugin turns the function into its own kind
of asset, and importing this module imports neither Dagster nor pyiceberg.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import attrs

#: Attribute under which the decorator records an asset's spec on the function.
SPEC_ATTRIBUTE = "__floe_asset__"


@attrs.frozen
class AssetSpec:
    """What ``@floe_asset`` recorded: the function, its name, dependencies and layer."""

    fn: Callable[..., Any]
    name: str
    deps: tuple[str, ...]
    layer: str
    description: str | None


def floe_asset(fn: Callable[..., Any] | None = None, *, name: str | None = None,
               deps: Sequence[str] = (), layer: str = "gold", description: str | None = None) -> Any:
    """Mark a function as a floe asset.

    :param name: the asset and table name (default: the function's name).
    :param deps: names of the models or assets it reads; it runs after them.
    :param layer: the catalog namespace its table goes to.
    :param description: shown in the orchestrator's UI (default: the docstring).
    """

    def mark(func: Callable[..., Any]) -> Callable[..., Any]:
        spec = AssetSpec(func, name or func.__name__, tuple(deps), layer,
                         description or (func.__doc__ or "").strip() or None)
        setattr(func, SPEC_ATTRIBUTE, spec)
        return func

    return mark(fn) if fn is not None else mark


class FloeCatalog:
    """The product's Iceberg catalog as a Python asset sees it."""

    def __init__(self, catalog: Any):
        #: The underlying ``pyiceberg.catalog.Catalog``, for anything beyond ``read``.
        self.iceberg = catalog

    def read(self, table: str, row_filter: str | None = None) -> Any:
        """Read ``namespace.table`` (optionally filtered) as a ``pyarrow.Table``."""
        loaded = self.iceberg.load_table(table)
        scan = loaded.scan(row_filter=row_filter) if row_filter else loaded.scan()
        return scan.to_arrow()

    def table(self, table: str) -> Any:
        """The ``pyiceberg`` table object, for snapshots, history and metadata."""
        return self.iceberg.load_table(table)
