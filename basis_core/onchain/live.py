"""``StakingLive``: the live base of liquid-staking venues with a withdrawal queue (Lido, EtherFi), on
:class:`~basis_core.live.onchain.OnChainLiveBase`.

Each ``stake`` / ``unstake`` is a journaled on-chain intent whose final transaction carries ``{"kind": venue,
"value": wei sent, "step": "plain" | "request" | "claim", ...}``; :meth:`StakingLive.finish_intent` turns its
receipts into deltas (also when a restart resumes it):

- plain (stake, wrap, unwrap): the wallet tokens' ``balanceOf`` differences (exact for rebasing tokens), ETH =
  ETH received (``eth_in``, e.g. unwrapped WETH) - ETH sent (``spent``, else ``value``) - gas;
- request: the queue's ``request_event`` (``(uint256 indexed id, ...)`` with the locked amount first in its
  data) adds ``<venue>:withdrawal:<id>`` = the locked amount; status ``requested``, ``details["request_id"]``;
- claim: the queue's ``claim_event`` (the ETH paid first in its data) pays ETH and removes the request (the
  locked amount is in the context under ``locked_token.lower()``); status ``claimed``.

A subclass sets ``liquid`` (its tokens' rules: ``venue_name`` and ``wallet_symbols`` follow), the two events, and in its
``__init__`` (after :meth:`StakingLive.connect_staking`) ``queue_address`` (the contract emitting them) and
``wrapper`` (the wrapped token's contract: ``wrap`` / ``unwrap``); it implements ``_stake``, ``_request`` and
``_claim`` (wrapping and unwrapping are the base's).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, ClassVar

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ContractRevertError
from basis_core.live.evm import EvmClient, Receipt
from basis_core.live.onchain import OnChainLiveBase, abi_function
from basis_core.live.units import from_base_units, to_base_units
from basis_core.onchain.liquid import LiquidStaking, UnstakeActions

__all__ = ["WETH_ABI", "LendingLive", "StakingLive"]

#: WETH9's ``withdraw`` (WETH -> ETH before staking)
WETH_ABI = [abi_function("withdraw", ["uint256 wad"], [], "nonpayable")]


class StakingLive(UnstakeActions, OnChainLiveBase):
    """The live backend base; see the module docstring."""

    #: the 18-decimal tokens whose balance differences are an operation's deltas (those in ``tokens``)
    wallet_symbols: ClassVar[tuple[str, ...]] = ()
    #: the venue's rebasing and wrapped tokens (the rebasing one is what a withdrawal request locks)
    liquid: ClassVar[LiquidStaking]
    #: event signatures of the queue: a request made, a request claimed
    request_event: ClassVar[str] = ""
    claim_event: ClassVar[str] = ""
    #: the contract emitting the queue's events
    queue_address: str
    #: the wrapped token's contract (``wrap(amount)`` / ``unwrap(amount)``), and WETH's (None without WETH)
    wrapper: Any
    weth: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        liquid = cls.__dict__.get("liquid")
        if liquid is not None:  # the venue's name, and its wallet tokens (WETH when the table has it)
            cls.venue_name = liquid.venue
            cls.wallet_symbols = ("WETH", liquid.rebasing, liquid.wrapped)

    def connect_staking(self, venue: Any, client: EvmClient | None, load_table: Any) -> dict[str, str]:
        """Connect (:meth:`connect`), set the token tables to the deployment's ``wallet_symbols`` (18 decimals) and
        ``weth``; the checksummed addresses of the table's contracts."""
        client = self.connect(venue, client, load_table)
        c = {k: client.checksum(v) for k, v in self.table["contracts"].items()}
        tokens = {k: v for k, v in c.items() if k in self.wallet_symbols}
        self.init_onchain(self.venue_name, client,
                          {**self.table, "tokens": tokens, "decimals": dict.fromkeys(tokens, 18)},
                          venue.settings.options)
        self.weth = client.w3.eth.contract(address=c["WETH"], abi=WETH_ABI) if "WETH" in c else None
        return c

    @property
    def locked_token(self) -> str:
        return self.liquid.rebasing

    def wallet_tokens(self) -> list[str]:
        """The ``wallet_symbols`` of this deployment (WETH is optional)."""
        return [s for s in self.wallet_symbols if s in self.tokens]

    # ------------------------------------------------------------------------------------------ intents
    def stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._stake(ts, ins))

    def unstake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self.unstake_action(ts, ins))

    def _stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        raise NotImplementedError

    def wrap(self, ts: Any, ins: Any) -> ExecutionDeltas:
        """Wrap ``ins.amount`` of the rebasing token (approved to the wrapper first)."""
        amt = to_base_units(ins.amount, 18)
        self.check_balance(self.liquid.rebasing, amt)
        receipts = self.approve(self.liquid.rebasing, self.wrapper.address, amt)
        return self.send_final(ts, ins, receipts, self.wrapper.functions.wrap(amt))

    def _unwrap(self, ts: Any, ins: Any) -> ExecutionDeltas:
        self.liquid.check_unwrap(ins)
        amt = to_base_units(ins.amount, 18)
        self.check_balance(self.liquid.wrapped, amt)
        return self.send_final(ts, ins, [], self.wrapper.functions.unwrap(amt))

    def eth_for(self, asset: str, amt: int, receipts: list[Receipt]) -> int:
        """Staking ``amt`` wei of ``asset``: WETH is withdrawn to ETH first (its receipt added to ``receipts``); the
        ETH that brought in (0 for ETH)."""
        if asset != "WETH":
            return 0
        assert self.weth is not None
        receipts.append(self.send(self.weth.functions.withdraw(amt)))
        return amt

    # ------------------------------------------------------------------------------------------ deltas
    def finish_intent(self, ts: Any, ins: Any, receipts: list[Receipt], ctx: Mapping[str, Any]) -> ExecutionDeltas:
        """Deltas of a stake / wrap / unwrap / withdrawal request / claim from its receipts."""
        step = ctx.get("step", "plain")
        if step == "request":
            return self.request_deltas(ts, ins, receipts)
        if step == "claim":
            return self.claim_deltas(ts, ins, receipts, int(ctx[self.locked_token.lower()]))
        spent = int(ctx.get("spent", ctx["value"]))  # ETH sent by this or an earlier transaction of the intent
        return self.deltas(ins.operation, ts, ins, receipts, value=spent, eth_in=int(ctx.get("eth_in", 0)))

    def deltas(self, op: str, ts: Any, ins: Any, receipts: Sequence[Receipt], value: int = 0, eth_in: int = 0,
               extra: Mapping[str, Decimal] | None = None, status: str = "filled",
               details: dict[str, Any] | None = None) -> ExecutionDeltas:
        """:meth:`chain_deltas` of the wallet tokens' balance differences."""
        return self.chain_deltas(op, ts, ins, receipts, self.balance_moves(receipts, self.wallet_tokens()), extra,
                                 value=value, eth_in=eth_in, status=status, details=details)

    def request_deltas(self, ts: Any, ins: Any, receipts: list[Receipt]) -> ExecutionDeltas:
        events = self.logs(receipts[-1], self.queue_address, self.request_event)
        if not events:
            name = self.request_event.partition("(")[0]
            raise ContractRevertError(f"the withdrawal request emitted no {name} event", tx_hash=receipts[-1].tx_hash)
        topics, data = events[0]
        rid = str(int(topics[1], 16))
        locked = from_base_units(int(data[:64], 16), 18)
        return self.deltas("unstake", ts, ins, receipts, extra={f"{self.venue_name}:withdrawal:{rid}": locked},
                           status="requested",
                           details={"request_id": rid, f"amount_of_{self.locked_token.lower()}": locked})

    def claim_deltas(self, ts: Any, ins: Any, receipts: list[Receipt], locked: int) -> ExecutionDeltas:
        rid = ins.request_id
        receipt = receipts[-1]
        events = self.logs(receipt, self.queue_address, self.claim_event)
        eth = int(events[0][1][:64], 16) if events else 0
        return self.deltas("unstake", ts, ins, [receipt], eth_in=eth,
                           extra={f"{self.venue_name}:withdrawal:{rid}": -from_base_units(locked, 18)},
                           status="claimed", details={"request_id": rid, "amount_of_eth": from_base_units(eth, 18)})

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        return None  # live mode has no ETH price source here


class LendingLive(OnChainLiveBase):
    """The live backend base of a lending venue: ``supply`` / ``withdraw`` / ``borrow`` / ``repay`` and ``atomic`` (a
    bundle through the venue's executor contract) run as journaled on-chain intents of the subclass's ``_supply`` /
    ``_withdraw`` / ``_borrow`` / ``_repay`` / ``_atomic`` (each sends its final transaction with the intent's
    ``final`` context; ``finish_<kind>`` turns the receipts into deltas, also when a restart resumes it)."""

    def supply(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._supply(ts, ins))

    def withdraw(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._withdraw(ts, ins))

    def borrow(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._borrow(ts, ins))

    def repay(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._repay(ts, ins))

    def atomic(self, ts: Any, bundle: Any) -> ExecutionDeltas:
        return self.intent(ts, bundle, lambda: self._atomic(ts, bundle))

    def _supply(self, ts: Any, ins: Any) -> ExecutionDeltas:
        raise NotImplementedError

    def _withdraw(self, ts: Any, ins: Any) -> ExecutionDeltas:
        raise NotImplementedError

    def _borrow(self, ts: Any, ins: Any) -> ExecutionDeltas:
        raise NotImplementedError

    def _repay(self, ts: Any, ins: Any) -> ExecutionDeltas:
        raise NotImplementedError

    def _atomic(self, ts: Any, bundle: Any) -> ExecutionDeltas:
        raise NotImplementedError
