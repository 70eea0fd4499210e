"""``basis status STATE_DIR`` and its Python API: what a run folder shows (positions by venue in USD, the PnL
split, risk, open orders, intents in doubt, recent failures), read-only, as text, JSON and a local web page loaded
in a real headless Chromium."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from types import ModuleType

import pytest
from typer.testing import CliRunner

from basis_core.cli import _register, app
from basis_core.errors import RunStateError
from basis_core.live.journal import ExecutionJournal, fingerprint
from basis_core.runstate import JOURNAL_FILE, RunStateStore
from basis_core.runstate.view import read_history, read_risk_history, read_status
from basis_core.runstate.web import render_tables
from basis_core.testing.browser import chromium_path, load_in_chromium

SECRET = "sk-live-9f8e7d6c5b4a39281706"
if not any(c.name == "status" for c in app.registered_commands):  # the console script registers on start
    _register()


def _digest(folder: Path) -> dict[str, str]:
    """The folder's content: each file's hash, leaving out SQLite's shared-memory index (``-shm``) and empty
    write-ahead logs (a reader of a WAL database may create both; they hold nothing)."""
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(folder.iterdir())
            if not f.name.endswith("-shm") and not (f.name.endswith("-wal") and f.stat().st_size == 0)}


@pytest.fixture(scope="module")
def folder(carry: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A stopped paper run of 24 steps with a resting order, a refused order, venue credentials in its
    configuration, and a live journal holding an intent in doubt and a rejection."""
    state = tmp_path_factory.mktemp("status")
    c = carry.CarryRun(carry.carry_scenario(24), config={
        "venue_config": {"binance": {"api_key": "key-abcdef123456", "api_secret": SECRET}}})
    seen: list[int] = []

    def act(manager: object, ts: object) -> None:
        seen.append(1)
        if len(seen) == 3:
            manager.execute(ts, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy",
                                 "amount": "0.1", "order_type": "limit", "price": "100", "client_id": "low-bid"})
            try:
                manager.execute(ts, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT",
                                     "side": "buy", "amount": "1000000"})
            except Exception:
                pass

    with RunStateStore(state) as store:
        c.begin(store, note=f"key {SECRET}")
        records = list(c.steps(store, before_record=act))
        store.stop(records[-1].timestamp, "finished")
    journal = ExecutionJournal(state / JOURNAL_FILE)
    order = {"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT", "amount": "1"}
    journal.record_intent("binance", "cid-doubt", "cid-doubt", "perp_trade", order, fingerprint(order))
    refused = journal.record_intent("binance", "cid-refused", "cid-refused", "spot_trade", order, fingerprint(order))
    journal.record_outcome(refused, "rejected", {"event": "rejected", "kind": "definitive",
                                                 "error": "binance -2010: Account has insufficient balance"})
    journal.close()
    folder_records[state] = records
    yield state


folder_records: dict[Path, list] = {}


def test_status_shows_positions_by_venue_valued_in_usd(folder: Path) -> None:
    st = read_status(folder)
    last = folder_records[folder][-1]
    assert [b.venue for b in st.venues] == ["binance"]
    book = st.venues[0]
    assert book.value_usd == st.equity == last.equity  # every position valued; together the equity
    perp = next(p for p in book.positions if p.kind == "perp")
    assert (perp.asset, perp.amount, perp.exposure_usd) == ("ETH/USDT:USDT", *last.positions[perp.key][::2])


def test_status_splits_pnl_since_start_like_the_backtest_report(folder: Path) -> None:
    st = read_status(folder)
    last = folder_records[folder][-1]
    assert st.pnl == last.pnl and st.pnl_total == st.equity - st.start_equity
    assert st.start_equity == Decimal(50000)
    assert {"price", "funding", "trading_fees", "slippage", "gas", "staking_yield", "lending_interest",
            "borrow_interest"} <= set(st.pnl)


def test_status_shows_risk_open_orders_and_failures(folder: Path) -> None:
    st = read_status(folder)
    assert 0 < st.risk["binance:margin_ratio:USDT"] < 1
    assert [(o["venue"], o["client_id"], o["price"]) for o in st.open_orders] == [("binance", "low-bid", "100")]
    by_source = {f["source"]: f for f in st.failures}
    assert "InsufficientFundsError" in by_source["history"]["error"]
    assert by_source["journal"]["client_id"] == "cid-refused" and "-2010" in by_source["journal"]["error"]
    assert [(d["client_id"], d["status"]) for d in st.in_doubt] == [("cid-doubt", "sending")]
    assert not st.running and st.stopped is not None and st.stopped["reason"] == "finished"


def test_a_run_still_writing_reads_as_running(carry: ModuleType, tmp_path: Path) -> None:
    c = carry.CarryRun(carry.carry_scenario(3))
    with RunStateStore(tmp_path) as store:
        c.begin(store)
        list(c.steps(store))
        assert read_status(tmp_path).running  # this process wrote it and has not stopped it
        store.stop(reason="interrupted")
    st = read_status(tmp_path)
    assert not st.running and st.stopped["reason"] == "interrupted" and st.steps == 3


def test_reading_changes_nothing_in_the_folder(folder: Path) -> None:
    before = _digest(folder)
    read_status(folder)
    read_history(folder)
    CliRunner().invoke(app, ["status", str(folder), "--json"])
    assert _digest(folder) == before


def test_history_holds_equity_and_cumulative_components_per_step(folder: Path) -> None:
    hist = read_history(folder)
    records = folder_records[folder]
    assert len(hist) == len(records)
    assert hist["equity"].tolist() == [float(r.equity) for r in records]
    assert hist.iloc[-1]["funding"] == float(records[-1].pnl["funding"])
    assert len(read_history(folder, max_points=5)) <= 6  # downsampled, first and last kept
    assert read_history(folder, max_points=5).index[-1] == hist.index[-1]


def test_risk_history_has_leverage_net_delta_and_the_margin_ratio_per_step(folder: Path) -> None:
    risk = read_risk_history(folder)
    records = folder_records[folder]
    assert len(risk) == len(records)
    assert risk["binance:margin_ratio:USDT"].tolist() == [r.risk["binance:margin_ratio:USDT"] for r in records]
    assert risk["leverage"].iloc[-1] > 1 and abs(risk["net_delta"].iloc[-1]) < 0.05  # hedged carry


def test_exposures_left_unhedged_and_runner_events_are_shown_loudly(folder: Path, tmp_path: Path) -> None:
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    (copy / "state.json").write_text(json.dumps({
        "unhedged": ["cash_and_carry: perp leg refused after the spot leg filled: 3.2 ETH long unhedged"],
        "events": [{"kind": "clock_jump", "message": "the clock jumped 3700 s", "wall_ns": 1_740_000_000_000_000_000},
                   {"kind": "unhedged", "message": "3.2 ETH long unhedged", "wall_ns": 1_740_000_100_000_000_000}]}))
    st = read_status(copy)
    assert st.unhedged == ["cash_and_carry: perp leg refused after the spot leg filled: 3.2 ETH long unhedged"]
    assert [e["kind"] for e in st.events] == ["unhedged", "clock_jump"]  # newest first
    res = CliRunner().invoke(app, ["status", str(copy)], env={"COLUMNS": "200"})
    assert "UNHEDGED: cash_and_carry: perp leg refused" in res.output and "clock_jump" in res.output
    assert "<strong>UNHEDGED:</strong> cash_and_carry" in render_tables(st)


def test_cli_prints_the_status_and_json(folder: Path) -> None:
    res = CliRunner().invoke(app, ["status", str(folder)], env={"COLUMNS": "160"})
    assert res.exit_code == 0, res.output
    for text in ("positions by venue", "perp:ETH/USDT:USDT", "binance:margin_ratio:USDT", "low-bid",
                 "InsufficientFundsError", "cid-doubt", "stopped", "funding"):
        assert text in res.output
    res = CliRunner().invoke(app, ["status", str(folder), "--json"])
    assert res.exit_code == 0
    assert json.loads(res.output) == read_status(folder).to_dict()


def test_cli_says_clearly_when_a_folder_is_not_a_state_folder(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["status", str(tmp_path)])
    assert res.exit_code == 2
    assert "is not a run state folder" in res.output and "runstate.sqlite" in res.output
    res = CliRunner().invoke(app, ["status", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "is not a folder" in res.output
    with pytest.raises(RunStateError, match="not a run state folder"):
        read_status(tmp_path)


def test_cli_asks_the_venues_when_given_their_configuration(folder: Path, tmp_path: Path) -> None:
    config = tmp_path / "venues.yaml"
    config.write_text("execution_mode: backtest\nvenues: [binance]\n"
                      "initial_balances: {binance:spot:USDT: '1234'}\n")
    res = CliRunner().invoke(app, ["status", str(folder), "--json", "--venues", str(config)])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["venues_now"]["binance"]["balances"]["binance:spot:USDT"] == "1234"


def test_a_venue_that_cannot_answer_is_listed_with_the_reason(folder: Path) -> None:
    from basis_core import CEXExecutionInterface, hookimpl
    from basis_core.errors import LiveExecutionError
    from basis_core.manager import ExecutionInterfaceManager

    class Down(CEXExecutionInterface):
        name = "down"

        @hookimpl
        def get_balances(self, timestamp: object, instruction: object) -> dict[str, Decimal]:
            raise LiveExecutionError("down: connection refused (127.0.0.1:9)")

    m = ExecutionInterfaceManager({"execution_mode": "live"}, execution_mode="live", plugins=[Down], autoload=False)
    st = read_status(folder, manager=m)
    assert st.venues_now == {"down": {"error": "LiveExecutionError: down: connection refused (127.0.0.1:9)"}}
    assert st.venues  # the stored state is shown all the same


def test_no_secret_reaches_the_status(folder: Path) -> None:
    res = CliRunner().invoke(app, ["status", str(folder), "--json"])
    assert SECRET not in res.output and "key-abcdef123456" not in res.output
    assert "**********" in json.dumps(read_status(folder).meta)


def test_a_secret_the_environment_knows_is_masked_even_in_what_the_runner_wrote(
        folder: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "run"
    shutil.copytree(folder, copy)
    leaked = "hl-private-0x4c0883a69102937d6231471b5dbb6204fe512961708279f3c0b8a4f9e8b5a1c2"
    (copy / "state.json").write_text(json.dumps({"unhedged": [], "events": [
        {"kind": "error", "message": f"signing failed with {leaked}", "wall_ns": 1_740_000_000_000_000_000}]}))
    monkeypatch.setenv("BASIS_VENUE_CONFIG__HYPERLIQUID__PRIVATE_KEY", leaked)
    res = CliRunner().invoke(app, ["status", str(copy), "--json"])
    assert res.exit_code == 0 and leaked not in res.output and "signing failed with **********" in res.output


# -- the web page ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def served(folder: Path) -> Iterator[str]:
    """``basis status FOLDER --serve 0`` in a child process (an ephemeral port), stopped by its PID."""
    pytest.importorskip("plotly", reason="the report extra (plotly) is not installed")
    basis = Path(sys.executable).with_name("basis")
    proc = subprocess.Popen([str(basis), "status", str(folder), "--serve", "0", "--refresh", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once the socket listens
        assert "http://127.0.0.1:" in line, (line, proc.stderr.read() if proc.stderr else "")
        yield line.split(" at ", 1)[1].split(" ", 1)[0]
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=60) == 0  # SIGTERM stops it cleanly
        for f in (proc.stdout, proc.stderr):
            if f is not None:
                f.close()


def _get(url: str, method: str = "GET") -> tuple[int, bytes]:
    req = urllib.request.Request(url, method=method, data=b"x" if method in ("POST", "PUT") else None)
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def test_the_page_is_served_on_loopback_only_and_answers_the_status(folder: Path, served: str) -> None:
    assert served.startswith("http://127.0.0.1:")
    code, body = _get(served + "api/status")
    assert code == 200 and json.loads(body) == read_status(folder).to_dict()
    code, body = _get(served)
    assert code == 200 and b"<script src='/plotly.min.js'>" in body and b"https://" not in body
    assert SECRET.encode() not in body
    assert _get(served + "nothing-here")[0] == 404


def test_no_route_changes_anything(folder: Path, served: str) -> None:
    before = _digest(folder)
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        for path in ("", "api/status", "api/view"):
            assert _get(served + path, method)[0] == 405
    for path in ("", "api/status", "api/view", "plotly.min.js"):
        assert _get(served + path)[0] == 200
    assert _digest(folder) == before


@pytest.mark.skipif(chromium_path() is None, reason="chromium is not installed (apt-get install chromium)")
def test_the_page_loads_in_chromium_without_console_errors_and_shows_the_positions(served: str) -> None:
    dom, console = load_in_chromium(served, virtual_time_ms=3000)  # the page's refresh timer runs too
    assert console == []
    assert "perp:ETH/USDT:USDT" in dom and "binance:spot:ETH" in dom and "low-bid" in dom
    charts = set(__import__("re").findall(r'id="chart-([a-z]+)" class="plotly-graph-div js-plotly-plot"', dom))
    assert charts == {"equity", "components", "risk"}
    assert dom.count('class="main-svg"') >= 6 and dom.count('<path class="js-line"') >= 6  # plotly drew them
    refreshed = int(dom.split('data-refreshes="', 1)[1].split('"', 1)[0])
    assert refreshed >= 1  # it refreshed itself from /api/view without reloading
