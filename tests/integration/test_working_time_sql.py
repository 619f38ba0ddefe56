"""Working time and availability through the use cases, on three stores: the in-memory fakes, PostgreSQL (as
the app role, under row-level security) and SQLite. Round trips of every kind of row, another tenant's ids,
and availability computed end to end from what is stored."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from returns.result import Failure
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_core.application.actor import Actor
from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.catalog.model import Professional
from clinic_core.scheduling.availability import BookingRules
from clinic_core.scheduling.working_time import ClockSpan, OverrideKind, Weekday
from clinic_core.scheduling.working_time_use_cases import (
    AddClosure,
    AddClosureCommand,
    AddTimeOff,
    AddTimeOffCommand,
    AvailabilityRequest,
    DeleteTimeOff,
    GetAvailability,
    GetBookingRules,
    GetWeeklyHours,
    ListClosures,
    ListOverrides,
    PutOverride,
    PutOverrideCommand,
    SetBookingRules,
    SetBookingRulesCommand,
    SetWeeklyHours,
    SetWeeklyHoursCommand,
)
from clinic_core.shared.clock import FixedClock, SystemClock
from clinic_core.shared.errors import InvalidInput, NotFound
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.testing import FakePasswordHasher, InMemoryUnitOfWorkFactory, a_procedure, a_professional
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from tests.integration.conftest import PASSWORD, unique_email

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)  # a Monday, 09:00 in Sao Paulo
CLOCK = FixedClock(NOW)


@pytest.fixture(params=["memory", "postgres", "sqlite"])
def uow(request: pytest.FixtureRequest) -> UnitOfWorkFactory:
    if request.param == "memory":
        return InMemoryUnitOfWorkFactory()
    engine: AsyncEngine = request.getfixturevalue(
        "pg_app_engine" if request.param == "postgres" else "sqlite_engine"
    )
    return SqlUnitOfWorkFactory(engine)


async def clinic(
    uow: UnitOfWorkFactory, name: str = "Clínica Agenda"
) -> tuple[SignedUp, Actor, Professional]:
    command = SignUpCommand(
        tenant_name=name,
        unit_name="Centro",
        timezone="America/Sao_Paulo",
        owner_name="Ana Souza",
        email=unique_email("owner"),
        password=PASSWORD,
    )
    signed = (await SignUp(uow, FakePasswordHasher(), SystemClock())(command)).unwrap()
    tenant = signed.tenant.id
    actor = Actor(
        user_id=signed.owner.id, tenant_id=tenant, roles=frozenset({Role.OWNER}), unit_ids=frozenset()
    )
    procedure = a_procedure(tenant, "Consulta", minutes=60, buffer_after_minutes=15)
    professional = a_professional(
        tenant, signed.owner.id, procedure_ids=frozenset({procedure.id}), unit_ids=frozenset({signed.unit.id})
    )
    async with uow(Scope(tenant_id=tenant)) as tx:
        await tx.procedures.add(procedure)
        await tx.professionals.add(professional)
        await tx.commit()
    async with uow(Scope(tenant_id=tenant), read_only=True) as tx:
        stored = await tx.professionals.get(professional.id)
    assert stored is not None
    return signed, actor, stored


async def test_working_time_round_trips_and_drives_availability(uow: UnitOfWorkFactory) -> None:
    signed, actor, professional = await clinic(uow)
    unit = signed.unit.id
    [procedure_id] = professional.procedure_ids
    week = await SetWeeklyHours(uow, CLOCK)(
        SetWeeklyHoursCommand(
            actor,
            professional.id,
            unit,
            {"monday": [("13:00", "18:00"), ("09:00", "12:00")], "tuesday": [("09:00", "12:00")]},
        )
    )
    assert week.unwrap().spans_on(Weekday.MONDAY) == (ClockSpan(540, 720), ClockSpan(780, 1080))
    assert (await GetWeeklyHours(uow)(actor, professional.id, unit)).unwrap() == week.unwrap()

    tuesday = date(2026, 6, 2)
    override = await PutOverride(uow, CLOCK)(
        PutOverrideCommand(actor, professional.id, unit, tuesday, "replace", [("14:00", "16:00")])
    )
    assert override.unwrap().kind is OverrideKind.REPLACE
    listed = await ListOverrides(uow)(actor, professional.id, unit, date(2026, 6, 1), date(2026, 6, 30))
    assert listed.unwrap() == [override.unwrap()]

    # Monday afternoon off from 15:00 local; a closure on Wednesday (no hours anyway) is listed
    off = await AddTimeOff(uow, CLOCK)(
        AddTimeOffCommand(
            actor,
            professional.id,
            datetime(2026, 6, 1, 18, tzinfo=UTC),
            datetime(2026, 6, 1, 22, tzinfo=UTC),
            "dentista",
        )
    )
    closure = await AddClosure(uow, CLOCK)(
        AddClosureCommand(actor, unit, date(2026, 6, 4), date(2026, 6, 4), "Corpus Christi")
    )
    assert [
        c.id for c in (await ListClosures(uow)(actor, unit, date(2026, 6, 1), date(2026, 6, 30))).unwrap()
    ] == [closure.unwrap().id]
    rules = await SetBookingRules(uow, CLOCK)(SetBookingRulesCommand(actor, unit, 60, 30, 30))
    assert (
        (await GetBookingRules(uow)(actor, unit)).unwrap()
        == rules.unwrap()
        == BookingRules(timedelta(hours=1), timedelta(days=30), 30)
    )
    assert (rules.unwrap().cancellation_window_hours, rules.unwrap().waitlist_offer_minutes) == (24, 120)
    windows = await SetBookingRules(uow, CLOCK)(
        SetBookingRulesCommand(
            actor, unit, 60, 30, 30, cancellation_window_hours=48, waitlist_offer_minutes=2880
        )
    )
    stored = (await GetBookingRules(uow)(actor, unit)).unwrap()
    assert stored == windows.unwrap()
    assert (stored.cancellation_window, stored.waitlist_offer) == (timedelta(hours=48), timedelta(days=2))
    rules = await SetBookingRules(uow, CLOCK)(SetBookingRulesCommand(actor, unit, 60, 30, 30))
    assert (await GetBookingRules(uow)(actor, unit)).unwrap().cancellation_window_hours == 24

    availability = (
        await GetAvailability(uow, CLOCK)(
            AvailabilityRequest(
                actor,
                unit,
                [procedure_id],
                datetime(2026, 6, 1, 3, tzinfo=UTC),
                datetime(2026, 6, 3, 3, tzinfo=UTC),
            )
        )
    ).unwrap()
    local = [
        s.astimezone(availability.zone).strftime("%d %H:%M") for s in availability.slots[professional.id]
    ]
    # Monday: now 09:00 + 1 h notice -> 10:00; 60 min + 15 after inside hours for the appointment only;
    # time off from 15:00: the block [t, t + 75 min) must end by 15:00 -> t <= 13:45 -> 13:30 on the grid
    # Tuesday: replaced by 14:00-16:00
    assert local == [
        "01 10:00",
        "01 10:30",
        "01 11:00",
        "01 13:00",
        "01 13:30",
        "02 14:00",
        "02 14:30",
        "02 15:00",
    ]

    # deleting the time off frees the afternoon
    assert (await DeleteTimeOff(uow, CLOCK)(actor, off.unwrap().id)).unwrap() is None
    again = (
        await GetAvailability(uow, CLOCK)(
            AvailabilityRequest(
                actor,
                unit,
                [procedure_id],
                datetime(2026, 6, 1, 3, tzinfo=UTC),
                datetime(2026, 6, 2, 3, tzinfo=UTC),
            )
        )
    ).unwrap()
    assert len(again.slots[professional.id]) == 3 + 9


@pytest.mark.parametrize(
    ("field", "value"),
    [("cancellation_window", timedelta(hours=337)), ("waitlist_offer", timedelta(minutes=14))],
)
async def test_the_database_refuses_windows_out_of_range(
    sql_uow: SqlUnitOfWorkFactory, field: str, value: timedelta
) -> None:
    """The check constraints of migration 0016 hold even if the domain's validation were bypassed."""
    signed, _, _ = await clinic(sql_uow)
    rules = BookingRules()
    object.__setattr__(rules, field, value)  # what BookingRules itself refuses to build
    async with sql_uow(Scope(tenant_id=signed.tenant.id)) as tx:
        with pytest.raises(IntegrityError, match=r"(?i)check"):
            await tx.working_time.save_booking_rules(signed.unit.id, rules, NOW)


async def test_another_tenants_ids_are_not_found_and_bad_input_is_invalid(uow: UnitOfWorkFactory) -> None:
    mine, actor, professional = await clinic(uow, "Clínica A")
    theirs, their_actor, their_professional = await clinic(uow, "Clínica B")
    [their_procedure] = their_professional.procedure_ids
    [procedure] = professional.procedure_ids
    days = {"monday": [("09:00", "12:00")]}
    for result in (
        await SetWeeklyHours(uow, CLOCK)(
            SetWeeklyHoursCommand(actor, their_professional.id, mine.unit.id, days)
        ),
        await SetWeeklyHours(uow, CLOCK)(SetWeeklyHoursCommand(actor, professional.id, theirs.unit.id, days)),
        await GetBookingRules(uow)(actor, theirs.unit.id),
        await GetAvailability(uow, CLOCK)(
            AvailabilityRequest(actor, mine.unit.id, [their_procedure], NOW, NOW + timedelta(days=1))
        ),
        await GetAvailability(uow, CLOCK)(
            AvailabilityRequest(actor, theirs.unit.id, [procedure], NOW, NOW + timedelta(days=1))
        ),
    ):
        assert isinstance(result, Failure)
        assert isinstance(result.failure(), NotFound)
    for request in (
        AvailabilityRequest(actor, mine.unit.id, [procedure], NOW, NOW),
        AvailabilityRequest(actor, mine.unit.id, [procedure], NOW, NOW + timedelta(days=32)),
        AvailabilityRequest(actor, mine.unit.id, [], NOW, NOW + timedelta(days=1)),
    ):
        failed = await GetAvailability(uow, CLOCK)(request)
        assert isinstance(failed, Failure)
        assert isinstance(failed.failure(), InvalidInput)
    overlapping = await SetWeeklyHours(uow, CLOCK)(
        SetWeeklyHoursCommand(
            actor, professional.id, mine.unit.id, {"monday": [("09:00", "12:00"), ("11:00", "13:00")]}
        )
    )
    assert isinstance(overlapping, Failure)
    # their week stays theirs
    await SetWeeklyHours(uow, CLOCK)(
        SetWeeklyHoursCommand(their_actor, their_professional.id, theirs.unit.id, days)
    )
    assert (await GetWeeklyHours(uow)(actor, professional.id, mine.unit.id)).unwrap().is_empty
