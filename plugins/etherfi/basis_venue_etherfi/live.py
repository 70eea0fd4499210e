"""Live backend of the EtherFi venue: real transactions through :class:`basis_core.live.evm.EvmClient` (web3).

Imported only in live mode. EtherFi's ABI (etherfi-protocol/smart-contracts): ``LiquidityPool.deposit()``
(ETH -> eETH), ``LiquidityPool.requestWithdraw(recipient, amount)`` (eETH approved to the pool; mints a
WithdrawRequestNFT), ``WeETH.wrap`` / ``unwrap`` / ``getRate``, ``WithdrawRequestNFT.claimWithdraw(tokenId)``,
``isFinalized``, ``getRequest``, ``ownerOf``, ``nextRequestId``. ``Stake(asset="WETH")`` sends ``WETH.withdraw``
first (the table's ``WETH``); ETH -> weETH is ``deposit``, ``approve`` and ``wrap``; a weETH request is
``unwrap`` then ``requestWithdraw`` of the eETH received.

Deployment table (option ``deployment_table`` or ``deployment`` = "mainnet" / a JSON path)::

    {"chain_id": 1, "contracts": {"LiquidityPool": "0x...", "eETH": "0x...", "weETH": "0x...",
                                  "WithdrawRequestNFT": "0x...", "WETH": "0x..."}}

or the flat ``EtherFiWorld.deployment_table()``.

Deltas: WETH / eETH / weETH as ``balanceOf`` after the last transaction minus before the first (exact for the
rebasing eETH too); ETH = -value - gas (+ the claim's ``WithdrawRequestClaimed.amountOfEEth``, the ETH paid); a
request adds ``etherfi:withdrawal:<id>`` = its ``amountOfEEth`` (``WithdrawRequestCreated``), a claim removes it.
Claiming a request that is not finalized (or unknown, or someone else's) raises an InstructionError naming
``request_id`` before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import InstructionError
from basis_core.live.evm import EvmClient, Receipt
from basis_core.live.onchain import abi_function as _fn
from basis_core.live.onchain import contracts_table, event_topic, hex_str
from basis_core.live.units import from_base_units, to_base_units
from basis_core.onchain.live import StakingLive
from basis_venue_etherfi.rates import MAX_REQUEST
from basis_venue_etherfi.venue import ETHERFI

VENUE = "etherfi"
CONTRACTS = ("LiquidityPool", "eETH", "weETH", "WithdrawRequestNFT", "WETH")


POOL_ABI = [_fn("deposit", [], ["uint256"], "payable"),
            _fn("requestWithdraw", ["address recipient", "uint256 amount"], ["uint256"], "nonpayable"),
            _fn("sharesForAmount", ["uint256 _amount"], ["uint256"]),
            _fn("amountForShare", ["uint256 _share"], ["uint256"]),
            _fn("getTotalPooledEther", [], ["uint256"])]
WEETH_ABI = [_fn("wrap", ["uint256 _eETHAmount"], ["uint256"], "nonpayable"),
             _fn("unwrap", ["uint256 _weETHAmount"], ["uint256"], "nonpayable"),
             _fn("getRate", [], ["uint256"]),
             _fn("getEETHByWeETH", ["uint256 _weETHAmount"], ["uint256"])]
_REQUEST = {"name": "", "type": "tuple", "components": [
    {"name": "amountOfEEth", "type": "uint96"}, {"name": "shareOfEEth", "type": "uint96"},
    {"name": "isValid", "type": "bool"}, {"name": "feeGwei", "type": "uint32"}]}
NFT_ABI = [_fn("claimWithdraw", ["uint256 tokenId"], [], "nonpayable"),
           _fn("getRequest", ["uint256 requestId"], [_REQUEST]),
           _fn("isFinalized", ["uint256 requestId"], ["bool"]),
           _fn("getClaimableAmount", ["uint256 tokenId"], ["uint256"]),
           _fn("ownerOf", ["uint256 tokenId"], ["address"]),
           _fn("nextRequestId", [], ["uint32"]),
           _fn("lastFinalizedRequestId", [], ["uint32"])]
REQUEST_CREATED = "WithdrawRequestCreated(uint32,uint256,uint256,address)"
REQUEST_CLAIMED = "WithdrawRequestClaimed(uint32,uint256,uint256,address)"
NFT_TRANSFER = "Transfer(address,address,uint256)"


def load_table(deployment: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A validated table from "mainnet", a JSON path or a mapping (nested or flat, see the module doc)."""
    return contracts_table(deployment, "basis_venue_etherfi", CONTRACTS, CONTRACTS[:4])


class EtherFiLive(StakingLive):
    """The live backend (one per venue instance); methods mirror the venue's operations."""

    refusals = ("TransferAmountExceedsBalance", "TransferAmountExceedsAllowance")
    liquid = ETHERFI
    request_event = REQUEST_CREATED
    claim_event = REQUEST_CLAIMED

    def __init__(self, venue: Any, client: EvmClient | None = None) -> None:
        c = self.connect_staking(venue, client, load_table)
        w3 = self.client.w3
        self.pool = w3.eth.contract(address=c["LiquidityPool"], abi=POOL_ABI)
        self.weeth = self.wrapper = w3.eth.contract(address=c["weETH"], abi=WEETH_ABI)
        self.nft = w3.eth.contract(address=c["WithdrawRequestNFT"], abi=NFT_ABI)
        self.queue_address = c["WithdrawRequestNFT"]
        self.init_intents(VENUE, venue.context)

    # ------------------------------------------------------------------------------------------ stake / wrap
    def _stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset, receive = ins.asset, ins.receive
        if self.liquid.check_stake(ins):
            return self.wrap(ts, ins)
        amt = to_base_units(ins.amount, 18)
        if int(self.pool.functions.getTotalPooledEther().call()) and not int(
                self.pool.functions.sharesForAmount(amt).call()):
            raise InstructionError("amount", f"{ins.amount} {asset} buys no eETH share")
        self.check_balance(asset, amt)
        receipts: list[Receipt] = []
        eth_in = self.eth_for(asset, amt, receipts)
        if receive != "weETH":
            return self.send_final(ts, ins, receipts, self.pool.functions.deposit(), amt, eth_in=eth_in)
        receipts.append(self.send(self.pool.functions.deposit(), value=amt))
        eeth = self.received("eETH", receipts[-1])
        receipts += self.approve("eETH", self.weeth.address, eeth)
        return self.send_final(ts, ins, receipts, self.weeth.functions.wrap(eeth), spent=amt, eth_in=eth_in)

    # ------------------------------------------------------------------------------------------ unstake
    def _request(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        self.liquid.check_request(ins)
        amt = to_base_units(ins.amount, 18)
        eeth = amt if asset == "eETH" else int(self.weeth.functions.getEETHByWeETH(amt).call())
        if eeth == 0 or not int(self.pool.functions.sharesForAmount(eeth).call()):
            raise InstructionError("amount", f"{ins.amount} {asset} is too small to request (InvalidShareAmount)")
        if eeth > MAX_REQUEST:
            raise InstructionError("amount", "a withdrawal request takes at most 2**96-1 wei of eETH; split it")
        self.check_balance(asset, amt)
        receipts: list[Receipt] = []
        if asset == "weETH":
            receipts.append(self.send(self.weeth.functions.unwrap(amt)))
            eeth = self.received("eETH", receipts[-1])
        receipts += self.approve("eETH", self.pool.address, eeth)
        return self.send_final(ts, ins, receipts, self.pool.functions.requestWithdraw(self.me, eeth), step="request")

    def _request_state(self, request_id: str) -> tuple[int, str, bool]:
        """(eETH locked, owner, finalized) of a request; InstructionError naming request_id when there is none."""
        try:
            rid = int(request_id)
        except ValueError:
            raise InstructionError("request_id", f"withdrawal request ids are integers, got {request_id!r}") from None
        req = self.nft.functions.getRequest(rid).call()
        if rid <= 0 or rid >= int(self.nft.functions.nextRequestId().call()) or not req[2]:
            raise InstructionError("request_id", f"no open withdrawal request {request_id!r} (unknown or claimed)")
        owner = str(self.nft.functions.ownerOf(rid).call())
        return int(req[0]), owner, bool(self.nft.functions.isFinalized(rid).call())

    def _claim(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.asset not in ("eETH", "weETH", "stETH"):  # "stETH" is Unstake's default asset
            raise InstructionError("asset", f"etherfi withdrawals are in eETH or weETH, not {ins.asset!r}")
        rid = ins.request_id
        eeth, owner, finalized = self._request_state(rid)
        if owner.lower() != self.me.lower():
            raise InstructionError("request_id", f"withdrawal request {rid} belongs to another account")
        if not finalized:
            raise InstructionError("request_id", f"withdrawal request {rid} is not finalized yet "
                                                 "(RequestNotFinalized); claim it later")
        return self.send_final(ts, ins, [], self.nft.functions.claimWithdraw(int(rid)), step="claim", eeth=eeth)

    # ------------------------------------------------------------------------------------------ queries
    def my_request_ids(self) -> list[int]:
        """Ids of the withdraw-request NFTs ever sent to this account (ERC721 ``Transfer`` logs), ascending."""
        me = "0x" + "00" * 12 + self.me.lower().removeprefix("0x")
        logs = self.client.w3.eth.get_logs({"address": self.nft.address, "fromBlock": 0,
                                            "topics": ["0x" + event_topic(NFT_TRANSFER), None, me]})
        return sorted({int(hex_str(log["topics"][3]), 16) for log in logs})

    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet balances, the rate, and this account's open requests (found by the NFT's Transfer logs):
        ``etherfi:withdrawal:<id>`` (eETH locked) and ``etherfi:metric:claimable:<id>`` (1 once finalized). The
        chain has no claimable time (EtherFi's oracle finalizes), so ``claimable_at`` is backtest-only."""
        out = self.wallet_balances(self.wallet_tokens())
        out[f"{VENUE}:metric:eeth_per_weeth"] = from_base_units(int(self.weeth.functions.getRate().call()), 18)
        for rid in self.my_request_ids():
            req = self.nft.functions.getRequest(rid).call()
            if not req[2] or str(self.nft.functions.ownerOf(rid).call()).lower() != self.me.lower():
                continue
            out[f"{VENUE}:withdrawal:{rid}"] = from_base_units(int(req[0]), 18)
            out[f"{VENUE}:metric:claimable:{rid}"] = Decimal(1 if self.nft.functions.isFinalized(rid).call() else 0)
        return out


__all__ = ["EtherFiLive", "load_table"]
