"""Deployment tables (token and contract addresses per chain) and pool ids, shared by both backends.

A table is a JSON object (package data ``deployments/<name>.json``, a path, or a dict)::

    {"chain_id": 1,
     "tokens": {"WETH": "0x...", ...}, "decimals": {"WETH": 18, ...},
     "zero_approval_first": ["USDT"],                 # optional: tokens needing approve(0) before a change
     "contracts": {"UniswapV2Router02": "0x...", "SwapRouter": "0x...", "QuoterV2": "0x...",
                   "NonfungiblePositionManager": "0x...", "UniswapV2Factory": "0x...", "UniswapV3Factory": "0x..."},
     "v2_pairs": {"WETH/USDC": "0x..."}, "v3_pools": {"WETH/USDC:500": "0x..."}}

``mainnet`` is Ethereum mainnet (pool addresses equal their CREATE2 derivation from the factories, which
the tests check); ``local`` is what :func:`basis_venue_uniswap.testing.deploy.deploy_uniswap` deploys from
anvil's account 0 on a fresh node. :meth:`~basis_venue_uniswap.testing.deploy.UniswapWorld.deployment_table`
returns the same shape for any test deployment.

Pool ids (the ``pool`` field of instructions): ``v2:<A>/<B>`` and ``v3:<A>/<B>:<fee>`` with the fee in
hundredths of a bip (``v3:WETH/USDC:500`` is the 0.05 % pool); the token order in the id does not matter.
Without ``pool``, a swap takes the pair's default route (:data:`DEFAULT_ROUTES`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from basis_core.errors import ConfigError, InstructionError
from basis_core.live.onchain import read_deployment

#: the pool a swap uses when the instruction names none (the deepest mainnet pool of the pair)
DEFAULT_ROUTES: dict[frozenset[str], str] = {
    frozenset({"WETH", "USDC"}): "v3:WETH/USDC:500",
    frozenset({"WETH", "USDT"}): "v3:WETH/USDT:500",
    frozenset({"WETH", "DAI"}): "v3:WETH/DAI:3000",
    frozenset({"USDC", "USDT"}): "v3:USDC/USDT:100",
    frozenset({"DAI", "USDC"}): "v3:DAI/USDC:100",
}

V2_FEE_BPS = 30


@dataclass(frozen=True, slots=True)
class PoolId:
    """A parsed pool id: ``kind`` v2 | v3, the two token symbols as written, the v3 fee (pips) or None."""

    kind: str
    a: str
    b: str
    fee: int | None

    @property
    def canonical(self) -> str:
        return f"v2:{self.a}/{self.b}" if self.kind == "v2" else f"v3:{self.a}/{self.b}:{self.fee}"

    @property
    def pair(self) -> str:
        return f"{self.a}/{self.b}"

    def swapped(self) -> PoolId:
        return PoolId(self.kind, self.b, self.a, self.fee)


def parse_pool_id(pool: str, field: str = "pool") -> PoolId:
    """Parse ``v2:A/B`` or ``v3:A/B:fee``; InstructionError(field) when malformed."""
    kind, _, rest = pool.partition(":")
    if kind not in ("v2", "v3") or "/" not in rest:
        raise InstructionError(field, f"unknown pool {pool!r}: expected 'v2:<A>/<B>' or 'v3:<A>/<B>:<fee>'")
    fee: int | None = None
    pair = rest
    if kind == "v3":
        pair, _, fee_s = rest.partition(":")
        if not fee_s.isdigit():
            raise InstructionError(field, f"unknown pool {pool!r}: a v3 pool id ends with ':<fee>' (e.g. ':500')")
        fee = int(fee_s)
    elif ":" in rest:
        raise InstructionError(field, f"unknown pool {pool!r}: a v2 pool id has no fee")
    a, _, b = pair.partition("/")
    if not a or not b or a == b:
        raise InstructionError(field, f"unknown pool {pool!r}")
    return PoolId(kind, a, b, fee)


def _validate(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    for key in ("tokens", "decimals", "contracts"):
        if not isinstance(table.get(key), Mapping):
            raise ConfigError(f"deployment {where}: missing mapping {key!r}")
    missing = set(table["tokens"]) - set(table["decimals"])
    if missing:
        raise ConfigError(f"deployment {where}: no decimals for {sorted(missing)}")
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in table.items()}
    out.setdefault("v2_pairs", {})
    out.setdefault("v3_pools", {})
    out.setdefault("zero_approval_first", [])
    return out


def load_table(deployment: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A validated deployment table: ``"mainnet"`` / ``"local"`` (package data; None: mainnet), a path to a
    JSON file, or a mapping (:func:`basis_core.live.onchain.read_deployment`). Raises ConfigError naming the
    problem."""
    raw, where = read_deployment(deployment, "basis_venue_uniswap", ("mainnet", "local"))
    return _validate(raw, where)


def mainnet_token_order(symbols: tuple[str, str]) -> tuple[str, str]:
    """(token0, token1) of a pair as Uniswap sorts them on mainnet (by address); unknown tokens by symbol."""
    tokens = read_deployment("mainnet", "basis_venue_uniswap")[0]["tokens"]
    a, b = symbols
    if a in tokens and b in tokens:
        return (a, b) if int(tokens[a], 16) < int(tokens[b], 16) else (b, a)
    return (a, b) if a < b else (b, a)


def route(token_in: str, token_out: str, routes: Mapping[frozenset[str], str] | None = None) -> str:
    """The default pool id for a pair; InstructionError('token_out') when there is none."""
    table = DEFAULT_ROUTES if routes is None else routes
    pool = table.get(frozenset((token_in, token_out)))
    if pool is None:
        raise InstructionError("token_out", f"no default pool for {token_in}/{token_out}; name one with 'pool'")
    return pool


__all__ = ["DEFAULT_ROUTES", "V2_FEE_BPS", "PoolId", "load_table", "mainnet_token_order", "parse_pool_id", "route"]
