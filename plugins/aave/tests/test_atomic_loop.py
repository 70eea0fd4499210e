"""The leveraged staking loop as ONE atomic bundle, in both modes: flash-borrow WETH -> unwrap -> stake with Lido
-> wstETH -> supply to Aave (e-mode) -> borrow WETH on the account's behalf -> repay the flash loan + premium.

Live: our LoopExecutor on anvil against the real Aave v3 Pool and our Lido contracts. Backtest: the core runs the
same steps on a scratch ledger with the aave and lido venues. Independent results: the deployed Pool's
getUserAccountData and token balances, and the closed form of the sizing (LTV target -> flash amount).
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_aave.executor import compile_executor, executor_artifact
from basis_venue_aave.venue import AaveVenue
from basis_venue_lido.venue import LidoVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider
from basis_core.data.series import Series
from basis_core.errors import HealthFactorError
from basis_core.testing.chain_faults import FAULTS, run_with_fault
from basis_core.testing.contracts import wait_receipt

D = Decimal
TS = pd.Timestamp("2025-03-01T00:00:00Z")
ETH_USD, RATE, PREMIUM = D(3000), D("1.2"), D("0.0005")
EQUITY = D(10)  # wstETH supplied before the loop
TARGET_LTV = D("0.85")


def sized_flash() -> tuple[Decimal, Decimal, Decimal]:
    """(flash WETH F, wstETH received F / rate, WETH borrowed F (1 + premium)) for the target LTV.

    After the bundle: debt = F (1+p) WETH, collateral = E + F / rate wstETH; LTV = debt x P_eth / (collateral
    x P_eth x rate) = t  =>  F = t E rate / ((1+p) - t). Rounded down to 5 decimals (exact in wei and shares).
    """
    f = TARGET_LTV * EQUITY * RATE / ((1 + PREMIUM) - TARGET_LTV)
    f = f.quantize(D("0.00001"), rounding="ROUND_DOWN")
    while (f / RATE) != (f / RATE).quantize(D("1e-18")):
        f -= D("0.00001")
    return f, f / RATE, f * (1 + PREMIUM)


def bundle(venue: str, min_hf: str = "1.05", borrow_extra: Decimal = D(0)) -> dict[str, Any]:
    f, wst, owed = sized_flash()
    return {"operation": "atomic", "venue": venue, "flash_loan": {"venue": "aave", "asset": "WETH", "amount": str(f)},
            "steps": [
                {"operation": "stake", "venue": "lido", "asset": "WETH", "amount": str(f), "receive": "wstETH"},
                {"operation": "supply", "venue": "aave", "asset": "wstETH", "amount": str(wst), "e_mode_category": 1},
                {"operation": "borrow", "venue": "aave", "asset": "WETH", "amount": str(owed + borrow_extra)},
            ], "min_health_factor": min_hf}


def expected_hf() -> Fraction:
    """Closed form: collateral x price x LT(e-mode 95 %) / debt x price."""
    _, wst, owed = sized_flash()
    return Fraction(EQUITY + wst) * Fraction(ETH_USD * RATE) * Fraction(95, 100) / (Fraction(owed) * Fraction(ETH_USD))


def backtest_manager() -> ExecutionInterfaceManager:
    t0 = int(pd.Timestamp("2025-01-01T00:00:00Z").value)
    one = {"liquidity_index": [D(1)], "variable_borrow_index": [D(1)], "liquidity_rate": [D(0)],
           "variable_borrow_rate": [D(0)], "price": [D(1)]}
    market = DataProvider([Series("oracle:ETH/USD", [t0], {"price": [ETH_USD]}),
                           Series("lst:wstETH", [t0], {"rate": [RATE]}),
                           *(Series(f"aave:{a}", [t0], one) for a in ("WETH", "wstETH"))])
    m = ExecutionInterfaceManager({"initial_balances": {"ethereum:wallet:wstETH": str(EQUITY)}, "autoload": False},
                                  market, "backtest", plugins=[AaveVenue, LidoVenue])
    m.execute(TS, {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": str(EQUITY),
                   "e_mode_category": 1})
    return m


def live_manager(world: Any) -> ExecutionInterfaceManager:
    cfg = {"execution_mode": "live", "autoload": False, "venue_config": {
        "aave": {"rpc_url": world.url, "private_key": world.key, "deployment_table": world.aave_table()},
        "lido": {"rpc_url": world.url, "private_key": world.key, "deployment_table": world.lido_table()}}}
    m = ExecutionInterfaceManager(cfg, plugins=[AaveVenue, LidoVenue])
    aave = m.venue("aave").backend
    aave.deploy_executor(world.lido.steth.address, world.lido.wsteth.address)
    # equity: 12 ETH staked into 10 wstETH (Lido venue), supplied in e-mode (Aave venue)
    m.execute(TS, {"venue": "lido", "operation": "stake", "asset": "ETH", "amount": str(EQUITY * RATE),
                   "receive": "wstETH"})
    m.execute(TS, {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": str(EQUITY),
                   "e_mode_category": 1})
    return m


def chain_state(world: Any) -> dict[str, int]:
    w3, u, a = world.aave.w3, world.user, world.aave
    return {"nonce": w3.eth.get_transaction_count(u), "eth": w3.eth.get_balance(u),
            "WETH": a.tokens["WETH"].functions.balanceOf(u).call(),
            "wstETH": world.lido.wsteth.functions.balanceOf(u).call(),
            "stETH": world.lido.steth.functions.balanceOf(u).call(),
            "awstETH": a.a_tokens["wstETH"].functions.balanceOf(u).call(),
            "dWETH": a.variable_debt_tokens["WETH"].functions.balanceOf(u).call(),
            "hf": a.pool.functions.getUserAccountData(u).call()[5]}


def prices(world: Any) -> None:
    world.aave.set_price("WETH", ETH_USD)
    world.aave.set_price("wstETH", ETH_USD * RATE)


def test_shipped_executor_artifact_is_current() -> None:
    """contracts/LoopExecutor.json is what solc builds from contracts/LoopExecutor.sol."""
    fresh = compile_executor()
    assert fresh.bytecode == executor_artifact().bytecode
    assert fresh.abi == executor_artifact().abi


def test_loop_lands_whole_in_both_modes(loop_world: Any, chain: Any) -> None:
    """One transaction on chain; the final positions are the sized ones and identical in both modes; the health
    factor equals the Pool's and the closed form; the wallet keeps nothing of the flash loan."""
    world = loop_world
    prices(world)
    live = live_manager(world)
    before = chain_state(world)
    d = live.execute(TS, bundle("aave"))
    after = chain_state(world)
    f, wst, owed = sized_flash()
    # the bundle is one transaction (after the one-time set-up: credit delegation, approvals to the executor)
    assert after["nonce"] - before["nonce"] == len(d.details["tx_hashes"])
    assert live.venue("aave").backend.prepare_atomic(_parse(bundle("aave"))) == []
    assert after["awstETH"] - before["awstETH"] == int(wst * 10**18)
    assert after["dWETH"] == int(owed * 10**18)  # flash amount + Aave's premium (percentMul, 5 bps)
    assert (after["WETH"], after["wstETH"], after["stETH"]) == (before["WETH"], before["wstETH"], before["stETH"])
    assert d.positions["aave:supplied:wstETH"] == wst and d.positions["aave:debt:WETH"] == owed
    assert d.positions["ethereum:wallet:ETH"] == D(after["eth"] - before["eth"]).scaleb(-18)
    assert d.details["health_factor"] == D(after["hf"]).scaleb(-18)
    assert d.pnl["flash_loan_fee"] == -(f * PREMIUM) * ETH_USD

    bt = backtest_manager()
    b = bt.execute(TS, bundle("atomic"))
    bal = bt.get_balances(TS, "aave")
    assert bal["aave:supplied:wstETH"] == EQUITY + wst and bal["aave:debt:WETH"] == owed
    assert bt.ledger.balance("ethereum:wallet:WETH") == 0 and bt.ledger.balance("ethereum:wallet:wstETH") == 0
    assert bal["aave:metric:health_factor"] == D(after["hf"]).scaleb(-18)  # same final state in both modes
    assert abs(Fraction(bal["aave:metric:health_factor"]) - expected_hf()) < Fraction(1, 10**15)
    assert abs(bal["aave:metric:ltv"] - TARGET_LTV) < D("1e-6")
    assert b.pnl["flash_loan_fee"] == d.pnl["flash_loan_fee"]


@pytest.mark.parametrize("failure", ["post-condition", "step"])
def test_failed_loop_changes_nothing_in_both_modes(loop_world: Any, chain: Any, failure: str) -> None:
    """A bundle whose post-condition (health factor) or one of whose steps (a borrow beyond the LTV) fails is
    refused whole: on chain nothing is sent (same nonce, ETH, tokens, aTokens, debt); in backtest the ledger and
    the venues' tables are unchanged."""
    world = loop_world
    prices(world)
    live = live_manager(world)
    bad = bundle("aave", min_hf="1.2") if failure == "post-condition" else bundle("aave", borrow_extra=D(20))
    live.venue("aave").backend.prepare_atomic(_parse(bad))  # the one-time set-up (delegation, approvals) first
    before = chain_state(world)
    with pytest.raises(HealthFactorError) as info:
        live.execute(TS, bad)
    assert chain_state(world) == before
    if failure == "post-condition":
        assert info.value.field == "min_health_factor"
    bt = backtest_manager()
    state = _ledger_state(bt)
    with pytest.raises(HealthFactorError):
        bt.execute(TS, {**bad, "venue": "atomic"})
    assert _ledger_state(bt) == state


def _parse(d: dict[str, Any]) -> Any:
    from basis_core.instructions import parse_instruction
    return parse_instruction(d)


def _ledger_state(m: ExecutionInterfaceManager) -> Any:
    led = m.ledger
    assert led is not None
    return led.balances, {n: t.snapshot() for n, t in led._tables.items() if len(t)}


def test_executor_refuses_strangers(loop_world: Any, chain: Any) -> None:
    """Only the owner can run the executor (it can borrow on the owner's behalf)."""
    world = loop_world
    live = live_manager(world)
    ex = live.venue("aave").backend.executor
    w3 = world.aave.w3
    stranger = w3.eth.accounts[3]
    tx = ex.functions.run([], "0x" + "00" * 20, 0, 0, []).build_transaction({"from": stranger, "gas": 500_000})
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction(tx), poll_latency=0.005)
    assert receipt["status"] == 0
    with pytest.raises(RuntimeError):
        wait_receipt(w3, w3.eth.send_transaction(tx))


def test_loop_from_own_eth_in_one_transaction(loop_world: Any, chain: Any) -> None:
    """Own ETH (sent as the transaction's value) and the flash loan staked, supplied and borrowed against in the
    same transaction: the account pays exactly its ETH plus gas; the position is the sum of both stakes."""
    world = loop_world
    prices(world)
    m = live_manager(world)
    own, f = D(6), D("24")
    owed = f * (1 + PREMIUM)
    steps = [{"operation": "stake", "venue": "lido", "asset": "ETH", "amount": str(own), "receive": "wstETH"},
             {"operation": "stake", "venue": "lido", "asset": "WETH", "amount": str(f), "receive": "wstETH"},
             {"operation": "supply", "venue": "aave", "asset": "wstETH", "amount": str((own + f) / RATE),
              "e_mode_category": 1},
             {"operation": "borrow", "venue": "aave", "asset": "WETH", "amount": str(owed)}]
    b = {"operation": "atomic", "venue": "aave", "flash_loan": {"venue": "aave", "asset": "WETH", "amount": str(f)},
         "steps": steps, "min_health_factor": "1.05"}
    m.venue("aave").backend.prepare_atomic(_parse(b))
    before = chain_state(world)
    d = m.execute(TS, b)
    after = chain_state(world)
    assert after["nonce"] == before["nonce"] + 1  # set-up done: the bundle is ONE transaction
    receipt = world.aave.w3.eth.get_transaction_receipt(d.details["tx_hashes"][-1])
    gas = int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])
    assert after["eth"] - before["eth"] == -int(own * 10**18) - gas
    assert d.positions["ethereum:wallet:ETH"] == D(-int(own * 10**18) - gas).scaleb(-18)
    assert after["awstETH"] - before["awstETH"] == int((own + f) / RATE * 10**18)
    assert after["dWETH"] - before["dWETH"] == int(owed * 10**18)


@pytest.mark.parametrize("fault", FAULTS)
def test_bundle_exactly_once_under_every_fault(loop_world: Any, chain: Any, tmp_path: Path, fault: str) -> None:
    """The atomic bundle (LoopExecutor.run) under kill after sign / after broadcast, node stall, dropped from the
    pool, mined while down: ONE transaction on chain (the account's nonce), reported once after the restart."""
    world = loop_world
    prices(world)
    setup = live_manager(world)
    aave = setup.venue("aave").backend
    b = bundle("aave")
    aave.prepare_atomic(_parse(b))  # the one-time set-up: the bundle is then one transaction
    executor = aave._executor_address
    journal = tmp_path / "journal.sqlite"

    def make(url: str, opts: dict[str, Any]) -> ExecutionInterfaceManager:
        cfg = {"execution_mode": "live", "autoload": False, "journal_path": str(journal), "venue_config": {
            "aave": {"rpc_url": url, "private_key": world.key, "deployment_table": world.aave_table(),
                     "executor": executor, "receipt_poll_interval": 0.002, **opts}}}
        return ExecutionInterfaceManager(cfg, plugins=[AaveVenue, LidoVenue])

    ins = {**b, "client_id": f"bundle-{fault}"}
    run = run_with_fault(fault, world.url, world.user, make, ins, TS)
    assert run.first_error is not None and run.sent == 1
    resumed = [r for r in run.history if r.client_id == ins["client_id"]]
    assert len(resumed) == 1 and resumed[0].success
    _, wst, owed = sized_flash()
    assert run.reissued.positions["aave:supplied:wstETH"] == wst and run.reissued.positions["aave:debt:WETH"] == owed
    assert dict(run.reissued.positions) == dict(resumed[0].positions)
