"""The filesystem blob store on a real directory: whole or nothing, hashes, limits, races, paths."""

from __future__ import annotations

import asyncio
import hashlib
import os
import stat
import time
from collections.abc import AsyncIterator
from pathlib import Path
from uuid import uuid4

import pytest

from clinic_core.attachments.ports import BlobKey, BlobNotFound, BlobTooLarge
from clinic_core.shared.ids import TenantId
from clinic_infra.blobs import INCOMING, FilesystemBlobStore

TENANT = TenantId(uuid4())


async def _chunks(data: bytes, size: int = 64 * 1024) -> AsyncIterator[bytes]:
    for start in range(0, len(data), size):
        await asyncio.sleep(0)  # let concurrent uploads interleave, as requests do
        yield data[start : start + size]


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


@pytest.fixture
def store(tmp_path: Path) -> FilesystemBlobStore:
    return FilesystemBlobStore(tmp_path / "blobs")


async def test_a_blob_is_stored_under_its_hash_with_private_modes(store: FilesystemBlobStore) -> None:
    data = os.urandom(3 * 1024 * 1024 + 17)  # more than one write batch
    stored = await store.put(TENANT, _chunks(data), max_bytes=len(data))
    digest = hashlib.sha256(data).hexdigest()
    assert (stored.size, stored.sha256) == (len(data), digest)
    path = store.root / str(TENANT) / digest[:2] / digest
    assert store.path_of(stored.key) == path
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert _files(store.root) == [path]  # no temporary file left behind
    reader = await store.open(stored.key)
    assert b"".join([chunk async for chunk in reader]) == data


async def test_an_oversize_stream_leaves_no_file(store: FilesystemBlobStore) -> None:
    data = os.urandom(200_000)
    with pytest.raises(BlobTooLarge):
        await store.put(TENANT, _chunks(data, 50_000), max_bytes=len(data) - 1)
    assert _files(store.root) == []
    exact = await store.put(TENANT, _chunks(data, 50_000), max_bytes=len(data))  # the limit itself is fine
    assert exact.size == len(data)


async def test_a_stream_that_fails_midway_leaves_no_file(store: FilesystemBlobStore) -> None:
    async def broken() -> AsyncIterator[bytes]:
        yield b"%PDF-1.7 first part"
        raise ConnectionResetError("client went away")

    with pytest.raises(ConnectionResetError):
        await store.put(TENANT, broken(), max_bytes=1_000)
    assert _files(store.root) == []


async def test_a_cancelled_upload_leaves_no_file_and_no_partial_blob_is_ever_visible(
    store: FilesystemBlobStore,
) -> None:
    data = b"x" * 100_000
    digest = hashlib.sha256(data).hexdigest()
    key = BlobKey(TENANT, digest)
    halfway = asyncio.Event()
    never = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield data[:50_000]
        halfway.set()
        await never.wait()
        yield data[50_000:]

    task = asyncio.create_task(store.put(TENANT, slow(), max_bytes=len(data)))
    await halfway.wait()
    await asyncio.sleep(0.01)
    assert not await store.exists(key)
    assert [p.parent.name for p in _files(store.root)] == [INCOMING]  # only the temporary file
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert _files(store.root) == []


async def test_identical_concurrent_uploads_end_as_one_whole_blob(store: FilesystemBlobStore) -> None:
    data = os.urandom(1_500_000)
    results = await asyncio.gather(
        *(store.put(TENANT, _chunks(data, 32 * 1024), max_bytes=len(data)) for _ in range(8))
    )
    assert len({r.key for r in results}) == 1
    files = _files(store.root)
    assert files == [store.path_of(results[0].key)]
    assert files[0].read_bytes() == data


async def test_tenants_do_not_share_blobs_and_delete_removes_one(store: FilesystemBlobStore) -> None:
    other = TenantId(uuid4())
    mine = await store.put(TENANT, _chunks(b"same bytes"), max_bytes=100)
    theirs = await store.put(other, _chunks(b"same bytes"), max_bytes=100)
    assert mine.sha256 == theirs.sha256
    assert mine.key != theirs.key
    assert await store.delete(mine.key)
    assert not await store.exists(mine.key)
    assert await store.exists(theirs.key)
    assert not await store.delete(mine.key)
    with pytest.raises(BlobNotFound):
        await store.open(mine.key)


async def test_a_reader_closed_early_releases_the_file(store: FilesystemBlobStore) -> None:
    stored = await store.put(TENANT, _chunks(b"a" * 600_000), max_bytes=10**6)
    reader = await store.open(stored.key)
    first = await anext(reader)
    assert len(first) == 256 * 1024
    await reader.aclose()
    assert [chunk async for chunk in reader] == []


async def test_a_symlink_planted_in_the_store_does_not_lead_outside(
    store: FilesystemBlobStore, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = TenantId(uuid4())
    (store.root / str(victim)).symlink_to(outside, target_is_directory=True)
    with pytest.raises(ValueError, match="outside the store"):
        await store.put(victim, _chunks(b"secret"), max_bytes=100)
    assert list(outside.iterdir()) == []
    assert _files(store.root) == []


async def test_a_tenant_id_that_is_not_a_uuid_is_refused(store: FilesystemBlobStore) -> None:
    with pytest.raises(ValueError, match="UUID"):
        await store.put("../x", _chunks(b"data"), max_bytes=100)  # type: ignore[arg-type]
    assert _files(store.root) == []


def test_stale_temporary_files_are_swept_and_fresh_ones_kept(store: FilesystemBlobStore) -> None:
    stale = store.root / INCOMING / "blob-stale"
    fresh = store.root / INCOMING / "blob-fresh"
    stale.write_bytes(b"left by a crash")
    fresh.write_bytes(b"an upload in progress")
    old = time.time() - 2 * 24 * 3600
    os.utime(stale, (old, old))
    assert store.remove_stale_incoming() == 1
    assert not stale.exists()
    assert fresh.exists()
