"""The Appointment aggregate: layout of items and buffers, totals, the lifecycle, late cancellation,
rescheduling history and the events each transition records."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product

import pytest
from returns.result import Failure, Success

from clinic_core.patients.model import PatientId
from clinic_core.scheduling.appointments import (
    ACTIVE_STATUSES,
    Appointment,
    AppointmentCancelled,
    AppointmentCreated,
    AppointmentId,
    AppointmentItem,
    AppointmentRescheduled,
    AppointmentStatus,
    BookingSource,
    By,
    InvalidTransition,
    ProcedureId,
    ProfessionalId,
    TooEarly,
    Transition,
    allowed_transitions,
    layout,
)
from clinic_core.shared.ids import TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.values import Money

T0 = datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
ALICE = By(user_id=UserId(new_uuid()))


def item(
    minutes: int = 30, price: str = "100.00", before: int = 0, after: int = 0, name: str = "Limpeza"
) -> AppointmentItem:
    return AppointmentItem(
        procedure_id=ProcedureId(new_uuid()),
        name=name,
        duration_minutes=minutes,
        price=Money(Decimal(price)),
        buffer_before_minutes=before,
        buffer_after_minutes=after,
    )


def booked(*items: AppointmentItem, start: datetime = T0) -> Appointment:
    return Appointment.book(
        tenant_id=TenantId(new_uuid()),
        id=AppointmentId(new_uuid()),
        patient_id=PatientId(new_uuid()),
        professional_id=ProfessionalId(new_uuid()),
        unit_id=UnitId(new_uuid()),
        room_id=None,
        start=start,
        items=items or (item(),),
        booked_by=ALICE,
        source=BookingSource.STAFF,
        at=start - timedelta(days=3),
    )


def test_items_run_back_to_back_and_the_outer_buffers_widen_the_block() -> None:
    a = booked(item(30, before=5, after=10), item(45, before=15, after=20))
    assert a.start == T0
    assert a.end == T0 + timedelta(minutes=30 + 45)
    assert a.block_start == T0 - timedelta(minutes=5)
    assert a.block_end == a.end + timedelta(minutes=20)
    assert a.duration_minutes == 75


def test_the_total_is_the_sum_of_the_item_snapshots() -> None:
    a = booked(item(price="150.10"), item(price="49.95"), item(price="0"))
    assert a.total == Money(Decimal("200.05"))


def test_items_in_two_currencies_are_refused() -> None:
    usd = AppointmentItem(
        procedure_id=ProcedureId(new_uuid()), name="X", duration_minutes=10, price=Money(Decimal(1), "USD")
    )
    with pytest.raises(ValueError, match="one currency"):
        booked(item(), usd)


def test_a_start_in_another_zone_is_kept_in_utc() -> None:
    from zoneinfo import ZoneInfo

    local = datetime(2026, 3, 10, 10, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
    placed = layout(local, (item(),))
    assert placed.start == T0
    assert placed.start.tzinfo is UTC


def test_booking_records_created_with_the_source_and_a_history_entry() -> None:
    a = booked(item())
    assert a.status is AppointmentStatus.PENDING
    [event] = a.events
    assert isinstance(event, AppointmentCreated)
    assert event.topic == "appointment.created"
    assert event.source is BookingSource.STAFF
    assert event.version == 1
    assert event.payload()["start"] == T0.isoformat()
    [entry] = a.history
    assert entry.transition is Transition.CREATED
    assert entry.to_status is AppointmentStatus.PENDING


def test_the_happy_path_through_every_status() -> None:
    a = booked(item())
    at = T0 - timedelta(hours=1)
    assert a.confirm(ALICE, at) == Success(None)
    assert a.check_in(ALICE, at) == Success(None)
    assert a.begin(ALICE, T0) == Success(None)
    assert a.complete(ALICE, T0 + timedelta(minutes=30)) == Success(None)
    assert a.status is AppointmentStatus.COMPLETED
    assert [e.topic for e in a.events] == [
        "appointment.created",
        "appointment.confirmed",
        "appointment.checked_in",
        "appointment.started",
        "appointment.completed",
    ]
    assert [h.to_status for h in a.history] == [
        AppointmentStatus.PENDING,
        AppointmentStatus.CONFIRMED,
        AppointmentStatus.CHECKED_IN,
        AppointmentStatus.IN_PROGRESS,
        AppointmentStatus.COMPLETED,
    ]
    assert not a.is_active


# Every (status, action) pair: what the state machine allows, and nothing else.
ALLOWED = {
    (AppointmentStatus.PENDING, "confirm"),
    (AppointmentStatus.PENDING, "check_in"),
    (AppointmentStatus.CONFIRMED, "check_in"),
    (AppointmentStatus.CHECKED_IN, "begin"),
    (AppointmentStatus.IN_PROGRESS, "complete"),
    (AppointmentStatus.PENDING, "cancel"),
    (AppointmentStatus.CONFIRMED, "cancel"),
    (AppointmentStatus.CHECKED_IN, "cancel"),
    (AppointmentStatus.PENDING, "mark_no_show"),
    (AppointmentStatus.CONFIRMED, "mark_no_show"),
    (AppointmentStatus.PENDING, "reschedule"),
    (AppointmentStatus.CONFIRMED, "reschedule"),
}
ACTIONS = ["confirm", "check_in", "begin", "complete", "cancel", "mark_no_show", "reschedule"]
PATHS = {
    AppointmentStatus.PENDING: [],
    AppointmentStatus.CONFIRMED: ["confirm"],
    AppointmentStatus.CHECKED_IN: ["check_in"],
    AppointmentStatus.IN_PROGRESS: ["check_in", "begin"],
    AppointmentStatus.COMPLETED: ["check_in", "begin", "complete"],
    AppointmentStatus.CANCELLED: ["cancel"],
    AppointmentStatus.NO_SHOW: ["mark_no_show"],
}


def _act(a: Appointment, action: str, at: datetime) -> object:
    if action == "reschedule":
        return a.reschedule(T0 + timedelta(days=1), ALICE, at)
    return getattr(a, action)(ALICE, at)


@pytest.mark.parametrize(("status", "action"), list(product(PATHS, ACTIONS)))
def test_the_state_machine_allows_exactly_its_moves(status: AppointmentStatus, action: str) -> None:
    a = booked(item())
    after_start = T0 + timedelta(minutes=5)
    for step in PATHS[status]:
        assert _act(a, step, after_start) == Success(None)
    assert a.status is status
    events, history = len(a.events), len(a.history)
    result = _act(a, action, after_start)
    if (status, action) in ALLOWED:
        assert result == Success(None)
        assert len(a.events) == events + 1
        assert len(a.history) == history + 1
    else:
        assert isinstance(result, Failure)
        assert isinstance(result.failure(), InvalidTransition)
        assert result.failure().code == "invalid_transition"
        assert a.status is status  # nothing changed
        assert len(a.events) == events
        assert len(a.history) == history


def test_allowed_transitions_lists_what_the_buttons_should_offer() -> None:
    assert allowed_transitions(AppointmentStatus.COMPLETED) == frozenset()
    assert Transition.CANCELLED in allowed_transitions(AppointmentStatus.CHECKED_IN)
    assert Transition.RESCHEDULED not in allowed_transitions(AppointmentStatus.CHECKED_IN)
    assert {s for s in AppointmentStatus if s.is_active} == ACTIVE_STATUSES


def test_a_no_show_before_the_start_is_refused() -> None:
    a = booked(item())
    result = a.mark_no_show(ALICE, T0 - timedelta(seconds=1))
    assert isinstance(result, Failure)
    assert isinstance(result.failure(), TooEarly)
    assert a.status is AppointmentStatus.PENDING
    assert a.mark_no_show(ALICE, T0) == Success(None)
    assert a.events[-1].topic == "appointment.no_show"


@pytest.mark.parametrize(
    ("before_start", "late"),
    [
        (timedelta(hours=48), False),
        (timedelta(hours=24), False),  # exactly the window: in time
        (timedelta(hours=24) - timedelta(seconds=1), True),
        (timedelta(hours=1), True),
        (-timedelta(minutes=10), True),  # after the start (checked in, then left)
    ],
)
def test_late_cancellation_follows_the_window(before_start: timedelta, late: bool) -> None:
    a = booked(item())
    at = T0 - before_start
    assert a.cancel(ALICE, at, reason="patient asked", window=timedelta(hours=24)) == Success(None)
    assert a.status is AppointmentStatus.CANCELLED
    assert not a.is_active
    assert a.cancellation is not None
    assert a.cancellation.late is late
    assert a.cancellation.reason == "patient asked"
    assert a.cancellation.by == ALICE
    assert a.cancellation.at == at
    event = a.events[-1]
    assert isinstance(event, AppointmentCancelled)
    assert event.late is late


def test_the_window_is_the_clinics() -> None:
    a = booked(item())
    a.cancel(ALICE, T0 - timedelta(hours=3), window=timedelta(hours=2))
    assert a.cancellation is not None
    assert not a.cancellation.late


def test_reschedule_moves_both_ends_and_keeps_history() -> None:
    a = booked(item(30, before=5), item(30, after=10))
    a.confirm(ALICE, T0 - timedelta(days=2))
    length, block = a.end - a.start, a.block_end - a.block_start
    first_move = T0 + timedelta(days=1, hours=2)
    assert a.reschedule(first_move, ALICE, T0 - timedelta(days=1), reason="traffic") == Success(None)
    assert a.start == first_move
    assert a.end - a.start == length
    assert a.block_end - a.block_start == block
    assert a.status is AppointmentStatus.PENDING  # the patient confirmed the old time
    second_move = first_move + timedelta(hours=3)
    a.reschedule(second_move, ALICE, T0 - timedelta(hours=20))
    moves = [h for h in a.history if h.transition is Transition.RESCHEDULED]
    assert [(m.from_start, m.to_start) for m in moves] == [(T0, first_move), (first_move, second_move)]
    assert moves[0].reason == "traffic"
    assert moves[0].from_status is AppointmentStatus.CONFIRMED
    assert moves[0].to_end == first_move + length
    event = a.events[-1]
    assert isinstance(event, AppointmentRescheduled)
    assert (event.previous_start, event.start) == (first_move, second_move)


def test_events_carry_the_version_the_change_is_saved_at() -> None:
    a = booked(item())
    a.version = 4  # as read from the store
    a.confirm(ALICE, T0 - timedelta(days=1))
    assert a.events[-1].payload()["version"] == 5


def test_a_bad_snapshot_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="duration"):
        item(0)
    with pytest.raises(ValueError, match="buffer"):
        item(30, before=-1)
    with pytest.raises(ValueError, match="negative"):
        item(price="-1")
    with pytest.raises(ValueError, match="not both"):
        By(user_id=UserId(new_uuid()), api_key_id=new_uuid())  # type: ignore[arg-type]
