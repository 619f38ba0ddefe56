"""Password reset and sign-in lockout over real HTTP, against a real ``clinic-api`` on PostgreSQL and Redis.

The reset link's token is read where the worker will read it: the outbox table of the test's database.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.conftest import PostgresDatabase
from tests.e2e.conftest import Server, serving

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new long passphrase"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def server(
    postgres: PostgresDatabase, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    """Budgets per IP and per email high enough that what answers is the sign-in throttle itself."""
    with serving(
        tmp_path_factory.mktemp("recovery-server"),
        {
            "CLINIC_DATABASE_URL": postgres.app_url,
            "CLINIC_MIGRATIONS_DATABASE_URL": postgres.owner_url,
            "CLINIC_REDIS_URL": redis_url,
            "CLINIC_REDIS_KEY_PREFIX": f"clinic-e2e-{uuid.uuid4().hex[:8]}:",
            "CLINIC_RATE_LIMIT_SIGNUP_PER_IP": "1000",
            "CLINIC_RATE_LIMIT_LOGIN_PER_IP": "1000",
            "CLINIC_RATE_LIMIT_LOGIN_PER_EMAIL": "1000",
        },
        "--migrate",
    ) as running:
        yield running


def _signup(client: httpx.Client) -> tuple[dict[str, Any], str]:
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    response = client.post(
        "/v1/signup",
        json={
            "tenant_name": "Clínica Recupera",
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


def _mailed_token(postgres: PostgresDatabase, tenant_id: str, topic: str, email: str) -> str:
    """The newest token of ``topic`` for ``email`` in the tenant's outbox (read as its tenant: RLS)."""
    url = make_url(postgres.owner_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as connection:
        connection.execute("SELECT set_config('app.tenant_id', %s, false)", (tenant_id,))
        row = connection.execute(
            "SELECT payload->>'token' FROM outbox WHERE tenant_id = %s AND topic = %s"
            " AND payload->>'email' = %s ORDER BY id DESC LIMIT 1",
            (tenant_id, topic, email),
        ).fetchone()
    assert row is not None, f"no {topic} in the outbox"
    token: str = row[0]
    return token


def test_forgot_then_reset_ends_old_sessions_and_the_new_password_signs_in(
    server: Server, postgres: PostgresDatabase
) -> None:
    with server.client() as client:
        signed, email = _signup(client)
        old = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert old.status_code == 200, old.text

        asked = client.post("/v1/auth/forgot-password", json={"email": email})
        unknown = client.post("/v1/auth/forgot-password", json={"email": f"nobody-{email}"})
        assert asked.status_code == unknown.status_code == 202
        assert asked.json() == unknown.json()

        token = _mailed_token(postgres, signed["tenant"]["id"], "identity.password_reset_requested", email)
        reset = client.post("/v1/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD})
        assert reset.status_code == 204, reset.text

        refreshed = client.post("/v1/auth/refresh", json={"refresh_token": old.json()["refresh_token"]})
        assert refreshed.status_code == 401
        assert refreshed.headers["content-type"].startswith(PROBLEM)
        assert client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}).status_code == 401
        new = client.post("/v1/auth/login", json={"email": email, "password": NEW_PASSWORD})
        assert new.status_code == 200, new.text
        me = client.get("/v1/me", headers={"Authorization": f"Bearer {new.json()['access_token']}"})
        assert me.json()["email_verified"] is True

        replayed = client.post(
            "/v1/auth/reset-password", json={"token": token, "new_password": PASSWORD + "!"}
        )
        assert replayed.status_code == 400
        assert replayed.json()["code"] == "invalid_token"


def _hammer(client: httpx.Client, email: str) -> list[httpx.Response]:
    """Wrong passwords until the answer is 429 (the sixth, unless the machine is slow enough that the
    first delays, 1 s and 2 s, pass between two attempts)."""
    responses: list[httpx.Response] = []
    while len(responses) < 12 and (not responses or responses[-1].status_code != 429):
        responses.append(client.post("/v1/auth/login", json={"email": email, "password": "not the password"}))
    return responses


def test_repeated_wrong_passwords_lock_the_account_and_an_unknown_email_looks_the_same(
    server: Server,
) -> None:
    with server.client() as client:
        _, email = _signup(client)
        known = _hammer(client, email)
        unknown = _hammer(client, f"nobody-{uuid.uuid4().hex[:8]}@example.com")

        for responses in (known, unknown):
            assert [r.status_code for r in responses[:5]] == [401] * 5
            assert {r.json()["code"] for r in responses[:-1]} == {"invalid_credentials"}
            locked = responses[-1]
            assert locked.status_code == 429
            assert locked.headers["content-type"].startswith(PROBLEM)
            assert locked.json()["code"] == "sign_in_throttled"
            assert int(locked.headers["Retry-After"]) >= 1
        assert set(known[-1].json()) == set(unknown[-1].json())
        assert known[-1].json()["title"] == unknown[-1].json()["title"]


def test_a_device_that_signed_in_before_is_not_locked_out(server: Server) -> None:
    with server.client() as client:
        _, email = _signup(client)
        phone = {"X-Device-Fingerprint": f"phone-{uuid.uuid4().hex}"}
        assert (
            client.post(
                "/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=phone
            ).status_code
            == 200
        )
        assert _hammer(client, email)[-1].status_code == 429

        mine = client.post("/v1/auth/login", json={"email": email, "password": PASSWORD}, headers=phone)
        assert mine.status_code == 200, mine.text


def test_a_reset_lifts_the_lockout(server: Server, postgres: PostgresDatabase) -> None:
    with server.client() as client:
        signed, email = _signup(client)
        assert _hammer(client, email)[-1].status_code == 429
        client.post("/v1/auth/forgot-password", json={"email": email})
        token = _mailed_token(postgres, signed["tenant"]["id"], "identity.password_reset_requested", email)
        assert (
            client.post(
                "/v1/auth/reset-password", json={"token": token, "new_password": NEW_PASSWORD}
            ).status_code
            == 204
        )
        assert (
            client.post("/v1/auth/login", json={"email": email, "password": NEW_PASSWORD}).status_code == 200
        )
