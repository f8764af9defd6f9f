"""``floe platform compile``: a platform with its parent chain, and the policy products get.

Each rule of the effective policy is shown with the file it comes from (``default`` when no
file in the chain writes it), so a platform engineer sees at once what a domain inherited from
the enterprise and what it tightened.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from floe.diagnostics import Diagnostic
from floe.discovery import display_path
from floe.enforcement.inheritance import Policy, load_chain, merge, plain
from floe.yamlsafe import load_file


@attrs.frozen
class Rule:
    """One line of the effective policy."""

    rule: str
    value: Any
    source: str


@attrs.frozen
class PlatformCompileResult:
    """The outcome of ``floe platform compile``."""

    file: str
    diagnostics: list[Diagnostic]
    policy: Policy | None
    rules: list[Rule]

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)

    def to_json(self) -> dict[str, Any]:
        """The machine-readable form (``--format json``)."""
        policy = self.policy
        return {"file": self.file, "ok": self.ok,
                "chain": [f.display for f in policy.chain] if policy else [],
                "policy": plain(policy) if policy and self.ok else None,
                "rules": [attrs.asdict(r) for r in self.rules] if self.ok else [],
                "diagnostics": [d.to_json() for d in self.diagnostics]}


def compile_platform(path: Path) -> PlatformCompileResult:
    """Validate the platform (every profile through its plugin) and its parents; merge them."""
    from floe.plugins.manager import PluginRegistry
    from floe.validate import validate_platform_doc

    display = display_path(path)
    doc = load_file(path, display)
    parsed, report = validate_platform_doc(doc, PluginRegistry())
    if parsed is None or report.errors:
        return PlatformCompileResult(display, report.items, None, [])
    chain, complete = load_chain(path, display, parsed, report)
    if not complete:
        return PlatformCompileResult(display, [d for f in chain for d in f.report.items], None, [])
    policy = merge(chain)
    diagnostics = [d for f in chain for d in f.report.items]
    return PlatformCompileResult(display, diagnostics, policy, rules(policy))


def rules(policy: Policy) -> list[Rule]:
    """Every rule of the effective policy with where it comes from."""
    arch, gov = policy.data_architecture, policy.governance
    gates = gov.quality_gates

    def row(rule: str, value: Any) -> Rule:
        source = policy.sources.get(rule)
        return Rule(rule, value, source.display if source else "default")

    out = [row("data_architecture.pattern", arch.pattern),
           Rule("data_architecture.layers", list(policy.layers),
                policy.sources["data_architecture.layers"].display
                if "data_architecture.layers" in policy.sources else
                row("data_architecture.pattern", None).source if arch.pattern else "default"),
           row("data_architecture.naming.enforcement", arch.naming.enforcement)]
    if arch.naming.patterns:
        out.append(row("data_architecture.naming.patterns", dict(arch.naming.patterns)))
    if arch.naming.folders:
        out.append(row("data_architecture.naming.folders", dict(arch.naming.folders)))
    out.append(row("governance.quality_gates.minimum_test_coverage", gates.minimum_test_coverage))
    for layer, percent in sorted(gates.minimum_test_coverage_by_layer.items()):
        out.append(row(f"governance.quality_gates.minimum_test_coverage_by_layer.{layer}", percent))
    for key in ("require_descriptions", "require_column_descriptions", "block_on_failure"):
        out.append(row(f"governance.quality_gates.{key}", getattr(gates, key)))
    for kind, types in sorted(gov.approved_plugins.items()):
        out.append(row(f"governance.approved_plugins.{kind}", list(types)))
    if not gov.approved_plugins:
        out.append(Rule("governance.approved_plugins", "(any installed type)", "default"))
    out.append(row("governance.classifications", gov.classifications))
    return out


def describe_policy(result: PlatformCompileResult) -> str:
    """The text form: the chain, then one aligned line per rule."""
    policy = result.policy
    assert policy is not None
    meta = policy.chain[-1].parsed.platform.metadata
    label = " ".join(p for p in (meta.name, meta.version) if p)
    lines = [f"{result.file}: ok" + (f" ({label})" if label else "")]
    if len(policy.chain) > 1:
        lines.append("inherits: " + " -> ".join(f.display for f in policy.chain))
    lines.append("effective policy:")
    width = max(len(r.rule) for r in result.rules)
    shown = [_value(r.value) for r in result.rules]
    value_width = max(len(v) for v in shown)
    for r, value in zip(result.rules, shown):
        lines.append(f"  {r.rule:<{width}}  {value:<{value_width}}  {r.source}")
    return "\n".join(lines)


def _value(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "(none)"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    return str(value)
