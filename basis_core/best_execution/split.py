"""Splitting one swap across pools: the allocation of an input that maximises the output net of gas.

Pure functions over *curves*. A :class:`Curve` is one pool's exact quote ``quote(amount_in) -> amount_out``
(integer base units of the input / output token; ``None`` where the pool cannot take that amount) and the gas of
using it, already converted into output base units. The problem::

    maximise   sum_i quote_i(x_i) - gas_i * [x_i > 0]
    subject to sum_i x_i = total,  x_i >= 0 integers

Method (:func:`best_split`)

1. **Grid** (exact, no assumption on the curves): the input in ``grid`` equal chunks, every curve quoted at
   every multiple of a chunk (``total * k // grid``), and a dynamic programme over the curves that finds the
   best allocation of whole chunks, gas included. Its result equals a brute force over every allocation of the
   chunks, and every single pool is one of those allocations: the split is never worse than the best single
   pool (on the grid: all of ``total`` in one pool).
2. **Refinement** (water-filling): AMM outputs are concave in the input, so at the optimum every used pool pays
   the same marginal output (the *water level*). Starting from the grid optimum, the refinement moves a step of
   input from the pool whose last step is worth least to the pool whose next step is worth most (gas counted
   when a pool starts or stops being used), halving the step from ``chunk / 2`` over ``levels`` levels. Every
   move is quoted exactly and taken only if it raises the net output: the result is never below the grid's.

Cost: ``len(curves) * grid`` quotes for the grid plus about ``2 * len(curves)`` per refinement level (every
quote is memoised per curve and amount).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Curve", "Split", "best_split", "grid_amounts", "net_output"]

_NEG = float("-inf")


@dataclass(frozen=True)
class Curve:
    """One pool: ``quote(amount_in) -> amount_out`` (base units, None where it cannot take the amount) and the
    ``gas`` of using it at all, in output base units (>= 0)."""

    key: str
    quote: Callable[[int], int | None]
    gas: int = 0


@dataclass(frozen=True)
class Split:
    """An allocation and its exact outcome (base units).

    ``amounts`` / ``outputs``: per curve, in the order given; ``gross`` = sum of outputs; ``gas`` = gas of the
    used curves; ``net`` = gross - gas. ``grid_amounts`` / ``grid_net``: the grid optimum before refinement.
    ``single``: index of the best single curve (all of the input in it) and ``single_net`` its net output (None
    when no single curve can take the whole input). ``quotes``: distinct quotes asked.
    """

    amounts: tuple[int, ...]
    outputs: tuple[int, ...]
    gross: int
    gas: int
    net: int
    grid_amounts: tuple[int, ...]
    grid_net: int
    single: int | None
    single_net: int | None
    quotes: int
    used: tuple[int, ...] = field(default=())

    @property
    def gain_over_single(self) -> int | None:
        """``net - single_net``: what splitting gained over the best single pool (None without one)."""
        return None if self.single_net is None else self.net - self.single_net


class _Memo:
    """Memoised exact quotes of the curves; ``value(i, x)`` = output net of gas (0 at x = 0, -inf where the
    curve cannot take ``x``)."""

    def __init__(self, curves: Sequence[Curve]) -> None:
        self.curves = curves
        self.cache: list[dict[int, int | None]] = [{} for _ in curves]

    def out(self, i: int, x: int) -> int | None:
        c = self.cache[i]
        if x in c:
            return c[x]
        got = self.curves[i].quote(x) if x > 0 else 0
        if got is not None and got < 0:
            raise ValueError(f"curve {self.curves[i].key!r} quoted a negative output {got} for {x}")
        c[x] = got
        return got

    def value(self, i: int, x: int) -> float | int:
        if x <= 0:
            return 0
        o = self.out(i, x)
        return _NEG if o is None else o - self.curves[i].gas

    @property
    def count(self) -> int:
        return sum(len([k for k in c if k > 0]) for c in self.cache)


def grid_amounts(total: int, chunks: Sequence[int], grid: int) -> tuple[int, ...]:
    """The input amounts of a chunk allocation: ``total * k // grid`` each, and the rounding remainder
    (``total - sum``) added to the curve with the most chunks (the first of equals)."""
    amounts = [total * k // grid for k in chunks]
    rest = total - sum(amounts)
    if rest:
        top = max(range(len(chunks)), key=lambda i: (chunks[i], -i))
        amounts[top] += rest
    return tuple(amounts)


def net_output(curves: Sequence[Curve], amounts: Sequence[int]) -> int | None:
    """``sum quote_i(x_i) - gas_i [x_i > 0]`` of an allocation (None if a curve cannot take its amount)."""
    memo = _Memo(curves)
    total = 0
    for i, x in enumerate(amounts):
        v = memo.value(i, x)
        if v == _NEG:
            return None
        total += int(v)
    return total


def _grid_optimum(memo: _Memo, total: int, grid: int) -> tuple[int, ...] | None:
    """The chunk counts (summing to ``grid``) maximising the net output on the grid: a dynamic programme over
    the curves; ties keep the earlier curves' smaller allocations. None when no allocation is feasible."""
    n = len(memo.curves)
    xs = [total * k // grid for k in range(grid + 1)]
    vals = [[memo.value(i, xs[k]) for k in range(grid + 1)] for i in range(n)]
    best: list[float | int] = [0] + [_NEG] * grid  # best[k]: k chunks placed in the curves seen so far
    picks: list[list[int]] = []
    for i in range(n):
        v = vals[i]
        new: list[float | int] = [_NEG] * (grid + 1)
        pick = [0] * (grid + 1)
        for k in range(grid + 1):
            bk, pk = _NEG, 0
            for m in range(k + 1):
                prev = best[k - m]
                if prev == _NEG or v[m] == _NEG:
                    continue
                cand = prev + v[m]
                if cand > bk:
                    bk, pk = cand, m
            new[k], pick[k] = bk, pk
        best = new
        picks.append(pick)
    if best[grid] == _NEG:
        return None
    chunks = [0] * n
    k = grid
    for i in range(n - 1, -1, -1):
        chunks[i] = picks[i][k]
        k -= chunks[i]
    return tuple(chunks)


def _refine(memo: _Memo, amounts: list[int], step: int, levels: int, max_moves: int) -> None:
    """Water-filling moves between curves (see the module docstring), in place."""
    n = len(amounts)
    for _ in range(levels):
        if step <= 0:
            break
        for _move in range(max_moves):
            # the worst curve to take ``step`` from, the best to give it to
            lose: list[float | int] = []
            gain: list[float | int] = []
            for i in range(n):
                a = amounts[i]
                here = memo.value(i, a)
                lose.append(here - memo.value(i, a - step) if a >= step else float("inf"))
                gain.append(memo.value(i, a + step) - here)
            best, pair = 0.0, None
            for i in range(n):
                if lose[i] == float("inf"):
                    continue
                for j in range(n):
                    if j != i and gain[j] - lose[i] > best:
                        best, pair = gain[j] - lose[i], (i, j)
            if pair is None:
                break
            i, j = pair
            amounts[i] -= step
            amounts[j] += step
        step //= 2


def best_split(total: int, curves: Sequence[Curve], grid: int = 10, levels: int = 6,
               max_moves: int | None = None) -> Split | None:
    """The allocation of ``total`` input base units over ``curves`` maximising the output net of gas.

    :param total: input in base units (> 0).
    :param curves: the pools (at least one).
    :param grid: chunks of the exact grid search (>= 1).
    :param levels: halvings of the refinement step (0: the grid optimum as it is).
    :param max_moves: moves per refinement level (default ``2 * len(curves)``).
    :return: the :class:`Split`, or None when no allocation is feasible (every curve refuses).
    """
    if total <= 0:
        raise ValueError(f"total must be > 0, got {total}")
    if not curves:
        raise ValueError("at least one curve is needed")
    if grid < 1:
        raise ValueError(f"grid must be >= 1, got {grid}")
    grid = min(grid, total)
    memo = _Memo(curves)
    chunks = _grid_optimum(memo, total, grid)
    if chunks is None:
        return None
    start = grid_amounts(total, chunks, grid)
    grid_net = net_output_memo(memo, start)
    amounts = list(start)
    if levels > 0 and len(curves) > 1:
        _refine(memo, amounts, total // (2 * grid), levels, max_moves or 2 * len(curves))
    singles = [(memo.value(i, total), i) for i in range(len(curves))]
    s_val, s_idx = max(singles, key=lambda t: (t[0], -t[1]))
    outputs = tuple(int(memo.out(i, x) or 0) for i, x in enumerate(amounts))
    gas = sum(c.gas for c, x in zip(curves, amounts, strict=True) if x > 0)
    gross = sum(outputs)
    return Split(
        amounts=tuple(amounts), outputs=outputs, gross=gross, gas=gas, net=gross - gas, grid_amounts=start,
        grid_net=grid_net, single=None if s_val == _NEG else s_idx, single_net=None if s_val == _NEG else int(s_val),
        quotes=memo.count, used=tuple(i for i, x in enumerate(amounts) if x > 0),
    )


def net_output_memo(memo: _Memo, amounts: Sequence[int]) -> int:
    """The net output of a feasible allocation through a memo."""
    return int(sum(memo.value(i, x) for i, x in enumerate(amounts)))
