"""Shared pieces of the on-chain venues' live backends (Aave, Curve, Lido, Uniswap).

Settings: :func:`approval_mode` (validated ``approval_mode`` option), :func:`option_float`,
:func:`client_from_settings` (the :class:`~basis_core.live.evm.EvmClient` of ``rpc_url`` / ``private_key`` /
``receipt_poll_interval`` / ``receipt_timeout`` / ``timeout_ms``), :func:`check_chain` (the deployment table
is for the node's chain).

:class:`OnChainLiveBase`: the token tables (symbol -> checksummed address, symbol -> decimals, the
``zero_approval_first`` symbols) and what every backend does with them: wallet balance checks, approvals
through :meth:`EvmClient.approve <basis_core.live.evm.EvmClient.approve>` (every receipt returned: each paid
gas), per-token locks serialising exact approvals with the transaction that spends them, gas paid by
receipts, token deltas decoded from receipts' ``Transfer`` events. Amounts: ints in base units in,
Decimals in token units out. web3 is only imported when a client is built.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from basis_core.backtest.dex import GasCost, from_units, wallet_key
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError, ContractRevertError, InstructionError, InsufficientFundsError
from basis_core.live.evm import EvmClient, Receipt

if TYPE_CHECKING:
    from basis_core.live.chain_intents import ChainIntents

APPROVAL_MODES = ("exact", "unlimited")
#: venue_config options every on-chain venue's live client reads (:func:`client_from_settings`)
#: the gas policy options of every EVM venue (see :func:`client_from_settings`)
GAS_OPTIONS = frozenset({"priority_fee_percentile", "base_fee_multiplier", "fee_history_blocks",
                         "min_priority_fee_gwei", "max_priority_fee_gwei", "max_fee_gwei", "gas_limit_multiplier",
                         "gas_limit_headroom"})
EVM_OPTIONS = frozenset({"receipt_poll_interval", "receipt_timeout"}) | GAS_OPTIONS
_ZERO = Decimal(0)

__all__ = ["APPROVAL_MODES", "ETH_KEY", "EVM_OPTIONS", "GAS_OPTIONS", "OnChainLiveBase", "abi_function",
           "approval_mode", "check_chain", "client_from_settings", "contracts_table", "event_topic", "gas_policy",
           "hex_str", "live_accrue", "option_float", "read_deployment"]

#: the wallet's ETH (gas, and ETH sent or received)
ETH_KEY = wallet_key("ETH")


def abi_function(name: str, inputs: Sequence[Any] = (), outputs: Sequence[Any] = (),
                 mutability: str = "view") -> dict[str, Any]:
    """The ABI entry of a contract function; each input / output is ``"type name"`` (``"uint256 amount"``) or a
    full ABI parameter dict (tuples)."""
    def param(spec: Any) -> dict[str, Any]:
        if isinstance(spec, dict):
            return spec
        typ, _, nm = spec.partition(" ")
        return {"name": nm, "type": typ}
    return {"type": "function", "name": name, "stateMutability": mutability, "inputs": [param(i) for i in inputs],
            "outputs": [param(o) for o in outputs]}


def event_topic(signature: str) -> str:
    """``keccak(signature)`` as hex without 0x: the first topic of the event's logs (imports web3)."""
    from web3 import Web3
    return Web3.keccak(text=signature).hex().removeprefix("0x")


def hex_str(v: Any) -> str:
    """A log topic / data field (hex string or bytes) as hex without 0x."""
    return v.removeprefix("0x") if isinstance(v, str) else bytes(v).hex()


@lru_cache(maxsize=16)
def _packaged_json(package: str, name: str) -> Mapping[str, Any]:
    return json.loads(resources.files(package).joinpath("deployments", f"{name}.json").read_text())  # type: ignore[no-any-return]


def read_deployment(deployment: str | Mapping[str, Any] | None, package: str,
                    packaged: tuple[str, ...] = ("mainnet",)) -> tuple[Mapping[str, Any], str]:
    """``(raw table, where it came from)`` of a venue's ``deployment`` setting, for the venue to validate.

    A name in ``packaged`` reads ``<package>/deployments/<name>.json`` (package data; ``None`` means
    ``"mainnet"``), a mapping is returned as given, anything else is a path to a JSON file. Raises
    :class:`ConfigError` naming the problem. The returned mapping must not be mutated.
    """
    if deployment is None:
        deployment = "mainnet"
    if isinstance(deployment, Mapping):
        return deployment, "table"
    if deployment in packaged:
        return _packaged_json(package, deployment), deployment
    path = Path(deployment)
    if not path.exists():
        names = " nor ".join([", ".join(repr(n) for n in packaged), "an existing JSON file"])
        raise ConfigError(f"deployment: {deployment!r} is neither {names}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ConfigError(f"deployment {path}: not valid JSON ({e.msg})") from None
    return data, str(path)


def contracts_table(deployment: str | Mapping[str, Any] | None, package: str, names: Sequence[str],
                    required: Sequence[str]) -> dict[str, Any]:
    """A validated table of contract addresses from a ``deployment`` setting (:func:`read_deployment`): nested
    ``{"chain_id", "contracts": {name: address}}`` or flat ``{name: address}`` (the keys in ``names``);
    ConfigError naming the first of ``required`` that is missing."""
    raw, _ = read_deployment(deployment, package)
    nested = raw.get("contracts")
    contracts: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {
        k: v for k, v in raw.items() if k in names}
    for name in required:
        if name not in contracts:
            raise ConfigError(f"deployment: contracts.{name} is required")
    return {"chain_id": raw.get("chain_id"), "contracts": {str(k): str(v) for k, v in contracts.items()}}


def approval_mode(venue: str, options: Mapping[str, Any]) -> str:
    """The ``approval_mode`` option ("exact" by default); ConfigError naming ``venue_config.<venue>`` otherwise."""
    mode = options.get("approval_mode", "exact")
    if mode not in APPROVAL_MODES:
        raise ConfigError(f"venue_config.{venue}.approval_mode: 'exact' or 'unlimited', got {mode!r}")
    return str(mode)


def option_float(venue: str, options: Mapping[str, Any], name: str, default: float) -> float:
    """Option ``name`` as a float (``default`` when absent); ConfigError when it is not a number."""
    try:
        return float(options.get(name, default))
    except (TypeError, ValueError):
        raise ConfigError(f"venue_config.{venue}.{name}: expected a number") from None


def client_from_settings(venue: str, settings: Any) -> EvmClient:
    """The EvmClient of a venue's live settings: ``rpc_url`` and ``private_key`` required (ConfigError),
    options ``receipt_poll_interval`` (s, default 0.005) and ``receipt_timeout`` (s, 120), request timeout
    ``timeout_ms``. Nothing is read from the node here."""
    if not settings.rpc_url:
        raise ConfigError(f"venue_config.{venue}.rpc_url: required in live mode")
    if settings.private_key is None:
        raise ConfigError(f"venue_config.{venue}.private_key: required in live mode")
    opts = settings.options
    return EvmClient(
        str(settings.rpc_url), settings.private_key,
        receipt_poll_interval=option_float(venue, opts, "receipt_poll_interval", 0.005),
        receipt_timeout=option_float(venue, opts, "receipt_timeout", 120.0),
        request_timeout=settings.timeout_ms / 1000,
        **gas_policy(venue, opts),
    )


def gas_policy(venue: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """The EIP-1559 fee and gas-limit policy of a venue's options, as :class:`EvmClient` keywords.

    Fees come from ``eth_feeHistory`` over ``fee_history_blocks`` (5) blocks: the priority fee is the median of
    the blocks' ``priority_fee_percentile`` (50) rewards, clamped to [``min_priority_fee_gwei`` (0.001),
    ``max_priority_fee_gwei`` (none)]; ``maxFeePerGas`` = next base fee x ``base_fee_multiplier`` (2) + priority,
    capped at ``max_fee_gwei`` (none; a cap below the next block's base fee + priority refuses to send). Gas
    limit: the estimate x ``gas_limit_multiplier`` (1.2) + ``gas_limit_headroom`` (60,000: what a pool moved by
    a concurrent swap, a new block's oracle writes, may add). ConfigError naming the option when out of range.
    """
    out: dict[str, Any] = {}

    def num(name: str) -> Decimal | None:
        if name not in options:
            return None
        try:
            v = Decimal(str(options[name]))
        except ArithmeticError:
            raise ConfigError(f"venue_config.{venue}.{name}: expected a number") from None
        if not v.is_finite() or v < 0:
            raise ConfigError(f"venue_config.{venue}.{name}: expected a number >= 0")
        return v

    pct = num("priority_fee_percentile")
    if pct is not None:
        if pct > 100:
            raise ConfigError(f"venue_config.{venue}.priority_fee_percentile: a percentile in [0, 100]")
        out["priority_fee_percentile"] = float(pct)
    for name, kw, low in (("base_fee_multiplier", "base_fee_multiplier", 1), ("fee_history_blocks",
                                                                             "fee_history_blocks", 1),
                          ("gas_limit_headroom", "gas_limit_headroom", 0)):
        v = num(name)
        if v is not None:
            if v != v.to_integral_value() or v < low:
                raise ConfigError(f"venue_config.{venue}.{name}: an integer >= {low}")
            out[kw] = int(v)
    mult = num("gas_limit_multiplier")
    if mult is not None:
        if mult < 1:
            raise ConfigError(f"venue_config.{venue}.gas_limit_multiplier: must be >= 1")
        out["gas_limit_multiplier"] = float(mult)
    for name, kw in (("min_priority_fee_gwei", "min_priority_fee_per_gas"),
                     ("max_priority_fee_gwei", "max_priority_fee_per_gas"), ("max_fee_gwei", "max_fee_per_gas_cap")):
        v = num(name)
        if v is not None:
            out[kw] = int(v.scaleb(9))
    return out


def live_accrue(venue: Any) -> list[ExecutionDeltas] | None:
    """The ``accrue`` hook of an on-chain venue in live mode (``manager.advance_to``): when the run configures the
    venue (``rpc_url``), its backend (created now if needed: a restart resumes the journal's pending intents
    then) settles the pending intents and the ones completed now are returned; None otherwise."""
    ctx = venue.context
    if ctx is None or ctx.mode != "live":
        return None
    if venue._backend is None and not (venue.settings.rpc_url and ctx.settings.names_venue(venue.name)):
        return None  # an auto-discovered venue nobody configured is never connected
    return venue.backend.resume_pending() or None


def check_chain(venue: str, table: Mapping[str, Any], client: EvmClient) -> None:
    """ConfigError when the deployment table names a ``chain_id`` other than the node's."""
    if table.get("chain_id") is not None and int(table["chain_id"]) != client.chain_id:
        raise ConfigError(f"venue_config.{venue}.deployment: table is for chain {table['chain_id']}, "
                          f"the node is chain {client.chain_id}")


class OnChainLiveBase:
    """Token tables and the token mechanics shared by the on-chain live backends.

    Subclasses call :meth:`init_onchain` in their ``__init__``. ``tokens`` maps symbols to checksummed
    addresses, ``decimals`` symbols to decimals, ``zero_first`` holds the symbols whose non-zero
    allowance must be reset to 0 before it changes (USDT).
    """

    #: the venue's name (the intents' ``kind``, instrument keys ``<venue>:...``, error messages)
    venue_name: str
    #: revert reasons of the protocol meaning "not enough balance / allowance": :meth:`send` turns them into an
    #: InstructionError naming ``amount`` (nothing was sent)
    refusals: tuple[str, ...] = ()
    client: EvmClient
    intents: ChainIntents
    tokens: dict[str, str]
    decimals: dict[str, int]
    zero_first: set[str]
    approval_mode: str

    def connect(self, venue: Any, client: EvmClient | None,
                load_table: Callable[[Any], dict[str, Any]]) -> EvmClient:
        """Set ``table`` (``load_table`` of the option ``deployment_table`` or else the ``deployment`` setting) and
        return ``client``, or the client of the venue's live settings (:func:`client_from_settings`)."""
        s = venue.settings
        if client is None:
            client = client_from_settings(self.venue_name, s)
        self.table = load_table(s.options.get("deployment_table") or s.deployment)
        return client

    @property
    def me(self) -> str:
        """The account's address."""
        return self.client.address

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.client!r}>"

    def init_onchain(self, venue: str, client: EvmClient, table: Mapping[str, Any],
                     options: Mapping[str, Any]) -> None:
        """Check the table's chain, then set the client, the approval mode and the token tables
        (the table's ``tokens``, ``decimals`` and ``zero_approval_first``, each optional)."""
        check_chain(venue, table, client)
        self.client = client
        self.approval_mode = approval_mode(venue, options)
        self.tokens = {k: client.checksum(v) for k, v in (table.get("tokens") or {}).items()}
        self.decimals = {k: int(v) for k, v in (table.get("decimals") or {}).items()}
        self.zero_first = set(table.get("zero_approval_first") or ())
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()

    # ------------------------------------------------------------------------------------------ intents
    def init_intents(self, venue: str, context: Any) -> None:
        """The exactly-once flow (:mod:`basis_core.live.chain_intents`) on the run's journal, then resume this
        venue's pending intents (a restart) before anything new is sent."""
        from basis_core.live.chain_intents import ChainIntents

        self.intents = ChainIntents.for_backend(venue, self.client, context, self.finish_intent)
        self.resumed = self.intents.resume_pending()

    def intent(self, ts: Any, ins: Any, body: Callable[[], ExecutionDeltas]) -> ExecutionDeltas:
        """Run ``body`` (an operation that sends transactions) as the journaled intent of ``ins``."""
        return self.intents.run(ts, ins, body)

    def finish_intent(self, ts: Any, ins: Any, receipts: list[Receipt], ctx: Mapping[str, Any]) -> ExecutionDeltas:
        """The deltas of an intent from its receipts and the ``final`` context its last transaction was sent with:
        calls ``finish_<ctx["kind"]>(ts, ins, receipts, ctx)`` of the backend."""
        fn: Callable[..., ExecutionDeltas] = getattr(self, f"finish_{ctx['kind']}")
        return fn(ts, ins, receipts, ctx)

    def resume_pending(self) -> list[ExecutionDeltas]:
        """Settle this venue's pending intents now and return the ones completed (``manager.advance_to`` in live
        mode returns them as effects; see :meth:`ChainIntents.resume_pending`)."""
        return self.intents.resume_pending(report=False)

    def bump_fee(self, client_id: str, max_fee_per_gas: int | None = None,
                 max_priority_fee_per_gas: int | None = None) -> str:
        """Replace the stuck transaction of intent ``client_id`` on the same nonce with higher fees (see
        :meth:`ChainIntents.bump_fee`); the hash of the replacement."""
        return self.intents.bump_fee(client_id, max_fee_per_gas, max_priority_fee_per_gas)

    def send(self, fn: Any, value: int = 0, final: Mapping[str, Any] | None = None) -> Receipt:
        """Send ``fn`` (a contract call or a transaction dict) with ``value`` wei; a revert whose reason is one of
        ``refusals`` raises an InstructionError naming ``amount`` (the transaction reverted: no state changed)."""
        try:
            return self.client.send(fn, value=value, final=final)
        except ContractRevertError as e:
            if (e.reason or "") in self.refusals:
                raise InstructionError("amount", f"refused by {self.venue_name} ({e.reason}); nothing was sent"
                                       ) from None
            raise

    def send_final(self, ts: Any, ins: Any, receipts: list[Receipt], fn: Any, value: int = 0,
                   **ctx: Any) -> ExecutionDeltas:
        """Send the intent's final transaction (journaled with the context ``{"kind": venue_name, "value": value,
        **ctx}``) after ``receipts`` (its earlier ones), and return its deltas (:meth:`finish_intent`)."""
        final = {"kind": self.venue_name, "value": value, **ctx}
        receipts.append(self.send(fn, value=value, final=final))
        return self.finish_intent(ts, ins, receipts, final)

    # ------------------------------------------------------------------------------------------ checks
    def check_balance(self, token: str, amount: int, field: str = "amount") -> None:
        """InsufficientFundsError(``ethereum:wallet:<token>``, field) when the wallet holds less than
        ``amount`` base units of ``token`` (a symbol of ``tokens``, or ``"ETH"``)."""
        have = self.client.eth_balance() if token == "ETH" else self.client.balance_of(self.token_address(token))
        if have < amount:
            dec = 18 if token == "ETH" else self.decimals[token]
            raise InsufficientFundsError(wallet_key(token), from_units(amount, dec), from_units(have, dec), field)

    def token_address(self, token: str) -> str:
        """The address of the symbol ``token``; InstructionError naming ``asset`` when the table has none."""
        address = self.tokens.get(token)
        if address is None:
            raise InstructionError("asset", f"no {token} in the {self.venue_name} deployment table")
        return address

    # ------------------------------------------------------------------------------------------ approvals
    def token_lock(self, token: str) -> threading.Lock:
        """The lock of ``token``: held around an exact approval and the transaction that spends it, so
        concurrent instructions cannot consume each other's allowance."""
        with self._locks_guard:
            lk = self._locks.get(token)
            if lk is None:
                lk = self._locks[token] = threading.Lock()
            return lk

    def approve_address(self, token_address: str, spender: str, amount: int, *, zero_first: bool = False,
                        unlimited: bool = False) -> list[Receipt]:
        """Make ``spender`` able to pull ``amount`` base units of the ERC20 at ``token_address`` (exact, or
        2**256-1 when ``unlimited`` or ``approval_mode`` is "unlimited"); the receipts of what was sent
        (none when the allowance suffices; the reset to 0 first when ``zero_first`` and it is non-zero)."""
        sent: list[Receipt] = []
        mode: Literal["exact", "unlimited"] = "unlimited" if unlimited or self.approval_mode == "unlimited" else "exact"
        self.client.approve(token_address, spender, amount, mode=mode, zero_first=zero_first, sent=sent)
        return sent

    def approve(self, token: str, spender: str, amount: int, *, unlimited: bool = False) -> list[Receipt]:
        """:meth:`approve_address` for the symbol ``token`` (reset to 0 first if it is in ``zero_first``)."""
        return self.approve_address(self.tokens[token], spender, amount, zero_first=token in self.zero_first,
                                    unlimited=unlimited)

    # ------------------------------------------------------------------------------------------ receipts
    @staticmethod
    def gas_paid(receipts: Sequence[Receipt], prices: Mapping[str, Decimal] | None) -> GasCost:
        """Gas units and ETH paid by ``receipts`` (``gasUsed x effectiveGasPrice``), valued at ``prices["ETH"]``
        (0 without a price)."""
        wei = sum(r.gas_cost_wei for r in receipts)
        return GasCost(sum(r.gas_used for r in receipts), from_units(wei, 18), (prices or {}).get("ETH", _ZERO))

    def transfer_totals(self, receipts: Sequence[Receipt], addresses: Sequence[str]) -> dict[str, int]:
        """The account's net base-unit change of each token address over ``receipts`` (Transfer events)."""
        total = dict.fromkeys(addresses, 0)
        for r in receipts:
            for a, v in self.client.transfer_deltas(r, addresses).items():
                total[a] += v
        return total

    def balance_moves(self, receipts: Sequence[Receipt], tokens: Sequence[str]) -> dict[str, Decimal]:
        """``ethereum:wallet:<token>`` -> the account's ``balanceOf`` after the last receipt's block minus before the
        first's, for each symbol in ``tokens`` that moved (exact also for rebasing tokens, whose balances move by
        share rounding without a Transfer event)."""
        first, last = receipts[0].block_number - 1, receipts[-1].block_number
        out: dict[str, Decimal] = {}
        for t in tokens:
            erc = self.client.erc20(self.tokens[t]).functions.balanceOf(self.me)
            moved = int(erc.call(block_identifier=last)) - int(erc.call(block_identifier=first))
            if moved:
                out[wallet_key(t)] = from_units(moved, self.decimals[t])
        return out

    def received(self, token: str, receipt: Receipt) -> int:
        """Base units of ``token`` the account's balance changed by in ``receipt``'s block."""
        erc = self.client.erc20(self.tokens[token]).functions.balanceOf(self.me)
        b = receipt.block_number
        return int(erc.call(block_identifier=b)) - int(erc.call(block_identifier=b - 1))

    def chain_deltas(self, op: str, ts: Any, ins: Any, receipts: Sequence[Receipt], moved: Mapping[str, Decimal],
                     extra: Mapping[str, Decimal] | None = None, *, value: int = 0, eth_in: int = 0,
                     status: str = "filled", details: Mapping[str, Any] | None = None) -> ExecutionDeltas:
        """The deltas of an intent's ``receipts``: ``moved`` (e.g. :meth:`balance_moves`), ETH = ``eth_in`` -
        ``value`` - gas (fees: the gas), then ``extra``; details ``tx_hashes`` and ``details``."""
        positions = dict(moved)
        gas = sum(r.gas_cost_wei for r in receipts)
        eth = eth_in - value - gas
        if eth:
            positions[ETH_KEY] = from_units(eth, 18)
        positions.update(extra or {})
        return ExecutionDeltas(self.venue_name, op, ts, positions, {ETH_KEY: -from_units(gas, 18)} if gas else {},
                               status, ins.client_id, receipts[-1].tx_hash, None, getattr(ins, "amount", None), {},
                               {"tx_hashes": [r.tx_hash for r in receipts], **(details or {})})

    def logs(self, receipt: Receipt, address: str, signature: str) -> list[tuple[list[str], str]]:
        """``(topics, data)`` (hex without 0x) of the receipt's ``signature`` events emitted by ``address``."""
        t0 = event_topic(signature)
        out = []
        for log in receipt.logs:
            if str(log["address"]).lower() != str(address).lower():
                continue
            topics = [hex_str(t) for t in log["topics"]]
            if topics and topics[0] == t0:
                out.append((topics, hex_str(log["data"])))
        return out

    def wallet_balances(self, tokens: Sequence[str]) -> dict[str, Decimal]:
        """``ethereum:wallet:ETH`` and each symbol of ``tokens`` the wallet holds, in token units."""
        out = {ETH_KEY: from_units(self.client.eth_balance(), 18)}
        for t in tokens:
            bal = self.client.balance_of(self.tokens[t])
            if bal:
                out[wallet_key(t)] = from_units(bal, self.decimals[t])
        return out

    def token_deltas(self, receipts: Sequence[Receipt], tokens: Sequence[str]) -> dict[str, Decimal]:
        """The account's net change of each symbol in ``tokens`` over ``receipts``, in token units."""
        total = self.transfer_totals(receipts, [self.tokens[t] for t in tokens])
        return {t: from_units(total[self.tokens[t]], self.decimals[t]) for t in tokens}
