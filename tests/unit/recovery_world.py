"""A clinic on the in-memory fakes with a fixed clock, and the calls the account recovery tests make."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from returns.result import Result

from clinic_core.application.actor import Actor
from clinic_core.audit.model import AuditAction, AuditEvent
from clinic_core.identity.account_security import EmailVerificationRequested, PasswordResetRequested
from clinic_core.identity.model import TokenPair, User
from clinic_core.identity.recovery import (
    ForgotPassword,
    ForgotPasswordCommand,
    ResetPassword,
    ResetPasswordCommand,
)
from clinic_core.identity.sessions import LogIn, LogInCommand
from clinic_core.identity.throttling import SignInThrottlePolicy
from clinic_core.identity.verification import VerifyEmail, VerifyEmailCommand
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import DomainError
from clinic_core.tenancy.model import SecurityPolicy, UnverifiedEmailAccess
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    InMemoryUnitOfWorkFactory,
    tokens_only,
)

PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "a brand new long passphrase"
T0 = datetime(2026, 3, 2, 12, tzinfo=UTC)


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory = field(default_factory=InMemoryUnitOfWorkFactory)
    clock: FixedClock = field(default_factory=lambda: FixedClock(T0))
    hasher: FakePasswordHasher = field(default_factory=FakePasswordHasher)
    policy: SignInThrottlePolicy = field(default_factory=SignInThrottlePolicy)

    @property
    def issuer(self) -> FakeAccessTokenIssuer:
        return FakeAccessTokenIssuer(self.clock)

    async def sign_up(self, email: str = "ana@example.com", tenant_name: str = "Clínica A") -> SignedUp:
        command = SignUpCommand(tenant_name, "Centro", "America/Sao_Paulo", "Ana Souza", email, PASSWORD)
        return (await SignUp(self.uow, self.hasher, self.clock)(command)).unwrap()

    async def log_in(
        self,
        email: str = "ana@example.com",
        password: str = PASSWORD,
        *,
        device: str | None = None,
        tenant_slug: str | None = None,
    ) -> Result[TokenPair, DomainError]:
        login = LogIn(self.uow, self.hasher, self.issuer, self.clock, throttle_policy=self.policy)
        command = LogInCommand(email, password, tenant_slug=tenant_slug, device_fingerprint=device)
        return await tokens_only(login)(command)

    async def forgot(self, email: str) -> Result[None, DomainError]:
        return await ForgotPassword(self.uow, self.clock)(ForgotPasswordCommand(email))

    async def reset(self, token: str, password: str = NEW_PASSWORD) -> Result[int, DomainError]:
        reset = ResetPassword(self.uow, self.hasher, self.clock)
        return await reset(ResetPasswordCommand(token, password))

    async def verify(self, token: str) -> Result[None, DomainError]:
        return await VerifyEmail(self.uow, self.clock)(VerifyEmailCommand(token))

    def mailed(self, topic: str, email: str = "ana@example.com") -> list[dict[str, Any]]:
        """The payloads of the outbox events of ``topic`` addressed to ``email``, oldest first."""
        return [r.payload for r in self.uow.store.outbox if r.topic == topic and r.payload["email"] == email]

    def reset_token(self, email: str = "ana@example.com") -> str:
        token: str = self.mailed(PasswordResetRequested.topic, email)[-1]["token"]
        return token

    def verification_token(self, email: str = "ana@example.com") -> str:
        token: str = self.mailed(EmailVerificationRequested.topic, email)[-1]["token"]
        return token

    def user(self, email: str = "ana@example.com") -> User:
        return next(u for u in self.uow.store.tables.users.values() if u.email.value == email)

    def audit(self, action: AuditAction) -> list[AuditEvent]:
        return [e for e in self.uow.store.tables.audit_events.values() if e.action is action]

    def set_policy(self, signed: SignedUp, access: UnverifiedEmailAccess) -> None:
        tenant = self.uow.store.tables.tenants[signed.tenant.id]
        tenant.security = replace(SecurityPolicy(), unverified_email_access=access)

    def actor_of(self, tokens: TokenPair) -> Actor:
        claims = self.issuer.verify(tokens.access_token)
        assert claims is not None
        return Actor.from_claims(claims)
