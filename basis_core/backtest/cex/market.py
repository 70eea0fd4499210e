"""``Market``: a listed symbol with everything the per-order path needs precomputed (instrument keys,
fee rates, slippage model, margin tiers), built once per venue from a :class:`CexSpec`.

Shared by the backtest simulator and a live backend: validation (:mod:`.validation`) and delta
building (:mod:`.fills`) take a ``Market``, so both modes check and account for orders the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from basis_core.backtest.cex.fees import FeeRates
from basis_core.backtest.cex.impact import ImpactModel
from basis_core.backtest.cex.margin import MarginTier
from basis_core.backtest.cex.slippage import SlippageModel
from basis_core.backtest.cex.spec import CexSpec, SymbolSpec
from basis_core.data.prices import STABLECOINS


class Market:
    """One listed symbol of one venue (plain slots object; treat as read-only).

    ``base_key`` / ``quote_key``: spot balance keys; ``perp_key``: the signed position key;
    ``margin_key``: the perp's margin wallet; ``fee_rates``: maker / taker of the market type;
    ``fee_in_received``: spot fees are charged in the received asset (else in the quote / settle asset);
    ``slippage``: the bucket model; ``impact``: the square-root model (None: buckets only).
    """

    __slots__ = (
        "base", "base_key", "default_leverage", "fee_in_received", "fee_rates", "impact", "is_perp", "margin_key",
        "perp_key", "price_series", "quote", "quote_key", "settle", "slippage", "spec", "symbol", "tiers",
        "venue",
    )

    def __init__(self, spec: CexSpec, sym: SymbolSpec) -> None:
        v = spec.venue
        self.venue = v
        self.spec = sym
        self.symbol = sym.symbol
        self.base = sym.base
        self.quote = sym.quote
        self.is_perp = sym.market == "perp"
        self.base_key = f"{v}:{spec.spot_kind}:{sym.base}"
        self.quote_key = f"{v}:{spec.spot_kind}:{sym.quote}"
        self.settle: str | None = sym.settle
        self.perp_key = f"{v}:perp:{sym.symbol}" if self.is_perp else ""
        self.margin_key = f"{v}:{spec.margin_kind}:{self.settle}" if self.is_perp else ""
        self.fee_rates: FeeRates = spec.fees.perp if self.is_perp else spec.fees.spot
        self.fee_in_received = (not self.is_perp) and spec.fees.spot_fee_asset == "received"
        self.slippage: SlippageModel = spec.slippage_for(sym)
        self.impact: ImpactModel | None = spec.impact
        self.tiers: tuple[MarginTier, ...] = sym.tiers
        self.default_leverage: Decimal = spec.leverage_for(sym) if self.is_perp else Decimal(1)
        self.price_series = ""  # resolved by the simulator

    def __repr__(self) -> str:
        return f"Market({self.venue}:{self.symbol})"


def build_markets(spec: CexSpec) -> dict[str, Market]:
    """Symbol -> :class:`Market` for every listed symbol (spot and perp symbols never collide)."""
    return {s.symbol: Market(spec, s) for s in spec.symbols}


def trade_notional(markets: Mapping[str, Market], ins: Any, price: Callable[[Market], Decimal]) -> Decimal | None:
    """The quote-unit notional of a spot / perp trade (its limit price, else ``price(market)``) or the amount of a
    stablecoin transfer; None for an unlisted symbol, another asset, or another operation (``estimate_notional`` of
    the simulator and the live backend)."""
    op = ins.operation
    if op in ("spot_trade", "perp_trade"):
        m = markets.get(ins.symbol)
        if m is None:
            return None
        px = ins.price if ins.price is not None else price(m)
        return ins.amount * px  # type: ignore[no-any-return]
    if op == "transfer":
        return ins.amount if ins.asset in STABLECOINS else None  # type: ignore[no-any-return]
    return None
