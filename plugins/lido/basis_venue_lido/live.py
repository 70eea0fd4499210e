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

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError, ContractRevertError, InstructionError, InsufficientFundsError
from basis_core.live.evm import EvmClient, Receipt
from basis_core.live.onchain import OnChainLiveBase, client_from_settings, read_deployment
from basis_core.live.units import from_base_units, to_base_units
from basis_venue_lido.rates import MAX_STETH_WITHDRAWAL_AMOUNT, MIN_STETH_WITHDRAWAL_AMOUNT

VENUE = "lido"
WALLET = "ethereum:wallet:"
ETH_KEY = WALLET + "ETH"
CONTRACTS = ("stETH", "wstETH", "WithdrawalQueue", "WETH")


def _fn(name: str, inputs: Sequence[str] = (), outputs: Sequence[Any] = (), mut: str = "view") -> dict[str, Any]:
    def p(spec: Any) -> dict[str, Any]:
        if isinstance(spec, dict):
            return spec
        typ, _, nm = spec.partition(" ")
        return {"name": nm, "type": typ}
    return {"type": "function", "name": name, "stateMutability": mut, "inputs": [p(i) for i in inputs],
            "outputs": [p(o) for o in outputs]}


STETH_ABI = [_fn("submit", ["address _referral"], ["uint256"], "payable"),
             _fn("balanceOf", ["address _account"], ["uint256"]),
             _fn("approve", ["address _spender", "uint256 _amount"], ["bool"], "nonpayable")]
WSTETH_ABI = [_fn("wrap", ["uint256 _stETHAmount"], ["uint256"], "nonpayable"),
              _fn("unwrap", ["uint256 _wstETHAmount"], ["uint256"], "nonpayable"),
              _fn("stEthPerToken", [], ["uint256"]),
              _fn("getStETHByWstETH", ["uint256 _wstETHAmount"], ["uint256"])]
WETH_ABI = [_fn("withdraw", ["uint256 wad"], [], "nonpayable")]
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
    raw, _ = read_deployment(deployment, "basis_venue_lido")
    nested = raw.get("contracts")
    contracts: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {
        k: v for k, v in raw.items() if k in CONTRACTS}
    for name in ("stETH", "wstETH", "WithdrawalQueue"):
        if name not in contracts:
            raise ConfigError(f"deployment: contracts.{name} is required")
    return {"chain_id": raw.get("chain_id"), "contracts": {str(k): str(v) for k, v in contracts.items()}}


def _topic(sig: str) -> str:
    from web3 import Web3
    return Web3.keccak(text=sig).hex().removeprefix("0x")


def _hex(v: Any) -> str:
    return v.removeprefix("0x") if isinstance(v, str) else bytes(v).hex()


class LidoLive(OnChainLiveBase):
    """The live backend (one per venue instance); methods mirror the venue's operations."""

    def __init__(self, venue: Any, client: EvmClient | None = None) -> None:
        s = venue.settings
        opts = s.options
        if client is None:
            client = client_from_settings(VENUE, s)
        self.table = load_table(opts.get("deployment_table") or s.deployment)
        self.init_onchain(VENUE, client, self.table, opts)  # the table has no token list: contracts only
        c = {k: client.checksum(v) for k, v in self.table["contracts"].items()}
        w3 = client.w3
        self.addresses = c
        self.steth = w3.eth.contract(address=c["stETH"], abi=STETH_ABI)
        self.wsteth = w3.eth.contract(address=c["wstETH"], abi=WSTETH_ABI)
        self.queue = w3.eth.contract(address=c["WithdrawalQueue"], abi=QUEUE_ABI)
        self.weth = w3.eth.contract(address=c["WETH"], abi=WETH_ABI) if "WETH" in c else None
        self.init_intents(VENUE, venue.context)

    def __repr__(self) -> str:
        return f"<LidoLive {self.client!r}>"

    @property
    def me(self) -> str:
        return self.client.address

    # ------------------------------------------------------------------------------------------ helpers
    def _token(self, sym: str) -> str:
        if sym == "WETH":
            if self.weth is None:
                raise InstructionError("asset", "no WETH in the lido deployment table: stake ETH or add it")
            return str(self.weth.address)
        return self.addresses[sym]

    def _check_wallet(self, sym: str, amount: int) -> None:
        have = self.client.eth_balance() if sym == "ETH" else self.client.balance_of(self._token(sym))
        if have < amount:
            raise InsufficientFundsError(WALLET + sym, from_base_units(amount, 18), from_base_units(have, 18))

    def _approve(self, sym: str, spender: str, amount: int) -> list[Receipt]:
        return self.approve_address(self._token(sym), spender, amount)

    def _send(self, fn: Any, value: int = 0, final: Mapping[str, Any] | None = None) -> Receipt:
        try:
            return self.client.send(fn, value=value, final=final)
        except ContractRevertError as e:
            if (e.reason or "") in ("BALANCE_EXCEEDED", "ALLOWANCE_EXCEEDED"):
                raise InstructionError("amount", f"refused by Lido ({e.reason}); nothing was sent") from None
            raise

    def _deltas(self, op: str, ts: Any, ins: Any, receipts: Sequence[Receipt], value: int = 0, eth_in: int = 0,
                extra: Mapping[str, Decimal] | None = None, status: str = "filled",
                details: dict[str, Any] | None = None) -> ExecutionDeltas:
        syms = [s for s in ("WETH", "stETH", "wstETH") if s != "WETH" or self.weth is not None]
        first, last = receipts[0].block_number - 1, receipts[-1].block_number
        positions: dict[str, Decimal] = {}
        for s in syms:  # balanceOf around the transactions: exact for the rebasing stETH (share rounding)
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
            if str(log["address"]).lower() != str(self.queue.address).lower():
                continue
            topics = [_hex(t) for t in log["topics"]]
            if topics and topics[0] == t0:
                out.append((topics, _hex(log["data"])))
        return out

    # ------------------------------------------------------------------------------------------ intents
    # each operation is a journaled on-chain intent (basis_core.live.chain_intents); its final transaction carries
    # {"kind": "lido", ...} and finish_lido turns the receipts into deltas (also when a restart resumes it)
    def stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._stake(ts, ins))

    def unstake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._unstake(ts, ins))

    def _final(self, ts: Any, ins: Any, receipts: list[Receipt], fn: Any, value: int = 0,
               **ctx: Any) -> ExecutionDeltas:
        final = {"kind": "lido", "value": value, **ctx}
        receipts.append(self._send(fn, value=value, final=final))
        return self.finish_lido(ts, ins, receipts, final)

    def finish_lido(self, ts: Any, ins: Any, receipts: list[Receipt], ctx: Mapping[str, Any]) -> ExecutionDeltas:
        """Deltas of a stake / unwrap / withdrawal request / claim from its receipts."""
        step = ctx.get("step", "plain")
        if step == "request":
            return self._request_deltas(ts, ins, receipts)
        if step == "claim":
            return self._claim_deltas(ts, ins, receipts, int(ctx["steth"]))
        return self._deltas(ins.operation, ts, ins, receipts, value=int(ctx["value"]), eth_in=int(ctx.get("eth_in", 0)))

    # ------------------------------------------------------------------------------------------ stake / wrap
    def _stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset, receive = ins.asset, ins.receive
        if asset not in ("ETH", "WETH", "stETH"):
            raise InstructionError("asset", f"lido stakes ETH or WETH (or wraps stETH), not {asset!r}")
        if receive not in (None, "stETH", "wstETH"):
            raise InstructionError("receive", f"lido gives stETH or wstETH, not {receive!r}")
        amt = to_base_units(ins.amount, 18)
        if asset == "stETH":
            if receive != "wstETH":
                raise InstructionError("receive", "staking stETH means wrapping it: give receive='wstETH'")
            self._check_wallet("stETH", amt)
            receipts = self._approve("stETH", self.wsteth.address, amt)
            return self._final(ts, ins, receipts, self.wsteth.functions.wrap(amt))
        self._check_wallet(asset, amt)
        receipts = []
        eth_in = 0
        if asset == "WETH":
            assert self.weth is not None
            receipts.append(self._send(self.weth.functions.withdraw(amt)))
            eth_in = amt
        if receive == "wstETH":
            return self._final(ts, ins, receipts, {"to": self.wsteth.address, "data": "0x"}, amt, eth_in=eth_in)
        return self._final(ts, ins, receipts, self.steth.functions.submit("0x" + "00" * 20), amt, eth_in=eth_in)

    # ------------------------------------------------------------------------------------------ unstake
    def _unstake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.action == "unwrap":
            if ins.asset != "wstETH":
                raise InstructionError("asset", f"only wstETH unwraps (into stETH), not {ins.asset!r}")
            amt = to_base_units(ins.amount, 18)
            self._check_wallet("wstETH", amt)
            return self._final(ts, ins, [], self.wsteth.functions.unwrap(amt))
        if ins.action == "request":
            return self._request(ts, ins)
        return self._claim(ts, ins)

    def _request(self, ts: Any, ins: Any) -> ExecutionDeltas:
        asset = ins.asset
        if asset not in ("stETH", "wstETH"):
            raise InstructionError("asset", f"withdrawals are requested in stETH or wstETH, not {asset!r}")
        amt = to_base_units(ins.amount, 18)
        steth = amt if asset == "stETH" else int(self.wsteth.functions.getStETHByWstETH(amt).call())
        if steth < MIN_STETH_WITHDRAWAL_AMOUNT or steth > MAX_STETH_WITHDRAWAL_AMOUNT:
            raise InstructionError("amount", "a withdrawal request takes 100 wei .. 1000 stETH (split larger ones)")
        self._check_wallet(asset, amt)
        receipts = self._approve(asset, self.queue.address, amt)
        fn = (self.queue.functions.requestWithdrawals if asset == "stETH"
              else self.queue.functions.requestWithdrawalsWstETH)([amt], self.me)
        return self._final(ts, ins, receipts, fn, step="request")

    def _request_deltas(self, ts: Any, ins: Any, receipts: list[Receipt]) -> ExecutionDeltas:
        events = self._events(receipts[-1], WITHDRAWAL_REQUESTED)
        if not events:
            raise ContractRevertError("the withdrawal request emitted no WithdrawalRequested event",
                                      tx_hash=receipts[-1].tx_hash)
        topics, data = events[0]
        rid = str(int(topics[1], 16))
        locked = from_base_units(int(data[:64], 16), 18)
        return self._deltas("unstake", ts, ins, receipts, extra={f"{VENUE}:withdrawal:{rid}": locked},
                            status="requested", details={"request_id": rid, "amount_of_steth": locked})

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
        return self._final(ts, ins, [], self.queue.functions.claimWithdrawal(int(rid)), step="claim", steth=int(steth))

    def _claim_deltas(self, ts: Any, ins: Any, receipts: list[Receipt], steth: int) -> ExecutionDeltas:
        rid = ins.request_id
        receipt = receipts[-1]
        events = self._events(receipt, WITHDRAWAL_CLAIMED)
        eth = int(events[0][1][:64], 16) if events else 0
        return self._deltas("unstake", ts, ins, [receipt], eth_in=eth,
                            extra={f"{VENUE}:withdrawal:{rid}": -from_base_units(int(steth), 18)},
                            status="claimed", details={"request_id": rid, "amount_of_eth": from_base_units(eth, 18)})

    # ------------------------------------------------------------------------------------------ queries
    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        out = {ETH_KEY: from_base_units(self.client.eth_balance(), 18)}
        for sym in ("WETH", "stETH", "wstETH"):
            if sym == "WETH" and self.weth is None:
                continue
            bal = self.client.balance_of(self._token(sym))
            if bal:
                out[WALLET + sym] = from_base_units(bal, 18)
        out[f"{VENUE}:metric:steth_per_wsteth"] = from_base_units(int(self.wsteth.functions.stEthPerToken().call()), 18)
        ids = [int(i) for i in self.queue.functions.getWithdrawalRequests(self.me).call()]
        if ids:
            for rid, st in zip(ids, self.queue.functions.getWithdrawalStatus(ids).call(), strict=True):
                out[f"{VENUE}:withdrawal:{rid}"] = from_base_units(int(st[0]), 18)
                out[f"{VENUE}:metric:claimable:{rid}"] = Decimal(1 if st[4] and not st[5] else 0)
        return out

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        return None  # live mode has no ETH price source here


__all__ = ["LidoLive", "load_table"]
