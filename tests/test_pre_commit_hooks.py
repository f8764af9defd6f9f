"""The pre-commit hooks floe publishes (``.pre-commit-hooks.yaml``) run and catch mistakes.

pre-commit itself is not installed here (it would build an environment from the package
index); the test does what pre-commit does with a hook: select the repository's files with
the hook's ``files`` pattern, then run its ``entry`` (plus the files when ``pass_filenames``)
from the repository's root, with the installed ``floe`` on PATH.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

from conftest import ROOT

HOOKS = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
BY_ID = {hook["id"]: hook for hook in HOOKS}


def run_hook(hook: dict, repo: Path) -> subprocess.CompletedProcess:
    files = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*")
                   if p.is_file() and ".floe" not in p.parts)
    selected = [f for f in files if re.search(hook["files"], f)]
    assert selected, f"{hook['id']} selects no file of the product"
    argv = shlex.split(hook["entry"]) + (selected if hook.get("pass_filenames", True) else [])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(argv, cwd=repo, env=env, capture_output=True, text=True, timeout=180)


def test_the_manifest_declares_floe_validate_and_floe_compile_as_pre_commit_expects():
    assert set(BY_ID) == {"floe-validate", "floe-compile"}
    for hook in HOOKS:
        assert {"id", "name", "entry", "language"} <= set(hook), hook
        assert hook["language"] == "python"  # installs this repository's package, giving `floe`
        re.compile(hook["files"])
    assert BY_ID["floe-validate"]["pass_filenames"] is True
    assert BY_ID["floe-compile"]["pass_filenames"] is False  # compiles the product as a whole


def test_floe_validate_hook_passes_a_good_product_and_fails_a_typo_with_its_location(demo):
    hook = BY_ID["floe-validate"]
    result = run_hook(hook, demo)
    assert result.returncode == 0, result.stderr
    assert "floe.yaml: ok (product)" in result.stdout
    assert "platform/local/platform.yaml: ok (platform)" in result.stdout
    floe_yaml = demo / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text().replace("transforms:", "transfroms:"))
    result = run_hook(hook, demo)
    assert result.returncode == 1
    assert re.search(r"^floe\.yaml:\d+:\d+: transfroms: .*did you mean 'transforms'", result.stderr, re.M)


def test_floe_compile_hook_compiles_the_product_and_fails_on_a_broken_platform(demo):
    hook = BY_ID["floe-compile"]
    result = run_hook(hook, demo)
    assert result.returncode == 0, result.stderr
    assert (demo / ".floe" / "compiled_artifacts.json").is_file()
    platform = demo / "platform" / "local" / "platform.yaml"
    platform.write_text(platform.read_text().replace("type: duckdb", "type: duckdbb"))
    result = run_hook(hook, demo)
    assert result.returncode == 1
    assert "did you mean 'duckdb'" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_docs_snippet_uses_the_published_hook_ids_and_the_readme_links_it():
    snippet = yaml.safe_load(re.search(r"```yaml\n(.*?)```", (ROOT / "docs" / "pre-commit.md").read_text(),
                                       re.S).group(1))
    [repo] = snippet["repos"]
    assert {hook["id"] for hook in repo["hooks"]} == set(BY_ID)
    assert "docs/pre-commit.md" in (ROOT / "README.md").read_text()
