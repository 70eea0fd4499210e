"""USD prices of tokens from a snapshot (for valuation, risk limits and gas), by documented rules:
stablecoins (USDT, USDC, DAI, USD) = 1; ETH / WETH / stETH / eETH (rebasing 1:1 ETH claims) = ``oracle:ETH/USD``
(or ``spot:ETH/USDT``);
wstETH / weETH = ETH x ``lst:<token>.rate``; BTC / WBTC = ``oracle:BTC/USD`` (or ``spot:BTC/USDT``)."""

from __future__ import annotations

from decimal import Decimal

from basis_core.data.provider import MarketSnapshot
from basis_core.errors import MarketDataError

STABLECOINS = frozenset({"USDT", "USDC", "DAI", "USD", "USDS", "FDUSD"})
#: rebasing 1:1 claims on ETH, priced at the ETH price
ETH_LIKE = frozenset({"ETH", "WETH", "stETH", "eETH"})
_ONE = Decimal(1)


def usd_price(snapshot: MarketSnapshot, token: str) -> Decimal:
    """USD price of ``token`` as of the snapshot; MarketDataError if it cannot be priced."""
    if token in STABLECOINS:
        return _ONE
    if token in ETH_LIKE:
        if snapshot.has("oracle:ETH/USD"):
            return snapshot.get("oracle:ETH/USD", "price")
        return snapshot.get("spot:ETH/USDT")
    if token in ("wstETH", "weETH"):
        return usd_price(snapshot, "ETH") * snapshot.get(f"lst:{token}", "rate")
    if token in ("BTC", "WBTC"):
        if snapshot.has("oracle:BTC/USD"):
            return snapshot.get("oracle:BTC/USD", "price")
        return snapshot.get("spot:BTC/USDT")
    if snapshot.has(f"spot:{token}/USDT"):
        return snapshot.get(f"spot:{token}/USDT")
    raise MarketDataError(f"no USD price for token {token!r}")
