"""``clinic-worker``: the RQ worker draining Clinic's queues, with the dispatcher (outbox relay and
recurring jobs) in a process beside it.

SIGTERM (or SIGINT) asks for a warm shutdown: the job in progress finishes, then the worker and the
dispatcher exit. RQ's scheduler runs inside the worker (``with_scheduler``): it moves retried jobs back
to their queue when their backoff ends.
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import os
import sys
import threading

from prometheus_client import CollectorRegistry, start_http_server
from rq import SimpleWorker, Worker
from rq.job import Job
from rq.serializers import JSONSerializer

from clinic_infra.jobs.operations import FAILURES_KEY, JobsCollector, JobsConsole, count
from clinic_infra.jobs.rq_queue import OUTBOX_JOB
from clinic_infra.mail.renderer import warm_up
from clinic_infra.queues import DEFAULT_QUEUES, queue, sync_redis
from clinic_infra.settings import Settings
from clinic_worker import dispatcher, jobs

log = logging.getLogger("clinic_worker")

DISPATCHER_STOP_SECONDS = 30.0
DISPATCHER_CHECK_SECONDS = 5.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clinic-worker", description="Run an RQ worker for Clinic's jobs.")
    parser.add_argument(
        "--queues",
        nargs="+",
        default=list(DEFAULT_QUEUES),
        help=f"queues to drain, most urgent first (default: {' '.join(DEFAULT_QUEUES)})",
    )
    parser.add_argument("--burst", action="store_true", help="exit once the queues are empty (no dispatcher)")
    parser.add_argument("--name", help="worker name (default: host and pid)")
    parser.add_argument(
        "--no-dispatcher",
        action="store_true",
        help="do not run the outbox relay and recurring jobs here (another clinic-worker does)",
    )
    parser.add_argument(
        "--dispatcher-only", action="store_true", help="run only the outbox relay and recurring jobs"
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve Prometheus metrics (queue depths, job outcomes, outbox backlog) on this port",
    )
    parser.add_argument(
        "--services",
        metavar="MODULE:FUNCTION",
        help="build the job services with this function (no arguments, returns JobServices): to add a "
        "program's own handlers and recurring jobs to the deployment's (see docs/EMBEDDING.md)",
    )
    parser.add_argument(
        "--no-fork",
        action="store_true",
        help="run jobs in this process (RQ's SimpleWorker): faster, but a job that leaks or hangs stays",
    )
    return parser


class DispatcherKeeper:
    """Runs the dispatcher process beside the worker and starts it again if it dies (a crash, the OOM
    killer): a worker draining queues that nobody fills would look healthy and deliver nothing."""

    def __init__(self, services: str | None) -> None:
        self._services = services
        self._stopping = threading.Event()
        self.restarts = 0
        self.process = self._start()
        self._watch = threading.Thread(target=self._keep, name="clinic-dispatcher-keeper", daemon=True)
        self._watch.start()

    def _start(self) -> multiprocessing.process.BaseProcess:
        process = multiprocessing.get_context("spawn").Process(
            target=dispatcher.run,
            kwargs={"parent_pid": os.getpid(), "services": self._services},
            name="clinic-dispatcher",
            daemon=False,
        )
        process.start()
        return process

    def _keep(self) -> None:
        while not self._stopping.wait(DISPATCHER_CHECK_SECONDS):
            if not self.process.is_alive() and not self._stopping.is_set():
                log.error("the dispatcher exited (code %s): starting it again", self.process.exitcode)
                self.restarts += 1
                self.process = self._start()

    def stop(self) -> None:
        self._stopping.set()
        self._watch.join()
        _stop(self.process)


def _stop(process: multiprocessing.process.BaseProcess) -> None:
    if process.is_alive():
        process.terminate()  # SIGTERM: the pass in progress finishes
        process.join(DISPATCHER_STOP_SECONDS)
    if process.is_alive():
        log.warning("the dispatcher did not stop in %.0f s: killed", DISPATCHER_STOP_SECONDS)
        process.kill()
        process.join()


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not settings.redis_url:
        print("clinic-worker needs Redis: set CLINIC_REDIS_URL=redis://HOST:PORT/DB", file=sys.stderr)  # noqa: T201
        return 2
    if args.services:
        jobs.use_services(jobs.load_factory(args.services))
    if args.dispatcher_only:
        dispatcher.run(services=args.services)
        return 0
    connection = sync_redis(settings.redis_url)
    # Work done once here rather than in every forked work horse: email templates compiled, locale data.
    log.debug("%d email templates compiled", warm_up())
    worker_class = SimpleWorker if args.no_fork else Worker
    jobs.dispose_after_each_job = not args.no_fork
    prefix = settings.redis_key_prefix

    def count_failure(job: Job, exc_type: type[BaseException], *_: object) -> bool:
        kind = "outbox" if job.func_name == OUTBOX_JOB else "recurring"
        count(connection, prefix, FAILURES_KEY, f"{kind}|{exc_type.__name__}")
        return True  # and on to RQ's own handling (retry, or the failed registry)

    worker = worker_class(
        [queue(name, connection) for name in args.queues],
        connection=connection,
        name=args.name,
        serializer=JSONSerializer,
        exception_handlers=[count_failure],
    )
    if args.metrics_port:
        registry = CollectorRegistry()
        registry.register(JobsCollector(JobsConsole(connection, prefix=prefix, queues=args.queues)))
        start_http_server(args.metrics_port, registry=registry)
        log.info("metrics on :%d/metrics", args.metrics_port)
    keeper = None if (args.burst or args.no_dispatcher) else DispatcherKeeper(args.services)
    log.info("worker %s draining %s", worker.name, ", ".join(args.queues))
    try:
        worker.work(burst=args.burst, with_scheduler=True, logging_level=settings.log_level)
    finally:
        if keeper is not None:
            keeper.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
