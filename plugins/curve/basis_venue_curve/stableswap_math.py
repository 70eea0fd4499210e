"""Curve StableSwap integer math, reproduced exactly (to the base unit) in pure Python.

Mirrors ``contracts/StableSwap.vy`` (the plain-pool design: ``A_PRECISION = 100``, fees on a
``1e10`` denominator, balances normalised to 18 decimals by ``10**(18 - decimals)``).
Every function works on non-negative integers in native base units (e.g. 1 USDC = 10**6);
``xp`` values are normalised (18-decimal) balances. Where the contract would revert (uint256
underflow, division by zero, no convergence, bad index, min-amount checks) these functions
raise :class:`StableSwapRevert`. uint256 overflow is not checked: it needs balances beyond
~1e25 tokens.

Pure functions, no web3. :class:`StableSwapPool` is an immutable value with methods that return
results and a new pool state.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

FEE_DENOMINATOR = 10**10
PRECISION = 10**18
A_PRECISION = 100
MAX_ITER = 255


class StableSwapRevert(ArithmeticError):
    """The deployed pool would revert on the same inputs (underflow, no convergence, bad args)."""


def get_D(xp: Sequence[int], amp: int) -> int:
    """Invariant D for normalised balances ``xp``; ``amp`` is A * A_PRECISION (``A_precise()``)."""
    n = len(xp)
    S = sum(xp)
    if S == 0:
        return 0
    D = S
    Ann = amp * n
    a_term = Ann * S // A_PRECISION
    ann_m = Ann - A_PRECISION
    n1 = n + 1
    if n == 2:
        x0 = xp[0] * 2
        x1 = xp[1] * 2
        if x0 == 0 or x1 == 0:
            raise StableSwapRevert("division by zero in get_D")
        for _ in range(MAX_ITER):
            D_P = D * D // x0 * D // x1
            Dprev = D
            D = (a_term + D_P * 2) * D // (ann_m * D // A_PRECISION + 3 * D_P)
            if -1 <= D - Dprev <= 1:
                return D
        raise StableSwapRevert("D did not converge")
    xn = [x * n for x in xp]
    if 0 in xn:
        raise StableSwapRevert("division by zero in get_D")
    for _ in range(MAX_ITER):
        D_P = D
        for x in xn:
            D_P = D_P * D // x
        Dprev = D
        D = (a_term + D_P * n) * D // (ann_m * D // A_PRECISION + n1 * D_P)
        if -1 <= D - Dprev <= 1:
            return D
    raise StableSwapRevert("D did not converge")


def _solve_y(c: int, b: int, D: int) -> int:
    """Newton iteration y = (y**2 + c) / (2y + b - D) from y = D, as in the contract."""
    y = D
    for _ in range(MAX_ITER):
        y_prev = y
        den = 2 * y + b - D
        if den <= 0:  # uint256 underflow or division by zero in the contract
            raise StableSwapRevert("underflow in get_y")
        y = (y * y + c) // den
        if -1 <= y - y_prev <= 1:
            return y
    raise StableSwapRevert("y did not converge")


def _check_index(i: int, n: int) -> None:
    if not 0 <= i < n:
        raise StableSwapRevert(f"coin index {i} out of range")


def get_y(i: int, j: int, x: int, xp: Sequence[int], amp: int, D: int | None = None) -> int:
    """New normalised balance of coin ``j`` when coin ``i`` is set to ``x`` at constant D.

    ``D`` may be passed when already known (it must equal ``get_D(xp, amp)``).
    """
    n = len(xp)
    if i == j:
        raise StableSwapRevert("same coin")
    _check_index(j, n)
    _check_index(i, n)
    if D is None:
        D = get_D(xp, amp)
    Ann = amp * n
    c = D
    S_ = 0
    for k in range(n):
        if k == i:
            _x = x
        elif k != j:
            _x = xp[k]
        else:
            continue
        S_ += _x
        if _x == 0:
            raise StableSwapRevert("division by zero in get_y")
        c = c * D // (_x * n)
    c = c * D * A_PRECISION // (Ann * n)
    b = S_ + D * A_PRECISION // Ann
    return _solve_y(c, b, D)


def get_y_D(amp: int, i: int, xp: Sequence[int], D: int) -> int:
    """Normalised balance of coin ``i`` giving invariant ``D`` with the other balances kept."""
    n = len(xp)
    _check_index(i, n)
    Ann = amp * n
    c = D
    S_ = 0
    for k in range(n):
        if k == i:
            continue
        _x = xp[k]
        S_ += _x
        if _x == 0:
            raise StableSwapRevert("division by zero in get_y_D")
        c = c * D // (_x * n)
    c = c * D * A_PRECISION // (Ann * n)
    b = S_ + D * A_PRECISION // Ann
    return _solve_y(c, b, D)


def _sub(a: int, b: int, what: str) -> int:
    """uint256 subtraction: raise where the contract would underflow."""
    if b > a:
        raise StableSwapRevert(f"underflow in {what}")
    return a - b


@dataclass(frozen=True, slots=True)
class ExchangeResult:
    """Outcome of ``exchange``: ``dy`` sent to the trader, fees in coin j's native units."""

    dy: int
    fee: int  # total fee, coin j native units (fee part of dy before the admin cut, floored)
    admin_fee: int  # part of the fee removed from the pool's balances (coin j native units)
    pool: StableSwapPool


@dataclass(frozen=True, slots=True)
class LiquidityResult:
    """Outcome of a liquidity operation: LP minted or burned, coin amounts moved, new state."""

    lp_amount: int
    amounts: tuple[int, ...]
    fees: tuple[int, ...]
    pool: StableSwapPool


@dataclass(frozen=True, slots=True)
class StableSwapPool:
    """State of one StableSwap pool, as the contract stores it.

    ``balances``: pool balances in native base units (what ``balances(i)`` returns);
    ``precision_mul``: ``10**(18 - decimals)`` per coin; ``A``: as returned by ``A()``;
    ``fee`` / ``admin_fee``: 1e10 denominator; ``lp_supply``: LP ``totalSupply`` (18 decimals).
    """

    balances: tuple[int, ...]
    precision_mul: tuple[int, ...]
    A: int
    fee: int
    admin_fee: int
    lp_supply: int
    _D: list[int] = field(default_factory=list, init=False, repr=False, compare=False)

    @classmethod
    def from_decimals(cls, balances: Sequence[int], decimals: Sequence[int], A: int, fee: int,
                      admin_fee: int, lp_supply: int) -> StableSwapPool:
        """Build from native balances and each coin's ERC20 ``decimals``."""
        if len(balances) != len(decimals) or len(balances) < 2:
            raise ValueError("need matching balances and decimals for >= 2 coins")
        return cls(tuple(balances), tuple(10 ** (18 - d) for d in decimals), A, fee, admin_fee, lp_supply)

    @property
    def n(self) -> int:
        return len(self.balances)

    @property
    def amp(self) -> int:
        """A * A_PRECISION (``A_precise()``)."""
        return self.A * A_PRECISION

    @property
    def rates(self) -> tuple[int, ...]:
        """The contract's ``rates``: PRECISION * 10**(18 - decimals)."""
        return tuple(PRECISION * m for m in self.precision_mul)

    def xp(self, balances: Sequence[int] | None = None) -> list[int]:
        """Normalised (18-decimal) balances."""
        bal = self.balances if balances is None else balances
        return [b * m for b, m in zip(bal, self.precision_mul, strict=True)]

    def D(self) -> int:
        """The invariant of the current balances (cached: the pool is immutable)."""
        cache = self._D
        if not cache:
            cache.append(get_D(self.xp(), self.amp))
        return cache[0]

    def _replace(self, balances: Sequence[int], lp_supply: int | None = None) -> StableSwapPool:
        return StableSwapPool(tuple(balances), self.precision_mul, self.A, self.fee, self.admin_fee,
                              self.lp_supply if lp_supply is None else lp_supply)

    # ------------------------------------------------------------------ swaps

    def _dy_parts(self, i: int, j: int, dx: int) -> tuple[int, int]:
        """(dy before fee, fee), both normalised; raises like the contract."""
        n = len(self.balances)
        if i == j:
            raise StableSwapRevert("same coin")
        _check_index(j, n)
        _check_index(i, n)
        if dx < 0:
            raise ValueError("dx must be >= 0")
        mul = self.precision_mul
        bal = self.balances
        xp_j = bal[j] * mul[j]
        x = bal[i] * mul[i] + dx * mul[i]
        if n == 2:
            # the 2-coin get_y, unrolled (same integer operations as the contract)
            D = self.D()
            Ann = self.amp * 2
            if x == 0:
                raise StableSwapRevert("division by zero in get_y")
            c = D * D // (x * 2) * D * A_PRECISION // (Ann * 2)
            b = x + D * A_PRECISION // Ann
            y = _solve_y(c, b, D)
        else:
            y = get_y(i, j, x, self.xp(), self.amp, self.D())
        dy = xp_j - y - 1
        if dy < 0:
            raise StableSwapRevert("underflow in get_dy")
        return dy, self.fee * dy // FEE_DENOMINATOR

    def get_dy(self, i: int, j: int, dx: int) -> int:
        """Amount of coin ``j`` (native units) received for ``dx`` of coin ``i``, after the fee."""
        dy, fee = self._dy_parts(i, j, dx)
        return (dy - fee) // self.precision_mul[j]

    def exchange(self, i: int, j: int, dx: int, min_dy: int = 0) -> ExchangeResult:
        """Swap ``dx`` of coin ``i``: ``dy`` sent, fee and admin fee (coin j units), new state."""
        dy_n, fee_n = self._dy_parts(i, j, dx)
        mul_j = self.precision_mul[j]
        dy = (dy_n - fee_n) // mul_j
        if dy < min_dy:
            raise StableSwapRevert("Exchange resulted in fewer coins than expected")
        admin = fee_n * self.admin_fee // FEE_DENOMINATOR // mul_j
        bal = list(self.balances)
        bal[i] += dx
        bal[j] = _sub(bal[j], dy + admin, "exchange balance")
        return ExchangeResult(dy, fee_n // mul_j, admin, self._replace(bal))

    # ------------------------------------------------------------------ liquidity

    def add_liquidity(self, amounts: Sequence[int], min_mint_amount: int = 0) -> LiquidityResult:
        """Deposit ``amounts`` (native units): LP minted net of imbalance fees, fees, new state."""
        n = self.n
        if len(amounts) != n:
            raise ValueError(f"need {n} amounts")
        amp = self.amp
        old = self.balances
        D0 = self.D()
        supply = self.lp_supply
        if supply == 0 and any(a <= 0 for a in amounts):
            raise StableSwapRevert("initial deposit requires all coins")
        new = [b + a for b, a in zip(old, amounts, strict=True)]
        D1 = get_D(self.xp(new), amp)
        if D1 <= D0:
            raise StableSwapRevert("D did not grow")
        fees = [0] * n
        if supply > 0:
            base_fee = self.fee * n // (4 * (n - 1))
            stored = [0] * n
            for k in range(n):
                ideal = D1 * old[k] // D0
                fees[k] = base_fee * abs(ideal - new[k]) // FEE_DENOMINATOR
                stored[k] = _sub(new[k], fees[k] * self.admin_fee // FEE_DENOMINATOR, "admin fee")
                new[k] = _sub(new[k], fees[k], "fee")
            D2 = get_D(self.xp(new), amp)
            mint = supply * _sub(D2, D0, "D2 - D0") // D0
        else:
            stored = new
            mint = D1
        if mint < min_mint_amount:
            raise StableSwapRevert("Slippage screwed you")
        return LiquidityResult(mint, tuple(amounts), tuple(fees), self._replace(stored, supply + mint))

    def calc_token_amount(self, amounts: Sequence[int], is_deposit: bool) -> int:
        """The contract's ``calc_token_amount``: LP change for ``amounts``, fees not included."""
        amp = self.amp
        D0 = self.D()
        if is_deposit:
            bal = [b + a for b, a in zip(self.balances, amounts, strict=True)]
        else:
            bal = [_sub(b, a, "calc_token_amount") for b, a in zip(self.balances, amounts, strict=True)]
        D1 = get_D(self.xp(bal), amp)
        diff = _sub(D1, D0, "D1 - D0") if is_deposit else _sub(D0, D1, "D0 - D1")
        if D0 == 0:
            raise StableSwapRevert("division by zero")
        return diff * self.lp_supply // D0

    def remove_liquidity(self, burn_amount: int,
                         min_amounts: Sequence[int] | None = None) -> LiquidityResult:
        """Burn LP for a pro-rata share of every coin (no fee): amounts sent, new state."""
        supply = self.lp_supply
        if supply == 0:
            raise StableSwapRevert("division by zero")
        amounts = tuple(b * burn_amount // supply for b in self.balances)
        if min_amounts is not None and any(a < m for a, m in zip(amounts, min_amounts, strict=True)):
            raise StableSwapRevert("Withdrawal resulted in fewer coins than expected")
        bal = [_sub(b, a, "balance") for b, a in zip(self.balances, amounts, strict=True)]
        return LiquidityResult(burn_amount, amounts, (0,) * self.n,
                               self._replace(bal, _sub(supply, burn_amount, "totalSupply")))

    def calc_withdraw_one_coin_parts(self, burn_amount: int, i: int) -> tuple[int, int]:
        """(amount of coin ``i`` received, fee) in native units for burning ``burn_amount`` LP."""
        amp = self.amp
        n = self.n
        xp = self.xp()
        D0 = self.D()
        supply = self.lp_supply
        if supply == 0 or D0 == 0:
            raise StableSwapRevert("division by zero")
        D1 = _sub(D0, burn_amount * D0 // supply, "D1")
        new_y = get_y_D(amp, i, xp, D1)
        base_fee = self.fee * n // (4 * (n - 1))
        xp_reduced = [0] * n
        for k in range(n):
            xp_k = xp[k]
            if k == i:
                expected = _sub(xp_k * D1 // D0, new_y, "dx_expected")
            else:
                expected = _sub(xp_k, xp_k * D1 // D0, "dx_expected")
            xp_reduced[k] = _sub(xp_k, base_fee * expected // FEE_DENOMINATOR, "xp_reduced")
        mul = self.precision_mul[i]
        dy = _sub(xp_reduced[i], get_y_D(amp, i, xp_reduced, D1), "dy")
        dy_0 = _sub(xp[i], new_y, "dy_0") // mul
        dy = _sub(dy, 1, "dy - 1") // mul
        return dy, _sub(dy_0, dy, "dy_0 - dy")

    def calc_withdraw_one_coin(self, burn_amount: int, i: int) -> int:
        """The contract's ``calc_withdraw_one_coin``: coin ``i`` received (native units)."""
        return self.calc_withdraw_one_coin_parts(burn_amount, i)[0]

    def remove_liquidity_one_coin(self, burn_amount: int, i: int, min_received: int = 0) -> LiquidityResult:
        """Burn LP for coin ``i`` only: amount sent (in ``amounts[i]``), fee, new state."""
        dy, fee = self.calc_withdraw_one_coin_parts(burn_amount, i)
        if dy < min_received:
            raise StableSwapRevert("Not enough coins removed")
        bal = list(self.balances)
        bal[i] = _sub(bal[i], dy + fee * self.admin_fee // FEE_DENOMINATOR, "balance")
        amounts = tuple(dy if k == i else 0 for k in range(self.n))
        fees = tuple(fee if k == i else 0 for k in range(self.n))
        return LiquidityResult(burn_amount, amounts, fees,
                               self._replace(bal, _sub(self.lp_supply, burn_amount, "totalSupply")))

    def get_virtual_price(self) -> int:
        """LP value in D units with 1e18 precision."""
        if self.lp_supply == 0:
            raise StableSwapRevert("division by zero")
        return self.D() * PRECISION // self.lp_supply
