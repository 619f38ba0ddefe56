"""The second step of a sign-in: a code completes a challenge, or enrolling completes an enrolment one.

Each attempt is counted before the code is looked at, in a transaction of its own: a challenge takes at
most five codes, right or wrong, and then dies, whatever the timing of parallel guesses. The code, the
challenge and the session are then spent and opened in one transaction, so a code that wins a race
opens exactly one session, and a session is never opened without its code being spent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from returns.result import Failure, Result, Success

from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.ports import SecretBox
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.mfa import (
    RECOVERY_CODE,
    TOTP,
    begin_enrolment,
    finish_enrolment,
    record_mfa_failure,
    spend_second_factor,
)
from clinic_core.identity.model import DEFAULT_SESSION_POLICY, SessionPolicy, TokenPair
from clinic_core.identity.ports import AccessTokenIssuer
from clinic_core.identity.second_factor import (
    MAX_CHALLENGE_ATTEMPTS,
    ChallengePurpose,
    InvalidMfaChallenge,
    InvalidMfaCode,
    MfaAlreadyEnabled,
    MfaChallengeRecord,
    MfaEnrolment,
    NoMfaEnrolment,
)
from clinic_core.identity.sessions import choose_membership
from clinic_core.identity.signing_in import start_session
from clinic_core.shared.clock import Clock
from clinic_core.shared.tokens import digest
from clinic_core.tenancy.model import NoAccessToTenant, Tenant, TenantSuspended


@dataclass(frozen=True, slots=True)
class VerifyMfaCommand:
    challenge_token: str
    code: str | None = None
    """The six digits the authenticator app shows."""
    recovery_code: str | None = None
    """Or one of the recovery codes, when the app is not at hand."""
    context: RequestContext = NO_CONTEXT


@dataclass(frozen=True, slots=True)
class EnrolmentTokenCommand:
    enrolment_token: str


@dataclass(frozen=True, slots=True)
class CompleteEnrolmentCommand:
    enrolment_token: str
    code: str
    context: RequestContext = NO_CONTEXT


@dataclass(frozen=True, slots=True)
class EnrolledSignIn:
    tokens: TokenPair
    recovery_codes: list[str]
    """Shown this once."""


class _ChallengeStep:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        issuer: AccessTokenIssuer,
        box: SecretBox,
        clock: Clock,
        *,
        sessions: SessionPolicy = DEFAULT_SESSION_POLICY,
    ) -> None:
        self._uow, self._issuer, self._box, self._clock = uow, issuer, box, clock
        self._sessions = sessions

    async def _challenge(
        self, token: str, purpose: ChallengePurpose, *, spend_attempt: bool = True
    ) -> Result[MfaChallengeRecord, InvalidMfaChallenge]:
        """The open challenge behind ``token``, with one of its attempts spent (and committed)."""
        now = self._clock.now()
        async with self._uow(Scope()) as uow:
            challenge = await uow.mfa_challenges.get_by_hash(digest(token))
            if challenge is None or challenge.purpose is not purpose or not challenge.is_open(now):
                return Failure(InvalidMfaChallenge())
            if spend_attempt:
                if not await uow.mfa_challenges.spend_attempt(challenge.id, MAX_CHALLENGE_ATTEMPTS):
                    return Failure(InvalidMfaChallenge())
                await uow.commit()
        return Success(challenge)

    async def _open_session(
        self,
        uow: UnitOfWork,
        challenge: MfaChallengeRecord,
        now: datetime,
        context: RequestContext,
        factor: str,
    ) -> Result[tuple[TokenPair, Tenant], InvalidMfaChallenge | NoAccessToTenant | TenantSuspended]:
        """Spend the challenge and open the session its password step chose; the caller commits."""
        if not await uow.mfa_challenges.mark_used(challenge.id, now):
            return Failure(InvalidMfaChallenge())
        chosen = choose_membership(
            await uow.directory.memberships_of(challenge.user_id), None, challenge.tenant_id
        )
        if isinstance(chosen, Failure):
            return chosen
        tenant, membership = chosen.unwrap()
        tokens = await start_session(
            uow,
            self._issuer,
            tenant,
            membership,
            now,
            policy=self._sessions,
            context=context,
            device_label=challenge.device_label,
            fingerprint_hash=challenge.fingerprint_hash,
            second_factor=factor,
        )
        return Success((tokens, tenant))


class VerifyMfa(_ChallengeStep):
    """Complete a sign-in challenge with a TOTP code or a recovery code: the session opens, as a
    password alone would have opened it without a second factor."""

    async def __call__(
        self, cmd: VerifyMfaCommand
    ) -> Result[TokenPair, InvalidMfaChallenge | InvalidMfaCode | NoAccessToTenant | TenantSuspended]:
        if not cmd.code and not cmd.recovery_code:
            return Failure(InvalidMfaCode())
        opened = await self._challenge(cmd.challenge_token, ChallengePurpose.SIGN_IN)
        if isinstance(opened, Failure):
            return opened
        challenge, now = opened.unwrap(), self._clock.now()
        async with self._uow(Scope(user_id=challenge.user_id)) as uow:
            credential = await uow.mfa.get(challenge.user_id)
            if credential is None or not credential.enabled:
                return Failure(InvalidMfaChallenge())  # MFA was turned off since the password step
            factor = await spend_second_factor(
                uow,
                self._box,
                credential,
                now,
                code=cmd.code,
                recovery_code=None if cmd.code else cmd.recovery_code,
            )
            if factor is not None:
                opened_session = await self._open_session(uow, challenge, now, cmd.context, factor)
                if isinstance(opened_session, Failure):
                    return opened_session
                tokens, tenant = opened_session.unwrap()
                if factor == RECOVERY_CODE:
                    await uow.audit.add(
                        AuditEvent.record(
                            AuditAction.RECOVERY_CODE_USED,
                            tenant_id=tenant.id,
                            at=now,
                            context=cmd.context,
                            actor_user_id=challenge.user_id,
                            target=AuditTarget("user", str(challenge.user_id)),
                            left=await uow.mfa.unused_recovery_codes(challenge.user_id),
                        )
                    )
                await uow.commit()
        if factor is None:
            await record_mfa_failure(
                self._uow, challenge.tenant_id, challenge.user_id, now, cmd.context, stage="sign_in"
            )
            return Failure(InvalidMfaCode())
        return Success(tokens)


class StartRequiredEnrolment(_ChallengeStep):
    """With the token a clinic's requirement gave at sign-in: a new secret to add to an authenticator app."""

    async def __call__(
        self, cmd: EnrolmentTokenCommand
    ) -> Result[MfaEnrolment, InvalidMfaChallenge | MfaAlreadyEnabled]:
        opened = await self._challenge(cmd.enrolment_token, ChallengePurpose.ENROLMENT, spend_attempt=False)
        if isinstance(opened, Failure):
            return opened
        challenge = opened.unwrap()
        async with self._uow(Scope(user_id=challenge.user_id)) as uow:
            user = await uow.users.get(challenge.user_id)
            if user is None:
                return Failure(InvalidMfaChallenge())
            started = await begin_enrolment(uow, self._box, user)
            if isinstance(started, Success):
                await uow.commit()
        return started


class CompleteRequiredEnrolment(_ChallengeStep):
    """The first code confirms the enrolment, turns MFA on and completes the sign-in it interrupted."""

    async def __call__(
        self, cmd: CompleteEnrolmentCommand
    ) -> Result[
        EnrolledSignIn,
        InvalidMfaChallenge
        | InvalidMfaCode
        | MfaAlreadyEnabled
        | NoMfaEnrolment
        | NoAccessToTenant
        | TenantSuspended,
    ]:
        opened = await self._challenge(cmd.enrolment_token, ChallengePurpose.ENROLMENT)
        if isinstance(opened, Failure):
            return opened
        challenge, now = opened.unwrap(), self._clock.now()
        async with self._uow(Scope(user_id=challenge.user_id)) as uow:
            finished = await finish_enrolment(uow, self._box, challenge.user_id, cmd.code, now)
            if isinstance(finished, Failure):
                return finished
            codes = finished.unwrap()
            if codes is not None:
                opened_session = await self._open_session(uow, challenge, now, cmd.context, TOTP)
                if isinstance(opened_session, Failure):
                    return opened_session
                tokens, tenant = opened_session.unwrap()
                await uow.audit.add(
                    AuditEvent.record(
                        AuditAction.MFA_ENROLLED,
                        tenant_id=tenant.id,
                        at=now,
                        context=cmd.context,
                        actor_user_id=challenge.user_id,
                        target=AuditTarget("user", str(challenge.user_id)),
                        required_by_tenant=True,
                    )
                )
                await uow.commit()
        if codes is None:
            await record_mfa_failure(
                self._uow,
                challenge.tenant_id,
                challenge.user_id,
                now,
                cmd.context,
                stage="required_enrolment",
            )
            return Failure(InvalidMfaCode())
        return Success(EnrolledSignIn(tokens, codes))
