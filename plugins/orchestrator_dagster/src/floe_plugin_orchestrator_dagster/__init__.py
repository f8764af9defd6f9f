"""floe orchestrator plugin ``dagster``: a product's transforms and schedules as Dagster jobs.

Selected in platform.yaml with ``orchestrator: {type: dagster}`` (also floe's default when this
distribution is installed). It registers under floe's orchestrator entry-point group::

    [project.entry-points."floe.orchestrator"]
    dagster = "floe_plugin_orchestrator_dagster.plugin"

Compile time uses only :mod:`.plugin`; Dagster itself is imported by run time, never at compile.
For ``dagster dev`` and code locations::

    from floe_plugin_orchestrator_dagster import FloeDefinitions

    defs = FloeDefinitions.from_compiled_artifacts(".floe/compiled_artifacts.json")
"""

from typing import Any


def __getattr__(name: str) -> Any:
    # Lazy, so that loading the compile-time plugin never imports the run-time modules.
    if name == "FloeDefinitions":
        from floe_plugin_orchestrator_dagster.definitions import FloeDefinitions

        return FloeDefinitions
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
