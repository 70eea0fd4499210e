"""The shared on-chain client of every EVM venue plugin (Uniswap, Curve, Aave, Lido): :class:`EvmClient`.

This is the only module of basis-core that imports web3 / eth-account; nothing in backtest mode
imports it (``basis_core.live`` does not import it either).

What it guarantees
- Transactions are EIP-1559 (type 2), signed locally; fees come from ``eth_feeHistory``:
  ``maxFeePerGas = next base fee * base_fee_multiplier + priority`` where the priority is the median
  over recent blocks of the ``priority_fee_percentile`` reward (clamped by the min / max settings),
  and never above ``max_fee_per_gas_cap`` (refused before sending if the cap cannot pay the next block).
- Every sent transaction is tracked by hash and nonce in :attr:`EvmClient.pending` until its receipt
  is seen. A receipt timeout raises :class:`~basis_core.errors.TransactionTimeoutError` and leaves the
  transaction in ``pending``; :meth:`EvmClient.resume` waits again. Nothing is ever re-sent with a
  new nonce (:meth:`EvmClient.rebroadcast` re-sends the same signed bytes, same nonce).
- Nonces: thread-safe; the next nonce is ``max(chain pending count, 1 + highest nonce in flight)``,
  and the allocation, signing and sending happen under one lock, so concurrent senders get distinct,
  gap-free nonces; a nonce whose transaction the node rejected outright is handed out again.
- A revert raises :class:`~basis_core.errors.ContractRevertError` (a ``TransactionRevertedError``)
  with the decoded reason: from ``eth_estimateGas`` before sending (``tx_hash`` None: nothing sent),
  or, for a mined revert, by replaying the transaction with ``eth_call`` on the parent block.
- The private key is a ``SecretStr`` until signing; it never appears in ``repr``/``str``, logs or
  errors, and the client refuses to be pickled.
- Gas limit: ``eth_estimateGas x gas_limit_multiplier + gas_limit_headroom``. The estimate runs in the
  latest block (its state and timestamp) while the transaction lands in a later block, after whatever the
  account sent meanwhile: a new block second alone makes Uniswap v2 write its price accumulators (two
  zero-to-non-zero stores on a pair's first update, 44k gas) and v3 its oracle observation, which a bare
  20 % margin does not always cover (the transaction then runs out of gas inside the pool and reverts with
  no reason). Unused gas is not paid for, so the fixed headroom costs nothing.
- In an on-chain intent (:mod:`basis_core.live.chain_intents`) every transaction is journaled (signed
  bytes, hash, nonce) before it is broadcast and is resumed by hash, never signed again.
- Receipts are polled from ``receipt_poll_interval`` (5 ms, anvil answers within milliseconds)
  growing by 1.5x per miss up to ``receipt_poll_max_interval`` (1 s, gentle on rate-limited RPCs).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import SecretStr

from basis_core.errors import (
    ConfigError,
    ContractRevertError,
    LiveExecutionError,
    TransactionTimeoutError,
)
from basis_core.live.units import from_base_units, to_base_units

log = logging.getLogger(__name__)

MAX_UINT256 = 2**256 - 1
# keccak256 of the event signatures (checked against web3's keccak in the tests)
TRANSFER_TOPIC = "ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"  # Transfer(address,address,uint256)
DEPOSIT_TOPIC = "e1fffcc4923d04b559f4d29a8bfc6cda04eb5b0d3c460751c2402c5c5cc9109c"  # Deposit(address,uint256)
WITHDRAWAL_TOPIC = "7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65"  # Withdrawal(address,uint256)

ERC20_ABI: list[dict[str, Any]] = [
    {"type": "function", "name": "balanceOf", "stateMutability": "view",
     "inputs": [{"name": "owner", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "decimals", "stateMutability": "view",
     "inputs": [], "outputs": [{"name": "", "type": "uint8"}]},
    {"type": "function", "name": "symbol", "stateMutability": "view",
     "inputs": [], "outputs": [{"name": "", "type": "string"}]},
    {"type": "function", "name": "allowance", "stateMutability": "view",
     "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
     "outputs": [{"name": "", "type": "uint256"}]},
    {"type": "function", "name": "approve", "stateMutability": "nonpayable",
     "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
     "outputs": [{"name": "", "type": "bool"}]},
    {"type": "function", "name": "transfer", "stateMutability": "nonpayable",
     "inputs": [{"name": "to", "type": "address"}, {"name": "amount", "type": "uint256"}],
     "outputs": [{"name": "", "type": "bool"}]},
]

__all__ = [
    "ERC20_ABI",
    "EvmClient",
    "PendingTx",
    "Receipt",
    "from_base_units",
    "gas_cost_wei",
    "to_base_units",
    "transfer_deltas",
]


@dataclass(frozen=True, slots=True)
class Receipt:
    """A mined transaction's receipt (status 1; a status-0 receipt is raised as ContractRevertError)."""

    tx_hash: str
    nonce: int | None
    status: int
    block_number: int
    gas_used: int
    effective_gas_price: int
    logs: tuple[Any, ...] = field(repr=False)
    contract_address: str | None = None
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def gas_cost_wei(self) -> int:
        """``gasUsed * effectiveGasPrice``: the ETH (wei) the transaction cost."""
        return self.gas_used * self.effective_gas_price


@dataclass(slots=True)
class PendingTx:
    """A transaction sent but whose receipt has not been seen yet."""

    tx_hash: str
    nonce: int
    raw_transaction: bytes = field(repr=False)
    sent_at: float
    to: str | None = None
    fields: dict[str, Any] | None = field(default=None, repr=False)  # the signed fields (for a fee bump)


def gas_cost_wei(receipt: Receipt) -> int:
    """``gasUsed * effectiveGasPrice`` in wei."""
    return receipt.gas_used * receipt.effective_gas_price


def _hex(b: Any) -> str:
    """A bytes-like / hex string as lower-case hex without 0x."""
    if isinstance(b, str):
        return b[2:].lower() if b[:2].lower() == "0x" else b.lower()
    return bytes(b).hex()


def transfer_deltas(receipt: Receipt, tokens: Iterable[str], account: str) -> dict[str, int]:
    """Signed base-unit changes of ``account``'s balance of each token in ``tokens``, decoded from the
    receipt's ERC20 ``Transfer`` events and WETH ``Deposit`` (+) / ``Withdrawal`` (-) events.

    Keys are the token addresses as given; tokens with no event map to 0. Native ETH (value, gas) is
    not an ERC20 and is not included (use :func:`gas_cost_wei` and the value sent).
    """
    wanted = {t.lower(): t for t in tokens}
    out = {t: 0 for t in wanted.values()}
    me = _hex(account)[-40:]
    for entry in receipt.logs:
        addr = str(entry["address"]).lower()
        if addr not in wanted:
            continue
        topics = [_hex(t) for t in entry["topics"]]
        if not topics:
            continue
        data = _hex(entry["data"])
        key = wanted[addr]
        t0 = topics[0]
        if t0 == TRANSFER_TOPIC and len(topics) == 3:
            value = int(data[:64] or "0", 16)
            if topics[1][-40:] == me:
                out[key] -= value
            if topics[2][-40:] == me:
                out[key] += value
        elif t0 == DEPOSIT_TOPIC and len(topics) == 2 and topics[1][-40:] == me:
            out[key] += int(data[:64] or "0", 16)
        elif t0 == WITHDRAWAL_TOPIC and len(topics) == 2 and topics[1][-40:] == me:
            out[key] -= int(data[:64] or "0", 16)
    return out


def _redact_url(url: str) -> str:
    """scheme://host[:port] only: RPC URLs often carry an API key in the path or query."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{f':{parts.port}' if parts.port else ''}"


def _revert_reason(exc: Exception) -> str | None:
    """The reason of a web3 ContractLogicError ('execution reverted: X' -> 'X'), None if none given."""
    msg = getattr(exc, "message", None) or (str(exc.args[0]) if exc.args else "")
    msg = str(msg)
    for prefix in ("execution reverted: ", "execution reverted:", "execution reverted"):
        if msg.startswith(prefix):
            msg = msg[len(prefix):].strip()
            break
    return msg or None


class EvmClient:
    """Signs and sends EIP-1559 transactions from one account, tracks them, and reads ERC20 state.

    ``private_key``: a ``SecretStr`` (a plain str is accepted and wrapped at once). ``chain_id`` is
    read from the node when None. ``w3``: an existing ``web3.Web3`` to use instead of building an
    ``HTTPProvider`` for ``rpc_url``. Fees are in wei (see the module docstring for the formula).
    """

    def __init__(
        self,
        rpc_url: str,
        private_key: SecretStr | str,
        chain_id: int | None = None,
        *,
        receipt_poll_interval: float = 0.005,
        receipt_poll_max_interval: float = 1.0,
        receipt_timeout: float = 120.0,
        base_fee_multiplier: int = 2,
        priority_fee_percentile: float = 50.0,
        fee_history_blocks: int = 5,
        min_priority_fee_per_gas: int = 1_000_000,
        max_priority_fee_per_gas: int | None = None,
        max_fee_per_gas_cap: int | None = None,
        gas_limit_multiplier: float = 1.2,
        gas_limit_headroom: int = 60_000,
        request_timeout: float = 30.0,
        w3: Any = None,
    ) -> None:
        from eth_account import Account
        from web3 import Web3

        secret = private_key if isinstance(private_key, SecretStr) else SecretStr(str(private_key))
        try:
            account = Account.from_key(secret.get_secret_value())
        except Exception:
            # `from None`: the original exception may quote the key
            raise ConfigError("private_key: not a valid 32-byte hex private key") from None
        if receipt_poll_interval <= 0 or receipt_timeout <= 0:
            raise ConfigError("receipt_poll_interval and receipt_timeout must be > 0")
        if base_fee_multiplier < 1:
            raise ConfigError("base_fee_multiplier must be >= 1")
        self._secret = secret
        self._account = account
        self._address: str = account.address
        self._rpc_url = rpc_url
        self._w3: Any = w3 if w3 is not None else Web3(
            Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": request_timeout}, cache_allowed_requests=True)
        )
        self._chain_id = chain_id
        self.receipt_poll_interval = receipt_poll_interval
        self.receipt_poll_max_interval = max(receipt_poll_max_interval, receipt_poll_interval)
        self.receipt_timeout = receipt_timeout
        self.base_fee_multiplier = base_fee_multiplier
        self.priority_fee_percentile = priority_fee_percentile
        self.fee_history_blocks = fee_history_blocks
        self.min_priority_fee_per_gas = min_priority_fee_per_gas
        self.max_priority_fee_per_gas = max_priority_fee_per_gas
        self.max_fee_per_gas_cap = max_fee_per_gas_cap
        self.gas_limit_multiplier = gas_limit_multiplier
        self.gas_limit_headroom = gas_limit_headroom
        self.pending: dict[str, PendingTx] = {}
        self._lock = threading.RLock()
        self._decimals: dict[str, int] = {}
        self._erc20: dict[str, Any] = {}

    # ------------------------------------------------------------------------------ identity / safety
    @property
    def address(self) -> str:
        """The checksummed address of the signing account."""
        return self._address

    @property
    def w3(self) -> Any:
        """The underlying ``web3.Web3`` (for contract objects and reads)."""
        return self._w3

    @property
    def chain_id(self) -> int:
        """The chain id (read from the node once when not configured)."""
        if self._chain_id is None:
            self._chain_id = int(self._w3.eth.chain_id)
        return self._chain_id

    def __repr__(self) -> str:
        return f"EvmClient(address={self._address}, rpc={_redact_url(self._rpc_url)}, pending={len(self.pending)})"

    __str__ = __repr__

    def __getstate__(self) -> Any:
        raise TypeError("EvmClient holds a private key and cannot be pickled")

    # ------------------------------------------------------------------------------------------- fees
    def fees(self) -> tuple[int, int]:
        """(maxFeePerGas, maxPriorityFeePerGas) in wei for a transaction sent now."""
        hist = self._w3.eth.fee_history(self.fee_history_blocks, "latest", [self.priority_fee_percentile])
        base_next = int(hist["baseFeePerGas"][-1])
        rewards = sorted(int(r[0]) for r in (hist.get("reward") or []) if r)
        priority = rewards[len(rewards) // 2] if rewards else 0
        priority = max(priority, self.min_priority_fee_per_gas)
        if self.max_priority_fee_per_gas is not None:
            priority = min(priority, self.max_priority_fee_per_gas)
        max_fee = base_next * self.base_fee_multiplier + priority
        cap = self.max_fee_per_gas_cap
        if cap is not None:
            if cap < base_next + priority:
                raise LiveExecutionError(
                    f"max_fee_per_gas_cap {cap} wei is below the next base fee {base_next} + priority "
                    f"{priority} wei: transaction not sent"
                )
            max_fee = min(max_fee, cap)
        return max_fee, priority

    # ------------------------------------------------------------------------------------ transactions
    def _call_fields(self, fn_or_tx: Any, value: int) -> dict[str, Any]:
        """{'from', 'to', 'data', 'value'} of a web3 ContractFunction or a tx dict."""
        if isinstance(fn_or_tx, dict):
            tx = {k: v for k, v in fn_or_tx.items() if k in ("to", "data", "value")}
            tx.setdefault("value", value)
            tx.setdefault("data", "0x")
            if tx.get("to") is None:
                tx.pop("to", None)
        else:
            tx = {"to": fn_or_tx.address, "data": fn_or_tx._encode_transaction_data(), "value": value}
        tx["from"] = self._address
        return tx

    def _allocate_nonce(self) -> int:
        """The next nonce; call with the lock held: ``max(chain pending count, 1 + highest in flight)``.

        Allocation and sending share the lock and only sent transactions enter :attr:`pending`, so a
        nonce the node rejected outright is the next one handed out again: no gap can form."""
        chain = int(self._w3.eth.get_transaction_count(self._address, "pending"))
        in_flight = max((p.nonce for p in self.pending.values()), default=-1) + 1
        return max(chain, in_flight)

    def estimate_gas(self, fn_or_tx: Any, value: int = 0) -> int:
        """``eth_estimateGas``; a revert raises ContractRevertError (nothing is sent)."""
        from web3.exceptions import ContractLogicError

        tx = self._call_fields(fn_or_tx, value)
        try:
            return int(self._w3.eth.estimate_gas(tx))
        except ContractLogicError as e:
            reason = _revert_reason(e)
            raise ContractRevertError(
                f"transaction would revert ({reason or 'no reason given'}); not sent", reason=reason
            ) from None

    def submit(self, fn_or_tx: Any, value: int = 0, gas: int | None = None, *, label: str | None = None,
               final: Any = None) -> PendingTx:
        """Build, sign and send a transaction without waiting; it is tracked in :attr:`pending`.

        ``fn_or_tx``: a web3 ContractFunction (``contract.functions.f(args)``) or a dict with ``to``,
        ``data`` and optionally ``value``. ``value`` in wei. ``gas``: the gas limit; when None,
        ``eth_estimateGas * gas_limit_multiplier + gas_limit_headroom`` (a revert in that estimate raises
        ContractRevertError and nothing is sent). Inside an on-chain intent (:mod:`basis_core.live.chain_intents`)
        the transaction is journaled before it is broadcast under ``label`` (default: the function and target
        and how often they were sent in the intent), and a label already journaled is resumed instead of
        signed again; ``final`` (a JSON-able mapping) marks the transaction whose receipt completes the intent.
        """
        from basis_core.live.chain_intents import current_scope

        scope = current_scope(self)
        if scope is not None:
            return scope.submit(fn_or_tx, value, gas, label, final)
        tx = self.build(fn_or_tx, value, gas)
        with self._lock:
            pending = self.sign(tx)
            self.broadcast(pending)
        return pending

    def build(self, fn_or_tx: Any, value: int = 0, gas: int | None = None) -> dict[str, Any]:
        """The fields of a transaction to sign (gas estimated when None, fees from :meth:`fees`; no nonce)."""
        tx = self._call_fields(fn_or_tx, value)
        if gas is None:
            gas = int(self.estimate_gas(tx) * self.gas_limit_multiplier) + self.gas_limit_headroom
        max_fee, priority = self.fees()
        tx.update({
            "gas": gas, "maxFeePerGas": max_fee, "maxPriorityFeePerGas": priority,
            "chainId": self.chain_id, "type": 2,
        })
        return tx

    def sign(self, tx: dict[str, Any], nonce: int | None = None) -> PendingTx:
        """Sign ``tx`` with the next nonce (or ``nonce``, for a replacement); hold :attr:`lock` from here until
        :meth:`broadcast` so nonces reach the node in order. Nothing is sent."""
        tx = dict(tx)
        tx["nonce"] = self._allocate_nonce() if nonce is None else nonce
        signed = self._account.sign_transaction(tx)
        tx_hash = "0x" + bytes(signed.hash).hex()
        return PendingTx(tx_hash, tx["nonce"], bytes(signed.raw_transaction), time.time(), tx.get("to"), tx)

    @property
    def lock(self) -> threading.RLock:
        """The lock nonce allocation, signing and broadcasting share."""
        return self._lock

    def broadcast(self, pending: PendingTx) -> None:
        """``eth_sendRawTransaction`` of a signed transaction; tracked in :attr:`pending` once the node may
        hold it. A failure the node did not take raises LiveExecutionError (nothing sent); one it may have
        taken (connection error, timeout, stall) raises TransactionTimeoutError carrying the hash and nonce."""
        tx_hash, nonce = pending.tx_hash, pending.nonce
        try:
            self._w3.eth.send_raw_transaction(pending.raw_transaction)
        except Exception as e:
            # The node may hold the tx although the call failed (dropped response, web3's own retry
            # of the same bytes answered "already known"...): ask it by hash before concluding.
            known = self._node_knows(tx_hash)
            if known:
                log.info("send of %s (nonce %d) raised %s but the node has it", tx_hash, nonce, type(e).__name__)
            elif known is False and not isinstance(e, (OSError, TimeoutError)):
                raise LiveExecutionError(f"node rejected the transaction (nonce {nonce}): {e}") from None
            else:  # connection error / node unreachable (requests' errors are OSErrors): unknown outcome
                self.pending[tx_hash] = pending
                log.warning("send of %s (nonce %d) is ambiguous: %s", tx_hash, nonce, type(e).__name__)
                raise TransactionTimeoutError(
                    f"sending {tx_hash} (nonce {nonce}) failed ambiguously ({type(e).__name__}); "
                    "it is tracked as pending: resume() it, never re-send with a new nonce",
                    tx_hash=tx_hash, nonce=nonce,
                ) from None
        self.pending[tx_hash] = pending
        log.debug("sent %s nonce=%d to=%s", tx_hash, nonce, pending.to)

    def replacement(self, pending: PendingTx, max_fee_per_gas: int | None = None,
                    max_priority_fee_per_gas: int | None = None) -> PendingTx:
        """A fee bump of ``pending``: the same fields and nonce, fees raised to the given ones and at least 12.5 %
        + 1 wei above the old (what nodes require of a replacement); signed, not sent."""
        if pending.fields is None:
            raise LiveExecutionError(f"{pending.tx_hash}: its fields are not known; it cannot be replaced")
        old = pending.fields
        tx = dict(old)
        bump = max(int(old["maxFeePerGas"]) * 9 // 8 + 1, max_fee_per_gas or 0)
        tip = max(int(old["maxPriorityFeePerGas"]) * 9 // 8 + 1, max_priority_fee_per_gas or 0)
        tx.update({"maxFeePerGas": max(bump, tip), "maxPriorityFeePerGas": tip})
        return self.sign(tx, nonce=pending.nonce)

    def _node_knows(self, tx_hash: str) -> bool | None:
        """Whether the node has the transaction (pool or chain); None when it cannot be asked."""
        from web3.exceptions import TransactionNotFound

        try:
            self._w3.eth.get_transaction(tx_hash)
            return True
        except TransactionNotFound:
            return False
        except Exception:
            return None

    def send(self, fn_or_tx: Any, value: int = 0, gas: int | None = None, timeout: float | None = None, *,
             label: str | None = None, final: Any = None) -> Receipt:
        """:meth:`submit` then wait for the receipt (``timeout`` defaults to ``receipt_timeout``).

        Raises ContractRevertError on a revert (before sending or mined), TransactionTimeoutError
        (``tx_hash``, ``nonce``; the tx stays in :attr:`pending`) when no receipt arrives in time.
        """
        from basis_core.live.chain_intents import current_scope

        scope = current_scope(self)
        if scope is not None:
            return scope.send(fn_or_tx, value, gas, timeout, label, final)
        p = self.submit(fn_or_tx, value=value, gas=gas)
        return self._wait(p.tx_hash, p.nonce, timeout)

    def resume(self, tx_hash: str, timeout: float | None = None) -> Receipt:
        """Wait again for a transaction sent earlier (pending here, or known from a journal).

        Never re-sends anything. Same errors as :meth:`send`.
        """
        p = self.pending.get(tx_hash)
        return self._wait(tx_hash, p.nonce if p else None, timeout)

    def rebroadcast(self, tx_hash: str) -> None:
        """Re-send the SAME signed bytes of a pending transaction (same nonce, same hash); safe to repeat."""
        p = self.pending[tx_hash]
        try:
            self._w3.eth.send_raw_transaction(p.raw_transaction)
        except Exception as e:  # "already known" / "nonce too low" once mined: nothing to do
            log.debug("rebroadcast of %s: %s", tx_hash, e)

    def _wait(self, tx_hash: str, nonce: int | None, timeout: float | None) -> Receipt:
        return self.wait_any([tx_hash], nonce, timeout)

    def wait_any(self, hashes: list[str], nonce: int | None, timeout: float | None = None) -> Receipt:
        """The receipt of whichever of ``hashes`` (one nonce: a transaction and its fee bumps) is mined; node
        errors while polling (a stalled or unreachable node) count as "not yet". TransactionTimeoutError
        (hash of the latest, nonce) after ``timeout``; ContractRevertError for a mined revert."""
        from web3.exceptions import TransactionNotFound

        deadline = time.monotonic() + (self.receipt_timeout if timeout is None else timeout)
        poll = self.receipt_poll_interval
        get_receipt = self._w3.eth.get_transaction_receipt
        raw = None
        while True:
            for tx_hash in hashes:
                try:
                    raw = get_receipt(tx_hash)
                except TransactionNotFound:
                    raw = None
                except (OSError, TimeoutError) as e:  # requests' timeouts / connection errors: ask again
                    log.info("receipt of %s: node did not answer (%s)", tx_hash, type(e).__name__)
                    raw = None
                if raw is not None:
                    break
            if raw is not None:
                break
            now = time.monotonic()
            if now >= deadline:
                raise TransactionTimeoutError(
                    f"no receipt for {hashes[-1]} (nonce {nonce}) yet; it stays pending: resume() it later",
                    tx_hash=hashes[-1], nonce=nonce,
                )
            time.sleep(min(poll, max(deadline - now, 0.0)))
            poll = min(poll * 1.5, self.receipt_poll_max_interval)
        with self._lock:
            for h in hashes:
                self.pending.pop(h, None)
        if nonce is None:
            nonce = int(self._w3.eth.get_transaction(tx_hash)["nonce"])
        receipt = Receipt(
            tx_hash=tx_hash,
            nonce=nonce,
            status=int(raw["status"]),
            block_number=int(raw["blockNumber"]),
            gas_used=int(raw["gasUsed"]),
            effective_gas_price=int(raw.get("effectiveGasPrice") or 0),
            logs=tuple(raw["logs"]),
            contract_address=raw.get("contractAddress"),
            raw=raw,
        )
        if receipt.status != 1:
            reason = self._replay_reason(tx_hash, receipt)
            raise ContractRevertError(
                f"transaction {tx_hash} (nonce {nonce}) reverted in block {receipt.block_number}: "
                f"{reason or 'no reason given'}",
                reason=reason, tx_hash=tx_hash, nonce=nonce, gas_used=receipt.gas_used,
            )
        return receipt

    def _replay_reason(self, tx_hash: str, receipt: Receipt) -> str | None:
        """The revert reason of a mined revert: ``eth_call`` of the same call on the parent block."""
        from web3.exceptions import ContractLogicError

        try:
            tx = self._w3.eth.get_transaction(tx_hash)
            call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"], "gas": tx["gas"]}
            self._w3.eth.call(call, max(receipt.block_number - 1, 0))
        except ContractLogicError as e:
            return _revert_reason(e)
        except Exception as e:  # the replay itself failed: no reason available
            log.debug("revert replay of %s failed: %s", tx_hash, type(e).__name__)
            return None
        if receipt.gas_used * 64 >= int(tx["gas"]) * 63 - 64_000:  # all gas, or all a call could get (EIP-150)
            return "out of gas"
        return None

    # ------------------------------------------------------------------------------------------- reads
    def call(self, fn_or_tx: Any, block: Any = "latest") -> Any:
        """``eth_call`` from this account: a ContractFunction's decoded result, or raw bytes for a dict."""
        if isinstance(fn_or_tx, dict):
            return self._w3.eth.call(self._call_fields(fn_or_tx, int(fn_or_tx.get("value", 0))), block)
        return fn_or_tx.call({"from": self._address}, block_identifier=block)

    def erc20(self, token: str) -> Any:
        """A cached web3 contract for ``token`` with a minimal ERC20 ABI."""
        c = self._erc20.get(token)
        if c is None:
            c = self._w3.eth.contract(address=self.checksum(token), abi=ERC20_ABI)
            self._erc20[token] = c
        return c

    def checksum(self, address: str) -> str:
        """``address`` in EIP-55 checksum form (web3 refuses other forms)."""
        return str(self._w3.to_checksum_address(address))

    def eth_balance(self, owner: str | None = None) -> int:
        """Native balance in wei."""
        return int(self._w3.eth.get_balance(self.checksum(owner) if owner else self._address))

    def balance_of(self, token: str, owner: str | None = None) -> int:
        """ERC20 balance in base units (``owner`` defaults to this account)."""
        return int(self.erc20(token).functions.balanceOf(self.checksum(owner) if owner else self._address).call())

    def decimals(self, token: str) -> int:
        """ERC20 decimals (cached per token: one call ever)."""
        key = token.lower()
        d = self._decimals.get(key)
        if d is None:
            d = int(self.erc20(token).functions.decimals().call())
            self._decimals[key] = d
        return d

    def allowance(self, token: str, spender: str, owner: str | None = None) -> int:
        """ERC20 allowance in base units."""
        owner = self.checksum(owner) if owner else self._address
        return int(self.erc20(token).functions.allowance(owner, self.checksum(spender)).call())

    # ------------------------------------------------------------------------------------------ writes
    def approve(
        self, token: str, spender: str, amount: int,
        mode: Literal["exact", "unlimited"] = "exact", zero_first: bool = False,
        sent: list[Receipt] | None = None,
    ) -> Receipt | None:
        """Ensure ``spender`` may pull ``amount`` base units; returns None (nothing sent) when the current
        allowance already suffices. ``mode='unlimited'`` approves 2**256-1. ``zero_first`` resets a
        non-zero allowance to 0 first (USDT-style tokens require it). ``sent``, when given, receives the
        receipt of every transaction sent (the reset included: it paid gas too)."""
        if mode not in ("exact", "unlimited"):
            raise ConfigError(f"approve mode must be 'exact' or 'unlimited', got {mode!r}")
        spender = self.checksum(spender)
        c = self.erc20(token)
        from basis_core.live.chain_intents import current_scope

        scope = current_scope(self)
        base = f"approve@{str(c.address).lower()}"
        if scope is not None and scope.has_journaled(base):  # a resumed intent: its journaled approvals, not a new one
            receipt = None
            while scope.has_journaled(base):
                receipt = self.send(c.functions.approve(spender, MAX_UINT256 if mode == "unlimited" else amount))
                if sent is not None:
                    sent.append(receipt)
            return receipt
        current = self.allowance(token, spender)
        if current >= amount:
            return None
        if zero_first and current > 0:
            reset = self.send(c.functions.approve(spender, 0))
            if sent is not None:
                sent.append(reset)
        receipt = self.send(c.functions.approve(spender, MAX_UINT256 if mode == "unlimited" else amount))
        if sent is not None:
            sent.append(receipt)
        return receipt

    def transfer(self, token: str, to: str, amount: int) -> Receipt:
        """ERC20 transfer of ``amount`` base units."""
        return self.send(self.erc20(token).functions.transfer(self.checksum(to), amount))

    # ---------------------------------------------------------------------------------------- decoding
    def transfer_deltas(self, receipt: Receipt, tokens: Iterable[str], account: str | None = None) -> dict[str, int]:
        """See :func:`transfer_deltas`; ``account`` defaults to this client's address."""
        return transfer_deltas(receipt, tokens, account or self._address)

    @staticmethod
    def gas_cost_wei(receipt: Receipt) -> int:
        """``gasUsed * effectiveGasPrice`` in wei."""
        return gas_cost_wei(receipt)

    @staticmethod
    def to_base_units(amount: Decimal | int | str, decimals: int, field: str = "amount") -> int:
        """See :func:`basis_core.live.units.to_base_units`."""
        return to_base_units(amount, decimals, field)

    @staticmethod
    def from_base_units(value: int, decimals: int) -> Decimal:
        """See :func:`basis_core.live.units.from_base_units`."""
        return from_base_units(value, decimals)
