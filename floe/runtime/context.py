"""The context every run-time hook receives."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from floe.artifacts import CompiledArtifacts, ResolvedSection
from floe.plugins.manager import Plugin, PluginRegistry
from floe.runtime.secrets import SecretValue, missing_secret
from floe.schema.types import SecretRef


class RunContext:
    """Compiled artifacts anchored at a product directory, with lazy access to the catalog.

    Relative paths in the artifacts (``.floe/catalog.db``) are resolved against
    ``product_dir``, so the same artifacts work wherever the product is checked out.
    """

    def __init__(self, artifacts: CompiledArtifacts, product_dir: Path,
                 registry: PluginRegistry | None = None):
        self.artifacts = artifacts
        self.product_dir = Path(product_dir).resolve()
        self.registry = registry or PluginRegistry()
        self._secrets: dict[SecretRef, SecretValue] = {}

    @property
    def state_dir(self) -> Path:
        """``.floe/`` of the product: artifacts, run history, dbt's target and logs."""
        return self.product_dir / ".floe"

    def path(self, relative: str) -> Path:
        """A path from the artifacts, anchored at the product directory."""
        return self.product_dir / relative

    def plugin(self, kind: str, section: ResolvedSection) -> Plugin:
        """The plugin that resolved ``section``."""
        return self.registry.load(kind, section.type)

    # -- secrets ------------------------------------------------------------------------------

    def secret(self, ref: SecretRef | dict) -> SecretValue:
        """Resolve a secret through the backends, in order; cached for the run."""
        if isinstance(ref, dict):
            ref = SecretRef(ref["secret_ref"], ref.get("key"))
        if ref in self._secrets:
            return self._secrets[ref]
        tried = []
        for backend in self.artifacts.secret_backends:
            value = self.plugin("secrets", backend).call("lookup", config=backend.config, ref=ref)
            if value is not None:
                self._secrets[ref] = value
                return value
            tried.append(f"{backend.type} backend")
        raise missing_secret(ref, tried)

    # -- storage, catalog and compute ---------------------------------------------------------

    @functools.cached_property
    def storage(self) -> dict:
        """The warehouse location and FileIO properties of the product's storage profile."""
        section = self.artifacts.profiles.storage
        return self.plugin("storage", section).call("connect", config=section.config, context=self)

    @functools.cached_property
    def catalog(self) -> Any:
        """The product's Iceberg catalog (a ``pyiceberg.catalog.Catalog``)."""
        section = self.artifacts.profiles.catalog
        return self.plugin("catalog", section).call("connect", config=section.config,
                                                     storage=self.storage, context=self)

    def dbt_output(self) -> dict:
        """The dbt target for this run, paths absolute, secrets as env_var() references."""
        section = self.artifacts.profiles.compute
        return self.plugin("compute", section).call("dbt_output", config=section.config, context=self)

    def compute_reader(self) -> Any:
        """A reader of the engine's results, once dbt has finished."""
        section = self.artifacts.profiles.compute
        return self.plugin("compute", section).call("reader", config=section.config, context=self)
