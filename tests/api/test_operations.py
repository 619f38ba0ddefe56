"""What operators and browsers rely on: health, metrics, request ids, headers, docs, logs, lifespan."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from clinic_api.app import create_app
from clinic_api.logging_setup import RequestContextFilter, configure_logging
from tests.api.conftest import JWKS, Api, body_of, make_services, start, stop


class Check:
    def __init__(self, name: str, failure: Exception | None = None, delay: float = 0.0) -> None:
        self.name, self._failure, self._delay = name, failure, delay

    async def check(self) -> None:
        await asyncio.sleep(self._delay)
        if self._failure is not None:
            raise self._failure


async def test_live_is_always_ok(api: Api) -> None:
    response = await api.get("/health/live")
    assert response.status == 200
    assert (await body_of(response))["status"] == "ok"


async def test_ready_runs_every_check(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(readiness=[Check("database"), Check("redis")])
    response = await api.get("/health/ready")
    assert response.status == 200
    assert await body_of(response) == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


async def test_ready_is_503_naming_the_failing_checks_without_their_messages(
    make_api: Callable[..., Any],
) -> None:
    api: Api = await make_api(
        readiness=[
            Check("database", ConnectionRefusedError("postgres://clinic:s3cret@db:5432")),
            Check("redis"),
            Check("slow", delay=5),
        ],
        readiness_timeout_seconds=0.05,
    )
    response = await api.get("/health/ready")
    assert response.status == 503
    assert response.content_type() == b"application/problem+json"
    body = await body_of(response)
    assert body["code"] == "not_ready"
    assert body["checks"] == {"database": "failed: ConnectionRefusedError", "redis": "ok", "slow": "timeout"}
    assert "database" in body["detail"]
    assert "s3cret" not in json.dumps(body)


async def test_metrics_are_labelled_by_route_template(api: Api) -> None:
    token, signed_up = await api.owner_token("ana@example.com", "Clínica A")
    unit_id = signed_up["unit"]["id"]
    assert (await api.get(f"/v1/units/{unit_id}", token)).status == 200
    assert (await api.get("/v1/units/not-a-unit", token)).status == 404
    assert (await api.get("/nowhere")).status == 404

    response = await api.get("/metrics")
    assert response.status == 200
    assert response.content_type().startswith(b"text/plain")
    text = await response.text()
    assert 'http_requests_total{method="GET",route="/v1/units/{unit_id}",status="200"} 1.0' in text
    assert 'http_requests_total{method="GET",route="/v1/units/{unit_id}",status="404"} 1.0' in text
    assert 'route="unmatched",status="404"' in text
    assert 'http_request_duration_seconds_bucket{le="0.005",method="POST",route="/v1/auth/login"' in text
    assert unit_id not in text
    assert "not-a-unit" not in text


async def test_each_app_counts_in_its_own_registry(make_api: Callable[..., Any]) -> None:
    first: Api = await make_api()
    second: Api = await make_api()
    await first.get("/health/live")
    assert "/health/live" not in await (await second.get("/metrics")).text()


async def test_request_id_is_echoed_when_sane_and_made_up_otherwise(api: Api) -> None:
    echoed = await api.client.get("/health/live", headers={"X-Request-ID": "abc.DEF_123-x"})
    assert echoed.get_first_header(b"X-Request-ID") == b"abc.DEF_123-x"

    generated = await api.client.get("/health/live")
    assert len(generated.get_first_header(b"X-Request-ID") or b"") == 36

    for insane in ("a" * 129, "has space", "semi;colon", "ünïcode"):
        replaced = await api.client.get("/health/live", headers={"X-Request-ID": insane})
        assert len(replaced.get_first_header(b"X-Request-ID") or b"") == 36, insane


async def test_errors_carry_the_request_id_too(api: Api) -> None:
    response = await api.client.get("/v1/me", headers={"X-Request-ID": "req-1"})
    assert response.status == 401
    assert response.get_first_header(b"X-Request-ID") == b"req-1"


@pytest.mark.parametrize("path", ["/health/live", "/v1/me", "/nowhere", "/openapi.json"])
async def test_security_headers_on_every_response(api: Api, path: str) -> None:
    response = await api.get(path)
    assert response.get_first_header(b"X-Content-Type-Options") == b"nosniff"
    assert response.get_first_header(b"X-Frame-Options") == b"DENY"
    assert response.get_first_header(b"Referrer-Policy") == b"no-referrer"
    assert (
        response.get_first_header(b"Content-Security-Policy") == b"default-src 'none'; frame-ancestors 'none'"
    )
    assert response.get_first_header(b"Strict-Transport-Security") is None  # plain http


async def test_token_responses_are_not_cached(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")
    login = await api.post(
        "/v1/auth/login", {"email": "ana@example.com", "password": "correct horse battery staple"}
    )
    assert login.get_first_header(b"Cache-Control") == b"no-store"


async def test_jwks_is_public_and_cacheable(api: Api) -> None:
    response = await api.get("/.well-known/jwks.json")
    assert response.status == 200
    assert await body_of(response) == JWKS
    assert response.get_first_header(b"Cache-Control") == b"public, max-age=300"


async def test_hsts_only_over_https() -> None:
    app = create_app(make_services())
    await start(app)
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="https://api.clinic.test") as client:
            secure = await client.get("/health/live")
        async with httpx.AsyncClient(transport=transport, base_url="http://api.clinic.test") as client:
            plain = await client.get("/health/live")
    finally:
        await stop(app)
    assert secure.headers["Strict-Transport-Security"] == "max-age=63072000; includeSubDomains"
    assert "Strict-Transport-Security" not in plain.headers


async def test_openapi_lists_every_v1_route_with_bearer_security_and_problems(api: Api) -> None:
    response = await api.get("/openapi.json")
    assert response.status == 200
    spec = json.loads(await response.text())
    assert spec["openapi"].startswith("3.")
    routes = {route.mustache_pattern for routes in api.app.router.routes.values() for route in routes}
    v1 = {path for path in routes if path.startswith("/v1/")}
    assert v1 <= spec["paths"].keys()
    assert spec["components"]["securitySchemes"]["Bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "The access_token of POST /v1/auth/login, in `Authorization: Bearer ...`.",
    }
    login = spec["paths"]["/v1/auth/login"]["post"]
    assert login["security"] == []
    assert "application/problem+json" in login["responses"]["401"]["content"]
    assert login["requestBody"]["content"]["application/json"]
    create_unit = spec["paths"]["/v1/units"]["post"]
    assert "security" not in create_unit  # the global requirement: a bearer token or an API key
    assert spec["security"] == [{"Bearer": []}, {"ApiKey": []}]
    assert spec["components"]["securitySchemes"]["ApiKey"]["type"] == "apiKey"
    assert spec["components"]["securitySchemes"]["ApiKey"]["in"] == "header"
    assert spec["components"]["securitySchemes"]["ApiKey"]["name"] == "X-API-Key"
    for path, method in (("/v1/me", "get"), ("/v1/auth/change-password", "post"), ("/v1/api-keys", "post")):
        assert spec["paths"][path][method]["security"] == [{"Bearer": []}], path  # no API key there
    assert "Location" in create_unit["responses"]["201"]["headers"]
    assert create_unit["description"].startswith("Add a unit")


async def test_docs_page_loads_under_its_own_csp(api: Api) -> None:
    assert (await api.get("/docs/")).status == 200
    response = await api.get("/docs")
    assert response.status == 200
    html = await response.text()
    assert "swagger-ui" in html
    csp = response.get_first_header(b"Content-Security-Policy")
    assert csp is not None
    policy = csp.decode()
    inline_script = html.split("<script>")[1].split("</script>")[0].encode()
    script_hash = base64.b64encode(hashlib.sha256(inline_script).digest()).decode()
    assert f"script-src https://cdn.jsdelivr.net 'sha256-{script_hash}'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert "connect-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy


async def test_docs_can_be_left_out() -> None:
    app = create_app(make_services(), docs=False)
    await start(app)
    try:
        from blacksheep.testing import TestClient

        assert (await TestClient(app).get("/openapi.json")).status == 404
    finally:
        await stop(app)


async def test_lifespan_hooks_run_in_order() -> None:
    calls: list[str] = []

    def hook(name: str) -> Callable[[], Any]:
        async def run() -> None:
            calls.append(name)

        return run

    app = create_app(make_services(on_start=[hook("open db"), hook("open redis")], on_stop=[hook("close")]))
    await start(app)
    assert calls == ["open db", "open redis"]
    await stop(app)
    assert calls == ["open db", "open redis", "close"]


async def test_access_log_has_route_status_duration_and_no_personal_data(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(RequestContextFilter())
    await api.sign_up("ana@example.com", "Clínica A")
    with caplog.at_level(logging.INFO):
        pair = await api.log_in("ana@example.com")
        await api.get("/v1/me", pair["access_token"])
    # The extras a record carries are attributes the type of LogRecord does not declare: read them by name.
    access = [record.__dict__ for record in caplog.records if record.name == "clinic_api.access"]
    assert [(r["http_method"], r["route"], r["status"]) for r in access] == [
        ("POST", "/v1/auth/login", 200),
        ("GET", "/v1/me", 200),
    ]
    assert all(isinstance(r["duration_ms"], float) for r in access)
    assert all(r["request_id"] for r in access)
    assert access[0]["tenant_id"] is None
    assert access[1]["tenant_id"] is not None
    everything = "\n".join(str(record.__dict__) for record in caplog.records)
    for secret in (
        "ana@example.com",
        "correct horse",
        pair["access_token"],
        pair["refresh_token"],
        "127.0.0.1",
    ):
        assert secret not in everything


def test_json_logs_carry_the_request_context(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging()
        logging.getLogger("clinic_api.test").info("hello", extra={"route": "/v1/me"})
    finally:
        root.handlers[:], root.level = saved[0], saved[1]
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["message"] == "hello"
    assert line["level"] == "INFO"
    assert line["route"] == "/v1/me"
    assert line["request_id"] is None
    assert line["tenant_id"] is None
    assert line["time"].endswith("+00:00")


async def test_cors_lets_listed_browser_origins_in_and_no_others(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(cors_origins=("https://app.clinica.example",))
    preflight = await api.client.options(
        "/v1/units",
        headers={
            "Origin": "https://app.clinica.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Content-Type",
        },
    )
    assert preflight.status == 200
    assert preflight.get_first_header(b"Access-Control-Allow-Origin") == b"https://app.clinica.example"
    stranger = await api.client.options(
        "/v1/units",
        headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert stranger.get_first_header(b"Access-Control-Allow-Origin") is None
    plain = await api.client.get("/health/live", headers={"Origin": "https://app.clinica.example"})
    assert plain.get_first_header(b"Access-Control-Allow-Origin") == b"https://app.clinica.example"


async def test_no_cors_unless_configured(api: Api) -> None:
    response = await api.client.get("/health/live", headers={"Origin": "https://app.clinica.example"})
    assert response.get_first_header(b"Access-Control-Allow-Origin") is None
