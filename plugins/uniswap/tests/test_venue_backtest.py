"""Uniswap venue, backtest mode, through the manager: results against closed forms written here
(constant product, concentrated-liquidity swap within one range, LP mint / burn shares, impermanent loss,
gas = units x gas price x ETH price read from the market series), typed errors that change nothing."""

from __future__ import annotations

from decimal import Decimal, localcontext
from typing import Any

import pandas as pd
import pytest
from basis_venue_uniswap.sim import V2State, V3State
from basis_venue_uniswap.v3_math import Q96, get_sqrt_ratio_at_tick
from basis_venue_uniswap.venue import UniswapVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data import synthetic_market
from basis_core.errors import InstructionError, InsufficientFundsError, RiskLimitError, SlippageError
from basis_core.testing.conformance_checks import ledger_state

TS = pd.Timestamp("2025-06-02T12:00:00Z")
TS2 = TS + pd.Timedelta("6h")
MARKET = synthetic_market()
BAL = {"ethereum:wallet:WETH": "30000", "ethereum:wallet:USDC": "50000000", "ethereum:wallet:USDT": "1000000",
       "ethereum:wallet:DAI": "1000000", "ethereum:wallet:ETH": "100"}


def manager(balances: dict[str, str] | None = None, **options: Any) -> ExecutionInterfaceManager:
    cfg = {"initial_balances": BAL if balances is None else balances, "venue_config": {"uniswap": options}}
    return ExecutionInterfaceManager(cfg, MARKET, "backtest", autoload=False, plugins=[UniswapVenue])


def sim(m: ExecutionInterfaceManager) -> Any:
    return m.venue("uniswap").backend


def swap(**kw: Any) -> dict[str, Any]:
    return {"venue": "uniswap", "operation": "swap", **kw}


def px(ts: pd.Timestamp, series: str = "spot:ETH/USDC") -> Decimal:
    return MARKET.get_data(ts).get(series)


def gas_eth(ts: pd.Timestamp, units: int) -> Decimal:
    return Decimal(units) * MARKET.get_data(ts).get("gas", "gas_price_gwei") / Decimal(10**9)


# ------------------------------------------------------------------------------------------------- v2
def test_v2_swap_is_the_constant_product_formula_on_a_pool_anchored_at_the_market() -> None:
    m = manager()
    st = sim(m).pool_state(TS, "v2:WETH/USDC")
    assert isinstance(st, V2State)
    r_usdc, r_weth = st.reserve0, st.reserve1  # mainnet order: USDC < WETH
    p = px(TS)
    # anchored: 20M USD a side at the market price
    assert abs(Decimal(r_usdc) / 10**6 - 20_000_000) <= 1
    assert abs(Decimal(r_weth) / 10**18 * p - 20_000_000) <= Decimal("0.01")
    a = 2 * 10**18
    out = a * 997 * r_usdc // (r_weth * 1000 + a * 997)
    d = m.execute(TS, swap(token_in="WETH", token_out="USDC", amount_in="2", pool="v2:WETH/USDC"))
    eth = gas_eth(TS, 130_000)
    assert d.positions == {"ethereum:wallet:WETH": Decimal(-2), "ethereum:wallet:USDC": Decimal(out) / 10**6,
                           "ethereum:wallet:ETH": -eth}
    assert d.fees == {"ethereum:wallet:ETH": -eth}
    no_impact = Decimal(a) * Decimal("0.997") * r_usdc / r_weth / 10**6
    assert d.details["no_impact_amount_out"] == pytest.approx(no_impact, rel=Decimal("1e-25"))
    bps = (no_impact - Decimal(out) / 10**6) / no_impact * 10_000
    assert abs(d.details["price_impact_bps"] - bps) <= Decimal("0.0001")
    # pnl: fee 0.3 % of the input at the market, gas at the ETH oracle, the rest is impact; the sum is the value change
    assert d.pnl["trading_fees"] == -(Decimal("0.006") * p)
    assert d.pnl["gas"] == -(eth * MARKET.get_data(TS).get("oracle:ETH/USD", "price"))
    value = Decimal(out) / 10**6 - 2 * p + d.pnl["gas"]
    assert sum(d.pnl.values()) == value
    assert m.ledger.balance("ethereum:wallet:USDC") == Decimal(BAL["ethereum:wallet:USDC"]) + Decimal(out) / 10**6


def test_v2_liquidity_mints_and_burns_pro_rata() -> None:
    m = manager()
    st = sim(m).pool_state(TS, "v2:WETH/USDC")
    a_weth = 10**18
    # the router deposits the optimal amounts: 1 WETH and its value in USDC (below the 1800 offered)
    used_usdc = a_weth * st.reserve0 // st.reserve1
    assert used_usdc < 1800 * 10**6
    minted = min(used_usdc * st.supply // st.reserve0, a_weth * st.supply // st.reserve1)
    d = m.execute(TS, {"venue": "uniswap", "operation": "add_liquidity", "pool": "v2:WETH/USDC",
                       "amounts": {"WETH": "1", "USDC": "1800"}})
    lp_key = "uniswap:lp:v2:WETH/USDC"
    assert d.positions[lp_key] == Decimal(minted) / 10**18
    assert d.positions["ethereum:wallet:USDC"] == -Decimal(used_usdc) / 10**6
    assert d.positions["ethereum:wallet:WETH"] == -1
    st2 = sim(m).pool_state(TS, "v2:WETH/USDC")
    assert (st2.reserve0, st2.reserve1, st2.supply) == (st.reserve0 + used_usdc, st.reserve1 + a_weth,
                                                         st.supply + minted)
    r = m.execute(TS, {"venue": "uniswap", "operation": "remove_liquidity", "pool": "v2:WETH/USDC",
                       "lp_amount": "max"})
    assert r.positions["ethereum:wallet:USDC"] == Decimal(minted * st2.reserve0 // st2.supply) / 10**6
    assert r.positions["ethereum:wallet:WETH"] == Decimal(minted * st2.reserve1 // st2.supply) / 10**18
    assert m.ledger.balance(lp_key) == 0


def test_v2_lp_value_follows_the_impermanent_loss_closed_form_across_reanchoring() -> None:
    """Re-anchoring arbitrages our LP share at constant k: value / hold value = 2 sqrt(r) / (1 + r)."""
    m = manager()
    add = m.execute(TS, {"venue": "uniswap", "operation": "add_liquidity", "pool": "v2:WETH/USDC",
                         "amounts": {"WETH": "100", "USDC": "200000"}})
    weth_in, usdc_in = -add.positions["ethereum:wallet:WETH"], -add.positions["ethereum:wallet:USDC"]
    out = m.execute(TS2, {"venue": "uniswap", "operation": "remove_liquidity", "pool": "v2:WETH/USDC",
                          "lp_amount": "max"})
    p1, p2 = px(TS), px(TS2)
    r = p2 / p1
    lp_value = out.positions["ethereum:wallet:WETH"] * p2 + out.positions["ethereum:wallet:USDC"]
    hold_value = weth_in * p2 + usdc_in
    with localcontext() as ctx:
        ctx.prec = 50
        expected = 2 * r.sqrt() / (1 + r)
    assert abs(lp_value / hold_value - expected) < Decimal("1e-9")
    assert r != 1  # the price did move


# ------------------------------------------------------------------------------------------------- v3
def _v3_closed_form_out(pool: Any, amount_in: int, fee: int, token1_in: bool) -> Decimal:
    """Output of an exact-input swap inside one liquidity range (real-number closed form, high precision)."""
    with localcontext() as ctx:
        ctx.prec = 80
        liq = Decimal(pool.liquidity)
        s = Decimal(pool.sqrt_price_x96) / Q96
        x = Decimal(amount_in) * (1_000_000 - fee) / 1_000_000
        if token1_in:  # price up: sqrtP' = sqrtP + x / L; out0 = L (1/sqrtP - 1/sqrtP')
            s2 = s + x / liq
            return liq * (1 / s - 1 / s2)
        s2 = liq * s / (liq + x * s)  # token0 in: 1/sqrtP' = 1/sqrtP + x / L; out1 = L (sqrtP - sqrtP')
        return liq * (s - s2)


def test_v3_swap_inside_one_range_matches_the_closed_form() -> None:
    m = manager()
    st = sim(m).pool_state(TS, "v3:WETH/USDC:500")
    assert isinstance(st, V3State)
    pool = st.pool
    p = px(TS)
    # anchored at the market: price token1 (WETH wei) per token0 (USDC unit) = 1e12 / p
    price = Decimal(pool.sqrt_price_x96) ** 2 / Decimal(Q96) ** 2
    assert abs(price * p / Decimal(10**12) - 1) < Decimal("1e-20")
    lo, hi, _ = st.external
    assert get_sqrt_ratio_at_tick(lo) < pool.sqrt_price_x96 < get_sqrt_ratio_at_tick(hi)
    for token_in, amount, token1_in in (("WETH", "3", True), ("USDC", "25000", False)):
        units = int(Decimal(amount) * (10**18 if token1_in else 10**6))
        expected = _v3_closed_form_out(pool, units, 500, token1_in)
        q = m.quote(TS, swap(token_in=token_in, token_out="USDC" if token1_in else "WETH", amount_in=amount,
                             pool="v3:WETH/USDC:500"))
        out_units = q.details["amount_out"] * (10**6 if token1_in else 10**18)
        assert expected - 3 <= out_units <= expected  # the contract rounds against the trader, by a few units
        assert q.status == "quoted" and q.positions == {}


def test_v3_external_depth_is_the_configured_tvl() -> None:
    m = manager(pools={"v3:WETH/USDC:3000": {"tvl_usd": "12345678", "range_pct": "0.2"}})
    st = sim(m).pool_state(TS, "v3:WETH/USDC:3000")
    lo, hi, liq = st.external
    with localcontext() as ctx:
        ctx.prec = 60
        s = Decimal(st.pool.sqrt_price_x96) / Q96
        sa, sb = Decimal(get_sqrt_ratio_at_tick(lo)) / Q96, Decimal(get_sqrt_ratio_at_tick(hi)) / Q96
        usdc = liq * (sb - s) / (s * sb) / 10**6  # token0
        weth = liq * (s - sa) / 10**18  # token1
        value = usdc + weth * px(TS)
    assert abs(value / Decimal("12345678") - 1) < Decimal("1e-9")
    # +/- 20 % range (rounded outwards to the tick spacing)
    assert 1.19 < float((sb / s) ** 2) < 1.21 and 0.82 < float((sa / s) ** 2) < 0.84


def test_v3_position_collects_its_share_of_the_fees() -> None:
    m = manager()
    st = sim(m).pool_state(TS, "v3:WETH/USDC:500")
    tick = st.pool.tick
    lo, hi = (tick // 10 - 30) * 10, (tick // 10 + 30) * 10  # narrow: the swap below stays inside
    add = m.execute(TS, {"venue": "uniswap", "operation": "add_liquidity", "pool": "v3:WETH/USDC:500",
                         "amounts": {"WETH": "50", "USDC": "100000"}, "tick_lower": lo, "tick_upper": hi})
    pid = add.details["position_id"]
    key = f"uniswap:lp:v3:WETH/USDC:500#{pid}"
    ours = add.details["liquidity"]
    assert m.ledger.balance(key) == ours
    total = sim(m).pool_state(TS, "v3:WETH/USDC:500").pool.liquidity
    m.execute(TS, swap(token_in="USDC", token_out="WETH", amount_in="40000", pool="v3:WETH/USDC:500"))
    rm = m.execute(TS, {"venue": "uniswap", "operation": "remove_liquidity", "pool": "v3:WETH/USDC:500",
                        "position_id": pid})
    fee_usdc = rm.details["fees_collected"]["USDC"]
    expected = Decimal(40000) * Decimal("0.0005") * ours / total  # fee growth share of the input token
    assert abs(fee_usdc - expected) <= Decimal("0.000002")
    assert rm.details["fees_collected"]["WETH"] == 0
    assert rm.pnl["trading_fees"] == fee_usdc  # USDC at 1: fees are a gain
    assert m.ledger.balance(key) == 0
    assert pid not in sim(m).positions
    with pytest.raises(InstructionError) as e:
        m.execute(TS, {"venue": "uniswap", "operation": "remove_liquidity", "pool": "v3:WETH/USDC:500",
                       "position_id": pid})
    assert e.value.field == "position_id"


def test_v3_add_then_remove_returns_the_deposit_less_rounding() -> None:
    m = manager()
    add = m.execute(TS, {"venue": "uniswap", "operation": "add_liquidity", "pool": "v3:WETH/USDC:3000",
                         "amounts": {"WETH": "2", "USDC": "4000"}})
    rm = m.execute(TS, {"venue": "uniswap", "operation": "remove_liquidity", "pool": "v3:WETH/USDC:3000",
                        "position_id": add.details["position_id"]})
    for tok, unit in (("WETH", Decimal("1e-18")), ("USDC", Decimal("1e-6"))):
        back, paid = rm.positions[f"ethereum:wallet:{tok}"], -add.positions[f"ethereum:wallet:{tok}"]
        assert paid - 2 * unit <= back <= paid  # minted rounding up, burned rounding down


# ------------------------------------------------------------------------------------------------- pool dynamics
def test_own_swaps_move_the_pool_until_it_reanchors() -> None:
    ins = swap(token_in="WETH", token_out="USDC", amount_in="500", pool="v2:WETH/USDC")
    m = manager()
    first = m.execute(TS, ins).positions["ethereum:wallet:USDC"]
    second = m.execute(TS, ins).positions["ethereum:wallet:USDC"]
    assert second < first  # the pool moved against us
    later = m.execute(TS2, ins).positions["ethereum:wallet:USDC"]
    fresh = manager().execute(TS2, ins).positions["ethereum:wallet:USDC"]
    assert later == fresh  # re-anchored at TS2's market price and depth: history is gone
    frozen = manager(reanchor=False)
    frozen.execute(TS, ins)
    assert frozen.execute(TS2, ins).positions["ethereum:wallet:USDC"] < first  # still the moved pool


def test_v3_reanchor_moves_the_price_to_the_market() -> None:
    m = manager()
    m.execute(TS, swap(token_in="WETH", token_out="USDC", amount_in="2000", pool="v3:WETH/USDC:500"))
    moved = sim(m).pool_state(TS, "v3:WETH/USDC:500").pool.sqrt_price_x96
    st = sim(m).pool_state(TS2, "v3:WETH/USDC:500")
    fresh = sim(manager()).pool_state(TS2, "v3:WETH/USDC:500")
    assert st.pool.sqrt_price_x96 == fresh.pool.sqrt_price_x96 != moved


def test_quote_equals_execution_and_changes_nothing() -> None:
    m = manager()
    ins = swap(token_in="USDC", token_out="WETH", amount_in="150000")
    before = ledger_state(m.ledger)
    q = m.quote(TS, ins)
    assert ledger_state(m.ledger) == before and q.status == "quoted"
    d = m.execute(TS, ins)
    assert d.details["pool"] == q.details["pool"] == "v3:WETH/USDC:500"  # the default route
    assert d.positions["ethereum:wallet:WETH"] == q.details["amount_out"]
    assert q.details["positions"] == dict(d.positions)
    assert q.details["gas_units"] == 180_000 and q.details["gas_cost_eth"] == gas_eth(TS, 180_000)


# ------------------------------------------------------------------------------------------------- protection
def test_slippage_bounds_fail_typed_and_change_nothing() -> None:
    m = manager()
    ins = swap(token_in="WETH", token_out="USDC", amount_in="100", pool="v2:WETH/USDC")
    q = m.quote(TS, ins)
    out, impact = q.details["amount_out"], q.details["price_impact_bps"]
    state = ledger_state(m.ledger)
    for bound, field in (({"min_amount_out": str(out + Decimal("0.000001"))}, "min_amount_out"),
                         ({"max_slippage_bps": str(impact - Decimal("0.01"))}, "max_slippage_bps")):
        n = len(m.execution_history)
        with pytest.raises(SlippageError) as e:
            m.execute(TS, {**ins, **bound})
        assert e.value.field == field
        assert ledger_state(m.ledger) == state
        assert len(m.execution_history) == n + 1 and not m.execution_history[-1].success
    ok = m.execute(TS, {**ins, "min_amount_out": str(out), "max_slippage_bps": str(impact + Decimal("0.01"))})
    assert ok.positions["ethereum:wallet:USDC"] == out


def test_expired_deadline_is_refused() -> None:
    m = manager()
    ins = swap(token_in="WETH", token_out="USDC", amount_in="1")
    with pytest.raises(InstructionError) as e:
        m.execute(TS, {**ins, "deadline": (TS - pd.Timedelta("1s")).isoformat()})
    assert e.value.field == "deadline"
    assert m.execute(TS, {**ins, "deadline": (TS + pd.Timedelta("60s")).isoformat()}).status == "filled"


@pytest.mark.parametrize(("changes", "field", "error"), [
    ({"token_in": "ZZZ"}, "token_in", InstructionError),
    ({"token_in": "ETH"}, "token_in", InstructionError),
    ({"token_out": "USDT", "pool": "v2:WETH/USDC"}, "token_out", InstructionError),
    ({"pool": "v3:WETH/USDC:123"}, "pool", InstructionError),
    ({"pool": "zzz"}, "pool", InstructionError),
    ({"token_out": "WETH"}, "token_out", InstructionError),  # same token: refused when parsed
    ({"amount_in": "0"}, "amount_in", InstructionError),
    ({"amount_in": "0.0000000000000000001"}, "amount_in", InstructionError),  # finer than 18 decimals
    ({"amount_in": "25000", "pool": "v2:WETH/USDC"}, "amount_in", InstructionError),  # > the pool's WETH reserve
    ({"amount_in": "1000000", "pool": "v3:WETH/USDC:500"}, "amount_in", InstructionError),  # drains the range
    ({"amount_in": "30001"}, "amount_in", InsufficientFundsError),
    ({"amount_in": "0.000000000000000001", "pool": "v2:WETH/USDC"}, "amount_in", InstructionError),  # buys nothing
])
def test_bad_input_is_typed_and_changes_nothing(changes: dict[str, str], field: str, error: type) -> None:
    m = manager()
    m.execute(TS, swap(token_in="WETH", token_out="USDC", amount_in="1"))  # pools exist
    state = ledger_state(m.ledger)
    with pytest.raises(error) as e:
        m.execute(TS, swap(**{"token_in": "WETH", "token_out": "USDC", "amount_in": "1", **changes}))
    assert e.value.field == field
    assert ledger_state(m.ledger) == state


def test_liquidity_bad_input() -> None:
    m = manager()
    cases = [
        ({"pool": "v2:WETH/USDC", "amounts": {"WETH": "1"}}, "amounts"),
        ({"pool": "v2:WETH/USDC", "amounts": {"WETH": "1", "USDC": "2000"}, "tick_lower": 0, "tick_upper": 60},
         "tick_lower"),
        ({"pool": "v3:WETH/USDC:500", "amounts": {"WETH": "1", "USDC": "2000"}, "tick_lower": 5, "tick_upper": 60},
         "tick_lower"),
        ({"pool": "v3:WETH/USDC:500", "amounts": {"DAI": "1"}}, "amounts"),
        ({"pool": "v2:WETH/USDC", "amounts": {"WETH": "1", "USDC": "2000"}, "min_lp_out": "1"}, "min_lp_out"),
    ]
    state = ledger_state(m.ledger)
    for extra, field in cases:
        with pytest.raises(InstructionError) as e:
            m.execute(TS, {"venue": "uniswap", "operation": "add_liquidity", **extra})
        assert e.value.field == field, extra
    for extra, field in (({"pool": "v2:WETH/USDC", "lp_amount": "1"}, "lp_amount"),
                         ({"pool": "v3:WETH/USDC:500", "lp_amount": "1"}, "position_id"),
                         ({"pool": "v3:WETH/USDC:500", "position_id": "77"}, "position_id")):
        with pytest.raises(InstructionError) as e:
            m.execute(TS, {"venue": "uniswap", "operation": "remove_liquidity", **extra})
        assert e.value.field == field, extra
    assert ledger_state(m.ledger) == state


def test_a_failed_instruction_rolls_the_pool_back() -> None:
    m = manager({"ethereum:wallet:WETH": "10", "ethereum:wallet:ETH": "1"})
    m.execute(TS, swap(token_in="WETH", token_out="USDC", amount_in="5"))
    state = ledger_state(m.ledger)
    gasless = manager({"ethereum:wallet:WETH": "10"})
    with pytest.raises(InsufficientFundsError) as e:  # no ETH for gas
        gasless.execute(TS, swap(token_in="WETH", token_out="USDC", amount_in="5"))
    assert e.value.key == "ethereum:wallet:ETH"
    assert ledger_state(gasless.ledger) == ({"ethereum:wallet:WETH": Decimal(10)}, {})
    with pytest.raises(InsufficientFundsError):
        m.execute(TS, swap(token_in="WETH", token_out="USDC", amount_in="6"))
    assert ledger_state(m.ledger) == state


# ------------------------------------------------------------------------------------------------- gas, risk, balances
def test_gas_units_are_configurable_and_priced_from_the_data() -> None:
    m = manager(gas_units={"swap": 100_000})
    d = m.execute(TS, swap(token_in="WETH", token_out="USDC", amount_in="1"))
    assert d.positions["ethereum:wallet:ETH"] == -gas_eth(TS, 100_000)
    assert d.details["gas_units"] == 100_000


def test_risk_limit_uses_the_swap_notional_and_balances_list_the_keys() -> None:
    cfg = {"initial_balances": BAL, "max_notional": "100000"}
    m = ExecutionInterfaceManager(cfg, MARKET, "backtest", autoload=False, plugins=[UniswapVenue])
    with pytest.raises(RiskLimitError):
        m.execute(TS, swap(token_in="WETH", token_out="USDC", amount_in="60"))  # 60 x 1741 > 100k
    m.execute(TS, swap(token_in="WETH", token_out="USDC", amount_in="50"))
    m.execute(TS, {"venue": "uniswap", "operation": "add_liquidity", "pool": "v2:WETH/USDC",
                   "amounts": {"WETH": "1", "USDC": "2000"}})
    bal = m.get_balances(TS, "uniswap")
    assert bal["ethereum:wallet:WETH"] == Decimal(30000 - 50 - 1)
    assert bal["uniswap:lp:v2:WETH/USDC"] > 0
    assert all(k.startswith(("ethereum:wallet:", "uniswap:")) for k in bal)


# ------------------------------------------------------------------------------------------------- LP value
def test_v2_lp_value_usd_follows_the_impermanent_loss_closed_form() -> None:
    """``get_balances`` values the LP tokens (the report uses it): at a later price, value / hold value is
    2 sqrt(r) / (1 + r), computed here from the market prices alone."""
    m = manager()
    add = m.execute(TS, {"venue": "uniswap", "operation": "add_liquidity", "pool": "v2:WETH/USDC",
                         "amounts": {"WETH": "100", "USDC": "200000"}})
    weth_in, usdc_in = -add.positions["ethereum:wallet:WETH"], -add.positions["ethereum:wallet:USDC"]
    now = m.get_balances(TS, "uniswap")["uniswap:metric:value_usd:lp:v2:WETH/USDC"]
    assert abs(now - (weth_in * px(TS) + usdc_in)) < Decimal("1e-5")  # worth its deposit (burn rounds down)
    later = m.get_balances(TS2, "uniswap")["uniswap:metric:value_usd:lp:v2:WETH/USDC"]
    r = px(TS2) / px(TS)
    with localcontext() as ctx:
        ctx.prec = 50
        expected = 2 * r.sqrt() / (1 + r)
    assert abs(later / (weth_in * px(TS2) + usdc_in) - expected) < Decimal("1e-9") and r != 1


def test_v3_position_value_usd_is_what_removing_it_pays_fees_included() -> None:
    m = manager()
    st = sim(m).pool_state(TS, "v3:WETH/USDC:500")
    tick = st.pool.tick
    lo, hi = (tick // 10 - 30) * 10, (tick // 10 + 30) * 10
    add = m.execute(TS, {"venue": "uniswap", "operation": "add_liquidity", "pool": "v3:WETH/USDC:500",
                         "amounts": {"WETH": "50", "USDC": "100000"}, "tick_lower": lo, "tick_upper": hi})
    pid = add.details["position_id"]
    key = f"uniswap:metric:value_usd:lp:v3:WETH/USDC:500#{pid}"
    paid = -add.positions["ethereum:wallet:WETH"] * px(TS) - add.positions["ethereum:wallet:USDC"]
    before = m.get_balances(TS, "uniswap")[key]
    assert paid - Decimal("0.01") <= before <= paid  # the deposit, less burn rounding
    m.execute(TS, swap(token_in="USDC", token_out="WETH", amount_in="40000", pool="v3:WETH/USDC:500"))
    after = m.get_balances(TS, "uniswap")[key]
    rm = m.execute(TS, {"venue": "uniswap", "operation": "remove_liquidity", "pool": "v3:WETH/USDC:500",
                        "position_id": pid})
    gas_eth = rm.fees["ethereum:wallet:ETH"]  # paid in ETH, not part of the position's value
    got = rm.positions["ethereum:wallet:WETH"] * px(TS) + rm.positions["ethereum:wallet:USDC"]
    assert got == after and rm.details["fees_collected"]["USDC"] > 0 and gas_eth < 0
    assert "uniswap:metric:value_usd:lp:v3:WETH/USDC:500#" + pid not in m.get_balances(TS, "uniswap")
