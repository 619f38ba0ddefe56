"""The few FHIR R4 elements an import reads, as pydantic models.

Not ``fhir.resources``: measured on the Synthea bulk file (1,144 Patients), it validated 1,800 Patients/s
against 76,000/s for these models; it ships R4B and R5 but no R4 package; and it validates a whole bundle at
once, so one off-spec Claim would reject the Patient beside it. These models read what we map and ignore the
rest (``extra="ignore"``); they are strict on what they read: a boolean is a JSON boolean, a list a list.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, StringConstraints


class Element(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, strict=True)


class Coding(Element):
    system: str | None = None
    code: str | None = None
    display: str | None = None


class CodeableConcept(Element):
    coding: list[Coding] = []
    text: str | None = None

    def code_in(self, system: str) -> str | None:
        return next((c.code for c in self.coding if c.system == system and c.code), None)


class Identifier(Element):
    use: str | None = None
    type: CodeableConcept | None = None
    system: str | None = None
    value: str | None = None


class HumanName(Element):
    use: str | None = None
    text: str | None = None
    family: str | None = None
    given: list[str] = []
    prefix: list[str] = []
    suffix: list[str] = []


class ContactPoint(Element):
    system: str | None = None
    value: str | None = None
    use: str | None = None


class Address(Element):
    use: str | None = None
    line: list[str] = []
    city: str | None = None
    district: str | None = None
    state: str | None = None
    postalCode: str | None = None  # FHIR spells its elements in camelCase
    country: str | None = None


class Reference(Element):
    reference: str | None = None
    identifier: Identifier | None = None
    display: str | None = None


Gender = Literal["male", "female", "other", "unknown"]
Id = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9\-.]{1,64}$")]
"""FHIR's ``id``: 1 to 64 letters, digits, ``-`` and ``.``."""


class Patient(Element):
    resourceType: Literal["Patient"]
    id: Id | None = None
    identifier: list[Identifier] = []
    name: list[HumanName] = []
    telecom: list[ContactPoint] = []
    gender: Gender | None = None
    birthDate: str | None = None  # may be partial (1980, 1980-05): the mapper reads it
    deceasedBoolean: bool | None = None
    deceasedDateTime: str | None = None
    address: list[Address] = []
    maritalStatus: CodeableConcept | None = None
    generalPractitioner: list[Reference] = []


class Practitioner(Element):
    resourceType: Literal["Practitioner"]
    id: Id | None = None
    identifier: list[Identifier] = []
    name: list[HumanName] = []
    telecom: list[ContactPoint] = []
    gender: Gender | None = None
    address: list[Address] = []
