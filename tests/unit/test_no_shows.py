"""The no-show sweep on the in-memory adapters: past the grace period only, pending or confirmed only,
through the lifecycle transition (history, event, timeline) with the system as the actor."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from clinic_core.application.unit_of_work import Scope
from clinic_core.clinical.timeline import TimelineQuery
from clinic_core.scheduling.appointments import AppointmentStatus, Transition
from clinic_core.scheduling.booking import Action, ChangeAppointmentStatus, ChangeStatusCommand
from clinic_core.scheduling.no_shows import MarkNoShows
from clinic_core.shared.clock import FixedClock
from clinic_core.testing import InMemoryUnitOfWorkFactory
from tests.sweep_world import a_sweep_clinic

BOOKED = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
START = datetime(2026, 4, 10, 14, 0, tzinfo=UTC)


async def test_an_appointment_nobody_came_to_becomes_a_no_show_after_the_grace_period() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory())
    booked = await clinic.book(START, BOOKED)
    await clinic.confirm(booked.id, BOOKED + timedelta(hours=1))
    sweep = MarkNoShows(clinic.uow, FixedClock(START + timedelta(minutes=59)), grace=timedelta(minutes=60))
    assert (await sweep(clinic.tenant))["no_shows_marked"] == 0
    later = MarkNoShows(clinic.uow, FixedClock(START + timedelta(minutes=61)), grace=timedelta(minutes=60))
    assert (await later(clinic.tenant))["no_shows_marked"] == 1
    assert (await later(clinic.tenant))["no_shows_marked"] == 0, "marked once"

    marked = await clinic.get(booked.id)
    assert marked.status is AppointmentStatus.NO_SHOW
    entry = marked.history[-1]
    assert (entry.transition, entry.from_status, entry.by.user_id, entry.by.api_key_id) == (
        Transition.NO_SHOW,
        AppointmentStatus.CONFIRMED,
        None,
        None,
    )
    [event] = await clinic.events("appointment.no_show")
    assert event["appointment_id"] == str(booked.id)
    assert (event["by_user_id"], event["by_api_key_id"], event["status"]) == (None, None, "no_show")
    async with clinic.uow(Scope(tenant_id=clinic.tenant), read_only=True) as tx:
        timeline = await tx.timeline.page(TimelineQuery(clinic.patients[0].id, frozenset({"appointment"})))
    assert [(e.ref_id, e.status, e.actor_id) for e in timeline.items] == [(booked.id, "no_show", None)]


async def test_only_pending_and_confirmed_appointments_are_marked() -> None:
    clinic = await a_sweep_clinic(InMemoryUnitOfWorkFactory())
    pending = await clinic.book(START, BOOKED, patient=0)
    checked_in = await clinic.book(START + timedelta(hours=1), BOOKED, patient=1)
    cancelled = await clinic.book(START + timedelta(hours=2), BOOKED, patient=2)
    change = ChangeAppointmentStatus(clinic.uow, FixedClock(checked_in.start))
    await change(ChangeStatusCommand(clinic.actor, checked_in.id, Action.CHECK_IN))
    await clinic.cancel(cancelled.id, BOOKED + timedelta(hours=1))
    sweep = MarkNoShows(clinic.uow, FixedClock(START + timedelta(hours=6)), batch_size=1)
    assert await sweep(clinic.tenant) == {"no_shows_marked": 1, "no_shows_changed_meanwhile": 0}
    statuses = [(await clinic.get(a.id)).status for a in (pending, checked_in, cancelled)]
    assert statuses == [AppointmentStatus.NO_SHOW, AppointmentStatus.CHECKED_IN, AppointmentStatus.CANCELLED]
