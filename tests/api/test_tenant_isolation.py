"""No tenant reaches another's data, and a unit-restricted member reaches only their units.

The route walker reads the app's own route table, so a new route with an id in its path is checked
the day it appears, or fails this test until someone tells the walker how to call it.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

from blacksheep import Content

from clinic_api.access import is_public
from tests import attachment_samples as samples
from tests.api.attachments import send_body, upload, verify_email
from tests.api.booking import booking_ids
from tests.api.catalog import catalog_ids
from tests.api.clinical import clinical_ids
from tests.api.conftest import Api, auth_header, body_of
from tests.api.scheduling import DATES, WINDOW, scheduling_ids
from tests.api.webhooks import delivered_webhook
from tests.unit.clinical_world import short_form

_PARAM = re.compile(r"{([^}]+)}")


async def two_tenants(api: Api, tag: str = "") -> dict[str, Any]:
    """Tenant A with one of every resource that has an id route; tenant B's owner token.

    ``tag`` keeps the emails unique where the database outlives the test (PostgreSQL).
    """
    a_owner, a = await api.owner_token(f"ana{tag}@example.com", "Clínica A")
    _, a_member = await api.member_token(a_owner, f"bruno{tag}@example.com", ["manager"])
    b_owner, _ = await api.owner_token(f"bia{tag}@example.com", "Clínica B")
    await verify_email(api, f"bia{tag}@example.com")  # B's owner may read patient data in B
    # A second sign-in of A's owner: a session the walker may end without ending a_owner's own.
    a_device = await api.log_in(f"ana{tag}@example.com")
    a_sessions = await body_of(await api.get("/v1/auth/sessions", a_device["access_token"]))
    other = next(s for s in a_sessions["items"] if not s["current"])
    role = await api.post("/v1/roles", {"name": "Financeiro", "permissions": ["billing:read"]}, a_owner)
    assert role.status == 201, await role.text()
    key = await api.post("/v1/api-keys", {"name": "ERP", "scopes": ["units:read"]}, a_owner)
    assert key.status == 201, await key.text()
    # Patient data is withheld from unverified emails by default: this walk is about tenants.
    opened = await api.put("/v1/tenant/security-policy", {"unverified_email_access": "full"}, a_owner)
    assert opened.status == 200, await opened.text()
    # A's owner as a patient of A (their own record, for the portal routes too).
    me = await body_of(await api.get("/v1/me", a_owner))
    patient = await api.post(
        "/v1/patients", {"kind": "person", "name": "Ana Souza", "user_id": me["user"]["id"]}, a_owner
    )
    assert patient.status == 201, await patient.text()
    patient_id = (await body_of(patient))["id"]
    attachment = await upload(api, patient_id, samples.pdf(), a_owner, "consent_form")
    assert attachment.status == 201, await attachment.text()
    clinical = await clinical_ids(api, a_owner, a["tenant"]["id"], patient_id)
    booking = await booking_ids(api, a_owner, a["unit"]["id"], patient_id)
    catalog = await catalog_ids(api, a_owner, a["unit"]["id"])
    scheduling = await scheduling_ids(api, a_owner, a["unit"]["id"], catalog["professional_id"])
    webhook_id, delivery_id = await delivered_webhook(api, a_owner)
    return {
        "a_owner": a_device["access_token"],
        "b_owner": b_owner,
        "ids": {
            "unit_id": a["unit"]["id"],
            "member_id": a_member["id"],
            "session_id": other["id"],
            "role_id": (await body_of(role))["id"],
            "api_key_id": (await body_of(key))["id"],
            "patient_id": patient_id,
            "attachment_id": (await body_of(attachment))["id"],
            **clinical,
            **booking,
            **catalog,
            **scheduling,
            "webhook_id": webhook_id,
            "delivery_id": delivery_id,
        },
    }


def parametrised_v1_routes(api: Api) -> list[tuple[str, str]]:
    """The guarded ones: a public route (the booking page, by a clinic's slug) answers anyone, and its
    own tests show that it reveals nothing internal."""
    return sorted(
        (method.decode(), route.mustache_pattern)
        for method, routes in api.app.router.routes.items()
        for route in routes
        if route.mustache_pattern.startswith("/v1/")
        and _PARAM.search(route.mustache_pattern)
        and not is_public(route.handler)
    )


UPLOAD = {"category": "consent_form"}
"""The upload route's marker: the walker sends a PDF as the body with these query fields."""
CONSENT = {"kind": "marketing_contact", "decision": "granted", "version": "2026-01"}

# How to call each parametrised route: its method and template, and the body it needs (None for none; a
# function of tenant A's ids when the body names one of them).
# A new route missing here fails test_the_walker_knows_every_parametrised_route.
CALLS: dict[tuple[str, str], dict[str, Any] | Callable[[dict[str, str]], dict[str, Any]] | None] = {
    ("GET", "/v1/units/{unit_id}"): None,
    ("GET", "/v1/members/{member_id}"): None,
    ("DELETE", "/v1/auth/sessions/{session_id}"): None,
    ("GET", "/v1/roles/{role_id}"): None,
    ("PUT", "/v1/roles/{role_id}"): {"name": "Financeiro", "permissions": ["billing:read", "billing:write"]},
    ("DELETE", "/v1/roles/{role_id}"): None,
    ("PUT", "/v1/members/{member_id}/roles"): {"roles": ["manager"], "custom_role_ids": []},
    ("DELETE", "/v1/members/{member_id}"): None,
    ("GET", "/v1/api-keys/{api_key_id}"): None,
    ("DELETE", "/v1/api-keys/{api_key_id}"): None,
    ("GET", "/v1/webhooks/{webhook_id}"): None,
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"description": "ERP (novo)"},
    ("DELETE", "/v1/webhooks/{webhook_id}"): None,
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): None,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): None,
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): None,
    ("GET", "/v1/patients/{patient_id}"): None,
    ("PATCH", "/v1/patients/{patient_id}"): {"version": 1, "notes": "retorno"},
    ("POST", "/v1/patients/{patient_id}/status"): {"status": "active"},
    ("GET", "/v1/patients/{patient_id}/weights"): None,
    ("POST", "/v1/patients/{patient_id}/weights"): {"kg": 61.5},
    ("GET", "/v1/patients/{patient_id}/guardians"): None,
    ("PUT", "/v1/patients/{patient_id}/guardians"): {"guardians": []},
    ("GET", "/v1/patients/{patient_id}/dependants"): None,
    ("GET", "/v1/patients/{patient_id}/access-log"): None,
    ("GET", "/v1/me/patients/{patient_id}"): None,
    ("GET", "/v1/me/patients/{patient_id}/access-log"): None,
    ("GET", "/v1/patients/{patient_id}/consents"): None,
    ("POST", "/v1/patients/{patient_id}/consents"): CONSENT,
    ("GET", "/v1/patients/{patient_id}/export"): None,
    ("POST", "/v1/patients/{patient_id}/anonymise"): lambda ids: {
        "reason": "pedido 17",
        "confirm": ids["patient_id"],
    },
    ("GET", "/v1/me/patients/{patient_id}/consents"): None,
    ("POST", "/v1/me/patients/{patient_id}/consents"): CONSENT,
    ("GET", "/v1/me/patients/{patient_id}/export"): None,
    ("GET", "/v1/patients/{patient_id}/attachments"): None,
    ("POST", "/v1/patients/{patient_id}/attachments"): UPLOAD,
    ("GET", "/v1/attachments/{attachment_id}"): None,
    ("GET", "/v1/attachments/{attachment_id}/content"): None,
    ("DELETE", "/v1/attachments/{attachment_id}"): {"reason": "duplicado"},
    ("GET", "/v1/anamnesis-templates/{template_id}"): None,
    ("PATCH", "/v1/anamnesis-templates/{template_id}"): {"name": "Anamnese renomeada"},
    ("GET", "/v1/anamnesis-templates/{template_id}/versions"): None,
    ("POST", "/v1/anamnesis-templates/{template_id}/versions"): {"sections": short_form("Queixa")},
    ("GET", "/v1/anamnesis-templates/{template_id}/versions/{number}"): None,
    ("GET", "/v1/patients/{patient_id}/anamneses"): None,
    ("POST", "/v1/patients/{patient_id}/anamneses"): lambda ids: {
        "template_id": ids["template_id"],
        "answers": {"complaint": "Dor"},
    },
    ("GET", "/v1/anamneses/{anamnesis_id}"): None,
    ("PUT", "/v1/anamneses/{anamnesis_id}"): {"answers": {"complaint": "Dor de cabeça"}},
    ("POST", "/v1/anamneses/{anamnesis_id}/sign"): None,
    ("GET", "/v1/patients/{patient_id}/notes"): None,
    ("POST", "/v1/patients/{patient_id}/notes"): {"type": "evolution", "body": "Retorno."},
    ("GET", "/v1/notes/{note_id}"): None,
    ("POST", "/v1/notes/{note_id}/sign"): None,
    ("POST", "/v1/notes/{note_id}/amendments"): {"body": "Adendo."},
    ("GET", "/v1/patients/{patient_id}/timeline"): None,
    ("GET", "/v1/appointments/{appointment_id}"): None,
    ("POST", "/v1/appointments/{appointment_id}/confirm"): None,
    ("POST", "/v1/appointments/{appointment_id}/check-in"): None,
    ("POST", "/v1/appointments/{appointment_id}/start"): None,
    ("POST", "/v1/appointments/{appointment_id}/complete"): None,
    ("POST", "/v1/appointments/{appointment_id}/no-show"): None,
    ("POST", "/v1/appointments/{appointment_id}/cancel"): {"reason": "x"},
    ("POST", "/v1/appointments/{appointment_id}/reschedule"): {"start": "2040-01-02T10:00:00+00:00"},
    ("GET", "/v1/professionals/{professional_id}/agenda"): None,
    ("GET", "/v1/units/{unit_id}/calendar"): None,
    ("GET", "/v1/patients/{patient_id}/appointments"): None,
    ("DELETE", "/v1/waitlist/{entry_id}"): None,
    ("POST", "/v1/waitlist/offers/{offer_id}/accept"): None,
    ("POST", "/v1/waitlist/offers/{offer_id}/decline"): None,
    ("GET", "/v1/categories/{category_id}"): None,
    ("PATCH", "/v1/categories/{category_id}"): {"colour": "#00AA88"},
    ("GET", "/v1/procedures/{procedure_id}"): None,
    ("PATCH", "/v1/procedures/{procedure_id}"): {"duration_minutes": 45},
    ("GET", "/v1/professionals/{professional_id}"): None,
    ("PATCH", "/v1/professionals/{professional_id}"): {"specialties": ["Dermatologia"]},
    ("POST", "/v1/professionals/{professional_id}/procedures"): lambda ids: {
        "procedure_ids": [ids["procedure_id"]]
    },
    ("GET", "/v1/units/{unit_id}/rooms"): None,
    ("POST", "/v1/units/{unit_id}/rooms"): {"name": "Sala do Walker", "type": "laser_room"},
    ("GET", "/v1/rooms/{room_id}"): None,
    ("PATCH", "/v1/rooms/{room_id}"): {"active": False},
    ("GET", "/v1/units/{unit_id}/equipment"): None,
    ("POST", "/v1/units/{unit_id}/equipment"): {"name": "Laser do Walker", "type": "laser"},
    ("GET", "/v1/equipment/{equipment_id}"): None,
    ("PATCH", "/v1/equipment/{equipment_id}"): {"active": False},
    ("GET", "/v1/professionals/{professional_id}/working-hours"): None,
    ("PUT", "/v1/professionals/{professional_id}/working-hours"): {
        "days": {"friday": [{"start": "10:00", "end": "14:00"}]}
    },
    ("GET", "/v1/professionals/{professional_id}/overrides"): None,
    ("PUT", "/v1/professionals/{professional_id}/overrides/{day}"): {"kind": "closed"},
    ("DELETE", "/v1/professionals/{professional_id}/overrides/{day}"): None,
    ("GET", "/v1/professionals/{professional_id}/time-off"): None,
    ("POST", "/v1/professionals/{professional_id}/time-off"): {
        "starts_at": "2026-06-10T00:00:00Z",
        "ends_at": "2026-06-11T00:00:00Z",
    },
    ("DELETE", "/v1/time-off/{time_off_id}"): None,
    ("GET", "/v1/units/{unit_id}/closures"): None,
    ("POST", "/v1/units/{unit_id}/closures"): {"first_day": "2026-06-12"},
    ("DELETE", "/v1/units/{unit_id}/closures/{closure_id}"): None,
    ("GET", "/v1/units/{unit_id}/booking-rules"): None,
    ("PUT", "/v1/units/{unit_id}/booking-rules"): {
        "min_notice_minutes": 0,
        "horizon_days": 30,
        "slot_step_minutes": 30,
    },
}


# The query strings some routes need besides their path (formatted with tenant A's ids): the unit a
# professional's hours belong to, and a window of dates or instants.
QUERIES: dict[tuple[str, str], str] = {
    ("GET", "/v1/professionals/{professional_id}/working-hours"): "?unit_id={unit_id}",
    ("PUT", "/v1/professionals/{professional_id}/working-hours"): "?unit_id={unit_id}",
    ("GET", "/v1/professionals/{professional_id}/overrides"): f"?unit_id={{unit_id}}&{DATES}",
    ("PUT", "/v1/professionals/{professional_id}/overrides/{day}"): "?unit_id={unit_id}",
    ("DELETE", "/v1/professionals/{professional_id}/overrides/{day}"): "?unit_id={unit_id}",
    ("GET", "/v1/professionals/{professional_id}/time-off"): f"?{WINDOW}",
    ("GET", "/v1/units/{unit_id}/closures"): f"?{DATES}",
}
# Routes that change their resource's state take one of their own (each lifecycle move needs an
# appointment in the state it leaves): the id in the path comes from this key of tenant A's ids.
OWN_IDS: dict[tuple[str, str], dict[str, str]] = {
    ("POST", "/v1/appointments/{appointment_id}/confirm"): {"appointment_id": "appointment_to_confirm"},
    ("POST", "/v1/appointments/{appointment_id}/check-in"): {"appointment_id": "appointment_to_check_in"},
    ("POST", "/v1/appointments/{appointment_id}/start"): {"appointment_id": "appointment_to_start"},
    ("POST", "/v1/appointments/{appointment_id}/complete"): {"appointment_id": "appointment_to_complete"},
    ("POST", "/v1/appointments/{appointment_id}/no-show"): {"appointment_id": "appointment_to_miss"},
    ("POST", "/v1/appointments/{appointment_id}/cancel"): {"appointment_id": "appointment_to_cancel"},
    ("POST", "/v1/appointments/{appointment_id}/reschedule"): {"appointment_id": "appointment_to_reschedule"},
    ("POST", "/v1/waitlist/offers/{offer_id}/accept"): {"offer_id": "offer_to_accept"},
    ("POST", "/v1/waitlist/offers/{offer_id}/decline"): {"offer_id": "offer_to_decline"},
}


async def call(api: Api, method: str, path: str, body: dict[str, Any] | None, token: str | None) -> Any:
    if body is UPLOAD:
        return await send_body(api, path, samples.pdf(), "application/pdf", token, **UPLOAD)
    if method == "GET":
        return await api.get(path, token)
    if method == "POST":
        return await api.post(path, body or {}, token)
    if method == "PUT":
        return await api.put(path, body or {}, token)
    if method == "DELETE":
        content = Content(b"application/json", json.dumps(body).encode()) if body is not None else None
        return await api.client.delete(path, headers=auth_header(token), content=content)
    if method == "PATCH":
        return await api.patch(path, body or {}, token)
    raise AssertionError(f"teach the walker to send {method}")


async def test_the_walker_knows_every_parametrised_route(api: Api) -> None:
    routes = parametrised_v1_routes(api)
    assert routes, "the walker found no route: did the route table move?"
    assert set(routes) == set(CALLS)


async def test_another_tenants_ids_are_not_found_on_every_parametrised_route(api: Api) -> None:
    await walk_every_parametrised_route(api, await two_tenants(api))


async def test_the_walk_holds_on_postgresql_as_the_app_role(pg_api: Api) -> None:
    """The same walk with the real repositories and row-level security, not the fakes' filtering."""
    await walk_every_parametrised_route(pg_api, await two_tenants(pg_api, tag=uuid.uuid4().hex[:8]))


async def walk_every_parametrised_route(api: Api, world: dict[str, Any]) -> None:
    # Deletions last: a role deleted before its GET would make the owner's GET a 404. Signatures just
    # before them: a signed record takes no more edits. Anonymisation after everything: an anonymised
    # patient takes nothing more.
    routes = parametrised_v1_routes(api)
    anonymise = ("POST", "/v1/patients/{patient_id}/anonymise")
    for method, template in sorted(
        routes, key=lambda r: (r == anonymise, r[0] == "DELETE", r[1].endswith("/sign"), r)
    ):
        names = _PARAM.findall(template)
        unknown = set(names) - world["ids"].keys()
        assert not unknown, f"{method} {template}: the walker has no tenant A id for {unknown}"
        own = {name: world["ids"][key] for name, key in OWN_IDS.get((method, template), {}).items()}
        ids = {**world["ids"], **own}
        path = _PARAM.sub(lambda m, ids=ids: ids[m.group(1)], template)  # type: ignore[misc]
        path += QUERIES.get((method, template), "").format(**ids)
        given = CALLS[(method, template)]
        body = given(world["ids"]) if callable(given) else given

        # The stranger first: a DELETE by the owner would make a later 404 prove nothing.
        as_stranger = await call(api, method, path, body, world["b_owner"])
        assert as_stranger.status == 404, f"{method} {template} leaks across tenants: {as_stranger.status}"
        assert (await body_of(as_stranger))["code"] == "not_found"
        as_owner = await call(api, method, path, body, world["a_owner"])
        assert as_owner.status < 300, (
            f"{method} {path} should work for its own tenant: {await as_owner.text()}"
        )


async def test_ids_that_are_not_uuids_are_simply_not_found(api: Api) -> None:
    token, _ = await api.owner_token("ana@example.com", "Clínica A")
    for path in ("/v1/units/not-a-uuid", "/v1/members/42", "/v1/units/%27%20or%201=1"):
        response = await api.get(path, token)
        assert response.status == 404, path
        assert (await body_of(response))["code"] == "not_found"


async def test_a_unit_restricted_member_sees_only_their_units(api: Api) -> None:
    owner, clinic = await api.owner_token("ana@example.com", "Clínica A")
    created = await api.post("/v1/units", {"name": "Filial Norte", "timezone": "America/Manaus"}, owner)
    assert created.status == 201
    north = await body_of(created)
    assert created.get_first_header(b"Location") == f"/v1/units/{north['id']}".encode()
    centre = clinic["unit"]["id"]

    nurse, member = await api.member_token(owner, "carla@example.com", ["nurse"], [north["id"]])
    assert member["unit_ids"] == [north["id"]]

    assert (await api.get(f"/v1/units/{north['id']}", nurse)).status == 200
    hidden = await api.get(f"/v1/units/{centre}", nurse)
    assert hidden.status == 404
    listed = await body_of(await api.get("/v1/units", nurse))
    assert [unit["id"] for unit in listed["items"]] == [north["id"]]
    owner_view = await body_of(await api.get("/v1/units", owner))
    assert {unit["id"] for unit in owner_view["items"]} == {centre, north["id"]}


async def test_a_unit_restricted_manager_sees_only_the_members_of_their_units(api: Api) -> None:
    owner, clinic = await api.owner_token("ana@example.com", "Clínica A")
    centre = clinic["unit"]["id"]
    north = (
        await body_of(await api.post("/v1/units", {"name": "Norte", "timezone": "America/Manaus"}, owner))
    )["id"]
    manager, _ = await api.member_token(owner, "gil@example.com", ["manager"], [centre])
    await api.member_token(owner, "bia@example.com", ["nurse"], [centre])
    _, in_north = await api.member_token(owner, "duda@example.com", ["nurse"], [north])

    listed = await body_of(await api.get("/v1/members", manager))
    assert sorted(m["user"]["email"] for m in listed["items"]) == [
        "ana@example.com",
        "bia@example.com",
        "gil@example.com",
    ]
    hidden = await api.get(f"/v1/members/{in_north['id']}", manager)
    assert hidden.status == 404
    assert (await api.get(f"/v1/members/{in_north['id']}", owner)).status == 200


async def test_pages_follow_the_cursor(make_api: Callable[..., Any]) -> None:
    api: Api = await make_api()
    owner, _ = await api.owner_token("ana@example.com", "Clínica A")
    for n in range(3):
        assert (await api.post("/v1/units", {"name": f"Filial {n}", "timezone": "UTC"}, owner)).status == 201
    first = await body_of(await api.get("/v1/units", owner, limit="3"))
    assert len(first["items"]) == 3
    second = await body_of(await api.get("/v1/units", owner, limit="3", cursor=first["next_cursor"]))
    assert len(second["items"]) == 1
    assert second["next_cursor"] is None
    members = await body_of(await api.get("/v1/members", owner))
    assert [m["roles"] for m in members["items"]] == [["owner"]]
    assert members["items"][0]["user"]["email"] == "ana@example.com"


# The routes anyone may call. Every other route needs a token: a route added later is closed by default.
PUBLIC = {
    ("POST", "/v1/signup"),
    ("POST", "/v1/auth/login"),
    ("POST", "/v1/auth/refresh"),
    ("POST", "/v1/auth/logout"),
    ("POST", "/v1/invitations/accept"),
    ("POST", "/v1/auth/mfa/verify"),
    ("POST", "/v1/auth/mfa/required-enrolment"),
    ("POST", "/v1/auth/mfa/required-enrolment/confirm"),
    ("POST", "/v1/auth/verify-email"),
    ("POST", "/v1/auth/forgot-password"),
    ("POST", "/v1/auth/reset-password"),
    ("POST", "/v1/auth/confirm-email-change"),
    ("GET", "/health/live"),
    ("GET", "/health/ready"),
    ("GET", "/metrics"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/v1/public/clinics/{slug}"),
    ("GET", "/v1/public/clinics/{slug}/availability"),
}


async def test_every_route_but_the_public_ones_needs_a_token(api: Api) -> None:
    anonymous_ok: set[tuple[str, str]] = set()
    closed: set[tuple[str, str]] = set()
    for method, routes in api.app.router.routes.items():
        for route in routes:
            template = route.mustache_pattern
            if template.startswith(("/docs", "/openapi")):
                continue
            path = _PARAM.sub("01890000-0000-7000-8000-000000000000", template)
            response = await call(api, method.decode(), path, {}, token=None)
            (closed if response.status == 401 else anonymous_ok).add((method.decode(), template))
    assert anonymous_ok == PUBLIC
    assert closed, "no route needs a token: is authorization configured?"
