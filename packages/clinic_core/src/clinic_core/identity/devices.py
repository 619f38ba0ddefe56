"""A user's sign-in sessions (one per device): see them, end one, end all but this one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.model import AuthSession, RevocationReason
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import SessionId


@dataclass(frozen=True, slots=True)
class DeviceSession:
    session: AuthSession
    current: bool
    """The session the request was made with."""


def revocation_event(
    actor: Actor,
    sessions: list[AuthSession],
    now: datetime,
    context: RequestContext,
    reason: RevocationReason = RevocationReason.REVOKED_BY_USER,
) -> AuditEvent:
    """One audit event for sessions the actor ended, in the clinic the actor is working in (sessions of
    one person span clinics; the trail of the clinic they acted from is where they acted)."""
    target = AuditTarget("session", str(sessions[0].id)) if len(sessions) == 1 else None
    return AuditEvent.record(
        AuditAction.SESSION_REVOKED,
        tenant_id=actor.tenant_id,
        at=now,
        context=context,
        actor_user_id=actor.user_id,
        target=target,
        reason=reason.value,
        sessions=len(sessions),
    )


class ListMySessions:
    """The caller's open sessions, in every clinic, most recently used first."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, actor: Actor) -> Result[list[DeviceSession], NotFound]:
        async with self._uow(Scope(user_id=actor.user_id), read_only=True) as uow:
            sessions = await uow.sessions.active_of(actor.user_id, self._clock.now())
        return Success([DeviceSession(s, s.id == actor.session_id) for s in sessions])


class RevokeMySession:
    """End one of the caller's sessions (a lost phone). Someone else's session is simply not found."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, session_id: SessionId, context: RequestContext = NO_CONTEXT
    ) -> Result[None, NotFound]:
        now = self._clock.now()
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            session = await uow.sessions.get(session_id)
            if session is None or session.user_id != actor.user_id or not session.is_active(now):
                return Failure(NotFound("session", str(session_id)))
            session.revoke(now, RevocationReason.REVOKED_BY_USER)
            await uow.sessions.save(session)
            await uow.audit.add(revocation_event(actor, [session], now, context))
            await uow.commit()
        return Success(None)


class RevokeMyOtherSessions:
    """End every session of the caller but the one making the request. Returns how many ended."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, actor: Actor, context: RequestContext = NO_CONTEXT) -> Result[int, NotFound]:
        now = self._clock.now()
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            others = [s for s in await uow.sessions.active_of(actor.user_id, now) if s.id != actor.session_id]
            for session in others:
                session.revoke(now, RevocationReason.REVOKED_BY_USER)
                await uow.sessions.save(session)
            if others:
                await uow.audit.add(revocation_event(actor, others, now, context))
            await uow.commit()
        return Success(len(others))
