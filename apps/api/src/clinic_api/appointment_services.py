"""The booking use cases the HTTP host serves, built on the same ports as the rest of ``AppServices``."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_core.application.idempotent_requests import Idempotency
from clinic_core.application.unit_of_work import UnitOfWorkFactory
from clinic_core.scheduling.booking import (
    BookAppointment,
    BookingPolicy,
    CancelAppointment,
    ChangeAppointmentStatus,
    RescheduleAppointment,
)
from clinic_core.scheduling.views import (
    ClinicDashboard,
    GetAppointment,
    ListAppointments,
    PatientAppointments,
    ProfessionalAgenda,
    UnitCalendar,
)
from clinic_core.scheduling.waitlist import AnswerOffer, JoinWaitlist, ListWaitlist, RemoveFromWaitlist
from clinic_core.shared.clock import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class AppointmentServices:
    book: BookAppointment
    change_status: ChangeAppointmentStatus
    cancel: CancelAppointment
    reschedule: RescheduleAppointment
    get: GetAppointment
    list: ListAppointments
    agenda: ProfessionalAgenda
    calendar: UnitCalendar
    of_patient: PatientAppointments
    dashboard: ClinicDashboard
    join_waitlist: JoinWaitlist
    list_waitlist: ListWaitlist
    remove_from_waitlist: RemoveFromWaitlist
    answer_offer: AnswerOffer
    idempotency: Idempotency

    @classmethod
    def from_ports(
        cls, uow: UnitOfWorkFactory, clock: Clock, policy: BookingPolicy | None = None
    ) -> AppointmentServices:
        policy = policy or BookingPolicy()
        book = BookAppointment(uow, clock, policy)
        return cls(
            book=book,
            change_status=ChangeAppointmentStatus(uow, clock),
            cancel=CancelAppointment(uow, clock, policy),
            reschedule=RescheduleAppointment(uow, clock, policy),
            get=GetAppointment(uow),
            list=ListAppointments(uow),
            agenda=ProfessionalAgenda(uow, clock),
            calendar=UnitCalendar(uow, clock),
            of_patient=PatientAppointments(uow, clock),
            dashboard=ClinicDashboard(uow, clock),
            join_waitlist=JoinWaitlist(uow, clock),
            list_waitlist=ListWaitlist(uow),
            remove_from_waitlist=RemoveFromWaitlist(uow, clock),
            answer_offer=AnswerOffer(uow, clock, book),
            idempotency=Idempotency(uow, clock),
        )
