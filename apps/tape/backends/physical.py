"""A physical (or mhVTL-emulated) tape library on this host, driven through its tools: ``lsscsi -g`` finds the
changers and drives, ``mtx`` moves media, ``mt`` positions a drive, ``sg_logs`` reads its TapeAlert flags.

Argv lists only. Every device path is checked (``/dev/sgN`` for a changer, ``/dev/nstN`` for a drive, or a
``/dev/tape/by-id/`` link) and every slot and drive number is a whole number in range before any command
runs; given the changer's last inventory, a move is also checked against it (the slot exists and is full, the
drive is empty). A tool's refusal becomes ``BackendError`` carrying its own words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from apps.core.errors import BackendError
from apps.core.runner import CommandError, Runner

from .base import MAX_DRIVES, MAX_IE, MAX_SLOTS, validate_barcode
from .mt_parse import parse_mt_status
from .mtx_parse import parse_mtx_status
from .scsi_parse import parse_lsscsi, parse_tapealert
from .types import ChangerStatus, ScsiDevice, TapeAlert, TapeStatus

__all__ = [
    "MTX_TIMEOUT",
    "MT_TIMEOUT",
    "PhysicalLibraryBackend",
    "validate_changer",
    "validate_drive_number",
    "validate_slot",
    "validate_tape_device",
]

MTX_TIMEOUT = 600.0  # a robot move, an inventory with barcode scan
MT_TIMEOUT = 4 * 3600.0  # a long erase of a full cartridge
_BY_ID = r"/dev/tape/by-id/[A-Za-z0-9][A-Za-z0-9._:+-]{0,127}"
_CHANGER = re.compile(rf"/dev/sg\d{{1,4}}|{_BY_ID}")
_TAPE = re.compile(rf"/dev/nst\d{{1,4}}|{_BY_ID}")
_ANY_SCSI = re.compile(rf"/dev/sg\d{{1,4}}|/dev/nst\d{{1,4}}|{_BY_ID}")


def _path(value: object, pattern: re.Pattern, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise BackendError(f"not a {what} device path: {value!r}")
    return value


def validate_changer(path: object) -> str:
    """A changer's generic SCSI node: /dev/sgN (or a /dev/tape/by-id/ link)."""
    return _path(path, _CHANGER, "changer")


def validate_tape_device(path: object) -> str:
    """A drive's non-rewinding node: /dev/nstN (or a /dev/tape/by-id/ link)."""
    return _path(path, _TAPE, "tape drive (non-rewinding, /dev/nstN)")


def _number(value: object, low: int, high: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise BackendError(f"{what} must be a whole number from {low} to {high}: {value!r}")
    return value


def validate_slot(value: object, status: ChangerStatus | None = None) -> int:
    """A storage element number (1-based, as mtx counts), within the changer's slots when they are known."""
    return _number(value, 1, status.slot_count if status else MAX_SLOTS + MAX_IE, "a slot number")


def validate_drive_number(value: object, status: ChangerStatus | None = None) -> int:
    """A data transfer element number (0-based, as mtx counts), within the changer's drives when known."""
    return _number(value, 0, (status.drive_count if status else MAX_DRIVES) - 1, "a drive number")


class PhysicalLibraryBackend:
    """The changers and drives of this host, through mtx, mt, lsscsi and sg_logs."""

    def __init__(self, runner: Runner) -> None:
        self.runner = runner

    def _call(self, argv: Sequence[str], timeout: float = 60.0) -> str:
        try:
            return self.runner.run(list(argv), timeout=timeout).stdout
        except CommandError as exc:
            raise BackendError.from_command(exc) from exc

    # ------------------------------------------------------------ discovery
    def devices(self) -> tuple[ScsiDevice, ...]:
        """Every SCSI device lsscsi lists, with its sg node."""
        return parse_lsscsi(self._call(["lsscsi", "-g"]))

    def changers(self) -> tuple[ScsiDevice, ...]:
        return tuple(d for d in self.devices() if d.type == "mediumx")

    def drives(self) -> tuple[ScsiDevice, ...]:
        return tuple(d for d in self.devices() if d.type == "tape")

    # ------------------------------------------------------------ the changer
    def inventory(self, changer: str) -> ChangerStatus:
        """The changer's drives and slots, and the barcode of each medium (``mtx status``)."""
        return parse_mtx_status(self._call(["mtx", "-f", validate_changer(changer), "status"], MTX_TIMEOUT))

    def scan(self, changer: str) -> None:
        """Make the changer read every barcode again (``mtx inventory``)."""
        self._call(["mtx", "-f", validate_changer(changer), "inventory"], MTX_TIMEOUT)

    def load(self, changer: str, slot: int, drive: int = 0, *, status: ChangerStatus | None = None) -> None:
        """Move the medium in ``slot`` into ``drive``."""
        changer = validate_changer(changer)
        slot, drive = validate_slot(slot, status), validate_drive_number(drive, status)
        if status is not None:
            self._loadable(status, slot, drive)
        self._call(["mtx", "-f", changer, "load", str(slot), str(drive)], MTX_TIMEOUT)

    def load_medium(self, changer: str, barcode: str, drive: int = 0, *,
                    status: ChangerStatus | None = None) -> int:
        """Load the medium labelled ``barcode`` into ``drive``, wherever its slot is; the slot it came from."""
        changer, barcode = validate_changer(changer), validate_barcode(barcode)
        drive = validate_drive_number(drive, status)
        status = status or self.inventory(changer)
        slot = next((s.number for s in status.slots if s.full and s.barcode == barcode), None)
        if slot is None:
            raise BackendError(f"no slot of {changer} holds {barcode}")
        self.load(changer, slot, drive, status=status)
        return slot

    def unload(self, changer: str, slot: int, drive: int = 0, *, status: ChangerStatus | None = None) -> None:
        """Put the medium in ``drive`` back into ``slot``."""
        changer = validate_changer(changer)
        slot, drive = validate_slot(slot, status), validate_drive_number(drive, status)
        if status is not None:
            self._unloadable(status, slot, drive)
        self._call(["mtx", "-f", changer, "unload", str(slot), str(drive)], MTX_TIMEOUT)

    def transfer(self, changer: str, source: int, destination: int, *, status: ChangerStatus | None = None) -> None:
        """Move a medium from one slot to another (a mail slot included)."""
        changer = validate_changer(changer)
        source, destination = validate_slot(source, status), validate_slot(destination, status)
        if source == destination:
            raise BackendError("the source and destination slots are the same")
        if status is not None:
            self._transferable(status, source, destination)
        self._call(["mtx", "-f", changer, "transfer", str(source), str(destination)], MTX_TIMEOUT)

    @staticmethod
    def _loadable(status: ChangerStatus, slot: int, drive: int) -> None:
        if not (s := status.slot(slot)) or not s.full:
            raise BackendError(f"slot {slot} is empty")
        if (d := status.drive(drive)) and d.full:
            raise BackendError(f"drive {drive} already holds {d.barcode or 'a medium'}")

    @staticmethod
    def _unloadable(status: ChangerStatus, slot: int, drive: int) -> None:
        if not (d := status.drive(drive)) or not d.full:
            raise BackendError(f"drive {drive} is empty")
        if (s := status.slot(slot)) and s.full:
            raise BackendError(f"slot {slot} is full ({s.barcode or 'no barcode'})")

    @staticmethod
    def _transferable(status: ChangerStatus, source: int, destination: int) -> None:
        if not (s := status.slot(source)) or not s.full:
            raise BackendError(f"slot {source} is empty")
        if (d := status.slot(destination)) and d.full:
            raise BackendError(f"slot {destination} is full ({d.barcode or 'no barcode'})")

    # ------------------------------------------------------------ a drive
    def tape_status(self, device: str) -> TapeStatus:
        """Where the tape in ``device`` is, and the drive's status flags (``mt status``)."""
        return parse_mt_status(self._call(["mt", "-f", validate_tape_device(device), "status"]))

    def rewind(self, device: str) -> None:
        self._call(["mt", "-f", validate_tape_device(device), "rewind"], MT_TIMEOUT)

    def eject(self, device: str) -> None:
        """Rewind and unload the tape, so that the changer can take it (``mt offline``)."""
        self._call(["mt", "-f", validate_tape_device(device), "offline"], MT_TIMEOUT)

    def erase(self, device: str, *, quick: bool = False) -> None:
        """Erase the tape from where it stands: the whole of it (long), or only write an end of data (quick)."""
        self._call(["mt", "-f", validate_tape_device(device), "erase", "0" if quick else "1"], MT_TIMEOUT)

    def write_record(self, device: str, source: str, size: int) -> None:
        """Write the first ``size`` bytes of file ``source`` as one tape block where the tape stands (``dd``)."""
        if not isinstance(source, str) or not re.fullmatch(r"/[A-Za-z0-9._/+-]{1,255}", source) or ".." in source:
            raise BackendError(f"not a plain absolute file path: {source!r}")
        _number(size, 1, 1 << 20, "a block size")
        self._call(["dd", f"if={source}", f"of={validate_tape_device(device)}", f"bs={size}", "count=1"], MT_TIMEOUT)

    def write_filemark(self, device: str) -> None:
        """Write a filemark where the tape stands (``mt weof``)."""
        self._call(["mt", "-f", validate_tape_device(device), "weof"], MT_TIMEOUT)

    def tape_alerts(self, device: str) -> tuple[TapeAlert, ...]:
        """The TapeAlert flags the drive has set (log page 0x2e), each with its severity."""
        return parse_tapealert(self._call(["sg_logs", "-p", "0x2e", _path(device, _ANY_SCSI, "tape drive")]))
