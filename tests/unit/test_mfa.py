"""Two-factor sign-in with TOTP, on the in-memory adapters: the RFC's vectors, drift, replay, recovery codes,
challenges, the clinic's requirement and the password length it allows."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from returns.result import Failure, Success

from clinic_core.application.actor import Actor
from clinic_core.application.context import RequestContext
from clinic_core.audit.model import AuditAction
from clinic_core.identity.credentials import ChangePassword, ChangePasswordCommand
from clinic_core.identity.mfa import (
    ChangeMfaCommand,
    ConfirmMfaEnrolment,
    ConfirmMfaEnrolmentCommand,
    DisableMfa,
    GetMfaStatus,
    RegenerateRecoveryCodes,
    StartMfaEnrolment,
    StartMfaEnrolmentCommand,
)
from clinic_core.identity.mfa_sign_in import (
    CompleteEnrolmentCommand,
    CompleteRequiredEnrolment,
    EnrolmentTokenCommand,
    StartRequiredEnrolment,
    VerifyMfa,
    VerifyMfaCommand,
)
from clinic_core.identity.model import TokenPair
from clinic_core.identity.passwords import (
    MIN_LENGTH,
    MIN_LENGTH_WITH_MFA,
    check_password,
    min_password_length,
)
from clinic_core.identity.second_factor import (
    InvalidMfaChallenge,
    InvalidMfaCode,
    MfaAlreadyEnabled,
    MfaChallenge,
    MfaEnrolmentChallenge,
)
from clinic_core.identity.sessions import LogIn, LogInCommand
from clinic_core.identity.totp import (
    code_at,
    matching_step,
    new_recovery_codes,
    new_secret,
    provisioning_uri,
    secret_bits,
    time_step,
)
from clinic_core.shared.clock import FixedClock
from clinic_core.shared.errors import Forbidden, InvalidInput
from clinic_core.tenancy.members import (
    AcceptInvitation,
    AcceptInvitationCommand,
    InviteMember,
    InviteMemberCommand,
)
from clinic_core.tenancy.permissions import Role
from clinic_core.tenancy.security_policy import (
    GetSecurityPolicy,
    UpdateSecurityPolicy,
    UpdateSecurityPolicyCommand,
)
from clinic_core.tenancy.signup import SignedUp, SignUp, SignUpCommand
from clinic_core.testing import (
    FakeAccessTokenIssuer,
    FakePasswordHasher,
    FakeSecretBox,
    InMemoryUnitOfWorkFactory,
)

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "shared" / "data" / "vectors" / "rfc6238_totp.json").read_text()
)
PASSWORD = "correct horse battery staple"
T0 = datetime(2026, 3, 2, 12, 0, 10, tzinfo=UTC)


# --- the RFC and the verification rules ---------------------------------------------------------------------


@pytest.mark.parametrize("vector", VECTORS["vectors"], ids=lambda v: f"{v['algorithm']}-{v['unix_time']}")
def test_every_rfc_6238_vector_passes_the_products_verification(vector: dict[str, Any]) -> None:
    seed = VECTORS["seeds_base32"][vector["algorithm"]]
    step = vector["unix_time"] // vector["period"]
    assert step == int(vector["T_hex"], 16)
    options = {"algorithm": vector["algorithm"], "digits": vector["digits"], "period": vector["period"]}
    assert (
        matching_step(seed, vector["expected"], vector["unix_time"], last_used_step=None, **options) == step
    )
    # The same code once its step was used: a replay.
    assert (
        matching_step(seed, vector["expected"], vector["unix_time"], last_used_step=step, **options) is None
    )
    # The six-digit code of the same moment is the last six digits.
    six = matching_step(
        seed, vector["expected"][-6:], vector["unix_time"], last_used_step=None, **{**options, "digits": 6}
    )
    assert six == step


def test_the_rfc_4226_counter_values_are_the_codes_of_those_steps() -> None:
    hotp = VECTORS["rfc4226_hotp_sha1_6digit"]
    seed = VECTORS["seeds_base32"]["SHA1"]
    assert bytes.fromhex(pyotp.TOTP(seed).byte_secret().hex()).decode() == hotp["seed_ascii"]
    for counter, expected in hotp["counter_to_code"].items():
        assert code_at(seed, int(counter)) == expected
        assert matching_step(seed, expected, int(counter) * 30 + 29, last_used_step=None) == int(counter)


def test_one_step_of_drift_either_way_is_accepted_and_two_are_not() -> None:
    secret, now = new_secret(), 1_800_000_015
    step = time_step(now)
    for drift in (-1, 0, 1):
        assert matching_step(secret, code_at(secret, step + drift), now, last_used_step=None) == step + drift
    for drift in (-2, 2, 3):
        assert matching_step(secret, code_at(secret, step + drift), now, last_used_step=None) is None


def test_a_used_step_and_any_earlier_one_are_refused() -> None:
    secret, now = new_secret(), 1_800_000_015
    step = time_step(now)
    assert matching_step(secret, code_at(secret, step), now, last_used_step=step) is None
    # The previous step's code is still inside the window, but a newer one was used: refused.
    assert matching_step(secret, code_at(secret, step - 1), now, last_used_step=step) is None
    assert matching_step(secret, code_at(secret, step + 1), now, last_used_step=step) == step + 1


def test_malformed_codes_are_refused_and_spaces_are_forgiven() -> None:
    secret, now = new_secret(), 1_800_000_015
    code = code_at(secret, time_step(now))
    assert matching_step(secret, f"{code[:3]} {code[3:]}", now, last_used_step=None) == time_step(now)
    for bad in ("", "12345", "1234567", "abcdef", code + "0"):
        assert matching_step(secret, bad, now, last_used_step=None) is None


def test_secrets_have_160_bits_and_differ() -> None:
    secrets = {new_secret() for _ in range(20)}
    assert len(secrets) == 20
    assert all(secret_bits(s) >= 160 for s in secrets)


def test_the_otpauth_uri_names_the_issuer_and_the_account() -> None:
    secret = new_secret()
    uri = provisioning_uri(secret, "ana@example.com")
    assert uri.startswith("otpauth://totp/Clinic:ana%40example.com?")
    assert f"secret={secret}" in uri
    assert "issuer=Clinic" in uri


def test_recovery_codes_are_ten_distinct_and_unambiguous() -> None:
    codes = new_recovery_codes()
    assert len(set(codes)) == 10
    for code in codes:
        first, _, second = code.partition("-")
        assert len(first) == len(second) == 5
        assert not set(first + second) & set("01ilo")


# --- the use cases ------------------------------------------------------------------------------------------


@dataclass
class World:
    uow: InMemoryUnitOfWorkFactory
    clock: FixedClock
    issuer: FakeAccessTokenIssuer
    box: FakeSecretBox
    hasher: FakePasswordHasher

    async def sign_up(self, email: str = "ana@example.com", tenant: str = "Clínica Bela") -> SignedUp:
        cmd = SignUpCommand(tenant, "Centro", "America/Sao_Paulo", "Ana Souza", email, PASSWORD)
        return (await SignUp(self.uow, self.hasher, self.clock)(cmd)).unwrap()

    async def join(self, owner: Actor, email: str, role: str) -> None:
        issued = (
            await InviteMember(self.uow, self.clock)(InviteMemberCommand(owner, email, frozenset({role})))
        ).unwrap()
        accepted = await AcceptInvitation(self.uow, self.hasher, self.clock)(
            AcceptInvitationCommand(issued.token, password=PASSWORD, name="Bia Lima")
        )
        assert isinstance(accepted, Success)

    async def log_in(
        self, email: str = "ana@example.com"
    ) -> TokenPair | MfaChallenge | MfaEnrolmentChallenge:
        return (
            await LogIn(self.uow, self.hasher, self.issuer, self.clock)(LogInCommand(email, PASSWORD))
        ).unwrap()

    async def tokens(self, email: str = "ana@example.com") -> TokenPair:
        outcome = await self.log_in(email)
        assert isinstance(outcome, TokenPair)
        return outcome

    async def challenge(self, email: str = "ana@example.com") -> str:
        outcome = await self.log_in(email)
        assert isinstance(outcome, MfaChallenge)
        return outcome.challenge_token

    def actor_of(self, tokens: TokenPair) -> Actor:
        claims = self.issuer.verify(tokens.access_token)
        assert claims is not None
        return Actor.from_claims(claims)

    def code(self, secret: str, drift_steps: int = 0) -> str:
        return pyotp.TOTP(secret).at(self.clock.now() + timedelta(seconds=30 * drift_steps))

    def next_period(self) -> None:
        self.clock.advance(timedelta(seconds=30))

    @property
    def verify(self) -> VerifyMfa:
        return VerifyMfa(self.uow, self.issuer, self.box, self.clock)

    async def enrol(self, actor: Actor) -> tuple[str, list[str]]:
        """Enrol ``actor`` in MFA: the secret and the recovery codes."""
        started = await StartMfaEnrolment(self.uow, self.hasher, self.box, self.clock)(
            StartMfaEnrolmentCommand(actor, PASSWORD)
        )
        secret = started.unwrap().secret
        codes = await ConfirmMfaEnrolment(self.uow, self.box, self.clock)(
            ConfirmMfaEnrolmentCommand(actor, self.code(secret))
        )
        self.next_period()  # the confirming code's step is used: sign-ins in tests use the next one
        return secret, codes.unwrap().codes

    def audit_actions(self) -> list[AuditAction]:
        events = sorted(self.uow.store.tables.audit_events.values(), key=lambda e: e.id)
        return [e.action for e in events]


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


async def enrolled_owner(world: World) -> tuple[SignedUp, Actor, str, list[str]]:
    signed = await world.sign_up()
    actor = world.actor_of(await world.tokens())
    secret, codes = await world.enrol(actor)
    return signed, actor, secret, codes


async def test_enrolment_stores_the_secret_encrypted_and_shows_ten_recovery_codes_once(world: World) -> None:
    signed, actor, secret, codes = await enrolled_owner(world)
    assert len(codes) == 10
    stored = world.uow.store.tables.totp_credentials[signed.owner.id]
    assert stored.secret is not None
    assert secret not in stored.secret
    assert stored.pending_secret is None
    assert world.box.decrypt(stored.secret, associated=str(signed.owner.id)).decode() == secret
    hashes = {c.code_hash for c in world.uow.store.tables.recovery_codes.values()}
    assert len(hashes) == 10
    assert not any(code in repr(hashes) for code in codes)
    status = (await GetMfaStatus(world.uow)(actor)).unwrap()
    assert (status.enabled, status.recovery_codes_left, status.enrolment_pending) == (True, 10, False)
    assert AuditAction.MFA_ENROLLED in world.audit_actions()


async def test_enrolment_needs_the_password_and_a_right_first_code(world: World) -> None:
    await world.sign_up()
    actor = world.actor_of(await world.tokens())
    start = StartMfaEnrolment(world.uow, world.hasher, world.box, world.clock)
    wrong = await start(StartMfaEnrolmentCommand(actor, "not the password"))
    assert isinstance(wrong.failure(), InvalidInput)
    secret = (await start(StartMfaEnrolmentCommand(actor, PASSWORD))).unwrap().secret
    confirm = ConfirmMfaEnrolment(world.uow, world.box, world.clock)
    refused = await confirm(ConfirmMfaEnrolmentCommand(actor, world.code(secret, drift_steps=3)))
    assert refused.failure() == InvalidInput.of(
        "code", "invalid_code", "the code is wrong, expired or already used"
    )
    assert world.audit_actions()[-1] is AuditAction.MFA_FAILED
    assert isinstance(await world.log_in(), TokenPair)  # not enabled until confirmed
    assert isinstance(await confirm(ConfirmMfaEnrolmentCommand(actor, world.code(secret))), Success)
    again = await start(StartMfaEnrolmentCommand(actor, PASSWORD))
    assert again.failure() == MfaAlreadyEnabled()


async def test_two_step_login_and_a_replayed_code_is_refused(world: World) -> None:
    _, actor, secret, _ = await enrolled_owner(world)
    challenge = await world.challenge()
    code = world.code(secret)
    tokens = (await world.verify(VerifyMfaCommand(challenge, code=code))).unwrap()
    assert world.actor_of(tokens).user_id == actor.user_id
    assert world.audit_actions()[-1] is AuditAction.SIGN_IN_SUCCEEDED

    # The same code on a new challenge, inside its 30 seconds: refused.
    replay = await world.verify(VerifyMfaCommand(await world.challenge(), code=code))
    assert replay.failure() == InvalidMfaCode()
    assert world.audit_actions()[-1] is AuditAction.MFA_FAILED
    # The used challenge is dead, even with a fresh code.
    world.next_period()
    dead = await world.verify(VerifyMfaCommand(challenge, code=world.code(secret)))
    assert dead.failure() == InvalidMfaChallenge()


async def test_an_older_codes_step_after_a_newer_one_was_used_is_refused(world: World) -> None:
    _, _, secret, _ = await enrolled_owner(world)
    newer = world.code(secret, drift_steps=1)
    older = world.code(secret)
    assert isinstance(await world.verify(VerifyMfaCommand(await world.challenge(), code=newer)), Success)
    refused = await world.verify(VerifyMfaCommand(await world.challenge(), code=older))
    assert refused.failure() == InvalidMfaCode()


async def test_the_challenge_dies_after_five_wrong_codes(world: World) -> None:
    _, _, secret, _ = await enrolled_owner(world)
    challenge = await world.challenge()
    wrong = world.code(secret, drift_steps=5)
    for _ in range(5):
        assert (await world.verify(VerifyMfaCommand(challenge, code=wrong))).failure() == InvalidMfaCode()
    right = await world.verify(VerifyMfaCommand(challenge, code=world.code(secret)))
    assert right.failure() == InvalidMfaChallenge()
    assert world.audit_actions().count(AuditAction.MFA_FAILED) == 5


async def test_the_challenge_expires_after_five_minutes(world: World) -> None:
    _, _, secret, _ = await enrolled_owner(world)
    challenge = await world.challenge()
    world.clock.advance(timedelta(minutes=5))
    late = await world.verify(VerifyMfaCommand(challenge, code=world.code(secret)))
    assert late.failure() == InvalidMfaChallenge()


async def test_a_recovery_code_works_once(world: World) -> None:
    _, _, _, codes = await enrolled_owner(world)
    first = await world.verify(VerifyMfaCommand(await world.challenge(), recovery_code=codes[0].upper()))
    assert isinstance(first.unwrap(), TokenPair)
    assert AuditAction.RECOVERY_CODE_USED in world.audit_actions()
    again = await world.verify(VerifyMfaCommand(await world.challenge(), recovery_code=codes[0]))
    assert again.failure() == InvalidMfaCode()
    assert isinstance(
        await world.verify(VerifyMfaCommand(await world.challenge(), recovery_code=codes[1])), Success
    )


async def test_regenerating_recovery_codes_needs_password_and_code_and_invalidates_the_old_ones(
    world: World,
) -> None:
    _, actor, secret, old = await enrolled_owner(world)
    regenerate = RegenerateRecoveryCodes(world.uow, world.hasher, world.box, world.clock)
    no_code = await regenerate(ChangeMfaCommand(actor, PASSWORD, "000000"))
    assert isinstance(no_code.failure(), InvalidInput)
    new = (await regenerate(ChangeMfaCommand(actor, PASSWORD, world.code(secret)))).unwrap().codes
    assert len(new) == 10
    assert not set(new) & set(old)
    assert world.audit_actions()[-1] is AuditAction.RECOVERY_CODES_REGENERATED
    stale = await world.verify(VerifyMfaCommand(await world.challenge(), recovery_code=old[2]))
    assert stale.failure() == InvalidMfaCode()
    fresh = await world.verify(VerifyMfaCommand(await world.challenge(), recovery_code=new[2]))
    assert isinstance(fresh, Success)


async def test_disabling_needs_both_the_password_and_a_valid_code(world: World) -> None:
    signed, actor, secret, codes = await enrolled_owner(world)
    disable = DisableMfa(world.uow, world.hasher, world.box, world.clock)
    wrong_password = await disable(ChangeMfaCommand(actor, "not the password", world.code(secret)))
    assert wrong_password.failure() == InvalidInput.of("password", "wrong_password", "the password is wrong")
    wrong_code = await disable(ChangeMfaCommand(actor, PASSWORD, world.code(secret, drift_steps=4)))
    assert isinstance(wrong_code.failure(), InvalidInput)
    assert world.audit_actions()[-1] is AuditAction.MFA_FAILED
    assert isinstance(await world.log_in(), MfaChallenge)  # still on

    assert isinstance(await disable(ChangeMfaCommand(actor, PASSWORD, codes[3])), Success)  # a recovery code
    assert world.audit_actions()[-2:] == [AuditAction.RECOVERY_CODE_USED, AuditAction.MFA_DISABLED]
    assert isinstance(await world.log_in(), TokenPair)
    assert not world.uow.store.tables.recovery_codes
    assert world.uow.store.tables.users[signed.owner.id].mfa_enabled_at is None


async def test_a_clinic_that_requires_mfa_makes_staff_enrol_but_not_clients(world: World) -> None:
    signed = await world.sign_up()
    owner = world.actor_of(await world.tokens())
    await world.join(owner, "bia@example.com", "receptionist")
    await world.join(owner, "caio@example.com", "client")
    changed = await UpdateSecurityPolicy(world.uow, world.clock)(
        UpdateSecurityPolicyCommand(owner, require_mfa_for_staff=True, context=RequestContext(ip="10.0.0.1"))
    )
    assert changed.unwrap().require_mfa_for_staff
    event = next(
        e
        for e in world.uow.store.tables.audit_events.values()
        if e.action is AuditAction.SECURITY_POLICY_CHANGED
    )
    assert (event.details["old_require_mfa_for_staff"], event.details["new_require_mfa_for_staff"]) == (
        False,
        True,
    )

    assert isinstance(await world.log_in("caio@example.com"), TokenPair)
    asked = await world.log_in("bia@example.com")
    assert isinstance(asked, MfaEnrolmentChallenge)
    assert asked.expires_in == 600
    bia_id = next(u.id for u in world.uow.store.tables.users.values() if u.email.value == "bia@example.com")
    assert not [s for s in world.uow.store.tables.sessions.values() if s.user_id == bia_id]

    token = asked.enrolment_token
    enrolment = (
        await StartRequiredEnrolment(world.uow, world.issuer, world.box, world.clock)(
            EnrolmentTokenCommand(token)
        )
    ).unwrap()
    complete = CompleteRequiredEnrolment(world.uow, world.issuer, world.box, world.clock)
    wrong = await complete(CompleteEnrolmentCommand(token, world.code(enrolment.secret, drift_steps=3)))
    assert wrong.failure() == InvalidMfaCode()
    enrolled = (await complete(CompleteEnrolmentCommand(token, world.code(enrolment.secret)))).unwrap()
    assert len(enrolled.recovery_codes) == 10
    bia = world.actor_of(enrolled.tokens)
    assert bia.tenant_id == signed.tenant.id
    assert bia.roles == {Role.RECEPTIONIST}
    # The token is spent, and from now on Bia signs in with a code.
    spent = await complete(CompleteEnrolmentCommand(token, world.code(enrolment.secret)))
    assert spent.failure() == InvalidMfaChallenge()
    assert isinstance(await world.log_in("bia@example.com"), MfaChallenge)


async def test_an_enrolment_token_is_not_a_sign_in_challenge_nor_the_reverse(world: World) -> None:
    _, _owner, secret, _ = await enrolled_owner(world)
    challenge = await world.challenge()
    start = StartRequiredEnrolment(world.uow, world.issuer, world.box, world.clock)
    assert (await start(EnrolmentTokenCommand(challenge))).failure() == InvalidMfaChallenge()
    assert (
        await world.verify(VerifyMfaCommand("made-up", code=world.code(secret)))
    ).failure() == InvalidMfaChallenge()


async def test_only_the_owner_changes_the_security_policy_and_members_read_it(world: World) -> None:
    signed = await world.sign_up()
    owner = world.actor_of(await world.tokens())
    admin = Actor(owner.user_id, signed.tenant.id, frozenset({Role.ADMIN}), frozenset())
    refused = await UpdateSecurityPolicy(world.uow, world.clock)(
        UpdateSecurityPolicyCommand(admin, require_mfa_for_staff=True)
    )
    assert refused.failure() == Forbidden(permission="tenant:write")
    policy = (await GetSecurityPolicy(world.uow)(admin)).unwrap()
    assert policy.require_mfa_for_staff is False
    assert AuditAction.SECURITY_POLICY_CHANGED not in world.audit_actions()


# --- the password policy ------------------------------------------------------------------------------------

SHORT_BUT_STRONG = "Vq8#zLm2Rt"  # 10 characters, unguessable


def test_passwords_of_8_characters_are_enough_with_mfa_and_12_without() -> None:
    assert (MIN_LENGTH, MIN_LENGTH_WITH_MFA) == (12, 8)
    assert isinstance(check_password(SHORT_BUT_STRONG, min_length=MIN_LENGTH_WITH_MFA), Success)
    refused = check_password(SHORT_BUT_STRONG)
    assert isinstance(refused, Failure)
    assert refused.failure().errors[0].code == "too_short"
    assert check_password("Vq8#zLm", min_length=MIN_LENGTH_WITH_MFA).failure().errors[0].code == "too_short"


async def test_changing_the_password_allows_8_characters_only_with_mfa(world: World) -> None:
    signed, actor, _, _ = await enrolled_owner(world)
    assert min_password_length(world.uow.store.tables.users[signed.owner.id]) == MIN_LENGTH_WITH_MFA
    change = ChangePassword(world.uow, world.hasher, world.clock)
    assert isinstance(await change(ChangePasswordCommand(actor, PASSWORD, SHORT_BUT_STRONG)), Success)

    other = await world.sign_up("bia@example.com", "Clínica Outra")
    assert min_password_length(world.uow.store.tables.users[other.owner.id]) == MIN_LENGTH
    bia = world.actor_of(await world.tokens("bia@example.com"))
    refused = await change(ChangePasswordCommand(bia, PASSWORD, SHORT_BUT_STRONG))
    assert isinstance(refused, Failure)
    assert refused.failure().errors[0].code == "too_short"
