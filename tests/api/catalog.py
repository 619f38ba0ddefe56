"""Catalog fixtures for the API tests: a category, a procedure, a professional (a member with the
professional role) and a room, made through the routes by the clinic's owner."""

from __future__ import annotations

import itertools
from typing import Any

from tests.api.conftest import Api, body_of

_serial = itertools.count()


async def created(api: Api, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    response = await api.post(path, body, token)
    assert response.status == 201, await response.text()
    return await body_of(response)


async def new_category(api: Api, token: str, name: str | None = None) -> dict[str, Any]:
    return await created(api, "/v1/categories", {"name": name or f"Categoria {next(_serial)}"}, token)


async def new_procedure(api: Api, token: str, **fields: Any) -> dict[str, Any]:
    body = {
        "name": f"Procedimento {next(_serial)}",
        "duration_minutes": 30,
        "price": {"amount": "120.00"},
        **fields,
    }
    return await created(api, "/v1/procedures", body, token)


async def professional_member(api: Api, owner_token: str, email: str | None = None) -> str:
    """A new member of the owner's clinic with the professional role: their user id."""
    email = email or f"pro{next(_serial)}@example.com"
    _, accepted = await api.member_token(owner_token, email, ["professional"])
    return str(accepted["user"]["id"])


async def new_professional(api: Api, owner_token: str, **fields: Any) -> dict[str, Any]:
    user_id = await professional_member(api, owner_token)
    return await created(api, "/v1/professionals", {"user_id": user_id, **fields}, owner_token)


async def new_room(api: Api, token: str, unit_id: str, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Sala {next(_serial)}", "type": "consulting_room", **fields}
    return await created(api, f"/v1/units/{unit_id}/rooms", body, token)


async def new_equipment(api: Api, token: str, unit_id: str, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Aparelho {next(_serial)}", "type": "laser", **fields}
    return await created(api, f"/v1/units/{unit_id}/equipment", body, token)


async def catalog_ids(api: Api, owner_token: str, unit_id: str) -> dict[str, str]:
    category = await new_category(api, owner_token)
    procedure = await new_procedure(api, owner_token, category_id=category["id"])
    professional = await new_professional(
        api, owner_token, procedure_ids=[procedure["id"]], unit_ids=[unit_id]
    )
    room = await new_room(api, owner_token, unit_id)
    equipment = await new_equipment(api, owner_token, unit_id)
    return {
        "category_id": category["id"],
        "procedure_id": procedure["id"],
        "professional_id": professional["id"],
        "room_id": room["id"],
        "equipment_id": equipment["id"],
    }
