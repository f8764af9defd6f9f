"""``floe package``: a product's container image build context.

The context holds everything a code location needs and nothing else: the compiled artifacts, the
dbt project with the manifest ``floe compile`` built (so loading the location never parses dbt),
the Python assets, a lock file of the exact distributions to install, a ``code_location.py``
that serves :class:`FloeDefinitions`, a Dockerfile and a ``.dockerignore``. Files are copied
from an allow-list, never the whole folder: a ``.env``, a ``profiles.yml`` or a key file beside
the product cannot end up in an image layer. Building the image is the user's CI
(``docker build``, ``buildah``, ``kaniko``); nothing here needs a container runtime.
"""

from __future__ import annotations

import shutil
from importlib import metadata
from pathlib import Path, PurePosixPath

import attrs

from floe.artifacts import DEFAULT_PATH, CompiledArtifacts, write_atomic
from floe.dbt_project import CACHE_DIR
from floe.diagnostics import FloeError

#: Where the product lives inside the image (the floe-product chart's location.productDir).
PRODUCT_DIR = "/opt/floe/product"
#: The non-root user the image runs as (the chart's podSecurityContext matches it).
UID = 10001
#: The default base image: an exact Python patch release. Pin it by digest with --base-image.
BASE_IMAGE = "python:3.11.11-slim-bookworm"
#: What dbt writes into a project, and files that hold secrets by convention: never packaged.
_NEVER = {"target", "logs", ".user.yml", "profiles.yml", ".env", ".git", "__pycache__", ".floe"}

DOCKERFILE = """\
# syntax=docker/dockerfile:1
# Written by `floe package` for {name} {version}. Build: docker build -t {image} .
# The base image is an argument; pin it by digest (python:3.11-slim@sha256:...) for builds
# that do not change under you.
ARG BASE_IMAGE={base_image}
FROM ${{BASE_IMAGE}}
ENV PYTHONUNBUFFERED=1 \\
    PIP_DISABLE_PIP_VERSION_CHECK=1 \\
    DAGSTER_DISABLE_TELEMETRY=1 \\
    DBT_SEND_ANONYMOUS_USAGE_STATS=False
RUN groupadd --gid {uid} floe && useradd --uid {uid} --gid {uid} --home-dir /opt/floe --no-create-home --shell /usr/sbin/nologin floe
# Exactly the distributions the product was compiled and tested with; no secret is needed to
# install them (a private index is configured by your CI as a build secret, never an ARG).
COPY requirements.lock /opt/floe/requirements.lock
RUN pip install --no-cache-dir -r /opt/floe/requirements.lock
COPY --chown={uid}:{uid} product/ {product_dir}/
USER {uid}:{uid}
WORKDIR {product_dir}
EXPOSE 4000
CMD ["dagster", "code-server", "start", "--host", "0.0.0.0", "--port", "4000", "--python-file", "{product_dir}/code_location.py", "--working-directory", "{product_dir}"]
"""

DOCKERIGNORE = """\
# Written by `floe package`: the context is already an allow-list; keep it that way.
**/.env
**/*.pem
**/*.key
**/profiles.yml
**/__pycache__
**/target
**/logs
"""

CODE_LOCATION = '''"""Written by `floe package`: the product's Dagster definitions, from its compiled artifacts.

The artifacts and the dbt manifest were built before the image: loading this never parses dbt.
"""

from pathlib import Path

from floe_plugin_orchestrator_dagster import FloeDefinitions

HERE = Path(__file__).resolve().parent
defs = FloeDefinitions.from_compiled_artifacts(HERE / ".floe" / "compiled_artifacts.json", product_dir=HERE)
'''


@attrs.frozen
class Package:
    """What ``floe package`` wrote: the context directory and the files in it (relative)."""

    context: Path
    files: tuple[str, ...]
    image: str | None


def build_context(product_dir: Path, artifacts: CompiledArtifacts, output: Path,
                  image: str | None = None, base_image: str = BASE_IMAGE) -> Package:
    """Write the build context of the product compiled into ``artifacts`` to ``output``.

    :param product_dir: the folder of floe.yaml, freshly compiled (artifacts and dbt manifest).
    :param output: the context directory; replaced as a whole.
    :param image: the image name the context is meant for (recorded in the Dockerfile header).
    :raises FloeError: when a file the product needs is missing (compile first).
    """
    product_dir = product_dir.resolve()
    staging = output.with_name(f".{output.name}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    target = staging / "product"
    try:
        _copy(product_dir / "floe.yaml", target / "floe.yaml")
        _copy(product_dir / DEFAULT_PATH, target / DEFAULT_PATH)
        for transform in artifacts.dbt.transforms:
            _copy_tree(product_dir / transform.project_dir, target / transform.project_dir)
            cache = PurePosixPath(CACHE_DIR) / transform.name
            for name in ("fingerprint", "target/manifest.json"):
                _copy(product_dir / cache / name, target / cache / name,
                      hint="run `floe compile` first: it builds the dbt manifest")
        assets = product_dir / artifacts.python_assets.path
        if assets.is_dir():
            _copy_tree(assets, target / artifacts.python_assets.path)
        # Modules floe.yaml names are imported relative to the product: their top-level package
        # (or module file) goes with it.
        for module in artifacts.python_assets.modules:
            top = module.split(".")[0]
            if (product_dir / top).is_dir():
                _copy_tree(product_dir / top, target / top)
            else:
                _copy(product_dir / f"{top}.py", target / f"{top}.py",
                      hint=f"assets.modules names '{module}', which is not in the product")
        write_atomic(target / "code_location.py", CODE_LOCATION)
        write_atomic(staging / "requirements.lock", _lock(product_dir))
        write_atomic(staging / "Dockerfile", DOCKERFILE.format(
            name=artifacts.product.name, version=artifacts.product.version,
            image=image or f"{artifacts.product.name}:{artifacts.product.version}",
            base_image=base_image, uid=UID, product_dir=PRODUCT_DIR))
        write_atomic(staging / ".dockerignore", DOCKERIGNORE)
        if output.exists():
            shutil.rmtree(output)
        staging.rename(output)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = tuple(sorted(p.relative_to(output).as_posix() for p in output.rglob("*") if p.is_file()))
    return Package(output, files, image)


def _copy(source: Path, dest: Path, hint: str = "run `floe compile` first") -> None:
    if not source.is_file():
        raise FloeError(f"{source}: missing, the image needs it; {hint}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, dest)


def _copy_tree(source: Path, dest: Path) -> None:
    def ignore(folder: str, names: list[str]) -> set[str]:
        return {n for n in names if n in _NEVER or n.endswith((".pem", ".key", ".pyc"))}

    if not source.is_dir():
        raise FloeError(f"{source}: missing; the product's floe.yaml names it")
    shutil.copytree(source, dest, ignore=ignore, symlinks=False)


def _lock(product_dir: Path) -> str:
    """The product's own ``requirements.lock`` if it has one, else this environment pinned."""
    own = product_dir / "requirements.lock"
    if own.is_file():
        return own.read_text(encoding="utf-8")
    pins = sorted({f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()
                   if d.metadata["Name"] and d.metadata["Name"].lower() not in {"pip", "setuptools", "wheel"}},
                  key=str.lower)
    return ("# Written by `floe package`: the distributions floe compiled this product with.\n"
            + "\n".join(pins) + "\n")
