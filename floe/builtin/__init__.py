"""Plugins built into floe's core distribution.

They are registered through entry points in floe's own ``pyproject.toml`` and load exactly like
third-party plugins: storage ``local`` and ``s3``, the embedded ``sqlite`` Iceberg catalog, the
``env`` secret backend and the credential modes.
"""
