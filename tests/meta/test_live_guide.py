"""docs/live.md stays honest: its configuration example runs as printed (credentials from the environment, the
venue at a local emulator) and the calls the page names do what it says."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from basis_venue_binance.testing.emulator import BinanceEmulator

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "live.md"
KEY, SECRET = "guide-key-0123456789abcdef0123456789abcdef", "guide-secret-fedcba9876543210fedcba9876543210"
TS = "2025-06-01T00:00:00Z"


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(KEY, SECRET, spot_balances={"USDT": D(100_000), "ETH": D(10)},
                         futures_balances={"USDT": D(50_000)}, prices={"ETHUSDT": D(3000), "BTCUSDT": D(60_000)}) as e:
        yield e


def _example() -> str:
    (block,) = re.findall(r"```python\n(from basis_core import ExecutionInterfaceManager\n.*?)```",
                          GUIDE.read_text(), flags=re.S)
    return block


def test_the_configuration_example_runs_and_the_named_calls_work(emu: BinanceEmulator, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BASIS_VENUE_CONFIG__BINANCE__API_KEY", KEY)
    monkeypatch.setenv("BASIS_VENUE_CONFIG__BINANCE__API_SECRET", SECRET)
    monkeypatch.setenv("BASIS_VENUE_CONFIG__BINANCE__BASE_URL", emu.base_url)
    monkeypatch.chdir(tmp_path)  # the example's relative journal path lands here
    scope: dict[str, Any] = {}
    exec(_example(), scope)
    m = scope["m"]
    rest = m.execute(TS, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy",
                          "amount": "0.1", "order_type": "limit", "price": "2900", "client_id": "my-order"})
    assert rest.status == "open" and (tmp_path / "state" / "journal.sqlite").exists()
    venue = m.venue("binance")
    assert list(venue.current_orders) == [rest.order_id]
    emu.fill_order("my-order")
    (fill,) = m.advance_to(TS)
    assert fill.details["resting"] is True and fill.fill_amount == D("0.1")
    status = venue.backend.order_status("ETH/USDT", client_id="my-order")
    assert status is not None and status.status == "closed"
    assert m.get_balances(TS, "binance")["binance:spot:ETH"] == emu.spot_balance("ETH")[0]
    with pytest.raises(Exception, match="max_notional"):  # the example's USD limit per instruction
        m.execute(TS, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy",
                       "amount": "100"})


def test_a_named_venue_without_credentials_fails_at_construction_naming_the_setting(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from basis_core.errors import ConfigError

    monkeypatch.delenv("BASIS_VENUE_CONFIG__BINANCE__API_KEY", raising=False)
    monkeypatch.delenv("BASIS_VENUE_CONFIG__BINANCE__API_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="api_key"):
        exec(_example(), {})
