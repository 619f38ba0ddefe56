"""The composition root: the one module of the host that knows the real adapters (clinic_infra).

It turns settings into adapters and adapters into ``AppServices``. Pools are created here but connect
lazily, and are closed by the app's stop hooks.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import AsyncEngine

from clinic_api.services import AppServices, RateLimit, RateLimits, ReadinessCheck
from clinic_core.application.ports import RateLimiter
from clinic_core.shared.clock import Clock, SystemClock
from clinic_infra.db.engine import create_engine
from clinic_infra.db.unit_of_work import SqlUnitOfWorkFactory
from clinic_infra.health import DatabaseReadiness, RedisReadiness
from clinic_infra.ratelimit import InMemoryRateLimiter, RedisRateLimiter
from clinic_infra.redis_connection import create_redis
from clinic_infra.security.jwt import JwtAccessTokens, load_or_create_signing_key
from clinic_infra.security.passwords import Argon2idPasswordHasher
from clinic_infra.settings import Settings


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


def compose(settings: Settings) -> Composition:
    engine = create_engine(settings.effective_database_url, pool_size=settings.database_pool_size)
    redis = create_redis(settings.redis_url) if settings.redis_url else None
    signing_key = load_or_create_signing_key(
        settings.jwt_private_key.get_secret_value() if settings.jwt_private_key else None,
        settings.jwt_private_key_file,
        settings.data_dir,
    )
    tokens = JwtAccessTokens(signing_key, issuer=settings.jwt_issuer, audience=settings.jwt_audience)
    hasher = Argon2idPasswordHasher(concurrency=settings.password_hash_concurrency)
    clock = SystemClock()
    uow = SqlUnitOfWorkFactory(engine)
    rate_limiter: RateLimiter = (
        RedisRateLimiter(redis, prefix=f"{settings.redis_key_prefix}rl:")
        if redis is not None
        else InMemoryRateLimiter()
    )
    limits = RateLimits(
        login_per_ip=RateLimit(settings.rate_limit_login_per_ip),
        login_per_email=RateLimit(settings.rate_limit_login_per_email),
        signup_per_ip=RateLimit(settings.rate_limit_signup_per_ip),
        refresh_per_ip=RateLimit(settings.rate_limit_refresh_per_ip),
        accept_invitation_per_ip=RateLimit(settings.rate_limit_accept_invitation_per_ip),
    )
    readiness: list[ReadinessCheck] = [DatabaseReadiness(engine)]
    if redis is not None:
        readiness.append(RedisReadiness(redis))

    async def close_pools() -> None:
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
        ),
        readiness=readiness,
        on_stop=[close_pools],
        limits=limits,
        cors_origins=settings.cors_origin_list,
    )
    return Composition(settings, engine, redis, uow, hasher, tokens, clock, services)
