"""The HTTP host: ``create_app`` assembles a BlackSheep application around the given services."""

from __future__ import annotations

from typing import Any

from blacksheep.middlewares import MiddlewareCategory
from blacksheep.server import Application
from blacksheep.server.routing import Router
from guardpost import AuthorizationStrategy, Policy
from guardpost.common import AuthenticatedRequirement
from rodi import Container

import clinic_api.controllers  # noqa: F401  # registers the controllers' routes
from clinic_api.access import access_middleware
from clinic_api.appointment_services import AppointmentServices
from clinic_api.auth import ApiKeyAuthentication, BearerAuthentication, SessionGuard
from clinic_api.catalog_services import CatalogServices
from clinic_api.error_handling import configure_error_handling
from clinic_api.metrics import HttpMetrics
from clinic_api.middlewares import (
    AccessLogMiddleware,
    BodySizeLimitMiddleware,
    ErrorBoundaryMiddleware,
    request_context_middleware,
    security_headers_middleware,
)
from clinic_api.openapi import configure_openapi
from clinic_api.patient_services import PatientServices
from clinic_api.privacy_services import PrivacyServices
from clinic_api.rate_limiting import RequestBudgetMiddleware, Throttle, rate_limit_headers_middleware
from clinic_api.record_services import ClinicalRecordServices
from clinic_api.routing import configure_routes
from clinic_api.scheduling_services import SchedulingServices
from clinic_api.services import AppServices
from clinic_api.webhook_services import WebhookServices
from clinic_core.access.api_keys import CreateApiKey, GetApiKey, ListApiKeys, RevokeApiKey
from clinic_core.access.roles import CreateRole, DeleteRole, GetRole, ListRoles, SetMemberRoles, UpdateRole
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
from clinic_core.identity.recovery import ForgotPassword, ResetPassword
from clinic_core.identity.sessions import LogIn, LogOut, RefreshSession, SwitchTenant
from clinic_core.identity.verification import ResendVerification, VerifyEmail
from clinic_core.privacy.settings import GetPrivacySettings, UpdatePrivacySettings
from clinic_core.tenancy.members import AcceptInvitation, GetMember, InviteMember, ListMembers
from clinic_core.tenancy.removal import RemoveMember
from clinic_core.tenancy.security_policy import GetSecurityPolicy, UpdateSecurityPolicy
from clinic_core.tenancy.signup import SignUp
from clinic_core.tenancy.units import CreateUnit, GetUnit, ListUnits


def configure_services(
    container: Container, services: AppServices, metrics: HttpMetrics, throttle: Throttle
) -> None:
    """Register what controllers ask for by type in their constructors."""
    container.add_instance(services, AppServices)
    container.add_instance(metrics, HttpMetrics)
    container.add_instance(throttle, Throttle)
    container.add_instance(services.patients, PatientServices)
    container.add_instance(services.appointments, AppointmentServices)
    container.add_instance(services.catalog, CatalogServices)
    container.add_instance(services.scheduling, SchedulingServices)
    container.add_instance(services.records, ClinicalRecordServices)
    container.add_instance(services.privacy, PrivacyServices)
    container.add_instance(services.webhooks, WebhookServices)
    # Registered under the use case's own class, whatever subclass the composition root passed in.
    use_cases: list[tuple[type[Any], object]] = [
        (SignUp, services.sign_up),
        (LogIn, services.log_in),
        (RefreshSession, services.refresh_session),
        (LogOut, services.log_out),
        (SwitchTenant, services.switch_tenant),
        (GetMe, services.get_me),
        (ChangePassword, services.change_password),
        (ListMySessions, services.list_my_sessions),
        (RevokeMySession, services.revoke_my_session),
        (RevokeMyOtherSessions, services.revoke_my_other_sessions),
        (CreateUnit, services.create_unit),
        (GetUnit, services.get_unit),
        (ListUnits, services.list_units),
        (ListMembers, services.list_members),
        (GetMember, services.get_member),
        (InviteMember, services.invite_member),
        (ListAuditEvents, services.list_audit_events),
        (AcceptInvitation, services.accept_invitation),
        (GetMfaStatus, services.get_mfa_status),
        (StartMfaEnrolment, services.start_mfa_enrolment),
        (ConfirmMfaEnrolment, services.confirm_mfa_enrolment),
        (RegenerateRecoveryCodes, services.regenerate_recovery_codes),
        (DisableMfa, services.disable_mfa),
        (VerifyMfa, services.verify_mfa),
        (StartRequiredEnrolment, services.start_required_enrolment),
        (CompleteRequiredEnrolment, services.complete_required_enrolment),
        (GetSecurityPolicy, services.get_security_policy),
        (UpdateSecurityPolicy, services.update_security_policy),
        (VerifyEmail, services.verify_email),
        (ResendVerification, services.resend_verification),
        (ForgotPassword, services.forgot_password),
        (ResetPassword, services.reset_password),
        (ListRoles, services.list_roles),
        (GetRole, services.get_role),
        (CreateRole, services.create_role),
        (UpdateRole, services.update_role),
        (DeleteRole, services.delete_role),
        (SetMemberRoles, services.set_member_roles),
        (RemoveMember, services.remove_member),
        (ListApiKeys, services.list_api_keys),
        (GetApiKey, services.get_api_key),
        (CreateApiKey, services.create_api_key),
        (RevokeApiKey, services.revoke_api_key),
        (RequestEmailChange, services.request_email_change),
        (ConfirmEmailChange, services.confirm_email_change),
        (UploadAttachment, services.upload_attachment),
        (ListAttachments, services.list_attachments),
        (GetAttachment, services.get_attachment),
        (DownloadAttachment, services.download_attachment),
        (DeleteAttachment, services.delete_attachment),
        (GetPrivacySettings, services.get_privacy_settings),
        (UpdatePrivacySettings, services.update_privacy_settings),
    ]
    for declared, use_case in use_cases:
        container.add_instance(use_case, declared)


def configure_authentication(app: Application, services: AppServices, throttle: Throttle) -> None:
    """Every route needs a valid bearer token or API key unless it is marked ``allow_anonymous``: a new
    route is closed until someone opens it on purpose. Then the permission the route declares
    (``clinic_api.access``) is checked before its handler runs."""
    guard = SessionGuard(services.check_session, ttl_seconds=services.session_cache_seconds)
    authentication = app.use_authentication()
    authentication.add(BearerAuthentication(services.tokens, guard))
    authentication.add(ApiKeyAuthentication(services.authenticate_api_key))
    # After authentication has named the caller, before authorization refuses anonymous ones.
    app.middlewares.append(RequestBudgetMiddleware(throttle), MiddlewareCategory.AUTH, 10)
    authenticated = Policy("authenticated", AuthenticatedRequirement())
    app.use_authorization(
        AuthorizationStrategy(authenticated, container=app.services, default_policy=authenticated)
    )
    # After authorization (which refused anonymous callers): each route's declared permission.
    app.middlewares.append(access_middleware, MiddlewareCategory.AUTHZ, 10)


def configure_middlewares(
    app: Application, metrics: HttpMetrics, max_body_bytes: int, upload_max_bytes: int | None = None
) -> None:
    """Outermost first: the request id is set before anything logs, and the error boundary sits inside
    everything that decorates the response, so failed requests get headers, logs and metrics too."""
    app.middlewares.append(request_context_middleware, MiddlewareCategory.INIT, -30)
    app.middlewares.append(AccessLogMiddleware(app, metrics), MiddlewareCategory.INIT, -20)
    app.middlewares.append(security_headers_middleware, MiddlewareCategory.INIT, -10)
    # Outside the error boundary, so a 401 after spending a login budget still says what is left of it.
    app.middlewares.append(rate_limit_headers_middleware, MiddlewareCategory.INIT, -5)
    app.middlewares.append(ErrorBoundaryMiddleware(app), MiddlewareCategory.INIT, 0)
    app.middlewares.append(
        BodySizeLimitMiddleware(max_body_bytes, upload_max_bytes), MiddlewareCategory.INIT, 10
    )


def configure_cors(app: Application, origins: tuple[str, ...]) -> None:
    """Browser apps on other origins (a staff web app, a booking widget) may call the API when listed.

    Bearer tokens travel in a header, not a cookie, so credentials stay off.
    """
    if not origins:
        return
    app.use_cors(
        allow_origins=origins,
        allow_methods=("GET", "POST", "PUT", "PATCH", "DELETE"),
        allow_headers=("Authorization", "Content-Type", "X-Request-ID", "Idempotency-Key", "X-API-Key"),
        expose_headers=(
            "X-Request-ID",
            "Retry-After",
            "Location",
            "WWW-Authenticate",
            "RateLimit-Limit",
            "RateLimit-Remaining",
            "RateLimit-Reset",
        ),
        max_age=600,
    )


def configure_lifespan(app: Application, services: AppServices) -> None:
    async def start(_: Application) -> None:
        for hook in services.on_start:
            await hook()

    async def stop(_: Application) -> None:
        for hook in services.on_stop:
            await hook()

    app.on_start += start
    app.on_stop += stop


def create_app(services: AppServices, *, docs: bool = True) -> Application:
    # Its own router and container: never BlackSheep's process-wide defaults, so apps do not share routes.
    container = Container()
    app = Application(router=Router(), services=container)
    metrics = HttpMetrics()
    throttle = Throttle(services.rate_limiter, services.limits, metrics)
    configure_services(container, services, metrics, throttle)
    configure_error_handling(app, services.unavailable)
    configure_authentication(app, services, throttle)
    configure_middlewares(app, metrics, services.max_request_body_bytes, services.upload_attachment.max_bytes)
    configure_cors(app, services.cors_origins)
    configure_routes(app)
    if docs:
        configure_openapi(app)
    configure_lifespan(app, services)
    return app
