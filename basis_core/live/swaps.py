"""The live swap flow shared by the AMM venues' backends (Uniswap, Curve).

A swap runs as a journaled on-chain intent (:mod:`basis_core.live.chain_intents`): approved (under the input
token's lock in ``exact`` approval mode, so concurrent instructions cannot consume each other's allowance),
the swap transaction journaled (signed bytes, hash, nonce, and the quoted fill as its ``final`` context)
before it is broadcast, then waited for. Its deltas come from the receipts (:meth:`LiveSwaps.finish_swap`):
the tokens that actually moved (``Transfer`` events) and the gas every transaction paid (approvals
included). When the receipt does not arrive in time (or the node stalls),
:class:`~basis_core.errors.TransactionTimeoutError` carries the hash and nonce and the intent stays pending:
re-issuing the instruction (same ``client_id``), or a restarted manager, resumes it by hash; nothing is ever
signed again with a new nonce.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from basis_core.backtest.dex import SwapFill, swap_deltas, without_valuation
from basis_core.deltas import ExecutionDeltas
from basis_core.live.evm import Receipt
from basis_core.live.onchain import OnChainLiveBase

_ZERO = Decimal(0)

__all__ = ["LiveSwaps", "fill_from_json", "fill_to_json", "zero_prices"]

_FILL_FIELDS = ("pool", "token_in", "token_out", "amount_in", "amount_out", "fee", "fee_token", "no_impact_out")


def fill_to_json(f: SwapFill) -> dict[str, str]:
    """A fill as JSON strings (exact Decimals)."""
    return {k: str(getattr(f, k)) for k in _FILL_FIELDS}


def fill_from_json(d: Mapping[str, Any]) -> SwapFill:
    """:func:`fill_to_json` inverted."""
    return SwapFill(d["pool"], d["token_in"], d["token_out"], Decimal(d["amount_in"]), Decimal(d["amount_out"]),
                    Decimal(d["fee"]), d["fee_token"], Decimal(d["no_impact_out"]))


def zero_prices(fill: SwapFill) -> dict[str, Decimal]:
    """Zero USD prices for a fill's tokens and ETH (deltas built with them are then stripped of valuation)."""
    return dict.fromkeys((fill.token_in, fill.token_out, "ETH"), _ZERO)


class LiveSwaps(OnChainLiveBase):
    """:class:`OnChainLiveBase` plus the swap flow of the module docstring. Subclasses set ``venue_name``,
    call ``init_intents`` and implement :meth:`usd_prices`."""

    venue_name: str

    def usd_prices(self, ts: Any, tokens: Sequence[str]) -> dict[str, Decimal] | None:
        """USD price of each token at ``ts``, or None when one is unknown (the deltas are then not valued)."""
        raise NotImplementedError

    def send_swap(self, ts: Any, client_id: str | None, fill: SwapFill, spender: str, amount: int,
                  fn: Any) -> ExecutionDeltas:
        """Approve ``spender`` for ``amount`` base units of ``fill.token_in``, send the contract call ``fn`` once
        (journaled as the intent's final transaction) and return the receipts' exact deltas. Call it inside
        :meth:`intent` (TransactionTimeoutError: pending, resumed by re-issuing the instruction)."""
        lock = self.token_lock(fill.token_in) if self.approval_mode == "exact" else None
        if lock is not None:
            lock.acquire()
        try:
            approvals = self.approve(fill.token_in, spender, amount)
            ctx = {"kind": "swap", "fill": fill_to_json(fill), "client_id": client_id}
            receipt = self.client.send(fn, final=ctx)
        finally:
            if lock is not None:
                lock.release()
        return self.finish_swap(ts, None, [*approvals, receipt], ctx)

    def finish_swap(self, ts: Any, ins: Any, receipts: list[Receipt], ctx: Mapping[str, Any]) -> ExecutionDeltas:
        """A swap's deltas: the last receipt is the swap, the others its approvals (gas)."""
        f = fill_from_json(ctx["fill"])
        receipt, approvals = receipts[-1], receipts[:-1]
        tx_hash = receipt.tx_hash
        moved = self.token_deltas([receipt], [f.token_in, f.token_out])
        fill = SwapFill(f.pool, f.token_in, f.token_out, -moved[f.token_in], moved[f.token_out], f.fee, f.fee_token,
                        f.no_impact_out)
        prices = self.usd_prices(ts, [f.token_in, f.token_out, "ETH"])
        gas = self.gas_paid(receipts, prices)
        extra = {"tx_hash": tx_hash, "block_number": receipt.block_number, "nonce": receipt.nonce,
                 "approval_tx_hashes": [r.tx_hash for r in approvals], "gas_used": gas.units}
        d = swap_deltas(self.venue_name, ts, fill, prices or zero_prices(fill), gas, ctx.get("client_id"), extra,
                        tx_hash)
        return d if prices else without_valuation(d)
