"""The lido venue's backtest: staking / wrapping at the data's rate, stETH rebases, the withdrawal queue, real data.

Independent results: our deployed stETH / wstETH (Lido's ABI and share math) set to the same share rate and
queried with eth_call; closed forms in exact rational arithmetic; the wstETH oracle CSV read with ``csv``.
"""

from __future__ import annotations

import csv
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from basis_venue_lido.testing.deploy import LidoWorld
from basis_venue_lido.venue import LidoVenue
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from basis_core import ExecutionInterfaceManager
from basis_core.data import DataProvider
from basis_core.data.series import Series
from basis_core.errors import InstructionError
from basis_core.testing.contracts import wait_receipt

D = Decimal
F = Fraction
T0 = pd.Timestamp("2025-01-01T00:00:00Z")
ONE = 10**18
DATA = Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


def market(rates: list[tuple[pd.Timestamp, str]], eth_usd: str = "3000", gas: bool = False) -> DataProvider:
    series = [Series("lst:wstETH", [int(t.value) for t, _ in rates], {"rate": [D(r) for _, r in rates]}),
              Series("oracle:ETH/USD", [int(T0.value)], {"price": [D(eth_usd)]})]
    if gas:
        series.append(Series("gas", [int(T0.value)], {"gas_price_gwei": [D(20)], "base_fee_gwei": [D(19)],
                                                       "priority_fee_gwei": [D(1)]}))
    return DataProvider(series)


def manager(provider: DataProvider, balances: dict[str, str], **lido: Any) -> ExecutionInterfaceManager:
    return ExecutionInterfaceManager({"initial_balances": balances, "autoload": False,
                                      "venue_config": {"lido": lido}}, provider, "backtest", plugins=[LidoVenue])


def ex(m: ExecutionInterfaceManager, ts: Any, **ins: Any) -> Any:
    return m.execute(ts, {"venue": "lido", **ins})


# ---------------------------------------------------------------------------------------------- vs the contracts
SLOT_TOTAL_POOLED_ETHER, SLOT_TOTAL_SHARES = 0, 1


def _set_rate(world: LidoWorld, rate_wei: int) -> None:
    for slot, v in ((SLOT_TOTAL_POOLED_ETHER, rate_wei), (SLOT_TOTAL_SHARES, ONE)):
        resp = world.w3.provider.make_request("anvil_setStorageAt",
                                              [world.steth.address, hex(slot), "0x" + v.to_bytes(32, "big").hex()])
        assert "error" not in resp


def _call(world: LidoWorld, contract: Any, fn: str, args: list[Any], sender: str, value: int = 0) -> int:
    tx = {"to": contract.address, "data": contract.encode_abi(fn, args=args), "from": sender}
    if value:
        tx["value"] = hex(value)
    resp = world.w3.provider.make_request("eth_call", [tx, "latest"])
    assert "error" not in resp, resp
    return int(resp["result"][2:66], 16)


@pytest.mark.chain
def test_backtest_amounts_equal_the_contracts_at_the_same_rate(lido_world: LidoWorld, chain: Any) -> None:
    """At a share rate r (stETH per wstETH = the data's rate), the backtest's stake (ETH -> wstETH), wrap and unwrap
    amounts equal what the deployed WstETH returns (eth_call), and submit's shares equal the backtest's."""
    world = lido_world
    w3 = world.w3
    # an account of this test's own (impersonated): anvil's funded accounts are shared by every test on the session
    # chain, and another test's transaction left pending from one of them would hold this test's approve behind it
    user = w3.to_checksum_address("0x1d0000000000000000000000000000000000f00d")
    for method, params in (("anvil_impersonateAccount", [user]), ("anvil_setBalance", [user, hex(2000 * ONE)])):
        assert "error" not in w3.provider.make_request(method, params)  # type: ignore[arg-type]
    # the user holds stETH and has approved wstETH (for wrap) and holds wstETH (for unwrap)
    # each mined before the next (a receipt, not just a hash): the calls below read the state they leave
    wait_receipt(w3, world.steth.functions.submit(user).transact({"from": user, "value": 500 * ONE}))
    wait_receipt(w3, w3.eth.send_transaction({"from": user, "to": world.wsteth.address, "value": 500 * ONE}))
    wait_receipt(w3, world.steth.functions.approve(world.wsteth.address, 2**256 - 1).transact({"from": user}))

    @settings(max_examples=25, deadline=None, derandomize=True,
              suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
    @given(rate_wei=st.integers(10**18, 2 * 10**18), eth=st.integers(10**6, 100 * ONE))
    def run(rate_wei: int, eth: int) -> None:
        _set_rate(world, rate_wei)
        rate = D(rate_wei).scaleb(-18)
        m = manager(market([(T0, str(rate))]), {"ethereum:wallet:ETH": "1000", "ethereum:wallet:stETH": "1000",
                                                "ethereum:wallet:wstETH": "1000"})
        amount = str(D(eth).scaleb(-18))
        d = ex(m, T0, operation="stake", asset="ETH", amount=amount, receive="wstETH")
        assert d.positions["ethereum:wallet:wstETH"] == D(_call(world, world.steth, "submit", [user], user, eth)
                                                          ).scaleb(-18)
        d = ex(m, T0, operation="stake", asset="stETH", amount=amount, receive="wstETH")
        assert d.positions["ethereum:wallet:wstETH"] == D(_call(world, world.wsteth, "wrap", [eth], user)).scaleb(-18)
        d = ex(m, T0, operation="unstake", action="unwrap", asset="wstETH", amount=amount)
        assert d.positions["ethereum:wallet:stETH"] == D(_call(world, world.wsteth, "unwrap", [eth], user)).scaleb(-18)

    run()


# ---------------------------------------------------------------------------------------------- rebase, queue
def test_steth_rebases_with_the_rate_and_wsteth_does_not() -> None:
    t1 = T0 + pd.Timedelta("1D")
    m = manager(market([(T0, "1.2"), (t1, "1.2003")]), {"ethereum:wallet:ETH": "20"})
    ex(m, T0, operation="stake", asset="ETH", amount="10", receive="stETH")
    ex(m, T0, operation="stake", asset="ETH", amount="6", receive="wstETH")
    st0 = m.ledger.balance("ethereum:wallet:stETH")  # type: ignore[union-attr]
    wst0 = m.ledger.balance("ethereum:wallet:wstETH")  # type: ignore[union-attr]
    assert wst0 == D(6 * ONE * ONE // (12 * 10**17)).scaleb(-18)  # 5 wstETH
    effects = m.advance_to(t1)
    st1 = m.ledger.balance("ethereum:wallet:stETH")  # type: ignore[union-attr]
    assert abs(F(st1) - F(st0) * F("1.2003") / F("1.2")) <= F(1, ONE)
    assert m.ledger.balance("ethereum:wallet:wstETH") == wst0  # type: ignore[union-attr]
    (reb,) = effects
    assert reb.pnl["staking_yield"] == (st1 - st0) * 3000


def test_withdrawal_queue_delay_and_claim() -> None:
    """Claimable only after the configured delay (typed error naming the request before); pays min(requested,
    shares x the rate at finalisation) ETH."""
    t_half, t_ready = T0 + pd.Timedelta("6h"), T0 + pd.Timedelta("12h")
    m = manager(market([(T0, "1.2"), (t_half, "1.19")]), {"ethereum:wallet:stETH": "100",
                                                             "ethereum:wallet:wstETH": "10"}, withdrawal_delay="12h")
    a = ex(m, T0, operation="unstake", action="request", asset="stETH", amount="30")
    b = ex(m, T0, operation="unstake", action="request", asset="wstETH", amount="10")
    ra, rb = a.details["request_id"], b.details["request_id"]
    assert (ra, rb) == ("1", "2") and a.status == "requested"
    assert b.positions["lido:withdrawal:2"] == D(12)  # 10 wstETH x 1.2
    for ts in (T0, t_half):
        m.advance_to(ts)  # (the rebase of the remaining stETH happens here, not in the refused claim)
        before = m.ledger.balances  # type: ignore[union-attr]
        with pytest.raises(InstructionError) as info:
            ex(m, ts, operation="unstake", action="claim", request_id=ra)
        assert info.value.field == "request_id" and "request 1" in str(info.value)
        assert m.ledger.balances == before  # type: ignore[union-attr]
    m.advance_to(t_ready)
    ca = ex(m, t_ready, operation="unstake", action="claim", request_id=ra)
    # a loss between request and finalisation is borne: 30 stETH = 25 shares at 1.2, worth 25 x 1.19 at the end
    assert ca.positions["ethereum:wallet:ETH"] == D("29.75") and ca.positions["lido:withdrawal:1"] == -30
    cb = ex(m, t_ready, operation="unstake", action="claim", request_id=rb)
    assert cb.positions["ethereum:wallet:ETH"] == D("11.9")
    with pytest.raises(InstructionError):
        ex(m, t_ready, operation="unstake", action="claim", request_id=ra)
    assert not [k for k in m.ledger.balances if k.startswith("lido:")]  # type: ignore[union-attr]


def test_rewards_after_a_request_are_not_paid() -> None:
    t1 = T0 + pd.Timedelta("4D")
    m = manager(market([(T0, "1.2"), (t1, "1.3")]), {"ethereum:wallet:stETH": "12"})
    r = ex(m, T0, operation="unstake", action="request", asset="stETH", amount="12")
    m.advance_to(t1)
    bal = m.get_balances(t1, "lido")
    assert bal["lido:metric:claimable:1"] == 1
    assert bal["lido:metric:value_usd:withdrawal:1"] == 12 * 3000  # capped at the requested amount
    c = ex(m, t1, operation="unstake", action="claim", request_id=r.details["request_id"])
    assert c.positions["ethereum:wallet:ETH"] == 12


def test_stake_weth_equals_stake_eth_and_refusals() -> None:
    m = manager(market([(T0, "1.17")], gas=True), {"ethereum:wallet:ETH": "10", "ethereum:wallet:WETH": "10"})
    a = ex(m, T0, operation="stake", asset="ETH", amount="3", receive="wstETH")
    b = ex(m, T0, operation="stake", asset="WETH", amount="3", receive="wstETH")
    assert a.positions["ethereum:wallet:wstETH"] == b.positions["ethereum:wallet:wstETH"]
    assert b.positions["ethereum:wallet:WETH"] == -3
    assert b.fees["ethereum:wallet:ETH"] < a.fees["ethereum:wallet:ETH"] < 0  # the unwrap costs gas too
    before = m.ledger.balances  # type: ignore[union-attr]
    for ins, field in [({"operation": "unstake", "action": "request", "asset": "stETH", "amount": "1001"}, "amount"),
                       ({"operation": "stake", "asset": "stETH", "amount": "1"}, "receive"),
                       ({"operation": "stake", "asset": "USDC", "amount": "1"}, "asset"),
                       ({"operation": "unstake", "action": "unwrap", "asset": "stETH", "amount": "1"}, "asset")]:
        with pytest.raises(InstructionError) as info:
            ex(m, T0, **ins)
        assert info.value.field == field
    assert m.ledger.balances == before  # type: ignore[union-attr]


# ---------------------------------------------------------------------------------------------- real data
def test_real_data_wsteth_eth_value_follows_the_oracle_rate() -> None:
    """ETH staked into wstETH on 2024-06-01 is worth (ETH / rate then) x rate(2025-01-01) ETH on 2025-01-01; stETH
    staked the same day rebases to the same value (rates: the last oracle rows at or before, read with csv)."""
    path = next(DATA.glob("wstETH_ETH_oracle_*.csv"), None)
    if path is None:
        pytest.skip(f"real data not available ({DATA})")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(line for line in f if not line.startswith("#")))

    def as_of(ts: pd.Timestamp) -> Fraction:
        best = None
        for r in rows:
            if pd.Timestamp(r["timestamp"]) <= ts:
                best = r
        assert best is not None
        return F(best["oracle_price_eth"])

    from basis_core.data.loaders import load_oracle

    start, end = pd.Timestamp("2024-06-01T00:00:00Z"), pd.Timestamp("2025-01-01T00:00:00Z")
    provider = DataProvider([load_oracle(path, "lst:wstETH", "rate"),
                             Series("oracle:ETH/USD", [int(start.value)], {"price": [D(3000)]})])
    m = manager(provider, {"ethereum:wallet:ETH": "200"})
    ex(m, start, operation="stake", asset="ETH", amount="100", receive="wstETH")
    ex(m, start, operation="stake", asset="ETH", amount="100", receive="stETH")
    for ts in pd.date_range(start, end, freq="1D")[1:]:
        m.advance_to(ts)
    r0, r1 = as_of(start), as_of(end)
    wst = F(m.ledger.balance("ethereum:wallet:wstETH"))  # type: ignore[union-attr]
    assert abs(wst * r1 - 100 * r1 / r0) < F(1, 10**15)
    steth = F(m.ledger.balance("ethereum:wallet:stETH"))  # type: ignore[union-attr]
    assert abs(steth - 100 * r1 / r0) < F(1, 10**14)  # a wei of rounding per daily rebase at most
