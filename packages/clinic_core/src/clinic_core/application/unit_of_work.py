"""The unit of work: one transaction per use case, rolled back unless the use case commits.

A unit of work is opened for a scope: the tenant it works in (its tenant repositories are built for that
tenant only, and on PostgreSQL the transaction is bound to it for row-level security) and, optionally, the
user it acts for (which lets the user read their own memberships across tenants). Events recorded by the
aggregates it saw are written to the outbox in the same transaction as the change that caused them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from clinic_core.access.ports import ApiKeyDirectory, ApiKeyRepository, RoleRepository
from clinic_core.application.idempotency import IdempotencyKeys
from clinic_core.attachments.ports import AttachmentRepository
from clinic_core.audit.ports import AuditLog
from clinic_core.catalog.ports import (
    CategoryRepository,
    EquipmentRepository,
    ProcedureRepository,
    ProfessionalRepository,
    RoomRepository,
)
from clinic_core.clinical.ports import (
    AnamnesisResponseRepository,
    AnamnesisTemplateRepository,
    ClinicalNoteRepository,
    PatientTimeline,
)
from clinic_core.identity.ports import (
    AccountTokenRepository,
    MfaChallengeRepository,
    MfaRepository,
    PasswordResetRequestLog,
    RefreshTokenRepository,
    SessionRepository,
    SignInFailureRepository,
    UserRepository,
)
from clinic_core.interop.ports import IdentifierHolders
from clinic_core.interop.practitioners import ExternalPractitionerRepository
from clinic_core.jobs.ports import ExpiredRecords, JobReceipts
from clinic_core.patients.ports import GuardianRepository, PatientAccessLog, PatientRepository
from clinic_core.privacy.ports import ConsentRepository, PrivacySettingsRepository
from clinic_core.scheduling.booking_ports import AppointmentLocks, AppointmentRepository
from clinic_core.scheduling.reminder_ports import AppointmentReminders
from clinic_core.scheduling.waitlist_model import WaitlistRepository
from clinic_core.scheduling.working_time_ports import BusyTimes, WorkingTimeRepository
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import TenantId, UserId
from clinic_core.tenancy.ports import (
    InvitationRepository,
    MembershipRepository,
    TenantRepository,
    UnitRepository,
    UserMembershipDirectory,
)
from clinic_core.webhooks.ports import WebhookDeliveryRepository, WebhookEndpointRepository


@dataclass(frozen=True, slots=True)
class Scope:
    tenant_id: TenantId | None = None
    user_id: UserId | None = None


def narrow(current: Scope, wanted: Scope) -> Scope:
    """``current`` narrowed by ``wanted``. Raises when ``wanted`` would change a tenant or user already set."""
    for mine, theirs in ((current.tenant_id, wanted.tenant_id), (current.user_id, wanted.user_id)):
        if mine is not None and theirs is not None and mine != theirs:
            raise ValueError("a unit of work's scope can be narrowed, not changed")
    return Scope(current.tenant_id or wanted.tenant_id, current.user_id or wanted.user_id)


class RecordedEvents:
    """Events recorded on a unit of work itself (``UnitOfWork.record``), kept among the aggregates it saw
    so that ``collect_events`` takes them at commit like an aggregate's."""

    def __init__(self, events: Iterable[DomainEvent]) -> None:
        self.events = list(events)


def collect_events(aggregates: Iterable[object]) -> list[DomainEvent]:
    """Take the pending events of every aggregate a unit of work saw (each aggregate once)."""
    events: list[DomainEvent] = []
    for aggregate in {id(a): a for a in aggregates}.values():
        pending = getattr(aggregate, "events", None)
        if pending:
            events.extend(pending)
            pending.clear()
    return events


class UnitOfWork(Protocol):
    @property
    def scope(self) -> Scope: ...

    @property
    def tenants(self) -> TenantRepository: ...

    @property
    def users(self) -> UserRepository: ...

    @property
    def sessions(self) -> SessionRepository: ...

    @property
    def refresh_tokens(self) -> RefreshTokenRepository: ...

    @property
    def directory(self) -> UserMembershipDirectory: ...

    @property
    def mfa(self) -> MfaRepository:
        """TOTP credentials and recovery codes (global, keyed by user)."""
        ...

    @property
    def mfa_challenges(self) -> MfaChallengeRepository: ...

    @property
    def account_tokens(self) -> AccountTokenRepository: ...

    @property
    def reset_requests(self) -> PasswordResetRequestLog: ...

    @property
    def sign_in_failures(self) -> SignInFailureRepository: ...

    @property
    def units(self) -> UnitRepository:
        """The scope's tenant's units. Raises if the unit of work has no tenant (a programming error)."""
        ...

    @property
    def memberships(self) -> MembershipRepository: ...

    @property
    def invitations(self) -> InvitationRepository: ...

    @property
    def audit(self) -> AuditLog:
        """The tenant's audit trail. An event added here commits or rolls back with the change it records;
        a use case that fails but must leave a trace (a wrong password) records it in a unit of work of its
        own."""
        ...

    @property
    def roles(self) -> RoleRepository:
        """The scope's tenant's custom roles."""
        ...

    @property
    def api_keys(self) -> ApiKeyRepository:
        """The scope's tenant's API keys."""
        ...

    @property
    def external_practitioners(self) -> ExternalPractitionerRepository:
        """The scope's tenant's practitioners imported from other systems."""
        ...

    @property
    def identifier_holders(self) -> IdentifierHolders:
        """Which of the scope's tenant's patients holds an identifier (imports match records by them)."""
        ...

    @property
    def patients(self) -> PatientRepository:
        """The scope's tenant's patients (people and animals) and their weights."""
        ...

    @property
    def guardians(self) -> GuardianRepository:
        """Who answers for which patient, in the scope's tenant."""
        ...

    @property
    def patient_access(self) -> PatientAccessLog:
        """The record of who read which patient (append-only)."""
        ...

    @property
    def attachments(self) -> AttachmentRepository:
        """The scope's tenant's attachments (rows; their bytes are in the BlobStore)."""
        ...

    @property
    def api_key_directory(self) -> ApiKeyDirectory:
        """Key prefix to tenant: the lookup that comes before a tenant is in scope."""
        ...

    @property
    def anamnesis_templates(self) -> AnamnesisTemplateRepository:
        """The scope's tenant's anamnesis templates and their published versions."""
        ...

    @property
    def anamnesis_responses(self) -> AnamnesisResponseRepository: ...

    @property
    def clinical_notes(self) -> ClinicalNoteRepository: ...

    @property
    def timeline(self) -> PatientTimeline:
        """The scope's tenant's patient timelines: every use case that records something about a patient
        adds its entry here, in its own transaction (see ``clinic_core.clinical.timeline``)."""
        ...

    @property
    def consents(self) -> ConsentRepository:
        """The scope's tenant's consent decisions (append-only)."""
        ...

    @property
    def privacy_settings(self) -> PrivacySettingsRepository:
        """The scope's tenant's privacy settings (retention)."""
        ...

    @property
    def appointments(self) -> AppointmentRepository:
        """The scope's tenant's appointments, with their items and history."""
        ...

    @property
    def appointment_locks(self) -> AppointmentLocks:
        """The locks that serialise bookings of one professional, room or patient (see
        ``clinic_core.scheduling.booking_ports``)."""
        ...

    @property
    def appointment_reminders(self) -> AppointmentReminders:
        """The scope's tenant's ledger of appointment reminders queued (see ``clinic_core.scheduling.reminders``)."""
        ...

    @property
    def waitlist(self) -> WaitlistRepository:
        """The scope's tenant's waitlist entries and the offers of freed time made to them."""
        ...

    @property
    def idempotency_keys(self) -> IdempotencyKeys:
        """The scope's tenant's ``Idempotency-Key`` records."""
        ...

    @property
    def categories(self) -> CategoryRepository:
        """The scope's tenant's procedure categories."""
        ...

    @property
    def procedures(self) -> ProcedureRepository:
        """The scope's tenant's procedures, with who performs each."""
        ...

    @property
    def professionals(self) -> ProfessionalRepository:
        """The scope's tenant's professionals, with their procedures and units."""
        ...

    @property
    def rooms(self) -> RoomRepository:
        """The rooms of the scope's tenant's units."""
        ...

    @property
    def equipment(self) -> EquipmentRepository:
        """The equipment of the scope's tenant's units."""
        ...

    @property
    def working_time(self) -> WorkingTimeRepository:
        """The scope's tenant's weekly hours, date overrides, time off, unit closures and booking rules."""
        ...

    @property
    def busy_times(self) -> BusyTimes:
        """Busy blocks of the scope's tenant's professionals and rooms (appointments), for availability."""
        ...

    @property
    def job_receipts(self) -> JobReceipts:
        """Which handler finished which of the scope's tenant's outbox messages."""
        ...

    @property
    def expired_records(self) -> ExpiredRecords:
        """What the purge deletes: the global records in any unit of work, the outbox in the scope's
        tenant's only."""
        ...

    @property
    def webhook_endpoints(self) -> WebhookEndpointRepository:
        """The scope's tenant's webhook endpoints."""
        ...

    @property
    def webhook_deliveries(self) -> WebhookDeliveryRepository:
        """The deliveries to the scope's tenant's webhook endpoints."""
        ...

    def record(self, *events: DomainEvent) -> None:
        """Write ``events`` to the outbox at commit, like the events of the aggregates seen: for job
        requests and notices that no aggregate carries (a reminder due, a webhook delivery)."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        """Rolls back whatever was not committed."""
        ...

    async def bind(self, scope: Scope) -> None:
        """Narrow an open unit of work to a tenant and/or user learnt inside it (say, from a token).

        A scope can be narrowed, never changed: binding another tenant than the one already bound raises.
        """
        ...

    async def commit(self) -> None:
        """Write the outbox events of the aggregates seen, then commit.

        Raises ``UniqueViolation`` when a concurrent transaction took a unique value first (a SQL adapter may
        raise it earlier, from the ``add`` or ``save`` that wrote the value).
        """
        ...

    async def rollback(self) -> None: ...


class UnitOfWorkFactory(Protocol):
    def __call__(self, scope: Scope, *, read_only: bool = False) -> UnitOfWork:
        """A unit of work for ``scope``. ``read_only`` promises it will not write, which lets an adapter
        run it alongside writers (SQLite takes no write lock for it)."""
        ...


class UniqueViolation(Exception):
    """A unique constraint refused the write: another transaction took the value first.

    Adapters raise it (with the constraint name) so that use cases can turn a lost race into the same
    expected failure as a check that saw the value.
    """

    def __init__(self, constraint: str) -> None:
        super().__init__(constraint)
        self.constraint = constraint


class ReadOnlyUnitOfWork(RuntimeError):
    """A unit of work opened read-only was asked to commit: a programming error."""


class NoTenantInScope(RuntimeError):
    """A tenant repository was used in a unit of work opened without a tenant."""
