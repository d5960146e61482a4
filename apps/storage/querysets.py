"""Named queries on storage objects, all on RestrictedQuerySet so ``.restrict(user, action)`` works."""

from __future__ import annotations

from datetime import datetime

from apps.core.models import RestrictedQuerySet

__all__ = ["PoolQuerySet", "SnapshotQuerySet"]


class PoolQuerySet(RestrictedQuerySet):
    def btrfs(self):
        return self.filter(backend="btrfs")


class SnapshotQuerySet(RestrictedQuerySet):
    def newer_than(self, snapshot):
        """Snapshots of the same dataset taken after ``snapshot``."""
        qs = self.filter(dataset_id=snapshot.dataset_id).exclude(pk=snapshot.pk)
        return qs.filter(created_at__gt=snapshot.created_at) if snapshot.created_at else qs.none()

    def older_than(self, when: datetime):
        return self.filter(created_at__lt=when)

