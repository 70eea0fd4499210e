"""Deployment tables of the Curve venue (token and pool addresses per chain), shared by both backends.

A table is a JSON object (package data ``deployments/<name>.json``, a path, or a dict)::

    {"chain_id": 1,
     "tokens": {"USDC": "0x...", ...}, "decimals": {"USDC": 6, ...},
     "zero_approval_first": ["USDT"],           # optional: tokens needing approve(0) before a change
     "pools": {"3pool": {"address": "0x...", "lp_token": "0x...", "coins": ["DAI", "USDC", "USDT"]}}}

``lp_token`` defaults to the pool's address (pools that are their own LP token, like the project's
``StableSwap.vy``). ``mainnet`` holds Curve's 3pool (DAI / USDC / USDT, LP token 3Crv); Ethereum mainnet
has no plain USDC / USDT pool named ``2pool``: give a table (or a ``pools`` entry) for it. ``local`` is what
:func:`~basis_venue_curve.testing.deploy.deploy_curve_pools` deploys from anvil's account 0 on a fresh node.
:func:`table_from_world` builds the table of a test deployment (:class:`~basis_venue_curve.testing.deploy.CurveWorld`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from basis_core.errors import ConfigError
from basis_core.live.onchain import read_deployment

#: the pool a swap uses when the instruction names none
DEFAULT_ROUTES: dict[frozenset[str], str] = {
    frozenset({"USDC", "USDT"}): "3pool",
    frozenset({"DAI", "USDC"}): "3pool",
    frozenset({"DAI", "USDT"}): "3pool",
}


def _validate(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    for key in ("tokens", "decimals", "pools"):
        if not isinstance(table.get(key), Mapping):
            raise ConfigError(f"deployment {where}: missing mapping {key!r}")
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in table.items()}
    pools: dict[str, dict[str, Any]] = {}
    for name, p in table["pools"].items():
        if not isinstance(p, Mapping) or "address" not in p or "coins" not in p:
            raise ConfigError(f"deployment {where}: pool {name!r} needs 'address' and 'coins'")
        coins = [str(c) for c in p["coins"]]
        unknown = [c for c in coins if c not in table["tokens"] or c not in table["decimals"]]
        if unknown:
            raise ConfigError(f"deployment {where}: pool {name!r} coins {unknown} are not in tokens / decimals")
        pools[str(name)] = {"address": str(p["address"]), "lp_token": str(p.get("lp_token") or p["address"]),
                            "coins": coins}
    out["pools"] = pools
    out.setdefault("zero_approval_first", [])
    return out


def load_table(deployment: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A validated deployment table: ``"mainnet"`` / ``"local"`` (package data; None: mainnet), a path to a
    JSON file, or a mapping (:func:`basis_core.live.onchain.read_deployment`). Raises ConfigError naming the
    problem."""
    raw, where = read_deployment(deployment, "basis_venue_curve", ("mainnet", "local"))
    return _validate(raw, where)


def table_from_world(world: Any) -> dict[str, Any]:
    """The deployment table of a :class:`~basis_venue_curve.testing.deploy.CurveWorld` (test deployments)."""
    return _validate({
        "chain_id": int(world.w3.eth.chain_id),
        "tokens": {s: str(t.address) for s, t in world.tokens.items()},
        "decimals": dict(world.token_decimals),
        "pools": {name: {"address": str(p.address), "lp_token": str(p.address), "coins": list(world.pool_coins[name])}
                  for name, p in world.pools.items()},
    }, "world")


__all__ = ["DEFAULT_ROUTES", "load_table", "table_from_world"]
