"""Query parameters whose bad values are reported like any other invalid field: 422, naming the field."""

from __future__ import annotations

from typing import Any, TypeVar

from blacksheep import Request
from blacksheep.exceptions import BadRequest
from blacksheep.server.bindings import FromQuery, QueryBinder

from clinic_api.problems import ProblemRaised, invalid_fields
from clinic_core.shared.errors import FieldError

T = TypeVar("T")


class QueryParam(FromQuery[T]):
    """A query parameter. Unlike ``FromQuery``, a value of the wrong type names the parameter in a 422."""


class QueryParamBinder(QueryBinder):
    handle = QueryParam

    async def get_value(self, request: Request) -> Any:
        try:
            return await super().get_value(request)
        except BadRequest as bad_value:
            expected = getattr(self.expected_type, "__name__", "value")
            raise ProblemRaised(
                invalid_fields(
                    [FieldError(self.parameter_name, "invalid_value", f"expected a valid {expected}")]
                )
            ) from bad_value
