"""Fixtures for the core's tests: managers on the synthetic market with the `paper` test venue."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider, synthetic_market

T0 = "2025-02-01T00:00:00Z"


@pytest.fixture(scope="session")
def market() -> DataProvider:
    return synthetic_market()


@pytest.fixture
def manager(market: DataProvider) -> ExecutionInterfaceManager:
    """Autoloaded manager (the paper venues are installed through real entry points)."""
    return ExecutionInterfaceManager(
        config={"initial_balances": {"paper:spot:USDT": "100000", "paper2:spot:USDT": "50000"},
                "venues": ["paper", "paper2"]},
        data_provider=market, execution_mode="backtest")


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., None]]:
    """Install a distribution into a temporary sys.path entry: a real *.dist-info with entry points."""
    root = tmp_path / "site"
    root.mkdir()
    monkeypatch.syspath_prepend(str(root))
    added: list[str] = []

    def make(dist: str, entry_points: dict[str, str], modules: dict[str, str]) -> None:
        info = root / f"{dist.replace('-', '_')}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 0.1\n")
        eps = "".join(f"{k} = {v}\n" for k, v in entry_points.items())
        (info / "entry_points.txt").write_text(f"[basis_core.venues]\n{eps}")
        for name, src in modules.items():
            (root / f"{name}.py").write_text(textwrap.dedent(src))
            added.append(name)

    yield make
    for name in added:
        sys.modules.pop(name, None)
