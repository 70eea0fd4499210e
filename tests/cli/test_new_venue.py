"""``basis new-venue`` renders its templates with Jinja2 alone (no copier: it works after a plain install of the
core) and writes no absolute path into the generated project."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

import basis_core
from basis_core.cli.new_venue_cmd import KINDS, generate_venue
from basis_core.errors import ConfigError

CORE = str(Path(basis_core.__file__).resolve().parent.parent)


@pytest.mark.parametrize("kind", KINDS)
def test_generated_files_hold_no_absolute_path(kind: str, tmp_path: Path) -> None:
    out = generate_venue("zzpaths", kind, tmp_path / "gen")
    files = [p for p in out.rglob("*") if p.is_file()]
    assert files and not any(p.name == ".copier-answers.yml" for p in files)
    for p in files:
        text = p.read_text(errors="replace")
        assert CORE not in text and str(tmp_path) not in text, p
        assert "{{" not in text and "{%" not in text, f"{p}: unrendered template syntax"


def test_the_cex_kind_builds_on_the_core_building_blocks(tmp_path: Path) -> None:
    out = generate_venue("zzcex", "cex", tmp_path / "gen")
    venue = (out / "basis_venue_zzcex" / "venue.py").read_text()
    assert "class ZzcexVenue(CexVenue)" in venue and "def market_data_files" in venue
    assert "CexLiveBackend" in venue  # the live section names the ccxt base
    assert "def conformance_live_target" in venue and '"live"' in venue
    assert "class ZzcexVenueLiveBackend(CexLiveBackend)" in (out / "basis_venue_zzcex" / "live.py").read_text()
    assert (out / "tests" / "test_live.py").exists()
    assert (out / "basis_venue_zzcex" / "testing" / "emulator.py").read_text().count("EmulatorServer") >= 2
    assert not (out / "basis_venue_zzcex" / "sim.py").exists()


def test_generation_needs_no_copier(tmp_path: Path) -> None:
    code = ("import sys; sys.modules['copier'] = None\n"
            "from basis_core.cli.new_venue_cmd import generate_venue\n"
            f"print(generate_venue('zznocopier', 'amm', {str(tmp_path / 'gen')!r}))")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "gen" / "basis_venue_zznocopier" / "venue.py").exists()


def test_old_kind_names_still_work_and_unknown_kinds_are_refused(tmp_path: Path) -> None:
    assert (generate_venue("zzold", "onchain", tmp_path / "a") / "basis_venue_zzold" / "sim.py").exists()
    with pytest.raises(ConfigError, match="kind: 'futures' must be one of cex, amm, lending, staking"):
        generate_venue("zzfut", "futures", tmp_path / "b")


def test_the_staking_kind_contributes_its_exchange_rate(tmp_path: Path) -> None:
    out = generate_venue("zzstake", "staking", tmp_path / "gen")
    pkg = out / "basis_venue_zzstake"
    venue = (pkg / "venue.py").read_text()
    assert "class ZzstakeVenue(OnChainExecutionInterface)" in venue
    assert "def execute_stake" in venue and "def execute_unstake" in venue and "def synthetic_series" in venue
    assert 'Series("lst:zzstake"' in (pkg / "data.py").read_text()
    assert "def rebase(" in (pkg / "sim.py").read_text()


@pytest.mark.parametrize(("kind", "option", "value", "attr", "expected"), [
    ("amm", "depth_usd", "1234567", "depth", Decimal("1234567")),
    ("lending", "supply_apr", "0.07", "apr", Decimal("0.07")),
    ("staking", "withdrawal_delay_s", "3600", "delay_ns", 3600 * 10**9),
])
def test_the_options_a_generated_simulator_reads_are_accepted_settings(
        kind: str, option: str, value: str, attr: str, expected: object, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Each option a generated ``sim.py`` reads is declared in ``settings_options``: ``venue_config`` sets it
    (an undeclared key is a ConfigError at configure) and the simulator uses it."""
    import importlib

    from basis_core import ExecutionInterfaceManager
    from basis_core.data.synthetic import synthetic_market

    name = f"zzopt{kind}"
    out = generate_venue(name, kind, tmp_path / "gen")
    monkeypatch.syspath_prepend(str(out))
    try:
        cls = getattr(importlib.import_module(f"basis_venue_{name}.venue"), f"{name.capitalize()}Venue")
        assert option in cls.settings_options
        m = ExecutionInterfaceManager({"venue_config": {name: {option: value}}}, data_provider=synthetic_market(),
                                      autoload=False, plugins=[cls])
        assert getattr(m.venue(name).make_backtest_backend(), attr) == expected
    finally:
        for mod in [k for k in sys.modules if k.startswith(f"basis_venue_{name}")]:
            del sys.modules[mod]
