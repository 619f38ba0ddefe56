"""The JSON of an availability answer, shared by every route that answers one (the public booking page's
``GET /v1/public/clinics/{slug}/availability``, and the staff ``GET /v1/availability``).

Slots come grouped by the unit's local date and by professional, each as local time with its UTC offset
(``2026-03-08T09:00:00-05:00``), so that a client never converts time zones itself: on a day the clocks
change, the offsets in one day's list differ.
"""

from __future__ import annotations

from datetime import date
from uuid import UUID
from zoneinfo import ZoneInfo

from clinic_api.schemas import ResponseModel
from clinic_core.scheduling.working_time_use_cases import Availability


class CandidateOut(ResponseModel):
    id: UUID
    display_name: str
    slot_count: int


class ProfessionalSlots(ResponseModel):
    professional_id: UUID
    slots: list[str]
    """Start times in the unit's local time with their UTC offset (`2026-03-08T09:00:00-05:00`)."""


class AvailabilityDay(ResponseModel):
    date: date
    """A local date of the unit."""
    professionals: list[ProfessionalSlots]
    """Those with at least one free start that day."""


class AvailabilityOut(ResponseModel):
    unit_id: UUID
    timezone: str
    procedure_ids: list[UUID]
    duration_minutes: int
    """The appointment's length: the procedures' durations added up (their buffers not included)."""
    professionals: list[CandidateOut]
    """Every professional who performs all the procedures at the unit, even with no free start."""
    days: list[AvailabilityDay]

    @classmethod
    def of(cls, found: Availability) -> AvailabilityOut:
        zone: ZoneInfo = found.zone
        by_day: dict[date, dict[UUID, list[str]]] = {}
        for professional_id, starts in found.slots.items():
            for start in starts:
                local = start.astimezone(zone)
                by_day.setdefault(local.date(), {}).setdefault(professional_id, []).append(local.isoformat())
        return cls(
            unit_id=found.unit.id,
            timezone=zone.key,
            procedure_ids=[p.id for p in found.procedures],
            duration_minutes=sum(p.duration_minutes for p in found.procedures),
            professionals=[
                CandidateOut(
                    id=pid, display_name=found.professionals[pid].display_name, slot_count=len(starts)
                )
                for pid, starts in found.slots.items()
            ],
            days=[
                AvailabilityDay(
                    date=day,
                    professionals=[
                        ProfessionalSlots(professional_id=pid, slots=slots)
                        for pid, slots in sorted(by_pro.items())
                    ],
                )
                for day, by_pro in sorted(by_day.items())
            ],
        )
