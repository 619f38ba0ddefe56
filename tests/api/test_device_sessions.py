"""My sessions: one per sign-in; I see them, end one, or end all but this one."""

from __future__ import annotations

from tests.api.conftest import Api, auth_header, body_of


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
