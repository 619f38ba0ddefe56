"""``clinic-admin jobs``: stats, the failed registry and requeueing, against a real Redis; and the worker's
metrics collector."""

from __future__ import annotations

from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from redis import Redis

from clinic_api.admin import main as admin_main
from clinic_core.jobs.ports import OutboxBacklog
from clinic_infra.db.migrate import upgrade
from clinic_infra.jobs.operations import JobsCollector, JobsConsole
from clinic_infra.jobs.rq_queue import enqueue_unique
from tests.integration.job_world import drain, jobs_redis, jobs_redis_url

__all__ = ["jobs_redis"]


@pytest.fixture
def configured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, jobs_redis: Redis) -> Redis:
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    upgrade(url)
    monkeypatch.setenv("CLINIC_DATABASE_URL", url)
    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("CLINIC_REDIS_URL", jobs_redis_url())
    return jobs_redis


def _fail_one(connection: Redis, job_id: str) -> None:
    assert enqueue_unique(
        connection,
        "default",
        "tests.integration.jobs.explode",
        job_id,
        {"reason": "smtp down"},
        description="appointment.created test",
        retry=None,
    )
    drain(connection)


def test_failed_jobs_are_listed_and_requeued(configured: Redis, capsys: pytest.CaptureFixture[str]) -> None:
    _fail_one(configured, "job-one")
    assert admin_main(["jobs", "failed"]) == 0
    listed = capsys.readouterr().out
    assert "job-one" in listed
    assert "RuntimeError: smtp down" in listed
    assert "1 failed job(s)" in listed

    assert admin_main(["jobs", "requeue", "job-one"]) == 0
    assert "job-one: requeued on default" in capsys.readouterr().out
    assert JobsConsole(configured).stats().queues[1].queued == 1
    assert admin_main(["jobs", "requeue", "no-such-job"]) == 1


def test_stats_show_the_outbox_and_the_queues(configured: Redis, capsys: pytest.CaptureFixture[str]) -> None:
    _fail_one(configured, "job-two")
    assert admin_main(["jobs", "stats"]) == 0
    out = capsys.readouterr().out
    assert "outbox: 0 pending (0 not yet queued)" in out
    default = next(line for line in out.splitlines() if line.startswith("default"))
    assert default.split() == ["default", "0", "0", "0", "1", "0"]
    assert "workers: 0" in out


def test_jobs_commands_without_redis_explain_themselves(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'clinic.sqlite3'}"
    upgrade(url)
    monkeypatch.setenv("CLINIC_DATABASE_URL", url)
    monkeypatch.delenv("CLINIC_REDIS_URL", raising=False)
    assert admin_main(["jobs", "stats"]) == 0
    assert "queues: none" in capsys.readouterr().out
    assert admin_main(["jobs", "failed"]) == 2
    assert "CLINIC_REDIS_URL" in capsys.readouterr().err


def test_the_metrics_show_queue_depths_outcomes_and_the_backlog(configured: Redis) -> None:
    _fail_one(configured, "job-three")
    console = JobsConsole(configured)
    configured.hincrby("clinic:jobs:outcomes", "appointment.created|email.appointment-confirmation|done", 3)
    console.record_backlog(OutboxBacklog(pending=4, unpublished=1, oldest=None))
    registry = CollectorRegistry()
    registry.register(JobsCollector(console))
    text = generate_latest(registry).decode()
    assert 'clinic_jobs{queue="default",state="failed"} 1.0' in text
    assert (
        'clinic_job_handler_outcomes_total{handler="email.appointment-confirmation",outcome="done",'
        'topic="appointment.created"} 3.0' in text
    )
    assert "clinic_outbox_pending 4.0" in text
