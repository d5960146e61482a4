"""Every metric Calypso records, named once: what it measures, its unit and what its subject is (a pool, a
disk, a dataset, a network interface, or nothing for the host). Rules, charts, the API and the collector
all read this table."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

__all__ = ["EVENT_KINDS", "METRICS", "METRIC_CHOICES", "RANGES", "Metric", "metric_choices"]


@dataclass(frozen=True)
class Metric:
    name: str
    label: str
    unit: str = ""  # "%", "bytes", "B/s", "°C", "ops/s", "s" or a count
    subject: str = ""  # "pool", "disk", "dataset", "interface" or "" (the host)


_ALL = (
    Metric("host.cpu_pct", _("CPU busy"), "%"),
    Metric("host.load1", _("Load (1 min)")),
    Metric("host.mem_used_pct", _("Memory used"), "%"),
    Metric("host.mem_used_bytes", _("Memory used"), "bytes"),
    Metric("host.net_rx_bps", _("Network received"), "B/s"),
    Metric("host.net_tx_bps", _("Network sent"), "B/s"),
    Metric("host.disk_read_bps", _("Disk reads"), "B/s"),
    Metric("host.disk_write_bps", _("Disk writes"), "B/s"),
    Metric("net.rx_bps", _("Received"), "B/s", "interface"),
    Metric("net.tx_bps", _("Sent"), "B/s", "interface"),
    Metric("pool.capacity_pct", _("Pool capacity used"), "%", "pool"),
    Metric("pool.used_bytes", _("Pool space used"), "bytes", "pool"),
    Metric("pool.size_bytes", _("Pool size"), "bytes", "pool"),
    Metric("pool.unhealthy", _("Pool not healthy (0 online, 1 degraded, 2 faulted or unavailable)"), "", "pool"),
    Metric("pool.read_bps", _("Pool reads"), "B/s", "pool"),
    Metric("pool.write_bps", _("Pool writes"), "B/s", "pool"),
    Metric("pool.read_ops", _("Pool read operations"), "ops/s", "pool"),
    Metric("pool.write_ops", _("Pool write operations"), "ops/s", "pool"),
    Metric("pool.device_errors", _("Device errors (read, write, checksum; Btrfs device stats)"), "", "pool"),
    Metric("dataset.used_bytes", _("Dataset space used"), "bytes", "dataset"),
    Metric("disk.read_bps", _("Disk reads"), "B/s", "disk"),
    Metric("disk.write_bps", _("Disk writes"), "B/s", "disk"),
    Metric("disk.temperature_c", _("Disk temperature"), "°C", "disk"),
    Metric("disk.failed", _("SMART verdict failing (1)"), "", "disk"),
    Metric("disk.reallocated_sectors", _("Reallocated sectors"), "", "disk"),
    Metric("disk.pending_sectors", _("Pending sectors"), "", "disk"),
    Metric("disk.offline_uncorrectable", _("Offline uncorrectable sectors"), "", "disk"),
    Metric("disk.udma_crc_errors", _("UDMA CRC errors"), "", "disk"),
    Metric("disk.media_errors", _("NVMe media errors"), "", "disk"),
    Metric("disk.percentage_used", _("NVMe endurance used"), "%", "disk"),
    Metric("disk.available_spare", _("NVMe available spare"), "%", "disk"),
    Metric("disk.grown_defects", _("Grown defects (SCSI)"), "", "disk"),
    Metric("jobs.running", _("Jobs running")),
    Metric("jobs.queued", _("Jobs queued")),
    Metric("jobs.failed", _("Jobs failed since the last reading")),
    Metric("jobs.finished", _("Jobs finished since the last reading")),
    Metric("jobs.duration_s", _("Mean duration of the jobs finished since the last reading"), "s"),
)
METRICS: dict[str, Metric] = {m.name: m for m in _ALL}
# The ranges a chart offers, in seconds back from now.
RANGES = {"1h": 3600, "6h": 6 * 3600, "24h": 86400, "7d": 7 * 86400, "30d": 30 * 86400, "90d": 90 * 86400,
          "1y": 365 * 86400, "2y": 730 * 86400}

# What an event rule can follow: the storage events, and jobs that failed.
EVENT_KINDS = (
    ("health_changed", _("Pool health changed")),
    ("checksum_errors", _("New checksum errors")),
    ("scrub_errors", _("Scrub found errors")),
    ("capacity_80", _("Pool capacity above 80 %")),
    ("capacity_90", _("Pool capacity above 90 %")),
    ("pool_gone", _("Pool disappeared")),
    ("sync_failed", _("Storage could not be read")),
    ("backup_failed", _("Backup failed, overdue or restore drill failed")),
    ("job_failed", _("Job failed")),
)


def metric_choices() -> list[tuple[str, str]]:
    return [(m.name, f"{m.name} ({m.label})") for m in _ALL]


METRIC_CHOICES = metric_choices()  # the API schema's one enum of metric names
