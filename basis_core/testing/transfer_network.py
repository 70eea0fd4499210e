"""A small shared "network" between venue emulators: withdrawals from one arrive as deposits on another.

Real venues move funds over chains: a withdrawal is processed by the venue, broadcast as a transaction on a
network (``ETH``, ``ARBITRUM``), and the receiving venue credits it once the transaction has the confirmations it
asks for. :class:`TransferNetwork` models exactly that much, in process, for tests and ``basis emulate``:

- :meth:`TransferNetwork.send` records a transaction of ``amount`` ``coin`` from ``sender`` to ``to`` on
  ``network``, broadcast ``delay_s`` seconds from now (the sending venue's processing time);
- a transaction has ``1 + (now - broadcast) // block_seconds`` confirmations once broadcast (0 before);
- a receiving emulator asks :meth:`TransferNetwork.transfers_to` for the broadcast transactions to its own
  deposit addresses (a pull: the network never calls into an emulator, so no lock order between emulators
  exists) and credits each once it has the confirmations that emulator requires.

Time is the network's clock: a :class:`~basis_core.testing.replay.ReplayClock` when given (an accelerated replay
clock, or a paused one that a test moves with ``seek``: transfers then never wait in real time), else the wall
clock. Emulators attached to one network share it, so a withdrawal's processing time and the destination's
confirmations are measured on one clock.

``on_broadcast`` (optional): called once per transaction when it is first seen broadcast, with the transaction;
a test harness can use it to carry an on-chain leg (e.g. an ERC-20 transfer from a funded account on anvil) and
return that transaction's hash, which then becomes the transfer's ``txid``.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from basis_core.testing.replay import ReplayClock

_NS = 1_000_000_000

#: seconds per block of the networks the emulators know (round figures of the real chains)
DEFAULT_BLOCK_SECONDS: dict[str, int] = {"ETH": 12, "ARBITRUM": 1, "BSC": 3}


@dataclass
class ChainTransfer:
    """One transaction on the network (``txid`` fixed at send; ``broadcast_ns`` on the network's clock)."""

    txid: str
    network: str
    coin: str
    amount: Decimal
    sender: str
    to: str
    broadcast_ns: int
    block_ns: int
    seen: bool = field(default=False, repr=False)

    def confirmations(self, now_ns: int) -> int:
        """Blocks on top of (and including) the transaction's at ``now_ns``; 0 before it is broadcast."""
        if now_ns < self.broadcast_ns:
            return 0
        return 1 + (now_ns - self.broadcast_ns) // self.block_ns

    def confirmed_ns(self, confirmations: int) -> int:
        """When it reaches ``confirmations`` (network clock, ns)."""
        return self.broadcast_ns + max(confirmations - 1, 0) * self.block_ns


class TransferNetwork:
    """Transactions between emulators' addresses on named networks (see the module docstring). Thread-safe."""

    def __init__(self, clock: ReplayClock | None = None, block_seconds: Mapping[str, int] | None = None,
                 on_broadcast: Callable[[ChainTransfer], str | None] | None = None) -> None:
        self.clock = clock
        self.block_seconds = {**DEFAULT_BLOCK_SECONDS, **(block_seconds or {})}
        self.on_broadcast = on_broadcast
        self._lock = threading.Lock()
        self._txs: list[ChainTransfer] = []
        self._seq = itertools.count(1)
        self._sources: list[Callable[[], None]] = []

    def add_source(self, source: Callable[[], None]) -> None:
        """Call ``source`` at every :meth:`poll` first: a watcher of a real chain that records (:meth:`send`) the
        transactions it finds there (with their own hashes), e.g. :class:`basis_core.testing.anvil_link.AnvilLink`."""
        self._sources.append(source)

    def now_ns(self) -> int:
        """The network's time (UTC ns)."""
        return self.clock.now_ns() if self.clock is not None else time.time_ns()

    def now_ms(self) -> int:
        return self.now_ns() // 1_000_000

    def send(self, network: str, coin: str, amount: Decimal, sender: str, to: str, delay_s: float = 0,
             txid: str | None = None) -> ChainTransfer:
        """Record a transaction broadcast ``delay_s`` seconds from now; ``txid`` default: a fresh hash."""
        if network not in self.block_seconds:
            raise ValueError(f"unknown network {network!r}; known: {', '.join(sorted(self.block_seconds))}")
        if amount <= 0:
            raise ValueError("amount must be positive")
        with self._lock:
            n = next(self._seq)
            tid = txid or "0x" + hashlib.sha256(f"{id(self)}:{n}:{network}:{to}:{amount}".encode()).hexdigest()
            tx = ChainTransfer(tid, network, coin, Decimal(amount), sender.lower(), to.lower(),
                               self.now_ns() + int(delay_s * _NS), self.block_seconds[network] * _NS)
            self._txs.append(tx)
            return tx

    def poll(self) -> None:
        """Hand every transaction broadcast by now to ``on_broadcast`` (once each); emulators call it before they
        answer about transfers."""
        for source in self._sources:
            source()
        now = self.now_ns()
        with self._lock:
            fresh = [t for t in self._txs if not t.seen and t.broadcast_ns <= now]
            for t in fresh:
                t.seen = True
        for t in fresh:
            self._broadcast(t)

    def transfers_to(self, addresses: Iterable[str], network: str | None = None) -> list[ChainTransfer]:
        """The broadcast transactions to any of ``addresses`` (on ``network`` when given), oldest first."""
        self.poll()
        want = {a.lower() for a in addresses}
        now = self.now_ns()
        with self._lock:
            return [t for t in self._txs if t.to in want and t.broadcast_ns <= now
                    and (network is None or t.network == network)]

    def find(self, txid: str) -> ChainTransfer | None:
        with self._lock:
            return next((t for t in self._txs if t.txid == txid), None)

    def _broadcast(self, tx: ChainTransfer) -> None:
        if self.on_broadcast is not None:
            got = self.on_broadcast(tx)
            if got:
                tx.txid = got

    def transactions(self) -> list[ChainTransfer]:
        """Every transaction sent so far (copies of the list, oldest first)."""
        with self._lock:
            return list(self._txs)


def deposit_address(owner: str, network: str) -> str:
    """A deterministic EVM-style deposit address of ``owner`` (an emulator's name for its account) on ``network``."""
    return "0x" + hashlib.sha256(f"deposit:{owner}:{network}".encode()).hexdigest()[:40]


__all__ = ["DEFAULT_BLOCK_SECONDS", "ChainTransfer", "TransferNetwork", "deposit_address"]
