"""``clinic-admin``: operator commands (schema migrations, database roles, demo data)."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys

from clinic_api.composition import (
    RowLevelSecurityBypassed,
    compose,
    create_db_login,
    load_settings,
    migrate,
    prepare,
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
