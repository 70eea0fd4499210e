"""The ``paired`` instruction: legs on several venues executed as one saga under a legging-risk budget.

A :class:`Paired` holds 2-4 ordinary instructions (``legs``), each on its own venue, e.g. buy spot on Binance
and short the perp on Hyperliquid, or borrow WETH on Aave and sell ETH on a CEX. The legs are executed one
after the other (see :mod:`basis_core.paired.saga`): the **lead** (the least liquid leg, run first) fills,
and each fill sizes the next leg (``leg amount / lead amount`` is the ratio kept). While the lead is filled
and a follower is not, the position is *unhedged*; the :class:`LeggingBudget` bounds how much
(``max_unhedged_notional``, USD at the lead's fill price) and for how long (``max_unhedged_seconds``). A lead
larger than the notional budget is executed in slices, each hedged before the next starts.

Bad input raises :class:`~basis_core.errors.InstructionValidationError` naming the field (``legs.1.amount``,
``budget.max_unhedged_notional`` ...) before anything is sent.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError, model_validator

from basis_core.errors import InstructionValidationError
from basis_core.instructions import Amount, Borrow, PerpTrade, Repay, SpotTrade, Supply, Swap, Withdraw

#: operations a leg may have: each has an exact compensating action (an unwind)
LEG_OPERATIONS = ("spot_trade", "perp_trade", "swap", "supply", "withdraw", "borrow", "repay")
#: default execution rank by operation: lower runs first (on-chain legs are slower and fail more often than
#: spot orders, and perps are the deepest markets, so they hedge last)
DEFAULT_RANK: dict[str, int] = {"borrow": 0, "repay": 0, "supply": 1, "withdraw": 1, "swap": 2,
                                "spot_trade": 3, "perp_trade": 4}

Leg = Annotated[SpotTrade | PerpTrade | Swap | Supply | Withdraw | Borrow | Repay, Field(discriminator="operation")]
PairedClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._:/\-]{1,40}$")]


class LeggingBudget(BaseModel):
    """How much may be unhedged, and for how long: the notional of filled-but-unmatched lead quantity (USD at
    the lead's fill price) and the seconds from the lead's fill until every follower of its slice filled."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    max_unhedged_notional: Amount = Field(description="USD: most lead notional filled before its hedge")
    max_unhedged_seconds: Annotated[Decimal, Field(ge=0, le=86_400, allow_inf_nan=False)] = Field(
        Decimal(30), description="seconds a filled lead may wait for its hedge")


class LatencyModel(BaseModel):
    """Backtest: the delay between sending to one venue and the next (deterministic: the saga's clock moves by
    it, and the next leg fills at the market of that later time). ``between`` keys are ``"a->b"`` venue pairs;
    ``same_venue_ms`` applies between two legs of one venue, ``default_ms`` to every other pair."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    default_ms: Annotated[int, Field(ge=0, le=3_600_000)] = 0
    same_venue_ms: Annotated[int, Field(ge=0, le=3_600_000)] = 0
    between: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_\-]*->[a-z][a-z0-9_\-]*$")],
                  Annotated[int, Field(ge=0, le=3_600_000)]] = Field(default_factory=dict)

    def ms(self, src: str | None, dst: str) -> int:
        """Milliseconds from a send to ``src`` (None: the saga's start) to a send to ``dst``."""
        if src is None:
            return 0
        got = self.between.get(f"{src}->{dst}")
        if got is not None:
            return got
        return self.same_venue_ms if src == dst else self.default_ms


class Paired(BaseModel):
    """Legs on several venues, executed as a saga (see the module docstring).

    ``rank`` (optional, one per leg) overrides the execution order (lower first; default by operation:
    :data:`DEFAULT_RANK`, ties in the given order). ``on_failure``: ``flatten`` unwinds every filled leg
    (also of slices already hedged) when a leg fails or the budget is exceeded; ``keep_hedged`` unwinds only
    the slice in flight. ``max_attempts``: sends of one leg when a venue answers with a retryable error.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=True)

    operation: Literal["paired"] = "paired"
    venue: Literal["paired"] = "paired"
    client_id: PairedClientId | None = None
    legs: Annotated[list[Leg], Field(min_length=2, max_length=4)]
    budget: LeggingBudget
    latency: LatencyModel = Field(default_factory=LatencyModel)
    rank: list[Annotated[int, Field(ge=0, le=100)]] | None = None
    on_failure: Literal["flatten", "keep_hedged"] = "flatten"
    max_attempts: Annotated[int, Field(ge=1, le=10)] = 3

    @model_validator(mode="after")
    def _check_legs(self) -> Paired:
        if self.rank is not None and len(self.rank) != len(self.legs):
            raise ValueError(f"rank: give one rank per leg ({len(self.legs)}), got {len(self.rank)}")
        for i, leg in enumerate(self.legs):
            if leg.client_id is not None:
                raise ValueError(f"legs.{i}.client_id: leg client ids are assigned by the saga (give the paired "
                                 "instruction a client_id)")
            if isinstance(leg, SpotTrade | PerpTrade) and leg.order_type != "market" and leg.time_in_force == "GTC":
                raise ValueError(f"legs.{i}.time_in_force: a limit leg must be IOC or FOK (a resting order "
                                 "cannot be hedged or unwound)")
            if getattr(leg, "amount", None) == "max":
                raise ValueError(f"legs.{i}.amount: 'max' cannot size a hedge; give an amount")
            if isinstance(leg, PerpTrade) and leg.reduce_only:
                raise ValueError(f"legs.{i}.reduce_only: a paired leg opens exposure; reduce-only legs cannot "
                                 "be sized by the lead's fill")
        return self

    def ranks(self) -> list[int]:
        return list(self.rank) if self.rank is not None else [DEFAULT_RANK[leg.operation] for leg in self.legs]

    def order(self) -> list[int]:
        """Leg indices in execution order."""
        r = self.ranks()
        return sorted(range(len(self.legs)), key=lambda i: (r[i], i))


def leg_amount(leg: Any) -> Decimal:
    """The planned size of a leg (``amount``; a swap's ``amount_in``)."""
    return leg.amount_in if leg.operation == "swap" else leg.amount  # type: ignore[no-any-return]


_ADAPTER: TypeAdapter[Paired] = TypeAdapter(Paired)


def parse_paired(obj: Paired | dict[str, Any] | str | bytes) -> Paired:
    """A validated :class:`Paired` from a model, a dict or a JSON text; a bad one raises
    :class:`InstructionValidationError` naming the field (nothing is sent)."""
    from basis_core.instructions import _error_from_validation, check_operation_tags, load_json_object

    if isinstance(obj, Paired):
        return obj
    obj = load_json_object(obj)
    check_operation_tags(obj, "legs")
    try:
        return _ADAPTER.validate_python(obj)
    except ValidationError as e:
        raise _error_from_validation(e) from None
    except RecursionError:
        raise InstructionValidationError("instruction", "nested too deeply") from None


__all__ = ["DEFAULT_RANK", "LEG_OPERATIONS", "LatencyModel", "LeggingBudget", "Paired", "leg_amount", "parse_paired"]
