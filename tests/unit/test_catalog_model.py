"""The catalog's entities and value checks: what a procedure, category, professional or room may hold, and
Money in integer minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest
from returns.result import Failure, Success

from clinic_core.catalog.model import (
    Council,
    CouncilRegistration,
    check_buffer,
    check_colour,
    check_description,
    check_duration,
    check_icon,
    check_kind,
    check_name,
    check_price,
    check_specialties,
)
from clinic_core.shared.errors import InvalidInput
from clinic_core.shared.ids import TenantId, UnitId, UserId, new_uuid
from clinic_core.shared.values import Money
from clinic_core.testing import a_category, a_procedure, a_professional, a_room

TENANT = TenantId(new_uuid())


def _code(result: object) -> str:
    assert isinstance(result, Failure)
    failure = result.failure()
    assert isinstance(failure, InvalidInput)
    return failure.errors[0].code


@pytest.mark.parametrize("minutes", [5, 10, 45, 715, 720])
def test_durations_of_5_to_720_minutes_in_steps_of_5_are_accepted(minutes: int) -> None:
    assert check_duration(minutes) == Success(minutes)


@pytest.mark.parametrize("minutes", [0, 4, 7, 721, 725, -5, 33])
def test_other_durations_are_refused(minutes: int) -> None:
    assert _code(check_duration(minutes)) == "invalid_duration"
    with pytest.raises(ValueError, match="duration"):
        a_procedure(TENANT, minutes=minutes)


@pytest.mark.parametrize(("minutes", "ok"), [(0, True), (240, True), (-1, False), (241, False)])
def test_buffers_are_0_to_240_minutes(minutes: int, ok: bool) -> None:
    assert isinstance(check_buffer(minutes, "buffer_after_minutes"), Success) is ok


def test_a_procedure_blocks_its_duration_and_both_buffers() -> None:
    procedure = a_procedure(TENANT, minutes=30, buffer_before_minutes=10, buffer_after_minutes=15)
    assert procedure.blocked_minutes == 55


def test_a_price_is_never_negative_nor_absurd() -> None:
    assert _code(check_price(Money(Decimal("-0.01")))) == "negative_price"
    assert _code(check_price(Money(Decimal("10000000000")))) == "out_of_range"
    assert check_price(Money(Decimal(0))) == Success(Money(Decimal(0)))
    with pytest.raises(ValueError, match="negative"):
        a_procedure(TENANT, price="-1")


@pytest.mark.parametrize(
    ("money", "minor"),
    [
        (Money(Decimal("19.90")), 1990),
        (Money(Decimal("0.005")), 0),  # half-even: 0.005 -> 0.00
        (Money(Decimal("0.015")), 2),  # half-even: 0.015 -> 0.02
        (Money(Decimal(25000), "CLP"), 25000),
        (Money(Decimal("1234567.89"), "EUR"), 123456789),
    ],
)
def test_money_is_stored_as_integer_minor_units_and_read_back_exactly(money: Money, minor: int) -> None:
    assert money.minor_units == minor
    assert isinstance(money.minor_units, int)
    assert Money.from_minor_units(minor, money.currency) == money


def test_money_from_minor_units_refuses_an_unknown_currency() -> None:
    with pytest.raises(ValueError, match="currency"):
        Money.from_minor_units(100, "XYZ")


def test_colours_are_hex_rrggbb_kept_upper_case() -> None:
    assert check_colour(" #ff00aa ") == Success("#FF00AA")
    for bad in ("ff00aa", "#fff", "#GG0000", "#FF00AA00", "red"):
        assert _code(check_colour(bad)) == "invalid_colour"
    with pytest.raises(ValueError, match="colour"):
        a_category(TENANT, colour="#ff00aa")


def test_icons_and_types_are_plain_words() -> None:
    assert check_icon("mdi:needle") == Success("mdi:needle")
    assert check_icon("  ") == Success(None)
    assert _code(check_icon("<svg onload=x>")) == "invalid_icon"
    assert check_kind(" Laser_Room ") == Success("laser_room")
    assert _code(check_kind("laser room")) == "invalid_type"
    with pytest.raises(ValueError, match="type"):
        a_room(TENANT, UnitId(new_uuid()), type="Sala!")


def test_names_are_trimmed_collapsed_and_free_of_control_characters() -> None:
    assert check_name("  Limpeza   de\tpele ") == Success("Limpeza de pele")
    assert _code(check_name("   ")) == "required"
    assert _code(check_name("x" * 121)) == "too_long"
    assert _code(check_name("Botox\u202e")) == "invalid_characters"
    assert check_description("  Sessão de 1h.\nTrazer exames. ") == Success("Sessão de 1h.\nTrazer exames.")
    assert check_description("   ") == Success(None)
    assert _code(check_description("a\x00b")) == "invalid_characters"


def test_specialties_are_deduplicated_ignoring_case_and_limited() -> None:
    assert check_specialties(["Dermatologia", " dermatologia ", "Felinos"]) == Success(
        ("Dermatologia", "Felinos")
    )
    assert _code(check_specialties([f"S{i}" for i in range(21)])) == "too_many"
    assert _code(check_specialties([""])) == "required"


def test_a_council_registration_is_parsed_and_normalised() -> None:
    parsed = CouncilRegistration.parse("crmv", " 12 345 ", "sp")
    assert parsed == Success(CouncilRegistration(Council.CRMV, "12345", "SP"))
    assert str(parsed.unwrap()) == "CRMV 12345/SP"
    assert _code(CouncilRegistration.parse("CRQ", "1", "SP")) == "invalid_council"
    assert _code(CouncilRegistration.parse("CRM", "1", "XX")) == "invalid_state"
    assert _code(CouncilRegistration.parse("CRM", "", "SP")) == "invalid_registration"
    failure = CouncilRegistration.parse("CRM", "1", "ZZ")
    assert isinstance(failure, Failure)
    assert failure.failure().errors[0].field == "council_registration.state"


def test_a_professional_performs_a_set_of_procedures() -> None:
    one, two = a_procedure(TENANT, "Um"), a_procedure(TENANT, "Dois")
    pro = a_professional(TENANT, UserId(new_uuid()), procedure_ids=frozenset({one.id}))
    assert pro.performs([one.id])
    assert not pro.performs([one.id, two.id])
    assert pro.performs([])


def test_changes_record_an_event_for_the_outbox() -> None:
    procedure = a_procedure(TENANT)
    procedure.active = False
    procedure.changed(procedure.created_at)
    (event,) = procedure.events
    assert event.payload()["procedure_id"] == str(procedure.id)
    assert event.payload()["active"] is False
    assert event.topic == "catalog.procedure_changed"
