"""The job runtime: state machine, progress, log lines, LIFO rollback, cancel, locks, lost workers."""

from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.audit.models import AuditEvent
from apps.core.errors import ServiceError
from apps.core.runner import ReplayRunner
from apps.jobs import services
from apps.jobs.models import Job, JobLocked
from apps.jobs.progress import ProgressReporter
from apps.jobs.registry import job_kind
from apps.jobs.runtime import run_job
from apps.jobs.tasks import run_job_task

CALLS: list[str] = []


@job_kind("tests.steps", "Test steps")
def _steps(ctx, target, count=3):
    for i in range(count):
        ctx.progress(100 * (i + 1) / count, f"step {i + 1}")
    ctx.runner.run(["zpool", "list", "-H"])
    return {"count": count}


@job_kind("tests.undo", "Test undo")
def _undo(ctx, target, fail_undo=False):
    CALLS.clear()
    ctx.on_undo("remove first", lambda: CALLS.append("undo first"))
    ctx.progress(30, "first done")
    if fail_undo:
        ctx.on_undo("broken step", lambda: (_ for _ in ()).throw(RuntimeError("undo exploded")))
    ctx.on_undo("remove second", lambda: CALLS.append("undo second"))
    ctx.runner.run(["zpool", "create", "tank", "/nope"])


@job_kind("tests.cancel", "Test cancel")
def _cancel(ctx, target):
    ctx.on_undo("undo partial", lambda: CALLS.append("undo partial"))
    Job.objects.filter(pk=ctx.job.pk).update(cancel_requested=True)
    ctx.progress(50, "halfway")
    return "never"


@pytest.fixture
def replay():
    return (ReplayRunner().add(["zpool", "list", "-H"], stdout="tank\t1G\n")
            .add(["zpool", "create", "tank", "/nope"], stderr="cannot open '/nope': no such file", returncode=1))


def _job(kind, user=None, **params):
    return Job.objects.create(kind=kind, user=user, params=params)


@pytest.mark.django_db
def test_success_records_progress_result_and_commands(replay, admin_user):
    job = run_job(_job("tests.steps", admin_user, count=4).pk, runner=replay)
    assert job.state == "succeeded" and job.progress == 100 and job.result == {"count": 4} and job.step == ""
    assert job.started and job.finished and job.worker
    lines = list(job.log_entries.values_list("level", "message"))
    assert ("command", "$ zpool list -H") in lines
    assert lines[0][1].startswith("Started Test steps") and lines[-1][1] == "Finished."
    assert AuditEvent.objects.filter(action="tests.steps", job_id=job.pk, outcome="ok", source="job").exists()


@pytest.mark.django_db
def test_failure_rolls_back_in_reverse_order_and_says_so(replay):
    job = run_job(_job("tests.undo").pk, runner=replay)
    assert job.state == "rolled_back"
    assert (job.progress, job.step) == (30, "first done")  # where it stopped
    assert "no such file" in job.error
    assert CALLS == ["undo second", "undo first"]
    messages = list(job.log_entries.values_list("message", flat=True))
    assert messages.index("Rolling back: remove second") < messages.index("Rolling back: remove first")
    assert any(m.startswith("Failed:") and "no such file" in m for m in messages)
    assert "Rollback complete: every step done so far was undone." in messages
    assert AuditEvent.objects.get(action="tests.undo").outcome == "failed"


@pytest.mark.django_db
def test_failed_undo_step_leaves_job_failed_naming_both_errors(replay):
    job = run_job(_job("tests.undo", fail_undo=True).pk, runner=replay)
    assert job.state == "failed"
    assert "no such file" in job.error and "Rollback incomplete: broken step: undo exploded" in job.error
    assert CALLS == ["undo second", "undo first"]


@pytest.mark.django_db
def test_cooperative_cancel_runs_undo():
    CALLS.clear()
    job = run_job(_job("tests.cancel").pk)
    assert job.state == "cancelled" and CALLS == ["undo partial"]


@pytest.mark.django_db
def test_job_not_queued_is_not_run_again(replay):
    job = _job("tests.steps")
    job.transition("running", started=timezone.now())
    assert run_job(job.pk, runner=replay).state == "running"
    assert replay.calls == []


@pytest.mark.django_db
def test_unknown_kind_fails_clearly():
    job = run_job(_job("tests.nope").pk)
    assert job.state == "failed" and "unknown job kind" in job.error


@pytest.mark.django_db
def test_lock_key_allows_one_active_job(admin_user):
    first = services.enqueue("tests.steps", user=admin_user, lock_key="pool:tank")
    with pytest.raises(JobLocked) as err:
        services.enqueue("tests.steps", user=admin_user, lock_key="pool:tank")
    assert err.value.extra["job_id"] == first.pk and err.value.status_code == 409
    first.transition("cancelled")
    assert services.enqueue("tests.steps", user=admin_user, lock_key="pool:tank").pk != first.pk


@pytest.mark.django_db(transaction=True)
def test_enqueue_outside_a_transaction_is_one_insert_then_the_task(monkeypatch):
    sent = []
    monkeypatch.setattr(run_job_task, "apply_async", lambda args, **kwargs: sent.append((args, kwargs)))
    with CaptureQueriesContext(connection) as queries:
        job = services.enqueue("tests.steps", lock_key="pool:tank")
    assert [q["sql"].split()[0] for q in queries.captured_queries] == ["INSERT"]  # no savepoints
    assert sent == [((job.pk,), {"task_id": job.celery_task_id, "queue": job.queue})]
    with pytest.raises(JobLocked):
        services.enqueue("tests.steps", lock_key="pool:tank")
    assert len(sent) == 1 and list(Job.objects.values_list("pk", flat=True)) == [job.pk]


@pytest.mark.django_db(transaction=True)
def test_enqueue_in_a_transaction_sends_on_commit_and_a_refusal_keeps_the_transaction(monkeypatch):
    sent = []
    monkeypatch.setattr(run_job_task, "apply_async", lambda args, **kwargs: sent.append(args))
    with transaction.atomic():
        job = services.enqueue("tests.steps", lock_key="pool:tank")
        with pytest.raises(JobLocked):
            services.enqueue("tests.steps", lock_key="pool:tank")
        assert sent == [] and Job.objects.count() == 1
    assert sent == [(job.pk,)]


@pytest.mark.django_db
def test_locked_job_is_409_through_api(operator_user, client_for):
    client = client_for(operator_user)
    first = client.post("/api/v1/system/inventory/collect/")
    assert first.status_code == 202 and first["Location"] == f"/api/v1/jobs/{first.json()['id']}/"
    second = client.post("/api/v1/system/inventory/collect/")
    assert second.status_code == 409
    assert second.json()["error"]["code"] == "job_locked"
    assert second.json()["error"]["job_id"] == first.json()["id"]


@pytest.mark.django_db
def test_reaper_fails_jobs_whose_heartbeat_stopped():
    stale = _job("tests.steps")
    stale.transition("running", started=timezone.now(), heartbeat=timezone.now() - timedelta(minutes=5),
                     worker="celery@dead")
    fresh = _job("tests.steps")
    fresh.transition("running", started=timezone.now(), heartbeat=timezone.now(), worker="celery@alive")
    assert services.reap_stale_jobs(stale_after_s=60) == [stale.pk]
    stale.refresh_from_db()
    fresh.refresh_from_db()
    assert stale.state == "failed" and "celery@dead" in stale.error and "stopped" in stale.error
    assert stale.log_entries.filter(level="error").exists()
    assert fresh.state == "running"


@pytest.mark.django_db
def test_restarted_worker_fails_its_orphans():
    job = _job("tests.steps")
    job.transition("running", started=timezone.now(), heartbeat=timezone.now(), worker="celery@node1")
    assert services.fail_jobs_of_worker("celery@node1") == [job.pk]
    job.refresh_from_db()
    assert job.state == "failed" and "restarted" in job.error


@pytest.mark.django_db
def test_cancel_and_retry_rules(admin_user):
    queued = _job("tests.steps", admin_user)
    services.cancel_job(queued, actor=admin_user)
    queued.refresh_from_db()
    assert queued.state == "cancelled"
    with pytest.raises(ServiceError):
        services.cancel_job(queued, actor=admin_user)
    again = services.retry_job(queued, actor=admin_user)
    assert again.retry_of == queued and again.state == "queued" and again.params == queued.params
    running = _job("tests.steps")
    running.transition("running", started=timezone.now())
    services.cancel_job(running, actor=admin_user)
    running.refresh_from_db()
    assert running.state == "running" and running.cancel_requested
    done = _job("tests.steps")
    done.transition("running")
    done.transition("succeeded")
    with pytest.raises(ServiceError):
        services.retry_job(done, actor=admin_user)


@pytest.mark.django_db
def test_state_machine_refuses_illegal_transitions():
    job = _job("tests.steps")
    assert not job.transition("succeeded")  # queued -> succeeded skips running
    assert job.transition("running")
    assert job.transition("failed")
    assert not job.transition("running")


@pytest.mark.django_db
def test_progress_reporter_throttles_but_keeps_last_value(monkeypatch):
    sent = []
    monkeypatch.setattr("apps.jobs.progress.publish", lambda job_id, payload, **kw: sent.append(payload["progress"]))
    now = [0.0]
    job = _job("tests.steps")
    reporter = ProgressReporter(job, clock=lambda: now[0])
    for pct in range(1, 51):
        now[0] += 0.01  # 50 reports in 0.5 s
        reporter(pct)
    assert 3 <= len(sent) <= 6
    reporter.flush()
    assert sent[-1] == 50
    job.refresh_from_db()
    assert job.progress == 50


@pytest.mark.django_db
def test_job_api_list_filter_detail_and_log(admin_user, client_for, replay):
    job = run_job(_job("tests.steps", admin_user).pk, runner=replay)
    _job("tests.undo")
    client = client_for(admin_user)
    rows = client.get("/api/v1/jobs/", {"state": "succeeded"}).json()["results"]
    assert [r["id"] for r in rows] == [job.pk]
    detail = client.get(f"/api/v1/jobs/{job.pk}/").json()
    assert detail["result"] == {"count": 3} and detail["duration_s"] is not None
    log = client.get(f"/api/v1/jobs/{job.pk}/log/", {"level": "command"}).json()["results"]
    assert [entry["message"] for entry in log] == ["$ zpool list -H"]
    assert client.get("/api/v1/jobs/", {"kind__startswith": "tests.u"}).json()["results"][0]["kind"] == "tests.undo"


@pytest.mark.django_db
def test_fast_list_row_matches_drf_fields(admin_user):
    from rest_framework import serializers as drf

    from apps.jobs.api.serializers import JobSerializer

    job = Job.objects.create(kind="tests.steps", user=admin_user, target=admin_user, target_label="admin1",
                             started=timezone.now())

    class Reference(JobSerializer):
        pass

    fast = JobSerializer(job).data
    reference = drf.ModelSerializer.to_representation(Reference(job), job)
    assert fast == dict(reference)
    assert fast["target_type"] == "accounts.user" and fast["user"] == "admin1"
