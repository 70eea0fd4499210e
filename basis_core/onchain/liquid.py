"""``LiquidStaking``: what a liquid-staking venue's backtest and live backends and its plugin class share: the
rebasing token ETH stakes into, the wrapped (non-rebasing) token, the withdrawal queue's default delay, and the
instruction rules. Light to import (pandas only when a delay is parsed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from basis_core.data.prices import TokenPrice
from basis_core.errors import ConfigError, InstructionError

__all__ = ["LiquidStaking", "UnstakeActions", "parse_delay"]


def parse_delay(venue: str, value: Any, option: str = "withdrawal_delay") -> int:
    """A duration option (a pandas Timedelta string such as ``"3D"``, or seconds) in ns; ConfigError naming
    ``venue_config.<venue>.<option>`` when it is not a duration or negative."""
    import pandas as pd

    try:
        td = pd.Timedelta(seconds=float(value)) if isinstance(value, int | float) else pd.Timedelta(str(value))
    except (ValueError, TypeError):
        raise ConfigError(f"venue_config.{venue}.{option}: not a duration: {value!r}") from None
    if td < pd.Timedelta(0):
        raise ConfigError(f"venue_config.{venue}.{option}: must not be negative")
    return int(td.value)


@dataclass(frozen=True)
class LiquidStaking:
    """The instruction rules of a liquid-staking venue (shared by its backtest and live backends): ETH (or WETH)
    stakes into the ``rebasing`` token (or straight into ``wrapped``), ``rebasing`` wraps into ``wrapped`` and back,
    withdrawals are requested in either. Each check raises an InstructionError naming the field, before anything
    is simulated or sent."""

    venue: str
    rebasing: str
    wrapped: str
    #: the default of the ``withdrawal_delay`` option: how long after a request the queue finalises it
    withdrawal_delay: str = "7D"

    @property
    def rate_series(self) -> str:
        """The series of the wrapped token's exchange rate (``rate``: ETH per wrapped token)."""
        return f"lst:{self.wrapped}"

    def token_prices(self) -> dict[str, TokenPrice]:
        """The ``token_prices`` declaration: the rebasing token 1:1 ETH, the wrapped one at its rate."""
        return {self.rebasing: TokenPrice("ETH"), self.wrapped: TokenPrice("ETH", self.rate_series)}

    def delay_ns(self, options: Mapping[str, Any]) -> int:
        """The ``withdrawal_delay`` option in ns (ConfigError naming it when invalid)."""
        return parse_delay(self.venue, options.get("withdrawal_delay", self.withdrawal_delay))

    def check_stake(self, ins: Any) -> bool:
        """Validate a ``Stake``; True when it wraps (``asset`` is the rebasing token)."""
        asset, receive, r, w = ins.asset, ins.receive, self.rebasing, self.wrapped
        if asset not in ("ETH", "WETH", r):
            raise InstructionError("asset", f"{self.venue} stakes ETH or WETH (or wraps {r}), not {asset!r}")
        if receive not in (None, r, w):
            raise InstructionError("receive", f"{self.venue} gives {r} or {w}, not {receive!r}")
        if asset == r and receive != w:
            raise InstructionError("receive", f"staking {r} means wrapping it: give receive='{w}'")
        return bool(asset == r)

    def check_unwrap(self, ins: Any) -> None:
        if ins.asset != self.wrapped:
            raise InstructionError("asset", f"only {self.wrapped} unwraps (into {self.rebasing}), not {ins.asset!r}")

    def check_request(self, ins: Any) -> None:
        if ins.asset not in (self.rebasing, self.wrapped):
            raise InstructionError("asset", f"withdrawals are requested in {self.rebasing} or {self.wrapped}, "
                                            f"not {ins.asset!r}")


class UnstakeActions:
    """``Unstake`` by its action, for a backtest or live backend: ``_unwrap``, ``_request`` or ``_claim``."""

    def unstake_action(self, ts: Any, ins: Any) -> Any:
        if ins.action == "unwrap":
            return self._unwrap(ts, ins)
        if ins.action == "request":
            return self._request(ts, ins)
        return self._claim(ts, ins)

    def _unwrap(self, ts: Any, ins: Any) -> Any:
        raise NotImplementedError

    def _request(self, ts: Any, ins: Any) -> Any:
        raise NotImplementedError

    def _claim(self, ts: Any, ins: Any) -> Any:
        raise NotImplementedError
