"""Live backend of the Morpho venue: real transactions to Morpho Blue through :class:`basis_core.live.evm.EvmClient`.

Imported only in live mode (``make_live_backend``). Calls: ``supply`` / ``withdraw`` (the lending side),
``supplyCollateral`` / ``withdrawCollateral``, ``borrow``, ``repay``, ``liquidate`` of ``IMorpho`` on the markets
of the deployment table (:mod:`basis_venue_morpho.deployment`); reads ``market(id)``, ``position(id, user)``,
``idToMarketParams(id)``, the market's ``IOracle.price()`` and the Adaptive Curve IRM's ``rateAtTarget(id)``.

Every operation is a journaled intent (:mod:`basis_core.live.chain_intents`: exactly once across crashes and
timeouts). Before anything is sent, the instruction is checked against the chain with the contract's own math
(:mod:`basis_venue_morpho.math` on the market accrued to the latest block): the market and asset exist, the
amount fits the token's decimals, the wallet holds what a supply / repay / liquidation pulls, the position holds
what a withdrawal takes, a borrower to liquidate is unhealthy (typed errors, nothing sent); then the
transaction is estimated (a revert is mapped from Morpho's reason string to the backtest's typed error:
``insufficient collateral`` / ``position is healthy`` -> HealthFactorError, others InstructionError) and only
then approvals (``approval_mode`` exact by default, or unlimited) and the call are sent.

Atomic bundles (``atomic``, ``venue: "morpho"``): one transaction through our MorphoBundleExecutor inside Morpho's
fee-free flash loan (:mod:`basis_venue_morpho.executor`; ``executor`` option, :meth:`MorphoLive.deploy_executor`,
:meth:`MorphoLive.prepare_atomic`), deltas from the receipts as below over the markets the steps touch.

Deltas: wallet tokens from the receipts' ERC20 ``Transfer`` events of the account; ``morpho:supplied:<loan>``
(supply shares to assets, rounded down), ``morpho:collateral:<token>`` and ``morpho:debt:<loan>`` (borrow shares
to assets, rounded up) as the position's expected value after the last transaction minus before the first,
each market accrued to its block's time with the contract's math (so the interest of those blocks is in the
delta, as for Aave's aToken balances); ``ethereum:wallet:ETH`` pays ``gasUsed x effectiveGasPrice``. Keys and
rounding are the backtest's, so the same sequence gives the same deltas in both modes (gas aside).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from basis_core.deltas import ExecutionDeltas
from basis_core.errors import ConfigError, ContractRevertError, InstructionError, InsufficientFundsError
from basis_core.live.evm import EvmClient, Receipt
from basis_core.live.onchain import abi_function
from basis_core.live.units import from_base_units, to_base_units
from basis_core.onchain.live import LendingLive
from basis_venue_morpho import math as mm
from basis_venue_morpho.deployment import load_table
from basis_venue_morpho.markets import MarketSpec, alias_of, resolve_market
from basis_venue_morpho.sim import NO_DEBT_HF, market_risk, position_balances, revert_error

VENUE = "morpho"
WALLET = "ethereum:wallet:"
GAS_KEY = WALLET + "ETH"
MAX_UINT256 = 2**256 - 1
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
_ZERO = Decimal(0)
_PARAMS = {"name": "marketParams", "type": "tuple", "components": [
    {"name": "loanToken", "type": "address"}, {"name": "collateralToken", "type": "address"},
    {"name": "oracle", "type": "address"}, {"name": "irm", "type": "address"}, {"name": "lltv", "type": "uint256"}]}


def _fn(name: str, inputs: Sequence[Any], outputs: Sequence[str] = (), mut: str = "nonpayable") -> dict[str, Any]:
    return abi_function(name, inputs, outputs, mut)


#: the parts of IMorpho the venue calls (Morpho Blue 1.0.0)
MORPHO_ABI = [
    _fn("supply", [_PARAMS, "uint256 assets", "uint256 shares", "address onBehalf", "bytes data"],
        ["uint256", "uint256"]),
    _fn("withdraw", [_PARAMS, "uint256 assets", "uint256 shares", "address onBehalf", "address receiver"],
        ["uint256", "uint256"]),
    _fn("borrow", [_PARAMS, "uint256 assets", "uint256 shares", "address onBehalf", "address receiver"],
        ["uint256", "uint256"]),
    _fn("repay", [_PARAMS, "uint256 assets", "uint256 shares", "address onBehalf", "bytes data"],
        ["uint256", "uint256"]),
    _fn("supplyCollateral", [_PARAMS, "uint256 assets", "address onBehalf", "bytes data"]),
    _fn("withdrawCollateral", [_PARAMS, "uint256 assets", "address onBehalf", "address receiver"]),
    _fn("liquidate", [_PARAMS, "address borrower", "uint256 seizedAssets", "uint256 repaidShares", "bytes data"],
        ["uint256", "uint256"]),
    _fn("market", ["bytes32 id"], ["uint128 totalSupplyAssets", "uint128 totalSupplyShares",
                                   "uint128 totalBorrowAssets", "uint128 totalBorrowShares", "uint128 lastUpdate",
                                   "uint128 fee"], "view"),
    _fn("position", ["bytes32 id", "address user"], ["uint256 supplyShares", "uint128 borrowShares",
                                                     "uint128 collateral"], "view"),
    _fn("idToMarketParams", ["bytes32 id"], ["address loanToken", "address collateralToken", "address oracle",
                                             "address irm", "uint256 lltv"], "view"),
    _fn("setAuthorization", ["address authorized", "bool newIsAuthorized"]),
    _fn("isAuthorized", ["address authorizer", "address authorized"], ["bool"], "view"),
]
ORACLE_ABI = [_fn("price", [], ["uint256"], "view")]
IRM_ABI = [_fn("rateAtTarget", ["bytes32 id"], ["int256"], "view")]


@dataclass(frozen=True)
class LiveMarket:
    """One table market as the chain has it: its spec (symbols, oracle / IRM addresses, LLTV), id and params."""

    spec: MarketSpec
    id: bytes
    params: tuple[str, str, str, str, int]


def market_id(params: tuple[str, str, str, str, int]) -> bytes:
    """``MarketParamsLib.id``: keccak256 of the ABI-encoded parameters."""
    from eth_abi import encode
    from web3 import Web3
    return bytes(Web3.keccak(encode(["address", "address", "address", "address", "uint256"], list(params))))


class MorphoChain:
    """Read access to Morpho Blue for one deployment table (no account): markets, positions, prices, IRM state.
    Used by the live backend and by the venue's live market data."""

    def __init__(self, w3: Any, table: Mapping[str, Any]) -> None:
        self.w3 = w3
        self.table = table
        self.morpho = w3.eth.contract(address=w3.to_checksum_address(table["contracts"]["Morpho"]), abi=MORPHO_ABI)
        self.symbols = {w3.to_checksum_address(a): s for s, a in table["tokens"].items()}
        self._markets: dict[str, LiveMarket] | None = None

    @property
    def markets(self) -> dict[str, LiveMarket]:
        """alias -> LiveMarket (read once; ConfigError for an alias that does not match its parameters)."""
        if self._markets is None:
            out: dict[str, LiveMarket] = {}
            cs = self.w3.to_checksum_address
            for alias, entry in self.table["markets"].items():
                if isinstance(entry, str):
                    mid = bytes.fromhex(entry[2:])
                    loan, coll, oracle, irm, lltv = self.morpho.functions.idToMarketParams(mid).call()
                    if int(lltv) == 0 and int(oracle, 16) == 0:
                        raise ConfigError(f"deployment: markets.{alias}: no market {entry} on this Morpho")
                    params = (cs(loan), cs(coll), cs(oracle), cs(irm), int(lltv))
                else:
                    tokens = self.table["tokens"]
                    params = (cs(tokens[entry["loan"]]), cs(tokens[entry["collateral"]]), cs(entry["oracle"]),
                              cs(entry["irm"]), int(entry["lltv"]))
                    mid = market_id(params)
                loan_s, coll_s = self.symbols.get(params[0]), self.symbols.get(params[1])
                if loan_s is None or coll_s is None:
                    raise ConfigError(f"deployment: markets.{alias}: its loan / collateral token is not in tokens")
                real = alias_of(coll_s, loan_s, params[4])
                if real != alias:
                    raise ConfigError(f"deployment: markets.{alias}: the parameters of this market make {real!r}")
                out[alias] = LiveMarket(MarketSpec(loan_s, coll_s, params[2], params[3], params[4]), mid, params)
            self._markets = out
        return self._markets

    def specs(self) -> dict[str, MarketSpec]:
        return {a: m.spec for a, m in self.markets.items()}

    def state(self, lm: LiveMarket, block: Any = "latest") -> mm.Market:
        """``market(id)`` plus the IRM's ``rateAtTarget(id)`` at ``block`` (as stored: not accrued)."""
        tsa, tss, tba, tbs, last, fee = (int(x) for x in self.morpho.functions.market(lm.id).call(
            block_identifier=block))
        if last == 0:
            raise ConfigError(f"deployment: market {lm.spec.alias} is not created on this Morpho")
        irm = self.w3.eth.contract(address=lm.params[3], abi=IRM_ABI)
        rat = int(irm.functions.rateAtTarget(lm.id).call(block_identifier=block))
        return mm.Market(tsa, tss, tba, tbs, last, fee, rat)

    def accrued(self, lm: LiveMarket, block: Any = "latest") -> tuple[mm.Market, int]:
        """The market accrued to ``block``'s time with the contract's math (what ``accrueInterest`` would store
        then) and that time (epoch s)."""
        now = int(self.w3.eth.get_block(block)["timestamp"])
        m = self.state(lm, block)
        return (mm.accrue_interest(m, now).market if now > m.last_update else m), now

    def position(self, lm: LiveMarket, user: str, block: Any = "latest") -> mm.Position:
        s, b, c = self.morpho.functions.position(lm.id, user).call(block_identifier=block)
        return mm.Position(int(s), int(b), int(c))

    def price(self, lm: LiveMarket, block: Any = "latest") -> int:
        """``IOracle.price()`` of the market (1e36 scale)."""
        return int(self.w3.eth.contract(address=lm.params[2], abi=ORACLE_ABI).functions.price().call(
            block_identifier=block))


class MorphoLive(LendingLive):
    """The live backend (one per venue instance); methods mirror the venue's operations."""

    venue_name = VENUE

    def __init__(self, venue: Any, client: EvmClient | None = None) -> None:
        opts = venue.settings.options
        client = self.connect(venue, client, load_table)
        self.init_onchain(VENUE, client, self.table, opts)
        self.chain = MorphoChain(client.w3, self.table)
        self.accounts = {k: client.checksum(v) for k, v in self.table["accounts"].items()}
        self.context = venue.context
        self._executor_address: str | None = opts.get("executor") or self.table["contracts"].get(
            "MorphoBundleExecutor")
        self._executor: Any = None
        self._encode_call: Any = getattr(venue.context, "encode_call", None)  # other venues' steps as calls
        self._last_translation: tuple[Any, Any] | None = None
        self.init_intents(VENUE, venue.context)

    @property
    def morpho(self) -> Any:
        return self.chain.morpho

    # ------------------------------------------------------------------------------------------ lookups
    def _resolve(self, market: str | None, asset: str, role: str, holding_attr: str | None = None) -> LiveMarket:
        specs = self.chain.specs()
        holding = None
        if market is None and holding_attr is not None:
            holding = {a: bool(getattr(self.chain.position(lm, self.me), holding_attr))
                       for a, lm in self.chain.markets.items()}
        return self.chain.markets[resolve_market(specs, market, asset, role, holding).alias]

    def units(self, asset: str, amount: Decimal, field: str = "amount") -> int:
        return to_base_units(amount, self.decimals[asset], field)

    def _send(self, fn: Any, final: Mapping[str, Any] | None = None, field: str = "amount") -> Receipt:
        """Send ``fn`` (estimated first: a revert raises the typed error of Morpho's reason, nothing sent)."""
        try:
            return self.client.send(fn, final=final)
        except ContractRevertError as e:
            reason = (e.reason or "").strip()
            if reason in _REASONS:
                raise revert_error(mm.MorphoRevert(reason), field) from None
            raise

    # ------------------------------------------------------------------------------------------ operations
    def liquidate(self, ts: Any, ins: Any) -> ExecutionDeltas:
        return self.intent(ts, ins, lambda: self._liquidate(ts, ins))

    def _final(self, lm: LiveMarket, side: str) -> dict[str, Any]:
        return {"kind": "morpho", "market": lm.spec.alias, "side": side}

    def _supply(self, ts: Any, ins: Any) -> ExecutionDeltas:
        lm = self._resolve(ins.market, ins.asset, "either")
        spec, f = lm.spec, self.morpho.functions
        units = self.units(ins.asset, ins.amount)
        self.check_balance(ins.asset, units)
        if ins.asset == spec.loan:
            fn, final = f.supply(lm.params, units, 0, self.me, b""), self._final(lm, "lend")
        else:
            fn, final = f.supplyCollateral(lm.params, units, self.me, b""), self._final(lm, "collateral")
        with self.token_lock(ins.asset):
            receipts = self.approve(ins.asset, self.morpho.address, units)
            receipts.append(self._send(fn, final))
        return self.finish_morpho(ts, ins, receipts, final)

    def _withdraw(self, ts: Any, ins: Any) -> ExecutionDeltas:
        is_coll = any(s.collateral == ins.asset for s in self.chain.specs().values())
        if ins.market is not None:
            lm = self._resolve(ins.market, ins.asset, "either")
        else:
            lm = self._resolve(None, ins.asset, "collateral" if is_coll else "loan",
                               "collateral" if is_coll else "supply_shares")
        spec, f = lm.spec, self.morpho.functions
        p = self.chain.position(lm, self.me)
        if ins.asset == spec.loan:
            final = self._final(lm, "lend")
            if ins.amount == "max":
                if p.supply_shares == 0:
                    raise InstructionError("amount", f"nothing supplied to {spec.alias}")
                fn = f.withdraw(lm.params, 0, p.supply_shares, self.me, self.me)
            else:
                units = self.units(spec.loan, ins.amount)
                m, _ = self.chain.accrued(lm)
                have = mm.supplied_assets(m, p)
                if units > have:
                    dec = self.decimals[spec.loan]
                    raise InsufficientFundsError(f"{VENUE}:supplied:{spec.loan}", ins.amount,
                                                 from_base_units(have, dec))
                fn = f.withdraw(lm.params, units, 0, self.me, self.me)
        else:
            final = self._final(lm, "collateral")
            units = p.collateral if ins.amount == "max" else self.units(spec.collateral, ins.amount)
            if units > p.collateral:
                raise InsufficientFundsError(f"{VENUE}:collateral:{spec.collateral}", ins.amount,
                                             from_base_units(p.collateral, self.decimals[spec.collateral]))
            if units == 0:
                raise InstructionError("amount", f"no {spec.collateral} collateral in {spec.alias}")
            fn = f.withdrawCollateral(lm.params, units, self.me, self.me)
        receipt = self._send(fn, final)
        return self.finish_morpho(ts, ins, [receipt], final)

    def _borrow(self, ts: Any, ins: Any) -> ExecutionDeltas:
        lm = self._resolve(ins.market, ins.asset, "loan", "collateral")
        units = self.units(ins.asset, ins.amount)
        final = self._final(lm, "borrow")
        receipt = self._send(self.morpho.functions.borrow(lm.params, units, 0, self.me, self.me), final)
        return self.finish_morpho(ts, ins, [receipt], final)

    def _repay(self, ts: Any, ins: Any) -> ExecutionDeltas:
        lm = self._resolve(ins.market, ins.asset, "loan", "borrow_shares")
        spec, f = lm.spec, self.morpho.functions
        p = self.chain.position(lm, self.me)
        if p.borrow_shares == 0:
            raise InstructionError("amount", f"no {spec.loan} debt in {spec.alias}")
        m, _ = self.chain.accrued(lm)
        debt = mm.borrowed_assets(m, p)
        final = self._final(lm, "repay")
        if ins.amount == "max" or self.units(spec.loan, ins.amount) >= debt:
            # every share (what a repay of at least the debt means), as the backtest does; the debt grows until
            # the block is mined: the pull is allowed a 0.001 % margin
            self.check_balance(spec.loan, debt)
            allow = min(debt + debt // 100_000 + 1, self.client.balance_of(self.tokens[spec.loan]))
            fn = f.repay(lm.params, 0, p.borrow_shares, self.me, b"")
        else:
            allow = self.units(spec.loan, ins.amount)
            self.check_balance(spec.loan, allow)
            fn = f.repay(lm.params, allow, 0, self.me, b"")
        with self.token_lock(spec.loan):
            receipts = self.approve(spec.loan, self.morpho.address, allow)
            receipts.append(self._send(fn, final))
        return self.finish_morpho(ts, ins, receipts, final)

    def _borrower(self, name: str) -> str:
        addr = self.accounts.get(name)
        if addr is not None:
            return addr
        if isinstance(name, str) and name.startswith("0x") and len(name) == 42:
            try:
                return self.client.checksum(name)
            except Exception:
                pass
        raise InstructionError("borrower", f"unknown borrower {name!r}: an address or one of the table's accounts "
                                           f"({', '.join(sorted(self.accounts)) or 'none'})")

    def _liquidate(self, ts: Any, ins: Any) -> ExecutionDeltas:
        lm = self.chain.markets.get(ins.market)
        if lm is None:
            raise InstructionError("market", f"unknown Morpho market {ins.market!r}; known: "
                                             f"{', '.join(self.chain.markets)}")
        spec = lm.spec
        who = self._borrower(ins.borrower)
        if who == self.me:
            raise InstructionError("borrower", "the account cannot liquidate itself")
        bp = self.chain.position(lm, who)
        if bp.borrow_shares == 0:
            raise InstructionError("borrower", f"{ins.borrower!r} has no debt in {spec.alias}")
        m, _ = self.chain.accrued(lm)
        price = self.chain.price(lm)
        from basis_venue_morpho.sim import MorphoSim

        try:
            liq = MorphoSim._liquidation(m, bp, price, spec.lltv, ins.amount, self.decimals[spec.loan])
        except mm.MorphoRevert as e:
            raise revert_error(e, "borrower") from None
        seized = liq.seized_assets if liq.borrower.collateral == 0 else 0
        shares = 0 if seized else liq.repaid_shares
        need = liq.repaid_assets
        self.check_balance(spec.loan, need)
        allow = min(need + need // 100_000 + 1, self.client.balance_of(self.tokens[spec.loan]))
        final = {**self._final(lm, "liquidate"), "borrower": who}
        fn = self.morpho.functions.liquidate(lm.params, who, seized, shares, b"")
        with self.token_lock(spec.loan):
            receipts = self.approve(spec.loan, self.morpho.address, allow)
            receipts.append(self._send(fn, final, "borrower"))
        return self.finish_morpho(ts, ins, receipts, final)

    # ------------------------------------------------------------------------------------------ atomic bundles
    @property
    def executor(self) -> Any:
        """Our MorphoBundleExecutor contract (ConfigError when none is configured)."""
        if self._executor is None:
            from basis_venue_morpho.executor import executor_artifact

            if not self._executor_address:
                raise ConfigError("venue_config.morpho: no MorphoBundleExecutor for atomic bundles; deploy one "
                                  "(MorphoLive.deploy_executor) and set contracts.MorphoBundleExecutor or the "
                                  "option 'executor'")
            self._executor = self.client.w3.eth.contract(address=self.client.checksum(self._executor_address),
                                                         abi=executor_artifact().abi)
        return self._executor

    def deploy_executor(self) -> str:
        """Deploy a MorphoBundleExecutor owned by this account on the table's Morpho; returns its address."""
        from basis_venue_morpho.executor import deploy_executor

        addr = deploy_executor(self.client, self.morpho.address)
        self._executor_address, self._executor = addr, None
        return addr

    def _morpho_step(self, s: Any, field: str) -> tuple[str, Any]:
        """A Morpho step of a bundle as the executor's call on the owner's behalf (see
        :mod:`basis_venue_morpho.executor`); the same checks as the single operation, nothing sent."""
        from basis_venue_morpho.executor import MorphoStep

        f, me, ex = self.morpho.functions, self.me, self.executor.address
        op = s.operation

        def data(fn: Any) -> bytes:
            return bytes.fromhex(fn._encode_transaction_data()[2:])

        if op == "supply":
            lm = self._resolve(s.market, s.asset, "either")
            units = self.units(s.asset, s.amount)
            fn = (f.supply(lm.params, units, 0, me, b"") if s.asset == lm.spec.loan
                  else f.supplyCollateral(lm.params, units, me, b""))
            return lm.spec.alias, MorphoStep(self.tokens[s.asset], units, data(fn), False)
        if op == "borrow":
            lm = self._resolve(s.market, s.asset, "loan", "collateral")
            units = self.units(s.asset, s.amount)
            return lm.spec.alias, MorphoStep(ZERO_ADDRESS, 0, data(f.borrow(lm.params, units, 0, me, ex)), True)
        if op == "repay":
            lm = self._resolve(s.market, s.asset, "loan", "borrow_shares")
            token = self.tokens[lm.spec.loan]
            if s.amount == "max":
                p = self.chain.position(lm, me)
                if p.borrow_shares == 0:
                    raise InstructionError("amount", f"no {lm.spec.loan} debt in {lm.spec.alias}")
                m, _ = self.chain.accrued(lm)
                debt = mm.borrowed_assets(m, p)  # grows until the block is mined: a 0.001 % margin, swept back
                return lm.spec.alias, MorphoStep(token, debt + debt // 100_000 + 1,
                                                 data(f.repay(lm.params, 0, p.borrow_shares, me, b"")), False)
            units = self.units(lm.spec.loan, s.amount)
            return lm.spec.alias, MorphoStep(token, units, data(f.repay(lm.params, units, 0, me, b"")), False)
        is_coll = any(sp.collateral == s.asset for sp in self.chain.specs().values())
        lm = (self._resolve(s.market, s.asset, "either") if s.market is not None else
              self._resolve(None, s.asset, "collateral" if is_coll else "loan",
                            "collateral" if is_coll else "supply_shares"))
        p = self.chain.position(lm, me)
        if s.asset == lm.spec.loan:
            if s.amount == "max":
                if p.supply_shares == 0:
                    raise InstructionError("amount", f"nothing supplied to {lm.spec.alias}")
                fn = f.withdraw(lm.params, 0, p.supply_shares, me, ex)
            else:
                fn = f.withdraw(lm.params, self.units(s.asset, s.amount), 0, me, ex)
        else:
            units = p.collateral if s.amount == "max" else self.units(s.asset, s.amount)
            if units == 0:
                raise InstructionError("amount", f"no {s.asset} collateral in {lm.spec.alias}")
            fn = f.withdrawCollateral(lm.params, units, me, ex)
        return lm.spec.alias, MorphoStep(ZERO_ADDRESS, 0, data(fn), True)

    def _translate(self, bundle: Any, ts: Any = None) -> Any:
        """The bundle's executor ops (memoised for the last bundle: other venues' steps are encoded once)."""
        from basis_venue_morpho.executor import ops_for_steps

        last = self._last_translation
        if last is not None and last[0] is bundle:
            return last[1]
        encode = None
        if self._encode_call is not None:
            encode_call, recipient = self._encode_call, self.executor.address

            def encode(step: Any) -> Any:
                return encode_call(ts, step, recipient)

        t = ops_for_steps(bundle.steps, self.morpho.address, self._morpho_step, encode)
        self._last_translation = (bundle, t)
        return t

    def prepare_atomic(self, bundle: Any, ts: Any = None) -> list[Receipt]:
        """Send the one-time set-up a bundle needs: ``setAuthorization(executor, true)`` when a step borrows or
        withdraws on the account's behalf, and unlimited approvals to the executor of the tokens it may pull (the
        steps' inputs and the flash-loaned token)."""
        t = self._translate(bundle, ts)
        ex = self.executor.address
        sent: list[Receipt] = []
        if t.authorize and not self.morpho.functions.isAuthorized(self.me, ex).call():
            sent.append(self.client.send(self.morpho.functions.setAuthorization(ex, True)))
        pulled = set(t.pulled)
        fl = bundle.flash_loan
        if fl is not None and fl.asset in self.tokens:  # a repayment the steps leave short is pulled from the account
            pulled.add(self.tokens[fl.asset])
        for addr in sorted(pulled):
            if self.client.allowance(addr, ex) < MAX_UINT256 // 2:
                sent += self.approve_address(addr, ex, MAX_UINT256, unlimited=True)
        return sent

    def _atomic(self, ts: Any, bundle: Any) -> ExecutionDeltas:
        if bundle.min_health_factor is not None:
            raise InstructionError("min_health_factor", "the morpho executor has no health post-condition (Morpho's "
                                                        "borrow itself refuses a position it would leave unhealthy); "
                                                        "leave min_health_factor unset")
        fl = bundle.flash_loan
        flash_token, flash_amt = ZERO_ADDRESS, 0
        if fl is not None:
            if fl.venue != VENUE:
                raise InstructionError("flash_loan.venue", f"the morpho executor flash-borrows from morpho, not "
                                                           f"{fl.venue}")
            if fl.asset not in self.tokens:
                raise InstructionError("flash_loan.asset", f"unknown token {fl.asset!r}; known: "
                                                           f"{', '.join(sorted(self.tokens))}")
            flash_token = self.tokens[fl.asset]
            flash_amt = self.units(fl.asset, fl.amount, "flash_loan.amount")
        t = self._translate(bundle, ts)
        prep = self.prepare_atomic(bundle, ts)
        sweep = sorted({*self.tokens.values(), *(self.client.checksum(c.token_out) for c in t.calls),
                        *(self.client.checksum(c.token_in) for c in t.calls)})
        fn = self.executor.functions.run([o.as_tuple() for o in t.ops], flash_token, flash_amt, sweep)
        ctx = {"kind": "atomic", "markets": list(t.markets),
               "call_tokens": {c.symbol_in: [self.client.checksum(c.token_in), c.decimals_in] for c in t.calls}
               | {c.symbol_out: [self.client.checksum(c.token_out), c.decimals_out] for c in t.calls}}
        try:
            receipt = self.client.send(fn, final=ctx)
        except ContractRevertError as e:
            reason = (e.reason or "").strip()
            if reason in _REASONS:
                raise revert_error(mm.MorphoRevert(reason), "steps") from None
            raise
        return self.finish_atomic(ts, bundle, [*prep, receipt], ctx)

    def finish_atomic(self, ts: Any, bundle: Any, receipts: list[Receipt], ctx: Mapping[str, Any]) -> ExecutionDeltas:
        """Deltas of a bundle from its receipts (the set-up transactions, then ``MorphoBundleExecutor.run``): the
        account's token transfers, each touched market's position values after minus before (accrued to the
        blocks' times, as for a single operation), gas."""
        first, last = receipts[0].block_number, receipts[-1].block_number
        call_tokens = {s: (str(v[0]), int(v[1])) for s, v in (ctx.get("call_tokens") or {}).items()}
        tokens = {s: (a, self.decimals[s]) for s, a in self.tokens.items()}
        for sym, (addr, dec) in call_tokens.items():
            tokens.setdefault(sym, (addr, dec))
        moved = self.transfer_totals(receipts, sorted({a for a, _ in tokens.values()}))
        positions: dict[str, Decimal] = {}
        for sym, (addr, dec) in sorted(tokens.items()):
            if moved[addr]:
                positions[WALLET + sym] = from_base_units(moved[addr], dec)
        for alias in ctx.get("markets") or ():
            lm = self.chain.markets[alias]
            spec = lm.spec
            loan_dec, coll_dec = self.decimals[spec.loan], self.decimals[spec.collateral]
            before, after = self._values(lm, first - 1), self._values(lm, last)
            for key, a, b, dec in ((f"{VENUE}:supplied:{spec.loan}", before[0], after[0], loan_dec),
                                   (f"{VENUE}:collateral:{spec.collateral}", before[1], after[1], coll_dec),
                                   (f"{VENUE}:debt:{spec.loan}", before[2], after[2], loan_dec)):
                if a != b:
                    positions[key] = positions.get(key, _ZERO) + from_base_units(b - a, dec)
        gas_wei = sum(r.gas_cost_wei for r in receipts)
        fees: dict[str, Decimal] = {}
        pnl: dict[str, Decimal] = {}
        if gas_wei:
            positions[GAS_KEY] = fees[GAS_KEY] = -from_base_units(gas_wei, 18)
            eth_usd = self._gas_usd(ts)
            if eth_usd is not None:
                pnl["gas"] = fees[GAS_KEY] * eth_usd
        details: dict[str, Any] = {"steps": len(bundle.steps), "markets": list(ctx.get("markets") or ()),
                                   "tx_hashes": [r.tx_hash for r in receipts],
                                   "gas_used": sum(r.gas_used for r in receipts), "block_number": last}
        return ExecutionDeltas(VENUE, "atomic", ts, positions, fees, "filled", bundle.client_id,
                               receipts[-1].tx_hash, None, None, pnl, details)

    # ------------------------------------------------------------------------------------------ deltas
    def _values(self, lm: LiveMarket, block: int) -> tuple[int, int, int]:
        """(supplied assets, collateral, debt assets) of the account at ``block``, the market accrued to then."""
        m, _ = self.chain.accrued(lm, block)
        p = self.chain.position(lm, self.me, block)
        return mm.supplied_assets(m, p), p.collateral, mm.borrowed_assets(m, p)

    def _gas_usd(self, ts: Any) -> Decimal | None:
        data = getattr(self.context, "data_provider", None)
        if data is None:
            return None
        try:
            from basis_core.data.prices import usd_price
            return usd_price(data.get_data(ts), "ETH")
        except Exception:
            return None

    def finish_morpho(self, ts: Any, ins: Any, receipts: list[Receipt], ctx: Mapping[str, Any]) -> ExecutionDeltas:
        """Deltas of an operation from its receipts (also on a resume): see the module docstring."""
        lm = self.chain.markets[ctx["market"]]
        spec = lm.spec
        loan_dec, coll_dec = self.decimals[spec.loan], self.decimals[spec.collateral]
        first, last = receipts[0].block_number, receipts[-1].block_number
        positions: dict[str, Decimal] = {}
        moved = self.transfer_totals(receipts, [self.tokens[spec.loan], self.tokens[spec.collateral]])
        for sym, dec in ((spec.loan, loan_dec), (spec.collateral, coll_dec)):
            if moved[self.tokens[sym]]:
                positions[WALLET + sym] = from_base_units(moved[self.tokens[sym]], dec)
        if ctx["side"] != "liquidate":
            before, after = self._values(lm, first - 1), self._values(lm, last)
            for key, a, b, dec in ((f"{VENUE}:supplied:{spec.loan}", before[0], after[0], loan_dec),
                                   (f"{VENUE}:collateral:{spec.collateral}", before[1], after[1], coll_dec),
                                   (f"{VENUE}:debt:{spec.loan}", before[2], after[2], loan_dec)):
                if a != b:
                    positions[key] = from_base_units(b - a, dec)
        gas_wei = sum(r.gas_cost_wei for r in receipts)
        if gas_wei:
            positions[GAS_KEY] = -from_base_units(gas_wei, 18)
        pnl: dict[str, Decimal] = {}
        eth_usd = self._gas_usd(ts) if gas_wei else None
        if eth_usd is not None:
            pnl["gas"] = -from_base_units(gas_wei, 18) * eth_usd
        details: dict[str, Any] = {"market": spec.alias, "side": ctx["side"],
                                   "tx_hashes": [r.tx_hash for r in receipts],
                                   "gas_used": sum(r.gas_used for r in receipts), "block_number": last}
        status, amount = "filled", getattr(ins, "amount", None)
        if ctx["side"] == "liquidate":
            status = "liquidated"
            details["borrower"] = ctx["borrower"]
            amount = -positions.get(WALLET + spec.loan, _ZERO)
        return ExecutionDeltas(VENUE, ins.operation, ts, positions, {GAS_KEY: -from_base_units(gas_wei, 18)}
                               if gas_wei else {}, status, ins.client_id, receipts[-1].tx_hash, None,
                               amount if isinstance(amount, Decimal) else None, pnl, details)

    # ------------------------------------------------------------------------------------------ queries
    def balances(self, ts: Any, options: Any = None) -> dict[str, Decimal]:
        """Wallet balances of the table's tokens and ETH, each market's position and metrics (the backtest's
        keys, from the chain's state accrued to the latest block)."""
        out: dict[str, Decimal] = {GAS_KEY: from_base_units(self.client.eth_balance(), 18)}
        for sym, addr in self.tokens.items():
            bal = self.client.balance_of(addr)
            if bal:
                out[WALLET + sym] = from_base_units(bal, self.decimals[sym])
        lowest: Decimal | None = None
        for lm in self.chain.markets.values():
            p = self.chain.position(lm, self.me)
            if p == mm.Position():
                continue
            m, _ = self.chain.accrued(lm)
            hf = position_balances(out, lm.spec, m, p, self.chain.price(lm), self.decimals)
            if hf is not None:
                lowest = hf if lowest is None else min(lowest, hf)
        out[f"{VENUE}:metric:health_factor"] = NO_DEBT_HF if lowest is None else lowest
        return out


    def risk_state(self, ts: Any, shock: Any) -> list[Any] | None:
        """Each market this account borrows in, under a :class:`basis_core.risk.Shock`, from one block's chain
        state: ``position(id, me)``, ``market(id)`` accrued to that block's time, the market oracle's ``price()``,
        through :func:`basis_venue_morpho.sim.market_risk` (``_isHealthy``'s math, as the backtest). None without
        debt. The shock's pending supply / withdraw / borrow / repay (the live pre-trade corridor check) are projected
        onto the positions read (:mod:`basis_venue_morpho.projection`)."""
        from basis_core.risk import NO_SHOCK
        from basis_core.risk.guard import lending_changes
        from basis_venue_morpho.projection import project_position

        shock = shock or NO_SHOCK
        block = self.client.w3.eth.block_number
        changes = lending_changes(getattr(shock, "pending", None), VENUE)
        first: dict[str, str] = {}
        for alias, lm in self.chain.markets.items():
            first.setdefault("c:" + lm.spec.collateral, alias)
            first.setdefault("l:" + lm.spec.loan, alias)
        cache: tuple[int, dict[str, Any]] | None = getattr(self, "_risk_cache", None)
        if cache is None or cache[0] != block:  # a corridor search asks for one block's state under many shocks
            cache = (block, {})
            self._risk_cache = cache
        out = []
        for alias, lm in self.chain.markets.items():
            got = cache[1].get(alias)
            if got is None:
                got = cache[1][alias] = (self.chain.position(lm, self.me, block), self.chain.accrued(lm, block)[0],
                                         self.chain.price(lm, block))
            p, m, price = got
            if not p.borrow_shares and not changes:
                continue
            if changes:
                m, p = project_position(alias, lm.id.hex(), lm.spec, m, p, changes, self.decimals, first)
            if not p.borrow_shares:
                continue
            spec = lm.spec
            leg = market_risk(spec, m, p, price, self.decimals[spec.loan],
                              self.decimals[spec.collateral], shock)
            if leg is not None:
                out.append(leg)
        return out or None


_REASONS = frozenset({mm.MARKET_NOT_CREATED, mm.INCONSISTENT_INPUT, mm.ZERO_ASSETS, mm.INSUFFICIENT_COLLATERAL,
                      mm.INSUFFICIENT_LIQUIDITY, mm.HEALTHY_POSITION, mm.MAX_UINT128_EXCEEDED})

__all__ = ["MORPHO_ABI", "LiveMarket", "MorphoChain", "MorphoLive", "market_id"]
