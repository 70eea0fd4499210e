"""Backtest backend of the EigenLayer venue: deposits into strategies with StrategyBase's share math, delegation,
and the withdrawal queue with its escrow delay in blocks.

Strategies (option ``strategies``, default ``["stETH"]``): one simulated StrategyBase per token, starting empty
(``total_shares = 0``, ``balance = 0``), whose state changes only by this account's deposits and withdrawals (and,
for a rebasing token, by its rebase). Every amount follows :mod:`basis_venue_eigenlayer.shares` in base units:

- ``Stake(asset=TOKEN, amount)`` = ``depositIntoStrategy``: shares ``= amount x (totalShares + 1e3) //
  (balance + 1e3)``; ``eigenlayer:position:<TOKEN>`` holds the deposit shares (18 decimals). With the option
  ``operator`` set and the account not delegated yet, the deposit delegates to it first (``delegateTo``);
- ``Unstake(action="request", asset=TOKEN, amount=SHARES)`` = ``queueWithdrawals``: ``amount`` is in deposit
  shares (the position's unit); they move to ``eigenlayer:withdrawal:<nonce>``, ``details["request_id"]`` is the
  withdrawal's nonce (``"0"``, ``"1"`` ... as ``cumulativeWithdrawalsQueued``) and ``claimable_at`` its time;
- ``Unstake(action="claim", request_id=NONCE)`` = ``completeQueuedWithdrawal(..., receiveAsTokens=true)``: refused
  (an InstructionError naming ``request_id``, nothing changes) until more than ``withdrawal_delay_blocks`` blocks
  (default 100,800 = 14 days, mainnet's ``MIN_WITHDRAWAL_DELAY_BLOCKS``) of ``block_time`` seconds (12) have
  passed since it was queued; pays ``(balance + 1e3) x shares // (totalShares + 1e3)`` tokens.

Rebase: a strategy holding stETH (rate ``lst:wstETH``) or eETH (``lst:weETH``) sees its balance grow with the rate
at each accrual (``balance x rate_now // rate_before``), so its shares are worth more tokens.
Rewards (option ``rewards``, default true): when the market has ``eigenlayer:rewards:<TOKEN>`` (``apr``), each
accrual credits ``eigenlayer:rewards:ETH`` with the position's USD value x apr x elapsed / 365 days, in ETH
(``staking_yield``); they are a model of restaking rewards (claimed elsewhere), not simulated contracts.
Gas (with a ``gas`` series and ``charge_gas``): ``approve`` + ``restake_deposit`` (+ ``delegate``),
``queue_withdrawal``, ``complete_withdrawal`` units (:data:`EIGEN_GAS_UNITS`), overridable with ``gas_units``.

State: ledger tables ``eigenlayer.strategies`` (token -> (total shares, balance)), ``eigenlayer.withdrawals``
(nonce -> (token, shares, queued ns)) and ``eigenlayer.meta`` (nonce counter, operator).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from basis_core.data.prices import usd_price
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError, InstructionError, MarketDataError
from basis_core.onchain.staking import WALLET, StakingSim, rate_wei
from basis_core.onchain.staking import from_wei as human
from basis_core.onchain.staking import to_wei as wei
from basis_core.timeutil import from_ns
from basis_venue_eigenlayer.shares import StrategyState

VENUE = "eigenlayer"
STRATEGIES = "eigenlayer.strategies"
WITHDRAWALS = "eigenlayer.withdrawals"
META = "eigenlayer.meta"
REWARDS_KEY = f"{VENUE}:rewards:ETH"
DEFAULT_STRATEGIES = ("stETH",)
DEFAULT_DELAY_BLOCKS = 100_800
DEFAULT_BLOCK_TIME = 12
#: rebasing tokens and the rate series their balances follow
REBASING = {"stETH": "lst:wstETH", "eETH": "lst:weETH"}
EIGEN_GAS_UNITS = {"restake_deposit": 150_000, "delegate": 110_000, "queue_withdrawal": 200_000,
                   "complete_withdrawal": 180_000}
_ZERO = Decimal(0)
_YEAR_NS = Decimal(365 * 86_400 * 10**9)


def position_key(token: str) -> str:
    return f"{VENUE}:position:{token}"


def withdrawal_key(nonce: str) -> str:
    return f"{VENUE}:withdrawal:{nonce}"


def parse_options(opts: Mapping[str, Any]) -> tuple[tuple[str, ...], int, int]:
    """(strategy tokens, withdrawal delay in blocks, block time in seconds); ConfigError naming the setting."""
    tokens = opts.get("strategies", DEFAULT_STRATEGIES)
    if isinstance(tokens, str) or not all(isinstance(t, str) and t for t in tokens):
        raise ConfigError("venue_config.eigenlayer.strategies: a list of token symbols")
    out = []
    for name, default in (("withdrawal_delay_blocks", DEFAULT_DELAY_BLOCKS), ("block_time", DEFAULT_BLOCK_TIME)):
        v = opts.get(name, default)
        if isinstance(v, bool) or not isinstance(v, int) or v < (0 if name == "withdrawal_delay_blocks" else 1):
            raise ConfigError(f"venue_config.eigenlayer.{name}: a whole number of "
                              f"{'blocks (>= 0)' if name == 'withdrawal_delay_blocks' else 'seconds (>= 1)'}")
        out.append(v)
    return tuple(tokens), out[0], out[1]


class EigenLayerSim(StakingSim):
    """The backtest backend (one per venue instance); see the module docstring."""

    venue_name = VENUE
    extra_gas_units = EIGEN_GAS_UNITS

    def __init__(self, venue: Any) -> None:
        super().__init__(venue)
        self.tokens, self.delay_blocks, block_time = parse_options(self.options)
        self.block_ns = block_time * 10**9
        self.operator = self.options.get("operator")
        self.rewards = bool(self.options.get("rewards", True))
        self.strategies = self.ledger.table(STRATEGIES)
        self.withdrawals = self.ledger.table(WITHDRAWALS)

    # -- helpers ------------------------------------------------------------------------------------
    def state(self, token: str) -> StrategyState:
        raw = self.strategies.get(token)
        return StrategyState(*raw) if raw is not None else StrategyState()

    def _set(self, token: str, st: StrategyState) -> None:
        self.strategies[token] = (st.total_shares, st.balance)

    def _token(self, asset: str) -> str:
        if asset not in self.tokens:
            raise InstructionError("asset", f"eigenlayer has no strategy for {asset!r} here (strategies: "
                                            f"{', '.join(self.tokens)}; venue option 'strategies')")
        return asset

    def claimable_ns(self, queued_ns: int) -> int:
        """When a withdrawal queued at ``queued_ns`` can complete: more than the delay in blocks later."""
        return queued_ns + (self.delay_blocks + 1) * self.block_ns

    def notional_token(self, ins: Any) -> str:
        return str(ins.asset)

    # -- operations ---------------------------------------------------------------------------------
    def stake(self, ts: Any, ins: Any) -> ExecutionDeltas:
        token = self._token(ins.asset)
        if ins.receive not in (None, token):
            raise InstructionError("receive", f"a deposit into the {token} strategy gives shares of it, not "
                                              f"{ins.receive!r}")
        amount = wei(ins.amount)
        st = self.state(token)
        try:
            shares, after = st.deposit(amount)
        except ValueError as e:
            raise InstructionError("amount", f"{ins.amount} {token} is refused by the strategy ({e})") from None
        self.have(WALLET + token, ins.amount)
        px = self.price(ts.value, token)
        self._set(token, after)
        ops: tuple[str, ...] = ("approve", "restake_deposit")
        details: dict[str, Any] = {"shares": human(shares), "strategy_total_shares": human(after.total_shares)}
        if self.operator and not self.meta.get("operator"):
            self.meta["operator"] = str(self.operator)
            ops += ("delegate",)
            details["delegated_to"] = str(self.operator)
        positions = {WALLET + token: -ins.amount, position_key(token): human(shares)}
        details["reference_prices"] = {position_key(token): ins.amount * px / human(shares), token: px}
        return self.deltas(ins.operation, ts, ins, positions, ops, "filled", details, ins.amount)

    def _unwrap(self, ts: Any, ins: Any) -> ExecutionDeltas:
        raise InstructionError("action", "eigenlayer has nothing to unwrap: request a withdrawal, then claim it")

    def _request(self, ts: Any, ins: Any) -> ExecutionDeltas:
        token = self._token(ins.asset)
        assert ins.amount is not None
        shares = wei(ins.amount)
        key = position_key(token)
        self.have(key, ins.amount)
        nonce = str(int(self.meta.get("nonce", 0)))
        self.meta["nonce"] = int(nonce) + 1
        self.withdrawals[nonce] = (token, shares, ts.value)
        st = self.state(token)
        per_share = human(st.to_underlying(10**18)) * self.price(ts.value, token)
        details = {"request_id": nonce, "shares": ins.amount, "underlying": human(st.to_underlying(shares)),
                   "claimable_at": from_ns(self.claimable_ns(ts.value)).isoformat(),
                   "delay_blocks": self.delay_blocks,
                   "reference_prices": {key: per_share, withdrawal_key(nonce): per_share}}
        return self.deltas(ins.operation, ts, ins, {key: -ins.amount, withdrawal_key(nonce): ins.amount},
                           ("queue_withdrawal",), "requested", details, ins.amount)

    def _claim(self, ts: Any, ins: Any) -> ExecutionDeltas:
        nonce = ins.request_id
        w = self.withdrawals.get(nonce)
        if w is None:
            known = ", ".join(self.withdrawals.keys()) or "none"
            raise InstructionError("request_id", f"no queued withdrawal {nonce!r} (queued: {known})")
        token, shares, queued = w
        if ins.asset not in (token, "stETH"):  # "stETH" is Unstake's default asset
            raise InstructionError("asset", f"withdrawal {nonce} is of {token}, not {ins.asset!r}")
        ready = self.claimable_ns(queued)
        if ts.value < ready:
            raise InstructionError("request_id", f"withdrawal {nonce} cannot complete yet "
                                                 f"(WithdrawalDelayNotElapsed: {self.delay_blocks} blocks); "
                                                 f"completable from {from_ns(ready).isoformat()}")
        out, after = self.state(token).withdraw(shares)
        self._set(token, after)
        del self.withdrawals[nonce]
        px = self.price(ts.value, token)
        got, queued_shares = human(out), human(shares)
        details = {"request_id": nonce, "amount_out": got,
                   "reference_prices": {withdrawal_key(nonce): got * px / queued_shares, token: px}}
        return self.deltas(ins.operation, ts, ins, {withdrawal_key(nonce): -queued_shares, WALLET + token: got},
                           ("complete_withdrawal",), "claimed", details, got)

    # -- time and queries ---------------------------------------------------------------------------
    def accrue(self, previous: Any, ts: Any) -> list[ExecutionDeltas] | None:
        """Rebase the strategies holding a rebasing token; book restaking rewards on the positions."""
        for token, series in REBASING.items():
            st = self.strategies.get(token)
            if st is None or st[1] == 0:
                continue
            try:
                s = self.data.series(series)
                r0, r1 = (rate_wei(s.value("rate", t)) for t in (previous.value, ts.value))
            except MarketDataError:
                continue
            if r0 and r0 != r1:
                self.strategies[token] = (st[0], st[1] * r1 // r0)
        if not self.rewards:
            return None
        eth_total = usd_total = _ZERO
        dt = Decimal(ts.value - previous.value)
        for token in self.tokens:
            held = self.ledger.balance(position_key(token))
            if held <= 0 or not self.data.has(f"eigenlayer:rewards:{token}"):
                continue
            try:
                snap = self.data.get_data(previous.value)
                apr = snap.get(f"eigenlayer:rewards:{token}", "apr")
                usd = human(self.state(token).to_underlying(wei(held))) * usd_price(snap, token) * apr * dt / _YEAR_NS
                eth = usd / usd_price(snap, "ETH")
            except MarketDataError:
                continue
            usd_total += usd
            eth_total += eth
        if eth_total <= 0:
            return None
        eth_total = eth_total.quantize(Decimal("1e-18"))
        return [ExecutionDeltas(VENUE, "rewards", ts, {REWARDS_KEY: eth_total}, {}, "accrued",
                                pnl={"staking_yield": usd_total})]

    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet and venue balances, with metrics: ``underlying:<TOKEN>`` (tokens the shares are worth),
        ``value_usd:position:<TOKEN>``, ``delegated`` (1 / 0), and per queued withdrawal ``claimable:<nonce>``,
        ``claimable_at:<nonce>`` (unix seconds), ``value_usd:withdrawal:<nonce>``."""
        out = self.ledger.balances_with((WALLET, f"{VENUE}:"))
        m = f"{VENUE}:metric:"
        out[f"{m}delegated"] = Decimal(1 if self.meta.get("operator") else 0)
        ts_ns = ts.value
        for nonce, (_token, _shares, queued) in self.withdrawals.items():
            ready = self.claimable_ns(queued)
            out[f"{m}claimable:{nonce}"] = Decimal(1 if ts_ns >= ready else 0)
            out[f"{m}claimable_at:{nonce}"] = Decimal(ready) / Decimal(10**9)
        try:
            snap = self.data.get_data(ts_ns)
            for token in self.tokens:
                st = self.state(token)
                held = self.ledger.balance(position_key(token))
                if held > 0:
                    under = human(st.to_underlying(wei(held)))
                    out[f"{m}underlying:{token}"] = under
                    out[f"{m}value_usd:position:{token}"] = under * usd_price(snap, token)
            for nonce, (token, shares, _q) in self.withdrawals.items():
                out[f"{m}value_usd:withdrawal:{nonce}"] = human(self.state(token).to_underlying(shares)) * usd_price(
                    snap, token)
        except LookupError:
            pass
        return out


__all__ = ["EigenLayerSim", "parse_options", "position_key", "withdrawal_key"]
