"""Email verification, password reset and sign-in throttling over the HTTP host, on the in-memory fakes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from blacksheep import Request

from clinic_api.auth import ActorIdentity, BearerAuthentication, SessionGuard
from clinic_api.services import RateLimit, RateLimits
from clinic_core.identity.account_security import EmailVerificationRequested, PasswordResetRequested
from clinic_core.tenancy.model import SecurityPolicy, UnverifiedEmailAccess
from clinic_core.tenancy.permissions import Permission
from tests.api.conftest import PASSWORD, Api, body_of

PROBLEM = "application/problem+json"
NEW_PASSWORD = "a brand new long passphrase"


def mailed(api: Api, topic: str, email: str = "ana@example.com") -> list[str]:
    return [
        r.payload["token"]
        for r in api.memory.store.outbox
        if r.topic == topic and r.payload["email"] == email
    ]


async def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status == status, await response.text()
    assert response.content_type().decode().startswith(PROBLEM)
    body = await body_of(response)
    assert body["code"] == code
    return body


# --- forgot and reset password -----------------------------------------------------------------------------


async def test_forgot_password_answers_the_same_for_known_and_unknown_addresses(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")

    known = await api.post("/v1/auth/forgot-password", {"email": "ana@example.com"})
    unknown = await api.post("/v1/auth/forgot-password", {"email": "nobody@example.com"})

    assert known.status == unknown.status == 202
    assert await known.text() == await unknown.text()
    assert known.content_type() == unknown.content_type()
    assert len(mailed(api, PasswordResetRequested.topic)) == 1
    assert mailed(api, PasswordResetRequested.topic, "nobody@example.com") == []


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/auth/forgot-password", {}),
        ("/v1/auth/forgot-password", {"email": "ana@example.com", "tenant_id": "x"}),
        ("/v1/auth/forgot-password", {"email": "not an address"}),
        ("/v1/auth/forgot-password", {"email": ["ana@example.com"]}),
        ("/v1/auth/reset-password", {"token": "t"}),
        ("/v1/auth/reset-password", {"new_password": NEW_PASSWORD}),
        ("/v1/auth/reset-password", {"token": "t", "new_password": NEW_PASSWORD, "email": "x@example.com"}),
        ("/v1/auth/verify-email", {}),
        ("/v1/auth/verify-email", {"token": 42}),
        ("/v1/auth/verify-email", {"token": "x" * 2000}),
    ],
)
async def test_malformed_bodies_are_422_problems(api: Api, path: str, body: dict[str, Any]) -> None:
    await problem(await api.post(path, body), 422, "validation_failed")


async def test_reset_sets_the_password_and_ends_every_session(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")
    old = await api.log_in("ana@example.com")
    await api.post("/v1/auth/forgot-password", {"email": "ana@example.com"})
    [token] = mailed(api, PasswordResetRequested.topic)

    reset = await api.post("/v1/auth/reset-password", {"token": token, "new_password": NEW_PASSWORD})

    assert reset.status == 204, await reset.text()
    await problem(
        await api.post("/v1/auth/refresh", {"refresh_token": old["refresh_token"]}),
        401,
        "invalid_refresh_token",
    )
    assert (await api.get("/v1/me", old["access_token"])).status == 401
    signed_in = await api.log_in("ana@example.com", NEW_PASSWORD)
    assert (await body_of(await api.get("/v1/me", signed_in["access_token"])))["email_verified"] is True
    again = await api.post(
        "/v1/auth/reset-password", {"token": token, "new_password": "another new passphrase"}
    )
    await problem(again, 400, "invalid_token")


async def test_an_unknown_reset_token_and_a_weak_password_are_refused(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")
    unknown = await api.post("/v1/auth/reset-password", {"token": "made-up", "new_password": NEW_PASSWORD})
    await problem(unknown, 400, "invalid_token")

    await api.post("/v1/auth/forgot-password", {"email": "ana@example.com"})
    [token] = mailed(api, PasswordResetRequested.topic)
    weak = await problem(
        await api.post("/v1/auth/reset-password", {"token": token, "new_password": "senha123"}),
        422,
        "validation_failed",
    )
    assert [e["field"] for e in weak["errors"]] == ["new_password"]
    assert (
        await api.post("/v1/auth/reset-password", {"token": token, "new_password": NEW_PASSWORD})
    ).status == 204


async def test_forgot_password_has_a_per_ip_budget(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(limits=replace(RateLimits(), forgot_password_per_ip=RateLimit(2)))
    for _ in range(2):
        assert (await api.post("/v1/auth/forgot-password", {"email": "x@example.com"})).status == 202
    refused = await api.post("/v1/auth/forgot-password", {"email": "x@example.com"})
    await problem(refused, 429, "rate_limited")
    assert refused.get_first_header(b"Retry-After") is not None


# --- email verification ------------------------------------------------------------------------------------


async def test_verify_email_works_once_and_shows_in_me(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    assert (await body_of(await api.get("/v1/me", token)))["email_verified"] is False
    [link] = mailed(api, EmailVerificationRequested.topic)

    assert (await api.post("/v1/auth/verify-email", {"token": link})).status == 204

    assert (await body_of(await api.get("/v1/me", token)))["email_verified"] is True
    await problem(await api.post("/v1/auth/verify-email", {"token": link}), 400, "invalid_token")


async def test_resend_verification_is_signed_in_accepted_and_limited_to_three_an_hour(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    await problem(await api.post("/v1/auth/resend-verification", {}), 401, "unauthenticated")

    for _ in range(3):
        response = await api.post("/v1/auth/resend-verification", {}, token)
        assert response.status == 202, await response.text()
        assert "verification link" in (await body_of(response))["detail"]
    assert len(mailed(api, EmailVerificationRequested.topic)) == 4  # sign-up's and three more
    await problem(await api.post("/v1/auth/resend-verification", {}, token), 429, "rate_limited")


async def test_resending_for_a_verified_address_is_a_conflict(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    [link] = mailed(api, EmailVerificationRequested.topic)
    await api.post("/v1/auth/verify-email", {"token": link})
    await problem(await api.post("/v1/auth/resend-verification", {}, token), 409, "email_already_verified")


async def test_a_clinic_that_refuses_unverified_emails_refuses_sign_in_with_403(api: Api) -> None:
    token, signed = await api.owner_token("ana@example.com", "Clínica A")
    tenant = api.memory.store.tables.tenants[next(iter(api.memory.store.tables.tenants))]
    assert str(tenant.id) == signed["tenant"]["id"]
    tenant.security = SecurityPolicy(unverified_email_access=UnverifiedEmailAccess.NONE)

    login = await api.post("/v1/auth/login", {"email": "ana@example.com", "password": PASSWORD})
    await problem(login, 403, "email_not_verified")
    assert (await api.get("/v1/me", token)).status == 401  # the session no longer stands there

    [link] = mailed(api, EmailVerificationRequested.topic)
    await api.post("/v1/auth/verify-email", {"token": link})
    assert (
        await api.post("/v1/auth/login", {"email": "ana@example.com", "password": PASSWORD})
    ).status == 200


async def test_the_bearer_actor_loses_patient_permissions_until_verified(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    services = api.services
    authentication = BearerAuthentication(
        services.tokens, SessionGuard(services.check_session, ttl_seconds=0)
    )

    async def permissions() -> frozenset[Permission]:
        request = Request("GET", b"/v1/me", [(b"Authorization", f"Bearer {token}".encode())])
        identity = await authentication.authenticate(request)
        assert isinstance(identity, ActorIdentity)
        return identity.actor.permissions

    before = await permissions()
    assert Permission.PATIENTS_READ not in before
    assert Permission.CLINICAL_WRITE not in before
    assert Permission.UNITS_WRITE in before

    [link] = mailed(api, EmailVerificationRequested.topic)
    await api.post("/v1/auth/verify-email", {"token": link})
    assert Permission.PATIENTS_READ in await permissions()


# --- sign-in throttling ------------------------------------------------------------------------------------


async def test_repeated_wrong_passwords_get_429_sign_in_throttled_alike_for_unknown_emails(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")

    async def hammer(email: str) -> tuple[list[int], dict[str, Any], str | None]:
        statuses = []
        for _ in range(6):
            response = await api.post("/v1/auth/login", {"email": email, "password": "wrong password!"})
            statuses.append(response.status)
        body = await body_of(response)
        retry_after = response.get_first_header(b"Retry-After")
        return statuses, body, retry_after.decode() if retry_after else None

    known = await hammer("ana@example.com")
    unknown = await hammer("nobody@example.com")

    assert known[0] == unknown[0] == [401] * 5 + [429]
    assert known[1]["code"] == unknown[1]["code"] == "sign_in_throttled"
    assert {k: v for k, v in known[1].items() if k != "request_id"} == {
        k: v for k, v in unknown[1].items() if k != "request_id"
    }
    assert known[2] is not None
    assert int(known[2]) >= 1
    assert "ana@example.com" not in json.dumps(known[1])
