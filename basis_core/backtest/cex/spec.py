"""``CexSpec``: everything venue-specific the generic CEX simulator needs, as data.

A plugin describes its venue once (symbols with their filters, fee schedule and fee-asset rules,
slippage buckets, margin tiers, funding cadence, wallet key kinds, transfer account names) and the
simulator, the validation and the delta builders read it. ``CexSpec.with_settings`` applies a
venue's configuration (``venue_config.<venue>.fees`` and extra options) and returns a new spec.

Configuration keys (all optional):
- ``fees``: ``spot_maker``, ``spot_taker``, ``perp_maker``, ``perp_taker``, ``liquidation`` (fractions).
- ``slippage_model``: ``"sqrt_impact"`` (the default: half-spread + square-root impact from the candle's volume and
  volatility, :mod:`basis_core.backtest.cex.impact`), ``"buckets"`` (a fixed bps per notional bucket, below), or
  a mapping ``{model: sqrt_impact, half_spread_bps, coefficient, max_bps, window}``.
- ``slippage``: the bucket model, ``{"spot" | "perp" | <symbol>: [[max_notional | null, bps], ...]}``; also what
  the square-root model falls back to on a price series without high, low and quote volume.
- ``margin_tiers``: ``{<perp symbol>: [[cap | null, max_leverage, mmr], ...]}``.
- ``default_leverage``: number (capped per symbol at its first tier's max leverage).
- ``require_funding_data``: bool (default true: a perp position needs the symbol's funding series).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from basis_core.backtest.cex.fees import FeeAssetRule, FeeRates
from basis_core.backtest.cex.impact import BUCKETS, SQRT_IMPACT, ImpactModel
from basis_core.backtest.cex.margin import MarginTier, build_tiers
from basis_core.backtest.cex.slippage import SlippageModel
from basis_core.data.prices import STABLECOINS
from basis_core.errors import ConfigError

MarketType = Literal["spot", "perp"]
#: the default slippage model of every CexSpec: half a tick + the square-root impact with Y = 1
DEFAULT_IMPACT = ImpactModel()


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One listed market (ccxt unified ``symbol``) and its exchange filters, in human units.

    Price rule: a multiple of ``tick`` when ``tick`` is set; when ``price_sig_figs`` is set (Hyperliquid)
    a price must be an integer or have at most that many significant figures and at most
    ``price_max_decimals`` decimals. ``step``: amount increment; ``min_amount``: smallest amount;
    ``min_notional``: smallest ``amount x price`` (quote units; reduce-only perp orders are exempt).
    ``tiers``: margin tiers of a perp (empty for spot).
    """

    symbol: str
    market: MarketType
    base: str
    quote: str
    step: Decimal
    min_amount: Decimal
    min_notional: Decimal
    tick: Decimal | None = None
    price_sig_figs: int | None = None
    price_max_decimals: int | None = None
    tiers: tuple[MarginTier, ...] = ()

    @property
    def settle(self) -> str | None:
        """The settle (margin) asset of a perp (``ETH/USDT:USDT`` -> ``USDT``), None for spot."""
        return self.symbol.partition(":")[2] or None if self.market == "perp" else None

    @property
    def max_leverage(self) -> Decimal:
        return self.tiers[0].max_leverage if self.tiers else Decimal(1)


def spot(symbol: str, *, step: str, min_notional: str, tick: str | None = None, min_amount: str | None = None,
         sig_figs: int | None = None, max_decimals: int | None = None) -> SymbolSpec:
    """A spot :class:`SymbolSpec` from strings (``base/quote`` parsed from ``symbol``)."""
    base, quote = symbol.split("/")
    return SymbolSpec(symbol, "spot", base, quote, Decimal(step), Decimal(min_amount or step), Decimal(min_notional),
                      None if tick is None else Decimal(tick), sig_figs, max_decimals)


def perp(symbol: str, *, step: str, min_notional: str, tiers: Sequence[tuple[Any, Any, Any]],
         tick: str | None = None, min_amount: str | None = None, sig_figs: int | None = None,
         max_decimals: int | None = None) -> SymbolSpec:
    """A linear perpetual :class:`SymbolSpec` (``ETH/USDT:USDT``) with margin tier rows ``(cap, max_lev, mmr)``."""
    pair, _, _settle = symbol.partition(":")
    base, quote = pair.split("/")
    return SymbolSpec(symbol, "perp", base, quote, Decimal(step), Decimal(min_amount or step), Decimal(min_notional),
                      None if tick is None else Decimal(tick), sig_figs, max_decimals, build_tiers(tiers))


@dataclass(frozen=True, slots=True)
class FeeSchedule:
    """Fee rates per market type, the asset each is charged in, and the liquidation fee rate
    (fraction of the liquidated notional, charged in the settle asset)."""

    spot: FeeRates
    perp: FeeRates
    spot_fee_asset: FeeAssetRule = "received"
    perp_fee_asset: FeeAssetRule = "settle"
    liquidation: Decimal = Decimal(0)


@dataclass(frozen=True)
class CexSpec:
    """A venue's simulation parameters.

    Keys: spot balances ``<venue>:<spot_kind>:<asset>``, perp margin wallets
    ``<venue>:<margin_kind>:<settle asset>``, perp positions ``<venue>:perp:<symbol>`` (signed base
    units), metrics ``<venue>:metric:<name>:<symbol or asset>``. ``accounts`` maps transfer account
    names (``from_account`` / ``to_account``) to ``"spot"`` or ``"margin"``.
    Series: reference price of a spot symbol = close of the first existing of ``spot_series``
    templates, of a perp = close of ``mark_series``; funding rows from ``funding_series``.
    """

    venue: str
    symbols: tuple[SymbolSpec, ...]
    fees: FeeSchedule
    slippage: Mapping[str, SlippageModel]
    funding_interval_hours: int
    margin_assets: tuple[str, ...]
    accounts: Mapping[str, Literal["spot", "margin"]]
    spot_kind: str = "spot"
    margin_kind: str = "futures"
    default_leverage: Decimal = Decimal(20)
    reduce_only_clamp: bool = False
    require_funding_data: bool = True
    spot_series: tuple[str, ...] = ("spot:{venue}:{symbol}", "spot:{symbol}")
    mark_series: str = "perp:{venue}:{symbol}"
    funding_series: str = "funding:{venue}:{symbol}"
    #: time-in-force values the venue takes on limit orders (Hyperliquid has no FOK)
    time_in_force: tuple[str, ...] = ("GTC", "IOC", "FOK")
    #: the square-root slippage model of market orders (None: the ``slippage`` buckets)
    impact: ImpactModel | None = DEFAULT_IMPACT
    #: market orders go out as IOC limits this fraction through the reference price (Hyperliquid: 5 %, as ccxt
    #: sends them); a spot market buy then needs ``amount x reference x (1 + market_slippage)`` of its quote free
    #: when placed, as the venue holds that much until it fills (0: true market orders). Option ``market_slippage``
    market_slippage: Decimal = Decimal(0)
    notes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for s in self.symbols:
            if s.symbol in seen:
                raise ConfigError(f"symbols: {s.symbol} is listed twice")
            seen.add(s.symbol)
            if s.quote not in STABLECOINS:
                raise ConfigError(f"symbols: {s.symbol}: the simulator values PnL in USD and needs a stablecoin quote")
            if s.market == "perp" and (not s.tiers or s.settle not in self.margin_assets):
                raise ConfigError(f"symbols: {s.symbol}: a perp needs margin tiers and a listed margin asset")
        for market in ("spot", "perp"):
            if market not in self.slippage:
                raise ConfigError(f"slippage: a {market!r} model is required")

    def symbol(self, symbol: str) -> SymbolSpec | None:
        for s in self.symbols:
            if s.symbol == symbol:
                return s
        return None

    def slippage_for(self, sym: SymbolSpec) -> SlippageModel:
        return self.slippage.get(sym.symbol) or self.slippage[sym.market]

    def leverage_for(self, sym: SymbolSpec) -> Decimal:
        """Default leverage of a perp: ``min(default_leverage, max leverage of its first tier)``."""
        return min(self.default_leverage, sym.max_leverage)

    # -- configuration --------------------------------------------------------------------------
    def with_settings(self, fees: Mapping[str, Any] | None = None, options: Mapping[str, Any] | None = None) -> CexSpec:
        """A copy with ``fees`` (``spot_maker`` ... ``liquidation``) and ``options`` applied.

        Raises :class:`ConfigError` naming the setting. Options this spec does not know are ignored
        (they may belong to the live client)."""
        spec = self
        fees = dict(fees or {})
        options = dict(options or {})
        if fees:
            known = {"spot_maker", "spot_taker", "perp_maker", "perp_taker", "liquidation"}
            for k in fees:
                if k not in known:
                    raise ConfigError(f"venue_config.{self.venue}.fees.{k}: unknown fee "
                                      f"(known: {', '.join(sorted(known))})")
            f = self.fees
            vals = {k: _dec(v, f"venue_config.{self.venue}.fees.{k}") for k, v in fees.items()}
            for k, v in vals.items():
                if not (0 <= v < 1):
                    raise ConfigError(f"venue_config.{self.venue}.fees.{k}: must be a fraction in [0, 1)")
            spot_rates = FeeRates(vals.get("spot_maker", f.spot.maker), vals.get("spot_taker", f.spot.taker))
            perp_rates = FeeRates(vals.get("perp_maker", f.perp.maker), vals.get("perp_taker", f.perp.taker))
            spec = replace(spec, fees=replace(f, spot=spot_rates, perp=perp_rates,
                                              liquidation=vals.get("liquidation", f.liquidation)))
        if "slippage" in options:
            raw = options["slippage"]
            if not isinstance(raw, Mapping):
                raise ConfigError(f"venue_config.{self.venue}.slippage: expected a mapping of market/symbol -> buckets")
            models = dict(spec.slippage)
            for name, rows in raw.items():
                if name not in ("spot", "perp") and spec.symbol(name) is None:
                    raise ConfigError(f"venue_config.{self.venue}.slippage.{name}: "
                                      "not 'spot', 'perp' or a listed symbol")
                try:
                    models[name] = SlippageModel.from_rows(rows)
                except (ValueError, TypeError, InvalidOperation) as e:
                    raise ConfigError(f"venue_config.{self.venue}.slippage.{name}: {e}") from None
            spec = replace(spec, slippage=models)
        if "slippage_model" in options:
            spec = replace(spec, impact=_impact_model(options["slippage_model"], f"venue_config.{self.venue}"))
        if "margin_tiers" in options:
            raw = options["margin_tiers"]
            if not isinstance(raw, Mapping):
                raise ConfigError(f"venue_config.{self.venue}.margin_tiers: expected a mapping of symbol -> tiers")
            syms = list(spec.symbols)
            for name, rows in raw.items():
                idx = next((i for i, s in enumerate(syms) if s.symbol == name and s.market == "perp"), None)
                if idx is None:
                    raise ConfigError(f"venue_config.{self.venue}.margin_tiers.{name}: not a listed perp symbol")
                try:
                    tiers = build_tiers([tuple(r) for r in rows])
                except (ValueError, TypeError, InvalidOperation) as e:
                    raise ConfigError(f"venue_config.{self.venue}.margin_tiers.{name}: {e}") from None
                syms[idx] = replace(syms[idx], tiers=tiers)
            spec = replace(spec, symbols=tuple(syms))
        if "default_leverage" in options:
            lev = _dec(options["default_leverage"], f"venue_config.{self.venue}.default_leverage")
            if lev < 1:
                raise ConfigError(f"venue_config.{self.venue}.default_leverage: must be >= 1")
            spec = replace(spec, default_leverage=lev)
        if "require_funding_data" in options:
            spec = replace(spec, require_funding_data=bool(options["require_funding_data"]))
        if "market_slippage" in options:
            ms = _dec(options["market_slippage"], f"venue_config.{self.venue}.market_slippage")
            if not (0 <= ms < 1):
                raise ConfigError(f"venue_config.{self.venue}.market_slippage: must be a fraction in [0, 1)")
            spec = replace(spec, market_slippage=ms)
        return spec


def _impact_model(raw: Any, where: str) -> ImpactModel | None:
    """``slippage_model``: ``"sqrt_impact"``, ``"buckets"`` (None) or a mapping of the square-root model's
    parameters; ConfigError naming the setting otherwise."""
    where = f"{where}.slippage_model"
    if raw == BUCKETS:
        return None
    if raw == SQRT_IMPACT:
        return ImpactModel()
    if isinstance(raw, Mapping):
        model = raw.get("model", SQRT_IMPACT)
        if model == BUCKETS and len(raw) == 1:
            return None
        if model != SQRT_IMPACT:
            raise ConfigError(f"{where}.model: {model!r} is not {SQRT_IMPACT!r} or {BUCKETS!r}")
        try:
            return ImpactModel.from_config(raw)
        except ValueError as e:
            raise ConfigError(f"{where}: {e}") from None
    raise ConfigError(f"{where}: {raw!r} is not {SQRT_IMPACT!r}, {BUCKETS!r} or a mapping of the model's parameters")


def _dec(value: Any, where: str) -> Decimal:
    try:
        d = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise ConfigError(f"{where}: not a number: {value!r}") from None
    if not d.is_finite():
        raise ConfigError(f"{where}: must be finite")
    return d
