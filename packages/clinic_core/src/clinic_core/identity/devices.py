"""A user's sign-in sessions (one per device): see them, end one, end all but this one."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.identity.model import AuthSession, RevocationReason
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import NotFound
from clinic_core.shared.ids import SessionId


@dataclass(frozen=True, slots=True)
class DeviceSession:
    session: AuthSession
    current: bool
    """The session the request was made with."""


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

    async def __call__(self, actor: Actor, session_id: SessionId) -> Result[None, NotFound]:
        now = self._clock.now()
        async with self._uow(Scope(user_id=actor.user_id)) as uow:
            session = await uow.sessions.get(session_id)
            if session is None or session.user_id != actor.user_id or not session.is_active(now):
                return Failure(NotFound("session", str(session_id)))
            session.revoke(now, RevocationReason.REVOKED_BY_USER)
            await uow.sessions.save(session)
            await uow.commit()
        return Success(None)


class RevokeMyOtherSessions:
    """End every session of the caller but the one making the request. Returns how many ended."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, actor: Actor) -> Result[int, NotFound]:
        now = self._clock.now()
        async with self._uow(Scope(user_id=actor.user_id)) as uow:
            others = [s for s in await uow.sessions.active_of(actor.user_id, now) if s.id != actor.session_id]
            for session in others:
                session.revoke(now, RevocationReason.REVOKED_BY_USER)
                await uow.sessions.save(session)
            await uow.commit()
        return Success(len(others))
