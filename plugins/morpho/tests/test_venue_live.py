"""The morpho venue in live mode against the real Morpho Blue (npm ``@morpho-org/morpho-blue`` 1.0.0) on anvil, and
the backtest against the same market.

Independent results: the deployed contract's ``market(id)`` / ``position(id, user)``, the tokens' ``balanceOf``,
the account's nonce and ETH balance, receipts' gas; share conversions written out here from SharesMathLib
(virtual shares 1e6, virtual assets 1), never the plugin's numbers. Blocks keep one timestamp unless a step jumps
(``anvil_setBlockTimestampInterval 0``), and each market is accrued on chain by another account before a step,
so the contract's stored state is the state at the step's time.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
from basis_venue_morpho.testing.live_target import fund, seed_world
from basis_venue_morpho.venue import MorphoVenue

from basis_core import ExecutionInterfaceManager, hookimpl
from basis_core.data import DataProvider
from basis_core.data.series import Series
from basis_core.errors import CorridorError, HealthFactorError, InstructionError, InsufficientFundsError
from basis_core.risk import NO_SHOCK
from basis_core.risk.corridor import corridor
from basis_core.testing.anvil import ANVIL_KEYS, AnvilNode
from basis_core.testing.contracts import transact

pytestmark = pytest.mark.chain
D = Decimal
WETH_MKT = "wstETH/WETH-94.5"
USDC_MKT = "wstETH/USDC-86"
BALANCES = {"ethereum:wallet:WETH": "100", "ethereum:wallet:wstETH": "100", "ethereum:wallet:USDC": "100000"}


@pytest.fixture(scope="module")
def env(anvil: AnvilNode) -> Iterator[Any]:
    from web3 import Web3

    snap = anvil.snapshot()
    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))
    owner, user, lender, bob = w3.eth.accounts[:4]
    world = seed_world(w3, owner, lender, bob)
    fund(world, user, BALANCES)
    yield SimpleNamespace(w3=w3, world=world, user=user, lender=lender, bob=bob, url=anvil.url, anvil=anvil,
                          table=world.deployment_table({"bob": bob}))
    anvil.revert(snap)


@pytest.fixture
def frozen(env: Any, chain: AnvilNode) -> Iterator[Any]:
    """The module's world, reverted after the test, with every new block at the latest block's time."""
    chain.rpc("anvil_setBlockTimestampInterval", [0])
    try:
        yield env
    finally:
        chain.rpc("anvil_removeBlockTimestampInterval", [])


def live_manager(env: Any, **opts: Any) -> ExecutionInterfaceManager:
    cfg = {"execution_mode": "live", "autoload": False,
           "venue_config": {"morpho": {"rpc_url": env.url, "private_key": ANVIL_KEYS[1],
                                       "deployment_table": env.table, "receipt_poll_interval": 0.002, **opts}}}
    return ExecutionInterfaceManager(cfg, plugins=[MorphoVenue])


def block_time(env: Any) -> int:
    return int(env.w3.eth.get_block("latest")["timestamp"])


def jump(env: Any, seconds: int) -> None:
    env.anvil.rpc("evm_setNextBlockTimestamp", [block_time(env) + seconds])


def accrue_on_chain(env: Any) -> None:
    """``accrueInterest`` of both markets, sent by the lender (so stored state = state now)."""
    for p in env.world.params.values():
        transact(env.w3, env.world.morpho.functions.accrueInterest(p), env.lender)


def chain_state(env: Any) -> dict[str, int]:
    """Everything the account holds, read from the contracts (base units)."""
    w, u = env.world, env.user
    out = {"nonce": env.w3.eth.get_transaction_count(u), "ETH": env.w3.eth.get_balance(u)}
    for sym, tok in w.tokens.items():
        out[sym] = tok.functions.balanceOf(u).call()
    for alias, params in w.params.items():
        from basis_venue_morpho.live import market_id

        mid = market_id(params)
        tsa, tss, tba, tbs, _, _ = w.morpho.functions.market(mid).call()
        supply_shares, borrow_shares, collateral = w.morpho.functions.position(mid, u).call()
        # SharesMathLib: toAssetsDown / toAssetsUp with virtual shares 1e6, virtual assets 1
        out[f"supplied@{alias}"] = supply_shares * (tsa + 1) // (tss + 10**6)
        out[f"debt@{alias}"] = -(-borrow_shares * (tba + 1) // (tbs + 10**6))
        out[f"collateral@{alias}"] = collateral
    return out


def expected_deltas(env: Any, before: dict[str, int], after: dict[str, int]) -> dict[str, Decimal]:
    """The chain's changes under the venue's keys (both markets summed per key)."""
    dec = env.world.decimals
    out: dict[str, Decimal] = {}

    def add(key: str, units: int, decimals: int) -> None:
        if units:
            out[key] = out.get(key, D(0)) + D(units).scaleb(-decimals)

    for sym in env.world.tokens:
        add(f"ethereum:wallet:{sym}", after[sym] - before[sym], dec[sym])
    add("ethereum:wallet:ETH", after["ETH"] - before["ETH"], 18)
    for alias, (loan, coll) in ((WETH_MKT, ("WETH", "wstETH")), (USDC_MKT, ("USDC", "wstETH"))):
        add(f"morpho:supplied:{loan}", after[f"supplied@{alias}"] - before[f"supplied@{alias}"], dec[loan])
        add(f"morpho:debt:{loan}", after[f"debt@{alias}"] - before[f"debt@{alias}"], dec[loan])
        add(f"morpho:collateral:{coll}", after[f"collateral@{alias}"] - before[f"collateral@{alias}"], dec[coll])
    return {k: v for k, v in out.items() if v}


def gas_of(env: Any, hashes: list[str]) -> int:
    total = 0
    for h in hashes:
        r = env.w3.eth.get_transaction_receipt(h)
        total += int(r["gasUsed"]) * int(r["effectiveGasPrice"])
    return total


STEPS: list[tuple[int, dict[str, Any]]] = [  # (seconds to jump first, instruction)
    (0, {"operation": "supply", "asset": "WETH", "amount": "30", "market": WETH_MKT}),
    (0, {"operation": "supply", "asset": "wstETH", "amount": "20", "market": WETH_MKT}),
    (0, {"operation": "borrow", "asset": "WETH", "amount": "15"}),
    (30 * 86400, {"operation": "repay", "asset": "WETH", "amount": "4"}),
    (3600, {"operation": "withdraw", "asset": "WETH", "amount": "10.123456789012345678"}),
    (0, {"operation": "withdraw", "asset": "wstETH", "amount": "3", "market": WETH_MKT}),
    (0, {"operation": "supply", "asset": "wstETH", "amount": "5", "market": USDC_MKT}),
    (0, {"operation": "borrow", "asset": "USDC", "amount": "1234.567891"}),
    (7 * 86400, {"operation": "repay", "asset": "WETH", "amount": "max"}),
    (0, {"operation": "withdraw", "asset": "WETH", "amount": "max"}),
    (0, {"operation": "withdraw", "asset": "wstETH", "amount": "max", "market": WETH_MKT}),
    (86400, {"operation": "repay", "asset": "USDC", "amount": "2000"}),  # more than the debt: every share
]


def test_live_deltas_are_the_chain_changes(frozen: Any) -> None:
    """Each live operation's deltas equal the balance and position changes read from the contracts (gas from the
    receipts), over both markets, time jumps, partial and full repays and withdrawals, and a liquidation."""
    env = frozen
    live = live_manager(env)
    for wait, step in [*STEPS, (0, {"operation": "liquidate", "market": WETH_MKT, "borrower": "bob", "amount": "2"})]:
        if wait:
            jump(env, wait)
        accrue_on_chain(env)
        ts = pd.Timestamp(block_time(env), unit="s", tz="UTC")
        before = chain_state(env)
        d = live.execute(ts, {"venue": "morpho", **step})
        after = chain_state(env)
        assert after["nonce"] - before["nonce"] == len(d.details["tx_hashes"])
        assert before["ETH"] - after["ETH"] == gas_of(env, d.details["tx_hashes"])
        assert dict(d.positions) == expected_deltas(env, before, after), step
    end = chain_state(env)
    assert end[f"debt@{WETH_MKT}"] == end[f"supplied@{WETH_MKT}"] == end[f"collateral@{WETH_MKT}"] == 0
    assert end[f"debt@{USDC_MKT}"] == 0
    assert d.status == "liquidated" and d.positions["ethereum:wallet:WETH"] == D(-2)
    assert d.positions["ethereum:wallet:wstETH"] > D(2) / D("1.19")  # the incentive


def test_live_balances_report_the_chain(frozen: Any) -> None:
    """get_balances in live mode: wallet and positions from the chain, health factor from the oracle."""
    env = frozen
    live = live_manager(env)
    ts = pd.Timestamp(block_time(env), unit="s", tz="UTC")
    live.execute(ts, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "10", "market": WETH_MKT})
    live.execute(ts, {"venue": "morpho", "operation": "borrow", "asset": "WETH", "amount": "5.95"})
    b = live.get_balances(ts, "morpho")
    c = chain_state(env)
    debt = c[f"debt@{WETH_MKT}"]  # borrow shares to assets rounded up, as _isHealthy counts them
    assert debt - 5_950_000_000_000_000_000 in (0, 1)
    assert b["morpho:debt:WETH"] == D(debt).scaleb(-18)
    assert b["morpho:collateral:wstETH"] == D(10)
    # max borrow: 10 wstETH x 1.19 (oracle, 1e36 scale) x 0.945, rounded down; health factor = max / debt (WAD)
    max_borrow = (10 * 10**18 * 119 * 10**34 // 10**36) * 945 * 10**15 // 10**18
    assert b["morpho:metric:health_factor"] == D(max_borrow * 10**18 // debt).scaleb(-18)
    assert b["ethereum:wallet:WETH"] == D("105.95")


def test_live_refusals_are_typed_and_send_nothing(frozen: Any) -> None:
    """Unknown market or asset, more than the wallet / the position holds, a borrow or withdrawal beyond the LLTV,
    a repay without debt, liquidating a healthy or unknown borrower: typed errors naming the field; the chain is
    unchanged (same nonce, balances and positions)."""
    env = frozen
    live = live_manager(env)
    ts = pd.Timestamp(block_time(env), unit="s", tz="UTC")
    live.execute(ts, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "10", "market": WETH_MKT})
    live.execute(ts, {"venue": "morpho", "operation": "borrow", "asset": "WETH", "amount": "10"})
    before = chain_state(env)
    bad = [
        ({"operation": "supply", "asset": "WETH", "amount": "1", "market": "ZZZ/WETH-94.5"}, InstructionError,
         "market"),
        ({"operation": "supply", "asset": "USDC", "amount": "1", "market": WETH_MKT}, InstructionError, "asset"),
        ({"operation": "supply", "asset": "WETH", "amount": "1000", "market": WETH_MKT}, InsufficientFundsError,
         "amount"),
        ({"operation": "supply", "asset": "USDC", "amount": "0.0000001"}, InstructionError, "amount"),
        ({"operation": "borrow", "asset": "WETH", "amount": "1.3"}, HealthFactorError, "amount"),
        ({"operation": "withdraw", "asset": "wstETH", "amount": "2", "market": WETH_MKT}, HealthFactorError,
         "amount"),
        ({"operation": "withdraw", "asset": "wstETH", "amount": "11", "market": WETH_MKT}, InsufficientFundsError,
         "amount"),
        ({"operation": "withdraw", "asset": "WETH", "amount": "1", "market": WETH_MKT}, InstructionError, "amount"),
        ({"operation": "repay", "asset": "USDC", "amount": "1"}, InstructionError, "amount"),
        ({"operation": "liquidate", "market": WETH_MKT, "borrower": env.lender}, InstructionError, "borrower"),
        ({"operation": "liquidate", "market": WETH_MKT, "borrower": "carol"}, InstructionError, "borrower"),
    ]
    for ins, err, field in bad:
        with pytest.raises(err) as info:
            live.execute(ts, {"venue": "morpho", **ins})
        assert info.value.field == field, (ins, info.value)
        assert chain_state(env) == before, ins
    # bob made healthy again by the oracle: liquidating him is refused before anything is sent
    env.world.set_price(WETH_MKT, 13 * 10**35)
    before = chain_state(env)
    with pytest.raises(HealthFactorError) as info:
        live.execute(ts, {"venue": "morpho", "operation": "liquidate", "market": WETH_MKT, "borrower": "bob"})
    assert info.value.field == "borrower"
    assert chain_state(env) == before


def chain_market(env: Any, alias: str, prices: dict[str, Decimal]) -> DataProvider:
    """The chain's market now as the backtest's one ``morpho:<alias>`` row (at its lastUpdate), with its oracle
    price, and the USD prices the backtest values rounding with."""
    from basis_venue_morpho.live import market_id

    w = env.world
    mid = market_id(w.params[alias])
    tsa, tss, tba, tbs, last, fee = w.morpho.functions.market(mid).call()
    rat = w.irm.functions.rateAtTarget(mid).call()
    price = w.oracles[alias].functions.price().call()
    t = [last * 10**9]
    cols = {"total_supply_assets": tsa, "total_supply_shares": tss, "total_borrow_assets": tba,
            "total_borrow_shares": tbs, "fee": fee, "rate_at_target": rat, "oracle_price": price}
    t0 = [(last - 86400) * 10**9]
    return DataProvider([Series(f"morpho:{alias}", t, {k: [D(v)] for k, v in cols.items()}),
                         Series("oracle:ETH/USD", t0, {"price": [prices["ETH"]]}),
                         Series("lst:wstETH", t0, {"rate": [prices["wstETH"]]})])


def test_backtest_and_live_give_the_same_deltas_to_the_wei(frozen: Any) -> None:
    """The same sequence (supplies, borrows, repays, withdrawals, 30 days and an hour of interest) in live mode on
    the chain and in backtest on the chain's market state before it, at the blocks' times: equal deltas to the
    wei, gas aside (the backtest's gas model is not the chain's receipts)."""
    env = frozen
    accrue_on_chain(env)
    market = chain_market(env, WETH_MKT, {"ETH": D(3000), "wstETH": D("1.19")})
    bt = ExecutionInterfaceManager({"initial_balances": BALANCES, "autoload": False,
                                    "venue_config": {"morpho": {"charge_gas": False, "liquidations": False}}},
                                   market, "backtest", plugins=[MorphoVenue])
    live = live_manager(env)
    ts = pd.Timestamp(block_time(env), unit="s", tz="UTC")
    for i, (wait, step) in enumerate(STEPS[:6] + STEPS[8:11]):
        if i == 6:  # positions open: both report the same positions and metrics (chain accrued to its last block)
            lb, bb = live.get_balances(ts, "morpho"), bt.get_balances(ts, "morpho")
            assert {k: v for k, v in lb.items() if k.startswith("morpho:")} == bb
            assert bb["morpho:debt:WETH"] > 0 and bb["morpho:supplied:WETH"] > 0
        if wait:
            jump(env, wait)
            transact(env.w3, env.world.tokens["USDC"].functions.approve(env.lender, 0), env.lender)  # mine the jump
        ts = pd.Timestamp(block_time(env), unit="s", tz="UTC")
        d_live = live.execute(ts, {"venue": "morpho", **step})
        d_bt = bt.execute(ts, {"venue": "morpho", **step})
        live_pos = {k: v for k, v in d_live.positions.items() if k != "ethereum:wallet:ETH"}
        assert live_pos == dict(d_bt.positions), step
    assert bt.get_balances(ts, "morpho")["morpho:debt:WETH"] == 0


def test_live_market_data_is_the_contracts_state(frozen: Any) -> None:
    """LiveMarketData serves ``morpho:<alias>`` read from the chain, accrued to the step's time with the contract's
    math: it equals what ``accrueInterest`` then stores."""
    from basis_venue_morpho.live import market_id

    from basis_core.data.contrib import Contributor
    from basis_core.live.market_data import LiveMarketData

    env = frozen
    live = live_manager(env)
    ts = pd.Timestamp(block_time(env), unit="s", tz="UTC")
    live.execute(ts, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "10", "market": WETH_MKT})
    live.execute(ts, {"venue": "morpho", "operation": "borrow", "asset": "WETH", "amount": "8"})
    jump(env, 10 * 86400)
    transact(env.w3, env.world.tokens["USDC"].functions.approve(env.lender, 0), env.lender)
    now = pd.Timestamp(block_time(env), unit="s", tz="UTC")
    cfg = {"venue_config": {"morpho": {"rpc_url": env.url, "deployment_table": env.table}}}
    with LiveMarketData(cfg, venues=["morpho"], plugins=[(Contributor("morpho", "basis-venue-morpho"), MorphoVenue)]
                        ) as data:
        snap = data.get_data(now)
        accrue_on_chain(env)  # same block time: the stored state is the state the provider computed
        for alias in (WETH_MKT, USDC_MKT):
            tsa, tss, tba, tbs, last, _fee = env.world.morpho.functions.market(
                market_id(env.world.params[alias])).call()
            assert last == block_time(env)
            got = {c: snap.get(f"morpho:{alias}", c) for c in ("total_supply_assets", "total_supply_shares",
                                                                 "total_borrow_assets", "total_borrow_shares")}
            assert got == {"total_supply_assets": tsa, "total_supply_shares": tss, "total_borrow_assets": tba,
                           "total_borrow_shares": tbs}
            assert snap.get(f"morpho:{alias}", "rate_at_target") == env.world.irm.functions.rateAtTarget(
                market_id(env.world.params[alias])).call()
        assert snap.get(f"morpho:{WETH_MKT}", "oracle_price") == 119 * 10**34


@pytest.mark.parametrize("fault", ["kill_after_broadcast", "mined_while_down"])
def test_live_borrow_exactly_once_under_a_fault(env: Any, chain: AnvilNode, tmp_path: Path, fault: str) -> None:
    """The process dies after broadcasting a borrow / the borrow is mined while the manager is down: one borrow on
    chain (by the account's nonce), reported once by the restarted manager with the same deltas (rebuilt from the
    receipt by the venue's finish)."""
    from basis_core.testing.chain_faults import run_with_fault

    journal = tmp_path / "journal.sqlite"

    def make(url: str, opts: dict[str, Any]) -> ExecutionInterfaceManager:
        cfg = {"execution_mode": "live", "autoload": False, "journal_path": str(journal),
               "venue_config": {"morpho": {"rpc_url": url, "private_key": ANVIL_KEYS[1], "receipt_poll_interval": 0.002,
                                           "deployment_table": env.table, **opts}}}
        return ExecutionInterfaceManager(cfg, plugins=[MorphoVenue])

    ts = pd.Timestamp(block_time(env), unit="s", tz="UTC")
    make(env.url, {}).execute(ts, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "10",
                                   "market": WETH_MKT, "client_id": "setup"})
    debt0 = chain_state(env)[f"debt@{WETH_MKT}"]
    ins = {"venue": "morpho", "operation": "borrow", "asset": "WETH", "amount": "3", "client_id": f"borrow-{fault}"}
    run = run_with_fault(fault, env.url, env.user, make, ins, ts)
    assert run.first_error is not None and run.sent == 1
    resumed = [r for r in run.history if r.client_id == ins["client_id"]]
    assert len(resumed) == 1 and resumed[0].success
    assert run.reissued.positions["ethereum:wallet:WETH"] == D(3)
    assert dict(run.reissued.positions) == dict(resumed[0].positions)
    assert chain_state(env)[f"debt@{WETH_MKT}"] - debt0 in (3 * 10**18, 3 * 10**18 + 1)


def liquidatable(env: Any, alias: str, borrower: str) -> bool:
    """Whether Morpho Blue lets the lender liquidate ``borrower`` (an eth_call of ``liquidate`` seizing 1 unit;
    the lender holds and approved the loan token): the contract's own ``_isHealthy`` verdict."""
    from web3.exceptions import ContractLogicError

    call = env.world.morpho.functions.liquidate(env.world.params[alias], borrower, 1, 0, b"")
    try:
        call.call({"from": env.lender})
    except ContractLogicError as e:
        assert "position is healthy" in str(e), e
        return False
    return True


def test_live_risk_state_liquidation_price_is_where_morpho_liquidates(frozen: Any) -> None:
    """Live risk_state from the chain (position, accrued market, oracle): health now equals max borrow / debt as
    the contract rounds it; at the corridor's ETH factor the contract lets the position be liquidated, one step
    before it refuses."""
    env = frozen
    live = live_manager(env)
    ts = pd.Timestamp(block_time(env), unit="s", tz="UTC")
    live.execute(ts, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "10",
                       "market": USDC_MKT})
    live.execute(ts, {"venue": "morpho", "operation": "borrow", "asset": "USDC", "amount": "25000",
                       "market": USDC_MKT})
    env.world.set_balance("USDC", env.lender, 10**6 * 10**6)
    [now] = live.risk_state(ts, "morpho", NO_SHOCK) or []
    assert now.leg == f"morpho:{USDC_MKT}" and now.health is not None
    assert abs(now.health - D(10 * 3600 * 86) / D(100 * 25000)) < D("1e-9")  # 10 wstETH x 3600 x LLTV / debt
    base = env.world.oracles[USDC_MKT].functions.price().call()
    tol = D("1e-6")
    c = corridor(live, ts, drivers=("eth",), tol=tol, venues=["morpho"])
    assert c.eth_down is not None and c.nearest_leg_down == f"morpho:{USDC_MKT}"
    env.world.set_price(USDC_MKT, int(D(base) * c.eth_down))
    assert liquidatable(env, USDC_MKT, env.user)
    env.world.set_price(USDC_MKT, int(D(base) * (c.eth_down + 2 * tol)))
    assert not liquidatable(env, USDC_MKT, env.user)


class UsdFeed:
    """A fixed USD price feed for the paper test (Morpho serves no USD prices; a run takes them from a price venue)."""

    @staticmethod
    @hookimpl
    def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
        from basis_core.live.market_data import LiveValue

        now = int(pd.Timestamp(timestamp).value)
        return {"oracle:ETH/USD": LiveValue({"price": D(3000)}, now), "lst:wstETH": LiveValue({"rate": D("1.19")}, now)}


def test_paper_mode_fills_on_the_live_market_as_the_chain_does(frozen: Any) -> None:
    """Paper mode (a backtest manager on LiveMarketData read from the chain): collateral, a borrow and a lend at the
    chain's time give the deltas the same instructions then get live on that chain (gas aside)."""
    from basis_core.data.contrib import Contributor
    from basis_core.live.market_data import LiveMarketData

    env = frozen
    jump(env, 5 * 86400)  # interest since the seed: the provider's state is accrued to now
    transact(env.w3, env.world.tokens["USDC"].functions.approve(env.lender, 0), env.lender)
    ts = pd.Timestamp(block_time(env), unit="s", tz="UTC")
    cfg = {"venue_config": {"morpho": {"rpc_url": env.url, "deployment_table": env.table}}}
    steps = [{"operation": "supply", "asset": "wstETH", "amount": "10", "market": WETH_MKT},
             {"operation": "borrow", "asset": "WETH", "amount": "7.5"},
             {"operation": "supply", "asset": "WETH", "amount": "2.25", "market": WETH_MKT}]
    with LiveMarketData(cfg, venues=["morpho", "usdfeed"],
                        plugins=[(Contributor("morpho", "basis-venue-morpho"), MorphoVenue),
                                 (Contributor("usdfeed", "tests"), UsdFeed)]) as data:
        data.get_data(ts)
        paper = ExecutionInterfaceManager({"initial_balances": BALANCES, "autoload": False,
                                           "venue_config": {"morpho": {"charge_gas": False}}}, data, "backtest",
                                          plugins=[MorphoVenue])
        paper_deltas = [dict(paper.execute(ts, {"venue": "morpho", **s}).positions) for s in steps]
    live = live_manager(env)
    for step, want in zip(steps, paper_deltas, strict=True):
        got = live.execute(ts, {"venue": "morpho", **step})
        assert {k: v for k, v in got.positions.items() if k != "ethereum:wallet:ETH"} == want, step


# -- the live pre-trade corridor check (min_corridor_move) on lending instructions ----------------------------------
# In the wstETH/USDC market (ETH moves the collateral, not the debt) a borrow or a collateral withdrawal that would
# leave a smaller ETH move than the bound liquidating the position is refused with a CorridorError naming the market's
# leg before any transaction is sent (nonce and balances read from the chain); amounts from the market's own numbers:
# max borrow = collateral x oracle price / 1e36 x LLTV (``_isHealthy``).
GUARD_TS = pd.Timestamp("2025-03-01T00:00:00Z")
GUARD_LEG = f"morpho:{USDC_MKT}"


def guarded(env: Any) -> ExecutionInterfaceManager:
    cfg = {"execution_mode": "live", "autoload": False, "min_corridor_move": "0.2",
           "venue_config": {"morpho": {"rpc_url": env.url, "private_key": ANVIL_KEYS[1],
                                       "deployment_table": env.table, "receipt_poll_interval": 0.002}}}
    return ExecutionInterfaceManager(cfg, plugins=[MorphoVenue])


def test_live_morpho_borrows_and_withdrawals_that_narrow_the_corridor_are_never_sent(frozen: Any) -> None:
    env = frozen
    m = guarded(env)
    m.execute(GUARD_TS, {"venue": "morpho", "operation": "supply", "asset": "wstETH", "amount": "5",
                         "market": USDC_MKT})
    price = env.world.oracles[USDC_MKT].functions.price().call()
    lltv = env.world.params[USDC_MKT][4]
    max_borrow = D(5 * 10**18 * price // 10**36 * lltv // 10**18).scaleb(-6)  # USDC
    before = chain_state(env)
    with pytest.raises(CorridorError) as e:  # health 1/0.85: a ~15 % drop liquidates
        m.execute(GUARD_TS, {"venue": "morpho", "operation": "borrow", "asset": "USDC",
                       "amount": str((max_borrow * D("0.85")).quantize(D(1)))})
    assert e.value.field == GUARD_LEG and "min_corridor_move" in e.value.reason
    assert chain_state(env) == before and not m.execution_history[-1].success
    m.execute(GUARD_TS, {"venue": "morpho", "operation": "borrow", "asset": "USDC",
                   "amount": str((max_borrow * D("0.5")).quantize(D(1)))})  # health 2: a 50 % drop
    before = chain_state(env)
    with pytest.raises(CorridorError) as e:  # 4.5 of 5 wstETH out: the position would be unhealthy
        m.execute(GUARD_TS, {"venue": "morpho", "operation": "withdraw", "asset": "wstETH", "amount": "4.5",
                       "market": USDC_MKT})
    assert e.value.field == GUARD_LEG and chain_state(env) == before
    c = corridor(m, GUARD_TS, drivers=("eth",), tol=D("1e-4"), venues=["morpho"])
    assert c.nearest_leg_down == GUARD_LEG and c.eth_move is not None and c.eth_move >= D("0.2")
