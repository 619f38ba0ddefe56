"""``clinic-worker``: an RQ worker on ``CLINIC_REDIS_URL`` draining Clinic's queues.

RQ's default worker forks a work horse per job; jobs therefore build their own database engines inside the
job (after the fork), never share the parent's.
"""

from __future__ import annotations

import argparse
import logging
import sys

from rq import Worker
from rq.serializers import JSONSerializer

from clinic_infra.queues import DEFAULT_QUEUES, queue, sync_redis
from clinic_infra.settings import Settings

log = logging.getLogger("clinic_worker")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinic-worker", description="Run an RQ worker for Clinic's jobs.")
    parser.add_argument(
        "--queues",
        nargs="+",
        default=list(DEFAULT_QUEUES),
        help=f"queues to drain, most urgent first (default: {' '.join(DEFAULT_QUEUES)})",
    )
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty")
    parser.add_argument("--name", help="worker name (default: host and pid)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not settings.redis_url:
        print("clinic-worker needs Redis: set CLINIC_REDIS_URL=redis://HOST:PORT/DB", file=sys.stderr)  # noqa: T201
        return 2
    connection = sync_redis(settings.redis_url)
    worker = Worker(
        [queue(name, connection) for name in args.queues],
        connection=connection,
        name=args.name,
        serializer=JSONSerializer,
    )
    log.info("worker %s draining %s", worker.name, ", ".join(args.queues))
    worker.work(burst=args.burst, with_scheduler=True, logging_level=settings.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
