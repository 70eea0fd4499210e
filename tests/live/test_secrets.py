"""Redaction helpers: secrets masked in text and in log records (message, args, tracebacks)."""

from __future__ import annotations

import logging

import pytest
from pydantic import SecretStr

from basis_core.config import VenueSettings
from basis_core.live.secrets import (
    MASK,
    RedactingFilter,
    Redactor,
    install_log_redaction,
    remove_log_redaction,
    secret_values,
)

KEY = "0x" + "1f" * 32


def test_redactor_masks_all_forms() -> None:
    r = Redactor([KEY, "short", "api-secret-XYZ"])
    text = f"k={KEY} bare={KEY[2:].upper()} s=api-secret-XYZ low=api-secret-xyz keep=short"
    out = r.redact(text)
    assert "1f1f" not in out.lower() and "api-secret" not in out and "short" in out and out.count(MASK) == 4
    assert r.contains_secret(text) and not r.contains_secret(out) and "1f" not in repr(r)


def test_secret_values_from_settings() -> None:
    s = VenueSettings(api_key=SecretStr("key-123456"), api_secret=SecretStr("sec-abcdef"))
    assert secret_values(s) == ["key-123456", "sec-abcdef"]
    assert secret_values(VenueSettings()) == []


def test_logging_filter_masks_message_args_and_traceback(caplog: pytest.LogCaptureFixture) -> None:
    r = Redactor(["topsecretvalue"])
    log = logging.getLogger("basis_core.test_secrets")
    flt = install_log_redaction(r, logger_names=("basis_core.test_secrets",))
    caplog.handler.addFilter(flt)
    try:
        log.warning("sending with %s", "topsecretvalue")
        try:
            raise ValueError("bad topsecretvalue")
        except ValueError:
            log.exception("failed")
    finally:
        caplog.handler.removeFilter(flt)
        remove_log_redaction(flt, logger_names=("basis_core.test_secrets",))
    assert "topsecretvalue" not in caplog.text and MASK in caplog.text
    assert isinstance(flt, RedactingFilter)
