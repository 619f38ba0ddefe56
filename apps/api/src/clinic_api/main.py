"""``clinic-api``: serve the HTTP API with uvicorn, configured from ``CLINIC_*`` settings."""

from __future__ import annotations

import argparse
import asyncio
import logging

import uvicorn

from clinic_api.app import create_app
from clinic_api.composition import (
    UNAVAILABLE,
    RowLevelSecurityBypassed,
    compose,
    database_kind,
    load_settings,
    migrate,
    prepare,
)
from clinic_api.demo import DEMO_LOGINS
from clinic_api.logging_setup import configure_logging

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


def main(argv: list[str] | None = None) -> None:
    args = _parser().parse_args(argv)
    overrides = {k: v for k, v in {"host": args.host, "port": args.port}.items() if v is not None}
    settings = load_settings(**overrides)
    configure_logging(settings.log_level)
    composition = compose(settings)
    try:
        if args.migrate:
            migrate(settings)
        asyncio.run(prepare(composition, seed=args.seed_demo))
    except RowLevelSecurityBypassed as refused:
        log.critical("refusing to start: %s", refused)
        raise SystemExit(2) from refused
    except UNAVAILABLE as down:
        log.critical(
            "cannot reach the database at start (%s): is it running, and is CLINIC_DATABASE_URL right?",
            type(down).__name__,
        )
        raise SystemExit(2) from down

    url = settings.effective_public_url
    database = database_kind(settings)
    lines = [
        "",
        f"  Clinic API on {url}  ({database}; {'Redis' if settings.redis_url else 'in-process'} limiter)",
        f"  Interactive docs: {url}/docs    OpenAPI: {url}/openapi.json",
    ]
    if not settings.redis_url:
        lines.append(
            "  Jobs run in this process (no CLINIC_REDIS_URL): outbox relay, reminders, emails, webhooks"
        )
    if not settings.smtp_host:
        lines.append(f"  Emails are written as .eml files to {settings.effective_mail_dir}")
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
