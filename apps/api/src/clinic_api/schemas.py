"""The JSON the API reads and writes. Shapes and sizes only: every business rule is clinic_core's.

Request models refuse unknown fields (a misspelt or smuggled ``tenant_id`` is an error, not ignored) and
never echo input in their errors (it may be a password). Lengths are caps against abuse, looser than the
rules in clinic_core, so that the core's own messages are the ones clients see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, RootModel

from clinic_core.access.api_keys import ApiKeyIssued
from clinic_core.access.model import ApiKey, CustomRole
from clinic_core.access.roles import BuiltInRole
from clinic_core.audit.model import AuditEvent
from clinic_core.identity.devices import DeviceSession
from clinic_core.identity.me import Me
from clinic_core.identity.mfa_sign_in import EnrolledSignIn
from clinic_core.identity.model import TokenPair, User
from clinic_core.identity.second_factor import MfaChallenge, MfaEnrolment, MfaEnrolmentChallenge, MfaStatus
from clinic_core.identity.signing_in import SignInOutcome
from clinic_core.tenancy.members import InvitationIssued, Member
from clinic_core.tenancy.model import Address, Membership, SecurityPolicy, Tenant, Unit

ShortText = Annotated[str, Field(max_length=300)]
Secret = Annotated[str, Field(max_length=1024)]


class RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True, use_attribute_docstrings=True)


class ResponseModel(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


# Requests


class SignUpRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "tenant_name": "Clínica Bela Vista",
                    "unit_name": "Centro",
                    "timezone": "America/Sao_Paulo",
                    "owner_name": "Ana Souza",
                    "email": "ana@belavista.com.br",
                    "password": "correct horse battery staple",
                }
            ]
        }
    )

    tenant_name: ShortText
    unit_name: ShortText
    timezone: ShortText
    owner_name: ShortText
    email: ShortText
    password: Secret


class LogInRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "email": "ana@belavista.com.br",
                    "password": "correct horse battery staple",
                    "tenant_slug": "clinica-bela-vista",
                }
            ]
        }
    )

    email: ShortText
    password: Secret
    tenant_slug: ShortText | None = None
    device_label: ShortText | None = None
    """Shown in the user's list of sessions ("Recepção - PC 2")."""


class ChangePasswordRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"current_password": "the old passphrase", "new_password": "a brand new long passphrase"}
            ]
        }
    )

    current_password: Secret
    new_password: Secret
    end_other_sessions: bool = True
    """End every other session of this account (not this one). On by default."""


class RefreshTokenRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"refresh_token": "k3Jq...Xw"}]})

    refresh_token: Secret


class SwitchTenantRequest(RequestModel):
    """The session's current refresh token, and the tenant by ``tenant_slug`` or by ``tenant_id``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"refresh_token": "k3Jq...Xw", "tenant_slug": "clinica-bela-vista"}]}
    )

    refresh_token: Secret
    tenant_slug: ShortText | None = None
    tenant_id: UUID | None = None


class VerifyEmailRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"token": "k3Jq...Xw"}]})

    token: Secret


class ChangeEmailRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"current_password": "correct horse battery staple", "new_email": "ana@novo.com.br"}]
        }
    )

    current_password: Secret
    new_email: ShortText
    end_other_sessions: bool = True
    """End every other session of this account (not this one) once the change is confirmed. On by default."""


class ConfirmEmailChangeRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"token": "k3Jq...Xw"}]})

    token: Secret


class ForgotPasswordRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"email": "ana@belavista.com.br"}]})

    email: ShortText


class ResetPasswordRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"token": "k3Jq...Xw", "new_password": "a brand new long passphrase"}]
        }
    )

    token: Secret
    new_password: Secret


class AddressIn(RequestModel):
    line1: ShortText
    line2: ShortText | None = None
    district: ShortText | None = None
    city: ShortText
    state: ShortText
    postal_code: ShortText
    country: ShortText = "BR"


class CreateUnitRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Unidade Jardins",
                    "timezone": "America/Sao_Paulo",
                    "phone": "+5511987654321",
                    "address": {
                        "line1": "Rua Augusta, 1500",
                        "district": "Jardins",
                        "city": "São Paulo",
                        "state": "SP",
                        "postal_code": "01304-001",
                        "country": "BR",
                    },
                }
            ]
        }
    )

    name: ShortText
    timezone: ShortText
    phone: ShortText | None = None
    address: AddressIn | None = None


class InviteMemberRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"email": "bruno@belavista.com.br", "roles": ["receptionist"], "unit_ids": []}]
        }
    )

    email: ShortText
    roles: Annotated[list[ShortText], Field(max_length=20)]
    unit_ids: Annotated[list[UUID], Field(max_length=200)] = []


class AcceptInvitationRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"token": "AZMx...Q.k3Jq...Xw", "password": "another long passphrase", "name": "Bruno Lima"}
            ]
        }
    )

    token: Secret
    password: Secret | None = None
    """For a new account only: its password. An existing account accepts signed in, with no password."""
    name: ShortText | None = None
    """For a new account only: the person's name."""


# Responses


class TenantOut(ResponseModel):
    id: UUID
    slug: str
    name: str
    plan: str
    status: str

    @classmethod
    def of(cls, tenant: Tenant) -> TenantOut:
        return cls(
            id=tenant.id,
            slug=tenant.slug.value,
            name=tenant.name,
            plan=tenant.plan.value,
            status=tenant.status.value,
        )


class AddressOut(ResponseModel):
    line1: str
    line2: str | None
    district: str | None
    city: str
    state: str
    postal_code: str
    country: str

    @classmethod
    def of(cls, address: Address) -> AddressOut:
        return cls(
            line1=address.line1,
            line2=address.line2,
            district=address.district,
            city=address.city,
            state=address.state,
            postal_code=address.postal_code,
            country=address.country,
        )


class UnitOut(ResponseModel):
    id: UUID
    name: str
    timezone: str
    phone: str | None
    address: AddressOut | None
    created_at: datetime

    @classmethod
    def of(cls, unit: Unit) -> UnitOut:
        return cls(
            id=unit.id,
            name=unit.name,
            timezone=unit.timezone.value,
            phone=unit.phone.value if unit.phone else None,
            address=AddressOut.of(unit.address) if unit.address else None,
            created_at=unit.created_at,
        )


class UnitPage(ResponseModel):
    items: list[UnitOut]
    next_cursor: str | None
    """Pass it back as ``cursor`` for the next page; null on the last page."""


class UserOut(ResponseModel):
    id: UUID
    email: str
    name: str

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=user.id, email=user.email.value, name=user.name.value)


class SignUpResponse(ResponseModel):
    tenant: TenantOut
    unit: UnitOut
    user: UserOut


class TokenPairOut(ResponseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "access_token": "eyJhbGciOiJFZERTQSJ9...",
                    "refresh_token": "k3Jq...Xw",
                    "token_type": "Bearer",
                    "expires_in": 900,
                }
            ]
        }
    )

    access_token: str
    refresh_token: str
    token_type: str
    expires_in: int
    """Seconds until the access token expires."""

    @classmethod
    def of(cls, pair: TokenPair) -> TokenPairOut:
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            token_type=pair.token_type,
            expires_in=pair.expires_in,
        )


class TenantChoiceOut(ResponseModel):
    id: UUID
    slug: str
    name: str
    roles: list[str]


class MeOut(ResponseModel):
    user: UserOut
    email_verified: bool
    """Whether the account proved it receives mail at its address (a link we sent it was opened)."""
    tenant: TenantOut
    roles: list[str]
    unit_ids: list[UUID]
    """Empty: every unit of the tenant."""
    tenants: list[TenantChoiceOut]

    @classmethod
    def of(cls, me: Me) -> MeOut:
        return cls(
            user=UserOut.of(me.user),
            email_verified=me.user.email_verified,
            tenant=TenantOut.of(me.tenant),
            roles=sorted(role.value for role in me.membership.roles),
            unit_ids=sorted(me.membership.unit_ids),
            tenants=[
                TenantChoiceOut(
                    id=tenant.id,
                    slug=tenant.slug.value,
                    name=tenant.name,
                    roles=sorted(role.value for role in membership.roles),
                )
                for tenant, membership in me.memberships
            ],
        )


class MemberOut(ResponseModel):
    id: UUID
    user: UserOut
    roles: list[str]
    unit_ids: list[UUID]
    """Empty: every unit of the tenant."""
    created_at: datetime
    custom_role_ids: list[UUID] = []
    """The clinic's own roles this member holds (see GET /v1/roles)."""

    @classmethod
    def of(cls, member: Member) -> MemberOut:
        return cls(
            id=member.membership.id,
            user=UserOut.of(member.user),
            roles=sorted(role.value for role in member.membership.roles),
            unit_ids=sorted(member.membership.unit_ids),
            created_at=member.membership.created_at,
            custom_role_ids=sorted(member.membership.custom_role_ids),
        )


class MemberPage(ResponseModel):
    items: list[MemberOut]
    next_cursor: str | None


class InvitationOut(ResponseModel):
    id: UUID
    email: str
    roles: list[str]
    unit_ids: list[UUID]
    expires_at: datetime
    token: str
    """Shown this once: only its digest is kept. Send it to the invitee."""

    @classmethod
    def of(cls, issued: InvitationIssued) -> InvitationOut:
        invitation = issued.invitation
        return cls(
            id=invitation.id,
            email=invitation.email.value,
            roles=sorted(role.value for role in invitation.roles),
            unit_ids=sorted(invitation.unit_ids),
            expires_at=invitation.expires_at,
            token=issued.token,
        )


class HealthOut(ResponseModel):
    status: str
    checks: dict[str, str] = {}


class DeviceSessionOut(ResponseModel):
    id: UUID
    tenant_id: UUID
    """The clinic the session is in now."""
    created_at: datetime
    last_used_at: datetime
    """When its tokens were last refreshed (access tokens in between are not counted)."""
    expires_at: datetime
    """The session's absolute end; sign in again after it."""
    user_agent: str | None
    device_label: str | None
    ip: str | None
    current: bool
    """The session this request was made with."""

    @classmethod
    def of(cls, device: DeviceSession) -> DeviceSessionOut:
        s = device.session
        return cls(
            id=s.id,
            tenant_id=s.tenant_id,
            created_at=s.created_at,
            last_used_at=s.last_used_at,
            expires_at=s.expires_at,
            user_agent=s.user_agent,
            device_label=s.device_label,
            ip=s.ip,
            current=device.current,
        )


class DeviceSessionList(ResponseModel):
    items: list[DeviceSessionOut]


class RevokedSessions(ResponseModel):
    revoked: int
    """How many sessions were ended."""


class Accepted(ResponseModel):
    detail: str
    """What happens next. Identical for every request of the endpoint, whatever the outcome."""


class PasswordChanged(ResponseModel):
    ended_sessions: int
    """How many other sessions were ended."""


class AuditTargetOut(ResponseModel):
    kind: str
    """What the event is about: `session`, `membership`, `api_key`, `role`, `invitation`..."""
    id: str


class AuditEventOut(ResponseModel):
    id: UUID
    action: str
    """`auth.sign_in_succeeded`, `auth.session_revoked`, `api_key.created`... (see the API guide)."""
    occurred_at: datetime
    actor_user_id: UUID | None
    """Who acted; empty for an anonymous attempt or an API key."""
    actor_api_key_id: UUID | None
    target: AuditTargetOut | None
    ip: str | None
    user_agent: str | None
    request_id: str | None
    """The `X-Request-ID` of the request, to find it in the logs."""
    details: dict[str, str | int | bool | None]

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            id=event.id,
            action=event.action.value,
            occurred_at=event.occurred_at,
            actor_user_id=event.actor_user_id,
            actor_api_key_id=event.actor_api_key_id,
            target=AuditTargetOut(kind=event.target.kind, id=event.target.id) if event.target else None,
            ip=event.ip,
            user_agent=event.user_agent,
            request_id=event.request_id,
            details=dict(event.details),
        )


class AuditEventPage(ResponseModel):
    items: list[AuditEventOut]
    next_cursor: str | None


# Multi-factor authentication (TOTP)


class MfaPasswordRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"password": "correct horse battery staple"}]})

    password: Secret
    """The current password again: changing the second factor needs more than an access token."""


class MfaCodeRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"code": "492039"}]})

    code: Annotated[str, Field(max_length=20)]
    """The six digits the authenticator app shows now."""
    end_other_sessions: bool = True
    """End every other session of this account (not this one) once the second factor is on. On by default."""


class MfaChangeRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"password": "correct horse battery staple", "code": "492039"}]}
    )

    password: Secret
    code: Annotated[str, Field(max_length=40)]
    """A code from the authenticator app, or one of the recovery codes."""
    end_other_sessions: bool = True
    """End every other session of this account (not this one) once the change is made. On by default."""


class MfaVerifyRequest(RequestModel):
    """The challenge token of the login response, with either ``code`` or ``recovery_code``."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"challenge_token": "Vb4...2Q", "code": "492039"}]}
    )

    challenge_token: Secret
    code: Annotated[str, Field(max_length=20)] | None = None
    recovery_code: Annotated[str, Field(max_length=40)] | None = None


class EnrolmentTokenRequest(RequestModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"enrolment_token": "p0Q...7w"}]})

    enrolment_token: Secret


class RequiredEnrolmentConfirmRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"enrolment_token": "p0Q...7w", "code": "492039"}]}
    )

    enrolment_token: Secret
    code: Annotated[str, Field(max_length=20)]


class SecurityPolicyRequest(RequestModel):
    """Fields left out stay as they are."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"require_mfa_for_staff": True}]})

    require_mfa_for_staff: bool | None = None
    """Staff (every role but client) must use a second factor; those without one enrol at next sign-in."""
    unverified_email_access: Literal["full", "no_patient_data", "none"] | None = None
    """What a member whose email is not verified may do in this clinic."""


class MfaChallengeOut(ResponseModel):
    """Login's answer when the password was right and the account has a second factor."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"mfa_required": True, "challenge_token": "Vb4...2Q", "expires_in": 300}]
        }
    )

    mfa_required: Literal[True] = True
    challenge_token: str
    """Send it with a code to POST /v1/auth/mfa/verify. Single use, at most five codes."""
    expires_in: int
    """Seconds the challenge stays valid."""

    @classmethod
    def of(cls, challenge: MfaChallenge) -> MfaChallengeOut:
        return cls(challenge_token=challenge.challenge_token, expires_in=challenge.expires_in)


class MfaEnrolmentRequiredOut(ResponseModel):
    """Login's answer when the clinic requires a second factor and the account has none yet."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"mfa_enrolment_required": True, "enrolment_token": "p0Q...7w", "expires_in": 600}]
        }
    )

    mfa_enrolment_required: Literal[True] = True
    enrolment_token: str
    """For POST /v1/auth/mfa/required-enrolment and .../confirm, which completes the sign-in."""
    expires_in: int

    @classmethod
    def of(cls, challenge: MfaEnrolmentChallenge) -> MfaEnrolmentRequiredOut:
        return cls(enrolment_token=challenge.enrolment_token, expires_in=challenge.expires_in)


class MfaEnrolmentOut(ResponseModel):
    secret: str
    """Base32, for typing into the app by hand when the QR code cannot be scanned."""
    otpauth_uri: str
    """``otpauth://totp/Clinic:<email>?secret=...&issuer=Clinic``: what the QR code encodes."""
    qr_code: str
    """The QR code of ``otpauth_uri`` as an image: ``data:image/svg+xml;base64,...``."""

    @classmethod
    def of(cls, enrolment: MfaEnrolment, qr_code: str) -> MfaEnrolmentOut:
        return cls(secret=enrolment.secret, otpauth_uri=enrolment.otpauth_uri, qr_code=qr_code)


class RecoveryCodesOut(ResponseModel):
    recovery_codes: list[str]
    """Ten single-use codes, shown this once: each can stand in for a code from the app one time."""
    ended_sessions: int = 0
    """How many other sessions were ended."""


class MfaStatusOut(ResponseModel):
    enabled: bool
    enabled_at: datetime | None
    enrolment_pending: bool
    """An enrolment was started and not confirmed yet."""
    recovery_codes_left: int

    @classmethod
    def of(cls, status: MfaStatus) -> MfaStatusOut:
        return cls(
            enabled=status.enabled,
            enabled_at=status.enabled_at,
            enrolment_pending=status.enrolment_pending,
            recovery_codes_left=status.recovery_codes_left,
        )


class EnrolledSignInOut(TokenPairOut):
    recovery_codes: list[str]
    """Shown this once."""

    @classmethod
    def of_enrolled(cls, enrolled: EnrolledSignIn) -> EnrolledSignInOut:
        pair = enrolled.tokens
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            token_type=pair.token_type,
            expires_in=pair.expires_in,
            recovery_codes=enrolled.recovery_codes,
        )


class SecurityPolicyOut(ResponseModel):
    require_mfa_for_staff: bool
    unverified_email_access: str

    @classmethod
    def of(cls, policy: SecurityPolicy) -> SecurityPolicyOut:
        return cls(
            require_mfa_for_staff=policy.require_mfa_for_staff,
            unverified_email_access=policy.unverified_email_access.value,
        )


class LogInOut(RootModel[TokenPairOut | MfaChallengeOut | MfaEnrolmentRequiredOut]):
    """Tokens; or, when a second factor must follow, ``mfa_required`` with a challenge token; or, when the
    clinic requires a second factor the account lacks, ``mfa_enrolment_required`` with an enrolment token."""

    @classmethod
    def of(cls, outcome: SignInOutcome) -> LogInOut:
        if isinstance(outcome, MfaChallenge):
            return cls(MfaChallengeOut.of(outcome))
        if isinstance(outcome, MfaEnrolmentChallenge):
            return cls(MfaEnrolmentRequiredOut.of(outcome))
        return cls(TokenPairOut.of(outcome))


# Roles, permissions and API keys

PermissionName = Annotated[str, Field(max_length=60)]


class RoleRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Financeiro",
                    "description": "Cobranças e relatórios",
                    "permissions": ["billing:read", "billing:write", "patients:read"],
                }
            ]
        }
    )

    name: ShortText
    description: ShortText = ""
    permissions: Annotated[list[PermissionName], Field(max_length=100)]
    """Permission names of GET /v1/permissions; you must hold each of them yourself."""


class MemberRolesRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"roles": ["receptionist"], "custom_role_ids": []}]}
    )

    roles: Annotated[list[ShortText], Field(max_length=20)] = []
    """Built-in role names."""
    custom_role_ids: Annotated[list[UUID], Field(max_length=20)] = []
    """Ids of the clinic's own roles."""


class ApiKeyRequest(RequestModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Agendamento no site",
                    "scopes": ["appointments:read", "appointments:write"],
                    "allowed_cidrs": ["203.0.113.0/24"],
                }
            ]
        }
    )

    name: ShortText
    scopes: Annotated[list[PermissionName], Field(max_length=100)]
    """Permission names the key may use: a subset of your own permissions."""
    expires_at: datetime | None = None
    """At most 365 days ahead; omitted: 365 days from now."""
    allowed_cidrs: Annotated[list[Annotated[str, Field(max_length=64)]], Field(max_length=20)] = []
    """Networks the key may be used from (``203.0.113.0/24``, ``2001:db8::/32``); empty: anywhere."""


class PermissionOut(ResponseModel):
    name: str
    """``resource:action``."""


class PermissionList(ResponseModel):
    items: list[PermissionOut]


class RoleOut(ResponseModel):
    id: UUID | None
    """None for a built-in role."""
    name: str
    description: str
    permissions: list[str]
    built_in: bool
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @classmethod
    def built(cls, role: BuiltInRole) -> RoleOut:
        return cls(
            id=None,
            name=role.role.value,
            description="",
            permissions=sorted(p.value for p in role.permissions),
            built_in=True,
        )

    @classmethod
    def of(cls, role: CustomRole) -> RoleOut:
        return cls(
            id=role.id,
            name=role.name,
            description=role.description,
            permissions=sorted(p.value for p in role.permissions),
            built_in=False,
            created_at=role.created_at,
            updated_at=role.updated_at,
        )


class RoleList(ResponseModel):
    items: list[RoleOut]
    """The built-in roles first, then the clinic's own by name."""


class MemberRolesOut(ResponseModel):
    id: UUID
    roles: list[str]
    custom_role_ids: list[UUID]

    @classmethod
    def of(cls, membership: Membership) -> MemberRolesOut:
        return cls(
            id=membership.id,
            roles=sorted(r.value for r in membership.roles),
            custom_role_ids=sorted(membership.custom_role_ids),
        )


class ApiKeyOut(ResponseModel):
    id: UUID
    name: str
    prefix: str
    """Shown in lists to tell keys apart; the key starts with ``clinic_<prefix>_``."""
    scopes: list[str]
    allowed_cidrs: list[str]
    expires_at: datetime
    created_by: UUID
    created_at: datetime
    last_used_at: datetime | None
    """Updated at most once a minute."""
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyOut:
        return cls(
            id=key.id,
            name=key.name,
            prefix=key.prefix,
            scopes=sorted(s.value for s in key.scopes),
            allowed_cidrs=list(key.allowed_cidrs),
            expires_at=key.expires_at,
            created_by=key.created_by,
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            revoked_at=key.revoked_at,
        )


class ApiKeyList(ResponseModel):
    items: list[ApiKeyOut]
    """Newest first, revoked keys included."""


class ApiKeyCreated(ApiKeyOut):
    key: str
    """Shown this once: only its digest is kept. Send it as ``Authorization: ApiKey <key>`` or
    ``X-API-Key: <key>``."""

    @classmethod
    def issued(cls, issued: ApiKeyIssued) -> ApiKeyCreated:
        return cls(**ApiKeyOut.of(issued.api_key).model_dump(), key=issued.key)
