"""The default BlobStore: files under a directory (``<data_dir>/blobs``), one per blob.

A blob is written to a temporary file in ``<root>/.incoming`` (on the same filesystem as its final
place), flushed and fsynced, then renamed over ``<root>/<tenant_id>/<sha256[:2]>/<sha256>``, and the
directory is fsynced: a reader sees the whole blob or none, and a crash leaves at worst a stray
temporary file (``remove_stale_incoming`` sweeps them). Two identical uploads at once each write their own
temporary file and rename it over the same key, which ends with the same bytes either way.

Keys are ``BlobKey``s (a UUID and hex digits), and every path is checked to resolve inside the root
besides, so no key reaches a file outside it. Directories are created 0700 and files 0600: the bytes are
health data.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import tempfile
import time
from collections.abc import AsyncIterable, AsyncIterator
from pathlib import Path
from typing import BinaryIO
from uuid import UUID

from clinic_core.attachments.ports import BlobKey, BlobNotFound, BlobTooLarge, StoredBlob
from clinic_core.shared.ids import TenantId

log = logging.getLogger(__name__)

READ_CHUNK = 256 * 1024
WRITE_BATCH = 1024 * 1024
"""Incoming chunks (often 64 KiB ASGI messages) are gathered up to this much per write: fewer hops to the
thread pool."""
INCOMING = ".incoming"


class FilesystemBlobReader:
    """Reads a file in chunks on the thread pool; closes it at the end, on ``aclose`` or on error."""

    def __init__(self, handle: BinaryIO, chunk_size: int = READ_CHUNK) -> None:
        self._handle, self._chunk_size = handle, chunk_size

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self

    async def __anext__(self) -> bytes:
        if self._handle.closed:
            raise StopAsyncIteration
        try:
            chunk = await asyncio.to_thread(self._handle.read, self._chunk_size)
        except BaseException:
            self._handle.close()
            raise
        if not chunk:
            self._handle.close()
            raise StopAsyncIteration
        return chunk

    async def aclose(self) -> None:
        self._handle.close()


class FilesystemBlobStore:
    def __init__(self, root: Path) -> None:
        self._root = root.resolve()
        self._incoming = self._root / INCOMING
        self._incoming.mkdir(mode=0o700, parents=True, exist_ok=True)

    @property
    def root(self) -> Path:
        return self._root

    def path_of(self, key: BlobKey) -> Path:
        path = self._root.joinpath(*key.parts)
        if not path.resolve().is_relative_to(self._root):  # a symlink planted inside the root
            raise ValueError(f"blob key {key} resolves outside the store")
        return path

    async def put(self, tenant_id: TenantId, chunks: AsyncIterable[bytes], *, max_bytes: int) -> StoredBlob:
        if not isinstance(tenant_id, UUID):
            raise ValueError("a blob belongs to a tenant (a UUID)")
        fd, temp_name = await asyncio.to_thread(tempfile.mkstemp, dir=self._incoming, prefix="blob-")
        temp = Path(temp_name)
        digest = hashlib.sha256()
        size = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                pending = bytearray()
                async for chunk in chunks:
                    size += len(chunk)
                    if size > max_bytes:
                        raise BlobTooLarge(max_bytes)
                    digest.update(chunk)
                    pending.extend(chunk)
                    if len(pending) >= WRITE_BATCH:
                        await asyncio.to_thread(handle.write, pending)
                        pending = bytearray()
                if pending:
                    await asyncio.to_thread(handle.write, pending)
                await asyncio.to_thread(_flush_and_sync, handle)
            key = BlobKey(tenant_id, digest.hexdigest())
            await asyncio.to_thread(self._place, temp, self.path_of(key))
        except BaseException:
            # Synchronously: this runs on cancellation too, when awaiting the thread pool could be cut short.
            with contextlib.suppress(FileNotFoundError):
                temp.unlink()  # noqa: ASYNC240
            raise
        return StoredBlob(key=key, size=size, sha256=key.sha256)

    @staticmethod
    def _place(temp: Path, final: Path) -> None:
        final.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.replace(temp, final)
        sync_directory(final.parent)

    async def open(self, key: BlobKey) -> FilesystemBlobReader:
        path = self.path_of(key)
        try:
            handle = await asyncio.to_thread(path.open, "rb")
        except FileNotFoundError as missing:
            raise BlobNotFound(key) from missing
        return FilesystemBlobReader(handle)

    async def exists(self, key: BlobKey) -> bool:
        return await asyncio.to_thread(self.path_of(key).is_file)

    async def delete(self, key: BlobKey) -> bool:
        path = self.path_of(key)

        def unlink() -> bool:
            try:
                path.unlink()
            except FileNotFoundError:
                return False
            sync_directory(path.parent)
            return True

        return await asyncio.to_thread(unlink)

    def remove_stale_incoming(self, older_than_seconds: float = 24 * 3600) -> int:
        """Delete temporary files left by a crash (older than any upload still running). Returns how
        many went."""
        cutoff = time.time() - older_than_seconds
        removed = 0
        for entry in self._incoming.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    entry.unlink()
                    removed += 1
        if removed:
            log.warning("removed %d stale temporary blob files", removed, extra={"removed": removed})
        return removed


def _flush_and_sync(handle: BinaryIO) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def sync_directory(directory: Path) -> None:
    """Make a rename or unlink in ``directory`` durable (POSIX; a no-op where directories cannot be
    opened)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
