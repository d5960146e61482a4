"""``GET /metrics``: the appliance's state in the Prometheus text exposition format.

Every value comes from the database (the inventory that sync and the jobs keep current), read in a fixed
handful of aggregate queries: the query count does not grow with the number of pools, datasets or jobs, and a
scrape never runs a host command. The format is prometheus_client's own: a Collector on a private
CollectorRegistry, rendered by ``generate_latest``.

Access: the portal's API tokens (``Authorization: Bearer cal_<id>.<secret>``, or ``Token``) of an active user
who holds the model permission to view storage pools (every role has it). Without a valid token the answer is
401 with ``WWW-Authenticate: Bearer``; a valid token without the permission is 403.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Iterator
from datetime import timedelta

import django
from django.conf import settings
from django.db.models import Count
from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.core import CollectorRegistry, GaugeMetricFamily, InfoMetricFamily, SummaryMetricFamily
from prometheus_client.registry import Collector
from rest_framework import permissions
from rest_framework.views import APIView

from apps.accounts.authentication import TokenAuthentication
from apps.core.permissions import allowed
from apps.jobs.choices import JobState
from apps.jobs.models import Job
from apps.storage.choices import EventKind, PoolHealth
from apps.storage.models import Dataset, Pool, StorageEvent

from .choices import AlertState, DiskHealth, Severity
from .models import Alert, Disk

__all__ = ["CONTENT_TYPE", "CalypsoCollector", "CanViewPools", "MetricsView", "ScrapeTokenAuthentication", "registry",
           "render"]

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4  # the text format every Prometheus version reads
SCRAPE_PERMISSION = "storage.view_pool"
# The summary of job durations covers this many most recently finished jobs.
RECENT_JOBS = 100
# The disk inventory's SMART readings: gauge -> (Disk field, multiplier and divisor to the base unit, help).
DISK_GAUGES = {
    "calypso_disk_capacity_bytes": ("capacity_bytes", 1, 1, "Drive capacity."),
    "calypso_disk_temperature_celsius": ("temperature_c", 1, 1, "Drive temperature (SMART)."),
    "calypso_disk_power_on_seconds": ("power_on_hours", 3600, 1, "Power-on time (SMART power-on hours)."),
    "calypso_disk_reallocated_sectors": ("reallocated_sectors", 1, 1, "ATA: reallocated sectors (attribute 5)."),
    "calypso_disk_pending_sectors": ("pending_sectors", 1, 1, "ATA: sectors pending reallocation (attribute 197)."),
    "calypso_disk_offline_uncorrectable_sectors": ("offline_uncorrectable", 1, 1,
                                                   "ATA: offline uncorrectable sectors (attribute 198)."),
    "calypso_disk_udma_crc_errors": ("udma_crc_errors", 1, 1, "ATA: interface CRC errors (attribute 199)."),
    "calypso_disk_media_errors": ("media_errors", 1, 1, "NVMe: media and data integrity errors."),
    "calypso_disk_endurance_used_ratio": ("percentage_used", 1, 100, "NVMe: endurance used (0..1, may exceed 1)."),
    "calypso_disk_available_spare_ratio": ("available_spare", 1, 100, "NVMe: spare capacity left (0..1)."),
    "calypso_disk_grown_defects": ("grown_defects", 1, 1, "SCSI/SAS: elements in the grown defect list."),
    "calypso_disk_uncorrected_errors": ("uncorrected_errors", 1, 1, "SCSI/SAS: errors the drive could not correct."),
}
DISK_LABELS = {"disk": "name", "model": "model", "serial": "serial"}  # label -> Disk field


def _gauge(name: str, documentation: str, labels: Iterable[str] = ()) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, documentation, labels=list(labels))


class CalypsoCollector(Collector):
    """Reads the inventory on each collect(); one instance is registered on the module's registry."""

    def collect(self) -> Iterator:
        yield GaugeMetricFamily("calypso_up", "1 when the portal answered the scrape.", value=1)
        yield from self._build_info()
        yield from self._pools()
        yield from self._datasets()
        yield from self._jobs()
        yield from self._events()
        yield from self._disks()
        yield from self._alerts()

    @staticmethod
    def _build_info() -> Iterator:
        info = InfoMetricFamily("calypso_build", "Versions of the portal and its runtime.")
        info.add_metric([], {"version": settings.VERSION, "django": django.get_version(),
                             "python": platform.python_version()})
        yield info

    @staticmethod
    def _pools() -> Iterator:
        labels = ("pool", "backend")
        size = _gauge("calypso_pool_size_bytes", "Pool size.", labels)
        allocated = _gauge("calypso_pool_allocated_bytes", "Space allocated in the pool.", labels)
        free = _gauge("calypso_pool_free_bytes", "Free space in the pool.", labels)
        capacity = _gauge("calypso_pool_capacity_ratio", "Allocated / size (0..1).", labels)
        fragmentation = _gauge("calypso_pool_fragmentation_ratio", "ZFS free-space fragmentation (0..1).", labels)
        checksum = _gauge("calypso_pool_checksum_errors", "Checksum errors summed over the pool's devices.", labels)
        scan_errors = _gauge("calypso_pool_scan_errors", "Errors found by the last scrub or resilver.", labels)
        imported = _gauge("calypso_pool_imported", "1 while the host reports the pool, 0 once it is gone.", labels)
        health = _gauge("calypso_pool_health", "1 for the pool's current health state, 0 for the others.",
                        (*labels, "state"))
        states = [value for value, _ in PoolHealth.choices]
        rows = Pool.objects.order_by("backend", "name").values_list(
            "name", "backend", "health", "gone", "size_bytes", "allocated_bytes", "free_bytes", "capacity_percent",
            "fragmentation_percent", "checksum_errors", "scan_errors")
        for name, backend, state, gone, size_b, alloc_b, free_b, cap_pct, frag_pct, cksum, scan_err in rows:
            values = [name, backend]
            imported.add_metric(values, 0 if gone else 1)
            for each in states:
                health.add_metric([*values, each], 1 if each == state else 0)
            if gone:
                continue  # the last reported sizes of a pool that is no longer there would mislead
            for family, value in ((size, size_b), (allocated, alloc_b), (free, free_b)):
                if value is not None:
                    family.add_metric(values, value)
            if size_b and alloc_b is not None:
                capacity.add_metric(values, alloc_b / size_b)
            elif cap_pct is not None:
                capacity.add_metric(values, cap_pct / 100)
            if frag_pct is not None:
                fragmentation.add_metric(values, frag_pct / 100)
            checksum.add_metric(values, cksum)
            scan_errors.add_metric(values, scan_err)
        yield from (size, allocated, free, capacity, fragmentation, checksum, scan_errors, imported, health)

    @staticmethod
    def _datasets() -> Iterator:
        labels = ("pool", "dataset", "kind")
        used = _gauge("calypso_dataset_used_bytes", "Space used by the dataset and its descendants.", labels)
        available = _gauge("calypso_dataset_available_bytes", "Space available to the dataset.", labels)
        referenced = _gauge("calypso_dataset_referenced_bytes", "Data the dataset references.", labels)
        rows = (Dataset.objects.filter(gone=False, pool__gone=False).order_by("pool__name", "name")
                .values_list("pool__name", "name", "kind", "used_bytes", "available_bytes", "referenced_bytes"))
        for pool, name, kind, used_b, avail_b, ref_b in rows:
            for family, value in ((used, used_b), (available, avail_b), (referenced, ref_b)):
                if value is not None:
                    family.add_metric([pool, name, kind], value)
        yield from (used, available, referenced)

    @staticmethod
    def _jobs() -> Iterator:
        jobs = _gauge("calypso_jobs", "Jobs kept in the portal's history, by kind and state.", ("kind", "state"))
        running = _gauge("calypso_jobs_running", "Jobs running now (including rolling back).")
        counts = Job.objects.order_by().values_list("kind", "state").annotate(n=Count("id")).order_by("kind", "state")
        active = 0
        for kind, state, n in counts:
            jobs.add_metric([kind, state], n)
            if state in (JobState.RUNNING, JobState.ROLLING_BACK):
                active += n
        running.add_metric([], active)
        yield jobs
        yield running
        durations: dict[str, list[float]] = {}
        recent = (Job.objects.filter(started__isnull=False, finished__isnull=False).order_by("-finished")
                  .values_list("kind", "started", "finished")[:RECENT_JOBS])
        for kind, started, finished in recent:
            durations.setdefault(kind, []).append(max(finished - started, timedelta(0)).total_seconds())
        summary = SummaryMetricFamily("calypso_job_duration_seconds",
                                      f"Run time of the {RECENT_JOBS} most recently finished jobs, by kind.",
                                      labels=["kind"])
        for kind in sorted(durations):
            summary.add_metric([kind], count_value=len(durations[kind]), sum_value=sum(durations[kind]))
        yield summary

    @staticmethod
    def _events() -> Iterator:
        family = _gauge("calypso_storage_events_unacknowledged", "Storage events not acknowledged yet, by kind.",
                        ("kind",))
        counts = dict(StorageEvent.objects.filter(acknowledged=False).order_by().values("kind")
                      .annotate(n=Count("id")).values_list("kind", "n"))
        for kind in sorted({value for value, _ in EventKind.choices} | set(counts)):
            family.add_metric([kind], counts.get(kind, 0))
        yield family

    @staticmethod
    def _disks() -> Iterator:
        """The disk inventory's SMART readings (one query)."""
        labels = list(DISK_LABELS)
        families = {name: _gauge(name, spec[3], labels) for name, spec in DISK_GAUGES.items()}
        health = _gauge("calypso_disk_health", "1 for the disk's SMART health verdict, 0 for the others.",
                        (*labels, "state"))
        columns = [*DISK_LABELS.values(), *(spec[0] for spec in DISK_GAUGES.values()), "health"]
        count = 0
        for row in Disk.objects.filter(gone=False).order_by("name").values(*columns):
            count += 1
            values = [row[field] or "" for field in DISK_LABELS.values()]
            for name, (field, multiplier, divisor, _) in DISK_GAUGES.items():
                if row[field] is not None:
                    families[name].add_metric(values, row[field] * multiplier / divisor)
            for state in DiskHealth.values:
                health.add_metric([*values, state], 1 if state == row["health"] else 0)
        disks = _gauge("calypso_disks", "Disks in the inventory (not gone).")
        disks.add_metric([], count)
        yield disks
        yield from families.values()
        yield health

    @staticmethod
    def _alerts() -> Iterator:
        """Open alerts: a count per state and severity, and one series per alert (one query)."""
        counts = _gauge("calypso_alerts", "Open alerts by state and severity.", ("state", "severity"))
        each = _gauge("calypso_alert", "1 for each firing or acknowledged alert.", ("rule", "subject", "severity",
                                                                                    "state"))
        tally = dict.fromkeys(((st, sev) for st in (AlertState.PENDING, AlertState.FIRING, AlertState.ACKNOWLEDGED)
                               for sev in Severity.values), 0)
        rows = Alert.objects.exclude(state=AlertState.RESOLVED).order_by("rule__name", "subject")
        for rule, subject, severity, state in rows.values_list("rule__name", "subject", "severity", "state"):
            tally[state, severity] = tally.get((state, severity), 0) + 1
            if state != AlertState.PENDING:
                each.add_metric([rule, subject, severity, state], 1)
        for (state, severity), n in tally.items():
            counts.add_metric([str(state), str(severity)], n)
        yield counts
        yield each


registry = CollectorRegistry(auto_describe=False)
registry.register(CalypsoCollector())


def render() -> bytes:
    """The exposition of the current state (also what the view serves)."""
    return generate_latest(registry)


class ScrapeTokenAuthentication(TokenAuthentication):
    """The portal's API tokens; a refused scrape is told to send a bearer token."""

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="calypso"'


class CanViewPools(permissions.BasePermission):
    message = f"The token's user needs the {SCRAPE_PERMISSION} permission (any role has it)."

    def has_permission(self, request, view) -> bool:
        return allowed(request.user, SCRAPE_PERMISSION)


class MetricsView(APIView):
    """Prometheus scrape endpoint (not part of the JSON API: excluded from the schema)."""

    authentication_classes = (ScrapeTokenAuthentication,)
    permission_classes = (CanViewPools,)

    def perform_content_negotiation(self, request, force=False):
        # A scraper asks for text; the success answer is not rendered by DRF, errors fall back to JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(exclude=True)
    def get(self, request):
        response = HttpResponse(render(), content_type=CONTENT_TYPE)
        response["Cache-Control"] = "no-store"
        return response
