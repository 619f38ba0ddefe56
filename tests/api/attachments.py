"""Helpers for the attachment routes: a patient in a clinic, multipart bodies, uploads."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from blacksheep import Content, Response

from clinic_core.application.unit_of_work import Scope
from clinic_core.shared.ids import TenantId
from clinic_core.shared.values import Email
from clinic_core.testing.patients import a_person
from tests.api.conftest import Api, auth_header


async def verify_email(api: Api, email: str) -> None:
    """Mark the account's email verified, as opening the mailed link does: clinics withhold patient data
    from unverified accounts by default."""
    async with api.uow(Scope()) as uow:
        user = await uow.users.get_by_email(Email(email))
        assert user is not None
        user.email_verified_at = datetime.now(UTC)
        await uow.users.save(user)
        await uow.commit()


async def add_patient(api: Api, tenant_id: str) -> str:
    """A patient of the clinic, written straight to the app's database (no patient routes needed)."""
    patient = a_person(TenantId(UUID(tenant_id)))
    async with api.uow(Scope(tenant_id=patient.tenant_id)) as uow:
        await uow.patients.add(patient)
        await uow.commit()
    return str(patient.id)


def multipart(
    fields: dict[str, str],
    file: bytes | None,
    *,
    filename: str = "exame.pdf",
    file_type: str = "application/pdf",
) -> tuple[bytes, str]:
    """A multipart/form-data body (fields first, then the file part) and its Content-Type."""
    boundary = f"----clinic{uuid.uuid4().hex}"
    body = bytearray()
    for name, value in fields.items():
        body += f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        body += value.encode() + b"\r\n"
    if file is not None:
        body += (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            f"Content-Type: {file_type}\r\n\r\n"
        ).encode()
        body += file + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    return bytes(body), f"multipart/form-data; boundary={boundary}"


async def send_body(
    api: Api, path: str, body: bytes, content_type: str, token: str | None, **query: str
) -> Response:
    return await api.client.post(
        path, headers=auth_header(token), query=query or None, content=Content(content_type.encode(), body)
    )


async def upload(
    api: Api,
    patient_id: str,
    file: bytes,
    token: str | None,
    category: str = "document",
    file_type: str = "application/octet-stream",
    **fields: Any,
) -> Response:
    """Upload ``file`` in a form; its part declares ``file_type`` (by default: nothing useful)."""
    body, content_type = multipart({"category": category, **fields}, file, file_type=file_type)
    return await send_body(api, f"/v1/patients/{patient_id}/attachments", body, content_type, token)
