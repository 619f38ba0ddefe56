"""The patient routes over HTTP: status codes, headers, problem documents, the portal's 404s."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import Api, body_of


async def _clinic(api: Api, tag: str = "") -> str:
    owner, _ = await api.owner_token(f"ana{tag}@example.com", "Clínica A")
    full = await api.put("/v1/tenant/security-policy", {"unverified_email_access": "full"}, owner)
    assert full.status == 200, await full.text()
    return owner


async def _created(api: Api, token: str, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/patients", {"kind": "person", **body}, token)
    assert response.status == 201, await response.text()
    return await body_of(response)


async def test_register_read_and_patch_with_versions(api: Api) -> None:
    owner = await _clinic(api)
    response = await api.post(
        "/v1/patients",
        {"kind": "person", "name": "Maria da Silva", "cpf": "52998224725", "phones": ["11987654321"]},
        owner,
    )
    assert response.status == 201
    maria = await body_of(response)
    assert response.get_first_header(b"Location") == f"/v1/patients/{maria['id']}".encode()
    assert response.get_first_header(b"ETag") == b'"1"'
    assert maria["cpf"] == "529.982.247-25"
    assert maria["phones"] == ["+5511987654321"]
    assert maria["display_name"] == "Maria da Silva"

    got = await api.get(f"/v1/patients/{maria['id']}", owner)
    assert got.status == 200
    assert (await body_of(got))["version"] == 1

    path = f"/v1/patients/{maria['id']}"
    missing = await api.patch(path, {"notes": "x"}, owner)
    assert missing.status == 422
    assert (await body_of(missing))["errors"][0]["field"] == "version"
    patched = await api.patch(
        path, {"social_name": "Mari", "phones": None}, owner, headers={"If-Match": '"1"'}
    )
    assert patched.status == 200, await patched.text()
    changed = await body_of(patched)
    assert changed["display_name"] == "Mari"
    assert changed["phones"] == []
    assert changed["cpf"] == "529.982.247-25"  # not sent: kept
    assert patched.get_first_header(b"ETag") == b'"2"'
    stale = await api.patch(path, {"version": 1, "notes": "late"}, owner)
    assert stale.status == 409
    assert (await body_of(stale))["code"] == "stale_version"
    bad_header = await api.patch(path, {"notes": "x"}, owner, headers={"If-Match": "soon"})
    assert bad_header.status == 422


async def test_invalid_fields_duplicates_and_unknown_fields(api: Api) -> None:
    owner = await _clinic(api)
    invalid = await api.post(
        "/v1/patients",
        {"kind": "animal", "name": "Rex", "species": "dragon", "cpf": "1", "microchip": "12"},
        owner,
    )
    assert invalid.status == 422
    problem = await body_of(invalid)
    assert problem["code"] == "validation_failed"
    assert {e["field"]: e["code"] for e in problem["errors"]} == {
        "cpf": "not_applicable",
        "species": "invalid_choice",
        "microchip": "invalid_microchip",
    }
    smuggled = await api.post("/v1/patients", {"kind": "person", "name": "X", "tenant_id": "x"}, owner)
    assert smuggled.status == 422
    await _created(api, owner, name="Primeira", cpf="529.982.247-25")
    duplicate = await api.post(
        "/v1/patients", {"kind": "person", "name": "Segunda", "cpf": "52998224725"}, owner
    )
    assert duplicate.status == 409
    assert (await body_of(duplicate))["code"] == "duplicate_patient"


async def test_search_weights_status_and_the_access_log(api: Api) -> None:
    owner = await _clinic(api)
    await _created(api, owner, name="José Conceição")
    thor = await _created(api, owner, kind="animal", name="Thor", species="dog", microchip="985112345678901")
    found = await body_of(await api.get("/v1/patients", owner, q="jose"))
    assert [p["name"] for p in found["items"]] == ["José Conceição"]
    assert found["match"] == "partial"  # a short first page widens to partial matching
    by_chip = await body_of(await api.get("/v1/patients", owner, microchip="985112345678901"))
    assert [p["id"] for p in by_chip["items"]] == [thor["id"]]
    bad = await api.get("/v1/patients", owner, kind="robot", limit="0")
    assert bad.status == 422
    assert {e["field"] for e in (await body_of(bad))["errors"]} == {"kind", "limit"}
    not_a_number = await api.get("/v1/patients", owner, limit="many")
    assert not_a_number.status == 422

    weights = f"/v1/patients/{thor['id']}/weights"
    assert (await api.post(weights, {"kg": 30.25}, owner)).status == 201
    assert (await api.post(weights, {"kg": "0"}, owner)).status == 422
    listed = await body_of(await api.get(weights, owner))
    assert [w["kg"] for w in listed["items"]] == ["30.25"]

    status = await api.post(f"/v1/patients/{thor['id']}/status", {"status": "deceased"}, owner)
    assert status.status == 200
    assert (await body_of(status))["deceased_at"] is not None

    log = await body_of(await api.get(f"/v1/patients/{thor['id']}/access-log", owner))
    assert [e["action"] for e in log["items"]] == ["weights", "search"]
    receptionist, _ = await api.member_token(owner, "rita@example.com", ["receptionist"])
    refused = await api.get(f"/v1/patients/{thor['id']}/access-log", receptionist)
    assert refused.status == 403


async def test_guardians_and_a_client_who_sees_only_their_family(api: Api) -> None:
    owner = await _clinic(api)
    ana_token, ana_member = await api.member_token(owner, "tutora@example.com", ["client"])
    bia_token, bia_member = await api.member_token(owner, "outra@example.com", ["client"])
    ana = await _created(api, owner, name="Ana Tutora", user_id=ana_member["user"]["id"])
    bia = await _created(api, owner, name="Bia", user_id=bia_member["user"]["id"])
    thor = await _created(api, owner, kind="animal", name="Thor", species="dog")
    luna = await _created(api, owner, kind="animal", name="Luna", species="cat")
    for pet, guardian in ((thor, ana), (luna, bia)):
        put = await api.put(
            f"/v1/patients/{pet['id']}/guardians",
            {"guardians": [{"guardian_id": guardian["id"], "role": "owner", "is_primary": True}]},
            owner,
        )
        assert put.status == 200, await put.text()
    two = await api.put(
        f"/v1/patients/{thor['id']}/guardians",
        {"guardians": [{"guardian_id": luna["id"], "role": "owner"}]},
        owner,
    )
    assert two.status == 422
    assert (await body_of(two))["errors"][0]["code"] == "not_a_person"
    dependants = await body_of(await api.get(f"/v1/patients/{ana['id']}/dependants", owner))
    assert [d["person"]["name"] for d in dependants["items"]] == ["Thor"]

    mine = await body_of(await api.get("/v1/me/patients", ana_token))
    assert [p["name"] for p in mine["items"]] == ["Ana Tutora", "Thor"]
    assert (await api.get(f"/v1/me/patients/{thor['id']}", ana_token)).status == 200
    for other in (luna["id"], bia["id"], str(uuid.uuid4()), "not-a-uuid"):
        hidden = await api.get(f"/v1/me/patients/{other}", ana_token)
        assert hidden.status == 404, other
        assert (await body_of(hidden))["code"] == "not_found"
    assert (await api.get(f"/v1/me/patients/{luna['id']}/access-log", ana_token)).status == 404
    own_log = await body_of(await api.get(f"/v1/me/patients/{thor['id']}/access-log", ana_token))
    # Newest first: two portal reads (the list, the record), and the staff's list of Ana's dependants.
    assert [e["action"] for e in own_log["items"]] == ["portal_read", "portal_read", "dependants"]
    staff_route = await api.get(f"/v1/patients/{thor['id']}", bia_token)
    assert staff_route.status == 403  # clients have no patients:read


@pytest.mark.parametrize("shared", [True, False])
async def test_patient_settings_decide_what_unit_members_see(api: Api, shared: bool) -> None:
    owner, clinic = await api.owner_token("ana@example.com", "Clínica A")
    await api.put("/v1/tenant/security-policy", {"unverified_email_access": "full"}, owner)
    north = await body_of(await api.post("/v1/units", {"name": "Norte", "timezone": "America/Manaus"}, owner))
    central = await _created(api, owner, name="Central", unit_id=clinic["unit"]["id"])
    nurse, _ = await api.member_token(owner, "carla@example.com", ["nurse"], [north["id"]])
    put = await api.put("/v1/tenant/patient-settings", {"patients_shared_across_units": shared}, owner)
    assert put.status == 200
    assert (await body_of(await api.get("/v1/tenant/patient-settings", owner))) == {
        "patients_shared_across_units": shared,
        "locale": "pt-BR",
        "contact_email": None,
    }
    seen = await api.get(f"/v1/patients/{central['id']}", nurse)
    assert seen.status == (200 if shared else 404)
    assert (
        await api.put("/v1/tenant/patient-settings", {"patients_shared_across_units": True}, nurse)
    ).status == 403


async def test_the_clinic_chooses_the_language_of_its_emails_and_their_reply_address(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    path = "/v1/tenant/patient-settings"

    chosen = await api.put(
        path,
        {"patients_shared_across_units": True, "locale": "en", "contact_email": " Contato@Clinica-A.com.br "},
        owner,
    )
    assert chosen.status == 200
    expected = {
        "patients_shared_across_units": True,
        "locale": "en",
        "contact_email": "contato@clinica-a.com.br",
    }
    assert await body_of(chosen) == expected
    # Absent fields stay as they are; a null address removes it.
    kept = await api.put(path, {"patients_shared_across_units": True}, owner)
    assert await body_of(kept) == expected
    cleared = await api.put(path, {"patients_shared_across_units": True, "contact_email": None}, owner)
    assert await body_of(cleared) == expected | {"contact_email": None}

    bad = await api.put(
        path, {"patients_shared_across_units": True, "locale": "fr", "contact_email": "not-an-address"}, owner
    )
    assert bad.status == 422
    assert bad.content_type() == b"application/problem+json"
    assert {e["field"]: e["code"] for e in (await body_of(bad))["errors"]} == {
        "locale": "unknown_locale",
        "contact_email": "invalid_email",
    }
    assert (await body_of(await api.get(path, owner)))["locale"] == "en", "a refused change changes nothing"


async def test_the_routes_hold_on_postgresql(pg_api: Api) -> None:
    tag = uuid.uuid4().hex[:8]
    owner = await _clinic(pg_api, tag)
    maria = await _created(pg_api, owner, name="Maria da Silva", tags=["VIP"])
    found = await body_of(await pg_api.get("/v1/patients", owner, q="MARIA sil", tag="vip"))
    assert [p["id"] for p in found["items"]] == [maria["id"]]
    partial = await body_of(await pg_api.get("/v1/patients", owner, q="ria da"))
    assert partial["match"] == "partial"
    assert [p["id"] for p in partial["items"]] == [maria["id"]]
    patched = await pg_api.patch(f"/v1/patients/{maria['id']}", {"version": 1, "tags": []}, owner)
    assert patched.status == 200, await patched.text()
    stale = await pg_api.patch(f"/v1/patients/{maria['id']}", {"version": 1, "tags": ["x"]}, owner)
    assert stale.status == 409
