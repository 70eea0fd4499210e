"""Size-dependent slippage by notional bucket (pure).

A model is an ordered tuple of ``(max_notional, bps)`` buckets; an order of notional ``N`` (quote
units at the reference price) pays the ``bps`` of the first bucket with ``N <= max_notional``
(``None`` = unbounded; beyond the last cap the last bucket applies). A buy fills at
``ref x (1 + bps / 10^4)``, a sell at ``ref x (1 - bps / 10^4)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

_BPS = Decimal(10_000)


@dataclass(frozen=True, slots=True)
class SlippageModel:
    """Buckets ``((max_notional | None, bps), ...)`` in increasing notional order."""

    buckets: tuple[tuple[Decimal | None, Decimal], ...]
    _rates: tuple[tuple[Decimal | None, Decimal], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rates", tuple((cap, bps / _BPS) for cap, bps in self.buckets))

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[Decimal | int | float | str | None]]) -> SlippageModel:
        """Build from ``[[cap | None, bps], ...]``; raises ValueError when unordered or negative."""
        out: list[tuple[Decimal | None, Decimal]] = []
        last = Decimal(-1)
        for i, row in enumerate(rows):
            if len(row) != 2:
                raise ValueError(f"bucket {i}: expected [max_notional, bps]")
            cap = None if row[0] is None else Decimal(str(row[0]))
            bps = Decimal(str(row[1]))
            if bps < 0 or bps >= _BPS:
                raise ValueError(f"bucket {i}: bps must be in [0, 10000)")
            if out and out[-1][0] is None:
                raise ValueError(f"bucket {i}: follows an unbounded bucket")
            if cap is not None and cap <= last:
                raise ValueError(f"bucket {i}: caps must increase")
            if cap is not None:
                last = cap
            out.append((cap, bps))
        if not out:
            raise ValueError("at least one slippage bucket is required")
        return cls(tuple(out))

    def bps(self, notional: Decimal) -> Decimal:
        """Slippage in bps for an order of ``notional``."""
        for cap, bps in self.buckets:
            if cap is None or notional <= cap:
                return bps
        return self.buckets[-1][1]

    def rate(self, notional: Decimal) -> Decimal:
        """Slippage as a fraction of the reference price (``bps / 10^4``)."""
        for cap, rate in self._rates:
            if cap is None or notional <= cap:
                return rate
        return self._rates[-1][1]


def fill_price(reference: Decimal, rate: Decimal, buy: bool) -> Decimal:
    """Price after slippage: above the reference for a buy, below for a sell."""
    return reference + reference * rate if buy else reference - reference * rate
