"""Shared pieces of the storage services: validation into field errors, property cleaning, guards."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from apps.core import validators as v
from apps.core.errors import ServiceError

from ..choices import DatasetKind
from ..models import Pool

__all__ = [
    "EDITABLE_PROPERTIES",
    "ENUM_PROPERTIES",
    "FILESYSTEM_ONLY",
    "LAYOUT_WIDTH",
    "SIZE_PROPERTIES",
    "VOLUME_ONLY",
    "check",
    "check_device",
    "clean_properties",
    "require_present",
]

SIZE_PROPERTIES = {"quota", "refquota", "reservation", "refreservation", "volsize"}
ON_OFF = {"on", "off"}
ENUM_PROPERTIES = {
    "compression": {"on", "off", "lzjb", "gzip", *(f"gzip-{i}" for i in range(1, 10)), "zle", "lz4", "zstd",
                    "zstd-fast", *(f"zstd-{i}" for i in range(1, 20))},
    "atime": ON_OFF, "readonly": ON_OFF, "exec": ON_OFF, "setuid": ON_OFF, "devices": ON_OFF,
    "relatime": ON_OFF, "canmount": {"on", "off", "noauto"}, "sync": {"standard", "always", "disabled"},
    "dedup": {"on", "off", "verify", "sha256", "sha256,verify"}, "checksum": {"on", "off", "fletcher2",
                                                                             "fletcher4", "sha256"},
    "copies": {"1", "2", "3"}, "snapdir": {"hidden", "visible"}, "xattr": {"on", "off", "sa", "dir"},
    "aclinherit": {"discard", "noallow", "restricted", "passthrough", "passthrough-x"},
}  # fmt: skip
EDITABLE_PROPERTIES = {*SIZE_PROPERTIES, *ENUM_PROPERTIES, "recordsize", "volblocksize", "mountpoint"}
VOLUME_ONLY = {"volsize", "volblocksize"}
FILESYSTEM_ONLY = {"recordsize", "quota", "refquota", "mountpoint", "atime", "relatime", "exec", "setuid", "devices",
                   "canmount", "snapdir", "xattr", "aclinherit"}  # per OpenZFS zfs_prop.c
LAYOUT_WIDTH = {"stripe": 1, "mirror": 2, "raidz1": 3, "raidz2": 4, "raidz3": 5}


def check(validator: Callable[[Any], Any], value: Any, field: str) -> Any:
    """Run a core validator; its failure becomes a 400 naming ``field``."""
    try:
        return validator(value)
    except ValidationError as exc:
        raise ServiceError("invalid", " ".join(exc.messages), field=field) from exc


def check_device(value: str, field: str = "devices") -> str:
    """A member device: an absolute path (/dev/sdb, /srv/disk.img) or a bare disk name (sdb)."""
    if isinstance(value, str) and value.startswith("/"):
        return check(v.validate_host_path, value, field)
    return check(v.validate_safe_name, value, field)


def require_present(pool: Pool) -> None:
    if pool.gone:
        raise ServiceError("pool_gone", _("Pool %(name)s is not imported on this host.") % {"name": pool.name})


def _clean_value(name: str, value: str, kind: str) -> str:
    if name in (VOLUME_ONLY if kind != DatasetKind.VOLUME else FILESYSTEM_ONLY):
        raise ServiceError("invalid", _("%(p)s does not apply to a %(k)s.") % {"p": name, "k": kind}, field=name)
    if name in SIZE_PROPERTIES:
        return "none" if value == "none" and name != "volsize" else str(check(v.parse_size, value, name))
    if name in ("recordsize", "volblocksize"):
        size = check(v.parse_size, value, name)
        if size < 512 or size > 16 * 1024 * 1024 or size & (size - 1):
            raise ServiceError("invalid", _("%(p)s must be a power of two from 512 to 16M.") % {"p": name},
                               field=name)
        return str(size)
    if name == "mountpoint":
        if value not in ("none", "legacy"):
            check(v.validate_host_path, value, name)
        return value
    if value.lower() not in ENUM_PROPERTIES[name]:
        raise ServiceError("invalid", _("%(v)s is not a valid %(p)s: use one of %(c)s.") % {
            "v": value, "p": name, "c": ", ".join(sorted(ENUM_PROPERTIES[name]))}, field=name)
    return value.lower()


def clean_properties(properties: Mapping[str, Any], *, pool_level: bool = False,
                     kind: str = DatasetKind.FILESYSTEM) -> dict[str, str]:
    """Validated ``{name: value}``; sizes in human units become bytes; errors name the property."""
    clean: dict[str, str] = {}
    for name, raw in properties.items():
        check(v.validate_property_name, name, name)
        value = str(raw).strip() if raw is not None else ""
        if not value or any(ord(c) < 32 for c in value) or len(value) > 8192:
            raise ServiceError("invalid", _("Give a value for %(p)s.") % {"p": name}, field=name)
        if ":" in name or pool_level:
            clean[name] = value
        elif name not in EDITABLE_PROPERTIES:
            raise ServiceError("invalid", _("%(p)s cannot be set here.") % {"p": name}, field=name)
        else:
            clean[name] = _clean_value(name, value, kind)
    return clean
