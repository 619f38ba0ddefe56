"""Sign-up: a new clinic business (tenant), its first unit and its owner, in one transaction."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWorkFactory
from clinic_core.identity.account_mail import mail_token
from clinic_core.identity.account_security import TokenPurpose
from clinic_core.identity.model import User
from clinic_core.identity.passwords import check_password
from clinic_core.identity.ports import PasswordHasher
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Conflict, InvalidInput, collect_invalid
from clinic_core.shared.ids import MembershipId, TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.values import Email, PersonName, Slug, TimeZone, has_control_characters
from clinic_core.tenancy.model import (
    Membership,
    Plan,
    SlugTaken,
    Tenant,
    TenantCreated,
    TenantStatus,
    Unit,
    UnitCreated,
)
from clinic_core.tenancy.permissions import Role

SLUG_ATTEMPTS = 3


class EmailAlreadyRegistered(Conflict):
    code = "email_already_registered"

    @property
    def detail(self) -> str:
        return "an account with this email already exists; sign in with it instead"


@dataclass(frozen=True, slots=True)
class SignUpCommand:
    tenant_name: str
    unit_name: str
    timezone: str
    owner_name: str
    email: str
    password: str


@dataclass(frozen=True, slots=True)
class SignedUp:
    tenant: Tenant
    unit: Unit
    owner: User
    membership: Membership


def _business_name(raw: str, field: str) -> Result[str, InvalidInput]:
    name = " ".join(raw.split())
    if not 2 <= len(name) <= 120:
        return Failure(InvalidInput.of(field, "invalid_length", "use 2 to 120 characters"))
    if has_control_characters(name):
        return Failure(InvalidInput.of(field, "invalid_characters", "control characters are not allowed"))
    return Success(name)


class SignUp:
    def __init__(self, uow: UnitOfWorkFactory, hasher: PasswordHasher, clock: Clock) -> None:
        self._uow, self._hasher, self._clock = uow, hasher, clock

    async def __call__(
        self, cmd: SignUpCommand
    ) -> Result[SignedUp, InvalidInput | EmailAlreadyRegistered | SlugTaken]:
        tenant_name = _business_name(cmd.tenant_name, "tenant_name")
        unit_name = _business_name(cmd.unit_name, "unit_name")
        timezone = TimeZone.parse(cmd.timezone)
        owner_name = PersonName.parse(cmd.owner_name, "owner_name")
        email = Email.parse(cmd.email)
        password = check_password(cmd.password, context=(cmd.email, cmd.owner_name, cmd.tenant_name))
        invalid = collect_invalid(tenant_name, unit_name, timezone, owner_name, email, password)
        if invalid is not None:
            return Failure(invalid)
        password_hash = await self._hasher.hash(password.unwrap())

        for _ in range(SLUG_ATTEMPTS):  # a slug can be taken between our look and our insert: look again
            try:
                return await self._create(
                    cmd,
                    tenant_name.unwrap(),
                    unit_name.unwrap(),
                    timezone.unwrap(),
                    owner_name.unwrap(),
                    email.unwrap(),
                    password_hash,
                )
            except UniqueViolation as lost_race:
                if "email" in lost_race.constraint:
                    return Failure(EmailAlreadyRegistered())
        return Failure(SlugTaken("clinics with this name are being created right now; try again"))

    async def _create(
        self,
        cmd: SignUpCommand,
        tenant_name: str,
        unit_name: str,
        timezone: TimeZone,
        owner_name: PersonName,
        email: Email,
        password_hash: str,
    ) -> Result[SignedUp, InvalidInput | EmailAlreadyRegistered]:
        now = self._clock.now()
        tenant_id = TenantId(new_uuid())
        async with self._uow(Scope(tenant_id=tenant_id)) as uow:
            if await uow.users.get_by_email(email) is not None:
                return Failure(EmailAlreadyRegistered())
            base = Slug.from_text(tenant_name)
            taken = await uow.tenants.slugs_like(base)
            # A long base is cut to make room for its suffix, and slugs_like(base) cannot see the cut
            # forms it did not start with: check those one by one.
            slug, n = base, 1
            while slug.value in taken or await uow.tenants.get_by_slug(slug) is not None:
                n += 1
                slug = base.with_suffix(n)
            owner = User(
                id=UserId(new_uuid()),
                email=email,
                name=owner_name,
                password_hash=password_hash,
                created_at=now,
            )
            tenant = Tenant(
                id=tenant_id,
                slug=slug,
                name=tenant_name,
                plan=Plan.TRIAL,
                status=TenantStatus.ACTIVE,
                created_at=now,
            )
            tenant.events.append(
                TenantCreated(tenant_id=tenant_id, occurred_at=now, slug=slug.value, owner_id=owner.id)
            )
            unit = Unit(
                tenant_id=tenant_id, id=UnitId(new_uuid()), name=unit_name, timezone=timezone, created_at=now
            )
            unit.events.append(UnitCreated(tenant_id=tenant_id, occurred_at=now, unit_id=unit.id))
            membership = Membership(
                tenant_id=tenant_id,
                id=MembershipId(new_uuid()),
                user_id=owner.id,
                roles=frozenset({Role.OWNER}),
                unit_ids=frozenset(),
                created_at=now,
            )
            await uow.users.add(owner)
            await uow.tenants.add(tenant)
            await uow.units.add(unit)
            await uow.memberships.add(membership)
            await mail_token(uow, owner, tenant, TokenPurpose.VERIFY_EMAIL, now)
            await uow.commit()
        return Success(SignedUp(tenant, unit, owner, membership))
