"""Minimal stand-ins for the Lido / Aave / DEX venue plugins, for exercising the staked-basis and
leveraged-loop strategies' logic before (or without) the real plugins. Test helpers only: simple,
documented economics, NOT the real venues' math (those have their own tests against the contracts).

- ``lido``: stake ETH or WETH from ``ethereum:wallet`` -> wstETH at ``lst:wstETH.rate`` (ETH per token).
- ``aave``: supply / withdraw / borrow / repay between ``ethereum:wallet:<asset>`` and
  ``aave:supplied:<asset>`` / ``aave:debt:<asset>``; hourly accrual at the ``aave:<asset>`` APRs; metric
  ``aave:metric:health_factor`` with liquidation threshold 0.95 (e-mode); borrows refused above LTV 0.93;
  flash-loan premium 0.05%.
- ``dex``: swap wstETH <-> WETH at the oracle rate, 1 bp fee (in the output token).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from basis_core import ExecutionDeltas, OnChainExecutionInterface, hookimpl
from basis_core.data.prices import usd_price
from basis_core.errors import HealthFactorError, InstructionError

W = "ethereum:wallet:"
YEAR_H = Decimal(365 * 24)
WEI = Decimal("1e-18")


class _Base(OnChainExecutionInterface):
    kind = "onchain"

    def snap(self, ts: Any) -> Any:
        assert self.context is not None and self.context.data_provider is not None
        return self.context.data_provider.get_data(ts)

    def bal(self) -> dict[str, Decimal]:
        assert self.context is not None and self.context.ledger is not None
        return self.context.ledger.balances

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Decimal]:
        return {k: v for k, v in self.bal().items() if k.startswith((f"{self.name}:", W))}


class FakeLido(_Base):
    name = "lido"
    key_namespaces = ("lido:", "ethereum:wallet:")

    @hookimpl
    def execute_stake(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        if instruction.asset not in ("ETH", "WETH") or instruction.receive != "wstETH":
            raise InstructionError("asset", "fake lido stakes ETH / WETH into wstETH only")
        rate = self.snap(timestamp).get("lst:wstETH", "rate")
        out = (instruction.amount / rate).quantize(WEI, rounding=ROUND_DOWN)
        return ExecutionDeltas("lido", "stake", timestamp, {W + instruction.asset: -instruction.amount,
                                                             W + "wstETH": out}, client_id=instruction.client_id)


class FakeAave(_Base):
    name = "aave"
    key_namespaces = ("aave:", "ethereum:wallet:")
    LT = Decimal("0.95")
    MAX_LTV = Decimal("0.93")

    def flash_loan_premium(self) -> Decimal:
        return Decimal("0.0005")

    def _hf(self, ts: Any, pending: dict[str, Decimal]) -> Decimal:
        s = self.snap(ts)
        bal = self.bal()
        coll = debt = Decimal(0)
        keys = set(bal) | set(pending)
        for k in keys:
            v = bal.get(k, Decimal(0)) + pending.get(k, Decimal(0))
            if k.startswith("aave:supplied:"):
                coll += v * usd_price(s, k.rsplit(":", 1)[1])
            elif k.startswith("aave:debt:"):
                debt += v * usd_price(s, k.rsplit(":", 1)[1])
        return coll * self.LT / debt if debt > 0 else Decimal(10**9)

    def _move(self, ts: Any, ins: Any, sign_wallet: int, kind: str, op: str) -> ExecutionDeltas:
        key = f"aave:{kind}:{ins.asset}"
        amount = self.bal().get(key, Decimal(0)) if ins.amount == "max" else ins.amount
        pos = {W + ins.asset: sign_wallet * amount, key: -sign_wallet * amount if kind == "supplied" else
               sign_wallet * amount}
        if op in ("borrow", "withdraw"):
            hf = self._hf(ts, pos)
            s = self.snap(ts)
            bal = self.bal()
            coll = sum((bal.get(k, Decimal(0)) + pos.get(k, Decimal(0))) * usd_price(s, k.rsplit(":", 1)[1])
                       for k in set(bal) | set(pos) if k.startswith("aave:supplied:"))
            debt = sum((bal.get(k, Decimal(0)) + pos.get(k, Decimal(0))) * usd_price(s, k.rsplit(":", 1)[1])
                       for k in set(bal) | set(pos) if k.startswith("aave:debt:"))
            if hf < 1 or (op == "borrow" and debt > coll * self.MAX_LTV):
                raise HealthFactorError("amount", f"would leave health factor {hf:.4f} / LTV above {self.MAX_LTV}")
        return ExecutionDeltas("aave", op, ts, pos, client_id=ins.client_id)

    @hookimpl
    def execute_supply(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self._move(timestamp, instruction, -1, "supplied", "supply")

    @hookimpl
    def execute_withdraw(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self._move(timestamp, instruction, 1, "supplied", "withdraw")

    @hookimpl
    def execute_borrow(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self._move(timestamp, instruction, 1, "debt", "borrow")

    @hookimpl
    def execute_repay(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self._move(timestamp, instruction, -1, "debt", "repay")

    @hookimpl
    def get_balances(self, timestamp: Any, instruction: Any) -> dict[str, Decimal]:
        out = super().get_balances(timestamp, instruction)
        out["aave:metric:health_factor"] = self._hf(timestamp, {})
        return out

    @hookimpl
    def accrue(self, previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
        hours = Decimal((timestamp.value - previous.value) // 3_600_000_000_000)
        s = self.snap(timestamp)
        out = []
        for k, v in self.bal().items():
            if not k.startswith(("aave:supplied:", "aave:debt:")) or v <= 0:
                continue
            asset = k.rsplit(":", 1)[1]
            supplied = k.startswith("aave:supplied:")
            rate = s.get(f"aave:{asset}", "liquidity_rate" if supplied else "variable_borrow_rate")
            x = (v * rate * hours / YEAR_H).quantize(WEI, rounding=ROUND_DOWN)
            usd = x * usd_price(s, asset)
            out.append(ExecutionDeltas("aave", "interest", timestamp, {k: x}, status="accrued",
                                       pnl={"lending_interest" if supplied else "borrow_interest":
                                            usd if supplied else -usd}))
        return out


class FakeDex(_Base):
    name = "dex"
    key_namespaces = ("dex:", "ethereum:wallet:")
    FEE = Decimal("0.0001")

    @hookimpl
    def execute_swap(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        s = self.snap(timestamp)
        pi, po = usd_price(s, instruction.token_in), usd_price(s, instruction.token_out)
        gross = (instruction.amount_in * pi / po).quantize(WEI, rounding=ROUND_DOWN)
        fee = (gross * self.FEE).quantize(WEI)
        return ExecutionDeltas("dex", "swap", timestamp, {W + instruction.token_in: -instruction.amount_in,
                                                          W + instruction.token_out: gross - fee},
                               fees={W + instruction.token_out: -fee}, pnl={"trading_fees": -fee * po},
                               client_id=instruction.client_id)

    @hookimpl
    def quote_swap(self, timestamp: Any, instruction: Any) -> ExecutionDeltas:
        return self.execute_swap(timestamp, instruction)
