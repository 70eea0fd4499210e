"""Curve venue, live mode, against the project's StableSwap pools (Curve ABI) on anvil; and the backtest's
virtual pools against the deployed contract's own get_dy on the same state.

Compared: every result's positions with the account's on-chain balance changes (tokens, LP token, ETH
incl. gas); outputs with the pool's get_dy read before; bad input with "no balance change, no nonce used,
nothing pending"."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_curve.deployment import load_table, table_from_world
from basis_venue_curve.testing.deploy import CurveWorld, deploy_curve_pools, mint, write_pool_state
from basis_venue_curve.venue import CurveVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data import synthetic_market
from basis_core.errors import InstructionError, InsufficientFundsError, SlippageError
from basis_core.testing.anvil import AnvilNode, start_anvil
from basis_core.testing.chain_faults import FAULTS, run_with_fault
from basis_core.testing.contracts import balance_changes as changes
from basis_core.testing.contracts import gas_paid_wei, wallet_balances

KEY = "0x" + "c1" * 32  # a test-only key funded below
TOKENS = ("USDC", "USDT", "DAI")
ETH_USD = "2500"


@pytest.fixture(scope="module")
def account(curve_world: CurveWorld) -> str:
    """The venue's account: 100 ETH and 1M of each stablecoin, minted by the deployer."""
    from eth_account import Account

    w3, dep = curve_world.w3, curve_world.deployer
    addr = str(Account.from_key(KEY).address)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": dep, "to": addr, "value": 100 * 10**18}))
    for sym in TOKENS:
        mint(w3, curve_world.tokens[sym], addr, 1_000_000 * 10 ** curve_world.token_decimals[sym], sender=dep)
    return addr


def live(world: CurveWorld, anvil: AnvilNode, **options: Any) -> ExecutionInterfaceManager:
    cfg = {"execution_mode": "live", "venue_config": {"curve": {
        "rpc_url": anvil.url, "private_key": KEY, "deployment_table": table_from_world(world),
        "receipt_poll_interval": 0.002, "eth_usd": ETH_USD, **options}}}
    return ExecutionInterfaceManager(cfg, execution_mode="live", autoload=False, plugins=[CurveVenue])


def balances(world: CurveWorld, addr: str) -> dict[str, Decimal]:
    return wallet_balances(world.w3, addr, {s: (world.tokens[s], world.token_decimals[s]) for s in TOKENS},
                           {f"curve:lp:{name}": pool for name, pool in world.pools.items()})


def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def swap(**kw: Any) -> dict[str, Any]:
    return {"venue": "curve", "operation": "swap", **kw}


@pytest.mark.parametrize(("pool", "token_in", "token_out", "amount"), [
    ("2pool", "USDC", "USDT", "250000"),
    ("3pool", "DAI", "USDC", "12345.678901234567890123"),
])
def test_swap_deltas_are_the_balance_changes(curve_world: CurveWorld, account: str, chain: AnvilNode, pool: str,
                                             token_in: str, token_out: str, amount: str) -> None:
    w = curve_world
    coins = w.pool_coins[pool]
    i, j = coins.index(token_in), coins.index(token_out)
    dx = int(Decimal(amount) * 10 ** w.token_decimals[token_in])
    expected = w.pools[pool].functions.get_dy(i, j, dx).call()
    before = balances(w, account)
    d = live(w, chain).execute(now(), swap(token_in=token_in, token_out=token_out, amount_in=amount, pool=pool,
                                           min_amount_out="12000"))
    assert changes(before, balances(w, account)) == dict(d.positions)
    assert d.positions[f"ethereum:wallet:{token_out}"] == Decimal(expected) / 10 ** w.token_decimals[token_out]
    gas_wei = gas_paid_wei(w.w3, (*d.details["approval_tx_hashes"], d.order_id))
    assert -d.positions["ethereum:wallet:ETH"] == Decimal(gas_wei) / 10**18
    assert d.pnl["gas"] == d.positions["ethereum:wallet:ETH"] * Decimal(ETH_USD)
    value = sum(v * d.details["reference_prices"][k.split(":")[-1]] for k, v in d.positions.items())
    assert sum(d.pnl.values()) == value


def test_backtest_pool_pays_what_the_contract_pays_on_the_same_state(curve_world: CurveWorld,
                                                                     chain: AnvilNode) -> None:
    """Write the backtest's anchored (and then moved) pool state into the deployed pool; its get_dy agrees."""
    w = curve_world
    ts = pd.Timestamp("2025-06-02T12:00:00Z")
    m = ExecutionInterfaceManager({"initial_balances": {"ethereum:wallet:USDC": "1e8", "ethereum:wallet:ETH": "1"}},
                                  synthetic_market(hours=24 * 160), "backtest", autoload=False, plugins=[CurveVenue])
    sim = m.venue("curve").backend
    m.execute(ts, swap(token_in="USDC", token_out="USDT", amount_in="7000000", pool="2pool"))  # move it first
    for name in ("2pool", "3pool"):
        st = sim.pool_state(ts, name).pool
        write_pool_state(w.w3, w.pools[name], st.balances, st.lp_supply)
        coins = w.pool_coins[name]
        for i, j, amount in ((0, 1, "1000"), (1, 0, "3000000"), (len(coins) - 1, 0, "0.000001")):
            ins = swap(token_in=coins[i], token_out=coins[j], amount_in=amount, pool=name)
            q = m.quote(ts, ins)
            dx = int(Decimal(amount) * 10 ** w.token_decimals[coins[i]])
            onchain = w.pools[name].functions.get_dy(i, j, dx).call()
            assert q.details["amount_out"] == Decimal(onchain) / 10 ** w.token_decimals[coins[j]], (name, i, j)


BAD = [
    ({"token_in": "ZZZ"}, "token_in", InstructionError),
    ({"token_in": "DAI", "pool": "2pool"}, "token_in", InstructionError),
    ({"pool": "4pool"}, "pool", InstructionError),
    ({"token_out": "USDC"}, "token_out", InstructionError),  # same token
    ({"amount_in": "0"}, "amount_in", InstructionError),
    ({"amount_in": "1.0000001"}, "amount_in", InstructionError),
    ({"amount_in": "1000001", "pool": "2pool"}, "amount_in", InstructionError),  # > the pool's 1M USDC
    ({"min_amount_out": "101"}, "min_amount_out", SlippageError),
    ({"amount_in": "500000", "pool": "2pool", "max_slippage_bps": "1"}, "max_slippage_bps", SlippageError),
    ({"deadline": "2020-01-01T00:00:00Z"}, "deadline", InstructionError),
]


def test_bad_input_is_typed_changes_nothing_and_leaves_nothing_pending(
        curve_world: CurveWorld, account: str, chain: AnvilNode) -> None:
    w = curve_world
    m = live(w, chain)
    before = balances(w, account)
    nonce = w.w3.eth.get_transaction_count(account, "pending")
    for changes_, field, error in BAD:
        with pytest.raises(error) as e:
            m.execute(now(), swap(**{"token_in": "USDC", "token_out": "USDT", "amount_in": "100", **changes_}))
        assert e.value.field == field, changes_
    assert balances(w, account) == before
    assert w.w3.eth.get_transaction_count(account, "pending") == nonce
    assert m.venue("curve").backend.client.pending == {}


def test_insufficient_wallet_balance_is_refused_before_sending(curve_world: CurveWorld, account: str,
                                                                chain: AnvilNode) -> None:
    w = curve_world
    m = live(w, chain)
    m.execute(now(), swap(token_in="USDC", token_out="DAI", amount_in="600000", pool="3pool"))  # 400k USDC left
    before = balances(w, account)
    with pytest.raises(InsufficientFundsError) as e:
        m.execute(now(), swap(token_in="USDC", token_out="USDT", amount_in="500000", pool="3pool"))
    assert e.value.key == "ethereum:wallet:USDC" and e.value.field == "amount_in"
    assert balances(w, account) == before


def test_liquidity_round_trip(curve_world: CurveWorld, account: str, chain: AnvilNode) -> None:
    w = curve_world
    m = live(w, chain)
    before = balances(w, account)
    with pytest.raises(SlippageError) as e:
        m.execute(now(), {"venue": "curve", "operation": "add_liquidity", "pool": "3pool",
                          "amounts": {"USDC": "1000", "DAI": "1000"}, "min_lp_out": "2000"})
    assert e.value.field == "min_lp_out" and balances(w, account) == before
    add = m.execute(now(), {"venue": "curve", "operation": "add_liquidity", "pool": "3pool",
                            "amounts": {"USDC": "1000", "DAI": "1000"}, "min_lp_out": "1990"})
    mid = balances(w, account)
    assert changes(before, mid) == dict(add.positions)
    assert 1990 < add.positions["curve:lp:3pool"] < 2000 and add.pnl["trading_fees"] < 0  # imbalance fee
    with pytest.raises(SlippageError):
        m.execute(now(), {"venue": "curve", "operation": "remove_liquidity", "pool": "3pool", "lp_amount": "max",
                          "min_amounts": {"USDC": "1000"}})
    rm = m.execute(now(), {"venue": "curve", "operation": "remove_liquidity", "pool": "3pool", "lp_amount": "max",
                           "min_amounts": {"USDC": "600"}})
    assert changes(mid, balances(w, account)) == dict(rm.positions)
    assert rm.positions["curve:lp:3pool"] == -add.positions["curve:lp:3pool"]
    assert set(rm.positions) == {"curve:lp:3pool", "ethereum:wallet:DAI", "ethereum:wallet:USDC",
                                 "ethereum:wallet:USDT", "ethereum:wallet:ETH"}


def test_without_an_eth_price_deltas_carry_no_pnl(curve_world: CurveWorld, account: str, chain: AnvilNode) -> None:
    w = curve_world
    before = balances(w, account)
    d = live(w, chain, eth_usd=None).execute(now(), swap(token_in="USDT", token_out="USDC", amount_in="10"))
    assert d.pnl == {} and "reference_prices" not in d.details
    assert changes(before, balances(w, account)) == dict(d.positions)
    bal = live(w, chain).get_balances(now(), "curve")
    for k, v in balances(w, account).items():
        assert bal.get(k, Decimal(0)) == v


def test_local_and_mainnet_tables(curve_world: CurveWorld) -> None:
    """``local`` is a fresh deployment from account 0 (compiled already by the session's curve_world)."""
    from web3 import Web3

    node = start_anvil()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url))
        fresh = table_from_world(deploy_curve_pools(w3, w3.eth.accounts[0]))
    finally:
        node.stop()
    local = load_table("local")
    for key in ("chain_id", "tokens", "decimals", "pools"):
        assert local[key] == fresh[key], key
    main = load_table("mainnet")
    assert main["pools"]["3pool"]["coins"] == ["DAI", "USDC", "USDT"]
    assert main["pools"]["3pool"]["lp_token"] != main["pools"]["3pool"]["address"]


@pytest.mark.parametrize("fault", FAULTS)
def test_swap_exactly_once_under_every_fault(curve_world: CurveWorld, account: str, chain: AnvilNode,
                                             tmp_path: Path, fault: str) -> None:
    """Kill after sign / after broadcast, node stall, dropped from the pool, mined while down: one swap
    transaction on chain (by the account's nonce), reported once by the restarted manager."""
    journal = tmp_path / "journal.sqlite"

    def make(url: str, opts: dict[str, Any]) -> ExecutionInterfaceManager:
        cfg = {"execution_mode": "live", "journal_path": str(journal), "venue_config": {"curve": {
            "rpc_url": url, "private_key": KEY, "deployment_table": table_from_world(curve_world),
            "receipt_poll_interval": 0.002, "eth_usd": ETH_USD, "approval_mode": "unlimited", **opts}}}
        return ExecutionInterfaceManager(cfg, execution_mode="live", autoload=False, plugins=[CurveVenue])

    base = swap(pool="2pool", token_in="USDC", token_out="USDT", amount_in="1000")
    make(chain.url, {}).execute(now(), {**base, "client_id": "setup"})  # the unlimited approval
    ins = {**base, "client_id": f"swap-{fault}"}
    run = run_with_fault(fault, chain.url, account, make, ins, now())
    assert run.first_error is not None and run.sent == 1
    resumed = [r for r in run.history if r.client_id == ins["client_id"]]
    assert len(resumed) == 1 and resumed[0].success
    assert run.reissued.positions["ethereum:wallet:USDC"] == Decimal(-1000)
    assert dict(run.reissued.positions) == dict(resumed[0].positions)
