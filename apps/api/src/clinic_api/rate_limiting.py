"""Budgets for the unauthenticated endpoints, token buckets behind the RateLimiter port (Redis in production),
and the ``RateLimit-*`` response fields (draft-ietf-httpapi-ratelimit-headers) that tell clients what is left.

``Throttle`` is a singleton called with the client's address, not the request, so it leaves what it spent
in a context variable that ``rate_limit_headers_middleware`` opens around the request and reads afterwards.

Keys never hold an email in clear: the per-email budget is keyed by a SHA-256 of the normalised address.
Normalised as ``Email.parse`` does it, the way login finds the account: a spelling that logs into the same
account (``VET@Demo.example.com``, a fullwidth letter in the domain) spends the same budget.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass

from blacksheep import Request, Response

from clinic_api.auth import ActorIdentity
from clinic_api.metrics import HttpMetrics
from clinic_api.problems import Problem, ProblemRaised
from clinic_api.responses import client_ip
from clinic_api.services import RateLimit, RateLimits, RouteClass
from clinic_core.application.ports import RateDecision, RateLimiter
from clinic_core.shared.values import Email

logger = logging.getLogger(__name__)


def email_key(email: str) -> str:
    # An address that does not parse logs into nothing; it still needs a budget of its own.
    canonical = Email.parse(email).map(str).value_or(email.strip().lower())
    return hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Quota:
    """What one budget has left after a hit, in whole seconds as the RateLimit-* fields give it."""

    limit: int
    remaining: int
    reset_seconds: int
    """Until the bucket is full again."""
    exhausted: bool

    @classmethod
    def of(cls, budget: RateLimit, decision: RateDecision) -> Quota:
        # A limiter that cannot tell when it is full still knows the bucket is not full before a retry.
        reset = max(decision.reset_seconds, decision.retry_after_seconds)
        return cls(budget.limit, decision.remaining, reset, not decision.allowed)

    def tighter(self, other: Quota | None) -> Quota:
        """The one to show of two budgets one request spent: a refused one, else the one with fewer hits
        left (as the draft advises), else the one that takes longer to fill."""
        if other is None:
            return self
        return min(self, other, key=lambda q: (not q.exhausted, q.remaining, -q.reset_seconds))

    def headers(self) -> tuple[tuple[str, str], ...]:
        return (
            ("RateLimit-Limit", str(self.limit)),
            ("RateLimit-Remaining", str(self.remaining)),
            ("RateLimit-Reset", str(self.reset_seconds)),
        )


def too_many_requests(retry_after_seconds: int, quota: Quota | None = None) -> Problem:
    retry_after = max(1, retry_after_seconds)
    return Problem(
        429, "rate_limited", "Too many requests", f"too many attempts; retry in {retry_after} seconds"
    ).with_headers(("Retry-After", str(retry_after)), *(quota.headers() if quota else ()))


LIMITER_DOWN = Problem(
    503, "service_unavailable", "Service unavailable", "the service is briefly unavailable; retry shortly"
).with_headers(("Retry-After", "5"))


class _Spent:
    """The tightest budget this request has spent so far."""

    def __init__(self) -> None:
        self.tightest: Quota | None = None


_spent_by_this_request: ContextVar[_Spent | None] = ContextVar("rate_limit_spent", default=None)


async def rate_limit_headers_middleware(
    request: Request, handler: Callable[[Request], Awaitable[Response]]
) -> Response:
    """Adds the RateLimit-* fields of the tightest budget the request spent to its response. Register it
    outside the error boundary, so that a refused login (401) after spending says what is left too."""
    spent = _Spent()
    # Set and reset rather than only set: requests that share a task (the test client's) must not see
    # each other's budgets.
    token = _spent_by_this_request.set(spent)
    try:
        response = await handler(request)
    finally:
        _spent_by_this_request.reset(token)
    if spent.tightest is not None:
        for name, value in spent.tightest.headers():
            response.set_header(name.encode(), value.encode())
    return response


class Throttle:
    """Takes a token from each named budget, or ends the request with 429 (or 503 if it cannot count).

    Each call returns the tightest budget it spent and leaves it for ``rate_limit_headers_middleware``.
    """

    def __init__(self, limiter: RateLimiter, limits: RateLimits, metrics: HttpMetrics | None = None) -> None:
        self._limiter, self._limits, self._metrics = limiter, limits, metrics

    async def login(self, ip: str, email: str) -> Quota | None:
        per_ip = await self._spend(f"login:ip:{ip}", self._limits.login_per_ip, RouteClass.LOGIN)
        per_email = await self._spend(
            f"login:email:{email_key(email)}", self._limits.login_per_email, RouteClass.LOGIN
        )
        return _tightest(per_email, per_ip)

    async def password_check(self, ip: str, account: str) -> Quota | None:
        """Guesses of a signed-in account's current password (a stolen access token must not make them
        free): the login budgets, counted per account."""
        per_ip = await self._spend(f"login:ip:{ip}", self._limits.login_per_ip, RouteClass.PASSWORD_CHECK)
        per_account = await self._spend(
            f"password:account:{account}", self._limits.login_per_email, RouteClass.PASSWORD_CHECK
        )
        return _tightest(per_account, per_ip)

    async def signup(self, ip: str) -> Quota | None:
        return await self._spend(f"signup:ip:{ip}", self._limits.signup_per_ip, RouteClass.SIGNUP)

    async def refresh(self, ip: str) -> Quota | None:
        return await self._spend(f"refresh:ip:{ip}", self._limits.refresh_per_ip, RouteClass.REFRESH)

    async def accept_invitation(self, ip: str) -> Quota | None:
        return await self._spend(
            f"accept-invitation:ip:{ip}", self._limits.accept_invitation_per_ip, RouteClass.ACCEPT_INVITATION
        )

    async def forgot_password(self, ip: str) -> Quota | None:
        return await self._spend(
            f"forgot-password:ip:{ip}", self._limits.forgot_password_per_ip, RouteClass.ACCOUNT_RECOVERY
        )

    async def account_token(self, ip: str) -> Quota | None:
        """Verification and reset links opened from one address."""
        return await self._spend(
            f"account-token:ip:{ip}", self._limits.account_token_per_ip, RouteClass.ACCOUNT_RECOVERY
        )

    async def resend_verification(self, account: str) -> Quota | None:
        return await self._spend(
            f"resend-verification:account:{account}",
            self._limits.resend_verification_per_account,
            RouteClass.ACCOUNT_RECOVERY,
        )

    async def mfa_verify(self, ip: str) -> Quota | None:
        """Second-factor codes sent with a challenge token: the token caps them at five, this caps the
        tokens a client can cycle through."""
        return await self._spend(f"mfa-verify:ip:{ip}", self._limits.mfa_verify_per_ip, RouteClass.MFA_VERIFY)

    async def anonymous(self, ip: str, route_class: RouteClass) -> Quota | None:
        """The general budget of a caller without a credential."""
        return await self._spend(f"any:ip:{ip}", self._limits.anonymous_per_ip, route_class)

    async def signed_in(self, identity: ActorIdentity, route_class: RouteClass) -> Quota | None:
        """The general budgets of a signed-in caller: theirs (a person's or an API key's), and their
        clinic's (by its plan)."""
        actor = identity.actor
        if actor.api_key_id is not None:
            own = await self._spend(f"any:api-key:{actor.api_key_id}", self._limits.per_api_key, route_class)
        else:
            own = await self._spend(f"any:user:{actor.user_id}", self._limits.per_user, route_class)
        if own is None:  # the limiter is down and this class fails open: do not wait on it twice
            return None
        # The plan is in the key: a clinic that changes plan starts on its new budget at once.
        clinic = await self._spend(
            f"any:tenant:{identity.plan}:{actor.tenant_id}",
            self._limits.per_tenant(identity.plan),
            route_class,
        )
        return _tightest(own, clinic)

    async def _spend(self, key: str, budget: RateLimit, route_class: RouteClass) -> Quota | None:
        """The budget after this hit; None when the limiter is down and ``route_class`` fails open."""
        try:
            decision = await self._limiter.hit(key, budget.limit, budget.window_seconds)
        except Exception as outage:
            fails_open = route_class in self._limits.fail_open
            if self._metrics is not None:
                self._metrics.limiter_unavailable(route_class.value, served=fails_open)
            logger.warning(
                "rate limiter unavailable; %s request %s",
                route_class.value,
                "served uncounted" if fails_open else "refused",
                exc_info=outage,
            )
            if fails_open:
                return None
            # Failing closed: without a count, a credential-guessing run would be unlimited. A 503 says
            # "try again", which is true, where a 500 would say the request itself broke something.
            raise ProblemRaised(LIMITER_DOWN) from outage
        quota = Quota.of(budget, decision)
        spent = _spent_by_this_request.get()
        if spent is not None:
            spent.tightest = quota.tighter(spent.tightest)
        if not decision.allowed:
            raise ProblemRaised(too_many_requests(decision.retry_after_seconds, quota))
        return quota


def _tightest(first: Quota | None, second: Quota | None) -> Quota | None:
    return first.tighter(second) if first is not None else second


UNLIMITED_PATHS = ("/health/", "/metrics")
"""Probes and scrapes come often from one address and cost nothing: not counted."""


class RequestBudgetMiddleware:
    """Spends the general budget of every request, after authentication has said who is calling and
    before authorization refuses anyone (so that anonymous token-guessing is counted too)."""

    def __init__(self, throttle: Throttle) -> None:
        self._throttle = throttle

    async def __call__(self, request: Request, handler: Callable[[Request], Awaitable[Response]]) -> Response:
        path = request.url.path.decode("latin-1")
        if request.method != "OPTIONS" and not path.startswith(UNLIMITED_PATHS):
            route_class = RouteClass.READ if request.method in ("GET", "HEAD") else RouteClass.WRITE
            identity = getattr(request, "identity", None)
            if isinstance(identity, ActorIdentity):
                await self._throttle.signed_in(identity, route_class)
            else:
                await self._throttle.anonymous(client_ip(request), route_class)
        return await handler(request)
