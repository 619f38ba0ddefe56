"""Two-factor sign-in over HTTP: enrolment with its QR code, the two-step login, the clinic's requirement."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp

from clinic_api.services import RateLimit, RateLimits
from tests.api.conftest import PASSWORD, Api, body_of


def code(secret: str, steps_ahead: int = 0) -> str:
    """The code for now plus ``steps_ahead`` periods: the API accepts one period of drift."""
    return pyotp.TOTP(secret).at(datetime.now(UTC) + timedelta(seconds=30 * steps_ahead))


async def enrol(api: Api, token: str) -> tuple[str, list[str]]:
    """Enrol the token's account with the current code: its secret and recovery codes."""
    started = await api.post("/v1/auth/mfa/enrolment", {"password": PASSWORD}, token)
    assert started.status == 200, await started.text()
    enrolment = await body_of(started)
    confirmed = await api.post("/v1/auth/mfa/enrolment/confirm", {"code": code(enrolment["secret"])}, token)
    assert confirmed.status == 200, await confirmed.text()
    return enrolment["secret"], (await body_of(confirmed))["recovery_codes"]


async def log_in(api: Api, email: str) -> dict[str, Any]:
    response = await api.post("/v1/auth/login", {"email": email, "password": PASSWORD})
    assert response.status == 200, await response.text()
    return await body_of(response)


async def test_enrolment_returns_the_secret_its_uri_and_a_qr_code_image(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica Bela")
    response = await api.post("/v1/auth/mfa/enrolment", {"password": PASSWORD}, token)
    assert response.status == 200
    body = await body_of(response)
    assert len(body["secret"]) == 32
    assert body["otpauth_uri"].startswith("otpauth://totp/Clinic:ana%40example.com?secret=")
    prefix = "data:image/svg+xml;base64,"
    assert body["qr_code"].startswith(prefix)
    assert base64.b64decode(body["qr_code"][len(prefix) :]).startswith(b"<svg")

    wrong_password = await api.post("/v1/auth/mfa/enrolment", {"password": "not it at all"}, token)
    assert wrong_password.status == 422
    assert (await body_of(wrong_password))["errors"][0]["field"] == "password"
    status = await body_of(await api.get("/v1/auth/mfa", token))
    assert status == {
        "enabled": False,
        "enabled_at": None,
        "enrolment_pending": True,
        "recovery_codes_left": 0,
    }


async def test_the_full_two_step_login(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica Bela")
    secret, recovery_codes = await enrol(api, token)
    assert len(recovery_codes) == 10
    status = await body_of(await api.get("/v1/auth/mfa", token))
    assert (status["enabled"], status["recovery_codes_left"]) == (True, 10)

    challenge = await log_in(api, "ana@example.com")
    assert challenge["mfa_required"] is True
    assert challenge["expires_in"] == 300
    assert "access_token" not in challenge

    wrong = await api.post(
        "/v1/auth/mfa/verify", {"challenge_token": challenge["challenge_token"], "code": code(secret, 10)}
    )
    assert wrong.status == 401
    assert wrong.content_type() == b"application/problem+json"
    assert (await body_of(wrong))["code"] == "invalid_mfa_code"

    # The enrolment spent this period's code; the next period's is within the accepted drift.
    verified = await api.post(
        "/v1/auth/mfa/verify", {"challenge_token": challenge["challenge_token"], "code": code(secret, 1)}
    )
    assert verified.status == 200, await verified.text()
    pair = await body_of(verified)
    me = await api.get("/v1/me", pair["access_token"])
    assert (await body_of(me))["user"]["email"] == "ana@example.com"

    # The challenge is used up.
    again = await api.post(
        "/v1/auth/mfa/verify", {"challenge_token": challenge["challenge_token"], "code": code(secret, 1)}
    )
    assert (await body_of(again))["code"] == "invalid_mfa_challenge"
    # And the code is spent: replayed on a new challenge, it is refused.
    replayed = await api.post(
        "/v1/auth/mfa/verify",
        {
            "challenge_token": (await log_in(api, "ana@example.com"))["challenge_token"],
            "code": code(secret, 1),
        },
    )
    assert replayed.status == 401
    assert (await body_of(replayed))["code"] == "invalid_mfa_code"


async def test_codes_are_throttled_per_client_ip(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(limits=RateLimits(mfa_verify_per_ip=RateLimit(3)))
    statuses = [
        (await api.post("/v1/auth/mfa/verify", {"challenge_token": "made-up", "code": "123456"})).status
        for _ in range(4)
    ]
    assert statuses == [401, 401, 401, 429]


async def test_a_recovery_code_signs_in_once_and_disabling_needs_password_and_code(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica Bela")
    secret, recovery_codes = await enrol(api, token)
    first = await log_in(api, "ana@example.com")
    used = await api.post(
        "/v1/auth/mfa/verify",
        {"challenge_token": first["challenge_token"], "recovery_code": recovery_codes[0]},
    )
    assert used.status == 200
    second = await log_in(api, "ana@example.com")
    reused = await api.post(
        "/v1/auth/mfa/verify",
        {"challenge_token": second["challenge_token"], "recovery_code": recovery_codes[0]},
    )
    assert reused.status == 401

    no_code = await api.post("/v1/auth/mfa/disable", {"password": PASSWORD, "code": "000000"}, token)
    assert no_code.status == 422
    disabled = await api.post(
        "/v1/auth/mfa/disable", {"password": PASSWORD, "code": recovery_codes[1]}, token
    )
    assert disabled.status == 204
    assert "access_token" in await log_in(api, "ana@example.com")
    renewed = await api.post(
        "/v1/auth/mfa/recovery-codes", {"password": PASSWORD, "code": code(secret)}, token
    )
    assert (await body_of(renewed))["code"] == "mfa_not_enabled"


async def test_regenerated_recovery_codes_replace_the_old_ones(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica Bela")
    _, old = await enrol(api, token)
    response = await api.post("/v1/auth/mfa/recovery-codes", {"password": PASSWORD, "code": old[0]}, token)
    assert response.status == 200
    new = (await body_of(response))["recovery_codes"]
    assert len(new) == 10
    assert not set(new) & set(old)
    challenge = (await log_in(api, "ana@example.com"))["challenge_token"]
    stale = await api.post("/v1/auth/mfa/verify", {"challenge_token": challenge, "recovery_code": old[1]})
    assert stale.status == 401


async def test_the_owner_requires_mfa_and_staff_enrol_at_their_next_login(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica Bela")
    receptionist, _ = await api.member_token(owner, "bia@example.com", ["receptionist"])
    await api.member_token(owner, "caio@example.com", ["client"])

    assert await body_of(await api.get("/v1/tenant/security-policy", receptionist)) == {
        "require_mfa_for_staff": False,
        "unverified_email_access": "no_patient_data",
    }
    refused = await api.put("/v1/tenant/security-policy", {"require_mfa_for_staff": True}, receptionist)
    assert refused.status == 403
    changed = await api.put("/v1/tenant/security-policy", {"require_mfa_for_staff": True}, owner)
    assert changed.status == 200
    assert (await body_of(changed))["require_mfa_for_staff"] is True
    bad = await api.put(
        "/v1/tenant/security-policy", {"require_mfa_for_staff": True, "tenant_id": "x"}, owner
    )
    assert bad.status == 422

    assert "access_token" in await log_in(api, "caio@example.com")
    asked = await log_in(api, "bia@example.com")
    assert asked["mfa_enrolment_required"] is True
    assert asked["expires_in"] == 600
    assert "access_token" not in asked

    started = await api.post("/v1/auth/mfa/required-enrolment", {"enrolment_token": asked["enrolment_token"]})
    assert started.status == 200
    enrolment = await body_of(started)
    assert enrolment["qr_code"].startswith("data:image/svg+xml;base64,")
    confirmed = await api.post(
        "/v1/auth/mfa/required-enrolment/confirm",
        {"enrolment_token": asked["enrolment_token"], "code": code(enrolment["secret"])},
    )
    assert confirmed.status == 200, await confirmed.text()
    signed_in = await body_of(confirmed)
    assert len(signed_in["recovery_codes"]) == 10
    me = await body_of(await api.get("/v1/me", signed_in["access_token"]))
    assert me["roles"] == ["receptionist"]
    assert (await log_in(api, "bia@example.com"))["mfa_required"] is True


async def test_one_clinics_policy_does_not_touch_another(api: Api) -> None:
    owner_a, _ = await api.owner_token("ana@example.com", "Clínica A")
    owner_b, _ = await api.owner_token("bruno@example.com", "Clínica B")
    assert (
        await api.put("/v1/tenant/security-policy", {"require_mfa_for_staff": True}, owner_b)
    ).status == 200
    policy_a = await body_of(await api.get("/v1/tenant/security-policy", owner_a))
    assert policy_a["require_mfa_for_staff"] is False
    # The owners themselves are staff of their clinics: B's owner is now asked to enrol, A's is not.
    assert "mfa_enrolment_required" in await log_in(api, "bruno@example.com")
    assert "access_token" in await log_in(api, "ana@example.com")
