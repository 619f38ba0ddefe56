"""Guardians (a pet's owners, a child's legal guardians, emergency contacts), the portal view of one's own
family, the access log, and the clinic's patient settings.

A guardian is a *person* patient of the same clinic; a person record may be linked to a client account
(``Patient.user_id``). Through the portal that client sees their own record and those of the patients
they are guardian of, and nobody else's: any other id answers 404.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from returns.result import Failure, Result, Success

from clinic_core.access.audit import acted_by
from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.pagination import Page, PageRequest
from clinic_core.application.unit_of_work import UniqueViolation, UnitOfWork, UnitOfWorkFactory
from clinic_core.audit.model import AuditAction, AuditEvent, AuditTarget
from clinic_core.patients.fields import UNSET, Unset
from clinic_core.patients.model import (
    AccessAction,
    GuardianLink,
    GuardianRole,
    Patient,
    PatientAccess,
    PatientId,
    PatientIsAnonymised,
)
from clinic_core.patients.search import MatchMode, PatientQuery, SearchInput, parse_search
from clinic_core.patients.use_cases import (
    SearchResult,
    log_access,
    run_search,
    scope_of,
    sees,
    visible_patient,
    visible_units,
)
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    collect_invalid,
)
from clinic_core.shared.ids import UserId, parse_uuid
from clinic_core.shared.values import Email
from clinic_core.tenancy.model import Locale, Tenant
from clinic_core.tenancy.permissions import Permission

MAX_GUARDIANS = 10


@dataclass(frozen=True, slots=True)
class GuardianView:
    """A link with the guardian's (or dependant's) record."""

    link: GuardianLink
    patient: Patient
    """The guardian in a guardian list; the dependant in a dependant list."""


@dataclass(frozen=True, slots=True)
class GuardianInput:
    guardian_id: str
    role: str
    is_primary: bool = False


@dataclass(frozen=True, slots=True)
class SetGuardiansCommand:
    actor: Actor
    patient_id: PatientId
    guardians: tuple[GuardianInput, ...]
    context: RequestContext = NO_CONTEXT


def _views(
    links: list[GuardianLink], patients: dict[PatientId, Patient], of_guardian: bool
) -> list[GuardianView]:
    views = []
    for link in links:
        other = patients.get(link.patient_id if of_guardian else link.guardian_id)
        if other is not None:
            views.append(GuardianView(link, other))
    return views


async def _guardians_of(uow: UnitOfWork, patient_id: PatientId) -> list[GuardianView]:
    links = await uow.guardians.of_patient(patient_id)
    patients = await uow.patients.get_many(frozenset(link.guardian_id for link in links))
    return _views(links, patients, of_guardian=False)


class SetGuardians:
    """Replace a patient's guardians with the list given (PUT semantics): at most one primary, every
    guardian a person patient of the clinic other than the patient, each (guardian, role) once."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: SetGuardiansCommand
    ) -> Result[list[GuardianView], Forbidden | NotFound | InvalidInput | Conflict]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.PATIENTS_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        errors: list[FieldError] = []
        if len(cmd.guardians) > MAX_GUARDIANS:
            errors.append(FieldError("guardians", "too_many", f"at most {MAX_GUARDIANS}"))
        wanted: list[tuple[PatientId, GuardianRole, bool]] = []
        for i, raw in enumerate(cmd.guardians):
            guardian_id = parse_uuid(raw.guardian_id)
            if guardian_id is None:
                errors.append(FieldError(f"guardians.{i}.guardian_id", "invalid_id", "not a patient id"))
            try:
                role = GuardianRole(raw.role.strip().lower())
            except ValueError:
                errors.append(
                    FieldError(
                        f"guardians.{i}.role",
                        "invalid_choice",
                        f"use one of {', '.join(r.value for r in GuardianRole)}",
                    )
                )
                continue
            if guardian_id is not None:
                wanted.append((PatientId(guardian_id), role, raw.is_primary))
        if sum(1 for g in cmd.guardians if g.is_primary) > 1:
            errors.append(FieldError("guardians", "several_primary", "at most one guardian is primary"))
        if len({(g, r) for g, r, _ in wanted}) != len(wanted):
            errors.append(FieldError("guardians", "duplicate", "a guardian is listed twice in one role"))
        if errors:
            return Failure(InvalidInput(tuple(errors)))
        now = self._clock.now()
        async with self._uow(scope_of(actor)) as uow:
            patient = await visible_patient(uow, actor, cmd.patient_id)
            if patient is None:
                return Failure(NotFound("patient", str(cmd.patient_id)))
            if patient.anonymised:
                return Failure(PatientIsAnonymised())
            guardians = await uow.patients.get_many(frozenset(g for g, _, _ in wanted))
            units = await visible_units(uow, actor)
            for i, (guardian_id, _, _) in enumerate(wanted):
                guardian = guardians.get(guardian_id)
                field = f"guardians.{i}.guardian_id"
                if guardian is None or not sees(guardian, units):
                    errors.append(FieldError(field, "unknown_patient", "no such patient in this clinic"))
                elif guardian_id == patient.id:
                    errors.append(FieldError(field, "self", "a patient is not their own guardian"))
                elif not guardian.is_person:
                    errors.append(FieldError(field, "not_a_person", "an animal cannot be a guardian"))
                elif guardian.anonymised:
                    errors.append(FieldError(field, "anonymised", "an anonymised patient answers for nobody"))
            if errors:
                return Failure(InvalidInput(tuple(errors)))
            current = await uow.guardians.of_patient(patient.id)
            before = {(link.guardian_id, link.role, link.is_primary) for link in current}
            earlier = {(link.guardian_id, link.role): link.created_at for link in current}
            links = [
                GuardianLink(
                    tenant_id=actor.tenant_id,
                    patient_id=patient.id,
                    guardian_id=g,
                    role=r,
                    is_primary=primary,
                    created_at=earlier.get((g, r), now),
                )
                for g, r, primary in wanted
            ]
            if before != {(link.guardian_id, link.role, link.is_primary) for link in links}:
                try:
                    await uow.guardians.replace(patient.id, links)
                except UniqueViolation:  # checked above: only a concurrent change gets here
                    return Failure(Conflict(message="the guardians were changed at the same time; retry"))
                await uow.audit.add(
                    AuditEvent.record(
                        AuditAction.PATIENT_GUARDIANS_CHANGED,
                        tenant_id=actor.tenant_id,
                        at=now,
                        context=cmd.context,
                        target=AuditTarget("patient", str(patient.id)),
                        guardians=len(links),
                        **acted_by(actor),
                    )
                )
                await uow.commit()
            views = _views(
                sorted(links, key=lambda link: (not link.is_primary, link.created_at)),
                guardians,
                of_guardian=False,
            )
        return Success(views)


class ListGuardians:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, patient_id: PatientId, context: RequestContext = NO_CONTEXT
    ) -> Result[list[GuardianView], Forbidden | NotFound]:
        allowed = actor.authorize(Permission.PATIENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor)) as uow:
            patient = await visible_patient(uow, actor, patient_id)
            if patient is None:
                return Failure(NotFound("patient", str(patient_id)))
            views = await _guardians_of(uow, patient_id)
            at = self._clock.now()
            await log_access(uow, actor, context, [patient_id], AccessAction.GUARDIANS, at)
            await log_access(uow, actor, context, [v.patient.id for v in views], AccessAction.GUARDIANS, at)
            await uow.commit()
        return Success(views)


class ListDependants:
    """The patients a person is guardian of."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, guardian_id: PatientId, context: RequestContext = NO_CONTEXT
    ) -> Result[list[GuardianView], Forbidden | NotFound]:
        allowed = actor.authorize(Permission.PATIENTS_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor)) as uow:
            guardian = await visible_patient(uow, actor, guardian_id)
            if guardian is None:
                return Failure(NotFound("patient", str(guardian_id)))
            links = await uow.guardians.of_guardian(guardian_id)
            units = await visible_units(uow, actor)
            patients = {
                pid: p
                for pid, p in (
                    await uow.patients.get_many(frozenset(link.patient_id for link in links))
                ).items()
                if sees(p, units)
            }
            views = _views(links, patients, of_guardian=True)
            at = self._clock.now()
            await log_access(uow, actor, context, [guardian_id], AccessAction.DEPENDANTS, at)
            await log_access(uow, actor, context, [v.patient.id for v in views], AccessAction.DEPENDANTS, at)
            await uow.commit()
        return Success(views)


# --- the portal: a client's own family -------------------------------------------------------------------


async def family_of(uow: UnitOfWork, actor: Actor) -> tuple[Patient | None, frozenset[PatientId]]:
    """The person record linked to the actor's account, and the ids it may see: itself and its
    dependants. API keys are nobody's family."""
    if actor.api_key_id is not None:
        return None, frozenset()
    me = await uow.patients.find_by_user(actor.user_id)
    if me is None:
        return None, frozenset()
    dependants = {link.patient_id for link in await uow.guardians.of_guardian(me.id)}
    return me, frozenset({me.id, *dependants})


async def portal_users_of(uow: UnitOfWork, patient: Patient) -> frozenset[UserId]:
    """The client accounts that reach ``patient`` through the portal: the inverse of ``family_of``. The
    account linked to the patient's own record, and those linked to the records of their guardians."""
    guardian_ids = frozenset(link.guardian_id for link in await uow.guardians.of_patient(patient.id))
    guardians = await uow.patients.get_many(guardian_ids)
    users = {g.user_id for g in guardians.values() if g.user_id is not None}
    if patient.user_id is not None:
        users.add(patient.user_id)
    return frozenset(users)


class ListMyPatients:
    """The portal: the signed-in person's own record and their dependants', searchable like the clinic's."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, given: SearchInput, context: RequestContext = NO_CONTEXT
    ) -> Result[SearchResult, InvalidInput]:
        parsed = parse_search(given)
        if isinstance(parsed, Failure):
            return parsed
        query, page = parsed.unwrap()
        async with self._uow(scope_of(actor)) as uow:
            _, family = await family_of(uow, actor)
            if not family:
                return Success(SearchResult([], None, query_mode(query)))
            result = await run_search(uow, replace(query, patient_ids=family), page)
            await log_access(
                uow, actor, context, [p.id for p in result.items], AccessAction.PORTAL_READ, self._clock.now()
            )
            await uow.commit()
        return Success(result)


def query_mode(query: PatientQuery) -> MatchMode:
    return MatchMode.PARTIAL if query.infix else MatchMode.PREFIX


class GetMyPatient:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, actor: Actor, patient_id: PatientId, context: RequestContext = NO_CONTEXT
    ) -> Result[Patient, NotFound]:
        async with self._uow(scope_of(actor)) as uow:
            _, family = await family_of(uow, actor)
            patient = await uow.patients.get(patient_id) if patient_id in family else None
            if patient is None:
                return Failure(NotFound("patient", str(patient_id)))
            await log_access(uow, actor, context, [patient.id], AccessAction.PORTAL_READ, self._clock.now())
            await uow.commit()
        return Success(patient)


# --- the access log -----------------------------------------------------------------------------------


class ListPatientAccessLog:
    """Who read a patient's record. For the clinic's auditors (``audit:read``), any patient of the
    clinic; through the portal (``portal=True``), only the caller's own record and their dependants'."""

    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(
        self, actor: Actor, patient_id: PatientId, page: PageRequest, *, portal: bool = False
    ) -> Result[Page[PatientAccess], Forbidden | NotFound]:
        if not portal:
            allowed = actor.authorize(Permission.AUDIT_READ)
            if isinstance(allowed, Failure):
                return allowed
        async with self._uow(scope_of(actor), read_only=True) as uow:
            if portal:
                _, family = await family_of(uow, actor)
                known = patient_id in family
            else:
                known = await uow.patients.get(patient_id) is not None
            if not known:
                return Failure(NotFound("patient", str(patient_id)))
            return Success(await uow.patient_access.page(patient_id, page))


# --- settings -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatientSettings:
    """The clinic-wide settings of ``/v1/tenant/patient-settings``: how patients are shared between
    units, and how the clinic writes to them (the language of its emails, the address replies go to)."""

    patients_shared_across_units: bool
    locale: Locale = Locale.PT_BR
    contact_email: Email | None = None

    @classmethod
    def of(cls, tenant: Tenant) -> PatientSettings:
        return cls(tenant.patients_shared_across_units, tenant.locale, tenant.contact_email)


class GetPatientSettings:
    def __init__(self, uow: UnitOfWorkFactory) -> None:
        self._uow = uow

    async def __call__(self, actor: Actor) -> Result[PatientSettings, Forbidden | NotFound]:
        allowed = actor.authorize(Permission.TENANT_READ)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor), read_only=True) as uow:
            tenant = await uow.tenants.get(actor.tenant_id)
        if tenant is None:
            return Failure(NotFound("tenant", str(actor.tenant_id)))
        return Success(PatientSettings.of(tenant))


@dataclass(frozen=True, slots=True)
class UpdatePatientSettingsCommand:
    actor: Actor
    patients_shared_across_units: bool
    context: RequestContext = NO_CONTEXT
    locale: str | Unset = UNSET
    """``pt-BR`` or ``en``; UNSET leaves it as it is."""
    contact_email: str | Unset | None = UNSET
    """None removes it; UNSET leaves it as it is."""


def _mail_settings(
    cmd: UpdatePatientSettingsCommand, tenant: Tenant
) -> Result[tuple[Locale, Email | None], InvalidInput]:
    locale: Result[Locale, InvalidInput] = Success(tenant.locale)
    if not isinstance(cmd.locale, Unset):
        known = {choice.value: choice for choice in Locale}
        chosen = known.get(cmd.locale.strip())
        locale = (
            Success(chosen)
            if chosen
            else Failure(InvalidInput.of("locale", "unknown_locale", f"use one of {', '.join(known)}"))
        )
    email: Result[Email | None, InvalidInput] = Success(tenant.contact_email)
    if cmd.contact_email is None:
        email = Success(None)
    elif not isinstance(cmd.contact_email, Unset):
        email = Email.parse(cmd.contact_email, field="contact_email")
    invalid = collect_invalid(locale, email)
    if invalid is not None:
        return Failure(invalid)
    return Success((locale.unwrap(), email.unwrap()))


class UpdatePatientSettings:
    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, cmd: UpdatePatientSettingsCommand
    ) -> Result[PatientSettings, Forbidden | NotFound | InvalidInput]:
        actor = cmd.actor
        allowed = actor.authorize(Permission.TENANT_WRITE)
        if isinstance(allowed, Failure):
            return allowed
        async with self._uow(scope_of(actor)) as uow:
            tenant = await uow.tenants.get(actor.tenant_id)
            if tenant is None:
                return Failure(NotFound("tenant", str(actor.tenant_id)))
            mail = _mail_settings(cmd, tenant)
            if isinstance(mail, Failure):
                return mail
            locale, contact_email = mail.unwrap()
            now = self._clock.now()

            def audited(action: AuditAction, **details: Any) -> AuditEvent:
                return AuditEvent.record(
                    action,
                    tenant_id=actor.tenant_id,
                    at=now,
                    context=cmd.context,
                    target=AuditTarget("tenant", str(actor.tenant_id)),
                    **details,
                    **acted_by(actor),
                )

            changes: list[AuditEvent] = []
            if tenant.patients_shared_across_units != cmd.patients_shared_across_units:
                tenant.patients_shared_across_units = cmd.patients_shared_across_units
                changes.append(
                    audited(
                        AuditAction.PATIENT_SETTINGS_CHANGED,
                        patients_shared_across_units=cmd.patients_shared_across_units,
                    )
                )
            if (tenant.locale, tenant.contact_email) != (locale, contact_email):
                # The address is not copied into the trail: that it changed is what matters.
                changes.append(
                    audited(
                        AuditAction.MAIL_SETTINGS_CHANGED,
                        locale=locale.value,
                        contact_email_changed=tenant.contact_email != contact_email,
                    )
                )
                tenant.locale, tenant.contact_email = locale, contact_email
            if changes:
                await uow.tenants.save(tenant)
                for change in changes:
                    await uow.audit.add(change)
                await uow.commit()
            return Success(PatientSettings.of(tenant))
