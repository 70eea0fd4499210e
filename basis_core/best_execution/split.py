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
   the same marginal output (the *water level*). From the grid optimum, Newton rounds move the used pools'
   amounts to that level (marginals and their slopes from central differences of exact quotes), then each
   unused pool whose first units pay more than the level is tried in (gas counted). Every change is quoted
   exactly and kept only if it raises the net output: the result is never below the grid's.

Cost: ``len(curves) * grid`` quotes for the grid, about ``4`` per used pool per Newton round and ``2`` per
unused pool (every quote is memoised per curve and amount).

:func:`modelled_split` runs the same search on constant-product models fitted to two exact quotes per curve
and quotes only the chosen legs exactly (``2 * len(curves) + legs`` quotes): the router's default, for curves
whose quotes are expensive (venue hooks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["Curve", "Split", "best_split", "grid_amounts", "modelled_split", "net_output"]

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


def _gross(memo: _Memo, amounts: Sequence[int]) -> float | int:
    """Net output of an allocation through the memo (-inf when a curve refuses its amount)."""
    total: float | int = 0
    for i, x in enumerate(amounts):
        total += memo.value(i, x)
    return total


def _slope(memo: _Memo, i: int, a: int, h: int) -> tuple[float, float] | None:
    """(marginal output per input unit, its derivative) of curve ``i`` at ``a`` by central differences of width
    ``h`` (one-sided below ``h``); None when the curve refuses a point."""
    lo, hi = max(a - h, 0), a + h
    f0, f1, f2 = memo.out(i, lo), memo.out(i, a), memo.out(i, hi)
    if f0 is None or f1 is None or f2 is None or a <= lo:
        return None
    m = (f2 - f0) / (hi - lo)
    c = ((f2 - f1) / (hi - a) - (f1 - f0) / (a - lo)) / ((hi - lo) / 2)
    return m, c


def _to_total(targets: Sequence[float], total: int) -> list[int]:
    """Non-negative integer amounts summing to ``total`` from real targets (negatives dropped; the rounding
    remainder on the largest)."""
    xs = [max(int(t), 0) for t in targets]
    top = max(range(len(xs)), key=lambda i: xs[i])
    xs[top] += total - sum(xs)
    if xs[top] < 0:  # pathological targets: everything in the largest
        xs = [0] * len(xs)
        xs[top] = total
    return xs


def _newton(memo: _Memo, amounts: list[int], total: int, h: int) -> tuple[list[int], float] | None:
    """One Newton step toward the water level over the used curves: ``m_i + c_i * d_i = level`` with
    ``sum d_i = 0``. Returns (target amounts, level) or None when fewer than two curves can move."""
    moving: list[tuple[int, float, float]] = []
    for i, a in enumerate(amounts):
        if a > 0:
            sc = _slope(memo, i, a, h)
            if sc is not None and sc[1] < 0:
                moving.append((i, sc[0], sc[1]))
    if len(moving) < 2:
        return None
    level = sum(m / c for _, m, c in moving) / sum(1 / c for _, _, c in moving)
    targets = [float(a) for a in amounts]
    for i, m, c in moving:
        targets[i] = amounts[i] + (level - m) / c
    return _to_total(targets, total), level


def _improve(memo: _Memo, amounts: list[int], target: list[int]) -> list[int] | None:
    """``target``, or a damped step toward it (1/2, 1/4), if it raises the exact net output; else None."""
    base = _gross(memo, amounts)
    total = sum(amounts)
    for damp in (1.0, 0.5, 0.25):
        cand = target if damp == 1.0 else _to_total([a + damp * (t - a) for a, t in zip(amounts, target, strict=True)],
                                                    total)
        if cand != amounts and _gross(memo, cand) > base:
            return cand
    return None


def _entering(amounts: Sequence[int], j: int, x: float, total: int) -> list[int]:
    """``amounts`` with curve ``j`` entering at ``x`` and the others scaled down to keep the total."""
    share = x / total
    entry = [float(b) * (1 - share) for b in amounts]
    entry[j] = x
    return _to_total(entry, total)


def _water_fill(memo: _Memo, amounts: list[int], total: int, h: int, rounds: int) -> list[int]:
    """Newton rounds toward the water level among the used curves, then one try to bring in each unused curve
    whose first units pay more than the level; every change is kept only if the exact net output rises."""
    level: float | None = None
    for _ in range(rounds):
        step = _newton(memo, amounts, total, h)
        if step is None:
            break
        target, level = step
        better = _improve(memo, amounts, target)
        if better is None:
            break
        moved = max(abs(x - y) for x, y in zip(better, amounts, strict=True))
        amounts = better
        if moved <= h:
            break
    if level is None:
        used = [i for i, a in enumerate(amounts) if a > 0]
        sc = _slope(memo, used[0], amounts[used[0]], h) if len(used) == 1 else None
        level = sc[0] if sc is not None else None
    if level is None:
        return amounts
    for j, a in enumerate(amounts):
        if a > 0:
            continue
        f1, f2 = memo.out(j, h), memo.out(j, 2 * h)
        if f1 is None or f2 is None or f1 / h <= level:
            continue
        c = (f2 - 2 * f1) / (h * h)
        m0 = (4 * f1 - f2) / (2 * h)  # the marginal at 0 (quadratic through 0, h, 2h)
        x = (level - m0) / c if c < 0 else float(h)
        x = min(max(x, float(h)), total / 2)
        cand = _entering(amounts, j, x, total)
        if _gross(memo, cand) == _NEG and x > h:  # refused (a capped leg): the largest entry it takes, bisected
            lo, hi = float(h), x
            for _ in range(10):
                mid = (lo + hi) / 2
                if _gross(memo, _entering(amounts, j, mid, total)) != _NEG:
                    lo = mid
                else:
                    hi = mid
            cand = _entering(amounts, j, lo, total)
        for _ in range(rounds):
            step = _newton(memo, cand, total, h)
            if step is None:
                break
            better = _improve(memo, cand, step[0])
            if better is None:
                break
            cand = better
        if _gross(memo, cand) > _gross(memo, amounts):
            amounts = cand
    return amounts


def best_split(total: int, curves: Sequence[Curve], grid: int = 6, rounds: int = 4) -> Split | None:
    """The allocation of ``total`` input base units over ``curves`` maximising the output net of gas.

    :param total: input in base units (> 0).
    :param curves: the pools (at least one).
    :param grid: chunks of the exact grid search (>= 1).
    :param rounds: Newton rounds of the water-filling refinement (0: the grid optimum as it is).
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
    if rounds > 0 and len(curves) > 1:
        amounts = _water_fill(memo, amounts, total, max(total // (grid * 64), 1), rounds)
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


def _fit(key: str, x1: int, q1: int, x2: int, q2: int, gas: int) -> Curve | None:
    """The constant-product model ``out(x) = a x / (b + x)`` through two exact points ``(x1, q1)``, ``(x2, q2)``
    (``x1 < x2``): exact for a v2 pool and for a v3 pool inside its current range (virtual reserves), close for
    a stable pool. None when the points are not strictly concave through 0 (no such model)."""
    if q1 <= 0 or q2 <= 0:
        return None
    inv_a = (x2 / q2 - x1 / q1) / (x2 - x1)
    if inv_a <= 0:
        return None
    a = 1 / inv_a
    b = a * x1 / q1 - x1
    if b <= 0:
        return None
    return Curve(key, lambda x: int(a * x / (b + x)), gas)


def modelled_split(total: int, curves: Sequence[Curve], grid: int = 6, rounds: int = 4, polish: int = 1
                   ) -> Split | None:
    """:func:`best_split` with few exact quotes: the search runs on models, the result is exact.

    Each curve is quoted exactly at ``total`` and at ``total // len(curves)``; a constant-product model through
    those two points (:func:`_fit`) stands in for it in :func:`best_split` (``grid``, ``rounds``: pure
    arithmetic). From the modelled optimum, quoted exactly, the exact water-filling of :func:`best_split`
    (``polish`` Newton rounds, default 1, then
    unused curves tried in) corrects what the models got wrong (stable pools); every change is kept only if
    the exact net output rises. The result is kept only if its exact net output beats the best single curve's
    (exact: every curve was quoted at ``total``); otherwise the best single curve takes it all. So the amounts,
    outputs and net are exact and never worse than the best single pool. ``grid_amounts`` / ``grid_net``: the
    modelled optimum and its exact net. When a curve refuses a probe or has no model, or the modelled optimum
    is refused, this is :func:`best_split` (every quote exact).

    Cost: ``2 * len(curves)`` probes, one quote per modelled leg, and the water-filling's (about 2 per used
    curve when the models were right, so the first Newton step barely moves).
    """
    if total <= 0:
        raise ValueError(f"total must be > 0, got {total}")
    if not curves:
        raise ValueError("at least one curve is needed")
    n = len(curves)
    probe = total // n
    if n == 1 or probe < 1:
        return best_split(total, curves, grid, rounds)
    memo = _Memo(curves)
    models: list[Curve] = []
    for i, c in enumerate(curves):
        q_probe, q_total = memo.out(i, probe), memo.out(i, total)
        fitted = None if q_probe is None or q_total is None else _fit(c.key, probe, q_probe, total, q_total, c.gas)
        if fitted is None:
            return best_split(total, curves, grid, rounds)
        models.append(fitted)
    modelled = best_split(total, models, grid, rounds)
    if modelled is None:
        return best_split(total, curves, grid, rounds)
    amounts = list(modelled.amounts)
    net = _gross(memo, amounts)
    if net == _NEG:
        return best_split(total, curves, grid, rounds)
    start = tuple(amounts)
    if polish > 0:  # exact water-filling from the modelled optimum: where the models were off (stable pools)
        amounts = _water_fill(memo, amounts, total, max(total // (grid * 64), 1), polish)
    singles = [(memo.value(i, total), i) for i in range(n)]
    s_val, s_idx = max(singles, key=lambda t: (t[0], -t[1]))
    if s_val >= _gross(memo, amounts):  # no better than the best single pool (exactly): use that pool
        amounts = [0] * n
        amounts[s_idx] = total
    outputs = tuple(int(memo.out(i, x) or 0) for i, x in enumerate(amounts))
    gas = sum(c.gas for c, x in zip(curves, amounts, strict=True) if x > 0)
    gross = sum(outputs)
    return Split(
        amounts=tuple(amounts), outputs=outputs, gross=gross, gas=gas, net=gross - gas, grid_amounts=start,
        grid_net=int(net), single=s_idx, single_net=int(s_val), quotes=memo.count,
        used=tuple(i for i, x in enumerate(amounts) if x > 0),
    )
