"""The aave venue in live mode against a real Aave v3 market on anvil, and the backtest against the same market.

Independent results: the deployed Pool (``getUserAccountData``, aToken / debt-token ``balanceOf``, the
account's nonce and ETH balance, receipts' gas), never the plugin's own numbers.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_aave.math import AccountData
from basis_venue_aave.venue import AaveVenue
from web3 import Web3

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider
from basis_core.data.series import Series
from basis_core.errors import HealthFactorError, InstructionError, InsufficientFundsError
from basis_core.risk import NO_SHOCK
from basis_core.risk.corridor import corridor
from basis_core.testing.chain_faults import FAULTS, run_with_fault
from basis_core.testing.contracts import wait_receipt

D = Decimal
TS = pd.Timestamp("2025-03-01T00:00:00Z")
WAD = 10**18


def live_manager(world: Any) -> ExecutionInterfaceManager:
    cfg = {"execution_mode": "live", "autoload": False,
           "venue_config": {"aave": {"rpc_url": world.url, "private_key": world.key,
                                     "deployment_table": world.aave_table()}}}
    return ExecutionInterfaceManager(cfg, plugins=[AaveVenue])


def flat_market(eth_usd: Decimal, wsteth_rate: Decimal) -> DataProvider:
    """Prices as on the test chain, Aave indices 1.0 and rates 0 (no interest), no gas series."""
    t0 = int(pd.Timestamp("2025-01-01T00:00:00Z").value)
    one = {"liquidity_index": [D(1)], "variable_borrow_index": [D(1)], "liquidity_rate": [D(0)],
           "variable_borrow_rate": [D(0)], "price": [D(1)]}
    series = [Series("oracle:ETH/USD", [t0], {"price": [eth_usd]}), Series("lst:wstETH", [t0], {"rate": [wsteth_rate]})]
    series += [Series(f"aave:{a}", [t0], one) for a in ("WETH", "wstETH", "USDC")]
    return DataProvider(series)


def backtest_manager(eth_usd: Decimal, rate: Decimal, balances: dict[str, str]) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"initial_balances": balances, "autoload": False}, flat_market(eth_usd, rate),
                                     "backtest", plugins=[AaveVenue])


def fund(world: Any, wsteth: Decimal = D(0), weth: Decimal = D(0), usdc: Decimal = D(0)) -> None:
    """Give the user wstETH (staked through our Lido), WETH (deposit) and USDC (minted)."""
    w3 = world.aave.w3
    user = world.user
    if wsteth:
        wei = int(wsteth * WAD * 12 // 10)  # ETH for wsteth at 1.2 ETH / wstETH
        wait_receipt(w3, w3.eth.send_transaction({"from": user, "to": world.lido.wsteth.address, "value": wei}))
    if weth:
        deposit = world.aave.tokens["WETH"].functions.deposit()
        wait_receipt(w3, deposit.transact({"from": user, "value": int(weth * WAD)}))
    if usdc:
        world.aave.mint("USDC", user, usdc)


def pool_account(world: Any, block: Any = "latest") -> AccountData:
    r = world.aave.pool.functions.getUserAccountData(world.user).call(block_identifier=block)
    return AccountData(*(int(x) for x in r))


def chain_state(world: Any) -> dict[str, int]:
    """Everything a refused instruction must leave unchanged (independent reads)."""
    w3 = world.aave.w3
    u = world.user
    out = {"nonce": w3.eth.get_transaction_count(u), "eth": w3.eth.get_balance(u)}
    for s in ("WETH", "wstETH", "USDC"):
        out[s] = world.aave.tokens[s].functions.balanceOf(u).call()
        out["a" + s] = world.aave.a_tokens[s].functions.balanceOf(u).call()
        out["d" + s] = world.aave.variable_debt_tokens[s].functions.balanceOf(u).call()
    return out


CASES = [
    # (label, eth_usd, rate, supplies [(asset, amount, emode)], borrows [(asset, amount)])
    ("emode-wsteth-weth", D(3000), D("1.2"), [("wstETH", D(10), 1)], [("WETH", D(7))]),
    ("standard-two-collaterals", D("2512.5"), D("1.2"), [("wstETH", D(5), None), ("USDC", D(20000), None)],
     [("WETH", D("3.25")), ("USDC", D("1234.567891"))]),
    ("emode-weth-collateral", D("3333.33"), D("1.15"), [("WETH", D(4), 1), ("wstETH", D("2.5"), None)],
     [("WETH", D("5.5"))]),
]


def chain_market(world: Any, blocks: list[int], eth_usd: Decimal, rate: Decimal) -> tuple[DataProvider, list[Any]]:
    """The chain's own reserve indices (getReserveNormalizedIncome / VariableDebt) at ``blocks`` as ``aave:<asset>``
    rows at the blocks' timestamps (rates 0: nothing is extrapolated), with the test's prices."""
    w3, pool = world.aave.w3, world.aave.pool
    stamps = [int(w3.eth.get_block(b)["timestamp"]) for b in blocks]
    times = sorted(set(stamps))
    first = {t: blocks[stamps.index(t)] for t in times}
    series = [Series("oracle:ETH/USD", [times[0] * 10**9], {"price": [eth_usd]}),
              Series("lst:wstETH", [times[0] * 10**9], {"rate": [rate]})]
    for asset in ("WETH", "wstETH", "USDC"):
        addr = world.aave.tokens[asset].address
        li = [D(pool.functions.getReserveNormalizedIncome(addr).call(block_identifier=first[t])).scaleb(-27)
              for t in times]
        vi = [D(pool.functions.getReserveNormalizedVariableDebt(addr).call(block_identifier=first[t])).scaleb(-27)
              for t in times]
        series.append(Series(f"aave:{asset}", [t * 10**9 for t in times], {
            "liquidity_index": li, "variable_borrow_index": vi, "liquidity_rate": [D(0)] * len(times),
            "variable_borrow_rate": [D(0)] * len(times), "price": [D(1)] * len(times)}))
    return DataProvider(series), [pd.Timestamp(t, unit="s", tz="UTC") for t in stamps]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_backtest_account_data_equals_pool(loop_world: Any, chain: Any, case: Any) -> None:
    """Same positions and prices: the backtest's health factor, borrowing power, collateral, debt, LTV and
    liquidation threshold equal the deployed Pool's getUserAccountData (to the last unit), right after the
    operations and 30 days later (interest through the chain's own indices)."""
    _, eth_usd, rate, supplies, borrows = case
    world = loop_world
    w3 = world.aave.w3
    world.aave.set_price("WETH", eth_usd)
    world.aave.set_price("wstETH", eth_usd * rate)
    fund(world, wsteth=sum((a for s, a, _ in supplies if s == "wstETH"), D(0)),
         weth=sum((a for s, a, _ in supplies if s == "WETH"), D(0)),
         usdc=sum((a for s, a, _ in supplies if s == "USDC"), D(0)))
    live = live_manager(world)
    instructions: list[dict[str, Any]] = []
    for asset, amount, emode in supplies:
        ins: dict[str, Any] = {"venue": "aave", "operation": "supply", "asset": asset, "amount": str(amount)}
        if emode is not None:
            ins["e_mode_category"] = emode
        instructions.append(ins)
    instructions += [{"venue": "aave", "operation": "borrow", "asset": a, "amount": str(x)} for a, x in borrows]
    blocks = [live.execute(TS, ins).details["block_number"] for ins in instructions]
    w3.provider.make_request("evm_increaseTime", [30 * 86400])
    w3.provider.make_request("evm_mine", [])
    later = int(w3.eth.block_number)
    market, stamps = chain_market(world, [*blocks, later], eth_usd, rate)
    bt = ExecutionInterfaceManager({"initial_balances": {f"ethereum:wallet:{s}": str(a) for s, a, _ in supplies},
                                    "autoload": False}, market, "backtest", plugins=[AaveVenue])
    for ins, ts in zip(instructions, stamps, strict=False):
        bt.execute(ts, ins)
    for block, ts in ((blocks[-1], stamps[len(blocks) - 1]), (later, stamps[-1])):
        bt.advance_to(ts)
        pool = pool_account(world, block)
        m = bt.get_balances(ts, "aave")
        assert m["aave:metric:health_factor"] == Decimal(pool.health_factor).scaleb(-18)
        assert m["aave:metric:borrowing_power_usd"] == Decimal(pool.available_borrows_base).scaleb(-8)
        assert m["aave:metric:collateral_usd"] == Decimal(pool.total_collateral_base).scaleb(-8)
        assert m["aave:metric:debt_usd"] == Decimal(pool.total_debt_base).scaleb(-8)
        assert m["aave:metric:max_ltv"] == Decimal(pool.ltv).scaleb(-4)
        assert m["aave:metric:liquidation_threshold"] == Decimal(pool.current_liquidation_threshold).scaleb(-4)
    assert m["aave:metric:debt_usd"] > sum((x * (eth_usd if a == "WETH" else 1) for a, x in borrows), D(0))
    # the live venue reports the same numbers and balances from the chain
    lb = live.get_balances(TS, "aave")
    assert lb["aave:metric:health_factor"] == m["aave:metric:health_factor"]
    for asset, _ in borrows:
        assert lb[f"aave:debt:{asset}"] == m[f"aave:debt:{asset}"]
        assert lb[f"aave:debt:{asset}"] == bt.ledger.balance(f"aave:debt:{asset}")  # type: ignore[union-attr]


def test_borrow_beyond_ltv_refused_in_both_modes(loop_world: Any, chain: Any) -> None:
    """The largest borrow Aave's rule allows goes through in both modes; one wei more is refused in both with
    HealthFactorError and nothing changes (live: no transaction sent: same nonce and balances)."""
    world = loop_world
    world.aave.set_price("WETH", D(3000))
    world.aave.set_price("wstETH", D(3600))
    fund(world, wsteth=D(10))
    live = live_manager(world)
    bt = backtest_manager(D(3000), D("1.2"), {"ethereum:wallet:wstETH": "10"})
    supply = {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "10", "e_mode_category": 1}
    live.execute(TS, supply)
    bt.execute(TS, supply)
    # closed form of validateBorrow: collateral 36000e8 (base units), LTV 9300 bps, WETH at 3000e8:
    # (debt * 10000 + 4650) // 9300 <= 36000e8  <=>  debt <= 33480e8;  w * 3000e8 // 1e18 <= 33480e8
    max_base = ((36000 * 10**8 + 1) * 9300 - 4650 - 1) // 10_000
    w_max = ((max_base + 1) * WAD - 1) // (3000 * 10**8)
    assert w_max == 11_160_000_000_003_333_333
    too_much = {"venue": "aave", "operation": "borrow", "asset": "WETH", "amount": str(Decimal(w_max + 1).scaleb(-18))}
    before = chain_state(world)
    with pytest.raises(HealthFactorError):
        live.execute(TS, too_much)
    assert chain_state(world) == before
    bt_before = bt.ledger.balances  # type: ignore[union-attr]
    with pytest.raises(HealthFactorError) as info:
        bt.execute(TS, too_much)
    assert str(Decimal(w_max).scaleb(-18)) in str(info.value)  # the message names the largest allowed borrow
    assert bt.ledger.balances == bt_before  # type: ignore[union-attr]
    ok = {"venue": "aave", "operation": "borrow", "asset": "WETH", "amount": str(Decimal(w_max).scaleb(-18))}
    live.execute(TS, ok)
    bt.execute(TS, ok)
    assert world.aave.variable_debt_tokens["WETH"].functions.balanceOf(world.user).call() == w_max
    assert bt.get_balances(TS, "aave")["aave:debt:WETH"] == Decimal(w_max).scaleb(-18)


def test_live_deltas_are_the_chain_changes(loop_world: Any, chain: Any) -> None:
    """Each live operation's deltas equal the balance changes read from the chain (gas from the receipts)."""
    world = loop_world
    world.aave.set_price("WETH", D(3000))
    world.aave.set_price("wstETH", D(3600))
    fund(world, wsteth=D(8), weth=D(1))
    live = live_manager(world)
    w3 = world.aave.w3
    steps = [
        {"operation": "supply", "asset": "wstETH", "amount": "8", "e_mode_category": 1},
        {"operation": "borrow", "asset": "WETH", "amount": "6"},
        {"operation": "repay", "asset": "WETH", "amount": "2.5"},
        {"operation": "withdraw", "asset": "wstETH", "amount": "1.75"},
        {"operation": "repay", "asset": "WETH", "amount": "max"},
        {"operation": "withdraw", "asset": "wstETH", "amount": "max"},
    ]
    for step in steps:
        before = chain_state(world)
        d = live.execute(TS, {"venue": "aave", **step})
        after = chain_state(world)
        gas = sum(int(w3.eth.get_transaction_receipt(h)["gasUsed"]) * int(w3.eth.get_transaction_receipt(h)
                  ["effectiveGasPrice"]) for h in d.details["tx_hashes"])
        expect: dict[str, Decimal] = {}
        for s in (step["asset"],):  # other reserves only accrue interest meanwhile (not this operation's change)
            for prefix, key in (("", f"ethereum:wallet:{s}"), ("a", f"aave:supplied:{s}"), ("d", f"aave:debt:{s}")):
                diff = after[prefix + s] - before[prefix + s]
                if diff:
                    expect[key] = Decimal(diff).scaleb(-18)
        expect["ethereum:wallet:ETH"] = Decimal(after["eth"] - before["eth"]).scaleb(-18)
        assert after["eth"] - before["eth"] == -gas
        assert dict(d.positions) == expect, step
    assert world.aave.pool.functions.getUserEMode(world.user).call() == 1
    assert chain_state(world)["dWETH"] == 0 and chain_state(world)["awstETH"] == 0


def test_live_refusals_are_typed_and_send_nothing(loop_world: Any, chain: Any) -> None:
    """Unknown asset, a supply beyond the wallet, a repay without debt, leaving e-mode with an unsafe position:
    typed errors naming the field; the chain is unchanged."""
    world = loop_world
    world.aave.set_price("WETH", D(3000))
    world.aave.set_price("wstETH", D(3600))
    fund(world, wsteth=D(10))
    live = live_manager(world)
    live.execute(TS, {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "10", "e_mode_category": 1})
    live.execute(TS, {"venue": "aave", "operation": "borrow", "asset": "WETH", "amount": "10"})
    before = chain_state(world)
    bad = [
        ({"operation": "supply", "asset": "ZZZ", "amount": "1"}, InstructionError, "asset"),
        ({"operation": "supply", "asset": "wstETH", "amount": "1"}, InsufficientFundsError, "amount"),
        ({"operation": "repay", "asset": "USDC", "amount": "1"}, InstructionError, "asset"),
        # in standard mode (LT 81 %) 10 wstETH cannot carry 10 WETH: setUserEMode(0) is refused (error 35)
        ({"operation": "borrow", "asset": "WETH", "amount": "0.1", "e_mode_category": 0}, HealthFactorError,
         "e_mode_category"),
        ({"operation": "borrow", "asset": "USDC", "amount": "1"}, InstructionError, "asset"),  # error 58
    ]
    for ins, err, field in bad:
        with pytest.raises(err) as info:
            live.execute(TS, {"venue": "aave", **ins})
        assert info.value.field == field, (ins, info.value)
        assert chain_state(world) == before, ins


def test_checksum_of_table_addresses() -> None:
    """The packaged mainnet table carries Aave v3 Ethereum's Pool and checksummed addresses."""
    from basis_venue_aave.deployment import load_table

    t = load_table("mainnet")
    assert t["contracts"]["Pool"] == "0x87870Bca3F3fD6335C3F4ce8392D69350B4fA4E2"
    for addr in [*t["tokens"].values(), *t["contracts"].values()]:
        assert Web3.to_checksum_address(addr) == addr


@pytest.mark.parametrize("fault", FAULTS)
def test_live_supply_exactly_once_under_every_fault(loop_world: Any, chain: Any, tmp_path: Path, fault: str) -> None:
    """Kill after sign / after broadcast, node stall, dropped from the pool, mined while down: one supply
    transaction on chain (by the account's nonce), reported once by the restarted manager."""
    world = loop_world
    fund(world, wsteth=D(4), weth=D(0))
    journal = tmp_path / "journal.sqlite"

    def make(url: str, opts: dict[str, Any]) -> ExecutionInterfaceManager:
        cfg = {"execution_mode": "live", "autoload": False, "journal_path": str(journal),
               "venue_config": {"aave": {"rpc_url": url, "private_key": world.key, "receipt_poll_interval": 0.002,
                                         "deployment_table": world.aave_table(), "approval_mode": "unlimited",
                                         **opts}}}
        return ExecutionInterfaceManager(cfg, plugins=[AaveVenue])

    make(world.url, {}).execute(TS, {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "1",
                                     "client_id": "setup"})  # the unlimited approval
    ins = {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "2", "client_id": f"supply-{fault}"}
    run = run_with_fault(fault, world.url, world.user, make, ins, TS)
    assert run.first_error is not None and run.sent == 1
    resumed = [r for r in run.history if r.client_id == ins["client_id"]]
    assert len(resumed) == 1 and resumed[0].success
    assert run.reissued.positions["ethereum:wallet:wstETH"] == D(-2)
    assert dict(run.reissued.positions) == dict(resumed[0].positions)


# -- live risk_state: health under a shock from on-chain reads; the reported liquidation price is where the Pool
#    says unhealthy
RISK_TOL = D("1e-6")


def move_eth_family(world: Any, base: dict[str, int], factor: Decimal) -> None:
    """Set WETH and wstETH oracle answers to ``base x factor`` (8-decimal units, rounded down as risk_state does)."""
    for sym in ("WETH", "wstETH"):
        world.aave.set_price(sym, D(int(D(base[sym]) * factor)).scaleb(-8))


def test_live_health_and_liquidation_price_equal_the_pool(loop_world: Any, chain: Any) -> None:
    world = loop_world
    world.aave.set_price("WETH", D(3000))
    world.aave.set_price("wstETH", D(3600))
    fund(world, wsteth=D(10))
    live = live_manager(world)
    live.execute(TS, {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "10"})
    live.execute(TS, {"venue": "aave", "operation": "borrow", "asset": "USDC", "amount": "20000"})

    [now] = live.risk_state(TS, "aave", NO_SHOCK) or []
    assert now.leg == "aave:account" and now.kind == "lending"
    assert now.health == D(pool_account(world).health_factor).scaleb(-18)
    assert now.reference["oracle:ETH/USD"] == D(3000)

    c = corridor(live, TS, drivers=("eth",), tol=RISK_TOL, venues=["aave"])
    assert c.eth_down is not None and c.nearest_leg_down == "aave:account" and c.eth_up is None
    base = {s: world.aave.price(s) for s in ("WETH", "wstETH")}
    move_eth_family(world, base, c.eth_down)  # the reported liquidation price: the Pool says unhealthy
    assert pool_account(world).health_factor < 10**18
    move_eth_family(world, base, c.eth_down + 2 * RISK_TOL)  # one step before it: still healthy
    assert pool_account(world).health_factor >= 10**18
