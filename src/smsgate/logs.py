"""Structured logs (structlog): key=value for people, JSON for machines."""

from __future__ import annotations

import logging

import httpx
import structlog


class RedactUrls(logging.Filter):
    """httpx logs every request's URL, and some upstreams take their API key in the query
    string (sms.by's ``?token=``): query values and user info are blanked before any handler
    sees them. Query keys stay, so the log still says which call it was."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _redacted(a) if isinstance(a, httpx.URL) else a for a in record.args
            )
        return True


def _redacted(url: httpx.URL) -> httpx.URL:
    query = [(key, "redacted") for key, _ in url.params.multi_items()]
    return url.copy_with(userinfo=b"", params=query) if query else url.copy_with(userinfo=b"")


def configure(level: str = "info", json: bool = False) -> None:
    logging.basicConfig(level=level.upper(), format="%(message)s")
    httpx_logger = logging.getLogger("httpx")
    if not any(isinstance(f, RedactUrls) for f in httpx_logger.filters):
        httpx_logger.addFilter(RedactUrls())
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(
            colors=False, exception_formatter=structlog.dev.plain_traceback
        )
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )
