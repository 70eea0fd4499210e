"""Uniswap venue, live mode, against the real Uniswap v2 / v3 contracts (npm artifacts) on anvil.

What is compared with what: every result's positions against the account's on-chain balance changes
(``balanceOf`` and ``eth_getBalance``, gas included), v2 outputs against the constant-product formula on
the reserves read before, v3 outputs against the pool read into the exact Python model; bad input against
"no balance change, no nonce used, nothing pending"; the packaged ``local`` table against a fresh deployment.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_uniswap.deployment import load_table
from basis_venue_uniswap.testing.deploy import UniswapWorld, deploy_uniswap, read_v3_pool
from basis_venue_uniswap.venue import UniswapVenue

from basis_core import ExecutionInterfaceManager
from basis_core.errors import (
    AmbiguousOutcomeError,
    ContractRevertError,
    InstructionError,
    InsufficientFundsError,
    SlippageError,
    TransactionTimeoutError,
)
from basis_core.instructions import Swap
from basis_core.testing.anvil import AnvilNode, start_anvil
from basis_core.testing.chain_faults import FAULTS, run_with_fault
from basis_core.testing.contracts import balance_changes as changes
from basis_core.testing.contracts import gas_paid_wei, transact, wallet_balances
from basis_core.testing.contracts import nothing_pending as chain_has_nothing_pending

KEY = "0x" + "a1" * 32  # a test-only key funded below
TOKENS = ("WETH", "USDC", "DAI")
FUNDS = {"WETH": 50, "USDC": 100_000, "DAI": 100_000}


@pytest.fixture(scope="module")
def account(uniswap_world: UniswapWorld) -> str:
    """The venue's account: 100 ETH, 50 WETH, 100k USDC, 100k DAI from the deployer."""
    from eth_account import Account

    w3, dep = uniswap_world.w3, uniswap_world.deployer
    addr = str(Account.from_key(KEY).address)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": dep, "to": addr, "value": 100 * 10**18}))
    for sym, whole in FUNDS.items():
        tok = uniswap_world.tokens[sym]
        transact(w3, tok.functions.transfer(addr, whole * 10 ** uniswap_world.decimals[sym]), sender=dep)
    return addr


def live(world: UniswapWorld, anvil: AnvilNode, **options: Any) -> ExecutionInterfaceManager:
    cfg = {"execution_mode": "live", "venue_config": {"uniswap": {
        "rpc_url": anvil.url, "private_key": KEY, "deployment_table": world.deployment_table(),
        "receipt_poll_interval": 0.002, **options}}}
    return ExecutionInterfaceManager(cfg, execution_mode="live", autoload=False, plugins=[UniswapVenue])


def balances(world: UniswapWorld, addr: str) -> dict[str, Decimal]:
    return wallet_balances(world.w3, addr, {s: (world.tokens[s], world.decimals[s]) for s in TOKENS},
                           {f"uniswap:lp:v2:{pair}": c for pair, c in world.v2_pairs.items()})


def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def swap(**kw: Any) -> dict[str, Any]:
    return {"venue": "uniswap", "operation": "swap", **kw}


def nothing_pending(world: UniswapWorld, addr: str) -> bool:
    return chain_has_nothing_pending(world.w3, addr)


def time_out_receipts_after(m: ExecutionInterfaceManager, seconds: float) -> None:
    """From now on ``m`` gives up waiting for a receipt after ``seconds``: only for steps where nothing can be
    mined (automine off), so the timeout is certain. Set-up swaps on the automining node keep the default, since a
    loaded machine can take longer than 0.2 s to mine and answer (they timed out under load)."""
    m.venue("uniswap").backend.client.receipt_timeout = seconds


# ----------------------------------------------------------------------------------------------- swaps
def test_v2_swap_deltas_are_the_balance_changes(uniswap_world: UniswapWorld, account: str, chain: AnvilNode) -> None:
    w = uniswap_world
    m = live(w, chain)
    pair = w.v2_pairs["WETH/USDC"]
    r0, r1, _ = pair.functions.getReserves().call()
    weth_is_0 = int(w.address("WETH"), 16) < int(w.address("USDC"), 16)
    r_weth, r_usdc = (r0, r1) if weth_is_0 else (r1, r0)
    a = 15 * 10**17
    expected = a * 997 * r_usdc // (r_weth * 1000 + a * 997)
    before = balances(w, account)
    d = m.execute(now(), swap(token_in="WETH", token_out="USDC", amount_in="1.5", pool="v2:WETH/USDC",
                              min_amount_out="2000"))
    assert changes(before, balances(w, account)) == dict(d.positions)
    assert d.positions["ethereum:wallet:USDC"] == Decimal(expected) / 10**6
    assert len(d.details["approval_tx_hashes"]) == 1  # exact approval, then the swap: both paid gas
    gas_wei = gas_paid_wei(w.w3, (*d.details["approval_tx_hashes"], d.order_id))
    assert d.positions["ethereum:wallet:ETH"] == -Decimal(gas_wei) / 10**18
    assert w.tokens["WETH"].functions.allowance(account, w.v2_router.address).call() == 0
    refs = d.details["reference_prices"]
    value = sum(v * refs[k.split(":")[-1]] for k, v in d.positions.items())
    assert sum(d.pnl.values()) == value
    assert nothing_pending(w, account)


@pytest.mark.parametrize(("pool", "token_in", "token_out", "amount"), [
    ("v3:WETH/USDC:500", "USDC", "WETH", "60000"),  # crosses initialised ticks
    ("v3:WETH/USDC:3000", "WETH", "USDC", "3"),
])
def test_v3_swap_deltas_are_the_balance_changes_and_the_model_output(
        uniswap_world: UniswapWorld, account: str, chain: AnvilNode, pool: str, token_in: str, token_out: str,
        amount: str) -> None:
    w = uniswap_world
    fee = int(pool.rsplit(":", 1)[1])
    model = read_v3_pool(w.v3_pools[("WETH/USDC", fee)])
    zero_for_one = w.v3_pool_tokens("WETH/USDC")[0] == token_in
    units = int(Decimal(amount) * 10 ** w.decimals[token_in])
    expected = model.quote_exact_input(zero_for_one, units)
    before = balances(w, account)
    d = live(w, chain).execute(now(), swap(token_in=token_in, token_out=token_out, amount_in=amount, pool=pool))
    assert changes(before, balances(w, account)) == dict(d.positions)
    assert d.positions[f"ethereum:wallet:{token_out}"] == Decimal(expected) / 10 ** w.decimals[token_out]
    assert d.details["price_impact_bps"] > 0


def test_unlimited_approval_is_sent_once(uniswap_world: UniswapWorld, account: str, chain: AnvilNode) -> None:
    m = live(uniswap_world, chain, approval_mode="unlimited")
    ins = swap(token_in="USDC", token_out="WETH", amount_in="1000")
    first, second = m.execute(now(), ins), m.execute(now(), ins)
    assert len(first.details["approval_tx_hashes"]) == 1 and second.details["approval_tx_hashes"] == []
    assert uniswap_world.tokens["USDC"].functions.allowance(account, uniswap_world.swap_router.address).call() \
        >= 2**255


def test_quote_sends_nothing_and_matches_the_execution(uniswap_world: UniswapWorld, account: str,
                                                       chain: AnvilNode) -> None:
    w = uniswap_world
    m = live(w, chain)
    nonce = w.w3.eth.get_transaction_count(account)
    ins = swap(token_in="WETH", token_out="USDC", amount_in="2")
    q = m.quote(now(), ins)
    assert q.status == "quoted" and q.positions == {}
    assert w.w3.eth.get_transaction_count(account) == nonce
    d = m.execute(now(), ins)
    assert d.positions["ethereum:wallet:USDC"] == q.details["amount_out"]


# ----------------------------------------------------------------------------------------------- bad input
BAD = [
    ({"token_in": "ZZZ"}, "token_in", InstructionError),
    ({"token_in": "ETH"}, "token_in", InstructionError),
    ({"pool": "v3:WETH/USDC:10000"}, "pool", InstructionError),  # not deployed
    ({"token_out": "DAI", "pool": "v2:WETH/USDC"}, "token_out", InstructionError),
    ({"token_out": "WETH"}, "token_out", InstructionError),  # same token
    ({"amount_in": "0"}, "amount_in", InstructionError),
    ({"amount_in": "1.0000000000000000001"}, "amount_in", InstructionError),
    ({"amount_in": "150", "pool": "v2:WETH/USDC"}, "amount_in", InstructionError),  # > the pair's 100 WETH
    ({"amount_in": "1000000", "pool": "v3:WETH/USDC:500"}, "amount_in", InstructionError),  # drains the ticks
    ({"amount_in": "60", "pool": "v2:WETH/USDC"}, "amount_in", InsufficientFundsError),  # holds 50
    ({"min_amount_out": "1000000"}, "min_amount_out", SlippageError),
    ({"amount_in": "20", "max_slippage_bps": "1"}, "max_slippage_bps", SlippageError),
    ({"deadline": "2020-01-01T00:00:00Z"}, "deadline", InstructionError),
]


def test_bad_input_is_typed_changes_nothing_and_leaves_nothing_pending(
        uniswap_world: UniswapWorld, account: str, chain: AnvilNode) -> None:
    w = uniswap_world
    m = live(w, chain)
    before = balances(w, account)
    nonce = w.w3.eth.get_transaction_count(account, "pending")
    for changes_, field, error in BAD:
        with pytest.raises(error) as e:
            m.execute(now(), swap(**{"token_in": "WETH", "token_out": "USDC", "amount_in": "1", **changes_}))
        assert e.value.field == field, changes_
    assert balances(w, account) == before
    assert w.w3.eth.get_transaction_count(account, "pending") == nonce
    assert m.venue("uniswap").backend.client.pending == {}
    assert all(not r.success for r in m.execution_history[-len(BAD):])


def test_deadline_enforced_by_the_router_reverts_typed_and_costs_only_gas(
        uniswap_world: UniswapWorld, account: str, chain: AnvilNode) -> None:
    """The deadline passes our check (latest block) but the mining block is an hour later: the router
    reverts ('EXPIRED'); the error is typed, carries the hash and nonce, and only gas was spent."""
    w = uniswap_world
    m = live(w, chain, approval_mode="unlimited")
    m.execute(now(), swap(token_in="WETH", token_out="USDC", amount_in="0.1", pool="v2:WETH/USDC"))  # approve once
    latest = int(w.w3.eth.get_block("latest")["timestamp"])
    chain.rpc("evm_increaseTime", [3600])  # the next block is an hour later; the latest block is not
    before = balances(w, account)
    nonce = w.w3.eth.get_transaction_count(account, "pending")
    deadline = pd.Timestamp(latest + 60, unit="s", tz="UTC").isoformat()
    with pytest.raises(ContractRevertError) as e:
        m.execute(now(), swap(token_in="WETH", token_out="USDC", amount_in="0.1", pool="v2:WETH/USDC",
                              deadline=deadline))
    err = e.value
    assert err.tx_hash is not None and err.nonce == nonce and err.gas_used
    receipt = w.w3.eth.get_transaction_receipt(err.tx_hash)
    assert receipt["status"] == 0
    spent = Decimal(int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])) / 10**18
    assert changes(before, balances(w, account)) == {"ethereum:wallet:ETH": -spent}
    assert nothing_pending(w, account) and m.venue("uniswap").backend.client.pending == {}


# ----------------------------------------------------------------------------------------------- in flight
def test_a_timed_out_receipt_is_tracked_and_resumed_never_resent(
        uniswap_world: UniswapWorld, account: str, chain: AnvilNode) -> None:
    w = uniswap_world
    m = live(w, chain, approval_mode="unlimited")
    m.execute(now(), swap(token_in="WETH", token_out="USDC", amount_in="0.1"))  # approvals done
    time_out_receipts_after(m, 0.3)
    backend = m.venue("uniswap").backend
    before = balances(w, account)
    nonce = w.w3.eth.get_transaction_count(account, "latest")
    chain.rpc("evm_setAutomine", [False])
    instruction = swap(token_in="WETH", token_out="USDC", amount_in="1", client_id="timed-out-swap")
    try:
        with pytest.raises(TransactionTimeoutError) as e:
            m.execute(now(), instruction)
        assert e.value.nonce == nonce and e.value.tx_hash in backend.client.pending
        with pytest.raises(TransactionTimeoutError) as again:  # re-issued while still in the pool: waits, no new tx
            m.execute(now(), instruction)
        assert again.value.tx_hash == e.value.tx_hash and again.value.nonce == nonce
        assert w.w3.eth.get_transaction_count(account, "pending") == nonce + 1
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", [True])
    d = m.execute(now(), instruction)  # re-issued once mined: adopted by hash
    assert changes(before, balances(w, account)) == dict(d.positions)
    assert d.order_id == e.value.tx_hash and d.details["nonce"] == nonce
    assert w.w3.eth.get_transaction_count(account, "latest") == nonce + 1  # one transaction, never re-sent
    assert backend.client.pending == {}


def test_concurrent_instructions_get_distinct_nonces(uniswap_world: UniswapWorld, account: str,
                                                    chain: AnvilNode) -> None:
    w = uniswap_world
    # the swaps move each other's pools: allow for it in the on-chain minimum (default 50 bps)
    backend = live(w, chain, default_slippage_bps="500").venue("uniswap").backend
    before = balances(w, account)
    jobs = [Swap(venue="uniswap", token_in="WETH", token_out="USDC", amount_in=Decimal("0.5"), pool="v2:WETH/USDC"),
            Swap(venue="uniswap", token_in="WETH", token_out="USDC", amount_in=Decimal("0.7"), pool="v2:WETH/USDC"),
            Swap(venue="uniswap", token_in="USDC", token_out="WETH", amount_in=Decimal("900")),
            Swap(venue="uniswap", token_in="USDC", token_out="WETH", amount_in=Decimal("1100"))]
    results: list[Any] = []
    errors: list[BaseException] = []

    def run(ins: Swap) -> None:
        try:
            results.append(backend.swap(now(), ins))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(j,)) for j in jobs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(results) == 4
    nonces = [r.details["nonce"] for r in results]
    assert len(set(nonces)) == 4
    total: dict[str, Decimal] = {}
    for r in results:
        for k, v in r.positions.items():
            total[k] = total.get(k, Decimal(0)) + v
    assert changes(before, balances(w, account)) == total


# ----------------------------------------------------------------------------------------------- liquidity
def test_v2_liquidity_round_trip(uniswap_world: UniswapWorld, account: str, chain: AnvilNode) -> None:
    w = uniswap_world
    m = live(w, chain)
    before = balances(w, account)
    add = m.execute(now(), {"venue": "uniswap", "operation": "add_liquidity", "pool": "v2:WETH/USDC",
                            "amounts": {"WETH": "2", "USDC": "5000"}})
    mid = balances(w, account)
    assert changes(before, mid) == dict(add.positions)
    assert add.positions["uniswap:lp:v2:WETH/USDC"] > 0 and add.positions["ethereum:wallet:WETH"] == -2
    rm = m.execute(now(), {"venue": "uniswap", "operation": "remove_liquidity", "pool": "v2:WETH/USDC",
                           "lp_amount": "max", "min_amounts": {"WETH": "1.99"}})
    assert changes(mid, balances(w, account)) == dict(rm.positions)
    assert rm.positions["uniswap:lp:v2:WETH/USDC"] == -add.positions["uniswap:lp:v2:WETH/USDC"]


def test_v3_position_round_trip_collects_fees(uniswap_world: UniswapWorld, account: str, chain: AnvilNode) -> None:
    w = uniswap_world
    m = live(w, chain, approval_mode="unlimited")
    before = balances(w, account)
    add = m.execute(now(), {"venue": "uniswap", "operation": "add_liquidity", "pool": "v3:WETH/USDC:500",
                            "amounts": {"WETH": "5", "USDC": "10000"}})
    pid = add.details["position_id"]
    key = f"uniswap:lp:v3:WETH/USDC:500#{pid}"
    pos = w.position_manager.functions.positions(int(pid)).call()
    assert add.positions[key] == pos[7] == add.details["liquidity"]
    assert m.get_balances(now(), "uniswap")[key] == pos[7]
    tokens = {k: v for k, v in add.positions.items() if not k.startswith("uniswap:")}
    assert changes(before, balances(w, account)) == tokens
    m.execute(now(), swap(token_in="USDC", token_out="WETH", amount_in="20000", pool="v3:WETH/USDC:500"))
    mid = balances(w, account)
    rm = m.execute(now(), {"venue": "uniswap", "operation": "remove_liquidity", "pool": "v3:WETH/USDC:500",
                           "position_id": pid})
    assert changes(mid, balances(w, account)) == {k: v for k, v in rm.positions.items() if k != key}
    assert rm.positions[key] == -pos[7]
    assert rm.details["fees_collected"]["USDC"] > 0 and rm.pnl["trading_fees"] > 0
    assert w.position_manager.functions.positions(int(pid)).call()[7] == 0
    with pytest.raises(InstructionError) as e:
        m.execute(now(), {"venue": "uniswap", "operation": "remove_liquidity", "pool": "v3:WETH/USDC:500",
                          "position_id": "999999"})
    assert e.value.field == "position_id"


@pytest.mark.parametrize("table_order", ["as_deployed", "reversed"])
def test_v3_position_balance_key_follows_the_table_not_the_address_order(
        uniswap_world: UniswapWorld, account: str, chain: AnvilNode, table_order: str) -> None:
    """A position's tokens come in address order (token0 < token1), which depends on the deployment; the
    balance key must be the pool's name in the deployment table, as add_liquidity reports it. Both spellings
    of the table are run, so both address orders are covered whatever addresses this deployment got."""
    w = uniswap_world
    table = w.deployment_table()
    if table_order == "reversed":
        table["v3_pools"] = {f"{name.split(':')[0].split('/')[1]}/{name.split(':')[0].split('/')[0]}:"
                             f"{name.split(':')[1]}": addr for name, addr in table["v3_pools"].items()}
    name = next(n for n in table["v3_pools"] if n.endswith(":500") and "WETH" in n and "USDC" in n)
    m = live(w, chain, deployment_table=table)
    add = m.execute(now(), {"venue": "uniswap", "operation": "add_liquidity", "pool": f"v3:{name}",
                            "amounts": {"WETH": "1", "USDC": "2000"}})
    pid = add.details["position_id"]
    key = f"uniswap:lp:v3:{name}#{pid}"
    onchain = w.position_manager.functions.positions(int(pid)).call()[7]
    assert add.positions[key] == onchain
    assert m.get_balances(now(), "uniswap")[key] == onchain


def test_balances_are_the_chain_reads(uniswap_world: UniswapWorld, account: str, chain: AnvilNode) -> None:
    bal = live(uniswap_world, chain).get_balances(now(), "uniswap")
    onchain = balances(uniswap_world, account)
    for k, v in onchain.items():
        assert bal.get(k, Decimal(0)) == v


# ----------------------------------------------------------------------------------------------- tables
@pytest.fixture(scope="module")
def fresh_node() -> Iterator[AnvilNode]:
    node = start_anvil()
    try:
        yield node
    finally:
        node.stop()


def test_local_table_is_a_fresh_deployment_from_account_0(fresh_node: AnvilNode) -> None:
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(fresh_node.url))
    world = deploy_uniswap(w3, w3.eth.accounts[0])
    table = load_table("local")
    fresh = world.deployment_table()
    for key in ("chain_id", "tokens", "decimals", "contracts", "v2_pairs", "v3_pools"):
        assert table[key] == fresh[key], key


def test_a_swap_on_an_idle_node_gets_a_deadline_from_the_current_time(
        uniswap_world: UniswapWorld, account: str, chain: AnvilNode) -> None:
    """On an idle dev node the latest block can be older than ``deadline_seconds``; the next block is stamped
    with the current time, so a deadline of "latest block + deadline_seconds" would already have passed.
    The latest block is made 600 s old with the node's clock (not by sleeping past a 1 s deadline, which left a
    loaded machine under a second to sign, send and mine); the deadline of 60 s is then generous, and 540 s short
    of the current time if it were counted from the latest block."""
    import time

    m = live(uniswap_world, chain, deadline_seconds=60)
    chain.rpc("evm_setTime", [int(time.time()) - 600])
    chain.rpc("evm_mine")  # the latest block: 600 s old
    chain.rpc("evm_setTime", [int(time.time())])  # the next block is stamped with the current time
    assert int(uniswap_world.w3.eth.get_block("latest")["timestamp"]) < time.time() - 500
    d = m.execute(now(), swap(token_in="WETH", token_out="USDC", amount_in="0.1", pool="v2:WETH/USDC"))
    assert d.positions["ethereum:wallet:WETH"] == Decimal("-0.1")
    assert nothing_pending(uniswap_world, account)


# ----------------------------------------------------------------------------------------------- exactly once
def journaled(world: UniswapWorld, journal: Path, url: str, **options: Any) -> ExecutionInterfaceManager:
    cfg = {"execution_mode": "live", "journal_path": str(journal), "venue_config": {"uniswap": {
        "rpc_url": url, "private_key": KEY, "deployment_table": world.deployment_table(),
        "receipt_poll_interval": 0.002, "approval_mode": "unlimited", **options}}}
    return ExecutionInterfaceManager(cfg, execution_mode="live", autoload=False, plugins=[UniswapVenue])


SWAP = {"venue": "uniswap", "operation": "swap", "token_in": "WETH", "token_out": "USDC", "amount_in": "0.3",
        "pool": "v2:WETH/USDC"}


@pytest.mark.parametrize("fault", FAULTS)
def test_every_fault_ends_with_exactly_one_transaction(uniswap_world: UniswapWorld, account: str,
                                                       chain: AnvilNode, tmp_path: Path, fault: str) -> None:
    journal = tmp_path / "journal.sqlite"
    ts = pd.Timestamp.now(tz="UTC")
    journaled(uniswap_world, journal, chain.url).execute(ts, {**SWAP, "client_id": "setup"})  # approvals done
    ins = {**SWAP, "client_id": f"swap-{fault}"}
    run = run_with_fault(fault, chain.url, account, lambda url, opts: journaled(uniswap_world, journal, url, **opts),
                         ins, ts)
    assert run.first_error is not None  # the first process never learnt the outcome
    if fault in ("node_stall", "dropped", "mined_while_down"):  # ambiguous, with the hash and nonce to resume by
        err = run.first_error
        assert isinstance(err, AmbiguousOutcomeError) and err.tx_hash and err.nonce is not None  # type: ignore[attr-defined]
    assert run.sent == 1  # exactly one transaction of the account, whatever happened
    resumed = [r for r in run.history if r.client_id == ins["client_id"]]
    assert len(resumed) == 1 and resumed[0].success
    assert run.reissued.positions["ethereum:wallet:WETH"] == Decimal("-0.3")
    assert run.reissued.details.get("from_journal") is True
    assert dict(run.reissued.positions) == dict(resumed[0].positions)


def test_one_client_id_from_four_threads_sends_one_transaction(uniswap_world: UniswapWorld, account: str,
                                                                chain: AnvilNode, tmp_path: Path) -> None:
    journal = tmp_path / "journal.sqlite"
    m = journaled(uniswap_world, journal, chain.url)
    ts = pd.Timestamp.now(tz="UTC")
    m.execute(ts, {**SWAP, "client_id": "setup"})
    n0 = uniswap_world.w3.eth.get_transaction_count(account)
    ins = {**SWAP, "client_id": "one-of-four"}
    barrier = threading.Barrier(4)
    results: list[Any] = []

    def run() -> None:
        barrier.wait()
        results.append(journaled(uniswap_world, journal, chain.url).execute(ts, ins))  # a manager per thread

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 4 and len({r.order_id for r in results}) == 1
    assert uniswap_world.w3.eth.get_transaction_count(account) == n0 + 1


def test_a_stuck_transaction_is_replaced_on_the_same_nonce_by_a_fee_bump(
        uniswap_world: UniswapWorld, account: str, chain: AnvilNode, tmp_path: Path) -> None:
    w = uniswap_world
    m = journaled(w, tmp_path / "journal.sqlite", chain.url)
    ts = pd.Timestamp.now(tz="UTC")
    m.execute(ts, {**SWAP, "client_id": "setup"})
    time_out_receipts_after(m, 0.2)
    n0 = w.w3.eth.get_transaction_count(account)
    ins = {**SWAP, "client_id": "stuck"}
    chain.rpc("evm_setAutomine", [False])
    try:
        with pytest.raises(TransactionTimeoutError) as e:
            m.execute(ts, ins)
        bumped = m.venue("uniswap").backend.bump_fee("stuck")
        assert bumped != e.value.tx_hash
        assert w.w3.eth.get_transaction(bumped)["nonce"] == n0 == e.value.nonce  # the pool holds the replacement
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", [True])
    d = m.execute(ts, ins)  # resumed: the replacement is the one mined
    assert d.order_id == bumped
    assert w.w3.eth.get_transaction_count(account) == n0 + 1


def test_gas_limit_covers_a_block_later_than_the_estimate(uniswap_world: UniswapWorld, account: str,
                                                          chain: AnvilNode) -> None:
    """The concurrent-swap flake's root cause: eth_estimateGas runs in the latest block (its state and timestamp)
    while the transaction lands in a later block. A v2 pair whose first update comes in a LATER second than its
    creation writes its two price accumulators from zero: 44k gas the estimate did not see. With the old limit
    (estimate x 1.2) the swap ran out of gas inside the pair and reverted with no reason; it must fit now."""
    w = uniswap_world
    backend = live(w, chain, approval_mode="unlimited").venue("uniswap").backend
    client = backend.client
    usdc, dai = w.address("USDC"), w.address("DAI")
    client.approve(usdc, w.v2_router.address, 10**30, mode="unlimited")
    t = int(w.w3.eth.get_block("latest")["timestamp"]) + 1
    chain.rpc("evm_setNextBlockTimestamp", [t])  # a new USDC/DAI pair is created and funded at second t
    transact(w.w3, w.v2_router.functions.addLiquidity(usdc, dai, 100_000 * 10**6, 100_000 * 10**18, 0, 0,
                                                      w.deployer, t + 3600), sender=w.deployer)
    chain.rpc("evm_setAutomine", [False])
    try:
        fn = w.v2_router.functions.swapExactTokensForTokens(1000 * 10**6, 0, [usdc, dai], account, t + 3600)
        estimate = client.estimate_gas(fn)  # in block second t: timeElapsed 0, no accumulator writes
        p = client.submit(fn)
        chain.rpc("evm_setNextBlockTimestamp", [t + 30])
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", [True])
    receipt = client.resume(p.tx_hash)  # ContractRevertError (out of gas) with the bare 1.2x margin
    assert receipt.gas_used > estimate * 1.2  # what the old limit could not pay for


_KILLED = """
import json, sys
from basis_core import ExecutionInterfaceManager
from basis_venue_uniswap.venue import UniswapVenue
cfg = json.loads(sys.argv[1])
m = ExecutionInterfaceManager(cfg, execution_mode="live", autoload=False, plugins=[UniswapVenue])
m.execute(sys.argv[2], json.loads(sys.argv[3]))
print("not killed")
"""


@pytest.mark.parametrize("point", ["after_sign"])  # the matrix also kills after the broadcast, in-process
def test_a_process_killed_mid_swap_is_resumed_with_one_transaction(
        uniswap_world: UniswapWorld, account: str, chain: AnvilNode, tmp_path: Path, point: str) -> None:
    """A real crash: a subprocess is SIGKILLed (BASIS_CRASH_AT) right after the swap is journaled / broadcast; a
    new manager on the journal resumes it: one transaction on chain, in the history once."""
    import json
    import os
    import signal
    import subprocess
    import sys

    journal = tmp_path / "journal.sqlite"
    ts = pd.Timestamp.now(tz="UTC")
    journaled(uniswap_world, journal, chain.url).execute(ts, {**SWAP, "client_id": "setup"})
    n0 = uniswap_world.w3.eth.get_transaction_count(account)
    cfg = {"execution_mode": "live", "journal_path": str(journal), "venue_config": {"uniswap": {
        "rpc_url": chain.url, "private_key": KEY, "deployment_table": uniswap_world.deployment_table(),
        "receipt_poll_interval": 0.002, "approval_mode": "unlimited"}}}
    ins = {**SWAP, "client_id": f"killed-{point}"}
    proc = subprocess.run([sys.executable, "-c", _KILLED, json.dumps(cfg), ts.isoformat(), json.dumps(ins)],
                          env={**os.environ, "BASIS_CRASH_AT": point}, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-2000:]
    restarted = journaled(uniswap_world, journal, chain.url)
    _ = restarted.venue("uniswap").backend  # the restart resumes the journaled swap
    assert [r.client_id for r in restarted.execution_history] == [ins["client_id"]]
    d = restarted.execute(ts, ins)
    assert d.details.get("from_journal") is True and d.positions["ethereum:wallet:WETH"] == Decimal("-0.3")
    assert uniswap_world.w3.eth.get_transaction_count(account) == n0 + 1


def test_a_restarted_manager_settles_pending_swaps_at_advance_to(uniswap_world: UniswapWorld, account: str,
                                                                 chain: AnvilNode, tmp_path: Path) -> None:
    """As with CEX orders: a restarted manager that only advances its clock still settles the swap a crashed one
    left in flight (mined while it was down), reports it once, and sends nothing."""
    journal = tmp_path / "journal.sqlite"
    ts = pd.Timestamp.now(tz="UTC")
    first = journaled(uniswap_world, journal, chain.url)
    first.execute(ts, {**SWAP, "client_id": "setup"})
    time_out_receipts_after(first, 0.2)
    n0 = uniswap_world.w3.eth.get_transaction_count(account)
    chain.rpc("evm_setAutomine", [False])
    try:
        with pytest.raises(TransactionTimeoutError):
            first.execute(ts, {**SWAP, "client_id": "in-flight"})
    finally:
        chain.rpc("evm_mine")
        chain.rpc("evm_setAutomine", [True])
    del first  # the process "dies"
    restarted = journaled(uniswap_world, journal, chain.url)
    effects = restarted.advance_to(ts + pd.Timedelta(seconds=1))
    assert [(d.client_id, d.operation) for d in restarted.execution_history] == [("in-flight", "swap")]
    assert effects == [] or [d.client_id for d in effects] == ["in-flight"]
    assert restarted.advance_to(ts + pd.Timedelta(seconds=2)) == []
    assert uniswap_world.w3.eth.get_transaction_count(account) == n0 + 1
