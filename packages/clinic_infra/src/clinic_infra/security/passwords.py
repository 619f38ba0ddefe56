"""Argon2id password hashing (RFC 9106) with the ``cryptography`` package, in PHC string format.

Parameters meet OWASP's minimum for Argon2id (19 MiB, 2 passes, 1 lane). Hashing runs in a worker thread
(the event loop keeps serving) and at most ``concurrency`` at once, so a burst of logins cannot take
19 MiB times the burst of memory.
"""

from __future__ import annotations

import asyncio
import os

from cryptography.exceptions import InvalidKey
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

MEMORY_KIB = 19 * 1024
ITERATIONS = 2
LANES = 1
SALT_BYTES = 16
HASH_BYTES = 32


class Argon2idPasswordHasher:
    def __init__(
        self, *, concurrency: int = 4, memory_kib: int = MEMORY_KIB, iterations: int = ITERATIONS
    ) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._memory_kib, self._iterations = memory_kib, iterations
        self._decoy = self._hash_sync("decoy password for unknown accounts")

    def _hash_sync(self, password: str) -> str:
        kdf = Argon2id(
            salt=os.urandom(SALT_BYTES),
            length=HASH_BYTES,
            iterations=self._iterations,
            lanes=LANES,
            memory_cost=self._memory_kib,
        )
        return kdf.derive_phc_encoded(password.encode())

    @staticmethod
    def _verify_sync(password: str, password_hash: str) -> bool:
        try:
            Argon2id.verify_phc_encoded(password.encode(), password_hash)
        except (InvalidKey, ValueError):
            return False
        return True

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._hash_sync, password)

    async def verify(self, password: str, password_hash: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._verify_sync, password, password_hash)

    async def burn(self, password: str) -> None:
        await self.verify(password, self._decoy)
