"""Data-mesh inheritance: enterprise → domain → product platforms merge into one policy.

A platform names its parent in ``metadata.parent`` (a path, relative to the platform file).
The chain is merged root first. Each rule a file *writes* binds every file below it: a child
may tighten the rule (``off → warn → strict``, a higher coverage, fewer approved plugins,
``true`` for a requirement) but never loosen it; loosening is an error at the child's key that
names the parent's file. A rule no ancestor wrote is free for the child to set. Only the
policy is inherited (``data_architecture`` and ``governance``); each platform file still
defines its own infrastructure profiles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

import attrs

from floe.diagnostics import DocPath
from floe.diagnostics import Report, did_you_mean, dotted, one_of
from floe.plugins.manager import PLUGIN_KINDS
from floe.discovery import display_path
from floe.schema.platform import (DataArchitecture, PlatformGovernance, Naming, ParsedPlatform, QualityGates,
                                  parse_platform)
from floe.schema.types import jsonable
from floe.yamlsafe import load_file

#: ``off < warn < strict``.
ENFORCEMENT_RANK = {"off": 0, "warn": 1, "strict": 2}
#: The layers of each pattern, in order, and the prefixes that place a model in each layer.
PATTERN_LAYERS: dict[str, dict[str, tuple[str, ...]]] = {
    "medallion": {"bronze": ("bronze_",), "silver": ("silver_",), "gold": ("gold_",)},
    "kimball": {"staging": ("stg_",), "intermediate": ("int_",), "marts": ("dim_", "fct_")},
}


@attrs.frozen
class PlatformFile:
    """One file of the chain: where it is, how to name it, what it says."""

    path: Path
    display: str
    parsed: ParsedPlatform
    report: Report
    #: For a release pulled from a registry: the ``oci://`` reference and the manifest digest.
    ref: str | None = None
    release_digest: str | None = None


@attrs.frozen
class Policy:
    """The effective rules of a platform after merging its parent chain.

    ``sources`` maps each rule some file wrote (``data_architecture.naming.enforcement``,
    ``governance.approved_plugins.compute``) to the :class:`PlatformFile` that set it.
    ``chain`` lists the files root first, the platform itself last.
    """

    data_architecture: DataArchitecture
    governance: PlatformGovernance
    sources: dict[str, PlatformFile]
    chain: tuple[PlatformFile, ...]

    @property
    def layers(self) -> tuple[str, ...]:
        """The layers products may use, in order (empty without a data architecture)."""
        arch = self.data_architecture
        if arch.pattern in PATTERN_LAYERS:
            known = tuple(PATTERN_LAYERS[arch.pattern])
        elif arch.pattern == "custom":
            known = tuple(arch.naming.patterns)
        else:
            known = ()
        if arch.layers is not None:
            return tuple(layer for layer in known if layer in arch.layers) if known else tuple(arch.layers)
        return known


# -- loading the chain ----------------------------------------------------------------------


def load_chain(path: Path, display: str, parsed: ParsedPlatform, report: Report,
               release: Any = None, update: bool = False) -> tuple[list[PlatformFile], bool]:
    """Follow ``metadata.parent`` from a parsed platform to the root, reading each parent.

    A parent may be an ``oci://`` release (pulled, verified, its tag locked in ``floe.lock``
    beside the child; ``update`` moves the lock). ``release`` is the pulled release the
    platform itself came from, if it did.

    :returns: the files read, root first, and whether the chain is complete; when it is not
        (a parent is missing, invalid or a cycle), the error is in the report of the file
        whose ``metadata.parent`` could not be followed.
    """
    chain = [PlatformFile(path, display, parsed, report, *_pulled(release))]
    seen = {path.resolve(): display}
    while chain[-1].parsed.platform.metadata.parent:
        child = chain[-1]
        ref = child.parsed.platform.metadata.parent
        where: DocPath = ("metadata", "parent")
        if ref.startswith("oci://"):
            pulled = _pull_parent(child, ref, update)
            if pulled is None:
                return list(reversed(chain)), False
            parent, parent_report = parse_platform(pulled.document())
            if parent is None or parent_report.errors:
                child.report.extend(parent_report.items)
                return list(reversed(chain)), False
            chain.append(PlatformFile(pulled.platform_path, pulled.ref, parent, parent_report,
                                      *_pulled(pulled)))
            continue
        parent_path = child.path.parent / ref
        if parent_path.is_dir():
            for name in ("platform.yaml", "manifest.yaml"):
                if (parent_path / name).is_file():
                    parent_path = parent_path / name
                    break
        if not parent_path.is_file():
            child.report.error(where, f"parent platform '{ref}' not found (looked for "
                               f"{display_path(parent_path)}); give a path relative to this file")
            return list(reversed(chain)), False
        key = parent_path.resolve()
        if key in seen:
            cycle = " -> ".join([*(f.display for f in chain), display_path(parent_path)])
            child.report.error(where, f"the parent chain loops back to {seen[key]}: {cycle}; "
                               "a platform cannot be its own ancestor")
            return list(reversed(chain)), False
        parent_display = display_path(parent_path)
        seen[key] = parent_display
        parent, parent_report = parse_platform(load_file(parent_path, parent_display))
        if parent is None or parent_report.errors:
            child.report.extend(parent_report.items)
            return list(reversed(chain)), False
        chain.append(PlatformFile(parent_path, parent_display, parent, parent_report))
    return list(reversed(chain)), True


def _pulled(release: Any) -> tuple[str | None, str | None]:
    return (release.ref, release.digest) if release is not None else (None, None)


def _pull_parent(child: PlatformFile, ref: str, update: bool) -> Any:
    """The verified parent release, or None with the error in the child's report."""
    from floe.diagnostics import FloeError
    from floe.releases.pull import pull

    # A pulled platform has its parents merged in, so only files on disk name a parent here.
    try:
        verify = child.parsed.platform.metadata.parent_verify
        key = None
        if verify is not None:
            from floe.releases.signing import public_key_from

            if "public_key" not in verify:
                raise FloeError("metadata.parent_verify needs public_key: FILE or {secret_ref: name}")
            key = public_key_from(verify["public_key"], child.path.parent, "metadata.parent_verify.public_key")
        return pull(ref, child.path.parent, update=update, what="metadata.parent", public_key=key)
    except FloeError as exc:
        for diagnostic in exc.diagnostics:
            child.report.error(("metadata", "parent"), diagnostic.message)
        return None


# -- merging --------------------------------------------------------------------------------


@attrs.define
class _Rules:
    values: dict[str, Any] = attrs.Factory(dict)
    sources: dict[str, PlatformFile] = attrs.Factory(dict)


def merge(chain: list[PlatformFile]) -> Policy:
    """Merge the chain root first; loosening and inconsistent rules are reported per file."""
    rules = _Rules()
    for file in chain:
        _merge_file(file, rules)
    policy = _build(rules, chain)
    _check_consistency(policy)
    return policy


def _written(data: Any, path: DocPath) -> bool:
    for step in path:
        if not isinstance(data, dict) or step not in data:
            return False
        data = data[step]
    return True


def _merge_file(file: PlatformFile, rules: _Rules) -> None:
    platform = file.parsed.platform
    raw = file.parsed.document.data if isinstance(file.parsed.document.data, dict) else {}
    arch, gates, gov = platform.data_architecture, platform.governance.quality_gates, platform.governance

    def rule(path: DocPath, value: Any, tighter: Callable[[Any, Any], str | None]) -> None:
        name = dotted(path)
        if name in rules.sources:
            problem = tighter(value, rules.values[name])
            if problem:
                parent = rules.sources[name]
                file.report.error(path, f"{problem} set by {parent.display}; a child platform may "
                                  "tighten an inherited rule, never loosen it")
                return
        rules.values[name] = value
        rules.sources[name] = file

    naming_off = ENFORCEMENT_RANK[rules.values.get("data_architecture.naming.enforcement", "off")] == 0
    if _written(raw, ("data_architecture", "pattern")):
        rule(("data_architecture", "pattern"), arch.pattern, _same_pattern)
    if _written(raw, ("data_architecture", "layers")):
        rule(("data_architecture", "layers"), arch.layers, _subset("layer"))
    if _written(raw, ("data_architecture", "naming", "enforcement")):
        rule(("data_architecture", "naming", "enforcement"), arch.naming.enforcement, _enforcement)
    for key in ("patterns", "folders"):
        if _written(raw, ("data_architecture", "naming", key)):
            value = getattr(arch.naming, key)
            # A naming allowance loosens only a naming rule that is enforced.
            rule(("data_architecture", "naming", key), value,
                 (lambda c, p: None) if naming_off else _narrower_mapping(key))
    if _written(raw, ("governance", "quality_gates", "minimum_test_coverage")):
        rule(("governance", "quality_gates", "minimum_test_coverage"), gates.minimum_test_coverage,
             _at_least)
    for layer, percent in gates.minimum_test_coverage_by_layer.items():
        rule(("governance", "quality_gates", "minimum_test_coverage_by_layer", layer), percent, _at_least)
    for key in ("require_descriptions", "require_column_descriptions", "block_on_failure"):
        if _written(raw, ("governance", "quality_gates", key)):
            rule(("governance", "quality_gates", key), getattr(gates, key), _still_true)
    for kind, types in gov.approved_plugins.items():
        rule(("governance", "approved_plugins", kind), list(types), _subset(f"{kind} type"))
    if _written(raw, ("governance", "classifications")):
        rule(("governance", "classifications"), gov.classifications, _subset("classification"))


def _same_pattern(child: Any, parent: Any) -> str | None:
    if parent is None or child == parent:
        return None
    return f"pattern {child or '(none)'} replaces the pattern {parent}"


def _enforcement(child: str, parent: str) -> str | None:
    if ENFORCEMENT_RANK[child] >= ENFORCEMENT_RANK[parent]:
        return None
    return f"'{child}' is weaker than '{parent}'"


def _at_least(child: int | None, parent: int | None) -> str | None:
    if parent is None or (child is not None and child >= parent):
        return None
    return f"{'no minimum' if child is None else f'{child}%'} is below the minimum of {parent}%"


def _still_true(child: bool, parent: bool) -> str | None:
    return "false drops the requirement (true)" if parent and not child else None


def _subset(what: str) -> Callable[[Any, Any], str | None]:
    def check(child: list[str] | None, parent: list[str] | None) -> str | None:
        if parent is None:
            return None
        if child is None:
            return f"no list allows every {what}, more than the list [{', '.join(parent)}]"
        extra = [c for c in child if c not in parent]
        if not extra:
            return None
        return (f"{what} {one_of(extra)} {'is' if len(extra) == 1 else 'are'} not in the list "
                f"[{', '.join(parent)}]")

    return check


def _narrower_mapping(key: str) -> Callable[[dict, dict], str | None]:
    def check(child: dict[str, str], parent: dict[str, str]) -> str | None:
        extra = [f"{k}: {v}" for k, v in child.items() if parent.get(k) != v]
        if not extra:
            return None
        return f"{', '.join(extra)} adds to the naming {key} {_mapping(parent)}"

    return check


def _mapping(value: dict[str, str]) -> str:
    return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"


def _build(rules: _Rules, chain: list[PlatformFile]) -> Policy:
    v = rules.values
    naming = Naming(enforcement=v.get("data_architecture.naming.enforcement", "off"),
                    patterns=dict(v.get("data_architecture.naming.patterns", {})),
                    folders=dict(v.get("data_architecture.naming.folders", {})))
    arch = DataArchitecture(pattern=v.get("data_architecture.pattern"), naming=naming,
                            layers=v.get("data_architecture.layers"))
    by_layer_prefix = "governance.quality_gates.minimum_test_coverage_by_layer."
    approved_prefix = "governance.approved_plugins."
    gates = QualityGates(
        minimum_test_coverage=v.get("governance.quality_gates.minimum_test_coverage"),
        minimum_test_coverage_by_layer={k[len(by_layer_prefix):]: p for k, p in v.items()
                                        if k.startswith(by_layer_prefix)},
        require_descriptions=v.get("governance.quality_gates.require_descriptions", False),
        require_column_descriptions=v.get("governance.quality_gates.require_column_descriptions", False),
        block_on_failure=v.get("governance.quality_gates.block_on_failure", True))
    governance = PlatformGovernance(
        quality_gates=gates,
        approved_plugins={k[len(approved_prefix):]: types for k, types in v.items()
                          if k.startswith(approved_prefix)},
        classifications=v.get("governance.classifications"))
    return Policy(arch, governance, dict(rules.sources), tuple(chain))


def _check_consistency(policy: Policy) -> None:
    """Rules that only make sense together, reported at the file that wrote the later one."""
    arch = policy.data_architecture
    sources = policy.sources

    def error(rule: str, message: str) -> None:
        file = sources.get(rule) or policy.chain[-1]
        file.report.error(tuple(rule.split(".")), message)

    pattern, naming = arch.pattern, arch.naming
    if naming.enforcement != "off" and pattern is None:
        error("data_architecture.naming.enforcement", f"naming enforcement '{naming.enforcement}' "
              "needs a data_architecture.pattern: medallion, kimball or custom")
    if naming.patterns and pattern != "custom":
        error("data_architecture.naming.patterns", f"naming.patterns apply to pattern: custom only; "
              f"{pattern or 'no pattern'} names are fixed" + (
                  f" ({', '.join(p + '*' for ps in PATTERN_LAYERS[pattern].values() for p in ps)})"
                  if pattern in PATTERN_LAYERS else ""))
    if pattern == "custom" and not naming.patterns:
        error("data_architecture.pattern", "pattern custom needs a regex per layer under "
              "data_architecture.naming.patterns, e.g. {raw: 'raw_[a-z0-9_]+', mart: 'mart_[a-z0-9_]+'}")
    known = tuple(PATTERN_LAYERS[pattern]) if pattern in PATTERN_LAYERS else tuple(naming.patterns)
    if arch.layers is not None and known:
        for layer in arch.layers:
            if layer not in known:
                error("data_architecture.layers", f"'{layer}' is not a layer of {pattern}"
                      f"{did_you_mean(layer, known)}; its layers are {', '.join(known)}")
    for kind in policy.governance.approved_plugins:
        if kind not in PLUGIN_KINDS:
            error(f"governance.approved_plugins.{kind}", f"unknown plugin kind '{kind}'"
                  f"{did_you_mean(kind, PLUGIN_KINDS)}; kinds: {one_of(PLUGIN_KINDS)}")
    layers = policy.layers
    for folder, layer in naming.folders.items():
        if layer not in layers:
            error("data_architecture.naming.folders", f"folder '{folder}' maps to '{layer}', which "
                  f"is not a layer{did_you_mean(layer, layers)}; layers: {one_of(layers, ordered=True)}")
    for layer in policy.governance.quality_gates.minimum_test_coverage_by_layer:
        if layer not in layers:
            error(f"governance.quality_gates.minimum_test_coverage_by_layer.{layer}",
                  f"'{layer}' is not a layer{did_you_mean(layer, layers)}; layers: "
                  f"{one_of(layers, ordered=True) if layers else '(none: set data_architecture.pattern)'}")


def plain(policy: Policy) -> dict[str, Any]:
    """The effective policy as plain data (for the artifacts and ``floe platform compile``)."""
    return {"data_architecture": jsonable(policy.data_architecture), "governance": jsonable(policy.governance)}
