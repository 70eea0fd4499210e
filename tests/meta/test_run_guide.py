"""docs/live.md "Run a strategy: paper, then live" stays honest: its ``basis run`` paper command runs as printed
(only ``--steps`` shortened and the state folder moved to a temporary one) and ``basis status`` reads its folder."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

from typer.testing import CliRunner

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "live.md"


def _command(prefix: str) -> list[str]:
    (line,) = [ln for ln in GUIDE.read_text().splitlines() if ln.startswith(prefix)]
    return shlex.split(line)


def test_the_paper_command_runs_as_printed_and_basis_status_reads_it(tmp_path: Path) -> None:
    from basis_core.cli import _register, app

    if not any(c.name == "run" for c in app.registered_commands):
        _register()
    args = _command("basis run cash_and_carry --mode paper")[1:]
    assert args[args.index("--state") + 1] == "runs/paper"
    args[args.index("--state") + 1] = str(tmp_path / "paper")
    args[args.index("--steps") + 1] = "1"
    runner = CliRunner(env={"COLUMNS": "120", "NO_COLOR": "1"})
    r = runner.invoke(app, [*args, "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.output.strip().splitlines()[-1])
    assert result["status"] == "finished" and result["steps"] == 1
    assert float(result["positions"]["binance:spot:ETH"]) > 0 > float(result["positions"]["binance:perp:ETH/USDT:USDT"])
    status = runner.invoke(app, ["status", str(tmp_path / "paper"), "--json"])
    assert status.exit_code == 0, status.output
    assert re.search(r'"binance:perp:ETH/USDT:USDT"', status.output)
    live = _command("basis run cash_and_carry --mode live")
    assert live[live.index("--mode") + 1] == "live" and "--data" in live
