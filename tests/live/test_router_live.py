"""Routed swaps and swap bundles live, on anvil with the real contracts: Uniswap v2 / v3 (npm artifacts), our
StableSwap (Vyper; no deployable Curve artifact exists), Aave v3 (npm artifacts) and our executor contract
(``LoopExecutor.sol``, shipped by the Aave plugin), all on ONE set of tokens.

What is compared with what: every result's positions against the account's on-chain balance changes
(``balanceOf``, ``eth_getBalance``: gas included), the gas in the deltas against the receipts, the number of
transactions against the account's nonce, the bundle's gas against the same swaps sent one by one.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from basis_core import ExecutionInterfaceManager
from basis_core.errors import BasisError
from basis_core.testing.anvil import AnvilNode
from basis_core.testing.contracts import transact

pytest.importorskip("web3")

KEY = "0x" + "b7" * 32  # a test-only key funded below
D = Decimal
ZERO = "0x0000000000000000000000000000000000000000"
STABLE_SEED = 2_000_000  # whole DAI and USDC in the Curve pool and the v2 DAI/USDC pair each


@dataclass
class World:
    url: str
    w3: Any
    aave: Any
    uni: Any
    curve: Any
    user: str

    def token(self, sym: str) -> Any:
        return self.uni.tokens[sym]

    def balances(self) -> dict[str, int]:
        out = {s: int(self.token(s).functions.balanceOf(self.user).call()) for s in ("WETH", "USDC", "DAI")}
        out["ETH"] = int(self.w3.eth.get_balance(self.user))
        out["nonce"] = int(self.w3.eth.get_transaction_count(self.user))
        a = self.aave
        out["aUSDC"] = int(a.a_tokens["USDC"].functions.balanceOf(self.user).call())
        out["dWETH"] = int(a.variable_debt_tokens["WETH"].functions.balanceOf(self.user).call())
        return out


@pytest.fixture(scope="module")
def world(anvil: AnvilNode) -> World:
    return build_world(anvil.url)


def build_world(url: str) -> World:
    """Aave v3 (WETH, USDC) -> Uniswap v2 / v3 on Aave's WETH and USDC plus a DAI -> a v2 DAI/USDC pair and a
    Curve DAI/USDC pool; 1 WETH = 2000 USDC in the pools and the oracle; the user holds ETH, USDC, WETH, DAI.
    (Also used by bench/bench_router.py --anvil.)"""
    from basis_venue_aave.testing.deploy import deploy_aave_market
    from basis_venue_curve.testing.deploy import deploy_curve_pools, deploy_token
    from basis_venue_uniswap.testing.deploy import DEADLINE, deploy_uniswap
    from eth_account import Account
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(url, cache_allowed_requests=True))
    dep = w3.eth.accounts[0]
    aave = deploy_aave_market(w3, dep, ("WETH", "USDC"))
    aave.set_price("WETH", D(2000))
    dai = deploy_token(w3, dep, "DAI", 18)
    uni = deploy_uniswap(w3, dep, tokens={"WETH": aave.tokens["WETH"], "USDC": aave.tokens["USDC"], "DAI": dai})
    usdc = uni.tokens["USDC"]
    for tok, dec in ((usdc, 6), (dai, 18)):
        transact(w3, tok.get_function_by_signature("mint(address,uint256)")(dep, STABLE_SEED * 10**dec), sender=dep)
    transact(w3, uni.v2_router.functions.addLiquidity(dai.address, usdc.address, STABLE_SEED * 10**18,
                                                      STABLE_SEED * 10**6, 0, 0, dep, DEADLINE), sender=dep)
    uni.v2_pairs["DAI/USDC"] = w3.eth.contract(address=uni.v2_factory.functions.getPair(
        dai.address, usdc.address).call(), abi=uni.v2_pairs["WETH/USDC"].abi)
    curve = deploy_curve_pools(w3, dep, tokens={"DAI": dai, "USDC": usdc},
                               pools={"daiusdc": (("DAI", "USDC"), 200, 4_000_000, 5_000_000_000)},
                               seed_tokens=STABLE_SEED)
    user = str(Account.from_key(KEY).address)
    w3.eth.wait_for_transaction_receipt(w3.eth.send_transaction({"from": dep, "to": user, "value": 200 * 10**18}))
    for sym, whole in (("WETH", 100), ("USDC", 1_000_000), ("DAI", 1_000_000)):
        transact(w3, uni.tokens[sym].functions.transfer(user, whole * 10 ** uni.decimals[sym]), sender=dep)
    return World(url, w3, aave, uni, curve, user)


def live(world: World, extra_venues: dict[str, Any] | None = None, extra_plugins: tuple[Any, ...] = (),
         **router: Any) -> ExecutionInterfaceManager:
    """A live manager over uniswap, curve and aave (the executor), with our executor deployed for the user
    (``extra_venues`` / ``extra_plugins``: more venues, e.g. a CEX for a routed swap's CEX leg)."""
    from basis_venue_aave.venue import AaveVenue
    from basis_venue_curve.deployment import table_from_world
    from basis_venue_curve.venue import CurveVenue
    from basis_venue_uniswap.venue import UniswapVenue

    common = {"rpc_url": world.url, "private_key": KEY, "receipt_poll_interval": 0.002}
    uni_table = world.uni.deployment_table()
    uni_table["v2_pairs"]["DAI/USDC"] = str(world.uni.v2_pairs["DAI/USDC"].address)
    cfg = {"execution_mode": "live", "autoload": False, "venue_config": {
        "uniswap": {**common, "deployment_table": uni_table, "approval_mode": "unlimited"},
        "curve": {**common, "deployment_table": table_from_world(world.curve), "eth_usd": "2000",
                  "approval_mode": "unlimited"},
        "aave": {**common, "deployment_table": world.aave.deployment_table()},
        "auto": {"executor": "aave", **router}, **(extra_venues or {})}}
    m = ExecutionInterfaceManager(cfg, plugins=[UniswapVenue, CurveVenue, AaveVenue, *extra_plugins])
    m.venue("aave").backend.deploy_executor(ZERO, ZERO)
    return m


def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC")


def receipts_gas(world: World, hashes: list[str]) -> tuple[int, int]:
    """(sum of gasUsed, sum of gasUsed x effectiveGasPrice) of transactions."""
    rs = [world.w3.eth.get_transaction_receipt(h) for h in hashes]
    return sum(int(r["gasUsed"]) for r in rs), sum(int(r["gasUsed"]) * int(r["effectiveGasPrice"]) for r in rs)


def assert_matches_chain(world: World, d: Any, before: dict[str, int], after: dict[str, int]) -> None:
    """Every wallet key of the deltas equals the chain's change, and no token moved that the deltas omit."""
    dec = {"WETH": 18, "USDC": 6, "DAI": 18, "ETH": 18}
    for sym, n in dec.items():
        assert d.positions.get(f"ethereum:wallet:{sym}", D(0)) == D(after[sym] - before[sym]).scaleb(-n), sym


def routed(amount: str, token_out: str = "WETH", **extra: Any) -> dict[str, Any]:
    return {"operation": "swap", "venue": "auto", "token_in": "USDC", "token_out": token_out, "amount_in": amount,
            **extra}


def test_routed_split_runs_as_one_transaction_and_its_deltas_are_the_chains(world: World, chain: AnvilNode) -> None:
    m = live(world)
    first = m.execute(now(), routed("1000"))  # the one-time approval of USDC to the executor, then one tx
    assert len(first.details["tx_hashes"]) == 2
    quote = m.quote(now(), routed("60000"))
    assert len(quote.details["legs"]) >= 2  # the v2 pair and the v3 tiers share the trade
    before = world.balances()
    d = m.execute(now(), routed("60000"))
    after = world.balances()
    assert after["nonce"] - before["nonce"] == 1  # one transaction, no approval: it was given once
    assert_matches_chain(world, d, before, after)
    assert {leg["pool"] for leg in d.details["legs"]} == {leg["pool"] for leg in quote.details["legs"]}
    # on a quiet chain each leg fills exactly as quoted (QuoterV2 and the v2 formula on the same state)
    assert d.details["amount_out"] == quote.details["amount_out"] == sum(leg["amount_out"] for leg in d.details["legs"])
    gas_used, wei = receipts_gas(world, d.details["tx_hashes"])
    assert d.details["gas_used"] == gas_used
    assert d.positions["ethereum:wallet:ETH"] == -D(wei).scaleb(-18) == -d.details["gas_cost_eth"]
    assert d.details["output_gain"] > 0
    assert d.details["best_single"]["pool"] in {leg["pool"] for leg in d.details["legs"]}


def test_routed_stable_swap_uses_curve_and_uniswap_in_one_transaction(world: World, chain: AnvilNode) -> None:
    m = live(world)
    m.execute(now(), routed("1000", "DAI"))  # approvals once
    before = world.balances()
    d = m.execute(now(), routed("800000", "DAI"))
    after = world.balances()
    assert {leg["venue"] for leg in d.details["legs"]} == {"curve", "uniswap"}
    assert after["nonce"] - before["nonce"] == 1
    assert_matches_chain(world, d, before, after)


def batching_gas(world: World, node: AnvilNode, amount: str = "60000") -> tuple[int, int, int]:
    """(legs, gas of the legs sent one by one, gas of the same legs as one executor bundle) of a routed split of
    ``amount`` USDC -> WETH, both from the same chain state; every approval (owner -> executor, executor -> each
    router, owner -> each router) given before both, so only the swaps are measured. The chain is left as the
    one-by-one swaps leave it."""
    m = live(world)
    legs = m.quote(now(), routed(amount)).details["legs"]

    def swap(leg: dict[str, Any], amount: str) -> dict[str, Any]:
        return {"operation": "swap", "venue": leg["venue"], "pool": leg["pool"], "token_in": "USDC",
                "token_out": "WETH", "amount_in": amount}

    def bundle(amounts: list[str]) -> dict[str, Any]:
        steps = [swap(leg, a) for leg, a in zip(legs, amounts, strict=True)]
        return {"operation": "atomic", "venue": "aave", "steps": steps}

    m.execute(now(), bundle(["10"] * len(legs)))  # approvals once per token and spender
    for leg in legs:
        m.execute(now(), swap(leg, "10"))
    snap = node.snapshot()
    before = world.balances()
    batched = m.execute(now(), bundle([str(leg["amount_in"]) for leg in legs]))
    assert world.balances()["nonce"] - before["nonce"] == 1
    batched_gas = receipts_gas(world, batched.details["tx_hashes"])[0]
    node.revert(snap)
    single_gas = 0
    for leg in legs:
        d = m.execute(now(), swap(leg, str(leg["amount_in"])))
        assert d.details["approval_tx_hashes"] == []
        single_gas += receipts_gas(world, [d.details["tx_hash"]])[0]
    assert world.balances()["nonce"] - before["nonce"] == len(legs)
    return len(legs), single_gas, batched_gas


def test_a_bundle_costs_less_gas_than_its_swaps_one_by_one(world: World, chain: AnvilNode) -> None:
    """A routed split's legs cost less gas as one executor transaction than as separate swaps (bench_router.py
    --anvil prints the figures)."""
    legs, single_gas, batched_gas = batching_gas(world, chain)
    assert legs >= 2
    assert batched_gas < single_gas


def _flash_bundle(swap_out: Decimal, borrow: str, swap_min: Decimal | None = None) -> dict[str, Any]:
    lo = swap_out if swap_min is None else swap_min
    return {"operation": "atomic", "venue": "aave", "flash_loan": {"venue": "aave", "asset": "WETH", "amount": "10"},
            "steps": [
                {"operation": "swap", "venue": "uniswap", "pool": "v3:WETH/USDC:500", "token_in": "WETH",
                 "token_out": "USDC", "amount_in": "10", "min_amount_out": str(lo)},
                {"operation": "supply", "venue": "aave", "asset": "USDC", "amount": str(swap_out)},
                {"operation": "borrow", "venue": "aave", "asset": "WETH", "amount": borrow}],
            "min_health_factor": "1.05"}


def test_flash_loan_swap_supply_borrow_lands_whole_in_one_transaction(world: World, chain: AnvilNode) -> None:
    """Flash-borrow 10 WETH from Aave, swap it for USDC on Uniswap v3, supply the USDC, borrow 10.005 WETH (the
    loan plus Aave's 5 bps premium) to repay: one transaction, deltas equal to the chain's changes."""
    m = live(world)
    m.execute(now(), {"operation": "supply", "venue": "aave", "asset": "USDC", "amount": "30000"})  # equity
    q = m.quote(now(), {"operation": "swap", "venue": "uniswap", "pool": "v3:WETH/USDC:500", "token_in": "WETH",
                        "token_out": "USDC", "amount_in": "10"}).details["amount_out"]
    from basis_core.instructions import parse_instruction

    m.venue("aave").backend.prepare_atomic(parse_instruction(_flash_bundle(q, "10.005")))  # one-time set-up
    before = world.balances()
    d = m.execute(now(), _flash_bundle(q, "10.005"))
    after = world.balances()
    assert after["nonce"] - before["nonce"] == 1
    assert_matches_chain(world, d, before, after)
    assert after["WETH"] == before["WETH"]  # the flash loan was repaid by the borrow, nothing left over
    assert after["dWETH"] - before["dWETH"] == 10_005 * 10**15
    assert d.positions["aave:debt:WETH"] == D("10.005")
    assert d.positions["aave:supplied:USDC"] == D(after["aUSDC"] - before["aUSDC"]).scaleb(-6) == q
    gas_used, _ = receipts_gas(world, d.details["tx_hashes"])
    assert d.details["gas_used"] == gas_used


def test_a_failing_swap_bundle_changes_nothing(world: World, chain: AnvilNode) -> None:
    """The swap inside the flash loan cannot pay its minimum (one unit above the exact quote): Uniswap reverts, so
    the whole transaction does (refused at the gas estimate: nothing is sent); no balance, position or nonce
    changes."""
    m = live(world)
    m.execute(now(), {"operation": "supply", "venue": "aave", "asset": "USDC", "amount": "30000"})
    q = m.quote(now(), {"operation": "swap", "venue": "uniswap", "pool": "v3:WETH/USDC:500", "token_in": "WETH",
                        "token_out": "USDC", "amount_in": "10"}).details["amount_out"]
    from basis_core.instructions import parse_instruction

    bad = _flash_bundle(q, "10.005", swap_min=q + D("0.000001"))
    m.venue("aave").backend.prepare_atomic(parse_instruction(bad))
    before = world.balances()
    with pytest.raises(BasisError, match="Too little received"):
        m.execute(now(), bad)
    assert world.balances() == before


def test_encode_call_is_the_hook_executors_use(world: World, chain: AnvilNode) -> None:
    """A venue's ``encode_call`` answer (through the core) pays its output to the given recipient."""
    from basis_core.instructions import Swap

    m = live(world)
    step = Swap(venue="uniswap", token_in="USDC", token_out="WETH", amount_in=D(1000), pool="v2:WETH/USDC",
                min_amount_out=D("0.4"))
    call = m.context.encode_call(now(), step, world.user)
    assert call.amount_in == 1000 * 10**6 and call.min_out == 4 * 10**17
    assert call.target == world.uni.v2_router.address
    # swapExactTokensForTokens(uint256,uint256,address[],address,uint256)
    assert bytes(call.data[:4]).hex() == "38ed1739"
    assert world.user[2:].lower() in call.data.hex()
    assert m.context.encode_call(now(), step.model_copy(update={"venue": "aave"}), world.user) is None


# -- a CEX leg (allow_cex): a separate order on the Binance emulator after the chain's transaction ------------------
CEX_KEY, CEX_SECRET = "router-cex-key-0a1b2c3d", "router-cex-SECRET-4e5f6a7b8c9d0e1f"


@pytest.fixture
def cex() -> Any:
    """The Binance emulator listing ETH/USDC (Binance lists it; the plugin's default spec does not) at 1990 USDC,
    cheaper than the world's pools (2000), holding 20,000 USDC of the user's on its spot account."""
    from basis_venue_binance.testing.emulator import DEFAULT_SPOT_SYMBOLS, BinanceEmulator, SymbolSpec

    usdc = SymbolSpec("ETHUSDC", "ETH", "USDC", D("0.01"), D("0.0001"), D(5), D("0.0001"))
    emu = BinanceEmulator(CEX_KEY, CEX_SECRET, spot_balances={"USDC": D(20_000)}, prices={"ETHUSDC": D(1990)},
                          spot_symbols=(*DEFAULT_SPOT_SYMBOLS, usdc))
    emu.start()
    try:
        yield emu
    finally:
        emu.stop()


def live_with_cex(world: World, emu: Any) -> ExecutionInterfaceManager:
    from dataclasses import replace

    from basis_venue_binance.spec import BINANCE_SPEC
    from basis_venue_binance.venue import BinanceVenue

    from basis_core.backtest.cex import spot

    class BinanceWithUsdc(BinanceVenue):
        default_spec = replace(BINANCE_SPEC, symbols=(*BINANCE_SPEC.symbols,
                                                      spot("ETH/USDC", tick="0.01", step="0.0001", min_notional="5")))

    venue = {"api_key": CEX_KEY, "api_secret": CEX_SECRET, "base_url": emu.base_url, "enable_rate_limit": False}
    return live(world, {"binance": venue}, (BinanceWithUsdc,))


def test_a_routed_swap_with_a_cex_leg_runs_the_chain_then_the_cex_order(world: World, chain: AnvilNode,
                                                                         cex: Any) -> None:
    m = live_with_cex(world, cex)
    m.execute(now(), routed("1000"))  # approvals once
    before, cex_before = world.balances(), cex.spot_balance("USDC")[0]
    d = m.execute(now(), routed("60000", allow_cex=["binance"], client_id="live-route-1"))
    after = world.balances()
    legs = [leg for leg in d.details["legs"] if leg.get("kind") == "cex"]
    assert d.client_id == "live-route-1" and d.details["cex_orders"][0]["status"] == "filled"
    assert len(legs) == 1 and legs[0]["symbol"] == "ETH/USDC"
    assert 0 < legs[0]["spent"] <= D(20_000)  # at most the venue's balance
    assert_matches_chain(world, d, before, after)  # the chain legs: the wallet's changes
    assert after["nonce"] - before["nonce"] == 1
    # the CEX leg: the emulator's balances moved by the deltas, and filled as quoted (the book's price)
    assert d.positions["binance:spot:USDC"] == cex.spot_balance("USDC")[0] - cex_before
    assert d.positions["binance:spot:ETH"] == cex.spot_balance("ETH")[0] == legs[0]["amount_out"]
    assert d.details["cex_orders"][0]["price"] == D(1990)
    assert d.details["amount_out"] == d.positions["ethereum:wallet:WETH"] + d.positions["binance:spot:ETH"]


def test_a_failed_cex_leg_after_the_chain_is_reported_with_what_did_execute(world: World, chain: AnvilNode,
                                                                             cex: Any) -> None:
    from basis_core.errors import PartialRouteError
    from basis_core.testing.http_emulator import Fault

    m = live_with_cex(world, cex)
    m.execute(now(), routed("1000"))  # approvals once
    before = world.balances()
    cex.faults.inject("POST /api/v3/order", Fault("venue_error", status=400, payload={
        "code": -2010, "msg": "Account has insufficient balance for requested action."}))
    with pytest.raises(PartialRouteError) as info:
        m.execute(now(), routed("60000", allow_cex=["binance"]))
    after = world.balances()
    err = info.value
    assert err.field == "allow_cex.0" and "ETH/USDC" in err.reason
    assert err.deltas.status == "partially_filled"
    assert_matches_chain(world, err.deltas, before, after)  # the chain's transaction landed: reported as is
    assert "binance:spot:USDC" not in err.deltas.positions
    assert cex.spot_balance("USDC")[0] == D(20_000) and cex.spot_balance("ETH")[0] == 0  # nothing on the CEX
    assert [leg["symbol"] for leg in err.failed_legs] == ["ETH/USDC"]
