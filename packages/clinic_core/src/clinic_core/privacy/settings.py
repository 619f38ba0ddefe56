"""The clinic's privacy settings: members read them, the owner changes them (like the security policy)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.privacy.model import PrivacySettings, parse_retention_years
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput
from clinic_core.tenancy.permissions import Permission


class GetPrivacySettings:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor) -> Result[PrivacySettings, Forbidden]:
        allowed = actor.authorize(Permission.TENANT_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id), read_only=True) as uow:
            return Success(await uow.privacy_settings.get())


@dataclass(frozen=True, slots=True)
class UpdatePrivacySettingsCommand:
    actor: Actor
    clinical_record_retention_years: int | None = None
    """None: unchanged."""
    context: RequestContext = NO_CONTEXT


class UpdatePrivacySettings:
    """Change how long clinical records are kept after their last entry (the owner: ``tenant:write``).

    A change applies to anonymisations from then on; records an anonymisation already kept keep the window
    it computed (it is in the audit trail and in the ``patient.anonymised`` event).
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: UpdatePrivacySettingsCommand
    ) -> Result[PrivacySettings, Forbidden | InvalidInput]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.TENANT_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        years = None
        if cmd.clinical_record_retention_years is not None:
            parsed = parse_retention_years(cmd.clinical_record_retention_years)
            if isinstance(parsed, Failure):
                return parsed
            years = parsed.unwrap()
        try:
            return Success(await self._update(cmd, years))
        except UniqueViolation:
            # Two first changes at once: the other one created the row. Read it and change it again.
            return Success(await self._update(cmd, years))

    async def _update(self, cmd: UpdatePrivacySettingsCommand, years: int | None) -> PrivacySettings:
        actor, now = cmd.actor, self._clock.now()
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            old = await uow.privacy_settings.get()
            if years is None or years == old.clinical_record_retention_years:
                return old
            new = replace(old, clinical_record_retention_years=years, updated_at=now)
            await uow.privacy_settings.save(new)
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.PRIVACY_SETTINGS_CHANGED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    target=AuditTarget("tenant", str(actor.tenant_id)),
                    old_clinical_record_retention_years=old.clinical_record_retention_years,
                    new_clinical_record_retention_years=new.clinical_record_retention_years,
                    **acted_by(actor),
                )
            )
            await uow.commit()
        return new
