"""SQL side of the reminder sweep (tables in ``sweep_tables``)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, exists, func, or_, select, type_coerce
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from clinic_core.catalog.model import ProfessionalId
from clinic_core.clinical.model import AppointmentId
from clinic_core.patients.model import PatientId
from clinic_core.scheduling.appointments import AppointmentStatus
from clinic_core.scheduling.reminder_events import ReminderKind
from clinic_core.scheduling.reminder_ports import ReminderCandidate
from clinic_core.shared.ids import UnitId
from clinic_infra.db.appointment_tables import appointment_history, appointments
from clinic_infra.db.sweep_tables import appointment_reminders
from clinic_infra.db.types import UtcDateTime

if TYPE_CHECKING:
    from clinic_infra.db.unit_of_work import SqlSession

_A, _H, _R = appointments, appointment_history, appointment_reminders
_REMINDED = sorted(s.value for s in (AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED))


class SqlAppointmentReminders:
    def __init__(self, db: SqlSession, *, postgres: bool) -> None:
        self._db = db
        self._insert = pg_insert if postgres else sqlite_insert

    async def unsent(
        self,
        kind: ReminderKind,
        *,
        starts_after: datetime,
        starts_until: datetime,
        after: tuple[datetime, AppointmentId] | None = None,
        limit: int = 200,
    ) -> list[ReminderCandidate]:
        tenant = self._db.tenant_id()
        # When the appointment got its start: the last history entry that set one (its booking or a move).
        scheduled_at = type_coerce(  # SQLite's max() loses the column type
            select(func.max(_H.c.at))
            .where(
                _H.c.tenant_id == _A.c.tenant_id, _H.c.appointment_id == _A.c.id, _H.c.to_start.is_not(None)
            )
            .scalar_subquery(),
            UtcDateTime,
        )
        queued = exists().where(
            _R.c.tenant_id == _A.c.tenant_id,
            _R.c.appointment_id == _A.c.id,
            _R.c.kind == kind.value,
            _R.c.start_at == _A.c.start_at,
        )
        statement = select(
            _A.c.id,
            _A.c.patient_id,
            _A.c.professional_id,
            _A.c.unit_id,
            _A.c.start_at,
            _A.c.created_at,
            scheduled_at.label("scheduled_at"),
        ).where(
            _A.c.tenant_id == tenant,
            _A.c.status.in_(_REMINDED),
            _A.c.start_at > starts_after,
            _A.c.start_at <= starts_until,
            ~queued,
        )
        if after is not None:
            at, last = after
            statement = statement.where(or_(_A.c.start_at > at, and_(_A.c.start_at == at, _A.c.id > last)))
        rows = (await self._db.execute(statement.order_by(_A.c.start_at, _A.c.id).limit(limit))).mappings()
        return [
            ReminderCandidate(
                appointment_id=AppointmentId(row["id"]),
                patient_id=PatientId(row["patient_id"]),
                professional_id=ProfessionalId(row["professional_id"]),
                unit_id=UnitId(row["unit_id"]),
                start=row["start_at"],
                scheduled_at=row["scheduled_at"] or row["created_at"],
            )
            for row in rows
        ]

    async def mark_queued(self, candidate: ReminderCandidate, kind: ReminderKind, at: datetime) -> bool:
        statement = (
            self._insert(_R)
            .values(
                tenant_id=self._db.tenant_id(),
                appointment_id=candidate.appointment_id,
                kind=kind.value,
                start_at=candidate.start,
                queued_at=at,
            )
            .on_conflict_do_nothing()
            .returning(_R.c.appointment_id)
        )
        return (await self._db.execute(statement)).first() is not None
