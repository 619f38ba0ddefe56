"""SQL repositories of booking (tables in ``appointment_tables``): appointments, the booking locks and the
``Idempotency-Key`` records."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sqlalchemy import Select, and_, delete, func, insert, or_, select, text, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from clinic_core.application.idempotency import IdempotencyRecord
from clinic_core.patients.model import PatientId
from clinic_core.scheduling.appointments import (
    Appointment,
    AppointmentId,
    AppointmentItem,
    AppointmentStatus,
    BookingSource,
    By,
    Cancellation,
    HistoryEntry,
    ProcedureId,
    ProfessionalId,
    RoomId,
    Transition,
)
from clinic_core.scheduling.booking_ports import AppointmentQuery, BlockTaken, TransientConflict
from clinic_core.scheduling.waitlist_model import (
    EntryStatus,
    OfferId,
    OfferStatus,
    WaitlistEntry,
    WaitlistEntryId,
    WaitlistOffer,
)
from clinic_core.shared.ids import ApiKeyId, TenantId, UnitId, UserId
from clinic_core.shared.values import Money
from clinic_infra.db.appointment_tables import (
    appointment_history,
    appointment_items,
    appointments,
    idempotency_keys,
    waitlist_entries,
    waitlist_offers,
)

if TYPE_CHECKING:
    from clinic_infra.db.unit_of_work import SqlSession

Row = Mapping[Any, Any]
_A, _I, _H, _K = appointments, appointment_items, appointment_history, idempotency_keys
_ACTIVE = sorted(s.value for s in AppointmentStatus if s.is_active)
_TRANSIENT = {"40P01", "40001"}  # deadlock detected, serialization failure


def _sqlstate(error: DBAPIError) -> str | None:
    return getattr(error.orig, "sqlstate", None)


def to_cents(money: Money) -> int:
    """The amount in the currency's minor unit (``Money`` is quantized to it already)."""
    return int(money.amount.scaleb(-money.amount.as_tuple().exponent))  # type: ignore[operator]


def from_cents(cents: int, currency: str) -> Money:
    exponent = Money.zero(currency).amount.as_tuple().exponent
    return Money(Decimal(cents).scaleb(exponent), currency)  # type: ignore[arg-type]


def _by(user_id: UUID | None, api_key_id: UUID | None) -> By:
    return By(
        user_id=UserId(user_id) if user_id is not None else None,
        api_key_id=ApiKeyId(api_key_id) if api_key_id is not None else None,
    )


def _item(row: Row) -> AppointmentItem:
    return AppointmentItem(
        procedure_id=ProcedureId(row["procedure_id"]),
        name=row["name"],
        duration_minutes=row["duration_minutes"],
        price=from_cents(row["price_cents"], row["currency"]),
        buffer_before_minutes=row["buffer_before_minutes"],
        buffer_after_minutes=row["buffer_after_minutes"],
    )


def _entry(row: Row) -> HistoryEntry:
    return HistoryEntry(
        at=row["at"],
        transition=Transition(row["transition"]),
        by=_by(row["by_user_id"], row["by_api_key_id"]),
        from_status=AppointmentStatus(row["from_status"]) if row["from_status"] else None,
        to_status=AppointmentStatus(row["to_status"]),
        from_start=row["from_start"],
        from_end=row["from_end"],
        to_start=row["to_start"],
        to_end=row["to_end"],
        reason=row["reason"],
    )


def _appointment(row: Row, items: list[AppointmentItem], history: list[HistoryEntry]) -> Appointment:
    cancellation = None
    if row["cancelled_at"] is not None:
        cancellation = Cancellation(
            reason=row["cancel_reason"],
            by=_by(row["cancelled_by_user_id"], row["cancelled_by_api_key_id"]),
            at=row["cancelled_at"],
            late=bool(row["cancelled_late"]),
        )
    return Appointment(
        tenant_id=TenantId(row["tenant_id"]),
        id=AppointmentId(row["id"]),
        patient_id=PatientId(row["patient_id"]),
        professional_id=ProfessionalId(row["professional_id"]),
        unit_id=UnitId(row["unit_id"]),
        room_id=RoomId(row["room_id"]) if row["room_id"] is not None else None,
        start=row["start_at"],
        end=row["end_at"],
        buffer_before=timedelta(minutes=row["buffer_before_minutes"]),
        buffer_after=timedelta(minutes=row["buffer_after_minutes"]),
        items=tuple(items),
        status=AppointmentStatus(row["status"]),
        booked_by=_by(row["booked_by_user_id"], row["booked_by_api_key_id"]),
        source=BookingSource(row["source"]),
        notes=row["notes"],
        cancellation=cancellation,
        history=history,
        version=row["version"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _changing_values(a: Appointment) -> dict[str, Any]:
    c = a.cancellation
    return {
        "start_at": a.start,
        "end_at": a.end,
        "block_start": a.block_start,
        "block_end": a.block_end,
        "status": a.status.value,
        "notes": a.notes,
        "cancel_reason": c.reason if c else None,
        "cancelled_by_user_id": c.by.user_id if c else None,
        "cancelled_by_api_key_id": c.by.api_key_id if c else None,
        "cancelled_at": c.at if c else None,
        "cancelled_late": c.late if c else None,
        "updated_at": a.updated_at,
    }


def _history_rows(
    tenant_id: UUID, appointment_id: UUID, entries: list[tuple[int, HistoryEntry]]
) -> list[dict[str, Any]]:
    return [
        {
            "tenant_id": tenant_id,
            "appointment_id": appointment_id,
            "seq": seq,
            "at": h.at,
            "transition": h.transition.value,
            "from_status": h.from_status.value if h.from_status else None,
            "to_status": h.to_status.value,
            "by_user_id": h.by.user_id,
            "by_api_key_id": h.by.api_key_id,
            "from_start": h.from_start,
            "from_end": h.from_end,
            "to_start": h.to_start,
            "to_end": h.to_end,
            "reason": h.reason,
        }
        for seq, h in entries
    ]


class SqlAppointmentRepository:
    def __init__(self, db: SqlSession) -> None:
        self._db = db

    async def _write(self, statement: Any, params: Any = None) -> Any:
        """Execute a write, turning an exclusion violation into ``BlockTaken`` and a deadlock or
        serialisation failure into ``TransientConflict``."""
        try:
            return await self._db.execute(statement, params)
        except IntegrityError as error:
            if _sqlstate(error) == "23P01":
                diag = getattr(error.orig, "diag", None)
                raise BlockTaken(str(getattr(diag, "constraint_name", ""))) from error
            raise
        except DBAPIError as error:
            if _sqlstate(error) in _TRANSIENT:
                raise TransientConflict(str(_sqlstate(error))) from error
            raise

    async def _rows(self, statement: Select[Any]) -> list[Row]:
        return list((await self._db.execute(statement)).mappings())

    async def _load(self, rows: list[Row]) -> list[Appointment]:
        if not rows:
            return []
        tenant, ids = self._db.tenant_id(), [r["id"] for r in rows]
        items: dict[UUID, list[AppointmentItem]] = defaultdict(list)
        for row in await self._rows(
            select(_I).where(_I.c.tenant_id == tenant, _I.c.appointment_id.in_(ids)).order_by(_I.c.position)
        ):
            items[row["appointment_id"]].append(_item(row))
        history: dict[UUID, list[HistoryEntry]] = defaultdict(list)
        for row in await self._rows(
            select(_H).where(_H.c.tenant_id == tenant, _H.c.appointment_id.in_(ids)).order_by(_H.c.seq)
        ):
            history[row["appointment_id"]].append(_entry(row))
        loaded = [_appointment(r, items[r["id"]], history[r["id"]]) for r in rows]
        self._db.saw(*loaded)
        return loaded

    async def add(self, appointment: Appointment) -> None:
        a = appointment
        tenant = self._db.tenant_id()
        if a.tenant_id != tenant:
            raise ValueError("the appointment belongs to another tenant than the unit of work's")
        total = a.total
        await self._write(
            insert(_A).values(
                tenant_id=tenant,
                id=a.id,
                patient_id=a.patient_id,
                professional_id=a.professional_id,
                unit_id=a.unit_id,
                room_id=a.room_id,
                buffer_before_minutes=int(a.buffer_before / timedelta(minutes=1)),
                buffer_after_minutes=int(a.buffer_after / timedelta(minutes=1)),
                source=a.source.value,
                booked_by_user_id=a.booked_by.user_id,
                booked_by_api_key_id=a.booked_by.api_key_id,
                total_cents=to_cents(total),
                currency=total.currency,
                version=a.version,
                created_at=a.created_at,
                **_changing_values(a),
            )
        )
        await self._db.execute(
            insert(_I),
            [
                {
                    "tenant_id": tenant,
                    "appointment_id": a.id,
                    "position": position,
                    "procedure_id": item.procedure_id,
                    "name": item.name,
                    "duration_minutes": item.duration_minutes,
                    "price_cents": to_cents(item.price),
                    "currency": item.price.currency,
                    "buffer_before_minutes": item.buffer_before_minutes,
                    "buffer_after_minutes": item.buffer_after_minutes,
                }
                for position, item in enumerate(a.items)
            ],
        )
        if a.history:
            await self._db.execute(insert(_H), _history_rows(tenant, a.id, list(enumerate(a.history))))
        self._db.saw(a)

    async def get(self, appointment_id: AppointmentId) -> Appointment | None:
        rows = await self._rows(
            select(_A).where(_A.c.tenant_id == self._db.tenant_id(), _A.c.id == appointment_id)
        )
        found = await self._load(rows)
        return found[0] if found else None

    async def save(self, appointment: Appointment) -> bool:
        a, tenant = appointment, self._db.tenant_id()
        written = await self._write(
            update(_A)
            .where(_A.c.tenant_id == tenant, _A.c.id == a.id, _A.c.version == a.version)
            .values(version=a.version + 1, **_changing_values(a))
        )
        if written.rowcount != 1:
            return False
        stored = (
            await self._db.execute(
                select(func.count())
                .select_from(_H)
                .where(_H.c.tenant_id == tenant, _H.c.appointment_id == a.id)
            )
        ).scalar_one()
        new = list(enumerate(a.history))[stored:]
        if new:
            await self._db.execute(insert(_H), _history_rows(tenant, a.id, new))
        a.version += 1
        self._db.saw(a)
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
        shares = [_A.c.professional_id == professional_id, _A.c.patient_id == patient_id]
        if room_id is not None:
            shares.append(_A.c.room_id == room_id)
        statement = select(_A).where(
            _A.c.tenant_id == self._db.tenant_id(),
            _A.c.status.in_(_ACTIVE),
            _A.c.block_start < block_end,
            _A.c.block_end > block_start,
            or_(*shares),
        )
        if excluding is not None:
            statement = statement.where(_A.c.id != excluding)
        return await self._load(await self._rows(statement.order_by(_A.c.block_start, _A.c.id)))

    async def search(self, query: AppointmentQuery) -> list[Appointment]:
        q = query
        statement = select(_A).where(_A.c.tenant_id == self._db.tenant_id())
        if q.professional_ids is not None:
            statement = statement.where(_A.c.professional_id.in_(sorted(q.professional_ids)))
        if q.unit_ids is not None:
            statement = statement.where(_A.c.unit_id.in_(sorted(q.unit_ids)))
        if q.patient_ids is not None:
            statement = statement.where(_A.c.patient_id.in_(sorted(q.patient_ids)))
        if q.statuses is not None:
            statement = statement.where(_A.c.status.in_(sorted(s.value for s in q.statuses)))
        if q.starts_from is not None:
            statement = statement.where(_A.c.start_at >= q.starts_from)
        if q.starts_before is not None:
            statement = statement.where(_A.c.start_at < q.starts_before)
        if q.after is not None:
            at, last = q.after
            statement = statement.where(or_(_A.c.start_at > at, and_(_A.c.start_at == at, _A.c.id > last)))
        rows = await self._rows(statement.order_by(_A.c.start_at, _A.c.id).limit(q.limit))
        return await self._load(rows)

    async def busy(
        self, professional_ids: frozenset[ProfessionalId], starts_from: datetime, starts_before: datetime
    ) -> list[Appointment]:
        if not professional_ids:
            return []
        rows = await self._rows(
            select(_A)
            .where(
                _A.c.tenant_id == self._db.tenant_id(),
                _A.c.professional_id.in_(sorted(professional_ids)),
                _A.c.status.in_(_ACTIVE),
                _A.c.block_start < starts_before,
                _A.c.block_end > starts_from,
            )
            .order_by(_A.c.block_start, _A.c.id)
        )
        return await self._load(rows)


def lock_key(tenant_id: UUID, kind: str, resource_id: UUID) -> int:
    """A signed 64-bit advisory-lock key for one tenant's professional, room or patient."""
    digest = hashlib.blake2b(f"{tenant_id}:{kind}:{resource_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class SqlAppointmentLocks:
    """PostgreSQL: ``pg_advisory_xact_lock`` per professional, then room, then patient; released when the
    transaction ends. SQLite: the transaction's ``BEGIN IMMEDIATE`` holds the one write lock already;
    acquiring opens the transaction, so that the overlap check that follows reads under it."""

    def __init__(self, db: SqlSession, *, postgres: bool) -> None:
        self._db, self._postgres = db, postgres

    async def acquire(
        self, professional_id: ProfessionalId, room_ids: Sequence[RoomId], patient_id: PatientId
    ) -> None:
        tenant = self._db.tenant_id()
        if not self._postgres:
            await self._db.execute(select(text("1")))
            return
        keys = [lock_key(tenant, "professional", professional_id)]
        keys.extend(lock_key(tenant, "room", room_id) for room_id in sorted(set(room_ids)))
        keys.append(lock_key(tenant, "patient", patient_id))
        try:
            for key in keys:  # one statement each: the order is the point
                await self._db.execute(select(func.pg_advisory_xact_lock(key)))
        except DBAPIError as error:
            if _sqlstate(error) in _TRANSIENT:
                raise TransientConflict(str(_sqlstate(error))) from error
            raise


class SqlIdempotencyKeys:
    def __init__(self, db: SqlSession) -> None:
        self._db = db

    async def get(self, key: str) -> IdempotencyRecord | None:
        row = (
            (
                await self._db.execute(
                    select(_K).where(_K.c.tenant_id == self._db.tenant_id(), _K.c.key == key)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        return IdempotencyRecord(
            tenant_id=TenantId(row["tenant_id"]),
            key=row["key"],
            request_hash=row["request_hash"],
            created_at=row["created_at"],
            expires_at=row["expires_at"],
            status=row["status"],
            body=row["body"],
        )

    async def claim(self, record: IdempotencyRecord) -> None:
        await self._db.execute(
            insert(_K).values(
                tenant_id=self._db.tenant_id(),
                key=record.key,
                request_hash=record.request_hash,
                created_at=record.created_at,
                expires_at=record.expires_at,
            )
        )

    async def complete(self, key: str, status: int, body: str) -> None:
        await self._db.execute(
            update(_K)
            .where(_K.c.tenant_id == self._db.tenant_id(), _K.c.key == key)
            .values(status=status, body=body)
        )

    async def release(self, key: str) -> None:
        await self._db.execute(delete(_K).where(_K.c.tenant_id == self._db.tenant_id(), _K.c.key == key))

    async def purge_expired(self, now: datetime) -> int:
        result = await self._db.execute(
            delete(_K).where(_K.c.tenant_id == self._db.tenant_id(), _K.c.expires_at <= now)
        )
        return int(result.rowcount)


_W, _O = waitlist_entries, waitlist_offers


def _waitlist_entry(row: Row) -> WaitlistEntry:
    return WaitlistEntry(
        tenant_id=TenantId(row["tenant_id"]),
        id=WaitlistEntryId(row["id"]),
        patient_id=PatientId(row["patient_id"]),
        procedure_id=ProcedureId(row["procedure_id"]),
        professional_id=ProfessionalId(row["professional_id"]) if row["professional_id"] else None,
        unit_id=UnitId(row["unit_id"]),
        earliest=row["earliest"],
        latest=row["latest"],
        status=EntryStatus(row["status"]),
        created_by=_by(row["created_by_user_id"], row["created_by_api_key_id"]),
        created_at=row["created_at"],
        updated_at=row["updated_at"],
    )


def _offer(row: Row) -> WaitlistOffer:
    return WaitlistOffer(
        tenant_id=TenantId(row["tenant_id"]),
        id=OfferId(row["id"]),
        entry_id=WaitlistEntryId(row["entry_id"]),
        freed_by=AppointmentId(row["freed_by"]),
        professional_id=ProfessionalId(row["professional_id"]),
        unit_id=UnitId(row["unit_id"]),
        room_id=RoomId(row["room_id"]) if row["room_id"] else None,
        start=row["start_at"],
        end=row["end_at"],
        status=OfferStatus(row["status"]),
        expires_at=row["expires_at"],
        created_at=row["created_at"],
        answered_at=row["answered_at"],
        appointment_id=AppointmentId(row["appointment_id"]) if row["appointment_id"] else None,
    )


def _offer_changes(offer: WaitlistOffer) -> dict[str, Any]:
    return {
        "status": offer.status.value,
        "answered_at": offer.answered_at,
        "appointment_id": offer.appointment_id,
    }


class SqlWaitlistRepository:
    def __init__(self, db: SqlSession) -> None:
        self._db = db

    async def _rows(self, statement: Select[Any]) -> list[Row]:
        return list((await self._db.execute(statement)).mappings())

    async def add_entry(self, entry: WaitlistEntry) -> None:
        await self._db.execute(
            insert(_W).values(
                tenant_id=self._db.tenant_id(),
                id=entry.id,
                patient_id=entry.patient_id,
                procedure_id=entry.procedure_id,
                professional_id=entry.professional_id,
                unit_id=entry.unit_id,
                earliest=entry.earliest,
                latest=entry.latest,
                status=entry.status.value,
                created_by_user_id=entry.created_by.user_id,
                created_by_api_key_id=entry.created_by.api_key_id,
                created_at=entry.created_at,
                updated_at=entry.updated_at,
            )
        )

    async def get_entry(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None:
        rows = await self._rows(select(_W).where(_W.c.tenant_id == self._db.tenant_id(), _W.c.id == entry_id))
        return _waitlist_entry(rows[0]) if rows else None

    async def save_entry(self, entry: WaitlistEntry) -> None:
        await self._db.execute(
            update(_W)
            .where(_W.c.tenant_id == self._db.tenant_id(), _W.c.id == entry.id)
            .values(status=entry.status.value, updated_at=entry.updated_at)
        )

    async def open_entries(
        self, unit_id: UnitId | None = None, patient_ids: frozenset[PatientId] | None = None
    ) -> list[WaitlistEntry]:
        statement = select(_W).where(
            _W.c.tenant_id == self._db.tenant_id(),
            _W.c.status.in_([EntryStatus.WAITING.value, EntryStatus.OFFERED.value]),
        )
        if unit_id is not None:
            statement = statement.where(_W.c.unit_id == unit_id)
        if patient_ids is not None:
            statement = statement.where(_W.c.patient_id.in_(sorted(patient_ids)))
        return [_waitlist_entry(r) for r in await self._rows(statement.order_by(_W.c.created_at, _W.c.id))]

    async def add_offer(self, offer: WaitlistOffer) -> None:
        await self._db.execute(
            insert(_O).values(
                tenant_id=self._db.tenant_id(),
                id=offer.id,
                entry_id=offer.entry_id,
                freed_by=offer.freed_by,
                professional_id=offer.professional_id,
                unit_id=offer.unit_id,
                room_id=offer.room_id,
                start_at=offer.start,
                end_at=offer.end,
                expires_at=offer.expires_at,
                created_at=offer.created_at,
                **_offer_changes(offer),
            )
        )
        self._db.saw(offer)

    async def get_offer(self, offer_id: OfferId) -> WaitlistOffer | None:
        rows = await self._rows(select(_O).where(_O.c.tenant_id == self._db.tenant_id(), _O.c.id == offer_id))
        return _offer(rows[0]) if rows else None

    async def save_offer(self, offer: WaitlistOffer) -> None:
        await self._db.execute(
            update(_O)
            .where(_O.c.tenant_id == self._db.tenant_id(), _O.c.id == offer.id)
            .values(_offer_changes(offer))
        )
        self._db.saw(offer)

    async def offers_of(self, entry_ids: frozenset[WaitlistEntryId]) -> list[WaitlistOffer]:
        if not entry_ids:
            return []
        rows = await self._rows(
            select(_O)
            .where(_O.c.tenant_id == self._db.tenant_id(), _O.c.entry_id.in_(sorted(entry_ids)))
            .order_by(_O.c.created_at.desc(), _O.c.id.desc())
        )
        return [_offer(r) for r in rows]

    async def offers_freed_by(self, appointment_id: AppointmentId) -> list[WaitlistOffer]:
        rows = await self._rows(
            select(_O)
            .where(_O.c.tenant_id == self._db.tenant_id(), _O.c.freed_by == appointment_id)
            .order_by(_O.c.created_at.desc(), _O.c.id.desc())
        )
        return [_offer(r) for r in rows]

    async def expired_offers(self, now: datetime, limit: int) -> list[WaitlistOffer]:
        rows = await self._rows(
            select(_O)
            .where(
                _O.c.tenant_id == self._db.tenant_id(),
                _O.c.status == OfferStatus.OPEN.value,
                _O.c.expires_at <= now,
            )
            .order_by(_O.c.expires_at, _O.c.id)
            .limit(limit)
        )
        return [_offer(r) for r in rows]

    async def expire_offer(self, offer_id: OfferId, at: datetime) -> bool:
        result = await self._db.execute(
            update(_O)
            .where(
                _O.c.tenant_id == self._db.tenant_id(),
                _O.c.id == offer_id,
                _O.c.status == OfferStatus.OPEN.value,
                _O.c.expires_at <= at,
            )
            .values(status=OfferStatus.EXPIRED.value)
        )
        return int(result.rowcount) == 1
