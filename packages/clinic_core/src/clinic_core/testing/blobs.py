"""An in-memory BlobStore with the filesystem adapter's contract: whole or nothing, size checked while
the stream is read, content-addressed per tenant."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterable, AsyncIterator

from clinic_core.attachments.ports import BlobKey, BlobNotFound, BlobTooLarge, StoredBlob
from clinic_core.shared.ids import TenantId

CHUNK = 64 * 1024


class InMemoryBlobReader:
    def __init__(self, data: bytes, chunk_size: int) -> None:
        self._data, self._chunk_size, self._offset = data, chunk_size, 0
        self.closed = False

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self.closed or self._offset >= len(self._data):
            self.closed = True
            raise StopAsyncIteration
        chunk = self._data[self._offset : self._offset + self._chunk_size]
        self._offset += len(chunk)
        return chunk

    async def aclose(self) -> None:
        self.closed = True


class InMemoryBlobStore:
    def __init__(self, *, chunk_size: int = CHUNK) -> None:
        self.blobs: dict[BlobKey, bytes] = {}
        self.readers: list[InMemoryBlobReader] = []
        self._chunk_size = chunk_size

    async def put(self, tenant_id: TenantId, chunks: AsyncIterable[bytes], *, max_bytes: int) -> StoredBlob:
        digest = hashlib.sha256()
        data = bytearray()
        async for chunk in chunks:
            if len(data) + len(chunk) > max_bytes:
                raise BlobTooLarge(max_bytes)
            digest.update(chunk)
            data.extend(chunk)
        key = BlobKey(tenant_id, digest.hexdigest())
        self.blobs[key] = bytes(data)
        return StoredBlob(key=key, size=len(data), sha256=key.sha256)

    async def open(self, key: BlobKey) -> InMemoryBlobReader:
        if key not in self.blobs:
            raise BlobNotFound(key)
        reader = InMemoryBlobReader(self.blobs[key], self._chunk_size)
        self.readers.append(reader)
        return reader

    async def exists(self, key: BlobKey) -> bool:
        return key in self.blobs

    async def delete(self, key: BlobKey) -> bool:
        return self.blobs.pop(key, None) is not None
