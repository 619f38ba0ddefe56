"""End to end over HTTP against real processes: the flows a client app goes through."""

from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.conftest import PostgresDatabase
from tests.e2e.conftest import LOGIN_PER_EMAIL, Server, run_api, serving

PASSWORD = "correct horse battery staple"
PROBLEM = "application/problem+json"
SESSION_CACHE_SECONDS = 15


def _signup(client: httpx.Client, name: str) -> tuple[dict[str, Any], str]:
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    response = client.post(
        "/v1/signup",
        json={
            "tenant_name": name,
            "unit_name": "Centro",
            "timezone": "America/Sao_Paulo",
            "owner_name": "Ana Souza",
            "email": email,
            "password": PASSWORD,
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body, email


def test_signup_login_me_refresh_and_reuse_detection(pg_server: Server) -> None:
    with pg_server.client() as client:
        signed, email = _signup(client, "Clínica Ponta a Ponta")
        login = client.post(
            "/v1/auth/login", json={"email": email, "password": PASSWORD}, headers={"User-Agent": "e2e-test"}
        )
        assert login.status_code == 200, login.text
        tokens = login.json()
        assert tokens["token_type"] == "Bearer"
        assert tokens["expires_in"] == 900
        assert login.headers["cache-control"] == "no-store"

        me = client.get("/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 200, me.text
        assert me.json()["tenant"]["id"] == signed["tenant"]["id"]
        assert me.json()["user"]["email"] == email

        rotated = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert rotated.status_code == 200, rotated.text
        reused = client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert reused.status_code == 401
        assert reused.headers["content-type"].startswith(PROBLEM)
        assert reused.json()["code"] == "refresh_token_reused"
        after = client.post("/v1/auth/refresh", json={"refresh_token": rotated.json()["refresh_token"]})
        assert after.status_code == 401


def test_an_access_token_is_refused_once_its_session_is_logged_out(pg_server: Server) -> None:
    with pg_server.client() as client:
        _, email = _signup(client, "Clínica Saída")
        tokens = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()
        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        assert client.get("/v1/me", headers=bearer).status_code == 200

        logout = client.post("/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]})
        assert logout.status_code == 204

        # A process may trust what it learnt of a session for session_cache_seconds (15 s by default).
        deadline = time.monotonic() + SESSION_CACHE_SECONDS + 5
        while (me := client.get("/v1/me", headers=bearer)).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.5)
        assert me.status_code == 401, me.text
        assert me.headers["content-type"].startswith(PROBLEM)


def test_access_token_verifies_with_an_independent_jose_library(pg_server: Server) -> None:
    with pg_server.client() as client:
        _, email = _signup(client, "Clínica JOSE")
        token = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
        jwks = client.get("/.well-known/jwks.json").json()
    decoded = jwt.decode(token, KeySet.import_key_set(jwks), algorithms=["RS256"])
    assert decoded.header["alg"] == "RS256"
    assert decoded.header["kid"] in {k["kid"] for k in jwks["keys"]}
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": "clinic"}, aud={"essential": True, "value": "clinic-api"}
    ).validate(decoded.claims)
    assert set(decoded.claims) >= {"sub", "tid", "roles", "units", "iss", "aud", "exp", "iat", "jti"}
    assert decoded.claims["exp"] - decoded.claims["iat"] == 900
    assert decoded.claims["roles"] == ["owner"]


def test_another_tenants_unit_is_404_over_http(pg_server: Server) -> None:
    with pg_server.client() as client:
        first, _ = _signup(client, "Clínica Um")
        _, second_email = _signup(client, "Clínica Dois")
        token = client.post("/v1/auth/login", json={"email": second_email, "password": PASSWORD}).json()
        response = client.get(
            f"/v1/units/{first['unit']['id']}",
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert "Centro" not in response.text


def test_readiness_docs_metrics_and_the_demo_login(pg_server: Server) -> None:
    with pg_server.client() as client:
        ready = client.get("/health/ready")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"database": "ok", "redis": "ok"}
        assert client.get("/docs").status_code == 200
        assert "/v1/units" in client.get("/openapi.json").json()["paths"]
        demo = client.post(
            "/v1/auth/login", json={"email": "vet@demo.example.com", "password": "demo-vet-password"}
        )
        assert demo.status_code == 200
        assert "X-Request-ID" in demo.headers or "x-request-id" in demo.headers
        metrics = client.get("/metrics").text
        assert 'route="/v1/auth/login"' in metrics


def test_guessing_one_accounts_password_is_throttled_across_processes(pg_server: Server) -> None:
    with pg_server.client() as client:
        _, email = _signup(client, "Clínica Alvo")
        answers = [
            client.post("/v1/auth/login", json={"email": email, "password": f"wrong guess {n:04d}!"})
            for n in range(LOGIN_PER_EMAIL + 1)
        ]
        assert [a.status_code for a in answers] == [401] * LOGIN_PER_EMAIL + [429]
        assert int(answers[-1].headers["retry-after"]) >= 1
        assert answers[-1].json()["code"] == "rate_limited"
        _, other = _signup(client, "Clínica Vizinha")  # another account from the same IP is not locked out
        assert client.post("/v1/auth/login", json={"email": other, "password": PASSWORD}).status_code == 200


def test_the_embedded_defaults_serve_without_any_server(embedded_server: Server) -> None:
    with embedded_server.client() as client:
        assert client.get("/health/ready").json()["checks"] == {"database": "ok"}
        login = client.post(
            "/v1/auth/login", json={"email": "owner@demo.example.com", "password": "demo-owner-password"}
        )
        assert login.status_code == 200, login.text
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {login.json()['access_token']}"}).json()
        assert {t["slug"] for t in me["tenants"]} == {"clinica-bella-pele", "hospital-veterinario-demo"}
        assert me["email_verified"] is True  # demo addresses get no mail: seeded as verified


def test_a_dead_redis_makes_readiness_fail_and_login_503_not_500(
    postgres: PostgresDatabase, tmp_path: Path
) -> None:
    with (
        serving(
            tmp_path, {"CLINIC_DATABASE_URL": postgres.app_url, "CLINIC_REDIS_URL": "redis://127.0.0.1:1/0"}
        ) as server,
        server.client() as client,
    ):
        ready = client.get("/health/ready")
        assert ready.status_code == 503
        assert "redis" in ready.text
        login = client.post("/v1/auth/login", json={"email": "x@example.com", "password": PASSWORD})
        assert login.status_code == 503
        assert login.headers["content-type"].startswith(PROBLEM)
        assert "Traceback" not in login.text


def test_a_superuser_url_serves_under_row_level_security(postgres: PostgresDatabase, tmp_path: Path) -> None:
    """The quickstart on PostgreSQL: given the postgres URL, the API acts as clinic_app (SET ROLE)."""
    with serving(tmp_path, {"CLINIC_DATABASE_URL": postgres.owner_url}) as server, server.client() as client:
        assert client.get("/health/ready").status_code == 200
        _, email = _signup(client, "Clínica Superusuário")
        assert client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).status_code == 200


def test_the_api_refuses_to_start_when_rls_would_not_apply(
    postgres: PostgresDatabase, tmp_path: Path
) -> None:
    finished = run_api(
        tmp_path, {"CLINIC_DATABASE_URL": postgres.owner_url, "CLINIC_DATABASE_ROLE": ""}, "--port", "1"
    )
    assert finished.returncode == 2
    assert "row-level security would not apply" in finished.stdout + finished.stderr


def test_an_unreachable_database_at_start_is_one_clear_line_not_a_traceback(tmp_path: Path) -> None:
    finished = run_api(
        tmp_path, {"CLINIC_DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}, "--port", "1"
    )
    assert finished.returncode == 2
    output = finished.stdout + finished.stderr
    assert "cannot reach the database" in output
    assert "Traceback" not in output


def test_an_api_key_acts_for_its_clinic_over_http(pg_server: Server) -> None:
    with pg_server.client() as client:
        signed, email = _signup(client, "Clínica Integrada")
        _, other_email = _signup(client, "Clínica Vizinha")
        token = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).json()[
            "access_token"
        ]
        other = client.post("/v1/auth/login", json={"email": other_email, "password": PASSWORD}).json()
        other_unit = client.get("/v1/units", headers={"Authorization": f"Bearer {other['access_token']}"})
        created = client.post(
            "/v1/api-keys",
            json={"name": "ERP", "scopes": ["units:read"]},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert created.status_code == 201, created.text
        key = created.json()["key"]

        mine = client.get("/v1/units", headers={"X-API-Key": key})
        assert mine.status_code == 200, mine.text
        assert [u["id"] for u in mine.json()["items"]] == [signed["unit"]["id"]]
        theirs = client.get(f"/v1/units/{other_unit.json()['items'][0]['id']}", headers={"X-API-Key": key})
        assert theirs.status_code == 404
        writing = client.post(
            "/v1/units", json={"name": "Norte", "timezone": "UTC"}, headers={"Authorization": f"ApiKey {key}"}
        )
        assert writing.status_code == 403
        assert writing.json()["code"] == "forbidden"

        revoked = client.delete(
            f"/v1/api-keys/{created.json()['id']}", headers={"Authorization": f"Bearer {token}"}
        )
        assert revoked.status_code == 204
        refused = client.get("/v1/units", headers={"X-API-Key": key})
        assert refused.status_code == 401
        assert refused.headers["content-type"] == PROBLEM
        assert refused.json()["code"] == "invalid_api_key"
