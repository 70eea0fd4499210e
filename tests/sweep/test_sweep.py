"""``basis sweep`` / ``basis_core.sweep.run``: the table is what each variant gives alone, failures stay with
their variant, the same seed gives the same table, Ctrl-C and a kill lose nothing finished, Ray agrees with the
local pool. Variants are three days hourly of the default scenario (a fraction of a second each)."""

from __future__ import annotations

import json
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import basis_core.sweep
from basis_core.backtest.runner import run as run_backtest
from basis_core.sweep import SweepInterrupted, SweepProgress
from basis_core.sweep.backends import LocalBackend
from basis_core.sweep.worker import metrics_of

MF = "strategies.cash_and_carry.params.margin_fraction"
ETH = "strategies.staked_basis.params.eth_amount"
SHORT = {"period.end": ["2025-01-04"]}
GRID = {MF: ["0.2", "0.35"], ETH: [20, 30], **SHORT}


def _cli(*args: str) -> tuple[int, str, str]:
    from basis_core.cli import _register, app

    if not getattr(_cli, "done", False):
        _register()
        _cli.done = True  # type: ignore[attr-defined]
    r = CliRunner(env={"COLUMNS": "160", "NO_COLOR": "1"}).invoke(app, list(args))
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture(scope="module")
def local(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, Path]:
    out = tmp_path_factory.mktemp("local")
    return basis_core.sweep.run("default", GRID, out=out, workers=2), out


def test_the_table_is_what_basis_backtest_gives_for_each_variant_alone(local: tuple[pd.DataFrame, Path],
                                                                       tmp_path: Path) -> None:
    table, out = local
    assert list(table["variant"]) == [0, 1, 2, 3] and set(table["status"]) == {"ok"}
    assert [(str(a), b) for a, b in zip(table[MF], table[ETH], strict=True)] == [
        ("0.2", 20.0), ("0.2", 30.0), ("0.35", 20.0), ("0.35", 30.0)]
    for _, row in table.iterrows():
        code, stdout, stderr = _cli("backtest", str(out / "variants" / f"{row['key']}.yaml"), "--json",
                                    "--out", str(tmp_path / row["key"]))
        assert code == 0, stderr
        alone = metrics_of(json.loads(stdout))
        assert alone, "the summary has metrics"
        for name, value in alone.items():
            got = row[name]
            assert (value is None and pd.isna(got)) or got == value, (row["key"], name, got, value)
    # PnL components and failure counts are in the table
    assert {"components.funding", "components.trading_fees", "failed", "failed_scheduled"} <= set(table.columns)
    assert table["components.funding"].nunique() == 4  # every variant differs
    for name in ("results.parquet", "results.csv", "ranking.csv", "sweep.json"):
        assert (out / name).is_file(), name
    assert pd.read_parquet(out / "results.parquet").equals(table)
    ranking = pd.read_csv(out / "ranking.csv")
    assert list(ranking["rank"]) == [1, 2, 3, 4]
    metric = table.attrs["metric"]
    assert ranking[metric].is_monotonic_decreasing


def test_a_rerun_reuses_every_finished_variant(local: tuple[pd.DataFrame, Path]) -> None:
    table, out = local
    stamps = {p.name: p.stat().st_mtime_ns for p in (out / "variants").glob("*.json")}
    again = basis_core.sweep.sweep("default", GRID, out=out, workers=2)
    assert (again.computed, again.reused) == (0, 4)
    pd.testing.assert_frame_equal(again.table, table)
    assert {p.name: p.stat().st_mtime_ns for p in (out / "variants").glob("*.json")} == stamps


def test_a_failing_variant_is_reported_with_its_error_and_the_others_run(tmp_path: Path) -> None:
    # variant 1 stops on a scheduled instruction it cannot pay for; variant 3 has a value the scenario refuses
    base = {
        "name": "fails", "market": {"source": "synthetic", "seed": 7},
        "period": {"start": "2025-01-01T00:00:00Z", "end": "2025-01-04T00:00:00Z", "step": "1h"},
        "initial_balances": {"paper:spot:USDT": 10000},
        "schedule": [{"at": "2025-01-02T00:00:00Z", "instruction": {
            "venue": "paper", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy", "amount": 1000}}],
    }
    variants = [{"on_error": "continue"}, {"on_error": "stop"}, {"on_error": "continue", "market.seed": 8},
                {"on_error": "maybe"}]
    out = basis_core.sweep.sweep(base, variants=variants, out=tmp_path, workers=2)
    t = out.table
    assert list(t["status"]) == ["ok", "failed", "ok", "failed"]
    assert t.loc[1, "error"].startswith("InsufficientFundsError: ")
    assert t.loc[3, "error"].startswith("ScenarioError: ") and "on_error" in t.loc[3, "error"]
    assert t.loc[0, "failed_scheduled"] == 1 and t.loc[2, "failed_scheduled"] == 1
    assert out.failed == 2 and list(out.ranking["status"])[-2:] == ["failed", "failed"]
    rec = json.loads((tmp_path / "variants" / f"{t.loc[1, 'key']}.json").read_text())
    assert rec["status"] == "failed" and "Traceback" in rec["traceback"]
    code, _stdout, stderr = _cli("sweep", str(tmp_path / "variants" / f"{t.loc[0, 'key']}.yaml"),
                                "--grid", "on_error=continue,stop", "--out", str(tmp_path / "cli"), "--workers", "1")
    assert code == 1
    assert "variant 1" in stderr and "InsufficientFundsError" in stderr


def test_the_same_seed_gives_the_same_table_on_any_backend(tmp_path: Path) -> None:
    grid = {MF: ["0.2", "0.25", "0.3", "0.35"], ETH: [10, 20, 30], **SHORT}
    a = basis_core.sweep.run("default", grid, random=3, seed=5, backend="serial")
    b = basis_core.sweep.run("default", grid, random=3, seed=5, workers=2, out=tmp_path)
    pd.testing.assert_frame_equal(a, b)
    assert len(a) == 3 and list(a["variant"]) == [0, 1, 2]
    c = basis_core.sweep.run("default", grid, random=3, seed=6, backend="serial")
    assert list(c[[MF, ETH]].itertuples(index=False)) != list(a[[MF, ETH]].itertuples(index=False))


def test_ctrl_c_stops_the_pool_and_keeps_the_finished_variants(tmp_path: Path) -> None:
    seen: list[int] = []

    def interrupt_after_first(state: SweepProgress) -> None:
        seen.append(state.done)
        if state.done == 1:
            raise KeyboardInterrupt  # as if Ctrl-C arrived right after the first variant finished

    grid = {MF: ["0.2", "0.25", "0.3", "0.35"], **SHORT}
    pool = LocalBackend(2)
    with pytest.raises(SweepInterrupted) as ei:
        basis_core.sweep.run("default", grid, out=tmp_path, backend=pool, progress=interrupt_after_first)
    assert pool.stopped and not any(p.is_alive() for p in pool.stopped)  # the workers were ended, not awaited
    partial = ei.value.outcome
    assert partial.interrupted and len(partial.table) == 1
    assert len(list((tmp_path / "variants").glob("*.json"))) == 1
    assert (tmp_path / "results.csv").is_file()
    done = basis_core.sweep.sweep("default", grid, out=tmp_path, workers=2)
    assert (done.reused, done.computed) == (1, 3) and len(done.table) == 4


def test_resume_after_the_sweep_process_is_killed(tmp_path: Path) -> None:
    """SIGKILL the whole sweep (driver and workers) once some variants are on disk; the rerun computes only
    the rest and the table is the one an uninterrupted sweep gives."""
    out = tmp_path / "killed"
    # one worker runs the variants in order; the last (one month) is still running when the first are saved
    args = ["sweep", "default", "--grid", f"{MF}=0.2,0.3", "--grid", "period.end=2025-01-03,2025-01-04,2025-02-01",
            "--workers", "1", "--out", str(out), "--json"]
    cmd = [sys.executable, "-c", "from basis_core.cli import main; main()", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    records = out / "variants"
    try:
        # wait for the markers (two records on disk) or the sweep's own end, however slow the machine is: the
        # sweep ends by itself, the deadline only bounds a hang (a loaded 2-core machine needs ~190 s here)
        deadline = time.monotonic() + 900
        while len(list(records.glob("*.json"))) < 2 and proc.poll() is None:
            assert time.monotonic() < deadline, "the sweep neither saved two variants nor ended in 900 s"
            time.sleep(0.05)
        assert len(list(records.glob("*.json"))) >= 2 or proc.poll() == 0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    before = {p.name: p.read_bytes() for p in records.glob("*.json")}
    code, stdout, stderr = _cli(*args)
    assert code == 0, stderr
    res = json.loads(stdout)
    assert res["variants"] == 6 and res["reused"] == len(before) and res["computed"] == 6 - len(before)
    for name, content in before.items():
        assert (records / name).read_bytes() == content  # not recomputed
    table = pd.read_parquet(out / "results.parquet")
    assert list(table["variant"]) == list(range(6)) and set(table["status"]) == {"ok"}


def test_dotted_path_errors_reach_the_cli_as_typed_errors(tmp_path: Path) -> None:
    code, _, stderr = _cli("sweep", "--grid", "strategies.cash_and_carry.params.margin_fractoin=0.2,0.3",
                           "--out", str(tmp_path))
    assert code == 2  # a misspelt strategy parameter: the scenario's own check, reported against the key
    assert "strategies.cash_and_carry.params.margin_fractoin: unknown field 'margin_fractoin'" in stderr
    code, _, stderr = _cli("sweep", "--grid", "perido.end=2025-01-08", "--out", str(tmp_path))
    assert code == 2 and "perido.end: unknown field 'perido'" in stderr
    assert not list(tmp_path.glob("variants/*.json"))


def test_a_backtest_result_pickles_without_its_live_manager() -> None:
    res = run_backtest({"period": {"start": "2025-01-01", "end": "2025-01-02", "step": "1h"},
                        "initial_balances": {"paper:spot:USDT": 100}})
    assert res.manager is not None
    back = pickle.loads(pickle.dumps(res))
    assert back.manager is None and res.manager is not None
    pd.testing.assert_frame_equal(back.equity, res.equity)
    assert back.summary == res.summary and back.end_equity == res.end_equity


@pytest.mark.ray
def test_ray_gives_the_same_table_as_the_local_pool(local: tuple[pd.DataFrame, Path]) -> None:
    pytest.importorskip("ray")
    table, _ = local
    on_ray = basis_core.sweep.run("default", GRID, backend="ray", workers=2)
    pd.testing.assert_frame_equal(on_ray, table)


def test_full_reports_on_request(tmp_path: Path) -> None:
    out = basis_core.sweep.sweep("default", {MF: ["0.3"], **SHORT}, out=tmp_path, backend="serial", reports=True)
    key = out.table.loc[0, "key"]
    report = tmp_path / "reports" / key
    assert (report / "summary.json").is_file() and (report / "equity.png").is_file()
    rec = json.loads((tmp_path / "variants" / f"{key}.json").read_text())
    assert metrics_of(json.loads((report / "summary.json").read_text())) == rec["metrics"]


DATA = Path(os.environ.get("BASIS_SHARED_DATA") or Path(__file__).resolve().parents[2].parent / "shared" / "data")


@pytest.mark.realdata
def test_a_sweep_on_real_data_files(tmp_path: Path) -> None:
    """``--data DIR``: every variant runs on the real files; the key follows the files it reads."""
    if not DATA.is_dir():
        pytest.skip(f"real market data not found at {DATA}")
    out = basis_core.sweep.sweep("staked_basis", {"period.end": ["2024-05-20", "2024-05-27"]}, data_dir=DATA,
                                 out=tmp_path, backend="serial", picture=False)
    t = out.table
    assert list(t["status"]) == ["ok", "ok"] and t.loc[0, "steps"] == 7 * 24 + 1
    assert json.loads((tmp_path / "sweep.json").read_text())["scenario"]["market"]["source"] == "data_dir"
    again = basis_core.sweep.sweep("staked_basis", {"period.end": ["2024-05-20"]}, data_dir=DATA, out=tmp_path,
                                   backend="serial", picture=False, hash_data=True)
    assert again.computed == 1 and again.table.loc[0, "key"] != t.loc[0, "key"]  # keyed by content now


def test_without_the_report_extra_the_sweep_writes_csv_and_says_how_to_get_the_picture(tmp_path: Path) -> None:
    """matplotlib and pyarrow made unimportable in a child process (as in ``tests/packaging``)."""
    child = ("import sys\nsys.modules.update(dict.fromkeys(['matplotlib', 'pyarrow']))\n"
             "from basis_core.cli import main\n"
             f"sys.argv = ['basis', 'sweep', '--backend', 'serial', '--grid', '{MF}=0.2,0.3', '--grid', "
             f"'period.end=2025-01-03', '--out', {str(tmp_path)!r}]\nmain()\n")
    proc = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=300, check=False,
                          env={**os.environ, "COLUMNS": "200", "NO_COLOR": "1"})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "results.csv").is_file() and (tmp_path / "ranking.csv").is_file()
    assert not (tmp_path / "results.parquet").exists() and not (tmp_path / "sweep.png").exists()
    assert "pip install 'basis-execution[report]'" in proc.stdout
    assert len(pd.read_csv(tmp_path / "results.csv")) == 2
