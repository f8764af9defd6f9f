"""Scan a floe.yaml for secret-looking strings with Yelp's detect-secrets.

detect-secrets costs ~0.2 s to import (it pulls in ``requests`` for secret verification), which
is most of ``floe validate``'s budget. Results are therefore cached per file content under
``.floe/cache/`` beside the file: the same bytes are never scanned twice, like mypy's cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from floe.diagnostics import DocPath
from floe.yamlsafe import Document

_CACHE_VERSION = "1"


def scan_document(doc: Document) -> list[tuple[DocPath, str]]:
    """Return ``(document path, secret type)`` for every secret-like string in ``doc``."""
    hits = _scan_cached(doc)
    return [(_path_at_line(doc, line), kind) for line, kind in hits]


def _scan_cached(doc: Document) -> list[tuple[int, str]]:
    digest = hashlib.sha256(doc.text.encode()).hexdigest()
    cache_file = _cache_dir(doc) / f"secretscan-{_CACHE_VERSION}-{digest[:32]}.json" if doc.source else None
    if cache_file is not None:
        try:
            return [tuple(hit) for hit in json.loads(cache_file.read_text())]
        except (OSError, ValueError):
            pass
    hits = _scan_text(doc.text)
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(hits))
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only checkout still validates, just without the cache
    return hits


def _cache_dir(doc: Document) -> Path:
    # Beside the file as the user named it (a symlinked floe.yaml keeps its state at the link).
    return Path(os.path.abspath(doc.source)).parent / ".floe" / "cache"


def _scan_text(text: str) -> list[tuple[int, str]]:
    from detect_secrets import SecretsCollection
    from detect_secrets.settings import default_settings

    # scan_file applies the entropy limits and YAML transformer that scan_line skips, so the
    # text goes through a temporary .yaml file.
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "floe.yaml")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(text)
        with default_settings():
            collection = SecretsCollection()
            collection.scan_file(path)
        found = {(secret.line_number, secret.type) for secrets in collection.data.values()
                 for secret in secrets}
    return sorted(found)


def _path_at_line(doc: Document, line: int) -> DocPath:
    on_line = [p for p, (ln, _) in doc.positions.items() if ln == line]
    if on_line:
        return max(on_line, key=len)
    before = [(pos, p) for p, pos in doc.positions.items() if pos[0] <= line]
    return max(before)[1] if before else ()
