"""EvmClient against a real anvil node, and the exact unit conversions.

Independent results: balances and nonces read from the node (``eth_getBalance``, ``balanceOf``,
``eth_getTransactionCount``, ``eth_getTransactionByHash``), web3's keccak for the event topics, and
digit manipulation of decimal strings for the unit conversions.
"""

from __future__ import annotations

import logging
import pickle
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from basis_core.errors import (
    ConfigError,
    ContractRevertError,
    InstructionError,
    LiveExecutionError,
    TransactionRevertedError,
    TransactionTimeoutError,
)
from basis_core.live import evm
from basis_core.live.evm import EvmClient
from basis_core.live.units import from_base_units, to_base_units
from basis_core.testing.anvil import ANVIL_KEYS, AnvilNode
from basis_core.testing.contracts import deploy, load_artifact, transact

KEY = ANVIL_KEYS[2]  # anvil dev account 2 (pre-funded; the fixture sets its balance anyway)
OTHER = Account.from_key(ANVIL_KEYS[1]).address  # anvil account 1


# --------------------------------------------------------------------------------------------- units
def test_units_known_values() -> None:
    assert to_base_units(Decimal("1.5"), 6) == 1_500_000
    assert to_base_units(Decimal("1.5000000"), 6) == 1_500_000  # trailing zeros are exact
    assert to_base_units(Decimal("0.000001"), 6) == 1
    assert to_base_units(Decimal("1E+3"), 0) == 1000
    assert to_base_units("123456789012345678901234567890.123456789012345678", 18) == (
        123456789012345678901234567890123456789012345678
    )
    assert to_base_units(-2, 18) == -2 * 10**18
    assert from_base_units(1_500_000, 6) == Decimal("1.5")
    assert str(from_base_units(10**40 + 1, 18)) == "10000000000000000000000.000000000000000001"
    with pytest.raises(InstructionError) as ei:
        to_base_units(Decimal("1.0000001"), 6)
    assert ei.value.field == "amount" and "decimals" in ei.value.reason
    with pytest.raises(InstructionError) as ei:
        to_base_units(0.1, 18)  # type: ignore[arg-type]
    assert ei.value.field == "amount"
    for bad in (Decimal("NaN"), Decimal("Infinity"), "abc"):
        with pytest.raises(InstructionError):
            to_base_units(bad, 6)
    with pytest.raises(InstructionError) as ei:
        to_base_units(Decimal("0.1234567"), 6, field="min_amount_out")
    assert ei.value.field == "min_amount_out"


@settings(max_examples=300, deadline=None)
@given(int_part=st.integers(0, 10**30), frac=st.text("0123456789", max_size=24), decimals=st.integers(0, 24))
def test_units_against_string_digits(int_part: int, frac: str, decimals: int) -> None:
    text = f"{int_part}.{frac}" if frac else str(int_part)
    significant = frac.rstrip("0")
    if len(significant) > decimals:
        with pytest.raises(InstructionError):
            to_base_units(Decimal(text), decimals)
        return
    expected = int(str(int_part) + significant.ljust(decimals, "0"))  # shift the point by hand
    assert to_base_units(Decimal(text), decimals) == expected
    assert from_base_units(expected, decimals) == Decimal(text)
    assert to_base_units(from_base_units(expected, decimals), decimals) == expected


def test_event_topics_are_the_keccak_of_their_signatures() -> None:
    from web3 import Web3

    assert Web3.keccak(text="Transfer(address,address,uint256)").hex().removeprefix("0x") == evm.TRANSFER_TOPIC
    assert Web3.keccak(text="Deposit(address,uint256)").hex().removeprefix("0x") == evm.DEPOSIT_TOPIC
    assert Web3.keccak(text="Withdrawal(address,uint256)").hex().removeprefix("0x") == evm.WITHDRAWAL_TOPIC


# --------------------------------------------------------------------------------------------- chain
@dataclass
class Tokens:
    w3: Any
    weth: Any
    usdc: Any


@pytest.fixture(scope="module")
def tokens(anvil: AnvilNode) -> Tokens:
    """WETH9 (@uniswap/v2-periphery) and a 6-decimal MintableERC20 (@aave/core-v3), funding account 2."""
    from web3 import Web3

    w3 = Web3(Web3.HTTPProvider(anvil.url, cache_allowed_requests=True))
    weth = deploy(w3, load_artifact("@uniswap/v2-periphery/build/WETH9.json"))
    usdc = deploy(w3, load_artifact(
        "@aave/core-v3/artifacts/contracts/mocks/tokens/MintableERC20.sol/MintableERC20.json"), "USD Coin", "USDC", 6)
    me = Account.from_key(KEY).address
    anvil.rpc("anvil_setBalance", [me, hex(1000 * 10**18)])
    transact(w3, usdc.get_function_by_signature("mint(address,uint256)")(me, 1_000_000 * 10**6))
    return Tokens(w3, weth, usdc)


@pytest.fixture
def client(chain: AnvilNode, tokens: Tokens) -> EvmClient:
    return EvmClient(chain.url, SecretStr(KEY), receipt_timeout=10.0)


def nonce_of(client: EvmClient) -> int:
    return int(client.w3.eth.get_transaction_count(client.address, "latest"))


def test_send_receipt_fees_and_eth_accounting(client: EvmClient, tokens: Tokens) -> None:
    weth = tokens.weth.address
    n0, eth0, weth0 = nonce_of(client), client.eth_balance(), client.balance_of(weth)
    value = 15 * 10**17
    r = client.send(tokens.weth.functions.deposit(), value=value)
    assert r.status == 1 and r.nonce == n0 and not client.pending
    assert nonce_of(client) == n0 + 1
    assert client.balance_of(weth) - weth0 == value
    assert eth0 - client.eth_balance() == value + r.gas_cost_wei == value + client.gas_cost_wei(r)
    assert client.transfer_deltas(r, [weth]) == {weth: value}
    tx = client.w3.eth.get_transaction(r.tx_hash)
    block = client.w3.eth.get_block(r.block_number)
    assert tx["type"] == 2 and tx["nonce"] == n0
    assert tx["maxFeePerGas"] == 2 * block["baseFeePerGas"] + tx["maxPriorityFeePerGas"]
    assert r.effective_gas_price == block["baseFeePerGas"] + tx["maxPriorityFeePerGas"]

    r2 = client.send(tokens.weth.functions.withdraw(value // 3))
    assert client.transfer_deltas(r2, [weth]) == {weth: -(value // 3)}
    assert client.balance_of(weth) - weth0 == value - value // 3


def test_revert_in_simulation_is_typed_and_sends_nothing(client: EvmClient, tokens: Tokens) -> None:
    n0 = nonce_of(client)
    with pytest.raises(ContractRevertError) as ei:
        client.send(tokens.usdc.functions.transfer(OTHER, 10**30))
    assert isinstance(ei.value, TransactionRevertedError)
    assert ei.value.tx_hash is None and "exceeds balance" in (ei.value.reason or "")
    assert nonce_of(client) == n0 and not client.pending


def test_mined_revert_decodes_reason_and_spends_gas(client: EvmClient, tokens: Tokens) -> None:
    n0, eth0 = nonce_of(client), client.eth_balance()
    with pytest.raises(ContractRevertError) as ei:
        client.send(tokens.usdc.functions.transfer(OTHER, 10**30), gas=100_000)
    err = ei.value
    assert err.tx_hash is not None and err.nonce == n0
    assert "exceeds balance" in (err.reason or "") and "exceeds balance" in str(err)
    receipt = client.w3.eth.get_transaction_receipt(err.tx_hash)
    assert receipt["status"] == 0 and err.gas_used == receipt["gasUsed"]
    assert eth0 - client.eth_balance() == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    assert nonce_of(client) == n0 + 1 and not client.pending


def test_receipt_timeout_then_resume_never_reuses_a_nonce(chain: AnvilNode, tokens: Tokens) -> None:
    client = EvmClient(chain.url, SecretStr(KEY), receipt_timeout=0.2)
    usdc = tokens.usdc.address
    n0, other0 = nonce_of(client), client.balance_of(usdc, OTHER)
    chain.rpc("evm_setAutomine", [False])
    try:
        with pytest.raises(TransactionTimeoutError) as e1:
            client.transfer(usdc, OTHER, 7)
        assert e1.value.nonce == n0 and e1.value.tx_hash in client.pending
        with pytest.raises(TransactionTimeoutError) as e2:  # a second instruction while the first is in flight
            client.transfer(usdc, OTHER, 11)
        assert e2.value.nonce == n0 + 1
        with pytest.raises(TransactionTimeoutError):  # still nothing mined: resume times out again, keeps it
            client.resume(e1.value.tx_hash)
        assert set(client.pending) == {e1.value.tx_hash, e2.value.tx_hash}
        client.rebroadcast(e1.value.tx_hash)  # same bytes, same nonce: harmless
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", [True])
    r1 = client.resume(e1.value.tx_hash)
    r2 = client.resume(e2.value.tx_hash)
    assert (r1.nonce, r2.nonce) == (n0, n0 + 1) and not client.pending
    assert nonce_of(client) == n0 + 2  # exactly two transactions, each mined once
    assert client.balance_of(usdc, OTHER) - other0 == 18
    client.receipt_timeout = 120.0  # automining again: a loaded node may take longer than 0.2 s to mine and answer
    r3 = client.transfer(usdc, OTHER, 1)
    assert r3.nonce == n0 + 2


def test_nonce_of_a_rejected_send_is_reused_so_no_gap_forms(chain: AnvilNode, tokens: Tokens) -> None:
    client = EvmClient(chain.url, SecretStr(KEY), receipt_timeout=0.2)
    usdc = tokens.usdc.address
    n0, other0 = nonce_of(client), client.balance_of(usdc, OTHER)
    chain.rpc("evm_setAutomine", [False])
    try:
        with pytest.raises(TransactionTimeoutError) as first:
            client.transfer(usdc, OTHER, 1)  # nonce n0, in flight
        with pytest.raises(LiveExecutionError) as rejected:  # the node refuses it outright (no funds)
            client.send({"to": OTHER}, value=10**30, gas=21_000)
        assert not isinstance(rejected.value, TransactionTimeoutError)
        with pytest.raises(TransactionTimeoutError) as third:
            client.transfer(usdc, OTHER, 4)
        assert (first.value.nonce, third.value.nonce) == (n0, n0 + 1)  # n0 + 1 reused: no gap
        chain.rpc("evm_mine")
    finally:
        chain.rpc("evm_setAutomine", [True])
    assert client.resume(third.value.tx_hash).nonce == n0 + 1
    assert client.resume(first.value.tx_hash).nonce == n0
    assert nonce_of(client) == n0 + 2 and client.balance_of(usdc, OTHER) - other0 == 5
    assert "nonce" in str(rejected.value)


class FlakyRpcProxy:
    """A loopback JSON-RPC proxy that can forward ``eth_sendRawTransaction`` and then drop the response,
    and then refuse every request (the RPC 'went down right after accepting')."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.drop_send_responses = 0
        self.go_down_after_drop = False
        self.down = False
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if proxy.down:
                    self.close_connection = True
                    return
                req = urllib.request.Request(proxy.upstream, body, {"Content-Type": "application/json"})
                with urllib.request.urlopen(req, timeout=10) as resp:
                    out = resp.read()
                if b"eth_sendRawTransaction" in body and proxy.drop_send_responses > 0:
                    proxy.drop_send_responses -= 1
                    proxy.down = proxy.go_down_after_drop
                    self.close_connection = True  # accepted upstream, response never delivered
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.02,), daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(chain: AnvilNode) -> Iterator[FlakyRpcProxy]:
    p = FlakyRpcProxy(chain.url)
    try:
        yield p
    finally:
        p.close()


def no_retry_w3(url: str) -> Any:
    """A Web3 without web3's own request retries, so the client itself meets a dropped response."""
    from web3 import Web3

    return Web3(Web3.HTTPProvider(url, exception_retry_configuration=None, cache_allowed_requests=True))


@pytest.mark.parametrize("web3_retries", [False, True])
def test_dropped_send_response_is_recognised_by_hash(
    proxy: FlakyRpcProxy, tokens: Tokens, caplog: pytest.LogCaptureFixture, web3_retries: bool
) -> None:
    caplog.set_level(logging.INFO, logger="basis_core.live.evm")
    w3 = None if web3_retries else no_retry_w3(proxy.url)
    client = EvmClient(proxy.url, SecretStr(KEY), receipt_timeout=10.0, w3=w3)
    usdc = tokens.usdc.address
    n0, other0 = nonce_of(client), client.balance_of(usdc, OTHER)
    proxy.drop_send_responses = 1
    r = client.transfer(usdc, OTHER, 5)
    assert proxy.drop_send_responses == 0  # the response was dropped
    if not web3_retries:
        assert "but the node has it" in caplog.text
    assert r.nonce == n0 and nonce_of(client) == n0 + 1  # sent once, the nonce used once
    assert client.balance_of(usdc, OTHER) - other0 == 5


def test_rpc_down_after_send_is_ambiguous_then_resumed(proxy: FlakyRpcProxy, tokens: Tokens) -> None:
    client = EvmClient(proxy.url, SecretStr(KEY), receipt_timeout=10.0, w3=no_retry_w3(proxy.url))
    usdc = tokens.usdc.address
    n0, other0 = nonce_of(client), client.balance_of(usdc, OTHER)
    proxy.drop_send_responses, proxy.go_down_after_drop = 1, True
    with pytest.raises(TransactionTimeoutError) as ei:
        client.transfer(usdc, OTHER, 9)
    assert ei.value.nonce == n0 and ei.value.tx_hash in client.pending
    proxy.down = False  # the RPC comes back
    r = client.resume(ei.value.tx_hash)
    assert r.nonce == n0 and not client.pending
    assert nonce_of(client) == n0 + 1 and client.balance_of(usdc, OTHER) - other0 == 9


def test_concurrent_sends_get_distinct_nonces(client: EvmClient, tokens: Tokens) -> None:
    usdc = tokens.usdc.address
    n0, other0 = nonce_of(client), client.balance_of(usdc, OTHER)
    receipts: list[Any] = []
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for j in range(3):
                receipts.append(client.transfer(usdc, OTHER, 100 * k + j + 1))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(r.nonce for r in receipts) == list(range(n0, n0 + 12))
    assert nonce_of(client) == n0 + 12 and not client.pending
    assert client.balance_of(usdc, OTHER) - other0 == sum(100 * k + j + 1 for k in range(4) for j in range(3))


def test_transfer_deltas_equal_balance_changes(client: EvmClient, tokens: Tokens) -> None:
    usdc, weth = tokens.usdc.address, tokens.weth.address
    client.send(tokens.weth.functions.deposit(), value=10**18)
    for fn, who in (
        (tokens.usdc.functions.transfer(OTHER, 123_456), OTHER),
        (tokens.usdc.functions.transfer(client.address, 999), client.address),  # to self: net 0
        (tokens.weth.functions.transfer(OTHER, 3 * 10**17), client.address),
        (tokens.weth.functions.withdraw(2 * 10**17), client.address),
    ):
        before = {t: client.balance_of(t, who) for t in (usdc, weth)}
        mine_before = {t: client.balance_of(t) for t in (usdc, weth)}
        r = client.send(fn)
        assert client.transfer_deltas(r, [usdc, weth], who) == {
            t: client.balance_of(t, who) - before[t] for t in (usdc, weth)}
        assert client.transfer_deltas(r, [usdc, weth]) == {
            t: client.balance_of(t) - mine_before[t] for t in (usdc, weth)}


def test_approve_skips_when_allowance_suffices(client: EvmClient, tokens: Tokens) -> None:
    usdc = tokens.usdc.address
    assert client.approve(usdc, OTHER, 100) is not None
    assert client.allowance(usdc, OTHER) == 100
    n = nonce_of(client)
    assert client.approve(usdc, OTHER, 50) is None and nonce_of(client) == n  # nothing sent
    assert client.approve(usdc, OTHER, 200, mode="unlimited", zero_first=True) is not None
    assert client.allowance(usdc, OTHER) == evm.MAX_UINT256
    assert nonce_of(client) == n + 2  # reset to 0, then the new approval
    with pytest.raises(ConfigError):
        client.approve(usdc, OTHER, 10**30, mode="infinite")  # type: ignore[arg-type]


def test_decimals_are_cached(client: EvmClient, tokens: Tokens, monkeypatch: pytest.MonkeyPatch) -> None:
    usdc = tokens.usdc.address
    assert client.decimals(usdc) == 6
    monkeypatch.setattr(client, "erc20", lambda token: (_ for _ in ()).throw(AssertionError("no RPC expected")))
    assert client.decimals(usdc) == 6 and client.decimals(usdc.lower()) == 6


def test_gas_cap_refuses_before_sending(chain: AnvilNode, tokens: Tokens) -> None:
    client = EvmClient(chain.url, SecretStr(KEY), max_fee_per_gas_cap=1)
    n0 = nonce_of(client)
    with pytest.raises(LiveExecutionError, match="max_fee_per_gas_cap"):
        client.transfer(tokens.usdc.address, OTHER, 1)
    assert nonce_of(client) == n0 and not client.pending


def test_private_key_never_shown(chain: AnvilNode, tokens: Tokens, caplog: pytest.LogCaptureFixture) -> None:
    forms = {KEY, KEY.lower(), KEY.upper(), KEY[2:], KEY[2:].upper()}

    def clean(text: str) -> bool:
        return not any(f in text for f in forms)

    caplog.set_level(logging.DEBUG)
    client = EvmClient(chain.url + "/v3/api-key-in-path", SecretStr(KEY), receipt_timeout=0.2)
    assert clean(repr(client)) and clean(str(client)) and "api-key-in-path" not in repr(client)
    client = EvmClient(chain.url, KEY)  # a plain str is wrapped at once
    assert clean(repr(client)) and clean(str(client)) and clean(repr(vars(client) if hasattr(client, "__dict__")
                                                                      else ""))
    errors: list[BaseException] = []
    client.transfer(tokens.usdc.address, OTHER, 1)
    for kwargs in ({}, {"gas": 100_000}):
        try:
            client.send(tokens.usdc.functions.transfer(OTHER, 10**30), **kwargs)
        except ContractRevertError as e:
            errors.append(e)
    chain.rpc("evm_setAutomine", [False])
    try:
        client.transfer(tokens.usdc.address, OTHER, 1)
    except TransactionTimeoutError as e:
        errors.append(e)
    finally:
        chain.rpc("evm_mine")
        chain.rpc("evm_setAutomine", [True])
    for bad in ("0x1234zz", KEY[:-2]):
        try:
            EvmClient(chain.url, SecretStr(bad))
        except ConfigError as e:
            errors.append(e)
            assert bad not in str(e) and bad[2:] not in str(e) and e.__cause__ is None and e.__suppress_context__
    assert len(errors) == 5
    for e in errors:
        assert clean(str(e)) and clean(repr(e)) and clean(repr(e.args))
    assert caplog.records and clean(caplog.text)
    with pytest.raises(TypeError):
        pickle.dumps(client)
