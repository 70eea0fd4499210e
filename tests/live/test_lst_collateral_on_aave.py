"""Item 4 of issue 18, live and backtest: weETH (EtherFi) and wstETH (Lido) as collateral on the real Aave v3 (npm
``@aave/core-v3`` on anvil), borrowing WETH in the ETH-correlated e-mode, through one manager with the three venues.

The LSTs are the ones the etherfi / lido venues stake into (our contracts with the protocols' ABIs, listed on Aave as
external reserves), so the whole path ETH -> weETH / wstETH -> collateral -> WETH debt is real transactions.
Independent results: token, aToken and debt-token balances read from the chain around each instruction, the Pool's
getUserAccountData, and the Aave backtest on the chain's own reserve indices giving the same supplied / debt deltas.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("basis_venue_etherfi")
pytest.importorskip("basis_venue_lido")
pytest.importorskip("basis_venue_aave")

from basis_venue_aave.venue import AaveVenue
from basis_venue_etherfi.venue import EtherFiVenue
from basis_venue_lido.venue import LidoVenue

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider
from basis_core.data.series import Series
from basis_core.testing.contracts import wait_receipt

D = Decimal
WAD = 10**18
TS = pd.Timestamp("2025-03-01T00:00:00Z")
USER_INDEX = 4  # anvil's default account 4
USER_KEY = "0x47e179ec197488593b187f80a00eb0da91f1b9d0b13f8733639f19c30a34926a"
ETH_USD = D(3000)
WEETH_RATE = D("1.05")  # our pool: 1 ETH bootstrap + 0.05 ETH of rewards
WSTETH_RATE = D("1.2")


@pytest.fixture(scope="module")
def world(anvil: Any) -> dict[str, Any]:
    from basis_venue_aave.testing.deploy import deploy_aave_market
    from basis_venue_etherfi.testing.deploy import deploy_etherfi
    from basis_venue_lido.testing.deploy import deploy_lido
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))
    deployer = w3.eth.accounts[0]
    etherfi = deploy_etherfi(w3, deployer)
    etherfi.rebase(5 * 10**16)
    lido = deploy_lido(w3, deployer)
    wait_receipt(w3, lido.steth.functions.setTotalPooledEther(12 * 10**17).transact({"from": deployer}))
    aave = deploy_aave_market(w3, deployer, ("WETH", "wstETH", "weETH"),
                              external_tokens={"weETH": etherfi.weeth.address, "wstETH": lido.wsteth.address},
                              prices_usd={"WETH": ETH_USD, "weETH": ETH_USD * WEETH_RATE,
                                          "wstETH": ETH_USD * WSTETH_RATE})
    weth = aave.tokens["WETH"]
    wait_receipt(w3, weth.functions.deposit().transact({"from": aave.liquidity_provider, "value": 500 * WAD}))
    return {"w3": w3, "etherfi": etherfi, "lido": lido, "aave": aave, "user": w3.eth.accounts[USER_INDEX]}


def chain(world: dict[str, Any]) -> dict[str, int]:
    a, u = world["aave"], world["user"]
    out = {"ETH": world["w3"].eth.get_balance(u)}
    for s in ("WETH", "wstETH", "weETH"):
        out[s] = a.tokens[s].functions.balanceOf(u).call()
        out["a" + s] = a.a_tokens[s].functions.balanceOf(u).call()
        out["d" + s] = a.variable_debt_tokens[s].functions.balanceOf(u).call()
    return out


def key_of(name: str) -> str:
    if name.startswith("a") and name[1:] in ("WETH", "wstETH", "weETH"):
        return f"aave:supplied:{name[1:]}"
    if name.startswith("d") and name[1:] in ("WETH", "wstETH", "weETH"):
        return f"aave:debt:{name[1:]}"
    return f"ethereum:wallet:{name}"


def test_weeth_and_wsteth_are_collateral_for_weth_on_aave_live_and_in_backtest(world: dict[str, Any]) -> None:
    a = world["aave"]
    table = a.deployment_table()
    cfg = {"execution_mode": "live", "autoload": False, "venue_config": {
        "aave": {"rpc_url": world["w3"].provider.endpoint_uri, "private_key": USER_KEY, "deployment_table": table},
        "etherfi": {"rpc_url": world["w3"].provider.endpoint_uri, "private_key": USER_KEY,
                    "deployment_table": world["etherfi"].deployment_table()},
        "lido": {"rpc_url": world["w3"].provider.endpoint_uri, "private_key": USER_KEY,
                 "deployment_table": world["lido"].deployment_table()}}}
    m = ExecutionInterfaceManager(cfg, plugins=[AaveVenue, EtherFiVenue, LidoVenue])
    steps = [{"venue": "etherfi", "operation": "stake", "asset": "ETH", "amount": "10.5", "receive": "weETH"},
             {"venue": "lido", "operation": "stake", "asset": "ETH", "amount": "6", "receive": "wstETH"},
             {"venue": "aave", "operation": "supply", "asset": "weETH", "amount": "10", "e_mode_category": 1},
             {"venue": "aave", "operation": "supply", "asset": "wstETH", "amount": "5"},
             {"venue": "aave", "operation": "borrow", "asset": "WETH", "amount": "12.5", "e_mode_category": 1}]
    blocks: list[int] = []
    lending: list[dict[str, Decimal]] = []
    for step in steps:
        before = chain(world)
        d = m.execute(TS, step)
        after = chain(world)
        want = {key_of(k): D(after[k] - before[k]).scaleb(-18) for k in after if after[k] != before[k]}
        assert dict(d.positions) == want, step
        if step["venue"] == "aave":
            blocks.append(world["w3"].eth.get_transaction_receipt(d.details["tx_hashes"][-1])["blockNumber"])
            lending.append({k: v for k, v in d.positions.items() if k.startswith("aave:")})
    # 10 weETH x 3150 + 5 wstETH x 3600 = 49,500 USD of collateral at 93 %; 12.5 WETH = 37,500 USD of debt
    acc = a.pool.functions.getUserAccountData(world["user"]).call()
    assert acc[0] == 4_950_000_000_000 and acc[1] == 3_750_000_000_000
    bal = m.get_balances(TS, "aave")
    assert bal["aave:supplied:weETH"] == 10 and bal["aave:supplied:wstETH"] == 5
    assert bal["aave:metric:health_factor"] == D(acc[5]).scaleb(-18) > 1

    # the backtest on the chain's own reserve indices at those blocks gives the same aave deltas
    w3, pool = world["w3"], a.pool
    stamps = [int(w3.eth.get_block(b)["timestamp"]) * 10**9 for b in blocks]
    times = sorted(set(stamps))
    first = {t: blocks[stamps.index(t)] for t in times}
    series = [Series("oracle:ETH/USD", [times[0]], {"price": [ETH_USD]}),
              Series("lst:weETH", [times[0]], {"rate": [WEETH_RATE]}),
              Series("lst:wstETH", [times[0]], {"rate": [WSTETH_RATE]})]
    for asset in ("WETH", "wstETH", "weETH"):
        addr = a.tokens[asset].address
        series.append(Series(f"aave:{asset}", times, {
            "liquidity_index": [D(pool.functions.getReserveNormalizedIncome(addr).call(block_identifier=first[t]))
                                .scaleb(-27) for t in times],
            "variable_borrow_index": [D(pool.functions.getReserveNormalizedVariableDebt(addr).call(
                block_identifier=first[t])).scaleb(-27) for t in times],
            "liquidity_rate": [D(0)] * len(times), "variable_borrow_rate": [D(0)] * len(times),
            "price": [ETH_USD] * len(times)}))
    bt = ExecutionInterfaceManager({"autoload": False, "initial_balances": {
        "ethereum:wallet:weETH": "10", "ethereum:wallet:wstETH": "5"},
        "venue_config": {"aave": {"charge_gas": False}}}, DataProvider(series), "backtest", plugins=[AaveVenue])
    for step, at, live_deltas in zip(steps[2:], stamps, lending, strict=True):
        d = bt.execute(pd.Timestamp(at, tz="UTC"), step)
        assert {k: v for k, v in d.positions.items() if k.startswith("aave:")} == live_deltas, step
