"""Venues for testing the conformance kit itself: ``KitVenue`` conforms in every respect (positive control);
each ``Bad*`` subclass breaks exactly one rule, so exactly the matching kit test must fail.

Loaded by file path from the kit's tests (and by the kit's import probe in a fresh interpreter), so it
imports nothing but basis_core.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from basis_core import CEXExecutionInterface, DEXExecutionInterface, ExecutionDeltas, hookimpl
from basis_core.errors import InstructionError, OrderNotFoundError
from basis_core.interfaces import VenueInfo

FEE = Decimal("0.001")
DAILY_INTEREST = Decimal("0.00001")
SYMBOLS = ("ETH/USDT", "BTC/USDT")
log = logging.getLogger("kit_venues")


@dataclass(frozen=True)
class Order:
    order_id: str
    symbol: str
    side: str
    amount: Decimal
    price: Decimal


class KitVenue(CEXExecutionInterface):
    """Spot venue: market orders fill at the as-of close (10 bps fee in quote); non-crossing limit orders
    rest in the ledger table ``<name>.orders``; cancel by order id or client id; daily interest on USDT."""

    name = "kitvenue"
    description = "conformance-kit positive control"
    capabilities = frozenset({"fills", "resting_orders", "credentials", "live"})

    # -- protocol ---------------------------------------------------------------------------------
    def conformance_examples(self) -> dict[str, list[Any]]:
        rest = {"operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy", "amount": "1",
                "order_type": "limit", "price": "100", "client_id": "kit-rest-1"}
        return {
            "spot_trade": [
                {"operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy", "amount": "2"},
                {"operation": "spot_trade", "symbol": "BTC/USDT", "side": "sell", "amount": "0.5"},
                rest,
            ],
            "cancel_order": [{"setup": [rest], "instruction": {"operation": "cancel_order", "order_id": "kit-rest-1"},
                              "label": "by-client-id"}],
        }

    def conformance_balances(self) -> dict[str, str]:
        return {f"{self.name}:spot:USDT": "50000", f"{self.name}:spot:BTC": "2"}

    # -- helpers -----------------------------------------------------------------------------------
    def _price(self, ts: Any, symbol: str) -> Decimal:
        assert self.context is not None and self.context.data_provider is not None
        return self.context.data_provider.get_data(ts).get(f"spot:{symbol}")

    def _orders(self) -> Any:
        assert self.context is not None and self.context.ledger is not None
        return self.context.ledger.table(f"{self.name}.orders")

    def _fill(self, ts: Any, instr: Any, px: Decimal) -> ExecutionDeltas:
        base, quote = instr.symbol.split("/")
        notional = px * instr.amount
        fee = notional * FEE
        sign = 1 if instr.side == "buy" else -1
        positions = {f"{self.name}:spot:{base}": sign * instr.amount,
                     f"{self.name}:spot:{quote}": -sign * notional - fee}
        return ExecutionDeltas(self.name, "spot_trade", ts, positions, fees={f"{self.name}:spot:{quote}": -fee},
                               client_id=instr.client_id, fill_price=px, fill_amount=instr.amount,
                               pnl={"trading_fees": -fee})

    # -- hooks -----------------------------------------------------------------------------------------
    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        if instruction.symbol not in SYMBOLS:
            raise InstructionError("symbol", f"{instruction.symbol} is not listed on {self.name}")
        px = self._price(timestamp, instruction.symbol)
        if instruction.order_type == "limit":
            crosses = px <= instruction.price if instruction.side == "buy" else px >= instruction.price
            if not crosses:
                return self._rest(timestamp, instruction)
        return self._fill(timestamp, instruction, px)

    def _rest(self, ts: Any, instr: Any) -> ExecutionDeltas:
        base, quote = instr.symbol.split("/")
        need_key = f"{self.name}:spot:{quote}" if instr.side == "buy" else f"{self.name}:spot:{base}"
        need = instr.amount * instr.price * (1 + FEE) if instr.side == "buy" else instr.amount
        assert self.context is not None and self.context.ledger is not None
        have = self.context.ledger.balance(need_key)
        if need > have:
            from basis_core.errors import InsufficientFundsError
            raise InsufficientFundsError(need_key, need, have)
        orders = self._orders()
        oid = f"kv-{len(orders) + 1}"
        orders[oid] = Order(instr.client_id or oid, instr.symbol, instr.side, instr.amount, instr.price)
        return ExecutionDeltas(self.name, "spot_trade", ts, {}, status="open", client_id=instr.client_id,
                               order_id=oid)

    @hookimpl
    def cancel_order(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        orders = self._orders()
        for oid, o in orders.items():
            if instruction.order_id in (oid, o.order_id):
                del orders[oid]
                return ExecutionDeltas(self.name, "cancel_order", timestamp, {}, status="cancelled",
                                       client_id=instruction.client_id, order_id=oid)
        raise OrderNotFoundError("order_id", f"no open order {instruction.order_id!r} on {self.name}")

    @hookimpl
    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        assert self.context is not None and self.context.ledger is not None
        days = (pd.Timestamp(timestamp).floor("D") - pd.Timestamp(previous).floor("D")).days
        key = f"{self.name}:spot:USDT"
        bal = self.context.ledger.balance(key)
        if days <= 0 or bal <= 0:
            return None
        amt = bal * DAILY_INTEREST * days
        return [ExecutionDeltas(self.name, "interest", timestamp, {key: amt}, status="accrued",
                                pnl={"lending_interest": amt})]

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Decimal]:
        assert self.context is not None and self.context.ledger is not None
        return {k: v for k, v in self.context.ledger.balances.items() if k.startswith(f"{self.name}:")}

    def make_live_backend(self) -> Any:
        import ccxt  # noqa: F401  (live only, lazily)
        raise NotImplementedError


# -- one broken rule each ---------------------------------------------------------------------------------
class BadNoExamples(CEXExecutionInterface):
    name = "badnoexamples"

    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        raise InstructionError("symbol", "nothing is listed")


class BadUndeclared(KitVenue):
    """Implements cancel_order but its venue_info hides it and claims swap."""

    name = "badundeclared"

    @hookimpl
    def venue_info(self) -> VenueInfo:
        info = super().venue_info()
        return VenueInfo(info.name, info.kind, ("spot_trade", "swap"), key_namespaces=info.key_namespaces,
                         capabilities=info.capabilities)


class BadNamespace(KitVenue):
    """Writes a key outside its namespace."""

    name = "badnamespace"

    def _fill(self, ts: Any, instr: Any, px: Decimal) -> ExecutionDeltas:
        d = super()._fill(ts, instr, px)
        pos = dict(d.positions)
        k = next(iter(pos))
        pos["elsewhere:spot:" + k.split(":")[2]] = pos.pop(k)
        return ExecutionDeltas(d.venue, d.operation, d.timestamp, pos, d.fees, client_id=d.client_id,
                               fill_price=d.fill_price, fill_amount=d.fill_amount, pnl=d.pnl)


class BadSelfApply(KitVenue):
    """Applies its own result to the ledger (the manager applies it again)."""

    name = "badselfapply"

    def _fill(self, ts: Any, instr: Any, px: Decimal) -> ExecutionDeltas:
        d = super()._fill(ts, instr, px)
        assert self.context is not None and self.context.ledger is not None
        self.context.ledger.apply(d.positions)
        return d


class BadHiddenFee(KitVenue):
    """Charges a fee it does not report in pnl."""

    name = "badhiddenfee"

    def _fill(self, ts: Any, instr: Any, px: Decimal) -> ExecutionDeltas:
        d = super()._fill(ts, instr, px)
        return ExecutionDeltas(d.venue, d.operation, d.timestamp, d.positions, d.fees, client_id=d.client_id,
                               fill_price=d.fill_price, fill_amount=d.fill_amount, pnl={})


class BadUntypedError(KitVenue):
    """Raises KeyError for an unknown symbol."""

    name = "baduntyped"

    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        if instruction.symbol not in SYMBOLS:
            raise KeyError(instruction.symbol)
        return super().execute_spot_trade(timestamp, instruction)


class BadDirtyFailure(KitVenue):
    """Records the order in current_orders before failing."""

    name = "baddirty"

    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        self.current_orders[f"o{len(self.current_orders)}"] = instruction
        return super().execute_spot_trade(timestamp, instruction)


class BadAcceptsUnknown(KitVenue):
    """Prices any symbol like ETH/USDT (accepts unknown symbols)."""

    name = "badaccepts"

    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        px = self._price(timestamp, "ETH/USDT")
        return self._fill(timestamp, instruction, px)


class BadLeakyRepr(KitVenue):
    name = "badleakyrepr"

    def __repr__(self) -> str:
        secret = self.settings.api_secret.get_secret_value() if self.settings.api_secret else None
        return f"<BadLeakyRepr secret={secret}>"


class BadLeakyLog(KitVenue):
    name = "badleakylog"

    def on_configure(self, context: Any) -> None:
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else None
        log.debug("configured with key %s", key)


class BadLeakyError(KitVenue):
    name = "badleakyerror"

    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        if instruction.symbol not in SYMBOLS:
            pk = self.settings.private_key.get_secret_value() if self.settings.private_key else ""
            raise InstructionError("symbol", f"unknown symbol (signed with {pk})")
        return super().execute_spot_trade(timestamp, instruction)


class BadLiveImport(KitVenue):
    """Imports ccxt on the backtest path."""

    name = "badliveimport"

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Decimal]:
        import ccxt  # noqa: F401
        return super().get_balances(timestamp, instruction)


class BadNeverRests(KitVenue):
    """Declares resting_orders but fills limit orders at once."""

    name = "badneverrests"

    def _rest(self, ts: Any, instr: Any) -> ExecutionDeltas:
        return self._fill(ts, instr, instr.price)

    def conformance_examples(self) -> dict[str, list[Any]]:
        ex = super().conformance_examples()
        ex["cancel_order"] = [{"instruction": {"operation": "cancel_order", "order_id": "none"}, "mutate": False}]
        return ex


class BadAccrual(KitVenue):
    """Accrues into a key outside its namespace, as a float."""

    name = "badaccrual"

    @hookimpl
    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        return [ExecutionDeltas(self.name, "interest", timestamp, {"other:spot:USDT": Decimal(1)},
                                status="accrued", pnl={"lending_interest": 1.0})]  # type: ignore[dict-item]


class BadBalances(KitVenue):
    name = "badbalances"

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Decimal]:
        return {f"{self.name}:spot:USDT": Decimal(-1), "elsewhere:spot:ETH": 2.0}  # type: ignore[dict-item]


class KitDex(DEXExecutionInterface):
    """Swaps ETH <-> USDC at the oracle with a 30 bps fee; quotes change nothing."""

    name = "kitdex"
    key_namespaces = ("ethereum:wallet:",)
    capabilities = frozenset({"fills"})

    def conformance_examples(self) -> dict[str, list[Any]]:
        return {"swap": [{"operation": "swap", "token_in": "USDC", "token_out": "WETH", "amount_in": "1000"}]}

    def conformance_balances(self) -> dict[str, str]:
        return {"ethereum:wallet:USDC": "10000"}

    def _quote(self, ts: Any, instr: Any) -> ExecutionDeltas:
        from basis_core.data.prices import usd_price
        if instr.token_in not in ("USDC", "WETH") or instr.token_out not in ("USDC", "WETH"):
            raise InstructionError("token_in", "unknown token")
        assert self.context is not None and self.context.data_provider is not None
        snap = self.context.data_provider.get_data(ts)
        p_in, p_out = usd_price(snap, instr.token_in), usd_price(snap, instr.token_out)
        fee_usd = instr.amount_in * p_in * Decimal("0.003")
        out = (instr.amount_in * p_in - fee_usd) / p_out
        return ExecutionDeltas(self.name, "swap", ts, {f"ethereum:wallet:{instr.token_in}": -instr.amount_in,
                                                       f"ethereum:wallet:{instr.token_out}": out},
                               client_id=instr.client_id, pnl={"trading_fees": -fee_usd})

    @hookimpl
    def execute_swap(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self._quote(timestamp, instruction)

    @hookimpl
    def quote_swap(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        d = self._quote(timestamp, instruction)
        return ExecutionDeltas(d.venue, d.operation, d.timestamp, d.positions, status="quoted", pnl=d.pnl)


class BadQuoteWrites(KitDex):
    """Its quote writes into the venue's table."""

    name = "badquotewrites"

    @hookimpl
    def quote_swap(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        assert self.context is not None and self.context.ledger is not None
        t = self.context.ledger.table(f"{self.name}.quotes")
        t[len(t)] = str(instruction.amount_in)
        return super().quote_swap(timestamp, instruction)


class BadLiveConfigure(KitVenue):
    """Imports ccxt when configured in live mode (before any call)."""

    name = "badliveconfigure"

    def on_configure(self, context: Any) -> None:
        if context.mode == "live":
            import ccxt  # noqa: F401


class BadLiveUnbuildable(KitVenue):
    """Declares live but refuses every live configuration."""

    name = "badliveunbuildable"

    def on_configure(self, context: Any) -> None:
        if context.mode == "live":
            from basis_core.errors import ConfigError
            raise ConfigError("base_url: required in live mode")


# -- live without a conformance_live_target: what the kit's offline look finds -------------------------------
class KitLiveClient:
    """The HTTP side of the kit's live backends: it connects on first use only (to ``base_url``)."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url

    def post(self, path: str, instr: Any) -> ExecutionDeltas:
        """POST the instruction; the venue answers the deltas as :func:`basis_core.live.orders.deltas_to_json`."""
        import json
        import urllib.request

        from basis_core.live.orders import deltas_from_json

        with urllib.request.urlopen(self.base_url + path, data=instr.model_dump_json().encode(), timeout=10) as r:
            return deltas_from_json(json.loads(r.read()))


class KitLiveBackend:
    """A live backend built without a connection, with both of KitVenue's operations."""

    def __init__(self, venue: Any) -> None:
        self.client = KitLiveClient(str(venue.settings.base_url))

    def spot_trade(self, ts: Any, instr: Any) -> ExecutionDeltas:
        return self.client.post("/order", instr)

    def cancel_order(self, ts: Any, instr: Any) -> ExecutionDeltas:
        return self.client.post("/cancel", instr)


class KitHalfLiveBackend(KitLiveBackend):
    """Its cancel_order is a placeholder."""

    def cancel_order(self, ts: Any, instr: Any) -> ExecutionDeltas:
        raise NotImplementedError("cancel is not live yet")


class KitLiveOffline(KitVenue):
    """Declares live, no conformance_live_target; its backend builds offline with every operation."""

    name = "kitliveoffline"

    def make_live_backend(self) -> Any:
        return KitLiveBackend(self)


class BadLiveHalf(KitVenue):
    """Declares live, no conformance_live_target; its backend's cancel_order is a NotImplementedError placeholder."""

    name = "badlivehalf"

    def make_live_backend(self) -> Any:
        return KitHalfLiveBackend(self)


class KitLiveConnectsAtBuild(KitVenue):
    """Declares live, no conformance_live_target; its backend connects to a public host while it is built."""

    name = "kitliveconnects"

    def make_live_backend(self) -> Any:
        import urllib.request

        urllib.request.urlopen("http://192.0.2.1:80/", timeout=10)  # TEST-NET-1: refused by the kit's guard
        return KitLiveBackend(self)
