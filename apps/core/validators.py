"""Name and size validators shared by every subsystem.

Every name that reaches a host command line passes one of these first. They raise Django's
``ValidationError`` so serializers and forms report the failing field; services call them too.
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .errors import BackendError

__all__ = [
    "MAX_IQN_BYTES",
    "format_size",
    "from_backend",
    "ip_network_or_none",
    "is_unix_user",
    "parse_size",
    "validate_btrfs_subvolume_name",
    "validate_config_path",
    "validate_each",
    "validate_host_path",
    "validate_hostname",
    "validate_iqn",
    "validate_property_name",
    "validate_safe_name",
    "validate_snapshot_name",
    "validate_zfs_dataset_name",
    "validate_zfs_pool_name",
]

_COMPONENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:-]*")
_POOL = re.compile(r"[A-Za-z][A-Za-z0-9_.:-]*")
_RESERVED_POOL = re.compile(r"(mirror|raidz|raidz1|raidz2|raidz3|draid\d*|spare|log|cache|special|dedup|c\d.*)")
_SAFE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,254}")
_HOST = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*")
_PROPERTY = re.compile(r"[a-z][a-z0-9_]*(:[a-z0-9_.:-]+)?")
MAX_ZFS_NAME = 255


def validate_safe_name(value: str) -> str:
    """A plain object name: letters, digits and ``_ . : @ + -``, not starting with ``-``."""
    if not isinstance(value, str) or not _SAFE.fullmatch(value):
        raise ValidationError(
            _("'%(value)s' is not a valid name: use letters, digits and _ . : @ + - (no spaces), "
              "starting with a letter or digit."), code="invalid_name", params={"value": value})
    return value


def validate_zfs_pool_name(value: str) -> str:
    """ZFS pool naming rules (zpool(8)): letter first, then ``[A-Za-z0-9_.:-]``; reserved words refused."""
    if not isinstance(value, str) or not _POOL.fullmatch(value) or len(value) > MAX_ZFS_NAME:
        raise ValidationError(
            _("'%(value)s' is not a valid pool name: start with a letter, then letters, digits, _ . : - only."),
            code="invalid_pool_name", params={"value": value})
    if _RESERVED_POOL.fullmatch(value):
        raise ValidationError(_("'%(value)s' is a reserved word and cannot name a pool."),
                              code="reserved_pool_name", params={"value": value})
    return value


def validate_zfs_dataset_name(value: str) -> str:
    """``pool/child/...``: a valid pool name, then components of ``[A-Za-z0-9_.:-]``, 255 chars at most."""
    if not isinstance(value, str) or len(value) > MAX_ZFS_NAME or "@" in value or "#" in value:
        raise ValidationError(_("'%(value)s' is not a valid dataset name."), code="invalid_dataset_name",
                              params={"value": value})
    pool, *children = value.split("/")
    validate_zfs_pool_name(pool)
    for part in children:
        if not _COMPONENT.fullmatch(part) or part in (".", ".."):
            raise ValidationError(
                _("'%(value)s' is not a valid dataset name: each part uses letters, digits, _ . : - only."),
                code="invalid_dataset_name", params={"value": value})
    return value


def validate_snapshot_name(value: str) -> str:
    """The part after ``@`` (or a full ``dataset@snap``): letters, digits, ``_ . : -``."""
    dataset, sep, snap = value.rpartition("@") if isinstance(value, str) else ("", "", "")
    if sep:
        validate_zfs_dataset_name(dataset)
    if not _COMPONENT.fullmatch(snap or "") or len(value) > MAX_ZFS_NAME:
        raise ValidationError(
            _("'%(value)s' is not a valid snapshot name: letters, digits, _ . : - only."),
            code="invalid_snapshot_name", params={"value": value})
    return value


def validate_btrfs_subvolume_name(value: str) -> str:
    """A subvolume path relative to its filesystem: components of ``[A-Za-z0-9_.:@-]``."""
    parts = value.split("/") if isinstance(value, str) and value else [""]
    for part in parts:
        if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.:@-]{0,254}", part) or part in (".", ".."):
            raise ValidationError(
                _("'%(value)s' is not a valid subvolume name: letters, digits, _ . : @ - only, no '..'."),
                code="invalid_subvolume_name", params={"value": value})
    return value


def validate_hostname(value: str) -> str:
    if not isinstance(value, str) or not _HOST.fullmatch(value):
        raise ValidationError(_("'%(value)s' is not a valid host name or address."), code="invalid_hostname",
                              params={"value": value})
    return value


def validate_property_name(value: str) -> str:
    """A native property (``compression``) or a user property (``com.example:owner``)."""
    if not isinstance(value, str) or not (_PROPERTY.fullmatch(value) or re.fullmatch(r"[a-z0-9_.-]+:[a-z0-9_.:-]+", value)):
        raise ValidationError(_("'%(value)s' is not a valid property name."), code="invalid_property",
                              params={"value": value})
    return value


def validate_host_path(value: str) -> str:
    """An absolute path on the host without '..', control characters or a leading '-'."""
    if (not isinstance(value, str) or not value.startswith("/") or "/../" in f"{value}/"
            or re.search(r"[\x00-\x1f\x7f]", value) or len(value) > 4096):
        raise ValidationError(_("'%(value)s' is not a valid absolute path."), code="invalid_path",
                              params={"value": value})
    return value


_UNITS = {"": 0, "B": 0, "K": 1, "M": 2, "G": 3, "T": 4, "P": 5, "E": 6}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([KMGTPE]?)(?:I?B)?\s*", re.IGNORECASE)


def parse_size(value: str | int) -> int:
    """Human size to bytes: ``10G``, ``1.5T``, ``512M``, ``4096``, ``10GiB`` (binary units, as ZFS)."""
    if isinstance(value, bool):
        raise ValidationError(_("Not a size."), code="invalid_size")
    if isinstance(value, int):
        if value < 0:
            raise ValidationError(_("A size cannot be negative."), code="invalid_size")
        return value
    match = _SIZE.fullmatch(str(value))
    if not match:
        raise ValidationError(_("'%(value)s' is not a size: use a number with an optional unit K, M, G, T, P."),
                              code="invalid_size", params={"value": value})
    try:
        number = Decimal(match.group(1))
    except InvalidOperation as exc:  # pragma: no cover - regex guards this
        raise ValidationError(_("Not a size."), code="invalid_size") from exc
    return int(number * (1024 ** _UNITS[match.group(2).upper()]))


def format_size(num: int | None) -> str:
    """Bytes to a short human string: 1.5G."""
    if num is None:
        return "-"
    value = float(num)
    for unit in ("B", "K", "M", "G", "T", "P"):
        if abs(value) < 1024 or unit == "P":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.1f}E"  # pragma: no cover


UNIX_USER = re.compile(r"[a-z_][a-z0-9_-]{0,31}")  # a user name useradd, ssh and smbpasswd all take


def is_unix_user(value) -> bool:
    return isinstance(value, str) and UNIX_USER.fullmatch(value) is not None


_CONFIG_PATH = re.compile(r"/[A-Za-z0-9._+@:/-]*")


def validate_config_path(value: str) -> str:
    """A path that goes into a host service's configuration file (and through tools that hand it to a shell,
    as tgt-admin does): absolute, normalised, of letters, digits and . _ + @ : / - only."""
    if (not isinstance(value, str) or not _CONFIG_PATH.fullmatch(value) or len(value) > 1024
            or posixpath.normpath(value) != value or value.startswith("//")):
        raise ValidationError(_("Give an absolute path of letters, digits and . _ + @ : / - (no spaces, no . or .. "
                                "parts), e.g. /tank/iscsi/disk1.img."), code="invalid_path")
    return value


def ip_network_or_none(value):
    """The IP address or network ``value`` names, or None. A scoped IPv6 address (fe80::1%eth0) is none: its scope
    may hold any character, and a share's or target's client list has no use for it."""
    if not isinstance(value, str) or "%" in value or value != value.strip():
        return None
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError:
        return None


MAX_IQN_BYTES = 223
_IQN = re.compile(r"iqn\.(\d{4})-(0[1-9]|1[0-2])\.[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*"
                  r"(:[a-z0-9.:_-]+)?")
_EUI = re.compile(r"eui\.[0-9A-F]{16}")
_NAA = re.compile(r"naa\.([0-9A-F]{16}|[0-9A-F]{32})")


def validate_iqn(value: str) -> str:
    """An iSCSI name (iqn., eui. or naa.), as RFC 3720/3721 define them, at most 223 bytes."""
    ok = isinstance(value, str) and len(value.encode()) <= MAX_IQN_BYTES and (
        _IQN.fullmatch(value) or _EUI.fullmatch(value.upper() if value.startswith("eui.") else "")
        or _NAA.fullmatch(value.upper() if value.startswith("naa.") else ""))
    if not ok:
        raise ValidationError(
            _("'%(value)s' is not an iSCSI name: give iqn.YYYY-MM.reversed.domain[:identifier] in lower case "
              "(e.g. iqn.2026-12.org.example:disk1), eui. and 16 hex digits, or naa. and 16 or 32 hex digits; "
              "223 bytes at most."), code="invalid_iqn", params={"value": value})
    return value


def validate_each(validator, value, field: str) -> None:
    """A list of texts (a JSON field edited one per line) each passing ``validator``, none twice; every fault
    reported on ``field``."""
    if not isinstance(value, list):
        raise ValidationError({field: _("Give a list.")})
    errors = []
    for item in value:
        try:
            if not isinstance(item, str):
                raise ValidationError(_("'%(value)s' is not text.") % {"value": item})
            validator(item)
        except ValidationError as exc:
            errors.extend(exc.messages)
    if len(set(map(str, value))) != len(value):
        errors.append(_("Each entry only once."))
    if errors:
        raise ValidationError({field: errors})


def from_backend(check, value):
    """``check(value)``, a backend's own rule, its ``BackendError`` raised as a ValidationError: a model refuses
    exactly what its backend would, as a 400 on the field before any command runs."""
    try:
        check(value)
    except BackendError as exc:
        raise ValidationError(exc.message, code="invalid") from exc
    return value
