"""Test helpers for venues and hosts: the ``basis`` command run in this process, and the gas an on-chain
instruction's transactions paid as the chain reports it (an independent check of a venue's deltas)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["basis_cli", "gas_paid_wei"]


def basis_cli(args: list[str]) -> Any:
    """``basis ARGS`` in this process (the console script's app, with its commands registered): a
    :class:`click.testing.Result` (``exit_code``, ``stdout``, ``output``)."""
    from typer.testing import CliRunner

    from basis_core.cli import _register, app

    if not app.registered_commands:
        _register()
    return CliRunner().invoke(app, args)


def gas_paid_wei(w3: Any, deltas_or_hashes: Any) -> int:
    """Wei paid for gas (``gasUsed x effectiveGasPrice`` of each receipt read from the node) by the transactions
    of an on-chain instruction's deltas (``details["tx_hashes"]``), or of the given transaction hashes."""
    hashes: Iterable[str] = (deltas_or_hashes.details["tx_hashes"] if hasattr(deltas_or_hashes, "details")
                             else deltas_or_hashes)
    total = 0
    for h in hashes:
        r = w3.eth.get_transaction_receipt(h)
        total += int(r["gasUsed"]) * int(r["effectiveGasPrice"])
    return total
