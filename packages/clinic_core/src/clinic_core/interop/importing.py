"""Importing patients and their practitioners from another system's records (``ImportPatients``).

One transaction per record: a record that breaks a rule or conflicts with what is stored is skipped and
reported with where it came from, and nothing of it is written. Re-importing the same records updates what
changed and never duplicates: practitioners are matched by NPI, patients by the identifiers they carry (see
``clinic_core.interop.patient_import``). The import is recorded in the audit trail with its counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from returns.result import Failure, Result, Success

from clinic_core.access.model import API_KEY_USER
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent
from clinic_core.interop.imported import ImportedPatient, ImportedPractitioner
from clinic_core.interop.outcomes import Outcome
from clinic_core.interop.patient_import import PatientImporter
from clinic_core.interop.practitioners import (
    MAX_NPI,
    ExternalPractitioner,
    ExternalPractitionerId,
    npi_problem,
)
from clinic_core.interop.source import (
    FileNotRead,
    NotImported,
    ReadError,
    ReadResource,
    SourceItem,
    SourceLocation,
)
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden
from clinic_core.shared.ids import TenantId, new_uuid
from clinic_core.shared.values import PersonName
from clinic_core.tenancy.permissions import Permission

SOURCE_LABEL_MAX = 40


@dataclass(frozen=True, slots=True)
class ImportIssue:
    """Something an import reports: a record skipped, or a part of one left out (a warning)."""

    location: SourceLocation
    message: str
    code: str
    """What kind of issue, for grouping (``malformed``, ``invalid_phone``, ``identifier_taken``...)."""
    resource_type: str | None = None


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0

    def count(self, outcome: Outcome) -> None:
        setattr(self, outcome.value, getattr(self, outcome.value) + 1)

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged + self.skipped


@dataclass
class ImportSummary:
    patients: Tally = field(default_factory=Tally)
    practitioners: Tally = field(default_factory=Tally)
    skipped: list[ImportIssue] = field(default_factory=list)
    """Records not imported at all: unreadable, or refused by a rule. Each says where and why."""
    warnings: list[ImportIssue] = field(default_factory=list)
    """Records imported without some part of them (an invalid phone, an identifier another patient has)."""
    not_imported: Counter[str] = field(default_factory=Counter)
    """Well-formed records of other resource types, by type (Observation, Organization...)."""
    files_not_read: list[ImportIssue] = field(default_factory=list)

    def skip(self, issue: ImportIssue) -> None:
        self.skipped.append(issue)
        if issue.resource_type == "Patient":
            self.patients.count(Outcome.SKIPPED)
        elif issue.resource_type == "Practitioner":
            self.practitioners.count(Outcome.SKIPPED)


@dataclass(frozen=True, slots=True)
class ImportCommand:
    actor: Actor
    records: Iterable[SourceItem]
    """Read lazily, one at a time: a reader streaming a large file never holds it whole."""
    source: str = "fhir"
    """What the records come from, as a short label: their stable resource ids are kept as the patient
    identifier ``external:<source>``, and practitioners remember it."""
    context: RequestContext = NO_CONTEXT


def operator(tenant_id: TenantId) -> Actor:
    """The actor of an operator's command (``clinic-admin import-fhir``): nobody's account, allowed to write
    patients of that one clinic. Audit events name no person for it; their user agent says the command."""
    return Actor(
        user_id=API_KEY_USER,
        tenant_id=tenant_id,
        roles=frozenset(),
        unit_ids=frozenset(),
        granted=frozenset({Permission.PATIENTS_READ, Permission.PATIENTS_WRITE}),
    )


@dataclass(frozen=True, slots=True)
class _Done:
    outcome: Outcome
    warnings: tuple[tuple[str, str], ...] = ()
    """(code, message) pairs."""
    skipped: tuple[str, str] | None = None


class ImportPatients:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock
        self._patients = PatientImporter(uow, clock)

    async def __call__(self, command: ImportCommand) -> Result[ImportSummary, Forbidden]:
        allowed = command.actor.authorize(Permission.PATIENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        tenant_id = command.actor.tenant_id
        source = command.source[:SOURCE_LABEL_MAX]
        summary = ImportSummary()
        for item in command.records:
            match item:
                case ReadError(location, reason, resource_type):
                    summary.skip(ImportIssue(location, reason, "unreadable", resource_type))
                case NotImported(_, resource_type):
                    summary.not_imported[resource_type] += 1
                case FileNotRead(location, reason):
                    summary.files_not_read.append(ImportIssue(location, reason, "not_fhir"))
                case ReadResource(location, ImportedPractitioner() as practitioner):
                    done = await self._practitioner(tenant_id, source, practitioner)
                    self._report(summary, summary.practitioners, location, "Practitioner", done)
                case ReadResource(location, ImportedPatient() as patient):
                    outcome, warnings, skipped = await self._patients(tenant_id, source, patient)
                    done = _Done(outcome, warnings, skipped)
                    self._report(summary, summary.patients, location, "Patient", done)
        await self._record(command, source, summary)
        return Success(summary)

    @staticmethod
    def _report(
        summary: ImportSummary, tally: Tally, location: SourceLocation, resource_type: str, done: _Done
    ) -> None:
        if done.skipped is not None:
            code, message = done.skipped
            summary.skip(ImportIssue(location, message, code, resource_type))
            return
        tally.count(done.outcome)
        summary.warnings.extend(ImportIssue(location, m, c, resource_type) for c, m in done.warnings)

    async def _practitioner(self, tenant_id: TenantId, source: str, imported: ImportedPractitioner) -> _Done:
        notes = tuple(("source_note", note) for note in imported.notes)
        npi = imported.npi
        if npi is None:
            return _Done(
                Outcome.SKIPPED, skipped=("no_npi", "no NPI identifier: practitioners are matched by NPI")
            )
        if len(npi) > MAX_NPI:
            return _Done(Outcome.SKIPPED, skipped=("invalid_npi", f"NPI {npi[:30]!r} is too long to be one"))
        name = PersonName.parse(imported.name.full)
        if isinstance(name, Failure):
            return _Done(Outcome.SKIPPED, skipped=("invalid_name", f"name: {name.failure().detail}"))
        problem = npi_problem(npi)
        if problem is not None:
            notes += (("invalid_npi", f"NPI {npi}: {problem}; kept as its key all the same"),)
        prefix = " ".join(imported.name.prefix)[:60] or None
        now = self._clock.now()
        try:
            async with self._uow(Scope(tenant_id=tenant_id)) as uow:
                stored = await uow.external_practitioners.get_by_npi(npi)
                wanted = ExternalPractitioner(
                    tenant_id=tenant_id,
                    id=stored.id if stored else ExternalPractitionerId(new_uuid()),
                    npi=npi,
                    name=name.unwrap().value,
                    prefix=prefix,
                    gender=imported.gender,
                    contacts=imported.contacts,
                    address=imported.addresses[0] if imported.addresses else None,
                    source=source,
                    source_id=imported.source_id if imported.stable_id else None,
                    raw=imported.raw,
                    created_at=stored.created_at if stored else now,
                    updated_at=now,
                )
                if stored is None:
                    await uow.external_practitioners.add(wanted)
                    outcome = Outcome.CREATED
                elif stored.described() == wanted.described():
                    return _Done(Outcome.UNCHANGED, notes)
                else:
                    await uow.external_practitioners.save(wanted)
                    outcome = Outcome.UPDATED
                await uow.commit()
        except UniqueViolation:
            return _Done(
                Outcome.SKIPPED,
                skipped=("conflict", f"NPI {npi} was added by another import at the same time: import again"),
            )
        return _Done(outcome, notes)

    async def _record(self, command: ImportCommand, source: str, summary: ImportSummary) -> None:
        actor = command.actor
        counts = {
            f"{kind}_{outcome.value}": getattr(tally, outcome.value)
            for kind, tally in (("patients", summary.patients), ("practitioners", summary.practitioners))
            for outcome in Outcome
        }
        async with self._uow(Scope(tenant_id=actor.tenant_id)) as uow:
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.PATIENTS_IMPORTED,
                    tenant_id=actor.tenant_id,
                    at=self._clock.now(),
                    context=command.context,
                    actor_user_id=None if actor.user_id == API_KEY_USER else actor.user_id,
                    actor_api_key_id=actor.api_key_id,
                    source=source,
                    **counts,
                )
            )
            await uow.commit()
