"""The ``floe`` command line.

Exit codes: 0 ok, 1 invalid input or failed enforcement, 2 usage error. Errors go to stderr,
one per line, ``file:line:col`` first; ``--format json`` prints what a machine reads to stdout.
Heavy modules are imported inside the commands that need them.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

import click

from floe import __version__
from floe.diagnostics import Diagnostic, FloeError

FORMAT = click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
                      show_default=True, help="Output for people (text) or machines (json).")
ENV = click.option("--env", "env", metavar="ENV", help="Environment: platform/<ENV>/platform.yaml "
                   "(default $FLOE_ENV, else local).")
PLATFORM = click.option("--platform", "platform", metavar="PATH|oci://REF",
                        help="Platform file (or oci:// release) to use instead of discovering one.")
PRODUCT = click.option("--file", "-f", "product", type=click.Path(path_type=Path), default=None,
                       help="The product's floe.yaml (default ./floe.yaml).")


def _emit(diagnostics: list[Diagnostic]) -> None:
    """Print diagnostics to stderr: grouped by file, in the order they stand in it."""
    files = {name: i for i, name in enumerate(dict.fromkeys(d.file for d in diagnostics))}
    for diagnostic in sorted(diagnostics, key=lambda d: (files[d.file], d.line, d.col)):
        click.echo(_scrubbed(str(diagnostic)), err=True)


def _scrubbed(text: str) -> str:
    """``text`` with every secret value this process resolved masked (see floe.runtime.scrub)."""
    # Only a process that created a secret value has loaded the scrubber (and has values).
    scrubber = sys.modules.get("floe.runtime.scrub")
    return scrubber.scrub(text) if scrubber is not None else text


class _Steps:
    """Progress in the style of ADR-0016 on stderr: ``[1/4] Loading platform ...`` and one
    ``✓``/``!``/``✗`` line per finding under each stage."""

    MARKS = {"ok": "✓", "warn": "!", "fail": "✗"}

    def __init__(self, total: int):
        self.total, self.current = total, 0

    def __call__(self, kind: str, text: str) -> None:
        if kind == "step":
            self.current += 1
            click.echo(f"[{self.current}/{self.total}] {text}", err=True)
        else:
            click.echo(f"      {self.MARKS.get(kind, '-')} {text}", err=True)

    def failed(self) -> None:
        if self.current:
            click.echo(f"[{self.total}/{self.total}] Compilation FAILED", err=True)


def handles_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn floe's errors into exit 1 with one line each; never show a traceback for bad input."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except FloeError as exc:
            _emit(exc.diagnostics)
            sys.exit(1)
        except (click.exceptions.Exit, click.ClickException, SystemExit):
            raise
        except KeyboardInterrupt:
            click.echo("floe: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            # The reader went away (`floe plugins list | head`): stop quietly, as other tools do.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except Exception as exc:  # noqa: BLE001 - a bug in floe or a plugin, not the user's input
            from floe.environment_errors import environment_problem

            problem = environment_problem(exc)
            if problem is not None:  # the machine's problem (a full disk), not floe's
                click.echo(_scrubbed(f"floe: {problem}"), err=True)
                sys.exit(1)
            if os.environ.get("FLOE_DEBUG"):
                raise
            click.echo(_scrubbed(f"floe: internal error: {type(exc).__name__}: {exc}. This is a bug; set "
                                 "FLOE_DEBUG=1 to see the traceback and please report it."), err=True)
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="floe")
def cli() -> None:
    """floe: compile platform.yaml + floe.yaml into a contract, and run it."""


# -- init -------------------------------------------------------------------------------------


@cli.command()
@click.argument("directory", required=False, default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Product name (default: from the directory name).")
@click.option("--force", is_flag=True, help="Write into a directory that is not empty.")
@handles_errors
def init(directory: Path, name: str | None, force: bool) -> None:
    """Create a product in DIRECTORY that runs on this machine with no server."""
    from floe.init import scaffold

    written = scaffold(directory, name=name, force=force)
    click.echo(f"created {len(written)} files in {directory}")
    click.echo(f"next: cd {directory} && floe run")


# -- validate ---------------------------------------------------------------------------------


@cli.command()
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@FORMAT
@handles_errors
def validate(files: tuple[Path, ...], fmt: str) -> None:
    """Check floe.yaml and platform.yaml FILES (default ./floe.yaml) without compiling."""
    from floe.validate import validate_file

    results = [validate_file(f) for f in (files or (Path("floe.yaml"),))]
    if fmt == "json":
        click.echo(json.dumps({"ok": all(r.ok for r in results), "files": [
            {"file": r.file, "kind": r.kind, "ok": r.ok,
             "diagnostics": [d.to_json() for d in r.diagnostics]} for r in results]}, indent=2))
    else:
        for result in results:
            _emit(result.diagnostics)
            if result.ok:
                click.echo(f"{result.file}: ok ({result.kind})")
    if not all(r.ok for r in results):
        sys.exit(1)


# -- compile ----------------------------------------------------------------------------------


@cli.command("compile")
@PRODUCT
@PLATFORM
@ENV
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the artifacts (default .floe/compiled_artifacts.json).")
@click.option("--update", is_flag=True, help="Resolve an oci:// platform tag again and move floe.lock.")
@FORMAT
@handles_errors
def compile_command(product: Path | None, platform: str | None, env: str | None,
                    output: Path | None, update: bool, fmt: str) -> None:
    """Merge floe.yaml with its platform into .floe/compiled_artifacts.json.

    Reads the dbt project as dbt parses it (``dbt parse`` in a child process, cached under
    .floe/dbt/) and enforces the platform's rules: naming, quality gates, approved plugins.
    """
    import attrs

    from floe.compiler import STEPS, compile_product
    from floe.discovery import product_file

    steps = _Steps(STEPS) if fmt == "text" else None
    try:
        result = compile_product(product_file(product), platform=platform, env=env, output=output,
                                 progress=steps, update=update)
    except FloeError as exc:
        if steps is not None:
            steps.failed()
        if fmt == "json":
            _emit(exc.diagnostics)
            click.echo(json.dumps({
                "ok": False, "path": None,
                "errors": [d.to_json() for d in exc.diagnostics if d.severity == "error"],
                "warnings": [d.to_json() for d in exc.diagnostics if d.severity != "error"],
                "enforcement": [attrs.asdict(r) for r in getattr(exc, "enforcement", [])]}, indent=2))
            sys.exit(1)
        raise
    _emit(result.warnings)
    artifacts = result.artifacts
    if fmt == "json":
        governance = artifacts.governance
        click.echo(json.dumps({"ok": True, "path": str(result.path),
                               "source_hash": artifacts.source_hash,
                               "warnings": [w.to_json() for w in result.warnings], "errors": [],
                               "enforcement": [attrs.asdict(r) for r in governance.enforcement],
                               "quality": attrs.asdict(governance.quality) if governance.quality else None},
                              indent=2))
        return
    from floe.summary import describe_artifacts

    click.echo(describe_artifacts(artifacts, result.platform.display))
    click.echo(f"wrote {result.path}")


# -- run --------------------------------------------------------------------------------------


@cli.command("run")
@PRODUCT
@click.option("--select", "-s", metavar="SELECTOR", help="dbt selection, e.g. 'gold_revenue+'.")
@click.option("--exclude", metavar="SELECTOR", help="dbt exclusion.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models and rewrite their tables.")
@PLATFORM
@ENV
@handles_errors
def run_command(product: Path | None, select: str | None, exclude: str | None, full_refresh: bool,
                platform: str | None, env: str | None) -> None:
    """Build the product for real: dbt on the compute profile, tables published to the catalog."""
    from floe.discovery import product_file
    from floe.runtime.outcome import RunRequest
    from floe.runtime.run import run_product

    request = RunRequest(select=select, exclude=exclude, full_refresh=full_refresh,
                         progress=lambda line: click.echo(_scrubbed(f"  {line}"), err=True))
    click.echo("floe run: compiling, loading dbt and Dagster ...", err=True)
    outcome = run_product(product_file(product), request, env=env, platform=platform)
    if outcome.tables:
        click.echo(f"{'table':<40} {'rows':>10}  snapshot")
        for table in outcome.tables:
            click.echo(f"{table.table:<40} {table.rows:>10}  {table.snapshot_id}")
    if not outcome.success:
        click.echo(_scrubbed(f"floe run failed at {outcome.failed_asset}: {outcome.error}"), err=True)
        sys.exit(1)
    click.echo(f"run {outcome.run_id} succeeded: {len(outcome.tables)} tables written "
               f"in {outcome.seconds:.1f}s")
    if outcome.tables and outcome.commit and outcome.commit != "one catalog commit":
        # Readers could see some of this run's tables before the others.
        click.echo(f"note: the tables were committed with {outcome.commit}", err=True)



@cli.command()
@PRODUCT
@click.option("--host", default=None, help="Interface to listen on (default from the platform: 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port to listen on (default from the platform: 3000).")
@PLATFORM
@ENV
@handles_errors
def dev(product: Path | None, host: str | None, port: int | None, platform: str | None,
        env: str | None) -> None:
    """Open the orchestrator's UI on the product: its assets, schedules and run history."""
    from floe.compiler import compile_product
    from floe.discovery import product_dir, product_file
    from floe.runtime import RunContext

    path = product_file(product)
    artifacts = compile_product(path, platform=platform, env=env).artifacts
    if artifacts.orchestrator is None:
        raise FloeError("no orchestrator plugin is installed: pip install floe-plugin-orchestrator-dagster")
    context = RunContext(artifacts, product_dir(path))
    config = artifacts.orchestrator.config
    server = config.get("webserver", {})
    host = host or server.get("host", "127.0.0.1")
    port = port or server.get("port", 3000)
    click.echo(f"floe dev: serving {artifacts.product.name} on http://{host}:{port} (Ctrl-C to stop)", err=True)
    plugin = context.plugin("orchestrator", artifacts.orchestrator)
    sys.exit(plugin.call("serve", config=config, context=context, host=host, port=port))


# -- diff -------------------------------------------------------------------------------------


@cli.command("diff")
@click.argument("artifacts", nargs=-1, type=click.Path(path_type=Path))
@click.option("--env", "envs", multiple=True, metavar="ENV",
              help="Compile ./floe.yaml for this environment (give two) instead of reading files.")
@click.option("--file", "-f", "product", type=click.Path(path_type=Path), default=None,
              help="The product's floe.yaml, with --env (default ./floe.yaml).")
@FORMAT
@handles_errors
def diff_command(artifacts: tuple[Path, ...], envs: tuple[str, ...], product: Path | None, fmt: str) -> None:
    """Show what differs between two compiled artifacts (files A B, or --env E1 --env E2)."""
    from floe.diff import diff, render

    if len(artifacts) + len(envs) != 2 or (artifacts and envs):
        raise click.UsageError("give two artifact files, or --env twice (e.g. --env local --env staging)")
    if envs:
        from floe.compiler import compile_product
        from floe.discovery import product_file

        path = product_file(product)
        sides = [json.loads(compile_product(path, env=env, write=False).artifacts.to_json()) for env in envs]
        names = [f"--env {env}" for env in envs]
    else:
        from floe.artifacts import CompiledArtifacts

        sides = [json.loads(CompiledArtifacts.read(p).to_json()) for p in artifacts]
        names = [str(p) for p in artifacts]
    changes = diff(*sides)
    if fmt == "json":
        click.echo(json.dumps({section: [{"path": p, "left": a, "right": b} for p, a, b in items]
                               for section, items in changes.items()}, indent=2, default=repr))
        return
    click.echo(render(changes, *names))


# -- plugins ----------------------------------------------------------------------------------


@cli.group()
def plugins() -> None:
    """Inspect installed plugins."""


@plugins.command("list")
@FORMAT
@handles_errors
def plugins_list(fmt: str) -> None:
    """Show every installed plugin: kind, type, distribution and version."""
    from floe.plugins.manager import PluginRegistry

    installed = PluginRegistry().installed()
    if fmt == "json":
        click.echo(json.dumps([p.to_json() for p in installed], indent=2))
        return
    rows = [("KIND", "TYPE", "DISTRIBUTION", "VERSION")]
    rows += [(p.kind, p.type, p.distribution, p.version) for p in installed]
    _echo_table(rows)


def _echo_table(rows: list[tuple[str, ...]]) -> None:
    """Print rows as columns aligned on their widest cell (the last column is not padded)."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        click.echo("  ".join([*(cell.ljust(w) for cell, w in zip(row, widths)), row[-1]]).rstrip())


# -- schema -----------------------------------------------------------------------------------


@cli.group()
def schema() -> None:
    """JSON Schemas for floe's files."""


@schema.command("export")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=Path("schemas"),
              show_default=True, help="Directory to write the schemas into.")
@handles_errors
def schema_export(output: Path) -> None:
    """Write JSON Schemas for floe.yaml, platform.yaml and CompiledArtifacts."""
    from floe.artifacts import write_atomic
    from floe.jsonschema import all_schemas

    for name, document in all_schemas().items():
        path = output / name
        write_atomic(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
        click.echo(f"wrote {path}")


# -- secrets ----------------------------------------------------------------------------------


@cli.group()
def secrets() -> None:
    """Check the secrets a product needs (values are never shown)."""


@secrets.command("check")
@PRODUCT
@PLATFORM
@ENV
@FORMAT
@handles_errors
def secrets_check(product: Path | None, platform: str | None, env: str | None, fmt: str) -> None:
    """Resolve every secret reference of the product through the platform's secret backends.

    Prints each reference, the backend that holds it and ok/missing; exit 1 when any is missing.
    """
    from floe.compiler import compile_product
    from floe.discovery import product_dir, product_file
    from floe.runtime.secrets_check import OK, check_secrets

    path = product_file(product)
    compiled = compile_product(path, platform=platform, env=env, write=False)
    results = check_secrets(compiled.artifacts, product_dir(path))
    ok = all(r.status == OK for r in results)
    if fmt == "json":
        click.echo(json.dumps({"ok": ok, "secrets": [r.to_json() for r in results]}, indent=2))
    elif not results:
        click.echo("no secret references: nothing to check")
    else:
        _echo_table([("SECRET", "BACKEND", "STATUS")]
                    + [(r.label, r.backend or "-", r.status) for r in results])
        for result in results:
            if result.message:
                click.echo(result.message, err=True)
    if not ok:
        sys.exit(1)


# -- platform ---------------------------------------------------------------------------------


@cli.group()
def platform() -> None:
    """Commands for platform engineers."""


def _platform_path(file: Path | None, env: str | None) -> Path:
    from floe.discovery import locate_platform

    if file is not None:
        return file
    return locate_platform(Path.cwd(), None, None, env).path


@platform.command("validate")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@ENV
@FORMAT
@handles_errors
def platform_validate(file: Path | None, env: str | None, fmt: str) -> None:
    """Check a platform.yaml, every profile through the plugin it selects."""
    from floe.validate import validate_file

    result = validate_file(_platform_path(file, env), as_kind="platform")
    if fmt == "json":
        click.echo(json.dumps({"file": result.file, "ok": result.ok,
                               "diagnostics": [d.to_json() for d in result.diagnostics]}, indent=2))
    else:
        _emit(result.diagnostics)
        if result.ok:
            click.echo(f"{result.file}: ok")
    if not result.ok:
        sys.exit(1)


@platform.command("compile")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@ENV
@click.option("--output", "-o", "output", type=click.Path(file_okay=False, path_type=Path),
              help="Also write the release (what `floe platform publish` pushes) into this directory.")
@FORMAT
@handles_errors
def platform_compile(file: Path | None, env: str | None, output: Path | None, fmt: str) -> None:
    """Validate a platform with its parent chain and show the effective policy."""
    from floe.enforcement.effective import compile_platform, describe_policy

    result = compile_platform(_platform_path(file, env))
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        _emit(result.diagnostics)
        if result.ok:
            click.echo(describe_policy(result))
    if not result.ok:
        sys.exit(1)
    if output is not None:
        _write_release(_platform_path(file, env), output)


@platform.command("list-profiles")
@click.argument("file", required=False, type=click.Path(path_type=Path))
@ENV
@FORMAT
@handles_errors
def platform_list_profiles(file: Path | None, env: str | None, fmt: str) -> None:
    """List the profiles a platform defines, with the plugin type each selects."""
    from floe.schema.platform import PROFILE_SECTIONS, parse_platform
    from floe.yamlsafe import load_file

    path = _platform_path(file, env)
    parsed, report = parse_platform(load_file(path))
    if parsed is None or report.errors:
        raise FloeError(report.items)
    rows = []
    for kind, section in PROFILE_SECTIONS.items():
        for name, raw in parsed.platform.profiles(kind).items():
            rows.append({"kind": kind, "profile": name,
                         "type": raw.get("type") if isinstance(raw, dict) else None})
    if isinstance(parsed.platform.orchestrator, dict):
        rows.append({"kind": "orchestrator", "profile": "orchestrator",
                     "type": parsed.platform.orchestrator.get("type")})
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    _emit(report.warnings)
    if not rows:
        click.echo(f"{path}: no profiles defined")
    for row in rows:
        click.echo(f"{row['kind']:<13} {row['profile']:<16} {row['type']}")


# -- platform releases (OCI) ----------------------------------------------------------------


def _registry_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """The options that say how to reach a registry (credentials are secret references)."""
    for option in reversed([
        click.option("--insecure", is_flag=True, help="Plain HTTP (also: host in $FLOE_INSECURE_REGISTRIES)."),
        click.option("--ca-bundle", metavar="PEM", help="CA bundle for the registry's TLS certificate."),
        click.option("--username", metavar="USER", help="User name for Basic or token auth."),
        click.option("--password-secret", metavar="REF", help="Secret ref holding the password."),
        click.option("--token-secret", metavar="REF", help="Secret ref holding a bearer token."),
    ]):
        command = option(command)
    return command


def _options(insecure: bool, ca_bundle: str | None, username: str | None, password_secret: str | None,
             token_secret: str | None) -> Any:
    from floe.releases.pull import RegistryOptions

    return RegistryOptions(insecure, ca_bundle, username, password_secret, token_secret)


def _write_release(path: Path, output: Path) -> None:
    from floe.releases.build import build_release, write_release

    release = build_release(path)
    written = write_release(release, output)
    click.echo(f"wrote release {release.name} {release.version or '(no version)'} to {output} "
               f"({len(written)} files)")


@platform.command("publish")
@click.argument("version")
@click.option("--to", "target", required=True, metavar="oci://HOST/REPO", help="Repository to publish to.")
@click.option("--file", "file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The platform file (default: discovered as for compile).")
@ENV
@click.option("--source", metavar="URL", help="org.opencontainers.image.source annotation.")
@click.option("--revision", metavar="REV", help="org.opencontainers.image.revision annotation (a commit).")
@click.option("--sign", "sign_key", type=click.Path(dir_okay=False, path_type=Path), default=None,
              metavar="KEY", help="Sign the release digest with this ECDSA P-256 PEM key (cosign format).")
@_registry_options
@handles_errors
def platform_publish(version: str, target: str, file: Path | None, env: str | None, source: str | None,
                     revision: str | None, sign_key: Path | None, **registry: Any) -> None:
    """Publish the platform's release as VERSION (semver) to an OCI registry; tags are immutable."""
    from floe.releases.publish import publish

    result = publish(_platform_path(file, env), version, target, _options(**registry), source, revision,
                     sign_key=sign_key)
    if result.already:
        click.echo(f"{result.ref} already published: {result.digest}")
    else:
        click.echo(f"published {result.ref} ({result.uploaded} blobs uploaded)")
        click.echo(result.digest)
    if sign_key is not None:
        click.echo(f"signed {result.digest} (tag {result.digest.replace(':', '-')}.sig)")


@platform.command("test")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@ENV
@click.option("--cases", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder of test cases (default tests/ beside the platform file).")
@handles_errors
def platform_test(file: Path | None, env: str | None, cases: Path | None) -> None:
    """Compile the platform's example products (tests/<case>/) and check each outcome."""
    from floe.releases.platform_tests import run_platform_tests

    results = run_platform_tests(_platform_path(file, env), cases)
    for result in results:
        line = f"{'PASS' if result.passed else 'FAIL'}  {result.name}: expected it {result.expected}"
        click.echo(line + ("" if result.passed else f", but {result.detail}"))
    failed = sum(not r.passed for r in results)
    click.echo(f"platform tests: {len(results) - failed} of {len(results)} cases passed")
    if failed:
        sys.exit(1)


@platform.command("update")
@PRODUCT
@PLATFORM
@_registry_options
@handles_errors
def platform_update(product: Path | None, platform: str | None, **registry: Any) -> None:
    """Resolve the product's oci:// platform tag again and move floe.lock to its digest."""
    from floe.compiler import required_platform_key
    from floe.discovery import product_dir, product_file
    from floe.releases.compatibility import check_compatible
    from floe.releases.lock import LOCK_FILE, Lock
    from floe.releases.pull import pull
    from floe.releases.reference import parse as parse_ref
    from floe.schema.product import parse_product
    from floe.yamlsafe import load_file

    path = product_file(product)
    parsed, report = parse_product(load_file(path))
    if parsed is None:
        raise FloeError(report.items)
    ref = platform or (parsed.platform.ref if parsed.platform else None)
    if not ref or not ref.startswith("oci://"):
        raise FloeError(f"{path}: platform.ref is not an oci:// reference; nothing to update")
    directory = product_dir(path)
    # Resolved and verified as compile would (signature, version range) before the lock moves:
    # an update never pins a release that the next compile would refuse.
    release = pull(ref, None, update=True, what="platform.ref", options=_options(**registry),
                   public_key=required_platform_key(parsed, directory))
    meta = release.release
    check_compatible(directory, parsed.platform.version if parsed.platform else None, meta.get("name"),
                     meta.get("version"), release.ref)
    if parse_ref(ref, "platform.ref").digest is not None:
        click.echo(f"{release.ref}: pinned by digest in floe.yaml, nothing to lock")
        return
    lock = Lock(directory)
    if lock.set(release.ref, release.digest, meta.get("version")):
        lock.write()
    click.echo(f"{release.ref} -> {release.digest} (locked in {directory / LOCK_FILE})")


# -- lineage and runs ------------------------------------------------------------------------


@cli.command("lineage")
@PRODUCT
@click.option("--format", "fmt", type=click.Choice(["mermaid", "dot", "json"]), default="mermaid",
              show_default=True, help="Mermaid (pastes into Markdown), Graphviz DOT or JSON.")
@PLATFORM
@ENV
@handles_errors
def lineage_command(product: Path | None, fmt: str, platform: str | None, env: str | None) -> None:
    """Draw the product's lineage: sources, seeds, models, Python assets and Iceberg tables."""
    from floe.compiler import compile_product
    from floe.discovery import product_file
    from floe.observability.graph import RENDERERS, build_graph

    # The graph is the publish plan of the artifacts, compiled fresh (nothing is written).
    artifacts = compile_product(product_file(product), platform=platform, env=env, write=False).artifacts
    click.echo(RENDERERS[fmt](build_graph(artifacts)), nl=False)


@cli.command("runs")
@PRODUCT
@click.option("--limit", "-n", type=click.IntRange(min=1), default=20, show_default=True,
              help="How many runs to show, most recent first.")
@FORMAT
@handles_errors
def runs_command(product: Path | None, limit: int, fmt: str) -> None:
    """List recent runs of the product: status, start, duration and tables written."""
    from floe.discovery import product_dir, product_file
    from floe.observability.runs import read_runs

    runs = read_runs(product_dir(product_file(product)) / ".floe", limit)
    if fmt == "json":
        click.echo(json.dumps(runs, indent=2))
        return
    if not runs:
        click.echo("no runs yet: floe run builds the product")
        return
    rows = [("RUN", "STATUS", "STARTED", "DURATION", "TABLES")]
    for entry in runs:
        names = [t["table"] for t in entry.get("tables", [])]
        tables = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
        tables = f"{len(names)}: {tables}" if names else "0"
        if entry.get("failed_asset"):
            tables = f"failed at {entry['failed_asset']}"
        rows.append((entry["run_id"][:8], entry.get("status", "?"),
                     str(entry.get("started_at", "?")).replace("T", " ").replace("+00:00", "Z"),
                     f"{entry.get('seconds', 0):.1f}s", tables))
    _echo_table(rows)


# -- deployment: floe package, floe deploy, floe platform deploy ------------------------------


@cli.command("package")
@PRODUCT
@click.option("--image", metavar="NAME", help="Image name the context is built as (repository[:tag]).")
@click.option("--base-image", metavar="IMAGE", default=None,
              help="Base image of the Dockerfile (default python:3.11.11-slim-bookworm; pin by digest).")
@click.option("--output", "-o", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the build context (default .floe/package).")
@PLATFORM
@ENV
@handles_errors
def package_command(product: Path | None, image: str | None, base_image: str | None,
                    output: Path | None, platform: str | None, env: str | None) -> None:
    """Write the product's image build context: Dockerfile, artifacts, dbt manifest, lock file."""
    from floe.compiler import compile_product
    from floe.deploy.package import BASE_IMAGE, build_context
    from floe.discovery import product_file

    path = product_file(product)
    click.echo("floe package: compiling (artifacts and the dbt manifest go into the image) ...", err=True)
    artifacts = compile_product(path, platform=platform, env=env).artifacts
    product_dir = path.resolve().parent
    built = build_context(product_dir, artifacts, output or product_dir / ".floe" / "package",
                          image=image, base_image=base_image or BASE_IMAGE)
    click.echo(f"wrote {len(built.files)} files to {built.context}")
    click.echo(f"next: docker build -t {image or artifacts.product.name} {built.context}")


_DEPLOY_OPTIONS = [
    click.option("--dry-run", is_flag=True, help="Print the manifests it would apply; apply nothing."),
    click.option("--namespace", "-n", metavar="N", default=None, help="Kubernetes namespace (default floe-<env>)."),
    click.option("--values", "-f", "value_files", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
                 help="Extra Helm values files (after floe's, so yours win)."),
    click.option("--release", metavar="NAME", default=None, help="Helm release name."),
]


def _deploy_options(command: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(_DEPLOY_OPTIONS):
        command = option(command)
    return command


@platform.command("init")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="Platform name (default: from the directory name).")
@click.option("--force", is_flag=True, help="Write into a directory that is not empty.")
@handles_errors
def platform_init(directory: Path, name: str | None, force: bool) -> None:
    """Create a platform repository: platform files per environment, chart values, Secret templates, CI."""
    from floe.deploy.scaffold import scaffold_platform

    written = scaffold_platform(directory, name=name, force=force)
    click.echo(f"created {len(written)} files in {directory}")
    click.echo(f"next: cd {directory} && floe platform validate --env dev && "
               "floe platform deploy --env dev --dry-run -f charts/values-dev.yaml")


@platform.command("deploy")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@ENV
@_deploy_options
@handles_errors
def platform_deploy(file: Path | None, env: str | None, dry_run: bool, namespace: str | None,
                    value_files: tuple[Path, ...], release: str | None) -> None:
    """Deploy the platform's long-lived services (chart floe-platform) for an environment."""
    from floe.deploy import helm
    from floe.deploy.charts import PLATFORM_CHART, chart_dir
    from floe.deploy.values import platform_values

    env = env or os.environ.get("FLOE_ENV") or "local"
    path = _platform_path(file, env)
    chart = chart_dir(PLATFORM_CHART)
    own = [chart / f"values-{env}.yaml"] if (chart / f"values-{env}.yaml").is_file() else []
    result = helm.run(helm.Release(release or "floe-platform", chart, namespace or f"floe-{env}",
                                   platform_values(path), tuple(own) + value_files,
                                   {"platformFile": path}),
                      dry_run, progress=lambda line: click.echo(line, err=True))
    click.echo(result, nl=False)


@cli.command("deploy")
@PRODUCT
@ENV
@PLATFORM
@click.option("--image", metavar="NAME", help="The image built from `floe package` (repository[:tag]).")
@click.option("--image-digest", metavar="sha256:...", help="Pin the image by digest (runs use exactly it).")
@click.option("--platform-release", default="floe-platform", show_default=True,
              help="The floe-platform release the product runs on.")
@_deploy_options
@handles_errors
def deploy_command(product: Path | None, env: str | None, platform: str | None, image: str | None,
                   image_digest: str | None, platform_release: str, dry_run: bool,
                   namespace: str | None, value_files: tuple[Path, ...], release: str | None) -> None:
    """Release the product as a code location (chart floe-product); its runs are Kubernetes Jobs."""
    from floe.compiler import compile_product
    from floe.deploy import helm
    from floe.deploy.charts import PRODUCT_CHART, chart_dir
    from floe.deploy.values import product_values
    from floe.discovery import product_file

    if image is None:
        raise click.UsageError("--image is required: the image your CI built from `floe package`")
    env = env or os.environ.get("FLOE_ENV") or "local"
    artifacts = compile_product(product_file(product), platform=platform, env=env, write=False).artifacts
    chart = chart_dir(PRODUCT_CHART)
    own = [chart / f"values-{env}.yaml"] if (chart / f"values-{env}.yaml").is_file() else []
    values = product_values(artifacts, image, image_digest, platform_release)
    result = helm.run(helm.Release(release or artifacts.product.name.lower().replace("_", "-"), chart,
                                   namespace or f"floe-{env}", values, tuple(own) + value_files),
                      dry_run, progress=lambda line: click.echo(line, err=True))
    click.echo(result, nl=False)


def main() -> None:
    """Console-script entry point."""
    cli.main(prog_name="floe")
