"""A Python asset: reads a gold table through the injected catalog and writes a derived table."""

from floe.assets import FloeCatalog, floe_asset


@floe_asset(deps=["gold_revenue_by_country"], layer="gold")
def top_countries(catalog: FloeCatalog):
    """The two countries with the most revenue, largest first."""
    revenue = catalog.read("gold.gold_revenue_by_country")
    return revenue.sort_by([("revenue", "descending")]).slice(0, 2)
