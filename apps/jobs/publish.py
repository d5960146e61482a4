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

__all__ = ["ALL_JOBS_GROUP", "job_group", "publish"]

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
            await layer.group_send(group, event)


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

