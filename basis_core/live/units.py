"""Exact conversions between human amounts (``Decimal``) and integer token base units (wei, 1e-6 USDC...).

Pure integer arithmetic on the Decimal's digits: no context precision, no rounding, ever.
"""

from __future__ import annotations

from decimal import Decimal

from basis_core.errors import InstructionError


def to_base_units(amount: Decimal | int | str, decimals: int, field: str = "amount") -> int:
    """``amount * 10**decimals`` as an int, exactly.

    Raises :class:`~basis_core.errors.InstructionError` naming ``field`` when the amount has more
    (non-zero) fractional digits than the token has decimals, is not finite, or is a float (floats are
    not exact: pass a ``Decimal`` or a string). Trailing zeros are fine (``Decimal("1.5000000")`` for
    a 6-decimal token is 1_500_000).
    """
    if isinstance(amount, bool) or isinstance(amount, float):
        raise InstructionError(field, f"must be a Decimal, int or str, not {type(amount).__name__}")
    if decimals < 0:
        raise InstructionError("decimals", f"must be >= 0, got {decimals}")
    if isinstance(amount, int):
        return amount * 10**decimals
    try:
        d = amount if isinstance(amount, Decimal) else Decimal(amount)
    except Exception:  # decimal.InvalidOperation on a bad string
        raise InstructionError(field, f"not a number: {amount!r}") from None
    if not d.is_finite():
        raise InstructionError(field, f"must be finite, got {d}")
    sign, digits, exponent = d.as_tuple()
    assert isinstance(exponent, int)
    mantissa = int("".join(map(str, digits))) if digits else 0
    shift = exponent + decimals
    if shift >= 0:
        value = mantissa * 10**shift
    else:
        q, r = divmod(mantissa, 10**-shift)
        if r:
            raise InstructionError(
                field, f"{d} has more fractional digits than the token's {decimals} decimals"
            )
        value = q
    return -value if sign else value


def from_base_units(value: int, decimals: int) -> Decimal:
    """``value / 10**decimals`` as an exact ``Decimal`` (built from digits, never rounded)."""
    if decimals < 0:
        raise ValueError(f"decimals must be >= 0, got {decimals}")
    sign = 1 if value < 0 else 0
    digits = tuple(int(c) for c in str(abs(value)))
    return Decimal((sign, digits, -decimals))
