"""Pure parsers of ``lsscsi -g`` (lsscsi 0.2x-0.3x) and of the TapeAlert log page as ``sg_logs -p 0x2e``
(sg3_utils) decodes it. No I/O, no Django.

lsscsi prints the vendor, model and revision in fixed widths (8, 16 and 4 characters, a space between), so a
model may hold spaces; the last two columns are the primary node and the sg node, "-" when there is none.
The TapeAlert flags are numbered 01h-40h; their names, and the severity each one has (Information, Warning,
Critical), are the T10 SSC-3 Annex A table (as mhVTL's documentation reproduces it); sg_logs prints its own
names, which are mapped back to the flag numbers.
"""

from __future__ import annotations

import re

from apps.core.errors import ParseError, lines, parser

from .types import ScsiDevice, TapeAlert

__all__ = ["TAPEALERT_FLAGS", "parse_lsscsi", "parse_tapealert", "severity_of"]

_ROW = re.compile(r"^\[(?P<h>\d+):(?P<c>\d+):(?P<t>\d+):(?P<l>\d+)\]\s+(?P<type>\S+)(?P<rest>.*)$")
_NODES = re.compile(r"^(?P<fixed>.*?)\s+(?P<device>\S+)\s+(?P<sg>\S+)\s*$")
MAX_ADDRESS = 2**32

_I, _W, _C = "information", "warning", "critical"
# code: (T10 name, severity, sg_logs' name)
TAPEALERT_FLAGS: dict[int, tuple[str, str, str]] = {
    0x01: ("Read warning", _W, "Read warning"),
    0x02: ("Write warning", _W, "Write warning"),
    0x03: ("Hard error", _W, "Hard error"),
    0x04: ("Media", _C, "Media"),
    0x05: ("Read failure", _C, "Read failure"),
    0x06: ("Write failure", _C, "Write failure"),
    0x07: ("Media life", _W, "Media life"),
    0x08: ("Not data grade", _W, "Not data grade"),
    0x09: ("Write protect", _C, "Write protect"),
    0x0A: ("No removal", _I, "No removal"),
    0x0B: ("Cleaning media", _I, "Cleaning media"),
    0x0C: ("Unsupported format", _I, "Unsupported format"),
    0x0D: ("Recoverable mechanical cartridge failure", _C, "Recoverable mechanical cartridge failure"),
    0x0E: ("Unrecoverable mechanical cartridge failure", _C, "Unrecoverable mechanical cartridge failure"),
    0x0F: ("Memory chip in cartridge failure", _W, "Memory chip in cartridge failure"),
    0x10: ("Forced eject", _C, "Forced eject"),
    0x11: ("Read only format", _W, "Read only format"),
    0x12: ("Tape directory corrupted on load", _W, "Tape directory corrupted on load"),
    0x13: ("Nearing media life", _I, "Nearing media life"),
    0x14: ("Clean now", _C, "Cleaning required"),
    0x15: ("Clean periodic", _W, "Cleaning requested"),
    0x16: ("Expired cleaning media", _C, "Expired cleaning media"),
    0x17: ("Invalid cleaning tape", _C, "Invalid cleaning tape"),
    0x18: ("Retension requested", _W, "Retension requested"),
    0x19: ("Dual-port interface error", _W, "Dual port interface error"),
    0x1A: ("Cooling fan failure", _W, "Cooling fan failing"),
    0x1B: ("Power supply failure", _W, "Power supply failure"),
    0x1C: ("Power consumption", _W, "Power consumption"),
    0x1D: ("Drive maintenance", _W, "Drive maintenance"),
    0x1E: ("Hardware A", _C, "Hardware A"),
    0x1F: ("Hardware B", _C, "Hardware B"),
    0x20: ("Interface", _W, "Interface"),
    0x21: ("Eject media", _C, "Eject media"),
    0x22: ("Download fail", _W, "Microcode update fail"),
    0x23: ("Drive humidity", _W, "Drive humidity"),
    0x24: ("Drive temperature", _W, "Drive temperature"),
    0x25: ("Drive voltage", _W, "Drive voltage"),
    0x26: ("Predictive failure", _C, "Predictive failure"),
    0x27: ("Diagnostics required", _W, "Diagnostics required"),
    **{code: (f"Obsolete ({code:02X}h)", _I, f"Obsolete ({code:02X}h)") for code in range(0x28, 0x2F)},
    **{code: (f"Reserved ({code:02X}h)", _I, f"Reserved ({code:02X}h)") for code in range(0x2F, 0x32)},
    0x32: ("Lost statistics", _W, "Lost statistics"),
    0x33: ("Tape directory invalid at unload", _W, "Tape directory invalid at unload"),
    0x34: ("Tape system area write failure", _C, "Tape system area write failure"),
    0x35: ("Tape system area read failure", _C, "Tape system area read failure"),
    0x36: ("No start of data", _C, "No start of data"),
    0x37: ("Loading failure", _C, "Loading failure"),
    0x38: ("Unrecoverable unload failure", _C, "Unrecoverable unload failure"),
    0x39: ("Automation interface failure", _C, "Automation interface failure"),
    0x3A: ("Firmware failure", _W, "Firmware failure"),
    0x3B: ("WORM medium - integrity check failed", _W, "WORM medium - integrity check failed"),
    0x3C: ("WORM medium - overwrite attempted", _W, "WORM medium - overwrite attempted"),
    **{code: (f"Reserved ({code:02X}h)", _I, f"Reserved parameter code 0x{code:02x}, flag")
       for code in range(0x3D, 0x41)},
}
_BY_SG_NAME = {sg_name.lower(): code for code, (_, _, sg_name) in TAPEALERT_FLAGS.items()}
_TA_HEADER = re.compile(r"^Tape alert page \((?:ssc-\d|[a-z0-9-]+)\) \[0x2e\]$")
_TA_FLAG = re.compile(r"^\s+(?P<name>\S.*?): (?P<value>[01])$")


def _address(text: str) -> int:
    value = int(text)
    if value >= MAX_ADDRESS:
        raise ParseError(f"SCSI address out of range: {text[:40]!r}")
    return value


def _node(text: str) -> str | None:
    return None if text == "-" else text


def _device(m: re.Match) -> ScsiDevice:
    pad = max(7 - len(m["type"]), 0) + 1  # the type column is 7 wide, then a space
    if m["rest"][:pad].strip():
        raise ParseError("the type column is wider than lsscsi prints it")
    nodes = _NODES.match(m["rest"][pad:])
    if not nodes or not all(n == "-" or n.startswith("/dev/") for n in (nodes["device"], nodes["sg"])):
        raise ParseError("expected the device and sg nodes (lsscsi -g) at the end of the line")
    fixed = nodes["fixed"].ljust(30)  # vendor 8, model 16, revision 4, a space between
    return ScsiDevice(_address(m["h"]), _address(m["c"]), _address(m["t"]), _address(m["l"]), m["type"],
                      vendor=fixed[:8].strip(), model=fixed[9:25].strip(), revision=fixed[26:].strip(),
                      device=_node(nodes["device"]), sg=_node(nodes["sg"]))


@parser("lsscsi -g")
def parse_lsscsi(text: str) -> tuple[ScsiDevice, ...]:
    """Every SCSI device of the host: address, type, identity and its nodes (NVMe namespaces left out)."""
    out = []
    for line in lines(text):
        if not line.strip() or line.startswith("[N:"):  # NVMe namespaces are no SCSI devices
            continue
        if not (m := _ROW.match(line)):
            raise ParseError("not an lsscsi row")
        out.append(_device(m))
    return tuple(out)


def severity_of(code: int) -> str:
    """The severity the TapeAlert standard gives flag ``code``."""
    return TAPEALERT_FLAGS.get(code, ("", _I, ""))[1]


def _alert(name: str) -> int:
    code = _BY_SG_NAME.get(name.lower())
    if code is None:
        raise ParseError(f"unknown TapeAlert flag {name[:60]!r}")
    return code


@parser("sg_logs -p 0x2e")
def parse_tapealert(text: str) -> tuple[TapeAlert, ...]:
    """The TapeAlert flags that are set, in flag order, each with its severity."""
    seen_header, found = False, {}
    for line in lines(text):
        if not line.strip():
            continue
        if not seen_header:
            # sg_logs names the device (its INQUIRY identity, indented) before the page
            if _TA_HEADER.match(line.strip()):
                seen_header = True
            elif not line.startswith(" "):
                raise ParseError("expected the 'Tape alert page' header")
            continue
        if not (m := _TA_FLAG.match(line)):
            raise ParseError("not a TapeAlert flag line")
        code = _alert(m["name"])
        if code in found:
            raise ParseError("a TapeAlert flag is listed twice")
        found[code] = m["value"] == "1"
    if not seen_header:
        raise ParseError("no 'Tape alert page' header")
    return tuple(TapeAlert(code, TAPEALERT_FLAGS[code][0], TAPEALERT_FLAGS[code][1], TAPEALERT_FLAGS[code][2])
                 for code in sorted(found) if found[code])
