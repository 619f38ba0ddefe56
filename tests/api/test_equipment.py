"""The equipment routes end to end in-process: created with a Location, listed by name and filtered,
patched, a unit's duplicate name 409 ``duplicate_catalog_entry``, malformed input 422."""

from __future__ import annotations

from tests.api.conftest import Api, body_of


async def test_equipment_is_created_listed_patched_and_unique_in_its_unit(api: Api) -> None:
    owner, clinic = await api.owner_token("eva@example.com", "Clínica Equipada")
    unit = clinic["unit"]["id"]
    made = await api.post(
        f"/v1/units/{unit}/equipment", {"name": "Laser Alexandrita", "type": "Laser"}, owner
    )
    assert made.status == 201, await made.text()
    laser = await body_of(made)
    assert made.headers.get_first(b"Location") == f"/v1/equipment/{laser['id']}".encode()
    assert (laser["unit_id"], laser["type"], laser["active"]) == (unit, "laser", True)
    other = await api.post(f"/v1/units/{unit}/equipment", {"name": "Ultrassom", "type": "ultrasound"}, owner)
    assert other.status == 201, await other.text()

    twice = await api.post(
        f"/v1/units/{unit}/equipment", {"name": "Laser Alexandrita", "type": "laser"}, owner
    )
    assert twice.status == 409
    problem = await body_of(twice)
    assert problem["code"] == "duplicate_catalog_entry"
    missing = await api.post(f"/v1/units/{unit}/equipment", {"name": "Sem tipo"}, owner)
    assert missing.status == 422
    bad_id = await api.get("/v1/equipment/not-a-uuid", owner)
    assert bad_id.status == 404

    off = await api.patch(f"/v1/equipment/{laser['id']}", {"active": False}, owner)
    assert off.status == 200, await off.text()
    assert (await body_of(off))["active"] is False
    fetched = await body_of(await api.get(f"/v1/equipment/{laser['id']}", owner))
    assert fetched["active"] is False
    listed = await body_of(await api.get(f"/v1/units/{unit}/equipment", owner))
    assert [e["name"] for e in listed["items"]] == ["Laser Alexandrita", "Ultrassom"]
    active = await body_of(await api.get(f"/v1/units/{unit}/equipment", owner, active="true"))
    assert [e["name"] for e in active["items"]] == ["Ultrassom"]
    lasers = await body_of(await api.get(f"/v1/units/{unit}/equipment", owner, type="laser"))
    assert [e["id"] for e in lasers["items"]] == [laser["id"]]
