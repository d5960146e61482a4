"""Media pools and media as resources, and the jobs that write on a medium: label (an ANSI VOL1 record) and
erase. A medium in a slot is loaded first and put back after; if a step fails, it is put back all the same."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.core.errors import ServiceError
from apps.core.resources import ResourceService
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext

from ..backends import get_backend
from ..backends.labels import VOL1_SIZE, vol1_record
from ..choices import MediumKind, MediumState
from ..models import Drive, Library, MediaPool, Medium
from .moves import check_drive, ensure_loaded, require_changer, status_of

__all__ = ["MEDIA", "POOLS", "MediumService", "PoolService", "label_path", "run_erase", "run_label", "start_erase",
           "start_label"]


class PoolService(ResourceService[MediaPool]):
    model = MediaPool
    fields = ("name", "description", "retention_days")


class MediumService(ResourceService[Medium]):
    """A medium registered by hand (a cartridge on the shelf); those in a library come from its inventory."""

    model = Medium
    fields = ("barcode", "kind", "pool", "cleaning_uses_left", "description")

    def check(self, obj: Medium) -> dict[str, list[str]]:
        if obj.pk is not None and Medium.objects.filter(pk=obj.pk).exclude(barcode=obj.barcode).exists():
            return {"barcode": [_("A medium's barcode is printed on it: it cannot change.")]}
        return {}

    def retire(self, obj: Medium) -> None:
        if obj.library_id is not None:
            raise ServiceError("in_library", _("%(b)s is in library %(l)s: export it first.") % {
                "b": obj.barcode, "l": obj.library})


POOLS, MEDIA = PoolService(), MediumService()


# ------------------------------------------------------------------ request side
def _drive_for(medium: Medium, drive: int | None) -> Drive:
    library = medium.library
    if library is None:
        raise ServiceError("outside", _("%(b)s is not in a library.") % {"b": medium.barcode})
    require_changer(library)
    if medium.drive_number is not None:
        if drive is not None and drive != medium.drive_number:
            raise ServiceError("invalid", _("%(b)s is in drive %(d)s.") % {"b": medium.barcode,
                                                                             "d": medium.drive_number}, field="drive")
        drive = medium.drive_number
    elif drive is None:
        status = status_of(library)
        drive = next((d.number for d in status.drives if not d.full), None)
        if drive is None:
            raise ServiceError("no_free_drive", _("Every drive of %(l)s holds a medium.") % {"l": library.name})
    else:
        check_drive(library, drive)
        if (d := status_of(library).drive(drive)) and d.full:
            raise ServiceError("invalid", _("Drive %(d)s holds %(b)s.") % {"d": drive, "b": d.barcode}, field="drive")
    row = Drive.objects.filter(library=library, number=drive).first()
    if row is None or not row.device:
        raise ServiceError("no_device", _("Drive %(d)s of %(l)s has no device node yet: run Discover.") % {
            "d": drive, "l": library.name}, field="drive")
    return row


def _data(medium: Medium) -> None:
    if medium.kind != MediumKind.DATA:
        raise ServiceError("cleaning_cartridge", _("%(b)s is a cleaning cartridge.") % {"b": medium.barcode})


def start_label(medium: Medium, *, actor=None, pool: MediaPool | None = None, drive: int | None = None) -> Job:
    """Queue writing an ANSI VOL1 label for the medium's barcode at the start of the tape (what it held is lost
    to readers that look for a label), and put it in ``pool``."""
    _data(medium)
    row = _drive_for(medium, drive)
    return jobs.enqueue("tape.medium.label", target=medium, user=actor, lock_key=medium.lock_key,
                        params={"drive": row.number, "pool": pool.pk if pool is not None else None})


def start_erase(medium: Medium, *, actor=None, quick: bool = False, drive: int | None = None) -> Job:
    """Queue erasing the medium (``mt erase``): everything on it is lost."""
    _data(medium)
    row = _drive_for(medium, drive)
    return jobs.enqueue("tape.medium.erase", target=medium, user=actor, lock_key=medium.lock_key,
                        params={"drive": row.number, "quick": bool(quick)})


# ------------------------------------------------------------------ worker side
def label_path(barcode: str) -> Path:
    """Where the VOL1 record of ``barcode`` is written before dd copies it to the tape."""
    return Path(settings.RUN_DIR) / "tape" / f"vol1-{barcode}"


def _in_drive(medium: Medium | None, drive: int) -> tuple[Library, Drive]:
    if medium is None or medium.library is None:
        raise ServiceError("outside", _("The medium is no longer in a library."))
    return medium.library, Drive.objects.get(library=medium.library, number=drive)


@job_kind("tape.medium.label", "Label a tape")
def run_label(ctx: JobContext, medium: Medium, *, drive: int, pool: int | None = None) -> dict:
    """Worker side: load if needed, rewind, write the VOL1 record and a filemark, put the medium back."""
    library, row = _in_drive(medium, drive)
    backend = get_backend(library, ctx.runner)
    put_back = ensure_loaded(ctx, library, medium, drive)
    backend.rewind(row.device)
    path = label_path(medium.barcode)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_bytes(vol1_record(medium.barcode))
    try:
        backend.write_record(row.device, str(path), VOL1_SIZE)
    finally:
        path.unlink(missing_ok=True)
    backend.write_filemark(row.device)
    ctx.log.info(_("Wrote the VOL1 label of %(b)s.") % {"b": medium.barcode})
    put_back()
    Medium.objects.filter(pk=medium.pk).update(state=MediumState.LABELLED, pool_id=pool, labelled_at=timezone.now())
    return {"barcode": medium.barcode, "pool": pool}


@job_kind("tape.medium.erase", "Erase a tape", retryable=False)
def run_erase(ctx: JobContext, medium: Medium, *, drive: int, quick: bool = False) -> dict:
    """Worker side: load if needed, rewind, ``mt erase``, put the medium back."""
    library, row = _in_drive(medium, drive)
    backend = get_backend(library, ctx.runner)
    put_back = ensure_loaded(ctx, library, medium, drive)
    backend.rewind(row.device)
    ctx.progress(10, _("Erasing %(b)s") % {"b": medium.barcode})
    backend.erase(row.device, quick=quick)
    ctx.log.info(_("Erased %(b)s.") % {"b": medium.barcode})
    put_back()
    Medium.objects.filter(pk=medium.pk).update(state=MediumState.ERASED, pool=None, labelled_at=None)
    return {"barcode": medium.barcode, "quick": quick}
