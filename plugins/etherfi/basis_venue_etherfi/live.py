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

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError, ContractRevertError, InstructionError, InsufficientFundsError
from basis_core.live.evm import EvmClient, Receipt
from basis_core.live.onchain import OnChainLiveBase, client_from_settings, read_deployment
from basis_core.live.units import from_base_units, to_base_units
from basis_venue_etherfi.rates import MAX_REQUEST

VENUE = "etherfi"
WALLET = "ethereum:wallet:"
ETH_KEY = WALLET + "ETH"
CONTRACTS = ("LiquidityPool", "eETH", "weETH", "WithdrawRequestNFT", "WETH")


def _fn(name: str, inputs: Sequence[str] = (), outputs: Sequence[Any] = (), mut: str = "view") -> dict[str, Any]:
    def p(spec: Any) -> dict[str, Any]:
        if isinstance(spec, dict):
            return spec
        typ, _, nm = spec.partition(" ")
        return {"name": nm, "type": typ}
    return {"type": "function", "name": name, "stateMutability": mut, "inputs": [p(i) for i in inputs],
            "outputs": [p(o) for o in outputs]}


POOL_ABI = [_fn("deposit", [], ["uint256"], "payable"),
            _fn("requestWithdraw", ["address recipient", "uint256 amount"], ["uint256"], "nonpayable"),
            _fn("sharesForAmount", ["uint256 _amount"], ["uint256"]),
            _fn("amountForShare", ["uint256 _share"], ["uint256"]),
            _fn("getTotalPooledEther", [], ["uint256"])]
WEETH_ABI = [_fn("wrap", ["uint256 _eETHAmount"], ["uint256"], "nonpayable"),
             _fn("unwrap", ["uint256 _weETHAmount"], ["uint256"], "nonpayable"),
             _fn("getRate", [], ["uint256"]),
             _fn("getEETHByWeETH", ["uint256 _weETHAmount"], ["uint256"])]
WETH_ABI = [_fn("withdraw", ["uint256 wad"], [], "nonpayable")]
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
    raw, _ = read_deployment(deployment, "basis_venue_etherfi")
    nested = raw.get("contracts")
    contracts: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {
        k: v for k, v in raw.items() if k in CONTRACTS}
    for name in ("LiquidityPool", "eETH", "weETH", "WithdrawRequestNFT"):
        if name not in contracts:
            raise ConfigError(f"deployment: contracts.{name} is required")
    return {"chain_id": raw.get("chain_id"), "contracts": {str(k): str(v) for k, v in contracts.items()}}


def _topic(sig: str) -> str:
    from web3 import Web3
    return Web3.keccak(text=sig).hex().removeprefix("0x")


def _hex(v: Any) -> str:
    return v.removeprefix("0x") if isinstance(v, str) else bytes(v).hex()


class EtherFiLive(OnChainLiveBase):
    """The live backend (one per venue instance); methods mirror the venue's operations."""

    def __init__(self, venue: Any, client: EvmClient | None = None) -> None:
        s = venue.settings
        opts = s.options
        if client is None:
            client = client_from_settings(VENUE, s)
        self.table = load_table(opts.get("deployment_table") or s.deployment)
        self.init_onchain(VENUE, client, self.table, opts)
        c = {k: client.checksum(v) for k, v in self.table["contracts"].items()}
        w3 = client.w3
        self.addresses = c
        self.pool = w3.eth.contract(address=c["LiquidityPool"], abi=POOL_ABI)
        self.weeth = w3.eth.contract(address=c["weETH"], abi=WEETH_ABI)
        self.nft = w3.eth.contract(address=c["WithdrawRequestNFT"], abi=NFT_ABI)
        self.weth = w3.eth.contract(address=c["WETH"], abi=WETH_ABI) if "WETH" in c else None
        self.init_intents(VENUE, venue.context)

    def __repr__(self) -> str:
        return f"<EtherFiLive {self.client!r}>"

    @property
    def me(self) -> str:
        return self.client.address

    # ------------------------------------------------------------------------------------------ helpers
    def _token(self, sym: str) -> str:
        if sym == "WETH":
            if self.weth is None:
                raise InstructionError("asset", "no WETH in the etherfi deployment table: stake ETH or add it")
            return str(self.weth.address)
        return self.addresses[sym]

    def _wallet_tokens(self) -> list[str]:
        return [s for s in ("WETH", "eETH", "weETH") if s != "WETH" or self.weth is not None]

    def _check_wallet(self, sym: str, amount: int) -> None:
        have = self.client.eth_balance() if sym == "ETH" else self.client.balance_of(self._token(sym))
        if have < amount:
            raise InsufficientFundsError(WALLET + sym, from_base_units(amount, 18), from_base_units(have, 18))

    def _send(self, fn: Any, value: int = 0, final: Mapping[str, Any] | None = None) -> Receipt:
        try:
            return self.client.send(fn, value=value, final=final)
        except ContractRevertError as e:
            if (e.reason or "") in ("TransferAmountExceedsBalance", "TransferAmountExceedsAllowance"):
                raise InstructionError("amount", f"refused by EtherFi ({e.reason}); nothing was sent") from None
            raise

    def _deltas(self, op: str, ts: Any, ins: Any, receipts: Sequence[Receipt], value: int = 0, eth_in: int = 0,
                extra: Mapping[str, Decimal] | None = None, status: str = "filled",
                details: dict[str, Any] | None = None) -> ExecutionDeltas:
        first, last = receipts[0].block_number - 1, receipts[-1].block_number
        positions: dict[str, Decimal] = {}
        for s in self._wallet_tokens():  # balanceOf around the transactions: exact for the rebasing eETH
            erc = self.client.erc20(self._token(s)).functions.balanceOf(self.me)
            moved = int(erc.call(block_identifier=last)) - int(erc.call(block_identifier=first))
            if moved:
                positions[WALLET + s] = from_base_units(moved, 18)
        gas = sum(r.gas_cost_wei for r in receipts)
        eth = eth_in - value - gas
        if eth:
            positions[ETH_KEY] = from_base_units(eth, 18)
        positions.update(extra or {})
        amount = getattr(ins, "amount", None)
        return ExecutionDeltas(VENUE, op, ts, positions, {ETH_KEY: -from_base_units(gas, 18)} if gas else {},
                               status, ins.client_id, receipts[-1].tx_hash, None, amount, {},
                               {"tx_hashes": [r.tx_hash for r in receipts], **(details or {})})

    def _events(self, receipt: Receipt, sig: str) -> list[tuple[list[str], str]]:
        t0 = _topic(sig)
        out = []
        for log in receipt.logs:
            if str(log["address"]).lower() != str(self.nft.address).lower():
                continue
            topics = [_hex(t) for t in log["topics"]]
            if topics and topics[0] == t0:
                out.append((topics, _hex(log["data"])))
        return out

    # ------------------------------------------------------------------------------------------ intents
    def stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._stake(ts, ins))

    def unstake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._unstake(ts, ins))

    def _final(self, ts: Any, ins: Any, receipts: list[Receipt], fn: Any, value: int = 0,
               **ctx: Any) -> ExecutionDeltas:
        final = {"kind": "etherfi", "value": value, **ctx}
        receipts.append(self._send(fn, value=value, final=final))
        return self.finish_etherfi(ts, ins, receipts, final)

    def finish_etherfi(self, ts: Any, ins: Any, receipts: list[Receipt], ctx: Mapping[str, Any]) -> ExecutionDeltas:
        """Deltas of a stake / wrap / unwrap / withdrawal request / claim from its receipts."""
        step = ctx.get("step", "plain")
        if step == "request":
            return self._request_deltas(ts, ins, receipts)
        if step == "claim":
            return self._claim_deltas(ts, ins, receipts, int(ctx["eeth"]))
        spent = int(ctx.get("spent", ctx["value"]))  # ETH sent by this or an earlier transaction of the intent
        return self._deltas(ins.operation, ts, ins, receipts, value=spent, eth_in=int(ctx.get("eth_in", 0)))

    # ------------------------------------------------------------------------------------------ stake / wrap
    def _stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset, receive = ins.asset, ins.receive
        if asset not in ("ETH", "WETH", "eETH"):
            raise InstructionError("asset", f"etherfi stakes ETH or WETH (or wraps eETH), not {asset!r}")
        if receive not in (None, "eETH", "weETH"):
            raise InstructionError("receive", f"etherfi gives eETH or weETH, not {receive!r}")
        amt = to_base_units(ins.amount, 18)
        if asset == "eETH":
            if receive != "weETH":
                raise InstructionError("receive", "staking eETH means wrapping it: give receive='weETH'")
            self._check_wallet("eETH", amt)
            approvals = self.approve_address(self.addresses["eETH"], self.weeth.address, amt)
            return self._final(ts, ins, approvals, self.weeth.functions.wrap(amt))
        if int(self.pool.functions.getTotalPooledEther().call()) and not int(
                self.pool.functions.sharesForAmount(amt).call()):
            raise InstructionError("amount", f"{ins.amount} {asset} buys no eETH share")
        self._check_wallet(asset, amt)
        receipts: list[Receipt] = []
        eth_in = 0
        if asset == "WETH":
            assert self.weth is not None
            receipts.append(self._send(self.weth.functions.withdraw(amt)))
            eth_in = amt
        if receive != "weETH":
            return self._final(ts, ins, receipts, self.pool.functions.deposit(), amt, eth_in=eth_in)
        receipts.append(self._send(self.pool.functions.deposit(), value=amt))
        eeth = int(self.client.erc20(self.addresses["eETH"]).functions.balanceOf(self.me).call(
            block_identifier=receipts[-1].block_number)) - int(
            self.client.erc20(self.addresses["eETH"]).functions.balanceOf(self.me).call(
                block_identifier=receipts[-1].block_number - 1))
        receipts += self.approve_address(self.addresses["eETH"], self.weeth.address, eeth)
        return self._final(ts, ins, receipts, self.weeth.functions.wrap(eeth), spent=amt, eth_in=eth_in)

    # ------------------------------------------------------------------------------------------ unstake
    def _unstake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.action == "unwrap":
            if ins.asset != "weETH":
                raise InstructionError("asset", f"only weETH unwraps (into eETH), not {ins.asset!r}")
            amt = to_base_units(ins.amount, 18)
            self._check_wallet("weETH", amt)
            return self._final(ts, ins, [], self.weeth.functions.unwrap(amt))
        if ins.action == "request":
            return self._request(ts, ins)
        return self._claim(ts, ins)

    def _request(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        if asset not in ("eETH", "weETH"):
            raise InstructionError("asset", f"withdrawals are requested in eETH or weETH, not {asset!r}")
        amt = to_base_units(ins.amount, 18)
        eeth = amt if asset == "eETH" else int(self.weeth.functions.getEETHByWeETH(amt).call())
        if eeth == 0 or not int(self.pool.functions.sharesForAmount(eeth).call()):
            raise InstructionError("amount", f"{ins.amount} {asset} is too small to request (InvalidShareAmount)")
        if eeth > MAX_REQUEST:
            raise InstructionError("amount", "a withdrawal request takes at most 2**96-1 wei of eETH; split it")
        self._check_wallet(asset, amt)
        receipts: list[Receipt] = []
        if asset == "weETH":
            receipts.append(self._send(self.weeth.functions.unwrap(amt)))
            erc = self.client.erc20(self.addresses["eETH"]).functions.balanceOf(self.me)
            b = receipts[-1].block_number
            eeth = int(erc.call(block_identifier=b)) - int(erc.call(block_identifier=b - 1))
        receipts += self.approve_address(self.addresses["eETH"], self.pool.address, eeth)
        return self._final(ts, ins, receipts, self.pool.functions.requestWithdraw(self.me, eeth), step="request")

    def _request_deltas(self, ts: Any, ins: Any, receipts: list[Receipt]) -> ExecutionDeltas:
        events = self._events(receipts[-1], REQUEST_CREATED)
        if not events:
            raise ContractRevertError("the withdrawal request emitted no WithdrawRequestCreated event",
                                      tx_hash=receipts[-1].tx_hash)
        topics, data = events[0]
        rid = str(int(topics[1], 16))
        locked = from_base_units(int(data[:64], 16), 18)
        return self._deltas("unstake", ts, ins, receipts, extra={f"{VENUE}:withdrawal:{rid}": locked},
                            status="requested", details={"request_id": rid, "amount_of_eeth": locked})

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
        return self._final(ts, ins, [], self.nft.functions.claimWithdraw(int(rid)), step="claim", eeth=eeth)

    def _claim_deltas(self, ts: Any, ins: Any, receipts: list[Receipt], eeth: int) -> ExecutionDeltas:
        rid = ins.request_id
        receipt = receipts[-1]
        events = self._events(receipt, REQUEST_CLAIMED)
        eth = int(events[0][1][:64], 16) if events else 0
        return self._deltas("unstake", ts, ins, [receipt], eth_in=eth,
                            extra={f"{VENUE}:withdrawal:{rid}": -from_base_units(eeth, 18)},
                            status="claimed", details={"request_id": rid, "amount_of_eth": from_base_units(eth, 18)})

    # ------------------------------------------------------------------------------------------ queries
    def my_request_ids(self) -> list[int]:
        """Ids of the withdraw-request NFTs ever sent to this account (ERC721 ``Transfer`` logs), ascending."""
        me = "0x" + "00" * 12 + self.me.lower().removeprefix("0x")
        logs = self.client.w3.eth.get_logs({"address": self.nft.address, "fromBlock": 0,
                                            "topics": ["0x" + _topic(NFT_TRANSFER), None, me]})
        return sorted({int(_hex(log["topics"][3]), 16) for log in logs})

    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet balances, the rate, and this account's open requests (found by the NFT's Transfer logs):
        ``etherfi:withdrawal:<id>`` (eETH locked) and ``etherfi:metric:claimable:<id>`` (1 once finalized). The
        chain has no claimable time (EtherFi's oracle finalizes), so ``claimable_at`` is backtest-only."""
        out = {ETH_KEY: from_base_units(self.client.eth_balance(), 18)}
        for sym in self._wallet_tokens():
            bal = self.client.balance_of(self._token(sym))
            if bal:
                out[WALLET + sym] = from_base_units(bal, 18)
        out[f"{VENUE}:metric:eeth_per_weeth"] = from_base_units(int(self.weeth.functions.getRate().call()), 18)
        for rid in self.my_request_ids():
            req = self.nft.functions.getRequest(rid).call()
            if not req[2] or str(self.nft.functions.ownerOf(rid).call()).lower() != self.me.lower():
                continue
            out[f"{VENUE}:withdrawal:{rid}"] = from_base_units(int(req[0]), 18)
            out[f"{VENUE}:metric:claimable:{rid}"] = Decimal(1 if self.nft.functions.isFinalized(rid).call() else 0)
        return out

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        return None  # live mode has no ETH price source here


__all__ = ["EtherFiLive", "load_table"]
