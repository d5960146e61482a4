"""What the tape backends share: the description of a virtual library to build (``LibrarySpec``), and the
checks every name and number in it passes before it reaches a command line or a generated file."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from apps.core.errors import BackendError

__all__ = ["BARCODE", "MEDIA_KINDS", "DriveSpec", "LibrarySpec", "MediumSpec", "validate_barcode",
           "validate_library_spec"]

BARCODE = re.compile(r"[A-Z0-9]{1,16}")  # SMC volume tags: no spaces, upper case (LTO: 6 + "L6")
IDENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,31}")  # SCSI vendor/product/serial text
MEDIA_KINDS = ("data", "clean")
MAX_SLOTS, MAX_DRIVES, MAX_IE = 10_000, 64, 256


@dataclass(frozen=True)
class DriveSpec:
    vendor: str = "IBM"
    product: str = "ULT3580-TD6"
    serial: str = ""


@dataclass(frozen=True)
class MediumSpec:
    barcode: str
    slot: int  # 1-based storage slot number
    kind: str = "data"  # "data" or "clean"
    density: str = "LTO6"
    size_mb: int = 1024


@dataclass(frozen=True)
class LibrarySpec:
    """A virtual library: a changer of ``slots`` storage slots and ``ie_slots`` import/export slots, its drives,
    and the media in its slots."""

    name: str
    vendor: str = "STK"
    product: str = "L700"
    serial: str = ""
    slots: int = 10
    ie_slots: int = 0
    drives: tuple[DriveSpec, ...] = (DriveSpec(),)
    media: tuple[MediumSpec, ...] = field(default_factory=tuple)


def validate_barcode(value: str) -> str:
    """A volume tag: 1 to 16 upper-case letters and digits."""
    if not isinstance(value, str) or not BARCODE.fullmatch(value):
        raise BackendError(f"not a barcode (1-16 upper-case letters and digits, no spaces): {value!r}")
    return value


def _ident(value: str, what: str) -> None:
    if value and not IDENT.fullmatch(value):
        raise BackendError(f"not a valid {what} (letters, digits, space . _ -, up to 32): {value!r}")


def validate_library_spec(spec: LibrarySpec) -> LibrarySpec:
    """Every name and number of ``spec`` checked; BackendError naming the first at fault."""
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,31}", spec.name or ""):
        raise BackendError(f"not a library name (a-z, 0-9, -; up to 32): {spec.name!r}")
    for value, what in ((spec.vendor, "vendor"), (spec.product, "product"), (spec.serial, "serial")):
        _ident(value, what)
    if not 1 <= spec.slots <= MAX_SLOTS or not 0 <= spec.ie_slots <= MAX_IE:
        raise BackendError(f"slots must be 1-{MAX_SLOTS} and import/export slots 0-{MAX_IE}")
    if not 1 <= len(spec.drives) <= MAX_DRIVES:
        raise BackendError(f"a library has 1-{MAX_DRIVES} drives")
    for drive in spec.drives:
        for value, what in ((drive.vendor, "drive vendor"), (drive.product, "drive product"),
                            (drive.serial, "drive serial")):
            _ident(value, what)
    seen_slots, seen_codes = set(), set()
    for medium in spec.media:
        validate_barcode(medium.barcode)
        if not 1 <= medium.slot <= spec.slots or medium.slot in seen_slots:
            raise BackendError(f"medium {medium.barcode}: slot {medium.slot} is out of range or taken")
        if medium.barcode in seen_codes or medium.kind not in MEDIA_KINDS:
            raise BackendError(f"medium {medium.barcode}: barcode used twice or kind not one of {MEDIA_KINDS}")
        if not re.fullmatch(r"[A-Za-z0-9]{1,16}", medium.density) or not 1 <= medium.size_mb <= 64 * 1024 * 1024:
            raise BackendError(f"medium {medium.barcode}: bad density or size")
        seen_slots.add(medium.slot)
        seen_codes.add(medium.barcode)
    return spec
