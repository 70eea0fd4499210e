"""Reproduce the README's risk-corridor proof and its charts.

Runs ``examples/corridor_staked_basis.py`` with and without the corridor through a synthetic 30 % ETH crash and,
when ``../shared/data`` is present, through the real early-August 2024 sell-off; prints the figures as JSON and
writes ``docs/img/corridor_synthetic.png`` / ``docs/img/corridor_aug2024.png`` (matplotlib).

    python examples/corridor_proof.py [--data ../shared/data] [--out docs/img]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from corridor_staked_basis import CorridorStakedBasis  # noqa: E402

from basis_core.backtest.runner import BacktestResult, run  # noqa: E402
from basis_core.data.synthetic import SyntheticSpec, synthetic_market  # noqa: E402
from basis_core.risk.scenarios import eth_crash  # noqa: E402

BALANCES = {"ethereum:wallet:ETH": "100", "binance:futures:USDT": "30000"}


def scenario(start: str, end: str) -> dict[str, Any]:
    return {"name": "corridor-proof", "period": {"start": start, "end": end, "step": "1h"},
            "venues": ["binance", "aave", "lido"], "initial_balances": BALANCES}


def pair(market: Any, start: str, end: str) -> dict[bool, BacktestResult]:
    return {use: run(scenario(start, end), data_provider=market,
                     strategies=[CorridorStakedBasis({"use_corridor": use})], corridor=True) for use in (True, False)}


def figures(runs: dict[bool, BacktestResult]) -> dict[str, Any]:
    out = {}
    for use, r in runs.items():
        ex = r.executions
        liq = ex[ex["operation"] == "liquidation"]
        down = 1 - r.risk["corridor:eth_down"].dropna()
        out["with corridor" if use else "without"] = {
            "pnl_usd": round(float(r.end_equity - r.start_equity), 2),
            "liquidation_usd": round(float(r.totals["liquidation"]), 2),
            "liquidated_at": [t.isoformat() for t in liq["timestamp"]],
            "narrowest_drop_to_liquidation": round(float(down.min()), 4),
            "notes": [n.split(": ", 1)[1] for n in r.summary["notes"]][:3]}
    return out


def chart(runs: dict[bool, BacktestResult], title: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, ax2) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, height_ratios=[3, 2])
    warned, blind = runs[True], runs[False]
    price = warned.risk["corridor:eth_price"].dropna()
    ax.plot(price.index, price.values, color="black", label="ETH (Aave oracle)")
    for r, colour, label in ((warned, "tab:green", "liquidation price, with corridor"),
                             (blind, "tab:red", "liquidation price, without")):
        liq_px = r.risk["corridor:eth_down_price"].dropna()
        ax.plot(liq_px.index, liq_px.values, color=colour, drawstyle="steps-post", label=label)
    ex = warned.executions
    for t in ex[(ex["operation"] == "move")]["timestamp"].iloc[1:]:
        ax.axvline(t, color="tab:green", linestyle=":", linewidth=1)
    for t in blind.executions.query("operation == 'liquidation'")["timestamp"]:
        ax.axvline(t, color="tab:red", linestyle="--", linewidth=1)
    ax.set_ylabel("USD")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    for r, colour, label in ((warned, "tab:green", "with corridor"), (blind, "tab:red", "without")):
        ax2.plot(r.equity.index, r.equity["equity"] - float(r.start_equity), color=colour, label=label)
    ax2.set_ylabel("PnL (USD)")
    ax2.legend(loc="lower left", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", type=Path, default=HERE.parent.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, default=HERE.parent / "docs" / "img")
    args = ap.parse_args()
    report: dict[str, Any] = {}
    base = synthetic_market(SyntheticSpec(start="2025-01-01T00:00:00Z", hours=24 * 5))
    runs = pair(eth_crash(base, "2025-01-02T12:00:00Z", "0.3", hours=24), "2025-01-02T00:00:00Z",
                "2025-01-04T12:00:00Z")
    report["synthetic: ETH -30% over 24 h"] = figures(runs)
    chart(runs, "Synthetic: ETH -30 % over 24 h", args.out / "corridor_synthetic.png")
    if args.data.is_dir():
        from basis_core.data.loaders import load_data_dir

        runs = pair(load_data_dir(args.data), "2024-08-01T00:00:00Z", "2024-08-09T00:00:00Z")
        report["real: 1-9 August 2024"] = figures(runs)
        chart(runs, "Real data: the early-August 2024 sell-off", args.out / "corridor_aug2024.png")
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
