"""Live market data of the on-chain venues (Aave, Lido, Uniswap, Curve) on anvil with the real contracts: the
snapshot holds what the contracts return at the latest block, under the backtest's names; it follows the chain
from step to step (a swap moves a pool, interest accrues); a node that is down is named; and a backtest-mode
manager (paper mode) accrues Aave interest at the live indices."""

from __future__ import annotations

import decimal
import socket
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

pytest.importorskip("web3")

from basis_core.errors import ConfigError, MarketDataUnavailableError
from basis_core.live.market_data import LiveMarketData
from basis_core.manager import ExecutionInterfaceManager
from basis_core.numeric import LIBRARY_CONTEXT
from basis_core.testing.anvil import AnvilNode

RAY = Decimal(10) ** 27
DAY = 86_400


@dataclass
class Worlds:
    node: AnvilNode
    w3: Any
    uniswap: Any
    curve: Any
    lido: Any
    aave: Any

    def config(self, **extra: Any) -> dict[str, Any]:
        from basis_venue_curve.deployment import table_from_world

        url = self.node.url
        vc = {"aave": {"rpc_url": url, "deployment_table": self.aave.deployment_table()},
              "lido": {"rpc_url": url, "deployment_table": self.lido.deployment_table()},
              "uniswap": {"rpc_url": url, "deployment_table": self.uniswap.deployment_table()},
              "curve": {"rpc_url": url, "deployment_table": table_from_world(self.curve)}}
        return {"venue_config": vc, **extra}

    def now(self) -> pd.Timestamp:
        """Mine a block at the wall clock (or a second after the last block, whichever is later) and return its
        time: the step's time, strictly later than the previous step's."""
        t = max(self.node.block_time() + 1, int(time.time()))
        self.node.mine_at(t)
        return pd.Timestamp(t, unit="s", tz="UTC")


@pytest.fixture(scope="module")
def worlds(anvil: AnvilNode) -> Worlds:
    from basis_venue_aave.testing.deploy import deploy_aave_market
    from basis_venue_curve.testing.deploy import deploy_curve_pools
    from basis_venue_lido.testing.deploy import deploy_lido
    from basis_venue_uniswap.testing.deploy import deploy_uniswap
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url, request_kwargs={"timeout": 30}, cache_allowed_requests=True))
    deployer = w3.eth.accounts[0]
    return Worlds(anvil, w3, deploy_uniswap(w3, deployer), deploy_curve_pools(w3, deployer), deploy_lido(w3, deployer),
                  deploy_aave_market(w3, deployer))


def test_the_snapshot_holds_what_the_contracts_return(worlds: Worlds) -> None:
    with LiveMarketData(worlds.config()) as data:
        ts = worlds.now()
        snap = data.get_data(ts)
        block = worlds.w3.eth.get_block("latest")
        a = worlds.aave
        usdc = a.tokens["USDC"].address
        row = snap.row("aave:USDC")
        assert row["liquidity_index"] == Decimal(a.pool.functions.getReserveNormalizedIncome(usdc).call()) / RAY
        assert row["variable_borrow_index"] == Decimal(
            a.pool.functions.getReserveNormalizedVariableDebt(usdc).call()) / RAY
        assert row["price"] == Decimal(a.price("USDC")).scaleb(-8)
        assert snap.get("oracle:ETH/USD", "price") == Decimal(a.price("WETH")).scaleb(-8)
        assert snap.get("lst:wstETH", "rate") == Decimal(
            worlds.lido.wsteth.functions.stEthPerToken().call()).scaleb(-18)
        assert snap.get("gas", "base_fee_gwei") == Decimal(block["baseFeePerGas"]) / 10**9
        pair = worlds.uniswap.v2_pairs["WETH/USDC"]
        r0, r1, _ = pair.functions.getReserves().call()
        t0 = "WETH" if pair.functions.token0().call() == worlds.uniswap.address("WETH") else "USDC"
        weth, usdc_r = (r0, r1) if t0 == "WETH" else (r1, r0)
        pool = snap.row("pool:uniswap:v2:WETH/USDC")
        with decimal.localcontext(LIBRARY_CONTEXT):  # the library computes in 60 digits
            assert pool["price"] == (Decimal(usdc_r) / 10**6) / (Decimal(weth) / 10**18)
        sqrt_p = worlds.uniswap.v3_pools[("WETH/USDC", 500)].functions.slot0().call()[0]
        assert snap.get("pool:uniswap:v3:WETH/USDC:500", "sqrt_price_x96") == sqrt_p
        assert snap.get("dex:uniswap:WETH/USDC") == snap.get("pool:uniswap:v3:WETH/USDC:500", "price")  # default route
        three = worlds.curve.pools["3pool"]
        assert snap.get("pool:curve:3pool", "balance_USDC") == Decimal(three.functions.balances(1).call()).scaleb(-6)
        assert snap.get("pool:curve:3pool", "A") == three.functions.A().call()


def test_each_step_reads_the_chain_again(worlds: Worlds, chain: AnvilNode) -> None:
    u = worlds.uniswap
    with LiveMarketData(worlds.config(), venues=["uniswap", "aave"]) as data:
        t1 = worlds.now()
        before = data.get_data(t1).get("pool:uniswap:v2:WETH/USDC", "price")
        user = worlds.w3.eth.accounts[0]  # the deployer holds WETH and approved the routers
        u.v2_router.functions.swapExactTokensForTokens(10**18, 0, [u.address("WETH"), u.address("USDC")], user,
                                                       2**40).transact({"from": user})
        t2 = worlds.now()
        after = data.get_data(t2).get("pool:uniswap:v2:WETH/USDC", "price")
        assert after < before  # selling WETH into the pair lowers its price
        assert data.get_data(t1).get("pool:uniswap:v2:WETH/USDC", "price") == before  # history, no re-read


def test_a_node_that_is_down_is_named(worlds: Worlds) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = worlds.config()
    cfg["venue_config"]["lido"]["rpc_url"] = f"http://127.0.0.1:{port}"
    with LiveMarketData(cfg, timeout_s=2) as data, pytest.raises(MarketDataUnavailableError) as e:
        data.get_data(worlds.now())
    assert e.value.venue == "lido"
    with pytest.raises(ConfigError, match="rpc_url"), LiveMarketData({"venue_config": {"lido": {}}}) as data:
        data.get_data(pd.Timestamp.now(tz="UTC"))


def test_paper_mode_accrues_aave_interest_at_the_live_indices(worlds: Worlds, chain: AnvilNode) -> None:
    a = worlds.aave
    borrower = worlds.w3.eth.accounts[2]
    a.approve_and_supply("WETH", borrower, 100 * 10**18)
    a.borrow("USDC", borrower, 100_000 * 10**6)  # USDC earns interest from now on
    cfg = worlds.config(initial_balances={"ethereum:wallet:USDC": "10000", "ethereum:wallet:ETH": "1"})
    with LiveMarketData(cfg, venues=["aave", "lido"]) as data:
        m = ExecutionInterfaceManager(cfg, data_provider=data, execution_mode="backtest")
        t1 = worlds.now()
        data.get_data(t1)
        m.advance_to(t1)
        m.execute(t1, {"operation": "supply", "venue": "aave", "asset": "USDC", "amount": "1000"})
        supplied1 = m.get_balances(t1, "aave")["aave:supplied:USDC"]
        chain.increase_time(30 * DAY)
        t2 = worlds.now()
        snap2 = data.get_data(t2)
        m.advance_to(t2)
        supplied2 = m.get_balances(t2, "aave")["aave:supplied:USDC"]
        growth = snap2.get("aave:USDC", "liquidity_index") / data.get_data(t1).get("aave:USDC", "liquidity_index")
        assert growth > 1
        assert abs(supplied2 / supplied1 - growth) < Decimal("1e-9")
