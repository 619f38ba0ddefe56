"""Sign-in throttling on the in-memory fakes: a doubling delay after five failures, capped, far under
100 guesses an hour, the same for unknown emails, and no way to lock a person out of their own device."""

from __future__ import annotations

from datetime import timedelta

import pytest
from returns.result import Result, Success

from clinic_core.audit.model import AuditAction
from clinic_core.identity.model import InvalidCredentials
from clinic_core.identity.throttling import SignInThrottled, SignInThrottlePolicy
from clinic_core.shared.errors import DomainError
from tests.unit.recovery_world import PASSWORD, T0, World

WRONG = "not the password at all"


@pytest.fixture
async def world() -> World:
    world = World()
    await world.sign_up()
    return world


def outcome(result: Result[object, DomainError]) -> str:
    """What a caller can see of an answer: its kind, and how long to wait."""
    if isinstance(result, Success):
        return "signed in"
    error = result.failure()
    return f"throttled {error.retry_after_seconds}" if isinstance(error, SignInThrottled) else error.code


def test_the_delay_doubles_from_the_fifth_failure_and_is_capped() -> None:
    policy = SignInThrottlePolicy()
    delays = [policy.delay_after(n) for n in range(1, 20)]
    seconds = [int(d.total_seconds()) if d else 0 for d in delays]
    assert seconds == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900]
    assert policy.delay_after(10_000) == timedelta(minutes=15)


async def test_after_five_failures_the_next_attempt_waits_unchecked(world: World) -> None:
    for _ in range(5):
        assert outcome(await world.log_in(password=WRONG)) == "invalid_credentials"
    # Even the right password is refused now: it is not looked at until the delay is over.
    assert outcome(await world.log_in()) == "throttled 1"

    world.clock.advance(timedelta(seconds=1))
    assert outcome(await world.log_in(password=WRONG)) == "invalid_credentials"
    assert outcome(await world.log_in(password=WRONG)) == "throttled 2"
    world.clock.advance(timedelta(seconds=2))
    assert outcome(await world.log_in(password=WRONG)) == "invalid_credentials"
    assert outcome(await world.log_in()) == "throttled 4"


async def test_fewer_than_100_guesses_get_checked_in_an_hour(world: World) -> None:
    """A patient attacker retries the moment each delay ends, for a whole hour."""
    checked = 0
    while world.clock.now() < T0 + timedelta(hours=1):
        result = await world.log_in(password=WRONG)
        error = result.failure()
        if isinstance(error, SignInThrottled):
            world.clock.advance(timedelta(seconds=error.retry_after_seconds))
        else:
            assert isinstance(error, InvalidCredentials)
            checked += 1
    assert checked < 100
    assert checked == 17  # 5 free, 10 doubling delays (1 s to 512 s), then one every 15 minutes


async def test_an_unknown_email_is_throttled_exactly_like_a_known_one(world: World) -> None:
    async def run(email: str) -> list[str]:
        seen = []
        for step in range(12):
            seen.append(outcome(await world.log_in(email, WRONG)))
            if step % 3 == 2:
                world.clock.advance(timedelta(seconds=3))
        return seen

    known = await run("ana@example.com")
    world.clock.advance(timedelta(hours=2))
    unknown = await run("nobody@example.com")
    assert known == unknown
    assert "throttled 1" in known


async def test_every_spelling_of_an_address_shares_one_count(world: World) -> None:
    for email in (
        "ana@example.com",
        "ANA@example.com",
        " Ana@Example.COM",
        "ana@example.com",
        "aNa@example.com",
    ):
        await world.log_in(email, WRONG)
    assert outcome(await world.log_in("ana@EXAMPLE.com")) == "throttled 1"


async def test_a_known_device_still_signs_in_while_others_are_locked_out(world: World) -> None:
    assert isinstance(await world.log_in(device="ana-phone"), Success)
    for _ in range(8):
        await world.log_in(password=WRONG)  # someone else, elsewhere, with no device fingerprint
    for _ in range(3):
        await world.log_in(password=WRONG, device="attacker-laptop")  # a device the account never used
    assert outcome(await world.log_in()).startswith("throttled")
    assert outcome(await world.log_in(device="attacker-laptop")).startswith("throttled")

    assert outcome(await world.log_in(device="ana-phone")) == "signed in"


async def test_a_known_device_is_throttled_on_its_own_count(world: World) -> None:
    await world.log_in(device="ana-phone")
    for _ in range(5):
        assert outcome(await world.log_in(password=WRONG, device="ana-phone")) == "invalid_credentials"
    assert outcome(await world.log_in(device="ana-phone")) == "throttled 1"
    assert outcome(await world.log_in()) == "signed in"  # the account's own count is untouched


async def test_the_lock_is_lifted_by_time(world: World) -> None:
    for _ in range(9):
        assert outcome(await world.log_in(password=WRONG)) == "invalid_credentials"
        world.clock.advance(world.policy.delay_after(9) or timedelta())  # past each delay so far
    assert outcome(await world.log_in(password=WRONG)) == "invalid_credentials"  # the 10th: 32 s now
    assert outcome(await world.log_in()) == "throttled 32"

    world.clock.advance(timedelta(seconds=31))
    assert outcome(await world.log_in()) == "throttled 1"
    world.clock.advance(timedelta(seconds=1))
    assert outcome(await world.log_in()) == "signed in"


async def test_an_hour_without_failures_forgets_the_count(world: World) -> None:
    for _ in range(5):
        await world.log_in(password=WRONG)
    world.clock.advance(timedelta(hours=1))
    for _ in range(4):
        assert outcome(await world.log_in(password=WRONG)) == "invalid_credentials"
    assert outcome(await world.log_in()) == "signed in"


async def test_a_correct_password_clears_the_count(world: World) -> None:
    for _ in range(4):
        await world.log_in(password=WRONG)
    assert outcome(await world.log_in()) == "signed in"
    for _ in range(4):
        assert outcome(await world.log_in(password=WRONG)) == "invalid_credentials"
    assert outcome(await world.log_in()) == "signed in"


async def test_failures_and_refusals_of_an_account_are_audited_in_its_clinic(world: World) -> None:
    for _ in range(6):
        await world.log_in(password=WRONG)
    for _ in range(6):
        await world.log_in("nobody@example.com", WRONG)

    failed = world.audit(AuditAction.SIGN_IN_FAILED)
    throttled = world.audit(AuditAction.SIGN_IN_THROTTLED)
    tenant = next(iter(world.uow.store.tables.tenants))
    assert len(failed) == 5
    assert len(throttled) == 1
    for event in (*failed, *throttled):
        assert event.tenant_id == tenant
        assert event.target is not None
        assert event.target.id == str(world.user().id)
        assert PASSWORD not in str(event.details)
        assert WRONG not in str(event.details)


async def test_a_custom_policy_is_honoured(world: World) -> None:
    world.policy = SignInThrottlePolicy(free_failures=2, first_delay=timedelta(seconds=10))
    await world.log_in(password=WRONG)
    await world.log_in(password=WRONG)
    assert isinstance((await world.log_in()).failure(), SignInThrottled)
    assert outcome(await world.log_in()) == "throttled 10"
