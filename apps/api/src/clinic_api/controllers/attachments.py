"""Patient attachments: upload (streamed), list, metadata, download (streamed), soft delete."""

from __future__ import annotations

import email.message
from collections.abc import AsyncIterable, AsyncIterator
from datetime import datetime
from typing import cast
from urllib.parse import quote
from uuid import UUID

from blacksheep import Request, Response, StreamedContent
from blacksheep.contents import StreamedFormPart
from blacksheep.exceptions import MessageAborted
from blacksheep.multipart import parse_multipart_async
from blacksheep.server.controllers import APIController
from blacksheep.server.openapi.common import HeaderInfo, ResponseInfo

from clinic_api.access import requires
from clinic_api.attachment_schemas import AttachmentOut, AttachmentPage, DeleteAttachmentRequest
from clinic_api.bindings import QueryParam
from clinic_api.controllers.paging import page_request
from clinic_api.error_handling import http_problem
from clinic_api.middlewares import streams_upload
from clinic_api.openapi import documented
from clinic_api.problems import ProblemRaised, invalid_fields, problem_for, unwrap_or_raise
from clinic_api.responses import json_response, request_context
from clinic_api.routing import delete, get, post
from clinic_core.application.actor import Actor
from clinic_core.attachments.model import AttachmentId
from clinic_core.attachments.use_cases import (
    DeleteAttachment,
    DeleteAttachmentCommand,
    DownloadAttachment,
    GetAttachment,
    ListAttachments,
    UploadAttachment,
    UploadAttachmentCommand,
)
from clinic_core.patients.model import PatientId
from clinic_core.shared.errors import FieldError, NotFound
from clinic_core.shared.ids import parse_uuid
from clinic_core.tenancy.permissions import Permission

FIELD_MAX_BYTES = 4096
"""A form field (category, description, ...) longer than this is refused before it is read further."""
FORM_FIELDS = frozenset({"category", "description", "taken_at", "appointment_id", "filename"})
_TAIL = 1024


def _id(raw: str, resource: str) -> UUID:
    parsed = parse_uuid(raw)
    if parsed is None:
        raise ProblemRaised(problem_for(NotFound(resource)))
    return parsed


def _invalid(field: str, code: str, message: str) -> ProblemRaised:
    return ProblemRaised(invalid_fields([FieldError(field, code, message)]))


def _taken_at(raw: str | None) -> datetime | None:
    if not raw:
        return None
    try:
        return datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _invalid("taken_at", "invalid_datetime", "use ISO 8601 with an offset") from None


def _appointment_id(raw: str | None) -> UUID | None:
    if not raw:
        return None
    parsed = parse_uuid(raw.strip())
    if parsed is None:
        raise _invalid("appointment_id", "invalid_uuid", "not a UUID")
    return parsed


def _content_type(request: Request) -> tuple[str, str]:
    """The request's media type (lower case, empty when none was sent) and its ``boundary`` parameter."""
    raw = (request.content_type() or b"").decode("latin-1")
    if not raw.strip():
        return "", ""
    header = email.message.Message()
    header["content-type"] = raw
    return header.get_content_type(), str(header.get_param("boundary") or "")


class _RawBody:
    """The request body's chunks, remembering whether it ended and how it ended."""

    def __init__(self, request: Request) -> None:
        self._request = request
        self.ended = False
        self.tail = b""
        self._iterator = self._read()

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterator

    async def drain(self) -> None:
        """Read what is left (a form's epilogue), so that ``ended`` and ``tail`` tell how it ended."""
        async for _ in self._iterator:
            pass

    async def _read(self) -> AsyncIterator[bytes]:
        async for chunk in self._chunks():
            if chunk:
                self.tail = (self.tail + chunk)[-_TAIL:]
                yield chunk
        self.ended = True

    async def _chunks(self) -> AsyncIterator[bytes | None]:
        content = self._request.content
        if content is None:
            return
        whole: bytes | None = content.body  # the stub says bytes; a streamed body has None until read
        if whole is not None:  # read whole already (an in-process client's body)
            yield whole
            return
        # BlackSheep's stub types stream() as a coroutine; it is an async generator.
        async for chunk in cast("AsyncIterable[bytes | None]", self._request.stream()):
            yield chunk


async def _field(chunks: AsyncIterable[bytes], name: str) -> str:
    value = bytearray()
    async for chunk in chunks:
        value.extend(chunk)
        if len(value) > FIELD_MAX_BYTES:
            raise _invalid(name, "too_long", f"a form field has at most {FIELD_MAX_BYTES} bytes")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        raise _invalid(name, "invalid_encoding", "send form fields in UTF-8") from None


class Attachments(APIController):
    def __init__(
        self,
        upload: UploadAttachment,
        list_attachments: ListAttachments,
        get_attachment: GetAttachment,
        download: DownloadAttachment,
        delete_attachment: DeleteAttachment,
    ) -> None:
        self._upload, self._list, self._get = upload, list_attachments, get_attachment
        self._download, self._delete = download, delete_attachment

    @classmethod
    def route(cls) -> str:
        return "/v1"

    @requires(Permission.PATIENTS_WRITE)
    @streams_upload()
    @documented(
        201,
        AttachmentOut,
        problems=(400, 401, 403, 404, 409, 413, 415, 422),
        headers={"Location": HeaderInfo(str, "The URL of the new attachment.")},
    )
    @post("/patients/{patient_id}/attachments")
    async def upload(
        self,
        request: Request,
        actor: Actor,
        patient_id: str,
        category: QueryParam[str] | None = None,
        filename: QueryParam[str] | None = None,
        description: QueryParam[str] | None = None,
        taken_at: QueryParam[str] | None = None,
        appointment_id: QueryParam[str] | None = None,
    ) -> Response:
        """Attach a file to a patient's record: an exam result, a consent form, a photo.

        Send either `multipart/form-data` with the fields `category` (required), `description`,
        `taken_at` (ISO 8601 with an offset), `appointment_id`, `filename`, and the file in the part named
        `file`, which must come **last** (the file streams to storage as it arrives, as in S3's POST
        uploads); or the file itself as the body, with its `Content-Type`, and the same fields as query
        parameters. The type is read from the content's own bytes: PDF, JPEG, PNG, WebP, HEIC or DICOM
        (photos must be images; consent forms and documents PDFs or images). A declared type that
        disagrees with the content is 415 `media_type_mismatch`; another type 415
        `unsupported_attachment_type`; over `CLINIC_ATTACHMENT_MAX_BYTES` (25 MiB by default) 413.

        Needs `patients:write`, and `clinical:write` for exam results, photos and `other`.

        @param patient_id: the patient's id (a UUID).
        @param category: exam_result, consent_form, photo_before, photo_after, photo, document or other.
        @param filename: the file's name (raw bodies; in a form, the file part's own name is used).
        @param description: free text, at most 1000 characters.
        @param taken_at: when the photo was taken or the exam done (ISO 8601 with an offset).
        @param appointment_id: the appointment the file belongs to.
        """
        patient = PatientId(_id(patient_id, "patient"))
        fields = {
            name: param.value
            for name, param in (
                ("category", category),
                ("filename", filename),
                ("description", description),
                ("taken_at", taken_at),
                ("appointment_id", appointment_id),
            )
            if param is not None
        }
        media_type, boundary = _content_type(request)
        try:
            if media_type == "multipart/form-data":
                return await self._from_form(request, actor, patient, fields, boundary)
            if not request.has_body():
                raise _invalid("file", "required", "send the file as the body, or in a multipart form")
            return await self._store(
                request, actor, patient, fields, _RawBody(request), media_type or None, fields.get("filename")
            )
        except MessageAborted:
            raise ProblemRaised(http_problem(400, "the upload was cut off before its end")) from None

    async def _from_form(
        self, request: Request, actor: Actor, patient: PatientId, fields: dict[str, str], boundary: str
    ) -> Response:
        if not boundary or len(boundary) > 70:
            raise ProblemRaised(http_problem(400, "a multipart body needs a boundary"))
        body = _RawBody(request)
        parts = aiter(parse_multipart_async(body, boundary.encode("latin-1")))
        async for part in parts:
            if part.name == "file":
                content = self._rest_of_form(part, parts, body, boundary)
                return await self._store(
                    request, actor, patient, fields, content, part.content_type, part.file_name
                )
            if part.name not in FORM_FIELDS:
                raise _invalid(part.name or "form", "unknown_field", "not a field of an upload")
            fields[part.name] = await _field(part.stream(), part.name)
        raise _invalid("file", "required", "the form has no part named file")

    @staticmethod
    async def _rest_of_form(
        file: StreamedFormPart, parts: AsyncIterator[object], body: _RawBody, boundary: str
    ) -> AsyncIterator[bytes]:
        """The file part's chunks; then, before the upload can be kept, the form must end there, whole.
        The part is read only if the use case reads the content (not when it refuses first)."""
        async for chunk in file.stream():
            yield chunk
        async for _ in parts:
            raise _invalid("form", "file_not_last", "put the file part last, after the other fields")
        await body.drain()
        if f"--{boundary}--".encode("latin-1") not in body.tail:
            raise ProblemRaised(http_problem(400, "the multipart body ended before its closing boundary"))

    async def _store(
        self,
        request: Request,
        actor: Actor,
        patient: PatientId,
        fields: dict[str, str],
        content: AsyncIterable[bytes],
        declared_type: str | None,
        filename: str | None,
    ) -> Response:
        if not fields.get("category"):
            raise _invalid("category", "required", "say what the file is (exam_result, photo, ...)")
        try:
            result = await self._upload(
                UploadAttachmentCommand(
                    actor=actor,
                    patient_id=patient,
                    category=fields["category"],
                    content=content,
                    filename=fields.get("filename") or filename,
                    declared_type=declared_type,
                    description=fields.get("description"),
                    taken_at=_taken_at(fields.get("taken_at")),
                    appointment_id=_appointment_id(fields.get("appointment_id")),
                    context=request_context(request),
                )
            )
        finally:
            closing = getattr(content, "aclose", None)
            if closing is not None:  # a refusal may leave the stream unread or half read
                await closing()
        attachment = unwrap_or_raise(result)
        return json_response(
            AttachmentOut.of(attachment), 201, [("Location", f"/v1/attachments/{attachment.id}")]
        )

    @requires(Permission.PATIENTS_READ)
    @documented(200, AttachmentPage, problems=(401, 403, 404, 422))
    @get("/patients/{patient_id}/attachments")
    async def list_attachments(
        self,
        request: Request,
        actor: Actor,
        patient_id: str,
        cursor: QueryParam[str] | None = None,
        limit: QueryParam[int] | None = None,
    ) -> Response:
        """A patient's attachments, newest first: the ones the caller may read (without
        `clinical:read`, consent forms and documents only). Deleted ones are not listed.

        @param patient_id: the patient's id (a UUID).
        @param cursor: `next_cursor` of the previous page; omit it for the first page.
        @param limit: page size, 1 to 200 (default 50).
        """
        patient = PatientId(_id(patient_id, "patient"))
        page = unwrap_or_raise(
            await self._list(actor, patient, page_request(cursor, limit), request_context(request))
        )
        return json_response(
            AttachmentPage(items=[AttachmentOut.of(a) for a in page.items], next_cursor=page.next_cursor)
        )

    @requires(Permission.PATIENTS_READ)
    @documented(200, AttachmentOut, problems=(401, 403, 404))
    @get("/attachments/{attachment_id}")
    async def get_attachment(self, request: Request, actor: Actor, attachment_id: str) -> Response:
        """One attachment's metadata. Another clinic's, or a deleted one, is 404; a clinical one without
        `clinical:read` is 403.

        @param attachment_id: the attachment's id (a UUID).
        """
        found = AttachmentId(_id(attachment_id, "attachment"))
        attachment = unwrap_or_raise(await self._get(actor, found, request_context(request)))
        return json_response(AttachmentOut.of(attachment))

    @requires(Permission.PATIENTS_READ)
    @documented(
        200,
        description="The file, streamed.",
        problems=(401, 403, 404, 503),
        others={
            304: ResponseInfo("Not modified: the `If-None-Match` ETag is the content's."),
        },
        headers={
            "Content-Disposition": HeaderInfo(str, "attachment; filename=...; filename*=UTF-8''..."),
            "ETag": HeaderInfo(str, 'The content\'s SHA-256, quoted: "<hex>".'),
        },
    )
    @get("/attachments/{attachment_id}/content")
    async def download(self, request: Request, actor: Actor, attachment_id: str) -> Response:
        """The attachment's content, with its media type, as a download (`Content-Disposition:
        attachment`), never to be rendered in place (`X-Content-Type-Options: nosniff`, and a CSP that
        runs nothing). The ETag is the content's SHA-256: `If-None-Match` with it answers 304.

        @param attachment_id: the attachment's id (a UUID).
        """
        found = AttachmentId(_id(attachment_id, "attachment"))
        download = unwrap_or_raise(await self._download(actor, found, request_context(request)))
        attachment, reader = download.attachment, download.content
        etag = f'"{attachment.sha256}"'
        headers = [
            (b"ETag", etag.encode()),
            (b"Content-Disposition", _disposition(attachment.filename)),
            (b"X-Content-Type-Options", b"nosniff"),
            (b"Cache-Control", b"private, no-store"),
        ]
        if etag in _etags(request):
            await reader.aclose()
            return Response(304, headers)

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in reader:
                    yield chunk
            finally:
                await reader.aclose()

        content = StreamedContent(attachment.media_type.value.encode(), chunks, attachment.size)
        return Response(200, headers, content)

    @requires(Permission.PATIENTS_WRITE)
    @documented(204, problems=(401, 403, 404, 422))
    @delete("/attachments/{attachment_id}")
    async def delete_attachment(
        self, request: Request, actor: Actor, attachment_id: str, body: DeleteAttachmentRequest
    ) -> Response:
        """Delete an attachment from the record, saying why. It no longer appears anywhere in the API;
        its content is kept for the record's legal retention period, and the deletion is in the audit
        trail (`attachment.deleted`). Needs `patients:write`, and `clinical:write` for clinical ones.

        @param attachment_id: the attachment's id (a UUID).
        """
        found = AttachmentId(_id(attachment_id, "attachment"))
        unwrap_or_raise(
            await self._delete(
                DeleteAttachmentCommand(actor, found, body.reason, context=request_context(request))
            )
        )
        return Response(204)


def _etags(request: Request) -> set[str]:
    raw = request.get_first_header(b"If-None-Match")
    return {tag.strip() for tag in raw.decode("latin-1").split(",")} if raw else set()


def _disposition(filename: str) -> bytes:
    """``attachment`` with an ASCII fallback name and the exact one in RFC 8187 form."""
    fallback = "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}".encode()
