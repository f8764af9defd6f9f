"""Safe, bounded YAML loading that remembers where every value came from.

PyYAML's ``safe_load`` already refuses Python tags, but it silently keeps the last of two
duplicate keys, expands aliases without limit (a "billion laughs" document exhausts memory) and
forgets line numbers. floe composes the node graph itself and converts it with limits, so every
later error can name ``file:line:col`` and nothing a user writes can hang or crash the CLI.
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import attrs
import yaml

from floe.diagnostics import FloeError, DocPath, Position, Report
from floe.filekinds import NotRegular, file_problem, read_regular

#: Configuration files are small; anything bigger is a mistake or an attack.
MAX_BYTES = 1024 * 1024
#: Values produced after expanding aliases. A normal platform file has a few hundred.
MAX_NODES = 100_000
#: Nesting depth. Real configuration nests fewer than 10 levels; a limit far below Python's
#: recursion limit keeps every later recursive walk (schemas, scans) safe.
MAX_DEPTH = 64

_PLAIN_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MERGE_TAG = "tag:yaml.org,2002:merge"
#: What PyYAML raises for a standard tag with a value it cannot read (`!!int ten`, `!!float`).
_CONSTRUCT_ERRORS = (yaml.YAMLError, ValueError, OverflowError, LookupError, AttributeError, TypeError)


@attrs.frozen
class Document:
    """A loaded YAML file: its data as plain Python values plus where each path stands."""

    file: str
    data: Any
    positions: dict[DocPath, Position]
    text: str = ""
    #: The real file behind the document, when it was read from disk.
    source: str | None = None

    def report(self) -> Report:
        """A fresh :class:`Report` that locates paths in this document."""
        return Report(self.file, self.positions)


class _Limit(Exception):
    """A document too large or too deep to load; ``position`` when one node is at fault."""

    def __init__(self, message: str, position: Position | None = None):
        super().__init__(message)
        self.position = position


def load_file(path: str | Path, display: str | None = None) -> Document:
    """Read and load one YAML file; raise :class:`FloeError` for anything unreadable or unsafe."""
    name = display or str(path)
    try:
        raw = read_regular(path, MAX_BYTES + 1)
    except NotRegular as exc:
        raise FloeError(f"{name}: {exc.strerror}") from None
    except OSError as exc:
        problem = file_problem(path)
        if problem == "not found":
            raise FloeError(f"{name}: file not found") from None
        raise FloeError(f"{name}: {problem or 'cannot be read: ' + (exc.strerror or str(exc))}") from None
    doc = load_bytes(raw, name)
    return attrs.evolve(doc, source=str(path))


def load_bytes(raw: bytes, file: str) -> Document:
    """Load YAML text (bytes) named ``file`` in messages."""
    if len(raw) > MAX_BYTES:
        raise FloeError(f"{file}: file is larger than {MAX_BYTES // 1024} KiB; floe config files are small, "
                        "is this the right file?")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise FloeError(f"{file}: not UTF-8 text (byte {exc.start}); save the file as UTF-8") from None
    return load_text(text, file)


def load_text(text: str, file: str) -> Document:
    """Load YAML ``text``; ``file`` names it in messages."""
    report = Report(file)
    try:
        loader = yaml.SafeLoader(text)
    except yaml.reader.ReaderError as exc:
        _reader_error(exc, text, report)
        raise FloeError(report.items) from None
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        problem = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
        report.positions[()] = (line, col)
        report.error((), f"invalid YAML: {problem}")
        raise FloeError(report.items) from None
    except yaml.reader.ReaderError as exc:
        _reader_error(exc, text, report)
        raise FloeError(report.items) from None
    except yaml.YAMLError as exc:
        raise FloeError(f"{file}: invalid YAML: {exc}") from None
    except RecursionError:
        raise FloeError(f"{file}: YAML is nested too deeply") from None
    finally:
        loader.dispose()
    if node is None:
        raise FloeError(f"{file}: file is empty; expected a YAML mapping")
    builder = _Builder(report, loader)
    try:
        data = builder.build(node, ())
    except _Limit as exc:
        where = f"{file}:{exc.position[0]}:{exc.position[1]}" if exc.position else file
        raise FloeError(f"{where}: {exc}") from None
    except RecursionError:
        raise FloeError(f"{file}: YAML is nested too deeply (or an alias refers to itself)") from None
    report.raise_if_errors()
    return Document(file, data, report.positions, text)


def _reader_error(exc: "yaml.reader.ReaderError", text: str, report: Report) -> None:
    before = text[: exc.position]
    line = before.count("\n") + 1
    col = exc.position - (before.rfind("\n") + 1) + 1
    report.positions[()] = (line, col)
    char = exc.character if isinstance(exc.character, int) else ord(exc.character)
    report.error((), f"invalid YAML: control character {char:#06x} is not allowed; remove it")


class _Builder:
    """Turns a composed node graph into plain values, checking tags, keys and size."""

    def __init__(self, report: Report, loader: yaml.SafeLoader):
        self.report = report
        self.loader = loader
        self.count = 0

    def build(self, node: yaml.Node, path: DocPath) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise _Limit(f"document expands to more than {MAX_NODES} values (an alias bomb?); "
                         "refusing to load it")
        if len(path) > MAX_DEPTH:
            raise _Limit(f"{_dotted_short(path)}: nested more than {MAX_DEPTH} levels deep; "
                         "floe configuration is never that deep, is this the right file?",
                         _mark(node))
        self.report.positions.setdefault(path, _mark(node))
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                return self._bad_tag(node, path)
            return self._mapping(node, path)
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                return self._bad_tag(node, path)
            return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
        if node.tag not in _PLAIN_TAGS:
            return self._bad_tag(node, path)
        try:
            value = self.loader.construct_object(node, deep=True)
        except _CONSTRUCT_ERRORS:
            # PyYAML's own messages for `!!int ten` are obscure (or raw IndexErrors).
            self.report.error(path, f"'{node.value}' is not a valid {_tag_name(node.tag)}; remove "
                              "the tag or fix the value")
            return None
        if isinstance(value, (datetime.date, datetime.datetime)):
            # Timestamps stay text: configuration compares and hashes them as written.
            return node.value
        return value

    def _bad_tag(self, node: yaml.Node, path: DocPath) -> None:
        self.report.positions[path] = _mark(node)
        self.report.error(path, f"YAML tag '{node.tag}' is not allowed; floe reads plain YAML only "
                                "(remove the tag)")
        return None

    def _mapping(self, node: yaml.MappingNode, path: DocPath, merged: bool = False) -> dict:
        out: dict = {}
        seen: dict = {}
        explicit = [(k, v) for k, v in node.value if k.tag != _MERGE_TAG]
        merges = [v for k, v in node.value if k.tag == _MERGE_TAG]
        for key_node, value_node in explicit:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag not in _PLAIN_TAGS:
                self.report.positions[path + ("<key>",)] = _mark(key_node)
                self.report.error(path + ("<key>",), "mapping keys must be plain scalars")
                continue
            try:
                key = self.loader.construct_object(key_node)
            except _CONSTRUCT_ERRORS:
                self.report.positions[path + ("<key>",)] = _mark(key_node)
                self.report.error(path + ("<key>",), f"key '{key_node.value}' is not a valid "
                                  f"{_tag_name(key_node.tag)}; remove the tag or fix the key")
                continue
            if isinstance(key, (datetime.date, float)) or key is None:
                key = key_node.value
            if key in seen:
                first = seen[key]
                self.report.positions[path + (key,)] = _mark(key_node)
                self.report.error(path + (key,), f"duplicate key '{key}' (first defined at line {first[0]}); "
                                                 "remove one of them")
                continue
            seen[key] = _mark(key_node)
            if merged:
                # A key taken from a merged mapping is located there, unless written explicitly.
                self.report.positions.setdefault(path + (key,), _mark(key_node))
            else:
                self.report.positions[path + (key,)] = _mark(key_node)
            out[key] = self.build(value_node, path + (key,))
        # YAML merge keys (<<: *defaults): explicit keys win, earlier merges win over later ones.
        for merge_node in merges:
            sources = merge_node.value if isinstance(merge_node, yaml.SequenceNode) else [merge_node]
            for source in sources:
                if not isinstance(source, yaml.MappingNode):
                    self.report.positions[path + ("<<",)] = _mark(source)
                    self.report.error(path + ("<<",), "a merge key (<<) must refer to a mapping")
                    continue
                values = self._mapping(source, path, merged=True)
                for key, value in values.items():
                    out.setdefault(key, value)
        return out


def _tag_name(tag: str) -> str:
    return tag.replace("tag:yaml.org,2002:", "!!")


def _dotted_short(path: DocPath) -> str:
    from floe.diagnostics import dotted

    text = dotted(path[:4])
    return text + "..." if len(path) > 4 else text


def _mark(node: yaml.Node) -> Position:
    mark = node.start_mark
    return (mark.line + 1, mark.column + 1)
