"""Budgets for the unauthenticated endpoints, counted by the RateLimiter port (Redis in production).

Keys never hold an email in clear: the per-email budget is keyed by a SHA-256 of the normalised address.
Normalised as ``Email.parse`` does it, the way login finds the account: a spelling that logs into the same
account (``VET@Demo.example.com``, a fullwidth letter in the domain) spends the same budget.
"""

from __future__ import annotations

import hashlib
import logging

from clinic_api.problems import Problem, ProblemRaised
from clinic_api.services import RateLimit, RateLimits
from clinic_core.application.ports import RateLimiter
from clinic_core.shared.values import Email

logger = logging.getLogger(__name__)


def email_key(email: str) -> str:
    # An address that does not parse logs into nothing; it still needs a budget of its own.
    canonical = Email.parse(email).map(str).value_or(email.strip().lower())
    return hashlib.sha256(canonical.encode()).hexdigest()


def too_many_requests(retry_after_seconds: int) -> Problem:
    retry_after = max(1, retry_after_seconds)
    return Problem(
        429, "rate_limited", "Too many requests", f"too many attempts; retry in {retry_after} seconds"
    ).with_headers(("Retry-After", str(retry_after)))


LIMITER_DOWN = Problem(
    503, "service_unavailable", "Service unavailable", "the service is briefly unavailable; retry shortly"
).with_headers(("Retry-After", "5"))


class Throttle:
    """Spends one unit of each named budget, or ends the request with 429 (or 503 if it cannot count)."""

    def __init__(self, limiter: RateLimiter, limits: RateLimits) -> None:
        self._limiter, self._limits = limiter, limits

    async def login(self, ip: str, email: str) -> None:
        await self._spend(f"login:ip:{ip}", self._limits.login_per_ip)
        await self._spend(f"login:email:{email_key(email)}", self._limits.login_per_email)

    async def signup(self, ip: str) -> None:
        await self._spend(f"signup:ip:{ip}", self._limits.signup_per_ip)

    async def refresh(self, ip: str) -> None:
        await self._spend(f"refresh:ip:{ip}", self._limits.refresh_per_ip)

    async def accept_invitation(self, ip: str) -> None:
        await self._spend(f"accept-invitation:ip:{ip}", self._limits.accept_invitation_per_ip)

    async def _spend(self, key: str, budget: RateLimit) -> None:
        try:
            decision = await self._limiter.hit(key, budget.limit, budget.window_seconds)
        except Exception as outage:
            # Failing closed: without a count, a credential-guessing run would be unlimited. A 503 says
            # "try again", which is true, where a 500 would say the request itself broke something.
            logger.warning("rate limiter unavailable", exc_info=outage)
            raise ProblemRaised(LIMITER_DOWN) from outage
        if not decision.allowed:
            raise ProblemRaised(too_many_requests(decision.retry_after_seconds))
