"""One imported patient into the clinic's patients: checked, matched, created or updated, in one transaction.

What the import keeps of a record, and what it leaves out with a warning:

- the name (the source's official one), sex, birth date, death (status ``deceased`` and when);
- phones valid in the country of the patient's address (Synthea's ``555-...`` numbers are fictional, so
  none of them is), emails, the first complete address;
- identifiers, in our systems: ``external:synthea`` (the Synthea person), ``external:<source>`` (the
  resource's own id, when it names the patient beyond one file), ``mrn``, ``passport``, ``external:us-ssn``,
  ``external:us-drivers-license``; a CPF becomes the patient's CPF. One value belongs to one patient of
  the clinic: a value another patient holds already (Synthea gives some driver's licences to two people)
  is left out of this one.

Matching, in order: an ``external:`` identifier (one the source gave the patient itself) names the patient;
otherwise the other identifiers and the CPF do, provided that the patient they find contradicts nothing
(another value for an identifier system both have, another birth date or sex). Two different patients
found this way are ambiguous, and the record is skipped. An update changes the fields the record gives and
adds identifiers, phones and emails; it never removes what the clinic recorded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import phonenumbers
from returns.result import Failure

from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWorkFactory
from clinic_core.interop.imported import (
    AdministrativeGender,
    ContactKind,
    IdentifierKind,
    ImportedAddress,
    ImportedPatient,
)
from clinic_core.interop.outcomes import Outcome
from clinic_core.interop.ports import IdentifierHolders
from clinic_core.patients.model import (
    MAX_CONTACTS,
    MAX_IDENTIFIERS,
    MAX_SHORT_TEXT,
    Identifier,
    Patient,
    PatientAddress,
    PatientId,
    PatientKind,
    PatientStatus,
    Sex,
)
from clinic_core.patients.ports import PatientRepository
from clinic_core.shared.clock import Clock
from clinic_core.shared.ids import TenantId, new_uuid
from clinic_core.shared.values import CPF, Email, PersonName, Phone

SYSTEMS: dict[IdentifierKind, str] = {
    IdentifierKind.SYNTHEA: "external:synthea",
    IdentifierKind.MRN: "mrn",
    IdentifierKind.PASSPORT: "passport",
    IdentifierKind.SSN: "external:us-ssn",
    IdentifierKind.DRIVERS_LICENSE: "external:us-drivers-license",
}
"""Our identifier system for each kind the reader recognises; CPF and NPI are handled apart."""
DEFAULT_PHONE_REGION = "BR"

Issue = tuple[str, str]
"""(code, message)."""


class Skip(Exception):
    """The record cannot be imported: raised and caught inside this module only, where it ends the
    record's transaction without a write."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class Wanted:
    """What the record asks the patient to be, already in the domain's values."""

    name: PersonName
    sex: Sex | None
    birth_date: date | None
    deceased_at: datetime | None
    phones: list[Phone] = field(default_factory=list)
    emails: list[Email] = field(default_factory=list)
    address: PatientAddress | None = None
    cpf: CPF | None = None
    keys: list[Identifier] = field(default_factory=list)
    """``external:`` identifiers: the source's own names for the patient, matched first."""
    others: list[Identifier] = field(default_factory=list)
    warnings: list[Issue] = field(default_factory=list)


_SEX = {
    AdministrativeGender.MALE: Sex.MALE,
    AdministrativeGender.FEMALE: Sex.FEMALE,
    AdministrativeGender.UNKNOWN: Sex.UNKNOWN,
}


def _phone(raw: str, region: str) -> Phone | None:
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    parsed = Phone.parse(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return None if isinstance(parsed, Failure) else parsed.unwrap()


def _address(addresses: tuple[ImportedAddress, ...], warnings: list[Issue]) -> PatientAddress | None:
    home = [a for a in addresses if a.use in (None, "home")] or list(addresses)
    for candidate in home:
        street = ", ".join(candidate.lines)
        parts = (street, candidate.city, candidate.state, candidate.postal_code)
        if not all(parts):
            continue
        texts = [p for p in (*parts, candidate.district, candidate.country) if p]
        if any(len(text) > MAX_SHORT_TEXT for text in texts):
            warnings.append(
                ("invalid_address", f"an address line is over {MAX_SHORT_TEXT} characters: not imported")
            )
            return None
        return PatientAddress(
            street=street,
            city=candidate.city or "",
            state=candidate.state or "",
            postal_code=candidate.postal_code or "",
            country=(candidate.country or DEFAULT_PHONE_REGION).upper(),
            district=candidate.district,
        )
    if addresses:
        warnings.append(
            ("incomplete_address", "no address has a street, city, state and postal code: not imported")
        )
    return None


def wanted_of(imported: ImportedPatient, source_system: str, today: date) -> Wanted:
    """The domain values of a record; raises ``Skip`` when the record cannot make a patient at all."""
    warnings: list[Issue] = [("source_note", note) for note in imported.notes]
    name = PersonName.parse(imported.name.full)
    if isinstance(name, Failure):
        raise Skip("invalid_name", f"name: {name.failure().detail}")
    sex = _SEX.get(imported.gender) if imported.gender else None
    if imported.gender is AdministrativeGender.OTHER:
        sex = Sex.UNKNOWN
        warnings.append(("gender_other", "gender 'other' has no equivalent here: recorded as unknown"))
    birth_date = imported.birth_date
    if birth_date is not None and birth_date > today:
        raise Skip("invalid_birth_date", f"birthDate {birth_date} is in the future")
    if imported.deceased and imported.deceased_at is None:
        raise Skip(
            "deceased_without_date",
            "the patient is deceased but the record gives no date: a death needs its date",
        )
    if (
        imported.deceased_at is not None
        and birth_date is not None
        and imported.deceased_at.date() < birth_date
    ):
        raise Skip("invalid_deceased_at", "the date of death is before the birth date")
    wanted = Wanted(name.unwrap(), sex, birth_date, imported.deceased_at, warnings=warnings)

    region = next((a.country.upper() for a in imported.addresses if a.country and len(a.country) == 2), None)
    for contact in imported.contacts:
        if contact.kind is ContactKind.PHONE:
            phone = _phone(contact.value, region or DEFAULT_PHONE_REGION)
            if phone is None:
                warnings.append(
                    (
                        "invalid_phone",
                        f"phone {contact.value!r} is not a valid number (read as {region or DEFAULT_PHONE_REGION}):"
                        " not imported",
                    )
                )
            elif phone not in wanted.phones:
                wanted.phones.append(phone)
        else:
            email = Email.parse(contact.value)
            if isinstance(email, Failure):
                warnings.append(("invalid_email", f"email {contact.value!r} is not valid: not imported"))
            elif email.unwrap() not in wanted.emails:
                wanted.emails.append(email.unwrap())
    wanted.address = _address(imported.addresses, warnings)

    for identifier in imported.identifiers:
        if identifier.kind is IdentifierKind.CPF:
            cpf = CPF.parse(identifier.value)
            if isinstance(cpf, Failure):
                warnings.append(
                    ("invalid_identifier", f"CPF {identifier.value!r} is not valid: not imported")
                )
            else:
                wanted.cpf = cpf.unwrap()
            continue
        system = SYSTEMS.get(identifier.kind) if identifier.kind else None
        if system is None:
            what = identifier.kind.value if identifier.kind else (identifier.system or "no system")
            warnings.append(
                (
                    "unknown_identifier",
                    f"identifier {identifier.value!r} ({what}): not a patient identifier here",
                )
            )
            continue
        _add_identifier(wanted, system, identifier.value, key=identifier.kind is IdentifierKind.SYNTHEA)
    if imported.stable_id and imported.source_id and not wanted.keys:
        _add_identifier(wanted, source_system, imported.source_id, key=True)
    return wanted


def _add_identifier(wanted: Wanted, system: str, value: str, *, key: bool) -> None:
    parsed = Identifier.parse(system, value)
    if isinstance(parsed, Failure):
        wanted.warnings.append(
            ("invalid_identifier", f"identifier {system} {value!r}: {parsed.failure().detail}")
        )
        return
    target = wanted.keys if key else wanted.others
    if parsed.unwrap() not in target:
        target.append(parsed.unwrap())


def _contradicts(found: Patient, wanted: Wanted) -> str | None:
    """Why ``found`` cannot be the patient ``wanted`` describes, or None."""
    theirs: dict[str, set[str]] = {}
    for identifier in found.identifiers:
        theirs.setdefault(identifier.system, set()).add(identifier.value)
    for identifier in (*wanted.keys, *wanted.others):
        if identifier.system in theirs and identifier.value not in theirs[identifier.system]:
            return f"{identifier.system} differs"
    if wanted.cpf is not None and found.cpf is not None and wanted.cpf != found.cpf:
        return "the CPF differs"
    if (
        wanted.birth_date is not None
        and found.birth_date is not None
        and wanted.birth_date != found.birth_date
    ):
        return "the birth date differs"
    known = {Sex.MALE, Sex.FEMALE}
    if wanted.sex in known and found.sex in known and wanted.sex is not found.sex:
        return "the sex differs"
    return None


class PatientImporter:
    """Imports one ``ImportedPatient`` in a transaction of its own."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow = uow
        self._clock = clock

    async def __call__(
        self, tenant_id: TenantId, source: str, imported: ImportedPatient
    ) -> tuple[Outcome, tuple[Issue, ...], Issue | None]:
        """(outcome, warnings, why skipped): the last is set exactly when the outcome is ``skipped``."""
        now = self._clock.now()
        try:
            wanted = wanted_of(imported, f"external:{source}", now.date())
            async with self._uow(Scope(tenant_id=tenant_id)) as uow:
                outcome = await self._write(uow.patients, uow.identifier_holders, tenant_id, wanted, now)
                if outcome is not Outcome.UNCHANGED:
                    await uow.commit()
        except Skip as skip:
            return Outcome.SKIPPED, (), (skip.code, skip.message)
        except UniqueViolation as taken:
            reason = (
                f"another patient took one of its unique values meanwhile ({taken.constraint}): import again"
            )
            return Outcome.SKIPPED, (), ("conflict", reason)
        return outcome, tuple(wanted.warnings), None

    async def _write(
        self,
        patients: PatientRepository,
        directory: IdentifierHolders,
        tenant_id: TenantId,
        wanted: Wanted,
        now: datetime,
    ) -> Outcome:
        holders = await directory.holders([*wanted.keys, *wanted.others])
        loaded: dict[PatientId, Patient | None] = {}

        async def holder(identifier: Identifier) -> Patient | None:
            patient_id = holders.get(identifier)
            if patient_id is None:
                return None
            if patient_id not in loaded:
                loaded[patient_id] = await patients.get(patient_id)
            return loaded[patient_id]

        match = None
        for key in wanted.keys:
            match = await holder(key)
            if match is not None:
                break
        candidates: dict[PatientId, Patient] = {}
        kept: list[Identifier] = []
        for identifier in wanted.others:
            self._sort(await holder(identifier), identifier, match, wanted, candidates, kept)
        if wanted.cpf is not None:
            found = await patients.find_by_cpf(wanted.cpf)
            if found is not None and match is None and _contradicts(found, wanted) is None:
                candidates[found.id] = found
            elif found is not None and (match is None or found.id != match.id):
                wanted.warnings.append(
                    ("identifier_taken", f"CPF {wanted.cpf} is another patient's: not imported")
                )
                wanted.cpf = None
        wanted.others = kept
        if match is None and len(candidates) > 1:
            raise Skip(
                "ambiguous",
                f"its identifiers match {len(candidates)} different patients: merge them or fix the source first",
            )
        match = match or next(iter(candidates.values()), None)
        try:
            if match is None:
                await patients.add(Patient.register(**self._new(tenant_id, wanted, now)))
                return Outcome.CREATED
            if match.kind is not PatientKind.PERSON:
                raise Skip("not_a_person", "its identifiers name an animal patient")
            if match.anonymised:  # unreachable while an anonymised patient keeps no identifier: a guard
                raise Skip("patient_anonymised", "its identifiers name an anonymised patient")
            changed = match.change(now, **self._changes(match, wanted))
        except ValueError as invalid:  # an invariant of the aggregate the checks above did not foresee
            raise Skip("invalid", str(invalid)) from None
        if not changed:
            return Outcome.UNCHANGED
        if not await patients.save(match):
            raise Skip("conflict", "the patient was changed by someone else meanwhile: import again")
        return Outcome.UPDATED

    @staticmethod
    def _sort(
        found: Patient | None,
        identifier: Identifier,
        match: Patient | None,
        wanted: Wanted,
        candidates: dict[PatientId, Patient],
        kept: list[Identifier],
    ) -> None:
        """Keep ``identifier`` unless another patient holds it; note the holder as a candidate when it may be
        the same person."""
        if found is None or (match is not None and found.id == match.id):
            kept.append(identifier)
            return
        if match is None:
            why = _contradicts(found, wanted)
            if why is None:
                candidates[found.id] = found
                kept.append(identifier)
                return
        wanted.warnings.append(
            ("identifier_taken", f"{identifier.system} {identifier.value} is another patient's: not imported")
        )

    @staticmethod
    def _new(tenant_id: TenantId, wanted: Wanted, now: datetime) -> dict[str, Any]:
        return {
            "tenant_id": tenant_id,
            "id": PatientId(new_uuid()),
            "kind": PatientKind.PERSON,
            "name": wanted.name,
            "created_at": now,
            "updated_at": now,
            "sex": wanted.sex or Sex.UNKNOWN,
            "birth_date": wanted.birth_date,
            "phones": tuple(wanted.phones[:MAX_CONTACTS]),
            "emails": tuple(wanted.emails[:MAX_CONTACTS]),
            "address": wanted.address,
            "status": PatientStatus.DECEASED if wanted.deceased_at else PatientStatus.ACTIVE,
            "deceased_at": wanted.deceased_at,
            "cpf": wanted.cpf,
            "identifiers": tuple([*wanted.keys, *wanted.others][:MAX_IDENTIFIERS]),
        }

    @staticmethod
    def _changes(patient: Patient, wanted: Wanted) -> dict[str, Any]:
        """The fields the record gives, over what is stored; lists grow, never shrink."""
        values: dict[str, Any] = {"name": wanted.name}
        if wanted.sex is not None:
            values["sex"] = wanted.sex
        if wanted.birth_date is not None:
            values["birth_date"] = wanted.birth_date
            values["birth_date_estimated"] = False
        if wanted.deceased_at is not None:
            values["status"] = PatientStatus.DECEASED
            values["deceased_at"] = wanted.deceased_at
        if wanted.address is not None:
            values["address"] = wanted.address
        if wanted.cpf is not None:
            values["cpf"] = wanted.cpf
        values["phones"] = tuple(dict.fromkeys([*patient.phones, *wanted.phones]))[:MAX_CONTACTS]
        values["emails"] = tuple(dict.fromkeys([*patient.emails, *wanted.emails]))[:MAX_CONTACTS]
        # A system the record gives takes the record's values (a renewed passport replaces the old one);
        # the clinic's identifiers of other systems stay.
        given = [*wanted.keys, *wanted.others]
        systems = {i.system for i in given}
        kept = [i for i in patient.identifiers if i.system not in systems or i in given]
        identifiers = [*kept, *(i for i in given if i not in kept)]
        values["identifiers"] = tuple(identifiers[:MAX_IDENTIFIERS])
        return values
