"""Ending sessions over real HTTP: revoking another device, and a refresh token presented by a device
that is not the one that signed in. Both leave a trace in the clinic's audit trail."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from tests.e2e.conftest import Server

PASSWORD = "correct horse battery staple"
PROBLEM = "application/problem+json"
SESSION_CACHE_SECONDS = 15


def _owner(client: httpx.Client) -> str:
    email = f"e2e-{uuid.uuid4().hex[:10]}@example.com"
    created = client.post(
        "/v1/signup",
        json={
            "tenant_name": "Clínica Sessões",
            "unit_name": "Centro",
            "timezone": "America/Sao_Paulo",
            "owner_name": "Ana Souza",
            "email": email,
            "password": PASSWORD,
        },
    )
    assert created.status_code == 201, created.text
    return email


def _log_in(client: httpx.Client, email: str, device: str, label: str) -> dict[str, Any]:
    response = client.post(
        "/v1/auth/login",
        json={"email": email, "password": PASSWORD, "device_label": label},
        headers={"X-Device-Fingerprint": device},
    )
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    return tokens


def _bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


def _refused_within_the_cache_window(client: httpx.Client, tokens: dict[str, Any]) -> httpx.Response:
    deadline = time.monotonic() + SESSION_CACHE_SECONDS + 5
    while (me := client.get("/v1/me", headers=_bearer(tokens))).status_code == 200:
        assert time.monotonic() < deadline, "the revoked session's access token is still accepted"
        time.sleep(0.5)
    return me


def _audit_actions(client: httpx.Client, tokens: dict[str, Any]) -> list[str]:
    page = client.get("/v1/audit-events", headers=_bearer(tokens))
    assert page.status_code == 200, page.text
    return [event["action"] for event in page.json()["items"]]


def test_revoking_a_lost_phone_ends_its_session_everywhere(pg_server: Server) -> None:
    with pg_server.client() as client:
        email = _owner(client)
        phone = _log_in(client, email, f"phone-{uuid.uuid4()}", "Celular da Ana")
        laptop = _log_in(client, email, f"laptop-{uuid.uuid4()}", "Notebook da recepção")

        listed = client.get("/v1/auth/sessions", headers=_bearer(laptop)).json()["items"]
        assert {s["device_label"] for s in listed} == {"Celular da Ana", "Notebook da recepção"}
        phone_id = next(s["id"] for s in listed if not s["current"])

        ended = client.delete(f"/v1/auth/sessions/{phone_id}", headers=_bearer(laptop))
        assert ended.status_code == 204

        refresh = client.post("/v1/auth/refresh", json={"refresh_token": phone["refresh_token"]})
        assert refresh.status_code == 401  # at once: refresh tokens are checked in the database
        assert refresh.json()["code"] == "invalid_refresh_token"
        me = _refused_within_the_cache_window(client, phone)
        assert me.status_code == 401
        assert me.headers["content-type"].startswith(PROBLEM)
        assert client.get("/v1/me", headers=_bearer(laptop)).status_code == 200
        assert _audit_actions(client, laptop)[0] == "auth.session_revoked"


def test_a_refresh_token_from_another_device_revokes_the_session(pg_server: Server) -> None:
    with pg_server.client() as client:
        email = _owner(client)
        device = f"tablet-{uuid.uuid4()}"
        tokens = _log_in(client, email, device, "Tablet do consultório")

        same_device = client.post(
            "/v1/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            headers={"X-Device-Fingerprint": device},
        )
        assert same_device.status_code == 200, same_device.text
        tokens = same_device.json()

        stolen = client.post(
            "/v1/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            headers={"X-Device-Fingerprint": "an-attackers-machine"},
        )
        assert stolen.status_code == 401
        assert stolen.headers["content-type"].startswith(PROBLEM)
        assert stolen.json()["code"] == "device_mismatch"

        # The token was not spent by the thief, yet the rightful device cannot use it either: the whole
        # session is gone, and its access token stops within the cache window.
        rightful = client.post(
            "/v1/auth/refresh",
            json={"refresh_token": tokens["refresh_token"]},
            headers={"X-Device-Fingerprint": device},
        )
        assert rightful.status_code == 401
        assert _refused_within_the_cache_window(client, tokens).status_code == 401

        other = _log_in(client, email, device, "Tablet do consultório")
        assert "auth.device_mismatch" in _audit_actions(client, other)
