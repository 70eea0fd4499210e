"""The append-only SQLite execution journal: intents before outcomes, pending(), restart, no secrets."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from basis_core.errors import ConfigError
from basis_core.live import journal as journal_mod
from basis_core.live.journal import ExecutionJournal, JournalRow, fingerprint
from basis_core.live.secrets import MASK, Redactor

SECRET = "s3cr3t-api-secret-value-0123456789"


def _intent(j: ExecutionJournal, key: str, op: str = "spot_trade", venue: str = "binance") -> JournalRow:
    instr = {"venue": venue, "operation": op, "client_id": key, "amount": Decimal("0.5")}
    return j.record_intent(venue, key, key, op, {"instruction": instr}, fingerprint(instr))


def test_intent_then_outcome_and_pending(tmp_path: Path) -> None:
    j = ExecutionJournal(tmp_path / "j.sqlite")
    _intent(j, "a")
    _intent(j, "b")
    assert [s.intent.intent_id for s in j.pending()] == ["a", "b"]
    st = j.state("binance", "a")
    assert st is not None and st.status == "sending" and st.pending
    assert st.intent.payload["instruction"]["amount"] == "0.5"  # Decimals stored exactly, as text
    j.record_outcome(st.intent, "unknown", {"event": "ambiguous"})
    assert [s.intent.intent_id for s in j.pending()] == ["a", "b"]  # unknown is not terminal
    j.record_outcome(st.intent, "done", {"deltas": {}})
    assert [s.intent.intent_id for s in j.pending()] == ["b"]
    b = j.state("binance", "b")
    assert b is not None
    j.record_outcome(b.intent, "rejected", {"error": "insufficient"})
    assert j.pending() == []
    # a key re-used after a rejection: the new intent is pending again, the old outcome does not count
    _intent(j, "b")
    again = j.state("binance", "b")
    assert again is not None and again.outcome is None and again.pending
    assert [r.kind for r in j.rows()] == ["intent", "intent", "outcome", "outcome", "outcome", "intent"]
    with pytest.raises(ValueError):
        j.record_outcome(again.intent, "maybe", {})


def test_pending_per_venue_and_unknown_key(tmp_path: Path) -> None:
    j = ExecutionJournal(tmp_path / "j.sqlite")
    _intent(j, "x", venue="binance")
    _intent(j, "x", venue="hyperliquid")
    assert [s.intent.venue for s in j.pending("hyperliquid")] == ["hyperliquid"]
    assert j.state("binance", "nope") is None


def test_append_only_rows_cannot_be_changed(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = ExecutionJournal(path)
    _intent(j, "a")
    raw = sqlite3.connect(path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("UPDATE journal SET status='done'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        raw.execute("DELETE FROM journal")
    raw.close()
    assert len(j.rows()) == 1


def test_survives_reopen_like_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "journal.sqlite"
    j1 = ExecutionJournal(path)
    _intent(j1, "crashed")
    del j1  # no close: as if the process died after the commit
    j2 = ExecutionJournal(path)
    (st,) = j2.pending()
    assert st.intent.intent_id == "crashed" and st.intent.payload["instruction"]["client_id"] == "crashed"
    j2.record_outcome(st.intent, "done", {})
    j2.close()
    assert ExecutionJournal(path).pending() == []


def test_in_memory_journal_is_private() -> None:
    a, b = ExecutionJournal(None), ExecutionJournal(":memory:")
    _intent(a, "k")
    assert len(a.rows()) == 1 and b.rows() == [] and repr(a) == "ExecutionJournal(:memory:)"


def test_secrets_are_masked_before_writing(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "j.sqlite"
    j = ExecutionJournal(path, redactor=Redactor([SECRET, "0x" + "ab" * 32]))
    j.record_intent("binance", "k", "k", "spot_trade", {"oops": f"secret={SECRET}", "key": "AB" * 32}, "fp")
    text = j.dump_text()
    assert SECRET not in text and ("ab" * 32) not in text.lower() and MASK in text
    assert SECRET not in path.read_bytes().decode("latin-1")
    assert SECRET not in caplog.text and "contained a secret" in caplog.text


def test_not_a_journal_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ConfigError, match="journal_path"):
        ExecutionJournal(bad)
    other = tmp_path / "v9.sqlite"
    c = sqlite3.connect(other)
    c.execute("PRAGMA user_version=9")
    c.close()
    with pytest.raises(ConfigError, match="schema version 9"):
        ExecutionJournal(other)


def test_fingerprint_is_canonical() -> None:
    assert fingerprint({"a": Decimal("1.0"), "b": 2}) == fingerprint({"b": 2, "a": Decimal("1.0")})
    assert fingerprint({"a": Decimal("1.0")}) != fingerprint({"a": Decimal("1.5")})


def test_deferred_outcome_commits_with_the_next_intent_and_a_hard_exit_loses_only_it(tmp_path: Path) -> None:
    """A process writes intent a, its deferred outcome, intent b, b's deferred outcome, then dies with
    os._exit (no flush, no finalizers): a's outcome was committed by b's intent; b's is lost, so b is
    the only pending intent (reconciliation re-derives it from the venue)."""
    path = tmp_path / "j.sqlite"
    code = (
        "import os\n"
        "from basis_core.live.journal import ExecutionJournal\n"
        f"j = ExecutionJournal({str(path)!r})\n"
        "a = j.record_intent('binance', 'a', 'a', 'spot_trade', {}, 'fa')\n"
        "j.record_outcome(a, 'done', {'deltas': {}}, defer=True)\n"
        "assert j.state('binance', 'a').status == 'done'  # visible on its own connection\n"
        "b = j.record_intent('binance', 'b', 'b', 'spot_trade', {}, 'fb')\n"
        "j.record_outcome(b, 'done', {'deltas': {}}, defer=True)\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
    j = ExecutionJournal(path)
    a, b = j.state("binance", "a"), j.state("binance", "b")
    assert a is not None and a.status == "done"
    assert b is not None and b.status == "sending" and [p.intent.intent_id for p in j.pending()] == ["b"]


def test_flush_close_and_shared_connection(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    j = ExecutionJournal.shared(path, redactor=Redactor([SECRET]))
    assert ExecutionJournal.shared(path) is j and ExecutionJournal.shared(None) is not j
    other = ExecutionJournal(path)  # a second connection (another process)
    journal_mod.DEFER_SECONDS, old = 60.0, journal_mod.DEFER_SECONDS  # no background commit during the checks
    try:
        j2 = ExecutionJournal(tmp_path / "k.sqlite")
        a = _intent(j2, "a")
        j2.record_outcome(a, "done", {}, defer=True)
        seen = ExecutionJournal(tmp_path / "k.sqlite")  # opening an existing journal takes no write lock
        assert seen.state("binance", "a").status == "sending"  # type: ignore[union-attr]  # not committed yet
        j2.flush()
        assert seen.state("binance", "a").status == "done"  # type: ignore[union-attr]
        b = _intent(j2, "b")
        j2.record_outcome(b, "done", {}, defer=True)
        j2.close()  # commits the deferred outcome
        assert seen.state("binance", "b").status == "done"  # type: ignore[union-attr]
    finally:
        journal_mod.DEFER_SECONDS = old
    c = _intent(j, "c")
    j.record_outcome(c, "done", {}, defer=True)  # the background flusher commits it soon
    deadline = time.monotonic() + 10
    while other.state("binance", "c").status != "done" and time.monotonic() < deadline:  # type: ignore[union-attr]
        time.sleep(0.01)
    assert other.state("binance", "c").status == "done"  # type: ignore[union-attr]
    ExecutionJournal.shared(path).record_intent("binance", "d", "d", "spot_trade", {"x": SECRET}, "fd")
    assert SECRET not in j.dump_text()  # the first user's redactor was merged into the shared one
    j.close()
    assert ExecutionJournal.shared(path) is not j  # a closed shared journal is replaced


def test_a_writing_connection_still_finds_intents_an_earlier_process_wrote(tmp_path: Path) -> None:
    """The in-memory intent keys of a writer are loaded from the file on its first write: a restarted
    process that writes before it looks up an old client id still finds that id's intent."""
    path = tmp_path / "j.sqlite"
    first = ExecutionJournal(path)
    old = _intent(first, "old")
    first.record_outcome(old, "done", {"deltas": {}})
    first.close()
    restarted = ExecutionJournal(path)
    _intent(restarted, "new")
    st = restarted.state("binance", "old")
    assert st is not None and st.intent.seq == old.seq and st.status == "done"
    assert restarted.state("binance", "never") is None
    assert restarted.state("binance", "new").status == "sending"  # type: ignore[union-attr]


def test_a_readonly_journal_reads_without_creating_or_writing(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    with pytest.raises(ConfigError, match="does not exist"):
        ExecutionJournal(path, readonly=True)
    assert not path.exists()  # nothing created
    w = ExecutionJournal(path)
    instr = {"venue": "binance", "operation": "spot_trade", "amount": "1"}
    w.record_intent("binance", "c1", "c1", "spot_trade", instr, fingerprint(instr))
    r = ExecutionJournal(path, readonly=True)
    assert [st.intent.intent_id for st in r.pending()] == ["c1"]
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        r.record_intent("binance", "c2", "c2", "spot_trade", instr, fingerprint(instr))
    r.close()
    w.close()
    other = tmp_path / "other.sqlite"
    sqlite3.connect(other).close()
    with pytest.raises(ConfigError, match="not an execution journal"):
        ExecutionJournal(other, readonly=True)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_writes_its_own_owner() -> None:
    """The owner on a row names the process run that wrote it: a forked child has its own pid:start (set when it
    forks), never its parent's."""
    parent = journal_mod.this_owner()
    assert parent.startswith(f"{os.getpid()}:")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its owner and leave at once
        try:
            os.write(write, f"{os.getpid()}|{journal_mod.this_owner()}".encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as f:
        child_pid, child_owner = f.read().decode().split("|")
    os.waitpid(pid, 0)
    assert child_owner.startswith(f"{child_pid}:") and child_owner != parent
    assert journal_mod.this_owner() == parent


def test_rows_are_plain_frozen_values(tmp_path: Path) -> None:
    """A row written now equals the same row read back (its fields and its payload), and stays frozen."""
    j = ExecutionJournal(tmp_path / "j.sqlite")
    row = j.record_intent("v", "k", "k", "spot_trade", {"instruction": {"a": "1"}}, "fp")
    (back,) = j.rows("v")
    assert back == row and back.payload == row.payload == {"instruction": {"a": "1"}}
    with pytest.raises(AttributeError):
        row.status = "x"  # type: ignore[misc]
    j.close()
