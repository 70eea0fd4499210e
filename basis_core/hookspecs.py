"""Hook specifications: the contract between basis-core and venue plugins.

Every operation hook takes ``(timestamp, instruction)``: ``timestamp`` is a timezone-aware UTC
``pandas.Timestamp`` (the run's clock; in backtest never earlier than the previous call) and
``instruction`` the validated pydantic model of that operation (amounts in human units). The manager
calls exactly one venue's implementation (a subset hook caller per venue), wrapped by the core's
wrappers (validation, history / statistics, risk limits). Operation hooks are ``firstresult``: the
venue returns an :class:`~basis_core.deltas.ExecutionDeltas` and must never return ``None``
(:class:`~basis_core.errors.VenueContractError`).

Errors: raise the typed errors of :mod:`basis_core.errors` (``InstructionError`` subclasses name the
field). In backtest mode, a raised error rolls back every ledger write the call made.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from basis_core.deltas import ExecutionDeltas
    from basis_core.interfaces import VenueContext, VenueInfo

PROJECT = "basis_core"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

#: operation name -> hook name (the seed's names)
OPERATION_HOOKS: dict[str, str] = {
    "spot_trade": "execute_spot_trade",
    "perp_trade": "execute_perp_trade",
    "swap": "execute_swap",
    "supply": "execute_supply",
    "withdraw": "execute_withdraw",
    "borrow": "execute_borrow",
    "repay": "execute_repay",
    "stake": "execute_stake",
    "unstake": "execute_unstake",
    "add_liquidity": "execute_add_liquidity",
    "remove_liquidity": "execute_remove_liquidity",
    "transfer": "execute_transfer",
    "cancel_order": "cancel_order",
    "modify_order": "modify_order",
    "atomic": "execute_atomic",
    "liquidate": "execute_liquidate",
}


@hookspec(historic=True)
def configure(context: VenueContext) -> None:
    """Receive the run's context once, before any other call (historic: late plugins get it too).

    :param context: mode (``backtest`` | ``live``), the venue's settings (``context.settings_for(name)``),
        the data provider, the backtest ledger (None in live mode) and the run's clock.
    :return: nothing.
    :raises ConfigError: the venue's settings are invalid (e.g. live mode without credentials).

    Example::

        @hookimpl
        def configure(self, context): self.ctx = context
    """


@hookspec
def venue_info() -> VenueInfo:  # type: ignore[empty-body]
    """Describe the venue: name, kind (``cex`` | ``dex`` | ``onchain``), operations, instruments.

    :return: a :class:`~basis_core.interfaces.VenueInfo`; ``operations`` must list exactly the
        operations whose hooks the plugin implements (the conformance kit checks it).

    Example: ``VenueInfo(name="binance", kind="cex", operations=("spot_trade", "perp_trade"))`` (the base
    classes build it from the class attributes and the implemented hooks).
    """


@hookspec(firstresult=True)
def execute_spot_trade(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Buy or sell on a spot market.

    :param timestamp: aware UTC time of the instruction.
    :param instruction: :class:`~basis_core.instructions.SpotTrade` (symbol ``ETH/USDT``, side, amount in
        base units, market or limit with price in quote units, time in force, post-only).
    :return: deltas: e.g. ``binance:spot:ETH`` +amount, ``binance:spot:USDT`` -cost, fees in the
        asset the venue charges them; a resting limit order returns status ``open`` and no positions.
    :raises InstructionError: unknown symbol, amount below minimum / off step, price off tick.
    :raises InsufficientFundsError: not enough quote (buy) or base (sell).

    Example: ``{"operation": "spot_trade", "venue": "binance", "symbol": "ETH/USDT", "side": "buy", "amount": "1"}``
    """


@hookspec(firstresult=True)
def execute_perp_trade(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Trade a linear perpetual (long = buy), with reduce-only and leverage.

    :param instruction: :class:`~basis_core.instructions.PerpTrade` (``ETH/USDT:USDT``, amount in base units).
    :return: deltas on ``<venue>:perp:<symbol>`` (signed base units) and the margin wallet
        (realised PnL, fees).
    :raises MarginError: not enough margin; :raises InstructionError: reduce-only would increase.

    Example: ``{"operation": "perp_trade", "venue": "binance", "symbol": "ETH/USDT:USDT", "side": "sell",
    "amount": "2"}``
    """


@hookspec(firstresult=True)
def execute_swap(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Swap tokens on a DEX (or quote only when ``instruction.quote_only``).

    :param instruction: :class:`~basis_core.instructions.Swap` (token_in, token_out, amount_in in human
        units, min_amount_out / max_slippage_bps, pool, deadline).
    :return: deltas on ``ethereum:wallet:<token>`` incl. gas in ``ethereum:wallet:ETH``; ``details``
        carry ``amount_out``, ``execution_price``, ``price_impact_bps``, ``fee``, ``gas_units``.
    :raises SlippageError: the output is below the bound; :raises InstructionError: unknown token or pool,
        amount beyond the pool, expired deadline.

    Example: ``{"operation": "swap", "venue": "uniswap", "token_in": "USDC", "token_out": "WETH", "amount_in": "5000"}``
    """


@hookspec(firstresult=True)
def execute_supply(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Supply an asset to a lending market.

    :param instruction: :class:`~basis_core.instructions.Supply` (asset, amount, optional e-mode category).
    :return: ``ethereum:wallet:<asset>`` -amount, ``<venue>:supplied:<asset>`` +amount, gas.
    :raises InsufficientFundsError: wallet balance too small.

    Example: ``{"operation": "supply", "venue": "aave", "asset": "wstETH", "amount": "10"}``
    """


@hookspec(firstresult=True)
def execute_withdraw(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Withdraw a supplied asset (an amount or ``"max"``).

    :return: ``<venue>:supplied:<asset>`` -amount, ``ethereum:wallet:<asset>`` +amount, gas.
    :raises HealthFactorError: the withdrawal would push the health factor below 1.

    Example: ``{"operation": "withdraw", "venue": "aave", "asset": "wstETH", "amount": "max"}``
    """


@hookspec(firstresult=True)
def execute_borrow(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Borrow an asset at a variable rate against collateral.

    :return: ``<venue>:debt:<asset>`` +amount (a liability), ``ethereum:wallet:<asset>`` +amount, gas.
    :raises HealthFactorError: the borrow exceeds the LTV / borrowing power.

    Example: ``{"operation": "borrow", "venue": "aave", "asset": "WETH", "amount": "5"}``
    """


@hookspec(firstresult=True)
def execute_repay(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Repay borrowed debt (an amount or ``"max"``).

    :return: ``<venue>:debt:<asset>`` -amount, ``ethereum:wallet:<asset>`` -amount, gas.
    :raises InsufficientFundsError: the wallet holds less than the repayment.
    :raises InstructionError: nothing is owed in ``asset``.

    Example: ``{"operation": "repay", "venue": "aave", "asset": "WETH", "amount": "max"}``
    """


@hookspec(firstresult=True)
def execute_liquidate(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Liquidate another account's unhealthy position in an isolated market, as the liquidator (Morpho Blue).

    :return: ``ethereum:wallet:<loan token>`` -repaid, ``ethereum:wallet:<collateral token>`` +seized, gas.
    :raises HealthFactorError: the position is healthy (nothing changes).
    :raises InstructionError: unknown market or borrower, or no debt to repay.
    :raises InsufficientFundsError: the wallet holds less than the repayment.

    Example: ``{"operation": "liquidate", "venue": "morpho", "market": "wstETH/WETH-94.5", "borrower": "0xabc...",
    "amount": "max"}``
    """


@hookspec(firstresult=True)
def execute_stake(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Stake (ETH -> stETH) or wrap (stETH -> wstETH) at the protocol's exchange rate.

    :param instruction: :class:`~basis_core.instructions.Stake` (asset, amount, receive).
    :return: wallet deltas of both tokens and gas.
    :raises InstructionError: an asset / receive pair the venue cannot stake or wrap.
    :raises InsufficientFundsError: the wallet holds less than ``amount``.

    Example: ``{"operation": "stake", "venue": "lido", "asset": "ETH", "amount": "10", "receive": "wstETH"}``
    """


@hookspec(firstresult=True)
def execute_unstake(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Unstake: request a withdrawal (claimable after the queue delay), claim it, or unwrap.

    :param instruction: :class:`~basis_core.instructions.Unstake` (action request | claim | unwrap).
    :return: deltas; a request returns status ``requested`` and ``details['request_id']``.
    :raises InstructionError: claiming a request that is not yet finalised or unknown.

    Example: ``{"operation": "unstake", "venue": "lido", "asset": "stETH", "amount": "1"}``
    """


@hookspec(firstresult=True)
def execute_add_liquidity(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Add liquidity to a pool (v2 / Curve LP tokens, or a v3 position in a tick range).

    :param instruction: :class:`~basis_core.instructions.AddLiquidity` (pool, amounts by token, v3 tick range,
        min_lp_out).
    :return: token wallet deltas, ``<venue>:lp:<pool>`` (or a position key), gas.
    :raises SlippageError: fewer LP tokens than ``min_lp_out``.
    :raises InstructionError: unknown pool or token, a tick range off the pool's spacing.

    Example: ``{"operation": "add_liquidity", "venue": "curve", "pool": "3pool", "amounts": {"USDC": "1000"}}``
    """


@hookspec(firstresult=True)
def execute_remove_liquidity(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Remove liquidity (LP tokens or a v3 position incl. its accrued fees).

    :param instruction: :class:`~basis_core.instructions.RemoveLiquidity` (pool, lp_amount or position_id,
        min_amounts).
    :return: deltas: ``<venue>:lp:<pool>`` -lp_amount, token wallets +amounts (fees included), gas.
    :raises SlippageError: a token amount below ``min_amounts``.
    :raises InstructionError: unknown pool or position, more LP tokens than held.

    Example: ``{"operation": "remove_liquidity", "venue": "uniswap", "pool": "v2:WETH/USDC", "lp_amount": "max"}``
    """


@hookspec(firstresult=True)
def execute_transfer(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Move an asset between two accounts of one venue (Binance spot <-> futures, Hyperliquid spot <-> perp).

    :return: deltas: the asset -amount on ``from_account``, +amount on ``to_account`` (no fee).
    :raises InsufficientFundsError: the source account is short.

    Example: ``{"operation": "transfer", "venue": "binance", "asset": "USDT", "amount": "1000",
    "from_account": "spot", "to_account": "futures"}``
    """


@hookspec(firstresult=True)
def cancel_order(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Cancel an open order (by venue order id or its client id).

    :return: deltas with status ``cancelled`` and no positions.
    :raises OrderNotFoundError: no such open order.

    Example: ``{"operation": "cancel_order", "venue": "binance", "order_id": "my-order-1"}``
    """


@hookspec(firstresult=True)
def modify_order(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Change the amount and/or price of an open limit order.

    :return: deltas with status ``modified`` (or ``filled`` if the new price is marketable).
    :raises OrderNotFoundError: no such open order.

    Example: ``{"operation": "modify_order", "venue": "binance", "order_id": "my-order-1", "price": "2900"}``
    """


@hookspec(firstresult=True)
def execute_atomic(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Live mode: execute an atomic bundle in one transaction (e.g. a flash-loan loop).

    In backtest the core runs bundles itself on a scratch ledger; a venue implements this hook
    to execute bundles live (all steps land or none do).

    :return: the net deltas of the bundle.
    :raises LiveExecutionError: the transaction reverted (nothing changed).

    Example: ``{"operation": "atomic", "venue": "aave", "flash_loan": {"asset": "WETH", "amount": "20"},
    "steps": [...], "min_health_factor": "1.05"}``
    """


@hookspec(firstresult=True)
def get_balances(timestamp: Any, instruction: Any) -> dict[str, Any] | None:
    """Balances and positions of the venue's account, by instrument key.

    :param instruction: None, or a dict of options (e.g. ``{"include_metrics": True}``).
    :return: instrument key -> Decimal; venues may add ``<venue>:metric:<name>`` entries (health
        factor, LTV, borrowing power, margin ratio).

    Example: ``manager.get_balances(ts, "aave")["aave:metric:health_factor"]``
    """


@hookspec(firstresult=True)
def quote_swap(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Quote a swap without executing it (nothing changes).

    :param instruction: a :class:`~basis_core.instructions.Swap`.
    :return: deltas with status ``quoted``; ``details``: amount_out, execution_price,
        price_impact_bps, fee, gas_units, gas_cost_eth.
    :raises InstructionError: unknown token or pool, amount beyond the pool.

    Example: ``manager.quote(ts, {"operation": "swap", "venue": "uniswap", "token_in": "USDC",
    "token_out": "WETH", "amount_in": "5000"}).details["price_impact_bps"]``
    """


@hookspec(firstresult=True)
def swap_pools(timestamp: Any, instruction: Any) -> list[dict[str, Any]] | None:
    """The pools of this venue that can swap ``token_in`` for ``token_out`` (the core's router asks every
    venue implementing ``quote_swap``, then quotes each pool through ``quote_swap`` with ``pool`` set).

    :param instruction: a :class:`~basis_core.instructions.Swap` (its ``pool`` and amount are ignored).
    :return: one dict per pool: ``pool`` (the id ``Swap.pool`` takes), ``decimals_in`` / ``decimals_out``
        (the tokens' decimals); an empty list when no pool trades the pair.
    :raises InstructionError: an unknown token (naming ``token_in`` / ``token_out``).

    Example: ``[{"pool": "v3:WETH/USDC:500", "decimals_in": 6, "decimals_out": 18}, {"pool": "v2:WETH/USDC",
    "decimals_in": 6, "decimals_out": 18}]``
    """


@hookspec(firstresult=True)
def swap_pool_models(timestamp: Any, instruction: Any) -> list[Any] | None:
    """Pure-function models of this venue's pools that can swap ``token_in`` for ``token_out``, at ``timestamp``
    (optional; the core's router then optimises a split on local math and verifies only its legs through
    ``quote_swap``). Nothing changes.

    Each model is a :class:`basis_core.best_execution.model.PoolModel`: the pool id, the tokens' decimals, an
    immutable snapshot (reserves / v3 price, liquidity and ticks / StableSwap balances, A and fee) and a pure
    ``quote(amount_in base units) -> amount_out base units | None`` that equals this venue's ``quote_swap``
    exactly for the same amount, time and pool state; plus the zero-size rate after fee, the gas of a swap in ETH
    and the USD reference prices valuing it. A venue that implements only ``swap_pools`` + ``quote_swap`` (or
    returns None here) still takes part: the router quotes it through the hooks.

    :param instruction: a :class:`~basis_core.instructions.Swap` (its ``pool`` and amount are ignored).
    :return: a list of ``PoolModel`` covering every pool of the pair (empty: none trades it), or None to be
        quoted through ``swap_pools`` / ``quote_swap`` instead.
    :raises InstructionError: an unknown token (naming ``token_in`` / ``token_out``).

    Example::

        @hookimpl
        def swap_pool_models(self, timestamp, instruction):
            r_in, r_out = self.reserves(timestamp, instruction.token_in)
            return [PoolModel("v2:WETH/USDC", 6, 18, lambda x: x * 997 * r_out // (r_in * 1000 + x * 997),
                              Decimal(997 * r_out) / (1000 * r_in), gas_eth, {"ETH": eth, "WETH": eth},
                              state=(r_in, r_out))]
    """


@hookspec(firstresult=True)
def quote_spot(timestamp: Any, instruction: Any) -> ExecutionDeltas | None:
    """Quote, in swap terms, a spot market order on this CEX (nothing is placed): how much ``token_out`` the spot
    book gives for at most ``amount_in`` of ``token_in``, net of the taker fee -- live from the order book,
    in backtest from the simulator's price and slippage model. The core's router asks it for an optional CEX leg
    of a routed swap (``allow_cex``).

    :param instruction: a :class:`~basis_core.instructions.Swap` in the venue's assets (``token_in`` /
        ``token_out`` of one spot market, either side; ``amount_in`` in human units).
    :return: deltas with status ``quoted`` and no positions; ``details``: ``symbol``, ``side``, ``amount``
        (base, on the market's step), ``price`` (average fill), ``amount_in`` (spent, <= asked), ``amount_out``,
        ``fee``, ``fee_asset``, ``key_in`` / ``key_out``, ``positions`` (would-be) and ``spot_trade`` (the market
        order that realises the quote, an instruction dict).
    :raises InstructionError: no spot market for the pair (``token_out``), a size below the market's minimum
        or beyond the book (``amount_in``).

    Example: ``{"operation": "swap", "venue": "binance", "token_in": "USDT", "token_out": "ETH", "amount_in":
    "30000"}`` -> ``details["spot_trade"] == {"operation": "spot_trade", "venue": "binance", "symbol": "ETH/USDT",
    "side": "buy", "amount": "9.9831"}``
    """


@hookspec(firstresult=True)
def encode_call(timestamp: Any, instruction: Any, recipient: Any) -> Any:
    """Live: the contract call that performs ``instruction`` (one step of an atomic bundle) from an executor
    contract at ``recipient``, for another venue's executor to run in its single transaction.

    The core calls it for an executor venue (``VenueContext.encode_call``); the call must take its input from
    ``recipient`` (which approves it to the call's target first) and pay its output to ``recipient``.

    :param instruction: the step (e.g. a :class:`~basis_core.instructions.Swap` with ``pool`` and
        ``min_amount_out`` set).
    :param recipient: the executor contract's address (checksummed hex).
    :return: a :class:`basis_core.live.bundles.EncodedCall`, or None when the venue cannot encode the step.
    :raises InstructionError: the step is invalid for the venue (unknown pool or token, amount beyond the pool).

    Example: ``EncodedCall(target=router, data=swapExactTokensForTokens(...), token_in=USDC, amount_in=10**9,
    token_out=WETH, min_out=..., symbol_in="USDC", symbol_out="WETH", decimals_in=6, decimals_out=18)``
    """


@hookspec(firstresult=True)
def estimate_notional(timestamp: Any, instruction: Any) -> Any:
    """USD notional of an instruction, for the core's max-notional risk limit (checked before sending).

    :param instruction: any validated instruction routed to the venue.
    :return: a Decimal in USD, or None when the instruction has no notional (cancel, claim).

    Example: a 2 ETH market buy at an as-of price of 3000 USDT returns ``Decimal("6000")``.
    """


@hookspec(firstresult=True)
def risk_state(timestamp: Any, instruction: Any) -> Any:
    """The venue's liquidation risk under a market shock, computed with the venue's own liquidation math, for
    the core's joint risk corridor (:mod:`basis_core.risk`); nothing changes.

    :param instruction: a :class:`basis_core.risk.Shock` (``eth`` price factor, ``lst`` exchange-rate factors,
        ``funding_apr`` / ``borrow_apr`` over ``hours``); the identity shock asks for the state now.
    :return: a list of :class:`basis_core.risk.LegRisk`, one per liquidation unit (an Aave account, a margin
        wallet with its perps): ``health`` >= 1 is safe, < 1 is what the venue liquidates (Aave's health factor,
        a wallet's margin balance / maintenance margin), None when nothing can be liquidated; or None when the
        venue has no liquidation risk to report.

    Example: ``[LegRisk("binance", "binance:futures:USDT", "perp_margin", Decimal("4.2"),
    {"perp:binance:ETH/USDT:USDT": Decimal("2100")})]`` for ``Shock(eth=Decimal("0.7"))``.
    """


@hookspec(firstresult=True)
def transfer_networks(timestamp: Any, instruction: Any) -> Any:
    """Live moves (:mod:`basis_core.transit.live`), source venue: the networks it can withdraw
    ``instruction.asset`` from the account of ``instruction.source`` on, preferred first.

    :param instruction: a :class:`basis_core.transit.legs.TransferLeg`.
    :return: a list of network names (``["ARBITRUM"]``), or None when the venue cannot withdraw.
    :raises InstructionError: the asset cannot leave that account (field ``asset`` / ``source``).

    Example: Hyperliquid, USDC from ``hyperliquid:perp-margin:USDC``: ``["ARBITRUM"]``.
    """


@hookspec(firstresult=True)
def transfer_address(timestamp: Any, instruction: Any) -> Any:
    """Live moves, destination venue: the deposit address crediting ``instruction.destination`` with
    ``instruction.asset`` sent on ``instruction.network``.

    :param instruction: a :class:`basis_core.transit.legs.TransferLeg` with ``network`` set.
    :return: the address (str), or None when the venue takes no deposit on that network.
    :raises InstructionError: the asset or account cannot receive deposits (field ``asset`` / ``destination``).

    Example: Binance, USDC to ``binance:spot:USDC`` on ``ARBITRUM``: ``"0x5a52...e1f0"`` (its deposit address).
    """


@hookspec(firstresult=True)
def transfer_send(timestamp: Any, instruction: Any) -> Any:
    """Live moves, source venue: withdraw ``instruction.amount`` of ``instruction.asset`` to
    ``instruction.address`` on ``instruction.network``, exactly once per ``instruction.transfer_id``: the venue
    journals its idempotency key (a client id, a nonce) before the request and, called again with the same
    ``transfer_id`` (a retry, a restart), looks the withdrawal up instead of sending it twice.

    :param instruction: a :class:`basis_core.transit.legs.TransferLeg` with ``address`` and ``network`` set.
    :return: a :class:`basis_core.transit.legs.TransferState` (``fee``: what the venue charged).
    :raises InstructionError: refused by the venue (InsufficientFundsError when the balance is short); nothing
        moved.

    Example: ``TransferState("pending", "0x4f31...", Decimal("1"), Decimal("999"))`` for 1000 USDC from
    Hyperliquid.
    """


@hookspec(firstresult=True)
def transfer_status(timestamp: Any, instruction: Any) -> Any:
    """Live moves, source venue: the withdrawal of ``instruction.transfer_id`` now.

    :param instruction: the :class:`basis_core.transit.legs.TransferLeg` that was sent.
    :return: a :class:`basis_core.transit.legs.TransferState`, or None when the venue does not know it.

    Example: ``TransferState("sent", "c6b9...", Decimal("1"), Decimal("99"), txid="0x77fb...")``.
    """


@hookspec(firstresult=True)
def transfer_arrival(timestamp: Any, instruction: Any) -> Any:
    """Live moves, destination venue: whether the transaction ``instruction.txid`` has been credited to
    ``instruction.destination``.

    :param instruction: a :class:`basis_core.transit.legs.TransferLeg` with ``txid`` set.
    :return: a :class:`basis_core.transit.legs.ArrivalState`.

    Example: ``ArrivalState(True, True, Decimal("999"), "12/12")`` once Binance credited the deposit.
    """


@hookspec
def accrue(previous: Any, timestamp: Any) -> list[ExecutionDeltas] | None:
    """Backtest: apply time-dependent effects between ``previous`` (exclusive) and ``timestamp``
    (inclusive): funding settlements, interest, LST rebases, resting-order fills, liquidations.
    Live: report what happened at the venue since the last call (CEX: fills of resting orders this
    manager placed); never called for an instruction, only by ``manager.advance_to``.

    Called on every venue when the run's clock advances, before the instruction at ``timestamp``
    (backtest), or when the host calls ``advance_to`` (live).

    :param previous: the clock's previous time (exclusive), aware UTC.
    :param timestamp: the new time (inclusive), aware UTC.
    :return: the deltas of each effect (the core applies their ``positions`` to the ledger and
        records them in the history), or None.

    Example: a 1 ETH short on Binance crossing 08:00 UTC returns one ``funding`` deltas of
    ``{"binance:futures:USDT": mark * rate}``.
    """


# -- market data (called on the venue *class*, before any manager exists: implement as static methods) --------
@hookspec
def market_data_files() -> Any:
    """Contribute the market data files this venue's data comes in, for ``basis backtest --data DIR``.

    Implement as a ``@staticmethod`` on the venue class: the core calls it on the classes of the
    ``basis_core.venues`` entry points (and on its own generic contribution, last) when it loads a
    directory, before any manager exists. A file matched by several contributions is loaded by the first
    (venues before the core); two files making the same series are an error naming both, never a silent win.

    :return: a :class:`basis_core.data.contrib.MarketDataFiles` (file loaders: pattern, series template,
        cadence, columns; proxy aliases; gap fills), or None.

    Example::

        @staticmethod
        @hookimpl
        def market_data_files():
            return MarketDataFiles(loaders=(
                klines(r"^okx_(?P<base>[A-Z]+)USDT_perp_1m_", "perp:okx:{base}/USDT:USDT", cadence="1m"),
                funding(r"^okx_(?P<base>[A-Z]+)USDT_funding_", "funding:okx:{base}/USDT:USDT")))
    """


@hookspec
def synthetic_series(market: Any) -> Any:
    """Contribute this venue's series to the seeded synthetic market (the default backtest's data).

    Implement as a ``@staticmethod`` on the venue class. ``market`` is a
    :class:`basis_core.data.synthetic.SyntheticMarket`: its ``spec`` (seed, start, hours), ``times``,
    the underlying price paths (``market.path("ETH")``), per-series random streams (``market.rng(name)``:
    seeded by the run's seed and the series name, so installing another venue never changes yours) and
    builders (``market.perp(venue, symbol, funding_every_hours=8)``, ``market.candles(...)``).

    :param market: the synthetic market being built.
    :return: a list of :class:`basis_core.data.series.Series` (names per the series naming of
        docs/writing-a-venue-plugin.md), or None.

    Example: ``return market.perp("okx", "ETH/USDT:USDT", funding_every_hours=8)``
    """


@hookspec
def live_market_data(timestamp: Any, keys: Any, context: Any) -> Any:
    """Read this venue's market data now, for live and paper runs: the live provider
    (:class:`basis_core.live.market_data.LiveMarketData`) answers ``get_data(timestamp)`` with the values every
    venue contributes, under the same series names as the backtest (see docs/writing-a-venue-plugin.md).

    Implement as a ``@staticmethod`` on the venue class, like the other data hooks: the provider calls it on
    the classes of the venues a run names, with no manager, ledger or credentials (public endpoints and an RPC
    URL are enough). Not ``firstresult``: each venue is called on its own (concurrently, in a thread pool,
    once per step) and serves its own keys. Read through ``context`` (keep clients in ``context.state``), never
    at import time; bound every request by ``context.timeout_s``.

    :param timestamp: the step time (aware UTC); values are stamped with it (a value the venue dates later is
        still its latest value).
    :param keys: a frozenset of the series names the run wants, or None for everything the venue serves
        under its settings; a venue may return more (the provider keeps what it is given).
    :param context: a :class:`basis_core.live.market_data.LiveReadContext`: ``venue``, ``settings`` (the
        venue's ``venue_config`` entry: ``base_url``, ``rpc_url``, ``deployment``, options), ``timeout_s`` and
        ``state`` (a dict kept between calls of one provider, for clients and what was learned before).
    :return: ``{series name: LiveValue(columns={column: Decimal}, as_of_ns=..., time_ns=None)}`` (``as_of_ns``:
        when the venue says the value held, UTC ns; ``time_ns``: an explicit row time, e.g. a funding
        settlement, instead of the step time), or None.
    :raises Exception: any error (a ccxt / web3 / socket error) is reported as
        :class:`~basis_core.errors.MarketDataUnavailableError` naming the venue.

    Example::

        @staticmethod
        @hookimpl
        def live_market_data(timestamp, keys, context):
            t = client(context).fetch_ticker("ETH/USDT")
            return {"spot:okx:ETH/USDT": LiveValue({"close": Decimal(t["info"]["last"])}, t["timestamp"] * 10**6)}
    """


@hookspec
def token_prices() -> Any:
    """Declare how the tokens this venue issues are valued (the core names no venue's token): each is worth
    ``rate`` of a numeraire token, ``rate`` being the ``rate`` column of a series of the market data (the
    venue's exchange rate), or 1 for a 1:1 claim. :func:`basis_core.data.prices.usd_price`, the backtest
    valuation, staking-yield attribution and the risk limits price the token through it, and a risk shock moves
    it with its numeraire, times the shock's ``lst`` factor for a token with a rate series
    (:meth:`basis_core.risk.Shock.price_factor`; the manager hands a venue's ``risk_state`` the declarations).

    Implement as a ``@staticmethod`` (or classmethod) on the venue class, like the other data hooks: it runs on
    the installed classes before any manager exists, and a manager adds its venues' to its data provider.

    :return: ``{token symbol: basis_core.data.prices.TokenPrice(numeraire, rate_series=None)}``, or None.

    Example::

        @staticmethod
        @hookimpl
        def token_prices():
            return {"stETH": TokenPrice("ETH"), "wstETH": TokenPrice("ETH", "lst:wstETH")}
    """


class DataHooks:
    """The market-data hook specifications alone (the data plugin manager registers venue classes with these)."""

    market_data_files = staticmethod(market_data_files)
    synthetic_series = staticmethod(synthetic_series)
    live_market_data = staticmethod(live_market_data)
    token_prices = staticmethod(token_prices)
