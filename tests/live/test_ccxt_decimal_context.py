"""Live CEX venues leave the caller's Decimal context alone, although ccxt's rounding changes it in place.

ccxt's ``decimal_to_precision`` sets ROUND_HALF_UP and traps Underflow on the calling thread's context (checked
below against the installed ccxt); :mod:`basis_core.live.ccxt_context` runs it in a copy. Live orders of both ccxt
venues through a manager, against their emulators, leave the host's context and the library's own per-thread
context exactly as they were: the same object, precision, rounding, traps and flags.
"""

from __future__ import annotations

import decimal
import hashlib
from collections.abc import Iterator
from decimal import Decimal as D
from pathlib import Path
from typing import Any

import pytest
from basis_venue_binance.client import make_binance_client
from basis_venue_binance.testing.emulator import BinanceEmulator
from basis_venue_hyperliquid.testing import HyperliquidEmulator
from eth_account import Account

from basis_core import ExecutionInterfaceManager
from basis_core.live.ccxt_context import keep_decimal_context
from basis_core.numeric import LIBRARY_CONTEXT, library_context

TS = "2025-06-01T00:00:00Z"
KEY, SECRET = "ctx-key-0123456789abcdef0123456789abcdef", "ctx-secret-fedcba9876543210fedcba9876543210"
HL_KEY = "0x" + hashlib.sha256(b"basis-ccxt-decimal-context").hexdigest()
HL_MASTER = Account.from_key(HL_KEY).address


def state(ctx: decimal.Context) -> tuple[Any, ...]:
    """Everything a context holds: precision, rounding, traps, flags, exponent limits."""
    return (ctx.prec, ctx.rounding, dict(ctx.traps), dict(ctx.flags), ctx.Emin, ctx.Emax, ctx.capitals, ctx.clamp)


@pytest.fixture
def emulators() -> Iterator[tuple[BinanceEmulator, HyperliquidEmulator]]:
    with BinanceEmulator(KEY, SECRET, spot_balances={"USDT": D(100_000), "ETH": D(10)},
                         futures_balances={"USDT": D(50_000)},
                         prices={"ETHUSDT": D(3000), "BTCUSDT": D(60_000)}) as bn, \
         HyperliquidEmulator(HL_MASTER, perp_usdc=D(10_000), spot_balances={"USDC": D(5000)},
                             marks={"ETH": "3000", "BTC": "100000"}) as hl:
        yield bn, hl


def test_installed_ccxt_changes_the_calling_threads_context_in_place() -> None:
    from ccxt.base.decimal_to_precision import ROUND, decimal_to_precision

    with decimal.localcontext() as ctx:
        ctx.rounding, ctx.traps[decimal.Underflow] = decimal.ROUND_HALF_EVEN, False
        assert decimal_to_precision("1.005", ROUND, 2) == "1.01"
        assert ctx.rounding == decimal.ROUND_HALF_UP and ctx.traps[decimal.Underflow]  # the hazard contained here


def test_a_shielded_client_rounds_as_ccxt_does_in_a_copy_of_the_callers_context(
        emulators: tuple[BinanceEmulator, HyperliquidEmulator]) -> None:
    bn, _hl = emulators
    client = make_binance_client(KEY, SECRET, base_url=bn.base_url, enable_rate_limit=False)
    assert keep_decimal_context(client) is client and client.decimal_to_precision is keep_decimal_context(
        client).decimal_to_precision  # applied once
    client.load_markets()
    ctx = decimal.getcontext()
    before = state(ctx)
    assert client.amount_to_precision("ETH/USDT", "0.123456789") == "0.1234"  # LOT_SIZE 0.0001, truncated
    assert client.price_to_precision("ETH/USDT", "3000.005") == "3000.01"  # ccxt's own ROUND_HALF_UP
    assert decimal.getcontext() is ctx and state(ctx) == before


def test_live_orders_on_both_ccxt_venues_leave_the_host_and_library_contexts_unchanged(
        emulators: tuple[BinanceEmulator, HyperliquidEmulator], tmp_path: Path) -> None:
    bn, hl = emulators
    m = ExecutionInterfaceManager(config={
        "venues": ["binance", "hyperliquid"], "retry_delay_seconds": 0,
        "journal_path": str(tmp_path / "journal.sqlite"),
        "venue_config": {
            "binance": {"api_key": KEY, "api_secret": SECRET, "base_url": bn.base_url, "enable_rate_limit": False},
            "hyperliquid": {"private_key": HL_KEY, "wallet_address": HL_MASTER, "base_url": hl.base_url,
                            "enable_rate_limit": False}}}, execution_mode="live")
    host = decimal.getcontext()
    host.clear_flags()
    before = state(host)
    library_before = library_context(lambda: state(decimal.getcontext()))()
    deltas = [
        m.execute(TS, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy",
                       "amount": "0.5", "client_id": "ctx-spot"}),
        m.execute(TS, {"venue": "binance", "operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy",
                       "amount": "0.1", "order_type": "limit", "price": "2900", "client_id": "ctx-rest"}),
        m.execute(TS, {"venue": "binance", "operation": "modify_order", "order_id": "ctx-rest",
                       "symbol": "ETH/USDT", "price": "2950"}),
        m.execute(TS, {"venue": "binance", "operation": "perp_trade", "symbol": "ETH/USDT:USDT", "side": "sell",
                       "amount": "0.2", "leverage": "3", "client_id": "ctx-perp"}),
        m.execute(TS, {"venue": "hyperliquid", "operation": "perp_trade", "symbol": "ETH/USDC:USDC",
                       "side": "buy", "amount": "0.5", "client_id": "ctx-hl-perp"}),
        m.execute(TS, {"venue": "hyperliquid", "operation": "spot_trade", "symbol": "ETH/USDC", "side": "buy",
                       "amount": "0.1", "client_id": "ctx-hl-spot"}),
        m.execute(TS, {"venue": "hyperliquid", "operation": "transfer", "asset": "USDC", "amount": "100",
                       "from_account": "spot", "to_account": "perp", "client_id": "ctx-hl-move"}),
    ]
    m.advance_to(TS)
    m.get_balances(TS, "binance")
    m.get_balances(TS, "hyperliquid")
    assert [d.status for d in deltas] == ["filled", "open", "modified", "filled", "filled", "filled", "filled"]
    assert decimal.getcontext() is host and state(host) == before
    library_after = library_context(lambda: state(decimal.getcontext()))()
    assert library_after[:3] == library_before[:3] == (LIBRARY_CONTEXT.prec, LIBRARY_CONTEXT.rounding,
                                                       dict(LIBRARY_CONTEXT.traps))
