"""The query string of an availability search (``unit_id``, ``procedure_ids``, ``professional_id``,
``from``, ``to``), read the same way by every route that answers one: each bad value is a 422 naming its
field, before any use case runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from clinic_api.bindings import QueryParam
from clinic_api.problems import ProblemRaised, invalid_fields
from clinic_core.catalog.model import ProcedureId, ProfessionalId
from clinic_core.scheduling.working_time_use_cases import MAX_PROCEDURES
from clinic_core.shared.errors import FieldError
from clinic_core.shared.ids import UnitId, parse_uuid


class FromParam(QueryParam[str]):
    """The query parameter `from` (a Python keyword, so it cannot be the handler's parameter name)."""

    name = "from"


def _invalid(name: str, code: str, message: str) -> ProblemRaised:
    return ProblemRaised(invalid_fields([FieldError(name, code, message)]))


def required(param: QueryParam[str] | None, name: str) -> str:
    if param is None or not param.value.strip():
        raise _invalid(name, "required", f"give `{name}`")
    return param.value.strip()


def query_uuid(param: QueryParam[str] | None, name: str) -> UUID:
    parsed = parse_uuid(required(param, name))
    if parsed is None:
        raise _invalid(name, "invalid_value", "expected a UUID")
    return parsed


def parse_instant(raw: str, name: str) -> datetime:
    """An ISO 8601 date and time with its UTC offset (in a query, `+` must be sent as `%2B`)."""
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise _invalid(name, "invalid_datetime", "use ISO 8601, e.g. 2026-06-01T00:00:00-03:00") from None
    if parsed.utcoffset() is None:
        raise _invalid(name, "offset_required", "give the UTC offset, e.g. 2026-06-01T00:00:00-03:00")
    return parsed


def procedure_ids(param: QueryParam[str] | None) -> list[ProcedureId]:
    raw = [part.strip() for part in required(param, "procedure_ids").split(",")]
    if len(raw) > MAX_PROCEDURES:
        raise _invalid("procedure_ids", "out_of_range", f"give 1 to {MAX_PROCEDURES} procedures")
    ids: list[ProcedureId] = []
    for index, part in enumerate(raw):
        parsed = parse_uuid(part)
        if parsed is None:
            raise _invalid(f"procedure_ids[{index}]", "invalid_value", "expected a UUID")
        ids.append(ProcedureId(parsed))
    return ids


@dataclass(frozen=True, slots=True)
class AvailabilityQuery:
    unit_id: UnitId
    procedure_ids: list[ProcedureId]
    starts_from: datetime
    starts_before: datetime
    professional_id: ProfessionalId | None


def availability_query(
    unit_id: QueryParam[str] | None,
    procedures: QueryParam[str] | None,
    professional_id: QueryParam[str] | None,
    from_: QueryParam[str] | None,
    to: QueryParam[str] | None,
) -> AvailabilityQuery:
    return AvailabilityQuery(
        unit_id=UnitId(query_uuid(unit_id, "unit_id")),
        procedure_ids=procedure_ids(procedures),
        starts_from=parse_instant(required(from_, "from"), "from"),
        starts_before=parse_instant(required(to, "to"), "to"),
        professional_id=(
            ProfessionalId(query_uuid(professional_id, "professional_id"))
            if professional_id is not None and professional_id.value.strip()
            else None
        ),
    )
