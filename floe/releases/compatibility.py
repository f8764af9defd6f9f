"""The range of platform versions a product accepts.

Written in floe.yaml as ``platform: {version: ">=1.2.0, <2.0.0"}`` (comparators ``>= > <= < ==
!=``, ``^1.2.0`` for the same major, ``~1.2.0`` for the same minor; joined by commas), or in
the seeds' ``.floe/platform-version.yaml`` form (``compatibility: {min_version, max_version}``,
both inclusive, an optional prefix such as ``platform-config-v`` before each version).
A platform outside the range fails compile, naming both versions.
"""

from __future__ import annotations

import re
from pathlib import Path

from floe.diagnostics import FloeError

VERSION_FILE = Path(".floe") / "platform-version.yaml"
#: Semantic versions (2.0.0, 1.3.0-rc.1), optionally with a leading ``v``: major, minor, patch
#: and pre-release are groups 1-4. Build metadata (``+...``) is not accepted: it cannot be an
#: OCI tag, so a release could never carry it. The one pattern for versions in floe.
SEMVER = re.compile(r"v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?")
_COMPARATOR = re.compile(rf"\s*(>=|<=|==|!=|>|<|\^|~|=)?\s*({SEMVER.pattern})\s*")

Key = tuple[int, int, int, tuple[tuple[int, int | str], ...]]


def version_key(version: str) -> Key:
    """A sortable key by semantic-versioning precedence (a pre-release sorts before its release)."""
    match = SEMVER.fullmatch(version.strip())
    if not match:
        raise ValueError(version)
    pre = match.group(4)
    # A release has no pre-release part and outranks every pre-release of the same version.
    ident = tuple((0, int(p)) if p.isdigit() else (1, p) for p in pre.split(".")) if pre else ((2, 0),)
    return int(match.group(1)), int(match.group(2)), int(match.group(3)), ident


def check_range(text: str) -> list[tuple[str, str]]:
    """Parse a range into ``(operator, version)`` pairs; ValueError says what is wrong."""
    parts = [p for p in text.split(",")]
    out = []
    for part in parts:
        match = _COMPARATOR.fullmatch(part)
        if not match:
            raise ValueError(f"'{part.strip()}' is not a version comparator; write e.g. \">=1.2.0, <2.0.0\", "
                             "\"^1.2.0\" or \"==1.3.0\"")
        out.append((match.group(1) or "==", match.group(2)))
    return out


def satisfies(version: str, text: str) -> bool:
    """Whether ``version`` is inside the range ``text``."""
    have = version_key(version)
    for op, bound in check_range(text):
        want = version_key(bound)
        ok = {">=": have >= want, ">": have > want, "<=": have <= want, "<": have < want,
              "==": have == want, "=": have == want, "!=": have != want,
              "^": want <= have < (want[0] + 1, 0, 0, ((0, 0),)) if want[0] else
                   want <= have < (0, want[1] + 1, 0, ((0, 0),)),
              "~": want <= have < (want[0], want[1] + 1, 0, ((0, 0),))}[op]
        if not ok:
            return False
    return True


def required_range(product_dir: Path, pinned: str | None) -> tuple[str, str] | None:
    """``(range, where it is written)``: floe.yaml's ``platform.version``, else the
    ``.floe/platform-version.yaml`` file, else None."""
    if pinned:
        return pinned, "floe.yaml platform.version"
    path = product_dir / VERSION_FILE
    if not path.is_file():
        return None
    from floe.yamlsafe import load_file

    where = str(VERSION_FILE)
    doc = load_file(path, where)
    compat = doc.data.get("compatibility") if isinstance(doc.data, dict) else None
    if not isinstance(compat, dict) or not (compat.get("min_version") or compat.get("max_version")):
        raise FloeError(f"{where}: expected compatibility: {{min_version: ..., max_version: ...}}")
    bounds = []
    for key, op in (("min_version", ">="), ("max_version", "<=")):
        value = compat.get(key)
        if value is None:
            continue
        match = SEMVER.search(str(value))
        if not match or not str(value).endswith(match.group(0)):
            raise FloeError(f"{where}: compatibility.{key}: '{value}' ends in no semantic version "
                            "(e.g. platform-config-v1.2.0)")
        bounds.append(f"{op}{match.group(0).lstrip('v')}")
    return ", ".join(bounds), where


def check_compatible(product_dir: Path, pinned: str | None, platform_name: str | None,
                     platform_version: str | None, platform_display: str) -> None:
    """Refuse a platform outside the product's range, naming both versions."""
    found = required_range(product_dir, pinned)
    if found is None:
        return
    wanted, where = found
    name = platform_name or platform_display
    if not platform_version:
        raise FloeError(f"{where} requires platform version {wanted}, but platform '{name}' "
                        f"({platform_display}) has no metadata.version")
    try:
        ok = satisfies(platform_version, wanted)
    except ValueError:
        raise FloeError(f"platform '{name}' version '{platform_version}' is not a semantic version, so "
                        f"{where} ({wanted}) cannot be checked") from None
    if not ok:
        raise FloeError(f"platform '{name}' is version {platform_version}, outside the range {wanted} that "
                        f"{where} accepts; pin a platform release inside it or widen the range")
