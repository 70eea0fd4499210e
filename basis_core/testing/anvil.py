"""Start and stop a local anvil node (npm ``@foundry-rs/anvil``) on 127.0.0.1 and an ephemeral port.

The binary is found in ``node_modules`` of the project root (installed by ``npm ci``) or through
``BASIS_ANVIL`` / ``PATH``. The node is stopped by PID. Snapshots give per-test isolation.
:class:`ChainClock` keeps the chain's time on an accelerated market clock (interest accrues with it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Container, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

# A well-known anvil dev key (account 0 of the default mnemonic); test-only, never a real secret.
ANVIL_KEYS = (
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
)


def find_project_root(start: Path | None = None) -> Path | None:
    """Return the nearest directory above ``start`` holding ``package.json`` with node_modules."""
    here = (start or Path(__file__)).resolve()
    for p in [here, *here.parents]:
        if (p / "package.json").exists() and (p / "node_modules").exists():
            return p
    cwd = Path.cwd().resolve()
    for p in [cwd, *cwd.parents]:
        if (p / "package.json").exists() and (p / "node_modules").exists():
            return p
    return None


def node_modules() -> Path:
    """The ``node_modules`` directory with the test chain's npm packages (``BASIS_NODE_MODULES`` wins)."""
    env = os.environ.get("BASIS_NODE_MODULES")
    if env:
        return Path(env)
    root = find_project_root()
    if root is None:
        raise FileNotFoundError("node_modules not found: run `npm ci` in the project root")
    return root / "node_modules"


def anvil_binary() -> str:
    """Path of the anvil binary."""
    env = os.environ.get("BASIS_ANVIL")
    if env:
        return env
    try:
        nm = node_modules()
        for cand in (nm / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil", nm / ".bin" / "anvil"):
            if cand.exists():
                return str(cand)
    except FileNotFoundError:
        pass
    found = shutil.which("anvil")
    if found:
        return found
    raise FileNotFoundError("anvil not found: run `npm ci` (package @foundry-rs/anvil)")


def free_port() -> int:
    """An ephemeral TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class AnvilNode:
    """A running anvil process. Use :func:`start_anvil`; call :meth:`stop` (or use as a context manager)."""

    port: int
    process: subprocess.Popen[bytes]
    chain_id: int = 31337
    keys: tuple[str, ...] = ANVIL_KEYS
    cache_dir: Path | None = None
    _id: int = field(default=0, repr=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def rpc(self, method: str, params: list[Any] | None = None) -> Any:
        """A raw JSON-RPC call (for test control: snapshots, time travel, mining)."""
        self._id += 1
        body = json.dumps({"jsonrpc": "2.0", "id": self._id, "method": method, "params": params or []})
        req = urllib.request.Request(self.url, body.encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            out = json.loads(resp.read())
        if "error" in out:
            raise RuntimeError(f"anvil {method}: {out['error']}")
        return out["result"]

    def snapshot(self) -> str:
        return str(self.rpc("evm_snapshot"))

    def revert(self, snapshot_id: str) -> None:
        if not self.rpc("evm_revert", [snapshot_id]):
            raise RuntimeError(f"anvil could not revert to snapshot {snapshot_id}")

    def increase_time(self, seconds: int) -> None:
        self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine")

    def block_time(self) -> int:
        """Timestamp (epoch s) of the latest block."""
        return int(self.rpc("eth_getBlockByNumber", ["latest", False])["timestamp"], 16)

    def mine_at(self, timestamp: int) -> None:
        """Mine one empty block at exactly ``timestamp`` (epoch s; after the latest block's)."""
        self.rpc("evm_setNextBlockTimestamp", [int(timestamp)])
        self.rpc("evm_mine")

    def stop(self) -> None:
        """Stop the node by PID (SIGTERM, then SIGKILL) and delete its state cache.

        anvil writes historical block states past its in-memory window to disk (hundreds of KB per block, GBs
        over a long accelerated run) and does not delete them on exit; the node's private ``cache_dir`` goes
        with it here.
        """
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=5)
        if self.cache_dir is not None:
            shutil.rmtree(self.cache_dir, ignore_errors=True)

    def __enter__(self) -> AnvilNode:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class ChainClock:
    """Keeps an anvil node's block time on an accelerated market clock
    (:class:`~basis_core.testing.replay.ReplayClock`), as the CEX emulators replaying a path are: each
    :meth:`sync` mines a block at the clock's time, so time-driven state (Aave interest on supplies and debts,
    anything reading ``block.timestamp``) accrues over the accelerated time exactly as over real time.

    Chain time never goes backwards: a sync while the clock is at or before the latest block does nothing.
    """

    def __init__(self, node: AnvilNode, clock: Any) -> None:
        self.node = node
        self.clock = clock

    def sync(self) -> int:
        """Mine a block at the clock's time (whole seconds, rounded down) if it is later than the chain's;
        returns the chain's time afterwards."""
        target = int(self.clock.now_ns()) // 1_000_000_000
        now = self.node.block_time()
        if target > now:
            self.node.mine_at(target)
            return target
        return now


def start_anvil(*extra_args: str, timeout: float = 20.0) -> AnvilNode:
    """Start anvil on 127.0.0.1 and an ephemeral port; return once it answers JSON-RPC.

    Unless ``extra_args`` name a ``--cache-path``, the node persists old block states into a private temporary
    directory that :meth:`AnvilNode.stop` deletes (anvil's default, ``~/.foundry/anvil/tmp``, is never cleaned).
    """
    binary = anvil_binary()
    last_err: Exception | None = None
    own_cache = "--cache-path" not in extra_args
    for _ in range(3):
        port = free_port()
        cache_dir = Path(tempfile.mkdtemp(prefix="basis-anvil-")) if own_cache else None
        cache_args = ["--cache-path", str(cache_dir)] if cache_dir is not None else []
        proc = subprocess.Popen(
            [binary, "--host", "127.0.0.1", "--port", str(port), "--silent", *cache_args, *extra_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        node = AnvilNode(port=port, process=proc, cache_dir=cache_dir)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                last_err = RuntimeError(f"anvil exited: {proc.stderr.read().decode() if proc.stderr else ''}")
                break
            try:
                node.chain_id = int(node.rpc("eth_chainId"), 16)
                return node
            except OSError as e:
                last_err = e
                time.sleep(0.02)
        node.stop()
    raise RuntimeError(f"anvil did not start: {last_err}")


@contextmanager
def chain_target(prepare: Callable[[AnvilNode, Any, list[str]], Mapping[str, Any]]) -> Iterator[dict[str, Any]]:
    """A conformance kit live target (``conformance_live_target()``) on a fresh anvil node.

    ``prepare(node, w3, accounts)`` deploys the venue's contracts and funds the venue's account (``accounts[1]``,
    whose key is ``ANVIL_KEYS[1]``); it returns the venue settings beyond the connection's. Yields
    ``{"rpc_url", "private_key", "receipt_poll_interval": 0.002, **those}``; the node is stopped (and its cache
    deleted) when the context exits.
    """
    from web3 import Web3

    node = start_anvil()
    try:
        w3 = Web3(Web3.HTTPProvider(node.url, cache_allowed_requests=True))
        extra = prepare(node, w3, list(w3.eth.accounts))
        yield {"rpc_url": node.url, "private_key": ANVIL_KEYS[1], "receipt_poll_interval": 0.002, **extra}
    finally:
        node.stop()


def wallet_amounts(balances: Mapping[str, Any], tokens: Container[str]) -> dict[str, Decimal]:
    """The human amounts of the ``ethereum:wallet:<TOKEN>`` keys of ``balances`` whose token is in ``tokens``
    (other keys, ETH among them unless listed, are left out)."""
    out: dict[str, Decimal] = {}
    for key, amount in balances.items():
        sym = key.rsplit(":", 1)[-1]
        if sym in tokens:
            out[sym] = Decimal(str(amount))
    return out
