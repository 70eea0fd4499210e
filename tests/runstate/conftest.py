"""Fixtures of the run-state tests: the stepping driver of ``carry_steps.py`` (loaded by path: tests import in
importlib mode) and a skip when the Binance venue is not installed."""

from __future__ import annotations

import importlib.util
import sys
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType

import pytest

DRIVER = Path(__file__).with_name("carry_steps.py")


def _load_driver() -> ModuleType:
    mod = sys.modules.get("runstate_carry_steps")
    if mod is None:
        spec = importlib.util.spec_from_file_location("runstate_carry_steps", DRIVER)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = mod
        spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def carry() -> ModuleType:
    """The ``carry_steps`` driver module (``CarryRun``, ``carry_scenario``)."""
    if not any(ep.name == "binance" for ep in entry_points(group="basis_core.venues")):
        pytest.skip("basis-venue-binance is not installed")
    return _load_driver()
