"""floe: platform.yaml + floe.yaml → a compiled, secret-free contract that runs for real.

Public Python API (imported lazily so ``import floe`` stays cheap)::

    import floe

    result = floe.compile("floe.yaml", env="local")     # writes .floe/compiled_artifacts.json
    artifacts = floe.CompiledArtifacts.read(result.path)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from floe.artifacts import CompiledArtifacts
    from floe.compiler import CompileResult
    from floe.diagnostics import FloeError

__all__ = ["CompileResult", "CompiledArtifacts", "FloeError", "compile", "__version__"]


def compile(product_file: str = "floe.yaml", **options: Any) -> "CompileResult":  # noqa: A001
    """Compile a product; see :func:`floe.compiler.compile_product` for the options."""
    from floe.compiler import compile_product

    return compile_product(product_file, **options)


def __getattr__(name: str) -> Any:
    if name == "CompiledArtifacts":
        from floe.artifacts import CompiledArtifacts

        return CompiledArtifacts
    if name == "FloeError":
        from floe.diagnostics import FloeError

        return FloeError
    if name == "CompileResult":
        from floe.compiler import CompileResult

        return CompileResult
    raise AttributeError(f"module 'floe' has no attribute {name!r}")
