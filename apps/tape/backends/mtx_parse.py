"""Pure parser of ``mtx -f /dev/sgN status`` (mtx 1.3.x). No I/O, no Django.

mtx numbers drives from 0 and storage elements from 1, import/export elements after the storage slots, and
counts them among the slots ("37 Slots ( 4 Import/Export )"). A drive's volume tag is printed
``:VolumeTag = X`` and a slot's ``:VolumeTag=X``; some changers print an empty tag on an empty slot.
"""

from __future__ import annotations

import re

from apps.core.errors import ParseError, lines, parser

from .types import ChangerDrive, ChangerSlot, ChangerStatus

__all__ = ["MAX_ELEMENTS", "parse_mtx_status"]

MAX_ELEMENTS = 1 << 20  # more elements than any changer has: the output is not real
_HEADER = re.compile(r"^\s*Storage Changer (?P<device>\S.*?):(?P<drives>\d+) Drives, (?P<slots>\d+) Slots "
                     r"\( (?P<ie>\d+) Import/Export \)\s*$")
_TAGS = r"(?::VolumeTag ?= ?(?P<tag>[^:]*?))?(?::AlternateVolumeTag ?= ?(?P<alt>[^:]*?))?\s*$"
_DRIVE = re.compile(r"^\s*Data Transfer Element (?P<n>\d+):(?P<state>Empty|Full(?: \((?:Storage Element "
                    r"(?P<src>\d+)|Unknown Storage Element) Loaded\))?)" + _TAGS)
_SLOT = re.compile(r"^\s*Storage Element (?P<n>\d+)(?P<ie> IMPORT/EXPORT)?:(?P<state>Full|Empty) ?" + _TAGS)


def _count(text: str) -> int:
    value = int(text)
    if value >= MAX_ELEMENTS:
        raise ParseError(f"element number out of range: {text[:40]!r}")
    return value


def _drive(m: re.Match) -> ChangerDrive:
    return ChangerDrive(number=_count(m["n"]), full=m["state"] != "Empty",
                        source_slot=_count(m["src"]) if m["src"] else None,
                        barcode=(m["tag"] or "").strip(), alternate_barcode=(m["alt"] or "").strip())


def _slot(m: re.Match) -> ChangerSlot:
    return ChangerSlot(number=_count(m["n"]), full=m["state"] == "Full", barcode=(m["tag"] or "").strip(),
                       import_export=bool(m["ie"]), alternate_barcode=(m["alt"] or "").strip())


def _check(status: ChangerStatus) -> ChangerStatus:
    """The elements listed are the ones the header announced, each once: a cut output is not an inventory."""
    drives = [d.number for d in status.drives]
    slots = [s.number for s in status.slots]
    if len(set(drives)) != len(drives) or len(set(slots)) != len(slots):
        raise ParseError("an element is listed twice")
    if len(drives) != status.drive_count or len(slots) != status.slot_count:
        raise ParseError(f"{len(drives)} drives and {len(slots)} slots listed, the changer announced "
                         f"{status.drive_count} and {status.slot_count}")
    if sum(s.import_export for s in status.slots) != status.import_export_count:
        raise ParseError("the import/export slots listed are not the number announced")
    return status


@parser("mtx status")
def parse_mtx_status(text: str) -> ChangerStatus:
    """The changer's drives and slots, full or empty, with their volume tags."""
    header, drives, slots = None, [], []
    for line in lines(text):
        if not line.strip():
            continue
        if header is None:
            if not (m := _HEADER.match(line)):
                raise ParseError("expected the 'Storage Changer' line")
            header = (m["device"], _count(m["drives"]), _count(m["slots"]), _count(m["ie"]))
        elif m := _DRIVE.match(line):
            drives.append(_drive(m))
        elif m := _SLOT.match(line):
            slots.append(_slot(m))
        else:
            raise ParseError("not a drive or slot line")
    if header is None:
        raise ParseError("no 'Storage Changer' line")
    return _check(ChangerStatus(*header, drives=tuple(drives), slots=tuple(slots)))
