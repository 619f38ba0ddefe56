"""Removing a member from a clinic: the membership goes, the person's account stays.

Removal takes away every permission the member holds, so it follows the rules of changing their roles:
only an owner removes an owner, the last owner stays, and nobody takes away permissions they do not hold.
"""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.access.model import LastOwner, OwnerOnly, PermissionEscalation
from clinic_core.access.roles import effective_permissions
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.identity.model import RevocationReason
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, NotFound
from clinic_core.shared.ids import MembershipId
from clinic_core.tenancy.model import MemberRemoved, Membership
from clinic_core.tenancy.permissions import Permission, Role


@dataclass(frozen=True, slots=True)
class RemoveMemberCommand:
    actor: Actor
    membership_id: MembershipId
    context: RequestContext = NO_CONTEXT


def _within_reach(actor: Actor, membership: Membership) -> bool:
    """A unit-restricted actor removes only members restricted to units of their own: seeing a colleague
    through one shared unit does not give power over their place in the others."""
    return not actor.unit_ids or (not membership.all_units and membership.unit_ids <= actor.unit_ids)


class RemoveMember:
    """End a person's membership of the clinic, and their sessions in it.

    Their sessions in other clinics and their account are theirs, not this clinic's: they stay.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, cmd: RemoveMemberCommand) -> Result[None, Forbidden | NotFound | LastOwner]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.MEMBERS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        not_found = Failure(NotFound("member", str(cmd.membership_id)))
        now = self._clock.now()
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            membership = await uow.memberships.get(cmd.membership_id)
            if membership is None or not _within_reach(actor, membership):
                return not_found
            if Role.OWNER in membership.roles and Role.OWNER not in actor.roles:
                return Failure(OwnerOnly(permission="members:remove-owner"))
            missing = await effective_permissions(uow, membership) - actor.grantable
            if missing:
                return Failure(PermissionEscalation(permission=", ".join(sorted(missing))))
            if Role.OWNER in membership.roles:
                # Locks the owners' rows (PostgreSQL): of two owners removing each other, the second to
                # get here sees the first's removal and is refused.
                owners = await uow.memberships.ids_with_role(Role.OWNER)
                if owners <= {membership.id}:
                    return Failure(LastOwner())
            if not await uow.memberships.remove(membership.id):
                return not_found  # removed by someone else since we read it
            for session in await uow.sessions.active_of(membership.user_id, now):
                if session.tenant_id == actor.tenant_id:
                    session.revoke(now, RevocationReason.MEMBERSHIP_ENDED)
                    await uow.sessions.save(session)
            membership.events.append(
                MemberRemoved(
                    tenant_id=actor.tenant_id,
                    occurred_at=now,
                    membership_id=membership.id,
                    user_id=membership.user_id,
                )
            )
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.MEMBER_REMOVED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    target=AuditTarget("membership", str(membership.id)),
                    user_id=str(membership.user_id),
                    roles=",".join(sorted(r.value for r in membership.roles)),
                    custom_role_ids=",".join(sorted(map(str, membership.custom_role_ids))),
                    **acted_by(actor),
                )
            )
            await uow.commit()
        return Success(None)
