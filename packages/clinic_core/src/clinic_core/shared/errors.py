"""Expected failures, as values.

Every error is a frozen dataclass with a stable machine-readable ``code``; the HTTP host maps each error
type to a status once, in one table. Bugs and outages are exceptions, never these.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar


@dataclass(frozen=True, slots=True)
class DomainError:
    code: ClassVar[str] = "domain_error"

    @property
    def detail(self) -> str:
        return self.code.replace("_", " ")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One invalid input field: ``field`` is a dotted path (``address.postal_code``)."""

    field: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class InvalidInput(DomainError):
    code: ClassVar[str] = "validation_failed"
    errors: tuple[FieldError, ...] = field(default_factory=tuple)

    @property
    def detail(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" for e in self.errors) or "invalid input"

    @staticmethod
    def of(field_name: str, code: str, message: str) -> InvalidInput:
        return InvalidInput((FieldError(field_name, code, message),))


@dataclass(frozen=True, slots=True)
class NotFound(DomainError):
    """The resource does not exist *for this caller*: another tenant's ids end here too."""

    code: ClassVar[str] = "not_found"
    resource: str = "resource"
    id: str = ""

    @property
    def detail(self) -> str:
        return f"{self.resource} {self.id} was not found".replace("  ", " ")


@dataclass(frozen=True, slots=True)
class Forbidden(DomainError):
    code: ClassVar[str] = "forbidden"
    permission: str = ""

    @property
    def detail(self) -> str:
        return f"this action needs the permission {self.permission!r}"


@dataclass(frozen=True, slots=True)
class Conflict(DomainError):
    code: ClassVar[str] = "conflict"
    message: str = "the resource conflicts with another"

    @property
    def detail(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class Unauthenticated(DomainError):
    """Credentials or tokens were refused. Deliberately vague: it never says which part was wrong."""

    code: ClassVar[str] = "unauthenticated"
    message: str = "authentication failed"

    @property
    def detail(self) -> str:
        return self.message


def collect_invalid(*results: object) -> InvalidInput | None:
    """Every field error among ``results`` (Results of ``parse`` calls) as one InvalidInput, or None.

    Validation reports all bad fields at once rather than the first one only.
    """
    from returns.result import Failure

    errors: list[FieldError] = []
    for result in results:
        if isinstance(result, Failure):
            failure = result.failure()
            if isinstance(failure, InvalidInput):
                errors.extend(failure.errors)
    return InvalidInput(tuple(errors)) if errors else None


@dataclass(frozen=True, slots=True)
class TooManyAttempts(DomainError):
    """Refused before it was looked at, because of how many came before it: retry after a while."""

    code: ClassVar[str] = "too_many_attempts"
    retry_after_seconds: int = 1

    @property
    def detail(self) -> str:
        return f"too many attempts; retry in {self.retry_after_seconds} seconds"
