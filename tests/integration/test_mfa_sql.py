"""MFA on the real SQL repositories (PostgreSQL as the app role, and SQLite), and the AES-GCM secret box."""

from __future__ import annotations

import asyncio
import base64
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyotp
import pytest
from returns.result import Success

from clinic_api.composition import load_settings
from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope
from clinic_core.identity.mfa import (
    ConfirmMfaEnrolment,
    ConfirmMfaEnrolmentCommand,
    StartMfaEnrolment,
    StartMfaEnrolmentCommand,
)
from clinic_core.identity.mfa_sign_in import VerifyMfa, VerifyMfaCommand
from clinic_core.identity.second_factor import (
    ChallengePurpose,
    InvalidMfaCode,
    MfaChallenge,
    MfaChallengeId,
    MfaChallengeRecord,
)
from clinic_core.identity.sessions import LogIn, LogInCommand
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.ids import new_uuid
from clinic_core.shared.tokens import digest
from clinic_core.testing import FakeAccessTokenIssuer, FakePasswordHasher
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.security.secret_box import (
    AesGcmSecretBox,
    load_or_create_key,
    new_key,
    parse_key,
    secret_box_for,
)
from tests.integration.conftest import PASSWORD, sign_up

NOW = datetime(2026, 11, 22, 12, 0, 5, tzinfo=UTC)


async def test_totp_state_and_recovery_codes_round_trip(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    user_id = clinic.owner.id
    async with sql_uow(Scope(user_id=user_id)) as uow:
        assert await uow.mfa.get(user_id) is not None
        await uow.mfa.set_pending_secret(user_id, "sealed-pending")
        await uow.commit()
    async with sql_uow(Scope(user_id=user_id), read_only=True) as uow:
        pending = await uow.mfa.get(user_id)
    assert pending is not None
    assert (pending.pending_secret, pending.enabled) == ("sealed-pending", False)

    async with sql_uow(Scope(user_id=user_id)) as uow:
        await uow.mfa.enable(user_id, "sealed-secret", NOW, 100)
        await uow.mfa.replace_recovery_codes(user_id, ["a" * 64, "b" * 64], NOW)
        await uow.commit()
    async with sql_uow(Scope(user_id=user_id)) as uow:
        credential = await uow.mfa.get(user_id)
        user = await uow.users.get(user_id)
        assert credential is not None
        assert user is not None
        assert (credential.secret, credential.pending_secret, credential.last_used_step) == (
            "sealed-secret",
            None,
            100,
        )
        assert credential.enabled_at == NOW
        assert user.has_mfa
        assert await uow.mfa.spend_step(user_id, 100) is False
        assert await uow.mfa.spend_step(user_id, 99) is False
        assert await uow.mfa.spend_step(user_id, 101) is True
        assert await uow.mfa.spend_recovery_code(user_id, "a" * 64, NOW) is True
        assert await uow.mfa.spend_recovery_code(user_id, "a" * 64, NOW) is False
        assert await uow.mfa.spend_recovery_code(user_id, "c" * 64, NOW) is False
        assert await uow.mfa.unused_recovery_codes(user_id) == 1
        await uow.mfa.replace_recovery_codes(user_id, ["d" * 64], NOW)
        assert await uow.mfa.spend_recovery_code(user_id, "b" * 64, NOW) is False
        await uow.commit()

    async with sql_uow(Scope(user_id=user_id)) as uow:
        await uow.mfa.disable(user_id)
        await uow.commit()
    async with sql_uow(Scope(user_id=user_id), read_only=True) as uow:
        off = await uow.mfa.get(user_id)
        assert await uow.mfa.unused_recovery_codes(user_id) == 0
        assert off is not None
        assert (off.secret, off.enabled_at, off.last_used_step) == (None, None, None)


async def test_challenges_round_trip_and_spend_attempts_and_use_once(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    challenge = MfaChallengeRecord(
        id=MfaChallengeId(new_uuid()),
        user_id=clinic.owner.id,
        tenant_id=clinic.tenant.id,
        purpose=ChallengePurpose.SIGN_IN,
        token_hash=digest(f"token-{new_uuid()}"),
        created_at=NOW,
        expires_at=NOW + timedelta(minutes=5),
        device_label="Recepção",
        fingerprint_hash="f" * 64,
        ip="203.0.113.9",
    )
    async with sql_uow(Scope()) as uow:
        await uow.mfa_challenges.add(challenge)
        await uow.commit()
    async with sql_uow(Scope()) as uow:
        found = await uow.mfa_challenges.get_by_hash(challenge.token_hash)
        assert found is not None
        assert vars(found) == vars(challenge)
        assert [await uow.mfa_challenges.spend_attempt(challenge.id, 2) for _ in range(3)] == [
            True,
            True,
            False,
        ]
        assert await uow.mfa_challenges.mark_used(challenge.id, NOW) is True
        assert await uow.mfa_challenges.mark_used(challenge.id, NOW) is False
        await uow.commit()
    async with sql_uow(Scope(), read_only=True) as uow:
        used = await uow.mfa_challenges.get_by_hash(challenge.token_hash)
    assert used is not None
    assert (used.attempts, used.used_at) == (2, NOW)


async def test_one_code_sent_with_many_challenges_at_once_opens_one_session(
    sql_uow: SqlUnitOfWorkFactory,
) -> None:
    clinic = await sign_up(sql_uow)
    clock, issuer, box = (
        FixedClock(NOW),
        FakeAccessTokenIssuer(FixedClock(NOW)),
        AesGcmSecretBox(parse_key(new_key())),
    )
    log_in = LogIn(sql_uow, FakePasswordHasher(), issuer, clock)
    first = (await log_in(LogInCommand(clinic.owner.email.value, PASSWORD))).unwrap()
    claims = issuer.verify(getattr(first, "access_token", ""))
    assert claims is not None
    actor = Actor.from_claims(claims)
    started = await StartMfaEnrolment(sql_uow, FakePasswordHasher(), box, clock)(
        StartMfaEnrolmentCommand(actor, PASSWORD)
    )
    secret = started.unwrap().secret
    confirmed = await ConfirmMfaEnrolment(sql_uow, box, clock)(
        ConfirmMfaEnrolmentCommand(actor, pyotp.TOTP(secret).at(NOW))
    )
    assert isinstance(confirmed, Success)
    clock.advance(timedelta(seconds=30))

    challenges = []
    for _ in range(6):
        outcome = (await log_in(LogInCommand(clinic.owner.email.value, PASSWORD))).unwrap()
        assert isinstance(outcome, MfaChallenge)
        challenges.append(outcome.challenge_token)
    code = pyotp.TOTP(secret).at(clock.now())
    verify = VerifyMfa(sql_uow, issuer, box, clock)
    results = await asyncio.gather(*(verify(VerifyMfaCommand(token, code=code)) for token in challenges))
    assert sum(isinstance(r, Success) for r in results) == 1
    assert [r.failure() for r in results if not isinstance(r, Success)] == [InvalidMfaCode()] * 5


async def test_a_step_spent_by_racing_transactions_is_spent_once(sql_uow: SqlUnitOfWorkFactory) -> None:
    clinic = await sign_up(sql_uow)
    user_id = clinic.owner.id
    async with sql_uow(Scope(user_id=user_id)) as uow:
        await uow.mfa.enable(user_id, "sealed", NOW, 10)
        await uow.commit()

    async def spend() -> bool:
        async with sql_uow(Scope(user_id=user_id)) as uow:
            spent = await uow.mfa.spend_step(user_id, 11)
            await uow.commit()
        return spent

    assert sorted(await asyncio.gather(*(spend() for _ in range(8)))) == [False] * 7 + [True]


# --- the AES-GCM box ----------------------------------------------------------------------------------------


def test_the_box_round_trips_and_refuses_another_owner_or_key_or_a_tampered_value() -> None:
    box = AesGcmSecretBox(parse_key(new_key()))
    sealed = box.encrypt(b"JBSWY3DPEHPK3PXP", associated="user-1")
    assert b"JBSWY3DPEHPK3PXP" not in sealed.encode()
    assert sealed != box.encrypt(b"JBSWY3DPEHPK3PXP", associated="user-1")  # a fresh nonce each time
    assert box.decrypt(sealed, associated="user-1") == b"JBSWY3DPEHPK3PXP"
    with pytest.raises(ValueError, match="does not decrypt"):
        box.decrypt(sealed, associated="user-2")
    with pytest.raises(ValueError, match="does not decrypt"):
        AesGcmSecretBox(parse_key(new_key())).decrypt(sealed, associated="user-1")
    # Flip one bit of the ciphertext itself (a base64 character's spare bits would decode the same).
    version, _, encoded = sealed.partition(".")
    raw = bytearray(base64.urlsafe_b64decode(encoded))
    raw[len(raw) // 2] ^= 0x01
    tampered = f"{version}.{base64.urlsafe_b64encode(bytes(raw)).decode()}"
    with pytest.raises(ValueError, match="does not decrypt"):
        box.decrypt(tampered, associated="user-1")


@pytest.mark.parametrize("bad", ["", "not base64 at all!", "c2hvcnQ"])
def test_a_key_that_is_not_32_bytes_of_base64url_is_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="CLINIC_SECRET_KEY"):
        parse_key(bad)


def test_the_generated_key_file_is_private_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "data" / "secret-box.key"
    key = load_or_create_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    assert len(key) == 32


def test_the_composition_uses_the_configured_key_or_one_generated_in_the_data_directory(
    tmp_path: Path,
) -> None:
    configured = new_key()
    box = secret_box_for(load_settings(data_dir=tmp_path, secret_key=configured))
    assert AesGcmSecretBox(parse_key(configured)).decrypt(box.encrypt(b"seed")) == b"seed"
    assert not (tmp_path / "secret-box.key").exists()

    generated = secret_box_for(load_settings(data_dir=tmp_path))
    sealed = generated.encrypt(b"seed", associated="u")
    assert stat.S_IMODE((tmp_path / "secret-box.key").stat().st_mode) == 0o600
    # Another process on the same data directory reads the same key.
    assert secret_box_for(load_settings(data_dir=tmp_path)).decrypt(sealed, associated="u") == b"seed"
