"""``basis emulate <venue>``: a real subprocess serving the plugin's emulator; the real ccxt client
connects with the printed demo credentials (signatures checked), and a wrong secret is refused."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest

from basis_core.testing.emulate_process import BASIS_CLI as CLI
from basis_core.testing.emulate_process import emulate_processes


@pytest.fixture
def run_emulator() -> Iterator[Any]:
    with emulate_processes() as start:
        yield start


def test_emulate_binance_serves_the_real_client(run_emulator: Any) -> None:
    import ccxt
    from basis_venue_binance.client import make_binance_client

    info = run_emulator("binance")
    cfg = info["venue_config"]["binance"]
    assert info["demo"] is True and cfg["base_url"] == info["base_url"].rstrip("/")
    assert cfg["api_secret"].startswith("demo-")
    c = make_binance_client(cfg["api_key"], cfg["api_secret"], base_url=cfg["base_url"], enable_rate_limit=False)
    bal = c.fetch_balance()
    assert Decimal(str(bal["USDT"]["total"])) == Decimal(100_000)  # with_defaults: 100,000 USDT spot
    bad = make_binance_client(cfg["api_key"], "demo-wrong-secret", base_url=cfg["base_url"], enable_rate_limit=False)
    with pytest.raises(ccxt.BaseError, match="-1022"):
        bad.fetch_balance()


def test_emulate_hyperliquid_serves_the_real_client(run_emulator: Any) -> None:
    from basis_venue_hyperliquid.client import make_hyperliquid_client
    from eth_account import Account

    cfg = run_emulator("hyperliquid")["venue_config"]["hyperliquid"]
    assert Account.from_key(cfg["private_key"]).address == cfg["wallet_address"]
    c = make_hyperliquid_client(cfg["wallet_address"], cfg["private_key"], base_url=cfg["base_url"],
                                enable_rate_limit=False)
    order = c.create_order("ETH/USDC:USDC", "limit", "buy", 0.01, 2000)  # signed; the emulator recovers the signer
    assert order["id"] is not None
    assert Decimal(str(c.fetch_balance()["USDC"]["total"])) == Decimal(10_000)


def test_emulate_unknown_venue_names_the_plugin() -> None:
    out = subprocess.run([*CLI, "emulate", "nosuchvenue"], capture_output=True, text=True, timeout=60)
    flat = "".join(out.stderr.replace("│", "").split())
    assert out.returncode != 0 and "pipinstallbasis-venue-nosuchvenue" in flat
