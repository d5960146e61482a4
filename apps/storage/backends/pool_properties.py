"""ZFS pool properties: which ones the portal may set, the values each takes, and the parser of `zpool get`.

OpenZFS prints ``zpool get -Hp all <pool>`` as tab-separated ``name property value source`` rows (feature
flags and user properties among them); zfs-fuse knows neither -H nor -p and prints a table under a
``NAME PROPERTY VALUE SOURCE`` header, values padded with spaces (a long one pushes its source along).
Pure: no Django, no host.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

from apps.core.errors import ParseError, lines, parser

__all__ = ["COMMENT_MAX", "ON_OFF", "SETTABLE", "PoolProperty", "parse_zpool_get", "pool_property_problem"]

ON_OFF = ("on", "off")
COMMENT_MAX = 32  # zpool(8): printable ASCII, at most 32 characters
# The properties the portal sets, with the values each takes (None: free text). Left out on purpose: those
# fixed at creation or import (ashift, altroot, version upgrades), bootfs and cachefile (host boot setup).
SETTABLE: dict[str, tuple[str, ...] | None] = {
    "autoexpand": ON_OFF,
    "autoreplace": ON_OFF,
    "autotrim": ON_OFF,
    "delegation": ON_OFF,
    "listsnapshots": ON_OFF,
    "multihost": ON_OFF,
    "failmode": ("wait", "continue", "panic"),
    "comment": None,
}
_SOURCES = frozenset({"-", "default", "local"})
_COMMENT_RE = re.compile(r"^[\x20-\x7e]*$")


@dataclass(frozen=True, slots=True)
class PoolProperty:
    name: str
    value: str
    source: str  # "default", "local", or "-" for a read-only statistic
    editable: bool = False
    choices: tuple[str, ...] | None = None  # the values a settable one takes (None: free text or read only)

    def as_dict(self) -> dict:
        data = asdict(self)
        data["choices"] = list(self.choices) if self.choices is not None else None
        return data


def _prop(name: str, value: str, source: str) -> PoolProperty:
    if not name or any(c.isspace() for c in name):
        raise ParseError(f"a property without a name: {name!r}")
    editable = name in SETTABLE
    return PoolProperty(name, value, source or "-", editable, SETTABLE.get(name) if editable else None)


@parser("zpool get")
def parse_zpool_get(text: str, pool: str) -> list[PoolProperty]:
    """The properties of ``pool`` from `zpool get -Hp all` (OpenZFS) or `zpool get all` (zfs-fuse), in the
    order printed; rows of another pool are refused."""
    out: list[PoolProperty] = []
    for line in lines(text):
        if not line.strip():
            continue
        if "\t" in line:
            parts = line.split("\t")
            if len(parts) != 4:
                raise ParseError(f"{len(parts)} columns, not name, property, value and source")
            name, prop, value, source = parts
        else:
            words = line.split()
            if words[:2] == ["NAME", "PROPERTY"]:
                continue
            if len(words) < 4:
                raise ParseError(f"{len(words)} columns, not name, property, value and source")
            name, prop, source = words[0], words[1], words[-1]
            if source not in _SOURCES:
                raise ParseError(f"unknown source {source!r}")
            # The value is what lies between the property and the source, as printed (it may hold spaces).
            start = line.index(prop, len(name)) + len(prop)
            value = line[start:line.rindex(source)].strip()
        if name != pool:
            raise ParseError(f"a row of pool {name!r}, not {pool!r}")
        out.append(_prop(prop, value, source))
    if not out:
        raise ParseError("no properties listed")
    return out


def pool_property_problem(name: str, value: str) -> str | None:
    """Why ``name=value`` cannot be set (None when it can): an unknown or read-only property, a value outside
    its set, a comment with control or non-ASCII characters or longer than COMMENT_MAX."""
    if name not in SETTABLE:
        return f"{name} is not a pool property that can be set here (one of: {', '.join(SETTABLE)})."
    choices = SETTABLE[name]
    if not isinstance(value, str):
        return f"{name} takes a text value."
    if choices is not None and value not in choices:
        return f"{name} takes one of: {', '.join(choices)}."
    if choices is None:
        if not _COMMENT_RE.fullmatch(value):
            return f"{name} takes printable ASCII characters only (no control characters)."
        if len(value) > COMMENT_MAX:
            return f"{name} takes at most {COMMENT_MAX} characters."
    return None
