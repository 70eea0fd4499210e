"""A minimal spot venue for basis-core's tests: fills market orders at the as-of ``spot:<symbol>``
close with a flat fee (10 bps, charged in the quote asset); keeps no state beyond the ledger."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from basis_core import CEXExecutionInterface, ExecutionDeltas, hookimpl
from basis_core.errors import InstructionError

FEE = Decimal("0.001")


class PaperVenue(CEXExecutionInterface):
    name = "paper"
    description = "test venue"
    capabilities = frozenset({"fills"})

    # -- conformance kit declarations (basis_core.testing.conformance) ----------------------------
    def conformance_examples(self) -> dict[str, list[dict[str, Any]]]:
        return {"spot_trade": [
            {"operation": "spot_trade", "symbol": "ETH/USDT", "side": "buy", "amount": "1.5"},
            {"operation": "spot_trade", "symbol": "BTC/USDT", "side": "sell", "amount": "0.1"},
        ]}

    def conformance_balances(self) -> dict[str, str]:
        return {f"{self.name}:spot:USDT": "100000", f"{self.name}:spot:BTC": "1"}

    def price(self, timestamp: Any, symbol: str) -> Decimal:
        assert self.context is not None and self.context.data_provider is not None
        return self.context.data_provider.get_data(timestamp).get(f"spot:{symbol}")

    @hookimpl
    def execute_spot_trade(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        if instruction.symbol not in ("ETH/USDT", "BTC/USDT"):
            raise InstructionError("symbol", f"{instruction.symbol} is not listed on {self.name}")
        px = self.price(timestamp, instruction.symbol)
        base, quote = instruction.symbol.split("/")
        notional = px * instruction.amount
        fee = notional * FEE
        sign = 1 if instruction.side == "buy" else -1
        positions = {
            f"{self.name}:spot:{base}": sign * instruction.amount,
            f"{self.name}:spot:{quote}": -sign * notional - fee,
        }
        return ExecutionDeltas(self.name, "spot_trade", timestamp, positions, fees={f"{self.name}:spot:{quote}": -fee},
                               client_id=instruction.client_id, fill_price=px, fill_amount=instruction.amount,
                               pnl={"trading_fees": -fee})

    @hookimpl
    def estimate_notional(self, timestamp: Any, instruction: Any) -> Decimal | None:
        if instruction.operation != "spot_trade":
            return None
        return self.price(timestamp, instruction.symbol) * instruction.amount

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Decimal]:
        assert self.context is not None and self.context.ledger is not None
        prefix = f"{self.name}:"
        return {k: v for k, v in self.context.ledger.balances.items() if k.startswith(prefix)}


class PaperVenueTwo(PaperVenue):
    name = "paper2"
