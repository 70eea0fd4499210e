"""docs/live.md "Run a strategy: paper, then live" stays honest: its scenario and its ``basis run`` commands run as
printed against the emulator (only its port, ``--steps`` and the state folders changed), paper on the venue's live
data with nothing sent, then live with the environment's credentials; ``basis status`` reads the paper folder."""

from __future__ import annotations

import json
import re
import shlex
from decimal import Decimal as D
from pathlib import Path

import pytest
from basis_venue_binance.testing.emulator import BinanceEmulator
from typer.testing import CliRunner

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "live.md"
KEY, SECRET = "guide-run-key-0123456789abcdef", "guide-run-secret-0123456789abcdef0123456789"


def _command(prefix: str, state: Path) -> list[str]:
    (line,) = [ln for ln in GUIDE.read_text().splitlines() if ln.startswith(prefix)]
    args = shlex.split(line)[1:]
    args[args.index("--state") + 1] = str(state)
    args[args.index("--steps") + 1] = "1"
    return [*args, "--json"]


def test_the_guides_paper_then_live_commands_run_as_printed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from basis_core.cli import _register, app

    if not any(c.name == "run" for c in app.registered_commands):
        _register()
    (scenario,) = re.findall(r"```yaml\n(name: carry-demo\n.*?)```", GUIDE.read_text(), flags=re.S)
    emu = BinanceEmulator(KEY, SECRET, spot_balances={"USDT": D(100_000), "ETH": D(10)},
                          prices={"ETHUSDT": D(3000), "BTCUSDT": D(60_000)})
    emu.start()
    try:
        (tmp_path / "carry.yaml").write_text(scenario.replace("http://127.0.0.1:8080", emu.base_url))
        monkeypatch.chdir(tmp_path)
        runner = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
        r = runner.invoke(app, _command("basis run carry.yaml --mode paper", tmp_path / "paper"))
        assert r.exit_code == 0, r.output
        paper = json.loads(r.output.strip().splitlines()[-1])
        assert paper["status"] == "finished" and D(paper["positions"]["binance:spot:ETH"]) > 0
        assert emu.orders == []  # paper: nothing sent
        status = runner.invoke(app, ["status", str(tmp_path / "paper"), "--json"])
        assert status.exit_code == 0 and "binance:perp:ETH/USDT:USDT" in status.output
        monkeypatch.setenv("BASIS_VENUE_CONFIG__BINANCE__API_KEY", KEY)
        monkeypatch.setenv("BASIS_VENUE_CONFIG__BINANCE__API_SECRET", SECRET)
        r = runner.invoke(app, _command("basis run carry.yaml --mode live", tmp_path / "live"))
        assert r.exit_code == 0, r.output
        live = json.loads(r.output.strip().splitlines()[-1])
        assert live["status"] == "finished" and len(emu.orders) == 2  # the spot buy and the perp short, live
        assert D(live["positions"]["binance:perp:ETH/USDT:USDT"]) == D(paper["positions"]["binance:perp:ETH/USDT:USDT"])
    finally:
        emu.stop()
