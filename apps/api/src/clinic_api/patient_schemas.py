"""The JSON of the patient routes: patients, weights, guardians, the access log and the clinic's settings.

Shapes and sizes only; every rule (CPF check digits, which fields fit which kind, phone formats) is
clinic_core's, so that its field-level messages are the ones clients see.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any
from uuid import UUID

from pydantic import ConfigDict, Field

from clinic_api.schemas import RequestModel, ResponseModel
from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.patients.fields import (
    UNSET,
    AddressInput,
    AllergyInput,
    IdentifierInput,
    PatientFields,
)
from clinic_core.patients.guardians import GuardianView, PatientSettings, UpdatePatientSettingsCommand
from clinic_core.patients.model import Patient, PatientAccess, PatientAddress, PatientWeight

Text = Annotated[str, Field(max_length=300)]
LongText = Annotated[str, Field(max_length=20_000)]
Short = Annotated[str, Field(max_length=120)]


class AddressIn(RequestModel):
    street: Text
    number: Short | None = None
    complement: Text | None = None
    district: Text | None = None
    city: Text
    state: Text
    postal_code: Short
    """A Brazilian CEP has 8 digits (`01304-000`)."""
    country: Short = "BR"
    """ISO 3166-1 alpha-2."""


class AllergyIn(RequestModel):
    substance: Text
    reaction: LongText | None = None
    severity: Short = "unknown"
    """`mild`, `moderate`, `severe` or `unknown`."""


class IdentifierIn(RequestModel):
    system: Short
    """`rg`, `passport`, `mrn`, `cns`, `cnh`, `rne`, `crm`, `crmv`, or `external:<name>` for another system's ids."""
    value: Short


class PatientFieldsIn(RequestModel):
    name: Text | None = None
    social_name: Text | None = None
    """The name a person uses (nome social); shown instead of `name`."""
    sex: Short | None = None
    """`female`, `male`, `intersex` or `unknown`."""
    birth_date: date | None = None
    birth_year: int | None = None
    """Instead of `birth_date` when only the year is known: recorded as 1 July of it, marked estimated."""
    age_years: int | None = None
    """Instead of `birth_date` when only the age is known: recorded as an estimated birth date."""
    phones: Annotated[list[Short], Field(max_length=20)] | None = None
    """Numbers without a country code are Brazilian; stored in E.164 (`+5511987654321`)."""
    emails: Annotated[list[Text], Field(max_length=20)] | None = None
    address: AddressIn | None = None
    allergies: Annotated[list[AllergyIn], Field(max_length=100)] | None = None
    notes: LongText | None = None
    tags: Annotated[list[Short], Field(max_length=60)] | None = None
    """Free labels, stored trimmed and in lower case (`vip`, `retorno`)."""
    cpf: Short | None = None
    """People only: digits, or formatted (`529.982.247-25`)."""
    identifiers: Annotated[list[IdentifierIn], Field(max_length=40)] | None = None
    """People only: other documents and other systems' ids; each unique in the clinic."""
    species: Short | None = None
    """Animals only: `dog`, `cat`, `bird`, `rabbit`, `rodent`, `ferret`, `horse`, `cattle`, `sheep`, `goat`,
    `pig`, `reptile`, `fish` or `other`."""
    breed: Text | None = None
    coat: Text | None = None
    neutered: bool | None = None
    microchip: Short | None = None
    """Animals only: the 15-digit ISO 11784 code; unique in the clinic."""
    unit_id: UUID | None = None
    """The home unit; empty: the whole clinic."""
    user_id: UUID | None = None
    """People only: the client account (a member of the clinic) that is this person, for the portal."""

    def fields(self) -> PatientFields:
        """The fields the body set (an explicit `null` clears a field; one left out stays)."""
        given = self.model_fields_set - {"kind", "version"}
        values: dict[str, Any] = {}
        for name in given:
            value = getattr(self, name)
            if name == "address" and value is not None:
                value = AddressInput(**value.model_dump())
            elif name == "allergies" and value is not None:
                value = [AllergyInput(**a.model_dump()) for a in value]
            elif name == "identifiers" and value is not None:
                value = [IdentifierInput(**i.model_dump()) for i in value]
            elif name in {"phones", "emails", "tags", "allergies", "identifiers"} and value is None:
                value = []
            elif name == "name" and value is None:
                value = ""
            elif name == "sex" and value is None:
                value = "unknown"
            values[name] = value
        return PatientFields(**values)


class PatientCreateRequest(PatientFieldsIn):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "person",
                    "name": "Maria da Silva",
                    "cpf": "529.982.247-25",
                    "phones": ["11987654321"],
                },
                {"kind": "animal", "name": "Thor", "species": "dog", "breed": "SRD", "age_years": 3},
            ]
        }
    )

    kind: Short
    """`person` or `animal`."""


class PatientUpdateRequest(PatientFieldsIn):
    """Fields left out stay as they are; `null` clears one."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"version": 3, "notes": "prefere manhãs"}]})

    version: int | None = None
    """The version read (or send it as `If-Match`); 409 `stale_version` when it is no longer current."""


class PatientStatusRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "deceased", "version": 4}]})

    status: Short
    """`active`, `inactive` or `deceased`."""
    deceased_at: datetime | None = None
    """When the patient died (deceased only; default: now). With a time zone offset."""
    version: int | None = None
    """The version read (or `If-Match`); without either, the current one."""


class WeightRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"kg": "12.350", "measured_at": "2026-03-02T10:00:00-03:00"}]}
    )

    kg: Decimal | Short
    """Kilograms, up to three decimal places (grams), as a number or a string."""
    measured_at: datetime | None = None
    """When it was measured (default: now); not in the future."""


class GuardianIn(RequestModel):
    guardian_id: Short
    """A person patient of the clinic."""
    role: Short
    """`owner`, `financially_responsible`, `emergency_contact` or `legal_guardian`."""
    is_primary: bool = False
    """At most one guardian of a patient is primary."""


class GuardiansRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "guardians": [
                        {
                            "guardian_id": "0193f0a0-0000-7000-8000-000000000001",
                            "role": "owner",
                            "is_primary": True,
                        }
                    ]
                }
            ]
        }
    )

    guardians: Annotated[list[GuardianIn], Field(max_length=20)]


class PatientSettingsRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"patients_shared_across_units": False},
                {
                    "patients_shared_across_units": True,
                    "locale": "en",
                    "contact_email": "contato@clinica.com.br",
                },
            ]
        }
    )

    patients_shared_across_units: bool
    """True: every member sees every patient. False: a member restricted to some units sees those units'
    patients and the ones with no home unit."""
    locale: Annotated[str | None, Field(max_length=10)] = None
    """The language of the clinic's emails: `pt-BR` or `en`. Absent (or null): unchanged."""
    contact_email: Annotated[str | None, Field(max_length=320)] = None
    """Where replies to the clinic's emails go, shown in them as its address. Absent: unchanged; null:
    removed."""

    def command(self, actor: Actor, context: RequestContext) -> UpdatePatientSettingsCommand:
        return UpdatePatientSettingsCommand(
            actor,
            self.patients_shared_across_units,
            context=context,
            locale=UNSET if self.locale is None else self.locale,
            contact_email=self.contact_email if "contact_email" in self.model_fields_set else UNSET,
        )


# Responses


class AddressOut(ResponseModel):
    street: str
    number: str | None
    complement: str | None
    district: str | None
    city: str
    state: str
    postal_code: str
    country: str

    @classmethod
    def of(cls, address: PatientAddress) -> AddressOut:
        return cls(
            street=address.street,
            number=address.number,
            complement=address.complement,
            district=address.district,
            city=address.city,
            state=address.state,
            postal_code=address.postal_code,
            country=address.country,
        )


class AllergyOut(ResponseModel):
    substance: str
    reaction: str | None
    severity: str


class IdentifierOut(ResponseModel):
    system: str
    value: str


class PatientOut(ResponseModel):
    id: UUID
    kind: str
    name: str
    social_name: str | None
    display_name: str
    """The social name when there is one, else the name."""
    sex: str
    birth_date: date | None
    birth_date_estimated: bool
    phones: list[str]
    emails: list[str]
    address: AddressOut | None
    allergies: list[AllergyOut]
    notes: str | None
    status: str
    deceased_at: datetime | None
    tags: list[str]
    cpf: str | None
    identifiers: list[IdentifierOut]
    species: str | None
    breed: str | None
    coat: str | None
    neutered: bool | None
    microchip: str | None
    unit_id: UUID | None
    user_id: UUID | None
    anonymised_at: datetime | None
    """When the patient's identity was erased (LGPD); such a patient can no longer be changed."""
    version: int
    """Send it back (body `version` or `If-Match`) when changing the patient."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, p: Patient) -> PatientOut:
        return cls(
            id=p.id,
            kind=p.kind.value,
            name=p.name.value,
            social_name=p.social_name.value if p.social_name else None,
            display_name=p.display_name,
            sex=p.sex.value,
            birth_date=p.birth_date,
            birth_date_estimated=p.birth_date_estimated,
            phones=[ph.value for ph in p.phones],
            emails=[e.value for e in p.emails],
            address=AddressOut.of(p.address) if p.address else None,
            allergies=[
                AllergyOut(substance=a.substance, reaction=a.reaction, severity=a.severity.value)
                for a in p.allergies
            ],
            notes=p.notes,
            status=p.status.value,
            deceased_at=p.deceased_at,
            tags=sorted(p.tags),
            cpf=p.cpf.formatted() if p.cpf else None,
            identifiers=[IdentifierOut(system=i.system, value=i.value) for i in p.identifiers],
            species=p.species.value if p.species else None,
            breed=p.breed,
            coat=p.coat,
            neutered=p.neutered,
            microchip=p.microchip.value if p.microchip else None,
            unit_id=p.unit_id,
            user_id=p.user_id,
            anonymised_at=p.anonymised_at,
            version=p.version,
            created_at=p.created_at,
            updated_at=p.updated_at,
        )


class PatientList(ResponseModel):
    items: list[PatientOut]
    next_cursor: str | None
    match: str
    """`prefix` (every word begins a word of the name, or CPF/phone/microchip digits) or `partial` (also
    names containing the words in order). A first page short of prefix matches switches to `partial`."""


class WeightOut(ResponseModel):
    id: UUID
    kg: Decimal
    measured_at: datetime
    recorded_by: UUID | None
    created_at: datetime

    @classmethod
    def of(cls, w: PatientWeight) -> WeightOut:
        return cls(
            id=w.id, kg=w.kg, measured_at=w.measured_at, recorded_by=w.recorded_by, created_at=w.created_at
        )


class WeightList(ResponseModel):
    items: list[WeightOut]
    next_cursor: str | None


class GuardianOut(ResponseModel):
    patient_id: UUID
    guardian_id: UUID
    role: str
    is_primary: bool
    created_at: datetime
    person: PatientOut
    """The guardian (in a guardian list) or the dependant (in a dependant list)."""

    @classmethod
    def of(cls, view: GuardianView) -> GuardianOut:
        link = view.link
        return cls(
            patient_id=link.patient_id,
            guardian_id=link.guardian_id,
            role=link.role.value,
            is_primary=link.is_primary,
            created_at=link.created_at,
            person=PatientOut.of(view.patient),
        )


class GuardianList(ResponseModel):
    items: list[GuardianOut]


class PatientAccessOut(ResponseModel):
    id: UUID
    patient_id: UUID
    action: str
    """`read`, `search`, `weights`, `guardians`, `dependants` or `portal_read`."""
    at: datetime
    actor_user_id: UUID | None
    actor_api_key_id: UUID | None
    ip: str | None
    user_agent: str | None
    request_id: str | None

    @classmethod
    def of(cls, a: PatientAccess) -> PatientAccessOut:
        return cls(
            id=a.id,
            patient_id=a.patient_id,
            action=a.action.value,
            at=a.at,
            actor_user_id=a.actor_user_id,
            actor_api_key_id=a.actor_api_key_id,
            ip=a.ip,
            user_agent=a.user_agent,
            request_id=a.request_id,
        )


class PatientAccessList(ResponseModel):
    items: list[PatientAccessOut]
    next_cursor: str | None


class PatientSettingsOut(ResponseModel):
    patients_shared_across_units: bool
    locale: str
    contact_email: str | None

    @classmethod
    def of(cls, settings: PatientSettings) -> PatientSettingsOut:
        return cls(
            patients_shared_across_units=settings.patients_shared_across_units,
            locale=settings.locale.value,
            contact_email=settings.contact_email.value if settings.contact_email else None,
        )
