"""Mount every managed Btrfs filesystem that is not mounted (``make run`` runs this at start)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from apps.storage.services import mount_registered_btrfs


class Command(BaseCommand):
    help = "Mount each managed Btrfs filesystem that is not mounted, by its UUID, at its mountpoint."

    def handle(self, *args, **options) -> None:
        for line in mount_registered_btrfs():
            self.stdout.write(line)
