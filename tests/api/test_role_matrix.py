"""Every /v1 route, called by a member of every built-in role and of one custom role.

The routes come from the app's own route table and the requirement of each from its declaration
(``clinic_api.access``): a member whose permissions include the declared one gets 2xx, anyone else 403;
a self-service route answers 2xx to everybody. A new route fails here until it declares what it needs
and CALLS says how to call it.
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import pytest
from blacksheep import Content, Response

from clinic_api.access import declared_access, is_public
from clinic_api.services import RateLimit
from clinic_core.tenancy.permissions import ROLE_PERMISSIONS, Permission, Role
from tests import attachment_samples as samples
from tests.api.attachments import add_patient, send_body, upload
from tests.api.booking import FIRST_DAY, booked, booking_body, catalog_of
from tests.api.catalog import (
    new_category,
    new_equipment,
    new_procedure,
    new_professional,
    new_room,
    professional_member,
)
from tests.api.clinical import new_anamnesis, new_note, new_template
from tests.api.conftest import GENEROUS_LIMITS, PASSWORD, Api, auth_header, body_of
from tests.api.scheduling import (
    DATES,
    OVERRIDE_DAY,
    WINDOW,
    new_closure,
    new_override,
    new_time_off,
    working_professional,
)
from tests.api.webhooks import WEBHOOK, delivered_webhook, new_webhook
from tests.unit.clinical_world import short_form

_PARAM = re.compile(r"{([^}]+)}")
CUSTOM = "custom"
OWNER_EMAIL = "ana@example.com"
# Managing members and reading keys, without writing units or keys; and the client's permissions, so that
# inviting a client grants nothing this role lacks.
CUSTOM_PERMISSIONS = ROLE_PERMISSIONS[Role.CLIENT] | {
    Permission.MEMBERS_READ,
    Permission.MEMBERS_WRITE,
    Permission.API_KEYS_READ,
}
ROLES = [*(role.value for role in Role), CUSTOM]


def permissions_of(role: str) -> frozenset[Permission]:
    return CUSTOM_PERMISSIONS if role == CUSTOM else ROLE_PERMISSIONS[Role(role)]


@dataclass
class Caller:
    email: str
    access: str
    refresh: str


@dataclass
class World:
    """Clinic A, where the caller is a member of ``role``; clinic B, where the caller is a client too (to
    switch to); a unit, a plain member to act on, and ids the calls need."""

    api: Api
    role: str
    slug_a: str
    slug_b: str
    unit_id: str
    plain_member_id: str
    email: str
    patient_id: str
    attachment_id: str
    passwords: dict[str, str] = field(default_factory=dict)
    serial: itertools.count[int] = field(default_factory=itertools.count)
    recovery_codes: list[str] = field(default_factory=list)
    """The caller's unused recovery codes while their second factor is on."""
    clinical: dict[str, str] = field(default_factory=dict)
    """Clinic A's published template, made on first use."""
    working: dict[str, str] = field(default_factory=dict)
    """A procedure and a professional who performs it at the unit, made on first use (each new professional
    is an invitation accepted, and those have a budget)."""
    booking: dict[str, str] = field(default_factory=dict)
    """Clinic A's procedure and professional for the booking routes, made on first use."""

    async def sign_in(self, email: str | None = None) -> Caller:
        email = email or self.email
        tokens = await self.api.log_in(email, self.passwords[email], tenant_slug=self.slug_a)
        if tokens.get("mfa_required"):  # the MFA routes turned the caller's second factor on
            verified = await self.api.post(
                "/v1/auth/mfa/verify",
                {"challenge_token": tokens["challenge_token"], "recovery_code": self.recovery_codes.pop()},
            )
            assert verified.status == 200, await verified.text()
            tokens = await body_of(verified)
        return Caller(email, tokens["access_token"], tokens["refresh_token"])

    async def start_enrolment(self, caller: Caller) -> str:
        started = await self.api.post(
            "/v1/auth/mfa/enrolment", {"password": self.passwords[caller.email]}, caller.access
        )
        assert started.status == 200, await started.text()
        return str((await body_of(started))["secret"])

    async def enable_mfa(self, caller: Caller) -> None:
        secret = await self.start_enrolment(caller)
        confirmed = await self.api.post(
            "/v1/auth/mfa/enrolment/confirm", {"code": pyotp.TOTP(secret).now()}, caller.access
        )
        assert confirmed.status == 200, await confirmed.text()
        self.recovery_codes = list((await body_of(confirmed))["recovery_codes"])

    async def observe(self, method: str, template: str, caller: Caller, response: Response) -> None:
        """Keep up with what a call changed: the recovery codes it showed, and a second factor left on
        (turned off again, so that the next routes sign in as before)."""
        if not 200 <= response.status < 300 or template not in MFA_CODE_ROUTES:
            return
        self.recovery_codes = list((await body_of(response))["recovery_codes"])
        if template == "/v1/auth/mfa/recovery-codes":
            off = await self.api.post(
                "/v1/auth/mfa/disable",
                {"password": self.passwords[caller.email], "code": self.recovery_codes.pop()},
                caller.access,
            )
            assert off.status == 204, await off.text()

    async def owner(self) -> str:
        """A new session of clinic A's owner: when the caller is the owner, the calls under test end
        the owner's other sessions and change the password."""
        return (await self.sign_in(OWNER_EMAIL)).access

    async def new_role(self) -> str:
        created = await self.api.post(
            "/v1/roles",
            {"name": f"Matrix {next(self.serial)}", "permissions": ["units:read"]},
            await self.owner(),
        )
        assert created.status == 201, await created.text()
        return str((await body_of(created))["id"])

    async def new_member(self) -> str:
        """A new client of clinic A: each removal takes its own."""
        email = f"leaver{next(self.serial)}@example.com"
        _, member = await self.api.member_token(await self.owner(), email, ["client"])
        return str(member["id"])

    async def new_patient(self, **fields: Any) -> dict[str, Any]:
        """A person patient of clinic A, registered by its owner."""
        body = {"kind": "person", "name": f"Paciente {next(self.serial)}", **fields}
        created = await self.api.post("/v1/patients", body, await self.owner())
        assert created.status == 201, await created.text()
        return await body_of(created)

    async def my_patient(self, caller: Caller) -> str:
        """The caller's own patient record (linked to their account), made on first use."""
        mine = await body_of(await self.api.get("/v1/me/patients", caller.access))
        if mine["items"]:
            return str(mine["items"][0]["id"])
        me = await body_of(await self.api.get("/v1/me", caller.access))
        return str((await self.new_patient(user_id=me["user"]["id"]))["id"])

    async def new_attachment(self) -> str:
        """A consent form of the patient, uploaded by the owner: each deletion takes its own."""
        created = await upload(self.api, self.patient_id, samples.pdf(), await self.owner(), "consent_form")
        assert created.status == 201, await created.text()
        return str((await body_of(created))["id"])

    async def patient_and_template(self) -> tuple[str, str]:
        if not self.clinical:
            self.clinical["template_id"] = await new_template(self.api, await self.owner())
        return self.patient_id, self.clinical["template_id"]

    async def new_draft_anamnesis(self) -> str:
        patient_id, template_id = await self.patient_and_template()
        return await new_anamnesis(self.api, await self.owner(), patient_id, template_id)

    async def new_api_key(self) -> str:
        created = await self.api.post(
            "/v1/api-keys", {"name": "ERP", "scopes": ["units:read"]}, await self.owner()
        )
        assert created.status == 201, await created.text()
        return str((await body_of(created))["id"])


async def build_world(api: Api, role: str) -> World:
    owner, a = await api.owner_token(OWNER_EMAIL, "Clínica A")
    b_owner, b = await api.owner_token("bia@example.com", "Clínica B")
    _, plain = await api.member_token(owner, "plain@example.com", ["client"])
    if role == Role.OWNER.value:
        email, own_token = OWNER_EMAIL, owner
    else:
        email = f"{role}@example.com"
        own_token, member = await api.member_token(owner, email, [role if role != CUSTOM else "client"])
        if role == CUSTOM:
            created = await api.post(
                "/v1/roles",
                {"name": "Secretaria", "permissions": sorted(p.value for p in CUSTOM_PERMISSIONS)},
                owner,
            )
            assert created.status == 201, await created.text()
            assigned = await api.put(
                f"/v1/members/{member['id']}/roles",
                {"roles": [], "custom_role_ids": [(await body_of(created))["id"]]},
                owner,
            )
            assert assigned.status == 200, await assigned.text()
    await api.member_token(b_owner, email, ["client"], signed_in_as=own_token)
    # Unverified emails would hide patient data from every role (the default policy): the matrix is
    # about roles, so clinic A lets unverified members work.
    opened = await api.put("/v1/tenant/security-policy", {"unverified_email_access": "full"}, owner)
    assert opened.status == 200, await opened.text()
    patient_id = await add_patient(api, a["tenant"]["id"])
    attachment = await upload(api, patient_id, samples.pdf(), owner, "document")
    assert attachment.status == 201, await attachment.text()
    return World(
        api=api,
        role=role,
        slug_a=a["tenant"]["slug"],
        slug_b=b["tenant"]["slug"],
        unit_id=a["unit"]["id"],
        plain_member_id=plain["id"],
        email=email,
        patient_id=patient_id,
        attachment_id=(await body_of(attachment))["id"],
        passwords={email: PASSWORD, OWNER_EMAIL: PASSWORD},
    )


@dataclass(frozen=True)
class RawUpload:
    """A file sent as the request body (the upload route reads no JSON)."""

    data: bytes
    content_type: str
    query: dict[str, str]


Body = dict[str, Any] | RawUpload | None
Call = Callable[[World, Caller], Awaitable[tuple[str, Body]]]


def fixed(path: str, body: Body = None) -> Call:
    async def call(world: World, caller: Caller) -> tuple[str, Body]:
        return path, body

    return call


async def _unit(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/units/{world.unit_id}", None


async def _new_unit(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return "/v1/units", {"name": f"Filial {next(world.serial)}", "timezone": "UTC"}


async def _member(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/members/{world.plain_member_id}", None


async def _member_roles(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    # The roles the member has already: the change grants and withdraws nothing, so only the permission
    # to manage members decides.
    return f"/v1/members/{world.plain_member_id}/roles", {"roles": ["client"], "custom_role_ids": []}


async def _fresh_member(world: World, caller: Caller) -> tuple[str, None]:
    # A client: removing one withdraws only the client's permissions, which every caller that manages
    # members holds, so only the permission to manage members decides.
    return f"/v1/members/{await world.new_member()}", None


async def _invitation(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return "/v1/invitations", {"email": f"guest{next(world.serial)}@example.com", "roles": ["client"]}


async def _role(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/roles/{await world.new_role()}", None


async def _new_role(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return "/v1/roles", {"name": f"Nova {next(world.serial)}", "permissions": ["units:read"]}


async def _edit_role(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    path = f"/v1/roles/{await world.new_role()}"
    return path, {"name": f"Renomeada {next(world.serial)}", "permissions": ["units:read"]}


async def _patient_attachments(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/patients/{world.patient_id}/attachments", None


async def _new_attachment(world: World, caller: Caller) -> tuple[str, RawUpload]:
    # A document: patients:write alone decides (clinical categories need clinical:write besides).
    path = f"/v1/patients/{world.patient_id}/attachments"
    return path, RawUpload(samples.pdf(), "application/pdf", {"category": "document"})


async def _attachment(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/attachments/{world.attachment_id}", None


async def _attachment_content(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/attachments/{world.attachment_id}/content", None


async def _delete_attachment(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return f"/v1/attachments/{await world.new_attachment()}", {"reason": "enviado em duplicidade"}


async def _api_key(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/api-keys/{await world.new_api_key()}", None


async def _webhook(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/webhooks/{(await new_webhook(world.api, await world.owner()))['id']}", None


async def _patch_webhook(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    path, _ = await _webhook(world, caller)
    return path, {"description": "ERP (novo)"}


async def _rotate_webhook_secret(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    path, _ = await _webhook(world, caller)
    return f"{path}/rotate-secret", {}


async def _webhook_deliveries(world: World, caller: Caller) -> tuple[str, None]:
    path, _ = await _webhook(world, caller)
    return f"{path}/deliveries", None


async def _redeliver(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    webhook_id, delivery_id = await delivered_webhook(world.api, await world.owner())
    return f"/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", {}


async def _other_session(world: World, caller: Caller) -> tuple[str, None]:
    await world.sign_in()
    sessions = await body_of(await world.api.get("/v1/auth/sessions", caller.access))
    other = next(s for s in sessions["items"] if not s["current"])
    return f"/v1/auth/sessions/{other['id']}", None


async def _switch(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return "/v1/auth/switch-tenant", {"refresh_token": caller.refresh, "tenant_slug": world.slug_b}


async def _disable_mfa(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    await world.enable_mfa(caller)
    body = {"password": world.passwords[caller.email], "code": world.recovery_codes.pop()}
    return "/v1/auth/mfa/disable", body


async def _start_enrolment(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return "/v1/auth/mfa/enrolment", {"password": world.passwords[caller.email]}


async def _confirm_enrolment(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    secret = await world.start_enrolment(caller)
    return "/v1/auth/mfa/enrolment/confirm", {"code": pyotp.TOTP(secret).now()}


async def _new_recovery_codes(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    # The enrolment confirmed just before left the second factor on, with its codes remembered.
    body = {"password": world.passwords[caller.email], "code": world.recovery_codes.pop()}
    return "/v1/auth/mfa/recovery-codes", body


async def _change_password(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    new = f"violet harbour lantern {next(world.serial)} quietly"
    current, world.passwords[caller.email] = world.passwords[caller.email], new
    return "/v1/auth/change-password", {"current_password": current, "new_password": new}


async def _change_email(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    # Asking only: the email changes when the mailed link is opened, so the caller signs in as before.
    body = {
        "current_password": world.passwords[caller.email],
        "new_email": f"moved{next(world.serial)}@example.com",
    }
    return "/v1/auth/change-email", body


async def _patient(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/patients/{(await world.new_patient())['id']}", None


def _patient_with(suffix: str, body: dict[str, Any] | None = None) -> Call:
    async def call(world: World, caller: Caller) -> tuple[str, dict[str, Any] | None]:
        return f"/v1/patients/{(await world.new_patient())['id']}{suffix}", body

    return call


async def _patch_patient(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return f"/v1/patients/{(await world.new_patient())['id']}", {"version": 1, "notes": "retorno"}


async def _guardians(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    dog = await world.new_patient(kind="animal", species="dog", name="Rex")
    guardian = await world.new_patient()
    body = {"guardians": [{"guardian_id": guardian["id"], "role": "owner", "is_primary": True}]}
    return f"/v1/patients/{dog['id']}/guardians", body


def _my_patient(suffix: str = "", body: dict[str, Any] | None = None) -> Call:
    async def call(world: World, caller: Caller) -> tuple[str, dict[str, Any] | None]:
        return f"/v1/me/patients/{await world.my_patient(caller)}{suffix}", body

    return call


async def _template(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/anamnesis-templates/{(await world.patient_and_template())[1]}", None


async def _template_edit(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return f"/v1/anamnesis-templates/{(await world.patient_and_template())[1]}", {"active": True}


async def _versions(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    template_id = (await world.patient_and_template())[1]
    return f"/v1/anamnesis-templates/{template_id}/versions", {"sections": short_form()}


async def _version(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/anamnesis-templates/{(await world.patient_and_template())[1]}/versions/1", None


async def _patient_anamneses(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    patient_id, template_id = await world.patient_and_template()
    return f"/v1/patients/{patient_id}/anamneses", {"template_id": template_id, "answers": {}}


async def _anamnesis(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return f"/v1/anamneses/{await world.new_draft_anamnesis()}", {"answers": {"complaint": "Dor"}}


async def _sign_anamnesis(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/anamneses/{await world.new_draft_anamnesis()}/sign", None


async def _patient_notes(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    patient_id, _ = await world.patient_and_template()
    return f"/v1/patients/{patient_id}/notes", {"type": "observation", "body": "Observação."}


async def _patient_timeline(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/patients/{(await world.patient_and_template())[0]}/timeline", None


async def _note(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    patient_id, _ = await world.patient_and_template()
    return f"/v1/notes/{await new_note(world.api, await world.owner(), patient_id)}", {"body": "Adendo."}


async def _sign_note(world: World, caller: Caller) -> tuple[str, None]:
    # Only a note's author signs it: the caller's own note when they may write one, else the owner's
    # (and the caller is refused before that matters).
    patient_id, _ = await world.patient_and_template()
    own = await world.api.post(
        f"/v1/patients/{patient_id}/notes", {"type": "evolution", "body": "x"}, caller.access
    )
    note_id = (
        (await body_of(own))["id"]
        if own.status == 201
        else await new_note(world.api, await world.owner(), patient_id)
    )
    return f"/v1/notes/{note_id}/sign", None


async def _amend_note(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    path, body = await _note(world, caller)
    return f"{path}/amendments", body


# --- booking: a client acts on their own record, the staff on clinic A's patients ---


async def _booking_patient(world: World, caller: Caller) -> str:
    if world.role == Role.CLIENT.value:
        return await world.my_patient(caller)
    return str((await world.new_patient())["id"])


def _slot(world: World) -> datetime:
    return FIRST_DAY + timedelta(hours=next(world.serial))


async def _new_booking(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    catalog = await catalog_of(world.api, await world.owner(), world.unit_id, world.booking)
    patient = await _booking_patient(world, caller)
    return "/v1/appointments", booking_body(catalog, world.unit_id, patient, _slot(world))


def _appointment(
    suffix: str = "", *steps: str, body: dict[str, Any] | None = None, past: bool = False
) -> Call:
    async def call(world: World, caller: Caller) -> tuple[str, Body]:
        start = datetime.now(UTC) - timedelta(minutes=10) if past else _slot(world)
        patient = await _booking_patient(world, caller)
        found = await booked(
            world.api, await world.owner(), world.unit_id, world.booking, patient, start, *steps
        )
        return f"/v1/appointments/{found}{suffix}", body

    return call


async def _agenda(world: World, caller: Caller) -> tuple[str, None]:
    catalog = await catalog_of(world.api, await world.owner(), world.unit_id, world.booking)
    return f"/v1/professionals/{catalog['professional_id']}/agenda?date=2031-01-01&days=7", None


async def _calendar(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/units/{world.unit_id}/calendar?date=2031-01-01", None


async def _dashboard(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/dashboard?unit_id={world.unit_id}", None


async def _patient_appointments(world: World, caller: Caller) -> tuple[str, None]:
    return f"/v1/patients/{await _booking_patient(world, caller)}/appointments", None


async def _waitlist_entry_body(world: World, caller: Caller) -> dict[str, Any]:
    catalog = await catalog_of(world.api, await world.owner(), world.unit_id, world.booking)
    return {
        "patient_id": await _booking_patient(world, caller),
        "procedure_id": catalog["procedure_id"],
        "unit_id": world.unit_id,
        "earliest": FIRST_DAY.isoformat(),
        "latest": (FIRST_DAY + timedelta(days=30)).isoformat(),
    }


async def _join_waitlist(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return "/v1/waitlist", await _waitlist_entry_body(world, caller)


async def _waitlist_entry(world: World, caller: Caller) -> tuple[str, None]:
    created = await world.api.post(
        "/v1/waitlist", await _waitlist_entry_body(world, caller), await world.owner()
    )
    assert created.status == 201, await created.text()
    return f"/v1/waitlist/{(await body_of(created))['id']}", None


def _offer(answer: str) -> Call:
    """An open offer for the caller's patient: an appointment cancelled with them on the waitlist."""

    async def call(world: World, caller: Caller) -> tuple[str, Body]:
        owner = await world.owner()
        body = await _waitlist_entry_body(world, caller)
        start = _slot(world)
        body.update(
            earliest=(start - timedelta(hours=1)).isoformat(), latest=(start + timedelta(hours=1)).isoformat()
        )
        joined = await world.api.post("/v1/waitlist", body, owner)
        assert joined.status == 201, await joined.text()
        other = str((await world.new_patient())["id"])
        await booked(world.api, owner, world.unit_id, world.booking, other, start, "cancel")
        entries = await body_of(await world.api.get(f"/v1/waitlist?patient_id={body['patient_id']}", owner))
        offer = next(o for e in entries["items"] for o in e["offers"] if o["status"] == "open")
        return f"/v1/waitlist/offers/{offer['id']}/{answer}", None

    return call


_CONSENT = {"kind": "marketing_contact", "decision": "granted", "version": "2026-01"}


async def _anonymise(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    patient_id = (await world.new_patient())["id"]
    return f"/v1/patients/{patient_id}/anonymise", {"reason": "pedido 2026-17", "confirm": patient_id}


async def _new_category_body(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return "/v1/categories", {"name": f"Categoria da matriz {next(world.serial)}", "colour": "#336699"}


async def _category(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    category = await new_category(world.api, await world.owner())
    return f"/v1/categories/{category['id']}", {"icon": "spa"}


async def _procedure(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    procedure = await new_procedure(world.api, await world.owner())
    return f"/v1/procedures/{procedure['id']}", {"buffer_after_minutes": 10}


async def _new_professional(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return "/v1/professionals", {"user_id": await professional_member(world.api, await world.owner())}


async def _professional(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    professional = await new_professional(world.api, await world.owner())
    return f"/v1/professionals/{professional['id']}", {"specialties": ["Estética"]}


async def _assign(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    owner = await world.owner()
    professional = await new_professional(world.api, owner)
    procedure = await new_procedure(world.api, owner)
    return f"/v1/professionals/{professional['id']}/procedures", {"procedure_ids": [procedure["id"]]}


async def _reorder(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    owner = await world.owner()
    category = await new_category(world.api, owner)
    ids = [(await new_procedure(world.api, owner, category_id=category["id"]))["id"] for _ in range(2)]
    return "/v1/procedures/reorder", {"category_id": category["id"], "procedure_ids": ids[::-1]}


async def _unit_rooms(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return f"/v1/units/{world.unit_id}/rooms", {"name": f"Sala {next(world.serial)}", "type": "laser_room"}


async def _room(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    room = await new_room(world.api, await world.owner(), world.unit_id)
    return f"/v1/rooms/{room['id']}", {"name": f"Sala {next(world.serial)}"}


async def _unit_equipment(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return f"/v1/units/{world.unit_id}/equipment", {"name": f"Laser {next(world.serial)}", "type": "laser"}


async def _equipment(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    equipment = await new_equipment(world.api, await world.owner(), world.unit_id)
    return f"/v1/equipment/{equipment['id']}", {"name": f"Laser {next(world.serial)}"}


async def _working(world: World) -> tuple[str, str]:
    """The owner's token and the id of clinic A's working professional."""
    owner = await world.owner()
    if not world.working:
        world.working.update(await working_professional(world.api, owner, world.unit_id))
    return owner, world.working["professional_id"]


async def _working_hours(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    _, professional = await _working(world)
    week = {"days": {"tuesday": [{"start": "08:00", "end": "12:00"}]}}
    return f"/v1/professionals/{professional}/working-hours?unit_id={world.unit_id}", week


async def _overrides(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    _, professional = await _working(world)
    return f"/v1/professionals/{professional}/overrides?unit_id={world.unit_id}&{DATES}", {}


async def _override(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    owner, professional = await _working(world)
    await new_override(world.api, owner, professional, world.unit_id)  # for the DELETE
    path = f"/v1/professionals/{professional}/overrides/{OVERRIDE_DAY}?unit_id={world.unit_id}"
    return path, {"kind": "extra", "spans": [{"start": "18:00", "end": "20:00"}]}


async def _time_off(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    _, professional = await _working(world)
    body = {"starts_at": "2026-06-01T00:00:00Z", "ends_at": "2026-06-02T00:00:00Z"}
    return f"/v1/professionals/{professional}/time-off?{WINDOW}", body


async def _time_off_entry(world: World, caller: Caller) -> tuple[str, Body]:
    owner, professional = await _working(world)
    return f"/v1/time-off/{(await new_time_off(world.api, owner, professional))['id']}", None


async def _closures(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    return f"/v1/units/{world.unit_id}/closures?{DATES}", {"first_day": "2026-06-05", "reason": "Feriado"}


async def _closure(world: World, caller: Caller) -> tuple[str, Body]:
    closure = await new_closure(world.api, await world.owner(), world.unit_id)
    return f"/v1/units/{world.unit_id}/closures/{closure['id']}", None


async def _booking_rules(world: World, caller: Caller) -> tuple[str, dict[str, Any]]:
    rules = {"min_notice_minutes": 60, "horizon_days": 60, "slot_step_minutes": 30}
    return f"/v1/units/{world.unit_id}/booking-rules", rules


async def _availability(world: World, caller: Caller) -> tuple[str, Body]:
    await _working(world)
    procedure = world.working["procedure_id"]
    return f"/v1/availability?unit_id={world.unit_id}&procedure_ids={procedure}&{WINDOW}", None


# How to make a valid request to each route for a caller; a route missing here fails the matrix.
CALLS: dict[tuple[str, str], Call] = {
    ("GET", "/v1/me"): fixed("/v1/me"),
    ("GET", "/v1/permissions"): fixed("/v1/permissions"),
    ("GET", "/v1/auth/sessions"): fixed("/v1/auth/sessions"),
    ("DELETE", "/v1/auth/sessions/{session_id}"): _other_session,
    ("POST", "/v1/auth/sessions/revoke-others"): fixed("/v1/auth/sessions/revoke-others", {}),
    ("POST", "/v1/auth/switch-tenant"): _switch,
    ("POST", "/v1/auth/change-password"): _change_password,
    ("POST", "/v1/auth/change-email"): _change_email,
    ("GET", "/v1/units"): fixed("/v1/units"),
    ("POST", "/v1/units"): _new_unit,
    ("GET", "/v1/units/{unit_id}"): _unit,
    ("GET", "/v1/members"): fixed("/v1/members"),
    ("GET", "/v1/members/{member_id}"): _member,
    ("PUT", "/v1/members/{member_id}/roles"): _member_roles,
    ("DELETE", "/v1/members/{member_id}"): _fresh_member,
    ("POST", "/v1/invitations"): _invitation,
    ("GET", "/v1/roles"): fixed("/v1/roles"),
    ("POST", "/v1/roles"): _new_role,
    ("GET", "/v1/roles/{role_id}"): _role,
    ("PUT", "/v1/roles/{role_id}"): _edit_role,
    ("DELETE", "/v1/roles/{role_id}"): _role,
    ("GET", "/v1/api-keys"): fixed("/v1/api-keys"),
    ("POST", "/v1/api-keys"): fixed("/v1/api-keys", {"name": "Site", "scopes": ["units:read"]}),
    ("GET", "/v1/api-keys/{api_key_id}"): _api_key,
    ("DELETE", "/v1/api-keys/{api_key_id}"): _api_key,
    ("GET", "/v1/audit-events"): fixed("/v1/audit-events"),
    ("GET", "/v1/webhooks"): fixed("/v1/webhooks"),
    ("POST", "/v1/webhooks"): fixed("/v1/webhooks", WEBHOOK),
    ("GET", "/v1/webhooks/{webhook_id}"): _webhook,
    ("PATCH", "/v1/webhooks/{webhook_id}"): _patch_webhook,
    ("DELETE", "/v1/webhooks/{webhook_id}"): _webhook,
    ("POST", "/v1/webhooks/{webhook_id}/rotate-secret"): _rotate_webhook_secret,
    ("GET", "/v1/webhooks/{webhook_id}/deliveries"): _webhook_deliveries,
    ("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): _redeliver,
    ("GET", "/v1/patients/{patient_id}/attachments"): _patient_attachments,
    ("POST", "/v1/patients/{patient_id}/attachments"): _new_attachment,
    ("GET", "/v1/attachments/{attachment_id}"): _attachment,
    ("GET", "/v1/attachments/{attachment_id}/content"): _attachment_content,
    ("DELETE", "/v1/attachments/{attachment_id}"): _delete_attachment,
    ("GET", "/v1/tenant/security-policy"): fixed("/v1/tenant/security-policy"),
    ("PUT", "/v1/tenant/security-policy"): fixed(
        "/v1/tenant/security-policy", {"require_mfa_for_staff": False}
    ),
    ("GET", "/v1/tenant/privacy-settings"): fixed("/v1/tenant/privacy-settings"),
    ("PUT", "/v1/tenant/privacy-settings"): fixed(
        "/v1/tenant/privacy-settings", {"clinical_record_retention_years": 20}
    ),
    ("POST", "/v1/auth/resend-verification"): fixed("/v1/auth/resend-verification", {}),
    ("GET", "/v1/patients"): fixed("/v1/patients?q=paciente"),
    ("POST", "/v1/patients"): fixed("/v1/patients", {"kind": "animal", "name": "Mia", "species": "cat"}),
    ("GET", "/v1/patients/{patient_id}"): _patient,
    ("PATCH", "/v1/patients/{patient_id}"): _patch_patient,
    ("POST", "/v1/patients/{patient_id}/status"): _patient_with("/status", {"status": "inactive"}),
    ("GET", "/v1/patients/{patient_id}/weights"): _patient_with("/weights"),
    ("POST", "/v1/patients/{patient_id}/weights"): _patient_with("/weights", {"kg": "70.5"}),
    ("GET", "/v1/patients/{patient_id}/guardians"): _patient_with("/guardians"),
    ("PUT", "/v1/patients/{patient_id}/guardians"): _guardians,
    ("GET", "/v1/patients/{patient_id}/dependants"): _patient_with("/dependants"),
    ("GET", "/v1/patients/{patient_id}/access-log"): _patient_with("/access-log"),
    ("GET", "/v1/patients/{patient_id}/consents"): _patient_with("/consents"),
    ("POST", "/v1/patients/{patient_id}/consents"): _patient_with("/consents", _CONSENT),
    ("GET", "/v1/patients/{patient_id}/export"): _patient_with("/export"),
    ("POST", "/v1/patients/{patient_id}/anonymise"): _anonymise,
    ("GET", "/v1/me/patients"): fixed("/v1/me/patients"),
    ("GET", "/v1/me/patients/{patient_id}"): _my_patient(),
    ("GET", "/v1/me/patients/{patient_id}/access-log"): _my_patient("/access-log"),
    ("GET", "/v1/me/patients/{patient_id}/consents"): _my_patient("/consents"),
    ("POST", "/v1/me/patients/{patient_id}/consents"): _my_patient("/consents", _CONSENT),
    ("GET", "/v1/me/patients/{patient_id}/export"): _my_patient("/export"),
    ("GET", "/v1/tenant/patient-settings"): fixed("/v1/tenant/patient-settings"),
    ("PUT", "/v1/tenant/patient-settings"): fixed(
        "/v1/tenant/patient-settings", {"patients_shared_across_units": True}
    ),
    ("GET", "/v1/auth/mfa"): fixed("/v1/auth/mfa"),
    # In this order (the route table's): each leaves the second factor as the next one needs it.
    ("POST", "/v1/auth/mfa/disable"): _disable_mfa,
    ("POST", "/v1/auth/mfa/enrolment"): _start_enrolment,
    ("POST", "/v1/auth/mfa/enrolment/confirm"): _confirm_enrolment,
    ("POST", "/v1/auth/mfa/recovery-codes"): _new_recovery_codes,
    ("GET", "/v1/anamnesis-templates"): fixed("/v1/anamnesis-templates"),
    ("POST", "/v1/anamnesis-templates"): fixed(
        "/v1/anamnesis-templates", {"name": "Matriz", "sections": short_form()}
    ),
    ("GET", "/v1/anamnesis-templates/{template_id}"): _template,
    ("PATCH", "/v1/anamnesis-templates/{template_id}"): _template_edit,
    ("GET", "/v1/anamnesis-templates/{template_id}/versions"): _versions,
    ("POST", "/v1/anamnesis-templates/{template_id}/versions"): _versions,
    ("GET", "/v1/anamnesis-templates/{template_id}/versions/{number}"): _version,
    ("GET", "/v1/patients/{patient_id}/anamneses"): _patient_anamneses,
    ("POST", "/v1/patients/{patient_id}/anamneses"): _patient_anamneses,
    ("GET", "/v1/anamneses/{anamnesis_id}"): _anamnesis,
    ("PUT", "/v1/anamneses/{anamnesis_id}"): _anamnesis,
    ("POST", "/v1/anamneses/{anamnesis_id}/sign"): _sign_anamnesis,
    ("GET", "/v1/patients/{patient_id}/notes"): _patient_notes,
    ("POST", "/v1/patients/{patient_id}/notes"): _patient_notes,
    ("GET", "/v1/notes/{note_id}"): _note,
    ("POST", "/v1/notes/{note_id}/sign"): _sign_note,
    ("POST", "/v1/notes/{note_id}/amendments"): _amend_note,
    ("GET", "/v1/patients/{patient_id}/timeline"): _patient_timeline,
    ("POST", "/v1/appointments"): _new_booking,
    ("GET", "/v1/appointments"): fixed("/v1/appointments"),
    ("GET", "/v1/appointments/{appointment_id}"): _appointment(),
    ("POST", "/v1/appointments/{appointment_id}/confirm"): _appointment("/confirm"),
    ("POST", "/v1/appointments/{appointment_id}/check-in"): _appointment("/check-in"),
    ("POST", "/v1/appointments/{appointment_id}/start"): _appointment("/start", "check-in"),
    ("POST", "/v1/appointments/{appointment_id}/complete"): _appointment("/complete", "check-in", "start"),
    ("POST", "/v1/appointments/{appointment_id}/no-show"): _appointment("/no-show", past=True),
    ("POST", "/v1/appointments/{appointment_id}/cancel"): _appointment("/cancel", body={"reason": "x"}),
    ("POST", "/v1/appointments/{appointment_id}/reschedule"): _appointment(
        "/reschedule", body={"start": (FIRST_DAY - timedelta(days=1)).isoformat()}
    ),
    ("GET", "/v1/professionals/{professional_id}/agenda"): _agenda,
    ("GET", "/v1/units/{unit_id}/calendar"): _calendar,
    ("GET", "/v1/patients/{patient_id}/appointments"): _patient_appointments,
    ("GET", "/v1/dashboard"): _dashboard,
    ("POST", "/v1/waitlist"): _join_waitlist,
    ("GET", "/v1/waitlist"): fixed("/v1/waitlist"),
    ("DELETE", "/v1/waitlist/{entry_id}"): _waitlist_entry,
    ("POST", "/v1/waitlist/offers/{offer_id}/accept"): _offer("accept"),
    ("POST", "/v1/waitlist/offers/{offer_id}/decline"): _offer("decline"),
    ("GET", "/v1/categories"): fixed("/v1/categories?active=true"),
    ("POST", "/v1/categories"): _new_category_body,
    ("GET", "/v1/categories/{category_id}"): _category,
    ("PATCH", "/v1/categories/{category_id}"): _category,
    ("GET", "/v1/procedures"): fixed("/v1/procedures?active=true&limit=5"),
    ("POST", "/v1/procedures"): fixed(
        "/v1/procedures", {"name": "Drenagem", "duration_minutes": 50, "price": {"amount": "90"}}
    ),
    ("POST", "/v1/procedures/reorder"): _reorder,
    ("GET", "/v1/procedures/{procedure_id}"): _procedure,
    ("PATCH", "/v1/procedures/{procedure_id}"): _procedure,
    ("GET", "/v1/professionals"): fixed("/v1/professionals?active=true"),
    ("POST", "/v1/professionals"): _new_professional,
    ("GET", "/v1/professionals/{professional_id}"): _professional,
    ("PATCH", "/v1/professionals/{professional_id}"): _professional,
    ("POST", "/v1/professionals/{professional_id}/procedures"): _assign,
    ("GET", "/v1/units/{unit_id}/rooms"): _unit_rooms,
    ("POST", "/v1/units/{unit_id}/rooms"): _unit_rooms,
    ("GET", "/v1/rooms/{room_id}"): _room,
    ("PATCH", "/v1/rooms/{room_id}"): _room,
    ("GET", "/v1/units/{unit_id}/equipment"): _unit_equipment,
    ("POST", "/v1/units/{unit_id}/equipment"): _unit_equipment,
    ("GET", "/v1/equipment/{equipment_id}"): _equipment,
    ("PATCH", "/v1/equipment/{equipment_id}"): _equipment,
    ("GET", "/v1/professionals/{professional_id}/working-hours"): _working_hours,
    ("PUT", "/v1/professionals/{professional_id}/working-hours"): _working_hours,
    ("GET", "/v1/professionals/{professional_id}/overrides"): _overrides,
    ("PUT", "/v1/professionals/{professional_id}/overrides/{day}"): _override,
    ("DELETE", "/v1/professionals/{professional_id}/overrides/{day}"): _override,
    ("GET", "/v1/professionals/{professional_id}/time-off"): _time_off,
    ("POST", "/v1/professionals/{professional_id}/time-off"): _time_off,
    ("DELETE", "/v1/time-off/{time_off_id}"): _time_off_entry,
    ("GET", "/v1/units/{unit_id}/closures"): _closures,
    ("POST", "/v1/units/{unit_id}/closures"): _closures,
    ("DELETE", "/v1/units/{unit_id}/closures/{closure_id}"): _closure,
    ("GET", "/v1/units/{unit_id}/booking-rules"): _booking_rules,
    ("PUT", "/v1/units/{unit_id}/booking-rules"): _booking_rules,
    ("GET", "/v1/availability"): _availability,
}
MFA_CODE_ROUTES = {"/v1/auth/mfa/enrolment/confirm", "/v1/auth/mfa/recovery-codes"}


def v1_routes(api: Api) -> list[tuple[str, str, object]]:
    return sorted(
        (
            (method.decode(), route.mustache_pattern, route.handler)
            for method, routes in api.app.router.routes.items()
            for route in routes
            if route.mustache_pattern.startswith("/v1/")
        ),
        key=lambda r: (r[0], r[1]),
    )


def guarded_v1_routes(api: Api) -> list[tuple[str, str, object]]:
    return [r for r in v1_routes(api) if not is_public(r[2])]


async def send(api: Api, method: str, path: str, body: Body, token: str) -> Response:
    if isinstance(body, RawUpload):
        return await send_body(api, path, body.data, body.content_type, token, **body.query)
    if method == "GET":
        return await api.get(path, token)
    if method == "POST":
        return await api.post(path, body or {}, token)
    if method == "PUT":
        return await api.put(path, body or {}, token)
    if method == "PATCH":
        return await api.patch(path, body or {}, token)
    if method == "DELETE":
        content = Content(b"application/json", json.dumps(body).encode()) if body is not None else None
        return await api.client.delete(path, headers=auth_header(token), content=content)
    if method == "PATCH":
        return await api.patch(path, body or {}, token)
    raise AssertionError(f"teach the matrix to send {method}")


async def test_every_v1_route_declares_what_it_needs(api: Api) -> None:
    undeclared = [
        (method, template)
        for method, template, handler in v1_routes(api)
        if not is_public(handler) and declared_access(handler) is None
    ]
    assert v1_routes(api), "no /v1 route found: did the route table move?"
    assert undeclared == []


async def test_the_matrix_knows_every_guarded_route(api: Api) -> None:
    assert {(method, template) for method, template, _ in guarded_v1_routes(api)} == set(CALLS)


@pytest.fixture
async def roomy_api(make_api: Callable[..., Any]) -> Api:
    """The matrix signs in once per call: login budgets, and the anonymous budget every sign-in also
    spends, would stop it half way."""
    plenty = RateLimit(100_000)
    limits = replace(
        GENEROUS_LIMITS, login_per_ip=plenty, login_per_email=plenty, anonymous_per_ip=plenty, per_user=plenty
    )
    built: Api = await make_api(limits=limits)
    return built


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_gets_exactly_what_its_permissions_allow(roomy_api: Api, role: str) -> None:
    api = roomy_api
    world = await build_world(api, role)
    held = permissions_of(role)
    wrong: list[str] = []
    for method, template, handler in guarded_v1_routes(api):
        access = declared_access(handler)
        assert access is not None, f"{method} {template} declares nothing"
        caller = await world.sign_in()
        path, body = await CALLS[(method, template)](world, caller)
        response = await send(api, method, path, body, caller.access)
        await world.observe(method, template, caller, response)
        allowed = access.permission is None or access.permission in held
        if allowed and not 200 <= response.status < 300:
            wrong.append(f"{method} {template}: {response.status} {await response.text()}")
        if not allowed:
            problem = await body_of(response)
            if response.status != 403 or problem["code"] != "forbidden":
                wrong.append(f"{method} {template}: {response.status} instead of 403 forbidden")
    assert wrong == [], f"{role}:\n" + "\n".join(wrong)


async def test_a_role_edit_reaches_the_members_session_at_once(roomy_api: Api) -> None:
    """The custom role's permissions come from the database on each request (cache off in tests), not
    from the token: taking units:read away closes the route to a session opened before the edit."""
    api = roomy_api
    world = await build_world(api, CUSTOM)
    caller = await world.sign_in()
    assert (await api.get("/v1/units", caller.access)).status == 200
    owner = await world.owner()
    roles = await body_of(await api.get("/v1/roles", owner))
    secretaria = next(r for r in roles["items"] if r["name"] == "Secretaria")
    edited = await api.put(
        f"/v1/roles/{secretaria['id']}", {"name": "Secretaria", "permissions": ["members:read"]}, owner
    )
    assert edited.status == 200, await edited.text()
    refused = await api.get("/v1/units", caller.access)
    assert refused.status == 403
    assert (await body_of(refused))["detail"] == "this action needs the permission 'units:read'"
    assert (await api.get("/v1/members", caller.access)).status == 200
