"""The CEX simulator's ``get_balances`` on a spot book: the venue's non-zero keys and its locks, answered anew after
any ledger write, and an engine small enough for CPython's shared-key instance dicts."""

from __future__ import annotations

from decimal import Decimal

from basis_core.backtest.runner import make_manager
from basis_core.backtest.scenario import load_scenario
from basis_core.data.synthetic import synthetic_market
from basis_core.timeutil import from_ns

T0 = 1_735_689_600_000_000_000


def _manager() -> object:
    sc = load_scenario({"name": "b", "venues": ["binance"],
                        "initial_balances": {"binance:spot:USDT": "100000", "binance:spot:ETH": "10"},
                        "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-01T02:00:00Z", "step": "1min"}})
    return make_manager(sc, synthetic_market(seed=7, hours=60))


def test_spot_balances_follow_the_ledger_and_the_locks() -> None:
    m = _manager()
    ts = from_ns(T0 + 60_000_000_000)
    m.advance_to(ts)  # type: ignore[attr-defined]
    first = m.get_balances(ts, "binance")  # type: ignore[attr-defined]
    assert first == {"binance:spot:USDT": Decimal("100000"), "binance:spot:ETH": Decimal("10")}
    first["binance:spot:ETH"] = Decimal(0)  # a caller's copy: the venue's answer does not change with it
    assert m.get_balances(ts, "binance")["binance:spot:ETH"] == 10  # type: ignore[attr-defined]
    m.ledger.apply({"binance:spot:ETH": Decimal("-10"), "binance:spot:USDT": Decimal("1")})  # type: ignore[attr-defined]
    assert m.get_balances(ts, "binance") == {"binance:spot:USDT": Decimal("100001")}  # type: ignore[attr-defined]
    m.execute(ts, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT",  # type: ignore[attr-defined]
                   "side": "buy", "amount": "1", "order_type": "limit", "price": "1000"})
    bal = m.get_balances(ts, "binance")  # type: ignore[attr-defined]
    assert bal["binance:metric:locked:USDT"] > 0
    assert bal["binance:spot:USDT"] == Decimal("100001")
    assert not any(":metric:margin" in k for k in bal)  # no margin wallet, no margin metric
    assert m.get_balances(ts, "binance", {"include_metrics": False}) == {  # type: ignore[attr-defined]
        "binance:spot:USDT": Decimal("100001")}


def test_the_engine_keeps_a_shared_key_instance_dict() -> None:
    """CPython shares one key table among a class's instances up to 30 attributes; past that every attribute read of
    the engine (its whole order path) gets slower. Add state to an existing attribute rather than a new one."""
    m = _manager()
    engine = m.venue("binance")._b()  # type: ignore[attr-defined]
    assert len(vars(engine)) <= 30
