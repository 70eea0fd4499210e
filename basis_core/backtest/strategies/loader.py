"""Find a strategy class from a reference string, as scenarios and ``basis backtest --strategy`` give it.

A reference is one of (tried in this order):

- a built-in name: ``cash_and_carry``, ``staked_basis``, ``leveraged_staking_loop``, ``restaked_basis``;
- a file and a class: ``path/to/file.py:MyStrategy`` (relative paths resolve against ``base_dir``, the
  scenario file's directory, then the working directory);
- a module and a class: ``my_package.strategies:MyStrategy`` (the module must be importable);
- the name of an entry point in the group ``basis_core.strategies`` (an installed distribution declares
  ``[project.entry-points."basis_core.strategies"] my_strategy = "my_package.strategies:MyStrategy"``).

The class must subclass :class:`~basis_core.backtest.strategies.base.Strategy`. Every failure raises
:class:`~basis_core.errors.StrategyLoadError` saying what was tried and why it failed.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any

from basis_core.backtest.strategies.base import Strategy
from basis_core.errors import StrategyLoadError

#: entry-point group under which installed distributions publish strategy classes
ENTRY_POINT_GROUP = "basis_core.strategies"


def entry_point_strategies() -> dict[str, Any]:
    """Entry points of the group :data:`ENTRY_POINT_GROUP`: name -> ``importlib.metadata.EntryPoint``."""
    from importlib.metadata import entry_points

    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def _check(cls: Any, ref: str) -> type[Strategy]:
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyLoadError(f"strategy {ref!r}: {cls!r} is not a subclass of "
                                "basis_core.backtest.strategies.Strategy")
    return cls


def _load_file(path: Path, ref: str) -> Any:
    """Import a Python file under a private module name (the same file twice: one module)."""
    resolved = path.resolve()
    mod_name = "basis_user_strategy_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    spec = importlib.util.spec_from_file_location(mod_name, resolved)
    if spec is None or spec.loader is None:
        raise StrategyLoadError(f"strategy {ref!r}: {path} cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[mod_name] = module  # dataclasses / pydantic look the module up while it executes
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        raise StrategyLoadError(f"strategy {ref!r}: importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _attr(module: Any, attr: str, ref: str, where: str) -> Any:
    obj = module
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise StrategyLoadError(f"strategy {ref!r}: {where} has no attribute {attr!r}") from None
    return obj


def load_strategy(ref: str, base_dir: str | Path | None = None) -> type[Strategy]:
    """The strategy class named by ``ref`` (see the module docstring); :class:`StrategyLoadError` otherwise."""
    from basis_core.backtest.strategies import STRATEGIES

    ref = str(ref).strip()
    if not ref:
        raise StrategyLoadError("strategy: the name is empty")
    if ref in STRATEGIES:
        return STRATEGIES[ref]
    target, sep, attr = ref.rpartition(":")
    if sep and target and attr:
        if target.endswith(".py") or "/" in target or "\\" in target:
            path = Path(target).expanduser()
            candidates = [path] if path.is_absolute() else (
                [Path(base_dir) / path] if base_dir is not None else []) + [path]
            found = next((c for c in candidates if c.is_file()), None)
            if found is None:
                tried = ", ".join(str(c) for c in candidates)
                raise StrategyLoadError(f"strategy {ref!r}: no such file ({tried})")
            return _check(_attr(_load_file(found, ref), attr, ref, str(found)), ref)
        try:
            module = importlib.import_module(target)
        except ImportError as exc:
            raise StrategyLoadError(f"strategy {ref!r}: cannot import module {target!r}: {exc}") from exc
        except Exception as exc:
            raise StrategyLoadError(f"strategy {ref!r}: importing {target!r} failed: "
                                    f"{type(exc).__name__}: {exc}") from exc
        return _check(_attr(module, attr, ref, f"module {target!r}"), ref)
    eps = entry_point_strategies()
    if ref in eps:
        try:
            cls = eps[ref].load()
        except Exception as exc:
            raise StrategyLoadError(f"strategy {ref!r}: entry point {eps[ref].value!r} failed to load: "
                                    f"{type(exc).__name__}: {exc}") from exc
        return _check(cls, ref)
    known = sorted({*STRATEGIES, *eps})
    raise StrategyLoadError(f"unknown strategy {ref!r}; known: {', '.join(known)}; or give "
                            "path/to/file.py:ClassName or package.module:ClassName")


def strategy_name(cls: type[Strategy]) -> str:
    """The display name of a strategy class: its ``name`` or, when empty, the class name."""
    return cls.name or cls.__name__


__all__ = ["ENTRY_POINT_GROUP", "entry_point_strategies", "load_strategy", "strategy_name"]
