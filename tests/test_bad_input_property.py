"""Property: bad input of any shape gets a clear error and exit 1, never a traceback (SPEC §9).

Starts from the valid demo files (as text) and mutates them the way people and editors break
YAML, plus fully random text and bytes; every result goes through ``floe validate FILE`` in
process. Whatever comes in, the CLI must exit 0 or 1, print no traceback or "internal error",
and print each problem on its own stderr line starting with the file name.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st

from floe.cli import cli

from conftest import EXAMPLE

PRODUCT_TEXT = (EXAMPLE / "floe.yaml").read_text()
PLATFORM_TEXT = (EXAMPLE / "platform" / "local" / "platform.yaml").read_text()
SOURCES = {"floe.yaml": PRODUCT_TEXT, "platform.yaml": PLATFORM_TEXT}

def examples(n: int) -> int:
    """``n`` examples, or the active hypothesis profile's count when that is larger.

    ``FLOE_HYPOTHESIS_PROFILE=deep`` (registered in conftest.py) runs every target here at
    10,000 examples or more; CI's default profile keeps the sizes below.
    """
    return max(n, settings().max_examples)


# Sized so that the whole module runs in well under a minute on two cores (~20 ms per product
# validation, most of it the secret scan of a never-seen text).
SETTINGS = settings(
    max_examples=examples(500),
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

#: Fragments that mean something to a YAML scanner, parser or floe's loader.
YAML_SIGNIFICANT = [
    ":", ": ", "-", "- ", "? ", "[", "]", "{", "}", ",", "&a ", "*a", "*nope", "!", "!!", "!Ref ",
    "!!python/object/apply:os.system [\"echo hi\"]", "!!str ", "!!int ", "!!binary ", "!!set ",
    "|", "|-", ">", "'", '"', "%YAML 1.1\n", "%TAG ! tag:x,2000:\n", "@", "`", "#", "\t", "\n",
    "\r", "\r\n", "  ", "---\n", "...\n", "<<: ", "<<: *a\n", "\\", "\\x00", "\x00", "\ufeff",
    "\u2028", "\x85", "\U0001f600", "${SECRET}", "{secret_ref: x}", "~", "null", "0x", ".inf",
]

#: Values of every YAML type to put where a scalar was.
OTHER_VALUES = [
    "", "~", "null", "true", "false", "off", "on", "yes", "no", "0", "-1", "007", "0x1F", "0o17",
    "1e400", "-.inf", ".nan", "1_000", "3.14", "2024-01-02", "2024-01-02T03:04:05Z", "12:30:00",
    "[]", "{}", "[1, 2]", "{a: 1}", "[[[[]]]]", "{a: {b: {c: {}}}}", "'quoted'", '"esc\\u00e9"',
    '"\\x00"', "'a\nb'", "|\n  block\n", ">\n  folded\n", "!!binary aGk=", "!!python/name:os.system",
    "!Ref x", "&anchor v", "*nope", "x" * 300, "ünïcødé", "${VAR}", "{secret_ref: s}",
    "AKIAIOSFODNN7EXAMPLE", "-", "?", ":", "@x", "`x`", "%x",
]


# -- strategies ---------------------------------------------------------------------------------

scalar_values = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=40),
)
yaml_values = st.recursive(
    scalar_values,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(st.text(max_size=12), children, max_size=4)),
    max_leaves=12,
)


@st.composite
def mutation(draw, text: str) -> str:
    """Apply one edit a person, an editor or a bad merge could make."""
    lines = text.split("\n")
    kind = draw(st.sampled_from(["delete", "duplicate", "swap", "insert", "retype", "truncate",
                                 "unicode", "indent", "replace_char"]))
    if kind == "delete" and len(lines) > 1:
        del lines[draw(st.integers(0, len(lines) - 1))]
        return "\n".join(lines)
    if kind == "duplicate":
        i = draw(st.integers(0, len(lines) - 1))
        lines.insert(draw(st.integers(0, len(lines))), lines[i])
        return "\n".join(lines)
    if kind == "swap" and len(lines) > 1:
        i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
        lines[i], lines[j] = lines[j], lines[i]
        return "\n".join(lines)
    if kind == "insert":
        at = draw(st.integers(0, len(text)))
        piece = draw(st.one_of(st.sampled_from(YAML_SIGNIFICANT),
                               st.text(alphabet=st.sampled_from(":-[]{},&*!|>'\"%@`#?\t\n "),
                                       min_size=1, max_size=8)))
        return text[:at] + piece + text[at:]
    if kind == "retype":
        candidates = [i for i, line in enumerate(lines) if ":" in line and not line.lstrip().startswith("#")]
        if candidates:
            i = draw(st.sampled_from(candidates))
            key, _, _ = lines[i].partition(":")
            value = draw(st.one_of(st.sampled_from(OTHER_VALUES), st.text(max_size=20)))
            lines[i] = f"{key}: {value}"
            return "\n".join(lines)
    if kind == "truncate":
        return text[: draw(st.integers(0, len(text)))]
    if kind == "unicode":
        at = draw(st.integers(0, len(text)))
        return text[:at] + draw(st.text(min_size=1, max_size=6)) + text[at:]
    if kind == "indent" and lines:
        i = draw(st.integers(0, len(lines) - 1))
        delta = draw(st.sampled_from([-2, -1, 1, 2, 4]))
        lines[i] = lines[i][-delta:] if delta < 0 else " " * delta + lines[i]
        return "\n".join(lines)
    if kind == "replace_char" and text:
        at = draw(st.integers(0, len(text) - 1))
        return text[:at] + draw(st.characters()) + text[at + 1:]
    return text


@st.composite
def mutated_file(draw) -> tuple[str, str]:
    """``(file name, text)``: a demo file after one to four edits."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    text = SOURCES[name]
    for _ in range(draw(st.integers(1, 4))):
        text = draw(mutation(text))
    return name, text


@st.composite
def restructured_file(draw) -> tuple[str, str]:
    """A demo file, parsed, with one value anywhere replaced by a random value, dumped again."""
    name = draw(st.sampled_from(sorted(SOURCES)))
    data = yaml.safe_load(SOURCES[name])
    paths = list(_paths(data))
    path = draw(st.sampled_from(paths))
    value = draw(yaml_values)
    if not path:
        data = value
    else:
        parent = data
        for part in path[:-1]:
            parent = parent[part]
        if draw(st.booleans()) and isinstance(parent, dict):
            parent[draw(st.text(max_size=12))] = value  # an extra (often unknown) key
        else:
            parent[path[-1]] = value
    return name, yaml.safe_dump(data, allow_unicode=draw(st.booleans()), sort_keys=False)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, prefix + (i,))


# -- the check ----------------------------------------------------------------------------------

_counter = itertools.count()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bad-input")


def write(workdir: Path, name: str, content: str | bytes) -> Path:
    """A fresh directory per example, so names and caches never leak between examples."""
    directory = workdir / str(next(_counter))
    directory.mkdir()
    path = directory / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_bytes(content.encode("utf-8", "surrogatepass"))
    return path


def validate(path: Path):
    return CliRunner().invoke(cli, ["validate", str(path)])


def check(path: Path, result) -> None:
    out = result.stdout + result.stderr
    note(f"file: {path.name}\ncontent: {path.read_bytes()!r}")
    note(f"exit {result.exit_code}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"uncaught {type(result.exception).__name__}: {result.exception}")
    assert result.exit_code in (0, 1), f"exit code {result.exit_code}"
    assert "Traceback" not in out
    assert "internal error" not in out
    file = str(path)
    if result.exit_code == 1:
        lines = [line for line in result.stderr.split("\n") if line.strip()]
        assert lines, "exit 1 without saying why on stderr"
        for line in lines:
            assert line.startswith(f"{file}:"), f"stderr line does not start with the file name: {line!r}"
    else:
        assert f"{file}: ok" in result.stdout


@SETTINGS
@given(case=mutated_file())
def test_mutated_demo_files_never_crash(workdir: Path, case: tuple[str, str]) -> None:
    name, text = case
    path = write(workdir, name, text)
    check(path, validate(path))


@SETTINGS
@given(case=restructured_file())
def test_demo_files_with_any_value_replaced_never_crash(workdir: Path, case: tuple[str, str]) -> None:
    name, text = case
    path = write(workdir, name, text)
    check(path, validate(path))


@settings(SETTINGS, max_examples=examples(400))
# Inputs that once crashed floe, always tried first.
@example(name="floe.yaml", content="\x1f")
@example(name="floe.yaml", content="? '\n\n  '\n: null\n")
@example(name="floe.yaml", content="!!int")
@example(name="platform.yaml", content="storage: !!bool maybe\n")
@example(name="floe.yaml", content="? !!timestamp x\n: 1\n")
@example(name="floe.yaml", content="transforms: " + "[" * 400 + "]" * 400)
@given(name=st.sampled_from(["floe.yaml", "platform.yaml", "manifest.yaml", "other.yaml"]),
       content=st.one_of(st.text(max_size=300), st.binary(max_size=300),
                         st.lists(st.sampled_from(YAML_SIGNIFICANT + ["a", "b", "1", " "]),
                                  max_size=40).map("".join)))
def test_random_text_and_bytes_never_crash(workdir: Path, name: str, content: str | bytes) -> None:
    path = write(workdir, name, content)
    check(path, validate(path))


@settings(SETTINGS, max_examples=examples(100))
@given(case=st.one_of(mutated_file(), restructured_file()))
def test_validation_is_deterministic(workdir: Path, case: tuple[str, str]) -> None:
    name, text = case
    path = write(workdir, name, text)
    first = validate(path)  # also fills the secret-scan cache
    second = validate(path)  # reads it
    note(f"content: {text!r}")
    assert (first.exit_code, first.stdout, first.stderr) == (second.exit_code, second.stdout, second.stderr)


def test_the_unmutated_demo_files_are_valid(workdir: Path) -> None:
    """The starting points are valid, so every failure above is caused by the mutation."""
    for name, text in SOURCES.items():
        path = write(workdir, name, text)
        result = validate(path)
        assert result.exit_code == 0, result.stdout + result.stderr

