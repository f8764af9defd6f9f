"""JSON Schemas generated from floe's attrs classes (``floe schema export``).

The schemas describe the canonical forms. Profiles in platform.yaml are described by the
settings classes of the plugins installed when the schema is exported, so a YAML editor
completes ``catalogs.default`` with the keys the chosen ``type`` accepts.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal, get_args, get_origin

import attrs

from floe.schema.types import SecretRef

DRAFT = "https://json-schema.org/draft/2020-12/schema"
_SECRET_REF = {
    "type": "object",
    "properties": {"secret_ref": {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._-]*$"},
                   "key": {"type": "string"}},
    "required": ["secret_ref"],
    "additionalProperties": False,
    "description": "A reference to a secret, resolved at run time by the secret backends.",
}


def schema_for(tp: Any) -> dict:
    """The JSON Schema of a type used in floe's schemas."""
    if tp is Any or tp is typing.Any:
        return {}
    if tp is SecretRef:
        return dict(_SECRET_REF)
    if tp is str:
        return {"type": "string"}
    if tp is bool:
        return {"type": "boolean"}
    if tp is int:
        return {"type": "integer"}
    if tp is float:
        return {"type": "number"}
    if tp is type(None):
        return {"type": "null"}
    origin = get_origin(tp)
    if origin is Literal:
        return {"enum": list(get_args(tp))}
    if origin in (typing.Union, types.UnionType):
        options = [schema_for(arg) for arg in get_args(tp)]
        return {"anyOf": options}
    if origin is list or tp is list:
        args = get_args(tp)
        return {"type": "array", "items": schema_for(args[0]) if args else {}}
    if origin is dict or tp is dict:
        args = get_args(tp)
        return {"type": "object", "additionalProperties": schema_for(args[1]) if args else {}}
    if attrs.has(tp):
        return object_schema(tp)
    return {}


def object_schema(cls: type, drop: tuple[str, ...] = ()) -> dict:
    """The schema of an attrs class: its fields, which are required, no other keys."""
    hints = typing.get_type_hints(cls)
    properties: dict[str, Any] = {}
    required = []
    for field in attrs.fields(cls):
        if field.name in drop:
            continue
        prop = schema_for(hints[field.name])
        if field.default is attrs.NOTHING:
            required.append(field.name)
        elif not isinstance(field.default, attrs.Factory) and _plain(field.default):
            prop["default"] = field.default
        properties[field.name] = prop
    out: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        out["required"] = required
    if cls.__doc__:
        out["description"] = " ".join(cls.__doc__.split())
    return out


def _plain(value: Any) -> bool:
    return isinstance(value, (str, int, float, bool)) and value is not None


def product_schema() -> dict:
    """Schema of floe.yaml (canonical form)."""
    from floe.schema.product import DataProduct

    return {"$schema": DRAFT, "title": "floe.yaml (DataProduct)", **object_schema(DataProduct)}


def _plugin_alternatives(kind: str) -> list[dict]:
    from floe.plugins.manager import KIND_FIELD, PluginError, PluginRegistry

    registry = PluginRegistry()
    field = KIND_FIELD[kind]
    options = []
    for type_name in registry.types(kind):
        try:
            plugin = registry.load(kind, type_name)
        except PluginError:
            continue  # a broken plugin is reported by validate/compile, not by the schema
        cls = plugin.settings_class
        body = object_schema(cls) if cls is not None else {"type": "object", "properties": {},
                                                           "additionalProperties": False}
        body["properties"] = {field: {"const": type_name}, **body["properties"]}
        body["required"] = [field, *body.get("required", [])]
        if kind in ("storage", "catalog"):
            body["properties"]["credentials"] = {"$ref": "#/$defs/credentials"}
        options.append(body)
    # With no plugin of a kind installed, any mapping naming a type is structurally fine.
    return options or [{"type": "object", "required": [field]}]


def platform_schema() -> dict:
    """Schema of platform.yaml, with profiles described by the installed plugins."""
    from floe.schema.platform import PROFILE_SECTIONS, Platform

    schema = {"$schema": DRAFT, "title": "platform.yaml (Platform / Manifest)", **object_schema(Platform)}
    defs: dict[str, Any] = {"credentials": {"anyOf": _plugin_alternatives("credentials")}}
    for kind, section in PROFILE_SECTIONS.items():
        defs[kind] = {"anyOf": _plugin_alternatives(kind)}
        schema["properties"][section] = {"type": "object",
                                         "additionalProperties": {"$ref": f"#/$defs/{kind}"}}
    defs["orchestrator"] = {"anyOf": _plugin_alternatives("orchestrator")}
    schema["properties"]["orchestrator"] = {"anyOf": [{"$ref": "#/$defs/orchestrator"}, {"type": "null"}]}
    backend = {"anyOf": [{"type": "string"}, *_plugin_alternatives("secrets")]}
    schema["properties"]["secrets"]["properties"]["backends"] = {"anyOf": [
        {"type": "array", "items": backend}, {"type": "null"}]}
    # The ADR-0016 shorthand: `plugins: {compute: {type: duckdb}}`.
    schema["properties"]["plugins"] = {"type": "object",
                                       "additionalProperties": {"type": "object",
                                                                "required": ["type"]}}
    schema["properties"]["version"] = {"type": "string", "description": "Flat form of metadata.version."}
    schema["$defs"] = defs
    return schema


def artifacts_schema() -> dict:
    """Schema of .floe/compiled_artifacts.json."""
    from floe.artifacts import CONTRACT_VERSION, CompiledArtifacts

    schema = {"$schema": DRAFT, "title": f"CompiledArtifacts {CONTRACT_VERSION}",
              **object_schema(CompiledArtifacts)}
    major = CONTRACT_VERSION.split(".")[0]
    schema["properties"]["contract_version"] = {"type": "string", "pattern": rf"^{major}\.\d+\.\d+$"}
    return schema


def all_schemas() -> dict[str, dict]:
    """File name → schema, as ``floe schema export`` writes them."""
    return {"floe.schema.json": product_schema(), "platform.schema.json": platform_schema(),
            "compiled-artifacts.schema.json": artifacts_schema()}
