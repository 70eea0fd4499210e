"""docs/writing-a-venue-plugin.md section 10 runs as printed: the outside OKX venue (on the core's CEX building
blocks, with its own data files) loads OKX files through its contribution, adds its series to the synthetic
market, backtests a carry on its own 1-minute data and passes the conformance kit."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.data import load_data_dir, synthetic_market
from basis_core.data.contrib import Contributor, installed_contributors
from basis_core.testing.conformance import ConformanceSuite, run_suite_test
from basis_core.testing.conformance_harness import VenueTarget

ROOT = Path(__file__).resolve().parents[2]
TEXT = (ROOT / "docs" / "writing-a-venue-plugin.md").read_text()


@pytest.fixture(scope="module")
def okx(import_guide_example: Callable[[str, str], Any]) -> Any:
    blocks = re.findall(r"```python\n(# example: okx-venue\n.*?)```", TEXT, flags=re.S)
    assert len(blocks) == 1, "the guide must have exactly one '# example: okx-venue' block"
    return import_guide_example("guide_okx_venue", blocks[0]).OkxVenue


def _write(d: Path) -> None:
    n = 600
    rng = np.random.default_rng(1)
    px = np.round(2500 * np.exp(np.cumsum(rng.standard_normal(n) * 0.001)), 2)
    ts = pd.Timestamp("2025-03-01T00:00:00Z").value // 10**6 + np.arange(n) * 60_000
    for name, p in (("OKX_ETH-USDT_candles_1m_2025-03.csv", px), ("OKX_ETH-USDT-SWAP_candles_1m_2025-03.csv", px)):
        pd.DataFrame({"ts": ts, "o": p, "h": p, "l": p, "c": p}).to_csv(d / name, index=False)
    pd.DataFrame({"fundingTime": [ts[0], ts[0] + 8 * 3_600_000], "fundingRate": ["0.0001", "0.0002"]}).to_csv(
        d / "OKX_ETH-USDT-SWAP_funding_2025-03.csv", index=False)


def test_guide_okx_reads_its_own_files_and_trades_on_them(okx: type, tmp_path: Path) -> None:
    _write(tmp_path)
    market = load_data_dir(tmp_path, contributions=okx.market_data_files())
    assert market.names() == ["funding:okx:ETH/USDT:USDT", "perp:okx:ETH/USDT:USDT", "spot:okx:ETH/USDT"]
    m = ExecutionInterfaceManager({"initial_balances": {"okx:swap:USDT": "10000"}}, market, "backtest",
                                  autoload=False, plugins=[okx])
    ts = "2025-03-01T05:00:00Z"
    d = m.execute(ts, {"venue": "okx", "operation": "perp_trade", "symbol": "ETH/USDT:USDT", "side": "sell",
                       "amount": "1.25"})
    mark = market.get_data(ts).get("perp:okx:ETH/USDT:USDT")
    assert d.positions["okx:perp:ETH/USDT:USDT"] == Decimal("-1.25")
    assert d.fill_price is not None and abs(d.fill_price / mark - 1) < Decimal("0.001")
    assert m.venues()[0]["rules"]["ETH/USDT:USDT"]["step"] == "0.01"


def test_guide_okx_contributes_synthetic_series(okx: type) -> None:
    plugins = [(c, cls) for c, cls in installed_contributors() if c.name != "okx"]
    market = synthetic_market(hours=48, plugins=[*plugins, (Contributor("okx", "guide"), okx)])
    assert market.has("perp:okx:ETH/USDT:USDT") and market.has("funding:okx:ETH/USDT:USDT")


@pytest.mark.parametrize("test", [n for n, _ in inspect.getmembers(ConformanceSuite, inspect.isfunction)
                                  if n.startswith("test_") and n != "test_no_live_imports_in_backtest"])
def test_guide_okx_passes_the_kit(okx: type, test: str, caplog: pytest.LogCaptureFixture) -> None:
    run_suite_test(VenueTarget("okx", okx), test, caplog=caplog)
