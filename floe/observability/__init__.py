"""Built-in observability: OpenTelemetry traces and OpenLineage lineage for every run.

Data engineers write no observability code. The orchestrator plugin opens one
:class:`RunObserver` per run (:func:`observe_run`) and tells it, at a few well-defined points,
what happens: the run starts and ends, an asset starts and ends, dbt finished its nodes, a table
was published. The observer turns that into

- spans (one per run, per asset, per dbt node with dbt's own timings) exported over OTLP/HTTP
  to the platform's ``otlp_endpoint``, with floe.yaml's ``observability.attributes`` as resource
  attributes;
- OpenLineage RunEvents (START and COMPLETE/FAIL per asset and dbt node, under a parent run for
  the floe run) sent to ``lineage_endpoint`` (Marquez's HTTP API) or, when none is set, appended
  to ``.floe/lineage/events.jsonl``.

Observability never breaks a pipeline: every call is guarded, exports run on background
threads with short timeouts, and the end of a run waits at most :data:`FLUSH_DEADLINE` seconds
for them; an endpoint that fails gets one warning. Importing this package imports neither
OpenTelemetry nor anything else heavy: ``floe validate`` and ``floe compile`` stay light.
"""

from floe.observability.recorder import FLUSH_DEADLINE, NULL_OBSERVER, RunObserver, observe_run

__all__ = ["FLUSH_DEADLINE", "NULL_OBSERVER", "RunObserver", "observe_run"]
