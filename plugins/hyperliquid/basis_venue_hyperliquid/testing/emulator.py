"""A protocol-faithful local Hyperliquid emulator that the real ccxt client talks to over HTTP.

Built on :class:`basis_core.testing.http_emulator.EmulatorServer` (threaded stdlib server, fault
injection under route keys such as ``"POST /exchange:order"`` or ``"POST /info:orderStatus"``).

What it speaks (Hyperliquid's wire format, as ccxt 4.5.90 uses it):

- ``POST /info`` types ``meta``, ``spotMeta``, ``metaAndAssetCtxs``, ``spotMetaAndAssetCtxs``,
  ``perpDexs``, ``allMids``, ``clearinghouseState``, ``spotClearinghouseState``, ``openOrders``,
  ``frontendOpenOrders``, ``orderStatus`` (oid int or cloid hex), ``historicalOrders``,
  ``userFills``, ``userFillsByTime``, ``userFunding``, ``userNonFundingLedgerUpdates`` (spot <-> perp
  transfers), ``userFees``, ``userAbstraction``, ``exchangeStatus``. An unknown type or a body that does
  not parse answers 422 ``Failed to deserialize the JSON body into
  the target type``.
- ``POST /exchange`` actions ``order`` (limit Gtc / Ioc / Alo, reduce-only, cloid), ``cancel``,
  ``cancelByCloid``, ``batchModify``, ``updateLeverage``, ``usdClassTransfer`` (user-signed, master
  key only), ``approveBuilderFee`` and ``setReferrer`` (accepted and recorded, so tests can prove
  they are never sent); ``withdraw3`` and ``usdSend`` (user-signed) with bridge deposits over a shared
  transfer network (:mod:`basis_venue_hyperliquid.testing.wallet`).

An L1 action may carry ``expiresAfter`` (ms since the epoch, part of the signed hash, see
:func:`action_hash`): once :meth:`~basis_core.testing.http_emulator.EmulatorServer.now_ms` is past it the
action is refused (``Action expired: ...``; message not confirmed against the live venue) before its nonce is
used, so a request delayed in transit cannot take effect after its sender's landing window. A tampered
``expiresAfter`` changes the hash, so the signer recovers to another address and the action is refused.
User-signed actions (``usdClassTransfer``) do not support it (refused when present).

Signatures are checked the venue's way: the signer is *recovered* (EIP-712, see
:func:`recover_l1_signer` / :func:`recover_user_signed_signer`) and must be the master address or one
of its agent (API wallet) addresses; otherwise ``{"status":"err","response":"User or API Wallet 0x..
does not exist."}``. Nonces are per signer: a reused one answers ``Invalid nonce: duplicate nonce N``;
one at or below the smallest of the signer's 100 highest, or outside ``(now - 2 days, now + 1 day)``,
answers ``Invalid nonce: nonce too low ...`` / ``... too high ...``.

Market model (no order book, only a mark price per coin):

- a marketable order (buy at or above the mark, sell at or below it) fills in full at the mark, as
  taker; ccxt's market orders are IOC limits at mark x (1 +/- 5 %), so they fill at the mark;
- a non-marketable Gtc order rests; Ioc is rejected (``Order could not immediately match ...``);
  Alo that would cross is rejected (``Post only order would have immediately matched ...``);
- :meth:`HyperliquidEmulator.set_mark` moves a coin: resting orders it crosses fill in full at their
  limit price, as maker;
- perps: cross margin, signed ``szi``, weighted-average ``entryPx``, realized PnL and fees settle in
  the perp USDC balance; initial margin = ``|szi| * mark / leverage`` (default leverage
  ``min(20, maxLeverage)``); an order that increases exposure needs ``increase * px / leverage``
  (+ taker fee) of free margin (``Insufficient margin to place order.``); reduce-only must reduce
  (``Reduce only order would increase position.``) and is clamped to the position size at fill;
- spot: buying pays ``sz * px`` USDC and receives ``sz * (1 - fee)`` of the base token (fee in the
  received token); selling receives ``sz * px * (1 - fee)`` USDC; resting orders hold their balance;
- fees (Hyperliquid base tier): perp taker 0.045 %, maker 0.015 %; spot taker 0.07 %, maker 0.04 %;
  kept as exact Decimals (the venue shows 6 decimals);
- a cloid already used by an accepted (not rejected) order of the account is refused per order with
  ``Duplicate cloid.`` (message not confirmed against the live venue);
- an order action carrying ``builder`` is refused (``Builder fee has not been approved.``) unless the
  emulator was built with ``allow_builder=True`` *and* that builder was approved.

Every response is the venue's shape: per-order / per-cancel problems come back as
``{"status":"ok","response":{"type":...,"data":{"statuses":[{"error":"..."}]}}}``; whole-action problems
as ``{"status":"err","response":"..."}``; an unknown order in ``orderStatus`` as ``{"status":"unknownOid"}``.

A market that moves: :meth:`HyperliquidEmulator.attach_replay` follows a price path (perp marks and an hourly
funding schedule, :mod:`basis_core.testing.replay`) on an accelerated clock: marks change as the path's rows
are crossed (resting orders fill at the marks they cross), and funding settles at the schedule's times at the
mark of that time (``userFunding`` rows, ``fundingHistory``, ``metaAndAssetCtxs`` with the next rate).

Limitations: one book-less price per coin, full fills only, no trigger / TWAP / vault actions, no
liquidations, isolated margin is recorded but computed like cross, liquidation price is a single-position
approximation.
"""

from __future__ import annotations

import copy
import json
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext
from typing import Any, Literal

import msgpack
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from basis_core.numeric import dec as _dec
from basis_core.testing.http_emulator import EmulatorServer, Fault, Response, json_response
from basis_core.testing.replay import ReplayEvent
from basis_venue_hyperliquid.testing.wallet import HyperliquidWallet

__all__ = [
    "DEFAULT_MARKS",
    "FEES",
    "ExchangeRecord",
    "HyperliquidEmulator",
    "PerpAsset",
    "SignatureError",
    "SpotPair",
    "SpotToken",
    "action_hash",
    "recover_l1_signer",
    "recover_user_signed_signer",
]

# ================================================================================================
# Signing (what the venue checks)
# ================================================================================================

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"

L1_DOMAIN: dict[str, Any] = {
    "name": "Exchange",
    "version": "1",
    "chainId": 1337,
    "verifyingContract": ZERO_ADDRESS,
}
AGENT_TYPES: dict[str, Any] = {
    "Agent": [
        {"name": "source", "type": "string"},
        {"name": "connectionId", "type": "bytes32"},
    ]
}

def _eip712_fields(spec: str) -> list[dict[str, str]]:
    """EIP-712 struct fields from ``"name:type name:type ..."``."""
    return [{"name": n, "type": t} for n, t in (f.split(":") for f in spec.split())]


#: EIP-712 primary type and fields of the user-signed actions the emulator knows, by action ``type``.
USER_SIGNED_TYPES: dict[str, tuple[str, list[dict[str, str]]]] = {
    "usdClassTransfer": ("HyperliquidTransaction:UsdClassTransfer",
                         _eip712_fields("hyperliquidChain:string amount:string toPerp:bool nonce:uint64")),
    "withdraw3": ("HyperliquidTransaction:Withdraw",
                  _eip712_fields("hyperliquidChain:string destination:string amount:string time:uint64")),
    "usdSend": ("HyperliquidTransaction:UsdSend",
                _eip712_fields("hyperliquidChain:string destination:string amount:string time:uint64")),
    "approveBuilderFee": ("HyperliquidTransaction:ApproveBuilderFee",
                          _eip712_fields("hyperliquidChain:string maxFeeRate:string builder:address nonce:uint64")),
}


_MAX_FILLS = 2000  # fills per userFills / userFillsByTime answer, as on the venue

class SignatureError(ValueError):
    """The signature is malformed: no signer can be recovered from it."""


def action_hash(
    action: Mapping[str, Any], vault_address: str | None, nonce: int, expires_after: int | None = None
) -> bytes:
    """The 32-byte ``connectionId`` of an L1 action.

    ``keccak(msgpack(action) || nonce (8 bytes BE) || vault flag [|| 0x00 || expiresAfter (8 bytes BE)])``,
    the vault flag being ``0x00`` or ``0x01 || 20-byte address``. The action is packed as received
    (key order kept), as the venue hashes its wire form.
    """
    data = msgpack.packb(action, use_bin_type=True) + int(nonce).to_bytes(8, "big")
    if vault_address is None:
        data += b"\x00"
    else:
        hexpart = vault_address[2:] if vault_address.lower().startswith("0x") else vault_address
        data += b"\x01" + bytes.fromhex(hexpart)
    if expires_after is not None:
        data += b"\x00" + int(expires_after).to_bytes(8, "big")
    return bytes(keccak(data))


def _vrs(signature: Mapping[str, Any]) -> tuple[int, int, int]:
    try:
        r = signature["r"]
        s = signature["s"]
        v = int(signature["v"])
        r_int = int(r, 16) if isinstance(r, str) else int(r)
        s_int = int(s, 16) if isinstance(s, str) else int(s)
    except (KeyError, TypeError, ValueError) as e:
        raise SignatureError("malformed signature") from e
    return v, r_int, s_int


def _recover(signable: Any, signature: Mapping[str, Any]) -> str:
    vrs = _vrs(signature)
    try:
        return str(Account.recover_message(signable, vrs=vrs)).lower()
    except Exception as e:  # eth_keys raises BadSignature / ValidationError for junk
        raise SignatureError("unable to recover signer") from e


def recover_l1_signer(
    action: Mapping[str, Any],
    nonce: int,
    signature: Mapping[str, Any],
    *,
    testnet: bool,
    vault_address: str | None = None,
    expires_after: int | None = None,
) -> str:
    """Lower-case address that signed an L1 action as phantom agent ``Agent{source, connectionId}``.

    Domain ``Exchange`` / ``1`` / chainId 1337 / zero address; source ``"b"`` if ``testnet`` else
    ``"a"``. A signature made for the other network or over other bytes recovers to some other
    address (it does not raise); only a malformed signature raises :class:`SignatureError`.
    """
    connection_id = action_hash(action, vault_address, nonce, expires_after)
    signable = encode_typed_data(
        domain_data=L1_DOMAIN,
        message_types=AGENT_TYPES,
        message_data={"source": "b" if testnet else "a", "connectionId": connection_id},
    )
    return _recover(signable, signature)


def recover_user_signed_signer(action: Mapping[str, Any], signature: Mapping[str, Any]) -> str:
    """Lower-case address that signed a user-signed action.

    Domain ``HyperliquidSignTransaction`` / ``1`` / chainId ``int(action["signatureChainId"], 16)``
    (ccxt: 0x66eee) / zero address; primary type ``HyperliquidTransaction:<Name>`` over the action's
    own fields.
    """
    kind = action.get("type")
    if kind not in USER_SIGNED_TYPES:
        raise SignatureError(f"not a user-signed action type: {kind!r}")
    primary, fields = USER_SIGNED_TYPES[str(kind)]
    try:
        chain_id = int(str(action["signatureChainId"]), 16)
        message = {f["name"]: action[f["name"]] for f in fields}
        signable = encode_typed_data(
            domain_data={
                "name": "HyperliquidSignTransaction",
                "version": "1",
                "chainId": chain_id,
                "verifyingContract": ZERO_ADDRESS,
            },
            message_types={primary: fields},
            message_data=message,
        )
    except Exception as e:
        raise SignatureError("malformed user-signed action") from e
    return _recover(signable, signature)


# ================================================================================================
# Universe
# ================================================================================================


@dataclass(frozen=True)
class PerpAsset:
    """A perpetual: ``index`` is its asset id; sizes are multiples of ``10**-sz_decimals``."""

    name: str
    index: int
    sz_decimals: int
    max_leverage: int


@dataclass(frozen=True)
class SpotToken:
    """A spot token; ``price_coin`` names the mark (in :attr:`HyperliquidEmulator.marks`) it trades at."""

    name: str
    index: int
    sz_decimals: int
    wei_decimals: int
    token_id: str
    full_name: str | None = None
    price_coin: str | None = None


@dataclass(frozen=True)
class SpotPair:
    """A spot market: asset id ``10000 + index``; ``name`` is ``"@index"`` except the first pair."""

    name: str
    index: int
    base: int  # token index
    quote: int  # token index

    @property
    def asset(self) -> int:
        return 10000 + self.index


PERPS: tuple[PerpAsset, ...] = (
    PerpAsset("BTC", 0, 5, 40),
    PerpAsset("ETH", 1, 4, 25),
)
TOKENS: tuple[SpotToken, ...] = (
    SpotToken("USDC", 0, 8, 8, "0x6d1e7cde53ba9467b783cb7c530ce054", None, None),
    SpotToken("PURR", 1, 0, 5, "0xc1fb593aeffbeb02f85e0308e9956a90", None, "PURR"),
    # wrapped ETH is "UETH" ("Unit Ethereum"); ccxt maps it to ETH (options.spotCurrencyMapping)
    SpotToken("UETH", 2, 4, 9, "0xe1edd30daaf5caac3fe63569e24748da", "Unit Ethereum", "ETH"),
)
PAIRS: tuple[SpotPair, ...] = (
    SpotPair("PURR/USDC", 0, 1, 0),
    SpotPair("@1", 1, 2, 0),  # UETH/USDC -> ccxt "ETH/USDC", asset 10001
)

#: Default marks (USDC per unit of the coin).
DEFAULT_MARKS: dict[str, Decimal] = {"BTC": Decimal("100000"), "ETH": Decimal("3000"), "PURR": Decimal("0.2")}

#: Hyperliquid base-tier fee rates.
FEES: dict[str, Decimal] = {
    "perp_taker": Decimal("0.00045"),
    "perp_maker": Decimal("0.00015"),
    "spot_taker": Decimal("0.0007"),
    "spot_maker": Decimal("0.0004"),
}

_DESERIALIZE = "Failed to deserialize the JSON body into the target type"
_CLOID_RE = re.compile(r"^0x[0-9a-f]{32}$")
_NONCE_BACK_MS = 2 * 86_400_000
_NONCE_AHEAD_MS = 86_400_000
_NONCE_SET = 100
_MIN_NOTIONAL = Decimal(10)
_PX_BAND = Decimal("0.8")


def _fmt(d: Decimal) -> str:
    """Hyperliquid-style decimal string: ``"3000.0"``, ``"0.1"``, ``"0.0"`` (never exponent form)."""
    if d == 0:
        return "0.0"
    s = format(d.normalize(), "f")
    return s if "." in s else s + ".0"


class _BadRequest(Exception):
    """The body does not deserialize into the venue's types (answered 422)."""


# ================================================================================================
# State
# ================================================================================================


@dataclass
class _Order:
    oid: int
    user: str
    coin: str
    asset: int
    is_buy: bool
    limit_px: Decimal
    orig_sz: Decimal
    sz: Decimal
    tif: str
    reduce_only: bool
    cloid: str | None
    timestamp: int
    status: str = "open"
    status_ts: int = 0
    filled_sz: Decimal = Decimal(0)
    filled_ntl: Decimal = Decimal(0)

    @property
    def is_spot(self) -> bool:
        return self.asset >= 10000

    def frontend(self) -> dict[str, Any]:
        return {
            "children": [],
            "cloid": self.cloid,
            "coin": self.coin,
            "isPositionTpsl": False,
            "isTrigger": False,
            "limitPx": _fmt(self.limit_px),
            "oid": self.oid,
            "orderType": "Limit",
            "origSz": _fmt(self.orig_sz),
            "reduceOnly": self.reduce_only,
            "side": "B" if self.is_buy else "A",
            "sz": _fmt(self.sz),
            "tif": self.tif,
            "timestamp": self.timestamp,
            "triggerCondition": "N/A",
            "triggerPx": "0.0",
        }


@dataclass
class _Position:
    szi: Decimal = Decimal(0)
    entry_px: Decimal = Decimal(0)
    cum_funding: Decimal = Decimal(0)


@dataclass
class _Account:
    master: str
    agents: set[str]
    perp_usdc: Decimal
    spot: dict[str, Decimal]
    positions: dict[str, _Position] = field(default_factory=dict)
    leverage: dict[str, tuple[str, int]] = field(default_factory=dict)
    fills: list[dict[str, Any]] = field(default_factory=list)
    funding: list[dict[str, Any]] = field(default_factory=list)  # userFunding rows, oldest first
    ledger: list[dict[str, Any]] = field(default_factory=list)  # userNonFundingLedgerUpdates rows, oldest first
    builder_approvals: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExchangeRecord:
    """One ``/exchange`` request as the emulator saw it (never a key: signatures are left out)."""

    type: str
    action: dict[str, Any]
    nonce: int | None
    signer: str | None
    vault_address: str | None
    response: Any


# ================================================================================================
# The emulator
# ================================================================================================


class HyperliquidEmulator(HyperliquidWallet, EmulatorServer):
    """Local Hyperliquid (/info, /exchange) with signer recovery, a mark-price market and fault injection.

    ``master``: the account address (the ``user`` of /info queries and the only valid signer of
    user-signed actions); ``agents``: API-wallet addresses allowed to sign L1 actions for it;
    ``perp_usdc``: initial perp margin balance; ``spot_balances``: initial spot totals by token name
    (``USDC``, ``UETH`` (alias ``ETH``), ``PURR``); ``marks``: mark prices by coin (``BTC``, ``ETH``,
    ``PURR``; UETH trades at the ETH mark); ``fees``: overrides of :data:`FEES`; ``testnet``: expect
    phantom-agent source ``"b"`` and ``hyperliquidChain "Testnet"`` (default mainnet ``"a"`` /
    ``"Mainnet"``); ``allow_builder``: accept orders with a ``builder`` field once that builder was
    approved (default: refuse them all); ``unique_cloids``: refuse a second order with a cloid already
    accepted (default; unconfirmed venue behaviour: turn it off to prove exactly-once holds without it).
    """

    def __init__(
        self,
        master: str,
        agents: Iterable[str] = (),
        perp_usdc: Decimal | int | str = Decimal(0),
        spot_balances: Mapping[str, Decimal | int | str] | None = None,
        marks: Mapping[str, Decimal | int | str] | None = None,
        fees: Mapping[str, Decimal | int | str] | None = None,
        *,
        testnet: bool = False,
        allow_builder: bool = False,
        unique_cloids: bool = True,
        default_leverage: int = 20,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host=host, port=port)
        self.testnet = testnet
        self.unique_cloids = unique_cloids
        self.allow_builder = allow_builder
        self.default_leverage = default_leverage
        self.perps: dict[int, PerpAsset] = {p.index: p for p in PERPS}
        self.perps_by_name: dict[str, PerpAsset] = {p.name: p for p in PERPS}
        self.tokens: dict[int, SpotToken] = {t.index: t for t in TOKENS}
        self.tokens_by_name: dict[str, SpotToken] = {t.name: t for t in TOKENS}
        self.pairs: dict[int, SpotPair] = {p.index: p for p in PAIRS}
        self.pairs_by_name: dict[str, SpotPair] = {p.name: p for p in PAIRS}
        self.marks: dict[str, Decimal] = dict(DEFAULT_MARKS)
        for k, v in (marks or {}).items():
            self.marks[k] = _dec(v)
        self.fees: dict[str, Decimal] = dict(FEES)
        for k, v in (fees or {}).items():
            if k not in FEES:
                raise ValueError(f"unknown fee {k!r}; known: {', '.join(FEES)}")
            self.fees[k] = _dec(v)
        self.accounts: dict[str, _Account] = {}
        self._signers: dict[str, str] = {}  # signer -> master
        self.orders: dict[int, _Order] = {}
        self.exchange_log: list[ExchangeRecord] = []
        self._nonces: dict[str, list[int]] = {}
        self._next_oid = 10_000_000_000
        self._next_tid = 500_000_000_000
        # funding_settlements (a replay's, oldest first): coin, market time (ns), wall time (ms), rate, mark
        self.add_account(master, agents, perp_usdc, spot_balances)

    # -- setup / inspection ----------------------------------------------------------------------
    def add_account(
        self,
        master: str,
        agents: Iterable[str] = (),
        perp_usdc: Decimal | int | str = Decimal(0),
        spot_balances: Mapping[str, Decimal | int | str] | None = None,
    ) -> None:
        """Register an account (master address, its agents and initial balances)."""
        m = master.lower()
        spot: dict[str, Decimal] = {}
        for name, amount in (spot_balances or {}).items():
            spot[self._token_name(name)] = _dec(amount)
        with self.lock:
            self.accounts[m] = _Account(m, {a.lower() for a in agents}, _dec(perp_usdc), spot)
            self._signers[m] = m
            for a in agents:
                self._signers[a.lower()] = m

    def _token_name(self, name: str) -> str:
        if name == "ETH":
            return "UETH"
        if name not in self.tokens_by_name:
            raise ValueError(f"unknown spot token {name!r}; known: {', '.join(self.tokens_by_name)}")
        return name

    def account(self, user: str | None = None) -> _Account:
        """The account of ``user`` (default: the first registered)."""
        if user is None:
            return next(iter(self.accounts.values()))
        return self.accounts[user.lower()]

    def perp_usdc(self, user: str | None = None) -> Decimal:
        """Perp USDC balance excluding unrealized PnL (``totalRawUsd + sum(szi * mark)``)."""
        with self.lock:
            return self.account(user).perp_usdc

    def spot_balance(self, token: str, user: str | None = None) -> Decimal:
        """Spot total of ``token`` (``USDC``, ``UETH`` / ``ETH``, ``PURR``), holds included."""
        with self.lock:
            return self.account(user).spot.get(self._token_name(token), Decimal(0))

    def position(self, coin: str, user: str | None = None) -> tuple[Decimal, Decimal]:
        """``(szi, entryPx)`` of the perp position in ``coin`` (``(0, 0)`` when flat)."""
        with self.lock:
            p = self.account(user).positions.get(coin)
            return (p.szi, p.entry_px) if p else (Decimal(0), Decimal(0))

    @property
    def positions(self) -> dict[str, tuple[Decimal, Decimal]]:
        """Open perp positions of the first account: coin -> ``(szi, entryPx)``."""
        with self.lock:
            return {c: (p.szi, p.entry_px) for c, p in self.account().positions.items() if p.szi != 0}

    def account_value(self, user: str | None = None) -> Decimal:
        """Perp account value: USDC balance plus unrealized PnL."""
        with self.lock:
            return self._account_value(self.account(user))

    def orders_for_cloid(self, cloid: str) -> list[dict[str, Any]]:
        """Every order (any account, any status, rejected ones included) that carried ``cloid``."""
        c = cloid.lower()
        with self.lock:
            return [self._order_view(o) for o in self.orders.values() if o.cloid == c]

    def order(self, oid: int) -> dict[str, Any] | None:
        """Snapshot of order ``oid`` (frontend fields plus ``status``), or None."""
        with self.lock:
            o = self.orders.get(oid)
            return self._order_view(o) if o else None

    def fills(self, user: str | None = None) -> list[dict[str, Any]]:
        """The account's fills, oldest first, in ``userFills`` format."""
        with self.lock:
            return copy.deepcopy(self.account(user).fills)

    def builder_fields(self) -> list[Any]:
        """Every ``builder`` value seen on an order action (accepted or refused); [] if none was sent."""
        with self.lock:
            return [
                r.action["builder"] for r in self.exchange_log if r.type == "order" and "builder" in r.action
            ]

    def _order_view(self, o: _Order) -> dict[str, Any]:
        view = o.frontend()
        view["status"] = o.status
        view["statusTimestamp"] = o.status_ts
        view["user"] = o.user
        return view

    # -- market control --------------------------------------------------------------------------
    def set_mark(self, coin: str, px: Decimal | int | str) -> list[int]:
        """Move ``coin``'s mark (perp and spot pairs priced off it); returns the oids that filled."""
        with self.lock:
            self.marks[coin] = _dec(px)
            return self._match_resting(coin)

    def apply_funding(self, coin: str, rate: Decimal | int | str, at_ms: int | None = None) -> None:
        """Settle one funding payment: each position pays ``szi * mark * rate`` USDC (longs pay if > 0), booked
        at ``at_ms`` (default now)."""
        r = _dec(rate)
        with self.lock:
            mark = self.marks[coin]
            for acct in self.accounts.values():
                p = acct.positions.get(coin)
                if p and p.szi != 0:
                    pay = p.szi * mark * r
                    acct.perp_usdc -= pay
                    p.cum_funding += pay
                    acct.funding.append({"time": self.now_ms() if at_ms is None else at_ms,
                                         "hash": "0x" + secrets.token_hex(32), "delta": {
                        "type": "funding", "coin": coin, "usdc": _fmt(-pay), "szi": _fmt(p.szi),
                        "fundingRate": _fmt(r)}})

    # -- replayed market ---------------------------------------------------------------------------
    replay_subject = "mark series for any Hyperliquid coin"

    def replay_wanted(self) -> dict[str, tuple[Literal["price", "funding"], list[str]]]:
        """Series per perp coin: mark ``perp:hyperliquid:ETH/USDC:USDC`` (spot pairs priced off the coin follow
        it), funding ``funding:hyperliquid:ETH/USDC:USDC``. Coins without a series keep their fixed mark
        (:meth:`attach_replay` follows them)."""
        wanted: dict[str, tuple[Literal["price", "funding"], list[str]]] = {}
        for p in self.perps.values():
            u = f"{p.name}/USDC:USDC"
            wanted[f"mark:{p.name}"] = ("price", [f"perp:hyperliquid:{u}"])
            wanted[f"funding:{p.name}"] = ("funding", [f"funding:hyperliquid:{u}"])
        return wanted

    def on_replay_event(self, ev: ReplayEvent) -> None:
        """A new mark, or a funding settlement (applied and recorded)."""
        coin = ev.key.split(":", 1)[1]
        if ev.kind == "price":
            self.set_mark(coin, ev.value)
            return
        at_ms = self.replay_wall_ms(ev.time_ns)
        self.apply_funding(coin, ev.value, at_ms)
        self.funding_settlements.append({"coin": coin, "market_time_ns": ev.time_ns, "time": at_ms,
                                         "rate": ev.value, "mark": self.marks[coin]})

    def _next_rate(self, coin: str) -> Decimal | None:
        if self.replay is None:
            return None
        upcoming = self.replay.predicted_funding(f"funding:{coin}")
        return None if upcoming is None else upcoming[1]

    # -- routing ---------------------------------------------------------------------------------
    def route_key(self, method: str, path: str, body: bytes, query: dict[str, str]) -> str:
        """``"POST /info:<type>"`` or ``"POST /exchange:<action type>"``; else ``"METHOD /path"``."""
        base = f"{method} {path}"
        if method == "POST" and path in ("/info", "/exchange"):
            try:
                obj = json.loads(body or b"null")
                kind = obj["type"] if path == "/info" else obj["action"]["type"]
                return f"{base}:{kind}"
            except Exception:
                return base
        return base

    def loggable_params(self, method: str, path: str, query: dict[str, str], body: bytes) -> dict[str, str]:
        """``type`` / ``user`` of /info; action ``type``, ``nonce``, ``expiresAfter`` and ``builder`` (if any) of
        /exchange."""
        try:
            obj = json.loads(body or b"null")
        except ValueError:
            return {}
        if not isinstance(obj, dict):
            return {}
        if path == "/info":
            return {k: str(obj[k]) for k in ("type", "user") if k in obj}
        action = obj.get("action")
        if not isinstance(action, dict):
            return {}
        out = {"type": str(action.get("type")), "nonce": str(obj.get("nonce"))}
        if "expiresAfter" in obj:
            out["expiresAfter"] = str(obj["expiresAfter"])
        if "builder" in action:
            out["builder"] = json.dumps(action["builder"], sort_keys=True)
        return out

    def fault_response(self, fault: Fault) -> Response:
        """429 / 418 / 5xx answer with a plain-text body (Hyperliquid's gateway does not send JSON)."""
        texts = {"http_429": (429, "Too Many Requests"), "http_418": (418, "I'm a teapot")}
        if fault.kind in texts:
            status, text = texts[fault.kind]
            return status, {"Content-Type": "text/plain"}, text.encode()
        if fault.kind == "http_5xx":
            return fault.status, {"Content-Type": "text/plain"}, b"Internal Server Error"
        return super().fault_response(fault)

    def handle(
        self, method: str, path: str, query: dict[str, str], headers: Mapping[str, str], body: bytes
    ) -> Response:
        if method != "POST" or path not in ("/info", "/exchange"):
            return 404, {"Content-Type": "text/plain"}, b"Not Found"
        self.replay_step()
        self._sync_deposits()
        try:
            obj = json.loads(body or b"null")
            if not isinstance(obj, dict):
                raise _BadRequest
            if path == "/info":
                return json_response(200, self._info(obj))
            return json_response(200, self._exchange(obj))
        except (_BadRequest, ValueError, KeyError, TypeError):
            return 422, {"Content-Type": "text/plain"}, _DESERIALIZE.encode()

    # ============================================================================================
    # /info
    # ============================================================================================
    def _meta(self) -> dict[str, Any]:
        return {
            "universe": [
                {
                    "szDecimals": p.sz_decimals,
                    "name": p.name,
                    "maxLeverage": p.max_leverage,
                    "marginTableId": p.max_leverage,
                }
                for p in self.perps.values()
            ],
            "marginTables": [],
        }

    def _perp_ctxs(self) -> list[dict[str, Any]]:
        out = []
        for p in self.perps.values():
            m = _fmt(self.marks[p.name])
            rate = self._next_rate(p.name)
            out.append(
                {
                    "funding": "0.0000125" if rate is None else _fmt(rate),
                    "openInterest": "0.0",
                    "prevDayPx": m,
                    "dayNtlVlm": "0.0",
                    "premium": "0.0",
                    "oraclePx": m,
                    "markPx": m,
                    "midPx": m,
                    "impactPxs": [m, m],
                    "dayBaseVlm": "0.0",
                }
            )
        return out

    def _spot_meta(self) -> dict[str, Any]:
        return {
            "universe": [
                {"tokens": [p.base, p.quote], "name": p.name, "index": p.index, "isCanonical": p.index == 0}
                for p in self.pairs.values()
            ],
            "tokens": [
                {
                    "name": t.name,
                    "szDecimals": t.sz_decimals,
                    "weiDecimals": t.wei_decimals,
                    "index": t.index,
                    "tokenId": t.token_id,
                    "isCanonical": t.index < 2,
                    "evmContract": None,
                    "fullName": t.full_name,
                    "deployerTradingFeeShare": "0.0",
                }
                for t in self.tokens.values()
            ],
        }

    def _spot_mark(self, pair: SpotPair) -> Decimal:
        coin = self.tokens[pair.base].price_coin
        return self.marks[coin] if coin else Decimal(0)

    def _spot_ctxs(self) -> list[dict[str, Any]]:
        out = []
        for p in self.pairs.values():
            m = _fmt(self._spot_mark(p))
            out.append(
                {
                    "prevDayPx": m,
                    "dayNtlVlm": "0.0",
                    "markPx": m,
                    "midPx": m,
                    "circulatingSupply": "1000000.0",
                    "coin": p.name,
                    "totalSupply": "1000000.0",
                    "dayBaseVlm": "0.0",
                }
            )
        return out

    def _info(self, req: dict[str, Any]) -> Any:
        kind = req.get("type")
        if kind == "meta":
            return self._meta()
        if kind == "metaAndAssetCtxs":
            return [self._meta(), self._perp_ctxs()]
        if kind == "spotMeta":
            return self._spot_meta()
        if kind == "spotMetaAndAssetCtxs":
            return [self._spot_meta(), self._spot_ctxs()]
        if kind == "perpDexs":
            return [None]
        if kind == "exchangeStatus":
            return {"specialStatuses": None, "time": self.now_ms()}
        if kind == "fundingHistory":  # settled funding of a replay, [startTime, endTime], oldest first, 500 max
            coin, start = req["coin"], int(req["startTime"])
            end = int(req.get("endTime") or 2**63)
            return [{"coin": f["coin"], "fundingRate": _fmt(f["rate"]), "premium": "0.0", "time": f["time"]}
                    for f in self.funding_settlements if f["coin"] == coin and start <= f["time"] <= end][:500]
        if kind == "allMids":
            mids = {p.name: _fmt(self.marks[p.name]) for p in self.perps.values()}
            mids.update({p.name: _fmt(self._spot_mark(p)) for p in self.pairs.values()})
            return mids
        user = req.get("user")
        if not isinstance(user, str) or not user.startswith("0x"):
            raise _BadRequest
        acct = self.accounts.get(user.lower()) or _Account(user.lower(), set(), Decimal(0), {})
        if kind == "clearinghouseState":
            return self._clearinghouse(acct)
        if kind == "spotClearinghouseState":
            return self._spot_clearinghouse(acct)
        if kind == "openOrders":
            return [
                {
                    k: v
                    for k, v in o.frontend().items()
                    if k
                    in ("coin", "limitPx", "oid", "side", "sz", "timestamp", "origSz", "cloid", "reduceOnly")
                }
                for o in self._open_orders(acct)
            ]
        if kind == "frontendOpenOrders":
            return [o.frontend() for o in self._open_orders(acct)]
        if kind == "orderStatus":
            return self._order_status(acct, req.get("oid"))
        if kind == "historicalOrders":
            return [
                {"order": o.frontend(), "status": o.status, "statusTimestamp": o.status_ts}
                for o in sorted(self.orders.values(), key=lambda x: -x.oid)
                if o.user == acct.master
            ]
        if kind == "userFills":  # the venue answers at most the 2000 most recent fills, newest first
            return list(reversed(copy.deepcopy(acct.fills[-_MAX_FILLS:])))
        if kind == "userNonFundingLedgerUpdates":  # transfers between spot and perp (and more on the venue)
            start = int(req["startTime"])
            end = int(req.get("endTime") or 2**63)
            return copy.deepcopy([u for u in acct.ledger if start <= u["time"] <= end][:500])
        if kind == "userFunding":  # funding payments in [startTime, endTime], oldest first, at most 500
            start = int(req["startTime"])
            end = int(req.get("endTime") or 2**63)
            return copy.deepcopy([f for f in acct.funding if start <= f["time"] <= end][:500])
        if kind == "userFillsByTime":  # at most 2000 per answer, oldest first (page on by time)
            start = int(req["startTime"])
            end = int(req.get("endTime") or 2**63)
            return copy.deepcopy([f for f in acct.fills if start <= f["time"] <= end][:_MAX_FILLS])
        if kind == "userAbstraction":
            return "default"
        if kind == "userFees":
            f = {k: _fmt(v) for k, v in self.fees.items()}
            return {
                "dailyUserVlm": [],
                "feeSchedule": {
                    "cross": f["perp_taker"],
                    "add": f["perp_maker"],
                    "spotCross": f["spot_taker"],
                    "spotAdd": f["spot_maker"],
                    "tiers": {"vip": [], "mm": []},
                    "referralDiscount": "0.04",
                },
                "userCrossRate": f["perp_taker"],
                "userAddRate": f["perp_maker"],
                "userSpotCrossRate": f["spot_taker"],
                "userSpotAddRate": f["spot_maker"],
                "activeReferralDiscount": "0.0",
            }
        raise _BadRequest

    def _open_orders(self, acct: _Account) -> list[_Order]:
        return sorted(
            (o for o in self.orders.values() if o.user == acct.master and o.status == "open"),
            key=lambda o: -o.oid,
        )

    def _order_status(self, acct: _Account, ref: Any) -> dict[str, Any]:
        found: _Order | None = None
        if isinstance(ref, bool):
            raise _BadRequest
        if isinstance(ref, int):
            o = self.orders.get(ref)
            found = o if o and o.user == acct.master else None
        elif isinstance(ref, str):
            c = ref.lower()
            if not _CLOID_RE.match(c):
                raise _BadRequest
            matches = [o for o in self.orders.values() if o.user == acct.master and o.cloid == c]
            if matches:  # the accepted one if any, else the latest rejection
                accepted = [o for o in matches if not o.status.endswith("Rejected")]
                found = (accepted or matches)[-1]
        else:
            raise _BadRequest
        if found is None:
            return {"status": "unknownOid"}
        return {
            "status": "order",
            "order": {"order": found.frontend(), "status": found.status, "statusTimestamp": found.status_ts},
        }

    # -- account maths -----------------------------------------------------------------------------
    def _lev(self, acct: _Account, coin: str) -> tuple[str, int]:
        if coin in acct.leverage:
            return acct.leverage[coin]
        return ("cross", min(self.default_leverage, self.perps_by_name[coin].max_leverage))

    def _upnl(self, acct: _Account) -> Decimal:
        return sum(
            (p.szi * (self.marks[c] - p.entry_px) for c, p in acct.positions.items() if p.szi != 0),
            Decimal(0),
        )

    def _account_value(self, acct: _Account) -> Decimal:
        return acct.perp_usdc + self._upnl(acct)

    def _margin_used(self, acct: _Account) -> Decimal:
        return sum(
            (
                abs(p.szi) * self.marks[c] / self._lev(acct, c)[1]
                for c, p in acct.positions.items()
                if p.szi != 0
            ),
            Decimal(0),
        )

    def _order_margin(self, acct: _Account) -> Decimal:
        total = Decimal(0)
        for o in self.orders.values():
            if o.user == acct.master and o.status == "open" and not o.is_spot and not o.reduce_only:
                total += o.sz * o.limit_px / self._lev(acct, o.coin)[1]
        return total

    def _withdrawable(self, acct: _Account) -> Decimal:
        return max(Decimal(0), self._account_value(acct) - self._margin_used(acct) - self._order_margin(acct))

    def _spot_holds(self, acct: _Account) -> dict[str, Decimal]:
        holds: dict[str, Decimal] = {}
        for o in self.orders.values():
            if o.user != acct.master or o.status != "open" or not o.is_spot:
                continue
            pair = self.pairs[o.asset - 10000]
            if o.is_buy:
                name, amt = self.tokens[pair.quote].name, o.sz * o.limit_px
            else:
                name, amt = self.tokens[pair.base].name, o.sz
            holds[name] = holds.get(name, Decimal(0)) + amt
        return holds

    def _liq_px(self, acct: _Account, coin: str, p: _Position) -> Decimal | None:
        """Single-position approximation: mark where account value meets maintenance (1 / (2 maxLev))."""
        mmr = Decimal(1) / (2 * self.perps_by_name[coin].max_leverage)
        av = self._account_value(acct)
        m = self.marks[coin]
        denom = p.szi - abs(p.szi) * mmr
        if denom == 0:
            return None
        px = (p.szi * m - av) / denom
        return px if px > 0 else None

    def _clearinghouse(self, acct: _Account) -> dict[str, Any]:
        av = self._account_value(acct)
        ntl = sum((abs(p.szi) * self.marks[c] for c, p in acct.positions.items() if p.szi != 0), Decimal(0))
        signed_ntl = sum((p.szi * self.marks[c] for c, p in acct.positions.items() if p.szi != 0), Decimal(0))
        used = self._margin_used(acct)
        summary = {
            "accountValue": _fmt(av),
            "totalNtlPos": _fmt(ntl),
            "totalRawUsd": _fmt(av - signed_ntl),
            "totalMarginUsed": _fmt(used),
        }
        maint = sum(
            (
                abs(p.szi) * self.marks[c] / (2 * self.perps_by_name[c].max_leverage)
                for c, p in acct.positions.items()
                if p.szi != 0
            ),
            Decimal(0),
        )
        positions = []
        for coin in sorted(acct.positions, key=lambda c: self.perps_by_name[c].index):
            p = acct.positions[coin]
            if p.szi == 0:
                continue
            mark = self.marks[coin]
            kind, lev = self._lev(acct, coin)
            upnl = p.szi * (mark - p.entry_px)
            margin = abs(p.szi) * mark / lev
            roe = upnl / (abs(p.szi) * p.entry_px / lev) if p.entry_px else Decimal(0)
            liq = self._liq_px(acct, coin, p)
            positions.append(
                {
                    "type": "oneWay",
                    "position": {
                        "coin": coin,
                        "szi": _fmt(p.szi),
                        "leverage": {"type": kind, "value": lev},
                        "entryPx": _fmt(p.entry_px),
                        "positionValue": _fmt(abs(p.szi) * mark),
                        "unrealizedPnl": _fmt(upnl),
                        "returnOnEquity": _fmt(roe),
                        "liquidationPx": _fmt(liq) if liq is not None else None,
                        "marginUsed": _fmt(margin),
                        "maxLeverage": self.perps_by_name[coin].max_leverage,
                        "cumFunding": {
                            "allTime": _fmt(p.cum_funding),
                            "sinceOpen": _fmt(p.cum_funding),
                            "sinceChange": _fmt(p.cum_funding),
                        },
                    },
                }
            )
        return {
            "marginSummary": summary,
            "crossMarginSummary": dict(summary),
            "crossMaintenanceMarginUsed": _fmt(maint),
            "withdrawable": _fmt(self._withdrawable(acct)),
            "assetPositions": positions,
            "time": self.now_ms(),
        }

    def _spot_clearinghouse(self, acct: _Account) -> dict[str, Any]:
        holds = self._spot_holds(acct)
        out = []
        for t in self.tokens.values():
            total = acct.spot.get(t.name, Decimal(0))
            if total == 0 and t.name != "USDC" and t.name not in holds:
                continue
            out.append(
                {
                    "coin": t.name,
                    "token": t.index,
                    "hold": _fmt(holds.get(t.name, Decimal(0))),
                    "total": _fmt(total),
                    "entryNtl": "0.0",
                }
            )
        return {"balances": out}

    # ============================================================================================
    # /exchange
    # ============================================================================================
    def _exchange(self, req: dict[str, Any]) -> Any:
        action = req["action"]
        if not isinstance(action, dict) or not isinstance(action.get("type"), str):
            raise _BadRequest
        kind = action["type"]
        nonce = req["nonce"]
        signature = req["signature"]
        vault = req.get("vaultAddress")
        expires = req.get("expiresAfter")
        if not isinstance(nonce, int) or isinstance(nonce, bool) or not isinstance(signature, dict):
            raise _BadRequest
        if expires is not None and (not isinstance(expires, int) or isinstance(expires, bool) or expires < 0):
            raise _BadRequest
        signer: str | None = None

        def done(resp: Any) -> Any:
            self.exchange_log.append(
                ExchangeRecord(kind, copy.deepcopy(action), nonce, signer, vault, copy.deepcopy(resp))
            )
            return resp

        user_signed = kind in USER_SIGNED_TYPES
        try:
            if user_signed:
                signer = recover_user_signed_signer(action, signature)
            else:
                signer = recover_l1_signer(
                    action, nonce, signature, testnet=self.testnet, vault_address=vault, expires_after=expires
                )
        except SignatureError:
            return done({"status": "err", "response": "Unable to recover signer."})

        master = self._signers.get(signer)
        if master is None:
            return done(_err(f"User or API Wallet {signer} does not exist."))
        acct = self.accounts[master]
        if user_signed:
            if signer != master:
                return done(_err(f"Must deposit before performing actions. User: {signer}"))
            if action.get("nonce", action.get("time")) != nonce:  # withdraw3 / usdSend sign it as "time"
                return done(_err("Signed action nonce does not match request nonce."))
            chain = "Testnet" if self.testnet else "Mainnet"
            if action.get("hyperliquidChain") != chain:
                return done(
                    _err(f"Invalid hyperliquidChain {action.get('hyperliquidChain')!r}, expected {chain!r}.")
                )
        if expires is not None:
            if user_signed:
                return done(_err(f"expiresAfter is not supported for user-signed action {kind}."))
            now = self.now_ms()
            if now > expires:  # refused before its nonce is used: nothing happened
                return done(_err(f"Action expired: expiresAfter {expires} is before the current time {now}."))
        nonce_error = self._check_nonce(signer, nonce)
        if nonce_error:
            return done(_err(nonce_error))
        if vault is not None:
            return done(_err("Vault and sub-account actions are not supported by the emulator."))

        handlers = {
            "order": self._act_order,
            "cancel": self._act_cancel,
            "cancelByCloid": self._act_cancel_by_cloid,
            "batchModify": self._act_batch_modify,
            "updateLeverage": self._act_update_leverage,
            "usdClassTransfer": self._act_usd_class_transfer,
            "withdraw3": self._act_withdraw3,
            "usdSend": self._act_usd_send,
            "approveBuilderFee": self._act_approve_builder_fee,
            "setReferrer": self._act_set_referrer,
        }
        handler = handlers.get(kind)
        if handler is None:
            raise _BadRequest
        return done(handler(acct, action))

    def _check_nonce(self, signer: str, nonce: int) -> str | None:
        """Apply Hyperliquid's nonce rules for ``signer``; on success record the nonce."""
        now = self.now_ms()
        used = self._nonces.setdefault(signer, [])
        if nonce in used:
            return f"Invalid nonce: duplicate nonce {nonce}"
        if len(used) >= _NONCE_SET and nonce <= used[0]:
            return f"Invalid nonce: nonce too low {nonce} < {used[0]}"
        if nonce <= now - _NONCE_BACK_MS:
            return f"Invalid nonce: nonce too low {nonce} < {now - _NONCE_BACK_MS}"
        if nonce >= now + _NONCE_AHEAD_MS:
            return f"Invalid nonce: nonce too high {nonce} > {now + _NONCE_AHEAD_MS}"
        used.append(nonce)
        used.sort()
        if len(used) > _NONCE_SET:
            del used[0]
        return None

    # -- order placement -------------------------------------------------------------------------
    def _parse_wire_order(self, wire: Any) -> dict[str, Any]:
        """Deserialize one wire order (``a b p s r t [c]``); structure errors raise :class:`_BadRequest`."""
        if not isinstance(wire, dict):
            raise _BadRequest
        a, b, p, s, r, t = wire["a"], wire["b"], wire["p"], wire["s"], wire["r"], wire["t"]
        if (
            not isinstance(a, int)
            or isinstance(a, bool)
            or not isinstance(b, bool)
            or not isinstance(r, bool)
        ):
            raise _BadRequest
        if not isinstance(p, str) or not isinstance(s, str) or not isinstance(t, dict):
            raise _BadRequest
        try:
            px, sz = Decimal(p), Decimal(s)
        except InvalidOperation as e:
            raise _BadRequest from e
        if not px.is_finite() or not sz.is_finite():
            raise _BadRequest
        c = wire.get("c")
        if c is not None and (not isinstance(c, str) or not _CLOID_RE.match(c.lower())):
            raise _BadRequest
        if "limit" in t:
            tif = t["limit"]["tif"]
            if tif not in ("Gtc", "Ioc", "Alo"):
                raise _BadRequest
        elif "trigger" in t:
            tif = "trigger"
        else:
            raise _BadRequest
        return {
            "asset": a,
            "is_buy": b,
            "px": px,
            "sz": sz,
            "reduce_only": r,
            "tif": tif,
            "cloid": c.lower() if c else None,
        }

    def _act_order(self, acct: _Account, action: dict[str, Any]) -> Any:
        orders = action["orders"]
        if not isinstance(orders, list) or action.get("grouping", "na") not in (
            "na",
            "normalTpsl",
            "positionTpsl",
        ):
            raise _BadRequest
        parsed = [self._parse_wire_order(w) for w in orders]
        if "builder" in action:
            b = action["builder"]
            builder = str(b.get("b", "")).lower() if isinstance(b, dict) else ""
            if not self.allow_builder or builder not in acct.builder_approvals:
                return _err("Builder fee has not been approved.")
        if action.get("grouping", "na") != "na":
            return _err("Only grouping 'na' is supported by the emulator.")
        statuses = [self._place(acct, o) for o in parsed]
        return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}

    def _reject(
        self, acct: _Account, o: dict[str, Any], coin: str, status: str, message: str
    ) -> dict[str, Any]:
        """Record a rejected order (queryable by cloid) and return the per-order error status."""
        now = self.now_ms()
        oid = self._new_oid()
        self.orders[oid] = _Order(
            oid,
            acct.master,
            coin,
            o["asset"],
            o["is_buy"],
            o["px"],
            o["sz"],
            o["sz"],
            o["tif"],
            o["reduce_only"],
            o["cloid"],
            now,
            status,
            now,
        )
        return {"error": message}

    def _new_oid(self) -> int:
        self._next_oid += 1
        return self._next_oid

    def _place(self, acct: _Account, o: dict[str, Any], replacing: int | None = None) -> dict[str, Any]:
        asset = o["asset"]
        spot = asset >= 10000
        if spot:
            pair = self.pairs.get(asset - 10000)
            if pair is None:
                return {"error": f"Invalid asset {asset}."}
            coin, sz_dec, max_dec, mark = (
                pair.name,
                self.tokens[pair.base].sz_decimals,
                8,
                self._spot_mark(pair),
            )
        else:
            perp = self.perps.get(asset)
            if perp is None:
                return {"error": f"Invalid asset {asset}."}
            coin, sz_dec, max_dec, mark = perp.name, perp.sz_decimals, 6, self.marks[perp.name]
        px, sz, tag = o["px"], o["sz"], f" asset={asset}"
        cloid = o["cloid"]
        if o["tif"] == "trigger":
            return {"error": "Trigger orders are not supported by the emulator."}
        if cloid is not None and self.unique_cloids and any(
            x.user == acct.master
            and x.cloid == cloid
            and not x.status.endswith("Rejected")
            and x.oid != replacing
            for x in self.orders.values()
        ):
            return {"error": "Duplicate cloid."}
        if sz == 0:
            return {"error": "Order has zero size." + tag}
        if sz < 0 or int(sz.normalize().as_tuple().exponent) < -sz_dec:
            return {"error": "Order has invalid size." + tag}
        if not _valid_price(px, max_dec - sz_dec):
            return self._reject(acct, o, coin, "tickRejected", "Price must be divisible by tick size." + tag)
        if mark > 0 and abs(px - mark) > _PX_BAND * mark:
            return self._reject(
                acct,
                o,
                coin,
                "badPxRejected",
                "Order price cannot be more than 80% away from the reference price" + tag,
            )
        if sz * px < _MIN_NOTIONAL and not o["reduce_only"]:
            return self._reject(
                acct, o, coin, "minTradeNtlRejected", "Order must have minimum value of $10." + tag
            )
        marketable = (o["is_buy"] and px >= mark) or (not o["is_buy"] and px <= mark)
        if o["tif"] == "Alo" and marketable:
            return self._reject(
                acct,
                o,
                coin,
                "badAloPxRejected",
                f"Post only order would have immediately matched, bbo was {_fmt(mark)}@{_fmt(mark)}." + tag,
            )
        if o["tif"] == "Ioc" and not marketable:
            return self._reject(
                acct,
                o,
                coin,
                "iocCancelRejected",
                "Order could not immediately match against any resting orders." + tag,
            )
        fill_sz = sz
        if spot:
            pair = self.pairs[asset - 10000]
            holds = self._spot_holds(acct)
            if o["is_buy"]:
                name, need = self.tokens[pair.quote].name, sz * px
            else:
                name, need = self.tokens[pair.base].name, sz
            if acct.spot.get(name, Decimal(0)) - holds.get(name, Decimal(0)) < need:
                return self._reject(
                    acct, o, coin, "insufficientSpotBalanceRejected", "Insufficient spot balance" + tag
                )
        else:
            pos = acct.positions.get(coin, _Position())
            opposite = (pos.szi < 0 and o["is_buy"]) or (pos.szi > 0 and not o["is_buy"])
            reducible = abs(pos.szi) if opposite else Decimal(0)
            if o["reduce_only"]:
                if reducible == 0:
                    return self._reject(
                        acct,
                        o,
                        coin,
                        "reduceOnlyRejected",
                        "Reduce only order would increase position." + tag,
                    )
                fill_sz = min(sz, reducible)
            else:
                increase = sz - min(sz, reducible)
                ref_px = mark if marketable else px
                need = increase * ref_px / self._lev(acct, coin)[1]
                if marketable:
                    need += sz * mark * self.fees["perp_taker"]
                free = self._account_value(acct) - self._margin_used(acct) - self._order_margin(acct)
                if need > free:
                    return self._reject(
                        acct, o, coin, "perpMarginRejected", "Insufficient margin to place order." + tag
                    )
        now = self.now_ms()
        order = _Order(
            self._new_oid(),
            acct.master,
            coin,
            asset,
            o["is_buy"],
            px,
            sz,
            sz,
            o["tif"],
            o["reduce_only"],
            cloid,
            now,
            "open",
            now,
        )
        self.orders[order.oid] = order
        if marketable:
            self._fill(acct, order, mark, fill_sz, crossed=True)
            if order.status == "open":  # a clamped reduce-only IOC: the rest is canceled
                order.status, order.status_ts = "canceled", now
            filled: dict[str, Any] = {
                "totalSz": _fmt(order.filled_sz),
                "avgPx": _fmt(order.filled_ntl / order.filled_sz),
                "oid": order.oid,
            }
            if cloid:
                filled["cloid"] = cloid
            return {"filled": filled}
        resting: dict[str, Any] = {"oid": order.oid}
        if cloid:
            resting["cloid"] = cloid
        return {"resting": resting}

    def _fill(self, acct: _Account, order: _Order, px: Decimal, sz: Decimal, *, crossed: bool) -> None:
        """Execute ``sz`` of ``order`` at ``px`` (taker if ``crossed``); update balances and the order."""
        now = self.now_ms()
        with localcontext() as ctx:
            ctx.prec = 50
            notional = sz * px
            closed_pnl = Decimal(0)
            if order.is_spot:
                pair = self.pairs[order.asset - 10000]
                base, quote = self.tokens[pair.base].name, self.tokens[pair.quote].name
                start = acct.spot.get(base, Decimal(0))
                rate = self.fees["spot_taker" if crossed else "spot_maker"]
                if order.is_buy:
                    fee, fee_token = sz * rate, base
                    acct.spot[quote] = acct.spot.get(quote, Decimal(0)) - notional
                    acct.spot[base] = acct.spot.get(base, Decimal(0)) + sz - fee
                else:
                    fee, fee_token = notional * rate, quote
                    acct.spot[base] = acct.spot.get(base, Decimal(0)) - sz
                    acct.spot[quote] = acct.spot.get(quote, Decimal(0)) + notional - fee
                direction = "Buy" if order.is_buy else "Sell"
            else:
                pos = acct.positions.setdefault(order.coin, _Position())
                start = pos.szi
                signed = sz if order.is_buy else -sz
                closing = Decimal(0)
                if pos.szi != 0 and (pos.szi > 0) != order.is_buy:
                    closing = min(sz, abs(pos.szi))
                    closed_pnl = closing * (px - pos.entry_px) * (1 if pos.szi > 0 else -1)
                new_szi = pos.szi + signed
                if new_szi == 0:
                    pos.entry_px = Decimal(0)
                elif closing == 0:
                    pos.entry_px = (abs(pos.szi) * pos.entry_px + sz * px) / (abs(pos.szi) + sz)
                elif closing < sz:
                    pos.entry_px = px
                direction = _perp_dir(start, new_szi)
                pos.szi = new_szi
                if new_szi == 0:
                    pos.cum_funding = Decimal(0)
                rate = self.fees["perp_taker" if crossed else "perp_maker"]
                fee, fee_token = notional * rate, "USDC"
                acct.perp_usdc += closed_pnl - fee
            order.sz -= sz
            order.filled_sz += sz
            order.filled_ntl += notional
        if order.sz == 0:
            order.status, order.status_ts = "filled", now
        self._next_tid += 1
        fill: dict[str, Any] = {
            "coin": order.coin,
            "px": _fmt(px),
            "sz": _fmt(sz),
            "side": "B" if order.is_buy else "A",
            "time": now,
            "startPosition": _fmt(start),
            "dir": direction,
            "closedPnl": _fmt(closed_pnl),
            "hash": "0x" + bytes(keccak(f"{order.oid}:{self._next_tid}".encode())).hex(),
            "oid": order.oid,
            "crossed": crossed,
            "fee": _fmt(fee),
            "tid": self._next_tid,
            "feeToken": fee_token,
        }
        if order.cloid:
            fill["cloid"] = order.cloid
        acct.fills.append(fill)

    def _match_resting(self, coin: str) -> list[int]:
        filled: list[int] = []
        spot_names = {p.name for p in self.pairs.values() if self.tokens[p.base].price_coin == coin}
        for o in sorted(self.orders.values(), key=lambda x: x.oid):
            if o.status != "open" or (o.coin != coin and o.coin not in spot_names):
                continue
            mark = self._spot_mark(self.pairs[o.asset - 10000]) if o.is_spot else self.marks[o.coin]
            if not ((o.is_buy and o.limit_px >= mark) or (not o.is_buy and o.limit_px <= mark)):
                continue
            acct = self.accounts[o.user]
            sz = o.sz
            if o.reduce_only and not o.is_spot:
                pos = acct.positions.get(o.coin, _Position())
                reducible = abs(pos.szi) if (pos.szi > 0) != o.is_buy and pos.szi != 0 else Decimal(0)
                if reducible == 0:
                    o.status, o.status_ts = "reduceOnlyCanceled", self.now_ms()
                    continue
                sz = min(sz, reducible)
            self._fill(acct, o, o.limit_px, sz, crossed=False)
            if o.status == "open":
                o.status, o.status_ts = "reduceOnlyCanceled", self.now_ms()
            filled.append(o.oid)
        return filled

    # -- cancel / modify ---------------------------------------------------------------------------
    def _cancel_one(self, acct: _Account, asset: Any, o: _Order | None) -> Any:
        if o is None or o.user != acct.master or o.status != "open" or o.asset != asset:
            return {"error": f"Order was never placed, already canceled, or filled. asset={asset}"}
        o.status, o.status_ts = "canceled", self.now_ms()
        return "success"

    def _act_cancel(self, acct: _Account, action: dict[str, Any]) -> Any:
        cancels = action["cancels"]
        if not isinstance(cancels, list):
            raise _BadRequest
        reqs = [(c["a"], c["o"]) for c in cancels]
        if any(not isinstance(oid, int) or isinstance(oid, bool) for _, oid in reqs):
            raise _BadRequest
        statuses = [self._cancel_one(acct, a, self.orders.get(oid)) for a, oid in reqs]
        return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}

    def _by_cloid(self, acct: _Account, cloid: Any) -> _Order | None:
        if not isinstance(cloid, str) or not _CLOID_RE.match(cloid.lower()):
            raise _BadRequest
        c = cloid.lower()
        live = [
            o for o in self.orders.values() if o.user == acct.master and o.cloid == c and o.status == "open"
        ]
        return live[-1] if live else None

    def _act_cancel_by_cloid(self, acct: _Account, action: dict[str, Any]) -> Any:
        cancels = action["cancels"]
        if not isinstance(cancels, list):
            raise _BadRequest
        reqs = [(c["asset"], self._by_cloid(acct, c["cloid"])) for c in cancels]
        statuses = [self._cancel_one(acct, a, o) for a, o in reqs]
        return {"status": "ok", "response": {"type": "cancel", "data": {"statuses": statuses}}}

    def _act_batch_modify(self, acct: _Account, action: dict[str, Any]) -> Any:
        modifies = action["modifies"]
        if not isinstance(modifies, list):
            raise _BadRequest
        plan = []
        for m in modifies:
            ref = m["oid"]
            target = self._by_cloid(acct, ref) if isinstance(ref, str) else self.orders.get(ref)
            plan.append((target, self._parse_wire_order(m["order"])))
        statuses = []
        for target, new in plan:
            if (
                target is None
                or target.user != acct.master
                or target.status != "open"
                or target.asset != new["asset"]
            ):
                statuses.append(
                    {"error": f"Order was never placed, already canceled, or filled. asset={new['asset']}"}
                )
                continue
            target.status, target.status_ts = "canceled", self.now_ms()
            result = self._place(acct, new, replacing=target.oid)
            if "error" in result:  # the venue keeps the original order when the replacement is refused
                target.status = "open"
            statuses.append(result)
        return {"status": "ok", "response": {"type": "order", "data": {"statuses": statuses}}}

    # -- account actions -----------------------------------------------------------------------------
    def _act_update_leverage(self, acct: _Account, action: dict[str, Any]) -> Any:
        asset, is_cross, lev = action["asset"], action["isCross"], action["leverage"]
        if not isinstance(lev, int) or isinstance(lev, bool) or not isinstance(is_cross, bool):
            raise _BadRequest
        perp = self.perps.get(asset)
        if perp is None:
            return _err(f"Invalid asset {asset}.")
        if not 1 <= lev <= perp.max_leverage:
            return _err(f"Invalid leverage value. Max leverage for {perp.name} is {perp.max_leverage}.")
        acct.leverage[perp.name] = ("cross" if is_cross else "isolated", lev)
        return {"status": "ok", "response": {"type": "default"}}

    def _act_usd_class_transfer(self, acct: _Account, action: dict[str, Any]) -> Any:
        raw, to_perp = action["amount"], action["toPerp"]
        if not isinstance(raw, str) or not isinstance(to_perp, bool):
            raise _BadRequest
        if " subaccount:" in raw:
            return _err("Vault and sub-account actions are not supported by the emulator.")
        try:
            amount = Decimal(raw)
        except InvalidOperation as e:
            raise _BadRequest from e
        if not amount.is_finite() or amount <= 0:
            return _err("Invalid amount.")
        if to_perp:
            free = acct.spot.get("USDC", Decimal(0)) - self._spot_holds(acct).get("USDC", Decimal(0))
            if free < amount:
                return _err("Insufficient balance for token transfer.")
            acct.spot["USDC"] = acct.spot.get("USDC", Decimal(0)) - amount
            acct.perp_usdc += amount
        else:
            if self._withdrawable(acct) < amount:
                return _err("Insufficient balance for token transfer.")
            acct.perp_usdc -= amount
            acct.spot["USDC"] = acct.spot.get("USDC", Decimal(0)) + amount
        acct.ledger.append({"time": self.now_ms(), "hash": "0x" + secrets.token_hex(32), "delta": {
            "type": "accountClassTransfer", "usdc": _fmt(amount), "toPerp": to_perp}})
        return {"status": "ok", "response": {"type": "default"}}

    def _act_approve_builder_fee(self, acct: _Account, action: dict[str, Any]) -> Any:
        acct.builder_approvals[str(action["builder"]).lower()] = str(action["maxFeeRate"])
        return {"status": "ok", "response": {"type": "default"}}

    def _act_set_referrer(self, acct: _Account, action: dict[str, Any]) -> Any:
        if not isinstance(action.get("code"), str):
            raise _BadRequest
        return {"status": "ok", "response": {"type": "default"}}


def _err(message: str) -> dict[str, Any]:
    return {"status": "err", "response": message}


def _perp_dir(start: Decimal, end: Decimal) -> str:
    if start >= 0 and end > start:
        return "Open Long"
    if start <= 0 and end < start:
        return "Open Short"
    if start > 0 and end >= 0:
        return "Close Long"
    if start < 0 and end <= 0:
        return "Close Short"
    return "Long > Short" if start > 0 else "Short > Long"


def _valid_price(px: Decimal, max_decimals: int) -> bool:
    """Hyperliquid tick rule: positive; integers always; else <= 5 significant figures and
    <= ``max_decimals`` (6 perp / 8 spot, minus szDecimals) decimals."""
    if px <= 0:
        return False
    n = px.normalize()
    exp = int(n.as_tuple().exponent)
    if exp >= 0:
        return True
    digits = len(n.as_tuple().digits)
    return digits <= 5 and -exp <= max_decimals
