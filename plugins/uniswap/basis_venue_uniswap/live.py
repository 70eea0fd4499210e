"""Live backend of the Uniswap venue: real transactions through :class:`basis_core.live.evm.EvmClient` (web3).

Imported only when the venue runs in live mode (``make_live_backend``), so a backtest never loads web3.

Swaps: v2 ``UniswapV2Router02.swapExactTokensForTokens``, v3 ``SwapRouter.exactInputSingle``, each with
the minimum output and the deadline. Before anything is sent the instruction is checked (tokens, pool,
decimals, wallet balance, deadline against the latest block, amount beyond the pool) and quoted on chain
(v2: ``getReserves`` + the router's integer formula; v3: ``QuoterV2.quoteExactInputSingle``); a quote
below ``min_amount_out`` / above ``max_slippage_bps`` raises SlippageError and sends nothing. The on-chain
minimum is the tightest bound given (or the quote less ``default_slippage_bps``). Approvals: ``exact``
(the amount, each time) or ``unlimited`` (``approval_mode``); tokens listed in the table's
``zero_approval_first`` are reset to 0 before a change (USDT). Exact approvals of one token are
serialised (approve + swap under a lock) so concurrent instructions cannot consume each other's allowance.

Deltas come from the receipts: ERC20 ``Transfer`` events of the account (tokens, LP tokens) and
``gasUsed x effectiveGasPrice`` of every transaction sent (approvals included) in ``ethereum:wallet:ETH``.
PnL is valued at on-chain mid prices (stablecoins at 1, WETH / ETH at the mid of the WETH/USDC default
pool): live mode has no market data. A reverted transaction raises ContractRevertError; a receipt
timeout raises TransactionTimeoutError and the transaction stays tracked by hash and nonce
(:meth:`UniswapLive.resume` returns its deltas once mined); nothing is ever re-sent with a new nonce.

Liquidity: v2 ``addLiquidity`` / ``removeLiquidity`` on Router02; v3 positions through the
NonfungiblePositionManager (``mint``; ``decreaseLiquidity`` + ``collect`` in one ``multicall``), position id
= the NFT token id.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from basis_core.backtest.dex import (
    GasCost,
    SwapFill,
    check_deadline,
    check_slippage,
    from_units,
    liquidity_deltas,
    min_out_units,
    quote_deltas,
    resolve_swap_pool,
    swap_pool_entries,
    to_units,
    wallet_key,
    without_valuation,
)
from basis_core.backtest.gas import DEFAULT_GAS_UNITS
from basis_core.data.prices import STABLECOINS
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import (
    InstructionError,
    InsufficientFundsError,
    SlippageError,
)
from basis_core.live.bundles import EncodedCall
from basis_core.live.evm import EvmClient, Receipt
from basis_core.live.onchain import client_from_settings, option_float
from basis_core.live.swaps import LiveSwaps, zero_prices
from basis_venue_uniswap import v2_math
from basis_venue_uniswap.deployment import DEFAULT_ROUTES, PoolId, load_table, parse_pool_id
from basis_venue_uniswap.v3_math import (
    FEE_TIERS,
    MAX_SQRT_RATIO,
    MAX_TICK,
    MAX_UINT128,
    MIN_SQRT_RATIO,
    MIN_TICK,
    get_amounts_for_liquidity,
    get_sqrt_ratio_at_tick,
)

VENUE = "uniswap"
LP_DECIMALS = 18
_ZERO = Decimal(0)
_MILLION = 1_000_000

_USD_QUANTUM = Decimal("1e-18")


# ------------------------------------------------------------------------------------------------- ABIs
def _p(spec: str | tuple[str, str, Sequence[Any]]) -> dict[str, Any]:
    if isinstance(spec, tuple):
        name, typ, comps = spec
        return {"name": name, "type": typ, "components": [_p(c) for c in comps]}
    typ, _, name = spec.partition(" ")
    return {"name": name, "type": typ}


def _fn(name: str, inputs: Sequence[Any] = (), outputs: Sequence[Any] = (), mut: str = "view") -> dict[str, Any]:
    return {"type": "function", "name": name, "stateMutability": mut,
            "inputs": [_p(i) for i in inputs], "outputs": [_p(o) for o in outputs]}


def _ev(name: str, inputs: Sequence[tuple[str, bool]]) -> dict[str, Any]:
    return {"type": "event", "name": name, "anonymous": False,
            "inputs": [{**_p(s), "indexed": idx} for s, idx in inputs]}


ROUTER02_ABI = [
    _fn("swapExactTokensForTokens", ["uint256 amountIn", "uint256 amountOutMin", "address[] path", "address to",
                                     "uint256 deadline"], ["uint256[] amounts"], "nonpayable"),
    _fn("addLiquidity", ["address tokenA", "address tokenB", "uint256 amountADesired", "uint256 amountBDesired",
                         "uint256 amountAMin", "uint256 amountBMin", "address to", "uint256 deadline"],
        ["uint256 amountA", "uint256 amountB", "uint256 liquidity"], "nonpayable"),
    _fn("removeLiquidity", ["address tokenA", "address tokenB", "uint256 liquidity", "uint256 amountAMin",
                            "uint256 amountBMin", "address to", "uint256 deadline"],
        ["uint256 amountA", "uint256 amountB"], "nonpayable"),
]
PAIR_ABI = [
    _fn("getReserves", [], ["uint112 reserve0", "uint112 reserve1", "uint32 blockTimestampLast"]),
    _fn("token0", [], ["address"]), _fn("token1", [], ["address"]), _fn("totalSupply", [], ["uint256"]),
    _fn("kLast", [], ["uint256"]),
]
V3_POOL_ABI = [
    _fn("slot0", [], ["uint160 sqrtPriceX96", "int24 tick", "uint16 observationIndex",
                      "uint16 observationCardinality", "uint16 observationCardinalityNext", "uint8 feeProtocol",
                      "bool unlocked"]),
    _fn("token0", [], ["address"]), _fn("token1", [], ["address"]), _fn("fee", [], ["uint24"]),
]
_SWAP_PARAMS = ("params", "tuple", ["address tokenIn", "address tokenOut", "uint24 fee", "address recipient",
                                    "uint256 deadline", "uint256 amountIn", "uint256 amountOutMinimum",
                                    "uint160 sqrtPriceLimitX96"])
SWAP_ROUTER_ABI = [_fn("exactInputSingle", [_SWAP_PARAMS], ["uint256 amountOut"], "payable")]
QUOTER_V2_ABI = [
    _fn("quoteExactInputSingle", [("params", "tuple", ["address tokenIn", "address tokenOut", "uint256 amountIn",
                                                        "uint24 fee", "uint160 sqrtPriceLimitX96"])],
        ["uint256 amountOut", "uint160 sqrtPriceX96After", "uint32 initializedTicksCrossed", "uint256 gasEstimate"],
        "nonpayable"),
]
NPM_ABI = [
    _fn("mint", [("params", "tuple", ["address token0", "address token1", "uint24 fee", "int24 tickLower",
                                      "int24 tickUpper", "uint256 amount0Desired", "uint256 amount1Desired",
                                      "uint256 amount0Min", "uint256 amount1Min", "address recipient",
                                      "uint256 deadline"])],
        ["uint256 tokenId", "uint128 liquidity", "uint256 amount0", "uint256 amount1"], "payable"),
    _fn("decreaseLiquidity", [("params", "tuple", ["uint256 tokenId", "uint128 liquidity", "uint256 amount0Min",
                                                   "uint256 amount1Min", "uint256 deadline"])],
        ["uint256 amount0", "uint256 amount1"], "payable"),
    _fn("collect", [("params", "tuple", ["uint256 tokenId", "address recipient", "uint128 amount0Max",
                                         "uint128 amount1Max"])], ["uint256 amount0", "uint256 amount1"], "payable"),
    _fn("multicall", ["bytes[] data"], ["bytes[] results"], "payable"),
    _fn("positions", ["uint256 tokenId"],
        ["uint96 nonce", "address operator", "address token0", "address token1", "uint24 fee", "int24 tickLower",
         "int24 tickUpper", "uint128 liquidity", "uint256 feeGrowthInside0LastX128",
         "uint256 feeGrowthInside1LastX128", "uint128 tokensOwed0", "uint128 tokensOwed1"]),
    _fn("balanceOf", ["address owner"], ["uint256"]),
    _fn("tokenOfOwnerByIndex", ["address owner", "uint256 index"], ["uint256"]),
    _fn("ownerOf", ["uint256 tokenId"], ["address"]),
    _ev("IncreaseLiquidity", [("uint256 tokenId", True), ("uint128 liquidity", False), ("uint256 amount0", False),
                              ("uint256 amount1", False)]),
    _ev("DecreaseLiquidity", [("uint256 tokenId", True), ("uint128 liquidity", False), ("uint256 amount0", False),
                              ("uint256 amount1", False)]),
]


# ------------------------------------------------------------------------------------------------ pools
@dataclass(frozen=True, slots=True)
class LivePool:
    """A deployed pool: id, kind, address, tokens (token0 < token1 by address) and their decimals, fee."""

    id: str
    kind: str
    address: str
    token0: str
    token1: str
    dec0: int
    dec1: int
    fee: int  # v2: bps (30); v3: pips

    def decimals(self, token: str) -> int:
        return self.dec0 if token == self.token0 else self.dec1

    def lp_key(self) -> str:
        return f"{VENUE}:lp:{self.id}"


@dataclass(frozen=True, slots=True)
class _SwapQuote:
    out: int
    fee: Decimal  # token_in base units
    no_impact: Decimal  # token_out base units


class UniswapLive(LiveSwaps):
    """The live backend (one per venue instance); methods mirror the venue's operations."""

    venue_name = VENUE

    def __init__(self, venue: Any, client: EvmClient | None = None) -> None:
        s = venue.settings
        opts = s.options
        if client is None:
            client = client_from_settings(VENUE, s)
        self.table = load_table(opts.get("deployment_table") or s.deployment)
        self.deadline_seconds = int(option_float(VENUE, opts, "deadline_seconds", 300))
        self.default_slippage_bps = Decimal(str(opts.get("default_slippage_bps", "50")))
        self.init_onchain(VENUE, client, self.table, opts)
        w3 = client.w3
        c = self.table["contracts"]
        self.symbols = {v.lower(): k for k, v in self.tokens.items()}
        self.router_v2 = w3.eth.contract(address=client.checksum(c["UniswapV2Router02"]), abi=ROUTER02_ABI)
        self.swap_router = w3.eth.contract(address=client.checksum(c["SwapRouter"]), abi=SWAP_ROUTER_ABI)
        self.quoter = w3.eth.contract(address=client.checksum(c["QuoterV2"]), abi=QUOTER_V2_ABI)
        self.npm = w3.eth.contract(address=client.checksum(c["NonfungiblePositionManager"]), abi=NPM_ABI)
        self.routes = dict(DEFAULT_ROUTES)
        self._pools: dict[str, LivePool] = {}
        self.init_intents(VENUE, venue.context)

    def __repr__(self) -> str:
        return f"<UniswapLive {self.client!r}>"

    # --------------------------------------------------------------------------------- lookups
    def _token(self, token: str, field: str) -> str:
        addr = self.tokens.get(token)
        if addr is None:
            hint = " (pools trade WETH, not native ETH)" if token == "ETH" else ""
            raise InstructionError(field, f"unknown token {token!r}{hint}; known: {', '.join(sorted(self.tokens))}")
        return addr

    def pool(self, pool: str, field: str = "pool") -> LivePool:
        """The deployed pool of a pool id (addresses from the deployment table)."""
        p = self._pools.get(pool)
        if p is not None:
            return p
        pid = parse_pool_id(pool, field)
        for cand in (pid, pid.swapped()):
            addr = self._address_of(cand)
            if addr is not None:
                break
        else:
            known = [f"v2:{k}" for k in self.table["v2_pairs"]] + [f"v3:{k}" for k in self.table["v3_pools"]]
            raise InstructionError(field, f"unknown pool {pool!r}; deployed: {', '.join(known)}")
        for t in (pid.a, pid.b):
            if t not in self.tokens:
                raise InstructionError(field, f"pool {pool!r}: token {t} is not in the deployment table")
        a, b = self.tokens[pid.a], self.tokens[pid.b]
        t0, t1 = (pid.a, pid.b) if int(a, 16) < int(b, 16) else (pid.b, pid.a)
        fee = 30 if pid.kind == "v2" else int(pid.fee or 0)
        p = LivePool(pid.canonical, pid.kind, self.client.checksum(addr), t0, t1, self.decimals[t0],
                     self.decimals[t1], fee)
        self._pools[pool] = p
        return p

    def _address_of(self, pid: PoolId) -> str | None:
        if pid.kind == "v2":
            return self.table["v2_pairs"].get(pid.pair)  # type: ignore[no-any-return]
        return self.table["v3_pools"].get(f"{pid.pair}:{pid.fee}")  # type: ignore[no-any-return]

    def swap_pool(self, ins: Any) -> LivePool:
        return resolve_swap_pool(ins, self._token, self.routes, self.pool, lambda p: (p.token0, p.token1))

    # --------------------------------------------------------------------------------- chain reads
    def chain_time(self) -> datetime:
        """The latest block's timestamp (what the contracts compare deadlines with)."""
        return datetime.fromtimestamp(int(self.client.w3.eth.get_block("latest")["timestamp"]), UTC)

    def _deadline(self, ins: Any, now: datetime) -> int:
        """The unix deadline for the contract: the instruction's (refused if already past), or deadline_seconds
        after the later of the latest block and the wall clock (an idle node's latest block can be old: the
        next block is stamped with the current time)."""
        deadline = getattr(ins, "deadline", None)  # liquidity instructions have none
        check_deadline(deadline, now)
        if deadline is not None:
            return int(deadline.timestamp())
        return max(int(now.timestamp()), int(time.time())) + self.deadline_seconds

    def _pair(self, p: LivePool) -> Any:
        return self.client.w3.eth.contract(address=p.address, abi=PAIR_ABI)

    def _v3(self, p: LivePool) -> Any:
        return self.client.w3.eth.contract(address=p.address, abi=V3_POOL_ABI)

    def mid_price(self, p: LivePool) -> Decimal:
        """token1 per token0 (human units) at the pool's current marginal price, no fee."""
        if p.kind == "v2":
            r0, r1, _ = self._pair(p).functions.getReserves().call()
            mid = Decimal(int(r1)) / Decimal(int(r0))
        else:
            s = int(self._v3(p).functions.slot0().call()[0])
            mid = Decimal(s * s) / Decimal(1 << 192)
        return mid.scaleb(p.dec0 - p.dec1)

    def usd_prices(self, ts: Any, tokens: Sequence[str]) -> dict[str, Decimal] | None:
        """USD per token now, from the chain (stablecoins 1; WETH / ETH the mid of the WETH/USDC default pool;
        ``ts`` is not used); None if unknown."""
        out: dict[str, Decimal] = {}
        for t in tokens:
            if t in STABLECOINS:
                out[t] = Decimal(1)
            elif t in ("WETH", "ETH"):
                if "weth" not in out:
                    try:
                        p = self.pool(self.routes[frozenset(("WETH", "USDC"))])
                    except (InstructionError, KeyError):
                        return None
                    mid = self.mid_price(p)
                    # quantised to 1e-18 USD: valuations (amount x price) then stay exact in Decimal
                    out["weth"] = (mid if p.token0 == "WETH" else 1 / mid).quantize(_USD_QUANTUM)
                out[t] = out["weth"]
            else:
                return None
        out.pop("weth", None)
        return out

    def _quote(self, p: LivePool, token_in: str, amt: int) -> _SwapQuote:
        zero_for_one = token_in == p.token0
        if p.kind == "v2":
            r0, r1, _ = self._pair(p).functions.getReserves().call()
            r_in, r_out = (int(r0), int(r1)) if zero_for_one else (int(r1), int(r0))
            if amt > r_in:
                raise InstructionError("amount_in", f"beyond the pool: {amt} base units in exceed its reserve {r_in}")
            out = v2_math.get_amount_out(amt, r_in, r_out, p.fee)
            keep = 10_000 - p.fee
            return _SwapQuote(out, Decimal(amt * p.fee) / 10_000, Decimal(amt * keep * r_out) / (r_in * 10_000))
        s = int(self._v3(p).functions.slot0().call()[0])
        t_in, t_out = self.tokens[token_in], self.tokens[p.token1 if zero_for_one else p.token0]
        res = self.client.call(self.quoter.functions.quoteExactInputSingle((t_in, t_out, amt, p.fee, 0)))
        out, after = int(res[0]), int(res[1])
        if after in (MIN_SQRT_RATIO + 1, MAX_SQRT_RATIO - 1):
            raise InstructionError("amount_in", "beyond the pool: its liquidity cannot absorb the whole input")
        keep = _MILLION - p.fee
        if zero_for_one:
            no_impact = Decimal(amt * keep * s * s) / (_MILLION << 192)
        else:
            no_impact = Decimal((amt * keep) << 192) / (_MILLION * s * s)
        return _SwapQuote(out, Decimal(amt * p.fee) / _MILLION, no_impact)

    def _gas_estimate(self, op: str, prices: Mapping[str, Decimal] | None) -> GasCost:
        units = DEFAULT_GAS_UNITS[op]
        price = int(self.client.w3.eth.gas_price)
        return GasCost(units, from_units(units * price, 18), (prices or {}).get("ETH", _ZERO))

    # --------------------------------------------------------------------------------- swaps
    def swap(self, ts: Any, ins: Any, quote: bool = False) -> ExecutionDeltas:
        """Quote on chain, check the bounds, approve, send the swap, and return the receipt's exact deltas (a
        journaled on-chain intent: :mod:`basis_core.live.chain_intents`)."""
        if quote or ins.quote_only:
            return self._swap(ts, ins, True)
        return self.intent(ts, ins, lambda: self._swap(ts, ins, False))

    def _swap(self, ts: Any, ins: Any, quote: bool) -> ExecutionDeltas:
        p = self.swap_pool(ins)
        t_in, t_out = ins.token_in, ins.token_out
        d_in, d_out = p.decimals(t_in), p.decimals(t_out)
        amt = to_units(ins.amount_in, d_in, "amount_in")
        now = self.chain_time()
        deadline = self._deadline(ins, now)
        q = self._quote(p, t_in, amt)
        if q.out <= 0:
            raise InstructionError("amount_in", f"too small: {ins.amount_in} {t_in} buys nothing in {p.id}")
        prices = self.usd_prices(ts, [t_in, t_out, "ETH"])
        op = "swap_v2" if p.kind == "v2" else "swap"
        fill = SwapFill(p.id, t_in, t_out, ins.amount_in, from_units(q.out, d_out), q.fee.scaleb(-d_in), t_in,
                        q.no_impact.scaleb(-d_out))
        if quote or ins.quote_only:
            q_d = quote_deltas(VENUE, ts, fill, prices or zero_prices(fill), self._gas_estimate(op, prices),
                               ins.client_id)
            return q_d if prices else without_valuation(q_d)
        check_slippage(ins, fill.amount_out, fill.impact_bps, t_out)
        self.check_balance(t_in, amt, "amount_in")
        min_out = min_out_units(ins, q.no_impact, q.out, d_out, self.default_slippage_bps)
        fn, spender = self._swap_fn(p, t_in, t_out, amt, min_out, self.client.address, deadline)
        return self.send_swap(ts, ins.client_id, fill, spender, amt, fn)

    def _swap_fn(self, p: LivePool, t_in: str, t_out: str, amt: int, min_out: int, to: str, deadline: int
                 ) -> tuple[Any, str]:
        """(the router call of an exact-input swap paying ``to``, the router = the input's spender)."""
        a_in, a_out = self.tokens[t_in], self.tokens[t_out]
        if p.kind == "v2":
            return (self.router_v2.functions.swapExactTokensForTokens(amt, min_out, [a_in, a_out], to, deadline),
                    self.router_v2.address)
        return (self.swap_router.functions.exactInputSingle((a_in, a_out, p.fee, to, deadline, amt, min_out, 0)),
                self.swap_router.address)

    def encode_call(self, ts: Any, ins: Any, recipient: str) -> EncodedCall:
        """The router call of a swap for an executor contract at ``recipient`` (it pays the input and receives
        the output), quoted on chain, with the on-chain minimum of :func:`min_out_units` and the deadline."""
        p = self.swap_pool(ins)
        t_in, t_out = ins.token_in, ins.token_out
        d_in, d_out = p.decimals(t_in), p.decimals(t_out)
        amt = to_units(ins.amount_in, d_in, "amount_in")
        deadline = self._deadline(ins, self.chain_time())
        q = self._quote(p, t_in, amt)
        if q.out <= 0:
            raise InstructionError("amount_in", f"too small: {ins.amount_in} {t_in} buys nothing in {p.id}")
        min_out = min_out_units(ins, q.no_impact, q.out, d_out, self.default_slippage_bps)
        fn, spender = self._swap_fn(p, t_in, t_out, amt, min_out, self.client.checksum(recipient), deadline)
        return EncodedCall(spender, bytes.fromhex(fn._encode_transaction_data()[2:]), self.tokens[t_in], amt,
                           self.tokens[t_out], min_out, t_in, t_out, d_in, d_out)

    # --------------------------------------------------------------------------------- liquidity
    def _amounts(self, p: LivePool, amounts: Mapping[str, Decimal]) -> tuple[int, int]:
        for tok in amounts:
            if tok not in (p.token0, p.token1):
                raise InstructionError("amounts", f"pool {p.id} holds {p.token0} and {p.token1}, not {tok}")
        return (to_units(amounts.get(p.token0, _ZERO), p.dec0, "amounts"),
                to_units(amounts.get(p.token1, _ZERO), p.dec1, "amounts"))

    def add_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """v2: Router02.addLiquidity (LP tokens); v3: a new NFT position (ticks, or +/- 10 % around the price)."""
        return self.intent(ts, ins, lambda: self._add_liquidity(ts, ins))

    def _add_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        p = self.pool(ins.pool)
        a0, a1 = self._amounts(p, ins.amounts)
        deadline = self._deadline(ins, self.chain_time())
        me = self.client.address
        prices = self.usd_prices(ts, [p.token0, p.token1, "ETH"])
        if p.kind == "v2":
            if ins.tick_lower is not None:
                raise InstructionError("tick_lower", f"{p.id} is a v2 pool: no tick range")
            if a0 <= 0 or a1 <= 0:
                raise InstructionError("amounts", f"a v2 pool takes both {p.token0} and {p.token1}")
            pair = self._pair(p)
            r0, r1, _ = pair.functions.getReserves().call()
            supply = int(pair.functions.totalSupply().call())
            try:
                u0, u1 = v2_math.optimal_add_amounts(a0, a1, int(r0), int(r1))
                est = v2_math.mint_liquidity(u0, u1, int(r0), int(r1), supply)
            except ValueError as e:
                raise InstructionError("amounts", f"too small for {p.id}: {e}") from None
            if ins.min_lp_out is not None and from_units(est, LP_DECIMALS) < ins.min_lp_out:
                raise SlippageError("min_lp_out", f"would mint about {from_units(est, LP_DECIMALS)} LP tokens, "
                                                  f"below min_lp_out {ins.min_lp_out}")
            self.check_balance(p.token0, u0, "amounts")
            self.check_balance(p.token1, u1, "amounts")
            spender = self.router_v2.address
            receipts = self.approve(p.token0, spender, u0) + self.approve(p.token1, spender, u1)
            t0, t1 = self.tokens[p.token0], self.tokens[p.token1]
            main = self.client.send(self.router_v2.functions.addLiquidity(t0, t1, a0, a1, u0, u1, me, deadline))
            return self._lp_result(ts, ins, p, "add_liquidity", [*receipts, main], main, prices)
        spacing = FEE_TIERS[p.fee]
        if ins.tick_lower is None:
            tick = int(self._v3(p).functions.slot0().call()[1])
            width = 953 // spacing * spacing or spacing  # ~ +/- 10 %
            lo = max((tick - width) // spacing * spacing, -(-MIN_TICK // spacing) * spacing)
            hi = min(-(-(tick + width) // spacing) * spacing, MAX_TICK // spacing * spacing)
        else:
            lo, hi = ins.tick_lower, ins.tick_upper
            for name, t in (("tick_lower", lo), ("tick_upper", hi)):
                if t % spacing or not MIN_TICK <= t <= MAX_TICK:
                    raise InstructionError(name, f"{t} is not a multiple of {p.id}'s tick spacing {spacing}")
        self.check_balance(p.token0, a0, "amounts")
        self.check_balance(p.token1, a1, "amounts")
        spender = self.npm.address
        receipts = self.approve(p.token0, spender, a0) if a0 else []
        receipts += self.approve(p.token1, spender, a1) if a1 else []
        params = (self.tokens[p.token0], self.tokens[p.token1], p.fee, lo, hi, a0, a1, 0, 0, me, deadline)
        main = self.client.send(self.npm.functions.mint(params))
        return self._lp_result(ts, ins, p, "add_liquidity", [*receipts, main], main, prices, (lo, hi))

    def remove_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """v2: Router02.removeLiquidity; v3: decreaseLiquidity + collect (principal and fees) in one multicall."""
        return self.intent(ts, ins, lambda: self._remove_liquidity(ts, ins))

    def _remove_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        p = self.pool(ins.pool)
        deadline = self._deadline(ins, self.chain_time())
        me = self.client.address
        prices = self.usd_prices(ts, [p.token0, p.token1, "ETH"])
        mins = dict(ins.min_amounts or {})
        for tok in mins:
            if tok not in (p.token0, p.token1):
                raise InstructionError("min_amounts", f"pool {p.id} holds {p.token0} and {p.token1}, not {tok}")
        m0 = to_units(mins.get(p.token0, _ZERO), p.dec0, "min_amounts")
        m1 = to_units(mins.get(p.token1, _ZERO), p.dec1, "min_amounts")
        if p.kind == "v2":
            if ins.position_id is not None:
                raise InstructionError("position_id", f"{p.id} is a v2 pool: it has LP tokens, not positions")
            held = self.client.balance_of(p.address)
            liq = held if ins.lp_amount in (None, "max") else to_units(ins.lp_amount, LP_DECIMALS, "lp_amount")
            if held <= 0 or liq > held:
                raise InsufficientFundsError(p.lp_key(), from_units(liq, LP_DECIMALS), from_units(held, LP_DECIMALS),
                                             "lp_amount")
            pair = self._pair(p)
            r0, r1, _ = pair.functions.getReserves().call()
            supply = int(pair.functions.totalSupply().call())
            e0, e1 = liq * int(r0) // supply, liq * int(r1) // supply
            if e0 < m0 or e1 < m1:
                raise SlippageError("min_amounts", f"would return {from_units(e0, p.dec0)} {p.token0} and "
                                                   f"{from_units(e1, p.dec1)} {p.token1}, below min_amounts")
            receipts = self.approve_address(p.address, self.router_v2.address, liq)
            t0, t1 = self.tokens[p.token0], self.tokens[p.token1]
            main = self.client.send(self.router_v2.functions.removeLiquidity(t0, t1, liq, m0, m1, me, deadline))
            return self._lp_result(ts, ins, p, "remove_liquidity", [*receipts, main], main, prices)
        if ins.position_id is None:
            raise InstructionError("position_id", f"{p.id} is a v3 pool: name the position (NFT token id)")
        if not ins.position_id.isdigit():
            raise InstructionError("position_id", f"unknown position {ins.position_id!r}: a v3 position id is the "
                                                  "NFT token id")
        token_id = int(ins.position_id)
        try:
            owner = self.npm.functions.ownerOf(token_id).call()
        except Exception:
            raise InstructionError("position_id", f"unknown position {ins.position_id!r}") from None
        if str(owner).lower() != me.lower():
            raise InstructionError("position_id", f"position {ins.position_id} belongs to another account")
        pos = self.npm.functions.positions(token_id).call()
        pos_pool = self.pool(f"v3:{self.symbols[str(pos[2]).lower()]}/{self.symbols[str(pos[3]).lower()]}:{pos[4]}")
        if pos_pool.address != p.address:
            raise InstructionError("pool", f"position {ins.position_id} is in {pos_pool.id}, not {p.id}")
        held = int(pos[7])
        if ins.lp_amount in (None, "max"):
            liq = held
        else:
            if ins.lp_amount != ins.lp_amount.to_integral_value():
                raise InstructionError("lp_amount", "a v3 position's lp_amount is its liquidity, an integer")
            liq = int(ins.lp_amount)
        if liq > held or held <= 0:
            raise InsufficientFundsError(f"{p.lp_key()}#{token_id}", Decimal(liq), Decimal(held), "lp_amount")
        dec = self.npm.functions.decreaseLiquidity((token_id, liq, m0, m1, deadline))
        col = self.npm.functions.collect((token_id, me, MAX_UINT128, MAX_UINT128))
        main = self.client.send(self.npm.functions.multicall([dec._encode_transaction_data(),
                                                             col._encode_transaction_data()]))
        return self._lp_result(ts, ins, p, "remove_liquidity", [main], main, prices, (int(pos[5]), int(pos[6])),
                               token_id=token_id)

    def _lp_result(self, ts: Any, ins: Any, p: LivePool, op: str, receipts: list[Receipt], main: Receipt,
                   prices: Mapping[str, Decimal] | None, ticks: tuple[int, int] | None = None,
                   token_id: int | None = None) -> ExecutionDeltas:
        tokens = self.token_deltas([main], [p.token0, p.token1])
        gas = self.gas_paid(receipts, prices)
        px = dict(prices) if prices else dict.fromkeys((p.token0, p.token1, "ETH"), _ZERO)
        details: dict[str, Any] = {"pool": p.id, "tx_hash": main.tx_hash, "block_number": main.block_number,
                                   "gas_used": gas.units,
                                   "approval_tx_hashes": [r.tx_hash for r in receipts if r is not main]}
        fees_usd = _ZERO
        if p.kind == "v2":
            lp = from_units(self.client.transfer_deltas(main, [p.address])[p.address], LP_DECIMALS)
            key = p.lp_key()
            pair = self._pair(p)
            r0, r1, _ = pair.functions.getReserves().call(block_identifier=main.block_number)
            supply = int(pair.functions.totalSupply().call(block_identifier=main.block_number))
            value = from_units(int(r0), p.dec0) * px[p.token0] + from_units(int(r1), p.dec1) * px[p.token1]
            lp_price = value / from_units(supply, LP_DECIMALS) if supply else _ZERO
        else:
            assert ticks is not None
            lo, hi = ticks
            logs = self.npm.events.IncreaseLiquidity().process_receipt(main.raw, errors=_discard()) if op == \
                "add_liquidity" else self.npm.events.DecreaseLiquidity().process_receipt(main.raw, errors=_discard())
            ev = logs[0]["args"]
            token_id = int(ev["tokenId"])
            liq = int(ev["liquidity"])
            key = f"{p.lp_key()}#{token_id}"
            lp = Decimal(liq) if op == "add_liquidity" else -Decimal(liq)
            s = int(self._v3(p).functions.slot0().call(block_identifier=main.block_number)[0])
            v0, v1 = get_amounts_for_liquidity(s, get_sqrt_ratio_at_tick(lo), get_sqrt_ratio_at_tick(hi), liq)
            value = from_units(v0, p.dec0) * px[p.token0] + from_units(v1, p.dec1) * px[p.token1]
            lp_price = value / liq if liq else _ZERO
            details.update({"position_id": str(token_id), "tick_lower": lo, "tick_upper": hi, "liquidity": liq})
            if op == "remove_liquidity":
                f0 = to_units(tokens[p.token0], p.dec0) - int(ev["amount0"])
                f1 = to_units(tokens[p.token1], p.dec1) - int(ev["amount1"])
                fees_usd = from_units(f0, p.dec0) * px[p.token0] + from_units(f1, p.dec1) * px[p.token1]
                details["fees_collected"] = {p.token0: from_units(f0, p.dec0), p.token1: from_units(f1, p.dec1)}
        d = liquidity_deltas(VENUE, op, ts, tokens, key, lp, lp_price, px, gas, fees_usd=fees_usd,
                             client_id=ins.client_id, details=details, order_id=main.tx_hash)
        return d if prices else without_valuation(d)

    # --------------------------------------------------------------------------------- queries
    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet tokens, ETH, v2 LP tokens and v3 positions (liquidity) of the account, read on chain."""
        c = self.client
        out = {wallet_key("ETH"): from_units(c.eth_balance(), 18)}
        for sym, addr in self.tokens.items():
            out[wallet_key(sym)] = from_units(c.balance_of(addr), self.decimals[sym])
        for pair in self.table["v2_pairs"]:
            p = self.pool(f"v2:{pair}")
            bal = c.balance_of(p.address)
            if bal:
                out[p.lp_key()] = from_units(bal, LP_DECIMALS)
        n = int(self.npm.functions.balanceOf(c.address).call())
        for i in range(n):
            tid = int(self.npm.functions.tokenOfOwnerByIndex(c.address, i).call())
            pos = self.npm.functions.positions(tid).call()
            a, b = self.symbols.get(str(pos[2]).lower()), self.symbols.get(str(pos[3]).lower())
            if a and b and int(pos[7]):
                out[f"{VENUE}:lp:v3:{self._v3_name(a, b, int(pos[4]))}#{tid}"] = Decimal(int(pos[7]))
        return out

    def _v3_name(self, a: str, b: str, fee: int) -> str:
        """``A/B:fee`` of the v3 pool of tokens ``a`` / ``b`` as the deployment table names it (the key
        add_liquidity uses); ``a/b:fee`` when the table does not list it. A position's tokens come in
        address order (token0 < token1), which need not be the table's order: that depends on the addresses."""
        swapped = f"{b}/{a}:{fee}"
        return swapped if swapped in self.table["v3_pools"] and f"{a}/{b}:{fee}" not in self.table["v3_pools"] \
            else f"{a}/{b}:{fee}"

    def swap_pools(self, ts: Any, ins: Any) -> list[dict[str, Any]]:
        """The deployed pools (deployment table) trading ``ins``'s pair (the ``swap_pools`` hook)."""
        pools = [(f"v2:{pair}", pair.split("/")) for pair in self.table["v2_pairs"]]
        pools += [(f"v3:{key}", key.split(":")[0].split("/")) for key in self.table["v3_pools"]]
        return swap_pool_entries(pools, ins, self.decimals)

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        """USD notional of a swap or deposit at on-chain mid prices; None when a token has no price."""
        if ins.operation == "swap":
            prices = self.usd_prices(ts, [ins.token_in]) if ins.token_in in self.tokens else None
            return None if prices is None else ins.amount_in * prices[ins.token_in]
        if ins.operation == "add_liquidity":
            prices = self.usd_prices(ts, [t for t in ins.amounts if t in self.tokens])
            return None if prices is None else sum((v * prices[t] for t, v in ins.amounts.items() if t in prices),
                                                   _ZERO)
        return None


def _discard() -> Any:
    from web3.logs import DISCARD

    return DISCARD


__all__ = ["LivePool", "UniswapLive"]
