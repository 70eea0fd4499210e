"""EtherFi's share math in integers (wei), exactly as ``LiquidityPool`` / ``WeETH`` / ``WithdrawRequestNFT`` round.

eETH balances are shares: ``balanceOf = getTotalPooledEther x shares // totalShares``; one weETH is one share.
Every amount is an integer in wei (18 decimals). Pure functions, no web3.
"""

from __future__ import annotations

from dataclasses import dataclass

ONE = 10**18  # SHARE_UNIT
MAX_REQUEST = 2**96 - 1  # requests store uint96 amounts


def shares_for_deposit(amount: int, pooled_before: int, total_shares: int) -> int:
    """``_sharesForDepositAmount``: shares minted by depositing ``amount`` into a pool holding ``pooled_before``
    (1:1 into an empty pool), rounded down."""
    if pooled_before == 0:
        return amount
    return amount * total_shares // pooled_before


def shares_for_amount(amount: int, pooled: int, total_shares: int) -> int:
    """``sharesForAmount`` (= ``WeETH.getWeETHByeETH``; an eETH transfer moves this many shares), rounded down."""
    return 0 if pooled == 0 else amount * total_shares // pooled


def shares_for_withdrawal_amount(amount: int, pooled: int, total_shares: int) -> int:
    """``sharesForWithdrawalAmount``: rounded up (in the protocol's favour)."""
    return 0 if pooled == 0 else -(-amount * total_shares // pooled)


def amount_for_share(share: int, pooled: int, total_shares: int) -> int:
    """``amountForShare`` (= ``WeETH.getEETHByWeETH``; ``getRate`` for 1e18), rounded down."""
    return 0 if total_shares == 0 else share * pooled // total_shares


def amount_per_share_ceil(pooled: int, total_shares: int) -> int:
    """``amountPerShareCeil``: the rate a finalization freezes, ETH wei per 1e18 shares rounded up."""
    return 0 if total_shares == 0 else -(-ONE * pooled // total_shares)


def claimable(amount_of_eeth: int, share_of_eeth: int, frozen_rate: int) -> int:
    """``getClaimableAmount``: min(the eETH requested, the request's shares at the finalization's frozen rate)."""
    return min(amount_of_eeth, share_of_eeth * frozen_rate // ONE)


@dataclass(frozen=True, slots=True)
class PoolState:
    """Pool-wide accounting: ``pooled`` (getTotalPooledEther, wei) and eETH ``total_shares``."""

    pooled: int
    total_shares: int

    @classmethod
    def at_rate(cls, rate: int) -> PoolState:
        """The state whose ``getRate()`` is ``rate`` (wei per 1e18 shares) exactly: pooled = rate, shares = 1e18."""
        return cls(rate, ONE)

    def rate(self) -> int:
        """``WeETH.getRate()``."""
        return amount_for_share(ONE, self.pooled, self.total_shares)

    def balance_of(self, shares: int) -> int:
        """eETH ``balanceOf`` of an account holding ``shares``."""
        return amount_for_share(shares, self.pooled, self.total_shares)

    def deposit(self, eth: int) -> tuple[int, PoolState]:
        """``deposit{value: eth}()``: shares minted and the state after."""
        shares = shares_for_deposit(eth, self.pooled, self.total_shares)
        if eth == 0 or shares == 0:
            raise ValueError("InvalidAmount")
        return shares, PoolState(self.pooled + eth, self.total_shares + shares)

    def wrap(self, eeth: int) -> int:
        """weETH minted by ``wrap(eeth)``."""
        return shares_for_amount(eeth, self.pooled, self.total_shares)

    def unwrap(self, weeth: int) -> int:
        """eETH sent by ``unwrap(weeth)``."""
        return amount_for_share(weeth, self.pooled, self.total_shares)

    def rebase(self, rewards: int) -> PoolState:
        """The admin's ``rebase(rewards, 0)``."""
        return PoolState(self.pooled + rewards, self.total_shares)


__all__ = ["MAX_REQUEST", "ONE", "PoolState", "amount_for_share", "amount_per_share_ceil", "claimable",
           "shares_for_amount", "shares_for_deposit", "shares_for_withdrawal_amount"]
