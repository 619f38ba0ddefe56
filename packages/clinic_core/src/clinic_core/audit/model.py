"""Audit events: append-only, one tenant each, never edited or deleted by the application."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NewType
from uuid import UUID

from clinic_core.application.context import RequestContext
from clinic_core.shared.ids import TenantId, UserId, new_uuid

AuditEventId = NewType("AuditEventId", UUID)
DetailValue = str | int | bool | None


class AuditAction(StrEnum):
    SIGN_IN_SUCCEEDED = "auth.sign_in_succeeded"
    SIGN_IN_FAILED = "auth.sign_in_failed"
    SIGN_IN_THROTTLED = "auth.sign_in_throttled"
    MFA_ENROLLED = "auth.mfa_enrolled"
    MFA_DISABLED = "auth.mfa_disabled"
    MFA_FAILED = "auth.mfa_failed"
    RECOVERY_CODE_USED = "auth.recovery_code_used"
    RECOVERY_CODES_REGENERATED = "auth.recovery_codes_regenerated"
    PASSWORD_CHANGED = "auth.password_changed"
    PASSWORD_RESET = "auth.password_reset"
    EMAIL_VERIFIED = "auth.email_verified"
    EMAIL_CHANGE_REQUESTED = "auth.email_change_requested"
    EMAIL_CHANGED = "auth.email_changed"
    SESSION_REVOKED = "auth.session_revoked"
    REFRESH_TOKEN_REUSED = "auth.refresh_token_reused"
    DEVICE_MISMATCH = "auth.device_mismatch"
    API_KEY_CREATED = "api_key.created"
    API_KEY_REVOKED = "api_key.revoked"
    ROLE_CREATED = "role.created"
    ROLE_UPDATED = "role.updated"
    ROLE_DELETED = "role.deleted"
    ANAMNESIS_TEMPLATE_PUBLISHED = "anamnesis.template_published"
    ANAMNESIS_SIGNED = "anamnesis.signed"
    CLINICAL_NOTE_SIGNED = "clinical_note.signed"
    CLINICAL_NOTE_AMENDED = "clinical_note.amended"
    MEMBER_ROLES_CHANGED = "member.roles_changed"
    MEMBER_INVITED = "member.invited"
    MEMBER_JOINED = "member.joined"
    MEMBER_REMOVED = "member.removed"
    SECURITY_POLICY_CHANGED = "tenant.security_policy_changed"
    PATIENTS_IMPORTED = "patients.imported"
    PATIENT_SETTINGS_CHANGED = "tenant.patient_settings_changed"
    MAIL_SETTINGS_CHANGED = "tenant.mail_settings_changed"
    PATIENT_CREATED = "patient.created"
    PATIENT_UPDATED = "patient.updated"
    PATIENT_STATUS_CHANGED = "patient.status_changed"
    PATIENT_GUARDIANS_CHANGED = "patient.guardians_changed"
    ATTACHMENT_UPLOADED = "attachment.uploaded"
    ATTACHMENT_DELETED = "attachment.deleted"
    PRIVACY_SETTINGS_CHANGED = "tenant.privacy_settings_changed"
    CONSENT_RECORDED = "patient.consent_recorded"
    PATIENT_EXPORTED = "patient.exported"
    PATIENT_ANONYMISED = "patient.anonymised"
    CATEGORY_CREATED = "category.created"
    CATEGORY_UPDATED = "category.updated"
    PROCEDURE_CREATED = "procedure.created"
    PROCEDURE_UPDATED = "procedure.updated"
    PROCEDURES_REORDERED = "procedures.reordered"
    PROFESSIONAL_CREATED = "professional.created"
    PROFESSIONAL_UPDATED = "professional.updated"
    ROOM_CREATED = "room.created"
    ROOM_UPDATED = "room.updated"
    EQUIPMENT_CREATED = "equipment.created"
    EQUIPMENT_UPDATED = "equipment.updated"
    WORKING_HOURS_CHANGED = "working_hours.changed"
    DATE_OVERRIDE_SET = "working_hours.override_set"
    DATE_OVERRIDE_REMOVED = "working_hours.override_removed"
    TIME_OFF_ADDED = "time_off.added"
    TIME_OFF_REMOVED = "time_off.removed"
    UNIT_CLOSURE_ADDED = "unit.closure_added"
    UNIT_CLOSURE_REMOVED = "unit.closure_removed"
    BOOKING_RULES_CHANGED = "unit.booking_rules_changed"
    WEBHOOK_CREATED = "webhook.created"
    WEBHOOK_UPDATED = "webhook.updated"
    WEBHOOK_DELETED = "webhook.deleted"
    WEBHOOK_SECRET_ROTATED = "webhook.secret_rotated"
    WEBHOOK_REDELIVERED = "webhook.redelivered"


@dataclass(frozen=True, slots=True)
class AuditTarget:
    """What the event is about: ``("session", "0193...")``, ``("api_key", ...)``, ``("membership", ...)``."""

    kind: str
    id: str


@dataclass(frozen=True, kw_only=True)
class AuditEvent:
    id: AuditEventId
    tenant_id: TenantId
    action: AuditAction
    occurred_at: datetime
    actor_user_id: UserId | None = None
    """The person who acted; None for an anonymous attempt or an API key."""
    actor_api_key_id: UUID | None = None
    target: AuditTarget | None = None
    ip: str | None = None
    user_agent: str | None = None
    request_id: str | None = None
    details: Mapping[str, DetailValue] = field(default_factory=dict)
    """Small facts (``reason``, ``roles``): never a secret, a token, a password or health data."""

    @classmethod
    def record(
        cls,
        action: AuditAction,
        *,
        tenant_id: TenantId,
        at: datetime,
        context: RequestContext,
        actor_user_id: UserId | None = None,
        actor_api_key_id: UUID | None = None,
        target: AuditTarget | None = None,
        **details: DetailValue,
    ) -> AuditEvent:
        return cls(
            id=AuditEventId(new_uuid()),
            tenant_id=tenant_id,
            action=action,
            occurred_at=at,
            actor_user_id=actor_user_id,
            actor_api_key_id=actor_api_key_id,
            target=target,
            ip=context.ip,
            user_agent=context.user_agent,
            request_id=context.request_id,
            details=details,
        )


@dataclass(frozen=True, slots=True)
class AuditQuery:
    """Filters of the audit trail; every one given must match."""

    actions: frozenset[AuditAction] = frozenset()
    actor_user_id: UserId | None = None
    since: datetime | None = None
    until: datetime | None = None
