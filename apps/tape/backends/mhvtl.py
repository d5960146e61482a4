"""mhVTL's configuration files, rendered from a ``LibrarySpec`` and read back: ``device.conf`` (one library
and its drives, in the layout of mhVTL's own ``generate_device_conf``) and ``library_contents.<id>`` (the
drives, picker, mail slots and the barcode in each storage slot), and the argv of ``mktape``, which creates a
medium. No I/O: the caller writes the files and runs the command.

device.conf: records start at column 1 (``Library: 10 CHANNEL: 00 TARGET: 00 LUN: 00``), their fields are
indented one space, a blank line ends a record, ``#`` lines are comments. mhVTL keeps serial numbers to 10
characters. library_contents: ``VERSION: 2``, ``Drive N:``, ``Picker 1:``, ``MAP N:`` and ``Slot N: BARCODE``
(an empty slot has no barcode); mhVTL treats a barcode starting with ``CLN`` as a cleaning cartridge.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from apps.core.errors import BackendError, ParseError, lines, parser

from .base import MEDIA_KINDS, LibrarySpec, MediumSpec, validate_barcode, validate_library_spec

__all__ = ["DEVICE_CONF_VERSION", "LIBRARY_CONTENTS_VERSION", "MhvtlConfig", "MhvtlContents", "MhvtlDevice",
           "mktape_argv", "parse_device_conf", "parse_library_contents", "render_device_conf",
           "render_library_contents"]

DEVICE_CONF_VERSION = 5  # what mhVTL's generate_device_conf writes today
LIBRARY_CONTENTS_VERSION = 2
MAX_SERIAL = 10
MAX_ID = 9999
REVISION = "550V"
_PATH = re.compile(r"/[A-Za-z0-9._/-]{0,200}")
_RECORD = re.compile(r"^(?P<kind>Library|Drive): (?P<id>\d+) CHANNEL: (?P<ch>\d+) TARGET: (?P<t>\d+) LUN: (?P<l>\d+)\s*$")
_FIELD = re.compile(r"^ (?P<key>[A-Za-z][A-Za-z ]*?):\s?(?P<value>.*)$")
_LIB_SLOT = re.compile(r"^Library ID: (?P<lib>\d+) Slot: (?P<slot>\d+)\s*$")
_CONTENT = re.compile(r"^(?P<kind>Drive|Picker|MAP|Slot) (?P<n>\d+):\s*(?P<value>.*?)\s*$")
_VERSION = re.compile(r"^VERSION: (?P<v>\d+)\s*$")


@dataclass(frozen=True, slots=True)
class MhvtlDevice:
    """One device.conf record: a library or a drive, its SCSI address and its fields as written."""

    kind: str  # "library" | "drive"
    id: int
    channel: int
    target: int
    lun: int
    fields: tuple[tuple[str, str], ...] = ()
    library_id: int | None = None  # drives: the library and the drive slot (1-based) they sit in
    slot: int | None = None

    def get(self, key: str, default: str = "") -> str:
        """The value of field ``key`` ("Vendor identification"), or ``default``."""
        return next((v for k, v in self.fields if k == key), default)


@dataclass(frozen=True, slots=True)
class MhvtlConfig:
    version: int | None
    libraries: tuple[MhvtlDevice, ...] = ()
    drives: tuple[MhvtlDevice, ...] = ()

    def drives_of(self, library_id: int) -> tuple[MhvtlDevice, ...]:
        return tuple(d for d in self.drives if d.library_id == library_id)


@dataclass(frozen=True, slots=True)
class MhvtlContents:
    version: int | None
    drives: int = 0
    pickers: int = 0
    maps: int = 0
    slots: tuple[tuple[int, str], ...] = field(default_factory=tuple)  # (slot, barcode or "")

    @property
    def media(self) -> dict[int, str]:
        """Slot -> barcode, the full slots only."""
        return {n: code for n, code in self.slots if code}


# ---------------------------------------------------------------- checks
def _checked(spec: LibrarySpec, library_id: int) -> LibrarySpec:
    validate_library_spec(spec)
    if isinstance(library_id, bool) or not isinstance(library_id, int) or not 1 <= library_id <= MAX_ID - len(spec.drives):
        raise BackendError(f"not an mhVTL library id (1-{MAX_ID}, room for its drives after it): {library_id!r}")
    for serial in (spec.serial, *(d.serial for d in spec.drives)):
        if len(serial) > MAX_SERIAL or " " in serial:
            raise BackendError(f"mhVTL serial numbers are up to {MAX_SERIAL} characters, no spaces: {serial!r}")
    for medium in spec.media:
        _medium_kind(medium)
    return spec


def _medium_kind(medium: MediumSpec) -> None:
    if medium.kind not in MEDIA_KINDS:
        raise BackendError(f"medium {medium.barcode}: kind must be one of {MEDIA_KINDS}")
    if (medium.kind == "clean") != medium.barcode.startswith("CLN"):
        raise BackendError(f"medium {medium.barcode}: mhVTL knows a cleaning cartridge by a barcode starting "
                           "with CLN, and only a cleaning cartridge may have one")


def _home(path: str) -> str:
    if not isinstance(path, str) or not _PATH.fullmatch(path) or "/../" in f"{path}/" or "//" in path:
        raise BackendError(f"not an absolute directory path: {path!r}")
    return path


# ---------------------------------------------------------------- render
def _naa(library_id: int, channel: int, target: int, lun: int) -> str:
    return f"{library_id % 256:02x}:22:33:44:ab:{channel % 256:02x}:{target % 256:02x}:{lun % 256:02x}"


def render_device_conf(spec: LibrarySpec, library_id: int, *, home: str = "/opt/mhvtl", channel: int = 0,
                       first_target: int = 0) -> str:
    """device.conf for one library: the changer at ``first_target``, its drives on the targets after it."""
    _checked(spec, library_id)
    _home(home)
    if not 0 <= channel <= 255 or not 0 <= first_target <= 255 - len(spec.drives):
        raise BackendError("channel and targets must be 0-255")
    serial = spec.serial or f"CAL{library_id:04d}"
    out = [
        "", f"VERSION: {DEVICE_CONF_VERSION}", "",
        f"# Calypso library {spec.name}", "",
        f"Library: {library_id:02d} CHANNEL: {channel:02d} TARGET: {first_target:02d} LUN: 00",
        f" Vendor identification: {spec.vendor}",
        f" Product identification: {spec.product}",
        f" Product revision level: {REVISION}",
        f" Unit serial number: {serial}",
        f" NAA: {_naa(library_id, channel, first_target, 0)}",
        f" Home directory: {home}",
        " PERSIST: False",
        " Backoff: 400",
        "",
    ]  # fmt: skip
    for i, drive in enumerate(spec.drives, start=1):
        target = first_target + i
        out += [
            f"Drive: {library_id + i:02d} CHANNEL: {channel:02d} TARGET: {target:02d} LUN: 00",
            f" Library ID: {library_id:02d} Slot: {i:02d}",
            f" Vendor identification: {drive.vendor}",
            f" Product identification: {drive.product}",
            f" Product revision level: {REVISION}",
            f" Unit serial number: {drive.serial or f'{serial[:7]}{i:03d}'}",
            f" NAA: {_naa(library_id, channel, target, 0)}",
            " Compression: factor 1 enabled 1",
            " Compression type: lzo",
            " Backoff: 400",
            "",
        ]  # fmt: skip
    return "\n".join(out)


def render_library_contents(spec: LibrarySpec) -> str:
    """library_contents.<id>: a line per drive and mail slot, and every storage slot with its barcode."""
    validate_library_spec(spec)
    for medium in spec.media:
        _medium_kind(medium)
    codes = {m.slot: m.barcode for m in spec.media}
    out = [f"VERSION: {LIBRARY_CONTENTS_VERSION}", ""]
    out += [f"Drive {i}:" for i in range(1, len(spec.drives) + 1)]
    out += ["", "Picker 1:", ""]
    out += [f"MAP {i}:" for i in range(1, spec.ie_slots + 1)]
    out += ["", "# Slot N: [barcode]"]
    out += [f"Slot {n}: {codes[n]}" if n in codes else f"Slot {n}:" for n in range(1, spec.slots + 1)]
    return "\n".join(out) + "\n"


def mktape_argv(medium: MediumSpec, library_id: int, config_dir: str | None = None) -> list[str]:
    """``mktape`` creating ``medium`` in the home directory device.conf gives library ``library_id``."""
    validate_barcode(medium.barcode)
    _medium_kind(medium)
    if isinstance(library_id, bool) or not isinstance(library_id, int) or not 1 <= library_id <= MAX_ID:
        raise BackendError(f"not an mhVTL library id (1-{MAX_ID}): {library_id!r}")
    if not re.fullmatch(r"[A-Za-z0-9]{1,16}", medium.density) or not 1 <= medium.size_mb <= 64 * 1024 * 1024:
        raise BackendError(f"medium {medium.barcode}: bad density or size")
    argv = ["mktape", "-l", str(library_id), "-m", medium.barcode, "-s", str(medium.size_mb), "-t", medium.kind,
            "-d", medium.density]
    return [*argv, "-C", _home(config_dir)] if config_dir is not None else argv


# ---------------------------------------------------------------- parse
def _int(text: str) -> int:
    value = int(text)
    if value > 2**31:
        raise ParseError(f"number out of range: {text[:40]!r}")
    return value


def _record(m: re.Match) -> dict:
    return {"kind": m["kind"].lower(), "id": _int(m["id"]), "channel": _int(m["ch"]), "target": _int(m["t"]),
            "lun": _int(m["l"]), "fields": []}


def _close(current: dict | None, out: _Builder) -> None:
    if current is not None:
        out.add(current)


@dataclass
class _Builder:
    version: int | None = None
    libraries: list = field(default_factory=list)
    drives: list = field(default_factory=list)

    def add(self, record: dict) -> None:
        ids = {d.id for d in (*self.libraries, *self.drives)}
        if record["id"] in ids:
            raise ParseError(f"device id {record['id']} used twice")
        device = MhvtlDevice(**{**record, "fields": tuple(record["fields"])})
        (self.libraries if device.kind == "library" else self.drives).append(device)


def _field(current: dict, line: str) -> None:
    if m := _LIB_SLOT.match(line.strip()):
        current["library_id"], current["slot"] = _int(m["lib"]), _int(m["slot"])
    elif (m := _FIELD.match(line)) and m["key"] != "Library ID":
        current["fields"].append((m["key"], m["value"].strip()))
    else:
        raise ParseError("not a device.conf field")


@parser("mhvtl device.conf")
def parse_device_conf(text: str) -> MhvtlConfig:
    """The libraries and drives a device.conf defines, with their fields."""
    out, current = _Builder(), None
    for line in lines(text):
        if line.startswith("#"):
            continue
        if not line.strip():
            _close(current, out)
            current = None
        elif m := _VERSION.match(line):
            out.version = _int(m["v"])
        elif m := _RECORD.match(line):
            _close(current, out)
            current = _record(m)
        elif current is not None and line.startswith(" "):
            _field(current, line)
        else:
            raise ParseError("a line outside any Library: or Drive: record")
    _close(current, out)
    return MhvtlConfig(out.version, tuple(out.libraries), tuple(out.drives))


@parser("mhvtl library_contents")
def parse_library_contents(text: str) -> MhvtlContents:
    """The drives, pickers, mail slots and the barcode in each storage slot of a library_contents file."""
    version, counts, slots = None, {"Drive": 0, "Picker": 0, "MAP": 0}, {}
    for line in lines(text):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if m := _VERSION.match(line):
            version = _int(m["v"])
        elif m := _CONTENT.match(line):
            n = _int(m["n"])
            if m["kind"] != "Slot":
                counts[m["kind"]] = max(counts[m["kind"]], n)
            elif n in slots:
                raise ParseError(f"slot {n} listed twice")
            else:
                slots[n] = m["value"]
        elif not re.fullmatch(r"[A-Za-z][\w \"-]*", line.strip()):  # a comment that lost its '#'
            raise ParseError("not a library_contents line")
    return MhvtlContents(version, counts["Drive"], counts["Picker"], counts["MAP"], tuple(sorted(slots.items())))
