"""Sign-up, sign-in and the session lifecycle over HTTP."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from clinic_core.tenancy.permissions import Role
from tests.api.conftest import PASSWORD, Api, body_of


async def test_signup_login_me_refresh_and_reuse_detection(api: Api) -> None:
    signed_up = await api.sign_up("ana@example.com", "Clínica Bela")
    assert signed_up["tenant"]["slug"] == "clinica-bela"
    assert signed_up["tenant"] | {"id": None} == {
        "id": None,
        "slug": "clinica-bela",
        "name": "Clínica Bela",
        "plan": "trial",
        "status": "active",
    }
    assert signed_up["unit"]["name"] == "Centro"
    assert signed_up["user"]["email"] == "ana@example.com"
    assert "password" not in str(signed_up)

    pair = await api.log_in("ANA@example.com")
    assert pair["token_type"] == "Bearer"
    assert pair["expires_in"] == 900

    me = await api.get("/v1/me", pair["access_token"])
    assert me.status == 200
    me_body = await body_of(me)
    assert me_body["user"]["email"] == "ana@example.com"
    assert me_body["tenant"]["id"] == signed_up["tenant"]["id"]
    assert me_body["roles"] == ["owner"]
    assert me_body["unit_ids"] == []
    assert [t["slug"] for t in me_body["tenants"]] == ["clinica-bela"]

    refreshed = await api.post("/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert refreshed.status == 200
    rotated = await body_of(refreshed)
    assert rotated["refresh_token"] != pair["refresh_token"]

    # The first refresh token again: it was copied. The whole session dies, the rotated token included.
    reused = await api.post("/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert reused.status == 401
    assert (await body_of(reused))["code"] == "refresh_token_reused"
    after_reuse = await api.post("/v1/auth/refresh", {"refresh_token": rotated["refresh_token"]})
    assert after_reuse.status == 401
    assert (await body_of(after_reuse))["code"] == "invalid_refresh_token"


async def test_login_failures_do_not_say_which_part_was_wrong(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica Bela")
    wrong_password = await api.post("/v1/auth/login", {"email": "ana@example.com", "password": "x" * 20})
    unknown_email = await api.post("/v1/auth/login", {"email": "who@example.com", "password": PASSWORD})
    assert wrong_password.status == unknown_email.status == 401
    first, second = await body_of(wrong_password), await body_of(unknown_email)
    assert first["code"] == second["code"] == "invalid_credentials"
    assert first["detail"] == second["detail"]


async def test_logout_ends_the_session(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica Bela")
    pair = await api.log_in("ana@example.com")
    logged_out = await api.post("/v1/auth/logout", {"refresh_token": pair["refresh_token"]})
    assert logged_out.status == 204
    refreshed = await api.post("/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert refreshed.status == 401
    # Logging out twice, or with a token nobody issued, succeeds: logout is idempotent.
    assert (await api.post("/v1/auth/logout", {"refresh_token": pair["refresh_token"]})).status == 204
    assert (await api.post("/v1/auth/logout", {"refresh_token": "nonsense"})).status == 204


async def _ana_in_two_clinics(api: Api) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Ana owns clinic A and is a manager in Bia's clinic B; her token pair, signed in to A."""
    ana_token, clinic_a = await api.owner_token("ana@example.com", "Clínica A")
    bia_token, clinic_b = await api.owner_token("bia@example.com", "Clínica B")
    await api.member_token(bia_token, "ana@example.com", ["manager"], signed_in_as=ana_token)
    return await api.log_in("ana@example.com"), clinic_a, clinic_b


async def test_switch_tenant_moves_the_session_and_the_tenant_comes_from_the_token(api: Api) -> None:
    pair, clinic_a, clinic_b = await _ana_in_two_clinics(api)

    switched = await api.post(
        "/v1/auth/switch-tenant",
        {"refresh_token": pair["refresh_token"], "tenant_slug": clinic_b["tenant"]["slug"]},
        pair["access_token"],
    )
    assert switched.status == 200, await switched.text()
    in_b = await body_of(switched)
    me = await body_of(await api.get("/v1/me", in_b["access_token"]))
    assert me["tenant"]["id"] == clinic_b["tenant"]["id"]
    assert me["roles"] == ["manager"]
    assert {t["id"] for t in me["tenants"]} == {clinic_a["tenant"]["id"], clinic_b["tenant"]["id"]}

    by_id = await api.post(
        "/v1/auth/switch-tenant",
        {"refresh_token": in_b["refresh_token"], "tenant_id": clinic_a["tenant"]["id"]},
        in_b["access_token"],
    )
    assert by_id.status == 200
    units = await body_of(await api.get("/v1/units", (await body_of(by_id))["access_token"]))
    assert [u["id"] for u in units["items"]] == [clinic_a["unit"]["id"]]


async def test_after_a_switch_only_the_new_tenants_access_token_is_accepted(api: Api) -> None:
    in_a, _, clinic_b = await _ana_in_two_clinics(api)
    switched = await api.post(
        "/v1/auth/switch-tenant",
        {"refresh_token": in_a["refresh_token"], "tenant_id": clinic_b["tenant"]["id"]},
        in_a["access_token"],
    )
    assert switched.status == 200, await switched.text()
    in_b = await body_of(switched)

    assert (await api.get("/v1/me", in_a["access_token"])).status == 401
    me = await api.get("/v1/me", in_b["access_token"])
    assert me.status == 200
    assert (await body_of(me))["tenant"]["id"] == clinic_b["tenant"]["id"]
    # The refresh token the switch spent is a replay now.
    replayed = await api.post("/v1/auth/refresh", {"refresh_token": in_a["refresh_token"]})
    assert (await body_of(replayed))["code"] == "refresh_token_reused"


async def test_switch_tenant_needs_the_refresh_token(api: Api) -> None:
    pair, _, clinic_b = await _ana_in_two_clinics(api)
    response = await api.post(
        "/v1/auth/switch-tenant", {"tenant_id": clinic_b["tenant"]["id"]}, pair["access_token"]
    )
    assert response.status == 422
    assert [e["field"] for e in (await body_of(response))["errors"]] == ["refresh_token"]
    # An access token alone moved nothing.
    assert (await body_of(await api.get("/v1/me", pair["access_token"])))["roles"] == ["owner"]


async def test_switch_to_the_current_tenant_is_409_and_spends_nothing(api: Api) -> None:
    pair, clinic_a, _ = await _ana_in_two_clinics(api)
    response = await api.post(
        "/v1/auth/switch-tenant",
        {"refresh_token": pair["refresh_token"], "tenant_id": clinic_a["tenant"]["id"]},
        pair["access_token"],
    )
    assert response.status == 409
    assert (await body_of(response))["code"] == "already_in_tenant"
    assert (await api.get("/v1/me", pair["access_token"])).status == 200
    assert (await api.post("/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})).status == 200


async def test_switch_tenant_refuses_clinics_the_user_is_not_in(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica A")
    pair = await api.log_in("ana@example.com")
    _, clinic_b = await api.owner_token("bia@example.com", "Clínica B")
    refused = await api.post(
        "/v1/auth/switch-tenant",
        {"refresh_token": pair["refresh_token"], "tenant_id": clinic_b["tenant"]["id"]},
        pair["access_token"],
    )
    assert refused.status == 403
    assert (await body_of(refused))["code"] == "no_access_to_tenant"
    neither = await api.post(
        "/v1/auth/switch-tenant", {"refresh_token": pair["refresh_token"]}, pair["access_token"]
    )
    assert neither.status == 422


async def test_an_access_token_stops_working_at_logout(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica Bela")
    pair, other_device = await api.log_in("ana@example.com"), await api.log_in("ana@example.com")
    assert (await api.get("/v1/me", pair["access_token"])).status == 200

    assert (await api.post("/v1/auth/logout", {"refresh_token": pair["refresh_token"]})).status == 204

    refused = await api.get("/v1/me", pair["access_token"])
    assert refused.status == 401
    assert (await body_of(refused))["code"] == "unauthenticated"
    assert (await api.get("/v1/me", other_device["access_token"])).status == 200


async def test_an_access_token_stops_working_when_its_refresh_token_is_replayed(api: Api) -> None:
    await api.sign_up("ana@example.com", "Clínica Bela")
    pair = await api.log_in("ana@example.com")
    rotated = await body_of(await api.post("/v1/auth/refresh", {"refresh_token": pair["refresh_token"]}))
    assert (await api.get("/v1/me", rotated["access_token"])).status == 200

    replayed = await api.post("/v1/auth/refresh", {"refresh_token": pair["refresh_token"]})
    assert (await body_of(replayed))["code"] == "refresh_token_reused"

    assert (await api.get("/v1/me", pair["access_token"])).status == 401
    assert (await api.get("/v1/me", rotated["access_token"])).status == 401


async def test_a_role_change_applies_to_the_access_token_already_issued(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    receptionist, member = await api.member_token(owner, "bruno@example.com", ["receptionist"])
    new_unit = {"name": "Filial", "timezone": "America/Sao_Paulo"}
    assert (await api.post("/v1/units", new_unit, receptionist)).status == 403

    # No endpoint changes roles yet: change the stored membership, as an admin tool would.
    api.memory.store.tables.memberships[UUID(member["id"])].roles = frozenset({Role.ADMIN})

    assert (await body_of(await api.get("/v1/me", receptionist)))["roles"] == ["admin"]
    assert (await api.post("/v1/units", new_unit, receptionist)).status == 201


# --- accepting an invitation for an account that already exists -----------------------------------------


async def _invite_bia_into_a(api: Api) -> tuple[str, str]:
    """Bia owns clinic B; Ana invites her into clinic A. Bia's access token, and the invitation token."""
    ana, _ = await api.owner_token("ana@example.com", "Clínica A")
    bia, _ = await api.owner_token("bia@example.com", "Clínica B")
    invited = await api.post("/v1/invitations", {"email": "bia@example.com", "roles": ["nurse"]}, ana)
    return bia, (await body_of(invited))["token"]


@pytest.mark.parametrize(
    "password",
    [None, PASSWORD, "not bia's password at all"],
    ids=["no-password", "right-password", "wrong-password"],
)
async def test_an_existing_account_cannot_accept_unsigned_whatever_the_password(
    api: Api, password: str | None
) -> None:
    _, token = await _invite_bia_into_a(api)
    body = {"token": token} if password is None else {"token": token, "password": password}

    response = await api.post("/v1/invitations/accept", body)

    # One answer whatever the password: the endpoint is no way to test one.
    assert response.status == 401
    assert (await body_of(response))["code"] == "sign_in_required"
    in_b_only = await body_of(await api.get("/v1/me", (await api.log_in("bia@example.com"))["access_token"]))
    assert [t["name"] for t in in_b_only["tenants"]] == ["Clínica B"]


async def test_an_existing_account_accepts_signed_in_without_a_password(api: Api) -> None:
    bia, token = await _invite_bia_into_a(api)

    accepted = await api.post("/v1/invitations/accept", {"token": token}, bia)

    assert accepted.status == 201, await accepted.text()
    assert (await body_of(accepted))["roles"] == ["nurse"]
    me = await body_of(await api.get("/v1/me", bia))
    assert {t["name"] for t in me["tenants"]} == {"Clínica A", "Clínica B"}


async def test_an_invitation_is_refused_to_another_signed_in_account(api: Api) -> None:
    _, token = await _invite_bia_into_a(api)
    caio, _ = await api.owner_token("caio@example.com", "Clínica C")
    response = await api.post("/v1/invitations/accept", {"token": token}, caio)
    assert response.status == 403
    assert (await body_of(response))["code"] == "invitation_for_another_account"


async def test_a_logged_out_access_token_cannot_accept_an_invitation(api: Api) -> None:
    _, token = await _invite_bia_into_a(api)
    pair = await api.log_in("bia@example.com")
    await api.post("/v1/auth/logout", {"refresh_token": pair["refresh_token"]})
    response = await api.post("/v1/invitations/accept", {"token": token}, pair["access_token"])
    assert response.status == 401
    assert (await body_of(response))["code"] == "sign_in_required"


async def test_a_token_in_the_body_cannot_choose_the_tenant(api: Api) -> None:
    ana_token, _ = await api.owner_token("ana@example.com", "Clínica A")
    _, clinic_b = await api.owner_token("bia@example.com", "Clínica B")
    smuggled = await api.post(
        "/v1/units",
        {"name": "Filial", "timezone": "America/Sao_Paulo", "tenant_id": clinic_b["tenant"]["id"]},
        ana_token,
    )
    assert smuggled.status == 422
    assert [e["field"] for e in (await body_of(smuggled))["errors"]] == ["tenant_id"]
