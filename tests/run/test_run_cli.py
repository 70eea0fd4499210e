"""``basis run`` on the command line: an exposure left unhedged is logged, kept in the state and makes the exit
status 4; a pre-flight failure lists every problem and exits 1 with nothing sent; SIGTERM finishes the step in
flight, saves the state and prints it (exit 0), and the same command resumes."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from basis_core.data.synthetic import synthetic_market
from basis_core.testing.replay import write_market_csv

START = "2025-01-01T00:00:00Z"
LEAKY = '''
from basis_core.backtest.strategies import Strategy


class Leaky(Strategy):
    """Buys spot, then finds it cannot hedge: reports the exposure."""

    def start(self, manager, ts):
        manager.execute(ts, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy",
                             "amount": "0.5"})
        self.report_unhedged(ts, "0.5 ETH long on binance without its short")
'''


@pytest.fixture(scope="module")
def path_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    syn = synthetic_market(hours=48, start=START, seed=3)
    return write_market_csv(syn, tmp_path_factory.mktemp("m") / "m.csv",
                            ["spot:ETH/USDT", "perp:binance:ETH/USDT:USDT", "funding:binance:ETH/USDT:USDT"])


def _cli(*args: str) -> tuple[int, str]:
    from basis_core.cli import _register, app

    if not any(c.name == "run" for c in app.registered_commands):
        _register()
    r = CliRunner(env={"COLUMNS": "160", "NO_COLOR": "1"}).invoke(app, list(args))
    return r.exit_code, r.output


def test_an_unhedged_exposure_is_logged_saved_and_exits_4(path_file: Path, tmp_path: Path) -> None:
    (tmp_path / "leaky.py").write_text(LEAKY)
    (tmp_path / "sc.json").write_text(json.dumps({
        "name": "leaky", "period": {"start": START, "step": "1h"}, "venues": ["binance"],
        "initial_balances": {"binance:spot:USDT": 5000}, "strategies": [{"name": "leaky.py:Leaky"}]}))
    code, out = _cli("run", str(tmp_path / "sc.json"), "--mode", "paper", "--state", str(tmp_path / "st"),
                     "--data", str(path_file), "--start", START, "--steps", "1")
    assert code == 4, out
    assert "UNHEDGED" in out and "0.5 ETH long on binance without its short" in out
    state = json.loads((tmp_path / "st" / "state.json").read_text())
    assert len(state["unhedged"]) == 1 and "Leaky" in state["unhedged"][0]


def test_preflight_failure_lists_every_problem_and_exits_1(path_file: Path, tmp_path: Path) -> None:
    (tmp_path / "sc.json").write_text(json.dumps({
        "name": "poor", "period": {"start": START, "step": "1h"}, "venues": ["binance"],
        "initial_balances": {"binance:spot:USDT": 10},
        "strategies": [{"name": "cash_and_carry", "params": {
            "legs": [{"spot_venue": "binance", "perp_venue": "binance"},
                     {"spot_venue": "binance", "perp_venue": "binance", "spot_symbol": "SOL/USDT",
                      "perp_symbol": "SOL/USDT:USDT"}], "capital": 1000}}]}))
    code, out = _cli("run", str(tmp_path / "sc.json"), "--mode", "paper", "--state", str(tmp_path / "st"),
                     "--data", str(path_file), "--start", START, "--steps", "1")
    assert code == 1, out
    assert "pre-flight failed, 5 problem(s)" in out and "binance:spot:USDT is 10, 2000 needed" in out
    assert not (tmp_path / "st" / "instructions.jsonl").read_text()  # nothing was sent


def test_sigterm_finishes_the_step_saves_and_prints_the_state_then_resumes(path_file: Path, tmp_path: Path) -> None:
    state = tmp_path / "st"
    cmd = [sys.executable, "-c", "from basis_core.cli import main; main()", "run", "cash_and_carry", "--mode",
           "paper", "--state", str(state), "--data", str(path_file), "--start", START, "--speed", "3600", "--json",
           "--max-age", "none"]  # not this test's subject: at 3,600x a loaded machine's lag of 17 ms is a minute
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:  # until the first step is saved
            f = state / "state.json"
            if f.exists() and json.loads(f.read_text()).get("steps", 0) >= 1:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()[-2000:]
    result = json.loads(out)
    assert result["status"] == "stopped" and result["steps"] >= 1
    assert float(result["positions"]["binance:spot:ETH"]) > 0
    saved = json.loads((state / "state.json").read_text())
    assert saved["status"] == "stopped" and saved["in_flight"] is None and saved["steps"] == result["steps"]
    code, again = _cli("run", "cash_and_carry", "--mode", "paper", "--state", str(state), "--data", str(path_file),
                       "--start", "2025-01-01T12:00:00Z", "--steps", "1", "--json")
    assert code == 0, again
    resumed = json.loads(again.strip().splitlines()[-1])
    assert resumed["resumed"] is True and resumed["steps"] == result["steps"] + 1
    assert resumed["positions"]["binance:spot:ETH"] == result["positions"]["binance:spot:ETH"]  # not bought again
