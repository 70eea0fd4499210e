"""Morpho Blue markets: identified by their parameters (loan token, collateral token, oracle, IRM, LLTV), named by
a readable alias ``<collateral>/<loan>-<LLTV %>`` (``wstETH/WETH-94.5``).

In backtest the oracle and the IRM are named (``oracle`` = what prices the collateral, ``irm`` =
``AdaptiveCurveIrm``); live, a deployment table gives their addresses and the market id is
``keccak256(abi.encode(loanToken, collateralToken, oracle, irm, lltv))`` as ``MarketParamsLib.id`` computes it.
Backtest markets: :data:`DEFAULT_MARKETS`, replaced or extended by the ``markets`` option
(``{alias: {loan, collateral, lltv, oracle?, irm?, fee?}}``, lltv a fraction such as ``"0.945"``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from basis_core.errors import ConfigError, InstructionError
from basis_venue_morpho.math import WAD

#: token decimals the backtest knows (live reads them from the deployment table)
DECIMALS: dict[str, int] = {"WETH": 18, "wstETH": 18, "weETH": 18, "USDC": 6, "USDT": 6, "WBTC": 8}
IRM_NAME = "AdaptiveCurveIrm"


def lltv_label(lltv: int) -> str:
    """``945000000000000000`` -> ``"94.5"`` (percent, no trailing zeros)."""
    pct = (Decimal(lltv) / Decimal(10**16)).normalize()
    return format(pct, "f")


def alias_of(collateral: str, loan: str, lltv: int) -> str:
    return f"{collateral}/{loan}-{lltv_label(lltv)}"


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One market's parameters; ``lltv`` in WAD, ``fee`` (share of interest to the fee recipient) in WAD."""

    loan: str
    collateral: str
    oracle: str
    irm: str
    lltv: int
    fee: int = 0
    #: ``<collateral>/<loan>-<LLTV %>`` (computed once)
    alias: str = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "alias", alias_of(self.collateral, self.loan, self.lltv))

    @property
    def series(self) -> str:
        """The market-data series of this market's state (see :mod:`basis_venue_morpho.data`)."""
        return f"morpho:{self.alias}"


def _spec(collateral: str, loan: str, lltv: str) -> MarketSpec:
    return MarketSpec(loan, collateral, f"oracle:{collateral}/{loan}", IRM_NAME, int(Decimal(lltv) * WAD))


#: markets of the backtest by default (Morpho Blue on Ethereum lists each of these parameter sets)
DEFAULT_MARKETS: tuple[MarketSpec, ...] = (
    _spec("wstETH", "WETH", "0.945"),
    _spec("weETH", "WETH", "0.945"),
    _spec("wstETH", "USDC", "0.86"),
)


def _wad(venue_field: str, value: Any, hi: Decimal = Decimal(1)) -> int:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ConfigError(f"{venue_field}: expected a fraction such as 0.945, got {value!r}") from None
    if not d.is_finite() or d < 0 or d >= hi:
        raise ConfigError(f"{venue_field}: must be in [0, {hi}), got {value!r}")
    units = d * WAD
    if units != units.to_integral_value():
        raise ConfigError(f"{venue_field}: more than 18 decimals ({value!r})")
    return int(units)


def build_markets(options: Mapping[str, Any]) -> dict[str, MarketSpec]:
    """alias -> spec: the defaults, or the ``markets`` option (a mapping alias -> params) in their place when given.
    Raises :class:`ConfigError` naming the bad entry."""
    raw = options.get("markets")
    if raw is None:
        return {m.alias: m for m in DEFAULT_MARKETS}
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError("venue_config.morpho.markets: expected a non-empty mapping alias -> {loan, collateral, lltv}")
    out: dict[str, MarketSpec] = {}
    for name, p in raw.items():
        where = f"venue_config.morpho.markets.{name}"
        if not isinstance(p, Mapping):
            raise ConfigError(f"{where}: expected a mapping with loan, collateral, lltv")
        unknown = set(p) - {"loan", "collateral", "lltv", "oracle", "irm", "fee"}
        if unknown:
            raise ConfigError(f"{where}: unknown keys {sorted(unknown)}")
        for k in ("loan", "collateral", "lltv"):
            if k not in p:
                raise ConfigError(f"{where}.{k}: required")
        loan, coll = str(p["loan"]), str(p["collateral"])
        for k, tok in (("loan", loan), ("collateral", coll)):
            if tok not in DECIMALS:
                raise ConfigError(f"{where}.{k}: unknown token {tok!r}; known: {', '.join(DECIMALS)}")
        if loan == coll:
            raise ConfigError(f"{where}.collateral: must differ from the loan token")
        lltv = _wad(f"{where}.lltv", p["lltv"])
        fee = _wad(f"{where}.fee", p.get("fee", 0), Decimal("0.25") + Decimal("1e-18"))
        spec = MarketSpec(loan, coll, str(p.get("oracle", f"oracle:{coll}/{loan}")), str(p.get("irm", IRM_NAME)),
                          lltv, fee)
        if spec.irm != IRM_NAME:
            raise ConfigError(f"{where}.irm: the backtest models {IRM_NAME} only")
        if name != spec.alias:
            raise ConfigError(f"{where}: the alias of these parameters is {spec.alias!r}")
        out[spec.alias] = spec
    return out


def resolve_market(markets: Mapping[str, MarketSpec], market: str | None, asset: str, role: str,
                   holding: Mapping[str, bool] | None = None) -> MarketSpec:
    """The market an instruction means. ``market`` names it (alias); without it, the one market where ``asset``
    plays ``role`` ("loan", "collateral" or "either"), preferring the markets in ``holding`` (alias -> True
    where the account has the position the instruction acts on) when several fit. InstructionError otherwise."""
    if market is not None:
        spec = markets.get(market)
        if spec is None:
            raise InstructionError("market", f"unknown Morpho market {market!r}; known: {', '.join(markets)}")
        if role == "loan" and asset != spec.loan:
            raise InstructionError("asset", f"{asset} is not the loan token of {spec.alias} ({spec.loan})")
        if role != "loan" and asset not in (spec.loan, spec.collateral):
            raise InstructionError("asset", f"{asset} is neither the loan nor the collateral token of {spec.alias}")
        return spec
    fits = [s for s in markets.values()
            if (role in ("loan", "either") and s.loan == asset) or (role in ("collateral", "either")
                                                                    and s.collateral == asset)]
    if not fits:
        raise InstructionError("asset", f"{asset} is not a {'loan' if role == 'loan' else 'loan or collateral'} "
                                        f"token of any Morpho market ({', '.join(markets)})")
    if len(fits) > 1 and holding:
        held = [s for s in fits if holding.get(s.alias)]
        if len(held) == 1:
            return held[0]
    if len(fits) > 1:
        raise InstructionError("market", f"{asset} is in several markets ({', '.join(s.alias for s in fits)}): "
                                         "name one")
    return fits[0]
