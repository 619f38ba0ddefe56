"""What an upload is (magic bytes, declared types), how its name is made safe, and the in-memory blob
store's contract."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest
from returns.result import Failure, Success

from clinic_core.attachments.content import MediaType, declared_media_type, detect_media_type, peek
from clinic_core.attachments.model import (
    FILENAME_MAX,
    FILENAME_MAX_BYTES,
    AttachmentCategory,
    parse_description,
    parse_taken_at,
    readable_categories,
    sanitise_filename,
)
from clinic_core.attachments.ports import BlobKey, BlobNotFound, BlobTooLarge
from clinic_core.shared.ids import TenantId
from clinic_core.tenancy.permissions import Permission, Role, permissions_of
from clinic_core.testing.blobs import InMemoryBlobStore
from tests import attachment_samples as samples


async def _stream(*chunks: bytes) -> AsyncIterator[bytes]:
    for chunk in chunks:
        yield chunk


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (samples.pdf(), MediaType.PDF),
        (samples.png(), MediaType.PNG),
        (samples.jpeg(), MediaType.JPEG),
        (samples.webp(), MediaType.WEBP),
        (samples.heic(), MediaType.HEIC),
        (samples.dicom(), MediaType.DICOM),
    ],
)
def test_every_allowed_type_is_read_from_its_bytes(content: bytes, expected: MediaType) -> None:
    assert detect_media_type(content) is expected


@pytest.mark.parametrize(
    "content",
    [
        samples.html(),
        samples.zip_archive(),
        b"GIF89a" + b"\x00" * 32,  # a real image type, but not an allowed one
        b"MZ\x90\x00" + b"\x00" * 64,  # a Windows executable
        b"just some text",
        b"",
        b"%PD",  # a truncated signature
    ],
)
def test_anything_else_is_no_allowed_type(content: bytes) -> None:
    assert detect_media_type(content) is None


def test_a_png_renamed_pdf_is_still_a_png() -> None:
    assert detect_media_type(samples.png()) is MediaType.PNG


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("application/pdf", MediaType.PDF),
        ("Image/JPEG; charset=binary", MediaType.JPEG),
        ("image/jpg", MediaType.JPEG),
        ("image/heif", MediaType.HEIC),
        ("application/octet-stream", None),
        ("", None),
        (None, None),
        ("text/html", "text/html"),
    ],
)
def test_declared_types_are_normalised(raw: str | None, expected: MediaType | str | None) -> None:
    assert declared_media_type(raw) == expected


async def test_peek_reads_the_head_and_replays_the_whole_stream() -> None:
    head, stream = await peek(_stream(b"ab", b"", b"cdef", b"ghij"), size=5)
    assert head == b"abcde"
    assert b"".join([chunk async for chunk in stream]) == b"abcdefghij"


async def test_peek_on_a_short_stream_returns_all_of_it() -> None:
    head, stream = await peek(_stream(b"abc"), size=8192)
    assert head == b"abc"
    assert [chunk async for chunk in stream] == [b"abc"]


@pytest.mark.parametrize(
    ("raw", "media_type", "expected"),
    [
        ("Exame de sangue.pdf", MediaType.PDF, "Exame de sangue.pdf"),
        ("FOTO.JPG", MediaType.JPEG, "FOTO.jpg"),
        ("C:\\Users\\ana\\raio-x.dcm", MediaType.DICOM, "raio-x.dcm"),
        ("../../etc/passwd", MediaType.PDF, "passwd.pdf"),
        ("..", MediaType.PDF, "attachment.pdf"),
        ("", MediaType.PNG, "attachment.png"),
        (None, MediaType.WEBP, "attachment.webp"),
        ("invoice.exe", MediaType.PDF, "invoice.exe.pdf"),
        ("photo.html", MediaType.JPEG, "photo.html.jpg"),
        ("gpj.\u202eexe", MediaType.JPEG, "gpj.exe.jpg"),  # RIGHT-TO-LEFT OVERRIDE: "exe.jpg" on screen
        ("CON.pdf", MediaType.PDF, "CON_.pdf"),
        ("ex<am>e:?*.pdf", MediaType.PDF, "exame.pdf"),
        (".htaccess", MediaType.PNG, "htaccess.png"),
        ("a\x00b\r\n.pdf", MediaType.PDF, "ab.pdf"),
        ("Consentimento   informado\t.pdf", MediaType.PDF, "Consentimento informado.pdf"),
        ("Resultado\u0301.pdf", MediaType.PDF, "Resultadó.pdf"),  # NFC: one code point
    ],
)
def test_file_names_are_made_safe(raw: str | None, media_type: MediaType, expected: str) -> None:
    assert sanitise_filename(raw, media_type) == expected


def test_a_long_file_name_is_cut_and_keeps_its_extension() -> None:
    name = sanitise_filename("a" * 500 + ".pdf", MediaType.PDF)
    assert len(name) == FILENAME_MAX
    assert name.endswith(".pdf")
    accented = sanitise_filename("á" * 500 + ".pdf", MediaType.PDF)  # two bytes each in UTF-8
    assert len(accented.encode()) <= FILENAME_MAX_BYTES
    assert accented == "á" * 125 + ".pdf"


def test_descriptions_refuse_control_characters_but_keep_lines() -> None:
    assert parse_description("  Antes do\npeeling  ") == Success("Antes do\npeeling")
    assert isinstance(parse_description("a\x1b[31m"), Failure)
    assert isinstance(parse_description("x" * 1001), Failure)


def test_taken_at_needs_an_offset_and_cannot_be_in_the_future() -> None:
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    brt = timezone(timedelta(hours=-3))
    taken = parse_taken_at(datetime(2026, 3, 2, 9, 3, tzinfo=brt), now).unwrap()
    assert taken == datetime(2026, 3, 2, 12, 3, tzinfo=UTC)
    assert taken is not None
    assert taken.tzinfo is UTC  # stored and answered in UTC, whatever offset it came with
    # 09:10 in São Paulo is 12:10 UTC: ten minutes ahead, past the five allowed for a camera's clock.
    assert isinstance(parse_taken_at(datetime(2026, 3, 2, 9, 10, tzinfo=brt), now), Failure)
    assert isinstance(parse_taken_at(datetime(2026, 3, 2, 9, 0), now), Failure)  # noqa: DTZ001


def test_clinical_categories_need_clinical_permissions() -> None:
    front_desk = permissions_of(frozenset({Role.RECEPTIONIST}))
    assert readable_categories(front_desk) == {AttachmentCategory.CONSENT_FORM, AttachmentCategory.DOCUMENT}
    assert readable_categories(permissions_of(frozenset({Role.NURSE}))) == set(AttachmentCategory)
    assert AttachmentCategory.EXAM_RESULT.write_permission is Permission.CLINICAL_WRITE
    assert AttachmentCategory.CONSENT_FORM.write_permission is Permission.PATIENTS_WRITE
    assert AttachmentCategory.OTHER.is_clinical  # unknown content is treated as health data
    assert MediaType.PDF not in AttachmentCategory.PHOTO_BEFORE.media_types
    assert MediaType.DICOM in AttachmentCategory.EXAM_RESULT.media_types
    assert MediaType.DICOM not in AttachmentCategory.CONSENT_FORM.media_types


def test_blob_keys_are_made_of_a_tenant_and_a_hash_only() -> None:
    tenant = TenantId(uuid4())
    digest = hashlib.sha256(b"x").hexdigest()
    assert str(BlobKey(tenant, digest)) == f"{tenant}/{digest[:2]}/{digest}"
    for bad in ("../" + digest[3:], digest.upper(), digest[:-1], ""):
        with pytest.raises(ValueError, match="sha256"):
            BlobKey(tenant, bad)
    with pytest.raises(ValueError, match="tenant_id"):
        BlobKey("../../etc", digest)  # type: ignore[arg-type]


async def test_memory_store_hashes_dedupes_and_refuses_oversize() -> None:
    store = InMemoryBlobStore(chunk_size=3)
    tenant, other = TenantId(uuid4()), TenantId(uuid4())
    first = await store.put(tenant, _stream(b"hello ", b"world"), max_bytes=11)
    again = await store.put(tenant, _stream(b"hello world"), max_bytes=100)
    elsewhere = await store.put(other, _stream(b"hello world"), max_bytes=100)
    assert first == again
    assert first.sha256 == hashlib.sha256(b"hello world").hexdigest()
    assert first.size == 11
    assert elsewhere.key != first.key  # per tenant: two clinics never share a blob
    assert len(store.blobs) == 2
    with pytest.raises(BlobTooLarge):
        await store.put(tenant, _stream(b"hello ", b"world!"), max_bytes=11)
    assert len(store.blobs) == 2
    reader = await store.open(first.key)
    assert [chunk async for chunk in reader] == [b"hel", b"lo ", b"wor", b"ld"]
    assert await store.delete(first.key)
    assert not await store.exists(first.key)
    assert not await store.delete(first.key)
    with pytest.raises(BlobNotFound):
        await store.open(first.key)
