"""Keeping secrets out of logs, reprs, errors and the journal.

- :class:`Redactor` masks known secret values (and their common encodings) in any text;
- :class:`RedactingFilter` is a :class:`logging.Filter` that applies a redactor to every record
  (message, args and exception text) passing a handler or logger it is attached to;
- :func:`secret_values` collects the plain values of the ``SecretStr`` fields of venue settings.

Redaction is a second line of defence: code never formats a secret into a message in the first
place (credentials stay ``SecretStr`` until the moment they are handed to the client library).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from pydantic import SecretStr

MASK = "**********"

#: Secrets shorter than this are not masked (masking "a" would mangle every message).
MIN_SECRET_LENGTH = 6

_SECRET_FIELDS = ("api_key", "api_secret", "private_key")


def secret_values(settings: Any, fields: Iterable[str] = _SECRET_FIELDS) -> list[str]:
    """The plain values of ``settings``' SecretStr fields (``api_secret``, ``private_key``...).

    ``api_key`` is included too: it is an identifier, but there is no reason to print it either.
    """
    out: list[str] = []
    for name in fields:
        v = getattr(settings, name, None)
        if isinstance(v, SecretStr):
            v = v.get_secret_value()
        if isinstance(v, str) and v:
            out.append(v)
    return out


class Redactor:
    """Replaces every occurrence of the given secrets (and of their ``0x``-less / upper-case forms) by
    :data:`MASK`."""

    __slots__ = ("_needles",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._needles: tuple[str, ...] = ()
        self.add(*secrets)

    def add(self, *secrets: str) -> None:
        """Register more secret values."""
        needles = set(self._needles)
        for s in secrets:
            if not isinstance(s, str) or len(s) < MIN_SECRET_LENGTH:
                continue
            forms = {s, s.lower(), s.upper()}
            if s[:2].lower() == "0x" and len(s) > MIN_SECRET_LENGTH + 2:
                bare = s[2:]
                forms |= {bare, bare.lower(), bare.upper()}
            needles |= forms
        # longest first, so a secret containing another is masked whole
        self._needles = tuple(sorted(needles, key=len, reverse=True))

    def merge(self, other: Redactor) -> None:
        """Add every secret ``other`` knows."""
        self._needles = tuple(sorted(set(self._needles) | set(other._needles), key=len, reverse=True))

    def __bool__(self) -> bool:
        return bool(self._needles)

    def redact(self, text: str) -> str:
        """``text`` with every known secret masked."""
        for n in self._needles:
            if n in text:
                text = text.replace(n, MASK)
        return text

    def contains_secret(self, text: str) -> bool:
        """Whether ``text`` contains any known secret."""
        for n in self._needles:  # (a loop: no generator frame per call)
            if n in text:
                return True
        return False

    def __repr__(self) -> str:
        return f"Redactor({len(self._needles)} values)"


class RedactingFilter(logging.Filter):
    """A logging filter that masks known secrets in each record (message, args, exception text)."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        r = self.redactor
        if not r:
            return True
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error path
            return True
        clean = r.redact(msg)
        if clean != msg or record.args:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = r.redact(record.exc_text)
        return True


def install_log_redaction(redactor: Redactor, logger_names: Iterable[str] = ("", "ccxt", "basis_core", "urllib3"),
                          ) -> RedactingFilter:
    """Attach one :class:`RedactingFilter` to the named loggers and to every handler of the root logger.

    Returns the filter (remove it with :func:`remove_log_redaction`). Idempotent per redactor.
    """
    flt = RedactingFilter(redactor)
    for name in logger_names:
        logging.getLogger(name).addFilter(flt)
    for h in logging.getLogger().handlers:
        h.addFilter(flt)
    return flt


def remove_log_redaction(flt: RedactingFilter, logger_names: Iterable[str] = ("", "ccxt", "basis_core", "urllib3"),
                         ) -> None:
    """Detach a filter installed by :func:`install_log_redaction`."""
    for name in logger_names:
        logging.getLogger(name).removeFilter(flt)
    for h in logging.getLogger().handlers:
        h.removeFilter(flt)
