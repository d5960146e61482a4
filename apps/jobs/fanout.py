"""Job events from the channel layer to the WebSocket clients of one ASGI process.

One ``Hub`` per event loop reads the all-jobs group through a single channel and hands each event, JSON
encoded once, to every connected ``JobConsumer``. A consumer keeps what waits for its socket in an
``EventBuffer``: progress is "latest value wins" per job, state, log and snapshot events are kept in order.
The hub flushes every waiting socket together, one frame each, at most every ``CALYPSO_WS_FLUSH_S``
seconds, and at once when a state change waits: sockets with the same events waiting share one encoded
frame, and a socket whose previous frame is still being written keeps conflating until it is done.

Nothing is dropped silently: publishers number their events (``src``/``seq``), so a hole in a publisher's
sequence (its send failed, or the hub's channel overflowed) and a buffer that outgrew
``CALYPSO_WS_BUFFER_LIMIT`` both become a ``resync`` event telling clients to fetch the jobs again.
"""

from __future__ import annotations

import asyncio
import json
import logging
import weakref
from collections.abc import Sequence
from typing import Protocol

from channels_redis.core import RedisChannelLayer
from django.conf import settings

from .publish import ALL_JOBS_GROUP

__all__ = ["EventBuffer", "Hub", "batch_frame", "get_hub", "resync_event"]

log = logging.getLogger("calypso.jobs")
HUB_CHANNEL_PREFIX = "jobshub"  # the hub's channel when it reads Redis itself (see Hub._read_redis)
READ_BATCH = 200  # events taken from Redis at once after the blocking pop that waits for the first
GROUP_REFRESH_S = 3600.0  # re-join the group well before the channel layer's group expiry (a day)


def resync_event(job_id: int | None = None) -> dict:
    """Tell the client it may have missed events of ``job_id`` (None: of every job): fetch and redraw."""
    return {"type": "job.event", "event": "resync", "job": job_id}


def batch_frame(encoded: Sequence[str]) -> str:
    """One frame for the JSON-encoded events: the event itself when alone, else a batch."""
    if len(encoded) == 1:
        return encoded[0]
    return '{"type": "batch", "events": [' + ", ".join(encoded) + "]}"


class EventBuffer:
    """The events waiting for one socket, as (event, its JSON) pairs in arrival order.

    A progress event replaces the waiting progress event of the same job, unless a state or log event
    of that job came in between (then it queues behind it, so order is kept). Past ``limit`` waiting
    events, everything waiting is replaced by one resync for all jobs.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._items: list[tuple[dict, str]] = []
        self._progress_at: dict[int | None, int] = {}
        self.urgent = False  # a state change waits: worth a frame of its own now

    def __len__(self) -> int:
        return len(self._items)

    def add(self, event: dict, encoded: str | None = None) -> None:
        encoded = encoded if encoded is not None else json.dumps(event)
        job = event.get("job")
        if event.get("event") == "progress":
            at = self._progress_at.get(job)
            if at is not None:
                self._items[at] = (event, encoded)
                return
        else:
            self._progress_at.pop(job, None)
            if event.get("event") == "state":
                self.urgent = True
        if len(self._items) >= self.limit:
            resync = resync_event(None)
            self._items, self._progress_at, self.urgent = [(resync, json.dumps(resync))], {}, False
        if event.get("event") == "progress":
            self._progress_at[job] = len(self._items)
        self._items.append((event, encoded))

    def take(self) -> list[str]:
        """The waiting events' JSON, oldest first; the buffer is empty afterwards."""
        items, self._items, self._progress_at, self.urgent = self._items, [], {}, False
        return [encoded for _event, encoded in items]


class Member(Protocol):
    def deliver(self, event: dict, encoded: str) -> None: ...

    def flush(self, frames: dict[tuple[str, ...], str]) -> None: ...


class Hub:
    """Reads the all-jobs group once for this process, fans each event out to the members and paces their
    frames: members ask for a flush (``wants_flush``) and one tick sends every waiting member's frame."""

    def __init__(self, layer) -> None:
        self.layer = layer
        self.members: set[Member] = set()
        self.channel: str | None = None
        self._tasks: list[asyncio.Task] = []
        self._lock = asyncio.Lock()
        self._seq: dict[str, int] = {}
        self.flush_s = settings.CALYPSO_WS_FLUSH_S
        self._waiting: dict[Member, None] = {}  # members with a frame to send, in the order they asked
        self._tick: asyncio.TimerHandle | asyncio.Handle | None = None
        self._tick_now = False  # the scheduled tick is an immediate one
        self._last_tick = self._last_urgent = float("-inf")

    def wants_flush(self, member: Member, urgent: bool = False) -> None:
        """``member`` has events waiting: send them at the next tick (``urgent``: a state change, now).
        Ticks are ``flush_s`` apart, except that a state change ticks at once when the one before it did
        not (at most two ticks in ``flush_s``, however many jobs change state)."""
        self._waiting[member] = None
        if self._tick is not None and (self._tick_now or not urgent):
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        delay = self._last_tick + self.flush_s - now
        if urgent and now - self._last_urgent >= self.flush_s:
            delay, self._last_urgent = 0.0, now
        if self._tick is not None:
            self._tick.cancel()
        self._tick_now = delay <= 0
        self._tick = loop.call_soon(self._flush) if self._tick_now else loop.call_later(delay, self._flush)

    def _flush(self) -> None:
        self._tick = None
        self._last_tick = asyncio.get_running_loop().time()
        waiting, self._waiting = self._waiting, {}
        frames: dict[tuple[str, ...], str] = {}  # the same events waiting: the same frame, encoded once
        for member in waiting:
            try:
                member.flush(frames)
            except Exception:
                log.exception("flushing job events to a socket failed")

    async def join(self, member: Member) -> None:
        async with self._lock:
            self.members.add(member)
            if self.channel is None:
                direct = isinstance(self.layer, RedisChannelLayer)
                # channels_redis reads one process-specific prefix at a time: its own receive() gets the
                # default one; a hub that reads its channel itself takes a prefix of its own.
                self.channel = await self.layer.new_channel(HUB_CHANNEL_PREFIX if direct else "specific")
                await self.layer.group_add(ALL_JOBS_GROUP, self.channel)
                self._seq.clear()
                read = self._read_redis if direct else self._read
                self._tasks = [asyncio.create_task(read(self.channel)), asyncio.create_task(self._refresh())]

    async def leave(self, member: Member) -> None:
        async with self._lock:
            self.members.discard(member)
            self._waiting.pop(member, None)
            if self.members or self.channel is None:
                return
            channel, self.channel = self.channel, None
            for task in self._tasks:
                task.cancel()
            self._tasks = []
            try:
                await self.layer.group_discard(ALL_JOBS_GROUP, channel)
            except Exception:  # the membership expires anyway
                log.warning("could not leave the job events group", exc_info=True)

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(GROUP_REFRESH_S)
            if self.channel is not None:
                await self.layer.group_add(ALL_JOBS_GROUP, self.channel)

    async def _read(self, channel: str) -> None:
        async def receive() -> list[dict]:
            return [await self.layer.receive(channel)]

        await self._pump(receive)

    async def _read_redis(self, channel: str) -> None:
        """``_read`` for channels_redis: a BZPOPMIN waits for the first message, then one ZPOPMIN takes what
        else waits (up to READ_BATCH), so a busy hub makes two round trips per batch, not one per event.

        The layer's receive() also copies each message to a backup set and removes it afterwards (three
        more round trips, one before the message is handed over), so that a cancelled read loses nothing;
        this channel is read by this hub alone and only cancelled when nobody listens any more."""
        layer = self.layer
        name = layer.non_local_name(channel)
        key = layer.prefix + name

        async def pop() -> list[dict]:
            connection = layer.connection(layer.consistent_hash(name))
            while (popped := await connection.bzpopmin(key, timeout=layer.brpop_timeout)) is None:
                pass
            raw = [popped[1]] + [member for member, _score in await connection.zpopmin(key, READ_BATCH)]
            messages = [layer.deserialize(item) for item in raw]
            for message in messages:
                message.pop("__asgi_channel__", None)
            return messages

        await self._pump(pop)

    async def _pump(self, receive) -> None:
        """Dispatch what ``receive()`` gives (a list of messages), forever; a failed read asks every client
        to resync."""
        while True:
            try:
                messages = await receive()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.warning("reading job events failed; clients are asked to resync", exc_info=True)
                self.dispatch(resync_event(None))
                await asyncio.sleep(1)
                continue
            for message in messages:
                self.dispatch(message)

    def dispatch(self, message: dict) -> None:
        """Hand one event to every member; a hole in its publisher's numbering first sends a resync."""
        event = dict(message)
        src, seq = event.pop("src", None), event.pop("seq", None)
        if src is not None and seq is not None:
            last = self._seq.get(src)
            self._seq[src] = seq
            if last is not None and seq != last + 1:
                log.warning("job events %s..%s of %s were lost; clients are asked to resync", last + 1, seq - 1, src)
                self._deliver(resync_event(None))
        self._deliver(event)

    def _deliver(self, event: dict) -> None:
        encoded = json.dumps(event)
        for member in list(self.members):
            try:
                member.deliver(event, encoded)
            except Exception:
                log.exception("delivering a job event failed")


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def get_hub(layer) -> Hub:
    """The hub of the running event loop (one per loop: tests run several loops in one process)."""
    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is None or hub.layer is not layer:
        hub = _hubs[loop] = Hub(layer)
    return hub
