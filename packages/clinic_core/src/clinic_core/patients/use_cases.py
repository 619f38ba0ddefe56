"""Registering, reading, changing and searching patients, and their weights.

Staff need ``patients:read`` / ``patients:write``. When the clinic keeps patients per unit
(``patients_shared_across_units`` off), a member restricted to some units sees the patients of those units
and the ones with no home unit; any other patient answers 404, like another clinic's. Every read of a
patient's record is written to the access log in the same transaction as the read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import Scope, UniqueViolation, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.patients.fields import PatientFields, parse_fields
from clinic_core.patients.model import (
    AccessAction,
    AccessId,
    DuplicatePatient,
    Patient,
    PatientAccess,
    PatientId,
    PatientIsAnonymised,
    PatientKind,
    PatientStatus,
    PatientWeight,
    StaleVersion,
    WeightId,
)
from clinic_core.patients.search import (
    MatchMode,
    PatientQuery,
    SearchCursor,
    SearchInput,
    SearchPage,
    parse_search,
)
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import FieldError, Forbidden, InvalidInput, NotFound
from clinic_core.shared.ids import UnitId, new_uuid
from clinic_core.tenancy.permissions import Permission

MAX_WEIGHT_KG = Decimal("99999")

_CONSTRAINT_FIELDS = {
    "uq_patients_tenant_id_cpf": ("cpf", "another patient has this CPF"),
    "uq_patients_tenant_id_microchip": ("microchip", "another patient has this microchip"),
    "uq_patients_tenant_id_user_id": ("user_id", "another patient is linked to this account"),
    "uq_patient_identifiers_tenant_id_system_value": ("identifiers", "another patient has this identifier"),
}


def scope_of(actor: Actor) -> Scope:
    return Scope(tenant_id=actor.tenant_id, user_id=actor.user_id)


async def visible_units(uow: UnitOfWork, actor: Actor) -> frozenset[UnitId] | None:
    """The units whose patients ``actor`` sees (with the unit-less ones), or None for all of them."""
    if not actor.unit_ids:
        return None
    tenant = await uow.tenants.get(actor.tenant_id)
    if tenant is None or tenant.patients_shared_across_units:
        return None
    return actor.unit_ids


def sees(patient: Patient, units: frozenset[UnitId] | None) -> bool:
    return units is None or patient.unit_id is None or patient.unit_id in units


async def visible_patient(uow: UnitOfWork, actor: Actor, patient_id: PatientId) -> Patient | None:
    """The tenant's patient if ``actor`` (staff) may see it, else None (which callers answer with 404)."""
    patient = await uow.patients.get(patient_id)
    if patient is None or not sees(patient, await visible_units(uow, actor)):
        return None
    return patient


async def log_access(
    uow: UnitOfWork,
    actor: Actor,
    context: RequestContext,
    patient_ids: Iterable[PatientId],
    action: AccessAction,
    at: datetime,
) -> None:
    """One access-log row per patient read, in the unit of work of the read."""
    who = acted_by(actor)
    entries = [
        PatientAccess(
            tenant_id=actor.tenant_id,
            id=AccessId(new_uuid()),
            patient_id=patient_id,
            action=action,
            at=at,
            actor_user_id=who["actor_user_id"],
            actor_api_key_id=who["actor_api_key_id"],
            ip=context.ip,
            user_agent=context.user_agent,
            request_id=context.request_id,
        )
        for patient_id in dict.fromkeys(patient_ids)
    ]
    if entries:
        await uow.patient_access.add(entries)


def _audit(
    actor: Actor, action: AuditAction, patient: Patient, at: datetime, context: RequestContext, **details: Any
) -> AuditEvent:
    return AuditEvent.record(
        action,
        tenant_id=actor.tenant_id,
        at=at,
        context=context,
        target=AuditTarget("patient", str(patient.id)),
        **acted_by(actor),
        **details,
    )


def duplicate(violation: UniqueViolation) -> DuplicatePatient | None:
    known = _CONSTRAINT_FIELDS.get(violation.constraint)
    return DuplicatePatient(message=known[1]) if known else None


async def _check_refs(
    uow: UnitOfWork, actor: Actor, values: dict[str, Any], patient: Patient | None
) -> InvalidInput | DuplicatePatient | None:
    """The unit and client account named exist and may be named by ``actor``; CPF, microchip,
    identifiers and account are not another patient's."""
    errors: list[FieldError] = []
    unit_id = values.get("unit_id")
    if unit_id is not None and (
        not actor.sees_unit(unit_id) or not await uow.units.existing(frozenset({unit_id}))
    ):
        errors.append(FieldError("unit_id", "unknown_unit", "no such unit in this clinic"))
    if unit_id is None and "unit_id" in values and actor.unit_ids:
        units = await visible_units(uow, actor)
        if units is not None:  # a restricted member cannot move a patient out of their reach
            errors.append(FieldError("unit_id", "required", "choose one of your units"))
    user_id = values.get("user_id")
    if user_id is not None and await uow.memberships.get_for_user(user_id) is None:
        errors.append(FieldError("user_id", "unknown_user", "no member of this clinic has this account"))
    if errors:
        return InvalidInput(tuple(errors))
    own = patient.id if patient is not None else None
    lookups = []
    if values.get("cpf") is not None:
        lookups.append((await uow.patients.find_by_cpf(values["cpf"]), "uq_patients_tenant_id_cpf"))
    if values.get("microchip") is not None:
        lookups.append(
            (await uow.patients.find_by_microchip(values["microchip"]), "uq_patients_tenant_id_microchip")
        )
    if user_id is not None:
        lookups.append((await uow.patients.find_by_user(user_id), "uq_patients_tenant_id_user_id"))
    for identifier in values.get("identifiers", ()):
        found = await uow.patients.find_by_identifier(identifier.system, identifier.value)
        lookups.append((found, "uq_patient_identifiers_tenant_id_system_value"))
    for found, constraint in lookups:
        if found is not None and found.id != own:
            return duplicate(UniqueViolation(constraint))
    return None


# --- register ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RegisterPatientCommand:
    actor: Actor
    kind: str
    fields: PatientFields
    context: RequestContext = NO_CONTEXT


class RegisterPatient:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: RegisterPatientCommand
    ) -> Result[Patient, Forbidden | InvalidInput | DuplicatePatient]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.PATIENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        try:
            kind = PatientKind(cmd.kind.strip().lower())
        except ValueError:
            return Failure(InvalidInput.of("kind", "invalid_choice", "use person or animal"))
        now = self._clock.now()
        parsed = parse_fields(cmd.fields, kind, now.date())
        errors = list(parsed.failure().errors) if isinstance(parsed, Failure) else []
        given = cmd.fields.given()
        if "name" not in given:
            errors.append(FieldError("name", "required", "a name is required"))
        if kind is PatientKind.ANIMAL and "species" not in given:
            errors.append(FieldError("species", "required", "an animal needs a species"))
        if errors:
            return Failure(InvalidInput(tuple(errors)))
        values = parsed.unwrap()
        if "unit_id" not in values and actor.unit_ids and len(actor.unit_ids) == 1:
            values["unit_id"] = next(iter(actor.unit_ids))  # a one-unit member registers in their unit
        async with self._uow(scope_of(actor)) as uow:
            problem = await _check_refs(uow, actor, values, None)
            if problem is not None:
                return Failure(problem)
            patient = Patient.register(
                tenant_id=actor.tenant_id,
                id=PatientId(new_uuid()),
                kind=kind,
                created_at=now,
                updated_at=now,
                **values,
            )
            try:
                await uow.patients.add(patient)
                await uow.audit.add(_audit(actor, AuditAction.PATIENT_CREATED, patient, now, cmd.context))
                await uow.commit()
            except UniqueViolation as violation:
                found = duplicate(violation)
                if found is None:
                    raise
                return Failure(found)
        return Success(patient)


# --- read ----------------------------------------------------------------------------------------------


class GetPatient:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, patient_id: PatientId, context: RequestContext = NO_CONTEXT
    ) -> Result[Patient, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.PATIENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor)) as uow:
            patient = await visible_patient(uow, actor, patient_id)
            if patient is None:
                return Failure(NotFound("patient", str(patient_id)))
            await log_access(uow, actor, context, [patient.id], AccessAction.READ, self._clock.now())
            await uow.commit()
        return Success(patient)


# --- update --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class UpdatePatientCommand:
    actor: Actor
    patient_id: PatientId
    expected_version: int
    fields: PatientFields
    context: RequestContext = NO_CONTEXT


class UpdatePatient:
    """A partial update: the fields given change, the others stay. Over the version the caller read."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: UpdatePatientCommand
    ) -> Result[
        Patient,
        Forbidden | NotFound | InvalidInput | StaleVersion | DuplicatePatient | PatientIsAnonymised,
    ]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.PATIENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        now = self._clock.now()
        async with self._uow(scope_of(actor)) as uow:
            patient = await visible_patient(uow, actor, cmd.patient_id)
            if patient is None:
                return Failure(NotFound("patient", str(cmd.patient_id)))
            if patient.anonymised:
                return Failure(PatientIsAnonymised())
            if patient.version != cmd.expected_version:
                return Failure(StaleVersion())
            parsed = parse_fields(cmd.fields, patient.kind, now.date())
            if isinstance(parsed, Failure):
                return parsed
            values = parsed.unwrap()
            problem = await _check_refs(uow, actor, values, patient)
            if problem is not None:
                return Failure(problem)
            changed = patient.change(now, **values)
            if not changed:
                return Success(patient)
            try:
                if not await uow.patients.save(patient, cmd.expected_version):
                    return Failure(StaleVersion())
                await uow.audit.add(
                    _audit(
                        actor,
                        AuditAction.PATIENT_UPDATED,
                        patient,
                        now,
                        cmd.context,
                        fields=",".join(changed),
                    )
                )
                await uow.commit()
            except UniqueViolation as violation:
                found = duplicate(violation)
                if found is None:
                    raise
                return Failure(found)
        return Success(patient)


@dataclass(frozen=True, slots=True)
class ChangePatientStatusCommand:
    actor: Actor
    patient_id: PatientId
    status: str
    deceased_at: datetime | None = None
    """When the patient died (deceased only; default: now)."""
    expected_version: int | None = None
    context: RequestContext = NO_CONTEXT


class ChangePatientStatus:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: ChangePatientStatusCommand
    ) -> Result[Patient, Forbidden | NotFound | InvalidInput | StaleVersion | PatientIsAnonymised]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.PATIENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        try:
            status = PatientStatus(cmd.status.strip().lower())
        except ValueError:
            return Failure(InvalidInput.of("status", "invalid_choice", "use active, inactive or deceased"))
        now = self._clock.now()
        deceased_at = None
        if status is PatientStatus.DECEASED:
            deceased_at = cmd.deceased_at or now
            if deceased_at.tzinfo is None:
                return Failure(InvalidInput.of("deceased_at", "naive_datetime", "give a time zone offset"))
            if deceased_at > now:
                return Failure(InvalidInput.of("deceased_at", "in_future", "cannot be in the future"))
        elif cmd.deceased_at is not None:
            return Failure(InvalidInput.of("deceased_at", "not_applicable", "only for the deceased status"))
        async with self._uow(scope_of(actor)) as uow:
            patient = await visible_patient(uow, actor, cmd.patient_id)
            if patient is None:
                return Failure(NotFound("patient", str(cmd.patient_id)))
            if patient.anonymised:
                return Failure(PatientIsAnonymised())
            expected = patient.version if cmd.expected_version is None else cmd.expected_version
            if patient.version != expected:
                return Failure(StaleVersion())
            before = patient.status
            if not patient.change(now, status=status, deceased_at=deceased_at):
                return Success(patient)
            if not await uow.patients.save(patient, expected):
                return Failure(StaleVersion())
            await uow.audit.add(
                _audit(
                    actor,
                    AuditAction.PATIENT_STATUS_CHANGED,
                    patient,
                    now,
                    cmd.context,
                    status=status.value,
                    previous=before.value,
                )
            )
            await uow.commit()
        return Success(patient)


# --- weights -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecordWeightCommand:
    actor: Actor
    patient_id: PatientId
    kg: str | Decimal
    measured_at: datetime | None = None
    """When it was measured (default: now); not in the future."""


class RecordWeight:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: RecordWeightCommand
    ) -> Result[PatientWeight, Forbidden | NotFound | InvalidInput | PatientIsAnonymised]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.PATIENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        now = self._clock.now()
        try:
            kg = Decimal(str(cmd.kg).strip())
        except InvalidOperation:
            kg = Decimal("NaN")
        if not kg.is_finite() or kg <= 0 or kg > MAX_WEIGHT_KG:
            return Failure(
                InvalidInput.of("kg", "invalid_weight", f"a weight in kg, above 0 and up to {MAX_WEIGHT_KG}")
            )
        if kg != kg.quantize(Decimal("0.001")):
            return Failure(InvalidInput.of("kg", "too_precise", "at most 3 decimal places (grams)"))
        measured_at = cmd.measured_at or now
        if measured_at.tzinfo is None:
            return Failure(InvalidInput.of("measured_at", "naive_datetime", "give a time zone offset"))
        if measured_at > now:
            return Failure(InvalidInput.of("measured_at", "in_future", "cannot be in the future"))
        async with self._uow(scope_of(actor)) as uow:
            patient = await visible_patient(uow, actor, cmd.patient_id)
            if patient is None:
                return Failure(NotFound("patient", str(cmd.patient_id)))
            if patient.anonymised:
                return Failure(PatientIsAnonymised())
            weight = PatientWeight(
                tenant_id=actor.tenant_id,
                id=WeightId(new_uuid()),
                patient_id=patient.id,
                kg=kg,
                measured_at=measured_at,
                recorded_by=None if actor.api_key_id is not None else actor.user_id,
                created_at=now,
            )
            await uow.patients.add_weight(weight)
            await uow.commit()
        return Success(weight)


class ListWeights:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, patient_id: PatientId, page: PageRequest, context: RequestContext = NO_CONTEXT
    ) -> Result[Page[PatientWeight], Forbidden | NotFound]:
        allowed = actor.authorize(Permission.PATIENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor)) as uow:
            patient = await visible_patient(uow, actor, patient_id)
            if patient is None:
                return Failure(NotFound("patient", str(patient_id)))
            weights = await uow.patients.weights(patient_id, page)
            await log_access(uow, actor, context, [patient_id], AccessAction.WEIGHTS, self._clock.now())
            await uow.commit()
        return Success(weights)


# --- search --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SearchResult:
    items: list[Patient]
    next_cursor: str | None
    mode: MatchMode


async def run_search(uow: UnitOfWork, query: PatientQuery, page: SearchPage) -> SearchResult:
    """The search, switching a prefix search whose first page is short to partial matching."""
    rows = await uow.patients.search(query, page)
    mode = MatchMode.PARTIAL if query.infix is not None else MatchMode.PREFIX
    words_only = query.words and not query.infix
    if words_only and page.after is None and len(rows) < page.limit and len(" ".join(query.words)) >= 3:
        infix = " ".join(query.words)
        if not infix.isdigit():
            rows = await uow.patients.search(replace(query, infix=infix), page)
            mode = MatchMode.PARTIAL
    items = rows[: page.limit]
    cursor = None
    if len(rows) > page.limit and items:
        cursor = SearchCursor(items[-1].search_name, items[-1].id, mode).encode()
    return SearchResult(items, cursor, mode)


class SearchPatients:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, given: SearchInput, context: RequestContext = NO_CONTEXT
    ) -> Result[SearchResult, Forbidden | InvalidInput]:
        allowed = actor.authorize(Permission.PATIENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        parsed = parse_search(given)
        if isinstance(parsed, Failure):
            return parsed
        query, page = parsed.unwrap()
        async with self._uow(scope_of(actor)) as uow:
            query = replace(query, visible_units=await visible_units(uow, actor))
            result = await run_search(uow, query, page)
            await log_access(
                uow, actor, context, [p.id for p in result.items], AccessAction.SEARCH, self._clock.now()
            )
            await uow.commit()
        return Success(result)
