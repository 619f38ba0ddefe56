"""The SQL unit of work: one connection, one transaction, bound to a tenant scope.

On PostgreSQL the scope is set with ``set_config(..., is_local => true)``, the function form of
``SET LOCAL``: it lasts until the transaction ends, so a pooled connection (or a PgBouncer server
connection in transaction mode) never carries one tenant's id into another's transaction. Row-level
security policies read it; repositories filter by tenant as well, which is all SQLite has.
"""

from __future__ import annotations

import re
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from sqlalchemy import Executable, insert
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from clinic_core.application.unit_of_work import (
    NoTenantInScope,
    ReadOnlyUnitOfWork,
    RecordedEvents,
    Scope,
    UniqueViolation,
    collect_events,
    narrow,
)
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import new_uuid
from clinic_infra.db import tables
from clinic_infra.db.appointment_repositories import (
    SqlAppointmentLocks,
    SqlAppointmentRepository,
    SqlIdempotencyKeys,
    SqlWaitlistRepository,
)
from clinic_infra.db.attachment_repositories import SqlAttachmentRepository
from clinic_infra.db.catalog_repositories import (
    SqlCategoryRepository,
    SqlEquipmentRepository,
    SqlProcedureRepository,
    SqlProfessionalRepository,
    SqlRoomRepository,
)
from clinic_infra.db.clinical_repositories import (
    SqlAnamnesisResponseRepository,
    SqlAnamnesisTemplateRepository,
    SqlClinicalNoteRepository,
    SqlPatientTimeline,
)
from clinic_infra.db.engine import SQLITE_BEGIN_OPTION
from clinic_infra.db.interop_repositories import SqlExternalPractitionerRepository, SqlIdentifierHolders
from clinic_infra.db.job_repositories import SqlJobReceipts
from clinic_infra.db.patient_repositories import (
    SqlGuardianRepository,
    SqlPatientAccessLog,
    SqlPatientRepository,
)
from clinic_infra.db.privacy_repositories import SqlConsentRepository, SqlPrivacySettingsRepository
from clinic_infra.db.purge_repositories import SqlExpiredRecords
from clinic_infra.db.reminder_repositories import SqlAppointmentReminders
from clinic_infra.db.repositories import (
    SqlAccountTokenRepository,
    SqlApiKeyDirectory,
    SqlApiKeyRepository,
    SqlAuditLog,
    SqlInvitationRepository,
    SqlMembershipRepository,
    SqlMfaChallengeRepository,
    SqlMfaRepository,
    SqlPasswordResetRequestLog,
    SqlRefreshTokenRepository,
    SqlRoleRepository,
    SqlSessionRepository,
    SqlSignInFailureRepository,
    SqlTenantRepository,
    SqlUnitRepository,
    SqlUserMembershipDirectory,
    SqlUserRepository,
)
from clinic_infra.db.webhook_repositories import SqlWebhookDeliveryRepository, SqlWebhookEndpointRepository
from clinic_infra.db.working_time_repositories import SqlBusyTimes, SqlWorkingTimeRepository

_SQLITE_UNIQUE = re.compile(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)")


def _constraint_name(error: IntegrityError) -> str | None:
    """The unique constraint behind an IntegrityError, or None when it was another kind of violation."""
    diag = getattr(error.orig, "diag", None)
    if diag is not None:  # psycopg
        sqlstate = getattr(error.orig, "sqlstate", None)
        return str(diag.constraint_name) if sqlstate == "23505" else None
    found = _SQLITE_UNIQUE.search(str(error.orig))
    if found is None:
        return None
    columns = [c.split(".") for c in found.group(1).split(", ")]
    table = tables.metadata.tables.get(columns[0][0])
    wanted = {c[1] for c in columns}
    for constraint in table.constraints if table is not None else ():
        names = {c.name for c in getattr(constraint, "columns", ())}
        if names == wanted and constraint.name:
            return str(constraint.name)
    return f"{columns[0][0]}_{'_'.join(sorted(wanted))}"


class SqlSession:
    """What repositories execute through: the unit of work's connection, with its scope applied."""

    def __init__(self, uow: SqlUnitOfWork) -> None:
        self._uow = uow
        self.seen: list[object] = []

    async def execute(self, statement: Executable, params: Any = None) -> CursorResult[Any]:
        connection = await self._uow.connection()
        try:
            return await connection.execute(statement, params)
        except IntegrityError as error:
            constraint = _constraint_name(error)
            if constraint is None:
                raise
            raise UniqueViolation(constraint) from error

    def tenant_id(self) -> Any:
        if self._uow.scope.tenant_id is None:
            raise NoTenantInScope("this unit of work was opened without a tenant")
        return self._uow.scope.tenant_id

    def saw(self, *aggregates: object) -> None:
        self.seen.extend(aggregates)


class SqlUnitOfWork:
    def __init__(self, engine: AsyncEngine, scope: Scope, *, postgres: bool, read_only: bool = False) -> None:
        self._engine = engine
        self._postgres = postgres
        self._read_only = read_only
        self.scope = scope
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None  # SQLite's; PostgreSQL's is driven by hand
        self._open = False
        self._scope_applied = False

    async def __aenter__(self) -> Self:
        self._connection = await self._engine.connect()
        if self._postgres:
            # Transactions are opened by hand below, so that BEGIN travels with the scope in one round
            # trip (psycopg would otherwise send its own BEGIN first): one round trip less per use case.
            await self._connection.execution_options(isolation_level="AUTOCOMMIT")
        elif self._read_only:
            await self._connection.execution_options(**{SQLITE_BEGIN_OPTION: "BEGIN"})
        self._db = SqlSession(self)
        self.tenants = SqlTenantRepository(self._db)
        self.users = SqlUserRepository(self._db)
        self.sessions = SqlSessionRepository(self._db)
        self.refresh_tokens = SqlRefreshTokenRepository(self._db)
        self.directory = SqlUserMembershipDirectory(self._db)
        self.mfa = SqlMfaRepository(self._db)
        self.mfa_challenges = SqlMfaChallengeRepository(self._db)
        self.account_tokens = SqlAccountTokenRepository(self._db)
        self.reset_requests = SqlPasswordResetRequestLog(self._db)
        self.sign_in_failures = SqlSignInFailureRepository(self._db)
        self._units = SqlUnitRepository(self._db)
        self._memberships = SqlMembershipRepository(self._db)
        self._invitations = SqlInvitationRepository(self._db)
        self._audit = SqlAuditLog(self._db)
        self._roles = SqlRoleRepository(self._db)
        self._api_keys = SqlApiKeyRepository(self._db)
        self._patients = SqlPatientRepository(self._db, postgres=self._postgres)
        self._guardians = SqlGuardianRepository(self._db)
        self._patient_access = SqlPatientAccessLog(self._db)
        self._attachments = SqlAttachmentRepository(self._db)
        self.api_key_directory = SqlApiKeyDirectory(self._db)
        self._anamnesis_templates = SqlAnamnesisTemplateRepository(self._db)
        self._anamnesis_responses = SqlAnamnesisResponseRepository(self._db)
        self._clinical_notes = SqlClinicalNoteRepository(self._db)
        self._timeline = SqlPatientTimeline(self._db)
        self._external_practitioners = SqlExternalPractitionerRepository(self._db)
        self._identifier_holders = SqlIdentifierHolders(self._db)
        self._consents = SqlConsentRepository(self._db)
        self._privacy_settings = SqlPrivacySettingsRepository(self._db)
        self._appointments = SqlAppointmentRepository(self._db)
        self._appointment_locks = SqlAppointmentLocks(self._db, postgres=self._postgres)
        self._idempotency_keys = SqlIdempotencyKeys(self._db)
        self._waitlist = SqlWaitlistRepository(self._db)
        self._appointment_reminders = SqlAppointmentReminders(self._db, postgres=self._postgres)
        self._categories = SqlCategoryRepository(self._db)
        self._procedures = SqlProcedureRepository(self._db)
        self._professionals = SqlProfessionalRepository(self._db)
        self._rooms = SqlRoomRepository(self._db)
        self._equipment = SqlEquipmentRepository(self._db)
        self._working_time = SqlWorkingTimeRepository(self._db)
        self._busy_times = SqlBusyTimes(self._db)
        self._job_receipts = SqlJobReceipts(self._db, postgres=self._postgres)
        self.expired_records = SqlExpiredRecords(self._db)
        self._webhook_endpoints = SqlWebhookEndpointRepository(self._db)
        self._webhook_deliveries = SqlWebhookDeliveryRepository(self._db)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            # A read ends with COMMIT, the same to the database; but psycopg drops every prepared statement
            # of the connection after a ROLLBACK, and reads that rolled back would be planned anew each time.
            await self._end(commit=self._read_only and exc_type is None)
        finally:
            if self._connection is not None:
                await self._connection.close()
            self._connection = self._transaction = None

    async def connection(self) -> AsyncConnection:
        """The connection, inside a transaction that has the current scope applied."""
        if self._connection is None:
            raise RuntimeError("use the unit of work inside 'async with'")
        if not self._open:
            if self._postgres:
                mode = " READ ONLY" if self._read_only else ""
                await self._connection.exec_driver_sql(f"BEGIN{mode}; {self._scope_statement()}")
            else:
                self._transaction = await self._connection.begin()
            self._open = self._scope_applied = True
        elif not self._scope_applied:
            if self._postgres:
                await self._connection.exec_driver_sql(self._scope_statement())
            self._scope_applied = True
        return self._connection

    def _scope_statement(self) -> str:
        """``set_config(..., is_local => true)``: the function form of SET LOCAL, gone when the transaction ends.

        The values are inlined so that the statement can share a round trip with BEGIN (a multi-statement
        query takes no parameters). They are UUIDs, re-parsed here: their text is hex digits and hyphens.
        """
        tenant, user = (str(UUID(str(v))) if v else "" for v in (self.scope.tenant_id, self.scope.user_id))
        return (
            f"SELECT set_config('app.tenant_id', '{tenant}', true), set_config('app.user_id', '{user}', true)"
        )

    async def _end(self, *, commit: bool) -> None:
        if not self._open or self._connection is None:
            return
        self._open = False
        try:
            if self._postgres:
                await self._connection.exec_driver_sql("COMMIT" if commit else "ROLLBACK")
            elif self._transaction is not None and self._transaction.is_active:
                await (self._transaction.commit() if commit else self._transaction.rollback())
        except IntegrityError as error:  # deferred constraints surface at commit
            constraint = _constraint_name(error)
            if constraint is None:
                raise
            raise UniqueViolation(constraint) from error

    def _tenant_repo(self) -> None:
        if self.scope.tenant_id is None:
            raise NoTenantInScope("this unit of work was opened without a tenant")

    @property
    def units(self) -> SqlUnitRepository:
        self._tenant_repo()
        return self._units

    @property
    def memberships(self) -> SqlMembershipRepository:
        self._tenant_repo()
        return self._memberships

    @property
    def invitations(self) -> SqlInvitationRepository:
        self._tenant_repo()
        return self._invitations

    @property
    def audit(self) -> SqlAuditLog:
        self._tenant_repo()
        return self._audit

    @property
    def roles(self) -> SqlRoleRepository:
        self._tenant_repo()
        return self._roles

    @property
    def api_keys(self) -> SqlApiKeyRepository:
        self._tenant_repo()
        return self._api_keys

    @property
    def external_practitioners(self) -> SqlExternalPractitionerRepository:
        self._tenant_repo()
        return self._external_practitioners

    @property
    def identifier_holders(self) -> SqlIdentifierHolders:
        self._tenant_repo()
        return self._identifier_holders

    @property
    def consents(self) -> SqlConsentRepository:
        self._tenant_repo()
        return self._consents

    @property
    def privacy_settings(self) -> SqlPrivacySettingsRepository:
        self._tenant_repo()
        return self._privacy_settings

    @property
    def patients(self) -> SqlPatientRepository:
        self._tenant_repo()
        return self._patients

    @property
    def guardians(self) -> SqlGuardianRepository:
        self._tenant_repo()
        return self._guardians

    @property
    def patient_access(self) -> SqlPatientAccessLog:
        self._tenant_repo()
        return self._patient_access

    @property
    def attachments(self) -> SqlAttachmentRepository:
        self._tenant_repo()
        return self._attachments

    @property
    def anamnesis_templates(self) -> SqlAnamnesisTemplateRepository:
        self._tenant_repo()
        return self._anamnesis_templates

    @property
    def anamnesis_responses(self) -> SqlAnamnesisResponseRepository:
        self._tenant_repo()
        return self._anamnesis_responses

    @property
    def clinical_notes(self) -> SqlClinicalNoteRepository:
        self._tenant_repo()
        return self._clinical_notes

    @property
    def timeline(self) -> SqlPatientTimeline:
        self._tenant_repo()
        return self._timeline

    @property
    def appointments(self) -> SqlAppointmentRepository:
        self._tenant_repo()
        return self._appointments

    @property
    def appointment_locks(self) -> SqlAppointmentLocks:
        self._tenant_repo()
        return self._appointment_locks

    @property
    def appointment_reminders(self) -> SqlAppointmentReminders:
        self._tenant_repo()
        return self._appointment_reminders

    @property
    def waitlist(self) -> SqlWaitlistRepository:
        self._tenant_repo()
        return self._waitlist

    @property
    def idempotency_keys(self) -> SqlIdempotencyKeys:
        self._tenant_repo()
        return self._idempotency_keys

    @property
    def categories(self) -> SqlCategoryRepository:
        self._tenant_repo()
        return self._categories

    @property
    def procedures(self) -> SqlProcedureRepository:
        self._tenant_repo()
        return self._procedures

    @property
    def professionals(self) -> SqlProfessionalRepository:
        self._tenant_repo()
        return self._professionals

    @property
    def rooms(self) -> SqlRoomRepository:
        self._tenant_repo()
        return self._rooms

    @property
    def equipment(self) -> SqlEquipmentRepository:
        self._tenant_repo()
        return self._equipment

    @property
    def working_time(self) -> SqlWorkingTimeRepository:
        self._tenant_repo()
        return self._working_time

    @property
    def busy_times(self) -> SqlBusyTimes:
        self._tenant_repo()
        return self._busy_times

    @property
    def job_receipts(self) -> SqlJobReceipts:
        self._tenant_repo()
        return self._job_receipts

    @property
    def webhook_endpoints(self) -> SqlWebhookEndpointRepository:
        self._tenant_repo()
        return self._webhook_endpoints

    @property
    def webhook_deliveries(self) -> SqlWebhookDeliveryRepository:
        self._tenant_repo()
        return self._webhook_deliveries

    def record(self, *events: DomainEvent) -> None:
        self._db.saw(RecordedEvents(events))

    async def bind(self, scope: Scope) -> None:
        narrowed = narrow(self.scope, scope)
        if narrowed != self.scope:
            self.scope = narrowed
            self._scope_applied = False

    async def commit(self) -> None:
        if self._read_only:
            raise ReadOnlyUnitOfWork("this unit of work was opened read-only")
        events = collect_events(self._db.seen)
        if events:
            await self._db.execute(
                insert(tables.outbox),
                [
                    {
                        "tenant_id": e.tenant_id,
                        "id": new_uuid(),
                        "topic": e.topic,
                        "payload": e.payload(),
                        "occurred_at": e.occurred_at,
                    }
                    for e in events
                ],
            )
        await self._end(commit=True)
        self._db.seen.clear()

    async def rollback(self) -> None:
        await self._end(commit=False)
        self._db.seen.clear()


class SqlUnitOfWorkFactory:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._postgres = engine.dialect.name == "postgresql"

    def __call__(self, scope: Scope, *, read_only: bool = False) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.engine, scope, postgres=self._postgres, read_only=read_only)
