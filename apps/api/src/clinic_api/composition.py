"""The composition root: the one module of the host that knows the real adapters (clinic_infra).

It turns settings into adapters and adapters into ``AppServices``, and it is what the entry points
(``clinic-api``, ``clinic-admin``) call for anything that touches infrastructure: settings, migrations,
database roles, demo data. Pools are created here but connect lazily, and are closed by the app's stop hooks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import redis.exceptions
import sqlalchemy.exc
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_api.demo import seed_demo
from clinic_api.services import AppServices, RateLimit, RateLimits, ReadinessCheck, RouteClass
from clinic_core.application.ports import RateLimiter
from clinic_core.identity.model import SessionPolicy
from clinic_core.jobs.ports import OutboxBacklog
from clinic_core.shared.clock import Clock, SystemClock
from clinic_core.tenancy.model import Plan
from clinic_infra.blobs import FilesystemBlobStore
from clinic_infra.db import migrate as migrations
from clinic_infra.db.engine import is_postgres
from clinic_infra.db.job_repositories import SqlOutboxSource
from clinic_infra.db.roles import create_login_role
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.fhir.reader import (
    FhirFiles as FhirFiles,
)  # re-exported: clinic-admin import-fhir reads with it
from clinic_infra.health import DatabaseReadiness, RedisReadiness, row_level_security_bypassed
from clinic_infra.jobs.embedded import EmbeddedJobs
from clinic_infra.jobs.operations import JobsConsole as JobsConsole
from clinic_infra.jobs.operations import JobsStats as JobsStats
from clinic_infra.jobs.wiring import app_engine, job_services, webhook_policy
from clinic_infra.queues import sync_redis
from clinic_infra.ratelimit import InMemoryRateLimiter, RedisRateLimiter
from clinic_infra.redis_connection import create_redis
from clinic_infra.security.jwt import JwtAccessTokens, KeyRing, SigningKey, StaticKeyRing, split_pem_keys
from clinic_infra.security.keyring import DirectoryKeyRing, RingKey, Rotation, rotate_keys
from clinic_infra.security.passwords import Argon2idPasswordHasher
from clinic_infra.security.secret_box import secret_box_for
from clinic_infra.settings import Settings as Settings  # re-exported: entry points name it through here


@dataclass(frozen=True)
class Composition:
    settings: Settings
    engine: AsyncEngine
    redis: Redis | None
    uow: SqlUnitOfWorkFactory
    hasher: Argon2idPasswordHasher
    tokens: JwtAccessTokens
    clock: Clock
    services: AppServices


# What the drivers raise when their server is down or unreachable (not when a query is wrong).
UNAVAILABLE: tuple[type[Exception], ...] = (
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.TimeoutError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)


class RowLevelSecurityBypassed(RuntimeError):
    """The database role would see every tenant's rows: refuse to serve rather than trust the code alone."""


def load_settings(**overrides: object) -> Settings:
    """``CLINIC_*`` environment variables, with ``overrides`` (say, from the command line) on top."""
    return Settings(**overrides)  # type: ignore[arg-type]  # pydantic validates the overrides itself


def database_kind(settings: Settings) -> str:
    return "PostgreSQL" if is_postgres(settings.effective_database_url) else "SQLite"


def migrate(settings: Settings, revision: str = "head", *, down: bool = False) -> None:
    """Alembic to ``revision`` as the table owner (``CLINIC_MIGRATIONS_DATABASE_URL``)."""
    (migrations.downgrade if down else migrations.upgrade)(settings.effective_migrations_url, revision)


def rate_limits(settings: Settings) -> RateLimits:
    """The request budgets the settings ask for. Raises ValueError naming an unknown route class."""
    fail_open = {name.strip() for name in settings.rate_limit_fail_open.split(",") if name.strip()}
    known = {route_class.value for route_class in RouteClass}
    if fail_open - known:
        raise ValueError(
            f"CLINIC_RATE_LIMIT_FAIL_OPEN: unknown route classes {sorted(fail_open - known)};"
            f" the classes are {sorted(known)}"
        )
    return RateLimits(
        login_per_ip=RateLimit(settings.rate_limit_login_per_ip),
        login_per_email=RateLimit(settings.rate_limit_login_per_email),
        signup_per_ip=RateLimit(settings.rate_limit_signup_per_ip, 3600),
        refresh_per_ip=RateLimit(settings.rate_limit_refresh_per_ip),
        accept_invitation_per_ip=RateLimit(settings.rate_limit_accept_invitation_per_ip),
        mfa_verify_per_ip=RateLimit(settings.rate_limit_mfa_verify_per_ip),
        forgot_password_per_ip=RateLimit(settings.rate_limit_forgot_password_per_ip),
        account_token_per_ip=RateLimit(settings.rate_limit_account_token_per_ip),
        resend_verification_per_account=RateLimit(settings.rate_limit_resend_verification_per_account, 3600),
        anonymous_per_ip=RateLimit(settings.rate_limit_anonymous_per_ip),
        per_user=RateLimit(settings.rate_limit_per_user),
        per_api_key=RateLimit(settings.rate_limit_per_api_key),
        per_tenant_plan=tuple(
            (Plan(plan), RateLimit(limit))
            for plan, limit in sorted(settings.rate_limit_per_tenant_plan.items())
        ),
        fail_open=frozenset(RouteClass(name) for name in fail_open),
    )


def create_db_login(settings: Settings, name: str, password: str | None) -> None:
    create_login_role(settings.effective_migrations_url, name, password)


class KeysFromSettings(RuntimeError):
    """The signing key is configured (CLINIC_JWT_PRIVATE_KEY[_FILE]): rotate it there, not on disk."""


def _key_ring(settings: Settings) -> KeyRing:
    configured = settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else None
    if configured is None and settings.jwt_private_key_file is not None:
        configured = settings.jwt_private_key_file.read_text()
    if configured is None:
        return DirectoryKeyRing(_keys_dir(settings), legacy_key=settings.data_dir / "jwt-signing-key.pem")
    previous = settings.jwt_previous_keys_file.read_text() if settings.jwt_previous_keys_file else ""
    return StaticKeyRing(SigningKey.from_pem(configured.encode()), tuple(split_pem_keys(previous)))


def _keys_dir(settings: Settings) -> Path:
    return settings.data_dir / "jwt-keys"


def signing_keys(settings: Settings) -> list[RingKey]:
    """The keys of the data directory's key ring, oldest first (``clinic-admin keys list``)."""
    if settings.jwt_private_key or settings.jwt_private_key_file:
        raise KeysFromSettings("the signing key comes from CLINIC_JWT_PRIVATE_KEY[_FILE]")
    return DirectoryKeyRing(
        _keys_dir(settings), legacy_key=settings.data_dir / "jwt-signing-key.pem"
    ).all_keys()


def rotate_signing_keys(settings: Settings) -> Rotation:
    """``clinic-admin keys rotate``: a new key that signs once every process has loaded it."""
    signing_keys(settings)  # refuses when the key comes from the settings
    return rotate_keys(_keys_dir(settings))


def compose(settings: Settings) -> Composition:
    engine = app_engine(settings)
    redis = create_redis(settings.redis_url) if settings.redis_url else None
    tokens = JwtAccessTokens(_key_ring(settings), issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    hasher = Argon2idPasswordHasher(concurrency=settings.password_hash_concurrency)
    clock = SystemClock()
    uow = SqlUnitOfWorkFactory(engine)
    rate_limiter: RateLimiter = (
        RedisRateLimiter(redis, prefix=f"{settings.redis_key_prefix}rl:")
        if redis is not None
        else InMemoryRateLimiter()
    )
    limits = rate_limits(settings)
    blobs = FilesystemBlobStore(settings.effective_blob_dir)
    readiness: list[ReadinessCheck] = [DatabaseReadiness(engine)]
    if redis is not None:
        readiness.append(RedisReadiness(redis))

    async def sweep_incoming() -> None:
        # Temporary files of uploads a crash cut short (a day old: no upload still running takes that long).
        await asyncio.to_thread(blobs.remove_stale_incoming)

    # Without Redis, jobs run in this process; with it, clinic-worker runs them.
    embedded_jobs = None if redis is not None else EmbeddedJobs(job_services(settings, engine, clock))

    async def start_jobs() -> None:
        if embedded_jobs is not None:
            await embedded_jobs.start()

    async def close_pools() -> None:
        if embedded_jobs is not None:
            await embedded_jobs.stop()
        await engine.dispose()
        if redis is not None:
            await redis.aclose()

    services = replace(
        AppServices.from_ports(
            uow=uow,
            hasher=hasher,
            issuer=tokens,
            tokens=tokens,
            clock=clock,
            jwks=tokens.jwks,
            rate_limiter=rate_limiter,
            sessions=SessionPolicy(
                idle_timeout=timedelta(minutes=settings.session_idle_timeout_minutes),
                absolute_lifetime=timedelta(hours=settings.session_lifetime_hours),
            ),
            secret_box=secret_box_for(settings),
            blobs=blobs,
            attachment_max_bytes=settings.attachment_max_bytes,
            webhooks=webhook_policy(settings),
        ),
        readiness=readiness,
        on_start=[sweep_incoming, start_jobs],
        on_stop=[close_pools],
        limits=limits,
        cors_origins=settings.cors_origin_list,
        session_cache_seconds=settings.session_cache_seconds,
        unavailable=UNAVAILABLE,
    )
    return Composition(settings, engine, redis, uow, hasher, tokens, clock, services)


async def prepare(composition: Composition, *, seed: bool) -> bool:
    """Before serving: seed the demo data if asked, and refuse a role that escapes row-level security.

    Runs in its own event loop, so it closes the pool it used: the server's loop opens its own.
    True when demo data was created.
    """
    try:
        created = seed and await seed_demo(composition.uow, composition.hasher, composition.clock)
        bypass = await row_level_security_bypassed(composition.engine)
        if bypass and not composition.settings.allow_rls_bypass:
            raise RowLevelSecurityBypassed(
                f"row-level security would not apply: {bypass}. Connect as a member of clinic_app "
                "(clinic-admin create-db-login), keep CLINIC_DATABASE_ROLE=clinic_app, or set "
                "CLINIC_ALLOW_RLS_BYPASS=1 for a throwaway database"
            )
        return created
    finally:
        await composition.engine.dispose()


def jobs_console(settings: Settings) -> JobsConsole | None:
    """``clinic-admin jobs``' view of RQ; None in the embedded default (no Redis: no queues)."""
    if not settings.redis_url:
        return None
    return JobsConsole(sync_redis(settings.redis_url), prefix=settings.redis_key_prefix)


async def outbox_backlog(settings: Settings) -> OutboxBacklog:
    """The outbox rows no handler finished, read from the database (every tenant's)."""
    engine = app_engine(settings, pool_size=1)
    try:
        return await SqlOutboxSource(engine).backlog()
    finally:
        await engine.dispose()
