"""Value objects: what they accept, how they normalise it, and how they refuse the rest."""

from __future__ import annotations

from decimal import Decimal

import pytest
from returns.result import Failure, Success

from clinic_core.shared.errors import InvalidInput
from clinic_core.shared.values import CNPJ, CPF, Email, Money, PersonName, Phone, Slug, TimeZone


def _field_codes(result: object) -> list[tuple[str, str]]:
    assert isinstance(result, Failure), result
    error = result.failure()
    assert isinstance(error, InvalidInput)
    return [(e.field, e.code) for e in error.errors]


# --- Email -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("ana@example.com", "ana@example.com"),
        ("  ANA.Souza@Example.COM ", "ana.souza@example.com"),
        ("ana@exämple.com", "ana@exämple.com"),
        # The same mailbox typed in punycode must land on the same account as the Unicode form.
        ("ana@xn--exmple-cua.com", "ana@exämple.com"),
        ("josé@exemplo.com.br", "josé@exemplo.com.br"),
    ],
)
def test_email_is_stored_normalised(raw: str, stored: str) -> None:
    assert Email.parse(raw) == Success(Email(stored))
    assert str(Email.parse(raw).unwrap()) == stored


@pytest.mark.parametrize("raw", ["", "garbage", "ana@", "@example.com", "ana@example", "ana @example.com"])
def test_email_refuses_garbage(raw: str) -> None:
    assert _field_codes(Email.parse(raw)) == [("email", "invalid_email")]


def test_email_refuses_more_than_254_characters() -> None:
    too_long = "a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".com"
    assert len(too_long) > 254
    assert _field_codes(Email.parse(too_long)) == [("email", "too_long")]


def test_email_reports_against_the_field_it_came_from() -> None:
    assert _field_codes(Email.parse("nope", "owner.email")) == [("owner.email", "invalid_email")]


# Compatibility forms of a local part: fullwidth letters (as a CJK keyboard types them), the "fi"
# ligature, the Kelvin sign. Each would otherwise be an account of its own beside the plain spelling.
FULLWIDTH_OWNER = "\uff2f\uff37\uff2e\uff25\uff32@demo.example.com"


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        (FULLWIDTH_OWNER, "owner@demo.example.com"),
        ("\uff4fwner@demo.example.com", "owner@demo.example.com"),
        ("\ufb01nance@demo.example.com", "finance@demo.example.com"),
        ("\u212aate@demo.example.com", "kate@demo.example.com"),
        ("jose\u0301@exemplo.com.br", "jos\u00e9@exemplo.com.br"),  # decomposed accent: one josé
    ],
)
def test_email_local_part_is_nfkc_normalised(raw: str, stored: str) -> None:
    assert Email.parse(raw) == Success(Email(stored))


@pytest.mark.parametrize(
    "raw",
    [FULLWIDTH_OWNER, "\ufb01nance@demo.example.com", "Jos\u00c9@Exemplo.com.br", "ana@xn--exmple-cua.com"],
)
def test_email_accepts_exactly_its_normalised_form(raw: str) -> None:
    normalised = Email.normalise(raw)
    assert Email.problem(normalised) is None
    assert Email.normalise(normalised) == normalised
    assert Email.problem(raw) is not None  # each raw spelling above differs from its normalised form
    with pytest.raises(ValueError, match="expected"):
        Email(raw)


def test_an_email_with_a_compatibility_form_cannot_be_constructed() -> None:
    with pytest.raises(ValueError, match=r"expected 'owner@demo\.example\.com'"):
        Email("\uff4f\uff57\uff4e\uff45\uff52@demo.example.com")


# --- PersonName ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("Ana Souza", "Ana Souza"),
        ("  Ana \t  Maria\n Souza  ", "Ana Maria Souza"),
        ("Jose\u0301 da Silva", "José da Silva"),  # decomposed accent composed (NFC)
        ("João D'Ávila-Neto", "João D'Ávila-Neto"),
        ("李小龍", "李小龍"),
    ],
)
def test_person_name_is_trimmed_collapsed_and_composed(raw: str, stored: str) -> None:
    name = PersonName.parse(raw).unwrap()
    assert name.value == stored
    assert name == PersonName(stored)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "required"),
        ("   \n ", "required"),
        ("Ana\x00Souza", "invalid_characters"),
        ("Ana\x1bSouza", "invalid_characters"),
        ("Ana\x7fSouza", "invalid_characters"),
        ("Ana\x9bSouza", "invalid_characters"),  # C1 control (CSI): a terminal escape in disguise
        ("12345", "invalid_name"),
        ("--- ...", "invalid_name"),
        ("A" * 201, "too_long"),
    ],
)
def test_person_name_refuses(raw: str, code: str) -> None:
    assert _field_codes(PersonName.parse(raw, "owner_name")) == [("owner_name", code)]


def test_person_name_length_is_counted_after_normalising() -> None:
    assert len(PersonName.parse("A" * 200).unwrap().value) == 200
    # 200 letters with decomposed accents are 400 code points raw, 200 once composed.
    assert len(PersonName.parse("e\u0301" * 200).unwrap().value) == 200


# --- Phone -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("(11) 98765-4321", "+5511987654321"),  # mobile, no country code: read as Brazilian
        ("+55 11 98765-4321", "+5511987654321"),
        ("+55 (11) 98765-4321", "+5511987654321"),
        ("55 11 98765 4321", "+5511987654321"),
        ("011 98765-4321", "+5511987654321"),  # trunk prefix
        ("(11) 3456-7890", "+551134567890"),  # landline
        ("+55 21 2345-6789", "+552123456789"),
        ("+1 650-253-0000", "+16502530000"),  # foreign number with its country code
        ("+351 912 345 678", "+351912345678"),
    ],
)
def test_phone_is_stored_in_e164(raw: str, e164: str) -> None:
    assert Phone.parse(raw).unwrap().value == e164
    assert str(Phone(e164)) == e164


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "123",
        "not a phone",
        "11 8765-4321",  # Brazilian mobiles have had nine digits since 2016
        "(00) 98765-4321",  # no area code 00
        "+55 11 98765-43210",
        "+999 1234 5678",
    ],
)
def test_phone_refuses_invalid_numbers(raw: str) -> None:
    assert _field_codes(Phone.parse(raw)) == [("phone", "invalid_phone")]


def test_phone_constructor_wants_e164_exactly() -> None:
    with pytest.raises(ValueError, match="Phone"):
        Phone("(11) 98765-4321")
    with pytest.raises(ValueError, match="Phone"):
        Phone("5511987654321")


# --- CPF -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("529.982.247-25", "52998224725"),
        ("52998224725", "52998224725"),
        (" 529 982 247 25 ", "52998224725"),
        ("111.444.777-35", "11144477735"),
        ("000.000.001-91", "00000000191"),  # leading zeros are digits, not a number to strip
    ],
)
def test_cpf_accepts_valid_numbers_with_or_without_punctuation(raw: str, digits: str) -> None:
    cpf = CPF.parse(raw).unwrap()
    assert cpf.value == digits
    assert cpf.formatted() == f"{digits[:3]}.{digits[3:6]}.{digits[6:9]}-{digits[9:]}"


@pytest.mark.parametrize(
    "raw",
    [
        "529.982.247-24",  # second check digit wrong
        "529.982.247-15",  # first check digit wrong
        "529.982.247-52",  # check digits swapped
        "111.111.111-11",  # repeated digits pass the check sums, yet no such CPF exists
        "000.000.000-00",
        "999.999.999-99",
        "5299822472",
        "529982247250",
        "529.982.247-2X",
        "",
        "٥٢٩٩٨٢٢٤٧٢٥",  # Arabic-Indic digits: a second spelling of the same CPF must not be stored
    ],
)
def test_cpf_refuses_invalid_numbers(raw: str) -> None:
    assert _field_codes(CPF.parse(raw)) == [("cpf", "invalid_cpf")]


def test_cpf_formatted_round_trips() -> None:
    assert CPF.parse(CPF("52998224725").formatted()) == Success(CPF("52998224725"))


# --- CNPJ ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value", "formatted"),
    [
        ("11.222.333/0001-81", "11222333000181", "11.222.333/0001-81"),
        ("11222333000181", "11222333000181", "11.222.333/0001-81"),
        # The Receita Federal's own example of an alphanumeric CNPJ (valid from July 2026).
        ("12.ABC.345/01DE-35", "12ABC34501DE35", "12.ABC.345/01DE-35"),
        ("12.abc.345/01de-35", "12ABC34501DE35", "12.ABC.345/01DE-35"),
        ("12ABC34501DE35", "12ABC34501DE35", "12.ABC.345/01DE-35"),
    ],
)
def test_cnpj_accepts_numeric_and_alphanumeric(raw: str, value: str, formatted: str) -> None:
    cnpj = CNPJ.parse(raw).unwrap()
    assert cnpj.value == value
    assert cnpj.formatted() == formatted


@pytest.mark.parametrize(
    "raw",
    [
        "11.222.333/0001-82",
        "12.ABC.345/01DF-35",  # one letter changed
        "12.ABC.345/01DE-53",  # check digits swapped
        "12.ABC.345/01DE-3A",  # check digits stay numeric
        "00.000.000/0000-00",
        "1122233300018",
        "112223330001811",
        "12.ÀBC.345/01DE-35",
        "",
    ],
)
def test_cnpj_refuses_invalid_numbers(raw: str) -> None:
    assert _field_codes(CNPJ.parse(raw)) == [("cnpj", "invalid_cnpj")]


def test_cnpj_constructor_takes_the_normalised_value_only() -> None:
    assert CNPJ("12ABC34501DE35").value == "12ABC34501DE35"
    with pytest.raises(ValueError, match="CNPJ"):
        CNPJ("12abc34501de35")


# --- TimeZone --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("raw", ["America/Sao_Paulo", " America/Manaus ", "America/Noronha", "UTC"])
def test_timezone_accepts_iana_names(raw: str) -> None:
    zone = TimeZone.parse(raw).unwrap()
    assert zone.value == raw.strip()
    assert zone.zone.key == raw.strip()


@pytest.mark.parametrize(
    "raw", ["-03:00", "UTC-3", "BRT", "Mars/Base", "america/sao_paulo", "", "../../etc/passwd"]
)
def test_timezone_refuses_offsets_and_unknown_names(raw: str) -> None:
    assert _field_codes(TimeZone.parse(raw)) == [("timezone", "invalid_timezone")]


# --- Slug ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "slug"),
    [
        ("Clínica São João", "clinica-sao-joao"),
        ("  Estética & Bem-Estar — Unidade 2 ", "estetica-bem-estar-unidade-2"),
        ("Hospital Veterinário Pet's", "hospital-veterinario-pet-s"),
        ("Ç", "c-clinic"),
        ("診療所", "x-clinic"),
        ("", "x-clinic"),
    ],
)
def test_slug_from_text(text: str, slug: str) -> None:
    assert Slug.from_text(text).value == slug


def test_slug_from_long_text_stays_within_63_characters() -> None:
    slug = Slug.from_text("Clínica " * 20)
    assert len(slug.value) <= 63
    assert not slug.value.endswith("-")


@pytest.mark.parametrize("n", [2, 9, 10, 123, 99999])
def test_slug_with_suffix_respects_63_characters(n: int) -> None:
    long = Slug("a" * 63)
    suffixed = long.with_suffix(n)
    assert len(suffixed.value) == 63
    assert suffixed.value.endswith(f"-{n}")
    assert Slug("clinica-bela").with_suffix(n).value == f"clinica-bela-{n}"


def test_slug_with_suffix_does_not_leave_a_double_hyphen() -> None:
    base = Slug("a" * 60 + "-bb")  # cutting for "-2" would end the base on its hyphen
    assert base.with_suffix(2).value == "a" * 60 + "-2"


@pytest.mark.parametrize(
    "raw", ["a", "a" * 64, "clínica", "clinica--bela", "-clinica", "clinica-", "clinica bela", ""]
)
def test_slug_refuses_invalid(raw: str) -> None:
    assert _field_codes(Slug.parse(raw)) == [("slug", "invalid_slug")]
    with pytest.raises(ValueError, match="Slug"):
        Slug(raw)


def test_slug_input_is_case_insensitive_but_the_value_is_lower_case() -> None:
    assert Slug.parse(" Clinica-Bela ").unwrap() == Slug("clinica-bela")
    with pytest.raises(ValueError, match="Slug"):
        Slug("Clinica")


@pytest.mark.parametrize("zone", ["Etc/GMT+3", "Etc/GMT-2", "GMT", "EST5EDT"])
def test_fixed_offset_zones_are_refused(zone: str) -> None:
    assert _field_codes(TimeZone.parse(zone)) == [("timezone", "fixed_offset_timezone")]


@pytest.mark.parametrize("zone", ["America/Sao_Paulo", "America/Noronha", "America/Manaus", "UTC", "Etc/UTC"])
def test_real_zones_are_accepted(zone: str) -> None:
    assert TimeZone.parse(zone).unwrap().value == zone


def test_an_email_must_be_normalised_to_be_constructed() -> None:
    assert Email.parse(" Ana@Example.COM ").unwrap() == Email("ana@example.com")
    with pytest.raises(ValueError, match=r"expected 'ana@example\.com'"):
        Email("Ana@example.com")


@pytest.mark.parametrize("spoof", ["Ana\u202eanA", "Ana\u2066x", "Ana\u200fB"])
def test_names_with_bidirectional_controls_are_refused(spoof: str) -> None:
    assert _field_codes(PersonName.parse(spoof)) == [("name", "invalid_characters")]


# --- Money -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("0.125", "BRL", "0.12"),  # half-even: to the even cent
        ("0.135", "BRL", "0.14"),
        ("0.145", "BRL", "0.14"),
        ("2.675", "USD", "2.68"),
        ("-0.125", "BRL", "-0.12"),
        ("10", "BRL", "10.00"),
        ("1234.5", "CLP", "1234"),  # no minor unit
        ("1235.5", "CLP", "1236"),
    ],
)
def test_money_rounds_half_even_to_the_minor_unit(amount: str, currency: str, rounded: str) -> None:
    money = Money(Decimal(amount), currency)
    assert str(money.amount) == rounded
    assert Money.parse(amount, currency.lower()) == Success(money)


def test_money_arithmetic_stays_exact() -> None:
    price = Money(Decimal("0.10"))
    assert sum((price for _ in range(3)), Money.zero()) == Money(Decimal("0.30"))
    assert Money(Decimal("100.00")) - Money(Decimal("33.33")).times(3) == Money(Decimal("0.01"))
    assert Money(Decimal("19.99")).times(Decimal("0.5")).amount == Decimal("10.00")  # 9.995 -> even cent


def test_money_refuses_to_combine_currencies() -> None:
    with pytest.raises(ValueError, match="BRL and USD"):
        _ = Money(Decimal(1)) + Money(Decimal(1), "USD")
    with pytest.raises(ValueError, match="BRL and EUR"):
        _ = Money(Decimal(1)) - Money(Decimal(1), "EUR")


@pytest.mark.parametrize("currency", ["XXX", "brl", "", "BTC"])
def test_money_constructor_refuses_unsupported_currencies(currency: str) -> None:
    with pytest.raises(ValueError, match="currency"):
        Money(Decimal(1), currency)


@pytest.mark.parametrize("amount", [Decimal("NaN"), Decimal("Infinity"), Decimal("-Infinity"), 1.5])
def test_money_constructor_refuses_non_finite_or_non_decimal_amounts(amount: object) -> None:
    with pytest.raises(ValueError, match="finite Decimal"):
        Money(amount)  # type: ignore[arg-type]


def test_money_parse_reports_an_unsupported_currency() -> None:
    assert _field_codes(Money.parse("10", "XYZ")) == [("price.currency", "invalid_currency")]
    assert _field_codes(Money.parse("10", "XYZ", field="fee")) == [("fee.currency", "invalid_currency")]


@pytest.mark.parametrize(
    "amount",
    [
        "",
        "abc",
        "10,50",
        "R$ 10",
        "NaN",
        "-nan",
        "sNaN",
        "Infinity",
        "-Infinity",
        "inf",
        Decimal("NaN"),
    ],
)
def test_money_parse_reports_a_bad_amount(amount: str | Decimal) -> None:
    assert _field_codes(Money.parse(amount)) == [("price.amount", "invalid_amount")]


@pytest.mark.parametrize("amount", ["1e30", "9" * 27, Decimal("1E+100")])
def test_money_parse_reports_an_out_of_range_amount_instead_of_raising(amount: str | Decimal) -> None:
    # More digits than the decimal context holds: an answer for the caller, not a decimal exception.
    assert _field_codes(Money.parse(amount)) == [("price.amount", "out_of_range")]
    with pytest.raises(ValueError, match="out of range"):
        Money(Decimal(amount))


@pytest.mark.parametrize(("amount", "expected"), [("10.5", "10.50"), (" 7 ", "7.00"), (3, "3.00")])
def test_money_parse_accepts_decimal_text_and_integers(amount: str | int, expected: str) -> None:
    assert Money.parse(amount).unwrap() == Money(Decimal(expected), "BRL")


# --- constructors raise, parse returns Failure -----------------------------------------------------------

_INVALID = [
    (Email, "garbage", "email"),
    (PersonName, "", "name"),
    (Phone, "123", "phone"),
    (CPF, "12345678900", "cpf"),
    (CNPJ, "11222333000180", "cnpj"),
    (TimeZone, "Mars/Base", "timezone"),
    (Slug, "Not A Slug", "slug"),
]


@pytest.mark.parametrize(("cls", "raw", "default_field"), _INVALID)
def test_constructor_raises_value_error_and_parse_returns_failure(
    cls: type[Email], raw: str, default_field: str
) -> None:
    with pytest.raises(ValueError, match=cls.__name__):
        cls(raw)
    assert [field for field, _ in _field_codes(cls.parse(raw))] == [default_field]
    assert [field for field, _ in _field_codes(cls.parse(raw, "patient.x"))] == ["patient.x"]


def test_value_objects_are_immutable() -> None:
    email = Email("ana@example.com")
    with pytest.raises(AttributeError):
        email.value = "eve@example.com"  # type: ignore[misc]
