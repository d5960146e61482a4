"""End to end: a real uvicorn server and Celery worker against the test database and Redis.

One stack serves every live module of the run (``live_stack`` in tests/hosts.py). Tests are transactional
(committed rows), so the server and the worker, which are other processes, see what a test writes and the test
sees what they write.
"""

from __future__ import annotations

import contextlib
import copy
import json
import time
from collections.abc import Callable, Iterator

import httpx
import pytest
from django.conf import settings
from django.test import override_settings
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

import tests.jobs.live_tasks  # noqa: F401 - registers "tests.sleep" in this process too
from apps.accounts.models import ApiToken
from apps.core.testing.live import LiveStack
from apps.jobs.choices import TERMINAL_STATES, JobState, LogLevel
from apps.jobs.models import Job
from apps.jobs.services import enqueue, reap_stale_jobs

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

STALE_AFTER_S = 1.5  # three of the live worker's heartbeats (LIVE_HEARTBEAT_S in tests/hosts.py)
IDLE_S = 11  # two rounds of the 5 s Redis read timeouts


@pytest.fixture(scope="module")
def live(request, live_stack: LiveStack) -> Iterator[LiveStack]:
    """The run's live stack, with this process's Celery queue and channel prefix pointed at it for the module;
    stopped after the last module that uses it, so no live worker answers the pings of the tests after it."""
    layers = copy.deepcopy(settings.CHANNEL_LAYERS)
    layers["default"].setdefault("CONFIG", {})["prefix"] = live_stack.queue  # what this process publishes reaches it
    with override_settings(CELERY_TASK_DEFAULT_QUEUE=live_stack.queue, CHANNEL_LAYERS=layers):
        yield live_stack
    if not _needed_later(request):
        live_stack.stop()


def _needed_later(request) -> bool:
    """Whether a test after this module's last one uses the live stack."""
    items = request.session.items
    mine = [i for i, item in enumerate(items) if getattr(item, "module", None) is request.module]
    return bool(mine) and any("live_stack" in getattr(item, "fixturenames", ()) for item in items[max(mine) + 1:])


def _token(user) -> str:
    return ApiToken.issue(user, "live test")[1]


def _http(live: LiveStack, key: str) -> httpx.Client:
    return httpx.Client(base_url=live.base_url, headers={"Authorization": f"Token {key}"}, timeout=10)


def _ws(live: LiveStack, path: str, key: str | None = None) -> ClientConnection:
    headers = {"Authorization": f"Token {key}"} if key else {}
    _unread.clear()
    return connect(live.ws_url + path, additional_headers=headers, origin=live.base_url, open_timeout=5)


_unread: dict[int, list[dict]] = {}  # events of a batch frame not yet handed out, per socket


def _next_event(ws: ClientConnection, timeout: float) -> dict:
    """The next event on ``ws``, batch frames unpacked."""
    waiting = _unread.setdefault(id(ws), [])
    if not waiting:
        frame = json.loads(ws.recv(timeout=timeout))
        waiting += frame["events"] if frame.get("type") == "batch" else [frame]
    return waiting.pop(0)


def _events(ws: ClientConnection, job_id: int, until: Callable[[dict], bool], timeout: float = 30) -> list[dict]:
    """The events of one job, up to and including the first one ``until`` accepts."""
    deadline, events = time.monotonic() + timeout, []
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            pytest.fail(f"no final event for job {job_id} within {timeout} s; got {events}")
        try:
            event = _next_event(ws, remaining)
        except TimeoutError:
            continue
        if event.get("job") == job_id:
            events.append(event)
            if until(event):
                return events


def _ended(event: dict) -> bool:
    return event.get("event") == "state" and event.get("state") in TERMINAL_STATES


def _wait_for(what: str, check: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def _running_with_progress(job: Job) -> Callable[[], bool]:
    def check() -> bool:
        job.refresh_from_db()
        assert job.state in (JobState.QUEUED, JobState.RUNNING), (job.state, job.error)
        return job.state == JobState.RUNNING and job.progress > 0

    return check


def _sleep_job(live: LiveStack, user, steps: int = 200, delay: float = 0.1) -> Job:
    job = enqueue("tests.sleep", user=user, params={"steps": steps, "delay": delay}, queue=live.queue)
    _wait_for(f"job {job.pk} running with progress", _running_with_progress(job))
    return job


def test_inventory_job_streams_progress_and_records_commands(live, admin_user):
    key = _token(admin_user)
    with _ws(live, "/ws/jobs/", key) as ws, _http(live, key) as client:
        started = time.monotonic()
        response = client.post("/api/v1/system/inventory/collect/")
        elapsed = time.monotonic() - started
        assert response.status_code == 202, response.text
        assert elapsed < 2, f"collect answered in {elapsed:.2f} s: it must only queue the job"
        job = response.json()
        assert job["state"] == JobState.QUEUED and job["id"]
        assert response.headers["Location"] == f"/api/v1/jobs/{job['id']}/"
        events = _events(ws, job["id"], _ended, timeout=60)

        final = events[-1]
        assert final["state"] == JobState.SUCCEEDED, final
        assert final["progress"] == 100
        progress = [e["progress"] for e in events if e["event"] in ("state", "progress")]
        assert progress == sorted(progress), progress
        assert any(e["event"] == "progress" and 0 < e["progress"] < 100 for e in events), events
        assert all(isinstance(e["ts"], float) for e in events)

        detail = client.get(f"/api/v1/jobs/{job['id']}/").json()
        assert detail["state"] == JobState.SUCCEEDED and detail["progress"] == 100
        assert {"block_devices", "cpu", "memory", "filesystems", "tools"} <= detail["result"].keys()
        assert detail["worker"] == live.worker_name

        log = client.get(f"/api/v1/jobs/{job['id']}/log/", params={"level": "command"}).json()["results"]
        assert log and {line["level"] for line in log} == {LogLevel.COMMAND}
        assert any(line["message"].startswith("$ lsblk") for line in log), log


def _refusal(live: LiveStack, path: str, key: str | None) -> tuple[str, int]:
    """("close", code) when the server accepted then closed; ("http", status) when it refused the handshake."""
    try:
        with _ws(live, path, key) as ws:
            ws.recv(timeout=5)
    except InvalidStatus as exc:
        return "http", exc.response.status_code
    except ConnectionClosed as exc:
        return "close", exc.rcvd.code if exc.rcvd else 1006
    pytest.fail(f"{path} sent a message to a client that may not see it")


def test_job_stream_snapshot_first_and_refusals(live, admin_user, plain_user):
    job = Job.objects.create(kind="tests.sleep", user=admin_user, params={"steps": 1})
    with _ws(live, f"/ws/jobs/{job.pk}/", _token(admin_user)) as ws:
        first = _next_event(ws, 5)
    assert first["event"] == "snapshot" and first["job"] == job.pk
    assert first["state"] == JobState.QUEUED and first["kind"] == "tests.sleep"

    refusals = {
        "anonymous": (_refusal(live, "/ws/jobs/", None), 4401),
        "anonymous, one job": (_refusal(live, f"/ws/jobs/{job.pk}/", None), 4401),
        "no permission on the job": (_refusal(live, f"/ws/jobs/{job.pk}/", _token(plain_user)), 4404),
        "unknown job": (_refusal(live, f"/ws/jobs/{job.pk + 10_000}/", _token(admin_user)), 4404),
    }
    for who, ((how, code), expected) in refusals.items():
        assert (how, code) == ("close", expected), who


def test_idle_subscription_stays_open(live, admin_user):
    """A page watching /ws/jobs/ may see no event for minutes: the socket must outlive Redis read timeouts."""
    with _ws(live, "/ws/jobs/", _token(admin_user)) as ws:
        try:
            event = ws.recv(timeout=IDLE_S)
        except TimeoutError:
            return
        except ConnectionClosed as exc:
            pytest.fail(f"idle WebSocket dropped after < {IDLE_S} s ({exc!r})")
    pytest.fail(f"unexpected event on an idle stream: {event!r}")


def test_killed_worker_job_is_failed_by_the_reaper(live, admin_user):
    job = _sleep_job(live, admin_user)
    live.kill_worker()
    try:
        assert reap_stale_jobs(stale_after_s=STALE_AFTER_S) == [], "reaped while the heartbeat was fresh"
        _wait_for("the reaper to fail the job", lambda: job.pk in reap_stale_jobs(stale_after_s=STALE_AFTER_S),
                  timeout=10)
    finally:
        live.start_worker()
    job.refresh_from_db()
    assert job.state == JobState.FAILED
    assert live.worker_name in job.error and "stopped" in job.error, job.error
    assert job.finished is not None
    assert job.log_entries.filter(level=LogLevel.ERROR, message=job.error).exists()


def test_restarted_worker_fails_the_job_its_killed_process_left_running(live, admin_user):
    job = _sleep_job(live, admin_user)
    live.kill_worker()
    job.refresh_from_db()
    assert job.state == JobState.RUNNING and job.worker == live.worker_name
    live.start_worker()  # same node name: its worker_ready hook fails the orphan

    def failed() -> bool:
        job.refresh_from_db()
        return job.state == JobState.FAILED

    _wait_for("the restarted worker to fail the orphaned job", failed, timeout=10)
    assert live.worker_name in job.error and "restarted" in job.error, job.error
    assert job.log_entries.filter(level=LogLevel.ERROR, message=job.error).exists()


def test_cancel_stops_a_running_job(live, admin_user):
    key = _token(admin_user)
    job = _sleep_job(live, admin_user, steps=200, delay=0.05)
    with _ws(live, f"/ws/jobs/{job.pk}/", key) as ws, _http(live, key) as client:
        assert _next_event(ws, 5)["event"] == "snapshot"
        response = client.post(f"/api/v1/jobs/{job.pk}/cancel/")
        assert response.status_code == 200, response.text
        assert response.json()["cancel_requested"] is True
        started = time.monotonic()
        final = _events(ws, job.pk, _ended, timeout=5)[-1]
    assert final["state"] == JobState.CANCELLED, final
    assert time.monotonic() - started < 3
    job.refresh_from_db()
    assert job.state == JobState.CANCELLED and job.progress < 100


def test_many_jobs_to_several_clients_deliver_every_state_change_and_the_final_progress(live, admin_user):
    """Jobs running at once, watched by several pages: no state change and no final progress goes missing
    (progress in between may be conflated). A page subscribed to no job still sees jobs that appear, and
    not the progress of a job it does not show."""
    from apps.jobs.publish import publish

    key = _token(admin_user)
    shown_elsewhere = Job.objects.create(kind="tests.sleep", user=admin_user, params={"steps": 1})
    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(_ws(live, "/ws/jobs/", key)) for _ in range(4)]
        watcher = sockets[-1]
        watcher.send(json.dumps({"type": "subscribe", "jobs": []}))
        watcher.send(json.dumps({"type": "ping"}))
        assert _next_event(watcher, 5) == {"type": "pong"}
        publish(shown_elsewhere.pk, {"event": "progress", "state": "running", "progress": 42, "step": ""}, wait=True)
        jobs = [enqueue("tests.sleep", user=admin_user, params={"steps": 20, "delay": 0.01}, queue=live.queue).pk
                for _ in range(8)]
        seen: list[dict[int, list[dict]]] = [{job: [] for job in [*jobs, shown_elsewhere.pk]} for _ in sockets]
        deadline = time.monotonic() + 60
        for ws, mine in zip(sockets, seen, strict=True):
            while not all(any(_ended(e) for e in mine[job]) for job in jobs):
                assert time.monotonic() < deadline, {job: events[-1:] for job, events in mine.items()}
                try:
                    event = _next_event(ws, 1)
                except TimeoutError:
                    continue
                assert event["event"] != "resync", event
                if event.get("job") in mine:
                    mine[event["job"]].append(event)
    for mine in seen:
        for job in jobs:
            states = [e["state"] for e in mine[job] if e["event"] == "state"]
            assert states == [JobState.RUNNING, JobState.SUCCEEDED], (job, states)
            assert mine[job][-1]["progress"] == 100
    assert [len(mine[shown_elsewhere.pk]) for mine in seen] == [1, 1, 1, 0]


def test_the_live_server_sends_uncompressed_frames(live, admin_user):
    """The client offers per-message deflate (as browsers do); the server declines it: a compressor per
    socket was the largest share of its CPU with many sockets (benchmarks/progress_load.py)."""
    with _ws(live, "/ws/jobs/", _token(admin_user)) as ws:
        assert "permessage-deflate" in ws.request.headers.get("Sec-WebSocket-Extensions", "")
        assert ws.protocol.extensions == []
        assert "Sec-WebSocket-Extensions" not in ws.response.headers


def test_the_live_server_believes_no_forwarded_headers(live, operator_user):
    """Behind the real ASGI server a client's own X-Forwarded-For and X-Request-ID change nothing: the
    audit trail has the TCP peer's address, and repeated guesses are locked whatever address is forged."""
    from django.core.cache import cache

    from apps.audit.models import AuditEvent

    cache.clear()
    with httpx.Client(base_url=live.base_url, timeout=10) as client:
        codes = [client.post("/api/v1/auth/token/", json={"username": "operator1", "password": "wrong"},
                             headers={"X-Forwarded-For": f"198.51.100.{i}", "X-Request-ID": f"forged-{i}"}).status_code
                 for i in range(settings.CALYPSO_SIGNIN_FREE_FAILURES + 1)]
    cache.clear()
    assert codes[-1] == 429 and set(codes[:-1]) == {401}
    events = AuditEvent.objects.filter(action="accounts.user.login")
    assert {e.address for e in events} == {"127.0.0.1"}
    assert not any(e.request_id.startswith("forged-") for e in events)
