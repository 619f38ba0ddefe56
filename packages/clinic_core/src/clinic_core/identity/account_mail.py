"""Mailing an account a single-use token: the token row and the outbox event that asks for the message."""

from __future__ import annotations

from datetime import datetime

from clinic_core.application.unit_of_work import Scope, UnitOfWork
from clinic_core.identity.account_security import (
    AccountToken,
    EmailVerificationRequested,
    PasswordResetRequested,
    TokenPurpose,
)
from clinic_core.identity.model import User
from clinic_core.shared.ids import UserId
from clinic_core.tenancy.model import Tenant


async def home_tenant(uow: UnitOfWork, user_id: UserId) -> Tenant | None:
    """The tenant an account's mail speaks for and its account events are audited in: its first active
    membership's, else its first one's. Needs the unit of work bound to the user."""
    memberships = await uow.directory.memberships_of(user_id)
    tenants = sorted((tenant for tenant, _ in memberships), key=lambda t: not t.is_active)  # stable
    return tenants[0] if tenants else None


async def mail_token(
    uow: UnitOfWork, user: User, tenant: Tenant, purpose: TokenPurpose, now: datetime
) -> AccountToken:
    """Issue a token of ``purpose`` (retiring the user's older unused ones: only the newest link works)
    and record the event the worker turns into an email, in the same transaction.

    Binds the unit of work to ``tenant``: the outbox is the tenant's, and row-level security checks it.
    """
    await uow.bind(Scope(tenant_id=tenant.id))
    await uow.account_tokens.retire(user.id, purpose, now)
    token, secret = AccountToken.issue(user.id, user.email, purpose, now)
    event = EmailVerificationRequested if purpose is TokenPurpose.VERIFY_EMAIL else PasswordResetRequested
    token.events.append(
        event(
            tenant_id=tenant.id,
            occurred_at=now,
            user_id=user.id,
            email=user.email.value,
            name=user.name.value,
            tenant_name=tenant.name,
            token=secret,
            expires_at=token.expires_at,
        )
    )
    await uow.account_tokens.add(token)
    return token
