"""Job events to WebSockets: conflation, batching, subscriptions and resync (in-memory channel layer)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from types import SimpleNamespace

import pytest
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer

from apps.jobs.consumers import JobConsumer
from apps.jobs.fanout import EventBuffer, batch_frame
from apps.jobs.publish import ALL_JOBS_GROUP

ADMIN = SimpleNamespace(is_authenticated=True, is_superuser=True, pk=1)


@pytest.fixture(autouse=True)
def in_memory_layer(settings):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer",
                                           "CONFIG": {"capacity": 10000}}}
    settings.CALYPSO_WS_FLUSH_S = 0.05
    settings.CALYPSO_WS_BUFFER_LIMIT = 1000


def _event(job: int, seq: int, kind: str = "progress", src: str = "worker-1", **fields) -> dict:
    return {"type": "job.event", "event": kind, "job": job, "ts": time.time(), "src": src, "seq": seq, **fields}


class Publisher:
    """Numbers events as apps.jobs.publish does and sends them to the all-jobs group."""

    def __init__(self, src: str = "worker-1") -> None:
        self.src, self.seq = src, 0

    async def __call__(self, job: int, kind: str = "progress", **fields) -> None:
        self.seq += 1
        await get_channel_layer().group_send(ALL_JOBS_GROUP, _event(job, self.seq, kind, self.src, **fields))


class Socket(ApplicationCommunicator):
    """A WebSocket client of JobConsumer on /ws/jobs/, signed in as an administrator."""

    def __init__(self) -> None:
        super().__init__(JobConsumer.as_asgi(), {
            "type": "websocket", "path": "/ws/jobs/", "headers": [], "subprotocols": [], "user": ADMIN,
            "url_route": {"args": (), "kwargs": {}}})

    async def connect(self) -> None:
        await self.send_input({"type": "websocket.connect"})
        assert (await self.receive_output(timeout=5))["type"] == "websocket.accept"

    async def send_json_to(self, data) -> None:
        await self.send_input({"type": "websocket.receive", "text": json.dumps(data)})

    async def receive_from(self, timeout: float) -> str:
        message = await self.receive_output(timeout=timeout)
        assert message["type"] == "websocket.send", message
        return message["text"]

    async def disconnect(self) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": 1000})
        await self.wait(timeout=5)


async def _connect() -> Socket:
    comm = Socket()
    await comm.connect()
    return comm


async def _drain(comm: Socket, quiet: float = 0.3) -> tuple[list[dict], int]:
    """Every event received until ``quiet`` seconds pass without a frame (batches unpacked), and the frames."""
    events, frames = [], 0
    while not await comm.receive_nothing(timeout=quiet, interval=0.005):
        frame = json.loads(await comm.receive_from(timeout=1))
        frames += 1
        events += frame["events"] if frame.get("type") == "batch" else [frame]
    return events, frames


def test_progress_is_conflated_per_job_and_state_events_are_kept_in_order():
    buffer = EventBuffer(limit=100)
    for pct in range(1, 51):
        buffer.add({"event": "progress", "job": 1, "progress": pct})
        buffer.add({"event": "progress", "job": 2, "progress": pct})
    buffer.add({"event": "state", "job": 1, "state": "succeeded", "progress": 100})
    buffer.add({"event": "progress", "job": 2, "progress": 99})
    events = [json.loads(e) for e in buffer.take()]
    assert [(e["job"], e["event"], e.get("state") or e["progress"]) for e in events] == [
        (1, "progress", 50), (2, "progress", 99), (1, "state", "succeeded")]
    assert len(buffer) == 0
    # A progress after a state change of the same job queues behind it instead of jumping ahead.
    buffer.add({"event": "progress", "job": 3, "progress": 10})
    buffer.add({"event": "state", "job": 3, "state": "rolling_back"})
    buffer.add({"event": "progress", "job": 3, "progress": 20})
    assert [json.loads(e).get("progress") for e in buffer.take()] == [10, None, 20]


def test_a_full_buffer_becomes_one_resync_for_all_jobs():
    buffer = EventBuffer(limit=5)
    for i in range(7):
        buffer.add({"event": "log", "job": 1, "id": i})
    events = [json.loads(e) for e in buffer.take()]
    assert events[0] == {"type": "job.event", "event": "resync", "job": None}
    assert [e["id"] for e in events[1:]] == [5, 6]


def test_batch_frame_wraps_several_events_only():
    one = json.dumps({"type": "job.event", "job": 1})
    assert batch_frame([one]) == one
    assert json.loads(batch_frame([one, one])) == {"type": "batch", "events": [json.loads(one)] * 2}


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)  # channels closes old database connections around each message
async def test_many_jobs_to_several_clients_every_state_change_and_final_progress_arrive():
    clients = [await _connect() for _ in range(5)]
    publish = Publisher()
    try:
        for job in range(1, 21):
            await publish(job, "state", state="running", progress=0)
        for pct in range(1, 101):
            for job in range(1, 21):
                await publish(job, progress=pct, state="running")
        for job in range(1, 21):
            await publish(job, "state", state="succeeded", progress=100)
        for comm in clients:
            events, frames = await _drain(comm)
            assert frames < len(events) / 10  # batched, not one frame an event
            for job in range(1, 21):
                mine = [e for e in events if e["job"] == job]
                assert [e["state"] for e in mine if e["event"] == "state"] == ["running", "succeeded"]
                assert mine[-1]["progress"] == 100
                assert len(mine) < 50  # progress conflated: the newest value, not every step
            assert "seq" not in events[0] and "src" not in events[0]
    finally:
        for comm in clients:
            await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)  # channels closes old database connections around each message
async def test_one_tick_flushes_every_waiting_socket_with_one_shared_frame(settings):
    settings.CALYPSO_WS_FLUSH_S = 1.0
    clients = [await _connect() for _ in range(3)]
    publish = Publisher()
    try:
        await publish(1, progress=1, state="running")  # after a quiet spell: at once
        first = [await comm.receive_output(timeout=1) for comm in clients]
        for job in (1, 2, 3):
            await publish(job, progress=10, state="running")
        await publish(1, progress=20, state="running")
        assert all([await comm.receive_nothing(timeout=0.1) for comm in clients])  # the next tick is later
        second = [await comm.receive_output(timeout=1) for comm in clients]
        events = json.loads(second[0]["text"])["events"]
        assert [(e["job"], e["progress"]) for e in events] == [(1, 20), (2, 10), (3, 10)]
        for frames in (first, second):  # every socket got the same frame object: encoded once for all
            assert all(message["text"] is frames[0]["text"] for message in frames)
    finally:
        for comm in clients:
            await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)  # channels closes old database connections around each message
async def test_a_burst_of_state_changes_costs_two_frames_not_one_each(settings):
    settings.CALYPSO_WS_FLUSH_S = 0.5
    comm = await _connect()
    publish = Publisher()
    try:
        started = time.monotonic()
        for job in range(1, 11):
            await publish(job, "state", state="running", progress=0)
        events, frames = await _drain(comm, quiet=0.7)
        assert [e["job"] for e in events] == list(range(1, 11))
        assert frames == 2 and time.monotonic() - started < 1.5  # the first at once, the rest one tick later
    finally:
        await comm.disconnect()


@pytest.mark.asyncio
async def test_the_hub_takes_what_waits_in_redis_in_one_batch(settings, monkeypatch):
    """With channels_redis the hub pops the first event (blocking) and then everything else waiting in one
    ZPOPMIN: two round trips for a batch, the events in the order they were sent."""
    from channels_redis.core import RedisChannelLayer

    from apps.jobs.fanout import HUB_CHANNEL_PREFIX, Hub

    layer = RedisChannelLayer(hosts=[settings.REDIS_URL], prefix=f"calypso-test-{time.time_ns()}")
    hub = Hub(layer)
    channel = await layer.new_channel(HUB_CHANNEL_PREFIX)
    await layer.group_add(ALL_JOBS_GROUP, channel)
    for i in range(1, 51):
        await layer.group_send(ALL_JOBS_GROUP, _event(1, i, progress=i))
    received, blocking_pops = [], 0
    monkeypatch.setattr(hub, "dispatch", received.append)
    connection = layer.connection(layer.consistent_hash(layer.non_local_name(channel)))
    bzpopmin = connection.bzpopmin

    async def counted(*args, **kwargs):
        nonlocal blocking_pops
        blocking_pops += 1
        return await bzpopmin(*args, **kwargs)

    monkeypatch.setattr(type(connection), "bzpopmin", lambda self, *a, **k: counted(*a, **k))
    reader = asyncio.create_task(hub._read_redis(channel))
    try:
        while len(received) < 50:
            await asyncio.sleep(0.01)
            assert not reader.done(), reader
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await layer.group_discard(ALL_JOBS_GROUP, channel)
        await layer.close_pools()
    assert [m["progress"] for m in received] == list(range(1, 51))
    assert blocking_pops <= 2  # one for the 50 events, then one waiting for more


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)  # channels closes old database connections around each message
async def test_a_state_change_goes_out_at_once_when_progress_waits_for_its_slot(settings):
    settings.CALYPSO_WS_FLUSH_S = 0.5
    comm = await _connect()
    publish = Publisher()
    try:
        for i in range(4):  # the burst is spent: the next frame has to wait for its slot
            await publish(1, progress=i, state="running")
            await comm.receive_from(timeout=1)
        await publish(1, progress=50, state="running")
        assert await comm.receive_nothing(timeout=0.2)
        await publish(2, "state", state="running", progress=0)
        started = time.monotonic()
        events, _ = await _drain(comm, quiet=0.1)
        assert time.monotonic() - started < 0.3
        assert [(e["job"], e["event"]) for e in events] == [(1, "progress"), (2, "state")]  # in order
        await publish(1, progress=60, state="running")  # progress pays the borrowed frames back
        assert await comm.receive_nothing(timeout=0.3)
    finally:
        await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)  # channels closes old database connections around each message
async def test_subscribe_limits_the_stream_to_the_jobs_shown_plus_jobs_that_appear():
    comm = await _connect()
    publish = Publisher()
    try:
        await comm.send_json_to({"type": "subscribe", "jobs": [1]})
        await comm.send_json_to({"type": "ping"})
        assert json.loads(await comm.receive_from(timeout=2)) == {"type": "pong"}
        await publish(1, progress=10)
        await publish(2, progress=10)
        await publish(2, "log", message="not shown")
        await publish(3, "state", state="running", progress=0)  # a job that appeared
        await publish(3, progress=5)
        events, _ = await _drain(comm)
        assert [(e["job"], e["event"]) for e in events] == [(1, "progress"), (3, "state"), (3, "progress")]
        await comm.send_json_to({"type": "subscribe", "jobs": None})
        await asyncio.sleep(0.05)
        await publish(2, progress=20)
        events, _ = await _drain(comm)
        assert [(e["job"], e["progress"]) for e in events] == [(2, 20)]
    finally:
        await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)  # channels closes old database connections around each message
async def test_a_hole_in_a_publishers_numbering_sends_a_resync(settings):
    comm = await _connect()
    layer = get_channel_layer()
    try:
        await layer.group_send(ALL_JOBS_GROUP, _event(1, 1, progress=1))
        await layer.group_send(ALL_JOBS_GROUP, _event(1, 4, progress=4))  # 2 and 3 never arrived
        await layer.group_send(ALL_JOBS_GROUP, _event(2, 1, src="worker-2", progress=1))  # another publisher
        events, _ = await _drain(comm)
        assert [e["event"] for e in events].count("resync") == 1
        assert events[1] == {"type": "job.event", "event": "resync", "job": None}
    finally:
        await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)  # channels closes old database connections around each message
async def test_a_client_that_falls_behind_gets_a_resync_instead_of_a_silent_gap(settings):
    settings.CALYPSO_WS_BUFFER_LIMIT = 10
    settings.CALYPSO_WS_FLUSH_S = 0.5
    comm = await _connect()
    publish = Publisher()
    try:
        for i in range(30):  # the first few frames go at once, then one every 0.5 s: the rest waits
            await publish(1, "log", message=f"line {i}")
        events, _ = await _drain(comm, quiet=1)
        resyncs = [i for i, e in enumerate(events) if e["event"] == "resync"]
        assert len(resyncs) == 1 and events[resyncs[0]] == {"type": "job.event", "event": "resync", "job": None}
        lines = [int(e["message"].split()[1]) for e in events if e["event"] == "log"]
        before, after = lines[:resyncs[0]], lines[resyncs[0]:]
        assert before == list(range(len(before))) and len(before) < 10  # what went out before the overflow
        assert after == list(range(30 - len(after), 30))  # the newest lines, in order, up to the last
    finally:
        await comm.disconnect()


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_frames_go_straight_to_the_server_past_the_session_wrapper(admin_user, monkeypatch):
    from asgiref.sync import sync_to_async
    from channels.routing import URLRouter
    from channels.sessions import InstanceSessionWrapper

    from apps.accounts.channels import TokenOrSessionAuthMiddleware
    from apps.accounts.models import ApiToken
    from apps.jobs.routing import websocket_urlpatterns

    wrapped: list[str] = []
    session_send = InstanceSessionWrapper.send

    async def counting(self, message):
        wrapped.append(message["type"])
        return await session_send(self, message)

    monkeypatch.setattr(InstanceSessionWrapper, "send", counting)
    key = (await sync_to_async(ApiToken.issue)(admin_user, "tests"))[1]
    comm = ApplicationCommunicator(TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns)), {
        "type": "websocket", "path": "/ws/jobs/", "headers": [(b"authorization", f"Token {key}".encode())],
        "subprotocols": [], "client": ("127.0.0.1", 5000), "server": ("127.0.0.1", 8000)})
    await comm.send_input({"type": "websocket.connect"})
    assert (await comm.receive_output(timeout=5))["type"] == "websocket.accept"
    publish = Publisher()
    try:
        for i in range(3):
            await publish(7, progress=i, state="running")
        events = []
        while not events or events[-1]["progress"] != 2:  # the newest progress comes last (conflated)
            message = await comm.receive_output(timeout=2)
            frame = json.loads(message["text"])
            events += frame["events"] if frame.get("type") == "batch" else [frame]
        assert wrapped == ["websocket.accept"]  # the frames did not go through the session wrapper
    finally:
        await comm.send_input({"type": "websocket.disconnect", "code": 1000})
        await comm.wait(timeout=5)
