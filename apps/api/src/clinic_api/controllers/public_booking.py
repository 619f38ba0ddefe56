"""The public booking page: a clinic's catalog and its free times, by the clinic's slug, with no sign-in.

Both routes are anonymous (``allow_anonymous``) and spend the anonymous budget per address, like every
unauthenticated route (``RequestBudgetMiddleware``). They show only what a clinic shows the public: active
procedures with durations and prices, and free start times; never buffers, internal ordering, patients or
reasons of time off. An unknown or suspended clinic, and a unit that is not the clinic's, are 404. A signed-in
client then books with ``POST /v1/appointments``.
"""

from __future__ import annotations

from blacksheep import Response
from blacksheep.server.authorization import allow_anonymous
from blacksheep.server.controllers import APIController

from clinic_api.availability_query import FromParam, availability_query
from clinic_api.availability_schemas import AvailabilityOut
from clinic_api.bindings import QueryParam
from clinic_api.catalog_schemas import PublicCatalogOut
from clinic_api.catalog_services import CatalogServices
from clinic_api.openapi import documented
from clinic_api.problems import unwrap_or_raise
from clinic_api.responses import json_response
from clinic_api.routing import get
from clinic_core.scheduling.public_availability import PublicAvailabilityRequest


class PublicClinics(APIController):
    def __init__(self, catalog: CatalogServices) -> None:
        self._catalog = catalog

    @classmethod
    def route(cls) -> str:
        return "/v1/public/clinics"

    @classmethod
    def class_name(cls) -> str:
        return "public booking"  # the OpenAPI tag

    @allow_anonymous()
    @documented(200, PublicCatalogOut, problems=(404, 429))
    @get("/{slug}")
    async def catalog(self, slug: str) -> Response:
        """A clinic's public catalog: its name, its units (name, time zone, city), and its active procedures
        with their categories, durations and prices. No sign-in; an unknown or suspended clinic is 404."""
        found = unwrap_or_raise(await self._catalog.public_catalog(slug))
        return json_response(PublicCatalogOut.of(found))

    @allow_anonymous()
    @documented(200, AvailabilityOut, problems=(404, 422, 429))
    @get("/{slug}/availability")
    async def availability(
        self,
        slug: str,
        unit_id: QueryParam[str] | None = None,
        procedure_ids: QueryParam[str] | None = None,
        professional_id: QueryParam[str] | None = None,
        from_: FromParam | None = None,
        to: QueryParam[str] | None = None,
    ) -> Response:
        """Free start times at one of the clinic's units of an appointment made of `procedure_ids`, one
        after another, with one professional who performs them all, in `[from, to)` (at most 31 days): the
        same answer as `GET /v1/availability`, with no sign-in. Only active procedures and professionals;
        the unit's booking rules always apply (minimum notice, horizon, slot grid). An unknown clinic, unit,
        or an unknown or inactive procedure is 404.

        @param unit_id: the unit (required), one of the catalog's `units`.
        @param procedure_ids: comma-separated procedure ids, in the order they are done (1 to 10).
        @param professional_id: only this professional; omitted: everyone who can.
        @param from: an instant with its UTC offset (required; send `+` as `%2B`).
        @param to: an instant with its UTC offset (required), after `from`.
        """
        query = availability_query(unit_id, procedure_ids, professional_id, from_, to)
        request = PublicAvailabilityRequest(
            tenant_slug=slug,
            unit_id=query.unit_id,
            procedure_ids=query.procedure_ids,
            starts_from=query.starts_from,
            starts_before=query.starts_before,
            professional_id=query.professional_id,
        )
        found = unwrap_or_raise(await self._catalog.public_availability(request))
        return json_response(AvailabilityOut.of(found))
