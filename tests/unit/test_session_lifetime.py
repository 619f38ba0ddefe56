"""How long a session lives (idle timeout, absolute lifetime) and the binding of its refresh tokens to the
device that signed in, on the in-memory adapters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.application.pagination import PageRequest
from clinic_core.application.unit_of_work import Scope
from clinic_core.audit.model import AuditAction, AuditQuery
from clinic_core.identity.model import (
    DeviceMismatch,
    InvalidRefreshToken,
    RefreshTokenReused,
    RevocationReason,
    SessionPolicy,
    TokenPair,
)
from clinic_core.identity.sessions import (
    CheckSession,
    LogIn,
    LogInCommand,
    RefreshCommand,
    RefreshSession,
)
from clinic_core.shared.clock import FixedClock
from clinic_core.tenancy.signup import SignUp, SignUpCommand
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    InMemoryUnitOfWorkFactory,
    tokens_only,
)

PASSWORD = "correct horse battery staple"
POLICY = SessionPolicy(idle_timeout=timedelta(minutes=30), absolute_lifetime=timedelta(hours=12))
LAPTOP, STOLEN = "laptop-7f3a9c", "somewhere-else-01"


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory
    issuer: FakeAccessTokenIssuer
    clock: FixedClock
    log_in: LogIn
    refresh: RefreshSession

    async def sign_in(self, fingerprint: str | None = LAPTOP) -> TokenPair:
        command = LogInCommand(
            "ana@example.com", PASSWORD, device_label="Recepção", device_fingerprint=fingerprint
        )
        return (await tokens_only(self.log_in)(command)).unwrap()

    def actor_of(self, tokens: TokenPair) -> Actor:
        """Read while the access token is fresh: the checks below outlive it on purpose."""
        claims = self.issuer.verify(tokens.access_token)
        assert claims is not None
        return Actor.from_claims(claims)

    async def stands(self, actor: Actor) -> bool:
        return (await CheckSession(self.uow, self.clock)(actor)).active

    async def audit_actions(self) -> list[AuditAction]:
        tenant_id = next(iter(self.uow.store.tables.tenants.values())).id
        async with self.uow(Scope(tenant_id=tenant_id), read_only=True) as uow:
            page = await uow.audit.page(PageRequest(), AuditQuery())
        return [event.action for event in page.items]


@pytest.fixture
async def world() -> World:
    uow, hasher = InMemoryUnitOfWorkFactory(), FakePasswordHasher()
    clock = FixedClock(datetime(2026, 10, 31, 23, 50, tzinfo=UTC))
    issuer = FakeAccessTokenIssuer(clock)
    await SignUp(uow, hasher, clock)(
        SignUpCommand(
            tenant_name="Clínica Bela",
            unit_name="Centro",
            timezone="America/Sao_Paulo",
            owner_name="Ana Souza",
            email="ana@example.com",
            password=PASSWORD,
        )
    )
    return World(
        uow,
        issuer,
        clock,
        LogIn(uow, hasher, issuer, clock, sessions=POLICY),
        RefreshSession(uow, issuer, clock, sessions=POLICY),
    )


async def test_a_session_in_use_lives_until_its_absolute_end(world: World) -> None:
    tokens = await world.sign_in()
    for _ in range(47):  # 47 refreshes 15 minutes apart: 11 h 45 min of steady use
        world.clock.advance(timedelta(minutes=15))
        tokens = (
            await world.refresh(RefreshCommand(tokens.refresh_token, device_fingerprint=LAPTOP))
        ).unwrap()
    actor = world.actor_of(tokens)
    assert await world.stands(actor)
    world.clock.advance(timedelta(minutes=15))  # 12 h after sign-in: however busy, sign in again
    assert not await world.stands(actor)
    refused = await world.refresh(RefreshCommand(tokens.refresh_token, device_fingerprint=LAPTOP))
    assert isinstance(refused.failure(), InvalidRefreshToken)


async def test_an_idle_session_ends_and_cannot_be_refreshed(world: World) -> None:
    tokens = await world.sign_in()
    actor = world.actor_of(tokens)
    world.clock.advance(timedelta(minutes=29))
    assert await world.stands(actor)
    world.clock.advance(timedelta(minutes=1))
    assert not await world.stands(actor)
    refused = await world.refresh(RefreshCommand(tokens.refresh_token, device_fingerprint=LAPTOP))
    assert isinstance(refused.failure(), InvalidRefreshToken)


async def test_the_idle_deadline_moves_with_each_refresh_but_never_past_the_end(world: World) -> None:
    tokens = await world.sign_in()
    world.clock.advance(timedelta(hours=11, minutes=50))
    # Idle for most of the day? Dead already. A session refreshed late in its life cannot outlive it.
    assert isinstance(
        await world.refresh(RefreshCommand(tokens.refresh_token, device_fingerprint=LAPTOP)), Failure
    )
    session = next(iter(world.uow.store.tables.sessions.values()))
    assert session.idle_expires_at == session.created_at + POLICY.idle_timeout


async def test_a_refresh_from_another_device_revokes_the_session(world: World) -> None:
    tokens = await world.sign_in()
    world.clock.advance(timedelta(minutes=5))
    for presented in (STOLEN, None):  # another device, or a client that sends no fingerprint
        other = await world.sign_in()
        other_actor = world.actor_of(other)
        stolen = await world.refresh(
            RefreshCommand(
                other.refresh_token, device_fingerprint=presented, context=RequestContext(ip="203.0.113.9")
            )
        )
        assert isinstance(stolen.failure(), DeviceMismatch)
        assert not await world.stands(other_actor)
    # The rightful device's own session is untouched, and its refresh works.
    assert isinstance(
        await world.refresh(RefreshCommand(tokens.refresh_token, device_fingerprint=LAPTOP)), Success
    )
    revoked = [s for s in world.uow.store.tables.sessions.values() if s.revoked_at is not None]
    assert {s.revoked_reason for s in revoked} == {RevocationReason.DEVICE_MISMATCH}
    assert (await world.audit_actions()).count(AuditAction.DEVICE_MISMATCH) == 2


async def test_the_fingerprint_is_stored_only_as_a_digest(world: World) -> None:
    await world.sign_in()
    session = next(iter(world.uow.store.tables.sessions.values()))
    assert session.fingerprint_hash is not None
    assert LAPTOP not in session.fingerprint_hash
    assert session.device_label == "Recepção"


async def test_a_session_opened_without_a_fingerprint_is_not_bound(world: World) -> None:
    tokens = await world.sign_in(fingerprint=None)
    assert isinstance(await world.refresh(RefreshCommand(tokens.refresh_token)), Success)


async def test_a_reused_refresh_token_is_audited_with_where_it_came_from(world: World) -> None:
    tokens = await world.sign_in()
    await world.refresh(RefreshCommand(tokens.refresh_token, device_fingerprint=LAPTOP))
    replay = RefreshCommand(
        tokens.refresh_token, device_fingerprint=LAPTOP, context=RequestContext(ip="198.51.100.4")
    )
    assert isinstance((await world.refresh(replay)).failure(), RefreshTokenReused)
    tenant_id = next(iter(world.uow.store.tables.tenants.values())).id
    async with world.uow(Scope(tenant_id=tenant_id), read_only=True) as uow:
        page = await uow.audit.page(
            PageRequest(), AuditQuery(actions=frozenset({AuditAction.REFRESH_TOKEN_REUSED}))
        )
    assert [e.ip for e in page.items] == ["198.51.100.4"]
    assert AuditAction.SIGN_IN_SUCCEEDED in await world.audit_actions()


def test_a_policy_that_would_end_sessions_between_refreshes_is_refused() -> None:
    with pytest.raises(ValueError, match="idle timeout"):
        SessionPolicy(idle_timeout=timedelta(minutes=10))
    with pytest.raises(ValueError, match="absolute lifetime"):
        SessionPolicy(idle_timeout=timedelta(hours=2), absolute_lifetime=timedelta(hours=1))
