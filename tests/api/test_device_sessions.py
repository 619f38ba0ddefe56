"""My sessions: one per sign-in; I see them, end one, or end all but this one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from clinic_api.services import RateLimit, RateLimits
from tests.api.conftest import PASSWORD, Api, auth_header, body_of


async def test_each_sign_in_is_a_session_and_the_current_one_is_marked(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")
    laptop = await api.log_in("ana@example.com")
    phone = await api.log_in("ana@example.com")
    listed = await body_of(await api.get("/v1/auth/sessions", phone["access_token"]))
    assert len(listed["items"]) == 2
    assert [s["current"] for s in listed["items"]].count(True) == 1
    assert listed["items"][0]["current"]  # the most recently used comes first
    assert laptop["access_token"] != phone["access_token"]


async def test_ending_one_session_stops_its_tokens_but_not_mine(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")
    lost_phone = await api.log_in("ana@example.com")
    laptop = await api.log_in("ana@example.com")
    sessions = await body_of(await api.get("/v1/auth/sessions", laptop["access_token"]))
    phone_id = next(s["id"] for s in sessions["items"] if not s["current"])

    ended = await api.client.delete(
        f"/v1/auth/sessions/{phone_id}", headers=auth_header(laptop["access_token"])
    )
    assert ended.status == 204
    assert (await api.get("/v1/me", lost_phone["access_token"])).status == 401
    refreshed = await api.post("/v1/auth/refresh", {"refresh_token": lost_phone["refresh_token"]})
    assert refreshed.status == 401
    assert (await api.get("/v1/me", laptop["access_token"])).status == 200
    again = await api.client.delete(
        f"/v1/auth/sessions/{phone_id}", headers=auth_header(laptop["access_token"])
    )
    assert again.status == 404


async def test_someone_elses_session_is_not_found_and_stays_open(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")
    await api.sign_up("bia@example.com", "Clínica B")
    ana = await api.log_in("ana@example.com")
    bia = await api.log_in("bia@example.com")
    bias = await body_of(await api.get("/v1/auth/sessions", bia["access_token"]))
    attempt = await api.client.delete(
        f"/v1/auth/sessions/{bias['items'][0]['id']}", headers=auth_header(ana["access_token"])
    )
    assert attempt.status == 404
    assert (await api.get("/v1/me", bia["access_token"])).status == 200


async def test_revoke_others_keeps_only_this_session(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")
    others = [await api.log_in("ana@example.com") for _ in range(3)]
    here = await api.log_in("ana@example.com")
    answer = await api.post("/v1/auth/sessions/revoke-others", {}, here["access_token"])
    assert answer.status == 200
    assert (await body_of(answer))["revoked"] == 3
    for other in others:
        assert (await api.get("/v1/me", other["access_token"])).status == 401
    listed = await body_of(await api.get("/v1/auth/sessions", here["access_token"]))
    assert [s["current"] for s in listed["items"]] == [True]


async def test_sessions_need_a_signed_in_caller(api: Api) -> None:
    assert (await api.get("/v1/auth/sessions")).status == 401


async def test_changing_my_password_ends_my_other_sessions(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")
    elsewhere = await api.log_in("ana@example.com")
    here = await api.log_in("ana@example.com")
    wrong = await api.post(
        "/v1/auth/change-password",
        {"current_password": "not the password!", "new_password": "tres pratos de trigo para tres tigres"},
        here["access_token"],
    )
    assert wrong.status == 422
    assert (await body_of(wrong))["errors"][0]["field"] == "current_password"
    changed = await api.post(
        "/v1/auth/change-password",
        {"current_password": PASSWORD, "new_password": "tres pratos de trigo para tres tigres"},
        here["access_token"],
    )
    assert changed.status == 200
    assert (await body_of(changed))["ended_sessions"] == 1
    assert (await api.get("/v1/me", elsewhere["access_token"])).status == 401
    assert (await api.get("/v1/me", here["access_token"])).status == 200
    assert (await api.log_in("ana@example.com", "tres pratos de trigo para tres tigres"))["access_token"]


async def test_guessing_my_current_password_is_throttled(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api(limits=RateLimits(login_per_email=RateLimit(3)))
    await api.sign_up("ana@example.com", "Clínica A")
    token = (await api.log_in("ana@example.com"))["access_token"]
    statuses = []
    for n in range(4):
        answer = await api.post(
            "/v1/auth/change-password",
            {
                "current_password": f"guess number {n:04d}",
                "new_password": "tres pratos de trigo para tres tigres",
            },
            token,
        )
        statuses.append(answer.status)
    assert statuses == [422, 422, 422, 429]
