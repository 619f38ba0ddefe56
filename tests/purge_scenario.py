"""The purge's scenario, shared by the in-memory and the SQL tests: records on both sides of every
retention limit, and what must be left of them after a purge."""

from __future__ import annotations

from datetime import datetime, timedelta

from clinic_core.application.idempotency import IdempotencyRecord
from clinic_core.application.unit_of_work import Scope
from clinic_core.identity.account_security import AccountToken, TokenPurpose
from clinic_core.identity.model import AuthSession, RefreshToken
from clinic_core.identity.second_factor import ChallengePurpose, MfaChallengeId, MfaChallengeRecord
from clinic_core.jobs.ports import TenantDirectory
from clinic_core.jobs.purge import PurgeExpired, Retention
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.ids import RefreshTokenId, SessionId, new_uuid
from clinic_core.shared.values import Email
from tests.sweep_world import SweepClinic

DAY = timedelta(days=1)


async def seed(clinic: SweepClinic, now: datetime) -> list[str]:
    """Add records named ``stale-*`` (past their retention) and ``kept-*`` (not yet); handle two outbox
    rows, one 31 days ago and one a day ago. Returns the names of the outbox rows in that order."""
    user, tenant = clinic.actor.user_id, clinic.tenant
    async with clinic.uow(Scope()) as tx:
        for name, expires, used in (
            ("stale-expired", now - 2 * DAY, None),
            ("stale-used", now + DAY, now - 2 * DAY),
            ("kept-just-expired", now - timedelta(hours=1), None),
            ("kept-live", now + DAY, None),
        ):
            await tx.account_tokens.add(
                AccountToken(
                    id=new_uuid(),
                    user_id=user,
                    purpose=TokenPurpose.VERIFY_EMAIL,
                    token_hash=f"token-{name}",
                    email=Email("owner@example.com"),
                    created_at=now - 3 * DAY,
                    expires_at=expires,
                    used_at=used,
                )
            )
            await tx.mfa_challenges.add(
                MfaChallengeRecord(
                    id=MfaChallengeId(new_uuid()),
                    user_id=user,
                    tenant_id=tenant,
                    purpose=ChallengePurpose.SIGN_IN,
                    token_hash=f"challenge-{name}",
                    created_at=now - 3 * DAY,
                    expires_at=expires,
                    used_at=used,
                )
            )
        for name, ended in (("stale-session", now - 31 * DAY), ("kept-session", now - DAY)):
            session_id = SessionId(new_uuid())
            await tx.sessions.add(
                AuthSession(
                    id=session_id,
                    user_id=user,
                    tenant_id=tenant,
                    created_at=ended - timedelta(hours=12),
                    last_used_at=ended - timedelta(hours=1),
                    expires_at=ended,
                )
            )
            await tx.refresh_tokens.add(
                RefreshToken(
                    id=RefreshTokenId(new_uuid()),
                    session_id=session_id,
                    token_hash=f"refresh-{name}",
                    issued_at=ended - timedelta(hours=12),
                    expires_at=ended,
                )
            )
        await tx.commit()
    async with clinic.uow(Scope(tenant_id=tenant)) as tx:
        for key, expires in (("stale-key", now - timedelta(minutes=1)), ("kept-key", now + DAY)):
            await tx.idempotency_keys.claim(
                IdempotencyRecord(
                    tenant_id=tenant, key=key, request_hash="h", created_at=expires - DAY, expires_at=expires
                )
            )
        await tx.commit()
    old, recent = (await clinic.outbox_ids())[:2]
    async with clinic.uow(Scope(tenant_id=tenant)) as tx:
        for message_id, handled in ((old, now - 31 * DAY), (recent, now - DAY)):
            assert await tx.job_receipts.claim(message_id, "test.handler", handled)
            await tx.job_receipts.message_handled(message_id, handled)
        await tx.commit()
    return [str(old), str(recent)]


async def purge(
    clinic: SweepClinic, tenants: TenantDirectory, now: datetime, batch_size: int = 1
) -> dict[str, int]:
    run = PurgeExpired(clinic.uow, tenants, FixedClock(now), Retention(batch_size=batch_size))
    return dict(await run())


async def check_what_is_left(clinic: SweepClinic, outbox: list[str]) -> None:
    async with clinic.uow(Scope(), read_only=True) as tx:
        tokens = {
            name: await tx.account_tokens.get_by_hash(f"token-{name}") is not None
            for name in ("stale-expired", "stale-used", "kept-just-expired", "kept-live")
        }
        challenges = {
            name: await tx.mfa_challenges.get_by_hash(f"challenge-{name}") is not None
            for name in ("stale-expired", "stale-used", "kept-just-expired", "kept-live")
        }
        refresh = {
            name: await tx.refresh_tokens.get_by_hash(f"refresh-{name}") is not None
            for name in ("stale-session", "kept-session")
        }
    kept = {"stale-expired": False, "stale-used": False, "kept-just-expired": True, "kept-live": True}
    assert tokens == kept
    assert challenges == kept
    assert refresh == {"stale-session": False, "kept-session": True}
    async with clinic.uow(Scope(tenant_id=clinic.tenant), read_only=True) as tx:
        assert await tx.idempotency_keys.get("stale-key") is None
        assert await tx.idempotency_keys.get("kept-key") is not None
    left = {str(i) for i in await clinic.outbox_ids()}
    assert outbox[0] not in left, "handled 31 days ago"
    assert outbox[1] in left, "handled a day ago"
