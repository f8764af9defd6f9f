"""Secrets for dbt: ``env_var()`` references in profiles.yml, values only in memory.

dbt reads its connection settings from profiles.yml, a file. A secret a compute profile needs
(``settings: {http_proxy_password: {secret_ref: proxy, key: password}}``) is written there as
``{{ env_var('DBT_ENV_SECRET_FLOE_PROXY__PASSWORD') }}`` and its value is put into this
process's environment only while dbt runs (:meth:`DbtSecrets.environment`).

A secret obtained only at run time (an OAuth2 access token a credential provider fetches) is
handed over the same way: the compute plugin puts an :class:`ObtainedSecret` into the target,
and the value is obtained anew each time the environment is entered, so every dbt invocation
gets a current one.

The ``DBT_ENV_SECRET_`` prefix is dbt's own convention: dbt scrubs those values from
everything it logs and refuses them anywhere but profiles.yml and packages.yml, so even a
model that tried to ``select '{{ env_var(...) }}'`` could not copy the secret into a table.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from typing import TYPE_CHECKING, Any, Callable, Iterator

import attrs

from floe.diagnostics import FloeError
from floe.runtime.secrets import as_ref, ref_label
from floe.schema.types import SecretRef

if TYPE_CHECKING:
    from floe.runtime.secrets import SecretValue

#: dbt scrubs the values of variables with this prefix from its logs (``DBT_ENV_SECRET_``).
PREFIX = "DBT_ENV_SECRET_FLOE_"


def dbt_secret_var(ref: SecretRef) -> str:
    """The variable dbt reads ``ref`` from: ``polaris`` + key ``client-secret`` →
    ``DBT_ENV_SECRET_FLOE_POLARIS__CLIENT_SECRET`` (``__`` keeps the key apart from the name)."""
    name = re.sub(r"[^A-Za-z0-9]", "_", ref.secret_ref).upper()
    if ref.key:
        name += "__" + re.sub(r"[^A-Za-z0-9]", "_", ref.key).upper()
    return PREFIX + name


@attrs.frozen
class ObtainedSecret:
    """A secret dbt needs that is obtained at run time rather than held in a secret backend.

    Put one into the target a compute plugin returns from ``floe_compute_dbt_output``, e.g.
    ``{"jwt_token": ObtainedSecret("trino-oauth2-token", provider.token)}``: the profile gets an
    ``env_var()`` reference, and ``obtain`` is called each time :meth:`DbtSecrets.environment`
    is entered (a provider caches and refreshes what it obtains).

    :param name: names the variable (``DBT_ENV_SECRET_FLOE_OBTAINED_TRINO_OAUTH2_TOKEN``).
    :param obtain: returns the value as a :class:`~floe.runtime.secrets.SecretValue`.
    """

    name: str
    obtain: Callable[[], "SecretValue"] = attrs.field(eq=False, repr=False)


def obtained_secret_var(name: str) -> str:
    """The variable dbt reads an :class:`ObtainedSecret` named ``name`` from."""
    return PREFIX + "OBTAINED_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


class DbtSecrets:
    """The secrets one run hands to dbt: references in the profile, values in the environment.

    ``resolve`` is :meth:`floe.runtime.RunContext.secret`; it is called when the environment is
    entered, so a missing secret stops the run before dbt starts, with the places tried.
    """

    def __init__(self, resolve: Callable[[SecretRef], "SecretValue"]):
        self._resolve = resolve
        self._refs: dict[str, SecretRef] = {}
        self._obtained: dict[str, ObtainedSecret] = {}
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: dict[str, str | None] = {}

    def reference(self, value: Any) -> Any:
        """``value`` (a dbt target) with each secret reference replaced by an ``env_var()`` call.

        :raises FloeError: when two references would share one variable name.
        """
        if isinstance(value, ObtainedSecret):
            name = obtained_secret_var(value.name)
            with self._lock:
                self._obtained.setdefault(name, value)
            return "{{ env_var('" + name + "') }}"
        ref = as_ref(value)
        if ref is not None:
            name = dbt_secret_var(ref)
            known = self._refs.setdefault(name, ref)
            if known != ref:
                raise FloeError(f"secrets {ref_label(known)} and {ref_label(ref)} would both reach "
                                f"dbt as ${name}; rename one of them in platform.yaml")
            return "{{ env_var('" + name + "') }}"
        if isinstance(value, dict):
            return {key: self.reference(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.reference(item) for item in value]
        return value

    def add(self, refs: list[SecretRef]) -> None:
        """Make sure ``refs`` are provided to dbt even if no target referenced them yet."""
        for ref in refs:
            self.reference(ref)

    @contextlib.contextmanager
    def environment(self) -> Iterator[None]:
        """Put the values into ``os.environ`` of this process for the block, then restore it.

        Re-entrant (an orchestrator may open it per dbt call inside a run that opened it
        already): every entry sets the references registered since (a profile written after
        the run began), and the outermost exit removes them all.
        """
        with self._lock:
            missing = {name: ref for name, ref in sorted(self._refs.items()) if name not in self._saved}
            values = {name: self._resolve(ref) for name, ref in missing.items()}
            values.update({name: secret.obtain() for name, secret in sorted(self._obtained.items())
                           if name not in self._saved})
            for name, value in values.items():
                self._saved[name] = os.environ.get(name)
                os.environ[name] = value.reveal()
            self._depth += 1
        try:
            yield
        finally:
            with self._lock:
                self._depth -= 1
                if self._depth == 0:
                    for name, previous in self._saved.items():
                        if previous is None:
                            os.environ.pop(name, None)
                        else:
                            os.environ[name] = previous
                    self._saved = {}
