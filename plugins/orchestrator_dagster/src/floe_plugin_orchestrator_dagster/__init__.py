"""floe orchestrator plugin ``dagster``: a product's transforms and schedules as Dagster jobs.

Selected in platform.yaml with ``orchestrator: {type: dagster}`` (also floe's default when this
distribution is installed). It registers under floe's orchestrator entry-point group::

    [project.entry-points."floe.orchestrator"]
    dagster = "floe_plugin_orchestrator_dagster.plugin"

Only compile-time code lives here; Dagster itself is imported by run time, never at compile.
"""
