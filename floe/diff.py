"""``floe diff``: what differs between two compiled artifacts, section by section.

The reviewer's view of a promotion from one environment to the next: the product sections
should be identical and only infrastructure should change. Secret references are shown as
references; artifacts never hold values.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

#: Parts set by platform.yaml (where a product runs and under which rules), listed first;
#: everything else comes from floe.yaml and the dbt project.
INFRASTRUCTURE = ("platform", "profiles", "secret_backends", "orchestrator", "observability",
                  "secret_refs", "dbt.profiles", "governance.policy", "governance.enforcement")
#: Fields that differ between any two environments by construction (hashes, the platform
#: file's own path and the files each rule came from) and say nothing about the difference.
IGNORED = ("source_hash", "platform.digest", "platform.source", "governance.policy_sources")


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Leaf values by dotted path; a secret reference is one leaf, lists are indexed."""
    if isinstance(value, dict) and value and not set(value) <= {"secret_ref", "key"}:
        for key in sorted(value):
            yield from flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(value, list) and value:
        for index, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def diff(left: dict, right: dict) -> dict[str, list[tuple[str, Any, Any]]]:
    """``{section: [(path, left value, right value), ...]}`` for every path that differs."""
    a, b = dict(flatten(left)), dict(flatten(right))
    out: dict[str, list[tuple[str, Any, Any]]] = {}
    for path in sorted(set(a) | set(b)):
        if path.startswith(IGNORED) or a.get(path, _MISSING) == b.get(path, _MISSING):
            continue
        section = _section(path)
        out.setdefault(section, []).append((path, a.get(path, _MISSING), b.get(path, _MISSING)))
    order = {name: i for i, name in enumerate(INFRASTRUCTURE)}
    return dict(sorted(out.items(), key=lambda item: (order.get(item[0], len(order)), item[0])))


def _section(path: str) -> str:
    for name in INFRASTRUCTURE:
        if path == name or path.startswith((name + ".", name + "[")):
            return name
    return path.split(".")[0].split("[")[0]


class _Missing:
    def __repr__(self) -> str:
        return "(absent)"


_MISSING = _Missing()


def show(value: Any) -> str:
    """A value as a reviewer reads it: JSON, secret references as ``{secret_ref: name}``."""
    if value is _MISSING:
        return "(absent)"
    if isinstance(value, dict) and "secret_ref" in value:
        key = f", key: {value['key']}" if value.get("key") else ""
        return f"{{secret_ref: {value['secret_ref']}{key}}}"
    return json.dumps(value, sort_keys=True)


def render(changes: dict[str, list[tuple[str, Any, Any]]], left: str, right: str) -> str:
    """The text report: one block per section, ``path: left -> right`` per change."""
    if not changes:
        return f"no differences between {left} and {right}"
    lines = [f"--- {left}", f"+++ {right}"]
    for section, items in changes.items():
        kind = "infrastructure" if section in INFRASTRUCTURE else "product"
        lines.append(f"{section} ({kind}, {len(items)} change{'s' if len(items) != 1 else ''}):")
        lines += [f"  {path}: {show(a)} -> {show(b)}" for path, a, b in items]
    return "\n".join(lines)
