"""Regressions of an adversarial probe of the embedded default (a product from ``floe init``).

Each test reproduces one input or fault a hostile-but-realistic user tried and pins what floe
must do instead: a message that says where and what (``file:line:col: dotted.path: message``
when a file is at fault), exit 1, no traceback, nothing written outside the product.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import floe_subprocess
from support import unavailable

LOCATED = re.compile(r"^[^:\s][^:]*:\d+:\d+: [\w\[\].-]+: ")


def assert_refused(result, *expected: str) -> list[str]:
    """Exit 1, no traceback or internal error, and each ``expected`` text on some stderr line."""
    out = result.stdout + result.stderr
    assert result.exit_code == 1, out
    assert "Traceback" not in out and "internal error" not in out, out
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    for text in expected:
        assert any(text in line for line in lines), (text, lines)
    return lines


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new, 1))


# -- 1. user-written names that become paths, Dagster names or Iceberg identifiers ----------


@pytest.mark.parametrize("name", ["/tmp/somewhere/.dbt", "../../../x", "core/../..", "..", "naïve", "a b", ""])
def test_a_transform_name_that_is_a_path_is_refused_at_its_line(demo, run_cli, tmp_path, name):
    outside = tmp_path / "outside"
    edit(demo / "floe.yaml", "  - name: core\n", f"  - name: {name.replace('/tmp/somewhere', str(outside))!r}\n")
    result = run_cli(["compile"], cwd=demo)
    lines = assert_refused(result, "transforms[0].name: ", "is not a valid transform name: use ASCII letters")
    assert any(LOCATED.match(line) and line.startswith("floe.yaml:") for line in lines), lines
    assert not outside.exists()
    assert not (demo / ".floe" / "compiled_artifacts.json").exists()


def test_an_assets_path_outside_the_product_is_refused(demo, run_cli):
    with open(demo / "floe.yaml", "a") as fh:
        fh.write("assets:\n  path: ../../../etc\n")
    result = run_cli(["validate"], cwd=demo)
    lines = assert_refused(result, "assets.path: '../../../etc' must be a folder inside the product")
    assert all(LOCATED.match(line) for line in lines), lines


def test_assets_modules_must_be_module_names(demo, run_cli):
    with open(demo / "floe.yaml", "a") as fh:
        fh.write("assets:\n  modules: [../evil]\n")
    assert_refused(run_cli(["validate"], cwd=demo), "assets.modules: '../evil' is not a Python module name")


def test_a_model_file_name_that_cannot_be_a_table_name_fails_compile_at_the_file(demo, run_cli):
    models = demo / "dbt" / "models"
    source = next(models.rglob("gold_*.sql"))
    shutil.copy(source, source.with_name("gold_umsätze.sql"))
    result = run_cli(["compile"], cwd=demo)
    lines = assert_refused(result, "model name 'gold_umsätze' cannot be an Iceberg table and Dagster asset name")
    assert any("gold_umsätze.sql" in line for line in lines), lines
    assert not (demo / ".floe" / "compiled_artifacts.json").exists()


# -- 4, 6, 8. files that are not regular files ----------------------------------------------


def test_validate_refuses_a_fifo_at_once(demo):
    fifo = demo / "fifo.yaml"
    os.mkfifo(fifo)
    result = floe_subprocess(["validate", "fifo.yaml"], cwd=demo, timeout=30)
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == ("fifo.yaml: is a named pipe (FIFO), not a regular file; floe reads "
                                     "only regular files"), result.stderr


def test_compile_names_a_fifo_floe_yaml_as_a_fifo(demo, run_cli):
    (demo / "floe.yaml").unlink()
    os.mkfifo(demo / "floe.yaml")
    assert_refused(run_cli(["compile"], cwd=demo), "floe.yaml: is a named pipe (FIFO)")


def test_a_symlink_loop_is_named_as_one(demo, run_cli):
    (demo / "floe.yaml").unlink()
    os.symlink("other.yaml", demo / "floe.yaml")
    os.symlink("floe.yaml", demo / "other.yaml")
    assert_refused(run_cli(["compile"], cwd=demo), "floe.yaml: is a symbolic link that loops")
    assert_refused(run_cli(["validate"], cwd=demo), "floe.yaml: is a symbolic link that loops")


def test_a_device_is_not_a_floe_yaml(demo, run_cli):
    assert_refused(run_cli(["compile", "-f", "/dev/zero"], cwd=demo), "/dev/zero: is a device")
    assert_refused(run_cli(["validate", "/dev/zero"], cwd=demo), "/dev/zero: is a device")


def test_a_link_to_a_special_file_is_a_clear_error(demo, run_cli):
    (demo / "floe.yaml").unlink()
    os.symlink("/dev/null", demo / "floe.yaml")
    assert_refused(run_cli(["compile"], cwd=demo), "floe.yaml: is a device")


def test_a_platform_file_that_is_a_directory_is_named_so_with_exit_1(demo, run_cli):
    platform = demo / "platform" / "local" / "platform.yaml"
    platform.unlink()
    platform.mkdir()
    assert_refused(run_cli(["compile"], cwd=demo),
                   "platform/local/platform.yaml: is a directory, expected a file")
    assert_refused(run_cli(["platform", "validate", "platform/local/platform.yaml"], cwd=demo),
                   "platform/local/platform.yaml: is a directory, expected a file")
    assert_refused(run_cli(["validate", "platform/local/platform.yaml"], cwd=demo),
                   "platform/local/platform.yaml: is a directory, expected a file")
    assert_refused(run_cli(["validate", "platform"], cwd=demo), "platform: is a directory")


def test_a_symlinked_floe_yaml_anchors_the_product_at_the_link(demo, run_cli, tmp_path):
    """compile reads the dbt project beside the link; the state directory belongs there too."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.move(demo / "floe.yaml", elsewhere / "floe.yaml")
    os.symlink(elsewhere / "floe.yaml", demo / "floe.yaml")
    from floe.discovery import product_dir

    assert product_dir(demo / "floe.yaml") == demo
    result = run_cli(["compile"], cwd=demo)
    assert result.exit_code == 0, result.stderr
    assert (demo / ".floe" / "compiled_artifacts.json").is_file()
    assert not (elsewhere / ".floe").exists()


# -- 2(c), 7. endpoint URLs -------------------------------------------------------------------


def _platform(demo: Path) -> Path:
    return demo / "platform" / "local" / "platform.yaml"


@pytest.mark.parametrize("key", ["otlp_endpoint", "lineage_endpoint"])
def test_credentials_in_an_endpoint_url_are_refused_without_echoing_them(demo, run_cli, key):
    edit(_platform(demo), "observability:\n", f"observability:\n  {key}: http://floe:hunter22@collector:4318\n")
    result = run_cli(["compile"], cwd=demo)
    lines = assert_refused(result, f"observability.{key}: the URL contains a user name or password",
                           "{secret_ref: <name>}")
    assert "hunter22" not in result.stdout + result.stderr
    assert all(LOCATED.match(line) for line in lines if "platform.yaml" in line), lines
    assert not (demo / ".floe" / "compiled_artifacts.json").exists()


@pytest.mark.parametrize("key, value, example", [
    ("otlp_endpoint", "not a url", "http://otel-collector:4318"),
    ("lineage_endpoint", "ftp://marquez:5000", "http://marquez:5000"),
])
def test_an_endpoint_that_is_not_an_http_url_fails_compile(demo, run_cli, key, value, example):
    edit(_platform(demo), "observability:\n", f"observability:\n  {key}: '{value}'\n")
    lines = assert_refused(run_cli(["validate", "platform/local/platform.yaml"], cwd=demo),
                           f"observability.{key}: '{value}' is not an http(s) URL", example)
    assert all(LOCATED.match(line) for line in lines), lines


# -- 5. environment and state problems --------------------------------------------------------


def test_junk_lines_in_the_run_log_are_skipped(demo, run_cli):
    state = demo / ".floe"
    state.mkdir(exist_ok=True)
    good = ('{"run_id": "0123456789abcdef", "status": "success", "started_at": "2026-01-01T00:00:00+00:00", '
            '"seconds": 1.5, "tables": [{"table": "gold.x", "rows": 1, "snapshot_id": 1, "mode": "create"}]}')
    junk = ['{"run_id": 7}', '{"run_id": "x", "tables": "gold.x"}', '{"run_id": "y", "seconds": "soon"}',
            '[1, 2]', "not json", "\xff\xfe", '{"run_id": "z", "tables": [{"rows": 1}]}', "[" * 100_000]
    (state / "runs.jsonl").write_bytes(("\n".join([good, *junk]) + "\n").encode("utf-8", "surrogateescape")
                                       + b"\xff\xfe\n")
    result = run_cli(["runs"], cwd=demo)
    assert result.exit_code == 0, result.stderr
    assert "01234567  success" in result.stdout
    assert len(result.stdout.strip().splitlines()) == 2, result.stdout
    as_json = run_cli(["runs", "--format", "json"], cwd=demo)
    assert [r["run_id"] for r in __import__("json").loads(as_json.stdout)] == ["0123456789abcdef"]


def test_a_run_log_that_is_a_directory_is_an_actionable_error(demo, run_cli):
    (demo / ".floe" / "runs.jsonl").mkdir(parents=True)
    assert_refused(run_cli(["runs"], cwd=demo), "runs.jsonl: the run log is a directory", "move it away")


@pytest.mark.parametrize("content, expected", [
    (b"\x00\x01\x02binary\xff", "not compiled artifacts (not UTF-8 text, byte"),
    ('{"contract_version": "caf\xe9"}'.encode("latin-1"), "not compiled artifacts (not UTF-8 text, byte"),
    (b"[" * 100_000 + b"]" * 100_000, "JSON nested too deeply"),
    (b'{"a": ' * 5_000 + b"1" + b"}" * 5_000, "JSON nested too deeply"),
])
def test_diff_of_files_that_are_not_artifacts_is_a_located_error(demo, run_cli, content, expected):
    (demo / "a.json").write_bytes(content)
    (demo / "b.json").write_bytes(content)
    assert_refused(run_cli(["diff", "a.json", "b.json"], cwd=demo), "a.json: ", expected)


def test_diff_of_a_fifo_does_not_hang(demo):
    os.mkfifo(demo / "a.json")
    result = floe_subprocess(["diff", "a.json", "a.json"], cwd=demo, timeout=30)
    assert result.returncode == 1
    assert "a.json: is a named pipe (FIFO)" in result.stderr


def test_a_run_lock_that_is_a_directory_is_an_actionable_error(demo, run_cli):
    (demo / ".floe" / "run.lock").mkdir(parents=True)
    result = run_cli(["run"], cwd=demo)
    assert_refused(result, "run.lock: a folder stands where floe needs a file; move the folder away")


def test_a_state_directory_that_is_a_file_is_an_actionable_error(demo, run_cli):
    shutil.rmtree(demo / ".floe", ignore_errors=True)
    (demo / ".floe").write_text("not a folder")
    for command in (["compile"], ["run"]):
        assert_refused(run_cli(command, cwd=demo), ".floe", "a file stands where floe needs a folder; "
                       "move the file away")


def test_the_aws_secret_backend_without_a_region_says_how_to_set_one(demo, run_cli, monkeypatch):
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(demo / "no-aws-config"))
    edit(_platform(demo), "backends: [env]", "backends: [env, aws]")
    edit(_platform(demo), "    memory_limit: 2GB\n",
         "    memory_limit: 2GB\n    settings: {http_proxy_password: {secret_ref: proxy-password}}\n")
    result = run_cli(["secrets", "check"], cwd=demo)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "internal error" not in result.output
    assert "no AWS region; set region in the aws entry of secrets.backends or AWS_REGION" in result.output


# -- 3. a product works wherever it is checked out --------------------------------------------


def _files(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes()
            for p in sorted(directory.rglob("*")) if p.is_file()}


def _tables(product: Path) -> dict[str, int]:
    """Rows of every table, read through the catalog as floe connects it at ``product``."""
    from floe.artifacts import CompiledArtifacts
    from floe.runtime import RunContext

    context = RunContext(CompiledArtifacts.read(product / ".floe" / "compiled_artifacts.json"), product)
    catalog = context.catalog
    return {f"{ns[0]}.{name}": catalog.load_table((ns[0], name)).scan().to_arrow().num_rows
            for (ns,) in [(n,) for n in catalog.list_namespaces()]
            for (_, name) in catalog.list_tables(ns)}


def test_a_copied_product_never_writes_into_the_original_and_a_moved_one_keeps_working(tmp_path):
    from conftest import EXAMPLE

    original = tmp_path / "a"
    shutil.copytree(EXAMPLE, original, ignore=shutil.ignore_patterns(".floe"))
    first = floe_subprocess(["run"], cwd=original, timeout=600)
    assert first.returncode == 0, first.stderr
    before = _files(original / ".floe" / "warehouse")
    catalog_before = (original / ".floe" / "catalog.db").read_bytes()

    copy = tmp_path / "b"
    shutil.copytree(original, copy, symlinks=True)  # cp -a
    second = floe_subprocess(["run"], cwd=copy, timeout=600)
    assert second.returncode == 0, second.stderr
    assert _files(original / ".floe" / "warehouse") == before, "the copy wrote into the original"
    assert (original / ".floe" / "catalog.db").read_bytes() == catalog_before
    assert len(_files(copy / ".floe" / "warehouse")) > len(before)  # its own new snapshots

    moved = tmp_path / "c"
    copy.rename(moved)
    shutil.rmtree(original)  # nothing can be read from either old place any more
    third = floe_subprocess(["run"], cwd=moved, timeout=600)
    assert third.returncode == 0, third.stdout + third.stderr
    assert "succeeded: 5 tables written" in third.stdout
    rows = _tables(moved)
    assert rows["gold.gold_revenue_by_country"] == 3 and len(rows) == 5, rows
    artifacts = (moved / ".floe" / "compiled_artifacts.json").read_text()
    assert str(tmp_path) not in artifacts  # no absolute path baked into the contract


# -- 2(a), 2(b). secret values never escape, dbt's secret variables only while dbt runs --------

SECRET_PROBE = '''\
import os

import pyarrow as pa

from floe.assets import floe_asset


@floe_asset(deps=["gold_revenue_by_country"], layer="gold")
def secret_probe():
    """Reads a secret floe resolved for dbt, and reports which of dbt's variables it can see."""
    if os.environ.get("PROBE_RAISE"):
        raise ValueError("upstream refused token " + os.environ["PROXY_PASSWORD"])
    visible = sorted(name for name in os.environ if name.startswith("DBT_ENV_SECRET_FLOE_"))
    return pa.table({"visible": [",".join(visible)]})
'''


@pytest.fixture(scope="module")
def secret_scene(tmp_path_factory):
    from conftest import EXAMPLE

    import secrets as random

    product = tmp_path_factory.mktemp("scrub") / "shop"
    shutil.copytree(EXAMPLE, product, ignore=shutil.ignore_patterns(".floe"))
    platform = _platform(product)
    edit(platform, "    memory_limit: 2GB\n", "    memory_limit: 2GB\n    settings:\n"
         "      http_proxy_password: {secret_ref: proxy-password}\n")
    (product / "assets" / "secret_probe.py").write_text(SECRET_PROBE)
    value = "cnry" + random.token_hex(14)
    passing = floe_subprocess(["run"], cwd=product, env={"PROXY_PASSWORD": value}, timeout=600)
    failing = floe_subprocess(["run"], cwd=product, env={"PROXY_PASSWORD": value, "PROBE_RAISE": "1"},
                              timeout=600)
    return {"product": product, "value": value, "passing": passing, "failing": failing}


def test_python_assets_do_not_see_dbts_secret_variables(secret_scene):
    assert secret_scene["passing"].returncode == 0, secret_scene["passing"].stderr
    rows = _table_rows(secret_scene["product"], "gold.secret_probe")
    assert rows == [{"visible": ""}]


def test_a_secret_quoted_by_a_failing_python_asset_is_masked_everywhere(secret_scene):
    failing, value, product = secret_scene["failing"], secret_scene["value"], secret_scene["product"]
    out = failing.stdout + failing.stderr
    assert failing.returncode == 1, out
    assert "Traceback" not in out
    assert "floe run failed at secret_probe: ValueError: upstream refused token **********" in out
    leaks = [path.relative_to(product).as_posix() for path in product.rglob("*")
             if path.is_file() and value.encode() in path.read_bytes()]
    assert value not in out and leaks == []
    # The places it would have landed were written: the run log, lineage, Dagster's storage.
    run_log = (product / ".floe" / "runs.jsonl").read_text()
    assert "upstream refused token **********" in run_log
    assert any("upstream refused token **********" in p.read_text(errors="replace")
               for p in (product / ".floe" / "lineage").rglob("*") if p.is_file())
    assert any(b"upstream refused token **********" in p.read_bytes()
               for p in (product / ".floe" / "dagster").rglob("*.db"))


def _table_rows(product: Path, table: str) -> list[dict]:
    from floe.artifacts import CompiledArtifacts
    from floe.runtime import RunContext

    context = RunContext(CompiledArtifacts.read(product / ".floe" / "compiled_artifacts.json"), product)
    return context.catalog.load_table(table).scan().to_arrow().to_pylist()


def test_the_scrubber_masks_every_form_of_a_resolved_value():
    from floe.runtime.scrub import MASK, scrub, scrub_exception
    from floe.runtime.secrets import SecretValue

    SecretValue('s3cr"et\\välue')  # resolving a value is what makes it scrubbed
    assert scrub('token s3cr"et\\välue!') == f"token {MASK}!"
    assert scrub(__import__("json").dumps({"e": 'x s3cr"et\\välue'})) == '{"e": "x ' + MASK + '"}'
    assert scrub(repr('s3cr"et\\välue')) == f"'{MASK}'"
    SecretValue("abc")  # too short to scrub without garbling every message
    assert scrub("abcdef") == "abcdef"

    try:
        try:
            raise KeyError('s3cr"et\\välue')
        except KeyError as inner:
            raise ValueError('refused s3cr"et\\välue') from inner
    except ValueError as exc:
        scrubbed = scrub_exception(exc)
    assert type(scrubbed) is ValueError and str(scrubbed) == f"refused {MASK}"
    assert scrubbed.__cause__ is None and scrubbed.__traceback__ is not None
    clean = ValueError("nothing secret")
    assert scrub_exception(clean) is clean


@pytest.fixture
def small_volume(tmp_path):
    """A 3 MiB file system (tmpfs), which a run of the demo product fills."""
    import subprocess

    volume = tmp_path / "volume"
    volume.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(volume)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        unavailable(f"a full disk is simulated with a small tmpfs, which needs root: {mounted.stderr.strip()}")
    yield volume
    subprocess.run(["umount", "-l", str(volume)], capture_output=True)


def test_a_full_disk_is_reported_as_one_not_as_a_bug(small_volume):
    from conftest import EXAMPLE

    product = small_volume / "shop"
    shutil.copytree(EXAMPLE, product, ignore=shutil.ignore_patterns(".floe"))
    result = floe_subprocess(["run"], cwd=product, timeout=600)
    out = result.stdout + result.stderr
    assert result.returncode == 1, out
    assert "Traceback" not in out and "internal error" not in out and "This is a bug" not in out, out
    last = result.stderr.strip().splitlines()[-1]
    assert any(words in last.lower() for words in ("no space left", "disk is full", "may be full")), out


def test_lineage_on_a_deeply_nested_manifest_is_not_a_crash(demo, run_cli):
    assert run_cli(["compile"], cwd=demo).exit_code == 0
    manifest = demo / ".floe" / "dbt" / "core" / "target" / "manifest.json"
    text = manifest.read_text()
    # A node's meta nested far deeper than any JSON reader recurses: the cache counts as damaged.
    manifest.write_text(text.replace('"meta": {}', '"meta": ' + '{"a": ' * 100_000 + "1" + "}" * 100_000, 1))
    result = run_cli(["lineage"], cwd=demo)
    out = result.stdout + result.stderr
    assert "Traceback" not in out and "internal error" not in out, out
    assert result.exit_code == 0, out  # parsed again by dbt, then drawn
    assert "gold_revenue_by_country" in result.stdout


@pytest.mark.parametrize("target, expected", [
    ("directory", "which cannot be read (is a directory, expected a file)"),
    ("/proc/self/environ", "which cannot be read (holds NUL bytes, so it is not a file holding one secret value)"),
    ("fifo", "which cannot be read (is a named pipe (FIFO), not a regular file"),
])
def test_a_secret_file_that_holds_no_secret_value_is_named_for_what_it_is(demo, run_cli, target, expected):
    edit(_platform(demo), "    memory_limit: 2GB\n",
         "    memory_limit: 2GB\n    settings: {http_proxy_password: {secret_ref: proxy-password}}\n")
    path = {"directory": str(demo), "fifo": str(demo / "fifo")}.get(target, target)
    if target == "fifo":
        os.mkfifo(path)
    result = run_cli(["secrets", "check"], cwd=demo, env={"PROXY_PASSWORD": "", "PROXY_PASSWORD_FILE": path})
    assert result.exit_code == 1, result.output
    assert f"secret 'proxy-password': $PROXY_PASSWORD_FILE names {path}, {expected}" in result.stderr
    assert "not found" not in result.output
