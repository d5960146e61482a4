"""A drive's status (``mt status``) and TapeAlert flags (``sg_logs -p 0x2e``), and cleaning it with a cleaning
cartridge of its library. A warning or critical TapeAlert flag becomes a storage event when it is set, once
while it stays set."""

from __future__ import annotations

import time

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import BackendError, ServiceError
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext
from apps.storage.choices import EventKind
from apps.storage.models import StorageEvent

from ..backends import get_backend
from ..backends.types import TapeAlert
from ..choices import MediumKind
from ..models import Drive, Medium
from .moves import check_barcode, ensure_loaded, require_changer

__all__ = ["CLEANING_FLAGS", "EVENT_SEVERITIES", "record_alerts", "run_clean", "run_drive_status", "start_clean",
           "start_drive_status"]

EVENT_SEVERITIES = ("warning", "critical")
CLEANING_FLAGS = (0x14, 0x15)  # clean now, clean periodic


def _device(drive: Drive) -> None:
    require_changer(drive.library)
    if not drive.device:
        raise ServiceError("no_device", _("%(d)s has no device node yet: run Discover.") % {"d": drive})


def start_drive_status(drive: Drive, *, actor=None) -> Job:
    """Queue reading the drive's status and TapeAlert flags."""
    _device(drive)
    return jobs.enqueue("tape.drive.status", target=drive, user=actor, lock_key=drive.lock_key)


def record_alerts(drive: Drive, alerts: tuple[TapeAlert, ...]) -> list[int]:
    """Store the flags set now; a storage event for each warning or critical one that was not set before."""
    before = {a.get("code") for a in drive.tapealerts or [] if isinstance(a, dict)}
    new = [a for a in alerts if a.severity in EVENT_SEVERITIES and a.code not in before]
    for alert in new:
        StorageEvent.objects.create(
            pool=None, kind=EventKind.TAPE_ALERT, severity=alert.severity,
            message=_("%(d)s: TapeAlert %(c)02Xh %(n)s") % {"d": drive, "c": alert.code, "n": alert.name},
            details={"library": drive.library.name, "drive": drive.number, "code": alert.code, "name": alert.name,
                     "severity": alert.severity})
    drive.tapealerts = [{"code": a.code, "name": a.name, "severity": a.severity, "text": a.text} for a in alerts]
    return [a.code for a in new]


@job_kind("tape.drive.status", "Read a tape drive's status")
def run_drive_status(ctx: JobContext, drive: Drive) -> dict:
    """Worker side: mt status, then the TapeAlert page; storage events for new warning and critical flags."""
    backend = get_backend(drive.library, ctx.runner)
    status = backend.tape_status(drive.device)
    drive.online, drive.write_protected, drive.at_bot = status.loaded, status.write_protected, status.at_bot
    drive.density = status.density or (f"0x{status.density_code:02x}" if status.density_code is not None else "")
    drive.last_error = ""
    try:
        alerts = backend.tape_alerts(drive.sg_device or drive.device)
    except BackendError as exc:
        ctx.log.warning(_("The TapeAlert page could not be read: %(e)s") % {"e": exc.message})
        drive.last_error, alerts, new = exc.message, (), []
    else:
        new = record_alerts(drive, alerts)
    drive.needs_cleaning = status.needs_cleaning or any(a.code in CLEANING_FLAGS for a in alerts)
    drive.checked_at = timezone.now()
    drive.save()
    return {"online": drive.online, "needs_cleaning": drive.needs_cleaning,
            "alerts": [a["code"] for a in drive.tapealerts], "new_alerts": new}


def _cartridge(drive: Drive, barcode: str) -> Medium:
    media = Medium.objects.filter(library=drive.library, kind=MediumKind.CLEAN, slot_number__isnull=False)
    if barcode:
        media = media.filter(barcode=check_barcode(barcode))
    cartridge = next((m for m in media.order_by("slot_number") if m.cleaning_uses_left != 0), None)
    if cartridge is None:
        raise ServiceError("no_cleaning_cartridge", _("No cleaning cartridge with uses left is in a slot of "
                                                      "%(l)s.") % {"l": drive.library}, field="barcode" if barcode
                           else None)
    return cartridge


def start_clean(drive: Drive, *, actor=None, barcode: str = "") -> Job:
    """Queue cleaning the drive: a cleaning cartridge of its library (``barcode``, or the first with uses
    left) is loaded, left while the drive cleans, and put back."""
    if barcode:
        check_barcode(barcode)
    require_changer(drive.library)
    if drive.medium_id is not None:
        raise ServiceError("drive_full", _("%(d)s holds %(b)s: unload it first.") % {"d": drive, "b": drive.medium})
    cartridge = _cartridge(drive, barcode)
    return jobs.enqueue("tape.drive.clean", target=drive, user=actor, lock_key=drive.lock_key,
                        params={"cartridge": cartridge.pk})


@job_kind("tape.drive.clean", "Clean a tape drive")
def run_clean(ctx: JobContext, drive: Drive, *, cartridge: int) -> dict:
    """Worker side: load the cleaning cartridge, wait while the drive cleans, put it back, count the use."""
    medium = Medium.objects.get(pk=cartridge)
    put_back = ensure_loaded(ctx, drive.library, medium, drive.number)
    wait = float(settings.CALYPSO_TAPE_CLEAN_WAIT_S)
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < wait:
        ctx.progress(min(99.0, 100 * elapsed / wait), _("Cleaning %(d)s") % {"d": drive})
        time.sleep(min(1.0, wait - elapsed))
    put_back()
    left = None if medium.cleaning_uses_left is None else max(medium.cleaning_uses_left - 1, 0)
    Medium.objects.filter(pk=medium.pk).update(cleaning_uses_left=left)
    Drive.objects.filter(pk=drive.pk).update(needs_cleaning=False)
    ctx.log.info(_("Cleaned with %(b)s.") % {"b": medium.barcode})
    return {"cartridge": medium.barcode, "uses_left": left}
