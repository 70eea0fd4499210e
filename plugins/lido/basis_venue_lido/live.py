"""Live backend of the Lido venue: real transactions through :class:`basis_core.live.evm.EvmClient` (web3).

Imported only in live mode. Lido's ABI: ``stETH.submit(referral)`` (ETH -> stETH), ETH sent to ``wstETH``
(its ``receive`` stakes and wraps: ETH -> wstETH), ``wstETH.wrap`` / ``unwrap``,
``WithdrawalQueue.requestWithdrawals(amounts, owner)`` / ``requestWithdrawalsWstETH``,
``getWithdrawalStatus``, ``claimWithdrawal``, ``getWithdrawalRequests``. ``Stake(asset="WETH")`` sends
``WETH.withdraw`` first (the table's ``WETH``).

Deployment table (option ``deployment_table`` or ``deployment`` = "mainnet" / a JSON path)::

    {"chain_id": 1, "contracts": {"stETH": "0x...", "wstETH": "0x...", "WithdrawalQueue": "0x...", "WETH": "0x..."}}

or the flat ``LidoWorld.deployment_table()`` (``{"stETH": ..., "wstETH": ..., "WithdrawalQueue": ...}``).

Deltas: WETH / stETH / wstETH as ``balanceOf`` after the last transaction minus before the first (exact also
for the rebasing stETH, whose balance moves by a wei of share rounding without a Transfer event); ETH = -value
- gas (+ the claim's ``WithdrawalClaimed.amountOfETH``); a request adds ``lido:withdrawal:<id>`` = its
``amountOfStETH`` (from ``WithdrawalRequested``), a claim removes it.
Claiming a request that is not finalised (or unknown, or claimed) raises an InstructionError naming
``request_id`` before anything is sent. Approvals: ``approval_mode`` exact (default) or unlimited.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import InstructionError
from basis_core.live.evm import EvmClient, Receipt
from basis_core.live.onchain import abi_function as _fn
from basis_core.live.onchain import contracts_table
from basis_core.live.units import from_base_units, to_base_units
from basis_core.onchain.live import StakingLive
from basis_venue_lido.rates import MAX_STETH_WITHDRAWAL_AMOUNT, MIN_STETH_WITHDRAWAL_AMOUNT
from basis_venue_lido.venue import LIDO

VENUE = "lido"
CONTRACTS = ("stETH", "wstETH", "WithdrawalQueue", "WETH")


STETH_ABI = [_fn("submit", ["address _referral"], ["uint256"], "payable"),
             _fn("balanceOf", ["address _account"], ["uint256"]),
             _fn("approve", ["address _spender", "uint256 _amount"], ["bool"], "nonpayable")]
WSTETH_ABI = [_fn("wrap", ["uint256 _stETHAmount"], ["uint256"], "nonpayable"),
              _fn("unwrap", ["uint256 _wstETHAmount"], ["uint256"], "nonpayable"),
              _fn("stEthPerToken", [], ["uint256"]),
              _fn("getStETHByWstETH", ["uint256 _wstETHAmount"], ["uint256"])]
_STATUS = {"name": "statuses", "type": "tuple[]", "components": [
    {"name": "amountOfStETH", "type": "uint256"}, {"name": "amountOfShares", "type": "uint256"},
    {"name": "owner", "type": "address"}, {"name": "timestamp", "type": "uint256"},
    {"name": "isFinalized", "type": "bool"}, {"name": "isClaimed", "type": "bool"}]}
QUEUE_ABI = [
    _fn("requestWithdrawals", ["uint256[] _amounts", "address _owner"], ["uint256[] requestIds"], "nonpayable"),
    _fn("requestWithdrawalsWstETH", ["uint256[] _amounts", "address _owner"], ["uint256[] requestIds"],
        "nonpayable"),
    _fn("claimWithdrawal", ["uint256 _requestId"], [], "nonpayable"),
    _fn("getWithdrawalStatus", ["uint256[] _requestIds"], [_STATUS]),
    _fn("getWithdrawalRequests", ["address _owner"], ["uint256[] requestsIds"]),
    _fn("getLastRequestId", [], ["uint256"]),
]
WITHDRAWAL_REQUESTED = "WithdrawalRequested(uint256,address,address,uint256,uint256)"
WITHDRAWAL_CLAIMED = "WithdrawalClaimed(uint256,address,address,uint256)"


def load_table(deployment: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A validated table from "mainnet", a JSON path or a mapping (nested or flat, see the module doc)."""
    return contracts_table(deployment, "basis_venue_lido", CONTRACTS, CONTRACTS[:3])


class LidoLive(StakingLive):
    """The live backend (one per venue instance); methods mirror the venue's operations."""

    refusals = ("BALANCE_EXCEEDED", "ALLOWANCE_EXCEEDED")
    liquid = LIDO
    request_event = WITHDRAWAL_REQUESTED
    claim_event = WITHDRAWAL_CLAIMED

    def __init__(self, venue: Any, client: EvmClient | None = None) -> None:
        c = self.connect_staking(venue, client, load_table)
        w3 = self.client.w3
        self.steth = w3.eth.contract(address=c["stETH"], abi=STETH_ABI)
        self.wsteth = self.wrapper = w3.eth.contract(address=c["wstETH"], abi=WSTETH_ABI)
        self.queue = w3.eth.contract(address=c["WithdrawalQueue"], abi=QUEUE_ABI)
        self.queue_address = c["WithdrawalQueue"]
        self.init_intents(VENUE, venue.context)

    # ------------------------------------------------------------------------------------------ stake / wrap
    def _stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset, receive = ins.asset, ins.receive
        if self.liquid.check_stake(ins):
            return self.wrap(ts, ins)
        amt = to_base_units(ins.amount, 18)
        self.check_balance(asset, amt)
        receipts: list[Receipt] = []
        eth_in = self.eth_for(asset, amt, receipts)
        if receive == "wstETH":
            return self.send_final(ts, ins, receipts, {"to": self.wsteth.address, "data": "0x"}, amt, eth_in=eth_in)
        return self.send_final(ts, ins, receipts, self.steth.functions.submit("0x" + "00" * 20), amt, eth_in=eth_in)

    # ------------------------------------------------------------------------------------------ unstake
    def _request(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        self.liquid.check_request(ins)
        amt = to_base_units(ins.amount, 18)
        steth = amt if asset == "stETH" else int(self.wsteth.functions.getStETHByWstETH(amt).call())
        if steth < MIN_STETH_WITHDRAWAL_AMOUNT or steth > MAX_STETH_WITHDRAWAL_AMOUNT:
            raise InstructionError("amount", "a withdrawal request takes 100 wei .. 1000 stETH (split larger ones)")
        self.check_balance(asset, amt)
        receipts = self.approve(asset, self.queue.address, amt)
        fn = (self.queue.functions.requestWithdrawals if asset == "stETH"
              else self.queue.functions.requestWithdrawalsWstETH)([amt], self.me)
        return self.send_final(ts, ins, receipts, fn, step="request")

    def status(self, request_id: str) -> tuple[int, int, str, int, bool, bool]:
        """``getWithdrawalStatus`` of one request (InstructionError naming request_id if unknown)."""
        try:
            rid = int(request_id)
        except ValueError:
            raise InstructionError("request_id", f"withdrawal request ids are integers, got {request_id!r}") from None
        if rid <= 0 or rid > int(self.queue.functions.getLastRequestId().call()):
            raise InstructionError("request_id", f"no withdrawal request {request_id!r}")
        return tuple(self.queue.functions.getWithdrawalStatus([rid]).call()[0])  # type: ignore[return-value]

    def _claim(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.asset not in ("stETH", "wstETH"):
            raise InstructionError("asset", f"withdrawals are in stETH or wstETH, not {ins.asset!r}")
        rid = ins.request_id
        steth, _, owner, _, finalized, claimed = self.status(rid)
        if str(owner).lower() != self.me.lower():
            raise InstructionError("request_id", f"withdrawal request {rid} belongs to another account")
        if claimed:
            raise InstructionError("request_id", f"withdrawal request {rid} is already claimed")
        if not finalized:
            raise InstructionError("request_id", f"withdrawal request {rid} is not finalised yet; claim it later")
        return self.send_final(ts, ins, [], self.queue.functions.claimWithdrawal(int(rid)), step="claim",
                               steth=int(steth))

    # ------------------------------------------------------------------------------------------ queries
    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        out = self.wallet_balances(self.wallet_tokens())
        out[f"{VENUE}:metric:steth_per_wsteth"] = from_base_units(int(self.wsteth.functions.stEthPerToken().call()), 18)
        ids = [int(i) for i in self.queue.functions.getWithdrawalRequests(self.me).call()]
        if ids:
            for rid, st in zip(ids, self.queue.functions.getWithdrawalStatus(ids).call(), strict=True):
                out[f"{VENUE}:withdrawal:{rid}"] = from_base_units(int(st[0]), 18)
                out[f"{VENUE}:metric:claimable:{rid}"] = Decimal(1 if st[4] and not st[5] else 0)
        return out


__all__ = ["LidoLive", "load_table"]
