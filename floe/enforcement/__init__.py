"""Compile-time enforcement: "if it compiles, it is compliant" (ADR-0016, SPEC §7).

The platform's effective policy (:mod:`floe.enforcement.inheritance`) is applied to the models
of the product's dbt projects as dbt parsed them (:mod:`floe.dbt_project`):

- naming and layers (:mod:`~floe.enforcement.naming`) at ``off | warn | strict``;
- quality gates (:mod:`~floe.enforcement.quality`): minimum test coverage, overall and per
  layer, and required descriptions; ``block_on_failure: false`` turns misses into warnings;
- classifications from column ``meta`` (:mod:`~floe.enforcement.classification`);
- approved plugin types (:func:`check_approved`), checked on the resolved profiles.

Every check yields :class:`~floe.artifacts.EnforcementResult` records, which the compiler
prints (``<file>: <rule>: <message>``, one per line, all at once) and writes into the
artifacts. Nothing here imports dbt, and nothing here prints.

The package itself imports nothing: ``floe validate`` reads platform inheritance
(:mod:`~floe.enforcement.inheritance`) and must not load the rules, the artifacts or dbt's
manifest reader with it; the rules live in :mod:`~floe.enforcement.rules`.
"""
