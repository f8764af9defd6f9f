"""``floe validate``: check floe.yaml and platform.yaml files on their own, without compiling."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import attrs

from floe.diagnostics import Diagnostic, FloeError, Report
from floe.yamlsafe import Document, load_file

if TYPE_CHECKING:
    from floe.plugins.manager import PluginRegistry
    from floe.schema.platform import ParsedPlatform

PRODUCT_KINDS = ("DataProduct",)
PLATFORM_KINDS = ("Platform", "Manifest")
_PLATFORM_HINTS = ("storage", "catalogs", "compute", "plugins", "infrastructure", "security")


@attrs.frozen
class FileResult:
    """The outcome for one file: which kind it is and what was found."""

    file: str
    kind: str
    diagnostics: list[Diagnostic]

    @property
    def ok(self) -> bool:
        return not any(d.severity == "error" for d in self.diagnostics)


def detect_kind(doc: Document, path: Path) -> str:
    """``product`` or ``platform``: from ``kind:``, else the file name, else the top-level keys."""
    data = doc.data if isinstance(doc.data, dict) else {}
    kind = data.get("kind")
    if kind in PRODUCT_KINDS:
        return "product"
    if kind in PLATFORM_KINDS:
        return "platform"
    if kind is not None:
        report = doc.report()
        report.error(("kind",), f"'{kind}' is not one of {', '.join(PRODUCT_KINDS + PLATFORM_KINDS)}")
        raise FloeError(report.items)
    name = path.name.lower()
    if "platform" in name or "manifest" in name:
        return "platform"
    if "floe" in name:
        return "product"
    if any(isinstance(data.get(k), dict) for k in _PLATFORM_HINTS) and "transforms" not in data:
        return "platform"
    return "product"


def validate_file(path: str | Path, registry: "PluginRegistry | None" = None,
                  as_kind: str | None = None) -> FileResult:
    """Validate one file; a platform's profiles are checked by the plugins they select."""
    path = Path(path)
    try:
        doc = load_file(path)
        kind = as_kind or detect_kind(doc, path)
    except FloeError as exc:
        return FileResult(str(path), "unknown", exc.diagnostics)
    if kind == "product":
        from floe.schema.product import parse_product

        _, report = parse_product(doc)
        return FileResult(str(path), kind, report.items)
    from floe.plugins.manager import PluginRegistry

    return FileResult(str(path), kind, validate_platform_doc(doc, registry or PluginRegistry())[1].items)


def validate_platform_doc(doc: Document, registry: "PluginRegistry") -> tuple["ParsedPlatform | None", Report]:
    """Validate a platform document including every profile through its plugin.

    :returns: the parsed platform (None when it could not be parsed) and the report.
    """
    from floe.profiles import Resolver
    from floe.schema.platform import parse_platform

    parsed, report = parse_platform(doc)
    if parsed is not None:
        Resolver(parsed, registry, report).validate_all()
        if not report.errors and not parsed.platform.metadata.parent:
            # Rules that only make sense together; with a parent they are checked on the merged
            # chain by `floe platform compile` and `floe compile`.
            from pathlib import Path as FilePath

            from floe.enforcement.inheritance import PlatformFile, merge

            merge([PlatformFile(FilePath(doc.source or doc.file), doc.file, parsed, report)])
    return parsed, report
