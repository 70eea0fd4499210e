"""Scenario files: validation errors name the line and the field; values are read exactly."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from basis_core.backtest.scenario import default_scenario_path, load_scenario
from basis_core.errors import ScenarioError

GOOD = """\
name: demo
market: {source: synthetic, seed: 11}
period:
  start: 2025-01-01T00:00:00Z
  end: 2025-01-03
  step: 8h
initial_balances:
  paper:spot:USDT: 10000.10
  ethereum:wallet:ETH: 0.1
strategies:
  - name: cash_and_carry
    params:
      capital: 5000
      margin_fraction: 0.25
schedule:
  - at: 2025-01-02T00:00:00Z
    instruction: {venue: paper, operation: spot_trade, symbol: ETH/USDT, side: sell, amount: 0.5}
  - at: 2025-01-01T01:00:00+00:00
    instruction: {venue: paper, operation: spot_trade, symbol: ETH/USDT, side: buy, amount: 1}
"""


def _err(text: str, tmp_path: Path) -> ScenarioError:
    f = tmp_path / "bad.yaml"
    f.write_text(text)
    with pytest.raises(ScenarioError) as ei:
        load_scenario(f)
    return ei.value


def test_good_scenario_is_read_exactly(tmp_path: Path) -> None:
    f = tmp_path / "good.yaml"
    f.write_text(GOOD)
    sc = load_scenario(f)
    assert sc.name == "demo"
    assert sc.market.seed == 11
    assert sc.initial_balances["paper:spot:USDT"] == Decimal("10000.10")  # not a binary float
    assert sc.initial_balances["ethereum:wallet:ETH"] == Decimal("0.1")
    assert sc.period.step == pd.Timedelta(hours=8)
    assert sc.period.end == pd.Timestamp("2025-01-03T00:00:00Z")  # a bare date is UTC midnight
    assert sc.strategies[0].params == {"capital": 5000, "margin_fraction": Decimal("0.25")}
    # the schedule is sorted by time
    assert [s.at.isoformat() for s in sc.schedule] == ["2025-01-01T01:00:00+00:00", "2025-01-02T00:00:00+00:00"]
    assert sc.schedule[0].parsed.side == "buy"


def test_default_scenario_is_valid() -> None:
    sc = load_scenario(default_scenario_path())
    assert sc.name == "default"
    assert sc.market.source == "synthetic"
    assert sc.period.step == pd.Timedelta(hours=1)
    assert (sc.period.end - sc.period.start) == pd.Timedelta(days=365)


def test_wrong_type_names_line_and_field(tmp_path: Path) -> None:
    e = _err(GOOD.replace("step: 8h", "step: often"), tmp_path)
    assert e.line == 6  # type: ignore[attr-defined]
    assert e.field == "period.step"  # type: ignore[attr-defined]
    assert "bad.yaml:6: period.step:" in str(e)
    assert "duration" in str(e)


def test_unknown_field(tmp_path: Path) -> None:
    e = _err(GOOD.replace("  step: 8h", "  step: 8h\n  stpe: 1h"), tmp_path)
    assert (e.line, e.field) == (7, "period.stpe")  # type: ignore[attr-defined]
    assert "unknown field" in str(e)


def test_bad_balance_key_and_negative_amount(tmp_path: Path) -> None:
    e = _err(GOOD.replace("paper:spot:USDT: 10000.10", "USDT: 10000"), tmp_path)
    assert e.line == 7 and e.field == "initial_balances"  # type: ignore[attr-defined]
    assert "venue:kind:asset" in str(e)
    e = _err(GOOD.replace("0.1\n", "-0.1\n", 1), tmp_path)
    assert e.line == 9  # type: ignore[attr-defined]
    assert e.field == "initial_balances.ethereum:wallet:ETH"  # type: ignore[attr-defined]


def test_strategy_parameter_error_points_at_the_parameter(tmp_path: Path) -> None:
    e = _err(GOOD.replace("margin_fraction: 0.25", "margin_fraction: 1.5"), tmp_path)
    assert e.line == 14  # type: ignore[attr-defined]
    assert e.field == "strategies[0].params.margin_fraction"  # type: ignore[attr-defined]
    e = _err(GOOD.replace("capital: 5000", "capitol: 5000"), tmp_path)
    assert (e.line, e.field) == (13, "strategies[0].params.capitol")  # type: ignore[attr-defined]
    e = _err(GOOD.replace("name: cash_and_carry", "name: moon_shot"), tmp_path)
    assert (e.line, e.field) == (11, "strategies[0].name")  # type: ignore[attr-defined]
    assert "cash_and_carry" in str(e)  # lists the built-ins


def test_instruction_error_points_at_the_instruction(tmp_path: Path) -> None:
    e = _err(GOOD.replace("symbol: ETH/USDT, side: sell", "symbol: ETHUSDT, side: sell"), tmp_path)
    assert e.line == 17  # type: ignore[attr-defined]
    assert e.field == "schedule[0].instruction.symbol"  # type: ignore[attr-defined]
    assert "ccxt unified symbol" in str(e)
    multi = GOOD.replace("instruction: {venue: paper, operation: spot_trade, symbol: ETH/USDT, side: buy, amount: 1}",
                         "instruction:\n      venue: paper\n      operation: spot_trade\n      symbol: ETH/USDT\n"
                         "      side: buy\n      amount: -1")
    e = _err(multi, tmp_path)
    assert e.field == "schedule[1].instruction.amount"  # type: ignore[attr-defined]
    assert e.line == 24  # type: ignore[attr-defined]


def test_timestamps_need_a_timezone(tmp_path: Path) -> None:
    e = _err(GOOD.replace("start: 2025-01-01T00:00:00Z", "start: 2025-01-01T00:00:00"), tmp_path)
    assert (e.line, e.field) == (4, "period.start")  # type: ignore[attr-defined]
    assert "timezone" in str(e)
    e = _err(GOOD.replace("end: 2025-01-03", "end: 2024-12-01"), tmp_path)
    assert e.field == "period.end" and "after start" in str(e)  # type: ignore[attr-defined]


def test_yaml_syntax_error_and_duplicate_keys(tmp_path: Path) -> None:
    e = _err(GOOD.replace("  step: 8h", "  step: [8h"), tmp_path)
    assert "not valid YAML" in str(e) and e.line is not None  # type: ignore[attr-defined]
    e = _err(GOOD.replace("  step: 8h", "  step: 8h\n  step: 1h"), tmp_path)
    assert e.line == 7 and "duplicate key" in str(e)  # type: ignore[attr-defined]


def test_data_dir_is_relative_to_the_file(tmp_path: Path) -> None:
    f = tmp_path / "sub" / "real.yaml"
    f.parent.mkdir()
    f.write_text("market: {source: data_dir, data_dir: ../data}\n")
    sc = load_scenario(f)
    assert sc.market.data_dir == tmp_path / "sub" / ".." / "data"
    e = _err("market: {source: data_dir}\n", tmp_path)
    assert e.field == "market.data_dir" and e.line == 1  # type: ignore[attr-defined]


def test_dict_and_text_sources() -> None:
    sc = load_scenario({"name": "x", "strategy": {"name": "staked_basis", "params": {"eth_amount": 3}}})
    assert [s.name for s in sc.strategies] == ["staked_basis"]
    with pytest.raises(ScenarioError, match=r"scenario: strategies\[0\]\.params\.eth_amount"):
        load_scenario({"strategies": [{"name": "staked_basis", "params": {"eth_amount": -3}}]})
    with pytest.raises(ScenarioError, match=r"inline:2: period"):
        load_scenario("inline", text="name: x\nperiod: 5\n")
