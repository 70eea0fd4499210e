"""The emulators' money in and out, as the real ccxt clients call it: Binance's capital endpoints (signed;
withdrawOrderId unique; refusals map to ccxt's typed errors) and Hyperliquid's user-signed ``withdraw3`` /
``usdSend`` (the signer is recovered; a forged signature moves nothing); a withdrawal from one emulator is a deposit on
the other over the shared network, on the network's (paused, test-driven) clock."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from decimal import Decimal

import ccxt
import pytest
from basis_venue_binance.client import make_binance_client
from basis_venue_binance.testing.emulator import BinanceEmulator
from basis_venue_hyperliquid.client import make_hyperliquid_client
from basis_venue_hyperliquid.testing import HyperliquidEmulator
from eth_account import Account

from basis_core.testing.replay import ReplayClock
from basis_core.testing.transfer_network import TransferNetwork

D = Decimal
KEY, SECRET = "emu-transfer-key-0a1b2c3d", "emu-transfer-SECRET-4e5f6a7b"
HL_KEY = "0x" + hashlib.sha256(b"basis-emulator-transfers").hexdigest()
HL_ADDR = Account.from_key(HL_KEY).address
OTHER = Account.from_key("0x" + hashlib.sha256(b"basis-emulator-transfers-other").hexdigest()).address


@pytest.fixture(scope="module")
def pair() -> Iterator[tuple[BinanceEmulator, HyperliquidEmulator, ReplayClock, TransferNetwork]]:
    clock = ReplayClock("2025-06-01T00:00:00Z", speed=0)
    net = TransferNetwork(clock)
    bn = BinanceEmulator(KEY, SECRET, spot_balances={"USDT": D(5000)}, prices={"ETHUSDT": D(3000)})
    hl = HyperliquidEmulator(HL_ADDR, perp_usdc=D(1000), marks={"ETH": "3000"})
    bn.attach_network(net)
    hl.attach_network(net)
    bn.start()
    hl.start()
    try:
        yield bn, hl, clock, net
    finally:
        bn.stop()
        hl.stop()


def binance(bn: BinanceEmulator, secret: str = SECRET) -> ccxt.binance:
    c = make_binance_client(KEY, secret, base_url=bn.base_url, enable_rate_limit=False, fetchCurrencies=True)
    c.load_markets()
    return c


def test_binance_withdrawals_are_signed_unique_and_charged_their_fee(pair: tuple) -> None:
    bn, _hl, clock, net = pair
    c = binance(bn)
    assert c.currencies["USDT"]["networks"]["ERC20"]["fee"] == 1.0  # /capital/config/getall
    to = "0x" + "12" * 20
    w = c.withdraw("USDT", "100", to, {"network": "ETH", "withdrawOrderId": "emu-w1"})
    assert bn.spot_balance("USDT")[0] == D(4900)
    with pytest.raises(ccxt.BadRequest):  # the same withdrawOrderId again: refused, nothing debited
        c.withdraw("USDT", "100", to, {"network": "ETH", "withdrawOrderId": "emu-w1"})
    with pytest.raises(ccxt.InsufficientFunds):
        c.withdraw("USDT", "10000", to, {"network": "ETH", "withdrawOrderId": "emu-w2"})
    with pytest.raises(ccxt.AuthenticationError):
        binance(bn, secret="not-the-secret").withdraw("USDT", "100", to, {"withdrawOrderId": "emu-w3"})
    assert bn.spot_balance("USDT")[0] == D(4900) and len(bn.withdrawals()) == 1
    (row,) = c.fetch_withdrawals("USDT", None, None, {"withdrawOrderId": "emu-w1"})
    assert row["id"] == w["id"] and row["status"] == "pending" and row["fee"]["cost"] == 1.0
    clock.seek(clock.now_ns() + 600 * 10**9)  # Binance's processing time for ETH
    (row,) = c.fetch_withdrawals("USDT", None, None, {"withdrawOrderId": "emu-w1"})
    (tx,) = [t for t in net.transactions() if t.to == to]
    assert row["status"] == "ok" and row["txid"] == tx.txid and tx.amount == D(99)


def test_hyperliquid_withdraw3_is_a_binance_deposit_and_usd_send_needs_the_master_signature(pair: tuple) -> None:
    bn, hl, clock, _net = pair
    c = binance(bn)
    address = c.fetch_deposit_address("USDC", {"network": "ARBITRUM"})["address"]
    h = make_hyperliquid_client(HL_ADDR, HL_KEY, base_url=hl.base_url, enable_rate_limit=False)
    h.load_markets()
    h.withdraw("USDC", "100", address)
    (w,) = h.fetch_withdrawals("USDC", 0)
    assert hl.perp_usdc() == D(900) and w["fee"]["cost"] == 1 and w["amount"] == 100
    assert c.fetch_deposits("USDC") == []
    clock.seek(clock.now_ns() + 305 * 10**9)  # the bridge sent it 5 s ago: 6 of Binance's 12 confirmations
    (dep,) = c.fetch_deposits("USDC")
    assert dep["status"] == "pending" and dep["txid"] == w["txid"] and dep["info"]["confirmTimes"] == "6/12"
    clock.seek(clock.now_ns() + 6 * 10**9)
    (dep,) = c.fetch_deposits("USDC")
    assert dep["status"] == "ok" and bn.spot_balance("USDC")[0] == D(99)

    nonce = h.milliseconds()
    msg = {"hyperliquidChain": "Mainnet", "destination": OTHER.lower(), "amount": "50", "time": nonce}
    action = {"type": "usdSend", "signatureChainId": "0x66eee", **msg}
    forged = make_hyperliquid_client(OTHER, "0x" + "7" * 64, base_url=hl.base_url, enable_rate_limit=False)
    with pytest.raises(ccxt.ExchangeError, match="does not exist"):  # signed by a key that is not the account's
        h.privatePostExchange({"action": action, "nonce": nonce, "signature": forged.build_usd_send_sig(msg)})
    assert hl.perp_usdc() == D(900)
    ok = h.privatePostExchange({"action": action, "nonce": nonce, "signature": h.build_usd_send_sig(msg)})
    assert ok["status"] == "ok" and hl.perp_usdc() == D(850) and hl.perp_usdc(OTHER) == D(50)


def test_hyperliquid_credits_a_bridge_deposit_to_its_sender_once_confirmed(pair: tuple) -> None:
    from basis_venue_hyperliquid.testing.wallet import BRIDGE_ADDRESS

    _bn, hl, clock, net = pair
    with hl.lock:
        before = hl.account().perp_usdc
    tx = net.send("ARBITRUM", "USDC", D(75), HL_ADDR, BRIDGE_ADDRESS)
    clock.seek(clock.now_ns() + (hl.deposit_confirmations - 2) * 10**9)  # not final yet
    h = make_hyperliquid_client(HL_ADDR, HL_KEY, base_url=hl.base_url, enable_rate_limit=False)
    h.load_markets()
    assert h.fetch_deposits("USDC", 0) == [] and hl.perp_usdc() == before
    clock.seek(clock.now_ns() + 2 * 10**9)
    (dep,) = h.fetch_deposits("USDC", 0)
    assert dep["txid"] == tx.txid and dep["amount"] == 75 and hl.perp_usdc() == before + 75
