"""In-memory appointments, booking locks and idempotency records, with the contracts of the SQL ones:
one tenant each, copies in and out, writes over the version read, and an active block that overlaps
another's for the same professional, room or patient refused as the exclusion constraints refuse it."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from clinic_core.application.idempotency import IdempotencyRecord
from clinic_core.application.unit_of_work import NoTenantInScope, UniqueViolation
from clinic_core.patients.model import PatientId
from clinic_core.scheduling.appointments import (
    Appointment,
    AppointmentId,
    AppointmentStatus,
    ProfessionalId,
    RoomId,
)
from clinic_core.scheduling.booking_ports import AppointmentQuery, BlockTaken
from clinic_core.scheduling.reminder_events import ReminderKind
from clinic_core.scheduling.reminder_ports import ReminderCandidate
from clinic_core.scheduling.waitlist_model import (
    OfferId,
    OfferStatus,
    WaitlistEntry,
    WaitlistEntryId,
    WaitlistOffer,
)
from clinic_core.shared.ids import TenantId, UnitId


@dataclass
class SchedulingTables:
    appointments: dict[UUID, Appointment] = field(default_factory=dict)
    idempotency: dict[tuple[TenantId, str], IdempotencyRecord] = field(default_factory=dict)
    waitlist_entries: dict[UUID, WaitlistEntry] = field(default_factory=dict)
    waitlist_offers: dict[UUID, WaitlistOffer] = field(default_factory=dict)
    lock_calls: list[tuple[ProfessionalId, tuple[RoomId, ...], PatientId]] = field(default_factory=list)
    reminders: dict[tuple[TenantId, AppointmentId, ReminderKind, datetime], datetime] = field(
        default_factory=dict
    )
    """(tenant, appointment, kind, start) -> when the reminder was queued."""


def _clash(a: Appointment, b: Appointment) -> str | None:
    """The exclusion constraint ``b`` would violate next to ``a``, or None."""
    if a.id == b.id or not (a.is_active and b.is_active) or a.tenant_id != b.tenant_id:
        return None
    if not (a.block_start < b.block_end and b.block_start < a.block_end):
        return None
    if a.professional_id == b.professional_id:
        return "ex_appointments_professional"
    if a.room_id is not None and a.room_id == b.room_id:
        return "ex_appointments_room"
    if a.patient_id == b.patient_id:
        return "ex_appointments_patient"
    return None


class InMemoryAppointments:
    def __init__(self, tables: SchedulingTables, seen: list[object], tenant: TenantId) -> None:
        self._t, self._seen, self._tenant = tables, seen, tenant

    def _mine(self) -> list[Appointment]:
        return [a for a in self._t.appointments.values() if a.tenant_id == self._tenant]

    def _out(self, stored: Appointment) -> Appointment:
        appointment = copy.deepcopy(stored)
        self._seen.append(appointment)
        return appointment

    def _store(self, appointment: Appointment) -> None:
        for other in self._mine():
            constraint = _clash(other, appointment)
            if constraint is not None:
                raise BlockTaken(constraint)
        stored = copy.deepcopy(appointment)
        stored.events = []
        self._t.appointments[appointment.id] = stored
        self._seen.append(appointment)

    async def add(self, appointment: Appointment) -> None:
        if appointment.tenant_id != self._tenant:
            raise NoTenantInScope("the appointment belongs to another tenant than the unit of work's")
        if appointment.id in self._t.appointments:
            raise UniqueViolation("pk_appointments")
        self._store(appointment)

    async def get(self, appointment_id: AppointmentId) -> Appointment | None:
        stored = self._t.appointments.get(appointment_id)
        if stored is None or stored.tenant_id != self._tenant:
            return None
        return self._out(stored)

    async def save(self, appointment: Appointment) -> bool:
        if appointment.tenant_id != self._tenant:
            raise NoTenantInScope("the appointment belongs to another tenant than the unit of work's")
        stored = self._t.appointments.get(appointment.id)
        if stored is None or stored.tenant_id != self._tenant or stored.version != appointment.version:
            return False
        appointment.version += 1
        try:
            self._store(appointment)
        except BlockTaken:
            appointment.version -= 1
            raise
        return True

    async def overlapping(
        self,
        *,
        block_start: datetime,
        block_end: datetime,
        professional_id: ProfessionalId,
        room_id: RoomId | None,
        patient_id: PatientId,
        excluding: AppointmentId | None = None,
    ) -> list[Appointment]:
        found = [
            a
            for a in self._mine()
            if a.is_active
            and a.id != excluding
            and a.block_start < block_end
            and block_start < a.block_end
            and (
                a.professional_id == professional_id
                or (room_id is not None and a.room_id == room_id)
                or a.patient_id == patient_id
            )
        ]
        return [self._out(a) for a in sorted(found, key=lambda a: (a.block_start, a.id))]

    async def search(self, query: AppointmentQuery) -> list[Appointment]:
        q = query
        found = sorted(
            (
                a
                for a in self._mine()
                if (q.professional_ids is None or a.professional_id in q.professional_ids)
                and (q.unit_ids is None or a.unit_id in q.unit_ids)
                and (q.patient_ids is None or a.patient_id in q.patient_ids)
                and (q.statuses is None or a.status in q.statuses)
                and (q.starts_from is None or a.start >= q.starts_from)
                and (q.starts_before is None or a.start < q.starts_before)
                and (q.after is None or (a.start, a.id) > q.after)
            ),
            key=lambda a: (a.start, a.id),
        )
        return [self._out(a) for a in found[: q.limit]]

    async def busy(
        self, professional_ids: frozenset[ProfessionalId], starts_from: datetime, starts_before: datetime
    ) -> list[Appointment]:
        found = [
            a
            for a in self._mine()
            if a.is_active
            and a.professional_id in professional_ids
            and a.block_start < starts_before
            and starts_from < a.block_end
        ]
        return [self._out(a) for a in sorted(found, key=lambda a: (a.block_start, a.id))]


_REMINDED_STATUSES = frozenset({AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED})


def _scheduled_at(appointment: Appointment) -> datetime:
    """When the appointment got its current start: the last history entry that set one (booked or moved)."""
    return max((h.at for h in appointment.history if h.to_start is not None), default=appointment.created_at)


class InMemoryAppointmentReminders:
    def __init__(self, tables: SchedulingTables, tenant: TenantId) -> None:
        self._t, self._tenant = tables, tenant

    async def unsent(
        self,
        kind: ReminderKind,
        *,
        starts_after: datetime,
        starts_until: datetime,
        after: tuple[datetime, AppointmentId] | None = None,
        limit: int = 200,
    ) -> list[ReminderCandidate]:
        found = sorted(
            (
                a
                for a in self._t.appointments.values()
                if a.tenant_id == self._tenant
                and a.status in _REMINDED_STATUSES
                and starts_after < a.start <= starts_until
                and (after is None or (a.start, a.id) > after)
                and (self._tenant, a.id, kind, a.start) not in self._t.reminders
            ),
            key=lambda a: (a.start, a.id),
        )
        return [
            ReminderCandidate(
                appointment_id=a.id,
                patient_id=a.patient_id,
                professional_id=a.professional_id,
                unit_id=a.unit_id,
                start=a.start,
                scheduled_at=_scheduled_at(a),
            )
            for a in found[:limit]
        ]

    async def mark_queued(self, candidate: ReminderCandidate, kind: ReminderKind, at: datetime) -> bool:
        key = (self._tenant, candidate.appointment_id, kind, candidate.start)
        if key in self._t.reminders:
            return False
        self._t.reminders[key] = at
        return True


class InMemoryAppointmentLocks:
    """The in-memory store lets one unit of work run at a time: every lock is held already. The calls
    are kept so that tests can check the order."""

    def __init__(self, calls: list[tuple[ProfessionalId, tuple[RoomId, ...], PatientId]]) -> None:
        self.calls = calls

    async def acquire(
        self, professional_id: ProfessionalId, room_ids: Sequence[RoomId], patient_id: PatientId
    ) -> None:
        self.calls.append((professional_id, tuple(sorted(room_ids)), patient_id))


class InMemoryIdempotencyKeys:
    def __init__(self, tables: SchedulingTables, tenant: TenantId) -> None:
        self._t, self._tenant = tables, tenant

    async def get(self, key: str) -> IdempotencyRecord | None:
        return self._t.idempotency.get((self._tenant, key))

    async def claim(self, record: IdempotencyRecord) -> None:
        if record.tenant_id != self._tenant:
            raise NoTenantInScope("the record belongs to another tenant than the unit of work's")
        if (self._tenant, record.key) in self._t.idempotency:
            raise UniqueViolation("pk_idempotency_keys")
        self._t.idempotency[(self._tenant, record.key)] = record

    async def complete(self, key: str, status: int, body: str) -> None:
        found = self._t.idempotency.get((self._tenant, key))
        if found is not None:
            self._t.idempotency[(self._tenant, key)] = replace(found, status=status, body=body)

    async def release(self, key: str) -> None:
        self._t.idempotency.pop((self._tenant, key), None)

    async def purge_expired(self, now: datetime) -> int:
        expired = [k for k, r in self._t.idempotency.items() if k[0] == self._tenant and r.expires_at <= now]
        for k in expired:
            del self._t.idempotency[k]
        return len(expired)


class InMemoryWaitlist:
    def __init__(self, tables: SchedulingTables, seen: list[object], tenant: TenantId) -> None:
        self._t, self._seen, self._tenant = tables, seen, tenant

    def _check(self, row: WaitlistEntry | WaitlistOffer) -> None:
        if row.tenant_id != self._tenant:
            raise NoTenantInScope("the row belongs to another tenant than the unit of work's")

    async def add_entry(self, entry: WaitlistEntry) -> None:
        self._check(entry)
        if entry.id in self._t.waitlist_entries:
            raise UniqueViolation("pk_waitlist_entries")
        self._t.waitlist_entries[entry.id] = copy.deepcopy(entry)

    async def get_entry(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None:
        found = self._t.waitlist_entries.get(entry_id)
        return copy.deepcopy(found) if found is not None and found.tenant_id == self._tenant else None

    async def save_entry(self, entry: WaitlistEntry) -> None:
        self._check(entry)
        if entry.id in self._t.waitlist_entries:
            self._t.waitlist_entries[entry.id] = copy.deepcopy(entry)

    async def open_entries(
        self, unit_id: UnitId | None = None, patient_ids: frozenset[PatientId] | None = None
    ) -> list[WaitlistEntry]:
        found = [
            e
            for e in self._t.waitlist_entries.values()
            if e.tenant_id == self._tenant
            and e.is_open
            and (unit_id is None or e.unit_id == unit_id)
            and (patient_ids is None or e.patient_id in patient_ids)
        ]
        return [copy.deepcopy(e) for e in sorted(found, key=lambda e: (e.created_at, e.id))]

    async def add_offer(self, offer: WaitlistOffer) -> None:
        self._check(offer)
        stored = copy.deepcopy(offer)
        stored.events = []
        self._t.waitlist_offers[offer.id] = stored
        self._seen.append(offer)

    async def get_offer(self, offer_id: OfferId) -> WaitlistOffer | None:
        found = self._t.waitlist_offers.get(offer_id)
        return copy.deepcopy(found) if found is not None and found.tenant_id == self._tenant else None

    async def save_offer(self, offer: WaitlistOffer) -> None:
        self._check(offer)
        stored = copy.deepcopy(offer)
        stored.events = []
        self._t.waitlist_offers[offer.id] = stored
        self._seen.append(offer)

    async def offers_of(self, entry_ids: frozenset[WaitlistEntryId]) -> list[WaitlistOffer]:
        found = [
            o
            for o in self._t.waitlist_offers.values()
            if o.tenant_id == self._tenant and o.entry_id in entry_ids
        ]
        return [copy.deepcopy(o) for o in sorted(found, key=lambda o: (o.created_at, o.id), reverse=True)]

    async def offers_freed_by(self, appointment_id: AppointmentId) -> list[WaitlistOffer]:
        found = [
            o
            for o in self._t.waitlist_offers.values()
            if o.tenant_id == self._tenant and o.freed_by == appointment_id
        ]
        return [copy.deepcopy(o) for o in sorted(found, key=lambda o: (o.created_at, o.id), reverse=True)]

    async def expired_offers(self, now: datetime, limit: int) -> list[WaitlistOffer]:
        found = [
            o
            for o in self._t.waitlist_offers.values()
            if o.tenant_id == self._tenant and o.status is OfferStatus.OPEN and o.expires_at <= now
        ]
        return [copy.deepcopy(o) for o in sorted(found, key=lambda o: (o.expires_at, o.id))[:limit]]

    async def expire_offer(self, offer_id: OfferId, at: datetime) -> bool:
        stored = self._t.waitlist_offers.get(offer_id)
        if (
            stored is None
            or stored.tenant_id != self._tenant
            or stored.status is not OfferStatus.OPEN
            or stored.expires_at > at
        ):
            return False
        stored.status = OfferStatus.EXPIRED
        return True
