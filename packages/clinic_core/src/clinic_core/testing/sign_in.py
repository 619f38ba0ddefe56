"""Login for tests of accounts without a second factor, where only tokens are an acceptable outcome."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from returns.result import Failure, Result, Success

from clinic_core.identity.account_security import EmailNotVerified
from clinic_core.identity.model import InvalidCredentials, TokenPair
from clinic_core.identity.sessions import LogIn, LogInCommand
from clinic_core.identity.throttling import SignInThrottled
from clinic_core.tenancy.model import NoAccessToTenant, TenantSuspended

LogInError = InvalidCredentials | SignInThrottled | NoAccessToTenant | TenantSuspended | EmailNotVerified


def tokens_only(log_in: LogIn) -> Callable[[LogInCommand], Awaitable[Result[TokenPair, LogInError]]]:
    """``log_in``, typed to answer with tokens: a challenge for a second factor fails the test at once."""

    async def call(cmd: LogInCommand) -> Result[TokenPair, LogInError]:
        result = await log_in(cmd)
        if isinstance(result, Failure):
            return Failure(result.failure())
        outcome = result.unwrap()
        if not isinstance(outcome, TokenPair):
            raise AssertionError(f"expected tokens, got {type(outcome).__name__}")
        return Success(outcome)

    return call
