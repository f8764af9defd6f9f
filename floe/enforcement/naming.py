"""Layers and naming: which layer each model belongs to, and whether its name says so.

A model's layer comes from its name (a layer prefix such as ``bronze_``, or for ``custom`` the
layer whose regex the whole name matches) or from its folder under the model path (a folder
named like a layer, or one mapped by ``naming.folders``). A model that fits no layer, or whose
name and folder disagree, violates the naming rule; an alias, being the table's real name,
must fit the model's layer too.

Kimball layers follow dbt's own project structure guide: ``stg_`` staging models,
``int_`` intermediate models, and the ``dim_``/``fct_`` dimensional models of the marts.
"""

from __future__ import annotations

import re

import attrs

from floe.dbt_project import DbtModel
from floe.diagnostics import one_of
from floe.enforcement.inheritance import PATTERN_LAYERS, Policy


@attrs.frozen
class Placement:
    """Where a model landed, and what is wrong with its name (empty when nothing is)."""

    layer: str | None
    problems: tuple[str, ...]


class Layering:
    """The layer rules of one effective policy, ready to apply to many models."""

    def __init__(self, policy: Policy):
        arch = policy.data_architecture
        self.pattern = arch.pattern
        self.layers = policy.layers
        self._prefixes: list[tuple[str, str]] = []
        self._regexes: list[tuple[re.Pattern, str]] = []
        if arch.pattern in PATTERN_LAYERS:
            self._prefixes = [(prefix, layer) for layer, prefixes in PATTERN_LAYERS[arch.pattern].items()
                              if layer in self.layers for prefix in prefixes]
        elif arch.pattern == "custom":
            self._regexes = [(re.compile(regex), layer) for layer, regex in arch.naming.patterns.items()
                             if layer in self.layers]
        self._folders = {layer: layer for layer in self.layers}
        self._folders.update({folder: layer for folder, layer in arch.naming.folders.items()
                              if layer in self.layers})

    @property
    def active(self) -> bool:
        """Whether the policy names a data architecture at all."""
        return self.pattern is not None

    def expected(self) -> str:
        """The names the platform accepts: ``bronze_*, silver_* or gold_*``."""
        if self._prefixes:
            return one_of([f"{prefix}*" for prefix, _ in self._prefixes], ordered=True)
        if self._regexes:
            return "a name matching " + one_of([f"{layer}: {rx.pattern}" for rx, layer in self._regexes],
                                               ordered=True)
        return "a name in one of the platform's layers (none are allowed)"

    def by_name(self, name: str) -> str | None:
        """The layer a name places a model in, if any."""
        for prefix, layer in self._prefixes:
            if name.startswith(prefix) and len(name) > len(prefix):
                return layer
        for regex, layer in self._regexes:
            if regex.fullmatch(name):
                return layer
        return None

    def by_folder(self, folders: tuple[str, ...]) -> tuple[str | None, str | None]:
        """The first folder (outermost first) that is a layer: ``(folder, layer)``."""
        for folder in folders:
            if folder in self._folders:
                return folder, self._folders[folder]
        return None, None

    def place(self, model: DbtModel) -> Placement:
        """The model's layer and its naming problems."""
        if not self.active:
            return Placement(None, ())
        named = self.by_name(model.name)
        folder, filed = self.by_folder(model.folders)
        layer = named or filed
        problems = []
        if layer is None:
            problems.append(f"'{model.name}' violates {self.pattern} naming; expected {self.expected()}")
        elif named and filed and named != filed:
            problems.append(f"'{model.name}' is named for layer {named} but sits in folder {folder}/ "
                            f"(layer {filed}); rename it or move it")
        if model.alias != model.name and layer is not None:
            aliased = self.by_name(model.alias)
            if aliased is None:
                problems.append(f"alias '{model.alias}' of '{model.name}' violates {self.pattern} "
                                f"naming; expected {self.expected()}")
            elif aliased != layer:
                problems.append(f"alias '{model.alias}' of '{model.name}' names layer {aliased}, but "
                                f"the model is in layer {layer}")
        return Placement(layer, tuple(problems))


