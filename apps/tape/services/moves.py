"""Moving media in a library, as jobs: inventory, load, unload, transfer, import and export. One job at a time per
library (its lock key). Every number and barcode is checked against the library before a job is queued, so a
refusal names the field and no command runs; the changer then checks the move again itself."""

from __future__ import annotations

from collections.abc import Callable

from django.utils.translation import gettext as _

from apps.core.errors import BackendError, ServiceError
from apps.jobs import services as jobs
from apps.jobs.models import Job
from apps.jobs.registry import job_kind
from apps.jobs.runtime import JobContext

from ..backends import get_backend
from ..backends.base import validate_barcode
from ..backends.types import ChangerStatus
from ..choices import LibraryKind
from ..models import Library, Medium
from .inventory import moved, record_inventory, status_of

__all__ = ["Place", "check_barcode", "check_drive", "check_slot", "ensure_loaded", "move", "require_changer",
           "run_export", "run_import", "run_inventory", "run_load", "run_transfer", "run_unload", "start_export",
           "start_import", "start_inventory", "start_load", "start_transfer", "start_unload"]

Place = tuple[str, int]  # ("slot", 1-based number) or ("drive", 0-based number)


# ------------------------------------------------------------------ checks (request side)
def require_changer(library: Library) -> None:
    """Refused unless Calypso can drive the library's changer from this host."""
    if library.kind == LibraryKind.TGT:
        raise ServiceError("unsupported", _("The media of tgt library %(l)s are moved by the initiator logged in to "
                                            "it over iSCSI, not from this host.") % {"l": library.name})
    if not library.changer:
        raise ServiceError("no_changer", _("Library %(l)s has no changer device yet: run Discover or set its "
                                           "changer.") % {"l": library.name})


def check_slot(library: Library, value, field: str = "slot", *, import_export: bool | None = None) -> int:
    """A slot number of ``library`` (1 to its storage and import/export slots), of the kind asked."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= library.total_slots:
        raise ServiceError("invalid", _("Library %(l)s has slots 1 to %(n)s.") % {
            "l": library.name, "n": library.total_slots}, field=field)
    if import_export is True and value <= library.slots:
        raise ServiceError("invalid", _("Slot %(s)s is a storage slot; the import/export slots are %(a)s to %(b)s.")
                           % {"s": value, "a": library.slots + 1, "b": library.total_slots}, field=field)
    if import_export is False and value > library.slots:
        raise ServiceError("invalid", _("Slot %(s)s is an import/export slot; the storage slots are 1 to %(n)s.")
                           % {"s": value, "n": library.slots}, field=field)
    return value


def check_drive(library: Library, value, field: str = "drive") -> int:
    """A drive number of ``library`` (0 to its drives less one)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < library.drive_count:
        raise ServiceError("invalid", _("Library %(l)s has drives 0 to %(n)s.") % {
            "l": library.name, "n": library.drive_count - 1}, field=field)
    return value


def check_barcode(value, field: str = "barcode") -> str:
    """A barcode: 1-16 upper-case letters and digits, no spaces."""
    try:
        return validate_barcode(value)
    except BackendError as exc:
        raise ServiceError("invalid", str(exc), field=field) from exc


def _full(status: ChangerStatus, slot: int, field: str) -> None:
    if not (s := status.slot(slot)) or not s.full:
        raise ServiceError("invalid", _("Slot %(s)s is empty.") % {"s": slot}, field=field)


def _empty_slot(status: ChangerStatus, slot: int, field: str) -> None:
    if (s := status.slot(slot)) and s.full:
        raise ServiceError("invalid", _("Slot %(s)s holds %(b)s.") % {"s": slot, "b": s.barcode or "a medium"},
                           field=field)


def _empty_drive(status: ChangerStatus, drive: int, field: str = "drive") -> None:
    if (d := status.drive(drive)) and d.full:
        raise ServiceError("invalid", _("Drive %(d)s holds %(b)s.") % {"d": drive, "b": d.barcode or "a medium"},
                           field=field)


def _slot_of(library: Library, barcode: str, field: str = "barcode") -> int:
    medium = Medium.objects.filter(barcode=barcode, library=library, slot_number__isnull=False).first()
    if medium is None:
        raise ServiceError("invalid", _("No slot of %(l)s holds %(b)s (as of its last inventory).") % {
            "l": library.name, "b": barcode}, field=field)
    return medium.slot_number


def _free(status: ChangerStatus, numbers: range, what: str) -> int:
    free = next((n for n in numbers if not ((s := status.slot(n)) and s.full)), None)
    if free is None:
        raise ServiceError("no_free_slot", _("No %(w)s slot is free.") % {"w": what})
    return free


def _enqueue(kind: str, library: Library, actor, **params) -> Job:
    return jobs.enqueue(kind, target=library, user=actor, params=params, lock_key=library.lock_key)


# ------------------------------------------------------------------ request side
def start_inventory(library: Library, *, actor=None) -> Job:
    """Queue an inventory: ``mtx status`` into the library's slots, drives and media (new barcodes added)."""
    require_changer(library)
    return _enqueue("tape.library.inventory", library, actor)


def start_load(library: Library, *, actor=None, drive: int = 0, slot: int | None = None, barcode: str = "") -> Job:
    """Queue loading the medium in ``slot`` (or the one labelled ``barcode``) into ``drive``."""
    if barcode:
        check_barcode(barcode)
    if slot is not None:
        check_slot(library, slot)
    check_drive(library, drive)
    require_changer(library)
    if slot is None:
        if not barcode:
            raise ServiceError("invalid", _("Give the slot or the barcode of the medium to load."), field="slot")
        slot = _slot_of(library, barcode)
    status = status_of(library)
    _full(status, slot, "slot")
    _empty_drive(status, drive)
    return _enqueue("tape.library.load", library, actor, slot=slot, drive=drive)


def start_unload(library: Library, *, actor=None, drive: int = 0, slot: int | None = None) -> Job:
    """Queue putting the medium in ``drive`` back into ``slot`` (default: the slot it came from, else the first
    free storage slot)."""
    check_drive(library, drive)
    if slot is not None:
        check_slot(library, slot)
    require_changer(library)
    status = status_of(library)
    here = status.drive(drive)
    if here is None or not here.full:
        raise ServiceError("invalid", _("Drive %(d)s is empty.") % {"d": drive}, field="drive")
    if slot is None:
        source = here.source_slot
        slot = source if source and not (status.slot(source) and status.slot(source).full) else \
            _free(status, range(1, library.slots + 1), _("storage"))
    _empty_slot(status, slot, "slot")
    return _enqueue("tape.library.unload", library, actor, slot=slot, drive=drive)


def start_transfer(library: Library, *, actor=None, source: int, destination: int) -> Job:
    """Queue moving a medium from slot ``source`` to slot ``destination``."""
    check_slot(library, source, "source")
    check_slot(library, destination, "destination")
    if source == destination:
        raise ServiceError("invalid", _("The source and destination slots are the same."), field="destination")
    require_changer(library)
    status = status_of(library)
    _full(status, source, "source")
    _empty_slot(status, destination, "destination")
    return _enqueue("tape.library.transfer", library, actor, source=source, destination=destination)


def start_import(library: Library, *, actor=None, slot: int, destination: int | None = None) -> Job:
    """Queue taking the medium put in import/export ``slot`` into ``destination`` (default: the first free
    storage slot)."""
    check_slot(library, slot, import_export=True)
    if destination is not None:
        check_slot(library, destination, "destination", import_export=False)
    require_changer(library)
    status = status_of(library)
    _full(status, slot, "slot")
    destination = destination or _free(status, range(1, library.slots + 1), _("storage"))
    _empty_slot(status, destination, "destination")
    return _enqueue("tape.library.import", library, actor, source=slot, destination=destination)


def start_export(library: Library, *, actor=None, barcode: str = "", slot: int | None = None,
                 destination: int | None = None) -> Job:
    """Queue moving a medium (by ``barcode`` or storage ``slot``) to import/export slot ``destination`` (default:
    the first free one), where the operator takes it out."""
    if barcode:
        check_barcode(barcode)
    if slot is not None:
        check_slot(library, slot, import_export=False)
    if destination is not None:
        check_slot(library, destination, "destination", import_export=True)
    require_changer(library)
    if not library.ie_slots:
        raise ServiceError("no_import_export", _("Library %(l)s has no import/export slot.") % {"l": library.name})
    if slot is None:
        if not barcode:
            raise ServiceError("invalid", _("Give the barcode or the slot of the medium to export."), field="barcode")
        slot = _slot_of(library, barcode)
    status = status_of(library)
    _full(status, slot, "slot")
    destination = destination or _free(status, range(library.slots + 1, library.total_slots + 1),
                                       _("import/export"))
    _empty_slot(status, destination, "destination")
    return _enqueue("tape.library.export", library, actor, source=slot, destination=destination)


# ------------------------------------------------------------------ worker side
def _what(place: Place) -> str:
    return f"{place[0]} {place[1]}"


def move(ctx: JobContext, library: Library, source: Place, destination: Place) -> None:
    """Move one medium with mtx (checked against the rows first) and record where it went."""
    backend = get_backend(library, ctx.runner)
    status = status_of(library)
    if source[0] == "slot" and destination[0] == "drive":
        backend.load(library.changer, source[1], destination[1], status=status)
    elif source[0] == "drive" and destination[0] == "slot":
        backend.unload(library.changer, destination[1], source[1], status=status)
    else:
        backend.transfer(library.changer, source[1], destination[1], status=status)
    record_inventory(library, moved(status, source, destination), scanned=False)
    ctx.log.info(_("Moved the medium in %(a)s to %(b)s.") % {"a": _what(source), "b": _what(destination)})


def ensure_loaded(ctx: JobContext, library: Library, medium: Medium, drive: int) -> Callable[[], None]:
    """Load ``medium`` into ``drive`` unless it is there; returns what puts it back (an undo step until then)."""
    if medium.drive_number == drive and medium.library_id == library.pk:
        return lambda: None
    slot = medium.slot_number
    move(ctx, library, ("slot", slot), ("drive", drive))
    ctx.on_undo(f"unload {medium.barcode} from drive {drive} back to slot {slot}",
                lambda: move(ctx, library, ("drive", drive), ("slot", slot)))

    def put_back() -> None:
        move(ctx, library, ("drive", drive), ("slot", slot))
        ctx.forget_undo()

    return put_back


@job_kind("tape.library.inventory", "Tape library inventory")
def run_inventory(ctx: JobContext, library: Library) -> dict:
    """Worker side: ``mtx status`` written into the rows."""
    status = get_backend(library, ctx.runner).inventory(library.changer)
    counts = record_inventory(library, status)
    ctx.log.info(_("%(m)s media in %(s)s slots and %(d)s drives; %(n)s new barcodes.") % {
        "m": counts["media"], "s": counts["slots"], "d": counts["drives"], "n": counts["new_media"]})
    return counts


@job_kind("tape.library.load", "Load a tape")
def run_load(ctx: JobContext, library: Library, *, slot: int, drive: int) -> dict:
    """Worker side: the medium in ``slot`` into ``drive``."""
    move(ctx, library, ("slot", slot), ("drive", drive))
    return {"slot": slot, "drive": drive}


@job_kind("tape.library.unload", "Unload a tape")
def run_unload(ctx: JobContext, library: Library, *, slot: int, drive: int) -> dict:
    """Worker side: the medium in ``drive`` into ``slot``."""
    move(ctx, library, ("drive", drive), ("slot", slot))
    return {"slot": slot, "drive": drive}


@job_kind("tape.library.transfer", "Move a tape between slots")
def run_transfer(ctx: JobContext, library: Library, *, source: int, destination: int) -> dict:
    """Worker side: the medium in slot ``source`` into slot ``destination``."""
    move(ctx, library, ("slot", source), ("slot", destination))
    return {"source": source, "destination": destination}


@job_kind("tape.library.import", "Import a tape")
def run_import(ctx: JobContext, library: Library, *, source: int, destination: int) -> dict:
    """Worker side: from the import/export slot into a storage slot."""
    return run_transfer(ctx, library, source=source, destination=destination)


@job_kind("tape.library.export", "Export a tape")
def run_export(ctx: JobContext, library: Library, *, source: int, destination: int) -> dict:
    """Worker side: from a storage slot into an import/export slot."""
    return run_transfer(ctx, library, source=source, destination=destination)

