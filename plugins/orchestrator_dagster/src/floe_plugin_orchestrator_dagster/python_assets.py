"""``@floe_asset`` functions as Dagster assets: catalog injected, result published."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
import typing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.assets import SPEC_ATTRIBUTE, AssetSpec, FloeCatalog
from floe.diagnostics import FloeError
from floe.runtime.publish import publish
from floe.runtime.scrub import scrub_exception
from floe_plugin_orchestrator_dagster.resource import failing_as

if TYPE_CHECKING:
    from floe.runtime import RunContext


def discover(context: "RunContext") -> list[AssetSpec]:
    """Every ``@floe_asset`` in the product's assets folder and the modules floe.yaml names."""
    config = context.artifacts.python_assets
    modules = []
    folder = context.path(config.path)
    if folder.is_dir():
        modules += [_load_file(path) for path in sorted(folder.glob("*.py")) if not path.name.startswith("_")]
    if config.modules:
        # Modules named in floe.yaml are importable relative to the product directory.
        if str(context.product_dir) not in sys.path:
            sys.path.insert(0, str(context.product_dir))
        modules += [_import(name) for name in config.modules]
    specs: dict[str, AssetSpec] = {}
    for module in modules:
        for _, value in inspect.getmembers(module):
            spec = getattr(value, SPEC_ATTRIBUTE, None)
            if isinstance(spec, AssetSpec):
                _check_names(spec)
                if spec.name in specs and specs[spec.name].fn is not spec.fn:
                    raise FloeError(f"two Python assets are named '{spec.name}' "
                                    f"({module.__name__} and {specs[spec.name].fn.__module__})")
                specs[spec.name] = spec
    return [specs[name] for name in sorted(specs)]


def _check_names(spec: AssetSpec) -> None:
    """The name and layer become a Dagster asset and an Iceberg ``layer.name``: refuse any
    that would fail there (or escape into a path), naming the function's file and line."""
    from floe.schema.names import identifier_problem

    problems = [p for p in (identifier_problem(spec.name, "@floe_asset name"),
                            identifier_problem(spec.layer, "@floe_asset layer")) if p]
    if problems:
        try:
            where = f"{inspect.getsourcefile(spec.fn)}:{inspect.getsourcelines(spec.fn)[1]}: "
        except (OSError, TypeError):
            where = ""
        raise FloeError(f"{where}{getattr(spec.fn, '__name__', spec.name)}: {'; '.join(problems)}")


def _load_file(path: Path) -> Any:
    name = f"floe_product_assets.{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        raise FloeError(f"{path}: the asset module failed to import: {type(exc).__name__}: {exc}") from None
    return module


def _import(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise FloeError(f"assets.modules: '{name}' failed to import: {type(exc).__name__}: {exc}") from None


def build_asset(spec: AssetSpec) -> Any:
    """The Dagster asset that runs ``spec.fn`` after its dependencies."""
    from dagster import AssetKey, MaterializeResult, asset

    catalog_params = _catalog_parameters(spec.fn)

    @asset(name=spec.name, deps=[AssetKey(dep) for dep in spec.deps], group_name=spec.layer,
           description=spec.description, required_resource_keys={"floe"})
    def python_asset(context):  # noqa: ANN001 - Dagster resolves this annotation itself
        floe = context.resources.floe
        # observability: a span and START/COMPLETE/FAIL lineage around the user's function
        with floe.step(), \
                floe.observer.python_asset(spec.name, context.run_id, layer=spec.layer, deps=spec.deps):
            catalog = FloeCatalog(floe.context.catalog)
            try:
                result = spec.fn(**{name: catalog for name in catalog_params})
            except Exception as exc:
                # The user's message may quote a secret it read: mask it before Dagster, the
                # console, lineage or the run log see it.
                scrubbed = scrub_exception(exc)
                if scrubbed is exc:
                    raise
                raise scrubbed from None
            if result is None:
                return MaterializeResult()
            with failing_as(spec.name):
                data = _as_arrow(result, spec)
                published = publish(floe.context.catalog, spec.layer, spec.name, data, asset=spec.name)
            floe.observer.table_published(published, data.schema)
            floe.published(published)
            return MaterializeResult(metadata={"table": published.table, "rows": published.rows,
                                               "snapshot_id": str(published.snapshot_id)})

    return python_asset


def _catalog_parameters(fn: Any) -> list[str]:
    hints = typing.get_type_hints(fn)
    params = inspect.signature(fn).parameters
    unknown = [name for name in params if hints.get(name) is not FloeCatalog]
    if unknown:
        raise FloeError(f"Python asset '{fn.__name__}': parameter(s) {', '.join(unknown)} cannot be "
                        "provided; annotate a parameter with FloeCatalog to receive the catalog")
    return list(params)


def _as_arrow(result: Any, spec: AssetSpec) -> Any:
    import pyarrow as pa

    if isinstance(result, pa.Table):
        return result
    if hasattr(result, "to_arrow"):
        return result.to_arrow()
    raise FloeError(f"Python asset '{spec.name}' returned {type(result).__name__}; return a "
                    "pyarrow.Table to publish it, or None")
