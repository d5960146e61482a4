"""Pure parser of ``mt -f /dev/nstN status`` (mt-st 1.x, Linux st driver). No I/O, no Django.

The general status bits are the driver's ``mt_gstat`` (linux/mtio.h ``GMT_*``); the flag names are read from
the hexadecimal value mt prints, the line of names after it must agree with them. A drive without a tape
reports ``DR_OPEN`` and file and block number -1 (unknown, None here).
"""

from __future__ import annotations

import re

from apps.core.errors import ParseError, lines, parser

from .types import TapeStatus

__all__ = ["GMT_FLAGS", "flags_of", "parse_mt_status"]

# (name, bit) in the order mt prints them.
GMT_FLAGS = (("EOF", 0x80000000), ("BOT", 0x40000000), ("EOT", 0x20000000), ("SM", 0x10000000),
             ("EOD", 0x08000000), ("WR_PROT", 0x04000000), ("ONLINE", 0x01000000), ("D_6250", 0x00800000),
             ("D_1600", 0x00400000), ("D_800", 0x00200000), ("DR_OPEN", 0x00040000), ("IM_REP_EN", 0x00010000),
             ("CLN", 0x00008000))
_NAMES = {name for name, _ in GMT_FLAGS}
MAX_LONG = 2**63 - 1

_TYPE = re.compile(r"^(?P<type>SCSI 1|SCSI 2|OnStream SC-, DI-, DP-, or USB) tape drive:$")
_OTHER_TYPE = re.compile(r"^(?P<type>qic-117 drive type = 0x[0-9a-f]+|IDE-Tape \(type code 0\) \?|"
                         r"Unknown tape drive type \(type code -?\d+\))$")
_POSITION = re.compile(r"^File number=(?P<file>-?\d+), block number=(?P<block>-?\d+)(?:, partition=(?P<part>-?\d+))?\.$")
_BLOCK = re.compile(r"^Tape block size (?P<size>\d+) bytes\. Density code 0x(?P<code>[0-9a-f]+) \((?P<name>.*)\)\.$")
_SOFT = re.compile(r"^Soft error count since last status=(?P<n>\d+)$")
_BITS = re.compile(r"^General status bits on \((?P<bits>[0-9a-f]+)\):$")
_REGISTERS = re.compile(r"^(?:mt_resid: -?\d+, mt_erreg: 0x[0-9a-f]+|mt_dsreg: 0x[0-9a-f]+, mt_gstat: 0x[0-9a-f]+)$")


def flags_of(bits: int) -> tuple[str, ...]:
    """The names of the general status bits set in ``bits``, in mt's order."""
    return tuple(name for name, bit in GMT_FLAGS if bits & bit)


def _int(text: str, limit: int = 2**31) -> int:
    value = int(text)
    if not -limit <= value < limit:
        raise ParseError(f"number out of range: {text[:40]!r}")
    return value


def _hex(text: str) -> int:
    value = int(text, 16)
    if value > MAX_LONG:
        raise ParseError(f"status bits out of range: {text[:40]!r}")
    return value


def _position(value: int) -> int | None:
    return None if value < 0 else value


def _flags_line(line: str, bits: int) -> None:
    words = line.split()
    if not set(words) <= _NAMES or tuple(words) != flags_of(bits):
        raise ParseError("the status flags do not match the status bits")


@parser("mt status")
def parse_mt_status(text: str) -> TapeStatus:
    """The drive type, the tape's position, block size and density, and the status flags (BOT, ONLINE...)."""
    fields: dict = {}
    expect_flags = False
    for line in lines(text):
        if expect_flags:
            expect_flags = False
            _flags_line(line, fields["status_bits"])
        elif not line.strip() or _REGISTERS.match(line):
            continue
        elif m := _TYPE.match(line) or _OTHER_TYPE.match(line):
            fields["drive_type"] = m["type"]
        elif m := _POSITION.match(line):
            fields["file_number"] = _position(_int(m["file"]))
            fields["block_number"] = _position(_int(m["block"]))
            fields["partition"] = _position(_int(m["part"])) if m["part"] else None
        elif m := _BLOCK.match(line):
            fields["block_size"], fields["density_code"] = _int(m["size"]), _hex(m["code"])
            fields["density"] = "" if m["name"] == "no translation" else m["name"]
        elif m := _SOFT.match(line):
            fields["soft_errors"] = _int(m["n"], MAX_LONG)
        elif m := _BITS.match(line):
            fields["status_bits"] = _hex(m["bits"])
            fields["flags"] = flags_of(fields["status_bits"])
            expect_flags = True
        else:
            raise ParseError("not a line of `mt status`")
    if "drive_type" not in fields or "file_number" not in fields or "status_bits" not in fields:
        raise ParseError("not the status of a tape drive (no drive type, position or status bits)")
    return TapeStatus(**fields)
