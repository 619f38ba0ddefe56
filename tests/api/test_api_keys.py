"""API keys over HTTP: either header, their scopes and tenant only, and one 401 for every bad key."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from blacksheep import Content, Response

from clinic_core.audit.model import AuditAction
from tests.api.conftest import Api, body_of


async def create_key(api: Api, token: str, scopes: list[str], **extra: Any) -> dict[str, Any]:
    response = await api.post("/v1/api-keys", {"name": "ERP", "scopes": scopes, **extra}, token)
    assert response.status == 201, await response.text()
    return await body_of(response)


async def with_key(
    api: Api, method: str, path: str, key: str, body: object = None, *, header: str = "authorization"
) -> Response:
    headers = {"Authorization": f"ApiKey {key}"} if header == "authorization" else {"X-API-Key": key}
    content = Content(b"application/json", json.dumps(body or {}).encode())
    if method == "GET":
        return await api.client.get(path, headers=headers)
    if method == "POST":
        return await api.client.post(path, headers=headers, content=content)
    if method == "PUT":
        return await api.client.put(path, headers=headers, content=content)
    return await api.client.delete(path, headers=headers)


async def test_a_key_is_accepted_in_either_header_and_shown_only_once(api: Api) -> None:
    owner, clinic = await api.owner_token("ana@example.com", "Clínica A")
    created = await create_key(api, owner, ["units:read"])
    key = created["key"]
    assert key.startswith(f"clinic_{created['prefix']}_")
    assert len(key.split("_", 2)[2]) >= 43  # 32 random bytes, base64url

    for header in ("authorization", "x-api-key"):
        response = await with_key(api, "GET", "/v1/units", key, header=header)
        assert response.status == 200, header
        assert [u["id"] for u in (await body_of(response))["items"]] == [clinic["unit"]["id"]]

    listed = await body_of(await api.get("/v1/api-keys", owner))
    assert [k["prefix"] for k in listed["items"]] == [created["prefix"]]
    assert "key" not in listed["items"][0]
    assert "key" not in await body_of(await api.get(f"/v1/api-keys/{created['id']}", owner))


async def test_only_the_digest_of_a_key_is_stored(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    key = (await create_key(api, owner, ["units:read"]))["key"]
    tables = api.memory.store.tables
    (stored,) = tables.api_keys.values()
    assert stored.secret_hash == hashlib.sha256(key.encode()).hexdigest()
    secret = key.split("_", 2)[2]
    assert secret not in repr(tables)
    assert all(secret not in repr(event.details) for event in tables.audit_events.values())


async def test_last_use_is_recorded(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    created = await create_key(api, owner, ["units:read"])
    assert created["last_used_at"] is None
    assert (await with_key(api, "GET", "/v1/units", created["key"])).status == 200
    seen = await body_of(await api.get(f"/v1/api-keys/{created['id']}", owner))
    assert seen["last_used_at"] is not None


async def assert_refused(response: Response) -> None:
    assert response.status == 401
    assert response.content_type() == b"application/problem+json"
    assert (await body_of(response))["code"] == "invalid_api_key"
    assert response.get_first_header(b"WWW-Authenticate") == b'ApiKey realm="clinic"'


async def test_wrong_malformed_revoked_and_expired_keys_are_one_401(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    revoked, expired = (
        await create_key(api, owner, ["units:read"]),
        await create_key(api, owner, ["units:read"]),
    )
    prefix = revoked["key"].split("_")[1]

    assert (await api.client.delete(f"/v1/api-keys/{revoked['id']}", headers=_bearer(owner))).status == 204
    assert (await api.client.delete(f"/v1/api-keys/{revoked['id']}", headers=_bearer(owner))).status == 204
    api.memory.store.tables.api_keys[UUID(expired["id"])].expires_at = datetime.now(UTC) - timedelta(
        seconds=1
    )

    for key in (
        revoked["key"],
        expired["key"],
        f"clinic_{prefix}_{'x' * 43}",  # the right prefix, a wrong secret
        f"clinic_zzzzzzzz_{'x' * 43}",  # no such prefix
        "clinic_short",
        "",
    ):
        for header in ("authorization", "x-api-key"):
            response = await with_key(api, "GET", "/v1/units", key, header=header)
            if key:
                await assert_refused(response)
            else:
                assert response.status == 401


async def test_a_key_outside_its_allowed_networks_is_refused(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    elsewhere = await create_key(api, owner, ["units:read"], allowed_cidrs=["10.0.0.0/8", "2001:db8::/32"])
    here = await create_key(api, owner, ["units:read"], allowed_cidrs=["127.0.0.0/8"])  # the test client
    await assert_refused(await with_key(api, "GET", "/v1/units", elsewhere["key"]))
    assert (await with_key(api, "GET", "/v1/units", here["key"])).status == 200
    assert here["allowed_cidrs"] == ["127.0.0.0/8"]


async def test_a_key_cannot_act_outside_its_scopes(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    key = (await create_key(api, owner, ["units:read"]))["key"]
    for method, path, body in (
        ("POST", "/v1/units", {"name": "Norte", "timezone": "UTC"}),
        ("GET", "/v1/members", None),
        ("GET", "/v1/roles", None),
        ("GET", "/v1/api-keys", None),
        ("POST", "/v1/invitations", {"email": "x@example.com", "roles": ["client"]}),
    ):
        response = await with_key(api, method, path, key, body)
        assert response.status == 403, path
        assert (await body_of(response))["code"] == "forbidden"


async def test_a_key_cannot_reach_another_tenants_ids(api: Api) -> None:
    a_owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    b_owner, b = await api.owner_token("bia@example.com", "Clínica B")
    _, b_member = await api.member_token(b_owner, "bruno@example.com", ["client"])
    b_key = await create_key(api, b_owner, ["units:read"])
    b_role = await body_of(
        await api.post("/v1/roles", {"name": "Caixa", "permissions": ["units:read"]}, b_owner)
    )
    key = (
        await create_key(
            api, a_owner, ["units:read", "members:read", "members:write", "api_keys:read", "api_keys:write"]
        )
    )["key"]

    for method, path, body in (
        ("GET", f"/v1/units/{b['unit']['id']}", None),
        ("GET", f"/v1/members/{b_member['id']}", None),
        ("PUT", f"/v1/members/{b_member['id']}/roles", {"roles": ["client"]}),
        ("GET", f"/v1/roles/{b_role['id']}", None),
        ("PUT", f"/v1/roles/{b_role['id']}", {"name": "Tomada", "permissions": ["units:read"]}),
        ("DELETE", f"/v1/roles/{b_role['id']}", None),
        ("GET", f"/v1/api-keys/{b_key['id']}", None),
        ("DELETE", f"/v1/api-keys/{b_key['id']}", None),
    ):
        response = await with_key(api, method, path, key, body)
        assert response.status == 404, f"{method} {path}: {response.status}"
    assert (await with_key(api, "GET", "/v1/units", b_key["key"])).status == 200  # B's key still works
    units = await body_of(await with_key(api, "GET", "/v1/units", key))
    assert b["unit"]["id"] not in {u["id"] for u in units["items"]}


def verify_everyone(api: Api) -> None:
    """As if every account had opened its verification link (the worker that mails it is not here)."""
    for user in api.memory.store.tables.users.values():
        user.email_verified_at = user.created_at


async def test_an_unverified_owner_cannot_mint_a_key_to_patient_data(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    refused = await api.post("/v1/api-keys", {"name": "ERP", "scopes": ["patients:read"]}, owner)
    assert refused.status == 403  # the key would read what its creator may not read yet
    assert (await body_of(refused))["code"] == "permission_escalation"
    verify_everyone(api)
    assert (await api.post("/v1/api-keys", {"name": "ERP", "scopes": ["patients:read"]}, owner)).status == 201


async def test_a_key_is_refused_on_the_routes_about_a_person(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    verify_everyone(api)
    every_scope = [p["name"] for p in (await body_of(await api.get("/v1/permissions", owner)))["items"]]
    key = (await create_key(api, owner, every_scope))["key"]
    for method, path, body in (
        ("GET", "/v1/me", None),
        ("GET", "/v1/auth/sessions", None),
        ("DELETE", "/v1/auth/sessions/01890000-0000-7000-8000-000000000000", None),
        ("POST", "/v1/auth/sessions/revoke-others", {}),
        ("POST", "/v1/auth/change-password", {"current_password": "a" * 12, "new_password": "b" * 20}),
        ("POST", "/v1/auth/switch-tenant", {"refresh_token": "x", "tenant_slug": "outra"}),
        ("POST", "/v1/invitations/accept", {"token": "x.y"}),
        ("POST", "/v1/api-keys", {"name": "Outra", "scopes": ["units:read"]}),
    ):
        response = await with_key(api, method, path, key, body)
        assert response.status == 403, f"{method} {path}: {response.status}"
        assert (await body_of(response))["code"] == "api_key_not_allowed", path
    assert (await with_key(api, "GET", "/v1/permissions", key)).status == 200


async def test_scopes_must_be_permissions_the_creator_holds(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    admin, _ = await api.member_token(owner, "gil@example.com", ["admin"])
    escalating = await api.post("/v1/api-keys", {"name": "X", "scopes": ["tenant:write"]}, admin)
    assert escalating.status == 403
    assert (await body_of(escalating))["code"] == "permission_escalation"
    assert (await api.post("/v1/api-keys", {"name": "X", "scopes": ["tenant:write"]}, owner)).status == 201
    unknown = await api.post("/v1/api-keys", {"name": "X", "scopes": ["patients:delete"]}, owner)
    assert unknown.status == 422
    assert (await body_of(unknown))["errors"][0]["code"] == "unknown_permission"
    too_long = await api.post(
        "/v1/api-keys",
        {
            "name": "X",
            "scopes": ["units:read"],
            "expires_at": (datetime.now(UTC) + timedelta(days=400)).isoformat(),
        },
        owner,
    )
    assert too_long.status == 422
    assert (await body_of(too_long))["errors"][0]["code"] == "invalid_expiry"


async def test_a_keys_actions_are_audited_as_the_keys(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    created = await create_key(api, owner, ["members:read", "members:write", "units:read"])
    response = await with_key(
        api, "POST", "/v1/roles", created["key"], {"name": "Via ERP", "permissions": ["units:read"]}
    )
    assert response.status == 201, await response.text()
    events = api.memory.store.tables.audit_events.values()
    (role_created,) = [e for e in events if e.action is AuditAction.ROLE_CREATED]
    assert role_created.actor_api_key_id == UUID(created["id"])
    assert role_created.actor_user_id is None
    (key_created,) = [e for e in events if e.action is AuditAction.API_KEY_CREATED]
    assert key_created.actor_user_id is not None
    assert key_created.details["prefix"] == created["prefix"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
