"""``/ws/jobs/`` streams every job the user may see; ``/ws/jobs/<id>/`` one job (same 404 rule as the API)."""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.core.permissions import perm_name, restrict

from .models import Job
from .publish import ALL_JOBS_GROUP, job_group

__all__ = ["JobConsumer"]

CLOSE_UNAUTHENTICATED = 4401
CLOSE_NOT_FOUND = 4404


def _snapshot(job: Job) -> dict:
    return {"type": "job.event", "event": "snapshot", "job": job.pk, "kind": job.kind, "state": job.state,
            "progress": job.progress, "step": job.step, "error": job.error, "target": job.target_label}


class JobConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self._refuse(CLOSE_UNAUTHENTICATED)
            return
        self.job_id = self.scope["url_route"]["kwargs"].get("job_id")
        self.all_visible = await self._sees_all(user)
        self._allowed: dict[int, bool] = {}
        if self.job_id is not None:
            job = await self._visible_job(user, self.job_id)
            if job is None:
                await self._refuse(CLOSE_NOT_FOUND)
                return
            self.group = job_group(self.job_id)
        else:
            self.group = ALL_JOBS_GROUP
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        if self.job_id is not None:
            await self.send_json(_snapshot(job))

    async def _refuse(self, code: int) -> None:
        # Accept first: a close before accept becomes a bare HTTP 403 and the client never sees the code.
        await self.accept()
        await self.close(code=code)

    async def disconnect(self, code):
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def receive_json(self, content, **kwargs):
        if content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def job_event(self, event):
        if self.job_id is None and not self.all_visible and not await self._may_see(event["job"]):
            return
        await self.send_json(event)

    async def _may_see(self, job_id: int) -> bool:
        if job_id not in self._allowed:
            self._allowed[job_id] = await self._visible_job(self.scope["user"], job_id) is not None
        return self._allowed[job_id]

    @database_sync_to_async
    def _sees_all(self, user) -> bool:
        return user.is_superuser or user.has_perm(perm_name(Job, "view"))

    @database_sync_to_async
    def _visible_job(self, user, job_id: int) -> Job | None:
        return restrict(Job.objects.all(), user, "view").filter(pk=job_id).first()
