"""``/ws/jobs/`` streams every job the user may see; ``/ws/jobs/<id>/`` one job (same 404 rule as the API).

Events come from the process's ``fanout.Hub`` and leave as frames of one event or a batch
(``{"type": "batch", "events": [...]}``): a socket sends on average at most one frame every
``CALYPSO_WS_FLUSH_S`` (a short burst of ``FRAME_BURST`` after a quiet spell). A state change goes out at
once, with whatever waits before it, borrowing up to ``STATE_DEBT`` frames from the slots that follow.
A client on ``/ws/jobs/`` may send ``{"type": "subscribe", "jobs": [ids]}`` to receive only those jobs
(``null``: all again); the state events of jobs that appear (queued or starting) still come, and such a job
joins the subscription. ``{"type": "ping"}`` is answered with ``{"type": "pong"}``.
"""

from __future__ import annotations

import asyncio
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from apps.core.clients import SERVER_SEND
from apps.core.permissions import perm_name, restrict

from .choices import JobState
from .fanout import EventBuffer, batch_frame, get_hub
from .models import Job

__all__ = ["JobConsumer"]

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404
APPEARING_STATES = frozenset({JobState.QUEUED, JobState.RUNNING})
FRAME_BURST = 3  # frames a quiet socket may send back to back (a state change and its log line)
STATE_DEBT = 1  # frames a state change may borrow from the slots after it


def _snapshot(job: Job) -> dict:
    return {"type": "job.event", "event": "snapshot", "job": job.pk, "kind": job.kind, "state": job.state,
            "progress": job.progress, "step": job.step, "error": job.error, "target": job.target_label}


class JobConsumer(AsyncJsonWebsocketConsumer):
    hub = None

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        self.job_id = self.scope["url_route"]["kwargs"].get("job_id")
        self.all_visible = user.is_superuser or await self._sees_all(user)
        self._allowed: dict[int, bool] = {}
        self._checking: dict[int, list[tuple[dict, str]]] = {}
        self.subscribed: set[int] | None = None
        self._buffer = EventBuffer(settings.CALYPSO_WS_BUFFER_LIMIT)
        self._flush_every = settings.CALYPSO_WS_FLUSH_S
        self._tokens, self._tokens_at = float(FRAME_BURST), time.monotonic()
        self._flush_handle: asyncio.TimerHandle | None = None
        self._flush_urgent = False
        self._sending: asyncio.Task | None = None
        self._ready = False
        job = None
        if self.job_id is not None:
            job = await self._visible_job(user, self.job_id)
            if job is None:
                await self._refuse(CLOSE_NOT_FOUND)
                return
        self.hub = get_hub(self.channel_layer)
        await self.hub.join(self)  # before the snapshot: what changes after it is not missed
        await self.accept()
        if job is not None:
            await self.send_json(_snapshot(job))
        self._ready = True
        self._schedule_flush()

    async def _refuse(self, code: int) -> None:
        # Accept first: a close before accept becomes a bare HTTP 403 and the client never sees the code.
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code):
        if self.hub is not None:
            await self.hub.leave(self)
        handle = getattr(self, "_flush_handle", None)
        if handle is not None:
            handle.cancel()

    async def receive_json(self, content, **kwargs):
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "ping":
            await self.send_json({"type": "pong"})
        elif kind == "subscribe" and self.job_id is None:
            jobs = content.get("jobs")
            if jobs is None:
                self.subscribed = None
            elif isinstance(jobs, list):
                self.subscribed = {int(j) for j in jobs if isinstance(j, int | str) and str(j).isdigit()}

    # ---------------------------------------------------------------- from the hub
    def deliver(self, event: dict, encoded: str) -> None:
        """Queue one event for this socket if the client shows that job and may see it."""
        job = event.get("job")
        if job is not None:
            if self.job_id is not None and job != self.job_id:
                return
            if self.subscribed is not None and job not in self.subscribed:
                if event.get("event") != "state" or event.get("state") not in APPEARING_STATES:
                    return
                self.subscribed.add(job)  # a job that appeared: its progress is wanted from now on
            if self.job_id is None and not self.all_visible:
                if job in self._checking:
                    self._checking[job].append((event, encoded))
                    return
                allowed = self._allowed.get(job)
                if allowed is None:
                    self._checking[job] = [(event, encoded)]
                    asyncio.get_running_loop().create_task(self._check(job))
                    return
                if not allowed:
                    return
        self._queue(event, encoded)

    async def _check(self, job_id: int) -> None:
        allowed = self._allowed[job_id] = await self._visible_job(self.scope["user"], job_id) is not None
        for event, encoded in self._checking.pop(job_id, []):
            if allowed:
                self._queue(event, encoded)

    def _queue(self, event: dict, encoded: str) -> None:
        self._buffer.add(event, encoded)
        self._schedule_flush()

    def _refill(self) -> float:
        """Frames this socket may send now: one more every ``CALYPSO_WS_FLUSH_S``, at most FRAME_BURST."""
        now = time.monotonic()
        if self._flush_every > 0:
            self._tokens = min(float(FRAME_BURST), self._tokens + (now - self._tokens_at) / self._flush_every)
        else:
            self._tokens = float(FRAME_BURST)
        self._tokens_at = now
        return self._tokens

    def _schedule_flush(self) -> None:
        if not self._ready or self._sending is not None or not self._buffer:
            return
        urgent = self._buffer.urgent
        if self._flush_handle is not None:
            if not urgent or self._flush_urgent:
                return
            self._flush_handle.cancel()  # a state change came: it need not wait for the slot
        # A frame takes a token. A state change may borrow up to STATE_DEBT: it goes at once unless the socket
        # owes that much already, and the frames after it wait until the debt is paid back.
        delay = max(0.0, ((1.0 - STATE_DEBT if urgent else 1.0) - self._refill()) * self._flush_every)
        self._flush_urgent = urgent
        self._flush_handle = asyncio.get_running_loop().call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self._flush_handle = None
        self._sending = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            encoded = self._buffer.take()
            if encoded:
                self._refill()
                self._tokens -= 1
                # Straight to the server when the scope carries its send (one call, not three layers).
                await self.scope.get(SERVER_SEND, self.base_send)({"type": "websocket.send",
                                                                   "text": batch_frame(encoded)})
        except Exception:  # the socket went away; disconnect() cleans up
            return
        finally:
            self._sending = None
        self._schedule_flush()

    @database_sync_to_async
    def _sees_all(self, user) -> bool:
        return user.is_superuser or user.has_perm(perm_name(Job, "view"))

    @database_sync_to_async
    def _visible_job(self, user, job_id: int) -> Job | None:
        return restrict(Job.objects.all(), user, "view").filter(pk=job_id).first()
