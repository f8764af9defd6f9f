"""The context every run-time hook receives."""

from __future__ import annotations

import contextlib
import functools
import json
import threading
from pathlib import Path
from typing import Any, Iterator

from floe.artifacts import CompiledArtifacts, ResolvedSection
from floe.plugins.manager import Plugin, PluginRegistry
from floe.runtime.dbt_env import DbtSecrets
from floe.runtime.lock import run_lock
from floe.runtime.secrets import SecretValue, as_ref, missing_secret
from floe.schema.types import SecretRef


class RunContext:
    """Compiled artifacts anchored at a product directory, with lazy access to the catalog.

    Relative paths in the artifacts (``.floe/catalog.db``) are resolved against
    ``product_dir``, so the same artifacts work wherever the product is checked out.
    """

    def __init__(self, artifacts: CompiledArtifacts, product_dir: Path,
                 registry: PluginRegistry | None = None, holds_run_lock: bool = False):
        self.artifacts = artifacts
        #: True when ``floe run`` holds the product's run lock for the whole run.
        self.holds_run_lock = holds_run_lock
        self.product_dir = Path(product_dir).resolve()
        self.registry = registry or PluginRegistry()
        self._secrets: dict[SecretRef, tuple[SecretValue, str]] = {}
        self._providers: dict[str, Any] = {}
        self._providers_lock = threading.Lock()
        self._dbt_secrets = DbtSecrets(self.secret)

    @contextlib.contextmanager
    def run_step(self) -> Iterator[None]:
        """Hold the product's run lock while one step writes tables, unless the run holds it.

        ``floe run`` holds the lock for the whole run. A run the Dagster UI launches (``floe
        dev``) does not; its steps take the lock each, waiting for a ``floe run`` in progress
        rather than writing the same tables beside it.
        """
        if self.holds_run_lock:
            yield
            return
        with run_lock(self.state_dir, wait=True):
            yield

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
        """Resolve a secret through ``secrets.backends``, in order; cached for the run.

        The one entry point to secret values at run time.

        :raises FloeError: when no backend holds it, naming every place tried (never a value),
            or when a backend is misconfigured or unreachable.
        """
        given = ref
        ref = as_ref(given)  # type: ignore[assignment]
        if ref is None:
            # Never echo `given`: a caller that passed the wrong thing may have passed the value.
            raise TypeError("RunContext.secret takes a SecretRef or a {secret_ref: name} mapping, "
                            f"not a {type(given).__name__}")
        if ref in self._secrets:
            return self._secrets[ref][0]
        backends = [(self.plugin("secrets", b), b) for b in self.artifacts.secret_backends]
        for plugin, backend in backends:
            value = plugin.call("lookup", config=backend.config, ref=ref)
            if value is not None:
                if not isinstance(value, SecretValue):
                    # A plugin that returns a bare string would let it print; wrap, never echo.
                    value = SecretValue(str(value))
                self._secrets[ref] = (value, backend.type)
                return value
        tried = [(backend.type, list(plugin.call("describe", config=backend.config, ref=ref))
                  if plugin.implements("describe") else [f"{backend.type} backend"])
                 for plugin, backend in backends]
        raise missing_secret(ref, tried)

    def secret_source(self, ref: SecretRef | dict) -> str | None:
        """The type of the backend that resolved ``ref`` in this run (None: not resolved yet)."""
        entry = self._secrets.get(as_ref(ref))  # type: ignore[arg-type]
        return entry[1] if entry else None

    def credentials(self, config: dict) -> Any:
        """The credential provider of a resolved ``credentials`` block, one per block and run.

        Providers cache tokens and keys and refresh them before they expire (see
        :mod:`floe.runtime.credentials`).
        """
        key = json.dumps(config, sort_keys=True)
        with self._providers_lock:
            if key not in self._providers:
                plugin = self.registry.load("credentials", config["mode"])
                self._providers[key] = plugin.call("provide", config=config, context=self)
            return self._providers[key]

    # -- storage, catalog and compute ---------------------------------------------------------

    @functools.cached_property
    def storage(self) -> dict:
        """The warehouse location and FileIO properties of the product's storage profile."""
        section = self.artifacts.profiles.storage
        return self.plugin("storage", section).call("connect", config=section.config, context=self)

    @functools.cached_property
    def catalog(self) -> Any:
        """The product's Iceberg catalog (a ``pyiceberg.catalog.Catalog``).

        :raises FloeError: on a pyiceberg release floe was not tested with, before anything
            connects or writes (see :mod:`floe.runtime.compat`).
        """
        from floe.runtime import compat

        compat.check_pyiceberg()
        section = self.artifacts.profiles.catalog
        return self.plugin("catalog", section).call("connect", config=section.config,
                                                     storage=self.storage, context=self)

    def dbt_output(self) -> dict:
        """The dbt target for this run, paths absolute, secrets as env_var() references.

        Each ``{secret_ref: ...}`` the compute plugin left in the target becomes
        ``{{ env_var('DBT_ENV_SECRET_FLOE_...') }}``; :meth:`dbt_env` provides the values.
        """
        section = self.artifacts.profiles.compute
        output = self.plugin("compute", section).call("dbt_output", config=section.config, context=self)
        return self._dbt_secrets.reference(output)

    @contextlib.contextmanager
    def dbt_env(self) -> Iterator[None]:
        """Give dbt the secrets its profile references: in this process's environment, only for
        the block (re-entrant). Wrap each in-process dbt invocation in it.

        :raises FloeError: before the block starts, when a secret cannot be resolved.
        """
        from floe.profiles import secret_refs

        self._dbt_secrets.add(secret_refs(self.artifacts.dbt.profiles))
        with self._dbt_secrets.environment():
            yield

    def resolve_dbt_secrets(self) -> None:
        """Resolve every secret dbt's profiles reference, without exposing any of them.

        Call before a run builds anything, so that a missing secret stops it there; the values
        reach the environment later, only inside :meth:`dbt_env`.

        :raises FloeError: naming the places tried for a secret no backend holds.
        """
        from floe.profiles import secret_refs

        for ref in secret_refs(self.artifacts.dbt.profiles):
            self.secret(ref)

    def compute_reader(self) -> Any:
        """A reader of the engine's results, once dbt has finished."""
        section = self.artifacts.profiles.compute
        return self.plugin("compute", section).call("reader", config=section.config, context=self)

    # -- what an engine that writes the tables itself is given --------------------------------

    def compute_writes_tables(self) -> bool:
        """Whether the compute engine writes the catalog's tables itself (floe then publishes none)."""
        section = self.artifacts.profiles.compute
        plugin = self.plugin("compute", section)
        return bool(plugin.implements("writes_tables")
                    and plugin.call("writes_tables", config=section.config))

    def engine_storage_properties(self) -> dict:
        """The storage's properties for an engine (Iceberg FileIO names, secrets as references).

        ``{}`` when the storage plugin provides none.
        """
        section = self.artifacts.profiles.storage
        plugin = self.plugin("storage", section)
        if not plugin.implements("engine_properties"):
            return {}
        return dict(plugin.call("engine_properties", config=section.config, context=self))

    def engine_catalog_properties(self) -> dict | None:
        """The catalog's Iceberg properties for an engine; ``None`` when only floe can open it."""
        section = self.artifacts.profiles.catalog
        plugin = self.plugin("catalog", section)
        if not plugin.implements("engine_properties"):
            return None
        return plugin.call("engine_properties", config=section.config, context=self)
