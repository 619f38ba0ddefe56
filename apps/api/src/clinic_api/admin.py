"""``clinic-admin``: operator commands (schema migrations, database roles, demo data)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from datetime import UTC, datetime

from clinic_api.composition import (
    KeysFromSettings,
    RowLevelSecurityBypassed,
    Settings,
    compose,
    create_db_login,
    load_settings,
    migrate,
    prepare,
    rotate_signing_keys,
    signing_keys,
)
from clinic_api.demo import DEMO_LOGINS


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinic-admin", description="Operate a Clinic installation.")
    commands = parser.add_subparsers(dest="command", required=True)
    migrate = commands.add_parser(
        "migrate", help="bring the schema to a revision (default: head), as table owner"
    )
    migrate.add_argument("revision", nargs="?", default="head")
    migrate.add_argument("--down", action="store_true", help="downgrade to the revision instead")
    login = commands.add_parser("create-db-login", help="create a PostgreSQL login role for the API/worker")
    login.add_argument("name")
    login.add_argument(
        "--password-env", metavar="VAR", help="read the password from this environment variable"
    )
    commands.add_parser("seed-demo", help="create the demo clinics and logins if missing")
    keys = commands.add_parser("keys", help="the JWT signing keys kept in the data directory")
    keys.add_argument("action", choices=["list", "rotate"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = load_settings()
    if args.command == "migrate":
        migrate(settings, args.revision, down=args.down)
        print(f"schema at {args.revision}")  # noqa: T201
    elif args.command == "create-db-login":
        password = os.environ.get(args.password_env) if args.password_env else None
        create_db_login(settings, args.name, password)
        print(f"login role {args.name!r} is a member of clinic_app")  # noqa: T201
    elif args.command == "seed-demo":
        try:
            created = asyncio.run(prepare(compose(settings), seed=True))
        except RowLevelSecurityBypassed as refused:
            print(f"refused: {refused}", file=sys.stderr)  # noqa: T201
            return 2
        print("demo data created" if created else "demo data already present")  # noqa: T201
        for login in DEMO_LOGINS:
            print(f"  {login.email}  {login.password}  ({login.what})")  # noqa: T201
    elif args.command == "keys":
        return _keys(settings, args.action)
    return 0


def _keys(settings: Settings, action: str) -> int:
    try:
        if action == "rotate":
            rotation = rotate_signing_keys(settings)
            starts = datetime.fromtimestamp(rotation.new.active_from, UTC).isoformat(timespec="seconds")
            print(f"new key {rotation.new.key.kid} signs from {starts}; every process loads it before then")  # noqa: T201
            for kid in rotation.removed:
                print(f"removed {kid}: every token it signed has expired")  # noqa: T201
        now = time.time()
        ring = signing_keys(settings)
        active = [k for k in ring if k.active_from <= now]
        for key in ring:
            state = (
                "signing"
                if active and key is active[-1]
                else ("pending" if key.active_from > now else "verifying")
            )
            since = datetime.fromtimestamp(key.active_from, UTC).isoformat(timespec="seconds")
            print(f"{key.key.kid}  {state:9}  active from {since}")  # noqa: T201
    except KeysFromSettings as configured:
        print(f"refused: {configured}; rotate it there, with CLINIC_JWT_PREVIOUS_KEYS_FILE", file=sys.stderr)  # noqa: T201
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
