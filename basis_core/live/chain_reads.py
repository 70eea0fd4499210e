"""Read-only chain access for the on-chain venues' live market data (``live_market_data`` hook).

:func:`chain_reader` gives a venue's hook a :class:`ChainReader` for its ``rpc_url`` (kept in the hook's
``context.state``; no key, nothing is ever sent). A venue prepares its calls once (:meth:`ChainReader.call`:
the contract function's calldata is encoded then) and each step :meth:`ChainReader.read` sends the latest block
and every call as ONE JSON-RPC batch (one round trip, ``eth_call`` at that block's number), decoding the answers
with the functions' ABI. :func:`gas_value` turns the block's base fee and the node's priority fee into the
backtest's ``gas`` series (gwei). :func:`from_units` and :func:`ray` convert the contracts' integers exactly.
web3 is imported when a reader is first built.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from basis_core.errors import ConfigError, MarketDataError, bounded

__all__ = ["Block", "Call", "ChainReader", "chain_reader", "from_units", "gas_value", "ray"]

_NS = 1_000_000_000
_GWEI = Decimal(10) ** 9
_RAY = Decimal(10) ** 27


def from_units(value: int, decimals: int) -> Decimal:
    """An integer amount of base units as an exact Decimal of token units."""
    return Decimal(int(value)).scaleb(-decimals)


def ray(value: int) -> Decimal:
    """A ray (1e27 fixed point: Aave indices and rates) as an exact Decimal."""
    return Decimal(int(value)) / _RAY


@dataclass(frozen=True, slots=True)
class Block:
    """The block a step's reads were made at: ``number``, ``time_ns`` (its timestamp, UTC ns), ``base_fee_wei``."""

    number: int
    time_ns: int
    base_fee_wei: int


@dataclass(frozen=True, slots=True)
class Call:
    """A prepared ``eth_call``: target address, calldata (hex) and the output ABI types to decode."""

    to: str
    data: str
    outputs: tuple[str, ...]


class ChainReader:
    """Batched, read-only calls to one node (``rpc_url``), each request bounded by ``timeout_s``."""

    def __init__(self, rpc_url: str, timeout_s: float) -> None:
        from web3 import Web3

        self.w3: Any = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s},
                                              cache_allowed_requests=True))
        self._contracts: dict[tuple[str, int], Any] = {}

    def contract(self, address: str, abi: Sequence[dict[str, Any]]) -> Any:
        """A web3 contract object for ``address`` (cached per address and ABI)."""
        key = (address.lower(), id(abi))
        c = self._contracts.get(key)
        if c is None:
            c = self._contracts[key] = self.w3.eth.contract(address=self.w3.to_checksum_address(address), abi=abi)
        return c

    @staticmethod
    def call(fn: Any) -> Call:
        """Prepare a bound contract function (``contract.functions.f(args)``) for :meth:`read`."""
        from eth_utils.abi import get_abi_output_types

        return Call(str(fn.address), str(fn._encode_transaction_data()), tuple(get_abi_output_types(fn.abi)))

    def read(self, calls: Sequence[Call], *, priority_fee: bool = False) -> tuple[Block, list[Any], int | None]:
        """``(latest block, the decoded result of each call, the node's priority fee in wei or None)`` from one
        JSON-RPC batch; a call with one output gives that value, with several a tuple. Raises
        :class:`~basis_core.errors.MarketDataError` for an error answer (a reverted call); transport errors
        propagate (the provider names the venue)."""
        from eth_abi import decode

        batch: list[tuple[Any, Any]] = [("eth_getBlockByNumber", ["latest", False])]
        if priority_fee:
            batch.append(("eth_maxPriorityFeePerGas", []))
        batch += [("eth_call", [{"to": c.to, "data": c.data}, "latest"]) for c in calls]
        answers = self.w3.provider.make_batch_request(batch)
        if not isinstance(answers, list):
            raise MarketDataError(f"the node answered the batch with {bounded(str(answers), 300)}")
        answers = sorted(answers, key=lambda a: a.get("id") or 0)
        values = []
        for (method, _params), a in zip(batch, answers, strict=True):
            if "error" in a or a.get("result") is None:
                raise MarketDataError(f"{method} failed: {bounded(str(a.get('error')), 300)}")
            values.append(a["result"])
        head = values.pop(0)
        fee = int(values.pop(0), 16) if priority_fee else None
        base = head.get("baseFeePerGas")
        block = Block(int(head["number"], 16), int(head["timestamp"], 16) * _NS, int(base, 16) if base else 0)
        out = []
        for c, raw in zip(calls, values, strict=True):
            got = decode(c.outputs, bytes.fromhex(raw.removeprefix("0x")))
            out.append(got[0] if len(got) == 1 else tuple(got))
        return block, out, fee


def chain_reader(context: Any) -> ChainReader:
    """The hook context's :class:`ChainReader` (made on first use from ``context.settings.rpc_url``)."""
    reader: ChainReader | None = context.state.get("chain_reader")
    if reader is None:
        url = context.settings.rpc_url
        if not url:
            raise ConfigError(f"venue_config.{context.venue}.rpc_url: required for live market data")
        reader = context.state["chain_reader"] = ChainReader(str(url), context.timeout_s)
    return reader


def gas_value(block: Block, priority_fee_wei: int) -> Any:
    """The ``gas`` series' row (``base_fee_gwei``, ``priority_fee_gwei``, ``gas_price_gwei`` = their sum), as of
    the block's time."""
    from basis_core.live.market_data import LiveValue

    base = Decimal(block.base_fee_wei) / _GWEI
    prio = Decimal(priority_fee_wei) / _GWEI
    return LiveValue({"base_fee_gwei": base, "priority_fee_gwei": prio, "gas_price_gwei": base + prio},
                     block.time_ns)
