"""EigenLayer's StrategyBase share math in integers (base units), exactly as the contract rounds.

Virtual shares and balance (``SHARES_OFFSET = BALANCE_OFFSET = 1e3``) make the first depositor's rate 1:1 and
defeat donation attacks. Pure functions, no web3.
"""

from __future__ import annotations

from dataclasses import dataclass

SHARES_OFFSET = 10**3
BALANCE_OFFSET = 10**3
MAX_TOTAL_SHARES = 10**38 - 1


def deposit_shares(amount: int, total_shares: int, balance_before: int) -> int:
    """``StrategyBase.deposit``: new shares for ``amount`` tokens into a strategy holding ``balance_before``
    (the balance before the tokens arrived) with ``total_shares``; rounded down."""
    return amount * (total_shares + SHARES_OFFSET) // (balance_before + BALANCE_OFFSET)


def withdraw_amount(shares: int, total_shares: int, balance: int) -> int:
    """``StrategyBase.withdraw``: tokens sent for ``shares``; rounded down."""
    return (balance + BALANCE_OFFSET) * shares // (total_shares + SHARES_OFFSET)


def shares_to_underlying(shares: int, total_shares: int, balance: int) -> int:
    """``sharesToUnderlyingView``."""
    return (balance + BALANCE_OFFSET) * shares // (total_shares + SHARES_OFFSET)


def underlying_to_shares(amount: int, total_shares: int, balance: int) -> int:
    """``underlyingToSharesView``."""
    return amount * (total_shares + SHARES_OFFSET) // (balance + BALANCE_OFFSET)


@dataclass(frozen=True, slots=True)
class StrategyState:
    """One strategy: ``total_shares`` and the underlying ``balance`` it holds (base units)."""

    total_shares: int = 0
    balance: int = 0

    def deposit(self, amount: int) -> tuple[int, StrategyState]:
        """New shares and the state after (ValueError("NewSharesZero") when no share would be minted)."""
        shares = deposit_shares(amount, self.total_shares, self.balance)
        if shares == 0:
            raise ValueError("NewSharesZero")
        if self.total_shares + shares > MAX_TOTAL_SHARES:
            raise ValueError("TotalSharesExceedsMax")
        return shares, StrategyState(self.total_shares + shares, self.balance + amount)

    def withdraw(self, shares: int) -> tuple[int, StrategyState]:
        """Tokens sent for ``shares`` and the state after."""
        if shares > self.total_shares:
            raise ValueError("WithdrawalAmountExceedsTotalDeposits")
        out = withdraw_amount(shares, self.total_shares, self.balance)
        return out, StrategyState(self.total_shares - shares, self.balance - out)

    def to_underlying(self, shares: int) -> int:
        return shares_to_underlying(shares, self.total_shares, self.balance)

    def rebase(self, balance: int) -> StrategyState:
        """The strategy's token balance changed by itself (a rebasing token such as stETH)."""
        return StrategyState(self.total_shares, balance)


__all__ = ["BALANCE_OFFSET", "MAX_TOTAL_SHARES", "SHARES_OFFSET", "StrategyState", "deposit_shares",
           "shares_to_underlying", "underlying_to_shares", "withdraw_amount"]
