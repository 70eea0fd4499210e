"""Live backend of the EigenLayer venue: real transactions through :class:`basis_core.live.evm.EvmClient` (web3).

Imported only in live mode. EigenLayer's ABI (Layr-Labs/eigenlayer-contracts, slashing release):
``StrategyManager.depositIntoStrategy(strategy, token, amount)`` (token approved to the StrategyManager),
``stakerDepositShares``; ``DelegationManager.delegateTo(operator, (signature, expiry), salt)``,
``queueWithdrawals([(strategies, depositShares, withdrawer)])``, ``completeQueuedWithdrawal(withdrawal, tokens,
receiveAsTokens=true)``, ``getQueuedWithdrawals(staker)``, ``cumulativeWithdrawalsQueued``,
``minWithdrawalDelayBlocks``, ``delegatedTo``.

Deployment table (option ``deployment_table`` or ``deployment`` = "mainnet" / a JSON path)::

    {"chain_id": 1, "contracts": {"StrategyManager": "0x...", "DelegationManager": "0x..."},
     "strategies": {"stETH": {"token": "0x...", "strategy": "0x..."}}}

Deltas: the token as ``balanceOf`` after the last transaction minus before the first; ``eigenlayer:position:<TOKEN>``
as ``stakerDepositShares`` likewise; ETH = -gas; a queued withdrawal adds ``eigenlayer:withdrawal:<nonce>`` (its
shares), a completed one removes it. The option ``operator`` (an address) makes the first deposit delegate to it
(``delegateTo``, without an approver signature). Completing a withdrawal whose delay has not elapsed (the chain's head
is not past ``startBlock + minWithdrawalDelayBlocks``), or an unknown one, raises an InstructionError naming
``request_id`` before anything is sent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError, ContractRevertError, InstructionError, InsufficientFundsError
from basis_core.live.evm import EvmClient, Receipt
from basis_core.live.onchain import OnChainLiveBase, read_deployment
from basis_core.live.onchain import abi_function as _fn
from basis_core.live.units import from_base_units, to_base_units

VENUE = "eigenlayer"
WALLET = "ethereum:wallet:"
ETH_KEY = WALLET + "ETH"
ZERO_ADDRESS = "0x" + "00" * 20

_WITHDRAWAL = {"name": "withdrawal", "type": "tuple", "components": [
    {"name": "staker", "type": "address"}, {"name": "delegatedTo", "type": "address"},
    {"name": "withdrawer", "type": "address"}, {"name": "nonce", "type": "uint256"},
    {"name": "startBlock", "type": "uint32"}, {"name": "strategies", "type": "address[]"},
    {"name": "scaledShares", "type": "uint256[]"}]}
_PARAMS = {"name": "params", "type": "tuple[]", "components": [
    {"name": "strategies", "type": "address[]"}, {"name": "depositShares", "type": "uint256[]"},
    {"name": "__deprecated_withdrawer", "type": "address"}]}
_SIG = {"name": "approverSignatureAndExpiry", "type": "tuple", "components": [
    {"name": "signature", "type": "bytes"}, {"name": "expiry", "type": "uint256"}]}


SM_ABI = [_fn("depositIntoStrategy", ["address strategy", "address token", "uint256 amount"],
              ["uint256 depositShares"], "nonpayable"),
          _fn("stakerDepositShares", ["address user", "address strategy"], ["uint256 shares"])]
DM_ABI = [_fn("delegateTo", ["address operator", _SIG, "bytes32 approverSalt"], [], "nonpayable"),
          _fn("queueWithdrawals", [_PARAMS], ["bytes32[]"], "nonpayable"),
          _fn("completeQueuedWithdrawal", [_WITHDRAWAL, "address[] tokens", "bool receiveAsTokens"], [],
              "nonpayable"),
          _fn("getQueuedWithdrawals", ["address staker"],
              [{**_WITHDRAWAL, "name": "withdrawals", "type": "tuple[]"}, "uint256[][] shares"]),
          _fn("cumulativeWithdrawalsQueued", ["address staker"], ["uint256"]),
          _fn("minWithdrawalDelayBlocks", [], ["uint32"]),
          _fn("delegatedTo", ["address staker"], ["address"])]
STRATEGY_ABI = [_fn("sharesToUnderlyingView", ["uint256 amountShares"], ["uint256"])]


def load_table(deployment: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A validated table from "mainnet", a JSON path or a mapping (see the module doc)."""
    raw, where = read_deployment(deployment, "basis_venue_eigenlayer")
    contracts = raw.get("contracts")
    strategies = raw.get("strategies")
    if not isinstance(contracts, Mapping) or not all(k in contracts for k in ("StrategyManager", "DelegationManager")):
        raise ConfigError(f"deployment {where}: contracts.StrategyManager and contracts.DelegationManager are required")
    if not isinstance(strategies, Mapping) or not all(
            isinstance(v, Mapping) and "token" in v and "strategy" in v for v in strategies.values()):
        raise ConfigError(f"deployment {where}: strategies must map token symbols to {{token, strategy}}")
    return {"chain_id": raw.get("chain_id"), "contracts": {str(k): str(v) for k, v in contracts.items()},
            "strategies": {str(k): {"token": str(v["token"]), "strategy": str(v["strategy"])}
                           for k, v in strategies.items()}}


class EigenLayerLive(OnChainLiveBase):
    """The live backend (one per venue instance); methods mirror the venue's operations."""

    venue_name = VENUE

    def __init__(self, venue: Any, client: EvmClient | None = None) -> None:
        opts = venue.settings.options
        client = self.connect(venue, client, load_table)
        tokens = {sym: v["token"] for sym, v in self.table["strategies"].items()}
        self.init_onchain(VENUE, client, {**self.table, "tokens": tokens,
                                          "decimals": dict.fromkeys(tokens, 18)}, opts)
        w3 = client.w3
        c = {k: client.checksum(v) for k, v in self.table["contracts"].items()}
        self.sm = w3.eth.contract(address=c["StrategyManager"], abi=SM_ABI)
        self.dm = w3.eth.contract(address=c["DelegationManager"], abi=DM_ABI)
        self.strategy_of = {sym: client.checksum(v["strategy"]) for sym, v in self.table["strategies"].items()}
        operator = opts.get("operator")
        self.operator = client.checksum(str(operator)) if operator else None
        self.init_intents(VENUE, venue.context)

    def _token(self, asset: str) -> str:
        if asset not in self.strategy_of:
            raise InstructionError("asset", f"the eigenlayer deployment has no strategy for {asset!r} "
                                            f"(strategies: {', '.join(self.strategy_of)})")
        return asset

    def _shares(self, token: str, block: Any = "latest") -> int:
        return int(self.sm.functions.stakerDepositShares(self.me, self.strategy_of[token]).call(
            block_identifier=block))

    def _deltas(self, ts: Any, ins: Any, receipts: Sequence[Receipt], token: str, extra: Mapping[str, Decimal],
                status: str, details: dict[str, Any]) -> ExecutionDeltas:
        first, last = receipts[0].block_number - 1, receipts[-1].block_number
        moved = self.balance_moves(receipts, [token])
        shares = self._shares(token, last) - self._shares(token, first)
        if shares:
            moved[f"{VENUE}:position:{token}"] = from_base_units(shares, 18)
        return self.chain_deltas(ins.operation, ts, ins, receipts, moved, extra, status=status, details=details)

    # ------------------------------------------------------------------------------------------ intents
    def stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._stake(ts, ins))

    def unstake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._unstake(ts, ins))

    def finish_eigenlayer(self, ts: Any, ins: Any, receipts: list[Receipt],
                          ctx: Mapping[str, Any]) -> ExecutionDeltas:
        """Deltas of a deposit / queued withdrawal / completed withdrawal from its receipts."""
        token = str(ctx["token"])
        step = ctx.get("step")
        if step == "request":
            nonce = str(ctx["nonce"])
            shares = from_base_units(int(ctx["shares"]), 18)
            start = receipts[-1].block_number
            delay = int(self.dm.functions.minWithdrawalDelayBlocks().call())
            return self._deltas(ts, ins, receipts, token, {f"{VENUE}:withdrawal:{nonce}": shares}, "requested",
                                {"request_id": nonce, "start_block": start, "completable_block": start + delay + 1})
        if step == "claim":
            shares = from_base_units(int(ctx["shares"]), 18)
            return self._deltas(ts, ins, receipts, token, {f"{VENUE}:withdrawal:{ctx['nonce']}": -shares}, "claimed",
                                {"request_id": str(ctx["nonce"])})
        return self._deltas(ts, ins, receipts, token, {}, "filled", {})

    # ------------------------------------------------------------------------------------------ operations
    def _stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        token = self._token(ins.asset)
        if ins.receive not in (None, token):
            raise InstructionError("receive", f"a deposit into the {token} strategy gives shares of it, not "
                                              f"{ins.receive!r}")
        amt = to_base_units(ins.amount, 18)
        self.check_balance(token, amt)
        receipts: list[Receipt] = []
        if self.operator and int(str(self.dm.functions.delegatedTo(self.me).call()), 16) == 0:
            receipts.append(self.client.send(self.dm.functions.delegateTo(self.operator, (b"", 0), b"\x00" * 32)))
        receipts += self.approve(token, self.sm.address, amt)
        fn = self.sm.functions.depositIntoStrategy(self.strategy_of[token], self.tokens[token], amt)
        return self.send_final(ts, ins, receipts, fn, token=token)

    def _unstake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        if ins.action == "unwrap":
            raise InstructionError("action", "eigenlayer has nothing to unwrap: request a withdrawal, then claim it")
        if ins.action == "request":
            token = self._token(ins.asset)
            shares = to_base_units(ins.amount, 18)
            have = self._shares(token)
            if have < shares:
                raise InsufficientFundsError(f"{VENUE}:position:{token}", ins.amount, from_base_units(have, 18))
            nonce = int(self.dm.functions.cumulativeWithdrawalsQueued(self.me).call())
            fn = self.dm.functions.queueWithdrawals([([self.strategy_of[token]], [shares], self.me)])
            return self.send_final(ts, ins, [], fn, token=token, step="request", nonce=nonce, shares=shares)
        return self._claim(ts, ins)

    def queued(self) -> dict[str, tuple[Any, ...]]:
        """This account's queued withdrawals by nonce (the contract's Withdrawal tuples)."""
        withdrawals, _shares = self.dm.functions.getQueuedWithdrawals(self.me).call()
        return {str(int(w[3])): tuple(w) for w in withdrawals}

    def _claim(self, ts: Any, ins: Any) -> ExecutionDeltas:
        nonce = ins.request_id
        w = self.queued().get(nonce)
        if w is None:
            raise InstructionError("request_id", f"no queued withdrawal {nonce!r} of this account")
        by_strategy = {v: k for k, v in self.strategy_of.items()}
        if len(w[5]) != 1 or self.client.checksum(w[5][0]) not in by_strategy:
            raise InstructionError("request_id", f"withdrawal {nonce} is not of one strategy of the deployment table")
        token = by_strategy[self.client.checksum(w[5][0])]
        if ins.asset not in (token, "stETH"):  # "stETH" is Unstake's default asset
            raise InstructionError("asset", f"withdrawal {nonce} is of {token}, not {ins.asset!r}")
        completable = int(w[4]) + int(self.dm.functions.minWithdrawalDelayBlocks().call()) + 1
        if int(self.client.w3.eth.block_number) < completable:  # (a call at the head must pass: gas is estimated)
            raise InstructionError("request_id", f"withdrawal {nonce} cannot complete yet (WithdrawalDelayNotElapsed):"
                                                 f" completable from block {completable}")
        fn = self.dm.functions.completeQueuedWithdrawal(w, [self.tokens[token]], True)
        try:
            return self.send_final(ts, ins, [], fn, token=token, step="claim", nonce=nonce, shares=int(w[6][0]))
        except ContractRevertError as e:
            raise InstructionError("request_id", f"withdrawal {nonce} refused by EigenLayer ({e.reason})") from None

    # ------------------------------------------------------------------------------------------ queries
    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet tokens, deposit shares by strategy token, queued withdrawals (``eigenlayer:withdrawal:<nonce>``,
        shares) with ``eigenlayer:metric:claimable:<nonce>`` and ``eigenlayer:metric:completable_block:<nonce>``,
        and ``eigenlayer:metric:delegated``."""
        out = {ETH_KEY: from_base_units(self.client.eth_balance(), 18)}
        for token in self.strategy_of:
            bal = self.client.balance_of(self.tokens[token])
            if bal:
                out[WALLET + token] = from_base_units(bal, 18)
            shares = self._shares(token)
            if shares:
                out[f"{VENUE}:position:{token}"] = from_base_units(shares, 18)
        out[f"{VENUE}:metric:delegated"] = Decimal(0 if int(str(self.dm.functions.delegatedTo(self.me).call()), 16)
                                                   == 0 else 1)
        delay = int(self.dm.functions.minWithdrawalDelayBlocks().call())
        head = int(self.client.w3.eth.block_number)
        for nonce, w in self.queued().items():
            completable = int(w[4]) + delay + 1
            out[f"{VENUE}:withdrawal:{nonce}"] = from_base_units(sum(int(x) for x in w[6]), 18)
            out[f"{VENUE}:metric:completable_block:{nonce}"] = Decimal(completable)
            out[f"{VENUE}:metric:claimable:{nonce}"] = Decimal(1 if head >= completable else 0)
        return out

    def estimate_notional(self, ts: Any, ins: Any) -> Decimal | None:
        return None  # live mode has no price source here


__all__ = ["EigenLayerLive", "load_table"]
