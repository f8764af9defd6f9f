"""``floe platform compile -o DIR``: the release of a platform, byte-identical for identical inputs.

A release holds the platform as resolved (its parents' rules merged in, ``metadata.parent``
replaced by the parents' digests in ``manifest.json``), the effective policy split by concern,
the JSON Schema of each plugin its profiles use, and ``manifest.json`` (name, version, floe
version, source hash, the digest of every other file). Nothing in it depends on the time, the
machine or where the files are, so the same platform always gets the same registry digest.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import attrs

from floe import __version__
from floe.diagnostics import FloeError
from floe.releases.compatibility import SEMVER
from floe.releases.reference import digest_of

MANIFEST = "manifest.json"
PLATFORM = "platform.yaml"
#: The release format; a reader refuses a release whose major format it does not know.
RELEASE_FORMAT = "1"


@attrs.frozen
class Release:
    """A built release: file name (POSIX, relative) → bytes, plus what ``manifest.json`` says."""

    name: str
    version: str | None
    files: dict[str, bytes]
    manifest: dict[str, Any]


def check_version(version: str, what: str = "version") -> str:
    """``v1.3.0`` / ``1.3.0`` → ``1.3.0``; anything that is not a semantic version is an error."""
    if not SEMVER.fullmatch(version or ""):
        raise FloeError(f"{what} '{version}' is not a semantic version; write MAJOR.MINOR.PATCH, "
                        "e.g. v1.3.0 or 1.3.0-rc.1 (build metadata '+...' cannot be an OCI tag)")
    return version[1:] if version.startswith("v") else version


def build_release(platform_path: Path, version: str | None = None) -> Release:
    """Validate the platform with its parent chain and build its release.

    :param version: the version being published; must agree with ``metadata.version`` when
        the platform sets one.
    :raises FloeError: every problem of the platform or its parents, or a version mismatch.
    """
    from floe.enforcement.effective import compile_platform

    result = compile_platform(platform_path)
    if not result.ok or result.policy is None:
        raise FloeError(result.diagnostics)
    policy = result.policy
    leaf = policy.chain[-1]
    meta = leaf.parsed.platform.metadata
    if version is not None:
        version = check_version(version)
        if meta.version and meta.version != version:
            raise FloeError(f"{leaf.display}: metadata.version is {meta.version} but the release is "
                            f"{version}; set metadata.version: \"{version}\" or publish {meta.version}")
    elif meta.version:
        version = check_version(meta.version, f"{leaf.display}: metadata.version")
    files = {PLATFORM: _resolved_platform(leaf, policy, version).encode()}
    files.update({name: _json(value) for name, value in _policies(policy).items()})
    files.update({name: _json(value) for name, value in _schemas(leaf.parsed.platform).items()})
    manifest = {
        "format": RELEASE_FORMAT,
        "name": meta.name,
        "version": version,
        "scope": meta.scope,
        "floe_version": __version__,
        # Over the texts of the chain, root first; paths are left out so that where a checkout
        # lives never changes the digest.
        "source_hash": digest_of("\n".join(
            hashlib.sha256(f.parsed.document.text.encode()).hexdigest() for f in policy.chain
        ).encode()),
        "parents": [_parent(f) for f in policy.chain[:-1]],
        "files": {name: digest_of(data) for name, data in sorted(files.items())},
    }
    files[MANIFEST] = _json(manifest)
    return Release(meta.name or "", version, dict(sorted(files.items())), manifest)


def write_release(release: Release, directory: Path) -> list[Path]:
    """Write the release into ``directory``, each file atomically.

    The directory must be new, empty, or hold an earlier release: then the files that release
    listed and this one does not are removed, so the directory holds exactly this release.
    Anything else is refused rather than overwritten.
    """
    from floe.artifacts import write_atomic
    from floe.discovery import display_path

    previous = _previous_files(directory)
    if previous is None:
        raise FloeError(f"{display_path(directory)}: not empty and not a floe release; choose a new or empty "
                        "directory for the release (e.g. -o dist/platform)")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, data in release.files.items():
        path = directory / name
        write_atomic(path, data)
        written.append(path)
    for name in sorted(previous - set(release.files)):
        stale = directory / name
        stale.unlink(missing_ok=True)
        parent = stale.parent
        while parent != directory and parent.is_dir() and not any(parent.iterdir()):
            parent.rmdir()
            parent = parent.parent
    return written


def _previous_files(directory: Path) -> set[str] | None:
    """The files of the release already in ``directory`` (empty when there is none), or None
    when the directory holds something else."""
    if not directory.exists():
        return set()
    if not directory.is_dir():
        return None
    if not any(directory.iterdir()):
        return set()
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("format") is None or not isinstance(files, dict):
            return None
    except (OSError, ValueError, KeyError, TypeError):
        return None
    from floe.releases.artifact import safe_title

    return {name for name in files if isinstance(name, str) and safe_title(name)} | {MANIFEST}


def _json(value: Any) -> bytes:
    return (json.dumps(value, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def _parent(file: Any) -> dict[str, Any]:
    entry = {"name": file.parsed.platform.metadata.name, "version": file.parsed.platform.metadata.version}
    if file.release_digest:
        entry.update(ref=file.ref, digest=file.release_digest)
    else:
        entry["source_hash"] = digest_of(file.parsed.document.text.encode())
    return entry


def _written_rules(policy: Any) -> dict[str, Any]:
    """The rules some file of the chain wrote, as a nested mapping: only those bind a child,
    so defaults are not written out as if a platform team had chosen them."""
    from floe.enforcement.inheritance import plain

    effective = plain(policy)
    out: dict[str, Any] = {}
    for rule in sorted(policy.sources):
        steps = rule.split(".")
        value: Any = effective
        for step in steps:
            value = value[step]
        node = out
        for step in steps[:-1]:
            node = node.setdefault(step, {})
        node[steps[-1]] = value
    return out


def _resolved_platform(leaf: Any, policy: Any, version: str | None) -> str:
    import yaml

    from floe.diagnostics import Report
    from floe.schema.platform import normalise

    data, _ = normalise(dict(leaf.parsed.document.data), Report(leaf.display))
    data.pop("data_architecture", None)
    data.pop("governance", None)
    meta = dict(data.get("metadata") or {})
    meta.pop("parent", None)  # the parents are merged in; manifest.json names them
    if version:
        meta["version"] = version
    data["metadata"] = meta
    data.update(_written_rules(policy))
    header = (f"# {leaf.parsed.platform.metadata.name or 'platform'} {version or ''}".rstrip()
              + ": released by floe, parents merged in; edit the source, not this file\n")
    return header + yaml.safe_dump(data, sort_keys=True, default_flow_style=False, allow_unicode=True)


def _policies(policy: Any) -> dict[str, Any]:
    """The effective policy split by concern, one file each."""
    from floe.enforcement.inheritance import PATTERN_LAYERS
    from floe.schema.types import jsonable

    arch, gov = policy.data_architecture, policy.governance
    pattern = arch.pattern
    return {
        "architecture/naming-rules.json": {"pattern": pattern, "enforcement": arch.naming.enforcement,
                                           "prefixes": {k: list(v) for k, v in PATTERN_LAYERS.get(pattern, {}).items()},
                                           "patterns": dict(arch.naming.patterns),
                                           "folders": dict(arch.naming.folders)},
        "architecture/layer-constraints.json": {"pattern": pattern, "layers": list(policy.layers)},
        "policies/quality-gates.json": jsonable(gov.quality_gates),
        "policies/approved-plugins.json": {k: list(v) for k, v in sorted(gov.approved_plugins.items())},
        "policies/classification.json": {"classifications": gov.classifications},
    }


def _schemas(platform: Any) -> dict[str, Any]:
    """The JSON Schema of every plugin type the platform's profiles select."""
    from floe.jsonschema import DRAFT, object_schema
    from floe.plugins.manager import PluginError, PluginRegistry
    from floe.schema.platform import PROFILE_SECTIONS

    registry = PluginRegistry()
    used = {(kind, raw["type"]) for kind in PROFILE_SECTIONS for raw in platform.profiles(kind).values()
            if isinstance(raw, dict) and isinstance(raw.get("type"), str)}
    if isinstance(platform.orchestrator, dict) and isinstance(platform.orchestrator.get("type"), str):
        used.add(("orchestrator", platform.orchestrator["type"]))
    out = {}
    for kind, type_name in sorted(used):
        try:
            plugin = registry.load(kind, type_name)
        except PluginError:
            continue  # validation already reported an unusable plugin
        cls = plugin.settings_class
        body = object_schema(cls) if cls is not None else {"type": "object", "properties": {}}
        out[f"schemas/{kind}-{type_name}.schema.json"] = {
            "$schema": DRAFT, "title": f"{kind} profile of type {type_name}", **body}
    return out

