"""What the physical-tape parsers return: a changer's inventory (``mtx status``), a drive's position and status
bits (``mt status``), the SCSI devices of the host (``lsscsi -g``) and a drive's TapeAlert flags
(``sg_logs -p 0x2e``). Frozen dataclasses, no I/O."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["ChangerDrive", "ChangerSlot", "ChangerStatus", "ScsiDevice", "TapeAlert", "TapeStatus"]


@dataclass(frozen=True, slots=True)
class ChangerDrive:
    """A changer's data transfer element: ``number`` is mtx's 0-based drive number."""

    number: int
    full: bool
    source_slot: int | None = None  # the storage element the medium came from, when the changer knows it
    barcode: str = ""
    alternate_barcode: str = ""


@dataclass(frozen=True, slots=True)
class ChangerSlot:
    """A changer's storage element: ``number`` is mtx's 1-based slot number (import/export slots included)."""

    number: int
    full: bool
    barcode: str = ""
    import_export: bool = False
    alternate_barcode: str = ""


@dataclass(frozen=True, slots=True)
class ChangerStatus:
    """``mtx status``: the counts the changer announces and every element it listed."""

    device: str
    drive_count: int
    slot_count: int  # storage elements, import/export ones included (as mtx counts them)
    import_export_count: int
    drives: tuple[ChangerDrive, ...] = ()
    slots: tuple[ChangerSlot, ...] = ()

    def slot(self, number: int) -> ChangerSlot | None:
        """The storage element numbered ``number``, if listed."""
        return next((s for s in self.slots if s.number == number), None)

    def drive(self, number: int) -> ChangerDrive | None:
        """The data transfer element numbered ``number``, if listed."""
        return next((d for d in self.drives if d.number == number), None)


@dataclass(frozen=True, slots=True)
class TapeStatus:
    """``mt status`` (mt-st): where the tape is and the driver's general status bits."""

    drive_type: str  # "SCSI 2", "SCSI 1", ...
    file_number: int | None  # None when the driver does not know (-1)
    block_number: int | None
    partition: int | None = None
    block_size: int | None = None  # 0 = variable block mode
    density_code: int | None = None
    density: str = ""  # mt-st's name for the code ("LTO-5"), "" for "no translation"
    soft_errors: int | None = None
    status_bits: int = 0
    flags: tuple[str, ...] = ()  # BOT, EOF, ONLINE, WR_PROT, DR_OPEN, IM_REP_EN...

    @property
    def loaded(self) -> bool:
        """A tape is in the drive and ready."""
        return "ONLINE" in self.flags and "DR_OPEN" not in self.flags

    @property
    def write_protected(self) -> bool:
        return "WR_PROT" in self.flags

    @property
    def at_bot(self) -> bool:
        return "BOT" in self.flags

    @property
    def needs_cleaning(self) -> bool:
        return "CLN" in self.flags


@dataclass(frozen=True, slots=True)
class ScsiDevice:
    """One ``lsscsi -g`` row; ``device``/``sg`` are None where lsscsi printed "-"."""

    host: int
    channel: int
    target: int
    lun: int
    type: str  # "tape", "mediumx", "disk", "cd/dvd", ...
    vendor: str
    model: str
    revision: str
    device: str | None  # /dev/st0, /dev/sch0, /dev/sda
    sg: str | None  # /dev/sg2

    @property
    def hctl(self) -> str:
        return f"{self.host}:{self.channel}:{self.target}:{self.lun}"

    @property
    def nst(self) -> str | None:
        """The non-rewinding node of a tape drive (/dev/st0 -> /dev/nst0)."""
        if self.type != "tape" or not self.device or not self.device.startswith("/dev/st"):
            return None
        return "/dev/nst" + self.device.removeprefix("/dev/st")


@dataclass(frozen=True, slots=True)
class TapeAlert:
    """A TapeAlert flag that is set: its code (1-64), the standard's name, severity and sg_logs' own words."""

    code: int
    name: str
    severity: str  # "information" | "warning" | "critical"
    text: str = ""
