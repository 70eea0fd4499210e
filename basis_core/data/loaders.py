"""Loaders for real market data files (the formats of ``../shared/data``): klines, funding, Aave reserve
history, oracle files with ``#`` comment lines, gas. Values are parsed from the CSV text as exact Decimals.

Candles are stamped at their CLOSE (open time + interval) so a bar's close is never visible early.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import pandas as pd

from basis_core.data.provider import DataProvider
from basis_core.data.series import Series
from basis_core.errors import MarketDataError

_HOUR_NS = 3_600_000_000_000


def _read(path: Path) -> pd.DataFrame:
    try:
        return pd.read_csv(path, dtype=str, comment="#", keep_default_na=False)
    except (OSError, pd.errors.ParserError) as e:
        raise MarketDataError(f"cannot read {path}: {e}") from None


def _times(col: pd.Series) -> list[int]:
    """UTC ns from ISO strings (Z / +00:00 / naive = UTC) or unix seconds."""
    sample = str(col.iloc[0])
    if re.fullmatch(r"\d{9,11}", sample):
        return [int(v) * 1_000_000_000 for v in col]
    if re.fullmatch(r"\d{12,14}", sample):
        return [int(v) * 1_000_000 for v in col]
    idx = pd.to_datetime(col.str.replace(r"\+00:00Z$", "Z", regex=True), utc=True, format="mixed")
    return [int(v) for v in idx.dt.as_unit("ns").astype("int64")]


def _frame_to_series(name: str, times: list[int], df: pd.DataFrame, columns: dict[str, str]) -> Series:
    """Sort, drop duplicate times (keep the last row), convert columns to Decimal."""
    order = sorted(range(len(times)), key=times.__getitem__)
    kept: list[int] = []
    for i in order:
        if kept and times[kept[-1]] == times[i]:
            kept[-1] = i
        else:
            kept.append(i)
    out_cols: dict[str, list[Decimal]] = {}
    for out, src in columns.items():
        if src not in df.columns:
            raise MarketDataError(f"{name}: column {src!r} missing (has {', '.join(df.columns)})")
        raw = df[src].tolist()
        out_cols[out] = [Decimal(raw[i]) if raw[i] != "" else Decimal(0) for i in kept]
    return Series(name, [times[i] for i in kept], out_cols)


def load_klines(path: str | Path, name: str, interval_ns: int = _HOUR_NS, time_col: str = "timestamp") -> Series:
    """OHLC candles (Binance / Bybit / Uniswap exports); each row visible at its close time.

    A first row at the first bar's open time carries its open price in every column."""
    df = _read(Path(path))
    opens = _times(df[time_col])
    times = [t + interval_ns for t in opens]
    s = _frame_to_series(name, times, df, {"open": "open", "high": "high", "low": "low", "close": "close"})
    # the first bar's open price is known at its open time: make it visible from then on
    first_open = s.columns["open"][0]
    return Series(name, [s.first_ns - interval_ns, *s.times],
                  {c: [first_open, *v] for c, v in s.columns.items()})


def load_funding(path: str | Path, name: str) -> Series:
    """Funding settlements: ``funding_timestamp``, ``funding_rate`` -> column ``rate``."""
    df = _read(Path(path))
    return _frame_to_series(name, _times(df["funding_timestamp"]), df, {"rate": "funding_rate"})


def load_aave_rates(path: str | Path, name: str) -> Series:
    """Aave reserve history: indices (normalised ~1.0), current rates (APR decimals), price."""
    df = _read(Path(path))
    return _frame_to_series(name, _times(df["timestamp"]), df, {
        "liquidity_index": "liquidityIndex",
        "variable_borrow_index": "variableBorrowIndex",
        "liquidity_rate": "currentLiquidityRate",
        "variable_borrow_rate": "currentVariableBorrowRate",
        "price": "price",
    })


def load_oracle(path: str | Path, name: str, column: str = "rate") -> Series:
    """Oracle files with ``#`` comment lines; the value column is ``oracle_price_usd`` or ``oracle_price_eth``."""
    df = _read(Path(path))
    src = "oracle_price_usd" if "oracle_price_usd" in df.columns else "oracle_price_eth"
    return _frame_to_series(name, _times(df["timestamp"]), df, {column: src})


def load_gas(path: str | Path, name: str = "gas") -> Series:
    """Ethereum gas history: base fee, median priority fee and gas price, in gwei."""
    df = _read(Path(path))
    return _frame_to_series(name, _times(df["timestamp"]), df, {
        "base_fee_gwei": "base_fee_gwei",
        "priority_fee_gwei": "priority_fee_p50_gwei",
        "gas_price_gwei": "gas_price_gwei",
    })


# file-name pattern -> (loader, series name); the pair in a name maps to ccxt unified symbols
_PATTERNS: Sequence[tuple[str, str]] = (
    (r"^binance_(?P<b>[A-Z]+)USDT_perp_1h_", "perp:binance:{b}/USDT:USDT"),
    (r"^bybit_(?P<b>[A-Z]+)USDT_perp_1h_", "perp:bybit:{b}/USDT:USDT"),
    (r"^binance_(?P<b>[A-Z]+)USDT_1h_", "spot:{b}/USDT"),
    (r"^bybit_(?P<b>[A-Z]+)USDT_spot_1h_", "spot:{b}/USDT"),
    (r"^binance_(?P<b>[A-Z]+)USDT_funding_rates_", "funding:binance:{b}/USDT:USDT"),
    (r"^bybit_(?P<b>[A-Z]+)USDT_funding_rates_", "funding:bybit:{b}/USDT:USDT"),
    (r"^aave_v3_aave-v3-ethereum_(?P<b>[A-Za-z]+)_rates_", "aave:{b}"),
    (r"^WETH_USD_oracle_", "oracle:ETH/USD"),
    (r"^(?P<b>wstETH|weETH)_ETH_oracle_", "lst:{b}"),
    (r"^ethereum_gas_prices_", "gas"),
    (r"^uniswapv3_(?P<b>WETH)(?P<q>USDT|USDC)_1h_", "dex:uniswap:{b}/{q}"),
)

#: Default aliases for real data: venues without their own files use a proxy series.
REAL_DATA_ALIASES = {
    "perp:hyperliquid:ETH/USDC:USDC": "perp:binance:ETH/USDT:USDT",
    "perp:hyperliquid:BTC/USDC:USDC": "perp:binance:BTC/USDT:USDT",
    "spot:ETH/USDC": "spot:ETH/USDT",
    "spot:BTC/USDC": "spot:BTC/USDT",
}


def fill_gaps(primary: Series, secondary: Series, max_gap_ns: int = _HOUR_NS) -> Series:
    """``primary`` with every gap longer than ``max_gap_ns`` filled by ``secondary``'s rows inside the gap.

    Used for the same contract on another venue (the Binance perp file has day-long holes that Bybit's
    covers): a stale mark for a day would otherwise show as a spike in every hedged PnL.
    """
    times, cols = list(primary.times), {c: list(v) for c, v in primary.columns.items()}
    out_t: list[int] = []
    out_c: dict[str, list[Decimal]] = {c: [] for c in cols}
    sec_cols = {c: secondary.column(c) for c in cols}
    for i, t in enumerate(times):
        if i and t - times[i - 1] > max_gap_ns:
            for j in secondary.range_between(times[i - 1], t - 1):
                out_t.append(secondary.times[j])
                for c in cols:
                    out_c[c].append(sec_cols[c][j])
        out_t.append(t)
        for c in cols:
            out_c[c].append(cols[c][i])
    return Series(primary.name, out_t, out_c)


#: series whose gaps are filled from the same contract on another venue
GAP_FILLS = {"perp:binance:ETH/USDT:USDT": "perp:bybit:ETH/USDT:USDT"}


def load_data_dir(directory: str | Path, aliases: dict[str, str] | None = None) -> DataProvider:
    """Load every recognised file of ``directory`` into a DataProvider (unknown files are ignored).

    Gaps longer than an hour in the series of :data:`GAP_FILLS` are filled from their counterpart.
    """
    d = Path(directory)
    if not d.is_dir():
        raise MarketDataError(f"data directory {d} does not exist")
    series: dict[str, Series] = {}
    for path in sorted(d.glob("*.csv")):
        for pattern, template in _PATTERNS:
            m = re.match(pattern, path.name)
            if not m:
                continue
            name = template.format(**m.groupdict())
            if name in series:  # first file wins (binance before bybit for spot when both exist)
                break
            if name.startswith(("perp:", "spot:", "dex:")):
                tcol = "timestamp"
                series[name] = load_klines(path, name, time_col=tcol)
            elif name.startswith("funding:"):
                series[name] = load_funding(path, name)
            elif name.startswith("aave:"):
                series[name] = load_aave_rates(path, name)
            elif name == "oracle:ETH/USD":
                series[name] = load_oracle(path, name, "price")
            elif name.startswith("lst:"):
                series[name] = load_oracle(path, name, "rate")
            elif name == "gas":
                series[name] = load_gas(path, name)
            break
    if not series:
        raise MarketDataError(f"no recognised market data files in {d}")
    for name, other in GAP_FILLS.items():
        if name in series and other in series:
            series[name] = fill_gaps(series[name], series[other])
    al = dict(REAL_DATA_ALIASES)
    al.update(aliases or {})
    return DataProvider(series, aliases={k: v for k, v in al.items() if k not in series}, name=str(d))
