"""Compact per-step storage of a run's rows (floats in flat arrays, not a dict of Decimals per step).

- :class:`FloatColumns`: values that change every step (USD exposures): one ``array('d')`` per key, 8 bytes a
  key a step, 0.0 where a key is absent.
- :class:`ChangeRows`: values that change only when the ledger does (balances): one row of floats per change,
  spread over the steps until the next change when framed.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping
from decimal import Decimal

import numpy as np
import pandas as pd


class FloatColumns:
    """Per-step rows of ``key -> Decimal`` stored as float columns (0.0 for a key absent from a row)."""

    __slots__ = ("cols", "n")

    def __init__(self) -> None:
        self.cols: dict[str, array[float]] = {}
        self.n = 0

    def add(self, row: Mapping[str, Decimal]) -> None:
        """Append one step's row."""
        cols = self.cols
        n = self.n
        for k, v in row.items():
            col = cols.get(k)
            if col is None:
                col = cols[k] = array("d", bytes(8 * n))
            col.append(float(v))
        self.n = n = n + 1
        if len(row) != len(cols):  # keys absent from this row
            for col in cols.values():
                if len(col) < n:
                    col.append(0.0)

    def repeat(self) -> None:
        """Append the last row again (0.0 everywhere before the first row)."""
        for col in self.cols.values():
            col.append(col[-1] if col else 0.0)
        self.n += 1

    def frame(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        """The first ``len(index)`` rows as a frame with sorted columns."""
        n = len(index)
        keys = sorted(self.cols)
        return pd.DataFrame({k: np.frombuffer(self.cols[k], dtype=float)[:n] for k in keys}, index=index,
                            columns=keys)


class ChangeRows:
    """Rows recorded at the steps where they changed; a step without a record repeats the last row.

    Stored flat (one ``array('d')`` of every row's values, one of where each row starts): no object per row, so a
    long run leaves nothing for the garbage collector to walk."""

    __slots__ = ("_order", "keys", "starts", "steps", "values")

    def __init__(self) -> None:
        self.keys: dict[str, int] = {}
        self.steps: array[int] = array("q")
        self.starts: array[int] = array("q")  # row r is values[starts[r]:starts[r + 1]] (the last: to the end)
        self.values: array[float] = array("d")
        self._order: tuple[str, ...] = ()  # the keys in column order (a row with exactly these is read in one pass)

    def add(self, step: int, row: Mapping[str, Decimal]) -> None:
        """Record ``row`` as the value from step ``step`` on (steps must not decrease)."""
        values = self.values
        if self.steps and self.steps[-1] == step:  # a new row for the same step replaces the last one
            del values[self.starts[-1]:]
        else:
            self.steps.append(step)
            self.starts.append(len(values))
        order = tuple(row)
        if order == self._order:  # every known key, in column order (a book whose keys did not change)
            values.extend(map(float, row.values()))
            return
        keys = self.keys
        for k in order:
            if k not in keys:
                keys[k] = len(keys)
        if order == tuple(keys):
            self._order = order
        vals = array("d", bytes(8 * len(keys)))
        for k, v in row.items():
            vals[keys[k]] = float(v)
        values.extend(vals)

    def frame(self, index: pd.DatetimeIndex) -> pd.DataFrame:
        """One row per step of ``index`` (sorted columns)."""
        n = len(index)
        names = sorted(self.keys)
        m = len(self.keys)
        if not self.steps or n == 0:
            return pd.DataFrame(np.zeros((n, len(names))), index=index, columns=names)
        flat = np.frombuffer(self.values, dtype=float)
        rows = len(self.steps)
        if len(flat) == rows * m:  # every row has every key (rows never lose keys, so none is shorter)
            mat = flat.reshape(rows, m)
        else:
            bounds = [*self.starts, len(flat)]
            mat = np.zeros((rows, m))
            for r in range(rows):
                a, b = bounds[r], bounds[r + 1]
                mat[r, :b - a] = flat[a:b]
        starts = np.frombuffer(self.steps, dtype=np.int64)
        counts = np.diff(np.append(starts, max(n, int(starts[-1]) + 1)))
        full = np.repeat(mat, counts, axis=0)
        if starts[0] > 0:  # steps before the first record: zeros
            full = np.vstack([np.zeros((int(starts[0]), m)), full])
        order = [self.keys[k] for k in names]
        return pd.DataFrame(full[:n][:, order], index=index, columns=names)


__all__ = ["ChangeRows", "FloatColumns"]
