"""The lido venue in live mode against our Lido contracts on anvil (Lido's ABI), through the manager.

Independent results: balances read from the chain before / after each instruction (stETH, wstETH, WETH, ETH),
receipts' gas, the queue's own request ids and statuses.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_lido.testing.deploy import LidoWorld
from basis_venue_lido.venue import LidoVenue

from basis_core import ExecutionInterfaceManager
from basis_core.errors import InstructionError, InsufficientFundsError
from basis_core.testing.anvil import ANVIL_KEYS
from basis_core.testing.chain import gas_paid_wei
from basis_core.testing.chain_faults import FAULTS, run_with_fault
from basis_core.testing.contracts import wait_receipt
from basis_core.transit import in_transit

D = Decimal
TS = pd.Timestamp("2025-03-01T00:00:00Z")


def live(world: LidoWorld, weth: Any, url: str) -> ExecutionInterfaceManager:
    table = {**world.deployment_table(), "WETH": weth.address}
    cfg = {"execution_mode": "live", "autoload": False,
           "venue_config": {"lido": {"rpc_url": url, "private_key": ANVIL_KEYS[2], "deployment_table": table}}}
    return ExecutionInterfaceManager(cfg, plugins=[LidoVenue])


def snapshot(world: LidoWorld, weth: Any, user: str) -> dict[str, int]:
    w3 = world.w3
    return {"nonce": w3.eth.get_transaction_count(user), "ETH": w3.eth.get_balance(user),
            "stETH": world.steth.functions.balanceOf(user).call(),
            "wstETH": world.wsteth.functions.balanceOf(user).call(), "WETH": weth.functions.balanceOf(user).call()}


def gas_of(world: LidoWorld, d: Any) -> int:
    return gas_paid_wei(world.w3, d)


def test_live_stake_wrap_unwrap_request_claim(lido_world: LidoWorld, weth: Any, chain: Any) -> None:
    """Each instruction's deltas are the chain's balance changes; the queue's ids come back as request_id; a claim
    before finalisation is refused naming the request and sends nothing; after finalize the claim pays ETH."""
    world = lido_world
    w3 = world.w3
    user = w3.eth.accounts[2]
    wait_receipt(w3, weth.functions.deposit().transact({"from": user, "value": 2 * 10**18}))
    # an awkward share rate: 1 ETH bootstrap, pooled ether 1.0731...
    wait_receipt(w3, world.steth.functions.setTotalPooledEther(1_073_112_345_678_901_234).transact(
        {"from": world.deployer}))
    m = live(world, weth, w3.provider.endpoint_uri)
    steps = [
        {"operation": "stake", "asset": "ETH", "amount": "3", "receive": "stETH"},
        {"operation": "stake", "asset": "ETH", "amount": "2", "receive": "wstETH"},
        {"operation": "stake", "asset": "WETH", "amount": "1.5", "receive": "wstETH"},
        {"operation": "stake", "asset": "stETH", "amount": "1", "receive": "wstETH"},
        {"operation": "unstake", "action": "unwrap", "asset": "wstETH", "amount": "0.5"},
        {"operation": "unstake", "action": "request", "asset": "stETH", "amount": "1.25"},
        {"operation": "unstake", "action": "request", "asset": "wstETH", "amount": "0.75"},
    ]
    ids = []
    for step in steps:
        before = snapshot(world, weth, user)
        d = m.execute(TS, {"venue": "lido", **step})
        after = snapshot(world, weth, user)
        want = {f"ethereum:wallet:{k}": D(after[k] - before[k]).scaleb(-18) for k in ("stETH", "wstETH", "WETH")
                if after[k] != before[k]}
        want["ethereum:wallet:ETH"] = D(after["ETH"] - before["ETH"]).scaleb(-18)
        if step["action" if "action" in step else "operation"] == "request":
            rid = d.details["request_id"]
            ids.append(rid)
            status = world.queue.functions.getWithdrawalStatus([int(rid)]).call()[0]
            want[f"lido:withdrawal:{rid}"] = D(status[0]).scaleb(-18)
            assert d.status == "requested"
        got = {k: v for k, v in d.positions.items()}
        assert got == want, step
        assert after["ETH"] - before["ETH"] == -gas_of(world, d) - (
            int(D(step["amount"]) * 10**18) if step.get("asset") == "ETH" else 0)
    assert [str(i) for i in world.queue.functions.getWithdrawalRequests(user).call()] == ids
    bal = m.get_balances(TS, "lido")
    assert bal[f"lido:withdrawal:{ids[0]}"] == D("1.25") and bal[f"lido:metric:claimable:{ids[0]}"] == 0

    def queued() -> dict[str, tuple[Decimal, bool]]:  # capital in transit: the queue's requests on chain
        return {q["transfer_id"]: (q["amount"], q["claimable"]) for q in in_transit(m, TS, queues=True)}

    locked = {rid: D(world.queue.functions.getWithdrawalStatus([int(rid)]).call()[0][0]).scaleb(-18) for rid in ids}
    assert queued() == {f"lido:{rid}": (locked[rid], False) for rid in ids}
    # not finalised: refused before anything is sent
    before = snapshot(world, weth, user)
    with pytest.raises(InstructionError) as info:
        m.execute(TS, {"venue": "lido", "operation": "unstake", "action": "claim", "request_id": ids[0]})
    assert info.value.field == "request_id" and ids[0] in str(info.value)
    assert snapshot(world, weth, user) == before
    wait_receipt(w3, world.queue.functions.finalize(int(ids[-1])).transact({"from": world.deployer}))
    assert queued() == {f"lido:{rid}": (locked[rid], True) for rid in ids}  # finalised: claimable
    for rid in ids:
        status = world.queue.functions.getWithdrawalStatus([int(rid)]).call()[0]
        claimable = world.queue.functions.getClaimableEther([int(rid)], [1]).call()[0]
        assert claimable > 0
        before = snapshot(world, weth, user)
        d = m.execute(TS, {"venue": "lido", "operation": "unstake", "action": "claim", "request_id": rid})
        after = snapshot(world, weth, user)
        eth = after["ETH"] - before["ETH"] + gas_of(world, d)
        assert eth == claimable
        assert d.positions == {f"lido:withdrawal:{rid}": -D(status[0]).scaleb(-18),
                               "ethereum:wallet:ETH": D(after["ETH"] - before["ETH"]).scaleb(-18)}
        assert d.status == "claimed" and d.details["amount_of_eth"] == D(eth).scaleb(-18)
    assert queued() == {}  # claimed: arrived in the wallet
    with pytest.raises(InstructionError):  # claimed already
        m.execute(TS, {"venue": "lido", "operation": "unstake", "action": "claim", "request_id": ids[0]})


def test_live_refusals(lido_world: LidoWorld, weth: Any, chain: Any) -> None:
    world = lido_world
    user = world.w3.eth.accounts[2]
    m = live(world, weth, world.w3.provider.endpoint_uri)
    before = snapshot(world, weth, user)
    for ins, err, field in [
        ({"operation": "stake", "asset": "stETH", "amount": "1", "receive": "wstETH"}, InsufficientFundsError,
         "amount"),
        ({"operation": "stake", "asset": "ZZZ", "amount": "1"}, InstructionError, "asset"),
        ({"operation": "unstake", "action": "request", "asset": "stETH", "amount": "1001"}, InstructionError, "amount"),
        ({"operation": "unstake", "action": "claim", "request_id": "999"}, InstructionError, "request_id"),
    ]:
        with pytest.raises(err) as info:
            m.execute(TS, {"venue": "lido", **ins})
        assert info.value.field == field
    assert snapshot(world, weth, user) == before


@pytest.mark.parametrize("fault", FAULTS)
def test_live_stake_exactly_once_under_every_fault(lido_world: LidoWorld, weth: Any, chain: Any, tmp_path: Path,
                                                   fault: str) -> None:
    """Kill after sign / after broadcast, node stall, dropped from the pool, mined while down: one stake
    transaction on chain (by the account's nonce), reported once by the restarted manager."""
    world = lido_world
    w3 = world.w3
    user = w3.eth.accounts[2]
    table = {**world.deployment_table(), "WETH": weth.address}
    journal = tmp_path / "journal.sqlite"

    def make(url: str, opts: dict[str, Any]) -> ExecutionInterfaceManager:
        cfg = {"execution_mode": "live", "autoload": False, "journal_path": str(journal),
               "venue_config": {"lido": {"rpc_url": url, "private_key": ANVIL_KEYS[2], "deployment_table": table,
                                         "receipt_poll_interval": 0.002, **opts}}}
        return ExecutionInterfaceManager(cfg, plugins=[LidoVenue])

    ins = {"venue": "lido", "operation": "stake", "asset": "ETH", "amount": "1", "receive": "stETH",
           "client_id": f"stake-{fault}"}
    run = run_with_fault(fault, w3.provider.endpoint_uri, user, make, ins, TS)
    assert run.first_error is not None and run.sent == 1
    resumed = [r for r in run.history if r.client_id == ins["client_id"]]
    assert len(resumed) == 1 and resumed[0].success
    assert dict(run.reissued.positions) == dict(resumed[0].positions)
    assert run.reissued.positions["ethereum:wallet:stETH"] > D("0.99")
