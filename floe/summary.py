"""A short, human summary of what compile resolved."""

from __future__ import annotations

from floe.artifacts import CompiledArtifacts, ResolvedSection


def _plugin(section: ResolvedSection) -> str:
    plugin = section.plugin
    return f"{section.type}  ({plugin.distribution} {plugin.version})".rstrip()


def describe_artifacts(artifacts: CompiledArtifacts, platform_display: str) -> str:
    """Lines like ``catalog   default -> sqlite  (floe 0.1.0)`` for each resolved section."""
    product, platform = artifacts.product, artifacts.platform
    label = " ".join(p for p in (platform.name, platform.version) if p) or "platform"
    lines = [f"compiled {product.name} {product.version} against {label} ({platform_display})"]
    for kind in ("storage", "catalog", "compute"):
        section: ResolvedSection = getattr(artifacts.profiles, kind)
        lines.append(f"  {kind:<13}{section.profile:<10}-> {_plugin(section)}")
    if artifacts.orchestrator is not None:
        lines.append(f"  {'orchestrator':<13}{'':<10}-> {_plugin(artifacts.orchestrator)}")
    backends = ", ".join(b.type for b in artifacts.secret_backends) or "(none)"
    lines.append(f"  {'secrets':<13}{'':<10}-> {backends}")
    transforms = ", ".join(f"{t.name} ({t.project_dir})" for t in artifacts.dbt.transforms)
    lines.append(f"  transforms: {transforms}")
    if artifacts.schedules:
        lines.append("  schedules:  " + ", ".join(f"{s.name} '{s.cron}' {s.timezone}"
                                                  for s in artifacts.schedules))
    refs = ", ".join(str(r.secret_ref) + (f"#{r.key}" if r.key else "") for r in artifacts.secret_refs)
    lines.append(f"  secret refs: {refs or '(none)'}")
    return "\n".join(lines)
