"""The waitlist's entries, offers and port (the use cases are in ``clinic_core.scheduling.waitlist``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import ClassVar, NewType, Protocol
from uuid import UUID

from clinic_core.patients.model import PatientId
from clinic_core.scheduling.appointments import AppointmentId, By, ProcedureId, ProfessionalId, RoomId
from clinic_core.shared.errors import Conflict
from clinic_core.shared.events import DomainEvent
from clinic_core.shared.ids import TenantId, UnitId

WaitlistEntryId = NewType("WaitlistEntryId", UUID)
OfferId = NewType("OfferId", UUID)

MAX_OFFERS_PER_SLOT = 3
MAX_RANGE = timedelta(days=366)


class EntryStatus(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    BOOKED = "booked"
    REMOVED = "removed"


class OfferStatus(StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


@dataclass(eq=False, kw_only=True)
class WaitlistEntry:
    tenant_id: TenantId
    id: WaitlistEntryId
    patient_id: PatientId
    procedure_id: ProcedureId
    professional_id: ProfessionalId | None
    unit_id: UnitId
    earliest: datetime
    latest: datetime
    status: EntryStatus
    created_by: By
    created_at: datetime
    updated_at: datetime

    @property
    def is_open(self) -> bool:
        return self.status in (EntryStatus.WAITING, EntryStatus.OFFERED)


@dataclass(frozen=True, kw_only=True)
class WaitlistOfferMade(DomainEvent):
    topic = "waitlist.offer_made"
    offer_id: OfferId
    entry_id: WaitlistEntryId
    patient_id: PatientId
    professional_id: ProfessionalId
    unit_id: UnitId
    start: datetime
    end: datetime
    expires_at: datetime


@dataclass(eq=False, kw_only=True)
class WaitlistOffer:
    tenant_id: TenantId
    id: OfferId
    entry_id: WaitlistEntryId
    freed_by: AppointmentId
    professional_id: ProfessionalId
    unit_id: UnitId
    room_id: RoomId | None
    start: datetime
    end: datetime
    status: OfferStatus
    expires_at: datetime
    created_at: datetime
    answered_at: datetime | None = None
    appointment_id: AppointmentId | None = None
    events: list[DomainEvent] = field(default_factory=list, repr=False)

    def is_open_at(self, now: datetime) -> bool:
        return self.status is OfferStatus.OPEN and now < self.expires_at


@dataclass(frozen=True, slots=True)
class OfferClosed(Conflict):
    code: ClassVar[str] = "offer_closed"

    @property
    def detail(self) -> str:
        return "this offer was answered already or has expired"


class WaitlistRepository(Protocol):
    """The scope's tenant's waitlist entries and offers."""

    async def add_entry(self, entry: WaitlistEntry) -> None: ...

    async def get_entry(self, entry_id: WaitlistEntryId) -> WaitlistEntry | None: ...

    async def save_entry(self, entry: WaitlistEntry) -> None: ...

    async def open_entries(
        self, unit_id: UnitId | None = None, patient_ids: frozenset[PatientId] | None = None
    ) -> list[WaitlistEntry]:
        """Waiting or offered entries (of a unit, of some patients), in the order they joined."""
        ...

    async def add_offer(self, offer: WaitlistOffer) -> None: ...

    async def get_offer(self, offer_id: OfferId) -> WaitlistOffer | None: ...

    async def save_offer(self, offer: WaitlistOffer) -> None: ...

    async def offers_of(self, entry_ids: frozenset[WaitlistEntryId]) -> list[WaitlistOffer]:
        """The offers made to these entries, newest first."""
        ...

    async def offers_freed_by(self, appointment_id: AppointmentId) -> list[WaitlistOffer]:
        """The offers of the time this appointment freed, newest first."""
        ...

    async def expired_offers(self, now: datetime, limit: int) -> list[WaitlistOffer]:
        """Up to ``limit`` offers still open whose ``expires_at`` has come, soonest expired first."""
        ...

    async def expire_offer(self, offer_id: OfferId, at: datetime) -> bool:
        """Mark the offer expired if it is still open and its ``expires_at`` has come at ``at``. False when
        it is not (answered meanwhile, or expired by a concurrent sweep)."""
        ...
