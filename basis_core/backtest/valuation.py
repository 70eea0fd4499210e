"""Mark-to-market of a backtest book in USD, from ledger balances and a market snapshot.

Rules by instrument-key kind (``venue:kind:asset``):

- ``perp`` (signed base units): unrealised PnL in USD. If the venue reports
  ``<venue>:metric:unrealised_pnl:<symbol>`` (settle units) in ``get_balances`` that is used, else
  ``<venue>:metric:entry_price:<symbol>`` gives ``size x (mark - entry)``; otherwise it is computed
  from the fills seen in the execution history (records with a fill price), independently of how
  the venue splits realised / unrealised PnL: ``size x mark - sum(fill size x fill price) - realised``,
  where ``realised`` is the settle-asset cash the venue booked on those fills (fees excluded).
  The mark is ``perp:<venue>:<symbol>`` close, in the settle asset, times its USD price.
  Exposure (for charts and delta) is ``size x mark`` in USD.
- ``debt`` / ``borrow``: ``- amount x price(asset)`` (a liability).
- ``metric``: not value (health factors, rates ...).
- ``lp`` and anything else the venue values itself: ``<venue>:metric:value_usd:<kind>:<asset>`` from
  ``get_balances`` when the venue reports it.
- ``spot`` (exchange spot accounts): ``amount x`` the close of ``spot:<asset>/USDT`` (or ``/USDC``), the
  market the exchange fills at, so a hedged book is not marked against another source; else usd_price.
- every other kind (futures, wallet, supplied, staked, margin ...): ``amount x price(asset)``.

Prices (:func:`market_usd_price`): stablecoins 1; ETH / WETH, and every token a venue declares a claim on ETH
(``token_prices`` hook: a rebasing staking token 1:1, a wrapped one at its exchange rate), at the ETH market, the
close of ``spot:ETH/USDT`` (the market the hedges trade against), else :func:`basis_core.data.usd_price` (the
``oracle:ETH/USD``), x the declared rate; other tokens by usd_price.
(The real-data oracle file is smoothed: valuing on-chain ETH by it and the perp hedge at the market
would show a noise of about 1% of the hedged notional that is not PnL. Pass ``eth_price="oracle"`` to
value by the oracle.)

A key that cannot be valued is valued at 0 and listed in :attr:`Valuer.unpriced` (the report shows it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from basis_core.data.prices import ETH_LIKE, STABLECOINS, TokenPrice, resolve_token, token_prices_of, usd_price
from basis_core.data.provider import DataProvider, MarketSnapshot
from basis_core.deltas import ExecutionDeltas
from basis_core.errors import BasisError, MarketDataError

log = logging.getLogger(__name__)

_ZERO = Decimal(0)
LIABILITY_KINDS = frozenset({"debt", "borrow", "borrowed"})
NON_VALUE_KINDS = frozenset({"metric"})
VENUE_VALUED_KINDS = frozenset({"lp", "position", "request", "withdrawal"})
#: exchange balances, valued at the exchange's spot market (``spot:<asset>/USDT`` close) when listed
EXCHANGE_KINDS = frozenset({"spot"})


def rate_token(snapshot: Any, token: str) -> TokenPrice | None:
    """The declaration of ``token`` when it is a non-rebasing token whose value grows with an exchange rate (a
    wrapped liquid staking token: ``rate_series`` set), else None."""
    rule = token_prices_of(snapshot).get(token)
    return rule if rule is not None and rule.rate_series is not None else None


@dataclass(slots=True)
class _PerpBook:
    """Fill-based cost basis of one perp key: sum(fill size x price) + realised cash, in settle units."""

    cost: Decimal = _ZERO
    size: Decimal = _ZERO


@dataclass(frozen=True, slots=True)
class Valuation:
    """The book's value at one time: total equity and the per-key value and exposure (USD)."""

    equity: Decimal
    values: dict[str, Decimal]
    exposures: dict[str, Decimal]




def market_usd_price(snapshot: MarketSnapshot, token: str, eth_price: str = "market") -> Decimal:
    """USD price of ``token`` for valuation (see the module docstring)."""
    if token in STABLECOINS:
        return usd_price(snapshot, token)
    if eth_price == "market":
        base, rate = (token, None) if token in ETH_LIKE else resolve_token(snapshot, token)
        if base in ETH_LIKE:
            if snapshot.has("spot:ETH/USDT"):
                eth = snapshot.get("spot:ETH/USDT")
            else:
                eth = usd_price(snapshot, "ETH")
            return eth if rate is None else eth * rate  # type: ignore[no-any-return]
    return usd_price(snapshot, token)


def _pairs(m: Any) -> Any:
    """The ``(key, value)`` pairs of a map (a dict or Mapping, or already pairs)."""
    return m.items() if type(m) is dict or isinstance(m, Mapping) else m


def _split(key: str) -> tuple[str, str, str]:
    venue, _, rest = key.partition(":")
    kind, _, asset = rest.partition(":")
    return venue, kind, asset


class Valuer:
    """Values ledger balances in USD; feed it every execution-history record with :meth:`observe`.

    :param provider: the run's market data.
    :param balances_of: ``venue -> get_balances`` callable (the manager's), used for venue metrics.
    """

    def __init__(self, provider: DataProvider, balances_of: Any = None, eth_price: str = "market") -> None:
        if eth_price not in ("market", "oracle"):
            raise ValueError(f"eth_price: 'market' or 'oracle', got {eth_price!r}")
        self.eth_price = eth_price
        self.provider = provider
        self.balances_of = balances_of
        self.perps: dict[str, _PerpBook] = {}
        self.unpriced: set[str] = set()
        self._venue_metrics: dict[str, bool] = {}
        self._kinds: dict[str, tuple[str, str, str]] = {}
        self._prices: dict[str, Any] = {}  # USD prices found by the last value(): reused while the market is the same
        #: keys valued at a market price (``_prices``): True for an asset, False for a liability
        self._priced: dict[str, bool] = {}

    # -- history ---------------------------------------------------------------------------------
    def observe(self, records: Iterable[Any], snapshot_at: Any = None) -> None:
        """Update perp cost bases from successful history records (HistoryRecord or ExecutionDeltas)."""
        self.observe_timed(((getattr(rec, "ts_ns", None), rec) for rec in records), snapshot_at)

    def observe_timed(self, records: Iterable[tuple[int | None, Any]], snapshot_at: Any = None) -> None:
        """:meth:`observe` of ``(time in ns, record)`` pairs (:meth:`basis_core.history.HistoryLog.sources`): an
        ExecutionDeltas is a success; a record that moves no perp key costs one memo lookup per key. A perp fill
        without a fill price is costed at the mark at its time (``snapshot_at`` when its time is None)."""
        kinds = self._kinds
        for ts_ns, rec in records:
            if type(rec) is not ExecutionDeltas and not getattr(rec, "success", True):
                continue
            pos = rec.positions
            if type(pos) is not dict:
                pos = dict(_pairs(pos))
            for k in pos:
                parts = kinds.get(k)
                if parts is None:
                    parts = kinds[k] = _split(k)
                if parts[1] == "perp":
                    self._observe_perps(rec, pos, ts_ns if ts_ns is not None else snapshot_at)
                    break

    def _observe_perps(self, rec: Any, pos: dict[str, Decimal], at_ns: Any) -> None:
        """Cost bases of the perp keys ``rec`` (positions ``pos``) moved."""
        perp_moves = [(k, d) for k, d in pos.items() if d != 0 and _split(k)[1] == "perp"]
        if not perp_moves:
            return
        fees = dict(_pairs(rec.fees))
        for key, delta in perp_moves:
            venue, _, symbol = _split(key)
            settle = symbol.rsplit(":", 1)[-1] if ":" in symbol else "USD"
            price = self._fill_price(rec, key, delta, at_ns)
            # realised cash: the settle-asset change on non-perp keys of the venue, fees excluded
            realised = _ZERO
            if len(perp_moves) == 1:
                for k, d in pos.items():
                    v, kind, asset = _split(k)
                    if v == venue and kind != "perp" and asset == settle:
                        realised += d - fees.get(k, _ZERO)
            book = self.perps.setdefault(key, _PerpBook())
            book.cost += delta * price + realised
            book.size += delta

    def _fill_price(self, rec: Any, key: str, delta: Decimal, at_ns: Any) -> Decimal:
        fp = getattr(rec, "fill_price", None)
        if fp is not None:
            return Decimal(fp)
        # no fill price: the mark at the record's time (``at_ns``)
        venue, _, symbol = _split(key)
        return self.provider.series(f"perp:{venue}:{symbol}").value("close", at_ns)

    # -- valuation -------------------------------------------------------------------------------
    def value(self, snapshot: MarketSnapshot, balances: Mapping[str, Decimal], same_market: bool = False) -> Valuation:
        """Total equity (USD) of ``balances`` at the snapshot, with per-key values and exposures.

        ``same_market``: the caller knows the snapshot reads the same values as the previous call's (no series got
        a new row since, none went stale): the market prices found then are reused (venue metrics are asked again).
        """
        return Valuation(*self.value_parts(snapshot, balances, same_market))

    def value_parts(self, snapshot: MarketSnapshot, balances: Mapping[str, Decimal],
                    same_market: bool = False) -> tuple[Decimal, dict[str, Decimal], dict[str, Decimal]]:
        """:meth:`value` as the plain tuple ``(equity, values, exposures)`` (no :class:`Valuation` built: the
        backtest runner's per-step path)."""
        values: dict[str, Decimal] = {}
        exposures: dict[str, Decimal] = {}
        total = _ZERO
        metrics_cache: dict[str, Mapping[str, Decimal]] = {}
        kinds = self._kinds
        if not same_market:
            self._prices = {}
        prices = self._prices
        priced = self._priced
        for key, amount in balances.items():
            sign = priced.get(key)
            if sign is not None:  # a key valued at a market price (not a perp, metric or venue-valued kind)
                px = prices.get(key)
                if px is not None:  # found already for this market
                    if not amount:
                        continue
                    value = amount * px if sign else -amount * px
                    values[key] = value
                    exposures[key] = value
                    total += value
                    continue
            parts = kinds.get(key)
            if parts is None:
                parts = kinds[key] = _split(key)
            venue, kind, asset = parts
            if kind in NON_VALUE_KINDS or amount == 0:
                continue
            try:
                if kind == "perp":
                    value, exposure = self._perp_value(snapshot, key, venue, asset, amount, metrics_cache)
                elif kind in VENUE_VALUED_KINDS:
                    value = self._venue_value(snapshot, venue, kind, asset, metrics_cache)
                    exposure = value
                else:
                    px = prices.get(key)  # the key's USD price, found once per market
                    if px is None:
                        px = prices[key] = (self._exchange_price(snapshot, asset) if kind in EXCHANGE_KINDS
                                            else market_usd_price(snapshot, asset, self.eth_price))
                    liability = kind in LIABILITY_KINDS
                    priced[key] = not liability
                    value = -amount * px if liability else amount * px
                    exposure = value
            except (MarketDataError, LookupError):
                try:
                    value = self._venue_value(snapshot, venue, kind, asset, metrics_cache)
                except (BasisError, LookupError):
                    if key not in self.unpriced:
                        log.warning("cannot value %s at %s; counted as 0", key, snapshot.timestamp)
                        self.unpriced.add(key)
                    value = _ZERO
                exposure = value
            values[key] = value
            exposures[key] = exposure
            total += value
        return total, values, exposures

    def _exchange_price(self, snapshot: MarketSnapshot, asset: str) -> Decimal:
        """USD price of an exchange balance: the spot market's close against USDT / USDC when listed
        (where a CEX's spot fills happen), else :func:`usd_price`."""
        if asset in STABLECOINS:
            return usd_price(snapshot, asset)
        for quote in ("USDT", "USDC"):
            name = f"spot:{asset}/{quote}"
            if self.provider.has(name) and snapshot.has(name):
                return snapshot.get(name) * usd_price(snapshot, quote)
        return market_usd_price(snapshot, asset, self.eth_price)

    def _metrics(self, snapshot: MarketSnapshot, venue: str,
                 cache: dict[str, Mapping[str, Decimal]]) -> Mapping[str, Decimal]:
        m = cache.get(venue)
        if m is None:
            m = {}
            if self.balances_of is not None:
                try:
                    m = self.balances_of(snapshot.timestamp, venue) or {}
                except BasisError:
                    m = {}
            cache[venue] = m
        return m

    def _venue_value(self, snapshot: MarketSnapshot, venue: str, kind: str, asset: str,
                     cache: dict[str, Mapping[str, Decimal]]) -> Decimal:
        m = self._metrics(snapshot, venue, cache)
        for name in (f"{venue}:metric:value_usd:{kind}:{asset}", f"{venue}:metric:value_usd:{asset}"):
            if name in m:
                return Decimal(m[name])
        raise MarketDataError(f"venue {venue} reports no value for {kind}:{asset}")

    def _perp_value(self, snapshot: MarketSnapshot, key: str, venue: str, symbol: str, size: Decimal,
                    cache: dict[str, Mapping[str, Decimal]]) -> tuple[Decimal, Decimal]:
        marked = self._prices.get(key)
        if marked is None:
            mark = snapshot.get(f"perp:{venue}:{symbol}")
            settle_px = usd_price(snapshot, symbol.rsplit(":", 1)[-1] if ":" in symbol else "USD")
            self._prices[key] = (mark, settle_px)
        else:
            mark, settle_px = marked
        uses_metrics = self._venue_metrics.get(venue)
        if uses_metrics is None or uses_metrics:
            m = self._metrics(snapshot, venue, cache)
            upnl = m.get(f"{venue}:metric:unrealised_pnl:{symbol}")
            entry = m.get(f"{venue}:metric:entry_price:{symbol}")
            if uses_metrics is None:
                uses_metrics = self._venue_metrics[venue] = upnl is not None or entry is not None
            if upnl is not None:
                return Decimal(upnl) * settle_px, size * mark * settle_px
            if entry is not None:
                return size * (mark - Decimal(entry)) * settle_px, size * mark * settle_px
        book = self.perps.get(key)
        cost = book.cost if book is not None else _ZERO
        return (size * mark - cost) * settle_px, size * mark * settle_px


def lst_rate_gain(prev: MarketSnapshot | None, snap: MarketSnapshot, balances: Mapping[str, Decimal],
                  eth_price: str = "market") -> Decimal:
    """USD gain from the growth of non-rebasing LST exchange rates over one step (staking yield).

    For every balance of a token declared with an exchange rate (:func:`rate_token`: wstETH, weETH ...; liabilities
    negative): ``amount x its numeraire's price now x (rate now - rate before)``. The rest of the value change of
    these tokens is price.
    """
    if prev is None:
        return _ZERO
    gain = _ZERO
    prices: dict[str, Decimal] = {}
    rates: dict[str, Decimal] = {}
    for key, amount in balances.items():
        _, kind, asset = _split(key)
        if kind in NON_VALUE_KINDS or kind == "perp" or amount == 0:
            continue
        rule = rate_token(snap, asset)
        if rule is None:
            continue
        assert rule.rate_series is not None
        d = rates.get(asset)
        if d is None:
            try:
                d = snap.get(rule.rate_series, "rate") - prev.get(rule.rate_series, "rate")
            except MarketDataError:
                d = _ZERO
            rates[asset] = d
        if d == 0:
            continue
        px = prices.get(rule.numeraire)
        if px is None:
            px = prices[rule.numeraire] = market_usd_price(snap, rule.numeraire, eth_price)
        sign = -1 if kind in LIABILITY_KINDS else 1
        gain += sign * amount * px * d
    return gain


__all__ = ["LIABILITY_KINDS", "Valuation", "Valuer", "lst_rate_gain", "market_usd_price", "rate_token"]
