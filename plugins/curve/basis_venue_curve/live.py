"""Live backend of the Curve venue: real transactions through :class:`basis_core.live.evm.EvmClient` (web3).

Imported only in live mode (``make_live_backend``), so a backtest never loads web3.

Swap: ``exchange(i, j, dx, min_dy)`` on the pool. Checked before anything is sent: tokens and pool,
decimals, an expired ``deadline`` (against the latest block: Curve's ``exchange`` takes no deadline, so
this is the only place it is honoured), ``dx`` beyond the pool's balance of the input coin, the wallet
balance, and the slippage bounds against the pool's own ``get_dy`` (SlippageError, nothing sent). The
on-chain ``min_dy`` is the tightest bound given (or ``get_dy`` less ``default_slippage_bps``). Liquidity:
``add_liquidity(amounts, min_mint_amount)`` (``min_lp_out``) and ``remove_liquidity(lp, min_amounts)``.
Approvals ``exact`` / ``unlimited`` to the pool, approve(0) first for ``zero_approval_first`` tokens.

Deltas come from the receipts (ERC20 ``Transfer`` events, LP token included; gas of every transaction in
``ethereum:wallet:ETH``). The fee and the no-impact output come from the pool's state read on chain and
the exact StableSwap math. PnL: stablecoins at 1, ETH (gas) at the manager's market data if it has a data
provider, else the ``eth_usd`` option; without an ETH price the deltas carry no pnl.
"""

from __future__ import annotations

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
from basis_core.data.prices import STABLECOINS, usd_price
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import (
    InstructionError,
    InsufficientFundsError,
    MarketDataError,
    SlippageError,
)
from basis_core.live.bundles import EncodedCall
from basis_core.live.evm import EvmClient, Receipt
from basis_core.live.onchain import client_from_settings
from basis_core.live.swaps import LiveSwaps, zero_prices
from basis_venue_curve.deployment import DEFAULT_ROUTES, load_table
from basis_venue_curve.sim import marginal_rate
from basis_venue_curve.stableswap_math import FEE_DENOMINATOR, StableSwapPool, StableSwapRevert

VENUE = "curve"
LP_DECIMALS = 18
_ZERO = Decimal(0)


def _pool_abi(n: int) -> list[dict[str, Any]]:
    """The subset of a Curve plain pool's ABI used here (outputs omitted: old pools return nothing)."""
    def fn(name: str, inputs: list[tuple[str, str]], outputs: list[str] | None = None,
           mut: str = "nonpayable") -> dict[str, Any]:
        return {"type": "function", "name": name, "stateMutability": mut,
                "inputs": [{"name": a, "type": t} for a, t in inputs],
                "outputs": [{"name": "", "type": t} for t in (outputs or [])]}
    arr = f"uint256[{n}]"
    return [
        fn("exchange", [("i", "int128"), ("j", "int128"), ("dx", "uint256"), ("min_dy", "uint256")]),
        fn("add_liquidity", [("amounts", arr), ("min_mint_amount", "uint256")]),
        fn("remove_liquidity", [("_amount", "uint256"), ("min_amounts", arr)]),
        fn("get_dy", [("i", "int128"), ("j", "int128"), ("dx", "uint256")], ["uint256"], "view"),
        fn("balances", [("i", "uint256")], ["uint256"], "view"),
        fn("A", [], ["uint256"], "view"),
        fn("fee", [], ["uint256"], "view"),
        fn("admin_fee", [], ["uint256"], "view"),
    ]


_SUPPLY_ABI = [{"type": "function", "name": "totalSupply", "stateMutability": "view", "inputs": [],
                "outputs": [{"name": "", "type": "uint256"}]}]


@dataclass(frozen=True, slots=True)
class LiveCurvePool:
    """A deployed pool: name, address, LP token, coins in pool order and their decimals."""

    id: str
    address: str
    lp_token: str
    coins: tuple[str, ...]
    decimals: tuple[int, ...]

    def lp_key(self) -> str:
        return f"{VENUE}:lp:{self.id}"


class CurveLive(LiveSwaps):
    """The live backend (one per venue instance); methods mirror the venue's operations."""

    venue_name = VENUE

    def __init__(self, venue: Any, client: EvmClient | None = None) -> None:
        s = venue.settings
        opts = s.options
        if client is None:
            client = client_from_settings(VENUE, s)
        self.table = load_table(opts.get("deployment_table") or s.deployment)
        self.default_slippage_bps = Decimal(str(opts.get("default_slippage_bps", "50")))
        self.eth_usd = None if opts.get("eth_usd") is None else Decimal(str(opts["eth_usd"]))
        self.data = venue.context.data_provider if venue.context is not None else None
        self.init_onchain(VENUE, client, self.table, opts)
        self.pools: dict[str, LiveCurvePool] = {
            name: LiveCurvePool(name, client.checksum(p["address"]), client.checksum(p["lp_token"]),
                                tuple(p["coins"]), tuple(self.decimals[c] for c in p["coins"]))
            for name, p in self.table["pools"].items()}
        self._contracts: dict[str, Any] = {}
        self.init_intents(VENUE, venue.context)

    def __repr__(self) -> str:
        return f"<CurveLive {self.client!r}>"

    # --------------------------------------------------------------------------------- lookups
    def pool(self, name: str, field: str = "pool") -> LiveCurvePool:
        p = self.pools.get(name)
        if p is None:
            raise InstructionError(field, f"unknown pool {name!r}; deployed: {', '.join(sorted(self.pools))}")
        return p

    def contract(self, p: LiveCurvePool) -> Any:
        c = self._contracts.get(p.id)
        if c is None:
            c = self._contracts[p.id] = self.client.w3.eth.contract(address=p.address, abi=_pool_abi(len(p.coins)))
        return c

    def swap_pool(self, ins: Any) -> LiveCurvePool:
        routes = {pair: name for pair, name in DEFAULT_ROUTES.items() if name in self.pools}
        return resolve_swap_pool(ins, self._token, routes, self.pool, lambda p: p.coins)

    def _token(self, token: str, field: str) -> None:
        if token not in self.tokens:
            raise InstructionError(field, f"unknown token {token!r}; known: {', '.join(sorted(self.tokens))}")

    # --------------------------------------------------------------------------------- chain reads
    def chain_time(self) -> datetime:
        return datetime.fromtimestamp(int(self.client.w3.eth.get_block("latest")["timestamp"]), UTC)

    def state(self, p: LiveCurvePool, block: Any = "latest") -> StableSwapPool:
        """The pool's state read on chain (balances, A, fees, LP supply) as a :class:`StableSwapPool`."""
        c = self.contract(p).functions
        supply = self.client.w3.eth.contract(address=p.lp_token, abi=_SUPPLY_ABI).functions.totalSupply()
        bal = [int(c.balances(i).call(block_identifier=block)) for i in range(len(p.coins))]
        return StableSwapPool.from_decimals(bal, p.decimals, int(c.A().call(block_identifier=block)),
                                            int(c.fee().call(block_identifier=block)),
                                            int(c.admin_fee().call(block_identifier=block)),
                                            int(supply.call(block_identifier=block)))

    def usd_prices(self, ts: Any, tokens: Sequence[str]) -> dict[str, Decimal] | None:
        """Stablecoins at 1; ETH from the manager's market data or the ``eth_usd`` option; None if unknown."""
        out: dict[str, Decimal] = {}
        for t in tokens:
            if t in STABLECOINS:
                out[t] = Decimal(1)
            elif t == "ETH" and self.data is not None:
                try:
                    out[t] = usd_price(self.data.get_data(ts), "ETH")
                except MarketDataError:
                    return None
            elif t == "ETH" and self.eth_usd is not None:
                out[t] = self.eth_usd
            else:
                return None
        return out

    # --------------------------------------------------------------------------------- swaps
    def swap(self, ts: Any, ins: Any, quote: bool = False) -> ExecutionDeltas:
        """Quote with the pool's ``get_dy``, check the bounds, approve, ``exchange``; exact receipt deltas (a
        journaled on-chain intent: :mod:`basis_core.live.chain_intents`)."""
        if quote or ins.quote_only:
            return self._swap(ts, ins, True)
        return self.intent(ts, ins, lambda: self._swap(ts, ins, False))

    def _exchange_quote(self, ins: Any) -> tuple[LiveCurvePool, int, int, int, int, int, Decimal]:
        """(pool, i, j, dx, dy, fee, no-impact output) of a swap, quoted on chain (``get_dy``) and checked."""
        p = self.swap_pool(ins)
        i, j = p.coins.index(ins.token_in), p.coins.index(ins.token_out)
        d_in = p.decimals[i]
        dx = to_units(ins.amount_in, d_in, "amount_in")
        check_deadline(ins.deadline, self.chain_time())
        st = self.state(p)
        if dx > st.balances[i]:
            raise InstructionError("amount_in", f"beyond the pool: {ins.amount_in} {ins.token_in} exceeds its "
                                                f"balance of {from_units(st.balances[i], d_in)}")
        c = self.contract(p)
        dy = int(c.functions.get_dy(i, j, dx).call())
        if dy <= 0:
            raise InstructionError("amount_in", f"too small: {ins.amount_in} {ins.token_in} buys nothing in {p.id}")
        try:
            fee = st.exchange(i, j, dx).fee
        except StableSwapRevert as e:
            raise InstructionError("amount_in", f"beyond the pool: {e}") from None
        mul_in, mul_out = st.precision_mul[i], st.precision_mul[j]
        no_impact = (Decimal(dx * mul_in) * marginal_rate(st, i, j) * (FEE_DENOMINATOR - st.fee) / FEE_DENOMINATOR
                     / mul_out)
        return p, i, j, dx, dy, fee, no_impact

    def encode_call(self, ts: Any, ins: Any, recipient: str) -> EncodedCall:
        """The ``exchange`` call of a swap for an executor contract (it pays and receives: Curve's ``exchange``
        takes from and pays to the caller), with the on-chain minimum of :func:`min_out_units`."""
        p, i, j, dx, dy, _, no_impact = self._exchange_quote(ins)
        min_dy = min_out_units(ins, no_impact, dy, p.decimals[j], self.default_slippage_bps)
        fn = self.contract(p).functions.exchange(i, j, dx, min_dy)
        return EncodedCall(p.address, bytes.fromhex(fn._encode_transaction_data()[2:]), self.tokens[ins.token_in], dx,
                           self.tokens[ins.token_out], min_dy, ins.token_in, ins.token_out, p.decimals[i],
                           p.decimals[j])

    def _swap(self, ts: Any, ins: Any, quote: bool) -> ExecutionDeltas:
        p, i, j, dx, dy, fee, no_impact = self._exchange_quote(ins)
        d_out = p.decimals[j]
        c = self.contract(p)
        fill = SwapFill(p.id, ins.token_in, ins.token_out, ins.amount_in, from_units(dy, d_out),
                        from_units(fee, d_out), ins.token_out, no_impact.scaleb(-d_out))
        prices = self.usd_prices(ts, [ins.token_in, ins.token_out, "ETH"])
        if quote or ins.quote_only:
            units = DEFAULT_GAS_UNITS["swap_curve"]
            gas = GasCost(units, from_units(units * int(self.client.w3.eth.gas_price), 18),
                          (prices or {}).get("ETH", _ZERO))
            q = quote_deltas(VENUE, ts, fill, prices or zero_prices(fill), gas, ins.client_id)
            return q if prices else without_valuation(q)
        check_slippage(ins, fill.amount_out, fill.impact_bps, ins.token_out)
        self.check_balance(ins.token_in, dx, "amount_in")
        min_dy = min_out_units(ins, no_impact, dy, d_out, self.default_slippage_bps)
        return self.send_swap(ts, ins.client_id, fill, p.address, dx, c.functions.exchange(i, j, dx, min_dy))

    # --------------------------------------------------------------------------------- liquidity
    def add_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """``add_liquidity(amounts, min_mint_amount = min_lp_out)``."""
        return self.intent(ts, ins, lambda: self._add_liquidity(ts, ins))

    def _add_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        p = self.pool(ins.pool)
        if ins.tick_lower is not None:
            raise InstructionError("tick_lower", f"{p.id} is a Curve pool: no tick range")
        for tok in ins.amounts:
            if tok not in p.coins:
                raise InstructionError("amounts", f"pool {p.id} holds {', '.join(p.coins)}, not {tok}")
        amounts = [to_units(ins.amounts.get(c, _ZERO), d, "amounts") for c, d in zip(p.coins, p.decimals, strict=True)]
        st = self.state(p)
        try:
            res = st.add_liquidity(amounts)
        except StableSwapRevert as e:
            raise InstructionError("amounts", f"the pool refuses the deposit: {e}") from None
        min_mint = 0
        if ins.min_lp_out is not None:
            min_mint = to_units(ins.min_lp_out, LP_DECIMALS, "min_lp_out")
            if res.lp_amount < min_mint:
                raise SlippageError("min_lp_out", f"would mint {from_units(res.lp_amount, LP_DECIMALS)} LP tokens, "
                                                  f"below min_lp_out {ins.min_lp_out}")
        for c, a in zip(p.coins, amounts, strict=True):
            if a:
                self.check_balance(c, a, "amounts")
        receipts: list[Receipt] = []
        for c, a in zip(p.coins, amounts, strict=True):
            if a:
                receipts += self.approve(c, p.address, a)
        main = self.client.send(self.contract(p).functions.add_liquidity(amounts, min_mint))
        fees = {c: from_units(f, d) for c, f, d in zip(p.coins, res.fees, p.decimals, strict=True) if f}
        return self._lp_result(ts, ins, p, "add_liquidity", [*receipts, main], main, fees)

    def remove_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """``remove_liquidity(lp, min_amounts)``: a pro-rata share of every coin."""
        return self.intent(ts, ins, lambda: self._remove_liquidity(ts, ins))

    def _remove_liquidity(self, ts: Any, ins: Any) -> ExecutionDeltas:
        p = self.pool(ins.pool)
        if ins.position_id is not None:
            raise InstructionError("position_id", f"{p.id} is a Curve pool: it has LP tokens, not positions")
        mins = dict(ins.min_amounts or {})
        for tok in mins:
            if tok not in p.coins:
                raise InstructionError("min_amounts", f"pool {p.id} holds {', '.join(p.coins)}, not {tok}")
        held = self.client.balance_of(p.lp_token)
        burn = held if ins.lp_amount in (None, "max") else to_units(ins.lp_amount, LP_DECIMALS, "lp_amount")
        if held <= 0 or burn > held:
            raise InsufficientFundsError(p.lp_key(), from_units(burn, LP_DECIMALS), from_units(held, LP_DECIMALS),
                                         "lp_amount")
        min_units = [to_units(mins.get(c, _ZERO), d, "min_amounts") for c, d in zip(p.coins, p.decimals, strict=True)]
        st = self.state(p)
        expect = [b * burn // st.lp_supply for b in st.balances]
        if any(e < m for e, m in zip(expect, min_units, strict=True)):
            raise SlippageError("min_amounts", f"would return {expect} base units, below min_amounts {min_units}")
        main = self.client.send(self.contract(p).functions.remove_liquidity(burn, min_units))
        return self._lp_result(ts, ins, p, "remove_liquidity", [main], main)

    def _lp_result(self, ts: Any, ins: Any, p: LiveCurvePool, op: str, receipts: list[Receipt],
                   main: Receipt, imbalance_fees: Mapping[str, Decimal] | None = None) -> ExecutionDeltas:
        """Deltas from the receipt; ``imbalance_fees`` (coin -> amount, from the pool model before sending)
        are reported as ``trading_fees``."""
        tokens = self.token_deltas([main], p.coins)
        lp = from_units(self.client.transfer_deltas(main, [p.lp_token])[p.lp_token], LP_DECIMALS)
        prices = self.usd_prices(ts, [*p.coins, "ETH"])
        px = prices or dict.fromkeys((*p.coins, "ETH"), _ZERO)
        after = self.state(p, main.block_number)
        value = sum((from_units(b, d) * px[c] for b, d, c in zip(after.balances, p.decimals, p.coins, strict=True)),
                    _ZERO)
        lp_price = value / from_units(after.lp_supply, LP_DECIMALS) if after.lp_supply else _ZERO
        gas = self.gas_paid(receipts, prices)
        details: dict[str, Any] = {"pool": p.id, "tx_hash": main.tx_hash, "block_number": main.block_number,
                                   "gas_used": gas.units,
                                   "approval_tx_hashes": [r.tx_hash for r in receipts if r is not main]}
        fees_usd = _ZERO
        if imbalance_fees:
            details["imbalance_fees"] = dict(imbalance_fees)
            fees_usd = -sum((v * px[c] for c, v in imbalance_fees.items()), _ZERO)
        d = liquidity_deltas(VENUE, op, ts, {c: v for c, v in tokens.items() if v}, p.lp_key(), lp, lp_price, px,
                             gas, fees_usd=fees_usd, client_id=ins.client_id, details=details, order_id=main.tx_hash)
        return d if prices else without_valuation(d)

    # --------------------------------------------------------------------------------- queries
    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet tokens, ETH and LP tokens of the account, read on chain."""
        c = self.client
        out = {wallet_key("ETH"): from_units(c.eth_balance(), 18)}
        for sym, addr in self.tokens.items():
            out[wallet_key(sym)] = from_units(c.balance_of(addr), self.decimals[sym])
        for p in self.pools.values():
            bal = c.balance_of(p.lp_token)
            if bal:
                out[p.lp_key()] = from_units(bal, LP_DECIMALS)
        return out

    def swap_pools(self, ts: Any, ins: Any) -> list[dict[str, Any]]:
        """The deployed pools (deployment table) trading ``ins``'s pair (the ``swap_pools`` hook)."""
        return swap_pool_entries(((p.id, p.coins) for p in self.pools.values()), ins, self.decimals)

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        """USD notional of a swap or deposit (stablecoins at 1); None otherwise."""
        if ins.operation == "swap":
            return ins.amount_in if ins.token_in in STABLECOINS else None  # type: ignore[no-any-return]
        if ins.operation == "add_liquidity" and all(t in STABLECOINS for t in ins.amounts):
            return sum(ins.amounts.values(), _ZERO)
        return None


__all__ = ["CurveLive", "LiveCurvePool"]
