"""User strategies: a documented base with lookback history and instrument rules, loaded from a file, a
module or an installed entry point, from a scenario or ``basis backtest --strategy``; the examples folder
(strategy, scenario, notebook) runs as shipped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from basis_core.backtest.runner import _scenario_source, run
from basis_core.backtest.scenario import load_scenario
from basis_core.backtest.strategies import Strategy
from basis_core.backtest.strategies.loader import ENTRY_POINT_GROUP, load_strategy
from basis_core.data.synthetic import synthetic_market
from basis_core.errors import ScenarioError, StrategyLoadError

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
MARKET = synthetic_market(seed=11, hours=24 * 10 + 1)
BASIS = [sys.executable, "-c", "from basis_core.cli import main; main()"]


def _installed(name: str) -> bool:
    from importlib.metadata import entry_points

    return any(ep.name == name for ep in entry_points(group="basis_core.venues"))


needs_binance = pytest.mark.skipif(not _installed("binance"), reason="basis-venue-binance is not installed")

RECORDER = textwrap.dedent('''
    from decimal import Decimal
    from basis_core.backtest.strategies import Strategy, StrategyParams

    class Recorder(Strategy):
        """Records the lookback window it sees at every step (to check there is no look-ahead)."""

        class Params(StrategyParams):
            n: int = 5

        def __init__(self, params=None):
            super().__init__(params)
            self.seen = []

        def step(self, manager, ts):
            w = self.history(manager, ts, "spot:ETH/USDT", n=self.params.n)
            self.seen.append((ts.value, list(w.times), list(w.column("close"))))

    class NotAStrategy:
        pass
''')


def _scenario(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": "user", "period": {"start": "2025-01-02T00:00:00Z", "end": "2025-01-03T00:00:00Z", "step": "1h"},
            "strategies": [{"name": name, **extra}], "venues": []}


# -- loading ---------------------------------------------------------------------------------------------------
def test_a_strategy_from_a_file_sees_only_the_past(tmp_path: Path) -> None:
    f = tmp_path / "mine.py"
    f.write_text(RECORDER)
    cls = load_strategy(f"{f}:Recorder")
    assert issubclass(cls, Strategy) and cls is load_strategy(f"{f}:Recorder")  # one module per file
    strat = cls({"n": 3})
    r = run(_scenario(f"{f}:Recorder"), data_provider=MARKET, strategies=[strat])
    assert [s.name for s in r.strategies] == ["Recorder", "Recorder"]  # the scenario's and the host's
    series = MARKET.series("spot:ETH/USDT")
    for ts_ns, times, closes in strat.seen:
        assert len(times) == 3 and max(times) <= ts_ns  # never a row from the future
        i = series.index_at(ts_ns)
        assert times == series.times[i - 2:i + 1]
        assert closes == [series.value("close", t) for t in times]


def test_a_scenario_names_a_file_relative_to_itself_and_a_module(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "strats").mkdir()
    (tmp_path / "strats" / "mine.py").write_text(RECORDER)
    sc = tmp_path / "sc.yaml"
    sc.write_text("name: rel\nstrategies:\n  - name: strats/mine.py:Recorder\n    params: {n: 2}\n")
    assert load_scenario(sc).strategies[0].params == {"n": 2}
    monkeypatch.syspath_prepend(str(tmp_path / "strats"))
    assert load_strategy("mine:Recorder").__name__ == "Recorder"


def test_an_installed_entry_point_provides_a_strategy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "my_strats.py").write_text(RECORDER)
    dist = tmp_path / "my_strats-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: my-strats\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\nrecorder = my_strats:Recorder\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_strategy("recorder").__name__ == "Recorder"
    r = run(_scenario("recorder", params={"n": 4}), data_provider=MARKET)
    assert r.strategies[0].active


@pytest.mark.parametrize(("ref", "words"), [
    ("nope", "unknown strategy 'nope'"),
    ("missing/file.py:X", "no such file"),
    ("no_such_module_xyz:X", "cannot import module"),
    ("{file}:Missing", "has no attribute 'Missing'"),
    ("{file}:NotAStrategy", "is not a subclass"),
])
def test_bad_strategy_references_are_typed_errors(tmp_path: Path, ref: str, words: str) -> None:
    f = tmp_path / "mine.py"
    f.write_text(RECORDER)
    with pytest.raises(StrategyLoadError, match=words):
        load_strategy(ref.format(file=f))
    sc = tmp_path / "sc.yaml"
    sc.write_text(f"name: bad\nstrategies:\n  - name: \"{ref.format(file=f)}\"\n")
    with pytest.raises(ScenarioError) as e:
        load_scenario(sc)
    assert e.value.line == 3 and e.value.field == "strategies[0].name"  # type: ignore[attr-defined]


def test_a_strategy_file_that_fails_to_import_says_why(tmp_path: Path) -> None:
    f = tmp_path / "broken.py"
    f.write_text("raise RuntimeError('half-written')\n")
    with pytest.raises(StrategyLoadError, match="RuntimeError: half-written"):
        load_strategy(f"{f}:X")


# -- the base class helpers ---------------------------------------------------------------------------------------
@needs_binance
def test_instrument_rules_round_orders_the_venue_accepts() -> None:
    from basis_core.backtest.runner import make_manager

    m = make_manager(load_scenario({"name": "r", "venues": ["binance"]}), MARKET)
    rules = Strategy.rules(m, "binance", "ETH/USDT")
    assert rules is not None and rules.step > 0 and rules.min_notional > 0
    assert Strategy.rules(m, "binance", "NOPE/USDT") is None
    amt = Strategy.conform_amount(rules, Decimal("1.23456789"), Decimal(3000))
    assert amt <= Decimal("1.23456789") and (amt / rules.step) == (amt / rules.step).to_integral_value()
    tiny = rules.min_notional / Decimal(3000) / 2
    assert Strategy.conform_amount(rules, tiny, Decimal(3000)) == 0  # below the minimum notional


# -- the examples ----------------------------------------------------------------------------------------------
@needs_binance
def test_the_example_notebook_runs_as_plain_python(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    nb = json.loads((EXAMPLES / "buy_the_dip.ipynb").read_text())
    code = "\n\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    monkeypatch.chdir(EXAMPLES)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # its report goes to a fresh temp dir: this test's
    ns: dict[str, Any] = {}
    exec(compile(code, "buy_the_dip.ipynb", "exec"), ns)
    result = ns["result"]
    assert result.summary["executions"] > 0 and result.summary["failures"]["count"] == 0
    assert set(ns["trades"]["strategy"].dropna()) == {"buy_the_dip"}
    assert ns["files"]["summary"].exists()


@needs_binance
def test_cli_runs_a_strategy_file_with_params_and_balances(tmp_path: Path) -> None:
    sc = tmp_path / "short.yaml"
    sc.write_text("name: short\nperiod: {start: 2025-01-01T00:00:00Z, end: 2025-01-20T00:00:00Z, step: 1h}\n"
                  "venues: [binance]\n")
    p = subprocess.run([*BASIS, "backtest", str(sc), "--strategy", f"{EXAMPLES / 'buy_the_dip.py'}:BuyTheDip",
                        "--param", "drop=0.02", "--param", "lookback=12", "--balance", "binance:spot:USDT=20000",
                        "--out", str(tmp_path / "o"), "--json", "--no-html"],
                       capture_output=True, text=True, timeout=300, check=False)
    assert p.returncode == 0, p.stderr
    s = json.loads(p.stdout)
    assert [x["name"] for x in s["strategies"]] == ["buy_the_dip"] and s["executions"] > 0
    assert "steps/s" in p.stderr and "ETA" in p.stderr  # progress lines: stderr is not a terminal
    bad = subprocess.run([*BASIS, "backtest", str(sc), "--strategy", "buy_the_dip.py:BuyTheDip", "--param",
                          "nonsense=1", "--out", str(tmp_path / "o2")], capture_output=True, text=True, timeout=300,
                         cwd=EXAMPLES, check=False)
    assert bad.returncode == 2 and "nonsense" in bad.stderr and not (tmp_path / "o2").exists()


def test_run_accepts_a_bundled_scenario_name() -> None:
    from basis_core.backtest.scenario import bundled_scenarios

    assert _scenario_source("default") == bundled_scenarios()["default"]
    with pytest.raises(ScenarioError, match=r"bundled: .*default"):
        _scenario_source("no-such-scenario")


def test_interrupting_a_run_keeps_the_steps_done() -> None:
    calls: list[int] = []

    def stop_at_the_third_report(done: int, total: int) -> None:
        calls.append(done)
        if len(calls) == 3:
            raise KeyboardInterrupt

    sc = {"name": "long", "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-10T00:00:00Z", "step": "1min"},
          "venues": []}
    r = run(sc, data_provider=MARKET, progress=stop_at_the_third_report)
    assert r.interrupted and r.summary["interrupted"] and len(r.equity) == calls[-1]
    assert any("interrupted" in n for n in r.summary["notes"])


@needs_binance
def test_ctrl_c_writes_a_partial_report_and_exits_130(tmp_path: Path) -> None:
    out = tmp_path / "o"
    # SIGINT back to its default in the child: a test run started in the background of a non-interactive shell
    # inherits SIGINT ignored, and Python then installs no KeyboardInterrupt handler (Ctrl-C could never arrive)
    p = subprocess.Popen([*BASIS, "backtest", "default", "--out", str(out), "--progress-every", "0.1",
                          "--no-html"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert p.stderr is not None
    for line in p.stderr:  # the first progress line: the run is under way
        if "steps/s" in line:
            break
    os.kill(p.pid, signal.SIGINT)
    _, err = p.communicate(timeout=300)
    assert p.returncode == 130, err
    summary = json.loads((out / "summary.json").read_text())
    assert summary["interrupted"] and summary["steps"] < 8761
