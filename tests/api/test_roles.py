"""Custom roles and member roles over HTTP: the answers a clinic's admin screen has to handle."""

from __future__ import annotations

from tests.api.conftest import Api, auth_header, body_of


async def test_a_custom_role_from_creation_to_deletion(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    _, member = await api.member_token(owner, "bruno@example.com", ["receptionist"])

    created = await api.post(
        "/v1/roles", {"name": "Financeiro", "permissions": ["billing:read", "billing:write"]}, owner
    )
    assert created.status == 201, await created.text()
    role = await body_of(created)
    assert created.get_first_header(b"Location") == f"/v1/roles/{role['id']}".encode()
    assert (role["built_in"], role["permissions"]) == (False, ["billing:read", "billing:write"])

    listed = (await body_of(await api.get("/v1/roles", owner)))["items"]
    assert [r["name"] for r in listed if r["built_in"]][:2] == ["owner", "admin"]
    assert [r["id"] for r in listed if not r["built_in"]] == [role["id"]]
    assert "tenant:write" in next(r for r in listed if r["name"] == "owner")["permissions"]

    same_name = await api.post("/v1/roles", {"name": "FINANCEIRO", "permissions": ["units:read"]}, owner)
    assert (same_name.status, (await body_of(same_name))["code"]) == (409, "role_name_taken")

    assigned = await api.put(
        f"/v1/members/{member['id']}/roles",
        {"roles": ["receptionist"], "custom_role_ids": [role["id"]]},
        owner,
    )
    assert assigned.status == 200, await assigned.text()
    assert (await body_of(assigned))["custom_role_ids"] == [role["id"]]
    shown = await body_of(await api.get(f"/v1/members/{member['id']}", owner))
    assert shown["custom_role_ids"] == [role["id"]]

    in_use = await api.client.delete(f"/v1/roles/{role['id']}", headers=auth_header(owner))
    assert (in_use.status, (await body_of(in_use))["code"]) == (409, "role_in_use")
    await api.put(f"/v1/members/{member['id']}/roles", {"roles": ["receptionist"]}, owner)
    assert (await api.client.delete(f"/v1/roles/{role['id']}", headers=auth_header(owner))).status == 204
    assert (await api.get(f"/v1/roles/{role['id']}", owner)).status == 404


async def test_escalation_owners_and_the_last_owner_over_http(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    admin, _ = await api.member_token(owner, "gil@example.com", ["admin"])
    _, member = await api.member_token(owner, "bruno@example.com", ["receptionist"])
    me = await body_of(await api.get("/v1/members", owner))
    ana = next(m for m in me["items"] if m["user"]["email"] == "ana@example.com")

    escalating = await api.post("/v1/roles", {"name": "Dono", "permissions": ["tenant:write"]}, admin)
    assert (escalating.status, (await body_of(escalating))["code"]) == (403, "permission_escalation")
    assert "tenant:write" in (await body_of(escalating))["detail"]
    crowning = await api.put(f"/v1/members/{member['id']}/roles", {"roles": ["owner"]}, admin)
    assert (crowning.status, (await body_of(crowning))["code"]) == (403, "owner_only")
    last = await api.put(f"/v1/members/{ana['id']}/roles", {"roles": ["admin"]}, owner)
    assert (last.status, (await body_of(last))["code"]) == (409, "last_owner")
    nothing = await api.put(f"/v1/members/{member['id']}/roles", {"roles": [], "custom_role_ids": []}, owner)
    assert nothing.status == 422
    unknown = await api.put(f"/v1/members/{member['id']}/roles", {"roles": ["chief"]}, owner)
    assert (await body_of(unknown))["errors"][0]["code"] == "unknown_role"


async def test_another_clinics_role_cannot_be_given_to_a_member(api: Api) -> None:
    a_owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    b_owner, _ = await api.owner_token("bia@example.com", "Clínica B")
    _, member = await api.member_token(a_owner, "bruno@example.com", ["receptionist"])
    theirs = await body_of(
        await api.post("/v1/roles", {"name": "Deles", "permissions": ["units:read"]}, b_owner)
    )
    borrowed = await api.put(
        f"/v1/members/{member['id']}/roles",
        {"roles": ["receptionist"], "custom_role_ids": [theirs["id"]]},
        a_owner,
    )
    assert borrowed.status == 422
    assert (await body_of(borrowed))["errors"][0] == {
        "field": "custom_role_ids",
        "code": "unknown_role",
        "message": f"no such roles: {theirs['id']}",
    }
    for path in (f"/v1/roles/{theirs['id']}", "/v1/roles/not-a-uuid"):
        response = await api.get(path, a_owner)
        assert (response.status, (await body_of(response))["code"]) == (404, "not_found")


async def test_the_permission_catalogue_is_open_to_every_member(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    client, _ = await api.member_token(owner, "cli@example.com", ["client"])
    names = [p["name"] for p in (await body_of(await api.get("/v1/permissions", client)))["items"]]
    assert {"units:read", "api_keys:write", "members:write"} <= set(names)
    assert (await api.get("/v1/roles", client)).status == 403
