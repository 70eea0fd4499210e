"""Calibration figures of the CEX square-root slippage model on the real candles of ``../shared/data``.

Prints one JSON object: per file, the ratio of RMS Parkinson volatility to close-to-close volatility, the
Abdi-Ranaldo spread estimate and its 95 % upper bound (bp), and the median impact (bp) of orders of 1 ETH-like
3,000 USD, 10k, 100k and 1M USD on hourly, 4-hour and daily candles. See docs/backtest.md ("Slippage").
Run: ``.venv/bin/python bench/calibrate_slippage.py [--data DIR]`` (exits 0 with a note when the data is absent).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import numpy as np

from basis_core.backtest.cex.impact_calibration import abdi_ranaldo_spread, aggregate, impact_bps, volatility_ratio
from basis_core.data.loaders import load_klines

FILES = ("binance_ETHUSDT_perp_1h_*.csv", "bybit_ETHUSDT_spot_1h_*.csv", "bybit_ETHUSDT_perp_1h_*.csv",
         "binance_BTCUSDT_1h_*.csv", "binance_BTCUSDT_perp_1h_*.csv")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    default = os.environ.get("BASIS_SHARED_DATA") or Path(__file__).resolve().parents[1].parent / "shared" / "data"
    ap.add_argument("--data", default=str(default))
    data = Path(ap.parse_args().data)
    out: dict[str, object] = {"benchmark": "slippage_calibration", "data": str(data)}
    if not data.is_dir():
        out["note"] = "no real data directory; nothing measured"
        print(json.dumps(out, indent=2))
        return
    for pattern in FILES:
        found = sorted(data.glob(pattern))
        if not found:
            continue
        s = load_klines(found[0], "candles")
        if "quote_volume" not in s.columns:
            continue
        h, lo, c, v = (np.array([float(x) for x in s.columns[k]])[1:] for k in ("high", "low", "close",
                                                                                  "quote_volume"))
        est, upper = abdi_ranaldo_spread(h, lo, c)
        row: dict[str, object] = {"candles": len(h), "volatility_ratio": round(volatility_ratio(h, lo, c), 4),
                                  "abdi_ranaldo_spread_bp": round(est * 1e4, 3),
                                  "abdi_ranaldo_upper95_bp": round(upper * 1e4, 3),
                                  "median_quote_volume": float(np.median(v))}
        for k, label in ((1, "1h"), (4, "4h"), (24, "1d")):
            hk, lk, _ck, vk = aggregate(h, lo, c, v, k)
            row[f"median_impact_bp_{label}"] = {str(int(n)): round(float(np.median(impact_bps(hk, lk, vk, n))), 3)
                                                for n in (3e3, 1e4, 1e5, 1e6)}
        out[found[0].name] = row
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
