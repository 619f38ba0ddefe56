"""Everything the HTTP host needs from the outside, handed over by a composition root.

The host builds nothing itself: the composition root wires real adapters, the tests wire the in-memory
fakes of ``clinic_core.testing``, and both hand the result to ``create_app``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from clinic_api.appointment_services import AppointmentServices
from clinic_api.catalog_services import CatalogServices
from clinic_api.patient_services import PatientServices
from clinic_api.privacy_services import PrivacyServices
from clinic_api.record_services import ClinicalRecordServices
from clinic_api.scheduling_services import SchedulingServices
from clinic_api.webhook_services import WebhookServices
from clinic_core.access.api_keys import (
    AuthenticateApiKey,
    CreateApiKey,
    GetApiKey,
    ListApiKeys,
    RevokeApiKey,
)
from clinic_core.access.roles import CreateRole, DeleteRole, GetRole, ListRoles, SetMemberRoles, UpdateRole
from clinic_core.application.ports import RateLimiter, SecretBox
from clinic_core.application.unit_of_work import UnitOfWorkFactory
from clinic_core.attachments.model import DEFAULT_MAX_BYTES
from clinic_core.attachments.ports import BlobStore
from clinic_core.attachments.use_cases import (
    DeleteAttachment,
    DownloadAttachment,
    GetAttachment,
    ListAttachments,
    UploadAttachment,
)
from clinic_core.audit.queries import ListAuditEvents
from clinic_core.identity.credentials import ChangePassword
from clinic_core.identity.devices import ListMySessions, RevokeMyOtherSessions, RevokeMySession
from clinic_core.identity.email_change import ConfirmEmailChange, RequestEmailChange
from clinic_core.identity.me import GetMe
from clinic_core.identity.mfa import (
    ConfirmMfaEnrolment,
    DisableMfa,
    GetMfaStatus,
    RegenerateRecoveryCodes,
    StartMfaEnrolment,
)
from clinic_core.identity.mfa_sign_in import CompleteRequiredEnrolment, StartRequiredEnrolment, VerifyMfa
from clinic_core.identity.model import DEFAULT_SESSION_POLICY, SessionPolicy
from clinic_core.identity.ports import AccessTokenIssuer, AccessTokenVerifier, PasswordHasher
from clinic_core.identity.recovery import ForgotPassword, ResetPassword
from clinic_core.identity.sessions import CheckSession, LogIn, LogOut, RefreshSession, SwitchTenant
from clinic_core.identity.verification import ResendVerification, VerifyEmail
from clinic_core.privacy.settings import GetPrivacySettings, UpdatePrivacySettings
from clinic_core.shared.clock import Clock
from clinic_core.tenancy.members import AcceptInvitation, GetMember, InviteMember, ListMembers
from clinic_core.tenancy.model import Plan
from clinic_core.tenancy.removal import RemoveMember
from clinic_core.tenancy.security_policy import GetSecurityPolicy, UpdateSecurityPolicy
from clinic_core.tenancy.signup import SignUp
from clinic_core.tenancy.units import CreateUnit, GetUnit, ListUnits
from clinic_core.webhooks.model import DEFAULT_WEBHOOK_POLICY, WebhookPolicy

LifespanHook = Callable[[], Awaitable[None]]


class ReadinessCheck(Protocol):
    """A dependency the app cannot serve without (database, Redis). ``check`` raises when it is down."""

    @property
    def name(self) -> str: ...

    async def check(self) -> None: ...


@dataclass(frozen=True, slots=True)
class RateLimit:
    limit: int
    window_seconds: int = 60


class RouteClass(StrEnum):
    """What a request is, for rate limiting: each class has its budgets and its behaviour when the
    limiter is down."""

    READ = "read"
    WRITE = "write"
    LOGIN = "login"
    SIGNUP = "signup"
    REFRESH = "refresh"
    ACCEPT_INVITATION = "accept_invitation"
    PASSWORD_CHECK = "password_check"
    MFA_VERIFY = "mfa_verify"
    ACCOUNT_RECOVERY = "account_recovery"


DEFAULT_TENANT_BUDGETS: tuple[tuple[Plan, RateLimit], ...] = (
    (Plan.TRIAL, RateLimit(600)),
    (Plan.CLINIC, RateLimit(3_000)),
    (Plan.FRANCHISE, RateLimit(15_000)),
)


@dataclass(frozen=True, slots=True)
class RateLimits:
    """Request budgets. The endpoints an attacker would hammer (credential guessing, sign-up spam) have
    their own, per IP and per account; every other request spends a general budget: per IP while
    anonymous, per person (or API key) and per clinic, by its plan, once signed in. Signed-in traffic is
    not counted per IP: a clinic's staff often share one address behind NAT."""

    login_per_ip: RateLimit = RateLimit(5)
    login_per_email: RateLimit = RateLimit(10)
    signup_per_ip: RateLimit = RateLimit(3, 3600)
    refresh_per_ip: RateLimit = RateLimit(60)
    accept_invitation_per_ip: RateLimit = RateLimit(10)
    forgot_password_per_ip: RateLimit = RateLimit(5)
    account_token_per_ip: RateLimit = RateLimit(10)
    """Verification and reset links opened (tokens have 256 bits: this only keeps floods off)."""
    resend_verification_per_account: RateLimit = RateLimit(3, 3600)
    mfa_verify_per_ip: RateLimit = RateLimit(20)
    anonymous_per_ip: RateLimit = RateLimit(100)
    per_user: RateLimit = RateLimit(300)
    per_api_key: RateLimit = RateLimit(600)
    per_tenant_plan: tuple[tuple[Plan, RateLimit], ...] = DEFAULT_TENANT_BUDGETS
    fail_open: frozenset[RouteClass] = frozenset({RouteClass.READ})
    """Classes served without counting while the limiter is unreachable (logged and counted in metrics);
    the others answer 503. Reads by default: refusing every read because Redis blinked is an outage of
    its own, while an uncounted login would be an unlimited password-guessing window."""

    def per_tenant(self, plan: Plan | None) -> RateLimit:
        """The clinic's budget; a plan missing from the table gets the trial's."""
        budgets = dict(self.per_tenant_plan)
        return budgets.get(plan or Plan.TRIAL) or budgets.get(Plan.TRIAL) or DEFAULT_TENANT_BUDGETS[0][1]


@dataclass(frozen=True, slots=True, kw_only=True)
class AppServices:
    sign_up: SignUp
    log_in: LogIn
    refresh_session: RefreshSession
    log_out: LogOut
    switch_tenant: SwitchTenant
    get_me: GetMe
    check_session: CheckSession
    change_password: ChangePassword
    request_email_change: RequestEmailChange
    confirm_email_change: ConfirmEmailChange
    list_my_sessions: ListMySessions
    revoke_my_session: RevokeMySession
    revoke_my_other_sessions: RevokeMyOtherSessions
    create_unit: CreateUnit
    get_unit: GetUnit
    list_units: ListUnits
    list_members: ListMembers
    get_member: GetMember
    invite_member: InviteMember
    accept_invitation: AcceptInvitation
    list_audit_events: ListAuditEvents
    get_mfa_status: GetMfaStatus
    start_mfa_enrolment: StartMfaEnrolment
    confirm_mfa_enrolment: ConfirmMfaEnrolment
    regenerate_recovery_codes: RegenerateRecoveryCodes
    disable_mfa: DisableMfa
    verify_mfa: VerifyMfa
    start_required_enrolment: StartRequiredEnrolment
    complete_required_enrolment: CompleteRequiredEnrolment
    get_security_policy: GetSecurityPolicy
    update_security_policy: UpdateSecurityPolicy
    verify_email: VerifyEmail
    resend_verification: ResendVerification
    forgot_password: ForgotPassword
    reset_password: ResetPassword
    list_roles: ListRoles
    get_role: GetRole
    create_role: CreateRole
    update_role: UpdateRole
    delete_role: DeleteRole
    set_member_roles: SetMemberRoles
    remove_member: RemoveMember
    list_api_keys: ListApiKeys
    get_api_key: GetApiKey
    create_api_key: CreateApiKey
    revoke_api_key: RevokeApiKey
    authenticate_api_key: AuthenticateApiKey
    patients: PatientServices
    appointments: AppointmentServices
    catalog: CatalogServices
    """Categories, procedures, professionals and rooms."""
    scheduling: SchedulingServices
    """Working time (weekly hours, overrides, time off, closures, booking rules) and availability."""
    records: ClinicalRecordServices
    """The clinical record: anamnesis templates and responses, clinical notes, the patient timeline."""
    upload_attachment: UploadAttachment
    list_attachments: ListAttachments
    get_attachment: GetAttachment
    download_attachment: DownloadAttachment
    delete_attachment: DeleteAttachment
    get_privacy_settings: GetPrivacySettings
    update_privacy_settings: UpdatePrivacySettings
    privacy: PrivacyServices
    webhooks: WebhookServices
    """Webhook endpoints and their deliveries."""
    tokens: AccessTokenVerifier
    jwks: Callable[[], dict[str, Any]]
    """The public keys that verify our access tokens (RFC 7517 JWK Set)."""
    rate_limiter: RateLimiter
    readiness: Sequence[ReadinessCheck] = ()
    readiness_timeout_seconds: float = 2.0
    on_start: Sequence[LifespanHook] = ()
    """Run in order when the app starts: open pools here, not at import time."""
    on_stop: Sequence[LifespanHook] = ()
    """Run in order when the app stops."""
    limits: RateLimits = RateLimits()
    max_request_body_bytes: int = 64 * 1024
    """Every request body of the API is a small JSON object; anything much larger is abuse."""
    unavailable: tuple[type[Exception], ...] = ()
    """Exception types meaning a dependency is down (database, Redis): answered 503, not 500."""
    session_cache_seconds: float = 15.0
    """How long a process trusts what it learnt of a session: logout and revocation take effect within it."""
    cors_origins: tuple[str, ...] = ()
    """Browser origins (``https://app.example.com``) allowed to call the API; none by default."""

    @classmethod
    def from_ports(
        cls,
        *,
        uow: UnitOfWorkFactory,
        hasher: PasswordHasher,
        issuer: AccessTokenIssuer,
        tokens: AccessTokenVerifier,
        clock: Clock,
        jwks: Callable[[], dict[str, Any]],
        rate_limiter: RateLimiter,
        sessions: SessionPolicy = DEFAULT_SESSION_POLICY,
        secret_box: SecretBox,
        blobs: BlobStore,
        attachment_max_bytes: int = DEFAULT_MAX_BYTES,
        webhooks: WebhookPolicy = DEFAULT_WEBHOOK_POLICY,
    ) -> AppServices:
        """Every use case built on the same ports: what a composition root and the tests both want.

        The host's own settings keep their defaults; change them with ``dataclasses.replace``.
        """
        return cls(
            sign_up=SignUp(uow, hasher, clock),
            log_in=LogIn(uow, hasher, issuer, clock, sessions=sessions),
            refresh_session=RefreshSession(uow, issuer, clock, sessions=sessions),
            log_out=LogOut(uow, clock),
            switch_tenant=SwitchTenant(uow, issuer, clock, sessions=sessions),
            get_me=GetMe(uow),
            check_session=CheckSession(uow, clock),
            change_password=ChangePassword(uow, hasher, clock),
            request_email_change=RequestEmailChange(uow, hasher, clock),
            confirm_email_change=ConfirmEmailChange(uow, clock),
            list_my_sessions=ListMySessions(uow, clock),
            revoke_my_session=RevokeMySession(uow, clock),
            revoke_my_other_sessions=RevokeMyOtherSessions(uow, clock),
            create_unit=CreateUnit(uow, clock),
            get_unit=GetUnit(uow),
            list_units=ListUnits(uow),
            list_members=ListMembers(uow),
            get_member=GetMember(uow),
            invite_member=InviteMember(uow, clock),
            accept_invitation=AcceptInvitation(uow, hasher, clock),
            list_audit_events=ListAuditEvents(uow),
            get_mfa_status=GetMfaStatus(uow),
            start_mfa_enrolment=StartMfaEnrolment(uow, hasher, secret_box, clock),
            confirm_mfa_enrolment=ConfirmMfaEnrolment(uow, secret_box, clock),
            regenerate_recovery_codes=RegenerateRecoveryCodes(uow, hasher, secret_box, clock),
            disable_mfa=DisableMfa(uow, hasher, secret_box, clock),
            verify_mfa=VerifyMfa(uow, issuer, secret_box, clock, sessions=sessions),
            start_required_enrolment=StartRequiredEnrolment(uow, issuer, secret_box, clock),
            complete_required_enrolment=CompleteRequiredEnrolment(
                uow, issuer, secret_box, clock, sessions=sessions
            ),
            get_security_policy=GetSecurityPolicy(uow),
            update_security_policy=UpdateSecurityPolicy(uow, clock),
            verify_email=VerifyEmail(uow, clock),
            resend_verification=ResendVerification(uow, clock),
            forgot_password=ForgotPassword(uow, clock),
            reset_password=ResetPassword(uow, hasher, clock),
            list_roles=ListRoles(uow),
            get_role=GetRole(uow),
            create_role=CreateRole(uow, clock),
            update_role=UpdateRole(uow, clock),
            delete_role=DeleteRole(uow, clock),
            set_member_roles=SetMemberRoles(uow, clock),
            remove_member=RemoveMember(uow, clock),
            list_api_keys=ListApiKeys(uow),
            get_api_key=GetApiKey(uow),
            create_api_key=CreateApiKey(uow, clock),
            revoke_api_key=RevokeApiKey(uow, clock),
            authenticate_api_key=AuthenticateApiKey(uow, clock),
            patients=PatientServices.from_ports(uow, clock),
            appointments=AppointmentServices.from_ports(uow, clock),
            catalog=CatalogServices.from_ports(uow, clock),
            scheduling=SchedulingServices.from_ports(uow, clock),
            records=ClinicalRecordServices.build(uow, clock),
            upload_attachment=UploadAttachment(uow, blobs, clock, max_bytes=attachment_max_bytes),
            list_attachments=ListAttachments(uow, clock),
            get_attachment=GetAttachment(uow, clock),
            download_attachment=DownloadAttachment(uow, blobs, clock),
            delete_attachment=DeleteAttachment(uow, clock),
            get_privacy_settings=GetPrivacySettings(uow),
            update_privacy_settings=UpdatePrivacySettings(uow, clock),
            privacy=PrivacyServices.from_ports(uow, clock, blobs),
            webhooks=WebhookServices.from_ports(uow, clock, secret_box, webhooks),
            tokens=tokens,
            jwks=jwks,
            rate_limiter=rate_limiter,
        )
