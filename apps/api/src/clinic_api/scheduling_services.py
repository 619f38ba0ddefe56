"""The working-time and availability use cases the HTTP host serves, on the same ports as ``AppServices``."""

from __future__ import annotations

from dataclasses import dataclass

from clinic_core.application.unit_of_work import UnitOfWorkFactory
from clinic_core.scheduling.working_time_use_cases import (
    AddClosure,
    AddTimeOff,
    DeleteClosure,
    DeleteOverride,
    DeleteTimeOff,
    GetAvailability,
    GetBookingRules,
    GetWeeklyHours,
    ListClosures,
    ListOverrides,
    ListTimeOff,
    PutOverride,
    SetBookingRules,
    SetWeeklyHours,
)
from clinic_core.shared.clock import Clock


@dataclass(frozen=True, slots=True, kw_only=True)
class SchedulingServices:
    get_weekly_hours: GetWeeklyHours
    set_weekly_hours: SetWeeklyHours
    list_overrides: ListOverrides
    put_override: PutOverride
    delete_override: DeleteOverride
    add_time_off: AddTimeOff
    list_time_off: ListTimeOff
    delete_time_off: DeleteTimeOff
    add_closure: AddClosure
    list_closures: ListClosures
    delete_closure: DeleteClosure
    get_booking_rules: GetBookingRules
    set_booking_rules: SetBookingRules
    availability: GetAvailability

    @classmethod
    def from_ports(cls, uow: UnitOfWorkFactory, clock: Clock) -> SchedulingServices:
        return cls(
            get_weekly_hours=GetWeeklyHours(uow),
            set_weekly_hours=SetWeeklyHours(uow, clock),
            list_overrides=ListOverrides(uow),
            put_override=PutOverride(uow, clock),
            delete_override=DeleteOverride(uow, clock),
            add_time_off=AddTimeOff(uow, clock),
            list_time_off=ListTimeOff(uow),
            delete_time_off=DeleteTimeOff(uow, clock),
            add_closure=AddClosure(uow, clock),
            list_closures=ListClosures(uow),
            delete_closure=DeleteClosure(uow, clock),
            get_booking_rules=GetBookingRules(uow),
            set_booking_rules=SetBookingRules(uow, clock),
            availability=GetAvailability(uow, clock),
        )
