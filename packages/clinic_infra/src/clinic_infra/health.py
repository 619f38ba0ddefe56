"""Readiness checks of the servers the app depends on, and a check of the database role's privileges."""

from __future__ import annotations

from redis.asyncio import Redis
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine


class DatabaseReadiness:
    name = "database"

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def check(self) -> None:
        async with self._engine.connect() as connection:
            await connection.execute(text("SELECT 1"))


class RedisReadiness:
    name = "redis"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def check(self) -> None:
        if not await self._redis.ping():
            raise ConnectionError("redis did not answer PING")


async def row_level_security_bypassed(engine: AsyncEngine) -> str | None:
    """Why the connected role escapes row-level security (superuser, BYPASSRLS, owns tables), or None.

    PostgreSQL applies no policy to superusers or BYPASSRLS roles, and FORCE is needed for owners: the app
    must connect as a member of ``clinic_app`` instead (see ``clinic-admin create-db-login``).
    """
    if engine.dialect.name != "postgresql":
        return None
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT r.rolname, r.rolsuper, r.rolbypassrls,"
                    " (SELECT count(*) FROM pg_tables t WHERE t.schemaname = 'public' AND t.tableowner = r.rolname)"
                    " FROM pg_roles r WHERE r.rolname = current_user"
                )
            )
        ).one()
    name, superuser, bypass, owned = row
    if superuser:
        return f"role {name!r} is a superuser"
    if bypass:
        return f"role {name!r} has BYPASSRLS"
    if owned:
        return f"role {name!r} owns {owned} tables"
    return None
