"""Morpho's fee-free flash loan as the flash-loan source of a live atomic bundle, on anvil with the real contracts:
Morpho Blue (npm ``@morpho-org/morpho-blue``), Uniswap v2 / v3 (npm artifacts) on ONE set of tokens, and our
executor contract (``MorphoBundleExecutor.sol``, shipped by the Morpho plugin).

The bundle: flash-borrow 10 WETH from Morpho -> swap it for USDC on Uniswap v3 -> post the USDC as collateral in
Morpho's ``USDC/WETH-86`` market -> borrow 10 WETH there -> Morpho takes its 10 WETH back: ONE transaction.

What is compared with what: the deltas against the account's balance and position changes read from the contracts
(``balanceOf``, ``eth_getBalance``, ``Morpho.position`` / ``market`` with SharesMathLib written out here), the nonce
(one transaction), the backtest of the same bundle on the chain's state just before it (paper mode: a backtest
manager on LiveMarketData) -- equal deltas to the wei, gas aside; and a bundle whose swap cannot pay its minimum
changes nothing (typed error, no transaction).
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from basis_core import ExecutionInterfaceManager, hookimpl
from basis_core.errors import ContractRevertError, HealthFactorError, InstructionError
from basis_core.testing.anvil import AnvilNode
from basis_core.testing.contracts import transact

pytest.importorskip("web3")
pytestmark = pytest.mark.chain

KEY = "0x" + "c4" * 32  # a test-only key funded below
D = Decimal
MARKET = "USDC/WETH-86"
PRICE = 5 * 10**44  # 1 USDC (1e6) = 0.0005 WETH (5e14): 5e14 x 1e36 / 1e6, the pools' 2000 USDC per WETH
POOL = "v2:WETH/USDC"  # (v2: live market data holds its whole state, reserves, so paper mode swaps exactly)
BUNDLE_STEPS = 3


class World:
    def __init__(self, url: str, w3: Any, uni: Any, morpho: Any, user: str, executor: str) -> None:
        self.url, self.w3, self.uni, self.morpho, self.user, self.executor = url, w3, uni, morpho, user, executor

    def state(self) -> dict[str, int]:
        """Everything the account holds, read from the contracts (base units)."""
        from basis_venue_morpho.live import market_id

        w3, u = self.w3, self.user
        out = {s: int(self.uni.tokens[s].functions.balanceOf(u).call()) for s in ("WETH", "USDC", "DAI")}
        out["ETH"] = int(w3.eth.get_balance(u))
        out["nonce"] = int(w3.eth.get_transaction_count(u))
        mid = market_id(self.morpho.params[MARKET])
        tsa, tss, tba, tbs, _, _ = self.morpho.morpho.functions.market(mid).call()
        supply_shares, borrow_shares, collateral = self.morpho.morpho.functions.position(mid, u).call()
        out["supplied"] = supply_shares * (tsa + 1) // (tss + 10**6)  # SharesMathLib, virtual 1e6 / 1
        out["debt"] = -(-borrow_shares * (tba + 1) // (tbs + 10**6))
        out["collateral"] = collateral
        out["executor_WETH"] = int(self.uni.tokens["WETH"].functions.balanceOf(self.executor).call())
        out["executor_USDC"] = int(self.uni.tokens["USDC"].functions.balanceOf(self.executor).call())
        return out


@pytest.fixture(scope="module")
def world(anvil: AnvilNode) -> Iterator[World]:
    """Uniswap v2 / v3 (WETH9, USDC, DAI; 2000 USDC per WETH) and Morpho Blue with the market USDC/WETH-86 on the same
    WETH and USDC, 500 WETH lent to it; the user holds ETH, WETH, USDC and owns a MorphoBundleExecutor."""
    from basis_venue_morpho.testing.deploy import deploy_morpho
    from basis_venue_uniswap.testing.deploy import deploy_uniswap
    from eth_account import Account
    from web3 import Web3

    snap = anvil.snapshot()
    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))
    dep, lender = w3.eth.accounts[0], w3.eth.accounts[2]
    uni = deploy_uniswap(w3, dep)
    morpho = deploy_morpho(w3, dep, {"WETH": 18, "USDC": 6}, [("USDC", "WETH", 86 * 10**16, PRICE)],
                           tokens={"WETH": uni.tokens["WETH"], "USDC": uni.tokens["USDC"]})
    weth = uni.tokens["WETH"]
    transact(w3, weth.functions.deposit(), lender, value=500 * 10**18)
    transact(w3, weth.functions.approve(morpho.morpho.address, 2**256 - 1), lender)
    transact(w3, morpho.morpho.functions.supply(morpho.params[MARKET], 500 * 10**18, 0, lender, b""), lender)
    user = str(Account.from_key(KEY).address)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": dep, "to": user, "value": 100 * 10**18}))
    transact(w3, weth.functions.transfer(user, 20 * 10**18), dep)
    transact(w3, uni.tokens["USDC"].functions.transfer(user, 100_000 * 10**6), dep)
    world = World(anvil.url, w3, uni, morpho, user, "")
    world.executor = live(world).venue("morpho").backend.deploy_executor()
    yield world
    anvil.revert(snap)


@pytest.fixture
def frozen(world: World, chain: AnvilNode) -> Iterator[World]:
    """Every new block at the latest block's time (no interest between the backtest's read and the bundle)."""
    chain.rpc("anvil_setBlockTimestampInterval", [0])
    try:
        yield world
    finally:
        chain.rpc("anvil_removeBlockTimestampInterval", [])


def morpho_table(world: World) -> dict[str, Any]:
    return world.morpho.deployment_table()


def live(world: World) -> ExecutionInterfaceManager:
    """A live manager over uniswap and morpho (the executor venue)."""
    from basis_venue_morpho.venue import MorphoVenue
    from basis_venue_uniswap.venue import UniswapVenue

    common = {"rpc_url": world.url, "private_key": KEY, "receipt_poll_interval": 0.002}
    cfg = {"execution_mode": "live", "autoload": False, "venue_config": {
        "uniswap": {**common, "deployment_table": world.uni.deployment_table(), "approval_mode": "unlimited"},
        "morpho": {**common, "deployment_table": morpho_table(world),
                   **({"executor": world.executor} if world.executor else {})}}}
    return ExecutionInterfaceManager(cfg, plugins=[UniswapVenue, MorphoVenue])


def block_time(world: World) -> pd.Timestamp:
    return pd.Timestamp(int(world.w3.eth.get_block("latest")["timestamp"]), unit="s", tz="UTC")


def bundle(swap_out: Decimal, min_out: Decimal | None = None) -> dict[str, Any]:
    return {"operation": "atomic", "venue": "morpho",
            "flash_loan": {"venue": "morpho", "asset": "WETH", "amount": "10"},
            "steps": [
                {"operation": "swap", "venue": "uniswap", "pool": POOL, "token_in": "WETH", "token_out": "USDC",
                 "amount_in": "10", "min_amount_out": str(swap_out if min_out is None else min_out)},
                {"operation": "supply", "venue": "morpho", "asset": "USDC", "amount": str(swap_out), "market": MARKET},
                {"operation": "borrow", "venue": "morpho", "asset": "WETH", "amount": "10", "market": MARKET}]}


class UsdFeed:
    """The ETH price in USD the pair's reserves make (the backtest anchors its v2 pool there)."""

    price = D(2000)

    @classmethod
    @hookimpl
    def live_market_data(cls, timestamp: Any, keys: Any, context: Any) -> Any:
        from basis_core.live.market_data import LiveValue

        return {"oracle:ETH/USD": LiveValue({"price": cls.price}, int(pd.Timestamp(timestamp).value))}


def paper_deltas(world: World, ts: pd.Timestamp, instruction: dict[str, Any]) -> dict[str, Decimal]:
    """The instruction's positions in backtest on the chain's state now (LiveMarketData: Uniswap's pools, Morpho's
    market), the account holding what it holds on chain; gas aside (the backtest's gas model is not a receipt)."""
    from basis_venue_morpho.venue import MorphoVenue
    from basis_venue_uniswap.venue import UniswapVenue

    from basis_core.data.contrib import Contributor
    from basis_core.live.market_data import LiveMarketData

    st = world.state()
    # the backtest's v2 pool is virtual (anchored at the market price with a configured depth): give it the
    # chain pair's reserves, i.e. its depth and its price (USDC at 1 USD)
    pair = world.uni.v2_pairs["WETH/USDC"]
    r0, r1, _ = pair.functions.getReserves().call()
    weth_first = pair.functions.token0().call() == world.uni.tokens["WETH"].address
    r_weth, r_usdc = (r0, r1) if weth_first else (r1, r0)
    UsdFeed.price = D(r_usdc).scaleb(-6) / D(r_weth).scaleb(-18)
    assert UsdFeed.price * D(r_weth).scaleb(-18) == D(r_usdc).scaleb(-6)  # exact (a fresh pair at 2000)
    pools = {"v2:WETH/USDC": {"tvl_usd": str(2 * D(r_usdc).scaleb(-6))}}
    cfg = {"venue_config": {"uniswap": {"rpc_url": world.url, "deployment_table": world.uni.deployment_table()},
                            "morpho": {"rpc_url": world.url, "deployment_table": morpho_table(world)}}}
    markets = {MARKET: {"loan": "WETH", "collateral": "USDC", "lltv": "0.86"}}
    balances = {"ethereum:wallet:WETH": D(st["WETH"]).scaleb(-18), "ethereum:wallet:USDC": D(st["USDC"]).scaleb(-6),
                "ethereum:wallet:ETH": "100"}
    with LiveMarketData(cfg, venues=["uniswap", "morpho", "usdfeed"],
                        plugins=[(Contributor("uniswap", "basis-venue-uniswap"), UniswapVenue),
                                 (Contributor("morpho", "basis-venue-morpho"), MorphoVenue),
                                 (Contributor("usdfeed", "tests"), UsdFeed)]) as data:
        data.get_data(ts)
        paper = ExecutionInterfaceManager(
            {"initial_balances": balances, "autoload": False,
             "venue_config": {"uniswap": {"pools": pools},
                              "morpho": {"charge_gas": False, "liquidations": False, "markets": markets}}},
            data, "backtest", plugins=[UniswapVenue, MorphoVenue])
        # the account's collateral already on chain, then the instruction
        paper.execute(ts, {"venue": "morpho", "operation": "supply", "asset": "USDC", "market": MARKET,
                           "amount": str(D(st["collateral"]).scaleb(-6))})
        return {k: v for k, v in paper.execute(ts, instruction).positions.items() if k != "ethereum:wallet:ETH"}


def test_flash_loan_swap_collateral_borrow_is_one_transaction_equal_to_the_chain_and_the_backtest(
        frozen: World) -> None:
    """Flash 10 WETH from Morpho, swap on Uniswap v3, post the USDC, borrow 10 WETH to repay the (free) loan: one
    transaction; the deltas are the chain's changes; the backtest of the same bundle on the chain's state before it
    gives the same deltas to the wei (gas aside); nothing stays in the executor."""
    world = frozen
    m = live(world)
    ts = block_time(world)
    m.execute(ts, {"venue": "morpho", "operation": "supply", "asset": "USDC", "amount": "10000", "market": MARKET})
    q = m.quote(ts, {"operation": "swap", "venue": "uniswap", "pool": POOL, "token_in": "WETH", "token_out": "USDC",
                     "amount_in": "10"}).details["amount_out"]
    b = bundle(q)
    from basis_core.instructions import parse_instruction

    m.venue("morpho").backend.prepare_atomic(parse_instruction(b), ts)  # one-time set-up (authorization, approvals)
    ts = block_time(world)
    want = paper_deltas(world, ts, b)
    before = world.state()
    d = m.execute(ts, b)
    after = world.state()
    assert after["nonce"] - before["nonce"] == 1  # ONE transaction
    assert d.venue == "morpho" and d.operation == "atomic" and d.details["steps"] == BUNDLE_STEPS
    # the chain's changes
    assert after["collateral"] - before["collateral"] == int(q.scaleb(6)) == int(
        d.positions["morpho:collateral:USDC"].scaleb(6))
    assert after["debt"] - before["debt"] == int(d.positions["morpho:debt:WETH"].scaleb(18))
    assert d.positions["morpho:debt:WETH"] >= 10  # 10 WETH borrowed (its shares' value rounds up)
    for sym, dec in (("WETH", 18), ("USDC", 6), ("DAI", 18), ("ETH", 18)):
        assert d.positions.get(f"ethereum:wallet:{sym}", D(0)) == D(after[sym] - before[sym]).scaleb(-dec), sym
    assert after["WETH"] == before["WETH"] and after["USDC"] == before["USDC"]  # the loan was repaid by the borrow
    assert after["executor_WETH"] == after["executor_USDC"] == 0
    gas = sum(int(r["gasUsed"]) * int(r["effectiveGasPrice"]) for r in
              (world.w3.eth.get_transaction_receipt(h) for h in d.details["tx_hashes"]))
    assert d.positions["ethereum:wallet:ETH"] == -D(gas).scaleb(-18)
    # the backtest of the same bundle on the chain's state before it
    assert {k: v for k, v in d.positions.items() if k != "ethereum:wallet:ETH"} == want


def test_a_failing_step_reverts_the_whole_bundle_and_nothing_changes(frozen: World) -> None:
    """The swap inside the flash loan cannot pay its minimum (one unit above the exact quote): Uniswap v2 reverts, so
    the whole transaction would (refused at the gas estimate: nothing is sent); a typed error; no balance, position
    or nonce changes. A borrow beyond the collateral is refused the same way, with Morpho's reason."""
    world = frozen
    m = live(world)
    ts = block_time(world)
    q = m.quote(ts, {"operation": "swap", "venue": "uniswap", "pool": POOL, "token_in": "WETH", "token_out": "USDC",
                     "amount_in": "10"}).details["amount_out"]
    from basis_core.instructions import parse_instruction

    bad = bundle(q, min_out=q + D("0.000001"))
    m.venue("morpho").backend.prepare_atomic(parse_instruction(bad), ts)
    before = world.state()
    with pytest.raises(ContractRevertError, match="INSUFFICIENT_OUTPUT_AMOUNT"):
        m.execute(ts, bad)
    assert world.state() == before
    greedy = bundle(q)
    greedy["steps"][2]["amount"] = "1000"  # far beyond the collateral: Morpho's borrow reverts
    greedy["client_id"] = "greedy-1"
    with pytest.raises(HealthFactorError, match="insufficient collateral"):
        m.execute(ts, greedy)
    assert world.state() == before


def test_bundle_refusals_name_the_field_and_send_nothing(frozen: World) -> None:
    """A flash loan from another venue, a step the executor cannot run, a min_health_factor: InstructionErrors
    naming the field, before anything is sent."""
    world = frozen
    m = live(world)
    ts = block_time(world)
    before = world.state()
    other = bundle(D(1))
    other["flash_loan"] = {"venue": "aave", "asset": "WETH", "amount": "10"}
    with pytest.raises(InstructionError) as e:
        m.execute(ts, other)
    assert e.value.field == "flash_loan.venue"
    perp = bundle(D(1))
    perp["steps"][0] = {"operation": "perp_trade", "venue": "uniswap", "symbol": "ETH/USDC:USDC", "side": "sell",
                        "amount": "1"}
    with pytest.raises(InstructionError) as e:
        m.execute(ts, perp)
    assert e.value.field == "steps.0.operation"
    hf = {**bundle(D(1)), "min_health_factor": "1.1", "health_factor_venue": "morpho"}
    with pytest.raises(InstructionError) as e:
        m.execute(ts, hf)
    assert e.value.field == "min_health_factor"
    assert world.state() == before
