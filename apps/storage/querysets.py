"""Named queries on storage objects, all on RestrictedQuerySet so ``.restrict(user, action)`` works."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from apps.core.models import RestrictedQuerySet

__all__ = ["PoolQuerySet", "SnapshotQuerySet"]


class PoolQuerySet(RestrictedQuerySet):
    def btrfs(self):
        return self.filter(backend="btrfs")


class SnapshotQuerySet(RestrictedQuerySet):
    def newer_than(self, snapshot):
        """Snapshots of the same dataset taken after ``snapshot``: a later second, or the same second and later
        in creation order (``extra["same_second"]``, from the host's listing order)."""
        qs = self.filter(dataset_id=snapshot.dataset_id).exclude(pk=snapshot.pk)
        if not snapshot.created_at:
            return qs.none()
        mine = (snapshot.extra or {}).get("same_second", 0)
        same = [pk for pk, extra in qs.filter(created_at=snapshot.created_at).values_list("pk", "extra")
                if (extra or {}).get("same_second", 0) > mine]
        return qs.filter(Q(created_at__gt=snapshot.created_at) | Q(pk__in=same))

    def older_than(self, when: datetime):
        return self.filter(created_at__lt=when)

