"""The backtest ledger: balances by instrument key plus transactional venue state.

Every write goes through the ledger, so a failed instruction (or a failed atomic bundle) is
rolled back completely: balances and the venues' own tables (resting orders, perp entries, pool
state, withdrawal requests ...). Transactions nest; an undo log makes them cheap (no copies).

Rules
- :meth:`Ledger.apply` is atomic: it checks every key first and raises
  :class:`~basis_core.errors.InsufficientFundsError` before writing anything if an asset balance would
  go negative. Keys of a signed kind (``perp``, ``metric``) may be negative.
- Values stored in tables must be immutable (frozen dataclasses, tuples, Decimals): replace, don't mutate.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from basis_core.deltas import SIGNED_KINDS
from basis_core.errors import InsufficientFundsError

_MISSING: Any = object()
_ZERO = Decimal(0)


class TxTable:
    """A dict-like table whose writes are undo-logged by its ledger (values must be immutable)."""

    __slots__ = ("_data", "_ledger", "name")

    def __init__(self, ledger: Ledger, name: str) -> None:
        self._ledger = ledger
        self.name = name
        self._data: dict[Any, Any] = {}

    @property
    def data(self) -> dict[Any, Any]:
        """The live contents (read-only by contract: write through the table, never through this dict)."""
        return self._data

    def __getitem__(self, key: Any) -> Any:
        return self._data[key]

    def get(self, key: Any, default: Any = None) -> Any:
        return self._data.get(key, default)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[Any]:
        return iter(list(self._data))

    def items(self) -> list[tuple[Any, Any]]:
        return list(self._data.items())

    def values(self) -> list[Any]:
        return list(self._data.values())

    def keys(self) -> list[Any]:
        return list(self._data)

    def __setitem__(self, key: Any, value: Any) -> None:
        ledger = self._ledger
        ledger.version += 1
        data = self._data
        log = ledger._undo
        if log is not None:
            log.append((data, key, data.get(key, _MISSING)))
        data[key] = value

    def __delitem__(self, key: Any) -> None:
        self._ledger.version += 1
        log = self._ledger._undo
        if log is not None:
            log.append((self._data, key, self._data[key]))
        del self._data[key]

    def pop(self, key: Any, default: Any = _MISSING) -> Any:
        if key not in self._data:
            if default is _MISSING:
                raise KeyError(key)
            return default
        value = self._data[key]
        del self[key]
        return value

    def snapshot(self) -> dict[Any, Any]:
        """A plain copy of the current contents."""
        return dict(self._data)


class Ledger:
    """Balances by instrument key (Decimal, human units) and named transactional tables.

    ``version`` grows with every write (balances, tables, rollbacks): a reader may cache what it derived
    from the ledger while the version is unchanged.
    """

    def __init__(self, balances: Mapping[str, Decimal | int | str] | None = None,
                 signed_kinds: frozenset[str] = SIGNED_KINDS) -> None:
        self._balances: dict[str, Decimal] = {}
        self._tables: dict[str, TxTable] = {}
        self._undo: list[tuple[dict[Any, Any], Any, Any]] | None = None
        self._spare: list[tuple[dict[Any, Any], Any, Any]] = []  # the undo log's list between transactions
        self._marks: list[int] = []
        self.signed_kinds = frozenset(signed_kinds)
        self._signed: dict[str, bool] = {}
        self.version = 0
        for k, v in (balances or {}).items():
            self._balances[k] = Decimal(v)

    # -- balances ---------------------------------------------------------------------------
    def balance(self, key: str) -> Decimal:
        """Current balance of ``key`` (0 when never touched)."""
        return self._balances.get(key, _ZERO)

    @property
    def balances(self) -> dict[str, Decimal]:
        """A copy of all non-zero balances."""
        return {k: v for k, v in self._balances.items() if v}  # a Decimal is false exactly when it is zero

    def balances_with(self, prefix: str | tuple[str, ...]) -> dict[str, Decimal]:
        """A copy of the non-zero balances whose key starts with ``prefix`` (one, or a tuple of them): a venue's
        own keys and the wallet's, without copying the whole book first."""
        return {k: v for k, v in self._balances.items() if v and k.startswith(prefix)}

    def is_signed(self, key: str) -> bool:
        """Whether ``key``'s kind may go negative (memoised per key)."""
        signed = self._signed.get(key)
        if signed is None:
            kind = key.split(":", 2)[1] if key.count(":") >= 2 else ""
            signed = self._signed[key] = kind in self.signed_kinds
        return signed

    def check(self, positions: Mapping[str, Decimal], field: str = "amount") -> None:
        """Raise InsufficientFundsError if applying ``positions`` would overdraw an asset balance."""
        get = self._balances.get
        for k, d in positions.items():
            if d < _ZERO and get(k, _ZERO) + d < _ZERO and not self.is_signed(k):
                raise InsufficientFundsError(k, -d, get(k, _ZERO), field)

    def apply(self, positions: Mapping[str, Decimal], field: str = "amount") -> None:
        """Add ``positions`` to the balances atomically (all keys or none).

        Raises InsufficientFundsError (naming the key and ``field``) when a debit would overdraw an
        asset balance; nothing is changed then.
        """
        self.version += 1
        log = self._undo
        if log is None:
            self.check(positions, field)
            bal = self._balances
            get = bal.get
            for k, d in positions.items():
                bal[k] = get(k, _ZERO) + d
            return
        # in a transaction (every fill): one pass, written and undo-logged key by key, undone on failure
        bal = self._balances
        get = bal.get
        mark = len(log)
        for k, d in positions.items():
            old = get(k, _MISSING)
            new = d if old is _MISSING else old + d
            if new < _ZERO and d < _ZERO and not self.is_signed(k):
                self._undo_to(mark)
                raise InsufficientFundsError(k, -d, _ZERO if old is _MISSING else old, field)
            log.append((bal, k, old))
            bal[k] = new

    def set_balance(self, key: str, value: Decimal) -> None:
        """Overwrite one balance (setup and tests; runs go through :meth:`apply`)."""
        self.version += 1
        if self._undo is not None:
            self._undo.append((self._balances, key, self._balances.get(key, _MISSING)))
        self._balances[key] = Decimal(value)

    # -- tables -----------------------------------------------------------------------------
    def table(self, name: str) -> TxTable:
        """The transactional table ``name`` (created empty on first use), e.g. ``'binance.orders'``."""
        t = self._tables.get(name)
        if t is None:
            t = self._tables[name] = TxTable(self, name)
        return t

    # -- transactions -----------------------------------------------------------------------
    def begin(self) -> None:
        """Open a (possibly nested) transaction."""
        log = self._undo
        if log is None:
            log = self._undo = self._spare  # the outermost transaction reuses one emptied list
        self._marks.append(len(log))

    def commit(self) -> None:
        """Close the innermost transaction, keeping its writes."""
        marks = self._marks
        marks.pop()
        if not marks:
            log = self._undo
            self._undo = None
            if log is not None:
                log.clear()

    def rollback(self) -> None:
        """Close the innermost transaction, undoing its writes."""
        self._undo_to(self._marks.pop())
        if not self._marks:
            log = self._undo
            self._undo = None
            if log is not None:
                log.clear()

    def _undo_to(self, mark: int) -> None:
        """Undo the logged writes after position ``mark`` of the undo log, newest first."""
        self.version += 1
        log = self._undo
        assert log is not None
        while len(log) > mark:
            container, key, old = log.pop()
            if old is _MISSING:
                container.pop(key, None)
            else:
                container[key] = old

    @contextmanager
    def transaction(self) -> Iterator[Ledger]:
        """``with ledger.transaction():`` commit on success, roll back on any exception."""
        self.begin()
        try:
            yield self
        except BaseException:
            self.rollback()
            raise
        self.commit()

    @property
    def in_transaction(self) -> bool:
        return bool(self._marks)
