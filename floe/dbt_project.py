"""A dbt project as dbt itself sees it: models, folders, tests, descriptions and column meta.

floe never imports dbt (SPEC §9). It runs ``dbt parse`` in a child process — the ``dbt``
executable installed beside the running interpreter — and reads the ``manifest.json`` dbt
writes, with the json module only, into a few small records. Everything dbt writes goes under
the product's ``.floe/dbt/<transform>/`` (profiles.yml, target/, logs/), never into the dbt
project itself.

A parse costs seconds, so the manifest is reused while its *fingerprint* still matches: a hash
of dbt_project.yml, the package files, every file under the project's model, seed, snapshot,
macro, test, analysis and docs paths, the dbt profile and target, the vars, and the versions of
dbt-core and the adapter. Like dbt's own partial-parse check, the fingerprint leaves out what
cannot change a parse: ``threads`` and the engine ``settings`` (memory limits and the like).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path, PurePosixPath
from typing import Any, Iterator

import attrs

from floe.artifacts import write_atomic
from floe.diagnostics import Diagnostic, FloeError

#: Bump when the records or the fingerprint's inputs change, so old caches are not trusted.
CACHE_FORMAT = "1"
#: Where a transform's dbt files live, relative to the product directory.
CACHE_DIR = PurePosixPath(".floe") / "dbt"
#: Profile keys that tune execution and cannot change what dbt parses.
_RUN_ONLY_KEYS = ("threads", "settings")
#: dbt_project.yml keys naming the folders whose files dbt parses, with dbt's defaults.
_PROJECT_PATHS = {"model-paths": ["models"], "seed-paths": ["seeds"],
                  "snapshot-paths": ["snapshots"], "macro-paths": ["macros"],
                  "test-paths": ["tests"], "analysis-paths": ["analyses"], "docs-paths": []}
_PROJECT_FILES = ("dbt_project.yml", "packages.yml", "dependencies.yml", "package-lock.yml",
                  "selectors.yml")
#: Folders dbt writes into or installs into; never part of the project's own sources.
_NOT_SOURCES = {"target", "logs", "dbt_packages", "dbt_modules", ".floe"}
_TIMESTAMP = re.compile(r"^\d\d:\d\d:\d\d(\.\d+)?\s+")


@attrs.frozen
class DbtColumn:
    """A column the project documents in YAML: its description and ``meta``."""

    name: str
    description: str
    meta: dict[str, Any]


@attrs.frozen
class DbtModel:
    """One model of the root project, as dbt parsed it."""

    unique_id: str
    name: str
    alias: str
    #: Relative to the dbt project: ``models/staging/stg_payments.sql``.
    original_file_path: str
    #: The folders between the model path and the file: ``("staging",)``.
    folders: tuple[str, ...]
    fqn: tuple[str, ...]
    resource_type: str
    materialized: str
    description: str
    columns: tuple[DbtColumn, ...]
    meta: dict[str, Any]
    #: unique_ids of the data tests (generic and singular) that test this model.
    tests: tuple[str, ...]


@attrs.frozen
class DbtNode:
    """A node of the project's graph, of any package: a source, seed, snapshot or model.

    ``name`` is a source's ``source_name.table``; ``unique_key`` is an incremental model's key
    (empty otherwise); ``depends_on`` lists the unique_ids it reads.
    """

    unique_id: str
    name: str
    resource_type: str
    fqn: tuple[str, ...]
    materialized: str | None
    unique_key: tuple[str, ...]
    depends_on: tuple[str, ...]


@attrs.frozen
class DbtProjectModels:
    """The models of a dbt project's root package (installed packages are not the product's),
    and the graph of every source, seed, snapshot and model dbt builds from it."""

    name: str
    models: tuple[DbtModel, ...]
    graph: tuple[DbtNode, ...] = ()


@attrs.frozen
class LoadedProject:
    """A project read from its manifest, and whether dbt had to parse it this time."""

    project: DbtProjectModels
    manifest: Path
    fingerprint: str
    parsed: bool
    parse_seconds: float


# -- reading a manifest ---------------------------------------------------------------------


def read_manifest(path: str | os.PathLike) -> DbtProjectModels:
    """Turn dbt's ``manifest.json`` into records: the root project's enabled models."""
    with open(path, "rb") as fh:
        manifest = json.load(fh)
    return project_from_manifest(manifest)


def project_from_manifest(manifest: dict[str, Any]) -> DbtProjectModels:
    """:func:`read_manifest` on an already loaded manifest."""
    project = manifest.get("metadata", {}).get("project_name") or ""
    nodes: dict[str, Any] = manifest.get("nodes", {})
    tests: dict[str, list[str]] = {}
    for unique_id, node in nodes.items():
        if node.get("resource_type") != "test":
            continue
        # A generic test names the node it is attached to; a singular test (tests/*.sql)
        # tests every model it refs.
        attached = node.get("attached_node")
        targets = [attached] if attached else node.get("depends_on", {}).get("nodes", [])
        for target in targets:
            tests.setdefault(target, []).append(unique_id)
    models = []
    for unique_id, node in nodes.items():
        if node.get("resource_type") != "model" or node.get("package_name") != project:
            continue
        config = node.get("config") or {}
        columns = tuple(
            DbtColumn(name=str(column.get("name", key)),
                      description=column.get("description") or "",
                      meta={**(column.get("meta") or {}),
                            **((column.get("config") or {}).get("meta") or {})})
            for key, column in (node.get("columns") or {}).items())
        models.append(DbtModel(
            unique_id=unique_id,
            name=node["name"],
            alias=node.get("alias") or node["name"],
            original_file_path=node.get("original_file_path", ""),
            folders=PurePosixPath(node.get("path", "")).parent.parts,
            fqn=tuple(node.get("fqn", ())),
            resource_type="model",
            materialized=config.get("materialized") or "view",
            description=node.get("description") or "",
            columns=columns,
            meta={**(node.get("meta") or {}), **(config.get("meta") or {})},
            tests=tuple(sorted(tests.get(unique_id, ()))),
        ))
    models.sort(key=lambda m: m.unique_id)
    return DbtProjectModels(name=project, models=tuple(models), graph=_graph(manifest))


#: Node kinds that are part of what a run builds (tests are checks on them).
GRAPH_NODES = ("seed", "snapshot", "model")


def _graph(manifest: dict[str, Any]) -> tuple[DbtNode, ...]:
    out = [DbtNode(unique_id=unique_id, name=f"{source['source_name']}.{source['name']}",
                   resource_type="source", fqn=tuple(source.get("fqn", ())), materialized=None,
                   unique_key=(), depends_on=())
           for unique_id, source in manifest.get("sources", {}).items()]
    for unique_id, node in manifest.get("nodes", {}).items():
        if node.get("resource_type") not in GRAPH_NODES:
            continue
        config = node.get("config") or {}
        key = config.get("unique_key")
        out.append(DbtNode(unique_id=unique_id, name=node["name"], resource_type=node["resource_type"],
                           fqn=tuple(node.get("fqn", ())), materialized=config.get("materialized"),
                           unique_key=(key,) if isinstance(key, str) else tuple(key or ()),
                           depends_on=tuple((node.get("depends_on") or {}).get("nodes", ()))))
    return tuple(sorted(out, key=lambda n: n.unique_id))


# -- parsing with dbt, cached ---------------------------------------------------------------


def load_project(product_dir: Path, project_dir: str, transform: str, profile_name: str,
                 target: str, output: dict[str, Any], vars: dict[str, Any] | None = None,
                 display: str | None = None) -> LoadedProject:
    """The project's models, from the cached manifest when it is fresh, else from ``dbt parse``.

    :param product_dir: the directory of floe.yaml; the cache lives in its ``.floe/dbt/``.
    :param project_dir: the dbt project, relative to the product.
    :param transform: the transform's name (one cache per transform).
    :param profile_name: the dbt profile floe compiled for the product.
    :param target: the target of that profile to parse with.
    :param output: the compiled dbt target (CompiledArtifacts.dbt.profiles ... outputs).
    :param display: how to name the project in messages (default: ``project_dir``).
    :raises FloeError: when dbt is missing or the parse fails, with dbt's own message.
    """
    project = product_dir / project_dir
    cache = product_dir / CACHE_DIR / transform
    manifest = cache / "target" / "manifest.json"
    stamp = cache / "fingerprint"
    digest = fingerprint(project, profile_name, target, output, vars or {})
    if manifest.is_file() and _read(stamp) == digest:
        try:
            _follow_move(manifest, project)
            return LoadedProject(read_manifest(manifest), manifest, digest, False, 0.0)
        except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
            pass  # a damaged cache is parsed again, never trusted
    # Forget the old fingerprint first: a parse that dies half-way must not leave a stale pair.
    stamp.unlink(missing_ok=True)
    seconds = run_parse(product_dir, project_dir, cache, profile_name, target, output, vars or {},
                        display or project_dir)
    try:
        loaded = read_manifest(manifest)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
        raise FloeError(f"{display or project_dir}: dbt parse wrote no readable manifest.json "
                        f"({exc}); see {cache / 'logs' / 'dbt.log'}") from None
    write_atomic(stamp, digest + "\n")
    return LoadedProject(loaded, manifest, digest, True, seconds)


def fresh_manifest(product_dir: Path, project_dir: str, transform: str, profile_name: str,
                   target: str, output: dict[str, Any], vars: dict[str, Any] | None = None) -> Path:
    """The path of the transform's cached ``manifest.json``, without reading it.

    Run time reads the manifest once itself; this only checks the cache's fingerprint and, when
    the project changed since compile, parses it again (as :func:`load_project` does).
    """
    cache = product_dir / CACHE_DIR / transform
    manifest = cache / "target" / "manifest.json"
    if manifest.is_file() and _read(cache / "fingerprint") == fingerprint(
            product_dir / project_dir, profile_name, target, output, vars or {}):
        return manifest
    return load_project(product_dir, project_dir, transform, profile_name, target, output, vars).manifest


_ROOT_PATH = re.compile(r'"root_path":\s*"((?:[^"\\]|\\.)*)"')


def follow_move(data: dict[str, Any], project: Path) -> None:
    """Point a loaded manifest's nodes at ``project`` where it now is (in memory only).

    dbt records the project's absolute path in some nodes (``root_path`` of seeds); a product
    that was copied, moved or packaged into an image builds from a manifest parsed elsewhere,
    whose file may be read-only there.
    """
    here = str(project.resolve())
    for node in data.get("nodes", {}).values():
        if isinstance(node, dict) and isinstance(node.get("root_path"), str) and node["root_path"] != here:
            node["root_path"] = here


def _follow_move(manifest: Path, project: Path) -> None:
    """Point the cached manifest at ``project`` where it now is.

    The fingerprint covers what the project contains, not where it lies; but dbt records the
    project's absolute path in some nodes (``root_path`` of seeds), and a build from a manifest
    parsed before the product was copied or moved would read those files at the old place.
    """
    text = manifest.read_text(encoding="utf-8")
    here = str(project.resolve())
    # Parsing a large manifest costs more than scanning it: parse only when a path is stale.
    if all(json.loads(f'"{found}"') == here for found in _ROOT_PATH.findall(text)):
        return
    data = json.loads(text)
    follow_move(data, project)
    write_atomic(manifest, json.dumps(data))


def dbt_executable() -> Path:
    """The ``dbt`` installed with floe (beside the interpreter), else the first one on PATH."""
    beside = Path(sys.executable).parent / ("dbt.exe" if os.name == "nt" else "dbt")
    if beside.is_file():
        return beside
    found = shutil.which("dbt")
    if found:
        return Path(found)
    raise FloeError("floe compile reads the dbt project with `dbt parse`, but dbt is not installed "
                    f"beside {sys.executable} nor on PATH: pip install the platform's compute "
                    "plugin (floe-plugin-compute-<type>), which brings dbt and its adapter")


def run_parse(product_dir: Path, project_dir: str, cache: Path, profile_name: str, target: str,
              output: dict[str, Any], vars: dict[str, Any], display: str) -> float:
    """Run ``dbt parse`` writing only under ``cache``; return the seconds it took."""
    dbt = dbt_executable()
    cache.mkdir(parents=True, exist_ok=True)
    # JSON is YAML: the profile floe compiled, without its secret references.
    profiles = {profile_name: {"target": target, "outputs": {target: _parse_target(output)}}}
    write_atomic(cache / "profiles.yml", json.dumps(profiles, indent=2, sort_keys=True) + "\n")
    command = [str(dbt), "parse", "--quiet", "--no-use-colors",
               "--project-dir", str((product_dir / project_dir).resolve()),
               "--profiles-dir", str(cache.resolve()), "--profile", profile_name,
               "--target", target, "--target-path", str((cache / "target").resolve()),
               "--log-path", str((cache / "logs").resolve())]
    if vars:
        command += ["--vars", json.dumps(vars, sort_keys=True)]
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    start = time.perf_counter()
    proc = subprocess.run(command, cwd=product_dir, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        lines = [_TIMESTAMP.sub("", line.rstrip()) for line in
                 (proc.stdout.strip() or proc.stderr.strip()).splitlines() if line.strip()]
        header = Diagnostic(f"{display.rstrip('/')}/dbt_project.yml", 0, 0, "dbt parse",
                            f"dbt could not parse the project (exit {proc.returncode}); dbt says:")
        raise FloeError([header] + [Diagnostic("", 0, 0, "", "  " + line) for line in lines[-40:]])
    return seconds


def _parse_target(output: dict[str, Any]) -> dict[str, Any]:
    """The target as ``dbt parse`` gets it: secret references replaced by a placeholder.

    Compile never reads a secret, and parsing needs none: dbt checks only that each credential
    is a string. Relative paths in the target (a database file) already resolve against the
    product directory, which is dbt's working directory.
    """
    return _without_secrets(output)


def _without_secrets(value: Any) -> Any:
    if isinstance(value, dict):
        if set(value) <= {"secret_ref", "key"} and "secret_ref" in value:
            return "floe-compile-reads-no-secret"
        return {key: _without_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_secrets(item) for item in value]
    return value


# -- fingerprint ----------------------------------------------------------------------------


def fingerprint(project: Path, profile_name: str, target: str, output: dict[str, Any],
                vars: dict[str, Any]) -> str:
    """A digest of everything a dbt parse of ``project`` depends on (see the module docstring)."""
    digest = hashlib.sha256()

    def feed(label: str, data: bytes) -> None:
        digest.update(f"{label}\0{len(data)}\0".encode())
        digest.update(data)

    settings = {key: value for key, value in output.items() if key not in _RUN_ONLY_KEYS}
    feed("floe", json.dumps({"format": CACHE_FORMAT, "profile": profile_name, "target": target,
                             "output": settings, "vars": vars, "versions": _dbt_versions(output)},
                            sort_keys=True, default=str).encode())
    for relative, path in _source_files(project):
        try:
            feed(relative, path.read_bytes())
        except OSError:
            feed(relative, b"\0unreadable")
    return "sha256:" + digest.hexdigest()


def _dbt_versions(output: dict[str, Any]) -> dict[str, str]:
    from importlib import metadata

    out = {}
    for dist in ("dbt-core", f"dbt-{output.get('type', '')}"):
        try:
            out[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            out[dist] = "-"
    return out


def _source_files(project: Path) -> list[tuple[str, Path]]:
    files: dict[str, Path] = {}
    for name in _PROJECT_FILES:
        if (project / name).is_file():
            files[name] = project / name
    folders = _project_folders(project)
    if folders is None:  # paths dbt_project.yml computes with Jinja: take every source file
        folders = [p.name for p in project.iterdir() if p.is_dir() and p.name not in _NOT_SOURCES
                   and not p.name.startswith(".")] if project.is_dir() else []
    for folder in folders:
        for path in _walk(project / folder):
            files[path.relative_to(project).as_posix()] = path
    return sorted(files.items())


def _project_folders(project: Path) -> list[str] | None:
    import yaml

    try:
        data = yaml.load((project / "dbt_project.yml").read_text(encoding="utf-8"),
                         Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, yaml.YAMLError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    folders: list[str] = []
    for key, default in _PROJECT_PATHS.items():
        value = data.get(key, default)
        if not isinstance(value, list) or not all(isinstance(v, str) and "{" not in v for v in value):
            return None
        folders += value
    return sorted(set(folders))


def _walk(folder: Path) -> Iterator[Path]:
    if not folder.is_dir():
        return
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _NOT_SOURCES)
        for name in names:
            if not name.startswith("."):
                yield Path(root) / name


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
