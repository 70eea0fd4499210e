"""``basis run --mode live`` with on-chain legs (issue 15: "... and in live mode against the emulators and anvil with
the same positions within fees and gas").

The bundled ``staked_basis`` strategy (ETH staked with Lido -> wstETH supplied to Aave -> Binance perp short) runs
through the :class:`Runner` in live mode against our Lido contracts and the real Aave v3 (npm ``@aave/core-v3``) on
anvil and the signature-checking Binance emulator replaying a price path, and in the backtest on the same market:
the emulator's path and the chain's own rates (wstETH's exchange rate, the wstETH reserve's indices). Mid-run the
Lido oracle reports rewards (the rate grows 3 %, beyond the 2 % band) on the chain and in the backtest's data at the
same step, so both re-size the hedge. Both end with the same positions; the cash balances within the backtest's
fees and gas.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("basis_venue_lido")
pytest.importorskip("basis_venue_aave")

from basis_venue_binance.testing.emulator import BinanceEmulator

from basis_core.backtest.runner import run
from basis_core.backtest.scenario import load_scenario
from basis_core.data.provider import DataProvider
from basis_core.data.series import Series
from basis_core.data.synthetic import synthetic_market
from basis_core.run import ManualClock, Runner
from basis_core.testing.contracts import wait_receipt
from basis_core.testing.replay import ReplayClock
from basis_core.timeutil import to_ns

KEY, SECRET = "run-chain-key-0123456789abcdef", "run-chain-secret-0123456789abcdef0123456789"
START = "2025-01-01T00:00:00Z"
HOUR = 3_600_000_000_000
STEPS = 5
REWARD_STEP = 3  # the Lido oracle reports rewards before this step
WAD = 10**18
POOLED = (12 * 10**17, 12_36 * 10**15)  # stETH per share: 1.2, then 1.236 (+3 %)
ETH, KEEP, MARGIN = D(5), D("0.1"), D(20_000)
USER_KEY = "0x" + hashlib.sha256(b"basis-run-live-onchain").hexdigest()
BINANCE = ["spot:ETH/USDT", "perp:binance:ETH/USDT:USDT", "funding:binance:ETH/USDT:USDT", "oracle:ETH/USD"]
SCENARIO = {
    "name": "live-staked-basis", "period": {"start": START, "end": "2025-01-01T20:00:00Z", "step": "1h"},
    "venues": ["binance", "lido", "aave"],
    "strategies": [{"name": "staked_basis", "required": True,
                    "params": {"eth_amount": str(ETH), "keep_eth": str(KEEP), "hedge_venue": "binance"},
                    "balances": {"ethereum:wallet:ETH": str(ETH + KEEP), "binance:futures:USDT": str(MARGIN)}}],
}


@pytest.fixture(scope="module")
def chain(anvil: Any) -> dict[str, Any]:
    """Our Lido (1.2 stETH per wstETH) and an Aave v3 market listing its wstETH; a fresh account holding
    exactly the scenario's ETH."""
    from basis_venue_aave.testing.deploy import deploy_aave_market
    from basis_venue_lido.testing.deploy import deploy_lido
    from eth_account import Account
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))
    deployer = w3.eth.accounts[0]
    lido = deploy_lido(w3, deployer)
    wait_receipt(w3, lido.steth.functions.setTotalPooledEther(POOLED[0]).transact({"from": deployer}))
    aave = deploy_aave_market(w3, deployer, ("WETH", "wstETH"), external_tokens={"wstETH": lido.wsteth.address})
    user = Account.from_key(USER_KEY).address
    anvil.rpc("anvil_setBalance", [user, hex(int((ETH + KEEP) * WAD))])
    return {"w3": w3, "lido": lido, "aave": aave, "user": user, "deployer": deployer, "url": anvil.url}


def chain_series(chain: dict[str, Any], times: list[int], eth_usd: D) -> list[Series]:
    """The backtest's view of the chain: wstETH's exchange rate per step (the reward report at REWARD_STEP) and
    the wstETH reserve's indices and rates as the Pool reports them."""
    lido, pool = chain["lido"], chain["aave"].pool
    wst = chain["aave"].tokens["wstETH"].address
    rates = [D(POOLED[i >= REWARD_STEP]) / WAD for i in range(len(times))]
    assert D(lido.wsteth.functions.stEthPerToken().call()) / WAD == rates[0]  # the chain's rate now
    reserve = pool.functions.getReserveData(wst).call()
    n = len(times)
    return [Series("lst:wstETH", times, {"rate": rates}),
            Series("aave:wstETH", times, {
                "liquidity_index": [D(pool.functions.getReserveNormalizedIncome(wst).call()).scaleb(-27)] * n,
                "variable_borrow_index": [D(pool.functions.getReserveNormalizedVariableDebt(wst).call())
                                          .scaleb(-27)] * n,
                "liquidity_rate": [D(reserve[2]).scaleb(-27)] * n,
                "variable_borrow_rate": [D(reserve[4]).scaleb(-27)] * n,
                "price": [eth_usd * r for r in rates]})]


@pytest.fixture(scope="module")
def market(chain: dict[str, Any]) -> DataProvider:
    """The synthetic market's ETH path (spot, Binance mark, funding, oracle) and the chain's rates."""
    syn = synthetic_market(hours=24, start=START, seed=5)
    times = [to_ns(START) + h * HOUR for h in range(24)]
    eth_usd = syn.series("oracle:ETH/USD").columns["price"][0]
    return DataProvider([*(syn.series(n) for n in BINANCE), *chain_series(chain, times, eth_usd)])


@pytest.fixture
def emu() -> Iterator[BinanceEmulator]:
    with BinanceEmulator(KEY, SECRET, spot_balances={}, futures_balances={"USDT": MARGIN},
                         prices={"ETHUSDT": D(1), "BTCUSDT": D(60_000)}) as e:
        yield e


def test_staked_basis_live_on_anvil_and_the_emulator_ends_with_the_backtests_positions(
        chain: dict[str, Any], market: DataProvider, emu: BinanceEmulator, tmp_path: Path) -> None:
    sc = load_scenario(SCENARIO)
    sc = sc.model_copy(update={"period": sc.period.model_copy(
        update={"end": sc.period.start + (STEPS - 1) * sc.period.step})})
    bt = run(sc, data_provider=market)
    expected = dict(bt.manager.ledger.balances)  # type: ignore[union-attr]

    replay = ReplayClock(START, speed=0)
    emu.attach_replay(market, clock=replay)
    waits: list[int] = []

    def tick(ts_ns: int) -> None:
        replay.seek(ts_ns)
        waits.append(ts_ns)
        if len(waits) == REWARD_STEP + 1:  # waiting for step REWARD_STEP: the oracle reports rewards
            lido = chain["lido"]
            wait_receipt(chain["w3"], lido.steth.functions.setTotalPooledEther(POOLED[1]).transact(
                {"from": chain["deployer"]}))

    onchain = {"rpc_url": chain["url"], "private_key": USER_KEY}
    cfg = {"retry_delay_seconds": 0, "venue_config": {
        "binance": {"api_key": KEY, "api_secret": SECRET, "base_url": emu.base_url, "enable_rate_limit": False,
                    "recv_window_ms": 1000, "clock_margin_ms": 200},
        "lido": {**onchain, "deployment_table": chain["lido"].deployment_table()},
        "aave": {**onchain, "deployment_table": chain["aave"].deployment_table()}}}
    result = Runner(sc, mode="live", state_dir=tmp_path, data_provider=market, steps=STEPS, record=False,
                    clock=ManualClock(to_ns(START), on_wait=tick), config=cfg).run()
    assert (result.status, result.steps, result.error, result.unhedged) == ("finished", STEPS, None, []), \
        result.events
    got = result.positions
    perp = "binance:perp:ETH/USDT:USDT"
    assert got["aave:supplied:wstETH"] == expected["aave:supplied:wstETH"] > 0  # the same stake, the same supply
    assert got[perp] == expected[perp] < 0  # the same hedge, re-sized on the reward report
    assert abs(expected[perp]) > ETH  # (the re-size happened: the short grew with the rate)
    assert emu.position("ETHUSDT").amount == got[perp]  # the venue's own book agrees
    wst = chain["aave"].a_tokens["wstETH"].functions.balanceOf(chain["user"]).call()
    assert D(wst).scaleb(-18) == got["aave:supplied:wstETH"]  # so does the chain
    costs = abs(bt.totals["slippage"]) + abs(bt.totals["trading_fees"])  # USD, the backtest's cost model
    assert abs(got["binance:futures:USDT"] - expected["binance:futures:USDT"]) <= costs
    gas_eth = D("0.01")  # a stake, an approval and a supply on anvil's gas price, with room
    assert 0 <= expected["ethereum:wallet:ETH"] - got["ethereum:wallet:ETH"] <= gas_eth
