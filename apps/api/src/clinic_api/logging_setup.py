"""JSON logs, each record stamped with the request and the tenant it was written for.

The request id and tenant live in context variables: set once per request by the middlewares and the
authentication handler, read by a filter on the log handler, so no call site passes them along.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar

from pythonjsonlogger.json import JsonFormatter

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)
tenant_id_var: ContextVar[str | None] = ContextVar("tenant_id", default=None)


class RequestContextFilter(logging.Filter):
    """Adds ``request_id`` and ``tenant_id`` to every record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        record.tenant_id = tenant_id_var.get()
        return True


def configure_logging(level: int | str = logging.INFO) -> None:
    """Send every record to stdout as one JSON object per line. Call once, from the entry point."""
    handler = logging.StreamHandler(sys.stdout)
    handler.addFilter(RequestContextFilter())
    handler.setFormatter(
        JsonFormatter(
            "%(levelname)s %(name)s %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601 in UTC, where asctime would be local time without an offset
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
