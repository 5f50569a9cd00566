"""Structured logging: JSON or console lines, optional size-rotated file, request id on every record."""

from __future__ import annotations

import contextvars
import logging
import logging.handlers
import re

from pythonjsonlogger.json import JsonFormatter

from .settings import Settings

request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("aipipe_request_id", default=None)

CONSOLE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"
JSON_FORMAT = "%(asctime)s %(levelname)s %(name)s %(request_id)s %(message)s"
HANDLER_MARK = "_aipipe_handler"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        return True


SECRET_IN_TEXT = re.compile(
    r"((?:token|api_key|access_token|refresh_token|password)=)[^&\s\"']+", re.IGNORECASE
)


class SecretFilter(logging.Filter):
    """Mask credentials that a client put in a URL (e.g. a WebSocket's `?token=`) before any handler
    writes the line: uvicorn logs the request path as it came."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "=" in message:
            masked = SECRET_IN_TEXT.sub(r"\1***", message)
            if masked != message:
                record.msg, record.args = masked, None
        return True


def _formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            JSON_FORMAT, rename_fields={"asctime": "time", "levelname": "level", "name": "logger"}
        )
    return logging.Formatter(CONSOLE_FORMAT)


def configure_logging(settings: Settings) -> None:
    """Install our handlers on the root logger, replacing ones installed by an earlier call."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, HANDLER_MARK, False):
            root.removeHandler(handler)
            handler.close()
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if settings.log_file is not None:
        settings.log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                settings.log_file,
                maxBytes=settings.log_max_bytes,
                backupCount=settings.log_backup_count,
                encoding="utf-8",
            )
        )
    for handler in handlers:
        setattr(handler, HANDLER_MARK, True)
        handler.setFormatter(_formatter(settings.log_format))
        handler.addFilter(RequestIdFilter())
        handler.addFilter(SecretFilter())
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    # uvicorn's access log duplicates ours (which carries the request id); migrations chat at INFO.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("alembic").setLevel(max(root.level, logging.WARNING))
