"""Where working time is kept, and where busy time comes from. Every repository is built for the unit of
work's tenant and sees only it: another tenant's ids read as None and are left out of lists."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import NewType, Protocol
from uuid import UUID

from clinic_core.catalog.model import ProfessionalId, RoomId
from clinic_core.scheduling.availability import BookingRules
from clinic_core.scheduling.intervals import Interval
from clinic_core.scheduling.working_time import DateOverride, TimeOff, UnitClosure, WeeklySchedule
from clinic_core.shared.ids import TenantId, UnitId

TimeOffId = NewType("TimeOffId", UUID)
ClosureId = NewType("ClosureId", UUID)


@dataclass(frozen=True, slots=True)
class WeeklyHours:
    """A professional's week at one unit (in the unit's time zone)."""

    tenant_id: TenantId
    professional_id: ProfessionalId
    unit_id: UnitId
    schedule: WeeklySchedule
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class ProfessionalOverride:
    tenant_id: TenantId
    professional_id: ProfessionalId
    unit_id: UnitId
    override: DateOverride
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class TimeOffEntry:
    tenant_id: TenantId
    id: TimeOffId
    professional_id: ProfessionalId
    time_off: TimeOff
    created_at: datetime


@dataclass(frozen=True, slots=True)
class ClosureEntry:
    tenant_id: TenantId
    id: ClosureId
    unit_id: UnitId
    closure: UnitClosure
    created_at: datetime


class WorkingTimeRepository(Protocol):
    async def get_week(self, professional_id: ProfessionalId, unit_id: UnitId) -> WeeklyHours | None: ...

    async def weeks(self, unit_id: UnitId, professional_ids: Collection[ProfessionalId]) -> list[WeeklyHours]:
        """The weeks of these professionals at the unit (those who have one)."""
        ...

    async def save_week(self, hours: WeeklyHours) -> None:
        """Insert or replace the professional's week at the unit."""
        ...

    async def overrides(
        self, unit_id: UnitId, professional_ids: Collection[ProfessionalId], first: date, last: date
    ) -> list[ProfessionalOverride]:
        """The overrides of these professionals at the unit on ``first`` to ``last``, by date."""
        ...

    async def put_override(self, override: ProfessionalOverride) -> None:
        """Insert or replace the override of that professional, unit and date."""
        ...

    async def delete_override(self, professional_id: ProfessionalId, unit_id: UnitId, day: date) -> bool: ...

    async def add_time_off(self, entry: TimeOffEntry) -> None: ...

    async def time_off(
        self, professional_ids: Collection[ProfessionalId], window: Interval
    ) -> list[TimeOffEntry]:
        """The time off of these professionals that overlaps ``window``, by start."""
        ...

    async def get_time_off(self, time_off_id: TimeOffId) -> TimeOffEntry | None: ...

    async def delete_time_off(self, time_off_id: TimeOffId) -> bool: ...

    async def add_closure(self, entry: ClosureEntry) -> None: ...

    async def closures(self, unit_id: UnitId, first: date, last: date) -> list[ClosureEntry]:
        """The unit's closures that meet the dates ``first`` to ``last``, by first day."""
        ...

    async def get_closure(self, closure_id: ClosureId) -> ClosureEntry | None: ...

    async def delete_closure(self, closure_id: ClosureId) -> bool: ...

    async def booking_rules(self, unit_id: UnitId) -> BookingRules | None:
        """The unit's booking rules; None: the defaults (``BookingRules()``)."""
        ...

    async def save_booking_rules(self, unit_id: UnitId, rules: BookingRules, at: datetime) -> None: ...


class BusyTimes(Protocol):
    """Busy time that working-time storage does not hold: appointments (widened by their buffers).

    Until the appointments table is on main, the SQL adapter returns nothing here (docs/SCHEDULING.md says
    so); time off is read from ``WorkingTimeRepository`` by the availability use case either way.
    """

    async def professionals(
        self, professional_ids: Collection[ProfessionalId], window: Interval
    ) -> dict[ProfessionalId, list[Interval]]:
        """Busy blocks of these professionals, at any unit, that overlap ``window``."""
        ...

    async def rooms(self, room_ids: Collection[RoomId], window: Interval) -> dict[RoomId, list[Interval]]:
        """Busy blocks of these rooms that overlap ``window``."""
        ...
