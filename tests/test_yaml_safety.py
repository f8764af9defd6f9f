"""Safe YAML loading (SPEC §2, §9): nothing a user writes can run code, hang, or crash floe.

Every case is pinned twice: through :mod:`floe.yamlsafe` (the diagnostics it raises) and
through ``floe validate FILE`` (exit 1, one ``file[:line:col]: ...`` line per problem on
stderr, never a traceback).
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest

from floe.diagnostics import FloeError
from floe.schema.platform import parse_platform
from floe.yamlsafe import MAX_BYTES, load_bytes, load_text

from conftest import EXAMPLE, floe_subprocess

PLATFORM_TEXT = (EXAMPLE / "platform" / "local" / "platform.yaml").read_text()
PRODUCT_TEXT = (EXAMPLE / "floe.yaml").read_text()

BOMB = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


# -- helpers ----------------------------------------------------------------------------------


def refused(text: str | bytes, file: str = "floe.yaml") -> list[str]:
    """Load ``text`` expecting a FloeError; return its lines as the user reads them."""
    with pytest.raises(FloeError) as info:
        if isinstance(text, bytes):
            load_bytes(text, file)
        else:
            load_text(text, file)
    lines = [str(d) for d in info.value.diagnostics]
    assert lines, "a FloeError must carry at least one diagnostic"
    return lines


def assert_user_error(result, file: str) -> list[str]:
    """``floe validate`` refused ``file`` the way the CLI promises; return the stderr lines."""
    out = result.stdout + result.stderr
    assert result.exit_code == 1, out
    assert "Traceback" not in out, out
    assert "internal error" not in out, out
    assert f"{file}: ok" not in result.stdout, out
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, "an error must be explained on stderr"
    for line in lines:
        # SPEC §5: errors go to stderr, one per line, file[:line:col] first.
        assert line.startswith(f"{file}:"), f"stderr line does not start with the file name: {line!r}"
    return lines


def validate(run_cli, directory: Path, name: str, content: str | bytes):
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return run_cli(["validate", name], cwd=directory)


# -- Python and other foreign tags ------------------------------------------------------------


@pytest.mark.parametrize("tagged", [
    '!!python/object/apply:os.system ["echo hi"]',
    "!!python/name:os.system",
    '!!python/object/new:subprocess.Popen [["echo", "hi"]]',
    "!!python/tuple [1, 2]",
    '!!binary "aGk="',
    "!!set {a, b}",
])
def test_foreign_yaml_tags_are_refused_with_position_and_fix(tagged: str) -> None:
    lines = refused(f"metadata:\n  name: {tagged}\n")
    assert len(lines) == 1, lines
    assert lines[0].startswith("floe.yaml:2:9: metadata.name: YAML tag "), lines
    assert "is not allowed" in lines[0] and "remove the tag" in lines[0], lines


def test_python_tag_is_never_executed_in_process(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = f'a: !!python/object/apply:os.system ["touch {marker}"]\n'
    lines = refused(text)
    assert lines == ["floe.yaml:1:4: a: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' "
                     "is not allowed; floe reads plain YAML only (remove the tag)"]
    assert not marker.exists()


def test_python_tag_through_the_cli_subprocess_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    (tmp_path / "floe.yaml").write_text(
        PRODUCT_TEXT + f'description: !!python/object/apply:os.system ["touch {marker}"]\n')
    proc = floe_subprocess(["validate", "floe.yaml"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "python/object/apply:os.system" in proc.stderr and "not allowed" in proc.stderr
    line = PRODUCT_TEXT.count("\n") + 1
    assert proc.stderr.startswith(f"floe.yaml:{line}:14: description: YAML tag "), proc.stderr
    assert not marker.exists(), "a !!python tag was executed"


def test_python_tag_through_the_cli(run_cli, tmp_path: Path) -> None:
    result = validate(run_cli, tmp_path, "floe.yaml", 'a: !!python/object/apply:os.system ["echo hi"]\n')
    lines = assert_user_error(result, "floe.yaml")
    assert lines[0].startswith("floe.yaml:1:4: a: YAML tag "), lines
    assert "hi" not in result.stdout


def test_unknown_local_tag_is_refused(run_cli, tmp_path: Path) -> None:
    text = PLATFORM_TEXT.replace("    path: .floe/catalog.db", "    path: !Ref x")
    assert text != PLATFORM_TEXT
    lines = refused(text, "platform.yaml")
    line = text.splitlines().index("    path: !Ref x") + 1
    assert lines == [f"platform.yaml:{line}:11: catalogs.default.path: YAML tag '!Ref' is not allowed; "
                     "floe reads plain YAML only (remove the tag)"]
    result = validate(run_cli, tmp_path, "platform.yaml", text)
    assert assert_user_error(result, "platform.yaml") == lines


def test_every_tag_problem_is_reported_at_once() -> None:
    lines = refused("a: !Ref x\nb: !Sub y\nc: [!GetAtt z]\n")
    assert [line.split(": ")[0] for line in lines] == ["floe.yaml:1:4", "floe.yaml:2:4", "floe.yaml:3:5"]
    assert [line.split(": ")[1] for line in lines] == ["a", "b", "c[0]"]


def test_tagged_mapping_key_is_refused() -> None:
    lines = refused("? !Ref k\n: 1\n")
    assert any("must be plain scalars" in line for line in lines), lines


@pytest.mark.parametrize("text, path", [
    ("a: !!int\n", "a"),
    ("a: !!float\n", "a"),
    ("a: !!bool maybe\n", "a"),
    ("a: !!timestamp yesterday\n", "a"),
    ("a: !!int ten\n", "a"),
    ("? !!int\n: 1\n", ""),
    ("? !!bool maybe\n: 1\n", ""),
])
def test_explicit_standard_tags_with_bad_values_are_reported_not_crashed(run_cli, tmp_path: Path,
                                                                          text: str, path: str) -> None:
    lines = refused(text)
    assert len(lines) == 1, lines
    assert lines[0].startswith("floe.yaml:1:"), lines
    if path:
        assert lines[0].split(": ")[1] == path, lines
    result = validate(run_cli, tmp_path, "floe.yaml", text)
    assert assert_user_error(result, "floe.yaml") == lines


@pytest.mark.parametrize("raw, where, code", [
    ("a: \x08\n", "1:4", "0x0008"),
    ("metadata:\n  name: x\x1fy\n", "2:10", "0x001f"),
    ("\x00", "1:1", "0x0000"),
])
def test_control_characters_are_located_yaml_errors(run_cli, tmp_path: Path, raw: str, where: str,
                                                    code: str) -> None:
    lines = refused(raw)
    assert lines == [f"floe.yaml:{where}: invalid YAML: control character {code} is not allowed; remove it"]
    result = validate(run_cli, tmp_path, "floe.yaml", raw)
    assert assert_user_error(result, "floe.yaml") == lines


def test_a_key_with_a_line_break_stays_on_one_stderr_line(run_cli, tmp_path: Path) -> None:
    text = PRODUCT_TEXT + '"bad\\nkey\\rx": 1\n'
    result = validate(run_cli, tmp_path, "floe.yaml", text)
    lines = assert_user_error(result, "floe.yaml")
    assert len(lines) == 1, lines
    assert "unknown key 'bad\\nkey\\rx'" in lines[0], lines


# -- duplicate keys ---------------------------------------------------------------------------


def test_duplicate_key_names_both_lines(run_cli, tmp_path: Path) -> None:
    text = "kind: DataProduct\nmetadata:\n  name: a\n  version: '1'\n  name: b\n"
    lines = refused(text)
    assert lines == ["floe.yaml:5:3: metadata.name: duplicate key 'name' (first defined at line 3); "
                     "remove one of them"]
    result = validate(run_cli, tmp_path, "floe.yaml", text)
    stderr = assert_user_error(result, "floe.yaml")
    assert stderr == lines


def test_every_duplicate_key_is_reported() -> None:
    text = "a: 1\nb: 2\na: 3\nc:\n  x: 1\n  x: 2\nb: 4\n"
    lines = refused(text)
    assert len(lines) == 3, lines
    assert lines[0].startswith("floe.yaml:3:1: a: duplicate key 'a' (first defined at line 1)")
    assert lines[1].startswith("floe.yaml:6:3: c.x: duplicate key 'x' (first defined at line 5)")
    assert lines[2].startswith("floe.yaml:7:1: b: duplicate key 'b' (first defined at line 2)")


def test_duplicate_keys_that_differ_only_in_spelling_of_the_same_value() -> None:
    # 1 and 0x1 are the same int key; YAML treats them as duplicates once constructed.
    lines = refused("1: a\n0x1: b\n")
    assert "duplicate key '1' (first defined at line 1)" in lines[0], lines


# -- alias bombs, size and depth ----------------------------------------------------------------


def test_alias_bomb_is_refused_quickly_in_process() -> None:
    start = time.monotonic()
    lines = refused(BOMB)
    assert time.monotonic() - start < 60  # refused by counting nodes, not by expanding them
    assert len(lines) == 1
    assert "alias bomb" in lines[0] and "refusing to load it" in lines[0], lines
    assert lines[0].startswith("floe.yaml:"), lines


def test_alias_bomb_through_the_cli_finishes(tmp_path: Path) -> None:
    (tmp_path / "floe.yaml").write_text(BOMB)
    try:
        proc = floe_subprocess(["validate", "floe.yaml"], cwd=tmp_path, timeout=120)
    except subprocess.TimeoutExpired:  # pragma: no cover - the failure being guarded against
        pytest.fail("floe validate did not finish within 120 s on a billion-laughs document")
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr
    assert "alias bomb" in proc.stderr, proc.stderr
    assert proc.stderr.startswith("floe.yaml:"), proc.stderr


def test_reused_anchors_below_the_limit_are_fine() -> None:
    doc = load_text("base: &b {type: local, path: x}\nothers: [*b, *b, *b]\n", "p.yaml")
    assert doc.data["others"] == [{"type": "local", "path": "x"}] * 3


def test_recursive_alias_is_refused() -> None:
    # A self-referencing anchor: PyYAML composes it into a cyclic node graph.
    lines = refused("a: &a [*a]\n")
    assert len(lines) == 1 and lines[0].startswith("floe.yaml:"), lines


def test_document_bigger_than_one_mib_is_refused(run_cli, tmp_path: Path) -> None:
    big = ("description: " + "x" * (MAX_BYTES + 16) + "\n").encode()
    lines = refused(big)
    assert len(lines) == 1
    assert "larger than 1024 KiB" in lines[0], lines
    assert lines[0].startswith("floe.yaml: "), lines
    result = validate(run_cli, tmp_path, "floe.yaml", big)
    stderr = assert_user_error(result, "floe.yaml")
    assert "larger than 1024 KiB" in stderr[0] and "is this the right file?" in stderr[0]


def test_document_just_under_the_limit_is_not_refused_for_size() -> None:
    text = "# " + "x" * (MAX_BYTES - 64) + "\na: 1\n"
    assert len(text.encode()) <= MAX_BYTES
    assert load_bytes(text.encode(), "floe.yaml").data == {"a": 1}


@pytest.mark.parametrize("text", [
    "[" * 5000 + "]" * 5000,
    "a: " + "{a: " * 5000 + "1" + "}" * 5000,
    "a:\n" + "".join(" " * (i + 1) + f"k{i}:\n" for i in range(1000)),
], ids=["flow-seq", "flow-map", "block-map"])
def test_deep_nesting_is_refused_cleanly(run_cli, tmp_path: Path, text: str) -> None:
    lines = refused(text)
    assert len(lines) == 1
    assert "nested" in lines[0] and "deep" in lines[0], lines
    assert lines[0].startswith("floe.yaml:"), lines
    result = validate(run_cli, tmp_path, "floe.yaml", text)
    assert assert_user_error(result, "floe.yaml") == lines


@pytest.mark.parametrize("depth", [60, 100, 340, 400, 450])
@pytest.mark.parametrize("name, template", [
    ("floe.yaml", PRODUCT_TEXT + "description: {open}x{close}\n"),
    ("floe.yaml", "transforms: {open}{close}\n"),
    ("platform.yaml", PLATFORM_TEXT + "infrastructure: {{deep: {open}x{close}}}\n"),
], ids=["product-extra", "product-transforms", "platform-infrastructure"])
def test_nesting_the_parser_accepts_never_crashes(run_cli, tmp_path: Path, depth: int, name: str,
                                                  template: str) -> None:
    """Depths PyYAML composes must not blow the stack in later stages (schema, secret scan)."""
    text = template.format(open="[" * depth, close="]" * depth)
    result = validate(run_cli, tmp_path, name, text)
    out = result.stdout + result.stderr
    assert "Traceback" not in out and "internal error" not in out, out
    if depth > 64:
        lines = assert_user_error(result, name)
        assert any("nested" in line and "deep" in line for line in lines), lines
    elif name == "platform.yaml":
        # infrastructure: is free-form documentation; shallow enough nesting is valid there.
        assert result.exit_code == 0, out
    else:
        assert_user_error(result, name)


def test_too_deep_nesting_names_where_it_happens() -> None:
    """SPEC §2: every error names file, line, column and the dotted path."""
    text = "metadata:\n  description: " + "[" * 100 + "]" * 100 + "\n"
    lines = refused(text)
    assert len(lines) == 1, lines
    assert "nested more than" in lines[0], lines
    # The loader knows the node where the limit is crossed: on line 2.
    assert lines[0].startswith("floe.yaml:2:"), lines
    assert "metadata.description[0]" in lines[0], lines


# -- encodings and document shapes ---------------------------------------------------------------


@pytest.mark.parametrize("raw, byte", [
    (b"\xff\xfe\x00a: 1\n", 0),
    (b"metadata:\n  name: caf\xe9\n", 21),
    ("a: 1\n".encode("utf-16"), 0),
])
def test_non_utf8_bytes_are_refused(run_cli, tmp_path: Path, raw: bytes, byte: int) -> None:
    lines = refused(raw)
    assert len(lines) == 1
    assert f"not UTF-8 text (byte {byte}); save the file as UTF-8" in lines[0], lines
    assert lines[0].startswith("floe.yaml:"), lines
    result = validate(run_cli, tmp_path, "floe.yaml", raw)
    assert "save the file as UTF-8" in assert_user_error(result, "floe.yaml")[0]


def test_utf8_bom_is_accepted() -> None:
    assert load_bytes("\ufeffa: é\n".encode("utf-8"), "floe.yaml").data == {"a": "é"}


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "\ufeff"],
                         ids=["empty", "blank", "comment", "bom"])
def test_empty_file_is_refused(run_cli, tmp_path: Path, text: str) -> None:
    lines = refused(text)
    assert len(lines) == 1
    assert "file is empty; expected a YAML mapping" in lines[0], lines
    assert lines[0].startswith("floe.yaml:"), lines
    result = validate(run_cli, tmp_path, "floe.yaml", text)
    assert "file is empty" in assert_user_error(result, "floe.yaml")[0]


@pytest.mark.parametrize("name, text, expected", [
    ("floe.yaml", "- apiVersion: floe.dev/v1\n- kind: DataProduct\n",
     "floe.yaml:1:1: a floe.yaml must be a mapping (apiVersion, kind, metadata, transforms, ...)"),
    ("platform.yaml", "- storage\n- compute\n",
     "platform.yaml:1:1: a platform.yaml must be a mapping (apiVersion, kind, metadata, storage, "
     "catalogs, compute, ...)"),
    ("floe.yaml", "just a sentence\n",
     "floe.yaml:1:1: a floe.yaml must be a mapping (apiVersion, kind, metadata, transforms, ...)"),
])
def test_top_level_must_be_a_mapping(run_cli, tmp_path: Path, name: str, text: str,
                                     expected: str) -> None:
    result = validate(run_cli, tmp_path, name, text)
    assert assert_user_error(result, name) == [expected]


@pytest.mark.parametrize("text", ["---\n", "---\n...\n", "~\n", "null\n"])
def test_a_document_with_no_content_is_refused(run_cli, tmp_path: Path, text: str) -> None:
    result = validate(run_cli, tmp_path, "floe.yaml", text)
    lines = assert_user_error(result, "floe.yaml")
    assert len(lines) == 1, lines
    assert "empty" in lines[0] or "must be a mapping" in lines[0], lines


def test_multiple_documents_are_refused(run_cli, tmp_path: Path) -> None:
    text = PRODUCT_TEXT + "---\n" + PRODUCT_TEXT
    second = PRODUCT_TEXT.count("\n") + 1
    lines = refused(text)
    assert len(lines) == 1
    assert lines[0].startswith(f"floe.yaml:{second}:1: "), lines
    assert "expected a single document" in lines[0], lines
    result = validate(run_cli, tmp_path, "floe.yaml", text)
    assert assert_user_error(result, "floe.yaml") == lines


def test_leading_document_marker_is_fine() -> None:
    assert load_text("---\na: 1\n", "floe.yaml").data == {"a": 1}


@pytest.mark.parametrize("text, where, words", [
    ("a: [1, 2\nb: 3\n", "2:2", "expected ',' or ']'"),
    ("metadata:\n  name: x\n   version: 1\n", "3:11", "mapping values are not allowed here"),
    ("a: 'unterminated\n", "2:1", "found unexpected end of stream"),
    ("a:\n\tb: 1\n", "2:1", "found character '\\t' that cannot start any token"),
    ("a: *nope\n", "1:4", "found undefined alias 'nope'"),
])
def test_yaml_syntax_error_reports_line_and_column(run_cli, tmp_path: Path, text: str, where: str,
                                                   words: str) -> None:
    lines = refused(text)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"floe.yaml:{where}: invalid YAML: "), lines
    assert words in lines[0], lines
    result = validate(run_cli, tmp_path, "floe.yaml", text)
    assert assert_user_error(result, "floe.yaml") == lines


# -- merge keys and YAML 1.1 booleans ------------------------------------------------------------


def test_merge_keys_work_and_explicit_keys_win() -> None:
    text = ("compute:\n"
            "  default: &duck\n"
            "    type: duckdb\n"
            "    threads: 2\n"
            "    memory_limit: 1GB\n"
            "  big:\n"
            "    threads: 8\n"
            "    <<: *duck\n")
    doc = load_text(text, "platform.yaml")
    assert doc.data["compute"]["big"] == {"type": "duckdb", "threads": 8, "memory_limit": "1GB"}
    assert doc.data["compute"]["default"] == {"type": "duckdb", "threads": 2, "memory_limit": "1GB"}
    # Errors about the explicit key point at it; about merged ones, at the anchor's lines.
    assert doc.positions[("compute", "big", "threads")] == (7, 5)
    assert doc.positions[("compute", "big", "type")] == (3, 5)


def test_merge_key_list_earlier_mappings_win() -> None:
    text = ("a: &a {x: 1, y: 1}\n"
            "b: &b {y: 2, z: 2}\n"
            "c:\n"
            "  <<: [*a, *b]\n"
            "  z: 3\n")
    assert load_text(text, "p.yaml").data["c"] == {"x": 1, "y": 1, "z": 3}


def test_merge_of_a_non_mapping_is_refused() -> None:
    lines = refused("a: &a just-text\nb:\n  <<: *a\n")
    assert lines == ["floe.yaml:1:4: b.<<: a merge key (<<) must refer to a mapping"]
    # A merged sequence is a list of mappings to merge: each non-mapping item is reported.
    lines = refused("a: &a [1, {x: 1}, 2]\nb:\n  <<: *a\n")
    assert lines == ["floe.yaml:1:8: b.<<: a merge key (<<) must refer to a mapping",
                     "floe.yaml:1:19: b.<<: a merge key (<<) must refer to a mapping"]


def test_merge_keys_validate_through_the_cli(run_cli, tmp_path: Path) -> None:
    # The merging profile follows the anchored one (an alias must follow its anchor).
    text = PLATFORM_TEXT.replace("orchestrator:\n", "  big:\n    <<: *duck\n    threads: 8\norchestrator:\n") \
        .replace("compute:\n  default:\n", "compute:\n  default: &duck\n")
    doc = load_text(text, "platform.yaml")
    assert doc.data["compute"]["big"]["type"] == "duckdb"
    assert doc.data["compute"]["big"]["threads"] == 8
    assert doc.data["compute"]["big"]["path"] == ".floe/warehouse.duckdb"
    result = validate(run_cli, tmp_path, "platform.yaml", text)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "platform.yaml: ok" in result.stdout


def test_unquoted_off_is_the_word_off(run_cli, tmp_path: Path) -> None:
    text = PLATFORM_TEXT.replace("enforcement: warn", "enforcement: off")
    assert text != PLATFORM_TEXT
    parsed, report = parse_platform(load_text(text, "platform.yaml"))
    assert parsed is not None, [str(d) for d in report.items]
    assert parsed.platform.data_architecture.naming.enforcement == "off"
    result = validate(run_cli, tmp_path, "platform.yaml", text)
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stderr == ""


def test_unquoted_on_is_reported_as_written(run_cli, tmp_path: Path) -> None:
    text = PLATFORM_TEXT.replace("enforcement: warn", "enforcement: on")
    result = validate(run_cli, tmp_path, "platform.yaml", text)
    lines = assert_user_error(result, "platform.yaml")
    line = text.splitlines().index("    enforcement: on") + 1
    assert lines == [f"platform.yaml:{line}:5: data_architecture.naming.enforcement: 'on' is not one "
                     "of off, warn, strict"]
    assert "True" not in lines[0]


def test_timestamps_stay_text() -> None:
    doc = load_text("metadata:\n  version: 2024-01-02\n", "floe.yaml")
    assert doc.data["metadata"]["version"] == "2024-01-02"


# -- the file itself -----------------------------------------------------------------------------


def test_missing_file_and_directory(run_cli, tmp_path: Path) -> None:
    result = run_cli(["validate", "nope.yaml"], cwd=tmp_path)
    lines = assert_user_error(result, "nope.yaml")
    assert "file not found" in lines[0], lines
    (tmp_path / "dir.yaml").mkdir()
    result = run_cli(["validate", "dir.yaml"], cwd=tmp_path)
    assert result.exit_code in (1, 2), result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr


def test_subprocess_never_prints_a_traceback_for_unsafe_input(tmp_path: Path) -> None:
    (tmp_path / "deep.yaml").write_text("[" * 5000 + "]" * 5000)
    (tmp_path / "bad.yaml").write_bytes(b"\xff\xfe")
    (tmp_path / "empty.yaml").write_text("")
    proc = floe_subprocess(["validate", "deep.yaml", "bad.yaml", "empty.yaml"], cwd=tmp_path, timeout=60)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 3, lines
    for line, name in zip(lines, ["deep.yaml", "bad.yaml", "empty.yaml"]):
        assert line.startswith(f"{name}:"), lines
