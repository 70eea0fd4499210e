"""The on-chain venue kit: what a third-party plugin for an EVM protocol (staking, restaking, lending) builds on,
and what the built-in Lido, EtherFi, EigenLayer, Aave and Morpho venues use.

- :mod:`basis_core.onchain.venue`: :class:`OnChainVenue` (settings, backends, balances, live accrual, market
  data module), the operation mixins :class:`StakingHooks` / :class:`LendingHooks` / :class:`AtomicHooks`, and
  :class:`LiquidStakingVenue` (a liquid-staking venue described by a :class:`LiquidStaking`);
- :mod:`basis_core.onchain.staking`: :class:`StakingSim`, the backtest base of token-wrapping / staking-queue
  venues (ledger, rate series, gas, request ids, rebases), and the wei helpers;
- :mod:`basis_core.live.onchain`: :class:`~basis_core.live.onchain.OnChainLiveBase`, the live backend base (web3
  transactions: approvals, sends with a protocol's refusals, receipts, deltas from ``balanceOf`` differences);
- :mod:`basis_core.onchain.data`: market-data helpers (an LST exchange rate from oracle files and synthetic);
- :mod:`basis_core.testing.chain`: test helpers (gas of deltas' transactions, wallet snapshots).

Nothing here imports web3; the live base loads it only when a client is built.
"""

from __future__ import annotations

from basis_core.onchain.liquid import LiquidStaking
from basis_core.onchain.venue import AtomicHooks, LendingHooks, LiquidStakingVenue, OnChainVenue, StakingHooks

__all__ = ["AtomicHooks", "LendingHooks", "LiquidStaking", "LiquidStakingVenue", "OnChainVenue", "StakingHooks"]
