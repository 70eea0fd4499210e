"""Steps of one venue run inside another venue's atomic executor: the public surface between them.

An executor venue (e.g. Aave's flash-loan executor contract) runs its own steps natively; for a step of another
venue (a Uniswap or Curve swap) it asks the core, through ``VenueContext.encode_call(timestamp, step,
recipient)``, which calls the ``encode_call`` hook of the step's venue. That venue answers with an
:class:`EncodedCall`: the contract call that performs the step for an executor contract at ``recipient`` (which
holds the input and receives the output). No plugin imports another; the core names neither.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["EncodedCall"]


@dataclass(frozen=True)
class EncodedCall:
    """One contract call performing a step, for an executor contract.

    ``target``: the contract to call (also the spender of the input); ``data``: the calldata; ``token_in`` /
    ``amount_in``: the ERC20 and base units the executor must hold and approve to ``target`` before the call
    (amount 0: none); ``token_out``: the ERC20 the call pays to the executor (``recipient``); ``min_out``: the
    minimum output the call enforces on chain; ``symbol_in`` / ``symbol_out`` and ``decimals_in`` /
    ``decimals_out``: the tokens' symbols and decimals (for the deltas).
    """

    target: str
    data: bytes
    token_in: str
    amount_in: int
    token_out: str
    min_out: int
    symbol_in: str
    symbol_out: str
    decimals_in: int
    decimals_out: int
