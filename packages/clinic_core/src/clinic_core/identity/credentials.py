"""Changing one's password while signed in: the current one proves it is the account's owner."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent
from clinic_core.identity.devices import revocation_event
from clinic_core.identity.model import AuthSession, RevocationReason, User
from clinic_core.identity.passwords import check_password, min_password_length, normalise_password
from clinic_core.identity.ports import PasswordHasher
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import InvalidInput, NotFound


@dataclass(frozen=True, slots=True)
class ChangePasswordCommand:
    actor: Actor
    current_password: str
    new_password: str
    end_other_sessions: bool = True
    """A changed password usually means a worry: end every other session too (not this one)."""
    context: RequestContext = NO_CONTEXT


async def personal_words(uow: UnitOfWork, user: User) -> tuple[str, ...]:
    """What a new password must not be built on: the person's email and name, and the names of their
    clinics. The unit of work must be scoped to the user (their memberships in every clinic)."""
    clinics = [tenant.name for tenant, _ in await uow.directory.memberships_of(user.id)]
    return (user.email.value, user.name.value, *clinics)


class ChangePassword:
    """Returns how many other sessions it ended. A wrong current password is a field error, not a 401:
    the caller's token is fine, the form is not."""

    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def __call__(self, cmd: ChangePasswordCommand) -> Result[int, InvalidInput | NotFound]:
        user_id = cmd.actor.user_id
        async with self._uow(Scope(user_id=user_id), read_only=True) as uow:
            user = await uow.users.get(user_id)
            words = await personal_words(uow, user) if user else ()
        if user is None:
            return Failure(NotFound("user", str(user_id)))
        current = normalise_password(cmd.current_password)
        if not await self._hasher.verify(current, user.password_hash):
            return Failure(
                InvalidInput.of("current_password", "wrong_password", "the current password is wrong")
            )
        new = check_password(
            cmd.new_password,
            context=words,
            field="new_password",
            min_length=min_password_length(user),
        )
        if isinstance(new, Failure):
            return new
        if new.unwrap() == current:
            return Failure(
                InvalidInput.of("new_password", "unchanged", "choose a password you have not used here")
            )
        new_hash = await self._hasher.hash(new.unwrap())  # slow: outside the transaction

        now = self._clock.now()
        async with self._uow(Scope(tenant_id=cmd.actor.tenant_id, user_id=user_id)) as uow:
            user = await uow.users.get(user_id)
            if user is None:
                return Failure(NotFound("user", str(user_id)))
            user.password_hash = new_hash
            await uow.users.save(user)
            ended: list[AuthSession] = []
            if cmd.end_other_sessions:
                for session in await uow.sessions.active_of(user_id, now):
                    if session.id != cmd.actor.session_id:
                        session.revoke(now, RevocationReason.PASSWORD_CHANGED)
                        await uow.sessions.save(session)
                        ended.append(session)
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.PASSWORD_CHANGED,
                    tenant_id=cmd.actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    actor_user_id=user_id,
                    ended_sessions=len(ended),
                )
            )
            if ended:
                await uow.audit.add(
                    revocation_event(cmd.actor, ended, now, cmd.context, RevocationReason.PASSWORD_CHANGED)
                )
            await uow.commit()
        return Success(len(ended))
