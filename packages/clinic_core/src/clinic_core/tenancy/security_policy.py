"""A clinic's own security rules: who may read them (members) and change them (the owner)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, NotFound
from clinic_core.tenancy.model import SecurityPolicy, UnverifiedEmailAccess
from clinic_core.tenancy.permissions import Permission


class GetSecurityPolicy:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor) -> Result[SecurityPolicy, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.TENANT_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id), read_only=True) as uow:
            tenant = await uow.tenants.get(actor.tenant_id)
        if tenant is None:
            return Failure(NotFound("tenant", str(actor.tenant_id)))
        return Success(tenant.security)


@dataclass(frozen=True, slots=True)
class UpdateSecurityPolicyCommand:
    actor: Actor
    require_mfa_for_staff: bool | None = None
    """None: unchanged."""
    unverified_email_access: UnverifiedEmailAccess | None = None
    """None: unchanged."""
    context: RequestContext = NO_CONTEXT


class UpdateSecurityPolicy:
    """Change the clinic's security policy. Staff without a second factor are asked to enrol at their next
    sign-in once ``require_mfa_for_staff`` is on; sessions already open are left alone."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: UpdateSecurityPolicyCommand
    ) -> Result[SecurityPolicy, Forbidden | NotFound]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.TENANT_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            tenant = await uow.tenants.get(actor.tenant_id)
            if tenant is None:
                return Failure(NotFound("tenant", str(actor.tenant_id)))
            old = tenant.security
            new = replace(
                old,
                require_mfa_for_staff=old.require_mfa_for_staff
                if cmd.require_mfa_for_staff is None
                else cmd.require_mfa_for_staff,
                unverified_email_access=cmd.unverified_email_access or old.unverified_email_access,
            )
            if new != old:
                tenant.security = new
                await uow.tenants.save(tenant)
                await uow.audit.add(
                    AuditEvent.record(
                        AuditAction.SECURITY_POLICY_CHANGED,
                        tenant_id=tenant.id,
                        at=self._clock.now(),
                        context=cmd.context,
                        actor_user_id=actor.user_id,
                        target=AuditTarget("tenant", str(tenant.id)),
                        old_require_mfa_for_staff=old.require_mfa_for_staff,
                        new_require_mfa_for_staff=new.require_mfa_for_staff,
                        old_unverified_email_access=old.unverified_email_access.value,
                        new_unverified_email_access=new.unverified_email_access.value,
                    )
                )
                await uow.commit()
        return Success(new)
