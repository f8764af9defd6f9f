"""``floe init``: scaffold a complete, working product that runs on a laptop with no server."""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

from floe.diagnostics import FloeError

#: Template files whose names or contents are rewritten on the way out.
_RENAMES = {"floe.yaml.tmpl": "floe.yaml", "gitignore": ".gitignore"}


def product_name(directory: Path) -> str:
    """A valid product name from a directory name: ``My Product`` → ``my-product``."""
    name = re.sub(r"[^a-z0-9_-]+", "-", directory.resolve().name.lower()).strip("-_")
    return name[:63] or "my-product"


def scaffold(directory: Path, name: str | None = None, force: bool = False) -> list[Path]:
    """Write the template product into ``directory``; return the files written.

    :raises FloeError: when the directory is not empty and ``force`` is false.
    """
    directory = Path(directory)
    if directory.exists() and not directory.is_dir():
        raise FloeError(f"{directory}: exists and is not a directory")
    if directory.exists() and any(directory.iterdir()) and not force:
        raise FloeError(f"{directory}: directory is not empty; choose an empty or new directory, "
                        "or pass --force to write the template over what is there")
    name = name or product_name(directory)
    if not re.fullmatch(r"[a-z0-9]([a-z0-9_-]{0,61}[a-z0-9])?", name):
        raise FloeError(f"'{name}' is not a valid product name: use lowercase letters, digits, "
                        "'-' and '_', starting and ending with a letter or digit")
    written = []
    template = resources.files("floe") / "templates" / "product"
    with resources.as_file(template) as root:
        for source in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            relative = source.relative_to(root)
            target = directory / relative.parent / _RENAMES.get(relative.name, relative.name)
            target.parent.mkdir(parents=True, exist_ok=True)
            if relative.name == "floe.yaml.tmpl":
                target.write_text(source.read_text().replace("{name}", name))
            else:
                shutil.copyfile(source, target)
            written.append(target)
    return written
