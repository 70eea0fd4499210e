"""Routing: the manager's plugin manager and its precomputed per-(venue, hook) callers.

:class:`HookRegistry` is pluggy's ``PluginManager`` that tells its owner when the plugin set changes,
so cached routes are dropped on every (un)registration, including a host app's own wrapper
registered straight on ``manager.pm``. A :class:`Route` calls one venue's implementation of one hook
with every non-venue plugin's wrappers around it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from types import ModuleType
from typing import Any, cast
from weakref import WeakKeyDictionary

import pluggy

from basis_core.deltas import ExecutionDeltas
from basis_core.hookspecs import OPERATION_HOOKS
from basis_core.instructions import MODELS
from basis_core.isolation import KeySpace
from basis_core.wrappers import CoreWrapper, run_direct

#: pluggy's own call loop (a plugin manager's ``_inner_hookexec`` until tracing or call monitoring replaces it)
_PLAIN_HOOKEXEC = pluggy.PluginManager("basis_core.routing")._inner_hookexec
#: hook implementation options by plugin class and attribute name (None: not a hook implementation), shared by
#: every registry: a class's attributes are looked up once, not for each manager that registers an instance of it
_OPTS_BY_CLASS: WeakKeyDictionary[type, dict[str, Any]] = WeakKeyDictionary()


class HookRegistry(pluggy.PluginManager):
    """A ``pluggy.PluginManager`` calling ``on_change()`` after every register, unregister and
    ``add_hookspecs`` (each can change the implementations of a hook)."""

    def __init__(self, project_name: str, on_change: Callable[[], None]) -> None:
        super().__init__(project_name)
        self._on_change = on_change

    def parse_hookimpl_opts(self, plugin: Any, name: str) -> Any:
        """pluggy's answer, remembered per class for an instance's class attributes (pluggy asks for every name in
        ``dir(plugin)``, each a static attribute lookup: most of a manager's construction). Modules, classes and
        instance attributes are looked up every time."""
        cls = type(plugin)
        if isinstance(plugin, type | ModuleType) or name in getattr(plugin, "__dict__", ()):
            return super().parse_hookimpl_opts(plugin, name)
        by_name = _OPTS_BY_CLASS.get(cls)
        if by_name is None:
            by_name = _OPTS_BY_CLASS[cls] = {}
        if name not in by_name:
            by_name[name] = super().parse_hookimpl_opts(plugin, name)
        opts = by_name[name]
        return None if opts is None else dict(opts)

    def register(self, plugin: Any, name: str | None = None) -> str | None:
        try:
            return super().register(plugin, name)
        finally:
            self._on_change()

    def unregister(self, plugin: Any = None, name: str | None = None) -> Any:
        try:
            return super().unregister(plugin, name)
        finally:
            self._on_change()

    def add_hookspecs(self, module_or_class: Any) -> None:
        try:
            super().add_hookspecs(module_or_class)
        finally:
            self._on_change()


class Route:
    """A precomputed subset hook caller: one venue's implementation plus every non-venue plugin
    (the core's and host apps' wrappers) of one hook.

    Same semantics as ``pm.subset_hook_caller(hook, remove_plugins=other_venues)`` but without
    re-filtering the implementations on every call. The manager drops its routes whenever the plugin
    set changes (:class:`HookRegistry`); as a second guard a route rebuilds itself when the hook's
    implementation list changes length.
    """

    __slots__ = ("_core", "_exec", "_fast", "_impls", "_keys", "_model", "_n", "_orig", "_pm", "_single", "_subset",
                 "name")

    def __init__(self, pm: pluggy.PluginManager, hook: str, remove: list[Any], core: CoreWrapper,
                 keys: KeySpace | None = None) -> None:
        self._subset = pm.subset_hook_caller(hook, remove_plugins=remove)
        self._keys = keys  # the venue's key namespaces (checked on every result it returns)
        self._orig = getattr(pm.hook, hook)
        self._exec = pm._hookexec
        self._pm = pm
        self._core = core
        op = next((o for o, h in OPERATION_HOOKS.items() if h == hook), None)
        self._model = MODELS.get(op) if op else None
        self.name = hook
        self._refresh()

    def _refresh(self) -> None:
        self._impls = self._subset.get_hookimpls()
        self._n = len(self._orig.get_hookimpls())
        # fast path: exactly the core wrapper around one plain implementation taking (timestamp, instruction)
        self._fast = None
        # queries: exactly one plain implementation taking (timestamp, instruction) and no wrapper at all
        self._single = None
        if len(self._impls) == 1:
            impl = self._impls[0]
            if (not impl.wrapper and not impl.hookwrapper and not impl.kwargnames
                    and tuple(impl.argnames) == ("timestamp", "instruction")):
                self._single = impl.function
        if self._model is not None and len(self._impls) == 2:
            wrap, impl = sorted(self._impls, key=lambda i: not i.wrapper)
            if (wrap.wrapper and wrap.plugin is self._core and not impl.wrapper and not impl.hookwrapper
                    and tuple(impl.argnames) == ("timestamp", "instruction")):
                self._fast = impl.function

    def __call__(self, timestamp: Any = None, instruction: Any = None) -> Any:
        """Call the hook (any hook: queries, estimates); no ledger transaction of its own."""
        if len(self._orig._hookimpls) != self._n:
            self._refresh()
        single = self._single
        if single is not None and self._pm._inner_hookexec is _PLAIN_HOOKEXEC:  # pluggy would call it alone: direct
            return single(timestamp, instruction)
        return self._exec(self.name, self._impls, {"timestamp": timestamp, "instruction": instruction}, True)

    def runner(self) -> Callable[[Any, Any], ExecutionDeltas]:
        """``f(timestamp, instruction)`` executing one operation: :func:`run_direct` bound to this route
        when the core wrapper is the only wrapper (no pluggy machinery per call), else :meth:`run`."""
        if self._fast is not None and self._model is not None:
            return partial(run_direct, self._core.manager, self.name, self._model, self._fast, self._keys)
        return self.run

    def run(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        """Execute one operation instruction through pluggy (other wrappers present) in its own ledger
        transaction (backtest): all or nothing."""
        if len(self._orig._hookimpls) != self._n:
            self._refresh()
        ledger = self._core.manager.ledger
        kwargs = {"timestamp": timestamp, "instruction": instruction}
        if ledger is None:
            return cast(ExecutionDeltas, self._exec(self.name, self._impls, kwargs, True))
        with ledger.transaction():
            return cast(ExecutionDeltas, self._exec(self.name, self._impls, kwargs, True))
