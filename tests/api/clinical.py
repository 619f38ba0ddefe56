"""Clinical record fixtures for the API tests: a patient (no patient endpoint writes one yet: straight into
the app's database), a published template, a draft anamnesis and a note."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from clinic_core.application.unit_of_work import Scope
from clinic_core.shared.ids import TenantId
from clinic_core.testing import a_person
from tests.api.conftest import Api, body_of
from tests.unit.clinical_world import short_form


async def open_patient_data(api: Api, owner_token: str) -> None:
    """Let the clinic's members whose email is unverified (every test account) reach patient data."""
    response = await api.put("/v1/tenant/security-policy", {"unverified_email_access": "full"}, owner_token)
    assert response.status == 200, await response.text()


async def add_patient(api: Api, tenant_id: str, name: str = "Maria da Silva") -> str:
    patient = a_person(TenantId(UUID(tenant_id)), name)
    async with api.uow(Scope(tenant_id=TenantId(UUID(tenant_id)))) as tx:
        await tx.patients.add(patient)
        await tx.commit()
    return str(patient.id)


async def created(api: Api, path: str, body: dict[str, Any], token: str) -> dict[str, Any]:
    response = await api.post(path, body, token)
    assert response.status == 201, await response.text()
    return await body_of(response)


async def new_template(api: Api, token: str, name: str = "Anamnese geral") -> str:
    return str(
        (await created(api, "/v1/anamnesis-templates", {"name": name, "sections": short_form()}, token))["id"]
    )


async def new_anamnesis(
    api: Api, token: str, patient_id: str, template_id: str, answers: dict[str, Any] | None = None
) -> str:
    body = {"template_id": template_id, "answers": {"complaint": "Dor"} if answers is None else answers}
    return str((await created(api, f"/v1/patients/{patient_id}/anamneses", body, token))["id"])


async def new_note(api: Api, token: str, patient_id: str, body: str = "Paciente relata melhora.") -> str:
    return str(
        (await created(api, f"/v1/patients/{patient_id}/notes", {"type": "evolution", "body": body}, token))[
            "id"
        ]
    )


async def clinical_ids(api: Api, token: str, tenant_id: str, patient_id: str | None = None) -> dict[str, str]:
    """One of each clinical resource in the owner's clinic, by the names route templates use (of
    ``patient_id``, or of a new patient)."""
    await open_patient_data(api, token)
    patient_id = patient_id or await add_patient(api, tenant_id)
    template_id = await new_template(api, token)
    return {
        "patient_id": patient_id,
        "template_id": template_id,
        "number": "1",
        "anamnesis_id": await new_anamnesis(api, token, patient_id, template_id),
        "note_id": await new_note(api, token, patient_id),
    }
