"""No-shows: the ``mark-no-shows`` sweep marks pending or confirmed appointments whose start is more than
a grace period ago as no-shows.

It moves each through the same lifecycle transition the front desk uses (``change_status``), so the history
entry, the ``appointment.no_show`` event and the timeline entry are written the same way; the actor is the
system (no user, no API key). Each save is over the version read: an appointment checked in (or moved) by a
person meanwhile is left as they left it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from returns.result import Failure

from clinic_core.application.unit_of_work import Scope, UnitOfWorkFactory
from clinic_core.clinical.model import AppointmentId
from clinic_core.scheduling.appointments import SYSTEM, AppointmentStatus
from clinic_core.scheduling.booking import Action, change_status
from clinic_core.scheduling.booking_ports import AppointmentQuery
from clinic_core.shared.clock import Clock
from clinic_core.shared.ids import TenantId

DEFAULT_NO_SHOW_GRACE = timedelta(minutes=60)
_NOT_SEEN = frozenset({AppointmentStatus.PENDING, AppointmentStatus.CONFIRMED})


class MarkNoShows:
    """One tenant's pass of the ``mark-no-shows`` sweep."""

    def __init__(
        self,
        uow: UnitOfWorkFactory,
        clock: Clock,
        *,
        grace: timedelta = DEFAULT_NO_SHOW_GRACE,
        batch_size: int = 100,
    ) -> None:
        if grace < timedelta(0):
            raise ValueError("the no-show grace period is not negative")
        self._uow, self._clock, self._grace, self._batch_size = uow, clock, grace, batch_size

    async def __call__(self, tenant_id: TenantId) -> dict[str, int]:
        now = self._clock.now()
        marked = changed_meanwhile = 0
        after: tuple[datetime, AppointmentId] | None = None
        while True:
            async with self._uow(Scope(tenant_id=tenant_id)) as uow:
                page = await uow.appointments.search(
                    AppointmentQuery(
                        statuses=_NOT_SEEN,
                        starts_before=now - self._grace,
                        after=after,
                        limit=self._batch_size,
                    )
                )
                for appointment in page:
                    changed = await change_status(uow, appointment, Action.NO_SHOW, SYSTEM, now, None)
                    if isinstance(changed, Failure):
                        # Not saved (someone changed it since it was read): its event must not reach the
                        # outbox with the others' at this batch's commit.
                        appointment.events.clear()
                        changed_meanwhile += 1
                    else:
                        marked += 1
                await uow.commit()
            if len(page) < self._batch_size:
                break
            after = (page[-1].start, page[-1].id)
        return {"no_shows_marked": marked, "no_shows_changed_meanwhile": changed_meanwhile}
