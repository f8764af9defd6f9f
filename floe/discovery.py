"""Finding the files a command works on: the product's floe.yaml and the platform it uses.

Platform discovery order (SPEC §3): ``--platform PATH|oci://REF``, else floe.yaml's
``platform.ref``, else ``$FLOE_PLATFORM_FILE``, else ``platform/<env>/platform.yaml`` (or
``manifest.yaml``) beside floe.yaml, where ``<env>`` is ``--env``, else ``$FLOE_ENV``, else
``local``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from floe.diagnostics import FloeError
from floe.filekinds import file_problem

DEFAULT_ENV = "local"
PLATFORM_FILE_NAMES = ("platform.yaml", "manifest.yaml")


@attrs.frozen
class PlatformLocation:
    """Where the platform came from, and how it was chosen (for messages)."""

    path: Path
    #: As the user would recognise it: relative to the product when possible.
    display: str
    how: str
    #: For an ``oci://`` reference: the verified release (a :class:`floe.releases.pull.PulledRelease`).
    release: Any = None


def product_file(path: str | os.PathLike | None) -> Path:
    """The floe.yaml to use: ``path`` (a file or a directory holding one), else ``./floe.yaml``."""
    candidate = Path(path) if path else Path("floe.yaml")
    if candidate.is_dir():
        candidate = candidate / "floe.yaml"
    problem = file_problem(candidate)
    if problem == "not found":
        raise FloeError(f"{candidate}: no floe.yaml here; run `floe init` to create a product, or "
                        "pass the file with --file")
    if problem is not None:
        raise FloeError(f"{candidate}: {problem}")
    return candidate


def product_dir(floe_yaml: str | os.PathLike) -> Path:
    """The product's directory: the folder holding floe.yaml as the user named it.

    A symbolic link is not followed: compile reads the dbt project and the platform relative to
    the folder the link stands in, so ``.floe/`` belongs there too.
    """
    return Path(os.path.abspath(floe_yaml)).parent


def environment(env: str | None) -> str:
    """The environment name: ``--env``, else ``$FLOE_ENV``, else ``local``."""
    return env or os.environ.get("FLOE_ENV") or DEFAULT_ENV


def locate_platform(product_dir: Path, explicit: str | None, pinned: str | None,
                    env: str | None, update: bool = False, public_key: Any = None) -> PlatformLocation:
    """Apply the discovery order; raise :class:`FloeError` saying what was tried.

    An ``oci://`` reference is pulled (or read from the verified cache) with its tag locked in
    ``floe.lock`` beside floe.yaml; ``update`` resolves the tag again and moves the lock;
    with ``public_key`` the release must be signed by it. A platform file on disk cannot be
    verified, so requiring a signature refuses one.
    """
    for ref, base, how in ((explicit, Path.cwd(), "--platform"),
                           (pinned, product_dir, "floe.yaml platform.ref"),
                           (os.environ.get("FLOE_PLATFORM_FILE"), Path.cwd(), "$FLOE_PLATFORM_FILE")):
        if ref and ref.startswith("oci://"):
            return _from_registry(ref, product_dir, how, update, public_key)
        if ref:
            _unsigned(public_key, ref)
            return _from_ref(ref, base, how)
    _unsigned(public_key, "platform/<env>/platform.yaml")
    name = environment(env)
    tried = []
    for file_name in PLATFORM_FILE_NAMES:
        candidate = product_dir / "platform" / name / file_name
        tried.append(candidate)
        problem = file_problem(candidate)
        if problem is None:
            return PlatformLocation(candidate, display_path(candidate), f"environment '{name}'")
        if problem != "not found":
            raise FloeError(f"{display_path(candidate)}: {problem} (the platform file of "
                            f"environment '{name}')")
    envs = sorted(p.name for p in (product_dir / "platform").glob("*") if p.is_dir())
    hint = f"; environments here: {', '.join(envs)} (choose with --env)" if envs else ""
    raise FloeError(f"no platform file found for environment '{name}' (looked for "
                    f"{' and '.join(display_path(t) for t in tried)}){hint}. Pass --platform PATH, set "
                    "platform.ref in floe.yaml, or set FLOE_PLATFORM_FILE")


def _unsigned(public_key: Any, what: str) -> None:
    if public_key is not None:
        raise FloeError(f"floe.yaml platform.verify requires a signed platform release, but the platform is "
                        f"the file {what}; name a release (oci://...) or remove platform.verify")


def _from_registry(ref: str, product_dir: Path, how: str, update: bool, public_key: Any) -> PlatformLocation:
    from floe.releases.pull import pull

    release = pull(ref, product_dir, update=update, what=how, public_key=public_key)
    return PlatformLocation(release.platform_path, release.ref, how, release)


def _from_ref(ref: str, base: Path, how: str) -> PlatformLocation:
    path = Path(ref)
    if not path.is_absolute():
        path = base / path
    if path.is_dir():
        for file_name in PLATFORM_FILE_NAMES:
            if (path / file_name).is_file():
                path = path / file_name
                break
    problem = file_problem(path)
    if problem == "not found" or (problem and path.is_dir()):
        raise FloeError(f"{how}: platform file '{ref}' not found"
                        + (f" (it is a directory without {' or '.join(PLATFORM_FILE_NAMES)})"
                           if path.is_dir() else ""))
    if problem is not None:
        raise FloeError(f"{how}: platform file '{ref}' {problem}")
    return PlatformLocation(path, display_path(path), how)


def display_path(path: str | os.PathLike) -> str:
    """A path as messages show it: relative to the current directory when possible."""
    try:
        return os.path.normpath(os.path.relpath(path))
    except ValueError:  # another drive on Windows
        return str(path)
