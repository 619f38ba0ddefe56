"""Changing one's email over the HTTP host, on the in-memory fakes: the link read from the outbox, the
answers for a taken address, problem bodies; and the second factor's changes ending other sessions."""

from __future__ import annotations

from typing import Any

import pytest

from clinic_core.identity.email_change import EmailChangeNotice, EmailChangeRequested
from tests.api.conftest import PASSWORD, Api, body_of
from tests.api.test_account_recovery import problem
from tests.api.test_mfa import code

OLD = "ana@example.com"
NEW = "ana.souza@novo.com.br"


def change_tokens(api: Api, email: str = NEW) -> list[str]:
    return [
        r.payload["token"]
        for r in api.memory.store.outbox
        if r.topic == EmailChangeRequested.topic and r.payload["email"] == email
    ]


def notices(api: Api, email: str = OLD) -> list[dict[str, Any]]:
    return [
        r.payload
        for r in api.memory.store.outbox
        if r.topic == EmailChangeNotice.topic and r.payload["email"] == email
    ]


async def ask(api: Api, token: str, new_email: str = NEW, **extra: Any) -> Any:
    return await api.post(
        "/v1/auth/change-email", {"current_password": PASSWORD, "new_email": new_email, **extra}, token
    )


async def test_the_full_change_ends_the_other_sessions_and_moves_the_login(api: Api) -> None:
    await api.sign_up(OLD, "Clínica A")
    desk = await api.log_in(OLD)
    phone = await api.log_in(OLD)

    asked = await ask(api, desk["access_token"])
    assert asked.status == 202, await asked.text()
    assert "24 hours" in (await body_of(asked))["detail"]
    me = await body_of(await api.get("/v1/me", desk["access_token"]))
    assert me["user"]["email"] == OLD  # nothing changed before the link is opened
    assert me["email_verified"] is False
    assert [n["new_email"] for n in notices(api)] == [NEW]

    [token] = change_tokens(api)
    confirmed = await api.post("/v1/auth/confirm-email-change", {"token": token})
    assert confirmed.status == 204, await confirmed.text()

    assert (await api.post("/v1/auth/refresh", {"refresh_token": phone["refresh_token"]})).status == 401
    kept = await api.post("/v1/auth/refresh", {"refresh_token": desk["refresh_token"]})
    assert kept.status == 200, await kept.text()
    me = await body_of(await api.get("/v1/me", (await body_of(kept))["access_token"]))
    assert me["user"]["email"] == NEW
    assert me["email_verified"] is True  # the link proved the new address
    await api.log_in(NEW)
    await problem(
        await api.post("/v1/auth/login", {"email": OLD, "password": PASSWORD}), 401, "invalid_credentials"
    )

    replayed = await api.post("/v1/auth/confirm-email-change", {"token": token})
    await problem(replayed, 400, "invalid_token")


async def test_other_sessions_stay_when_the_request_says_so(api: Api) -> None:
    await api.sign_up(OLD, "Clínica A")
    desk = await api.log_in(OLD)
    phone = await api.log_in(OLD)
    assert (await ask(api, desk["access_token"], end_other_sessions=False)).status == 202
    [token] = change_tokens(api)
    assert (await api.post("/v1/auth/confirm-email-change", {"token": token})).status == 204
    assert (await api.post("/v1/auth/refresh", {"refresh_token": phone["refresh_token"]})).status == 200


async def test_a_taken_address_gets_the_same_answer_and_no_link(api: Api) -> None:
    await api.sign_up(OLD, "Clínica A")
    await api.sign_up("bia@example.com", "Clínica B")
    token = (await api.log_in(OLD))["access_token"]

    free = await ask(api, token, "free@example.com")
    taken = await ask(api, token, "bia@example.com")

    assert free.status == taken.status == 202
    assert await free.text() == await taken.text()
    assert change_tokens(api, "bia@example.com") == []
    assert len(notices(api)) == 2


async def test_an_address_taken_before_the_link_is_opened_is_a_409(api: Api) -> None:
    await api.sign_up(OLD, "Clínica A")
    assert (await ask(api, (await api.log_in(OLD))["access_token"])).status == 202
    await api.sign_up(NEW, "Clínica B")
    [token] = change_tokens(api)

    body = await problem(
        await api.post("/v1/auth/confirm-email-change", {"token": token}), 409, "email_in_use"
    )
    assert body["status"] == 409
    await api.log_in(OLD)


async def test_a_wrong_password_or_the_same_address_is_a_field_error(api: Api) -> None:
    await api.sign_up(OLD, "Clínica A")
    token = (await api.log_in(OLD))["access_token"]

    wrong = await api.post(
        "/v1/auth/change-email", {"current_password": "not the password!", "new_email": NEW}, token
    )
    body = await problem(wrong, 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in body["errors"]] == [("current_password", "wrong_password")]

    same = await problem(await ask(api, token, "ANA@example.com"), 422, "validation_failed")
    assert [(e["field"], e["code"]) for e in same["errors"]] == [("new_email", "unchanged")]

    malformed = await problem(await ask(api, token, "not an address"), 422, "validation_failed")
    assert [e["field"] for e in malformed["errors"]] == ["new_email"]
    assert change_tokens(api) == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"current_password": PASSWORD},
        {"new_email": NEW},
        {"current_password": PASSWORD, "new_email": NEW, "user_id": "someone else"},
        {"current_password": PASSWORD, "new_email": ["a@example.com"]},
        {"current_password": PASSWORD, "new_email": NEW, "end_other_sessions": "maybe"},
        {"current_password": PASSWORD, "new_email": "x" * 400 + "@example.com"},
    ],
)
async def test_malformed_change_requests_are_422_problems(api: Api, body: dict[str, Any]) -> None:
    await api.sign_up(OLD, "Clínica A")
    token = (await api.log_in(OLD))["access_token"]
    await problem(await api.post("/v1/auth/change-email", body, token), 422, "validation_failed")


@pytest.mark.parametrize("body", [{}, {"token": 42}, {"token": "x" * 2000}, {"token": "t", "email": NEW}])
async def test_malformed_confirmations_are_422_problems(api: Api, body: dict[str, Any]) -> None:
    await problem(await api.post("/v1/auth/confirm-email-change", body), 422, "validation_failed")


async def test_an_unknown_token_is_400_and_asking_needs_a_sign_in(api: Api) -> None:
    await problem(await api.post("/v1/auth/confirm-email-change", {"token": "made up"}), 400, "invalid_token")
    anonymous = await api.post("/v1/auth/change-email", {"current_password": PASSWORD, "new_email": NEW})
    assert anonymous.status == 401


# --- the second factor's changes ----------------------------------------------------------------------------


async def test_enrolling_ends_the_other_sessions_and_says_how_many(api: Api) -> None:
    await api.sign_up(OLD, "Clínica A")
    desk = await api.log_in(OLD)
    phone = await api.log_in(OLD)
    started = await body_of(
        await api.post("/v1/auth/mfa/enrolment", {"password": PASSWORD}, desk["access_token"])
    )

    confirmed = await api.post(
        "/v1/auth/mfa/enrolment/confirm", {"code": code(started["secret"])}, desk["access_token"]
    )

    assert confirmed.status == 200, await confirmed.text()
    body = await body_of(confirmed)
    assert body["ended_sessions"] == 1
    assert len(body["recovery_codes"]) == 10
    assert (await api.post("/v1/auth/refresh", {"refresh_token": phone["refresh_token"]})).status == 401
    assert (await api.post("/v1/auth/refresh", {"refresh_token": desk["refresh_token"]})).status == 200


async def test_disabling_can_keep_the_other_sessions(api: Api) -> None:
    await api.sign_up(OLD, "Clínica A")
    desk = await api.log_in(OLD)
    phone = await api.log_in(OLD)
    started = await body_of(
        await api.post("/v1/auth/mfa/enrolment", {"password": PASSWORD}, desk["access_token"])
    )
    kept = await api.post(
        "/v1/auth/mfa/enrolment/confirm",
        {"code": code(started["secret"]), "end_other_sessions": False},
        desk["access_token"],
    )
    assert (await body_of(kept))["ended_sessions"] == 0
    recovery = (await body_of(kept))["recovery_codes"]

    disabled = await api.post(
        "/v1/auth/mfa/disable",
        {"password": PASSWORD, "code": recovery[0], "end_other_sessions": False},
        desk["access_token"],
    )

    assert disabled.status == 204, await disabled.text()
    assert (await api.post("/v1/auth/refresh", {"refresh_token": phone["refresh_token"]})).status == 200
