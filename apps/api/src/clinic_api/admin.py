"""``clinic-admin``: operator commands (schema migrations, database roles, demo data, FHIR imports, jobs)."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from returns.result import Failure
from tqdm import tqdm

from clinic_api.composition import (
    FhirFiles,
    JobsStats,
    KeysFromSettings,
    RowLevelSecurityBypassed,
    Settings,
    compose,
    create_db_login,
    jobs_console,
    load_settings,
    migrate,
    outbox_backlog,
    prepare,
    rotate_signing_keys,
    signing_keys,
)
from clinic_api.demo import DEMO_LOGINS
from clinic_core.application.context import RequestContext
from clinic_core.application.unit_of_work import Scope
from clinic_core.interop.importing import ImportCommand, ImportIssue, ImportPatients, ImportSummary, operator
from clinic_core.interop.source import SourceItem
from clinic_core.jobs.ports import OutboxBacklog
from clinic_core.shared.values import Slug

EXIT_SKIPPED = 1
EXIT_USAGE = 2
_SOURCE_LABEL = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")


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
    fhir = commands.add_parser(
        "import-fhir",
        help="import FHIR R4 patients and practitioners (bulk NDJSON, bundles) into a clinic",
        description="Import FHIR R4 Patients and Practitioners into a clinic, idempotently: a second import "
        "of the same files updates what changed and creates nothing twice.",
    )
    fhir.add_argument("tenant", metavar="TENANT", help="the clinic's slug")
    fhir.add_argument(
        "path", type=Path, metavar="PATH", help="a .ndjson or .json file, or a directory of them (recursive)"
    )
    fhir.add_argument("--strict", action="store_true", help="exit 1 when any record was skipped")
    fhir.add_argument(
        "--source",
        default="fhir",
        help="a short label for where the files come from (default: fhir); stable resource ids are kept as"
        " the identifier external:SOURCE",
    )
    fhir.add_argument(
        "--all-warnings", action="store_true", help="list every warning, not the first three of each kind"
    )
    jobs = commands.add_parser("jobs", help="the job queues: depths, failed jobs, requeueing")
    jobs_commands = jobs.add_subparsers(dest="jobs_command", required=True)
    jobs_commands.add_parser("stats", help="outbox backlog, queue depths, workers, handler outcomes")
    failed = jobs_commands.add_parser("failed", help="jobs that exhausted their retries, newest first")
    failed.add_argument("--limit", type=int, default=50)
    requeue = jobs_commands.add_parser("requeue", help="put failed jobs back on their queue")
    which = requeue.add_mutually_exclusive_group(required=True)
    which.add_argument("job_id", nargs="?", help="the failed job's id (an outbox row's id)")
    which.add_argument("--all", action="store_true", help="every failed job")
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
    elif args.command == "import-fhir":
        return _import_fhir(settings, args)
    elif args.command == "jobs":
        return _jobs(settings, args)
    return 0


def _jobs(settings: Settings, args: argparse.Namespace) -> int:
    console = jobs_console(settings)
    if args.jobs_command == "stats":
        print(describe_jobs(asyncio.run(outbox_backlog(settings)), console.stats() if console else None))  # noqa: T201
        return 0
    if console is None:
        print("jobs: no queues without Redis (CLINIC_REDIS_URL): jobs run inside the API", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    if args.jobs_command == "failed":
        found = console.failed(args.limit)
        for job in found:
            when = job.failed_at.isoformat(timespec="seconds") if job.failed_at else "?"
            print(f"{job.id}  {job.queue:8}  {when}  {job.description}\n    {job.error}")  # noqa: T201
        print(f"{len(found)} failed job(s)")  # noqa: T201
        return 0
    ids = [job.id for job in console.failed(limit=100_000)] if args.all else [args.job_id]
    missing = 0
    for job_id in ids:
        queue_name = console.requeue(job_id)
        if queue_name is None:
            print(f"{job_id}: not in any failed registry", file=sys.stderr)  # noqa: T201
            missing += 1
        else:
            print(f"{job_id}: requeued on {queue_name}")  # noqa: T201
    return EXIT_SKIPPED if missing else 0


def describe_jobs(backlog: OutboxBacklog, stats: JobsStats | None) -> str:
    """What ``clinic-admin jobs stats`` prints."""
    age = ""
    if backlog.oldest is not None:
        age = f", oldest recorded {(datetime.now(UTC) - backlog.oldest).total_seconds():.0f} s ago"
    lines = [f"outbox: {backlog.pending} pending ({backlog.unpublished} not yet queued){age}"]
    if stats is None:
        lines.append("queues: none (no CLINIC_REDIS_URL): the API runs jobs in its own process")
        return "\n".join(lines)
    lines.append(f"{'queue':10} {'queued':>7} {'started':>8} {'retrying':>9} {'failed':>7} {'finished':>9}")
    for q in stats.queues:
        lines.append(
            f"{q.name:10} {q.queued:>7} {q.started:>8} {q.scheduled:>9} {q.failed:>7} {q.finished:>9}"
        )
    lines.append(f"workers: {stats.workers}")
    if stats.outcomes:
        lines.append("handler outcomes:")
        lines.extend(f"  {field.replace('|', '  ')}  {n}" for field, n in sorted(stats.outcomes.items()))
    if stats.failures:
        lines.append("failed attempts:")
        lines.extend(f"  {field.replace('|', '  ')}  {n}" for field, n in sorted(stats.failures.items()))
    return "\n".join(lines)


def _import_fhir(settings: Settings, args: argparse.Namespace) -> int:
    path: Path = args.path
    if not path.exists():
        print(f"import-fhir: {path} does not exist", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    files = FhirFiles(path)
    if not files.files():
        print(f"import-fhir: no .ndjson or .json file in {path}", file=sys.stderr)  # noqa: T201
        return EXIT_USAGE
    if not _SOURCE_LABEL.fullmatch(args.source):
        print(  # noqa: T201
            "import-fhir: --source takes 1 to 40 lower-case letters, digits, '.', '_' or '-'", file=sys.stderr
        )
        return EXIT_USAGE
    return asyncio.run(_run_import(settings, args, files))


async def _run_import(settings: Settings, args: argparse.Namespace, files: FhirFiles) -> int:
    composition = compose(settings)
    try:
        slug = Slug.parse(args.tenant)
        async with composition.uow(Scope(), read_only=True) as uow:
            tenant = None if isinstance(slug, Failure) else await uow.tenants.get_by_slug(slug.unwrap())
        if tenant is None:
            print(f"import-fhir: no clinic has the slug {args.tenant!r}", file=sys.stderr)  # noqa: T201
            return EXIT_USAGE
        started = time.perf_counter()
        with tqdm(total=files.count(), unit=" records", file=sys.stderr, desc="import-fhir") as bar:

            def records() -> Iterator[SourceItem]:
                for item in files:
                    yield item
                    bar.update()
                bar.update(max(0, (bar.total or 0) - bar.n))  # the count is close, not exact (log files)

            result = await ImportPatients(composition.uow, composition.clock)(
                ImportCommand(
                    operator(tenant.id),
                    records(),
                    source=args.source,
                    context=RequestContext(user_agent="clinic-admin import-fhir"),
                )
            )
        summary = result.unwrap()  # the operator may write patients: a Failure here is a bug
        elapsed = time.perf_counter() - started
        report = describe_import(summary, args.path, tenant.slug.value, elapsed, args.all_warnings)
        print(report)  # noqa: T201
        return EXIT_SKIPPED if args.strict and summary.skipped else 0
    finally:
        await composition.engine.dispose()


def describe_import(summary: ImportSummary, path: Path, slug: str, seconds: float, all_warnings: bool) -> str:
    """The summary ``clinic-admin import-fhir`` prints: counts, then every record skipped with where and
    why, then the warnings grouped by kind."""
    p, pr = summary.patients, summary.practitioners
    rate = (p.total + pr.total) / seconds if seconds > 0 else 0.0
    lines = [
        f"Imported {path} into {slug} in {seconds:.1f} s ({rate:.0f} patients and practitioners a second)",
        f"  patients:      {p.created} created, {p.updated} updated, {p.unchanged} unchanged, {p.skipped} skipped",
        f"  practitioners: {pr.created} created, {pr.updated} updated, {pr.unchanged} unchanged, {pr.skipped} skipped",
    ]
    if summary.not_imported:
        kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(summary.not_imported.items()))
        lines.append(f"  other resource types, not imported: {kinds}")
    for issue in summary.files_not_read:
        lines.append(f"  file not read: {issue.location}: {issue.message}")
    if summary.skipped:
        lines.append(f"Skipped ({len(summary.skipped)}), nothing of them written:")
        lines.extend(f"  {issue.location}: {issue.message}" for issue in summary.skipped)
    if summary.warnings:
        lines.append(f"Warnings ({len(summary.warnings)}), imported without the part named:")
        by_code: dict[str, list[ImportIssue]] = {}
        for issue in summary.warnings:
            by_code.setdefault(issue.code, []).append(issue)
        for code, issues in sorted(by_code.items()):
            shown = issues if all_warnings else issues[:3]
            lines.append(f"  {code} ({len(issues)}):")
            lines.extend(f"    {issue.location}: {issue.message}" for issue in shown)
            if len(shown) < len(issues):
                lines.append(f"    ... and {len(issues) - len(shown)} more (--all-warnings lists them)")
    return "\n".join(lines)


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
