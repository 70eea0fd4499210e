"""Join a :class:`~basis_core.testing.transfer_network.TransferNetwork` to an anvil node for native ETH on network
``ETH``, so emulated CEX withdrawals and deposits meet the on-chain wallet (test harness).

- a withdrawal broadcast to an address the link does not watch (an on-chain wallet) is carried on the node: a
  value transfer of the amount from a funded node account (the venue's hot wallet), whose hash becomes the
  transfer's ``txid``;
- :meth:`AnvilLink.scan` (run at every network poll) finds the node's new value transfers to the watched
  addresses (the emulators' deposit addresses) and records them on the network under their own hashes; the
  receiving emulator credits them once they have its confirmations on the network's clock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from basis_core.testing.transfer_network import ChainTransfer, TransferNetwork

_WEI = Decimal(10) ** 18


class AnvilLink:
    """See the module docstring; ``hot_wallet``: the unlocked node account paying withdrawals (default: the
    node's first account)."""

    def __init__(self, network: TransferNetwork, node: Any, watch: Iterable[str] = (),
                 hot_wallet: str | None = None, chain_network: str = "ETH") -> None:
        self.network = network
        self.node = node
        self.chain_network = chain_network
        self.hot_wallet = hot_wallet or node.rpc("eth_accounts")[0]
        self.watched = {a.lower() for a in watch}
        self._carried: set[str] = set()
        self._lock = threading.Lock()
        self._next_block = int(node.rpc("eth_blockNumber"), 16) + 1
        network.on_broadcast = self.carry
        network.add_source(self.scan)

    def watch(self, address: str) -> None:
        self.watched.add(address.lower())

    def carry(self, tx: ChainTransfer) -> str | None:
        """Pay a withdrawal to an unwatched address on the node; its hash (None: not carried)."""
        if tx.network != self.chain_network or tx.coin != "ETH" or tx.to in self.watched:
            return None
        value = int(tx.amount * _WEI)
        h = str(self.node.rpc("eth_sendTransaction", [{"from": self.hot_wallet, "to": tx.to, "value": hex(value)}]))
        with self._lock:
            self._carried.add(h.lower())
        return h

    def scan(self) -> None:
        """Record the node's new value transfers to watched addresses on the network (once each)."""
        with self._lock:
            latest = int(self.node.rpc("eth_blockNumber"), 16)
            first, self._next_block = self._next_block, latest + 1
            carried = set(self._carried)
        for n in range(first, latest + 1):
            block = self.node.rpc("eth_getBlockByNumber", [hex(n), True]) or {}
            for t in block.get("transactions", []):
                to, h, value = (t.get("to") or "").lower(), t["hash"].lower(), int(t["value"], 16)
                if to in self.watched and value > 0 and h not in carried and self.network.find(h) is None:
                    self.network.send(self.chain_network, "ETH", Decimal(value) / _WEI, t["from"], to, txid=h)


__all__ = ["AnvilLink"]
