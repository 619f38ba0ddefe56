"""OpenAPI 3 description of the API, served at /openapi.json with Swagger UI at /docs.

Handlers are documented where they are defined (``@documented``) but the documents are attached to each
app's own OpenAPIHandler when the app is built, so that building several apps (the tests do) never shares
one handler's state.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import Any, TypeVar

from blacksheep import Request, Response
from blacksheep.server import Application
from blacksheep.server.files.static import get_response_for_static_content
from blacksheep.server.openapi.common import ContentInfo, EndpointDocs, HeaderInfo, ResponseInfo, SecurityInfo
from blacksheep.server.openapi.ui import SwaggerUIProvider, UIOptions
from blacksheep.server.openapi.v3 import OpenAPIHandler, SecuritySchemeHandler
from guardpost import AuthenticationHandler
from openapidocs.v3 import (  # type: ignore[import-untyped]  # openapidocs ships no type information
    APIKeySecurity,
    HTTPSecurity,
    Info,
    ParameterLocation,
    SecurityRequirement,
    SecurityScheme,
)

from clinic_api.access import declared_access
from clinic_api.auth import BEARER_SCHEME, ApiKeyAuthentication, BearerAuthentication
from clinic_api.problems import PROBLEM_CONTENT_TYPE, ProblemDetails

F = TypeVar("F", bound=Callable[..., Any])

_endpoint_docs: dict[Callable[..., Any], EndpointDocs] = {}


def problem_response(status: int) -> ResponseInfo:
    return ResponseInfo(
        HTTPStatus(status).phrase,
        content=[ContentInfo(ProblemDetails, content_type=PROBLEM_CONTENT_TYPE.decode())],
    )


def documented(
    status: int,
    body: type[Any] | None = None,
    *,
    problems: Iterable[int] = (),
    headers: dict[str, HeaderInfo] | None = None,
    description: str | None = None,
    others: Mapping[int, ResponseInfo] | None = None,
) -> Callable[[F], F]:
    """Describe a handler's success response and the problems it may answer with (500 always).

    ``others`` documents responses of a shape of their own.
    """

    def register(handler: F) -> F:
        responses: dict[int | str | HTTPStatus, str | ResponseInfo] = {
            status: ResponseInfo(
                description or HTTPStatus(status).phrase,
                headers=headers,
                content=[ContentInfo(body)] if body is not None else None,
            )
        }
        for problem_status in sorted({*problems, 500}):
            responses[problem_status] = problem_response(problem_status)
        for other_status, other in (others or {}).items():
            responses[other_status] = other
        _endpoint_docs[handler] = EndpointDocs(responses=responses)
        return handler

    return register


class SwaggerUI(SwaggerUIProvider):
    """Swagger UI served at /docs itself. BlackSheep's provider answers /docs with a redirect to /docs/
    (for relative links), which a client that does not follow redirects sees as a 301; the page's only
    relative link, the spec, is served at both /openapi.json and /docs/openapi.json, so no redirect is
    needed."""

    def build_ui(self, options: UIOptions) -> None:
        self._page = self.get_openapi_ui_html(options).encode()

    def get_ui_handler(self) -> Callable[[Request], Response]:
        built_at = time.time()

        def docs_page(request: Request) -> Response:
            return get_response_for_static_content(request, b"text/html; charset=utf-8", self._page, built_at)

        return docs_page


class BearerSecuritySchemeHandler(SecuritySchemeHandler):
    def get_security_schemes(
        self, handler: AuthenticationHandler
    ) -> Iterator[tuple[str, SecurityScheme, SecurityRequirement]]:
        if isinstance(handler, BearerAuthentication):
            yield (
                handler.scheme,
                HTTPSecurity(
                    scheme="bearer",
                    bearer_format="JWT",
                    description="The access_token of POST /v1/auth/login, in `Authorization: Bearer ...`.",
                ),
                SecurityRequirement(handler.scheme, []),
            )
        elif isinstance(handler, ApiKeyAuthentication):
            yield (
                handler.scheme,
                APIKeySecurity(
                    name="X-API-Key",
                    in_=ParameterLocation.HEADER,
                    description=(
                        "An integration's API key (POST /v1/api-keys), in `X-API-Key: <key>` or in "
                        "`Authorization: ApiKey <key>`. It acts for its clinic with its scopes only, and "
                        "cannot call the routes about a person (/v1/me, /v1/auth/...)."
                    ),
                ),
                SecurityRequirement(handler.scheme, []),
            )


def configure_openapi(app: Application) -> OpenAPIHandler:
    docs = OpenAPIHandler(
        info=Info(
            title="Clinic API",
            version="1",
            description=(
                "Multi-tenant clinic platform. Every error is an RFC 9457 problem "
                "(`application/problem+json`) whose `code` is stable."
            ),
        ),
    )
    docs.ui_providers = [SwaggerUI("/docs")]
    docs.security_schemes_handlers.append(BearerSecuritySchemeHandler())
    for handler, endpoint_docs in _endpoint_docs.items():
        # A copy per app: the generator fills documents in from docstrings as it goes.
        endpoint = copy.deepcopy(endpoint_docs)
        access = declared_access(handler)
        if access is not None and access.people_only:  # routes about a person: no API key
            endpoint.security = [SecurityInfo(BEARER_SCHEME, [])]
        docs(endpoint)(handler)
    docs.bind_app(app)
    return docs
