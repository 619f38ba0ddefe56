"""The waitlist: patients waiting for a procedure (optionally with one professional) within a date range,
and the offers of freed time made to them.

When an appointment is cancelled (or moved away from its time) before it begins, the freed time is offered,
in the same transaction, to the matching entries in the order they joined: same unit, the professional
wanted (or any), a procedure the professional performs that fits in the freed block, and a start inside
the entry's range. Up to ``MAX_OFFERS_PER_SLOT`` entries get an offer each, open for the clinic's offer time
(2 hours by default), and an outbox event ``waitlist.offer_made`` for the notification. Accepting an offer
books it through the booking use case, with its locks and checks: when two accept, the first wins and the
second gets a 409 like any other booking of taken time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import Scope, UnitOfWork, UnitOfWorkFactory
from clinic_core.patients.guardians import family_of
from clinic_core.patients.model import PatientId
from clinic_core.patients.use_cases import scope_of, visible_patient
from clinic_core.scheduling.appointments import (
    Appointment,
    AppointmentItem,
    ProcedureId,
    ProfessionalId,
    layout,
)
from clinic_core.scheduling.availability import BookingRules
from clinic_core.scheduling.booking import (
    BookAppointment,
    BookAppointmentCommand,
    BookingFailure,
    BookingPolicy,
    by_of,
    is_client,
    retrying,
)
from clinic_core.scheduling.waitlist_model import (
    MAX_OFFERS_PER_SLOT,
    MAX_RANGE,
    EntryStatus,
    OfferClosed,
    OfferId,
    OfferStatus,
    WaitlistEntry,
    WaitlistEntryId,
    WaitlistOffer,
    WaitlistOfferMade,
)
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import FieldError, Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import TenantId, UnitId, new_uuid, parse_uuid
from clinic_core.tenancy.permissions import Permission

# --- offering freed time --------------------------------------------------------------------------


async def offer_freed_time(
    uow: UnitOfWork,
    appointment: Appointment,
    now: datetime,
    ttl: timedelta,
    *,
    freed: tuple[datetime, datetime] | None = None,
    excluding: frozenset[WaitlistEntryId] = frozenset(),
    limit: int = MAX_OFFERS_PER_SLOT,
) -> list[WaitlistOffer]:
    """Offer the time ``appointment`` freed (its own, or ``freed`` after a move) to up to ``limit`` matching
    entries, not those in ``excluding``; each offer expires ``ttl`` from now (the unit's
    ``BookingRules.waitlist_offer``)."""
    start, end = freed or (appointment.start, appointment.end)
    block_start, block_end = start - appointment.buffer_before, end + appointment.buffer_after
    still_busy = await uow.appointments.overlapping(
        block_start=block_start,
        block_end=block_end,
        professional_id=appointment.professional_id,
        room_id=None,
        patient_id=appointment.patient_id,
    )
    if any(a.professional_id == appointment.professional_id for a in still_busy):
        return []  # a move that overlaps its old time frees nothing of the professional's
    entries = [
        e
        for e in await uow.waitlist.open_entries(unit_id=appointment.unit_id)
        if e.status is EntryStatus.WAITING
        and e.id not in excluding
        and e.professional_id in (None, appointment.professional_id)
        and e.patient_id != appointment.patient_id
        and e.earliest <= start < e.latest
    ]
    if not entries or limit < 1:
        return []
    professional = await uow.professionals.get(appointment.professional_id)
    if professional is None or not professional.active:
        return []
    procedures = await uow.procedures.get_many(frozenset(e.procedure_id for e in entries))
    offers: list[WaitlistOffer] = []
    for entry in entries:
        procedure = procedures.get(entry.procedure_id)
        if procedure is None or not procedure.active or entry.procedure_id not in professional.procedure_ids:
            continue
        item = AppointmentItem(
            procedure_id=procedure.id,
            name=procedure.name,
            duration_minutes=procedure.duration_minutes,
            price=procedure.price,
            buffer_before_minutes=procedure.buffer_before_minutes,
            buffer_after_minutes=procedure.buffer_after_minutes,
        )
        fits = layout(start, (item,)).block
        if fits.start < block_start or fits.end > block_end:
            continue
        offer = WaitlistOffer(
            tenant_id=appointment.tenant_id,
            id=OfferId(new_uuid()),
            entry_id=entry.id,
            freed_by=appointment.id,
            professional_id=appointment.professional_id,
            unit_id=appointment.unit_id,
            room_id=appointment.room_id,
            start=start,
            end=start + timedelta(minutes=procedure.duration_minutes),
            status=OfferStatus.OPEN,
            expires_at=now + ttl,
            created_at=now,
        )
        offer.events.append(
            WaitlistOfferMade(
                tenant_id=offer.tenant_id,
                occurred_at=now,
                offer_id=offer.id,
                entry_id=entry.id,
                patient_id=entry.patient_id,
                professional_id=offer.professional_id,
                unit_id=offer.unit_id,
                start=offer.start,
                end=offer.end,
                expires_at=offer.expires_at,
            )
        )
        await uow.waitlist.add_offer(offer)
        entry.status, entry.updated_at = EntryStatus.OFFERED, now
        await uow.waitlist.save_entry(entry)
        offers.append(offer)
        if len(offers) == limit:
            break
    return offers


def _freed_interval(appointment: Appointment, offer: WaitlistOffer) -> tuple[datetime, datetime]:
    """The time ``appointment`` freed that ``offer`` was cut from: its own if it was cancelled there, the
    time it left if it was moved (the history keeps it), else the offer's own interval."""
    if appointment.start == offer.start and not appointment.is_active:
        return appointment.start, appointment.end
    for entry in reversed(appointment.history):
        if entry.from_start == offer.start and entry.from_end is not None:
            return entry.from_start, entry.from_end
    return offer.start, offer.end


async def _offer_again(uow: UnitOfWork, expired: WaitlistOffer, now: datetime) -> list[WaitlistOffer]:
    """Offer the time of an offer that expired to the next matching entries: those that have not been
    offered that time yet, so that at most ``MAX_OFFERS_PER_SLOT`` offers of it are open at once."""
    if expired.start <= now:
        return []
    appointment = await uow.appointments.get(expired.freed_by)
    if appointment is None:
        return []
    same_time = [o for o in await uow.waitlist.offers_freed_by(expired.freed_by) if o.start == expired.start]
    still_open = sum(1 for o in same_time if o.is_open_at(now))
    rules = await uow.working_time.booking_rules(appointment.unit_id) or BookingRules()
    return await offer_freed_time(
        uow,
        appointment,
        now,
        rules.waitlist_offer,
        freed=_freed_interval(appointment, expired),
        excluding=frozenset(o.entry_id for o in same_time),
        limit=MAX_OFFERS_PER_SLOT - still_open,
    )


class ExpireWaitlistOffers:
    """One tenant's pass of the ``expire-waitlist-offers`` sweep.

    An open offer whose time ran out is marked expired (only if still open: an answer, or a concurrent
    sweep, that came first wins), its entry goes back to waiting (the patient still wants a time; they
    missed this one), and the time is offered to the next matching entries that were not offered it yet,
    like a cancellation offers it, while it is still in the future and still free.
    """

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, *, batch_size: int = 100) -> None:
        self._uow, self._clock, self._batch_size = uow, clock, batch_size

    async def __call__(self, tenant_id: TenantId) -> dict[str, int]:
        now = self._clock.now()
        expired = offered = 0
        while True:
            async with self._uow(Scope(tenant_id=tenant_id)) as uow:
                page = await uow.waitlist.expired_offers(now, self._batch_size)
                for offer in page:
                    if not await uow.waitlist.expire_offer(offer.id, now):
                        continue
                    expired += 1
                    offered += len(await _offer_again(uow, offer, now))
                    entry = await uow.waitlist.get_entry(offer.entry_id)
                    if entry is not None and entry.status is EntryStatus.OFFERED:
                        entry.status, entry.updated_at = EntryStatus.WAITING, now
                        await uow.waitlist.save_entry(entry)
                await uow.commit()
            if len(page) < self._batch_size:
                break
        return {"offers_expired": expired, "offers_made": offered}


# --- use cases ----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JoinWaitlistCommand:
    actor: Actor
    patient_id: str
    procedure_id: str
    unit_id: str
    earliest: datetime
    latest: datetime
    professional_id: str | None = None
    context: RequestContext = NO_CONTEXT


async def _patient_for(uow: UnitOfWork, actor: Actor, patient_id: PatientId) -> bool:
    if is_client(actor):
        _, family = await family_of(uow, actor)
        return patient_id in family
    return await visible_patient(uow, actor, patient_id) is not None


class JoinWaitlist:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: JoinWaitlistCommand
    ) -> Result[WaitlistEntry, Forbidden | NotFound | InvalidInput]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.APPOINTMENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        errors: list[FieldError] = []
        ids = {}
        for name, raw in (
            ("patient_id", cmd.patient_id),
            ("procedure_id", cmd.procedure_id),
            ("unit_id", cmd.unit_id),
            ("professional_id", cmd.professional_id),
        ):
            if raw is None:
                continue
            parsed = parse_uuid(raw)
            if parsed is None:
                errors.append(FieldError(name, "invalid_id", "not an id"))
            ids[name] = parsed
        for name, at in (("earliest", cmd.earliest), ("latest", cmd.latest)):
            if at.utcoffset() is None:
                errors.append(FieldError(name, "naive_datetime", "give the time with its UTC offset"))
        if not errors and not cmd.earliest < cmd.latest:
            errors.append(FieldError("latest", "out_of_range", "latest comes after earliest"))
        if not errors and cmd.latest - cmd.earliest > MAX_RANGE:
            errors.append(FieldError("latest", "out_of_range", "a range of one year at most"))
        now = self._clock.now()
        if not errors and cmd.latest <= now:
            errors.append(FieldError("latest", "in_the_past", "the range has passed"))
        if errors:
            return Failure(InvalidInput(tuple(errors)))
        patient_id = PatientId(ids["patient_id"])  # type: ignore[arg-type]
        unit_id = UnitId(ids["unit_id"])  # type: ignore[arg-type]
        procedure_id = ProcedureId(ids["procedure_id"])  # type: ignore[arg-type]
        professional_id = ProfessionalId(ids["professional_id"]) if ids.get("professional_id") else None  # type: ignore[arg-type]
        async with self._uow(scope_of(actor)) as uow:
            if not await _patient_for(uow, actor, patient_id):
                return Failure(NotFound("patient", str(patient_id)))
            if not actor.sees_unit(unit_id) or not await uow.units.existing(frozenset({unit_id})):
                errors.append(FieldError("unit_id", "unknown_unit", "no such unit in this clinic"))
            procedure = await uow.procedures.get(procedure_id)
            if procedure is None or not procedure.active:
                errors.append(FieldError("procedure_id", "unknown_procedure", "no such procedure"))
            if professional_id is not None:
                professional = await uow.professionals.get(professional_id)
                if professional is None or not professional.active:
                    errors.append(
                        FieldError("professional_id", "unknown_professional", "no such professional")
                    )
                elif procedure_id not in professional.procedure_ids:
                    errors.append(
                        FieldError("professional_id", "not_performed", "the professional does not perform it")
                    )
            if errors:
                return Failure(InvalidInput(tuple(errors)))
            entry = WaitlistEntry(
                tenant_id=actor.tenant_id,
                id=WaitlistEntryId(new_uuid()),
                patient_id=patient_id,
                procedure_id=procedure_id,
                professional_id=professional_id,
                unit_id=unit_id,
                earliest=cmd.earliest,
                latest=cmd.latest,
                status=EntryStatus.WAITING,
                created_by=by_of(actor),
                created_at=now,
                updated_at=now,
            )
            await uow.waitlist.add_entry(entry)
            await uow.commit()
        return Success(entry)


@dataclass(frozen=True, slots=True)
class EntryView:
    entry: WaitlistEntry
    offers: list[WaitlistOffer]


class ListWaitlist:
    """Open entries (of a unit, or a patient) in the order they joined, with their offers."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, unit_id: UnitId | None = None, patient_id: PatientId | None = None
    ) -> Result[list[EntryView], Forbidden]:
        allowed = actor.authorize(Permission.APPOINTMENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor), read_only=True) as uow:
            patients: frozenset[PatientId] | None = frozenset({patient_id}) if patient_id else None
            if is_client(actor):
                _, family = await family_of(uow, actor)
                patients = family & patients if patients is not None else family
            entries = [
                e for e in await uow.waitlist.open_entries(unit_id, patients) if actor.sees_unit(e.unit_id)
            ]
            offers = await uow.waitlist.offers_of(frozenset(e.id for e in entries))
        by_entry: dict[WaitlistEntryId, list[WaitlistOffer]] = {}
        for offer in offers:
            by_entry.setdefault(offer.entry_id, []).append(offer)
        return Success([EntryView(e, by_entry.get(e.id, [])) for e in entries])


class RemoveFromWaitlist:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(self, actor: Actor, entry_id: WaitlistEntryId) -> Result[None, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.APPOINTMENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor)) as uow:
            entry = await uow.waitlist.get_entry(entry_id)
            if (
                entry is None
                or not entry.is_open
                or not actor.sees_unit(entry.unit_id)
                or not await _patient_for(uow, actor, entry.patient_id)
            ):
                return Failure(NotFound("waitlist_entry", str(entry_id)))
            entry.status, entry.updated_at = EntryStatus.REMOVED, self._clock.now()
            await uow.waitlist.save_entry(entry)
            await uow.commit()
        return Success(None)


@dataclass(frozen=True, slots=True)
class AnswerOfferCommand:
    actor: Actor
    offer_id: OfferId
    accept: bool
    context: RequestContext = NO_CONTEXT


class AnswerOffer:
    """Accept (book it, through the booking use case, in the same transaction) or decline an open offer."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock, book: BookAppointment) -> None:
        self._uow, self._clock, self._book = uow, clock, book

    async def __call__(
        self, cmd: AnswerOfferCommand
    ) -> Result[Appointment | None, BookingFailure | OfferClosed]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.APPOINTMENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed

        async def attempt() -> Result[Appointment | None, BookingFailure | OfferClosed]:
            now = self._clock.now()
            async with self._uow(scope_of(actor)) as uow:
                offer = await uow.waitlist.get_offer(cmd.offer_id)
                entry = await uow.waitlist.get_entry(offer.entry_id) if offer is not None else None
                if (
                    offer is None
                    or entry is None
                    or not actor.sees_unit(offer.unit_id)
                    or not await _patient_for(uow, actor, entry.patient_id)
                ):
                    return Failure(NotFound("waitlist_offer", str(cmd.offer_id)))
                if not offer.is_open_at(now) or offer.start <= now:
                    return Failure(OfferClosed())
                appointment: Appointment | None = None
                if cmd.accept:
                    booked = await self._book.within(
                        uow,
                        BookAppointmentCommand(
                            actor=actor,
                            patient_id=str(entry.patient_id),
                            professional_id=str(offer.professional_id),
                            unit_id=str(offer.unit_id),
                            start=offer.start,
                            procedure_ids=(str(entry.procedure_id),),
                            room_id=str(offer.room_id) if offer.room_id is not None else None,
                            context=cmd.context,
                        ),
                        notice=False,
                    )
                    if isinstance(booked, Failure):
                        return booked
                    appointment = booked.unwrap()
                offer.status = OfferStatus.ACCEPTED if cmd.accept else OfferStatus.DECLINED
                offer.answered_at = now
                offer.appointment_id = appointment.id if appointment is not None else None
                await uow.waitlist.save_offer(offer)
                entry.status = EntryStatus.BOOKED if cmd.accept else EntryStatus.WAITING
                entry.updated_at = now
                await uow.waitlist.save_entry(entry)
                await uow.commit()
            return Success(appointment)

        return await retrying(BookingPolicy().attempts, attempt)
