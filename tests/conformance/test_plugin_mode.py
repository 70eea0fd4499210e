"""The opt-in pytest plugin: ``pytest -p basis_core.testing.conformance --basis-venue NAME`` runs the suite
against installed venues (here the ``paper`` test venue and a name that is not installed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_basis_venue_option_runs_the_suite_against_installed_venues() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "basis_core.testing.conformance", "--basis-venue", "paper",
         "--basis-venue", "nosuchvenue", "-q", "-rA", "-p", "no:randomly", "-p", "no:cacheprovider"],
        capture_output=True, text=True, timeout=600, cwd=ROOT, check=False)
    out = proc.stdout
    assert proc.returncode == 1, out[-3000:]  # the unknown venue fails, paper passes
    passed = [ln for ln in out.splitlines() if ln.startswith("PASSED")]
    failed = [ln for ln in out.splitlines() if ln.startswith("FAILED")]
    assert any("test_example_executes[paper-spot_trade-0]" in ln for ln in passed)
    assert any("test_venue_info[paper]" in ln for ln in passed)
    assert failed and all("nosuchvenue" in ln for ln in failed)
    assert "venue 'nosuchvenue' cannot be loaded: UnknownVenueError" in out
    assert "pip install basis-venue-nosuchvenue" in out
    assert "tests/core" not in out  # only the suite ran, not the project's testpaths
