"""Shared pieces of the storage services: validation to field errors, the audited host-change block, guards."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from apps.audit import services as audit
from apps.audit.choices import Outcome
from apps.core import validators as v
from apps.core.errors import ServiceError
from apps.core.runner import CommandError, LocalRunner, Runner

from .. import sync
from ..backends.base import BackendError
from ..choices import Backend, DatasetKind
from ..models import Dataset, Pool

__all__ = [
    "EDITABLE_PROPERTIES",
    "ENUM_PROPERTIES",
    "FILESYSTEM_ONLY",
    "LAYOUT_WIDTH",
    "ON_OFF",
    "SIZE_PROPERTIES",
    "VOLUME_ONLY",
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



def _check(validator: Callable[[Any], Any], value: Any, field: str) -> Any:
    """Run a core validator; its failure becomes a 400 naming ``field``."""
    try:
        return validator(value)
    except ValidationError as exc:
        raise ServiceError("invalid", " ".join(exc.messages), field=field) from exc


def _runner(runner: Runner | None) -> Runner:
    return runner if runner is not None else LocalRunner()


def _device(value: str, field: str = "devices") -> str:
    """A member device: an absolute path (/dev/sdb, /srv/disk.img) or a bare disk name (sdb)."""
    if isinstance(value, str) and value.startswith("/"):
        return _check(v.validate_host_path, value, field)
    return _check(v.validate_safe_name, value, field)


@contextlib.contextmanager
def _acting(actor, action: str, obj, source: str | None, *, changes: dict | None = None,
            message: str = "") -> Iterator[None]:
    """Run a host change; audit it as ok, or as failed with the tool's words, then raise a 409."""
    started = time.monotonic()
    try:
        yield
    except (BackendError, CommandError, ValueError) as exc:  # ValueError: a backend's own path check
        detail = getattr(exc, "stderr", "").strip() or str(exc)
        audit.record(actor, action, obj, source=source, changes=changes, outcome=Outcome.FAILED, message=detail,
                     duration_ms=(time.monotonic() - started) * 1000)
        raise ServiceError("host_refused", detail) from exc
    audit.record(actor, action, obj, source=source, changes=changes, message=message,
                 duration_ms=(time.monotonic() - started) * 1000)


def _require_zfs(pool: Pool, what: str) -> None:
    if pool.backend != Backend.ZFS:
        raise ServiceError("unsupported", _("%(what)s is only available on ZFS pools.") % {"what": what})


def _require_present(pool: Pool) -> None:
    if pool.gone:
        raise ServiceError("pool_gone", _("Pool %(name)s is not imported on this host.") % {"name": pool.name})


def _json_params(params: dict) -> dict:
    return json.loads(json.dumps(params, default=str))


def _clean_properties(properties: Mapping[str, Any], *, pool_level: bool = False,
                      kind: str = DatasetKind.FILESYSTEM) -> dict[str, str]:
    """Validated ``{name: value}``; sizes in human units become bytes; errors name the property."""
    clean: dict[str, str] = {}
    for name, raw in properties.items():
        _check(v.validate_property_name, name, name)
        value = str(raw).strip() if raw is not None else ""
        if not value or any(ord(c) < 32 for c in value) or len(value) > 8192:
            raise ServiceError("invalid", _("Give a value for %(p)s.") % {"p": name}, field=name)
        if ":" in name or pool_level:
            clean[name] = value
            continue
        if name not in EDITABLE_PROPERTIES:
            raise ServiceError("invalid", _("%(p)s cannot be set here.") % {"p": name}, field=name)
        if name in (VOLUME_ONLY if kind != DatasetKind.VOLUME else FILESYSTEM_ONLY):
            raise ServiceError("invalid", _("%(p)s does not apply to a %(k)s.") % {"p": name, "k": kind}, field=name)
        if name in SIZE_PROPERTIES:
            clean[name] = "none" if value == "none" and name != "volsize" else str(_check(v.parse_size, value, name))
        elif name in ("recordsize", "volblocksize"):
            size = _check(v.parse_size, value, name)
            if size < 512 or size > 16 * 1024 * 1024 or size & (size - 1):
                raise ServiceError("invalid", _("%(p)s must be a power of two from 512 to 16M.") % {"p": name},
                                   field=name)
            clean[name] = str(size)
        elif name == "mountpoint":
            if value not in ("none", "legacy"):
                _check(v.validate_host_path, value, name)
            clean[name] = value
        elif value.lower() not in ENUM_PROPERTIES[name]:
            raise ServiceError("invalid", _("%(v)s is not a valid %(p)s: use one of %(c)s.") % {
                "v": value, "p": name, "c": ", ".join(sorted(ENUM_PROPERTIES[name]))}, field=name)
        else:
            clean[name] = value.lower()
    return clean


def _dataset_name(pool: Pool, name: str, field: str = "name") -> str:
    _check(v.validate_zfs_dataset_name, name, field)
    if name.split("/")[0] != pool.name or "/" not in name:
        raise ServiceError("invalid", _("The name must start with %(p)s/.") % {"p": pool.name}, field=field)
    return name


def _drop_dataset_rows(dataset: Dataset) -> None:
    Dataset.objects.filter(sync._under(dataset.name), pool_id=dataset.pool_id).delete()
