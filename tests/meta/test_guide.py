"""docs/writing-a-venue-plugin.md stays honest: its complete example venue passes the conformance kit as
printed, and it documents every protocol name, capability, check and invalid-variant label the kit uses."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from basis_core.testing import conformance_protocol
from basis_core.testing.conformance import ConformanceSuite, run_suite_test
from basis_core.testing.conformance_checks import PARSE_BAD_NUMBERS, invalid_variants
from basis_core.testing.conformance_harness import VenueTarget
from basis_core.testing.conformance_protocol import CAPABILITIES

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "writing-a-venue-plugin.md"
TEXT = GUIDE.read_text()
PROTOCOL_METHODS = ("conformance_examples", "conformance_balances", "conformance_settings", "conformance_market",
                    "conformance_timestamp")


def _example_source() -> str:
    blocks = re.findall(r"```python\n(# example: acme-venue\n.*?)```", TEXT, flags=re.S)
    assert len(blocks) == 1, "the guide must have exactly one '# example: acme-venue' block"
    return blocks[0]


@pytest.fixture(scope="module")
def acme(import_guide_example: Callable[[str, str], Any]) -> Any:
    return import_guide_example("guide_acme_venue", _example_source()).AcmeVenue


def _suite_tests() -> list[str]:
    return [n for n, _ in inspect.getmembers(ConformanceSuite, inspect.isfunction) if n.startswith("test_")]


@pytest.mark.parametrize("test", _suite_tests())
def test_guide_example_passes_the_kit(acme: type, test: str, caplog: pytest.LogCaptureFixture) -> None:
    run_suite_test(VenueTarget("acme", acme), test, caplog=caplog)


@pytest.mark.parametrize("name", [*PROTOCOL_METHODS, "capabilities", "reference_prices"])
def test_guide_documents_the_protocol(name: str) -> None:
    assert f"`{name}" in TEXT
    if name.startswith("conformance_"):
        assert name in inspect.getsource(conformance_protocol), f"the kit no longer reads {name}"


@pytest.mark.parametrize("capability", sorted(CAPABILITIES))
def test_guide_documents_every_capability(capability: str) -> None:
    assert f"| `{capability}` |" in TEXT


@pytest.mark.parametrize("test", _suite_tests())
def test_guide_documents_every_check(test: str) -> None:
    assert f"`{test}" in TEXT, f"docs/writing-a-venue-plugin.md does not describe {test}"


def test_guide_lists_every_invalid_variant_label() -> None:
    labels = {v.label for v in invalid_variants(
        {"operation": "swap", "venue": "x", "token_in": "A", "token_out": "B", "amount_in": "1", "pool": "p"})}
    labels |= {v.label for v in invalid_variants(
        {"operation": "spot_trade", "venue": "x", "symbol": "A/B", "side": "buy", "amount": "1"})}
    for label in labels:
        _, _, kind = label.partition("=")
        assert kind in TEXT, f"variant kind {kind!r} ({label}) is not documented"
    for kind in PARSE_BAD_NUMBERS:
        assert kind in TEXT


def test_guide_commands_exist() -> None:
    from basis_core.cli import _register, app
    _register()
    names = {c.name for c in app.registered_commands}
    assert "new-venue" in names and "venues" in names
    assert "--basis-venue" in TEXT and "-p basis_core.testing.conformance" in TEXT
