"""Setting up, using and removing a second factor (TOTP) while signed in.

Enrolment is two steps: the first (which needs the password again) stores a new secret as pending and
shows it; the second confirms it with a first code, enables MFA and shows ten recovery codes, once.
Changing the second factor afterwards (new recovery codes, disabling it) needs the password and a code.

Each change of the second factor (confirming an enrolment, new recovery codes, disabling it) ends the
person's other sessions unless told not to (``end_other_sessions``), like a changed password: a change
nobody expected is the moment to shut out whoever else is signed in.

Secrets are kept encrypted with the SecretBox, bound to the user's id; recovery codes only as digests. A
wrong code is recorded in the audit trail (MFA_FAILED) in a unit of work of its own, since the one that
checked it does not commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.ports import SecretBox
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.devices import revocation_event
from clinic_core.identity.model import AuthSession, RevocationReason, User
from clinic_core.identity.passwords import normalise_password
from clinic_core.identity.ports import PasswordHasher
from clinic_core.identity.second_factor import (
    MfaAlreadyEnabled,
    MfaEnrolment,
    MfaNotEnabled,
    MfaStatus,
    NoMfaEnrolment,
    TotpCredential,
)
from clinic_core.identity.totp import (
    DIGITS,
    matching_step,
    new_recovery_codes,
    new_secret,
    normalise_code,
    provisioning_uri,
    recovery_code_digest,
)
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import InvalidInput, NotFound
from clinic_core.shared.ids import TenantId, UserId

TOTP = "totp"
RECOVERY_CODE = "recovery_code"


def _wrong_password() -> InvalidInput:
    return InvalidInput.of("password", "wrong_password", "the password is wrong")


def _wrong_code(field: str = "code") -> InvalidInput:
    return InvalidInput.of(field, "invalid_code", "the code is wrong, expired or already used")


def _secret(box: SecretBox, user_id: UserId, sealed: str) -> str:
    return box.decrypt(sealed, associated=str(user_id)).decode()


async def spend_second_factor(
    uow: UnitOfWork,
    box: SecretBox,
    credential: TotpCredential,
    at: datetime,
    *,
    code: str | None = None,
    recovery_code: str | None = None,
) -> str | None:
    """Spend a TOTP code or a recovery code of an enrolled account: ``"totp"`` or ``"recovery_code"``, or
    None when it is wrong, replayed or already used. Spending is a compare-and-set in ``uow``: it holds
    only if ``uow`` commits, and of two transactions racing with one code only one can."""
    user_id = credential.user_id
    if code and credential.secret is not None:
        secret = _secret(box, user_id, credential.secret)
        step = matching_step(secret, code, at, last_used_step=credential.last_used_step)
        if step is not None and await uow.mfa.spend_step(user_id, step):
            return TOTP
        return None
    if recovery_code and await uow.mfa.spend_recovery_code(
        user_id, recovery_code_digest(user_id, recovery_code), at
    ):
        return RECOVERY_CODE
    return None


def split_code(code: str) -> dict[str, str]:
    """One field that takes either kind of code: six digits are a TOTP code, anything else a recovery code."""
    normalised = normalise_code(code)
    is_totp = normalised.isdigit() and len(normalised) == DIGITS
    return {"code": normalised} if is_totp else {"recovery_code": code}


async def record_mfa_failure(
    uow_factory: UnitOfWorkFactory,
    tenant_id: TenantId,
    user_id: UserId,
    at: datetime,
    context: RequestContext,
    *,
    stage: str,
) -> None:
    """MFA_FAILED in a unit of work of its own: the one that refused the code rolls back."""
    async with uow_factory(Scope(tenant_id=tenant_id, user_id=user_id)) as uow:
        await uow.audit.add(
            AuditEvent.record(
                AuditAction.MFA_FAILED,
                tenant_id=tenant_id,
                at=at,
                context=context,
                actor_user_id=user_id,
                target=AuditTarget("user", str(user_id)),
                stage=stage,
            )
        )
        await uow.commit()


async def begin_enrolment(
    uow: UnitOfWork, box: SecretBox, user: User
) -> Result[MfaEnrolment, MfaAlreadyEnabled]:
    """Store a new pending secret (replacing any earlier one) and return it with its otpauth URI."""
    credential = await uow.mfa.get(user.id)
    if credential is not None and credential.enabled:
        return Failure(MfaAlreadyEnabled())
    secret = new_secret()
    await uow.mfa.set_pending_secret(user.id, box.encrypt(secret.encode(), associated=str(user.id)))
    return Success(MfaEnrolment(secret=secret, otpauth_uri=provisioning_uri(secret, user.email.value)))


async def finish_enrolment(
    uow: UnitOfWork, box: SecretBox, user_id: UserId, code: str, at: datetime
) -> Result[list[str] | None, MfaAlreadyEnabled | NoMfaEnrolment]:
    """Enable MFA if ``code`` matches the pending secret: the new recovery codes, or None for a wrong code."""
    credential = await uow.mfa.get(user_id)
    if credential is not None and credential.enabled:
        return Failure(MfaAlreadyEnabled())
    if credential is None or credential.pending_secret is None:
        return Failure(NoMfaEnrolment())
    secret = _secret(box, user_id, credential.pending_secret)
    step = matching_step(secret, code, at, last_used_step=None)
    if step is None:
        return Success(None)
    await uow.mfa.enable(user_id, credential.pending_secret, at, step)
    codes = new_recovery_codes()
    await uow.mfa.replace_recovery_codes(user_id, [recovery_code_digest(user_id, c) for c in codes], at)
    return Success(codes)


async def end_other_sessions(
    uow: UnitOfWork, actor: Actor, at: datetime, context: RequestContext, reason: RevocationReason
) -> int:
    """End every active session of the actor but the one acting, audited as one event in ``uow``'s
    tenant (the actor's). Returns how many ended."""
    others: list[AuthSession] = [
        s for s in await uow.sessions.active_of(actor.user_id, at) if s.id != actor.session_id
    ]
    for session in others:
        session.revoke(at, reason)
        await uow.sessions.save(session)
    if others:
        await uow.audit.add(revocation_event(actor, others, at, context, reason))
    return len(others)


@dataclass(frozen=True, slots=True)
class NewRecoveryCodes:
    codes: list[str]
    """Shown this once."""
    ended_sessions: int = 0
    """How many other sessions the change ended."""


@dataclass(frozen=True, slots=True)
class StartMfaEnrolmentCommand:
    actor: Actor
    password: str
    """The current password again: a stolen access token alone must not be able to add a second factor."""


@dataclass(frozen=True, slots=True)
class ConfirmMfaEnrolmentCommand:
    actor: Actor
    code: str
    context: RequestContext = NO_CONTEXT
    end_other_sessions: bool = True
    """End every other session of the person (not this one) once the second factor is on."""


@dataclass(frozen=True, slots=True)
class ChangeMfaCommand:
    """Regenerating recovery codes or disabling MFA: the password and a code (TOTP or recovery)."""

    actor: Actor
    password: str
    code: str
    context: RequestContext = NO_CONTEXT
    end_other_sessions: bool = True
    """End every other session of the person (not this one) once the change is made."""


class _Reauthenticating:
    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, box: SecretBox, clock: Clock) -> None:
        self._uow, self._hasher, self._box, self._clock = uow, hasher, box, clock

    async def _user(self, actor: Actor, password: str) -> Result[User, InvalidInput | NotFound]:
        async with self._uow(Scope(user_id=actor.user_id), read_only=True) as uow:
            user = await uow.users.get(actor.user_id)
        if user is None:
            return Failure(NotFound("user", str(actor.user_id)))
        if not await self._hasher.verify(normalise_password(password), user.password_hash):
            return Failure(_wrong_password())
        return Success(user)


class GetMfaStatus:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor) -> Result[MfaStatus, NotFound]:
        async with self._uow(Scope(user_id=actor.user_id), read_only=True) as uow:
            credential = await uow.mfa.get(actor.user_id)
            left = await uow.mfa.unused_recovery_codes(actor.user_id)
        if credential is None:
            return Failure(NotFound("user", str(actor.user_id)))
        return Success(
            MfaStatus(
                enabled=credential.enabled,
                enabled_at=credential.enabled_at,
                enrolment_pending=credential.pending_secret is not None and not credential.enabled,
                recovery_codes_left=left if credential.enabled else 0,
            )
        )


class StartMfaEnrolment(_Reauthenticating):
    """A new TOTP secret to add to an authenticator app; MFA is on only once a code confirms it."""

    async def __call__(
        self, cmd: StartMfaEnrolmentCommand
    ) -> Result[MfaEnrolment, InvalidInput | NotFound | MfaAlreadyEnabled]:
        proven = await self._user(cmd.actor, cmd.password)
        if isinstance(proven, Failure):
            return proven
        async with self._uow(Scope(user_id=cmd.actor.user_id)) as uow:
            started = await begin_enrolment(uow, self._box, proven.unwrap())
            if isinstance(started, Success):
                await uow.commit()
        return started


class ConfirmMfaEnrolment:
    """The first code from the app proves it holds the secret: MFA is on; the recovery codes, shown once."""

    def __init__(self, uow: UnitOfWorkFactory, box: SecretBox, clock: Clock) -> None:
        self._uow, self._box, self._clock = uow, box, clock

    async def __call__(
        self, cmd: ConfirmMfaEnrolmentCommand
    ) -> Result[NewRecoveryCodes, InvalidInput | MfaAlreadyEnabled | NoMfaEnrolment]:
        actor, now = cmd.actor, self._clock.now()
        ended = 0
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            finished = await finish_enrolment(uow, self._box, actor.user_id, cmd.code, now)
            if isinstance(finished, Failure):
                return finished
            codes = finished.unwrap()
            if codes is not None:
                await uow.audit.add(
                    AuditEvent.record(
                        AuditAction.MFA_ENROLLED,
                        tenant_id=actor.tenant_id,
                        at=now,
                        context=cmd.context,
                        actor_user_id=actor.user_id,
                        target=AuditTarget("user", str(actor.user_id)),
                    )
                )
                if cmd.end_other_sessions:
                    ended = await end_other_sessions(
                        uow, actor, now, cmd.context, RevocationReason.MFA_CHANGED
                    )
                await uow.commit()
        if codes is None:
            await record_mfa_failure(
                self._uow, actor.tenant_id, actor.user_id, now, cmd.context, stage="enrolment"
            )
            return Failure(_wrong_code())
        return Success(NewRecoveryCodes(codes, ended))


class _ChangeMfa(_Reauthenticating):
    async def _change(
        self, cmd: ChangeMfaCommand, *, disable: bool
    ) -> Result[NewRecoveryCodes, InvalidInput | NotFound | MfaNotEnabled]:
        proven = await self._user(cmd.actor, cmd.password)
        if isinstance(proven, Failure):
            return proven
        actor, now = cmd.actor, self._clock.now()
        codes: list[str] = []
        ended = 0
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            credential = await uow.mfa.get(actor.user_id)
            if credential is None or not credential.enabled:
                return Failure(MfaNotEnabled())
            factor = await spend_second_factor(uow, self._box, credential, now, **split_code(cmd.code))
            if factor is not None:
                if disable:
                    await uow.mfa.disable(actor.user_id)
                else:
                    codes = new_recovery_codes()
                    digests = [recovery_code_digest(actor.user_id, c) for c in codes]
                    await uow.mfa.replace_recovery_codes(actor.user_id, digests, now)
                actions = [AuditAction.MFA_DISABLED if disable else AuditAction.RECOVERY_CODES_REGENERATED]
                if factor == RECOVERY_CODE:
                    actions.insert(0, AuditAction.RECOVERY_CODE_USED)
                for action in actions:
                    await uow.audit.add(
                        AuditEvent.record(
                            action,
                            tenant_id=actor.tenant_id,
                            at=now,
                            context=cmd.context,
                            actor_user_id=actor.user_id,
                            target=AuditTarget("user", str(actor.user_id)),
                        )
                    )
                if cmd.end_other_sessions:
                    ended = await end_other_sessions(
                        uow, actor, now, cmd.context, RevocationReason.MFA_CHANGED
                    )
                await uow.commit()
        if factor is None:
            stage = "disable" if disable else "regenerate_recovery_codes"
            await record_mfa_failure(self._uow, actor.tenant_id, actor.user_id, now, cmd.context, stage=stage)
            return Failure(_wrong_code())
        return Success(NewRecoveryCodes(codes, ended))


class RegenerateRecoveryCodes(_ChangeMfa):
    """Ten new recovery codes; every earlier one stops working."""

    async def __call__(
        self, cmd: ChangeMfaCommand
    ) -> Result[NewRecoveryCodes, InvalidInput | NotFound | MfaNotEnabled]:
        return await self._change(cmd, disable=False)


class DisableMfa(_ChangeMfa):
    """Turn the second factor off: its secret and recovery codes are forgotten. Returns how many other
    sessions it ended."""

    async def __call__(self, cmd: ChangeMfaCommand) -> Result[int, InvalidInput | NotFound | MfaNotEnabled]:
        return (await self._change(cmd, disable=True)).map(lambda changed: changed.ended_sessions)
