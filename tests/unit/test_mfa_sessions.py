"""Changing the second factor ends the person's other sessions, unless told not to: confirming an
enrolment, new recovery codes, disabling it. The session making the change stays."""

from __future__ import annotations

import pytest
from returns.result import Success

from clinic_core.application.actor import Actor
from clinic_core.audit.model import AuditAction
from clinic_core.identity.mfa import (
    ChangeMfaCommand,
    ConfirmMfaEnrolment,
    ConfirmMfaEnrolmentCommand,
    DisableMfa,
    RegenerateRecoveryCodes,
    StartMfaEnrolment,
    StartMfaEnrolmentCommand,
)
from clinic_core.identity.model import RevocationReason
from clinic_core.identity.sessions import CheckSession
from clinic_core.shared.clock import FixedClock
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    FakeSecretBox,
    InMemoryUnitOfWorkFactory,
)
from tests.unit.test_mfa import PASSWORD, T0, World


@pytest.fixture
def world() -> World:
    clock = FixedClock(T0)
    return World(
        InMemoryUnitOfWorkFactory(),
        clock,
        FakeAccessTokenIssuer(clock),
        FakeSecretBox(),
        FakePasswordHasher(),
    )


async def stands(world: World, actor: Actor) -> bool:
    return (await CheckSession(world.uow, world.clock)(actor)).active


async def two_sessions(world: World) -> tuple[Actor, Actor]:
    """The owner signed in on the desk (the one acting) and on a phone."""
    await world.sign_up()
    return world.actor_of(await world.tokens()), world.actor_of(await world.tokens())


async def start(world: World, actor: Actor) -> str:
    started = await StartMfaEnrolment(world.uow, world.hasher, world.box, world.clock)(
        StartMfaEnrolmentCommand(actor, PASSWORD)
    )
    return started.unwrap().secret


async def enrolled_keeping_sessions(world: World) -> tuple[Actor, Actor, str]:
    desk, phone = await two_sessions(world)
    secret = await start(world, desk)
    confirm = ConfirmMfaEnrolment(world.uow, world.box, world.clock)
    kept = await confirm(ConfirmMfaEnrolmentCommand(desk, world.code(secret), end_other_sessions=False))
    assert kept.unwrap().ended_sessions == 0
    world.next_period()
    return desk, phone, secret


def revocations(world: World) -> list[dict[str, object]]:
    events = world.uow.store.tables.audit_events.values()
    return [dict(e.details) for e in events if e.action is AuditAction.SESSION_REVOKED]


async def test_confirming_an_enrolment_ends_the_other_sessions_by_default(world: World) -> None:
    desk, phone = await two_sessions(world)
    secret = await start(world, desk)

    confirmed = await ConfirmMfaEnrolment(world.uow, world.box, world.clock)(
        ConfirmMfaEnrolmentCommand(desk, world.code(secret))
    )

    assert confirmed.unwrap().ended_sessions == 1
    assert len(confirmed.unwrap().codes) == 10
    assert await stands(world, desk)
    assert not await stands(world, phone)
    ended = world.uow.store.tables.sessions[phone.session_id]  # type: ignore[index]
    assert ended.revoked_reason is RevocationReason.MFA_CHANGED
    assert revocations(world) == [{"reason": "mfa_changed", "sessions": 1}]


async def test_confirming_an_enrolment_can_keep_the_other_sessions(world: World) -> None:
    desk, phone, _ = await enrolled_keeping_sessions(world)
    assert await stands(world, desk)
    assert await stands(world, phone)
    assert revocations(world) == []


async def test_new_recovery_codes_end_the_other_sessions_by_default(world: World) -> None:
    desk, phone, secret = await enrolled_keeping_sessions(world)
    regenerate = RegenerateRecoveryCodes(world.uow, world.hasher, world.box, world.clock)

    changed = await regenerate(ChangeMfaCommand(desk, PASSWORD, world.code(secret)))

    assert changed.unwrap().ended_sessions == 1
    assert await stands(world, desk)
    assert not await stands(world, phone)
    assert revocations(world) == [{"reason": "mfa_changed", "sessions": 1}]


async def test_new_recovery_codes_can_keep_the_other_sessions(world: World) -> None:
    desk, phone, secret = await enrolled_keeping_sessions(world)
    regenerate = RegenerateRecoveryCodes(world.uow, world.hasher, world.box, world.clock)

    changed = await regenerate(ChangeMfaCommand(desk, PASSWORD, world.code(secret), end_other_sessions=False))

    assert changed.unwrap().ended_sessions == 0
    assert await stands(world, phone)


async def test_disabling_ends_the_other_sessions_by_default(world: World) -> None:
    desk, phone, secret = await enrolled_keeping_sessions(world)
    disable = DisableMfa(world.uow, world.hasher, world.box, world.clock)

    assert await disable(ChangeMfaCommand(desk, PASSWORD, world.code(secret))) == Success(1)
    assert await stands(world, desk)
    assert not await stands(world, phone)
    assert revocations(world) == [{"reason": "mfa_changed", "sessions": 1}]


async def test_disabling_can_keep_the_other_sessions(world: World) -> None:
    desk, phone, secret = await enrolled_keeping_sessions(world)
    disable = DisableMfa(world.uow, world.hasher, world.box, world.clock)

    kept = await disable(ChangeMfaCommand(desk, PASSWORD, world.code(secret), end_other_sessions=False))

    assert kept == Success(0)
    assert await stands(world, phone)


async def test_a_refused_change_ends_nothing(world: World) -> None:
    desk, phone, secret = await enrolled_keeping_sessions(world)
    disable = DisableMfa(world.uow, world.hasher, world.box, world.clock)

    wrong_code = await disable(ChangeMfaCommand(desk, PASSWORD, world.code(secret, drift_steps=4)))
    wrong_password = await disable(ChangeMfaCommand(desk, "not the password", world.code(secret)))

    assert not isinstance(wrong_code, Success)
    assert not isinstance(wrong_password, Success)
    assert await stands(world, phone)
    assert revocations(world) == []
