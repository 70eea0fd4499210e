"""The shipped MorphoBundleExecutor artifact and the executor's step translation (no chain)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from basis_venue_morpho.executor import (
    OP_CALL,
    MorphoStep,
    compile_executor,
    executor_artifact,
    ops_for_steps,
)

from basis_core.errors import InstructionError
from basis_core.instructions import Borrow, PerpTrade, Supply, Swap
from basis_core.live.bundles import EncodedCall

MORPHO = "0x" + "11" * 20
WETH = "0x" + "22" * 20
USDC = "0x" + "33" * 20
ROUTER = "0x" + "44" * 20


def test_shipped_executor_artifact_is_current() -> None:
    """contracts/MorphoBundleExecutor.json is what solc builds from contracts/MorphoBundleExecutor.sol."""
    fresh = compile_executor()
    assert fresh.bytecode == executor_artifact().bytecode
    assert fresh.abi == executor_artifact().abi
    names = {f["name"] for f in fresh.abi if f.get("type") == "function"}
    assert {"run", "onMorphoFlashLoan", "owner", "MORPHO"} <= names


def test_steps_become_calls_with_their_inputs_and_the_owners_authorization_when_borrowing() -> None:
    """A swap becomes its venue's encoded call; a Morpho supply holds and approves its input to Morpho; a borrow
    holds nothing but needs the owner's authorization; the tokens pulled are the inputs."""
    swap = Swap(venue="uniswap", token_in="WETH", token_out="USDC", amount_in=Decimal(10))
    supply = Supply(venue="morpho", asset="USDC", amount=Decimal(20000), market="USDC/WETH-86")
    borrow = Borrow(venue="morpho", asset="WETH", amount=Decimal(10), market="USDC/WETH-86")
    call = EncodedCall(ROUTER, b"\x01\x02", WETH, 10**19, USDC, 19_000 * 10**6, "WETH", "USDC", 18, 6)

    def morpho_step(s: object, field: str) -> tuple[str, MorphoStep]:
        if isinstance(s, Supply):
            return "USDC/WETH-86", MorphoStep(USDC, 20_000 * 10**6, b"\xaa", False)
        return "USDC/WETH-86", MorphoStep("0x" + "00" * 20, 0, b"\xbb", True)

    t = ops_for_steps([swap, supply, borrow], MORPHO, morpho_step, lambda s: call)
    assert [(o.kind, o.asset, o.amount, o.aux, o.data) for o in t.ops] == [
        (OP_CALL, WETH, 10**19, ROUTER, b"\x01\x02"), (OP_CALL, USDC, 20_000 * 10**6, MORPHO, b"\xaa"),
        (OP_CALL, "0x" + "00" * 20, 0, MORPHO, b"\xbb")]
    assert t.markets == ["USDC/WETH-86"] and t.authorize and t.pulled == {WETH, USDC} and t.calls == [call]


def test_a_step_no_venue_can_encode_is_refused_naming_it() -> None:
    perp = PerpTrade(venue="binance", symbol="ETH/USDT:USDT", side="sell", amount=Decimal(1))
    with pytest.raises(InstructionError) as e:
        ops_for_steps([perp], MORPHO, lambda s, f: ("", MorphoStep("", 0, b"", False)), lambda s: None)
    assert e.value.field == "steps.0.operation"
