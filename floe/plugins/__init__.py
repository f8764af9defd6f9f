"""floe's plugin interface: what a plugin author imports.

A plugin is a module with functions marked ``@hookimpl``, published under the entry-point
group of its kind (``floe.storage``, ``floe.catalog``, ``floe.compute``, ``floe.credentials``,
``floe.secrets``, ``floe.orchestrator``); the entry-point name is the ``type`` users write.
See ``docs/plugins.md`` for a worked example and :mod:`floe.plugins.hookspecs` for the hooks.
"""

from floe.plugins.context import ResolveContext
from floe.plugins.hookspecs import hookimpl
from floe.plugins.manager import PLUGIN_KINDS, Plugin, PluginError, PluginFailure, PluginInfo, PluginRegistry

__all__ = ["PLUGIN_KINDS", "Plugin", "PluginError", "PluginFailure", "PluginInfo", "PluginRegistry", "ResolveContext", "hookimpl"]
