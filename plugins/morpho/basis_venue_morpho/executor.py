"""Our bundle executor (``contracts/MorphoBundleExecutor.sol``): its artifact, how bundle steps become its ops, and
how to compile / deploy it.

The compiled artifact ships as package data (``contracts/MorphoBundleExecutor.json``: ABI + creation bytecode,
solc from npm ``solc`` through :func:`basis_core.testing.solc.compile_solidity`, optimizer 200 runs, EVM cancun),
so live mode needs no compiler; :func:`compile_executor` rebuilds it (a test checks the shipped one is current).

The contract runs CALL ops (hold an input, let the target spend it, call it) inside Morpho's fee-free flash loan.
Step translation (:func:`ops_for_steps`), each step -> one CALL:

- Morpho steps, on behalf of the owner: ``supply`` of a market's loan token -> ``supply(params, assets, 0, owner)``;
  of its collateral token -> ``supplyCollateral(params, assets, owner)``; ``borrow`` ->
  ``borrow(params, assets, 0, owner, executor)``; ``repay`` -> ``repay(params, assets, 0, owner)`` (``"max"``: every
  borrow share the owner has when the bundle is translated, the input the debt plus a 0.001 % margin, the rest
  swept back); ``withdraw`` -> ``withdraw(params, assets | 0, 0 | shares ("max"), owner, executor)`` or
  ``withdrawCollateral(params, assets, owner, executor)``. Borrowing and withdrawing on the owner's behalf need
  the owner's ``setAuthorization(executor, true)`` (sent once by the live backend's set-up).
- a step of another venue (e.g. a Uniswap or Curve ``swap``): the contract call that venue encodes through the core
  (``VenueContext.encode_call``, its ``encode_call`` hook), paying its output to the executor.

Anything else (perps, a step its venue cannot encode) is refused with an InstructionError naming the step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from basis_core.errors import InstructionError
from basis_core.live.bundles import ZERO_ADDRESS as ZERO_ADDRESS
from basis_core.live.bundles import EncodedCall, ExecutorArtifact, ExecutorOp

MAX_UINT256 = 2**256 - 1
OP_CALL = 1
OP_PULL = 2
CONTRACT = "MorphoBundleExecutor"
SOURCE = f"{CONTRACT}.sol"
PACKAGE = "basis_venue_morpho"
Op = ExecutorOp  # amount: base units the op holds first


def contracts_dir() -> Path:
    return ExecutorArtifact.path(PACKAGE, CONTRACT).parent


@lru_cache(maxsize=1)
def executor_artifact() -> ExecutorArtifact:
    """The shipped artifact (package data)."""
    return ExecutorArtifact.shipped(PACKAGE, CONTRACT)


def compile_executor() -> ExecutorArtifact:
    """Compile ``contracts/MorphoBundleExecutor.sol`` with solc-js from ``node_modules`` (maintainers and tests)."""
    from basis_core.testing.solc import compile_solidity

    art = compile_solidity(contracts_dir(), (SOURCE,))[CONTRACT]
    return ExecutorArtifact(art.abi, art.bytecode)


def write_artifact(art: ExecutorArtifact, path: Path | None = None) -> Path:
    """Write ``contracts/MorphoBundleExecutor.json`` (maintainers, after changing the source)."""
    return art.write(path or ExecutorArtifact.path(PACKAGE, CONTRACT), CONTRACT)


def deploy_executor(client: Any, morpho: str) -> str:
    """Deploy a MorphoBundleExecutor owned by ``client``'s account (an EvmClient); returns its address."""
    return executor_artifact().deploy(client, CONTRACT, client.checksum(morpho))


@dataclass
class Translation:
    """A bundle's steps as executor ops, with what the caller must prepare and read back."""

    ops: list[Op]
    markets: list[str]  # aliases of the Morpho markets the steps touch (in order, once each)
    pulled: set[str]  # token addresses the executor may pull from the owner (approved to it once)
    authorize: bool  # a step borrows or withdraws on the owner's behalf: the executor must be authorized
    calls: list[EncodedCall] = field(default_factory=list)  # the other venues' steps' encodings


@dataclass(frozen=True)
class MorphoStep:
    """One Morpho step as the executor calls it: the input token address and base units (0: none), calldata."""

    token_in: str
    amount_in: int
    data: bytes
    on_behalf: bool  # borrows / withdraws on the owner's behalf (needs the owner's authorization)


def ops_for_steps(steps: Sequence[Any], morpho: str, morpho_step: Callable[[Any, str], tuple[str, MorphoStep]],
                  encode: Callable[[Any], EncodedCall | None] | None = None) -> Translation:
    """Translate bundle steps into executor ops (see the module docstring).

    ``morpho_step(step, field)`` -> (market alias, :class:`MorphoStep`) of a Morpho step (raising InstructionError
    with the field); ``encode(step)`` -> another venue's encoding of its step (None: it cannot). Raises
    InstructionError naming ``steps.<i>.<field>``.
    """
    ops: list[Op] = []
    markets: list[str] = []
    pulled: set[str] = set()
    authorize = False
    calls: list[EncodedCall] = []
    for i, s in enumerate(steps):
        f = f"steps.{i}"
        if s.venue == "morpho":
            if s.operation not in ("supply", "borrow", "repay", "withdraw"):
                raise InstructionError(f"{f}.operation", f"the morpho executor runs morpho supply / borrow / repay / "
                                                         f"withdraw, not {s.operation}")
            try:
                alias, ms = morpho_step(s, f)
            except InstructionError as e:
                raise InstructionError(e.field if e.field.startswith(f) else f"{f}.{e.field}", e.reason) from None
            if alias not in markets:
                markets.append(alias)
            authorize = authorize or ms.on_behalf
            if ms.amount_in:
                pulled.add(ms.token_in)
            ops.append(Op(OP_CALL, ms.token_in, ms.amount_in, morpho, ms.data))
            continue
        call = None
        if encode is not None:
            try:
                call = encode(s)
            except InstructionError as e:
                raise InstructionError(f"{f}.{e.field}", e.reason) from None
        if call is None:
            raise InstructionError(f"{f}.operation", f"the morpho executor cannot run {s.venue}:{s.operation} in a "
                                                     "bundle (it runs morpho supply / borrow / repay / withdraw and "
                                                     "steps their venue encodes as a call: swaps)")
        ops.append(Op(OP_CALL, call.token_in, call.amount_in, call.target, call.data))
        if call.amount_in:
            pulled.add(call.token_in)
        calls.append(call)
    return Translation(ops, markets, pulled, authorize, calls)


__all__ = ["MAX_UINT256", "OP_CALL", "OP_PULL", "ExecutorArtifact", "MorphoStep", "Op", "Translation",
           "compile_executor", "deploy_executor", "executor_artifact", "ops_for_steps", "write_artifact"]
