"""Shared fixtures for floe's core tests."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings

from floe.cli import cli

ROOT = Path(__file__).resolve().parent.parent

# Hypothesis profiles: the default keeps each property test's own size (what CI runs);
# FLOE_HYPOTHESIS_PROFILE=deep runs the malformed-input properties at 10,000+ examples each.
settings.register_profile("deep", max_examples=10_000, deadline=None)
settings.load_profile(os.environ.get("FLOE_HYPOTHESIS_PROFILE", "default"))


def _scaffold_example() -> Path:
    """The product `floe init` creates, written once per test session (read-only use)."""
    from floe.init import scaffold

    target = Path(tempfile.mkdtemp(prefix="floe-example-")) / "customer-analytics"
    scaffold(target)
    atexit.register(shutil.rmtree, target.parent, ignore_errors=True)
    return target


#: The scaffolded example product; copy it (fixture ``demo``) before changing anything.
EXAMPLE = _scaffold_example()
FIXTURES = Path(__file__).resolve().parent / "fixtures"
#: The seed examples beside the checkout (present in CI and developers' machines, not in a
#: user's clone; tests that need them skip only when it is absent outside CI).
SEED_EXAMPLES = ROOT.parent / "shared" / "examples" / "seed"


_DBT_CACHES: dict[Path, Path | None] = {}


def prime_dbt_cache(template: Path, copy: Path, **compile_options) -> None:
    """Give ``copy`` (a copy of the product ``template``) the dbt manifest cache of the template.

    ``floe compile`` runs ``dbt parse`` (~5 s here) unless ``.floe/dbt/`` holds a manifest whose
    fingerprint still matches; the fingerprint covers file contents, not locations, so every
    copy of a template reuses one parse per test session.
    """
    if template not in _DBT_CACHES:
        from floe.compiler import compile_product
        from floe.diagnostics import FloeError

        work = Path(tempfile.mkdtemp(prefix="floe-dbt-cache-")) / template.name
        atexit.register(shutil.rmtree, work.parent, ignore_errors=True)
        shutil.copytree(template, work, ignore=shutil.ignore_patterns(".floe", "target", "logs"))
        try:
            compile_product(work / "floe.yaml", write=False, **compile_options)
        except FloeError:
            pass  # enforcement may fail; the parse before it is what is cached
        cache = work / ".floe" / "dbt"
        _DBT_CACHES[template] = cache if cache.is_dir() else None
    cache = _DBT_CACHES[template]
    if cache is not None:
        shutil.copytree(cache, copy / ".floe" / "dbt", dirs_exist_ok=True)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    """A private copy of the scaffolded example product (with its parsed dbt manifest)."""
    target = tmp_path / "demo"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns(".floe", "target", "logs"))
    prime_dbt_cache(EXAMPLE, target)
    return target


@pytest.fixture
def run_cli(monkeypatch: pytest.MonkeyPatch):
    """Invoke the floe CLI in-process: ``run_cli(["validate", path], cwd=...)`` → click Result."""

    def run(args: list[str], cwd: Path | None = None, env: dict | None = None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        return CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)

    return run


def floe_subprocess(args: list[str], cwd: Path, env: dict | None = None,
                    timeout: float = 60) -> subprocess.CompletedProcess:
    """Run the real ``floe`` console entry point in a child process."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "floe", *map(str, args)], cwd=cwd, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(autouse=True)
def _forget_secret_values():
    """Each test starts with no remembered secret values: a value one test resolved must not
    be masked in the messages another test checks (floe.runtime.scrub)."""
    yield
    scrubber = sys.modules.get("floe.runtime.scrub")
    if scrubber is not None:
        scrubber.forget_all()


@pytest.fixture(scope="session")
def moto_iam(tmp_path_factory):
    """moto enforcing IAM authentication, recording requests: one per session (tests/support/moto_iam.py).

    Tests create their own principals with the ``admin`` keys and names of their own.
    """
    from support.moto_iam import moto_iam_server

    with moto_iam_server(tmp_path_factory.mktemp("moto-iam")) as server:
        server.enforce()
        yield server

# -- OCI registries (platform releases) --------------------------------------------------------


@pytest.fixture(scope="session")
def oci_registry():
    """A real docker-registry on 127.0.0.1, no auth, for the whole session."""
    from support.oci_registry import registry_fixture

    yield from registry_fixture()


@pytest.fixture(scope="session")
def oci_auth_registry():
    """A real docker-registry on 127.0.0.1 that requires htpasswd Basic auth (user floe)."""
    from support.oci_registry import registry_fixture

    yield from registry_fixture("floe", "s3cret-registry-pass")


@pytest.fixture(scope="session")
def oci_tls_registry():
    """A real docker-registry on 127.0.0.1 serving HTTPS with a self-signed certificate."""
    from support.oci_registry import registry_fixture

    yield from registry_fixture(tls=True)
