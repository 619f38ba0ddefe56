"""The privacy use cases the HTTP host serves, and the features that take part in them.

The composition root is where privacy meets the other features: the patients feature's gateway, the export
sections and the anonymisation steps of every feature, listed once here. A new feature (clinical records,
appointments) adds its section and step to the tuples, or an embedder passes extra ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from clinic_core.application.unit_of_work import UnitOfWorkFactory
from clinic_core.attachments.ports import BlobStore
from clinic_core.attachments.privacy import AttachmentsErasure, AttachmentsSection
from clinic_core.clinical.privacy import ClinicalRecordsRetention, ClinicalRecordsSection
from clinic_core.patients.privacy import AccessLogSection, PatientRecordSection, PatientsPrivacyGateway
from clinic_core.privacy.anonymisation import AnonymisePatient
from clinic_core.privacy.consents import ListConsents, RecordConsent
from clinic_core.privacy.export import ConsentsSection, ExportPatientData
from clinic_core.privacy.ports import AnonymisationStep, PatientDataSection
from clinic_core.shared.clock import Clock


def patient_data_sections(*extra: PatientDataSection) -> tuple[PatientDataSection, ...]:
    """The export's sections, in the document's order: the record, consents, the access log, the
    clinical record, attachments, then ``extra``."""
    return (
        PatientRecordSection(),
        ConsentsSection(),
        AccessLogSection(),
        ClinicalRecordsSection(),
        AttachmentsSection(),
        *extra,
    )


def anonymisation_steps(blobs: BlobStore, *extra: AnonymisationStep) -> tuple[AnonymisationStep, ...]:
    """What the features other than patients and consents do when a patient is anonymised."""
    return (ClinicalRecordsRetention(), AttachmentsErasure(blobs), *extra)


@dataclass(frozen=True, slots=True, kw_only=True)
class PrivacyServices:
    record_consent: RecordConsent
    list_consents: ListConsents
    export: ExportPatientData
    anonymise: AnonymisePatient

    @classmethod
    def from_ports(
        cls,
        uow: UnitOfWorkFactory,
        clock: Clock,
        blobs: BlobStore,
        *,
        sections: Sequence[PatientDataSection] | None = None,
        steps: Sequence[AnonymisationStep] | None = None,
    ) -> PrivacyServices:
        gateway = PatientsPrivacyGateway()
        return cls(
            record_consent=RecordConsent(uow, clock, gateway),
            list_consents=ListConsents(uow, clock, gateway),
            export=ExportPatientData(
                uow, clock, gateway, patient_data_sections() if sections is None else sections
            ),
            anonymise=AnonymisePatient(
                uow, clock, gateway, anonymisation_steps(blobs) if steps is None else steps
            ),
        )
