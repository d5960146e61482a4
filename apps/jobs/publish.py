"""Publishing job events to Channels groups from sync code (workers, services).

``async_to_sync(group_send)`` costs 5–7 ms a call because every call opens a new event loop and
Redis connection. Instead each process keeps one event loop in a daemon thread and hands it the
sends, so a publish costs a queue hop and the connection pool is reused.

Events go to the all-jobs group only (the ASGI process fans them out, see ``fanout.py``). Each carries
``src`` (this process) and ``seq`` (its number, without holes), so a lost event shows up as a hole.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import threading
import time
import uuid
from concurrent.futures import Future

from channels.layers import get_channel_layer
from channels_redis.core import RedisChannelLayer

__all__ = ["ALL_JOBS_GROUP", "group_send", "job_group", "publish", "warm_up"]

log = logging.getLogger("calypso.jobs")
ALL_JOBS_GROUP = "jobs"

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_loop_pid: int | None = None


def job_group(job_id: int) -> str:
    return f"job.{job_id}"


def _get_loop() -> asyncio.AbstractEventLoop:
    global _loop, _loop_pid
    with _lock:
        if _loop is None or _loop_pid != os.getpid():  # a forked child needs its own thread
            global _order_lock
            _loop = asyncio.new_event_loop()
            _loop_pid = os.getpid()
            _order_lock = None
            _sequence.update(src=f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}", seq=0)
            threading.Thread(target=_loop.run_forever, name="calypso-publish", daemon=True).start()
        return _loop


_order_lock: asyncio.Lock | None = None
_sequence: dict = {"src": "", "seq": 0}


async def _send(groups: tuple[str, ...], event: dict) -> None:
    global _order_lock
    if _order_lock is None:
        _order_lock = asyncio.Lock()
    async with _order_lock:  # FIFO: events reach clients in the order they were published
        _sequence["seq"] += 1  # numbered here, in sending order; a failed send leaves a hole
        event = {**event, "src": _sequence["src"], "seq": _sequence["seq"]}
        layer = get_channel_layer()
        if layer is None:
            return
        for group in groups:
            await group_send(layer, group, event)


# The send of channels_redis's group_send, plus the expiry of the members' old messages it does first.
_GROUP_SEND_LUA = """
local n = #KEYS
local current_time, expiry, stale = ARGV[2 * n + 1], ARGV[2 * n + 2], ARGV[2 * n + 3]
local over_capacity = 0
for i = 1, n do
    redis.call('ZREMRANGEBYSCORE', KEYS[i], 0, stale)
    if redis.call('ZCOUNT', KEYS[i], '-inf', '+inf') < tonumber(ARGV[i + n]) then
        redis.call('ZADD', KEYS[i], current_time, ARGV[i])
        redis.call('EXPIRE', KEYS[i], expiry)
    else
        over_capacity = over_capacity + 1
    end
end
return over_capacity
"""


async def group_send(layer, group: str, message: dict) -> None:
    """``layer.group_send`` in two Redis round trips where channels_redis takes four.

    channels_redis drops the group's expired members, reads the members, drops their expired messages
    and sends, one after the other; here one pipeline reads the group and one script sends. Same keys,
    same message encoding (the layer's own), same capacity rule. Other layers: their own group_send.
    """
    if not isinstance(layer, RedisChannelLayer):
        await layer.group_send(group, message)
        return
    key = layer._group_key(group)
    now = time.time()
    async with layer.connection(layer.consistent_hash(group)).pipeline(transaction=False) as pipe:
        pipe.zremrangebyscore(key, min=0, max=int(now) - layer.group_expiry)
        pipe.zrange(key, 0, -1)
        _removed, members = await pipe.execute()
    by_connection, messages, capacities = layer._map_channel_keys_to_connection(
        [m.decode("utf8") for m in members], message)
    for index, keys in by_connection.items():
        args = [messages[k] for k in keys] + [capacities[k] for k in keys]
        over = await layer.connection(index).eval(_GROUP_SEND_LUA, len(keys), *keys, *args, now, layer.expiry,
                                                  int(now) - int(layer.expiry))
        if over:
            log.info("%s of %s channels over capacity in group %s", over, len(members), group)


async def _connect() -> None:
    layer = get_channel_layer()
    if isinstance(layer, RedisChannelLayer):
        await layer.connection(layer.consistent_hash(ALL_JOBS_GROUP)).ping()


def warm_up(timeout: float = 2.0) -> None:
    """Start this process's publisher and connect it to Redis now (a worker process as it starts)."""
    asyncio.run_coroutine_threadsafe(_connect(), _get_loop()).result(timeout=timeout)


def publish(job_id: int, payload: dict, *, wait: bool = False) -> Future | None:
    """Send ``payload`` to the job's group and the all-jobs group. ``wait`` blocks until sent (≤ 2 s)."""
    event = {"type": "job.event", "job": job_id, "ts": time.time(), **payload}
    try:
        future = asyncio.run_coroutine_threadsafe(_send((ALL_JOBS_GROUP,), event), _get_loop())
        if wait:
            future.result(timeout=2)
        return future
    except Exception:  # progress is best effort; the database row stays the truth
        log.warning("could not publish event for job %s", job_id, exc_info=True)
        return None

