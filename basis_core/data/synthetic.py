"""The seeded synthetic market: the project's own default data (no downloads). Same seed, same data.

The core makes the underlying market: hourly ETH and BTC spot (correlated GBM candles), ETH/USDC, the
ETH/USD and BTC/USD oracles and gas prices. Every installed venue adds the series of its instruments through
the ``synthetic_series`` hook (perp marks with an OU basis and funding, lending reserves, LST rates), built
with :class:`SyntheticMarket`'s helpers. A venue's series draw from their own random stream, seeded by the
run's seed and the series name, so installing another venue never changes them. Values are Decimals with
fixed decimals.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from basis_core.data.provider import DataProvider
from basis_core.data.series import Series

HOUR_NS = 3_600_000_000_000
YEAR_HOURS = 365 * 24


@dataclass(frozen=True)
class SyntheticSpec:
    """Parameters of the synthetic market (documented defaults)."""

    seed: int = 7
    start: str = "2025-01-01T00:00:00Z"
    hours: int = YEAR_HOURS + 1
    eth_start: float = 3300.0
    btc_start: float = 95000.0
    eth_vol: float = 0.65          # annualised
    btc_vol: float = 0.50
    correlation: float = 0.8
    funding_8h_mean: float = 0.0001    # per 8h interval (~11% a year)
    funding_8h_vol: float = 0.00008
    basis_mean: float = 0.0004         # perp mark / spot - 1
    wsteth_rate_start: float = 1.2050  # ETH per wstETH
    weeth_rate_start: float = 1.0650
    lst_apr: float = 0.03
    #: mean traded value of an hourly candle in USD (the order of Binance's 2024-2025 medians, see
    #: ../shared/data): spot markets by symbol, perpetuals by base asset; the square-root slippage model reads it
    spot_quote_volume: Mapping[str, float] = field(default_factory=lambda: {
        "ETH/USDT": 80e6, "BTC/USDT": 60e6, "ETH/USDC": 10e6})
    perp_quote_volume: Mapping[str, float] = field(default_factory=lambda: {"ETH": 300e6, "BTC": 500e6})


def _dec(values: np.ndarray, places: int) -> list[Decimal]:
    fmt = f"{{:.{places}f}}"
    return [Decimal(fmt.format(v)) for v in values.tolist()]


def _ou(rng: np.random.Generator, n: int, mean: float, vol: float, kappa: float = 0.02) -> np.ndarray:
    x = np.empty(n)
    x[0] = mean
    shocks = rng.standard_normal(n) * vol
    for i in range(1, n):
        x[i] = x[i - 1] + kappa * (mean - x[i - 1]) + shocks[i] * np.sqrt(2 * kappa)
    return x


def _volume_rng(seed: int, name: str) -> np.random.Generator:
    """The random stream of a series' quote volume: its own, so adding volume changed no other value."""
    return np.random.default_rng([seed, zlib.crc32(f"{name}#quote_volume".encode())])


def _candles(name: str, times: list[int], close: np.ndarray, rng: np.random.Generator, places: int = 2,
             quote_volume: float | None = None, seed: int = 0) -> Series:
    """OHLC candles; with ``quote_volume`` (the mean traded value of a candle, quote units) a ``quote_volume``
    column too: lognormal around that mean, higher in candles with a wider range."""
    openp = np.concatenate([[close[0]], close[:-1]])
    wiggle = np.abs(rng.standard_normal(len(close))) * 0.002
    high = np.maximum(openp, close) * (1 + wiggle)
    low = np.minimum(openp, close) * (1 - wiggle * 0.9)
    cols = {"open": _dec(openp, places), "high": _dec(high, places), "low": _dec(low, places),
            "close": _dec(close, places)}
    if quote_volume is not None:
        width = np.log(high / low)
        z = _volume_rng(seed, name).standard_normal(len(close))
        volume = quote_volume * np.exp(0.4 * z - 0.08) * (0.5 + 0.5 * width / max(float(width.mean()), 1e-12))
        cols["quote_volume"] = _dec(volume, 2)
    return Series(name, times, cols)


class SyntheticMarket:
    """What a ``synthetic_series`` hook builds on: the spec, the hourly ``times`` (UTC ns), the underlying
    price paths and per-series random streams."""

    def __init__(self, spec: SyntheticSpec, times: list[int], paths: dict[str, np.ndarray]) -> None:
        self.spec = spec
        self.times = times
        self.n = len(times)
        self._paths = paths

    def path(self, asset: str) -> np.ndarray:
        """The underlying USD price path of ``asset`` (``ETH``, ``BTC``; ``WETH`` = ETH), one value an hour."""
        key = "ETH" if asset in ("WETH", "stETH") else "BTC" if asset == "WBTC" else asset
        if key not in self._paths:
            from basis_core.errors import MarketDataError

            raise MarketDataError(f"synthetic market: no price path for {asset!r} (have {', '.join(self._paths)})")
        return self._paths[key]

    def rng(self, name: str) -> np.random.Generator:
        """The random stream of series ``name``: seeded by the run's seed and the name alone."""
        return np.random.default_rng([self.spec.seed, zlib.crc32(name.encode())])

    def candles(self, name: str, close: np.ndarray, places: int = 2, quote_volume: float | None = None) -> Series:
        """OHLC candles closing at ``close`` (open = previous close; a small high / low wiggle), with a
        ``quote_volume`` column around that mean value per candle when given."""
        return _candles(name, self.times, close, self.rng(name), places, quote_volume, self.spec.seed)

    def ou(self, name: str, mean: float, vol: float, kappa: float = 0.02, n: int | None = None) -> np.ndarray:
        """A mean-reverting (Ornstein-Uhlenbeck) path of ``n`` points (default: one an hour)."""
        return _ou(self.rng(name), n or self.n, mean, vol, kappa)

    def perp(self, venue: str, symbol: str, funding_every_hours: int = 8, base: str | None = None,
             quote_volume: float | None = None) -> list[Series]:
        """A linear perpetual's mark candles ``perp:<venue>:<symbol>`` (spot x (1 + OU basis)) and its funding
        ``funding:<venue>:<symbol>`` settled every ``funding_every_hours`` at multiples of that many hours
        since the epoch (8: 00/08/16 UTC), the 8-hour rate scaled to the interval (mean ``funding_8h_mean``).
        ``quote_volume``: mean traded value of an hourly candle (default: the spec's for the base asset)."""
        spec = self.spec
        asset = base or symbol.split("/")[0]
        mark_name, fund_name = f"perp:{venue}:{symbol}", f"funding:{venue}:{symbol}"
        basis = self.ou(mark_name + "#basis", spec.basis_mean, 0.0003)
        if quote_volume is None:
            quote_volume = spec.perp_quote_volume.get(asset, spec.perp_quote_volume["ETH"])
        mark = self.candles(mark_name, self.path(asset) * (1 + basis), quote_volume=quote_volume)
        f8 = self.ou(fund_name, spec.funding_8h_mean, spec.funding_8h_vol, kappa=0.01)
        every = [i for i in range(self.n) if (self.times[i] // HOUR_NS) % funding_every_hours == 0]
        scale = funding_every_hours / 8
        places = 8 if funding_every_hours >= 8 else 10
        rates = np.array([f8[i] * scale for i in every])
        return [mark, Series(fund_name, [self.times[i] for i in every], {"rate": _dec(rates, places)})]

    @staticmethod
    def decimals(values: np.ndarray, places: int) -> list[Decimal]:
        """Decimals with ``places`` fixed decimals (how every synthetic value is stored)."""
        return _dec(values, places)

    def daily(self) -> list[int]:
        """Indices of one row a day (the first hour of each day of the run)."""
        return list(range(0, self.n, 24))


def _core_series(spec: SyntheticSpec) -> tuple[SyntheticMarket, list[Series]]:
    """The underlying market (spot, oracles, gas) and the :class:`SyntheticMarket` venues build on."""
    rng = np.random.default_rng(spec.seed)
    n = spec.hours
    t0 = int(pd.Timestamp(spec.start).value)
    times = [t0 + i * HOUR_NS for i in range(n)]
    dt = 1 / YEAR_HOURS

    z1 = rng.standard_normal(n)
    z2 = spec.correlation * z1 + np.sqrt(1 - spec.correlation**2) * rng.standard_normal(n)
    z1[0] = z2[0] = 0.0
    eth = spec.eth_start * np.exp(np.cumsum(spec.eth_vol * np.sqrt(dt) * z1 - 0.5 * spec.eth_vol**2 * dt))
    btc = spec.btc_start * np.exp(np.cumsum(spec.btc_vol * np.sqrt(dt) * z2 - 0.5 * spec.btc_vol**2 * dt))
    eth_usdc = eth * (1 + rng.standard_normal(n) * 0.0001)
    vol = spec.spot_quote_volume
    out: list[Series] = [
        _candles("spot:ETH/USDT", times, eth, rng, quote_volume=vol.get("ETH/USDT"), seed=spec.seed),
        _candles("spot:BTC/USDT", times, btc, rng, quote_volume=vol.get("BTC/USDT"), seed=spec.seed),
        _candles("spot:ETH/USDC", times, eth_usdc, rng, quote_volume=vol.get("ETH/USDC"), seed=spec.seed),
        Series("oracle:ETH/USD", times, {"price": _dec(eth, 2)}),
        Series("oracle:BTC/USD", times, {"price": _dec(btc, 2)}),
    ]
    market = SyntheticMarket(spec, times, {"ETH": eth, "BTC": btc})
    # gas: lognormal base fee around 8 gwei, priority ~0.5 gwei
    g = market.rng("gas")
    base = np.exp(_ou(g, n, np.log(8.0), 0.15, kappa=0.05))
    prio = np.abs(g.standard_normal(n) * 0.3) + 0.1
    out.append(Series("gas", times, {"base_fee_gwei": _dec(base, 4), "priority_fee_gwei": _dec(prio, 4),
                                     "gas_price_gwei": _dec(base + prio, 4)}))
    return market, out


def synthetic_market(spec: SyntheticSpec | None = None, plugins: Iterable[tuple[Any, Any]] | None = None,
                     **overrides: object) -> DataProvider:
    """Generate the synthetic market (``overrides`` replace fields of :class:`SyntheticSpec`): the core's
    underlying series plus every installed venue's ``synthetic_series`` (``plugins``: pairs of
    (:class:`~basis_core.data.contrib.Contributor`, object with the hook) instead of the installed venues).

    A series name contributed twice is an error naming both contributors.
    """
    from basis_core.data.contrib import data_plugin_manager
    from basis_core.errors import MarketDataError

    spec = spec or SyntheticSpec()
    if overrides:
        spec = SyntheticSpec(**{**spec.__dict__, **overrides})  # type: ignore[arg-type]
    market, out = _core_series(spec)
    owner = {s.name: "core" for s in out}
    pm = data_plugin_manager(plugins)
    for impl in pm.hook.synthetic_series.get_hookimpls():  # registration order
        if impl.plugin_name == "core":
            continue
        got: Any = impl.function(market=market) or []
        for s in got:
            if s.name in owner:
                raise MarketDataError(f"synthetic series {s.name!r} is contributed by both {owner[s.name]} "
                                      f"and {impl.plugin_name}")
            owner[s.name] = impl.plugin_name
            out.append(s)
    return DataProvider(out, name=f"synthetic(seed={spec.seed})")
