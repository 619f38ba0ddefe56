"""Sign-up, sign-in and the session lifecycle over HTTP."""

from __future__ import annotations

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


async def test_switch_tenant_moves_the_session_and_the_tenant_comes_from_the_token(api: Api) -> None:
    ana_token, clinic_a = await api.owner_token("ana@example.com", "Clínica A")
    bia_token, clinic_b = await api.owner_token("bia@example.com", "Clínica B")
    # Bia invites Ana into clinic B as a manager; Ana accepts with her existing password.
    invited = await api.post("/v1/invitations", {"email": "ana@example.com", "roles": ["manager"]}, bia_token)
    accepted = await api.post(
        "/v1/invitations/accept", {"token": (await body_of(invited))["token"], "password": PASSWORD}
    )
    assert accepted.status == 201

    switched = await api.post(
        "/v1/auth/switch-tenant", {"tenant_slug": clinic_b["tenant"]["slug"]}, ana_token
    )
    assert switched.status == 200, await switched.text()
    pair = await body_of(switched)
    me = await body_of(await api.get("/v1/me", pair["access_token"]))
    assert me["tenant"]["id"] == clinic_b["tenant"]["id"]
    assert me["roles"] == ["manager"]
    assert {t["id"] for t in me["tenants"]} == {clinic_a["tenant"]["id"], clinic_b["tenant"]["id"]}

    by_id = await api.post(
        "/v1/auth/switch-tenant", {"tenant_id": clinic_a["tenant"]["id"]}, pair["access_token"]
    )
    assert by_id.status == 200
    units = await body_of(await api.get("/v1/units", (await body_of(by_id))["access_token"]))
    assert [u["id"] for u in units["items"]] == [clinic_a["unit"]["id"]]


async def test_switch_tenant_refuses_clinics_the_user_is_not_in(api: Api) -> None:
    ana_token, _ = await api.owner_token("ana@example.com", "Clínica A")
    _, clinic_b = await api.owner_token("bia@example.com", "Clínica B")
    refused = await api.post("/v1/auth/switch-tenant", {"tenant_id": clinic_b["tenant"]["id"]}, ana_token)
    assert refused.status == 403
    assert (await body_of(refused))["code"] == "no_access_to_tenant"
    neither = await api.post("/v1/auth/switch-tenant", {}, ana_token)
    assert neither.status == 422


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
