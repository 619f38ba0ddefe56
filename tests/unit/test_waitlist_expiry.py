"""The offer expiry sweep on the in-memory adapters: expired offers close, their entries wait again, and
the time goes to the next entries that were not offered it, while it is free and ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clinic_core.scheduling.booking import BookAppointment
from clinic_core.scheduling.waitlist import AnswerOffer, AnswerOfferCommand, ExpireWaitlistOffers
from clinic_core.scheduling.waitlist_model import EntryStatus, OfferStatus
from clinic_core.shared.clock import FixedClock
from clinic_core.testing import InMemoryUnitOfWorkFactory
from tests.sweep_world import SweepClinic, a_sweep_clinic

BOOKED = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
START = datetime(2026, 4, 10, 14, 0, tzinfo=UTC)
CANCELLED = datetime(2026, 4, 8, 10, 0, tzinfo=UTC)
OFFER_TTL = timedelta(minutes=120)  # the unit's default waitlist_offer_minutes


async def a_full_waitlist(waiting: int = 4) -> SweepClinic:
    """Patient 0's appointment at START cancelled at CANCELLED; patients 1.. waiting for that day."""
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory(), patients=waiting + 1)
    booked = await clinic.book(START, BOOKED)
    for i in range(1, waiting + 1):
        await clinic.join_waitlist(
            i, BOOKED + timedelta(minutes=i), START - timedelta(hours=4), START + timedelta(hours=4)
        )
    await clinic.cancel(booked.id, CANCELLED)
    return clinic


async def expire(clinic: SweepClinic, at: datetime) -> dict[str, int]:
    return await ExpireWaitlistOffers(clinic.uow, FixedClock(at))(clinic.tenant)


async def test_an_expired_offer_hands_the_time_to_the_next_entry() -> None:
    clinic = await a_full_waitlist()
    before = await clinic.waitlist()
    assert [status for status, _ in before.values()] == [EntryStatus.OFFERED] * 3 + [EntryStatus.WAITING]

    assert await expire(clinic, CANCELLED + OFFER_TTL - timedelta(seconds=1)) == {
        "offers_expired": 0,
        "offers_made": 0,
    }
    assert await expire(clinic, CANCELLED + OFFER_TTL) == {"offers_expired": 3, "offers_made": 1}
    after = await clinic.waitlist()
    first_three, last = list(after.values())[:3], list(after.values())[3]
    assert all(status is EntryStatus.WAITING for status, _ in first_three), "back to waiting"
    assert all([o.status for o in offers] == [OfferStatus.EXPIRED] for _, offers in first_three)
    assert last[0] is EntryStatus.OFFERED
    [offer] = last[1]
    assert (offer.start, offer.status, offer.expires_at) == (
        START,
        OfferStatus.OPEN,
        CANCELLED + OFFER_TTL + OFFER_TTL,
    )
    made = await clinic.events("waitlist.offer_made")
    assert [e["entry_id"] for e in made][-1] == str(clinic.entry_ids[3])

    assert await expire(clinic, CANCELLED + OFFER_TTL + timedelta(minutes=1)) == {
        "offers_expired": 0,
        "offers_made": 0,
    }, "a second run finds nothing"
    # The last one lapses too: everyone was offered that time once, nobody is offered it again.
    assert await expire(clinic, CANCELLED + 2 * OFFER_TTL) == {"offers_expired": 1, "offers_made": 0}
    assert [status for status, _ in (await clinic.waitlist()).values()] == [EntryStatus.WAITING] * 4


async def test_time_taken_by_an_accepted_offer_is_not_offered_again() -> None:
    clinic = await a_full_waitlist()
    first = (await clinic.waitlist())[clinic.entry_ids[0]][1][0]
    at = CANCELLED + timedelta(minutes=30)
    answer = AnswerOffer(clinic.uow, FixedClock(at), BookAppointment(clinic.uow, FixedClock(at)))
    assert (await answer(AnswerOfferCommand(clinic.actor, first.id, accept=True))).unwrap() is not None
    assert await expire(clinic, CANCELLED + OFFER_TTL) == {"offers_expired": 2, "offers_made": 0}
    statuses = [status for status, _ in (await clinic.waitlist()).values()]
    assert statuses == [EntryStatus.BOOKED, EntryStatus.WAITING, EntryStatus.WAITING, EntryStatus.WAITING]


async def test_time_that_has_passed_is_not_offered_again() -> None:
    clinic = await a_full_waitlist()
    assert await expire(clinic, START + timedelta(minutes=5)) == {"offers_expired": 3, "offers_made": 0}
    assert [status for status, _ in (await clinic.waitlist()).values()] == [EntryStatus.WAITING] * 4
