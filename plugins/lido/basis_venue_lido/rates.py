"""Lido stETH / wstETH share math in integers (wei), exactly as the contracts round.

stETH balances are shares: ``balance = shares * total_pooled_ether // total_shares``;
an stETH amount moves ``amount * total_shares // total_pooled_ether`` shares; one wstETH is one
share. Every amount here is an integer in wei (18 decimals). Pure functions, no web3.
"""

from __future__ import annotations

from dataclasses import dataclass

ONE = 10**18
MIN_STETH_WITHDRAWAL_AMOUNT = 100
MAX_STETH_WITHDRAWAL_AMOUNT = 1000 * ONE


def shares_for_eth(eth: int, total_pooled_ether: int, total_shares: int) -> int:
    """``getSharesByPooledEth``: shares worth ``eth`` wei (rounded down)."""
    return eth * total_shares // total_pooled_ether


def eth_for_shares(shares: int, total_pooled_ether: int, total_shares: int) -> int:
    """``getPooledEthByShares``: wei of stETH that ``shares`` are worth (rounded down)."""
    return shares * total_pooled_ether // total_shares


def wrap_amount(steth: int, total_pooled_ether: int, total_shares: int) -> int:
    """wstETH minted by ``wrap(steth)`` (= ``getWstETHByStETH``)."""
    return shares_for_eth(steth, total_pooled_ether, total_shares)


def unwrap_amount(wsteth: int, total_pooled_ether: int, total_shares: int) -> int:
    """stETH sent by ``unwrap(wsteth)`` (= ``getStETHByWstETH``)."""
    return eth_for_shares(wsteth, total_pooled_ether, total_shares)


def st_eth_per_token(total_pooled_ether: int, total_shares: int) -> int:
    """``stEthPerToken()``: stETH wei per 1e18 wstETH."""
    return eth_for_shares(ONE, total_pooled_ether, total_shares)


def tokens_per_st_eth(total_pooled_ether: int, total_shares: int) -> int:
    """``tokensPerStEth()``: wstETH wei per 1e18 stETH."""
    return shares_for_eth(ONE, total_pooled_ether, total_shares)


@dataclass(frozen=True, slots=True)
class StEthState:
    """Pool-wide stETH accounting: ``total_pooled_ether`` (wei) and ``total_shares``."""

    total_pooled_ether: int
    total_shares: int

    def shares_for_eth(self, eth: int) -> int:
        return shares_for_eth(eth, self.total_pooled_ether, self.total_shares)

    def eth_for_shares(self, shares: int) -> int:
        return eth_for_shares(shares, self.total_pooled_ether, self.total_shares)

    def balance_of(self, shares: int) -> int:
        """stETH ``balanceOf`` for an account holding ``shares``."""
        return self.eth_for_shares(shares)

    def submit(self, eth: int) -> tuple[int, StEthState]:
        """``submit{value: eth}``: shares minted and the new state."""
        if eth <= 0:
            raise ValueError("ZERO_DEPOSIT")
        shares = self.shares_for_eth(eth)
        return shares, StEthState(self.total_pooled_ether + eth, self.total_shares + shares)

    def rebase(self, delta: int) -> StEthState:
        """Oracle report adding ``delta`` wei (negative for a loss) of pooled ether."""
        new = self.total_pooled_ether + delta
        if new <= 0:
            raise ValueError("ZERO_POOLED_ETHER")
        return StEthState(new, self.total_shares)

    def transfer_shares(self, amount: int) -> int:
        """Shares moved by an stETH ``transfer(amount)`` (the receiver may see 1-2 wei less)."""
        return self.shares_for_eth(amount)

    def wrap(self, steth: int) -> int:
        """wstETH minted by ``wrap(steth)``."""
        return self.shares_for_eth(steth)

    def unwrap(self, wsteth: int) -> int:
        """stETH sent by ``unwrap(wsteth)``."""
        return self.eth_for_shares(wsteth)

    def st_eth_per_token(self) -> int:
        return st_eth_per_token(self.total_pooled_ether, self.total_shares)

    def tokens_per_st_eth(self) -> int:
        return tokens_per_st_eth(self.total_pooled_ether, self.total_shares)

    def withdrawal_claimable(self, amount_of_steth: int, amount_of_shares: int) -> int:
        """ETH a request locks at finalization under this state: min(requested, shares' value)."""
        return min(amount_of_steth, self.eth_for_shares(amount_of_shares))

    def finalize(self, requests: list[tuple[int, int]]) -> tuple[list[int], StEthState]:
        """Finalize ``(amountOfStETH, amountOfShares)`` requests together: ETH locked per request
        and the state after the batch's shares are burnt and its ETH leaves the pool."""
        locked = [self.withdrawal_claimable(a, s) for a, s in requests]
        burnt = sum(s for _, s in requests)
        return locked, StEthState(self.total_pooled_ether - sum(locked), self.total_shares - burnt)
