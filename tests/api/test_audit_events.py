"""The audit trail over HTTP: who may read it, what it records, its filters, and clinic isolation."""

from __future__ import annotations

from urllib.parse import quote

from tests.api.conftest import PASSWORD, Api, auth_header, body_of


async def _actions(api: Api, token: str, **query: str) -> list[str]:
    response = await api.get("/v1/audit-events", token, **query)
    assert response.status == 200, await response.text()
    return [event["action"] for event in (await body_of(response))["items"]]


async def test_the_trail_records_sign_ins_invitations_and_revocations_with_their_origin(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    await api.member_token(owner, "bruno@example.com", ["receptionist"])
    phone = await api.log_in("ana@example.com")
    sessions = await body_of(await api.get("/v1/auth/sessions", owner))
    phone_id = next(s["id"] for s in sessions["items"] if not s["current"] and s["id"])
    ended = await api.client.delete(
        f"/v1/auth/sessions/{phone_id}",
        headers={**(auth_header(owner) or {}), "X-Request-ID": "req-lost-phone-1"},
    )
    assert ended.status == 204
    assert phone["access_token"]

    page = await body_of(await api.get("/v1/audit-events", owner))
    actions = [e["action"] for e in page["items"]]
    # Newest first: the revocation, Ana's second sign-in, Bruno's sign-in and joining, the invitation,
    # Ana's first sign-in.
    assert actions == [
        "auth.session_revoked",
        "auth.sign_in_succeeded",
        "auth.sign_in_succeeded",
        "member.joined",
        "member.invited",
        "auth.sign_in_succeeded",
    ]
    revoked = page["items"][0]
    assert revoked["target"] == {"kind": "session", "id": phone_id}
    assert revoked["request_id"] == "req-lost-phone-1"
    assert revoked["user_agent"]  # the test client's own
    assert revoked["ip"]
    assert revoked["details"] == {"reason": "revoked_by_user", "sessions": 1}
    me = await body_of(await api.get("/v1/me", owner))
    assert revoked["actor_user_id"] == me["user"]["id"]


async def test_filters_and_pages(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    for _ in range(3):
        await api.log_in("ana@example.com")
    me = await body_of(await api.get("/v1/me", owner))

    first = await body_of(
        await api.get("/v1/audit-events", owner, limit="2", action="auth.sign_in_succeeded")
    )
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    rest = await body_of(
        await api.get("/v1/audit-events", owner, action="auth.sign_in_succeeded", cursor=first["next_cursor"])
    )
    assert len(rest["items"]) == 2
    assert rest["next_cursor"] is None
    ids = [e["id"] for e in first["items"] + rest["items"]]
    assert len(set(ids)) == 4
    assert ids == sorted(ids, reverse=True)

    assert await _actions(api, owner, actor_user_id=me["user"]["id"]) == ["auth.sign_in_succeeded"] * 4
    assert await _actions(api, owner, until="2000-01-01T00:00:00+00:00") == []
    assert len(await _actions(api, owner, since="2000-01-01T00:00:00-03:00")) == 4


async def test_bad_filters_are_field_errors(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    bad = {
        "action": "auth.sign_in_succeeded,auth.nonsense",
        "actor_user_id": "not-a-uuid",
        "since": "yesterday",
    }
    for name, value in bad.items():
        response = await api.client.get(f"/v1/audit-events?{name}={quote(value)}", headers=auth_header(owner))
        assert response.status == 422, (name, await response.text())
        assert response.content_type() == b"application/problem+json"
        assert [e["field"] for e in (await body_of(response))["errors"]] == [name]
    naive = await api.get("/v1/audit-events", owner, since="2026-11-22T10:00:00")
    assert naive.status == 422
    backwards = await api.get(
        "/v1/audit-events", owner, since="2026-11-22T10:00:00Z", until="2026-11-21T10:00:00Z"
    )
    assert backwards.status == 422


async def test_only_audit_readers_see_it_and_only_their_clinics(api: Api) -> None:
    ana, _ = await api.owner_token("ana@example.com", "Clínica A")
    bia, _ = await api.owner_token("bia@example.com", "Clínica B")
    receptionist, _ = await api.member_token(ana, "bruno@example.com", ["receptionist"])
    refused = await api.get("/v1/audit-events", receptionist)
    assert refused.status == 403
    assert (await body_of(refused))["code"] == "forbidden"
    assert (await api.get("/v1/audit-events")).status == 401

    bias_events = await body_of(await api.get("/v1/audit-events", bia))
    assert {e["actor_user_id"] for e in bias_events["items"]} == {
        (await body_of(await api.get("/v1/me", bia)))["user"]["id"]
    }
    assert "member.invited" not in [e["action"] for e in bias_events["items"]]


async def test_a_failed_password_change_leaves_no_event_and_a_good_one_does(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    await api.log_in("ana@example.com")
    wrong = await api.post(
        "/v1/auth/change-password",
        {"current_password": "not it at all", "new_password": "a completely new passphrase"},
        owner,
    )
    assert wrong.status == 422
    assert "auth.password_changed" not in await _actions(api, owner)
    changed = await api.post(
        "/v1/auth/change-password",
        {"current_password": PASSWORD, "new_password": "a completely new passphrase"},
        owner,
    )
    assert changed.status == 200
    page = await body_of(await api.get("/v1/audit-events", owner))
    assert [e["action"] for e in page["items"][:2]] == ["auth.session_revoked", "auth.password_changed"]
    assert page["items"][1]["details"] == {"ended_sessions": 1}
    assert page["items"][0]["details"] == {"reason": "password_changed", "sessions": 1}
