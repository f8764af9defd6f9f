"""Finding a product's ``@floe_asset`` functions: the assets folder and the modules floe.yaml
names.

Compile imports them to put each asset, its layer and dependencies in the publish plan; run
time imports them again to call the functions. Both use :func:`discover`, so they find the
same assets.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.assets import SPEC_ATTRIBUTE, AssetSpec
from floe.diagnostics import FloeError

if TYPE_CHECKING:
    from floe.artifacts import PythonAssetsInfo


def discover(product_dir: Path, config: "PythonAssetsInfo") -> list[AssetSpec]:
    """Every ``@floe_asset`` in the product's assets folder and the modules floe.yaml names,
    sorted by name.

    :param product_dir: the directory of floe.yaml; ``config.path`` is relative to it.
    :raises FloeError: when a module fails to import or two assets share a name.
    """
    modules = []
    folder = product_dir / config.path
    if folder.is_dir():
        modules += [_load_file(path) for path in sorted(folder.glob("*.py")) if not path.name.startswith("_")]
    if config.modules:
        # Modules named in floe.yaml are importable relative to the product directory.
        if str(product_dir) not in sys.path:
            sys.path.insert(0, str(product_dir))
        modules += [_import(name) for name in config.modules]
    specs: dict[str, AssetSpec] = {}
    for module in modules:
        for _, value in inspect.getmembers(module):
            spec = getattr(value, SPEC_ATTRIBUTE, None)
            if isinstance(spec, AssetSpec):
                _check_names(spec, product_dir)
                if spec.name in specs and specs[spec.name].fn is not spec.fn:
                    raise FloeError(f"two Python assets are named '{spec.name}' "
                                    f"({module.__name__} and {specs[spec.name].fn.__module__})")
                specs[spec.name] = spec
    return [specs[name] for name in sorted(specs)]


def _check_names(spec: AssetSpec, product_dir: Path) -> None:
    """The name and layer become a Dagster asset and an Iceberg ``layer.name``: refuse any
    that would fail there (or escape into a path), naming the function's file and line."""
    from floe.schema.names import identifier_problem

    problems = [p for p in (identifier_problem(spec.name, "@floe_asset name"),
                            identifier_problem(spec.layer, "@floe_asset layer")) if p]
    if problems:
        raise FloeError(f"{where(spec, product_dir)}: {getattr(spec.fn, '__name__', spec.name)}: "
                        f"{'; '.join(problems)}")


def where(spec: AssetSpec, product_dir: Path) -> str:
    """``file:line`` of an asset's function, relative to the product when it lives there."""
    code = getattr(spec.fn, "__code__", None)
    if code is None:
        return spec.fn.__module__
    path = Path(code.co_filename)
    try:
        shown = path.resolve().relative_to(product_dir.resolve()).as_posix()
    except ValueError:
        shown = str(path)
    return f"{shown}:{code.co_firstlineno}"


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
