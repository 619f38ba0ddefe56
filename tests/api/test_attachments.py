"""The attachment routes end to end in process: real file headers up and down, limits, other tenants."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest

from clinic_core.application.unit_of_work import Scope
from clinic_core.attachments.model import AttachmentCategory
from clinic_core.attachments.ports import BlobKey
from clinic_core.shared.ids import TenantId
from clinic_core.testing.blobs import InMemoryBlobStore
from tests import attachment_samples as samples
from tests.api.attachments import add_patient, multipart, send_body, upload, verify_email
from tests.api.conftest import Api, auth_header, body_of


async def clinic(api: Api, email: str = "ana@example.com", name: str = "Clínica A") -> tuple[str, str, str]:
    """The owner's token, the clinic's id and one of its patients."""
    signed = await api.sign_up(email, name)
    await verify_email(api, email)
    token = (await api.log_in(email))["access_token"]
    tenant = signed["tenant"]["id"]
    return token, tenant, await add_patient(api, tenant)


async def test_a_pdf_goes_up_and_comes_back_byte_for_byte(api: Api) -> None:
    token, _, patient = await clinic(api)
    data = samples.pdf("Hemograma completo")
    created = await upload(
        api,
        patient,
        data,
        token,
        category="exam_result",
        file_type="application/pdf",
        description="Hemograma de rotina",
        taken_at="2026-03-01T09:30:00-03:00",
    )
    assert created.status == 201, await created.text()
    attachment = await body_of(created)
    assert created.get_first_header(b"Location") == f"/v1/attachments/{attachment['id']}".encode()
    assert attachment["media_type"] == "application/pdf"
    assert attachment["size"] == len(data)
    assert attachment["sha256"] == hashlib.sha256(data).hexdigest()
    assert attachment["filename"] == "exame.pdf"
    assert attachment["taken_at"] == "2026-03-01T12:30:00Z"

    content = await api.get(attachment["content_url"], token)
    assert content.status == 200
    assert await content.read() == data
    assert content.content_type() == b"application/pdf"
    assert content.get_first_header(b"ETag") == f'"{attachment["sha256"]}"'.encode()
    assert content.get_first_header(b"X-Content-Type-Options") == b"nosniff"
    assert content.get_first_header(b"Content-Disposition") == (
        b"attachment; filename=\"exame.pdf\"; filename*=UTF-8''exame.pdf"
    )
    assert b"no-store" in (content.get_first_header(b"Cache-Control") or b"")

    again = await api.client.get(
        attachment["content_url"],
        headers={**(auth_header(token) or {}), "If-None-Match": f'"{attachment["sha256"]}"'},
    )
    assert again.status == 304
    assert not await again.read()

    metadata = await body_of(await api.get(f"/v1/attachments/{attachment['id']}", token))
    assert metadata == attachment
    listed = await body_of(await api.get(f"/v1/patients/{patient}/attachments", token))
    assert [a["id"] for a in listed["items"]] == [attachment["id"]]


async def test_a_png_sent_as_a_raw_body_with_query_fields(api: Api) -> None:
    token, _, patient = await clinic(api)
    data = samples.png(b"antes do procedimento")
    created = await send_body(
        api,
        f"/v1/patients/{patient}/attachments",
        data,
        "image/png",
        token,
        category="photo_before",
        filename="Rosto — antes.PNG",
    )
    assert created.status == 201, await created.text()
    attachment = await body_of(created)
    assert (attachment["category"], attachment["media_type"]) == ("photo_before", "image/png")
    assert attachment["filename"] == "Rosto — antes.png"
    content = await api.get(attachment["content_url"], token)
    assert await content.read() == data
    assert (
        content.get_first_header(b"Content-Disposition")
        == (
            "attachment; filename=\"Rosto _ antes.png\"; filename*=UTF-8''"
            + quote("Rosto — antes.png", safe="")
        ).encode()
    )


@pytest.mark.parametrize(
    ("file", "file_type", "code"),
    [
        (samples.html(), "application/pdf", "media_type_mismatch"),  # a script that says it is a PDF
        (samples.png(), "application/pdf", "media_type_mismatch"),
        (samples.html(), "application/octet-stream", "unsupported_attachment_type"),
        (samples.zip_archive(), "application/zip", "media_type_mismatch"),
    ],
)
async def test_wrong_types_are_415_problems(api: Api, file: bytes, file_type: str, code: str) -> None:
    token, _, patient = await clinic(api)
    body, content_type = multipart({"category": "document"}, file, file_type=file_type)
    refused = await send_body(api, f"/v1/patients/{patient}/attachments", body, content_type, token)
    assert refused.status == 415, await refused.text()
    problem = await body_of(refused)
    assert problem["code"] == code
    assert refused.content_type() == b"application/problem+json"


async def test_a_pdf_is_not_a_photo(api: Api) -> None:
    token, _, patient = await clinic(api)
    refused = await upload(api, patient, samples.pdf(), token, category="photo_after")
    assert refused.status == 415
    problem = await body_of(refused)
    assert problem["code"] == "unsupported_attachment_type"
    assert "image/jpeg" in problem["detail"]


async def test_an_oversize_upload_is_413_and_leaves_nothing(make_api: Callable[..., Any]) -> None:
    blobs = InMemoryBlobStore()
    api: Api = await make_api(blobs=blobs, attachment_max_bytes=10_000)
    token, _, patient = await clinic(api)
    refused = await upload(api, patient, samples.png(b"x" * 10_000), token)
    assert refused.status == 413, await refused.text()
    assert (await body_of(refused))["code"] == "attachment_too_large"
    assert blobs.blobs == {}
    # Far beyond the limit and its form overhead: refused on the declared length, before the body is read.
    body, content_type = multipart({"category": "document"}, samples.png(b"x" * 200_000))
    too_big = await send_body(api, f"/v1/patients/{patient}/attachments", body, content_type, token)
    assert too_big.status == 413
    assert (await body_of(too_big))["code"] == "payload_too_large"
    assert blobs.blobs == {}
    listed = await body_of(await api.get(f"/v1/patients/{patient}/attachments", token))
    assert listed["items"] == []


async def test_the_file_part_must_come_last_and_the_form_must_end_whole(make_api: Callable[..., Any]) -> None:
    blobs = InMemoryBlobStore()
    api: Api = await make_api(blobs=blobs)
    token, _, patient = await clinic(api)
    path = f"/v1/patients/{patient}/attachments"
    body, content_type = multipart({"category": "document"}, samples.pdf())
    boundary = content_type.split("boundary=")[1]
    trailing = body.replace(
        f"--{boundary}--".encode(),
        f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\nlate\r\n--{boundary}--'.encode(),
    )
    late = await send_body(api, path, trailing, content_type, token)
    assert late.status == 422, await late.text()
    assert (await body_of(late))["errors"][0]["code"] == "file_not_last"
    cut = await send_body(api, path, body[: -len(f"--{boundary}--\r\n") - 2], content_type, token)
    assert cut.status == 400, await cut.text()
    assert blobs.blobs == {}
    no_file = await send_body(api, path, *multipart({"category": "document"}, None), token)
    assert no_file.status == 422
    assert (await body_of(no_file))["errors"][0]["field"] == "file"
    smuggled = await send_body(
        api, path, *multipart({"tenant_id": "x", "category": "document"}, b"%PDF-"), token
    )
    assert smuggled.status == 422
    no_category = await send_body(api, path, *multipart({}, samples.pdf()), token)
    assert (await body_of(no_category))["errors"][0]["field"] == "category"
    bad_date = await upload(api, patient, samples.pdf(), token, taken_at="ontem")
    assert (await body_of(bad_date))["errors"][0]["field"] == "taken_at"


async def test_another_clinic_sees_nothing_of_a_patients_attachments(api: Api) -> None:
    token, _, patient = await clinic(api)
    stranger, _, their_patient = await clinic(api, "bia@example.com", "Clínica B")
    attachment = await body_of(await upload(api, patient, samples.pdf(), token))
    for path in (
        f"/v1/attachments/{attachment['id']}",
        f"/v1/attachments/{attachment['id']}/content",
        f"/v1/patients/{patient}/attachments",
    ):
        response = await api.get(path, stranger)
        assert response.status == 404, path
        assert (await body_of(response))["code"] == "not_found"
    uploaded_there = await upload(api, patient, samples.pdf(), stranger)
    assert uploaded_there.status == 404
    deleted = await api.client.delete(
        f"/v1/attachments/{attachment['id']}",
        headers=auth_header(stranger),
        content=_json({"reason": "não é nosso"}),
    )
    assert deleted.status == 404
    assert (await api.get(f"/v1/attachments/{attachment['id']}", token)).status == 200
    # And the stranger's own patient is theirs alone.
    assert (await api.get(f"/v1/patients/{their_patient}/attachments", token)).status == 404


async def test_the_front_desk_sees_paperwork_and_not_clinical_files(api: Api) -> None:
    owner, _, patient = await clinic(api)
    clinic_slug = (await body_of(await api.get("/v1/me", owner)))["tenant"]["slug"]
    await api.member_token(owner, "recepcao@example.com", ["receptionist"])
    await verify_email(api, "recepcao@example.com")
    desk = (await api.log_in("recepcao@example.com", tenant_slug=clinic_slug))["access_token"]
    exam = await body_of(await upload(api, patient, samples.pdf(), owner, category="exam_result"))
    consent = await upload(api, patient, samples.pdf(), desk, category="consent_form")
    assert consent.status == 201, await consent.text()
    listed = await body_of(await api.get(f"/v1/patients/{patient}/attachments", desk))
    assert [a["category"] for a in listed["items"]] == ["consent_form"]
    hidden = await api.get(f"/v1/attachments/{exam['id']}/content", desk)
    assert hidden.status == 403
    assert (await body_of(hidden))["detail"] == "this action needs the permission 'clinical:read'"
    refused = await upload(api, patient, samples.png(), desk, category="photo")
    assert refused.status == 403


async def test_delete_hides_the_attachment_keeps_its_bytes_and_is_audited(
    make_api: Callable[..., Any],
) -> None:
    blobs = InMemoryBlobStore()
    api: Api = await make_api(blobs=blobs)
    token, tenant, patient = await clinic(api)
    attachment = await body_of(await upload(api, patient, samples.pdf(), token, category="consent_form"))
    path = f"/v1/attachments/{attachment['id']}"
    no_reason = await api.client.delete(path, headers=auth_header(token), content=_json({"reason": ""}))
    assert no_reason.status == 422
    deleted = await api.client.delete(
        path, headers=auth_header(token), content=_json({"reason": "enviado para o paciente errado"})
    )
    assert deleted.status == 204, await deleted.text()
    assert (await api.get(path, token)).status == 404
    assert (await api.get(f"{path}/content", token)).status == 404
    assert (await body_of(await api.get(f"/v1/patients/{patient}/attachments", token)))["items"] == []
    assert BlobKey(TenantId(uuid.UUID(tenant)), attachment["sha256"]) in blobs.blobs
    audit = await body_of(await api.get("/v1/audit-events", token, action="attachment.deleted"))
    assert [e["target"]["id"] for e in audit["items"]] == [attachment["id"]]


async def test_missing_content_is_a_503_problem_not_a_crash(make_api: Callable[..., Any]) -> None:
    blobs = InMemoryBlobStore()
    api: Api = await make_api(blobs=blobs)
    token, _, patient = await clinic(api)
    attachment = await body_of(await upload(api, patient, samples.pdf(), token))
    blobs.blobs.clear()
    response = await api.get(attachment["content_url"], token)
    assert response.status == 503
    assert (await body_of(response))["code"] == "attachment_content_unavailable"


async def test_every_category_round_trips_on_postgresql(pg_api: Api) -> None:
    tag = uuid.uuid4().hex[:8]
    token, tenant, patient = await clinic(pg_api, f"ana{tag}@example.com")
    for category, data in (
        (AttachmentCategory.EXAM_RESULT, samples.dicom()),
        (AttachmentCategory.PHOTO_AFTER, samples.heic()),
        (AttachmentCategory.CONSENT_FORM, samples.pdf()),
    ):
        created = await upload(pg_api, patient, data, token, category=category.value)
        assert created.status == 201, await created.text()
        attachment = await body_of(created)
        assert await (await pg_api.get(attachment["content_url"], token)).read() == data
    listed = await body_of(await pg_api.get(f"/v1/patients/{patient}/attachments", token, limit="2"))
    assert [a["category"] for a in listed["items"]] == ["consent_form", "photo_after"]
    async with pg_api.uow(Scope(tenant_id=TenantId(uuid.UUID(tenant))), read_only=True) as uow:
        assert await uow.attachments.references(hashlib.sha256(samples.pdf()).hexdigest()) == 1


def _json(body: object) -> Any:
    import json

    from blacksheep import Content

    return Content(b"application/json", json.dumps(body).encode())
