"""Build throwaway "site-packages" folders holding fake installed distributions.

A distribution is a ``<name>-<version>.dist-info`` folder with METADATA and entry_points.txt
beside its modules; that is all importlib.metadata and stevedore look at. Tests put such a
folder on PYTHONPATH of a real ``floe`` subprocess, so discovery runs exactly as after
``pip install``, without installing anything into the test environment.
"""

from __future__ import annotations

import textwrap
from pathlib import Path


def add_distribution(site: Path, name: str, version: str, entry_points: dict[str, dict[str, str]],
                     modules: dict[str, str]) -> None:
    """Write one distribution: ``entry_points`` is ``{group: {name: target}}``, ``modules``
    maps a module file name (``my_plugin.py``) to its source."""
    site.mkdir(parents=True, exist_ok=True)
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    lines = []
    for group, items in entry_points.items():
        lines.append(f"[{group}]")
        lines += [f"{key} = {target}" for key, target in items.items()]
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    for file_name, source in modules.items():
        (site / file_name).write_text(textwrap.dedent(source))


GOOD_COMPUTE = '''
    import attrs
    from floe.plugins import hookimpl

    @attrs.frozen
    class Settings:
        database: str

    @hookimpl
    def floe_compute_settings():
        """Settings of the test engine."""
        return Settings

    @hookimpl
    def floe_compute_resolve(settings, context):
        """Resolve to a dbt profile."""
        return {"dbt_profile": {"type": "testengine", "database": settings.database}}
'''
