"""AES-256-GCM for the secrets the product must read back (TOTP seeds), keyed by ``CLINIC_SECRET_KEY``.

A sealed value is ``v1.`` and the base64url of a random 96-bit nonce followed by the ciphertext and its
tag. The owner (``associated``, say a user id) is authenticated data: a value copied onto another row
does not decrypt there. Without a configured key, the embedded defaults generate one at first start and
keep it in the data directory, mode 0600, published atomically so that racing processes share one key.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from clinic_infra.security.jwt import publish
from clinic_infra.settings import Settings

KEY_BYTES = 32
NONCE_BYTES = 12
_VERSION = "v1."


def parse_key(encoded: str) -> bytes:
    """The key written as base64url (padding optional); ValueError unless it is 32 bytes."""
    text = encoded.strip()
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as error:
        raise ValueError("CLINIC_SECRET_KEY must be base64url") from error
    if len(key) != KEY_BYTES:
        raise ValueError(f"CLINIC_SECRET_KEY must encode {KEY_BYTES} bytes, not {len(key)}")
    return key


def new_key() -> str:
    return base64.urlsafe_b64encode(os.urandom(KEY_BYTES)).decode().rstrip("=")


def load_or_create_key(path: Path) -> bytes:
    """The key in ``path``, generated and written (0600) first if there is none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        publish(path, (new_key() + "\n").encode())  # another process may win: everyone reads the file
    return parse_key(path.read_text())


class AesGcmSecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError(f"the key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(key)

    def encrypt(self, plaintext: bytes, *, associated: str = "") -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = nonce + self._aead.encrypt(nonce, plaintext, associated.encode())
        return _VERSION + base64.urlsafe_b64encode(sealed).decode()

    def decrypt(self, sealed: str, *, associated: str = "") -> bytes:
        if not sealed.startswith(_VERSION):
            raise ValueError("not a value this box sealed")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(_VERSION) :].encode())
            return self._aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], associated.encode())
        except (binascii.Error, ValueError, InvalidTag) as error:
            raise ValueError("the value does not decrypt with this key for this owner") from error


def secret_box_for(settings: Settings) -> AesGcmSecretBox:
    """The box for stored secrets (TOTP seeds, webhook signing secrets): CLINIC_SECRET_KEY, or a key
    generated once in the data directory. The API and the worker must open the same box."""
    if settings.secret_key is not None:
        return AesGcmSecretBox(parse_key(settings.secret_key.get_secret_value()))
    return AesGcmSecretBox(load_or_create_key(settings.data_dir / "secret-box.key"))
