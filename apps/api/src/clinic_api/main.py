"""``clinic-api``: serve the HTTP API with uvicorn, configured from ``CLINIC_*`` settings."""

from __future__ import annotations

import argparse
import asyncio
import logging

import uvicorn

from clinic_api.app import create_app
from clinic_api.composition import Composition, compose
from clinic_api.demo import DEMO_LOGINS, seed_demo
from clinic_api.logging_setup import configure_logging
from clinic_infra.db.engine import is_postgres
from clinic_infra.db.migrate import upgrade
from clinic_infra.health import row_level_security_bypassed
from clinic_infra.settings import Settings

log = logging.getLogger("clinic_api")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinic-api", description="Serve the Clinic HTTP API.")
    parser.add_argument("--host", help="interface to listen on (CLINIC_HOST)")
    parser.add_argument("--port", type=int, help="port to listen on (CLINIC_PORT)")
    parser.add_argument("--migrate", action="store_true", help="bring the database schema to head first")
    parser.add_argument(
        "--seed-demo", action="store_true", help="create the demo clinics and logins if missing"
    )
    return parser


async def _prepare(composition: Composition, seed: bool) -> None:
    try:
        if seed:
            await seed_demo(composition.uow, composition.hasher, composition.clock)
        bypass = await row_level_security_bypassed(composition.engine)
        if bypass:
            log.warning(
                "row-level security is NOT enforced for this connection: %s; connect as a member of "
                "clinic_app (clinic-admin create-db-login)",
                bypass,
            )
    finally:
        await composition.engine.dispose()  # its connections belong to this event loop, not the server's


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = Settings(**overrides)
    configure_logging(settings.log_level)
    if args.migrate:
        upgrade(settings.effective_migrations_url)
    composition = compose(settings)
    asyncio.run(_prepare(composition, args.seed_demo))

    url = settings.effective_public_url
    database = "PostgreSQL" if is_postgres(settings.effective_database_url) else "SQLite"
    lines = [
        "",
        f"  Clinic API on {url}  ({database}; {'Redis' if settings.redis_url else 'in-process'} limiter)",
        f"  Interactive docs: {url}/docs    OpenAPI: {url}/openapi.json",
    ]
    if args.seed_demo:
        lines.append("  Demo logins (POST /v1/auth/login):")
        lines += [f"    {d.email:<30} {d.password:<26} {d.what}" for d in DEMO_LOGINS]
    print("\n".join(lines) + "\n", flush=True)  # noqa: T201 - the quickstart's banner is for a person

    uvicorn.run(
        create_app(composition.services),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        lifespan="on",
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
    )


if __name__ == "__main__":
    main()
