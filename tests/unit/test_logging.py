"""Credentials a client puts in a URL never reach a log line."""

from __future__ import annotations

import logging

from sync_server.logging_setup import SecretFilter


def test_tokens_in_logged_urls_are_masked_and_the_rest_is_kept() -> None:
    record = logging.LogRecord(
        "uvicorn.error",
        logging.INFO,
        __file__,
        1,
        '%s - "WebSocket %s" [accepted]',
        ("127.0.0.1:5000", "/api/events?token=aip_SECRETkey-123&project_id=42&since=7"),
        None,
    )
    assert SecretFilter().filter(record)
    line = record.getMessage()
    assert "aip_SECRETkey-123" not in line
    assert "token=***" in line and "project_id=42&since=7" in line and "127.0.0.1:5000" in line
    plain = logging.LogRecord("x", logging.INFO, __file__, 1, "shots %s", ("a=b",), None)
    SecretFilter().filter(plain)
    assert plain.getMessage() == "shots a=b"
