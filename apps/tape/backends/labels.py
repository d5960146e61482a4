"""The ANSI X3.27 volume label (VOL1) a labelled tape starts with: one 80-byte record of upper-case ASCII."""

from __future__ import annotations

import re

from apps.core.errors import BackendError

from .base import validate_barcode

__all__ = ["VOL1_SIZE", "vol1_record", "volume_serial"]

VOL1_SIZE = 80
_OWNER = re.compile(r"[A-Z0-9 ._-]{0,14}")


def volume_serial(barcode: str) -> str:
    """The 6-character volume serial of ``barcode`` (an LTO barcode without its media suffix: ABC123L6 -> ABC123)."""
    return validate_barcode(barcode)[:6]


def vol1_record(barcode: str, owner: str = "CALYPSO") -> bytes:
    """VOL1, the volume serial, accessibility ' ', 13 reserved, implementation id, owner, 28 reserved, version 4."""
    if not _OWNER.fullmatch(owner):
        raise BackendError(f"not a label owner (up to 14 upper-case letters, digits, space . _ -): {owner!r}")
    record = ("VOL1" + volume_serial(barcode).ljust(6) + " " + " " * 13 + "CALYPSO".ljust(13) + owner.ljust(14)
              + " " * 28 + "4")
    assert len(record) == VOL1_SIZE  # noqa: S101 - the layout above is fixed
    return record.encode("ascii")
