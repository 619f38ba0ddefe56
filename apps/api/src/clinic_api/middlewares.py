"""What happens around every request: its id, its access log line and metrics, security headers, and
the boundary that turns any exception into a problem response before the outer middlewares see it.

BlackSheep renders exceptions only after the whole middleware chain has unwound, so without the boundary
a failed request would leave without its request id, its security headers and its metrics.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any, TypeVar
from urllib.parse import urlsplit

from blacksheep import Request, Response
from blacksheep.contents import ASGIContent
from blacksheep.server import Application
from blacksheep.server.openapi.ui import SWAGGER_UI_CSS_URL, SWAGGER_UI_JS_URL

from clinic_api.error_handling import http_problem
from clinic_api.logging_setup import request_id_var, tenant_id_var
from clinic_api.metrics import HttpMetrics, route_template
from clinic_api.problems import Problem, ProblemRaised

Handler = Callable[[Request], Awaitable[Response]]
F = TypeVar("F", bound=Callable[..., Any])

REQUEST_ID_HEADER = b"X-Request-ID"
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")

access_logger = logging.getLogger("clinic_api.access")


def request_id_for(request: Request) -> str:
    """The client's X-Request-ID when it is a short plain token (it ends up in logs), else a new UUID."""
    offered = request.get_first_header(REQUEST_ID_HEADER)
    if offered is not None and _SANE_REQUEST_ID.fullmatch(offered):
        return offered.decode("ascii")
    return str(uuid.uuid4())


async def request_context_middleware(request: Request, handler: Handler) -> Response:
    # Set and reset around the request rather than only set: requests that share a task (the test
    # client's) must not inherit the previous one's tenant.
    request_id = request_id_for(request)
    request_token = request_id_var.set(request_id)
    tenant_token = tenant_id_var.set(None)
    try:
        response = await handler(request)
    finally:
        tenant_id_var.reset(tenant_token)
        request_id_var.reset(request_token)
    response.set_header(REQUEST_ID_HEADER, request_id.encode())
    return response


class AccessLogMiddleware:
    """One log line and one metrics observation per request. No path, query, body, IP or identity: the
    route template, method, status and duration say what happened without saying about whom."""

    def __init__(self, app: Application, metrics: HttpMetrics) -> None:
        self._app, self._metrics = app, metrics

    async def __call__(self, request: Request, handler: Handler) -> Response:
        started = time.perf_counter()
        response = await handler(request)
        elapsed = time.perf_counter() - started
        route = route_template(self._app.router, request)
        self._metrics.observe(request.method, route, response.status, elapsed)
        access_logger.info(
            "%s %s %s",
            request.method,
            route,
            response.status,
            extra={
                "http_method": request.method,
                "route": route,
                "status": response.status,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )
        return response


API_CSP = b"default-src 'none'; frame-ancestors 'none'"
_INLINE_SCRIPT = re.compile(rb"<script>(.*?)</script>", re.DOTALL)


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


_DOCS_ASSET_ORIGINS = " ".join(sorted({_origin(SWAGGER_UI_JS_URL), _origin(SWAGGER_UI_CSS_URL)}))


@lru_cache(maxsize=8)
def docs_csp(html: bytes) -> bytes:
    """A policy that lets the Swagger UI page load: its assets from their CDN, its one inline script by
    hash (never 'unsafe-inline' scripts), inline styles (the UI sets style attributes), and the spec from
    this origin. The page is the same for the app's life, so its policy is computed once."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(script).digest()).decode()}'"
        for script in _INLINE_SCRIPT.findall(html)
    )
    return (
        f"default-src 'none'; script-src {_DOCS_ASSET_ORIGINS} {hashes}; "
        f"style-src {_DOCS_ASSET_ORIGINS} 'unsafe-inline'; img-src 'self' data: {_DOCS_ASSET_ORIGINS}; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ).encode()


async def security_headers_middleware(request: Request, handler: Handler) -> Response:
    response = await handler(request)
    response.set_header(b"X-Content-Type-Options", b"nosniff")
    response.set_header(b"X-Frame-Options", b"DENY")
    response.set_header(b"Referrer-Policy", b"no-referrer")
    content = response.content
    if content is not None and content.body and (content.type or b"").startswith(b"text/html"):
        response.set_header(b"Content-Security-Policy", docs_csp(content.body))
    else:
        response.set_header(b"Content-Security-Policy", API_CSP)
    if request.scheme == "https":
        response.set_header(b"Strict-Transport-Security", b"max-age=63072000; includeSubDomains")
    if not response.has_header(b"Cache-Control"):
        # Answers carry tokens and personal data; a handler that wants caching (JWKS) says so itself.
        response.set_header(b"Cache-Control", b"no-store")
    return response


_UPLOAD = "clinic_streams_upload"
UPLOAD_OVERHEAD_BYTES = 64 * 1024
"""What an upload's body may carry beyond the file: a form's other fields and its part headers."""


def streams_upload() -> Callable[[F], F]:
    """Marks a route that streams a file from its body: its body may be as large as an upload (the
    use case checks the file's own size as it streams), not the small JSON of every other route."""

    def mark(handler: F) -> F:
        setattr(handler, _UPLOAD, True)
        return handler

    return mark


def _streams_upload(handler: object) -> bool:
    return any(
        getattr(candidate, _UPLOAD, False) is True
        for candidate in (handler, getattr(handler, "root_fn", None), getattr(handler, "__wrapped__", None))
    )


class BodySizeLimitMiddleware:
    """Refuses a body over ``max_bytes`` with 413 before it fills memory: at once when Content-Length says
    so, and while it streams when it is chunked (nothing in BlackSheep or uvicorn caps either). Routes
    marked ``streams_upload`` take up to ``upload_max_bytes`` plus a form's overhead instead."""

    def __init__(self, max_bytes: int, upload_max_bytes: int | None = None) -> None:
        self._max_bytes = max_bytes
        self._upload_max_bytes = (upload_max_bytes or max_bytes) + UPLOAD_OVERHEAD_BYTES

    async def __call__(self, request: Request, handler: Handler) -> Response:
        limit = self._upload_max_bytes if _streams_upload(handler) else self._max_bytes
        declared = request.get_first_header(b"Content-Length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise ProblemRaised(self._too_large(limit))
        content = request.content
        if isinstance(content, ASGIContent):
            request.content = ASGIContent(self._counted(content.receive, limit))
        elif content is not None and content.length > limit:
            raise ProblemRaised(self._too_large(limit))
        return await handler(request)

    @staticmethod
    def _too_large(limit: int) -> Problem:
        return http_problem(413, f"the body may have at most {limit} bytes")

    def _counted(
        self, receive: Callable[[], Awaitable[dict[str, Any]]], limit: int
    ) -> Callable[[], Awaitable[dict[str, Any]]]:
        received = 0

        async def counting_receive() -> dict[str, Any]:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise ProblemRaised(self._too_large(limit))
            return message

        return counting_receive


class ErrorBoundaryMiddleware:
    """Renders any exception with the app's exception handlers, inside the middlewares that decorate
    the response."""

    def __init__(self, app: Application) -> None:
        self._app = app

    async def __call__(self, request: Request, handler: Handler) -> Response:
        try:
            return await handler(request)
        except Exception as exc:
            return await self._app.handle_request_handler_exception(request, exc)
