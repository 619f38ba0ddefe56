"""The privacy routes over the in-memory fakes: the retention setting."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api, body_of


async def test_retention_defaults_and_only_the_owner_changes_it(api: Api) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica Bela")
    admin, _ = await api.member_token(owner, "bia@example.com", ["admin"])
    receptionist, _ = await api.member_token(owner, "caio@example.com", ["receptionist"])

    read = await api.get("/v1/tenant/privacy-settings", receptionist)
    assert read.status == 200
    assert await body_of(read) == {"clinical_record_retention_years": 20, "updated_at": None}
    for refused_token in (admin, receptionist):
        refused = await api.put(
            "/v1/tenant/privacy-settings", {"clinical_record_retention_years": 30}, refused_token
        )
        assert refused.status == 403
        assert (await body_of(refused))["code"] == "forbidden"

    changed = await api.put("/v1/tenant/privacy-settings", {"clinical_record_retention_years": 30}, owner)
    assert changed.status == 200, await changed.text()
    body = await body_of(changed)
    assert body["clinical_record_retention_years"] == 30
    assert body["updated_at"] is not None
    assert await body_of(await api.get("/v1/tenant/privacy-settings", admin)) == body
    # Left out: unchanged.
    same = await api.put("/v1/tenant/privacy-settings", {"clinical_record_retention_years": None}, owner)
    assert await body_of(same) == body

    audit = await body_of(await api.get("/v1/audit-events", owner, action="tenant.privacy_settings_changed"))
    [event] = audit["items"]
    assert event["details"] == {
        "old_clinical_record_retention_years": 20,
        "new_clinical_record_retention_years": 30,
    }


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"clinical_record_retention_years": 4}, "clinical_record_retention_years", "out_of_range"),
        ({"clinical_record_retention_years": 101}, "clinical_record_retention_years", "out_of_range"),
        ({"clinical_record_retention_years": "twenty"}, "clinical_record_retention_years", "int_parsing"),
        ({"clinical_record_retention_years": 20, "tenant_id": "x"}, "tenant_id", "extra_forbidden"),
    ],
)
async def test_bad_retention_is_422_naming_the_field(
    api: Api, body: dict[str, object], field: str, code: str
) -> None:
    owner, _ = await api.owner_token("ana@example.com", "Clínica Bela")
    refused = await api.put("/v1/tenant/privacy-settings", body, owner)
    assert refused.status == 422
    problem = await body_of(refused)
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [(field, code)]
    assert (await body_of(await api.get("/v1/tenant/privacy-settings", owner)))[
        "clinical_record_retention_years"
    ] == 20


async def test_one_clinics_retention_does_not_touch_another(api: Api) -> None:
    owner_a, _ = await api.owner_token("ana@example.com", "Clínica A")
    owner_b, _ = await api.owner_token("bruno@example.com", "Clínica B")
    put = await api.put("/v1/tenant/privacy-settings", {"clinical_record_retention_years": 50}, owner_b)
    assert put.status == 200
    settings_a = await body_of(await api.get("/v1/tenant/privacy-settings", owner_a))
    assert settings_a["clinical_record_retention_years"] == 20
