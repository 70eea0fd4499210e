"""Deployment tables of the Morpho venue (live mode and live market data): token and contract addresses, markets.

A table is a mapping (package data ``deployments/<name>.json``, a JSON file path, or a dict; venue setting
``deployment`` or option ``deployment_table``)::

    {"chain_id": 1,                                   # optional: checked against the node
     "tokens": {"WETH": "0x...", "wstETH": "0x..."},  # symbol -> ERC20 address
     "decimals": {"WETH": 18},                        # optional: default from markets.DECIMALS
     "zero_approval_first": ["USDT"],                 # optional: approve(0) before changing an allowance
     "contracts": {"Morpho": "0x..."},                # required
     "markets": {"wstETH/WETH-94.5": "0x<market id>", # alias -> id (params read from idToMarketParams) or
                 "weETH/WETH-86": {"loan": "WETH", "collateral": "weETH", "oracle": "0x...", "irm": "0x...",
                                   "lltv": "860000000000000000"}},   # the parameters (lltv in WAD)
     "accounts": {"bob": "0x..."}}                    # optional: names a liquidation's ``borrower`` may use

The alias of a market is checked against its parameters when it is first used (``ConfigError`` naming it).
``mainnet`` is Morpho Blue on Ethereum (``0xBBBBBbbBBb9cC5e90e3b3Af64bdAF62C37EEFFCb``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from basis_core.errors import ConfigError
from basis_core.live.onchain import read_deployment
from basis_venue_morpho.markets import DECIMALS

_ID = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDR = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _market_entry(alias: str, raw: Any, tokens: Mapping[str, str], where: str) -> str | dict[str, str]:
    if isinstance(raw, str):
        if not _ID.match(raw):
            raise ConfigError(f"deployment {where}: markets.{alias}: expected a 32-byte market id (0x + 64 hex)")
        return raw
    if not isinstance(raw, Mapping):
        raise ConfigError(f"deployment {where}: markets.{alias}: expected a market id or a mapping of parameters")
    missing = {"loan", "collateral", "oracle", "irm", "lltv"} - set(raw)
    if missing:
        raise ConfigError(f"deployment {where}: markets.{alias}: missing {sorted(missing)}")
    for k in ("loan", "collateral"):
        if raw[k] not in tokens:
            raise ConfigError(f"deployment {where}: markets.{alias}.{k}: {raw[k]!r} is not in tokens")
    for k in ("oracle", "irm"):
        if not _ADDR.match(str(raw[k])):
            raise ConfigError(f"deployment {where}: markets.{alias}.{k}: not an address")
    try:
        int(str(raw["lltv"]))
    except ValueError:
        raise ConfigError(f"deployment {where}: markets.{alias}.lltv: an integer in WAD, e.g. 945000000000000000"
                          ) from None
    return {k: str(raw[k]) for k in ("loan", "collateral", "oracle", "irm", "lltv")}


def _validate(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    for key in ("tokens", "contracts", "markets"):
        if not isinstance(table.get(key), Mapping):
            raise ConfigError(f"deployment {where}: missing mapping {key!r}")
    if "Morpho" not in table["contracts"]:
        raise ConfigError(f"deployment {where}: contracts.Morpho is required")
    tokens = {str(k): str(v) for k, v in table["tokens"].items()}
    decimals = {s: DECIMALS[s] for s in tokens if s in DECIMALS}
    decimals.update({str(k): int(v) for k, v in (table.get("decimals") or {}).items()})
    missing = set(tokens) - set(decimals)
    if missing:
        raise ConfigError(f"deployment {where}: no decimals for {sorted(missing)}")
    accounts = table.get("accounts") or {}
    if not isinstance(accounts, Mapping) or any(not _ADDR.match(str(a)) for a in accounts.values()):
        raise ConfigError(f"deployment {where}: accounts: expected a mapping name -> address")
    return {
        "chain_id": table.get("chain_id"),
        "tokens": tokens,
        "decimals": decimals,
        "zero_approval_first": list(table.get("zero_approval_first") or ()),
        "contracts": {str(k): str(v) for k, v in table["contracts"].items()},
        "markets": {str(a): _market_entry(str(a), m, tokens, where) for a, m in table["markets"].items()},
        "accounts": {str(k): str(v) for k, v in accounts.items()},
    }


def load_table(deployment: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """A validated table from ``"mainnet"`` (package data), a JSON file path or a mapping (None = mainnet).
    Raises ConfigError naming the problem."""
    raw, where = read_deployment(deployment, "basis_venue_morpho")
    return _validate(raw, where)


__all__ = ["load_table"]
