"""Shocks move the tokens venues declare (``token_prices``) with their numeraire, times their ``lst`` factor when
they have a rate series: an LST a third-party venue brings is shocked like the built-in ones."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_venue_paper import PaperVenue

from basis_core import ExecutionInterfaceManager, hookimpl
from basis_core.data import synthetic_market
from basis_core.data.prices import TokenPrice
from basis_core.risk import LegRisk, Shock

D = Decimal
OS = {"osETH": TokenPrice("ETH", "lst:osETH"), "sosETH": TokenPrice("osETH"), "loopA": TokenPrice("loopB"),
      "loopB": TokenPrice("loopA")}


def test_a_declared_token_follows_its_numeraire_and_its_rate() -> None:
    shock = Shock(eth=D("0.7"), lst={"osETH": D("0.9")}, tokens=OS)
    assert shock.price_factor("osETH") == D("0.63")  # ETH x its own depeg
    assert shock.price_factor("sosETH") == D("0.63")  # a 1:1 claim on osETH
    assert shock.price_factor("loopA") == 1  # a cycle of declarations stops where it closes
    assert shock.price_factor("USDC") == 1 and shock.price_factor("WETH") == D("0.7")


def test_without_declarations_the_built_in_families_apply() -> None:
    shock = Shock(eth=D("0.7"), lst={"wstETH": D("0.9"), "osETH": D("0.9")})
    assert shock.price_factor("wstETH") == D("0.63") and shock.price_factor("stETH") == D("0.7")
    assert shock.price_factor("osETH") == 1  # undeclared and not built in: not moved
    assert Shock(eth=D("0.7"), tokens=OS) == Shock(eth=D("0.7"))  # the declarations are context, not the shock


class StakedVenue(PaperVenue):
    """A third party's venue holding 10 osETH of collateral: its health is the shocked collateral value."""

    name = "staked"

    @hookimpl
    def token_prices(self) -> dict[str, TokenPrice]:
        return {"osETH": TokenPrice("ETH", "lst:osETH")}

    @hookimpl
    def risk_state(self, timestamp: Any, instruction: Any) -> list[LegRisk]:
        factor = instruction.price_factor("osETH")
        return [LegRisk(self.name, "staked:account", "lending", D(10) * factor / D(5))]


def test_the_manager_hands_a_venue_the_declarations_in_force() -> None:
    m = ExecutionInterfaceManager({"venues": ["staked"]}, synthetic_market(hours=48), "backtest", autoload=False,
                                  plugins=[StakedVenue])
    (leg,) = m.risk_state("2025-02-01T00:00:00Z", "staked", Shock(eth=D("0.5"), lst={"osETH": D("0.8")}))
    assert leg.health == D("0.8")  # 10 x 0.5 x 0.8 / 5
    live = ExecutionInterfaceManager({"venues": ["staked"], "venue_config": {"staked": {}}}, None, "backtest",
                                     autoload=False, plugins=[StakedVenue])
    (leg,) = live.risk_state("2025-02-01T00:00:00Z", "staked", Shock(eth=D("0.5"), lst={"osETH": D("0.8")}))
    assert leg.health == D("0.8")  # no data provider: the manager's plugins' declarations
