from django.db import models

from apps.core.models import CalypsoModel

__all__ = ["HostInventory"]


class HostInventory(CalypsoModel):
    """One collected snapshot of the host: CPU, memory, block devices, filesystems, tool versions."""

    hostname = models.CharField(max_length=255)
    data = models.JSONField(default=dict)
    job_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ("-id",)
        verbose_name_plural = "host inventories"
        permissions = [("collect_hostinventory", "Can collect the host inventory")]

    def __str__(self) -> str:
        return f"{self.hostname} at {self.created:%Y-%m-%d %H:%M}"
