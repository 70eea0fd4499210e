"""``basis backtest`` / ``basis execute`` / ``basis scenario validate`` end to end in subprocesses."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from basis_core.backtest.runner import COMPONENTS

BASIS = [sys.executable, "-c", "from basis_core.cli import main; main()"]


def basis(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    """The real console entry point in a subprocess."""
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1"}
    return subprocess.run([*BASIS, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300)


class _Result:
    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr


def basis_inproc(*args: str) -> _Result:
    """The same app in-process (fast); stdout and stderr separate."""
    from typer.testing import CliRunner

    from basis_core.cli import _register, app

    _register_once(_register)
    r = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"}).invoke(app, list(args))
    return _Result(r.exit_code, r.stdout, r.stderr)


_done: list[bool] = []


def _register_once(register: object) -> None:
    if not _done:
        register()  # type: ignore[operator]
        _done.append(True)


def test_default_backtest_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "report"
    p = basis("backtest", "--out", str(out), "--json", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    summary = json.loads(p.stdout)
    for name in ("summary.json", "history.parquet", "executions.parquet", "equity.png", "positions.png"):
        assert (out / name).is_file() and (out / name).stat().st_size > 0, name
    on_disk = json.loads((out / "summary.json").read_text())
    assert on_disk["end_equity_exact"] == summary["end_equity_exact"]
    assert summary["scenario"] == "default" and summary["steps"] == 365 * 24 + 1
    # the components add up exactly to the equity change
    exact = {c: Decimal(v) for c, v in summary["components_exact"].items()}
    assert set(exact) == set(COMPONENTS)
    change = Decimal(summary["end_equity_exact"]) - Decimal(summary["start_equity_exact"])
    assert sum(exact.values(), Decimal(0)) == change
    hist = pd.read_parquet(out / "history.parquet")
    assert len(hist) == summary["steps"]
    assert hist["equity"].iloc[-1] == pytest.approx(summary["end_equity"])
    assert summary["return"] == pytest.approx(summary["end_equity"] / summary["start_equity"] - 1)
    assert (out / "equity.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_table_output_and_csv(tmp_path: Path) -> None:
    sc = tmp_path / "short.yaml"
    sc.write_text("name: short\nperiod: {start: 2025-01-01T00:00:00Z, end: 2025-01-02T00:00:00Z, step: 1h}\n"
                  "initial_balances: {paper:spot:USDT: 10000}\n"
                  "schedule:\n  - at: 2025-01-01T02:00:00Z\n"
                  "    instruction: {venue: paper, operation: spot_trade, symbol: ETH/USDT, side: buy, amount: 1}\n")
    p = basis_inproc("backtest", str(sc), "--out", str(tmp_path / "o"), "--format", "csv")
    assert p.returncode == 0, p.stderr
    assert "end equity (USD)" in p.stdout and "trading fees (USD)" in p.stdout
    hist = pd.read_csv(tmp_path / "o" / "history.csv")
    assert len(hist) == 25
    ex = pd.read_csv(tmp_path / "o" / "executions.csv")
    assert list(ex["operation"]) == ["spot_trade"]


def test_malformed_scenario_gets_a_clear_error_and_writes_nothing(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nperiod:\n  start: 2025-01-01T00:00:00Z\n  step: sometimes\n")
    out = tmp_path / "never"
    p = basis("backtest", str(bad), "--out", str(out), cwd=tmp_path)
    assert p.returncode == 2
    assert f"{bad}:4: period.step:" in p.stderr
    assert not out.exists()
    assert sorted(x.name for x in tmp_path.iterdir()) == ["bad.yaml"]


def test_scenario_validate(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("name: ok\nstrategies:\n  - name: cash_and_carry\n    params: {capital: 1000}\n")
    p = basis_inproc("scenario", "validate", str(good))
    assert p.returncode == 0, p.stderr
    assert "ok:" in p.stdout and "cash_and_carry" in p.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: ok\nstrategies:\n  - name: cash_and_carry\n    params:\n      capital: -5\n")
    p = basis_inproc("scenario", "validate", str(bad))
    assert p.returncode == 1
    assert f"{bad}:5: strategies[0].params.capital:" in p.stderr


def test_a_venue_config_typo_is_refused_before_the_run(tmp_path: Path) -> None:
    """``scenario validate`` and ``backtest`` both name the unknown setting (and the closest known one) before any
    data is read; the backtest exits 2 (a malformed scenario) and writes nothing."""
    sc = tmp_path / "typo.yaml"
    sc.write_text("name: typo\nvenue_config:\n  binance: {slipage: {model: bucket}}\n")
    p = basis_inproc("scenario", "validate", str(sc))
    assert p.returncode == 1
    assert "venue_config.binance.slipage: unknown setting (did you mean 'slippage'?)" in p.stderr
    out = tmp_path / "never"
    p = basis_inproc("backtest", str(sc), "--out", str(out))
    assert p.returncode == 2
    assert "venue_config.binance.slipage: unknown setting" in p.stderr
    assert not out.exists()


def test_execute_prints_deltas_as_json() -> None:
    instr = json.dumps({"venue": "paper", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy",
                        "amount": "0.5"})
    p = basis_inproc("execute", "--mode", "backtest", "--at", "2025-02-01T00:00:00Z", "--balance",
              "paper:spot:USDT=5000", instr)
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    price = Decimal(d["fill_price"])
    assert d["positions"] == {"paper:spot:ETH": "0.5",
                              "paper:spot:USDT": str(-(price * Decimal("0.5")) * Decimal("1.001"))}
    assert d["timestamp"] == "2025-02-01T00:00:00+00:00"
    # an impossible one: a typed error naming the field, exit 1
    p = basis_inproc("execute", "--at", "2025-02-01T00:00:00Z", instr)
    assert p.returncode == 1
    err = json.loads(p.stderr)
    assert err["error"] == "InsufficientFundsError" and err["field"] == "amount"
