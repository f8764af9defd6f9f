"""``floe secrets check``: can this process resolve every secret the product needs?

Each reference in CompiledArtifacts is resolved exactly as a run would resolve it
(:meth:`floe.runtime.RunContext.secret`); the report says which backend answered, never what.
"""

from __future__ import annotations

from pathlib import Path

import attrs

from floe.artifacts import CompiledArtifacts
from floe.diagnostics import FloeError
from floe.plugins.manager import PluginRegistry
from floe.runtime.context import RunContext
from floe.runtime.secrets import SecretNotFound
from floe.schema.types import SecretRef

OK, MISSING, ERROR = "ok", "missing", "error"


@attrs.frozen
class SecretStatus:
    """One reference: ``ok`` (with the backend that holds it), ``missing`` or ``error``.

    ``message`` says, for ``missing``, every place tried and, for ``error``, what to fix.
    """

    secret_ref: str
    key: str | None
    status: str
    backend: str | None = None
    message: str | None = None

    @property
    def label(self) -> str:
        """``polaris (key client-secret)``."""
        return self.secret_ref + (f" (key {self.key})" if self.key else "")

    def to_json(self) -> dict:
        """The ``--format json`` form."""
        return attrs.asdict(self)


def check_secrets(artifacts: CompiledArtifacts, product_dir: Path,
                  registry: PluginRegistry | None = None) -> list[SecretStatus]:
    """Resolve every secret reference of ``artifacts`` through its backends, in order."""
    context = RunContext(artifacts, product_dir, registry)
    out = []
    for info in artifacts.secret_refs:
        ref = SecretRef(info.secret_ref, info.key)
        try:
            context.secret(ref)
        except SecretNotFound as exc:
            out.append(SecretStatus(ref.secret_ref, ref.key, MISSING, message=_text(exc)))
        except FloeError as exc:
            out.append(SecretStatus(ref.secret_ref, ref.key, ERROR, message=_text(exc)))
        else:
            out.append(SecretStatus(ref.secret_ref, ref.key, OK, backend=context.secret_source(ref)))
    return out


def _text(exc: FloeError) -> str:
    return "; ".join(d.message for d in exc.diagnostics)
