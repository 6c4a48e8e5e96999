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
    handler = logging.StreamHandler()
    if json:
        # The records of other libraries (httpx, httpcore, ...) as JSON lines too.
        handler.setFormatter(
            structlog.stdlib.ProcessorFormatter(
                processors=[
                    structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                    structlog.processors.format_exc_info,
                    structlog.processors.JSONRenderer(),
                ],
                foreign_pre_chain=[
                    structlog.stdlib.add_log_level,
                    structlog.stdlib.add_logger_name,
                    structlog.processors.TimeStamper(fmt="iso", utc=True),
                ],
            )
        )
    else:
        handler.setFormatter(logging.Formatter("%(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler])
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
        # One write() per line, its newline included: print() wrote the two apart, and a
        # record of the standard library's handler (stderr, often the same file) could land
        # between them, breaking a JSON line.
        logger_factory=structlog.WriteLoggerFactory(),
        cache_logger_on_first_use=True,
    )
