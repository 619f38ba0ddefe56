"""The real security adapters: RS256 access tokens (``JwtAccessTokens``) and Argon2id password hashes.

The token tests forge what an attacker would send (no signature, an HMAC keyed with the public key, a
payload edited after signing) and check each one is refused, not just that a good token passes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import stat
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from clinic_core.identity.ports import AccessClaims
from clinic_core.shared.ids import SessionId, TenantId, UserId, new_uuid
from clinic_core.tenancy.permissions import Role
from clinic_infra.security.jwt import JwtAccessTokens, SigningKey, load_or_create_signing_key
from clinic_infra.security.passwords import Argon2idPasswordHasher

ISSUER = "https://clinic.test"
AUDIENCE = "clinic-api"


def new_signing_key() -> SigningKey:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningKey.from_pem(pem)


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return new_signing_key()


@pytest.fixture(scope="module")
def other_key() -> SigningKey:
    return new_signing_key()


@pytest.fixture
def tokens(signing_key: SigningKey) -> JwtAccessTokens:
    return JwtAccessTokens(signing_key, issuer=ISSUER, audience=AUDIENCE)


def claims(*, issued_at: datetime | None = None, lifetime: timedelta = timedelta(minutes=15)) -> AccessClaims:
    issued = (issued_at or datetime.now(UTC)).replace(microsecond=0)
    return AccessClaims(
        user_id=UserId(new_uuid()),
        tenant_id=TenantId(new_uuid()),
        session_id=SessionId(new_uuid()),
        roles=frozenset({Role.NURSE}),
        unit_ids=frozenset({str(new_uuid())}),
        issued_at=issued,
        expires_at=issued + lifetime,
    )


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def segment(value: dict[str, Any]) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode())


def parts_of(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(payload + "==")),
    )


def signed_rs256(key: SigningKey, payload: dict[str, Any], header: dict[str, Any]) -> str:
    """A token with exactly this header, signed by hand: PyJWT would add ``typ`` and check ``kid``."""
    signing_input = f"{segment({'alg': 'RS256', **header})}.{segment(payload)}"
    signature = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64url(signature)}"


# --- access tokens ---------------------------------------------------------------------------------------


def test_a_token_round_trips(tokens: JwtAccessTokens) -> None:
    issued = claims()
    token = tokens.issue(issued)
    header, _ = parts_of(token)
    assert header["alg"] == "RS256"
    assert header["typ"] == "at+jwt"
    assert tokens.verify(token) == issued


def test_a_previous_key_still_verifies_after_a_rotation(
    signing_key: SigningKey, other_key: SigningKey
) -> None:
    before = JwtAccessTokens(signing_key, issuer=ISSUER, audience=AUDIENCE)
    after = JwtAccessTokens(other_key, issuer=ISSUER, audience=AUDIENCE, previous=(signing_key,))
    issued = claims()
    assert after.verify(before.issue(issued)) == issued
    assert {key["kid"] for key in after.jwks()["keys"]} == {signing_key.kid, other_key.kid}


def test_an_expired_token_is_refused(tokens: JwtAccessTokens) -> None:
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    assert tokens.verify(tokens.issue(claims(issued_at=an_hour_ago))) is None


@pytest.mark.parametrize(
    "minted_by",
    [
        lambda key: JwtAccessTokens(key, issuer=ISSUER, audience="another-api"),
        lambda key: JwtAccessTokens(key, issuer="https://evil.test", audience=AUDIENCE),
    ],
    ids=["wrong audience", "wrong issuer"],
)
def test_a_token_for_another_audience_or_from_another_issuer_is_refused(
    tokens: JwtAccessTokens, signing_key: SigningKey, minted_by: Callable[[SigningKey], JwtAccessTokens]
) -> None:
    assert tokens.verify(minted_by(signing_key).issue(claims())) is None


def test_a_token_signed_by_a_key_not_in_the_ring_is_refused(
    tokens: JwtAccessTokens, other_key: SigningKey
) -> None:
    foreign = JwtAccessTokens(other_key, issuer=ISSUER, audience=AUDIENCE)
    assert tokens.verify(foreign.issue(claims())) is None


@pytest.mark.parametrize("kid", ["unknown-key", "", None, ["a", "list"]])
def test_a_token_whose_kid_is_unknown_or_missing_is_refused(
    tokens: JwtAccessTokens, signing_key: SigningKey, kid: object
) -> None:
    _, payload = parts_of(tokens.issue(claims()))
    header: dict[str, Any] = {"typ": "at+jwt"} if kid is None else {"typ": "at+jwt", "kid": kid}
    assert tokens.verify(signed_rs256(signing_key, payload, header)) is None


def test_an_unsigned_token_is_refused(tokens: JwtAccessTokens, signing_key: SigningKey) -> None:
    _, payload = parts_of(tokens.issue(claims()))
    header = {"alg": "none", "typ": "at+jwt", "kid": signing_key.kid}
    assert tokens.verify(f"{segment(header)}.{segment(payload)}.") is None


def test_an_hmac_keyed_with_the_public_key_is_refused(
    tokens: JwtAccessTokens, signing_key: SigningKey
) -> None:
    """The key-confusion attack: the public key is public, so an HS256 "signature" keyed with its bytes
    verifies if the verifier lets the token choose the algorithm."""
    _, payload = parts_of(tokens.issue(claims()))
    public_pem = signing_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{segment({'alg': 'HS256', 'typ': 'at+jwt', 'kid': signing_key.kid})}.{segment(payload)}"
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert tokens.verify(f"{signing_input}.{b64url(mac)}") is None


@pytest.mark.parametrize("typ", ["JWT", None, "jwt", "at+jwt+evil"])
def test_a_token_that_is_not_typed_as_an_access_token_is_refused(
    tokens: JwtAccessTokens, signing_key: SigningKey, typ: str | None
) -> None:
    """RFC 9068: an ID token or any other JWT signed by the same key must not pass as an access token."""
    _, payload = parts_of(tokens.issue(claims()))
    header: dict[str, Any] = {"kid": signing_key.kid} if typ is None else {"kid": signing_key.kid, "typ": typ}
    assert tokens.verify(signed_rs256(signing_key, payload, header)) is None


@pytest.mark.parametrize("typ", ["at+jwt", "application/at+jwt", "AT+JWT"])
def test_the_access_token_type_is_matched_as_rfc_7515_says(
    tokens: JwtAccessTokens, signing_key: SigningKey, typ: str
) -> None:
    issued = claims()
    _, payload = parts_of(tokens.issue(issued))
    assert tokens.verify(signed_rs256(signing_key, payload, {"kid": signing_key.kid, "typ": typ})) == issued


def test_a_tampered_payload_is_refused(tokens: JwtAccessTokens) -> None:
    header_segment, _, signature = tokens.issue(claims()).split(".")
    _, payload = parts_of(tokens.issue(claims()))
    payload["roles"] = ["owner"]
    assert tokens.verify(f"{header_segment}.{segment(payload)}.{signature}") is None


@pytest.mark.parametrize("garbage", ["", "a.b.c", "not a token", "..."])
def test_garbage_is_refused(tokens: JwtAccessTokens, garbage: str) -> None:
    assert tokens.verify(garbage) is None


# --- the generated signing key ---------------------------------------------------------------------------


def test_the_generated_key_is_private_and_kept(tmp_path: Path) -> None:
    first = load_or_create_signing_key(None, None, tmp_path)
    [key_file] = list(tmp_path.iterdir())
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_or_create_signing_key(None, None, tmp_path).kid == first.kid


def test_two_processes_starting_at_once_end_up_with_one_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both generate a key before either has written one (the barrier makes sure of it); both must end
    up using the one that was written first, and no temporary file may be left behind."""
    both_generating = threading.Barrier(2, timeout=30)
    generate = rsa.generate_private_key

    def generate_in_step(*args: Any, **kwargs: Any) -> rsa.RSAPrivateKey:
        key = generate(*args, **kwargs)
        both_generating.wait()
        return key

    monkeypatch.setattr(rsa, "generate_private_key", generate_in_step)
    with ThreadPoolExecutor(max_workers=2) as pool:
        loaded = list(pool.map(lambda _: load_or_create_signing_key(None, None, tmp_path), range(2)))
    assert loaded[0].kid == loaded[1].kid
    [key_file] = list(tmp_path.iterdir())
    assert SigningKey.from_pem(key_file.read_bytes()).kid == loaded[0].kid
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600


# --- password hashes -------------------------------------------------------------------------------------

OWASP_ARGON2ID = "$argon2id$v=19$m=19456,t=2,p=1$"


@pytest.fixture(scope="module")
def hasher() -> Argon2idPasswordHasher:
    return Argon2idPasswordHasher()


async def test_a_hash_is_argon2id_with_owasp_parameters_in_phc_form(hasher: Argon2idPasswordHasher) -> None:
    password_hash = await hasher.hash("correct horse battery staple")
    assert password_hash.startswith(OWASP_ARGON2ID)
    assert password_hash != await hasher.hash("correct horse battery staple")  # a fresh salt each time


async def test_verify_tells_the_right_password_from_a_wrong_one(hasher: Argon2idPasswordHasher) -> None:
    password_hash = await hasher.hash("tres pratos de trigo")
    assert await hasher.verify("tres pratos de trigo", password_hash) is True
    assert await hasher.verify("tres pratos de trigO", password_hash) is False


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "not a hash",
        OWASP_ARGON2ID,
        OWASP_ARGON2ID + "c2FsdHNhbHRzYWx0$",
        OWASP_ARGON2ID + "c2FsdA$aGFzaA",  # a salt and a hash too short
        "$argon2id$v=19$m=0,t=0,p=0$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "\u00fc$argon2id$",
        "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA",
        "$2b$12$C6UzMDM.H6dfI/f/IKcEeO5UVOnqGP2CNkRxKjTZ6kMbnvoKNYH9G",
    ],
)
async def test_a_garbage_hash_verifies_as_false(hasher: Argon2idPasswordHasher, garbage: str) -> None:
    assert await hasher.verify("whatever", garbage) is False


async def test_burn_runs_argon2_against_a_decoy(
    hasher: Argon2idPasswordHasher, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``burn`` spends what a verify costs when there is no account to verify against. Its duration is
    not asserted (timing asserts are flaky); that it verifies a real Argon2id hash is."""
    verified: list[str] = []
    verify = Argon2idPasswordHasher._verify_sync

    def spy(password: str, password_hash: str) -> bool:
        verified.append(password_hash)
        return verify(password, password_hash)

    monkeypatch.setattr(hasher, "_verify_sync", spy)
    await hasher.burn(secrets.token_urlsafe(16))
    [decoy] = verified
    assert decoy.startswith(OWASP_ARGON2ID)
    assert await hasher.verify(secrets.token_urlsafe(16), decoy) is False
