"""Hyperliquid in backtest: spot ETH/USDC and USDC perps with the base-tier fees (spot fee in the
received token, perp fee in USDC), the size / 5-significant-figure price rules, hourly funding,
reduce-only clamping, spot <-> perp transfers, 2 % maintenance margin and liquidation. Expected values
are closed forms from the inputs and the documented defaults."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest
from basis_venue_hyperliquid.venue import HyperliquidVenue

from basis_core import ExecutionInterfaceManager
from basis_core.backtest.cex.testing import at, candles, market, settlements
from basis_core.errors import InstructionError, MarginError

T0 = "2025-01-01T00:00:00Z"
WALLET = "hyperliquid:perp-margin:USDC"
POS = "hyperliquid:perp:ETH/USDC:USDC"
SYM = "ETH/USDC:USDC"
MET = "hyperliquid:metric:"


def make(balances: dict[str, str], marks: list[Any] | None = None, rates: list[str] | None = None,
         spot: list[Any] | None = None) -> ExecutionInterfaceManager:
    marks = marks or ["3000"] * 30
    mk = market(
        candles("spot:ETH/USDC", T0, spot or ["3000"] * 30),
        candles("perp:hyperliquid:ETH/USDC:USDC", T0, marks),
        settlements("funding:hyperliquid:ETH/USDC:USDC", T0, rates or ["0"] * len(marks), 1),
        candles("perp:hyperliquid:BTC/USDC:USDC", T0, ["90000"] * 30),
        settlements("funding:hyperliquid:BTC/USDC:USDC", T0, ["0"] * 30, 1),
    )
    return ExecutionInterfaceManager({"initial_balances": balances}, mk, "backtest", autoload=False,
                                     plugins=[HyperliquidVenue])


def spot(side: str, amount: str, **kw: Any) -> dict[str, Any]:
    return {"operation": "spot_trade", "venue": "hyperliquid", "symbol": "ETH/USDC", "side": side,
            "amount": amount, **kw}


def perp(side: str, amount: str, symbol: str = SYM, **kw: Any) -> dict[str, Any]:
    return {"operation": "perp_trade", "venue": "hyperliquid", "symbol": symbol, "side": side, "amount": amount,
            **kw}


def test_spot_buy_and_sell_fees_in_the_received_token() -> None:
    m = make({"hyperliquid:spot:USDC": "10000"})
    d = m.execute(at(1), spot("buy", "2"))
    fill = D(3000) * D("1.0005")
    assert d.positions == {"hyperliquid:spot:ETH": D(2) - D(2) * D("0.0007"), "hyperliquid:spot:USDC": -2 * fill}
    assert d.fees == {"hyperliquid:spot:ETH": D("-0.0014")}
    d = m.execute(at(1), spot("sell", "1"))
    fill = D(3000) * D("0.9995")
    assert d.positions == {"hyperliquid:spot:ETH": D(-1), "hyperliquid:spot:USDC": fill - fill * D("0.0007")}


def test_spot_limit_rests_and_fills_as_maker() -> None:
    m = make({"hyperliquid:spot:USDC": "10000"}, spot=["3000", ("3000", "3010", "2940", "2990")] + ["2990"] * 10)
    d = m.execute(at(0), spot("buy", "1", order_type="limit", price="2950.5"))
    assert d.status == "open"
    (f,) = m.advance_to(at(1))
    assert f.fill_price == D("2950.5")
    assert f.positions == {"hyperliquid:spot:ETH": D(1) - D("0.0004"), "hyperliquid:spot:USDC": D("-2950.5")}


@pytest.mark.parametrize(("instr", "field", "needle"), [
    (spot("buy", "1", order_type="limit", price="2950.25"), "price", "significant figures"),
    (perp("buy", "1", order_type="limit", price="2950.5"), "price", None),  # ok: 5 figures, 1 decimal
    (perp("buy", "0.1", symbol="BTC/USDC:USDC", order_type="limit", price="89000.5"), "price",
     "significant figures"),
    (perp("buy", "1.00001"), "amount", "step size"),
    (perp("buy", "0.003"), "amount", "minimum notional"),
    (perp("buy", "1", leverage="30"), "leverage", "maximum 25"),
    (perp("buy", "1", symbol="ETH/USDT:USDT"), "symbol", "not a perpetual market"),
    (perp("buy", "1", order_type="limit", price="3100", time_in_force="FOK"), "time_in_force", "no FOK"),
    (spot("buy", "1", order_type="limit", price="2900", time_in_force="FOK"), "time_in_force", "no FOK"),
])
def test_size_price_and_leverage_rules(instr: dict[str, Any], field: str, needle: str | None) -> None:
    m = make({"hyperliquid:spot:USDC": "100000", WALLET: "100000"})
    if needle is None:
        assert m.execute(at(0), instr).status == "open"
        return
    with pytest.raises(InstructionError) as ei:
        m.execute(at(0), instr)
    assert ei.value.field == field and needle in ei.value.reason


def test_integer_prices_are_always_valid() -> None:
    m = make({WALLET: "1e6"}, marks=["3000"] * 5)
    d = m.execute(at(0), perp("sell", "0.5", symbol="BTC/USDC:USDC", order_type="limit", price="123456"))
    assert d.status == "open"


def test_perp_fees_in_usdc_and_hourly_funding() -> None:
    marks = [D(3000) + 5 * i for i in range(12)]
    rates = ["0.00002", "0.0000125", "-0.00001", "0.00003", "0.00001"] + ["0"] * 7
    m = make({WALLET: "10000"}, marks=marks, rates=rates)
    d = m.execute(at(0), perp("buy", "2"))
    entry = D(3000) * D("1.0003")
    assert d.positions == {POS: D(2), WALLET: -2 * entry * D("0.00045")}
    effects = m.advance_to(at(4))  # settlements at 01, 02, 03, 04 (not the one at 00)
    funding = [e for e in effects if e.operation == "funding"]
    assert [f.timestamp for f in funding] == [at(1), at(2), at(3), at(4)]
    expected = [-2 * marks[h] * D(rates[h]) for h in (1, 2, 3, 4)]
    assert [f.positions[WALLET] for f in funding] == expected
    assert m.get_balances(at(4), "hyperliquid")[f"{MET}funding:{SYM}"] == sum(expected)


def test_reduce_only_is_clamped_to_the_position() -> None:
    m = make({WALLET: "10000"})
    m.execute(at(0), perp("buy", "1"))
    d = m.execute(at(0), perp("sell", "2", reduce_only=True))
    assert d.positions[POS] == D(-1) and d.fill_amount == D(1)
    assert m.get_balances(at(0), "hyperliquid").get(POS, D(0)) == 0


def test_transfers_between_spot_and_perp() -> None:
    m = make({"hyperliquid:spot:USDC": "500"})
    d = m.execute(at(0), {"operation": "transfer", "venue": "hyperliquid", "asset": "USDC", "amount": "200",
                          "from_account": "spot", "to_account": "perp"})
    assert d.positions == {"hyperliquid:spot:USDC": D(-200), WALLET: D(200)}
    with pytest.raises(InstructionError) as ei:
        m.execute(at(0), {"operation": "transfer", "venue": "hyperliquid", "asset": "USDC", "amount": "1",
                          "from_account": "spot", "to_account": "futures"})
    assert ei.value.field == "to_account"


def test_margin_is_checked_at_the_chosen_leverage() -> None:
    m = make({WALLET: "200"})
    with pytest.raises(MarginError):
        m.execute(at(0), perp("buy", "1", leverage="10"))  # 300 initial margin
    d = m.execute(at(0), perp("buy", "1"))  # default 20x: 150
    assert d.positions[POS] == D(1)
    assert m.get_balances(at(0), "hyperliquid")[f"{MET}maintenance_margin:{SYM}"] == D(3000) * D("0.02")


def test_liquidation_below_two_percent_maintenance() -> None:
    m = make({WALLET: "200"}, marks=["3000", "2900", "2850", "2850"])
    m.execute(at(0), perp("buy", "1"))
    entry = D(3000) * D("1.0003")
    wallet = D(200) - entry * D("0.00045")
    assert [e.operation for e in m.advance_to(at(1))] == ["funding"]  # 2900: balance 97.75 > 58
    effects = m.advance_to(at(2))  # 2850: balance 47.749595 < 57
    (liq,) = [e for e in effects if e.operation == "liquidation"]
    fee = D(2850) * D("0.00045")  # a market close, charged at the taker rate
    assert liq.positions == {POS: D(-1), WALLET: (D(2850) - entry) - fee}
    assert m.ledger is not None and m.ledger.balance(WALLET) == wallet + D(2850) - entry - fee


def test_entry_point() -> None:
    m = ExecutionInterfaceManager({"venues": ["hyperliquid"]}, market(candles("spot:ETH/USDC", T0, ["1"] * 2)),
                                  "backtest")
    (info,) = m.venues()
    assert info["distribution"] == "basis-venue-hyperliquid"
    assert info["instruments"] == ["ETH/USDC", "ETH/USDC:USDC", "BTC/USDC:USDC"]


def test_margin_tiers_fees_and_leverage_are_configurable() -> None:
    mk = market(candles("perp:hyperliquid:ETH/USDC:USDC", T0, ["3000"] * 3),
                settlements("funding:hyperliquid:ETH/USDC:USDC", T0, ["0"] * 3, 1))
    cfg = {"initial_balances": {WALLET: "1000"}, "venue_config": {"hyperliquid": {
        "margin_tiers": {SYM: [[100_000, 50, "0.01"], [None, 10, "0.05"]]},
        "fees": {"perp_taker": "0.0003"}, "default_leverage": 40, "slippage": {"perp": [[None, 0]]}}}}
    m = ExecutionInterfaceManager(cfg, mk, "backtest", autoload=False, plugins=[HyperliquidVenue])
    d = m.execute(at(0), perp("buy", "10"))  # 30,000 at 40x: 750 of initial margin
    assert d.positions == {POS: D(10), WALLET: D(-9)}
    bal = m.get_balances(at(0), "hyperliquid")
    assert bal[f"{MET}initial_margin:{SYM}"] == D(750)
    assert bal[f"{MET}maintenance_margin:{SYM}"] == D(300)


@pytest.mark.parametrize("venue_cfg", [
    {"fees": {"perp_taker": "2"}},
    {"fees": {"taker": "0.001"}},
    {"margin_tiers": {"SOL/USDC:USDC": [[None, 5, "0.1"]]}},
    {"margin_tiers": {SYM: [[100, 5, "0.1"], [50, 3, "0.2"]]}},
    {"slippage": {"perp": [[None, -1]]}},
    {"default_leverage": "0.5"},
])
def test_bad_configuration_is_a_config_error(venue_cfg: dict[str, Any]) -> None:
    from basis_core.errors import ConfigError
    mk = market(candles("perp:hyperliquid:ETH/USDC:USDC", T0, ["3000"] * 3))
    with pytest.raises(ConfigError) as ei:
        ExecutionInterfaceManager({"venue_config": {"hyperliquid": venue_cfg}}, mk, "backtest", autoload=False,
                                  plugins=[HyperliquidVenue])
    assert "venue_config.hyperliquid." in str(ei.value)
