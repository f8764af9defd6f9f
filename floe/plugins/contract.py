"""What a plugin of each kind must implement, and messages that show the hook it should have.

pluggy's own validation messages name the problem but not the fix, and span several lines
joined with ``\\n``; floe reports each problem as lines of its own: what is wrong (with a
"did you mean" for a misspelled hook) and the signature floe expects.
"""

from __future__ import annotations

import inspect
from typing import Any

from floe.diagnostics import did_you_mean
from floe.plugins import hookspecs

#: Hooks ``floe run`` needs from a plugin of each kind (compile works without them).
RUNTIME_HOOKS = {
    "storage": ("floe_storage_connect",),
    "catalog": ("floe_catalog_connect",),
    "compute": ("floe_compute_dbt_output", "floe_compute_reader"),
    "credentials": ("floe_credentials_provide",),
    "secrets": ("floe_secrets_lookup",),
    "orchestrator": ("floe_orchestrator_run",),
}
#: Hooks a plugin need not implement when it implements the other: a compute engine that
#: writes the catalog's tables itself has no results for floe to read back.
RUNTIME_ALTERNATIVES = {"floe_compute_reader": "floe_compute_writes_tables"}


def hook_names() -> list[str]:
    """Every hook floe defines."""
    return sorted(name for name, fn in vars(hookspecs).items()
                  if name.startswith("floe_") and inspect.isfunction(fn))


def signature(hook: str) -> str:
    """The hook as a plugin author writes it: ``floe_catalog_connect(config: dict, storage:
    dict, context: RunContext) -> Any``."""
    sig = inspect.signature(getattr(hookspecs, hook))
    params = ", ".join(f"{p.name}: {p.annotation}" if p.annotation is not p.empty else p.name
                       for p in sig.parameters.values())
    returns = "" if sig.return_annotation is sig.empty else f" -> {sig.return_annotation}"
    return f"{hook}({params}){returns}"


def expected(hook: str) -> str:
    """``expected: <signature>`` (the line under a contract problem)."""
    return f"  expected: @hookimpl def {signature(hook)}"


def implementations(obj: Any) -> dict[str, Any]:
    """The functions of ``obj`` marked ``@hookimpl``, by name."""
    marker = f"{hookspecs.PROJECT}_impl"
    found = {}
    for name in dir(obj):
        try:
            value = getattr(obj, name)
        except Exception:  # noqa: BLE001 - an attribute that fails to load is not a hook
            continue
        if callable(value) and hasattr(value, marker):
            found[name] = value
    return found


def problems(kind: str, obj: Any) -> list[list[str]]:
    """Each way ``obj``'s hookimpls break the contract, as lines (problem, then the fix)."""
    known = hook_names()
    own = [h for h in known if h.startswith(f"floe_{kind}_")]
    out: list[list[str]] = []
    for name, fn in sorted(implementations(obj).items()):
        if name not in known:
            hint = did_you_mean(name, own) or did_you_mean(name, known)
            lines = [f"unknown hook '{name}'{hint}"]
            close = hint.split("'")[1] if hint else None
            lines += [expected(close)] if close else [f"  hooks of a {kind} plugin: {', '.join(own)}"]
            out.append(lines)
            continue
        spec_args = set(inspect.signature(getattr(hookspecs, name)).parameters)
        try:
            impl_args = set(inspect.signature(fn).parameters)
        except (TypeError, ValueError):
            continue
        extra = sorted(impl_args - spec_args)
        if extra:
            out.append([f"{name} takes {', '.join(repr(a) for a in extra)}, which floe does not pass",
                        expected(name)])
    return out
