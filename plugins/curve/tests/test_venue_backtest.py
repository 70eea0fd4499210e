"""Curve venue, backtest mode, through the manager: balanced anchoring, the marginal rate against a finite
difference of the pool's own get_dy, the fee charged in the output coin, LP shares, re-anchoring, typed errors
that change nothing. (The swap output against the deployed contract is in test_venue_live.py.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest
from basis_venue_curve.sim import CurveState, marginal_rate
from basis_venue_curve.stableswap_math import StableSwapPool
from basis_venue_curve.venue import CurveVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data import synthetic_market
from basis_core.errors import InstructionError, InsufficientFundsError, SlippageError
from basis_core.testing.conformance_checks import ledger_state

TS = pd.Timestamp("2025-06-02T12:00:00Z")
TS2 = TS + pd.Timedelta("1h")
MARKET = synthetic_market(hours=24 * 200)
BAL = {"ethereum:wallet:USDC": "20000000", "ethereum:wallet:USDT": "20000000", "ethereum:wallet:DAI": "20000000",
       "ethereum:wallet:ETH": "100"}


def manager(balances: dict[str, str] | None = None, **options: Any) -> ExecutionInterfaceManager:
    cfg = {"initial_balances": BAL if balances is None else balances, "venue_config": {"curve": options}}
    return ExecutionInterfaceManager(cfg, MARKET, "backtest", autoload=False, plugins=[CurveVenue])


def state(m: ExecutionInterfaceManager, pool: str, ts: pd.Timestamp = TS) -> CurveState:
    return m.venue("curve").backend.pool_state(ts, pool)  # type: ignore[no-any-return]


def swap(**kw: Any) -> dict[str, Any]:
    return {"venue": "curve", "operation": "swap", **kw}


def no_fee(p: StableSwapPool) -> StableSwapPool:
    return StableSwapPool(p.balances, p.precision_mul, p.A, 0, p.admin_fee, p.lp_supply)


def test_pools_are_anchored_balanced_at_the_configured_depth() -> None:
    m = manager(pools={"2pool": {"tvl_usd": "1000000"}})
    two = state(m, "2pool").pool
    assert two.balances == (500_000 * 10**6, 500_000 * 10**6)
    three = state(m, "3pool").pool
    assert three.balances == (50_000_000 * 10**18, 50_000_000 * 10**6, 50_000_000 * 10**6)
    assert three.lp_supply == three.D()  # the first deposit mints D
    assert abs(Decimal(three.D()) / 10**18 - 150_000_000) < Decimal("0.000001")
    assert state(m, "3pool").rate(0, 2) == 1


def test_marginal_rate_is_the_limit_of_the_pools_own_get_dy() -> None:
    m = manager()
    m.execute(TS, swap(token_in="USDC", token_out="USDT", amount_in="20000000", pool="2pool"))  # imbalance it
    st = state(m, "2pool")
    pool = no_fee(st.pool)
    h = 100 * 10**6
    for i, j in ((0, 1), (1, 0)):
        # finite differences (6 decimals both: normalised units cancel), Richardson-extrapolated to h -> 0
        fd1, fd2 = Decimal(pool.get_dy(i, j, h)) / h, Decimal(pool.get_dy(i, j, 2 * h)) / (2 * h)
        assert abs((2 * fd1 - fd2) / marginal_rate(st.pool, i, j) - 1) < Decimal("1e-7")
        assert abs(fd1 / marginal_rate(st.pool, i, j) - 1) > Decimal("1e-7")  # the extrapolation mattered
    assert marginal_rate(st.pool, 0, 1) < 1 < marginal_rate(st.pool, 1, 0)  # USDC is now the abundant coin


def test_swap_output_fee_and_pnl() -> None:
    m = manager()
    pool = state(m, "3pool").pool
    dx = 2_500_000 * 10**18
    dy = pool.get_dy(0, 1, dx)
    gross = no_fee(pool).get_dy(0, 1, dx)
    d = m.execute(TS, swap(token_in="DAI", token_out="USDC", amount_in="2500000", pool="3pool"))
    assert d.positions["ethereum:wallet:USDC"] == Decimal(dy) / 10**6
    fee = d.details["fee"]
    assert d.details["fee_token"] == "USDC"
    assert abs(Decimal(dy) / 10**6 + fee - Decimal(gross) / 10**6) <= Decimal("0.000002")
    assert fee == pytest.approx(Decimal(gross) / 10**6 * Decimal("0.0001"), rel=Decimal("1e-6"))
    assert d.pnl["trading_fees"] == -fee  # USDC at 1
    value = d.positions["ethereum:wallet:USDC"] - 2_500_000 + d.pnl["gas"]
    assert sum(d.pnl.values()) == value
    assert 0 < d.details["price_impact_bps"] < 10


def test_impact_grows_with_size_and_quotes_change_nothing() -> None:
    m = manager()
    before = ledger_state(m.ledger)
    bps = [m.quote(TS, swap(token_in="USDC", token_out="USDT", amount_in=str(n), pool="3pool")).details[
        "price_impact_bps"] for n in (1_000_000, 2_000_000, 4_000_000)]
    assert ledger_state(m.ledger) == before
    assert 0 < bps[0] < bps[1] < bps[2]
    assert abs(bps[1] / bps[0] - 2) < Decimal("0.05")  # ~linear for small trades


def test_liquidity_balanced_deposit_mints_its_value_and_imbalanced_pays_fees() -> None:
    m = manager()
    two = state(m, "2pool").pool
    d = m.execute(TS, {"venue": "curve", "operation": "add_liquidity", "pool": "2pool",
                       "amounts": {"USDC": "1000", "USDT": "1000"}})
    lp = d.positions["curve:lp:2pool"]
    assert abs(lp * Decimal(two.D()) / two.lp_supply - 2000) < Decimal("1e-12")  # supply == D: 1 LP ~ 1 USD
    assert d.pnl["trading_fees"] == 0
    im = m.execute(TS, {"venue": "curve", "operation": "add_liquidity", "pool": "2pool",
                        "amounts": {"USDC": "1000000"}})
    assert im.pnl["trading_fees"] < 0
    fees = im.details["imbalance_fees"]
    assert set(fees) == {"USDC", "USDT"} and im.pnl["trading_fees"] == -(fees["USDC"] + fees["USDT"])
    st = state(m, "2pool").pool
    held = m.ledger.balance("curve:lp:2pool")
    rm = m.execute(TS, {"venue": "curve", "operation": "remove_liquidity", "pool": "2pool", "lp_amount": "max"})
    burn = int(held * 10**18)
    assert rm.positions["ethereum:wallet:USDC"] == Decimal(st.balances[0] * burn // st.lp_supply) / 10**6
    assert rm.positions["ethereum:wallet:USDT"] == Decimal(st.balances[1] * burn // st.lp_supply) / 10**6
    assert m.ledger.balance("curve:lp:2pool") == 0


def test_reanchoring_rebalances_the_pool_and_keeps_our_lp_value() -> None:
    m = manager()
    m.execute(TS, {"venue": "curve", "operation": "add_liquidity", "pool": "2pool",
                   "amounts": {"USDC": "5000000", "USDT": "5000000"}})
    m.execute(TS, swap(token_in="USDC", token_out="USDT", amount_in="10000000", pool="2pool"))
    moved = state(m, "2pool").pool
    ours = m.ledger.balance("curve:lp:2pool")
    share_d = Decimal(moved.D()) * ours * 10**18 / moved.lp_supply
    later = state(m, "2pool", TS2).pool
    assert later.balances[0] == later.balances[1]  # balanced again (stables at 1)
    assert abs(Decimal(later.D()) * ours * 10**18 / later.lp_supply / share_d - 1) < Decimal("1e-15")
    rm = m.execute(TS2, {"venue": "curve", "operation": "remove_liquidity", "pool": "2pool", "lp_amount": "max"})
    got = rm.positions["ethereum:wallet:USDC"] + rm.positions["ethereum:wallet:USDT"]
    assert abs(got - share_d / 10**18) < Decimal("0.01")


def test_slippage_and_deadline() -> None:
    m = manager()
    ins = swap(token_in="USDT", token_out="DAI", amount_in="3000000")
    q = m.quote(TS, ins)
    state0 = ledger_state(m.ledger)
    for bound, field in (({"min_amount_out": str(q.details["amount_out"] + Decimal("1e-18"))}, "min_amount_out"),
                         ({"max_slippage_bps": str(q.details["price_impact_bps"] / 2)}, "max_slippage_bps")):
        with pytest.raises(SlippageError) as e:
            m.execute(TS, {**ins, **bound})
        assert e.value.field == field
    with pytest.raises(InstructionError) as e2:
        m.execute(TS, {**ins, "deadline": TS.isoformat()})
    assert e2.value.field == "deadline"
    assert ledger_state(m.ledger) == state0
    assert m.execute(TS, {**ins, "min_amount_out": str(q.details["amount_out"])}).positions[
        "ethereum:wallet:DAI"] == q.details["amount_out"]


@pytest.mark.parametrize(("changes", "field", "error"), [
    ({"token_in": "ZZZ"}, "token_in", InstructionError),
    ({"token_in": "DAI", "pool": "2pool"}, "token_in", InstructionError),
    ({"pool": "4pool"}, "pool", InstructionError),
    ({"amount_in": "0"}, "amount_in", InstructionError),
    ({"amount_in": "1.0000001"}, "amount_in", InstructionError),  # USDC has 6 decimals
    ({"amount_in": "30000000", "pool": "2pool"}, "amount_in", InstructionError),  # > the pool's 25M USDC
    ({"amount_in": "20000001"}, "amount_in", InsufficientFundsError),
])
def test_bad_input_is_typed_and_changes_nothing(changes: dict[str, str], field: str, error: type) -> None:
    m = manager()
    m.execute(TS, swap(token_in="USDC", token_out="USDT", amount_in="1"))
    state0 = ledger_state(m.ledger)
    with pytest.raises(error) as e:
        m.execute(TS, swap(**{"token_in": "USDC", "token_out": "USDT", "amount_in": "1", **changes}))
    assert e.value.field == field
    assert ledger_state(m.ledger) == state0


def test_liquidity_bad_input() -> None:
    m = manager()
    for extra, field in (({"pool": "2pool", "amounts": {"DAI": "1"}}, "amounts"),
                         ({"pool": "2pool", "amounts": {"USDC": "1"}, "tick_lower": 0, "tick_upper": 1}, "tick_lower"),
                         ({"pool": "3pool", "amounts": {"USDC": "100"}, "min_lp_out": "101"}, "min_lp_out")):
        with pytest.raises(InstructionError) as e:
            m.execute(TS, {"venue": "curve", "operation": "add_liquidity", **extra})
        assert e.value.field == field
    for extra, field in (({"pool": "3pool", "lp_amount": "1"}, "lp_amount"),
                         ({"pool": "3pool", "position_id": "1"}, "position_id")):
        with pytest.raises(InstructionError) as e:
            m.execute(TS, {"venue": "curve", "operation": "remove_liquidity", **extra})
        assert e.value.field == field


def test_lp_value_usd_is_the_pro_rata_share_of_the_pool_coins() -> None:
    """``get_balances`` values the LP tokens (the report uses it): share of supply x each coin balance, at the
    stablecoins' USD price of 1, rounded down per coin as the pool's ``remove_liquidity`` pays."""
    m = manager()
    m.execute(TS, {"venue": "curve", "operation": "add_liquidity", "pool": "2pool",
                   "amounts": {"USDC": "1000", "USDT": "1000"}})
    m.execute(TS, swap(token_in="USDC", token_out="USDT", amount_in="3000000", pool="2pool"))
    held = m.ledger.balance("curve:lp:2pool")
    st = state(m, "2pool").pool
    burn = int(held * 10**18)
    expected = sum(Decimal(b * burn // st.lp_supply) / 10**6 for b in st.balances)
    value = m.get_balances(TS, "curve")["curve:metric:value_usd:lp:2pool"]
    assert value == expected and abs(value - 2000) < Decimal("0.5")
