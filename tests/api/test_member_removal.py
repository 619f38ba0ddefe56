"""DELETE /v1/members/{member_id}: what a clinic's admin screen sees when it removes someone."""

from __future__ import annotations

from blacksheep import Response

from tests.api.conftest import Api, auth_header, body_of

PROBLEM = b"application/problem+json"


async def remove(api: Api, member_id: str, token: str) -> Response:
    return await api.client.delete(f"/v1/members/{member_id}", headers=auth_header(token))


async def test_a_removed_member_is_signed_out_of_this_clinic_only(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    in_b, _ = await api.owner_token("bia@example.com", "Clínica B")
    in_a, member = await api.member_token(owner, "bia@example.com", ["receptionist"], signed_in_as=in_b)
    assert (await api.get("/v1/me", in_a)).status == 200

    removed = await remove(api, member["id"], owner)

    assert removed.status == 204, await removed.text()
    assert await removed.text() == ""
    refused = await api.get("/v1/me", in_a)  # the session cache is off in tests
    assert refused.status == 401
    assert refused.content_type() == PROBLEM
    assert (await api.get("/v1/me", in_b)).status == 200  # her own clinic's session stands
    assert (await api.get(f"/v1/members/{member['id']}", owner)).status == 404
    events = await body_of(await api.get("/v1/audit-events", owner, action="member.removed"))
    (event,) = events["items"]
    assert event["target"] == {"kind": "membership", "id": member["id"]}
    assert event["details"]["roles"] == "receptionist"
    again = await remove(api, member["id"], owner)
    assert (again.status, (await body_of(again))["code"]) == (404, "not_found")


async def test_another_clinics_member_and_malformed_ids_are_not_found(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    theirs, _ = await api.owner_token("bia@example.com", "Clínica B")
    (bia,) = (await body_of(await api.get("/v1/members", theirs)))["items"]
    for member_id in (bia["id"], "42", "not-a-uuid"):
        response = await remove(api, member_id, owner)
        assert response.status == 404, member_id
        assert response.content_type() == PROBLEM
        assert (await body_of(response))["code"] == "not_found"
    assert (await api.get("/v1/me", theirs)).status == 200


async def test_the_last_owner_stays_and_only_an_owner_removes_an_owner(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    admin, _ = await api.member_token(owner, "gil@example.com", ["admin"])
    (ana,) = [
        m for m in (await body_of(await api.get("/v1/members", owner)))["items"] if "owner" in m["roles"]
    ]

    last = await remove(api, ana["id"], owner)
    assert last.status == 409
    assert last.content_type() == PROBLEM
    problem = await body_of(last)
    assert problem["code"] == "last_owner"
    assert problem["status"] == 409
    by_admin = await remove(api, ana["id"], admin)
    assert (by_admin.status, (await body_of(by_admin))["code"]) == (403, "owner_only")
    assert (await api.get("/v1/me", owner)).status == 200
