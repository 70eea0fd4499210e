"""basis_venue_aave.math against independent results: the deployed Aave v3 contracts (v3.0.2 from npm
``@aave/core-v3``) on anvil, and exact closed-form boundary checks of the pure helpers."""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from basis_venue_aave import math as am
from basis_venue_aave.params import EMODE_ETH_CORRELATED, RESERVES
from basis_venue_aave.testing.deploy import DEFAULT_PRICES_USD, AaveWorld, artifact
from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_utils import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.exceptions import ContractLogicError
from web3.logs import DISCARD

from basis_core.testing.anvil import AnvilNode
from basis_core.testing.contracts import deploy, transact

ASSETS = ("WETH", "wstETH", "weETH", "USDC", "USDT")
ETH_LIKE = ("WETH", "wstETH", "weETH")
MAX_UINT = 2**256 - 1


# ------------------------------------------------------------------------------------------------
# helpers
# ------------------------------------------------------------------------------------------------


def revert_reason(call: Callable[[], Any]) -> str | None:
    """Run an eth_call; return Aave's error string if it reverts, None if it succeeds."""
    try:
        call()
    except ContractLogicError as e:
        msg = str(e.message)
        return msg.removeprefix("execution reverted: ").removeprefix("execution reverted")
    return None


def mine_at(node: AnvilNode, timestamp: int) -> None:
    """Mine one empty block at exactly ``timestamp``."""
    node.rpc("evm_setNextBlockTimestamp", [timestamp])
    node.rpc("evm_mine")


def latest(w: AaveWorld) -> tuple[int, int]:
    blk = w.w3.eth.get_block("latest")
    return int(blk["number"]), int(blk["timestamp"])


def reserve_state(w: AaveWorld, sym: str, block: int) -> dict[str, int]:
    r = w.data_provider.functions.getReserveData(w.tokens[sym].address).call(block_identifier=block)
    keys = ("unbacked", "accrued_to_treasury", "total_atoken", "total_stable_debt", "total_variable_debt",
            "liquidity_rate", "variable_rate", "stable_rate", "avg_stable_rate", "liquidity_index",
            "variable_index", "last_update")
    return dict(zip(keys, (int(x) for x in r), strict=True))


class Reader:
    """Batched ``eth_call``s in one JSON-RPC request, encoded with eth_abi (a web3 call costs ~5 ms)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def calls(
        self, block: int | str, items: list[tuple[str, str, list[Any], list[str]]], allow_revert: bool = False
    ) -> list[tuple[Any, ...] | None]:
        """``items``: (address, "fn(type,...)", args, output types); results in order (None: reverted,
        only with ``allow_revert``)."""
        payload = []
        for i, (to, sig, args, _out) in enumerate(items):
            arg_types = sig[sig.index("(") + 1 : -1]
            data = keccak(text=sig)[:4] + abi_encode(arg_types.split(",") if arg_types else [], args)
            payload.append({"jsonrpc": "2.0", "id": i, "method": "eth_call",
                            "params": [{"to": to, "data": "0x" + data.hex()},
                                       hex(block) if isinstance(block, int) else block]})
        headers = {"Content-Type": "application/json"}
        req = urllib.request.Request(self.url, json.dumps(payload).encode(), headers)
        with urllib.request.urlopen(req, timeout=30) as resp:
            answers = sorted(json.loads(resp.read()), key=lambda a: a["id"])
        out: list[tuple[Any, ...] | None] = []
        for (_to, sig, _args, out_types), ans in zip(items, answers, strict=True):
            if "error" in ans:
                assert allow_revert and "revert" in ans["error"]["message"], (sig, ans)
                out.append(None)
            else:
                out.append(tuple(abi_decode(out_types, bytes.fromhex(ans["result"][2:]))))
        return out


_RESERVE_DATA = ["uint256"] * 11 + ["uint40"]
_USER_RESERVE = ["uint256"] * 7 + ["uint40", "bool"]


@dataclass
class UserView:
    """A user's state read from chain at one block, and the positions the math derives from it."""

    positions: dict[str, am.AssetPosition]
    account: tuple[int, ...]
    emode: int
    collateral_flags: dict[str, bool]
    prices: dict[str, int]


def read_user(w: AaveWorld, user: str, collateral: set[str]) -> UserView:
    """Read raw state at the latest block; build each AssetPosition with the math (scaled balance x
    accrued index at the block's timestamp) and check it against the tokens' own ``balanceOf``."""
    block, ts = latest(w)
    items: list[tuple[str, str, list[Any], list[str]]] = []
    for sym in ASSETS:
        t = w.tokens[sym].address
        a, v = w.a_tokens[sym].address, w.variable_debt_tokens[sym].address
        items += [
            (w.data_provider.address, "getReserveData(address)", [t], _RESERVE_DATA),
            (a, "scaledBalanceOf(address)", [user], ["uint256"]),
            (v, "scaledBalanceOf(address)", [user], ["uint256"]),
            (a, "balanceOf(address)", [user], ["uint256"]),
            (v, "balanceOf(address)", [user], ["uint256"]),
            (w.oracle.address, "getAssetPrice(address)", [t], ["uint256"]),
            (w.data_provider.address, "getUserReserveData(address,address)", [t, user], _USER_RESERVE),
        ]
    items += [
        (w.pool.address, "getUserAccountData(address)", [user], ["uint256"] * 6),
        (w.pool.address, "getUserEMode(address)", [user], ["uint256"]),
    ]
    res: list[Any] = w_reader(w).calls(block, items)
    positions, flags, prices = {}, {}, {}
    for i, sym in enumerate(ASSETS):
        rd, (scaled_a,), (scaled_d,), (bal_a,), (bal_d,), (price,), urd = res[7 * i : 7 * i + 7]
        income = am.normalized_income(rd[9], rd[5], rd[11], ts)
        debt_index = am.normalized_debt(rd[10], rd[6], rd[11], ts)
        coll = am.balance_of_scaled(scaled_a, income)
        debt = am.balance_of_scaled(scaled_d, debt_index)
        assert (coll, debt) == (bal_a, bal_d)
        r = RESERVES[sym]
        positions[sym] = am.AssetPosition(
            price=price,
            decimals=r.decimals,
            ltv=r.ltv,
            liquidation_threshold=r.liquidation_threshold,
            collateral_balance=coll,
            debt_balance=debt,
            use_as_collateral=sym in collateral,
            emode_category=r.emode_category,
        )
        flags[sym] = urd[8]
        prices[sym] = price
    return UserView(positions, res[-2], res[-1][0], flags, prices)


_READERS: dict[str, Reader] = {}


def w_reader(w: AaveWorld) -> Reader:
    url = str(w.w3.provider.endpoint_uri)
    return _READERS.setdefault(url, Reader(url))


def account_from_chain(w: AaveWorld, user: str, block: int) -> tuple[int, ...]:
    return tuple(int(x) for x in w.pool.functions.getUserAccountData(user).call(block_identifier=block))


# ------------------------------------------------------------------------------------------------
# deployment
# ------------------------------------------------------------------------------------------------


@pytest.mark.chain
def test_market_configuration_matches_params(aave_world: AaveWorld, chain: AnvilNode) -> None:
    w = aave_world
    dp = w.data_provider
    for sym in ASSETS:
        r = RESERVES[sym]
        cfg = dp.functions.getReserveConfigurationData(w.tokens[sym].address).call()
        # decimals, ltv, lt, bonus, reserveFactor, collateral, borrowing, stable, active, frozen
        assert list(cfg) == [r.decimals, r.ltv, r.liquidation_threshold, r.liquidation_bonus,
                             r.reserve_factor, True, True, False, True, False]
        assert dp.functions.getFlashLoanEnabled(w.tokens[sym].address).call() is True
        assert w.tokens[sym].functions.decimals().call() == r.decimals
        assert dp.functions.getReserveEModeCategory(w.tokens[sym].address).call() == r.emode_category
        assert w.price(sym) == am.price_to_base(DEFAULT_PRICES_USD[sym])
        seeded = reserve_state(w, sym, latest(w)[0])["total_atoken"]
        assert seeded > 0
    cat = w.pool.functions.getEModeCategoryData(1).call()
    assert tuple(cat) == (9300, 9500, 10100, "0x0000000000000000000000000000000000000000", "ETH correlated")
    assert w.pool.functions.FLASHLOAN_PREMIUM_TOTAL().call() == 5
    table = w.deployment_table()
    for key in ("Pool", "PoolDataProvider", "Oracle", "PoolConfigurator", *ASSETS):
        assert w.w3.eth.get_code(table[key]) != b""


# ------------------------------------------------------------------------------------------------
# WadRayMath against the package's WadRayMathWrapper; rate strategy against the deployed strategy
# ------------------------------------------------------------------------------------------------

_U256 = st.integers(0, MAX_UINT)
_SMALL = st.integers(0, 10**40)
_W2R = MAX_UINT // am.WAD_RAY_RATIO  # wadToRay overflows above this
# rayToWad's rounding edge: remainders around half of 1e9
_HALF_RATIO = st.builds(lambda k, d: k * am.WAD_RAY_RATIO + am.WAD_RAY_RATIO // 2 + d,
                        st.integers(0, 2**200), st.integers(-1, 1))


@st.composite
def _mul_operands(draw: st.DrawFn, half: int) -> tuple[int, int]:
    """Pairs around the overflow limit ``a <= (MAX - half) / b`` as well as ordinary values."""
    b = draw(st.one_of(st.integers(0, 3), _SMALL, _U256))
    kind = draw(st.integers(0, 2))
    if kind == 0 or b == 0:
        return draw(st.one_of(_SMALL, _U256)), b
    limit = (MAX_UINT - half) // b
    return max(0, limit + draw(st.integers(-2, 2))), b


@st.composite
def _div_operands(draw: st.DrawFn, unit: int) -> tuple[int, int]:
    """Pairs around the overflow limit ``a <= (MAX - b/2) / unit`` and ordinary values (b may be 0)."""
    b = draw(st.one_of(st.integers(0, 3), _SMALL, _U256))
    if draw(st.booleans()):
        return draw(st.one_of(_SMALL, _U256)), b
    limit = (MAX_UINT - b // 2) // unit
    return max(0, limit + draw(st.integers(-2, 2))), b


def _py(fn: Callable[..., int], *args: int) -> int | None:
    """The Python result, or None where the contract reverts (overflow / division by zero)."""
    try:
        return fn(*args)
    except (OverflowError, ZeroDivisionError):
        return None


@pytest.mark.chain
def test_wad_ray_math_matches_contract(aave_world: AaveWorld, chain: AnvilNode) -> None:
    """Each function == the package's WadRayMathWrapper, reverts included (Python raises there)."""
    w = aave_world
    addr = deploy(w.w3, artifact("WadRayMathWrapper"), sender=w.deployer).address
    reader = w_reader(w)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(_mul_operands(am.HALF_WAD), _mul_operands(am.HALF_RAY), _div_operands(am.WAD),
           _div_operands(am.RAY), st.one_of(_U256, _HALF_RATIO), st.one_of(_U256, st.integers(_W2R - 2, _W2R + 2)))
    def check(wm: tuple[int, int], rm: tuple[int, int], wd: tuple[int, int], rd: tuple[int, int],
              x: int, y: int) -> None:
        cases: list[tuple[str, Callable[..., int], list[int]]] = [
            ("wadMul(uint256,uint256)", am.wad_mul, list(wm)),
            ("rayMul(uint256,uint256)", am.ray_mul, list(rm)),
            ("wadDiv(uint256,uint256)", am.wad_div, list(wd)),
            ("rayDiv(uint256,uint256)", am.ray_div, list(rd)),
            ("rayToWad(uint256)", am.ray_to_wad, [x]),
            ("wadToRay(uint256)", am.wad_to_ray, [y]),
        ]
        res = reader.calls("latest", [(addr, sig, args, ["uint256"]) for sig, _f, args in cases],
                           allow_revert=True)
        for (sig, fn, args), got in zip(cases, res, strict=True):
            assert _py(fn, *args) == (None if got is None else got[0]), (sig, args)

    check()


@pytest.mark.chain
def test_interest_rate_strategy_matches_contract(aave_world: AaveWorld, chain: AnvilNode) -> None:
    """calculate_interest_rates == DefaultReserveInterestRateStrategy.calculateInterestRates (eth_call)."""
    w = aave_world
    empty = "0x000000000000000000000000000000000000dEaD"  # holds no tokens: liquidity = liquidityAdded

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(ASSETS), st.integers(0, 10**30), st.integers(0, 10**30), st.integers(0, 10_000))
    def check(sym: str, liquidity: int, debt: int, reserve_factor: int) -> None:
        params = (0, liquidity, 0, 0, debt, 0, reserve_factor, w.tokens[sym].address, empty)
        liq, _stable, var = w.rate_strategies[sym].functions.calculateInterestRates(params).call()
        assert am.calculate_interest_rates(w.rate_params[sym], liquidity, debt, reserve_factor) == (liq, var)

    check()


# ------------------------------------------------------------------------------------------------
# interest: indices and balances after time passes
# ------------------------------------------------------------------------------------------------


@pytest.mark.chain
def test_interest_accrual_matches_chain(aave_world: AaveWorld, chain: AnvilNode) -> None:
    """aToken / variable-debt balances after N seconds == linear / compounded accrual from the
    reserve's rates and indices read before; stored indices after the next action == the same accrual;
    rates after the action == the strategy formula; scaled mints == rayDiv(amount, new index)."""
    w = aave_world
    user, lp = w.w3.eth.accounts[1], w.liquidity_provider
    w.approve_and_supply("wstETH", user, 4000 * 10**18)
    # WETH above the optimal usage (95 % > 92 %: slope 2 applies, ~33 % a year) and USDC below it
    # (~3.5 %): at rates over ~3.2 % the third term of the compounded approximation is non-zero
    w.borrow("WETH", user, 950 * 10**18)
    w.borrow("USDC", user, 5_000_000 * 10**6)

    for sym in ("WETH", "USDC"):
        block, _ts = latest(w)
        rs = reserve_state(w, sym, block)
        assert rs["variable_rate"] > 32 * 10**24 and rs["liquidity_rate"] > 0
        rate = rs["variable_rate"]
        assert am.ray_mul(am.ray_mul(rate, rate) // am.SECONDS_PER_YEAR**2, rate) >= am.SECONDS_PER_YEAR
        available = w.tokens[sym].functions.balanceOf(w.a_tokens[sym].address).call()
        scaled_debt_total = w.variable_debt_tokens[sym].functions.scaledTotalSupply().call()
        total_debt = am.ray_mul(scaled_debt_total, rs["variable_index"])
        assert am.calculate_interest_rates(
            w.rate_params[sym], available, total_debt, RESERVES[sym].reserve_factor
        ) == (rs["liquidity_rate"], rs["variable_rate"])

    before = {sym: reserve_state(w, sym, latest(w)[0]) for sym in ("WETH", "USDC")}
    scaled = {
        sym: (
            w.a_tokens[sym].functions.scaledBalanceOf(lp).call(),
            w.variable_debt_tokens[sym].functions.scaledBalanceOf(user).call(),
        )
        for sym in ("WETH", "USDC")
    }
    _, ts0 = latest(w)
    for dt in (1, 2, 3, 59, 3600, 86_400, 30 * 86_400, 365 * 86_400, 5 * 365 * 86_400):
        snap = chain.snapshot()
        try:
            mine_at(chain, ts0 + dt)
            block, now = latest(w)
            for sym, rs in before.items():
                elapsed = now - rs["last_update"]
                income = am.accrue_index_linear(rs["liquidity_index"], rs["liquidity_rate"], elapsed)
                debt_idx = am.accrue_index_compounded(rs["variable_index"], rs["variable_rate"], elapsed)
                assert income == w.pool.functions.getReserveNormalizedIncome(
                    w.tokens[sym].address).call(block_identifier=block)
                assert debt_idx == w.pool.functions.getReserveNormalizedVariableDebt(
                    w.tokens[sym].address).call(block_identifier=block)
                a_bal = w.a_tokens[sym].functions.balanceOf(lp).call(block_identifier=block)
                d_bal = w.variable_debt_tokens[sym].functions.balanceOf(user).call(block_identifier=block)
                assert a_bal == am.balance_of_scaled(scaled[sym][0], income)
                assert d_bal == am.balance_of_scaled(scaled[sym][1], debt_idx)
                assert d_bal > am.balance_of_scaled(scaled[sym][1], rs["variable_index"])
        finally:
            chain.revert(snap)

    # the next action writes the accrued indices and mints scaled amounts at the new index
    rs = before["WETH"]
    # a week after WETH's own last update (not the latest block's time: on a loaded machine the USDC borrow after
    # it can land a wall-clock second later)
    mine_at(chain, rs["last_update"] + 7 * 86_400 - 1)
    chain.rpc("evm_setNextBlockTimestamp", [rs["last_update"] + 7 * 86_400])
    w.borrow("WETH", user, 10**18 + 12345)
    after = reserve_state(w, "WETH", latest(w)[0])
    dt = after["last_update"] - rs["last_update"]
    assert dt == 7 * 86_400
    new_liq = am.accrue_index_linear(rs["liquidity_index"], rs["liquidity_rate"], dt)
    new_var = am.accrue_index_compounded(rs["variable_index"], rs["variable_rate"], dt)
    assert (after["liquidity_index"], after["variable_index"]) == (new_liq, new_var)
    scaled_after = w.variable_debt_tokens["WETH"].functions.scaledBalanceOf(user).call()
    assert scaled_after - scaled["WETH"][1] == am.scaled_amount(10**18 + 12345, new_var)
    w.approve_and_supply("WETH", lp, 3 * 10**18 + 7)
    rs2 = reserve_state(w, "WETH", latest(w)[0])
    idx = am.accrue_index_linear(after["liquidity_index"], after["liquidity_rate"],
                                 rs2["last_update"] - after["last_update"])
    assert rs2["liquidity_index"] == idx
    assert w.a_tokens["WETH"].functions.scaledBalanceOf(lp).call() - scaled["WETH"][0] == am.scaled_amount(
        3 * 10**18 + 7, idx)


# ------------------------------------------------------------------------------------------------
# e-mode, borrowing power and the exact borrow limit
# ------------------------------------------------------------------------------------------------


def _checked(w: AaveWorld, user: str, collateral: set[str]) -> tuple[am.AccountData, UserView]:
    """Math account data from raw chain state; asserts it equals getUserAccountData at that block."""
    view = read_user(w, user, collateral)
    assert view.collateral_flags == {s: s in collateral for s in ASSETS}
    cat = EMODE_ETH_CORRELATED if view.emode == 1 else None
    data = am.calculate_user_account_data(view.positions.values(), cat)
    assert view.account == data.as_pool_tuple()
    return data, view


@pytest.mark.chain
def test_emode_raises_borrowing_power_and_limit_is_exact(aave_world: AaveWorld, chain: AnvilNode) -> None:
    w = aave_world
    user = w.w3.eth.accounts[2]
    weth = w.tokens["WETH"].address
    w.approve_and_supply("wstETH", user, 10 * 10**18 + 123_456_789)
    w.approve_and_supply("USDC", user, 2_500 * 10**6 + 17)
    coll = {"wstETH", "USDC"}

    plain, view = _checked(w, user, coll)
    assert view.emode == 0
    w.send(w.pool.functions.setUserEMode(1), sender=user)
    emode, view = _checked(w, user, coll)
    assert view.emode == 1
    # e-mode LTV replaces wstETH's 78.5 % (USDC keeps its own), so the power rises exactly as predicted
    assert emode.total_collateral_base == plain.total_collateral_base
    assert emode.available_borrows_base > plain.available_borrows_base
    assert emode.ltv > plain.ltv and emode.current_liquidation_threshold > plain.current_liquidation_threshold

    # the Decimal path on the same balances and prices agrees with the chain too
    supplied = {s: am.from_base_units(p.collateral_balance, p.decimals)
                for s, p in view.positions.items() if p.collateral_balance}
    human = am.user_account_data_human(supplied, {}, DEFAULT_PRICES_USD, emode_category=1)
    assert human.raw.as_pool_tuple() == view.account
    assert human.available_borrows_usd == Decimal(emode.available_borrows_base) / 10**8
    assert human.health_factor == Decimal("Infinity")

    price = view.prices["WETH"]

    def borrow_call(amount: int) -> str | None:
        fn = w.pool.functions.borrow(weth, amount, 2, 0, user)
        return revert_reason(lambda: fn.call({"from": user}, block_identifier="latest"))

    # exact limit: math's max passes on chain, one wei more fails with 36, also per math
    limit = am.max_borrow_amount(emode, price, 18)
    assert limit > 0
    assert am.borrow_error(emode, limit, price, 18) is None and borrow_call(limit) is None
    assert am.borrow_error(emode, limit + 1, price, 18) == am.COLLATERAL_CANNOT_COVER_NEW_BORROW
    assert borrow_call(limit + 1) == "36"
    # clearly over the limit: available_borrows says so, and the chain refuses with 36
    over = limit * 101 // 100
    assert am.base_value(over, price, 18) > emode.available_borrows_base
    assert borrow_call(over) == "36"
    # the amount e-mode allows is over the limit without e-mode
    assert am.borrow_error(plain, limit, price, 18) == "36"
    assert am.max_borrow_human("WETH", supplied, {}, DEFAULT_PRICES_USD, emode_category=1) == (
        am.from_base_units(limit, 18))

    # borrow half, let debt accrue a day, and find the exact limit again
    w.borrow("WETH", user, limit // 2)
    chain.increase_time(86_400)
    acct, view = _checked(w, user, coll)
    assert acct.total_debt_base > am.base_value(limit // 2, price, 18)
    limit2 = am.max_borrow_amount(acct, price, 18)
    assert borrow_call(limit2) is None and borrow_call(limit2 + 1) == "36"
    borrowed = {s: am.from_base_units(p.debt_balance, p.decimals)
                for s, p in view.positions.items() if p.debt_balance}
    supplied = {s: am.from_base_units(p.collateral_balance, p.decimals)
                for s, p in view.positions.items() if p.collateral_balance}
    human = am.user_account_data_human(supplied, borrowed, DEFAULT_PRICES_USD, emode_category=1)
    assert human.raw.as_pool_tuple() == view.account
    assert human.health_factor == Decimal(view.account[5]) / 10**18

    # a price move is reflected exactly
    w.set_price("wstETH", Decimal("3123.45678901"))
    _, view = _checked(w, user, coll)
    assert view.prices["wstETH"] == 312_345_678_901


# ------------------------------------------------------------------------------------------------
# flash loan premium
# ------------------------------------------------------------------------------------------------


@pytest.mark.chain
def test_flash_loan_simple_premium(aave_world: AaveWorld, chain: AnvilNode) -> None:
    """flashLoanSimple charges amount.percentMul(5 bps) and adds it to the suppliers' index."""
    w = aave_world
    receiver = deploy(w.w3, artifact("MockFlashLoanSimpleReceiver"), w.addresses_provider.address,
                      sender=w.deployer)
    caller = w.w3.eth.accounts[3]
    for sym, amount in (("USDC", 1_234_567 * 10**6 + 891), ("WETH", 77 * 10**18 + 3), ("USDT", 1999)):
        token, a_token = w.tokens[sym], w.a_tokens[sym]
        rs = reserve_state(w, sym, latest(w)[0])
        assert rs["liquidity_rate"] == 0  # no borrows: the index moves only by the premium
        held = token.functions.balanceOf(a_token.address).call()
        total_liquidity = am.ray_mul(a_token.functions.scaledTotalSupply().call(), rs["liquidity_index"])
        receipt = transact(w.w3, w.pool.functions.flashLoanSimple(receiver.address, token.address, amount,
                                                                  b"", 0), sender=caller)
        (event,) = w.pool.events.FlashLoan().process_receipt(receipt, errors=DISCARD)
        premium = event["args"]["premium"]
        assert premium == (amount * 5 + 5_000) // 10_000 == am.flash_loan_premium(amount, 5)
        assert token.functions.balanceOf(a_token.address).call() - held == premium
        rs2 = reserve_state(w, sym, latest(w)[0])
        assert rs2["liquidity_index"] == am.cumulate_to_liquidity_index(
            rs["liquidity_index"], total_liquidity, premium)


# ------------------------------------------------------------------------------------------------
# random portfolios: getUserAccountData == calculate_user_account_data
# ------------------------------------------------------------------------------------------------


def _amount(sym: str) -> st.SearchStrategy[int]:
    if RESERVES[sym].decimals == 18:
        return st.integers(10**14, 60 * 10**18)
    return st.integers(10**3, 250_000 * 10**6)


@st.composite
def portfolios(draw: st.DrawFn) -> dict[str, Any]:
    emode = draw(st.booleans())
    coll = draw(st.lists(st.sampled_from(ASSETS), min_size=1, max_size=3, unique=True))
    supplies = {s: draw(_amount(s)) for s in coll}
    universe = ETH_LIKE if emode else ASSETS
    borrows = draw(st.lists(st.tuples(st.sampled_from(universe), st.integers(1, 97)), max_size=2))
    gaps = draw(st.lists(st.integers(0, 120 * 86_400), min_size=len(borrows) + 1, max_size=len(borrows) + 1))
    moves = draw(st.dictionaries(st.sampled_from(ASSETS), st.integers(-4_000, 4_000), max_size=2))
    return {"emode": emode, "supplies": supplies, "borrows": borrows, "gaps": gaps, "moves": moves}


@pytest.mark.chain
def test_random_portfolios_account_data(aave_world: AaveWorld, chain: AnvilNode) -> None:
    """Supply / e-mode / borrow (sized by the math's limit) / time / price moves, then every field of
    getUserAccountData equals the math computed from raw chain balances, indices and oracle prices."""
    w = aave_world
    user = w.w3.eth.accounts[4]
    for sym in ASSETS:  # fund and approve once; each example reverts to this state
        w.mint_raw(sym, user, 10**30)
        w.send(w.tokens[sym].functions.approve(w.pool.address, MAX_UINT), sender=user)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(portfolios())
    def check(p: dict[str, Any]) -> None:
        snap = chain.snapshot()
        try:
            run(p)
        finally:
            chain.revert(snap)

    def run(p: dict[str, Any]) -> None:
        collateral: set[str] = set()
        prices = {s: am.price_to_base(DEFAULT_PRICES_USD[s]) for s in ASSETS}
        for sym, units in p["supplies"].items():
            w.send(w.pool.functions.supply(w.tokens[sym].address, units, user, 0), sender=user)
            collateral.add(sym)
        if p["emode"]:
            w.send(w.pool.functions.setUserEMode(1), sender=user)
        for (sym, pct), gap in zip(p["borrows"], p["gaps"], strict=False):
            if gap:
                chain.increase_time(gap)
            data, _ = _checked(w, user, collateral)
            units = am.max_borrow_amount(data, prices[sym], RESERVES[sym].decimals) * pct // 100
            if units:
                w.borrow(sym, user, units)
                stats["borrows"] += 1
        chain.increase_time(p["gaps"][-1] + 1)
        for sym, bps in p["moves"].items():
            prices[sym] = prices[sym] * (10_000 + bps) // 10_000
            w.set_price(sym, Decimal(prices[sym]) / 10**8)
        data, view = _checked(w, user, collateral)
        assert view.prices == prices
        assert view.emode == (1 if p["emode"] else 0)
        stats["examples"] += 1
        stats["emode"] += p["emode"]
        stats["hf_below_1"] += data.health_factor < am.WAD
        stats["price_moves"] += bool(p["moves"])

    stats = dict.fromkeys(("examples", "borrows", "emode", "hf_below_1", "price_moves"), 0)
    check()
    print(stats)
    # the examples did exercise borrowing, e-mode and price moves (guards against a vacuous run)
    assert stats["borrows"] > 0 and stats["emode"] > 0 and stats["price_moves"] > 0


# ------------------------------------------------------------------------------------------------
# pure checks (no chain): the closed-form borrow limit and the Decimal boundary
# ------------------------------------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**16), st.integers(0, 10**16), st.integers(1, 9_999), st.integers(1, 10**13),
       st.sampled_from([6, 8, 18]))
def test_max_borrow_amount_is_the_exact_boundary(coll: int, debt: int, ltv: int, price: int, dec: int) -> None:
    """max_borrow_amount inverts the percentDiv check exactly: max passes, max + 1 fails."""
    hf = am.health_factor(coll, debt, 9_500)
    acct = am.AccountData(coll, debt, am.available_borrows(coll, debt, ltv), 9_500, ltv, hf)
    limit = am.max_borrow_amount(acct, price, dec)
    if hf <= am.WAD:
        assert limit == 0 and am.borrow_error(acct, 1, price, dec) == "35"
        return
    if limit > 0:
        assert am.borrow_error(acct, limit, price, dec) is None
    assert am.borrow_error(acct, limit + 1, price, dec) == "36"


def test_decimal_boundary_is_exact() -> None:
    from basis_core.errors import InstructionError

    assert am.to_base_units(Decimal("1.000001"), 6) == 1_000_001
    assert am.to_base_units(Decimal("123456789.123456789123456789"), 18) == 123456789123456789123456789
    with pytest.raises(InstructionError):
        am.to_base_units(Decimal("1.0000001"), 6)
    assert am.from_base_units(123456789123456789123456789, 18) == Decimal("123456789.123456789123456789")
    assert am.price_to_base(Decimal("2282.995871239")) == 228299587123
    # no debt: Infinity; a position without any reserve involvement: Aave's empty-config answer
    assert am.health_factor_human({"WETH": Decimal(1)}, {}, DEFAULT_PRICES_USD) == Decimal("Infinity")
    assert am.calculate_user_account_data([]).as_pool_tuple() == (0, 0, 0, 0, 0, MAX_UINT)
    # 10 wstETH at 3600, 5 WETH at 3000 debt: HF = 36000 * 0.81 / 15000 = 1.944 (e-mode: 0.95 -> 2.28)
    sup, bor = {"wstETH": Decimal(10)}, {"WETH": Decimal(5)}
    assert am.health_factor_human(sup, bor, DEFAULT_PRICES_USD) == Decimal("1.944")
    assert am.health_factor_human(sup, bor, DEFAULT_PRICES_USD, emode_category=1) == Decimal("2.28")
