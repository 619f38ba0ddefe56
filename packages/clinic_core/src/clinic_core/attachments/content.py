"""What an upload is: its media type read from its own first bytes, checked against an allow-list.

The client's ``Content-Type`` is a claim, the content is the fact: the type is detected from the magic
bytes (``filetype``, a pure-Python matcher table), and a declared type that disagrees is refused rather
than believed. ``filetype`` is used rather than a hand-kept table or ``puremagic`` because it recognises
every type of the allow-list, HEIC by its ISO-BMFF brands and DICOM by the ``DICM`` marker after the
128-byte preamble included, where ``puremagic`` (1.x, the line that supports Python 3.11) finds no DICOM
and errs on HEIF files branded ``mif1``.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, AsyncIterator
from enum import StrEnum

import filetype

SNIFF_BYTES = 8192
"""How much of the content the detection reads (``filetype`` looks at no more than this)."""


class MediaType(StrEnum):
    """The media types an attachment may have.

    PDF for reports and signed forms; JPEG, PNG, WebP and HEIC (the default of phone cameras) for photos
    and scans; DICOM (Part 10 files) for imaging exams such as radiographs. Anything else (office
    documents, archives, HTML, SVG, executables) is refused: those are the files that carry macros,
    scripts or other files inside them.
    """

    PDF = "application/pdf"
    JPEG = "image/jpeg"
    PNG = "image/png"
    WEBP = "image/webp"
    HEIC = "image/heic"
    DICOM = "application/dicom"

    @property
    def is_image(self) -> bool:
        """A picture a person looks at (a photo, a scan); DICOM is an imaging exam, not a photo."""
        return self in IMAGE_TYPES

    @property
    def extensions(self) -> tuple[str, ...]:
        """File name extensions for this type, the usual one first."""
        return _EXTENSIONS[self]


IMAGE_TYPES = frozenset({MediaType.JPEG, MediaType.PNG, MediaType.WEBP, MediaType.HEIC})

_EXTENSIONS: dict[MediaType, tuple[str, ...]] = {
    MediaType.PDF: ("pdf",),
    MediaType.JPEG: ("jpg", "jpeg", "jpe", "jfif"),
    MediaType.PNG: ("png",),
    MediaType.WEBP: ("webp",),
    MediaType.HEIC: ("heic", "heif"),
    MediaType.DICOM: ("dcm", "dicom"),
}

_ALIASES: dict[str, MediaType] = {
    "image/jpg": MediaType.JPEG,
    "image/pjpeg": MediaType.JPEG,
    "image/x-png": MediaType.PNG,
    "image/heif": MediaType.HEIC,
    "application/x-pdf": MediaType.PDF,
    "application/dicom+dcm": MediaType.DICOM,
}

UNDECLARED = frozenset({"", "application/octet-stream", "binary/octet-stream"})
"""What a client sends when it does not know the type: the content decides alone."""


def detect_media_type(head: bytes) -> MediaType | None:
    """The allowed media type whose signature ``head`` (the first bytes of the content) carries, or None
    when it carries none of them, or carries another type's."""
    guessed = filetype.guess_mime(bytearray(head[:SNIFF_BYTES])) if head else None
    if guessed is None:
        return None
    try:
        return MediaType(guessed)
    except ValueError:
        return None


def declared_media_type(raw: str | None) -> MediaType | str | None:
    """The type a client declared, normalised: an allowed MediaType (aliases such as ``image/jpg``
    resolved), the declared string itself when it names another type, or None when it declares nothing
    useful (absent, ``application/octet-stream``)."""
    essence = (raw or "").split(";", 1)[0].strip().lower()
    if essence in UNDECLARED:
        return None
    if essence in _ALIASES:
        return _ALIASES[essence]
    try:
        return MediaType(essence)
    except ValueError:
        return essence


async def peek(chunks: AsyncIterable[bytes], size: int = SNIFF_BYTES) -> tuple[bytes, AsyncIterator[bytes]]:
    """The first ``size`` bytes of a stream (fewer if it is shorter), and the whole stream again, those
    bytes included, to be consumed once."""
    iterator = aiter(chunks)
    head = bytearray()
    read: list[bytes] = []
    while len(head) < size:
        try:
            chunk = await anext(iterator)
        except StopAsyncIteration:
            break
        if chunk:
            read.append(chunk)
            head.extend(chunk)

    async def replay() -> AsyncIterator[bytes]:
        for chunk in read:
            yield chunk
        async for chunk in iterator:
            if chunk:
                yield chunk

    return bytes(head[:size]), replay()
