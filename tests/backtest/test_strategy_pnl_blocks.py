"""PnL by strategy with the strategies' exchanges as columns (:class:`ExchangeBlock`, the run's fast path) equals
the same exchanges as events, to the last bit, in the strategies' order."""

from __future__ import annotations

import random
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pytest

from basis_core.backtest.metrics import ExchangeBlock, pnl_by_strategy

KEYS = ["v:perp:X", "v:spot:ETH", "v:spot:USDT", "v:supplied:USDT", "w:spot:ETH"]


def _case(seed: int, n_events: int, accrual_every: int, per_step: int = 1) -> tuple[pd.DataFrame, list[Any],
                                                                                     list[Any]]:
    rnd = random.Random(seed)
    steps = 60
    px = pd.DataFrame({k: [rnd.uniform(0.5, 3000.0) for _ in range(steps)] for k in KEYS})
    events: list[Any] = [(0, "cap", {"v:spot:USDT": Decimal(1000)}, None)]
    step = 0
    for i in range(n_events):
        step = min(steps + 3, step + rnd.choice([0, 0, 1, 2]))  # past the last step too (clipped)
        who = rnd.choice(["b", "a", "c"])
        if rnd.random() < 0.2:
            events.append((step, who, {"v:perp:X": Decimal(rnd.randint(-9, 9)) / 7},
                           {"v:perp:X": rnd.choice([float("nan"), rnd.uniform(1, 2)])}))
        else:
            keys = ("v:spot:ETH", "v:spot:USDT") if i % 3 else ("w:spot:ETH", "v:supplied:USDT", "unpriced:spot:Z")
            amt = rnd.choice([Decimal("0.01"), Decimal("-0.01"), Decimal("-0"), Decimal(rnd.randint(-500, 500)) / 3])
            events.append((step, who, {k: amt * (-j - 1) for j, k in enumerate(keys)}, {}))
    accruals = [(s, rnd.uniform(-5, 5), [rnd.choice(["v:perp:X", "v:supplied:USDT"])])
                for s in range(0, steps + 2, accrual_every) for _ in range(per_step)]
    return px, events, accruals


def _as_blocks(events: list[Any]) -> tuple[list[Any], list[ExchangeBlock]]:
    """The exchange events (``costs`` {}) as blocks by key set (their positions kept); the rest as events."""
    own: list[Any] = []
    rows: dict[tuple[str, ...], list[tuple[int, int, str, list[float]]]] = {}
    for seq, (step, name, positions, costs) in enumerate(events):
        if costs is not None and not costs:
            rows.setdefault(tuple(positions), []).append((step, seq, name, [float(v) for v in positions.values()]))
        else:
            own.append((step, name, positions, costs))
    blocks = [ExchangeBlock([r[0] for r in rs], [r[1] for r in rs], [r[2] for r in rs], keys,
                            [[r[3][j] for r in rs] for j in range(len(keys))]) for keys, rs in rows.items()]
    return own, blocks


@pytest.mark.parametrize(("seed", "n_events", "accrual_every", "per_step"),
                         [(1, 40, 3, 1), (2, 400, 1, 1), (3, 3000, 7, 1), (4, 3000, 100, 1), (5, 200, 1000, 1),
                          (6, 300, 1, 40)])
def test_exchange_blocks_give_the_same_pnl_as_events(seed: int, n_events: int, accrual_every: int,
                                                     per_step: int) -> None:
    px, events, accruals = _case(seed, n_events, accrual_every, per_step)
    want = pnl_by_strategy(px, events, accruals, total_pnl=123.0)
    own, blocks = _as_blocks(events)
    assert blocks and sum(len(b.steps) for b in blocks) > len(own) / 2
    got = pnl_by_strategy(px, own, accruals, total_pnl=123.0, exchanges=blocks)
    assert list(got.items()) == list(want.items())  # the same floats, the same order of strategies
    assert len(want) == 5 and np.isfinite(list(want.values())).all()


def test_a_strategy_seen_only_in_blocks_comes_in_order_of_its_first_exchange() -> None:
    px = pd.DataFrame({"v:spot:ETH": [2.0, 3.0], "v:spot:USDT": [1.0, 1.0]})
    events = [(0, "late", {"v:spot:ETH": Decimal(1)}, {}), (0, "early", {"v:spot:USDT": Decimal(-2)}, None)]
    block = ExchangeBlock([0], [0], ["late"], ("v:spot:ETH",), [[1.0]])
    want = pnl_by_strategy(px, events, [], total_pnl=0.0)
    got = pnl_by_strategy(px, events[1:], [], total_pnl=0.0, exchanges=[block])
    assert list(got.items()) == list(want.items()) and list(got) == ["late", "early", "unattributed"]


def test_a_runs_scan_with_exchange_blocks_gives_the_pnl_of_the_record_by_record_scan() -> None:
    """Spot trades (blocks), perp trades (events), funding (accruals), records of two strategies and of none."""
    from basis_core.backtest.executions import scan_history
    from basis_core.backtest.metrics import unit_prices
    from basis_core.backtest.runner import run
    from basis_core.backtest.strategies import Strategy
    from basis_core.data.synthetic import synthetic_market

    class SpotAndPerp(Strategy):
        name = "spot_and_perp"

        def __init__(self) -> None:
            super().__init__()
            self.n = 0

        def step(self, manager: Any, ts: Any) -> None:
            self.n += 1
            manager.execute(ts, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT",
                                 "side": "buy" if self.n % 2 else "sell", "amount": "0.01"})
            if self.n % 3 == 0:
                manager.execute(ts, {"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT",
                                     "side": "sell", "amount": "0.02"})

    scenario = {"name": "blocks", "venues": ["binance"],
                "initial_balances": {"binance:spot:USDT": "100000", "binance:spot:ETH": "10",
                                     "binance:futures:USDT": "50000"},
                "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-01T17:00:00Z", "step": "1min"}}
    result = run(scenario, data_provider=synthetic_market(seed=5, hours=60), strategies=[SpotAndPerp()])
    history = result.manager.execution_history
    # owners: two strategies and none, interleaved within the records of one kind
    owners = {i: "a" if i % 5 else "b" for i, r in enumerate(history)
              if r.operation in ("spot_trade", "perp_trade") and i % 7}
    steps = [int(t) for t in result.equity.index.asi8]
    blocks: list[ExchangeBlock] = []
    fast = scan_history(history, owners, steps, full=False, end=len(history), exchanges=blocks)
    plain = scan_history(list(history), owners, steps, full=False)
    pd.testing.assert_frame_equal(fast[0], plain[0], check_exact=True)
    assert blocks and fast[1] and fast[2] == plain[2] and fast[2]  # spot as blocks; perps and accruals as before
    assert sum(len(b.steps) for b in blocks) + len(fast[1]) == len(plain[1])
    px = unit_prices(result.positions, result.exposures, {k for o in plain[1] for k in o[2]})
    want = pnl_by_strategy(px, plain[1], plain[2], 1.5)
    got = pnl_by_strategy(px, fast[1], fast[2], 1.5, exchanges=blocks)
    assert list(got.items()) == list(want.items()) and set(want) == {"a", "b", "unattributed"}
