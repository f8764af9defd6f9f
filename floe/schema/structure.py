"""Strict structuring of YAML data into attrs classes, with errors that name the path.

cattrs does the work (``forbid_extra_keys``, detailed validation collects every error); this
module makes it strict where YAML is loose (``"4"`` is not an int, ``1.0`` is not a string) and
turns cattrs' exception groups into :class:`~floe.diagnostics.Report` entries at the exact
dotted path, with "did you mean" for misspelled keys and literal values.
"""

from __future__ import annotations

import contextlib
import functools
import types
import typing
from typing import Any, Callable, Literal, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)

from floe.diagnostics import DocPath, Report, did_you_mean

T = TypeVar("T")


class Invalid(ValueError):
    """Raised by structure hooks and validators with a message meant for the user.

    ``at`` names the attribute the message is about, when an attrs validator raised it.
    """

    at: str | None = None


def field_check(check: Callable[[Any], None]) -> Callable[[Any, Any, Any], None]:
    """Make ``check(value)`` an attrs validator whose :class:`Invalid` lands on the field's path.

    attrs runs validators in ``__init__``, after cattrs has left the field, so without this the
    error would be reported at the enclosing mapping.
    """

    @functools.wraps(check)
    def validator(_instance: Any, attribute: Any, value: Any) -> None:
        try:
            check(value)
        except Invalid as exc:
            exc.at = attribute.name
            raise

    return validator


def _type_name(value: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
            float: "a number", type(None): "empty (null)"}.get(type(value), type(value).__name__)


def _strict_str(value: Any, _: type) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        raise Invalid(f"expected a string, got the number {value!r}; quote it: \"{value}\"")
    raise Invalid(f"expected a string, got {_type_name(value)}")


def _strict_int(value: Any, _: type) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise Invalid(f"expected an integer, got {_type_name(value)}")


def _strict_float(value: Any, _: type) -> float:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise Invalid(f"expected a number, got {_type_name(value)}")


def _strict_bool(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    raise Invalid(f"expected true or false, got {_type_name(value)}")


def _is_literal(tp: Any) -> bool:
    return get_origin(tp) is Literal


def _literal_hook(tp: Any):
    allowed = get_args(tp)

    def structure(value: Any, _: type) -> Any:
        # YAML 1.1 reads an unquoted `off`/`on` as a boolean; users mean the word.
        if isinstance(value, bool) and ("off" in allowed or "on" in allowed):
            value = "on" if value else "off"
        if value in allowed and type(value) is type(allowed[allowed.index(value)]):
            return value
        shown = f"'{value}'" if isinstance(value, str) else _type_name(value)
        names = [str(a) for a in allowed]
        raise Invalid(f"{shown} is not one of {', '.join(names)}{did_you_mean(str(value), names)}")

    return structure


def _is_any_mapping(tp: Any) -> bool:
    return get_origin(tp) in (dict, typing.Dict) or tp is dict


def _is_any_list(tp: Any) -> bool:
    return get_origin(tp) in (list, typing.List) or tp is list


class _Nested(Exception):
    """Errors inside a list or mapping, each with the index or key where it happened."""

    def __init__(self, children: list[tuple[Any, BaseException]]):
        super().__init__(f"{len(children)} errors")
        self.children = children


def _container_hooks(conv: cattrs.Converter):
    # Written here rather than taken from cattrs so a scalar where a mapping belongs says
    # "expected a mapping" and every element's error keeps its key or index.
    def mapping_factory(tp: Any):
        args = get_args(tp)
        key_type, value_type = args if args else (Any, Any)

        def structure(value: Any, _: type) -> Any:
            if not isinstance(value, dict):
                raise Invalid(f"expected a mapping, got {_type_name(value)}")
            out, errors = {}, []
            for key, item in value.items():
                try:
                    out[conv.structure(key, key_type)] = conv.structure(item, value_type)
                except Exception as exc:  # noqa: BLE001
                    errors.append((key, exc))
            if errors:
                raise _Nested(errors)
            return out

        return structure

    def list_factory(tp: Any):
        args = get_args(tp)
        item_type = args[0] if args else Any

        def structure(value: Any, _: type) -> Any:
            if not isinstance(value, list):
                raise Invalid(f"expected a list, got {_type_name(value)}")
            out, errors = [], []
            for index, item in enumerate(value):
                try:
                    out.append(conv.structure(item, item_type))
                except Exception as exc:  # noqa: BLE001
                    errors.append((index, exc))
            if errors:
                raise _Nested(errors)
            return out

        return structure

    return mapping_factory, list_factory


def _attrs_hook(converter: cattrs.Converter):
    def factory(cls: type):
        inner = cattrs.gen.make_dict_structure_fn(cls, converter, _cattrs_forbid_extra_keys=True)
        checked = [a for a in attrs.fields(cls) if a.validator is not None]

        def structure(value: Any, _: type) -> Any:
            if not isinstance(value, dict):
                raise Invalid(f"expected a mapping, got {_type_name(value)}")
            # attrs stops at the first failing validator; build without them and run each one
            # here, so every invalid field of the mapping is reported in one go.
            with _validators_off():
                instance = inner(value, cls)
            errors = []
            for attribute in checked:
                try:
                    attribute.validator(instance, attribute, getattr(instance, attribute.name))
                except Invalid as exc:
                    exc.at = None
                    errors.append((attribute.name, exc))
            if errors:
                raise _Nested(errors)
            return instance

        return structure

    return factory


@contextlib.contextmanager
def _validators_off():
    was = attrs.validators.get_disabled()
    attrs.validators.set_disabled(True)
    try:
        yield
    finally:
        attrs.validators.set_disabled(was)


_SCALARS = (str, int, float, bool, type(None))


def _is_scalar_union(tp: Any) -> bool:
    return get_origin(tp) in (typing.Union, types.UnionType) and all(a in _SCALARS for a in get_args(tp))


def _scalar_union_hook(tp: Any):
    allowed = get_args(tp)

    def structure(value: Any, _: type) -> Any:
        # Exact types only: YAML's `true` is not the integer 1, `"4"` is not a number.
        if type(value) in allowed or (type(value) is int and float in allowed):
            return value
        names = " or ".join(_type_name(a()) if a is not type(None) else "null" for a in allowed)
        raise Invalid(f"expected {names}, got {_type_name(value)}")

    return structure


@functools.lru_cache(maxsize=1)
def converter() -> cattrs.Converter:
    """The one converter floe uses for every schema: strict, collecting all errors."""
    conv = cattrs.Converter(forbid_extra_keys=True, detailed_validation=True)
    conv.register_structure_hook(str, _strict_str)
    conv.register_structure_hook(int, _strict_int)
    conv.register_structure_hook(float, _strict_float)
    conv.register_structure_hook(bool, _strict_bool)
    conv.register_structure_hook(typing.Any, lambda v, _: v)
    conv.register_structure_hook_factory(_is_literal, _literal_hook)
    mapping_factory, list_factory = _container_hooks(conv)
    conv.register_structure_hook_factory(_is_any_mapping, mapping_factory)
    conv.register_structure_hook_factory(_is_any_list, list_factory)
    conv.register_structure_hook_factory(attrs.has, _attrs_hook(conv))
    conv.register_structure_hook_factory(_is_scalar_union, _scalar_union_hook)
    return conv


def structure(data: Any, cls: type[T], report: Report, path: DocPath = ()) -> T | None:
    """Structure ``data`` into ``cls``; on failure record every problem in ``report`` and return None."""
    try:
        return converter().structure(data, cls)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a located diagnostic
        _record(exc, tuple(path), report)
        return None


def _record(exc: BaseException, path: DocPath, report: Report) -> None:
    if isinstance(exc, ForbiddenExtraKeysError):
        fields = [a.alias or a.name for a in attrs.fields(exc.cl)]
        for key in sorted(exc.extra_fields, key=str):
            report.error(path + (key,), f"unknown key '{key}'{did_you_mean(key, fields)}; "
                                        f"valid keys here: {', '.join(sorted(fields))}")
        return
    if isinstance(exc, _Nested):
        for step, sub in exc.children:
            _record(sub, path + (step,), report)
        return
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            _record(sub, path + _step(note), report)
        for sub in without:
            _record(sub, path, report)
        return
    if isinstance(exc, KeyError):
        key = path[-1] if path else exc.args[0]
        report.error(path[:-1], f"missing required key '{key}'")
        return
    if isinstance(exc, Invalid):
        report.error(path + ((exc.at,) if exc.at else ()), str(exc))
        return
    if isinstance(exc, cattrs.errors.StructureHandlerNotFoundError):
        report.error(path, f"cannot read this value ({exc})")
        return
    report.error(path, f"invalid value: {exc}")


def _step(note: Any) -> DocPath:
    if isinstance(note, AttributeValidationNote):
        return (note.name,)
    if isinstance(note, IterableValidationNote):
        return (note.index,)
    return ()
