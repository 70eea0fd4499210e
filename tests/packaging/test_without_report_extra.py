"""Without the ``[report]`` extra, ``basis backtest`` still runs, writes ``summary.json`` and csv history, and says
in one line how to get the charts.

The test environment has the extra installed, so a child process makes matplotlib, plotly and pyarrow
unimportable (``sys.modules[name] = None``: every ``import`` of them raises ImportError), which also proves
that nothing on the backtest path imports them unguarded. ``.ci/wheels`` runs the same command in a fresh
virtual environment where they are really absent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from basis_core.backtest.report import REPORT_EXTRA_MODULES, report_extra_note

CHILD = """
import sys
sys.modules.update(dict.fromkeys({modules!r}))
from basis_core.cli import main
sys.argv = ["basis", "backtest", "--end", "2025-01-03", "--out", {out!r}]
main()
"""


def test_backtest_without_the_report_extra_writes_the_summary_and_says_how_to_get_charts(tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = subprocess.run([sys.executable, "-c", CHILD.format(modules=sorted(REPORT_EXTRA_MODULES), out=str(out))],
                          capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in out.iterdir())
    assert written == ["executions.csv", "history.csv", "summary.json"]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["end"].startswith("2025-01-03") and summary["steps"] > 24
    notes = [line for line in proc.stderr.splitlines() if "basis-execution[report]" in line]
    assert notes == ["note: charts, parquet history, report.html not written (matplotlib, pyarrow, plotly not "
                     "installed): pip install 'basis-execution[report]'"]
    assert "Traceback" not in proc.stderr and "WARNING" not in proc.stderr


def test_with_the_report_extra_nothing_is_left_out() -> None:
    assert report_extra_note() is None


def test_klines_load_without_pyarrow_through_the_general_path(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """pyarrow comes with ``[report]``: without it the loader's fast path steps aside and the result is the same."""
    from basis_core.data.loaders import load_klines

    rows = ["timestamp,open,high,low,close", "2025-01-01T00:00:00Z,1,1.25,1,1.5", "2025-01-01T01:00:00Z,2,2,2,2.75"]
    (tmp_path / "k.csv").write_text("\n".join(rows) + "\n")
    fast = load_klines(tmp_path / "k.csv", "x")
    for name in ("pyarrow", "pyarrow.compute", "pyarrow.csv"):
        monkeypatch.setitem(sys.modules, name, None)
    general = load_klines(tmp_path / "k.csv", "x")
    assert list(general.times) == list(fast.times) and len(fast) == 3
    assert [list(general.column(c)) for c in ("open", "close")] == [list(fast.column(c)) for c in ("open", "close")]
