"""Reading a patient's timeline (see ``clinic_core.clinical.timeline`` for what it holds)."""

from __future__ import annotations

from dataclasses import dataclass

from returns.result import Failure, Result, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import NO_CONTEXT, RequestContext
from clinic_core.application.unit_of_work import UnitOfWorkFactory
from clinic_core.clinical.records import patient_in_tenant, read_logged, scope_of
from clinic_core.clinical.timeline import TimelinePage, TimelineQuery
from clinic_core.patients.model import AccessAction, PatientId
from clinic_core.shared.clock import Clock
from clinic_core.shared.errors import Forbidden, InvalidInput, NotFound
from clinic_core.tenancy.permissions import Permission


@dataclass(frozen=True, slots=True)
class TimelineRequest:
    actor: Actor
    patient_id: PatientId
    kinds: frozenset[str] = frozenset()
    cursor: str | None = None
    limit: int | None = None
    context: RequestContext = NO_CONTEXT


class GetPatientTimeline:
    """A patient's timeline, newest first, filtered by kind, one page at a time. Logged as a read."""

    def __init__(self, uow: UnitOfWorkFactory, clock: Clock) -> None:
        self._uow, self._clock = uow, clock

    async def __call__(
        self, request: TimelineRequest
    ) -> Result[TimelinePage, Forbidden | InvalidInput | NotFound]:
        allowed = request.actor.authorize(Permission.CLINICAL_READ)
        if isinstance(allowed, Failure):
            return allowed
        query = TimelineQuery.parse(request.patient_id, request.kinds, request.cursor, request.limit)
        if isinstance(query, Failure):
            return query
        async with self._uow(scope_of(request.actor)) as uow:
            if await patient_in_tenant(uow, request.actor, request.patient_id) is None:
                return Failure(NotFound("patient", str(request.patient_id)))
            page = await uow.timeline.page(query.unwrap())
            await read_logged(
                uow, request.actor, request.patient_id, AccessAction.TIMELINE, self._clock, request.context
            )
            await uow.commit()
        return Success(page)
