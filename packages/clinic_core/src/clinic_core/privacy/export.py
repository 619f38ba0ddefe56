"""The patient data export: everything the clinic holds about a patient, as one JSON document.

LGPD art. 18 II (access) and V (portability), art. 19 (a complete declaration, in a readable form). The
document is assembled from sections: privacy's own (consents), the patients feature's (the patient, the
access log), and whatever other features register (clinical records, attachments, appointments...). The
exporter knows none of them; the composition root hands it the tuple.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.privacy.consents import reach_patient
from clinic_core.privacy.model import ConsentRecord, order_history
from clinic_core.privacy.ports import AccessAction, JsonValue, PatientDataSection, PatientGateway
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, NotFound
from clinic_core.tenancy.permissions import Permission

EXPORT_SCHEMA = "https://clinic.dev/schemas/patient-export"
EXPORT_SCHEMA_VERSION = 1
RESERVED_KEYS = frozenset(
    {"schema", "schema_version", "generated_at", "generated_by", "tenant", "patient_id", "anonymised"}
)
"""The document's own keys: no section may take one."""


def check_sections(sections: Iterable[PatientDataSection]) -> tuple[PatientDataSection, ...]:
    """The sections as given, once it is sure their names are distinct and none is a reserved key.
    Raises ValueError otherwise: a wiring mistake, found when the composition root builds the exporter."""
    found = tuple(sections)
    names = [s.name for s in found]
    clashes = sorted({n for n in names if names.count(n) > 1} | (set(names) & RESERVED_KEYS))
    if clashes:
        raise ValueError(f"patient export sections clash on {clashes}")
    return found


def _consent(record: ConsentRecord) -> dict[str, JsonValue]:
    return {
        "id": str(record.id),
        "kind": record.kind,
        "decision": record.decision.value,
        "version": record.version,
        "recorded_at": record.recorded_at.isoformat(),
        "channel": record.channel.value,
        "recorded_by_user_id": str(record.recorded_by_user_id) if record.recorded_by_user_id else None,
        "recorded_by_api_key_id": str(record.recorded_by_api_key_id)
        if record.recorded_by_api_key_id
        else None,
        "ip": record.ip,
        "user_agent": record.user_agent,
        "evidence": record.evidence,
        "redacted_at": record.redacted_at.isoformat() if record.redacted_at else None,
    }


class ConsentsSection:
    """The patient's consents: every decision, oldest first, and the current one of each kind."""

    name = "consents"

    async def collect(self, uow: UnitOfWork, patient_id: UUID) -> JsonValue:
        history = order_history(await uow.consents.of_patient(patient_id))
        return {
            "current": [_consent(r) for r in history.current],
            "history": [_consent(r) for r in history.history],
        }


@dataclass(frozen=True, slots=True)
class PatientExport:
    patient_id: UUID
    generated_at: datetime
    document: dict[str, JsonValue]

    @property
    def filename(self) -> str:
        """``patient-<id>-<UTC date>.json``: ids only, so the name in a downloads folder reveals nobody."""
        return f"patient-{self.patient_id}-{self.generated_at:%Y%m%d}.json"


@dataclass(frozen=True, slots=True)
class ExportPatientDataQuery:
    actor: Actor
    patient_id: UUID
    portal: bool = False
    """The patient or a guardian, for themself, through the portal (LGPD art. 18): ownership decides."""
    context: RequestContext = NO_CONTEXT


class ExportPatientData:
    """The complete JSON document of a patient's data. Staff need ``patients:export``; a patient or
    guardian exports their own in the portal. The export is written to the patient's access log (before
    the sections are read, so the document shows it) and to the audit trail."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        patients: PatientGateway,
        sections: Sequence[PatientDataSection],
    ) -> None:
        self._uow, self._clock, self._patients = uow, clock, patients
        self._sections = check_sections(sections)

    @property
    def sections(self) -> tuple[str, ...]:
        return tuple(s.name for s in self._sections)

    async def __call__(self, query: ExportPatientDataQuery) -> Result[PatientExport, Forbidden | NotFound]:
        actor = query.actor
        if not query.portal:
            allowed = actor.authorize(Permission.PATIENTS_EXPORT)
            if isinstance(allowed, Failure):
                return allowed
        now = self._clock.now()
        async with self._uow(Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)) as uow:
            subject = await reach_patient(self._patients, uow, actor, query.patient_id, portal=query.portal)
            if subject is None:
                return Failure(NotFound("patient", str(query.patient_id)))
            tenant = await uow.tenants.get(actor.tenant_id)
            if tenant is None:
                return Failure(NotFound("tenant", str(actor.tenant_id)))
            await self._patients.record_access(
                uow, actor, subject.id, AccessAction.EXPORT, query.context, now
            )
            document: dict[str, JsonValue] = {
                "schema": EXPORT_SCHEMA,
                "schema_version": EXPORT_SCHEMA_VERSION,
                "generated_at": now.isoformat(),
                "generated_by": {
                    "user_id": None if actor.api_key_id else str(actor.user_id),
                    "api_key_id": str(actor.api_key_id) if actor.api_key_id else None,
                    "through": "portal" if query.portal else "staff",
                },
                "tenant": {"id": str(tenant.id), "name": tenant.name, "slug": tenant.slug.value},
                "patient_id": str(subject.id),
                "anonymised": subject.anonymised,
            }
            for section in self._sections:
                document[section.name] = await section.collect(uow, subject.id)
            await uow.audit.add(
                AuditEvent.record(
                    AuditAction.PATIENT_EXPORTED,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=query.context,
                    target=AuditTarget("patient", str(subject.id)),
                    through="portal" if query.portal else "staff",
                    sections=",".join(self.sections),
                    **acted_by(actor),
                )
            )
            await uow.commit()
        return Success(PatientExport(subject.id, now, document))
