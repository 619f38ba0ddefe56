"""SQL adapters of working time and busy time (tables in ``working_time_tables``)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete, insert, select

from clinic_core.catalog.model import ProfessionalId, RoomId
from clinic_core.scheduling.availability import BookingRules
from clinic_core.scheduling.intervals import Interval
from clinic_core.scheduling.working_time import (
    ClockSpan,
    DateOverride,
    OverrideKind,
    TimeOff,
    UnitClosure,
    Weekday,
    WeeklySchedule,
)
from clinic_core.scheduling.working_time_ports import (
    ClosureEntry,
    ClosureId,
    ProfessionalOverride,
    TimeOffEntry,
    TimeOffId,
    WeeklyHours,
)
from clinic_core.shared.ids import TenantId, UnitId
from clinic_infra.db import working_time_tables as wt
from clinic_infra.db.appointment_tables import ACTIVE_STATUS_VALUES, appointments
from clinic_infra.db.repositories import Row, _Repository


def _spans_json(spans: Collection[ClockSpan]) -> list[list[int]]:
    return [[span.start_minute, span.end_minute] for span in spans]


def _spans(raw: Any) -> tuple[ClockSpan, ...]:
    return tuple(ClockSpan(int(start), int(end)) for start, end in raw)


def _week(row: Row) -> WeeklyHours:
    return WeeklyHours(
        tenant_id=TenantId(row["tenant_id"]),
        professional_id=ProfessionalId(row["professional_id"]),
        unit_id=UnitId(row["unit_id"]),
        schedule=WeeklySchedule(
            {Weekday[label.upper()]: _spans(spans) for label, spans in row["days"].items()}
        ),
        updated_at=row["updated_at"],
    )


def _override(row: Row) -> ProfessionalOverride:
    return ProfessionalOverride(
        tenant_id=TenantId(row["tenant_id"]),
        professional_id=ProfessionalId(row["professional_id"]),
        unit_id=UnitId(row["unit_id"]),
        override=DateOverride(row["day"], OverrideKind(row["kind"]), _spans(row["spans"])),
        updated_at=row["updated_at"],
    )


def _time_off(row: Row) -> TimeOffEntry:
    return TimeOffEntry(
        tenant_id=TenantId(row["tenant_id"]),
        id=TimeOffId(row["id"]),
        professional_id=ProfessionalId(row["professional_id"]),
        time_off=TimeOff(Interval(row["starts_at"], row["ends_at"]), row["reason"]),
        created_at=row["created_at"],
    )


def _closure(row: Row) -> ClosureEntry:
    return ClosureEntry(
        tenant_id=TenantId(row["tenant_id"]),
        id=ClosureId(row["id"]),
        unit_id=UnitId(row["unit_id"]),
        closure=UnitClosure(row["first_day"], row["last_day"], row["reason"]),
        created_at=row["created_at"],
    )


class SqlWorkingTimeRepository(_Repository):
    async def get_week(self, professional_id: ProfessionalId, unit_id: UnitId) -> WeeklyHours | None:
        t = wt.working_hours
        row = await self._row(
            select(t).where(
                t.c.tenant_id == self._db.tenant_id(),
                t.c.professional_id == professional_id,
                t.c.unit_id == unit_id,
            )
        )
        return _week(row) if row is not None else None

    async def weeks(self, unit_id: UnitId, professional_ids: Collection[ProfessionalId]) -> list[WeeklyHours]:
        if not professional_ids:
            return []
        t = wt.working_hours
        rows = await self._rows(
            select(t).where(
                t.c.tenant_id == self._db.tenant_id(),
                t.c.unit_id == unit_id,
                t.c.professional_id.in_(list(professional_ids)),
            )
        )
        return [_week(row) for row in rows]

    async def save_week(self, hours: WeeklyHours) -> None:
        t = wt.working_hours
        await self._db.execute(
            delete(t).where(
                t.c.tenant_id == self._db.tenant_id(),
                t.c.professional_id == hours.professional_id,
                t.c.unit_id == hours.unit_id,
            )
        )
        await self._db.execute(
            insert(t).values(
                tenant_id=self._db.tenant_id(),
                professional_id=hours.professional_id,
                unit_id=hours.unit_id,
                days={day.label: _spans_json(spans) for day, spans in hours.schedule.days.items()},
                updated_at=hours.updated_at,
            )
        )

    async def overrides(
        self, unit_id: UnitId, professional_ids: Collection[ProfessionalId], first: date, last: date
    ) -> list[ProfessionalOverride]:
        if not professional_ids:
            return []
        t = wt.working_date_overrides
        rows = await self._rows(
            select(t)
            .where(
                t.c.tenant_id == self._db.tenant_id(),
                t.c.unit_id == unit_id,
                t.c.professional_id.in_(list(professional_ids)),
                t.c.day >= first,
                t.c.day <= last,
            )
            .order_by(t.c.day, t.c.professional_id)
        )
        return [_override(row) for row in rows]

    async def put_override(self, override: ProfessionalOverride) -> None:
        await self.delete_override(override.professional_id, override.unit_id, override.override.day)
        await self._db.execute(
            insert(wt.working_date_overrides).values(
                tenant_id=self._db.tenant_id(),
                professional_id=override.professional_id,
                unit_id=override.unit_id,
                day=override.override.day,
                kind=override.override.kind.value,
                spans=_spans_json(override.override.spans),
                updated_at=override.updated_at,
            )
        )

    async def delete_override(self, professional_id: ProfessionalId, unit_id: UnitId, day: date) -> bool:
        t = wt.working_date_overrides
        result = await self._db.execute(
            delete(t).where(
                t.c.tenant_id == self._db.tenant_id(),
                t.c.professional_id == professional_id,
                t.c.unit_id == unit_id,
                t.c.day == day,
            )
        )
        return bool(result.rowcount)

    async def add_time_off(self, entry: TimeOffEntry) -> None:
        await self._db.execute(
            insert(wt.time_off).values(
                tenant_id=self._db.tenant_id(),
                id=entry.id,
                professional_id=entry.professional_id,
                starts_at=entry.time_off.interval.start,
                ends_at=entry.time_off.interval.end,
                reason=entry.time_off.reason,
                created_at=entry.created_at,
            )
        )

    async def time_off(
        self, professional_ids: Collection[ProfessionalId], window: Interval
    ) -> list[TimeOffEntry]:
        if not professional_ids:
            return []
        t = wt.time_off
        rows = await self._rows(
            select(t)
            .where(
                t.c.tenant_id == self._db.tenant_id(),
                t.c.professional_id.in_(list(professional_ids)),
                t.c.starts_at < window.end,
                t.c.ends_at > window.start,
            )
            .order_by(t.c.starts_at, t.c.id)
        )
        return [_time_off(row) for row in rows]

    async def get_time_off(self, time_off_id: TimeOffId) -> TimeOffEntry | None:
        t = wt.time_off
        row = await self._row(select(t).where(t.c.tenant_id == self._db.tenant_id(), t.c.id == time_off_id))
        return _time_off(row) if row is not None else None

    async def delete_time_off(self, time_off_id: TimeOffId) -> bool:
        t = wt.time_off
        result = await self._db.execute(
            delete(t).where(t.c.tenant_id == self._db.tenant_id(), t.c.id == time_off_id)
        )
        return bool(result.rowcount)

    async def add_closure(self, entry: ClosureEntry) -> None:
        await self._db.execute(
            insert(wt.unit_closures).values(
                tenant_id=self._db.tenant_id(),
                id=entry.id,
                unit_id=entry.unit_id,
                first_day=entry.closure.first_day,
                last_day=entry.closure.last_day,
                reason=entry.closure.reason,
                created_at=entry.created_at,
            )
        )

    async def closures(self, unit_id: UnitId, first: date, last: date) -> list[ClosureEntry]:
        t = wt.unit_closures
        rows = await self._rows(
            select(t)
            .where(
                t.c.tenant_id == self._db.tenant_id(),
                t.c.unit_id == unit_id,
                t.c.first_day <= last,
                t.c.last_day >= first,
            )
            .order_by(t.c.first_day, t.c.id)
        )
        return [_closure(row) for row in rows]

    async def get_closure(self, closure_id: ClosureId) -> ClosureEntry | None:
        t = wt.unit_closures
        row = await self._row(select(t).where(t.c.tenant_id == self._db.tenant_id(), t.c.id == closure_id))
        return _closure(row) if row is not None else None

    async def delete_closure(self, closure_id: ClosureId) -> bool:
        t = wt.unit_closures
        result = await self._db.execute(
            delete(t).where(t.c.tenant_id == self._db.tenant_id(), t.c.id == closure_id)
        )
        return bool(result.rowcount)

    async def booking_rules(self, unit_id: UnitId) -> BookingRules | None:
        t = wt.unit_booking_rules
        row = await self._row(select(t).where(t.c.tenant_id == self._db.tenant_id(), t.c.unit_id == unit_id))
        if row is None:
            return None
        return BookingRules.parse(
            row["min_notice_minutes"],
            row["horizon_days"],
            row["slot_step_minutes"],
            row["cancellation_window_hours"],
            row["waitlist_offer_minutes"],
        ).unwrap()

    async def save_booking_rules(self, unit_id: UnitId, rules: BookingRules, at: datetime) -> None:
        t = wt.unit_booking_rules
        await self._db.execute(delete(t).where(t.c.tenant_id == self._db.tenant_id(), t.c.unit_id == unit_id))
        await self._db.execute(
            insert(t).values(
                tenant_id=self._db.tenant_id(),
                unit_id=unit_id,
                min_notice_minutes=rules.min_notice_minutes,
                horizon_days=rules.horizon_days,
                slot_step_minutes=rules.slot_step_minutes,
                cancellation_window_hours=rules.cancellation_window_hours,
                waitlist_offer_minutes=rules.waitlist_offer_minutes,
                updated_at=at,
            )
        )


class SqlBusyTimes(_Repository):
    """Busy time from appointments: the blocks (buffers included) of the active ones. Time off is read by
    the availability use case from ``SqlWorkingTimeRepository``."""

    async def _blocks(self, column: Any, ids: Collection[Any], window: Interval) -> dict[Any, list[Interval]]:
        if not ids:
            return {}
        a = appointments
        rows = await self._rows(
            select(column.label("key"), a.c.block_start, a.c.block_end)
            .where(
                a.c.tenant_id == self._db.tenant_id(),
                column.in_(sorted(ids)),
                a.c.status.in_(ACTIVE_STATUS_VALUES),
                a.c.block_start < window.end,
                a.c.block_end > window.start,
            )
            .order_by(a.c.block_start)
        )
        found: dict[Any, list[Interval]] = {}
        for row in rows:
            found.setdefault(row["key"], []).append(Interval(row["block_start"], row["block_end"]))
        return found

    async def professionals(
        self, professional_ids: Collection[ProfessionalId], window: Interval
    ) -> dict[ProfessionalId, list[Interval]]:
        return await self._blocks(appointments.c.professional_id, professional_ids, window)

    async def rooms(self, room_ids: Collection[RoomId], window: Interval) -> dict[RoomId, list[Interval]]:
        return await self._blocks(appointments.c.room_id, room_ids, window)
