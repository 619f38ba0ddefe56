"""The embedded default's mailer: each message becomes an RFC 5322 ``.eml`` file in a directory, which a
developer opens with any mail client (or reads as text) instead of running an SMTP server."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import os
import tempfile
from pathlib import Path

from clinic_core.notifications.ports import EmailMessage
from clinic_core.shared.clock import Clock, SystemClock
from clinic_core.shared.ids import new_uuid
from clinic_infra.blobs import sync_directory
from clinic_infra.mail.mime import to_mime


class FileMailer:
    """Writes ``<UTC time>-<uuid7>.eml`` (mode 0600): names sort oldest first, so the newest is the last.

    Each file is written whole to a temporary file beside it, fsynced, then renamed into place: a reader
    (or a developer's ``ls``) never sees half a message.
    """

    def __init__(self, directory: Path, sender: str, clock: Clock | None = None) -> None:
        self._directory, self._sender, self._clock = directory, sender, clock or SystemClock()

    @property
    def directory(self) -> Path:
        return self._directory

    async def send(self, message: EmailMessage) -> None:
        at = self._clock.now()
        content = to_mime(message, self._sender, at).as_bytes()
        name = f"{at:%Y%m%dT%H%M%S.%fZ}-{new_uuid()}.eml"
        await asyncio.to_thread(self._write, name, content)

    def _write(self, name: str, content: bytes) -> None:
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=self._directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(descriptor, "wb") as file:  # mkstemp creates it 0600
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, self._directory / name)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        sync_directory(self._directory)


def read_eml(path: Path) -> email.message.EmailMessage:
    """A written message, parsed back (tests, and whoever reads the directory from Python)."""
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def newest_eml(directory: Path) -> Path | None:
    found = sorted(directory.glob("*.eml"))
    return found[-1] if found else None
