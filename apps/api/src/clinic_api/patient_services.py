"""The patient use cases the HTTP host serves, built on the same ports as the rest of ``AppServices``."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_core.application.unit_of_work import UnitOfWorkFactory
from clinic_core.patients.guardians import (
    GetMyPatient,
    GetPatientSettings,
    ListDependants,
    ListGuardians,
    ListMyPatients,
    ListPatientAccessLog,
    SetGuardians,
    UpdatePatientSettings,
)
from clinic_core.patients.use_cases import (
    ChangePatientStatus,
    GetPatient,
    ListWeights,
    RecordWeight,
    RegisterPatient,
    SearchPatients,
    UpdatePatient,
)
from clinic_core.shared.clock import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class PatientServices:
    register: RegisterPatient
    get: GetPatient
    update: UpdatePatient
    change_status: ChangePatientStatus
    search: SearchPatients
    record_weight: RecordWeight
    list_weights: ListWeights
    set_guardians: SetGuardians
    list_guardians: ListGuardians
    list_dependants: ListDependants
    list_mine: ListMyPatients
    get_mine: GetMyPatient
    access_log: ListPatientAccessLog
    get_settings: GetPatientSettings
    update_settings: UpdatePatientSettings

    @classmethod
    def from_ports(cls, uow: UnitOfWorkFactory, clock: Clock) -> PatientServices:
        return cls(
            register=RegisterPatient(uow, clock),
            get=GetPatient(uow, clock),
            update=UpdatePatient(uow, clock),
            change_status=ChangePatientStatus(uow, clock),
            search=SearchPatients(uow, clock),
            record_weight=RecordWeight(uow, clock),
            list_weights=ListWeights(uow, clock),
            set_guardians=SetGuardians(uow, clock),
            list_guardians=ListGuardians(uow, clock),
            list_dependants=ListDependants(uow, clock),
            list_mine=ListMyPatients(uow, clock),
            get_mine=GetMyPatient(uow, clock),
            access_log=ListPatientAccessLog(uow),
            get_settings=GetPatientSettings(uow),
            update_settings=UpdatePatientSettings(uow, clock),
        )
