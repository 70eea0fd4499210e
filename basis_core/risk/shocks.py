"""Market shocks and the risk a venue reports for one leg under a shock (plain data, pure functions).

A :class:`Shock` moves the market a venue values its legs with, all at once:

- ``eth``: factor on every ETH-denominated price (ETH, WETH, stETH, ETH perps' marks, the ETH oracle; LSTs
  through it), e.g. ``0.7`` for a 30 % drop;
- ``lst``: factor on an LST's exchange rate (ETH per token), e.g. ``{"wstETH": 0.95}`` for a 5 % depeg;
- ``funding_apr``: the funding rate (annualised; positive: longs pay shorts) paid over ``hours`` by every open
  perp, instead of the current one;
- ``borrow_apr``: per borrowed asset (``"*"``: every asset), the variable borrow rate (annualised) accruing over
  ``hours``;
- ``hours``: the horizon of the rate shocks (0: prices only);
- ``tokens``: the token price declarations in force (:class:`~basis_core.data.prices.TokenPrice` by token, the
  ``token_prices`` hook): a declared token moves with its numeraire, times its ``lst`` factor when it has a rate
  series, so an LST a third-party venue declares is shocked like the built-in ones. The manager attaches its
  declarations to the shock it hands a venue's ``risk_state``; undeclared tokens fall back to the built-in families.

A venue answers ``risk_state(timestamp, shock)`` (see :mod:`basis_core.hookspecs`) with one :class:`LegRisk` per
liquidation unit it has (an Aave account, a margin wallet with its perps), computed with its own liquidation math:
``health`` >= 1 is safe, < 1 is liquidatable (Aave's health factor; a perp wallet's margin balance / maintenance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from basis_core.data.prices import STABLECOINS, TokenPrice

_ONE = Decimal(1)
ETH_FAMILY = frozenset({"ETH", "WETH", "stETH"})
#: non-rebasing LSTs: ETH per token is their exchange rate (``lst:<token>.rate``)
RATE_LSTS = frozenset({"wstETH", "weETH", "rETH", "ezETH", "rsETH"})
HOURS_PER_YEAR = Decimal(8760)


@dataclass(frozen=True)
class Shock:
    """A joint move of the market (see the module docstring); the identity shock by default."""

    eth: Decimal = _ONE
    lst: Mapping[str, Decimal] = field(default_factory=dict)
    funding_apr: Decimal | None = None
    borrow_apr: Mapping[str, Decimal] = field(default_factory=dict)
    hours: Decimal = Decimal(0)
    name: str = ""
    #: an instruction the venue adds to its state as if it filled now at the market (the live pre-trade check);
    #: a venue that cannot project it reports its state without it
    pending: Any = None
    tokens: Mapping[str, TokenPrice] | None = field(default=None, compare=False, repr=False)

    def price_factor(self, asset: str) -> Decimal:
        """The factor on ``asset``'s USD price: 1 for stablecoins; for a token declared in ``tokens``, its
        numeraire's factor, times its ``lst`` factor when it has a rate series; else ``eth`` for the ETH family,
        ``eth x lst`` for a built-in rate LST, 1 for anything else (not moved by this shock)."""
        factor = _ONE
        seen: set[str] = set()
        tokens = self.tokens or {}
        while asset not in seen:  # along the declarations (a cycle stops where it closes)
            seen.add(asset)
            if asset in STABLECOINS:
                return factor
            rule = tokens.get(asset)
            if rule is None or rule.numeraire == asset:
                break
            if rule.rate_series is not None:
                factor *= self.lst.get(asset, _ONE)
            asset = rule.numeraire
        if asset in ETH_FAMILY:
            return factor * self.eth
        if asset in RATE_LSTS:
            return factor * self.eth * self.lst.get(asset, _ONE)
        return factor

    def debt_growth(self, asset: str) -> Decimal:
        """Factor on the debt of ``asset`` after ``hours`` at the shocked borrow rate (simple interest; 1 when
        the shock sets no rate for it)."""
        apr = self.borrow_apr.get(asset, self.borrow_apr.get("*"))
        if apr is None or not self.hours:
            return _ONE
        return _ONE + apr * self.hours / HOURS_PER_YEAR

    def with_(self, **changes: Any) -> Shock:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "eth": str(self.eth), "lst": {k: str(v) for k, v in self.lst.items()},
                "funding_apr": None if self.funding_apr is None else str(self.funding_apr),
                "borrow_apr": {k: str(v) for k, v in self.borrow_apr.items()}, "hours": str(self.hours)}


NO_SHOCK = Shock(name="now")


@dataclass(frozen=True)
class LegRisk:
    """One liquidation unit of a venue under a shock.

    ``leg``: its key (``aave:account``, ``binance:futures:USDT``, ``hyperliquid:perp-margin:USDC``); ``kind``:
    ``lending`` or ``perp_margin``; ``health``: >= 1 safe, < 1 liquidatable (None: nothing can be liquidated,
    e.g. no debt); ``reference``: the price the venue liquidates on, by name (``oracle:ETH/USD``,
    ``perp:binance:ETH/USDT:USDT``) with its value under the shock; ``details``: the venue's numbers.
    """

    venue: str
    leg: str
    kind: str
    health: Decimal | None
    reference: Mapping[str, Decimal] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)

    @property
    def liquidatable(self) -> bool:
        return self.health is not None and self.health < 1


#: named shocks of ``basis stress`` (and the corridor's report)
NAMED_SHOCKS: dict[str, Shock] = {
    "eth-10": Shock(eth=Decimal("0.9"), name="eth-10"),
    "eth-20": Shock(eth=Decimal("0.8"), name="eth-20"),
    "eth-30": Shock(eth=Decimal("0.7"), name="eth-30"),
    "eth-50": Shock(eth=Decimal("0.5"), name="eth-50"),
    "eth+20": Shock(eth=Decimal("1.2"), name="eth+20"),
    "eth+30": Shock(eth=Decimal("1.3"), name="eth+30"),
    "eth+50": Shock(eth=Decimal("1.5"), name="eth+50"),
    "depeg-2": Shock(lst={"wstETH": Decimal("0.98"), "weETH": Decimal("0.98")}, name="depeg-2"),
    "depeg-5": Shock(lst={"wstETH": Decimal("0.95"), "weETH": Decimal("0.95")}, name="depeg-5"),
    "depeg-10": Shock(lst={"wstETH": Decimal("0.9"), "weETH": Decimal("0.9")}, name="depeg-10"),
    "funding-flip": Shock(funding_apr=Decimal("-0.5"), hours=Decimal(24 * 30), name="funding-flip"),
    "borrow-spike": Shock(borrow_apr={"WETH": Decimal("1"), "USDC": Decimal("1"), "USDT": Decimal("1")},
                          hours=Decimal(24 * 30), name="borrow-spike"),
    "crash": Shock(eth=Decimal("0.7"), lst={"wstETH": Decimal("0.97"), "weETH": Decimal("0.97")},
                   funding_apr=Decimal("-0.3"), hours=Decimal(24 * 7), name="crash"),
}


__all__ = ["ETH_FAMILY", "NAMED_SHOCKS", "NO_SHOCK", "RATE_LSTS", "LegRisk", "Shock"]
