"""Deployment tables of the Aave venue (live mode): token and contract addresses of one market.

A table is a mapping (package data ``deployments/<name>.json``, a JSON file path, or a dict)::

    {"chain_id": 1,                                     # optional: checked against the node
     "tokens": {"WETH": "0x...", "wstETH": "0x...", ...},
     "decimals": {"WETH": 18, ...},                      # optional: default from params.RESERVES / the chain
     "zero_approval_first": ["USDT"],                    # optional: approve(0) before changing an allowance
     "contracts": {"Pool": "0x...",                      # required
                   "PoolAddressesProvider": "0x...",     # optional (Oracle / PoolDataProvider resolved from it)
                   "Oracle": "0x...", "PoolDataProvider": "0x...",
                   "LoopExecutor": "0x..."}}             # optional: our flash-loan executor (atomic bundles)

``mainnet`` is Aave v3 Ethereum (Pool ``0x87870Bca3F3fD6335C3F4ce8392D69350B4fA4E2``). A local market
(tests) passes its table as a dict through the venue option ``deployment_table``; the flat form of
:meth:`basis_venue_aave.testing.deploy.AaveWorld.deployment_table` (``{"WETH": addr, ..., "Pool": addr,
"Oracle": addr, "PoolDataProvider": addr, "aWETH": ..., "variableDebtWETH": ...}``) is accepted too: keys
naming a reserve become tokens, ``a<SYM>`` / ``variableDebt<SYM>`` are ignored (read from the data
provider), the rest are contracts.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from basis_core.errors import ConfigError
from basis_core.live.onchain import read_deployment
from basis_venue_aave.params import RESERVES

#: contract names a flat table may carry (everything else that is not a token is ignored)
CONTRACT_NAMES = ("Pool", "PoolAddressesProvider", "Oracle", "PoolDataProvider", "PoolConfigurator",
                  "ACLManager", "LoopExecutor")


def _from_flat(flat: Mapping[str, Any]) -> dict[str, Any]:
    tokens = {k: str(v) for k, v in flat.items() if k in RESERVES}
    contracts = {k: str(v) for k, v in flat.items() if k in CONTRACT_NAMES}
    return {"tokens": tokens, "contracts": contracts}


def _validate(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    if "contracts" not in table and "Pool" in table:
        table = {**_from_flat(table), **{k: v for k, v in table.items() if k in ("chain_id", "decimals")}}
    for key in ("tokens", "contracts"):
        if not isinstance(table.get(key), Mapping):
            raise ConfigError(f"deployment {where}: missing mapping {key!r}")
    if "Pool" not in table["contracts"]:
        raise ConfigError(f"deployment {where}: contracts.Pool is required")
    decimals = {s: r.decimals for s, r in RESERVES.items() if s in table["tokens"]}
    decimals.update({str(k): int(v) for k, v in (table.get("decimals") or {}).items()})
    missing = set(table["tokens"]) - set(decimals)
    if missing:
        raise ConfigError(f"deployment {where}: no decimals for {sorted(missing)}")
    return {
        "chain_id": table.get("chain_id"),
        "tokens": {str(k): str(v) for k, v in table["tokens"].items()},
        "decimals": decimals,
        "zero_approval_first": list(table.get("zero_approval_first") or ()),
        "contracts": {str(k): str(v) for k, v in table["contracts"].items()},
    }


def load_table(deployment: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A validated table from ``"mainnet"`` (package data), a JSON file path or a mapping (None = mainnet),
    read by :func:`basis_core.live.onchain.read_deployment`. Raises ConfigError naming the problem.
    """
    raw, where = read_deployment(deployment, "basis_venue_aave")
    return _validate(raw, where)


__all__ = ["CONTRACT_NAMES", "load_table"]
