"""A changer's inventory in the database: ``mtx status`` (or the result of a move Calypso made) written into the
library's slot, drive and medium rows, and those rows read back as the ``ChangerStatus`` the next move is
checked against."""

from __future__ import annotations

from dataclasses import replace

from django.db import transaction
from django.utils import timezone

from ..backends.types import ChangerDrive, ChangerSlot, ChangerStatus
from ..choices import LibraryKind, MediumKind, MediumState
from ..models import Drive, Library, Medium, Slot

__all__ = ["moved", "record_inventory", "status_of"]


def status_of(library: Library) -> ChangerStatus:
    """The library as its rows last saw it (slots without a row are empty)."""
    slots = {s.number: s for s in Slot.objects.filter(library=library)}
    drives = {d.number: d for d in Drive.objects.filter(library=library).select_related("medium")}
    first_ie = library.slots + 1
    return ChangerStatus(
        device=library.changer, drive_count=library.drive_count, slot_count=library.total_slots,
        import_export_count=library.ie_slots,
        drives=tuple(ChangerDrive(n, bool(d and d.medium_id), d.source_slot if d else None,
                                  d.medium.barcode if d and d.medium_id else "")
                     for n in range(library.drive_count) for d in [drives.get(n)]),
        slots=tuple(ChangerSlot(n, bool(s and s.full), s.barcode if s else "", n >= first_ie)
                    for n in range(1, library.total_slots + 1) for s in [slots.get(n)]))


def moved(status: ChangerStatus, source: tuple[str, int], destination: tuple[str, int]) -> ChangerStatus:
    """``status`` after the medium at ``source`` went to ``destination`` (each ("slot"|"drive", number))."""
    barcode = _at(status, source)
    slots, drives = list(status.slots), list(status.drives)
    for kind, number, full in ((*source, False), (*destination, True)):
        code = barcode if full else ""
        if kind == "slot":
            slots = [replace(s, full=full, barcode=code) if s.number == number else s for s in slots]
        else:
            origin = source[1] if full and source[0] == "slot" else None
            drives = [replace(d, full=full, barcode=code, source_slot=origin) if d.number == number else d
                      for d in drives]
    return replace(status, slots=tuple(slots), drives=tuple(drives))


def _at(status: ChangerStatus, where: tuple[str, int]) -> str:
    kind, number = where
    element = status.slot(number) if kind == "slot" else status.drive(number)
    return element.barcode if element is not None else ""


def _medium(barcode: str, library: Library) -> tuple[Medium | None, bool]:
    if not barcode:
        return None, False
    return Medium.objects.get_or_create(barcode=barcode, defaults={
        "library": library, "kind": MediumKind.CLEAN if barcode.startswith("CLN") else MediumKind.DATA,
        "state": MediumState.UNKNOWN})


@transaction.atomic
def record_inventory(library: Library, status: ChangerStatus, *, scanned: bool = True) -> dict[str, int]:
    """Write ``status`` into the library's rows: every slot and drive, a medium row for each new barcode, and
    where each medium is now (those no longer seen leave the library). Returns counts."""
    seen: dict[int, tuple[int | None, int | None]] = {}
    new = 0
    for element in status.slots:
        medium, created = _medium(element.barcode, library) if element.full else (None, False)
        new += created
        Slot.objects.update_or_create(library=library, number=element.number, defaults={
            "import_export": element.import_export, "full": element.full, "barcode": element.barcode,
            "medium": medium})
        if medium is not None:
            seen[medium.pk] = (element.number, None)
    for element in status.drives:
        medium, created = _medium(element.barcode, library) if element.full else (None, False)
        new += created
        Drive.objects.update_or_create(library=library, number=element.number, defaults={
            "medium": medium, "source_slot": element.source_slot if element.full else None})
        if medium is not None:
            seen[medium.pk] = (None, element.number)
    Slot.objects.filter(library=library, number__gt=status.slot_count).delete()
    Drive.objects.filter(library=library, number__gte=max(status.drive_count, len(status.drives))).delete()
    Medium.objects.filter(library=library).exclude(pk__in=seen).update(library=None, slot_number=None,
                                                                       drive_number=None)
    for pk, (slot, drive) in seen.items():
        Medium.objects.filter(pk=pk).update(library=library, slot_number=slot, drive_number=drive)
    fields = {"present": True, "last_error": ""}
    if scanned:
        fields["last_inventory_at"] = timezone.now()
    if scanned and library.kind == LibraryKind.PHYSICAL and status.slot_count:
        fields.update(slots=max(status.slot_count - status.import_export_count, 1),
                      ie_slots=status.import_export_count, drive_count=max(status.drive_count, 1))
    Library.objects.filter(pk=library.pk).update(**fields)
    return {"slots": len(status.slots), "drives": len(status.drives), "media": len(seen), "new_media": new}
