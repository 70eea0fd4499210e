"""Our flash-loan executor (``contracts/LoopExecutor.sol``): its artifact, how bundle steps become its ops, and
how to compile / deploy it.

The compiled artifact ships as package data (``contracts/LoopExecutor.json``: ABI + creation bytecode, solc
0.8.x from npm ``solc``, optimizer 200 runs, EVM cancun) so live mode needs no compiler;
:func:`compile_executor` rebuilds it from the source (the tests check the shipped one is current).

Step translation (:func:`ops_for_steps`), each step -> executor ops:

- ``Supply(asset, amount)`` -> SUPPLY; ``Borrow(asset, amount)`` -> BORROW (credit delegation);
  ``Repay(asset, amount | "max")`` -> REPAY (max: the owner's whole debt at execution);
  ``Withdraw(asset, amount | "max")`` -> WITHDRAW (pulls the owner's aTokens, withdraws them);
- a step of another venue (e.g. a Uniswap or Curve ``swap``) -> CALL: the contract call that venue encodes
  through the core (``VenueContext.encode_call``, its ``encode_call`` hook), paying to and taking from the
  executor; the executor approves the call's input to its target first;
- ``Stake(asset="ETH", receive="stETH" | None)`` -> STAKE_ETH; ``receive="wstETH"`` -> STAKE_ETH_WSTETH;
  ``asset="WETH"`` -> UNWRAP_WETH first; ``Stake(asset="stETH", receive="wstETH")`` -> WRAP_STETH;
  ``Unstake(action="unwrap", asset="wstETH")`` -> UNWRAP_WSTETH.

Anything else (perps, withdrawal requests, a step its venue cannot encode ...) is refused with an InstructionError
naming the step.
ETH the steps stake (``Stake(asset="ETH")``) is sent as the transaction's value.
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
OP_UNWRAP_WETH = 1
OP_WRAP_ETH = 2
OP_STAKE_ETH = 3
OP_STAKE_ETH_WSTETH = 4
OP_WRAP_STETH = 5
OP_UNWRAP_WSTETH = 6
OP_SUPPLY = 7
OP_BORROW = 8
OP_REPAY = 9
OP_WITHDRAW = 10
OP_CALL = 11
OP_PULL = 12
SOURCE = "LoopExecutor.sol"
CONTRACT = "LoopExecutor"
PACKAGE = "basis_venue_aave"
Op = ExecutorOp  # amount: base units, MAX_UINT256 = all


@lru_cache(maxsize=1)
def executor_artifact() -> ExecutorArtifact:
    """The shipped artifact (package data)."""
    return ExecutorArtifact.shipped(PACKAGE, CONTRACT)


def compile_executor() -> ExecutorArtifact:
    """Compile ``contracts/LoopExecutor.sol`` with solc-js from ``node_modules`` (maintainers and tests); raises
    :class:`basis_core.testing.solc.SolcError` on errors."""
    from basis_core.testing.solc import compile_solidity

    art = compile_solidity(ExecutorArtifact.path(PACKAGE, CONTRACT).parent, (SOURCE,))[CONTRACT]
    return ExecutorArtifact(art.abi, art.bytecode)


def write_artifact(art: ExecutorArtifact, path: Path | None = None) -> Path:
    """Write ``contracts/LoopExecutor.json`` (maintainers, after changing the source)."""
    return art.write(path or ExecutorArtifact.path(PACKAGE, CONTRACT), CONTRACT)


def deploy_executor(client: Any, pool: str, weth: str, steth: str, wsteth: str) -> str:
    """Deploy a LoopExecutor owned by ``client``'s account (an EvmClient); returns its address."""
    return executor_artifact().deploy(client, CONTRACT, client.checksum(pool), client.checksum(weth),
                                      client.checksum(steth), client.checksum(wsteth))


@dataclass
class Translation:
    """A bundle's steps as executor ops, with what the caller must prepare."""

    ops: list[Op]
    value: int  # wei sent with the transaction (ETH the steps stake)
    borrowed: dict[str, int]  # asset symbol -> base units borrowed (credit delegation needed)
    pulled: set[str]  # token symbols / 'a<SYM>' aTokens the executor may pull from the owner
    emode: int | None  # e-mode category the steps ask for (set before the bundle)
    aave_assets: set[str]  # reserves the bundle touches
    sweep: set[str]  # token symbols to sweep back
    calls: list[EncodedCall] = field(default_factory=list)  # the CALL steps' encodings (other venues' steps)


def ops_for_steps(steps: Sequence[Any], token: Callable[[str, str], str], units: Callable[[str, Any, str], int],
                  a_token: Callable[[str], str], debt_token: Callable[[str], str], lido: Callable[[str], str],
                  encode: Callable[[Any], EncodedCall | None] | None = None) -> Translation:
    """Translate bundle steps into executor ops (see the module docstring).

    ``token(symbol, field)`` -> address of an Aave reserve token; ``units(symbol, amount, field)`` -> base
    units; ``a_token`` / ``debt_token`` -> the reserve's aToken / variable debt token; ``lido(name)`` -> the
    executor's WETH / stETH / wstETH address; ``encode(step)`` -> another venue's encoding of its step (None: it
    cannot). Raises InstructionError naming ``steps.<i>.<field>``.
    """
    ops: list[Op] = []
    value = 0
    borrowed: dict[str, int] = {}
    pulled: set[str] = set()
    emode: int | None = None
    assets: set[str] = set()
    sweep: set[str] = {"WETH", "stETH", "wstETH"}
    calls: list[EncodedCall] = []
    for i, s in enumerate(steps):
        f = f"steps.{i}"
        op = s.operation
        if s.venue == "aave" and op in ("supply", "borrow", "repay", "withdraw"):
            addr = token(s.asset, f"{f}.asset")
            assets.add(s.asset)
            sweep.add(s.asset)
            cat = getattr(s, "e_mode_category", None)
            if cat is not None:
                if emode is not None and cat != emode:
                    raise InstructionError(f"{f}.e_mode_category", "the steps ask for two different e-mode categories")
                emode = cat
            if op == "supply":
                amt = units(s.asset, s.amount, f"{f}.amount")
                ops.append(Op(OP_SUPPLY, addr, amt))
                pulled.add(s.asset)
            elif op == "borrow":
                amt = units(s.asset, s.amount, f"{f}.amount")
                ops.append(Op(OP_BORROW, addr, amt))
                borrowed[s.asset] = borrowed.get(s.asset, 0) + amt
            elif op == "repay":
                amt = MAX_UINT256 if s.amount == "max" else units(s.asset, s.amount, f"{f}.amount")
                ops.append(Op(OP_REPAY, addr, amt, debt_token(s.asset)))
                pulled.add(s.asset)
            else:
                amt = MAX_UINT256 if s.amount == "max" else units(s.asset, s.amount, f"{f}.amount")
                ops.append(Op(OP_WITHDRAW, addr, amt, a_token(s.asset)))
                pulled.add(f"a{s.asset}")
        elif s.venue == "lido" and op == "stake":
            amt = units("ETH", s.amount, f"{f}.amount")
            receive = s.receive or ("wstETH" if s.asset == "stETH" else "stETH")
            if s.asset == "stETH" and receive == "wstETH":
                ops.append(Op(OP_WRAP_STETH, lido("stETH"), amt))
                pulled.add("stETH")
                continue
            if s.asset not in ("ETH", "WETH") or receive not in ("stETH", "wstETH"):
                raise InstructionError(f"{f}.asset", f"the executor stakes ETH / WETH into stETH / wstETH or wraps "
                                                     f"stETH, not {s.asset} -> {receive}")
            if s.asset == "WETH":
                ops.append(Op(OP_UNWRAP_WETH, lido("WETH"), amt))
                pulled.add("WETH")
            else:
                value += amt
            kind = OP_STAKE_ETH_WSTETH if receive == "wstETH" else OP_STAKE_ETH
            ops.append(Op(kind, lido(receive), amt))
        elif s.venue == "lido" and op == "unstake" and s.action == "unwrap":
            if s.asset != "wstETH":
                raise InstructionError(f"{f}.asset", "only wstETH unwraps")
            ops.append(Op(OP_UNWRAP_WSTETH, lido("wstETH"), units("wstETH", s.amount, f"{f}.amount")))
            pulled.add("wstETH")
        else:
            call = None
            if encode is not None and s.venue not in ("aave", "lido"):
                try:
                    call = encode(s)
                except InstructionError as e:
                    raise InstructionError(f"{f}.{e.field}", e.reason) from None
            if call is None:
                raise InstructionError(f"{f}.operation", f"the aave executor cannot run {s.venue}:{op} in a bundle "
                                                         "(it runs aave supply / borrow / repay / withdraw, lido "
                                                         "stake / wrap / unwrap, and steps their venue encodes "
                                                         "as a call: swaps)")
            ops.append(Op(OP_CALL, call.token_in, call.amount_in, call.target, call.data))
            calls.append(call)
    return Translation(_pull_once(ops), value, borrowed, pulled, emode, assets, sweep, calls)


def _pull_once(ops: list[Op]) -> list[Op]:
    """Before each run of consecutive CALL ops, one PULL per input token of the run's total: the executor then
    takes a split's input from the owner in one transfer instead of one per leg (a CALL only pulls a
    shortfall)."""
    out: list[Op] = []
    i = 0
    while i < len(ops):
        if ops[i].kind != OP_CALL:
            out.append(ops[i])
            i += 1
            continue
        j = i
        while j < len(ops) and ops[j].kind == OP_CALL:
            j += 1
        totals: dict[str, int] = {}
        for op in ops[i:j]:
            if op.amount:
                totals[op.asset] = totals.get(op.asset, 0) + op.amount
        if j - i > 1:
            out.extend(Op(OP_PULL, asset, amount) for asset, amount in totals.items() if amount)
        out.extend(ops[i:j])
        i = j
    return out


__all__ = ["MAX_UINT256", "OP_CALL", "OP_PULL", "ExecutorArtifact", "Op", "Translation", "compile_executor",
           "deploy_executor", "executor_artifact", "ops_for_steps", "write_artifact"]
