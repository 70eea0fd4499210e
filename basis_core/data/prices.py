"""USD prices of tokens from a snapshot (for valuation, risk limits and gas), by documented rules.

The core prices what no venue issues: stablecoins (USDT, USDC, DAI, USD ...) = 1; ETH / WETH = ``oracle:ETH/USD``
(or ``spot:ETH/USDT``); BTC / WBTC = ``oracle:BTC/USD`` (or ``spot:BTC/USDT``). A token a venue issues (a liquid
staking token, a receipt token) is valued by the venue's declaration, the ``token_prices`` hook
(:mod:`basis_core.hookspecs`): a :class:`TokenPrice` says it is worth ``rate`` of its ``numeraire`` (``rate`` the
``rate`` column of its ``rate_series``, or 1 for a 1:1 claim), so its USD price is the numeraire's x rate. Any
other token: the close of ``spot:<token>/USDT``.

The declarations of a provider (:meth:`DataProvider.token_prices <basis_core.data.provider.DataProvider.token_prices>`)
are those of the manager's venues, else of the installed venue distributions (:func:`installed_token_prices`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from basis_core.errors import MarketDataError

if TYPE_CHECKING:
    import pluggy

    from basis_core.data.provider import MarketSnapshot

STABLECOINS = frozenset({"USDT", "USDC", "DAI", "USD", "USDS", "FDUSD"})
#: native ether and its canonical wrapper, priced at the ETH price
ETH_LIKE = frozenset({"ETH", "WETH"})
BTC_LIKE = frozenset({"BTC", "WBTC"})
_ONE = Decimal(1)

__all__ = ["BTC_LIKE", "ETH_LIKE", "STABLECOINS", "TokenPrice", "collect_token_prices", "installed_token_prices",
           "resolve_token", "token_prices_of", "usd_price"]


@dataclass(frozen=True, slots=True)
class TokenPrice:
    """How a venue's token is valued: ``rate`` units of ``numeraire`` per token, ``rate`` being the ``rate`` column of
    ``rate_series`` as of the snapshot (e.g. ``TokenPrice("ETH", "lst:wstETH")``), or 1 without a series (a 1:1
    claim such as a rebasing staking token: ``TokenPrice("ETH")``)."""

    numeraire: str
    rate_series: str | None = None

    def rate(self, snapshot: Any) -> Decimal:
        """Numeraire per token as of ``snapshot`` (MarketDataError without the series)."""
        return _ONE if self.rate_series is None else snapshot.get(self.rate_series, "rate")  # type: ignore[no-any-return]


def collect_token_prices(pm: pluggy.PluginManager) -> dict[str, TokenPrice]:
    """Every ``token_prices`` declaration of the plugins of ``pm`` (the first declaration of a token wins);
    MarketDataError naming the plugin when one is not a mapping of :class:`TokenPrice`."""
    out: dict[str, TokenPrice] = {}
    for impl in reversed(pm.hook.token_prices.get_hookimpls()):  # registration order
        add_token_prices(out, impl.plugin_name, impl.function())
    return out


def add_token_prices(out: dict[str, TokenPrice], who: str, got: Any) -> None:
    """Add ``got`` (one plugin's ``token_prices`` answer, or None) to ``out`` (kept where already declared)."""
    if got is None:
        return
    if not isinstance(got, Mapping) or not all(isinstance(v, TokenPrice) for v in got.values()):
        raise MarketDataError(f"{who}: token_prices must return a mapping of token symbol -> TokenPrice")
    for token, price in got.items():
        out.setdefault(str(token), price)


_installed: dict[tuple[str, ...], dict[str, TokenPrice]] = {}


def installed_token_prices() -> dict[str, TokenPrice]:
    """The declarations of the installed venue distributions (entry points ``basis_core.venues``), remembered per
    set of installed entry points (a venue installed since is seen). Returns a new dict."""
    from basis_core.discovery import ENTRY_POINT_GROUP

    key = tuple(sorted(f"{ep.name}={ep.value}" for ep in entry_points(group=ENTRY_POINT_GROUP)))
    known = _installed.get(key)
    if known is None:
        from basis_core.data.contrib import data_plugin_manager

        known = _installed[key] = collect_token_prices(data_plugin_manager())
    return dict(known)


def token_prices_of(source: Any) -> Mapping[str, TokenPrice]:
    """The declarations in force for ``source``: a data provider's, a snapshot's provider's, else (anything else)
    the installed venues'."""
    for obj in (source, getattr(source, "provider", None)):
        get = getattr(obj, "token_prices", None)
        if callable(get):
            return get()  # type: ignore[no-any-return]
    return installed_token_prices()


def resolve_token(snapshot: Any, token: str) -> tuple[str, Decimal | None]:
    """``(base, rate)``: the token no venue declares that ``token`` is a claim on (itself when undeclared), and
    base units per token (the product of the declared rates; None when every step is 1:1)."""
    rules = token_prices_of(snapshot)
    rate: Decimal | None = None
    seen = {token}
    while (rule := rules.get(token)) is not None and rule.numeraire not in seen:
        if rule.rate_series is not None:
            r = rule.rate(snapshot)
            rate = r if rate is None else rate * r
        token = rule.numeraire
        seen.add(token)
    return token, rate


def usd_price(snapshot: MarketSnapshot, token: str) -> Decimal:
    """USD price of ``token`` as of the snapshot; MarketDataError if it cannot be priced."""
    if token in STABLECOINS:
        return _ONE
    if token in ETH_LIKE:
        if snapshot.has("oracle:ETH/USD"):
            return snapshot.get("oracle:ETH/USD", "price")
        return snapshot.get("spot:ETH/USDT")
    if token in BTC_LIKE:
        if snapshot.has("oracle:BTC/USD"):
            return snapshot.get("oracle:BTC/USD", "price")
        return snapshot.get("spot:BTC/USDT")
    rules = token_prices_of(snapshot)
    rule = rules.get(token)
    if rule is not None:
        if rule.numeraire in rules:  # a claim on another declared token: follow the chain
            base, rate = resolve_token(snapshot, token)
            if base in rules:
                raise MarketDataError(f"no USD price for token {token!r}: its token_prices declarations form a cycle")
        else:
            base, rate = rule.numeraire, None if rule.rate_series is None else rule.rate(snapshot)
        px = usd_price(snapshot, base)
        return px if rate is None else px * rate
    if snapshot.has(f"spot:{token}/USDT"):
        return snapshot.get(f"spot:{token}/USDT")
    raise MarketDataError(f"no USD price for token {token!r}")
