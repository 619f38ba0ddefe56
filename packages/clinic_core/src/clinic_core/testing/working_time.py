"""In-memory working time and busy time, with the contracts of the SQL adapters: one tenant each."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID

from clinic_core.catalog.model import ProfessionalId, RoomId
from clinic_core.scheduling.appointments import Appointment
from clinic_core.scheduling.availability import BookingRules
from clinic_core.scheduling.intervals import Interval
from clinic_core.scheduling.working_time_ports import (
    ClosureEntry,
    ClosureId,
    ProfessionalOverride,
    TimeOffEntry,
    TimeOffId,
    WeeklyHours,
)
from clinic_core.shared.ids import TenantId, UnitId


@dataclass
class WorkingTimeTables:
    weeks: dict[tuple[TenantId, ProfessionalId, UnitId], WeeklyHours] = field(default_factory=dict)
    overrides: dict[tuple[TenantId, ProfessionalId, UnitId, date], ProfessionalOverride] = field(
        default_factory=dict
    )
    time_off: dict[TimeOffId, TimeOffEntry] = field(default_factory=dict)
    closures: dict[ClosureId, ClosureEntry] = field(default_factory=dict)
    rules: dict[tuple[TenantId, UnitId], BookingRules] = field(default_factory=dict)
    busy_professionals: dict[tuple[TenantId, ProfessionalId], list[Interval]] = field(default_factory=dict)
    """Appointment blocks a test puts in place of the booking feature's (what ``BusyTimes`` reads)."""
    busy_rooms: dict[tuple[TenantId, RoomId], list[Interval]] = field(default_factory=dict)


class InMemoryWorkingTime:
    def __init__(self, tables: WorkingTimeTables, tenant_id: TenantId) -> None:
        self._t, self._tenant = tables, tenant_id

    async def get_week(self, professional_id: ProfessionalId, unit_id: UnitId) -> WeeklyHours | None:
        return self._t.weeks.get((self._tenant, professional_id, unit_id))

    async def weeks(self, unit_id: UnitId, professional_ids: Collection[ProfessionalId]) -> list[WeeklyHours]:
        keys = ((self._tenant, pid, unit_id) for pid in professional_ids)
        return [self._t.weeks[key] for key in keys if key in self._t.weeks]

    async def save_week(self, hours: WeeklyHours) -> None:
        assert hours.tenant_id == self._tenant
        self._t.weeks[(self._tenant, hours.professional_id, hours.unit_id)] = hours

    async def overrides(
        self, unit_id: UnitId, professional_ids: Collection[ProfessionalId], first: date, last: date
    ) -> list[ProfessionalOverride]:
        wanted = set(professional_ids)
        found = [
            row
            for (tenant, pid, unit, day), row in self._t.overrides.items()
            if tenant == self._tenant and pid in wanted and unit == unit_id and first <= day <= last
        ]
        return sorted(found, key=lambda row: (row.override.day, row.professional_id))

    async def put_override(self, override: ProfessionalOverride) -> None:
        assert override.tenant_id == self._tenant
        key = (self._tenant, override.professional_id, override.unit_id, override.override.day)
        self._t.overrides[key] = override

    async def delete_override(self, professional_id: ProfessionalId, unit_id: UnitId, day: date) -> bool:
        return self._t.overrides.pop((self._tenant, professional_id, unit_id, day), None) is not None

    async def add_time_off(self, entry: TimeOffEntry) -> None:
        assert entry.tenant_id == self._tenant
        self._t.time_off[entry.id] = entry

    async def time_off(
        self, professional_ids: Collection[ProfessionalId], window: Interval
    ) -> list[TimeOffEntry]:
        wanted = set(professional_ids)
        found = [
            e
            for e in self._t.time_off.values()
            if e.tenant_id == self._tenant
            and e.professional_id in wanted
            and e.time_off.interval.overlaps(window)
        ]
        return sorted(found, key=lambda e: (e.time_off.interval.start, e.id))

    async def get_time_off(self, time_off_id: TimeOffId) -> TimeOffEntry | None:
        entry = self._t.time_off.get(time_off_id)
        return entry if entry is not None and entry.tenant_id == self._tenant else None

    async def delete_time_off(self, time_off_id: TimeOffId) -> bool:
        if await self.get_time_off(time_off_id) is None:
            return False
        del self._t.time_off[time_off_id]
        return True

    async def add_closure(self, entry: ClosureEntry) -> None:
        assert entry.tenant_id == self._tenant
        self._t.closures[entry.id] = entry

    async def closures(self, unit_id: UnitId, first: date, last: date) -> list[ClosureEntry]:
        found = [
            e
            for e in self._t.closures.values()
            if e.tenant_id == self._tenant
            and e.unit_id == unit_id
            and e.closure.first_day <= last
            and e.closure.last_day >= first
        ]
        return sorted(found, key=lambda e: (e.closure.first_day, e.id))

    async def get_closure(self, closure_id: ClosureId) -> ClosureEntry | None:
        entry = self._t.closures.get(closure_id)
        return entry if entry is not None and entry.tenant_id == self._tenant else None

    async def delete_closure(self, closure_id: ClosureId) -> bool:
        if await self.get_closure(closure_id) is None:
            return False
        del self._t.closures[closure_id]
        return True

    async def booking_rules(self, unit_id: UnitId) -> BookingRules | None:
        return self._t.rules.get((self._tenant, unit_id))

    async def save_booking_rules(self, unit_id: UnitId, rules: BookingRules, at: datetime) -> None:
        self._t.rules[(self._tenant, unit_id)] = rules


class InMemoryBusyTimes:
    """The blocks of the active in-memory appointments, with the intervals a test put in place of them."""

    def __init__(
        self,
        tables: WorkingTimeTables,
        tenant_id: TenantId,
        appointments: Mapping[UUID, Appointment] | None = None,
    ) -> None:
        self._t, self._tenant = tables, tenant_id
        self._appointments = [
            a for a in (appointments or {}).values() if a.tenant_id == tenant_id and a.is_active
        ]

    async def professionals(
        self, professional_ids: Collection[ProfessionalId], window: Interval
    ) -> dict[ProfessionalId, list[Interval]]:
        found: dict[ProfessionalId, list[Interval]] = {}
        for pid in professional_ids:
            busy = [i for i in self._t.busy_professionals.get((self._tenant, pid), []) if i.overlaps(window)]
            busy += [
                a.block for a in self._appointments if a.professional_id == pid and a.block.overlaps(window)
            ]
            if busy:
                found[pid] = sorted(busy)
        return found

    async def rooms(self, room_ids: Collection[RoomId], window: Interval) -> dict[RoomId, list[Interval]]:
        found: dict[RoomId, list[Interval]] = {}
        for rid in room_ids:
            busy = [i for i in self._t.busy_rooms.get((self._tenant, rid), []) if i.overlaps(window)]
            busy += [a.block for a in self._appointments if a.room_id == rid and a.block.overlaps(window)]
            if busy:
                found[rid] = sorted(busy)
        return found
