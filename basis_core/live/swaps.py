"""The live swap flow shared by the AMM venues' backends (Uniswap, Curve).

A swap is approved (under the input token's lock in ``exact`` approval mode, so concurrent
instructions cannot consume each other's allowance), submitted **once**, remembered by transaction
hash in ``pending_swaps``, and waited for. Its deltas come from the receipt: the tokens that actually
moved (``Transfer`` events) and the gas every transaction paid (approvals included). When the receipt
does not arrive in time, :class:`~basis_core.errors.TransactionTimeoutError` carries the hash and the
swap stays pending: :meth:`LiveSwaps.resume` waits again and returns the deltas once mined; nothing is
ever re-sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from basis_core.backtest.dex import SwapFill, swap_deltas, without_valuation
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import TransactionTimeoutError
from basis_core.live.evm import Receipt
from basis_core.live.onchain import OnChainLiveBase

_ZERO = Decimal(0)

__all__ = ["LiveSwaps", "PendingSwap", "zero_prices"]


@dataclass(frozen=True, slots=True)
class PendingSwap:
    """What turns a swap's receipt into deltas when it arrives late: the quoted fill, the approvals sent
    for it, the instruction's timestamp and client id."""

    fill: SwapFill
    approvals: list[Receipt]
    timestamp: Any
    client_id: str | None


def zero_prices(fill: SwapFill) -> dict[str, Decimal]:
    """Zero USD prices for a fill's tokens and ETH (deltas built with them are then stripped of valuation)."""
    return dict.fromkeys((fill.token_in, fill.token_out, "ETH"), _ZERO)


class LiveSwaps(OnChainLiveBase):
    """:class:`OnChainLiveBase` plus the swap flow of the module docstring. Subclasses set ``venue_name``,
    create ``pending_swaps = {}`` and implement :meth:`usd_prices`."""

    venue_name: str
    pending_swaps: dict[str, PendingSwap]

    def usd_prices(self, ts: Any, tokens: Sequence[str]) -> dict[str, Decimal] | None:
        """USD price of each token at ``ts``, or None when one is unknown (the deltas are then not valued)."""
        raise NotImplementedError

    def send_swap(self, ts: Any, client_id: str | None, fill: SwapFill, spender: str, amount: int,
                  fn: Any) -> ExecutionDeltas:
        """Approve ``spender`` for ``amount`` base units of ``fill.token_in``, submit the contract call ``fn``
        once and return the receipt's exact deltas (TransactionTimeoutError: pending, see :meth:`resume`)."""
        lock = self.token_lock(fill.token_in) if self.approval_mode == "exact" else None
        if lock is not None:
            lock.acquire()
        try:
            approvals = self.approve(fill.token_in, spender, amount)
            pending = self.client.submit(fn)
            self.pending_swaps[pending.tx_hash] = PendingSwap(fill, approvals, ts, client_id)
            try:
                receipt = self.client.resume(pending.tx_hash)
            except TransactionTimeoutError:
                raise  # stays pending: resume() finishes it
            except BaseException:
                self.pending_swaps.pop(pending.tx_hash, None)
                raise
        finally:
            if lock is not None:
                lock.release()
        return self._swap_result(pending.tx_hash, receipt)

    def resume(self, tx_hash: str, timeout: float | None = None) -> ExecutionDeltas:
        """Wait again for a swap whose receipt timed out (tracked by hash and nonce); its deltas once mined
        (never re-sent)."""
        return self._swap_result(tx_hash, self.client.resume(tx_hash, timeout))

    def _swap_result(self, tx_hash: str, receipt: Receipt) -> ExecutionDeltas:
        ctx = self.pending_swaps.pop(tx_hash)
        f = ctx.fill
        moved = self.token_deltas([receipt], [f.token_in, f.token_out])
        fill = SwapFill(f.pool, f.token_in, f.token_out, -moved[f.token_in], moved[f.token_out], f.fee, f.fee_token,
                        f.no_impact_out)
        prices = self.usd_prices(ctx.timestamp, [f.token_in, f.token_out, "ETH"])
        gas = self.gas_paid([*ctx.approvals, receipt], prices)
        extra = {"tx_hash": tx_hash, "block_number": receipt.block_number, "nonce": receipt.nonce,
                 "approval_tx_hashes": [r.tx_hash for r in ctx.approvals], "gas_used": gas.units}
        d = swap_deltas(self.venue_name, ctx.timestamp, fill, prices or zero_prices(fill), gas, ctx.client_id, extra,
                        tx_hash)
        return d if prices else without_valuation(d)
