"""``/ws/jobs/`` streams every job the user may see; ``/ws/jobs/<id>/`` one job (same 404 rule as the API).

Events come from the process's ``fanout.Hub`` and leave as frames of one event or a batch
(``{"type": "batch", "events": [...]}``) when the hub ticks: at most every ``CALYPSO_WS_FLUSH_S``, and at
once for a state change (with whatever waits before it).
A client on ``/ws/jobs/`` may send ``{"type": "subscribe", "jobs": [ids]}`` to receive only those jobs
(``null``: all again); the state events of jobs that appear (queued or starting) still come, and such a job
joins the subscription. ``{"type": "ping"}`` is answered with ``{"type": "pong"}``.
"""

from __future__ import annotations

import asyncio

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
        self._wants_flush()

    async def _refuse(self, code: int) -> None:
        # Accept first: a close before accept becomes a bare HTTP 403 and the client never sees the code.
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code):
        if self.hub is not None:
            await self.hub.leave(self)

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
        self._wants_flush()

    def _wants_flush(self) -> None:
        if self._ready and self._sending is None and self._buffer:
            self.hub.wants_flush(self, self._buffer.urgent)

    def flush(self, frames: dict[tuple[str, ...], str]) -> None:
        """The hub's tick: send what waits as one frame (``frames`` holds the tick's frames already encoded).
        While a frame is being written, events keep conflating here and go out with the next tick after."""
        if self._sending is not None or not self._buffer:
            return
        encoded = tuple(self._buffer.take())
        frame = frames.get(encoded)
        if frame is None:
            frame = frames[encoded] = batch_frame(encoded)
        self._sending = asyncio.get_running_loop().create_task(self._send(frame))

    async def _send(self, frame: str) -> None:
        try:
            # Straight to the server when the scope carries its send (one call, not three layers).
            await self.scope.get(SERVER_SEND, self.base_send)({"type": "websocket.send", "text": frame})
        except Exception:  # the socket went away; disconnect() cleans up
            return
        finally:
            self._sending = None
        self._wants_flush()

    @database_sync_to_async
    def _sees_all(self, user) -> bool:
        return user.is_superuser or user.has_perm(perm_name(Job, "view"))

    @database_sync_to_async
    def _visible_job(self, user, job_id: int) -> Job | None:
        return restrict(Job.objects.all(), user, "view").filter(pk=job_id).first()
