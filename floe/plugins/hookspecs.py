"""Hook specifications: the contract between floe and its plugins.

A plugin is an object (usually a module) whose functions are marked with
``@floe.plugins.hookimpl``. It is published under an entry point in the group of its kind;
the entry point's *name* is the ``type:`` users write in platform.yaml::

    [project.entry-points."floe.compute"]
    duckdb = "floe_plugin_compute_duckdb.plugin"

floe imports a plugin only when a platform selects it, registers it with a pluggy
``PluginManager`` of its own and calls the hooks of its kind. Every kind has the same two
compile-time hooks:

``floe_<kind>_settings()``
    the attrs class that describes the profile's settings (strictly validated by floe, every
    error located at its dotted path), and
``floe_<kind>_resolve(settings, context)``
    which checks what types cannot express and returns the JSON-ready section written into
    CompiledArtifacts.

Compile-time hooks must stay light: import heavy libraries (Dagster, dbt, pyiceberg, DuckDB)
only in run-time code, never at module level.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # names for annotations only: importing them here would load run time
    from floe.plugins.context import ResolveContext
    from floe.runtime import RunContext, RunRequest
    from floe.schema.types import SecretRef

PROJECT = "floe"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------------
# storage: where table data lives (``storage.<profile>`` in platform.yaml)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def floe_storage_settings() -> type | None:
    """Describe the settings of a storage profile.

    Called once when the plugin is loaded, before any profile of this type is validated.

    :returns: an attrs class; floe structures the profile (without ``type`` and ``credentials``)
        into it. ``None`` means the profile takes no settings.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_storage_resolve(settings: Any, context: ResolveContext) -> dict:
    """Resolve a storage profile into the section run time uses.

    Called by ``floe compile`` for the profile a product selects, and by
    ``floe platform validate`` for every profile.

    :param settings: an instance of the class returned by :func:`floe_storage_settings`.
    :param context: a :class:`floe.plugins.ResolveContext`: the profile's name and path, its
        resolved credentials (``context.credentials``), and ``error()``/``warn()`` to report
        problems at a path inside the profile.
    :returns: a JSON-ready dict (strings, numbers, booleans, lists, dicts); secret references
        only, never secret values.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------------
# catalog: the Iceberg catalog tables are registered in (``catalogs.<profile>``)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def floe_catalog_settings() -> type | None:
    """Describe the settings of a catalog profile.

    Called once when the plugin is loaded, before any profile of this type is validated.

    :returns: an attrs class for the profile's settings, or ``None`` for none.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_catalog_resolve(settings: Any, context: ResolveContext) -> dict:
    """Resolve a catalog profile into the catalog properties run time will use.

    Called by ``floe compile`` for the catalog profile a product selects (after its
    ``credentials`` block is resolved), and by ``floe platform validate`` for every profile.

    :param settings: an instance of the class returned by :func:`floe_catalog_settings`.
    :param context: a :class:`floe.plugins.ResolveContext` (see :func:`floe_storage_resolve`).
    :returns: a JSON-ready dict; credentials appear as secret references.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------------
# compute: the engine dbt runs on (``compute.<profile>``)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def floe_compute_settings() -> type | None:
    """Describe the settings of a compute profile.

    Called once when the plugin is loaded, before any profile of this type is validated.

    :returns: an attrs class for the profile's settings, or ``None`` for none.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_compute_resolve(settings: Any, context: ResolveContext) -> dict:
    """Resolve a compute profile into its run-time section.

    Called by ``floe compile`` for the compute profile a product selects, and by
    ``floe platform validate`` for every profile.

    The section must contain ``dbt_profile``: the dbt target (``type`` plus adapter settings)
    that run time writes into the profiles dbt reads.

    :param settings: an instance of the class returned by :func:`floe_compute_settings`.
    :param context: a :class:`floe.plugins.ResolveContext`; ``context.product_name`` names the
        product being compiled (``None`` when validating a platform alone).
    :returns: a JSON-ready dict with at least ``dbt_profile``.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------------
# credentials: how storage and catalogs authenticate (``credentials: {mode: ...}``)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def floe_credentials_settings() -> type | None:
    """Describe the settings of a credential mode (the ``credentials`` block without ``mode``).

    Called once when the mode's plugin is loaded, before any ``credentials`` block of this
    mode is validated.

    Sensitive fields must be typed :class:`floe.schema.types.SecretRef` so that a literal value
    is refused at validation time.

    :returns: an attrs class, or ``None`` when the mode takes no settings.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_credentials_resolve(settings: Any, context: ResolveContext) -> dict:
    """Resolve a ``credentials`` block into its run-time description.

    Called before the owning storage or catalog profile is resolved; the result is handed to
    that profile's plugin as ``context.credentials``.

    :param settings: an instance of the class returned by :func:`floe_credentials_settings`.
    :param context: a :class:`floe.plugins.ResolveContext` located at the ``credentials`` block.
    :returns: a JSON-ready dict that includes ``mode``; secret references, never values.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------------
# secrets: where secret references are looked up at run time (``secrets.backends``)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def floe_secrets_settings() -> type | None:
    """Describe the settings of a secret backend (a ``secrets.backends`` entry without ``type``).

    Called once when the backend's plugin is loaded, before its ``secrets.backends`` entry
    is validated.

    :returns: an attrs class, or ``None`` when the backend takes no settings.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_secrets_resolve(settings: Any, context: ResolveContext) -> dict:
    """Resolve a secret backend's settings into the section run time uses to build it.

    Called by ``floe compile`` and ``floe platform validate`` for each ``secrets.backends``
    entry of this type.

    :param settings: an instance of the class returned by :func:`floe_secrets_settings`.
    :param context: a :class:`floe.plugins.ResolveContext` located at the backend entry.
    :returns: a JSON-ready dict of the backend's settings.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


# --------------------------------------------------------------------------------------------
# orchestrator: what runs the product (``orchestrator``)
# --------------------------------------------------------------------------------------------


@hookspec(firstresult=True)
def floe_orchestrator_settings() -> type | None:
    """Describe the settings of the orchestrator section.

    Called once when the plugin is loaded, before the ``orchestrator`` section is validated.

    :returns: an attrs class, or ``None`` when the orchestrator takes no settings.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_orchestrator_resolve(settings: Any, context: ResolveContext) -> dict:
    """Resolve the orchestrator section for one product: its jobs and schedules.

    Called by ``floe compile`` once per product, and by ``floe platform validate`` (with no
    product).

    :param settings: an instance of the class returned by :func:`floe_orchestrator_settings`.
    :param context: a :class:`floe.plugins.ResolveContext`; ``context.product`` is the
        :class:`floe.schema.product.DataProduct` being compiled (``None`` when validating a
        platform alone).
    :returns: a JSON-ready dict (for example ``jobs`` and ``schedules``).

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


# ============================================================================================
# Run time. These hooks run in `floe run` / `floe dev` and may import heavy libraries.
# ``context`` is a :class:`floe.runtime.RunContext`: the compiled artifacts, the product
# directory (relative paths in the artifacts are anchored there) and ``context.secret(ref)``.
# ============================================================================================


@hookspec(firstresult=True)
def floe_storage_connect(config: dict, context: RunContext) -> dict:
    """Turn a resolved storage section into what readers and writers of tables need.

    Called once per run, before the catalog is connected.

    :param config: the section's ``config`` from CompiledArtifacts.
    :param context: the :class:`floe.runtime.RunContext` of the run.
    :returns: ``{"warehouse": <URI tables live under>, "properties": {<pyiceberg FileIO
        properties>}}``; secret values only in memory, never written anywhere.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_catalog_connect(config: dict, storage: dict, context: RunContext) -> Any:
    """Open the Iceberg catalog a resolved catalog section describes.

    Called at run time, once per run, the first time the run needs the catalog (before dbt
    starts, so that a rejected credential fails the run at once).

    :param config: the catalog section's ``config`` from CompiledArtifacts.
    :param storage: what :func:`floe_storage_connect` returned for the product's storage.
    :param context: the :class:`floe.runtime.RunContext` of the run.
    :returns: a ``pyiceberg.catalog.Catalog``.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_compute_dbt_output(config: dict, context: RunContext) -> dict:
    """The dbt target (one ``outputs`` entry of profiles.yml) for this run.

    Called at run time, once per run, before dbt is invoked (floe writes the target into the
    profiles dbt reads).

    Relative paths are made absolute against ``context.product_dir``; secrets appear only as
    ``{{ env_var('...') }}`` references, never as values: leave ``{"secret_ref": ...}`` mappings
    in the target, and a secret obtained at run time (a token from
    ``context.credentials(config).token``) as a :class:`floe.runtime.dbt_env.ObtainedSecret`.

    :param config: the compute section's ``config`` from CompiledArtifacts.
    :param context: the :class:`floe.runtime.RunContext` of the run.
    :returns: the target mapping dbt reads.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_compute_reader(config: dict, context: RunContext) -> Any:
    """Open the engine's results for reading once dbt has finished.

    Called at run time after each dbt build step, to read the models' results for publishing.

    :param config: the compute section's ``config`` from CompiledArtifacts.
    :param context: the :class:`floe.runtime.RunContext` of the run.
    :returns: an object with ``read(schema, identifier) -> pyarrow.Table`` and ``close()``.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


# -- what an engine that writes the catalog's tables itself needs ------------------------------
# A compute plugin either leaves its results for floe to publish (floe_compute_reader) or has
# its engine write the Iceberg tables itself (floe_compute_writes_tables). Such an engine needs
# the catalog's and the storage's connection properties; the catalog and storage plugins
# provide them through the two hooks below, so a compute plugin never reads another plugin's
# configuration and core never names an engine.


@hookspec(firstresult=True)
def floe_compute_writes_tables(config: dict) -> bool:
    """Whether the engine writes the product's Iceberg tables into the catalog itself.

    Called at run time, before dbt runs, when the orchestrator prepares each dbt project.
    Optional; a compute plugin without it leaves the tables to floe. When it answers ``True``
    floe does not read the results back nor publish them: each table model is built by the
    engine directly in the catalog namespace of its layer (floe places it there before dbt
    runs), and floe reports the table's snapshot from the catalog afterwards. dbt views and
    seeds stay in the dbt target's own schema.

    :param config: the compute section's ``config`` from CompiledArtifacts.
    :returns: ``True`` when the engine writes the tables, ``False`` when floe publishes them.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_storage_engine_properties(config: dict, context: RunContext) -> dict:
    """The storage properties an engine needs to read and write table data itself.

    Called at run time by compute plugins through ``context.engine_storage_properties()``.

    :param config: the storage section's ``config`` from CompiledArtifacts.
    :param context: the :class:`floe.runtime.RunContext` of the run.
    :returns: Iceberg FileIO property names with string values (for S3: ``s3.endpoint``,
        ``s3.region``, ``s3.path-style-access`` as ``"true"``/``"false"``) and, for keys the
        platform configured up front, ``s3.access-key-id``, ``s3.secret-access-key`` and
        ``s3.session-token``, each either a string or a ``{"secret_ref": ...}`` mapping (never a
        secret value). Without keys the engine uses its own credential chain. Also ``warehouse``:
        the URI tables live under.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_catalog_engine_properties(config: dict, context: RunContext) -> dict | None:
    """The Iceberg catalog properties an engine needs to open this catalog itself.

    Called at run time by compute plugins through ``context.engine_catalog_properties()``, for
    example to check or describe the engine's own catalog configuration.

    :param config: the catalog section's ``config`` from CompiledArtifacts.
    :param context: the :class:`floe.runtime.RunContext` of the run.
    :returns: Iceberg catalog property names: ``type`` (``rest``), ``uri``, ``warehouse`` and,
        with OAuth2, ``oauth2-server-uri``, ``scope``, ``oauth2.client-id`` and
        ``oauth2.client-secret`` (a ``{"secret_ref": ...}`` mapping, never the value).
        ``None`` when no engine but floe can open the catalog (a catalog in a local file).

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_orchestrator_run(config: dict, context: RunContext, request: RunRequest) -> Any:
    """Execute the product once: build the selected assets and publish their tables.

    Called by ``floe run`` once, after the product is compiled and the run lock is taken.

    :param config: the orchestrator section's ``config`` from CompiledArtifacts.
    :param context: the :class:`floe.runtime.RunContext` of the run.
    :param request: a :class:`floe.runtime.RunRequest` (selection, full refresh, progress
        callback).
    :returns: a :class:`floe.runtime.RunOutcome`.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_orchestrator_definitions(config: dict, context: RunContext) -> Any:
    """Build the orchestrator's own definitions of the product (for its UI and daemons).

    Called by the orchestrator's own tools (``dagster dev``, a code location) and by
    ``floe dev``, once per process that loads the product.

    :param config: the orchestrator section's ``config`` from CompiledArtifacts.
    :param context: the :class:`floe.runtime.RunContext` of the run.
    :returns: the orchestrator's definitions object (for Dagster, ``dagster.Definitions``).

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_credentials_provide(config: dict, context: RunContext) -> Any:
    """Build the run-time credential provider of a resolved ``credentials`` block.

    Called at run time (never by validate or compile) by ``context.credentials(config)``, once
    per block and run; the provider is shared by every client of the run, so it caches what it
    obtains and refreshes it before it expires.

    :param config: the block as :func:`floe_credentials_resolve` resolved it (with ``mode``).
    :param context: the :class:`floe.runtime.RunContext` of the run; secrets come from
        ``context.secret(ref)``.
    :returns: a provider object (see :mod:`floe.runtime.credentials`): modes that yield AWS
        keys have ``credentials()`` returning
        :class:`floe.runtime.credentials.AwsCredentials`; ``oauth2`` has ``token()`` returning
        a :class:`floe.runtime.secrets.SecretValue` and ``request(method, url, ...)``.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_secrets_lookup(config: dict, ref: SecretRef) -> Any:
    """Look one secret up in this backend.

    Called at run time, in the process that needs the value, for each backend in
    ``secrets.backends`` order until one answers. Never log, print or raise the value.

    :param config: the backend's section ``config`` from CompiledArtifacts.
    :param ref: the :class:`floe.schema.types.SecretRef` to look up (``ref.key`` selects one
        field of a secret that holds several).
    :returns: a :class:`floe.runtime.secrets.SecretValue`, or ``None`` when this backend does
        not hold the secret (floe then asks the next backend). Raise
        :class:`floe.diagnostics.FloeError` only when the backend is misconfigured or
        unreachable, naming what to fix; never put a value or part of one in the message.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_secrets_describe(config: dict, ref: SecretRef) -> list[str]:
    """Say where this backend looks for a secret, for the error when no backend holds it.

    Called at run time after every backend returned ``None`` for ``ref``, and by
    ``floe secrets check``. Optional: a backend without it is reported as ``<type> backend``.

    :param config: the backend's section ``config`` from CompiledArtifacts.
    :param ref: the :class:`floe.schema.types.SecretRef` that was looked up.
    :returns: the places looked in, as a user would provide the secret there: environment
        variable names (``$POLARIS_OAUTH``), file paths, remote secret ids with their region.
        Names and paths only, never a value.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """


@hookspec(firstresult=True)
def floe_orchestrator_serve(config: dict, context: RunContext, host: str, port: int) -> int:
    """Serve the orchestrator's UI for the product until interrupted (``floe dev``).

    Called by ``floe dev`` once; it blocks until the server stops.

    :param config: the orchestrator section's ``config`` from CompiledArtifacts.
    :param context: the :class:`floe.runtime.RunContext` of the product.
    :param host: the interface to listen on (``127.0.0.1`` unless asked otherwise).
    :param port: the port to listen on.
    :returns: the exit code of the server.

    First result (``firstresult=True``): each plugin has a hook relay of its own, so floe calls
    exactly this plugin's implementation and uses its return value.

    .. versionadded:: 0.1
    """
