"""The Bacula (or Bareos) family: which daemons and console a flavour runs, the resources Calypso renders into
the daemons' include files (plain frozen dataclasses, no Django), and the checks every value passes before it
reaches a configuration file or a console command.

``validate_schedule_run`` reads a ``Run =`` directive with the grammar of Bacula's ``src/dird/run_conf.c``, so a
schedule the director would refuse (``at 25:99``, ``everyday``) is refused here, naming the word at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any

from apps.core.errors import BackendError

__all__ = [
    "FLAVOURS",
    "AutochangerSpec",
    "ClientSpec",
    "DeviceSpec",
    "DirectorResources",
    "FileSetSpec",
    "Flavour",
    "JobSpec",
    "PoolSpec",
    "ScheduleSpec",
    "StorageResources",
    "StorageSpec",
    "quote",
    "validate_address",
    "validate_changer_command",
    "validate_label_format",
    "validate_name",
    "validate_password",
    "validate_path",
    "validate_schedule_run",
]


@dataclass(frozen=True, slots=True)
class Flavour:
    name: str  # "bacula" or "bareos"
    dir_binary: str
    sd_binary: str
    fd_binary: str
    console: str
    config_dir: str

    def binary(self, daemon: str) -> str:
        """The program of daemon ``dir``, ``sd`` or ``fd``."""
        binaries = {"dir": self.dir_binary, "sd": self.sd_binary, "fd": self.fd_binary}
        if daemon not in binaries:
            raise BackendError(f"daemon: expected dir, sd or fd, got {daemon!r}")
        return binaries[daemon]


# Bareos forked from Bacula and speaks the same console protocol; only the programs and the directory differ.
FLAVOURS: dict[str, Flavour] = {
    "bacula": Flavour("bacula", "bacula-dir", "bacula-sd", "bacula-fd", "bconsole", "/etc/bacula"),
    "bareos": Flavour("bareos", "bareos-dir", "bareos-sd", "bareos-fd", "bconsole", "/etc/bareos"),
}

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,126}")
_ADDRESS = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:-]{0,252}")
_BAD_PATH = re.compile(r'[\x00-\x1f\x7f"]')
_LABEL_FORMAT = re.compile(r"[A-Za-z0-9._-]{1,64}")
_CHANGER_WORD = re.compile(r"[A-Za-z0-9%/._=:-]+")


def _fail(field: str, message: str) -> BackendError:
    return BackendError(f"{field}: {message}")


def validate_name(value: Any, field: str = "name") -> str:
    """A Bacula resource name Calypso allows: a letter or digit, then letters, digits, ``. _ -`` (127 at most)."""
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise _fail(field, f"{value!r} is not a valid resource name (letters, digits, . _ -; at most 127)")
    return value


def validate_address(value: Any, field: str = "address") -> str:
    """A host name or an IP address."""
    if not isinstance(value, str) or not _ADDRESS.fullmatch(value):
        raise _fail(field, f"{value!r} is not a host name or an IP address")
    return value


def validate_path(value: Any, field: str = "path") -> str:
    """An absolute path without quotes, newlines or other control characters."""
    if not isinstance(value, str) or not value.startswith("/") or _BAD_PATH.search(value) or len(value) > 4096:
        raise _fail(field, f"{value!r} is not an absolute path without quotes or control characters")
    return value


def validate_password(value: Any, field: str = "password") -> str:
    """A daemon password: 1 to 127 characters, no control characters (quotes are escaped when written)."""
    if not isinstance(value, str) or not 1 <= len(value) <= 127 or re.search(r"[\x00-\x1f\x7f]", value):
        raise _fail(field, "a password of 1 to 127 characters without control characters")
    return value


def validate_label_format(value: Any, field: str = "label_format") -> str:
    """A pool's label format for volumes labelled automatically: letters, digits, ``. _ -`` (64 at most)."""
    if not isinstance(value, str) or not _LABEL_FORMAT.fullmatch(value):
        raise _fail(field, f"{value!r}: letters, digits, . _ - (at most 64)")
    return value


def validate_changer_command(value: Any, field: str = "changer_command") -> str:
    """A changer program's absolute path and its arguments (Bacula's ``%c %o %S %a %d %v`` among them)."""
    words = value.split(" ") if isinstance(value, str) else []
    if not words or not words[0].startswith("/") or not all(_CHANGER_WORD.fullmatch(w) for w in words):
        raise _fail(field, f"{value!r}: an absolute program path and arguments of letters, digits and % / . _ = : -")
    return value


def quote(value: str) -> str:
    """``value`` as a quoted string of Bacula's configuration lexer (``\\`` escapes the next character)."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _int(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise _fail(field, f"expected a whole number from {low} to {high}, got {value!r}")
    return value


def _bool(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(field, f"expected true or false, got {value!r}")
    return value


def _choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise _fail(field, f"expected one of {', '.join(c or '(none)' for c in choices)}, got {value!r}")
    return value


def _tuple(value: Any, field: str, *, empty: bool = True) -> tuple:
    if not isinstance(value, tuple) or (not empty and not value):
        raise _fail(field, "expected a tuple" + ("" if empty else " of at least one item"))
    return value


# --- the Run directive (src/dird/run_conf.c) ---------------------------------------------------------------

_LEVELS = ("full", "incremental", "differential", "virtualfull", "base", "since", "initcatalog", "catalog",
           "volumetocatalog", "disktocatalog", "data")
_OVERRIDES = {"level": "level", "pool": "name", "fullpool": "name", "incrementalpool": "name",
              "differentialpool": "name", "nextpool": "name", "storage": "name", "messages": "name",
              "priority": "priority", "spooldata": "yesno", "accurate": "yesno", "writepartafterjob": "yesno",
              "maxrunschedtime": "duration", "maxrunsched": "duration"}
_WDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_WDAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august", "september",
                "october", "november", "december")
_WOMS = ("1st", "2nd", "3rd", "4th", "5th")
_WOM_NAMES = ("first", "second", "third", "fourth", "fifth")
_PERIODS = ("hourly", "daily", "weekly", "monthly")
_TIME = re.compile(r"(\d{1,2}):(\d{1,2})(am|pm)?", re.IGNORECASE)


def _date_kind(word: str) -> str | None:
    """What one date word of a Run directive is: wday, month, wom, woy, mday, period, or None."""
    w = word.lower()
    kinds = (("wday", _WDAYS + _WDAY_NAMES), ("month", _MONTHS + _MONTH_NAMES), ("wom", (*_WOMS, *_WOM_NAMES)),
             ("period", _PERIODS))
    for kind, words in kinds:
        if w in words:
            return kind
    if re.fullmatch(r"w\d{2}", w):
        if int(w[1:]) > 53:
            raise BackendError(f"Week of year {word} out of range (w00-w53).")
        return "woy"
    if w.isdigit():
        if not 1 <= int(w) <= 31:
            raise BackendError(f"Day number {word} out of range (1-31).")
        return "mday"
    return None


def _date_word(word: str) -> None:
    if "-" in word and not word.startswith("-"):
        low, _sep, high = word.partition("-")
        kinds = (_date_kind(low), _date_kind(high))
        if None in kinds or kinds[0] != kinds[1] or kinds[0] == "period":
            raise BackendError(f"Invalid month, weekday or position range: {word}.")
        return
    if _date_kind(word) is None and word.lower() not in _LEVELS:  # "Full sun at 2:00": a level as a date word
        raise BackendError(f"Job type field: {word} in run record not found")


def _time_word(word: str) -> None:
    match = _TIME.fullmatch(word)
    if not match:
        raise BackendError(f"Bad time specification: {word}.")
    hour, minute = int(match[1]), int(match[2])
    if (match[3] or "").lower() == "pm" and hour < 12:
        hour += 12
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise BackendError("Config error: Bad time specification.")


def _override(key: str, value: str) -> None:
    kind = _OVERRIDES.get(key.lower())
    if kind is None:
        raise BackendError(f"Job type field: {key} in run record not found")
    ok = {"level": lambda: value.lower() in _LEVELS,
          "name": lambda: bool(_NAME.fullmatch(value)),
          "priority": lambda: value.isdigit() and 1 <= int(value) <= 10000,
          "yesno": lambda: value.lower() in ("yes", "no", "true", "false"),
          "duration": lambda: bool(re.fullmatch(r"\d+\s*[a-z]*", value, re.IGNORECASE))}[kind]()
    if not ok:
        raise BackendError(f"{key}={value}: not a valid value in a run record")


def _words(text: str) -> list[str]:
    """Bacula's lexer splits ``Level=Full`` and ``Level = Full`` alike: ``=`` is a word of its own."""
    return [w for w in re.split(r"\s+|(=)", text.strip()) if w]


def validate_schedule_run(text: Any) -> str:
    """One ``Run =`` directive value (``Level=Full 1st sun at 23:05``), read as bacula-dir reads it."""
    if not isinstance(text, str) or not text.strip() or _BAD_PATH.search(text) or len(text) > 500:
        raise _fail("run", f"{text!r} is not a schedule run line")
    try:
        _check_run(_words(text))
    except BackendError as exc:
        raise _fail("run", f"{text!r}: {exc}") from None
    return text


def _check_run(words: list[str]) -> None:
    i = 0
    while i + 1 < len(words) and words[i + 1] == "=":  # overrides: Key=Value ...
        if i + 2 >= len(words):
            raise BackendError(f"Expected a value after {words[i]}=")
        _override(words[i], words[i + 2])
        i += 3
    have_at = False
    for word in words[i:]:
        if word.lower() == "on":
            continue
        if word.lower() == "at":
            have_at = True
        elif ":" in word:
            if not have_at:
                raise BackendError("Time must be preceded by keyword AT.")
            _time_word(word)
        elif word == "=":
            raise BackendError("Unexpected '=' in run record.")
        else:
            _date_word(word)


# --- the resources ---------------------------------------------------------------------------------------


class _Spec:
    """Every spec checks what it holds when it is built: a bad value never reaches a file."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:  # pragma: no cover - overridden
        raise NotImplementedError

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class ClientSpec(_Spec):
    name: str
    address: str
    password: str
    port: int = 9102
    catalog: str = "MyCatalog"
    file_retention_days: int = 60
    job_retention_days: int = 180
    autoprune: bool = True

    def validate(self) -> None:
        validate_name(self.name, "client.name")
        validate_address(self.address, "client.address")
        validate_password(self.password, "client.password")
        _int(self.port, "client.port", 1, 65535)
        validate_name(self.catalog, "client.catalog")
        _int(self.file_retention_days, "client.file_retention_days", 1, 36500)
        _int(self.job_retention_days, "client.job_retention_days", 1, 36500)
        _bool(self.autoprune, "client.autoprune")


@dataclass(frozen=True)
class FileSetSpec(_Spec):
    name: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    compression: str = ""
    signature: str = "MD5"
    one_fs: bool = True

    def validate(self) -> None:
        validate_name(self.name, "fileset.name")
        for path in _tuple(self.include, "fileset.include", empty=False):
            validate_path(path, "fileset.include")
        for path in _tuple(self.exclude, "fileset.exclude"):
            validate_path(path, "fileset.exclude")
        _choice(self.compression, "fileset.compression", ("", "GZIP", "LZO"))
        _choice(self.signature, "fileset.signature", ("MD5", "SHA1"))
        _bool(self.one_fs, "fileset.one_fs")


@dataclass(frozen=True)
class ScheduleSpec(_Spec):
    name: str
    runs: tuple[str, ...]

    def validate(self) -> None:
        validate_name(self.name, "schedule.name")
        for run in _tuple(self.runs, "schedule.runs", empty=False):
            try:
                validate_schedule_run(run)
            except BackendError as exc:
                raise _fail("schedule.runs", str(exc).removeprefix("run: ")) from None


POOL_TYPES = ("Backup", "Archive", "Cloned", "Migration", "Copy", "Save")


@dataclass(frozen=True)
class PoolSpec(_Spec):
    name: str
    pool_type: str = "Backup"
    volume_retention_days: int = 365
    recycle: bool = True
    autoprune: bool = True
    maximum_volume_bytes: int = 0
    label_format: str = ""
    storage: str = ""

    def validate(self) -> None:
        validate_name(self.name, "pool.name")
        _choice(self.pool_type, "pool.pool_type", POOL_TYPES)
        _int(self.volume_retention_days, "pool.volume_retention_days", 1, 36500)
        _bool(self.recycle, "pool.recycle")
        _bool(self.autoprune, "pool.autoprune")
        _int(self.maximum_volume_bytes, "pool.maximum_volume_bytes", 0, 2**63 - 1)
        if self.label_format:
            validate_label_format(self.label_format, "pool.label_format")
        if self.storage:
            validate_name(self.storage, "pool.storage")


@dataclass(frozen=True)
class StorageSpec(_Spec):
    name: str
    address: str
    password: str
    device: str
    media_type: str
    port: int = 9103
    autochanger: bool = True
    maximum_concurrent_jobs: int = 10

    def validate(self) -> None:
        validate_name(self.name, "storage.name")
        validate_address(self.address, "storage.address")
        validate_password(self.password, "storage.password")
        validate_name(self.device, "storage.device")
        validate_name(self.media_type, "storage.media_type")
        _int(self.port, "storage.port", 1, 65535)
        _bool(self.autochanger, "storage.autochanger")
        _int(self.maximum_concurrent_jobs, "storage.maximum_concurrent_jobs", 1, 1000)


DEVICE_TYPES = ("", "File", "Tape", "Fifo")


@dataclass(frozen=True)
class DeviceSpec(_Spec):
    name: str
    media_type: str
    archive_device: str
    drive_index: int = 0
    autochanger: bool = True
    device_type: str = ""  # "" = Tape for a /dev/ node, else File

    def validate(self) -> None:
        validate_name(self.name, "device.name")
        validate_name(self.media_type, "device.media_type")
        validate_path(self.archive_device, "device.archive_device")
        _int(self.drive_index, "device.drive_index", 0, 255)
        _bool(self.autochanger, "device.autochanger")
        _choice(self.device_type, "device.device_type", DEVICE_TYPES)

    @property
    def kind(self) -> str:
        """The device type Bacula is told: the given one, else Tape for a /dev/ node and File for the rest."""
        return self.device_type or ("Tape" if self.archive_device.startswith("/dev/") else "File")


@dataclass(frozen=True)
class AutochangerSpec(_Spec):
    name: str
    changer_device: str
    changer_command: str
    devices: tuple[DeviceSpec, ...]

    def validate(self) -> None:
        validate_name(self.name, "autochanger.name")
        validate_path(self.changer_device, "autochanger.changer_device")
        validate_changer_command(self.changer_command, "autochanger.changer_command")
        for device in _tuple(self.devices, "autochanger.devices", empty=False):
            if not isinstance(device, DeviceSpec):
                raise _fail("autochanger.devices", "expected DeviceSpec items")


def _unique(items: tuple, field: str, kind: type) -> None:
    _tuple(items, field)
    if not all(isinstance(item, kind) for item in items):
        raise _fail(field, f"expected {kind.__name__} items")
    names = [item.name for item in items]
    if len(set(names)) != len(names):
        raise _fail(field, "each name only once")


JOB_TYPES = ("Backup", "Restore", "Verify", "Admin")
JOB_LEVELS = ("Full", "Incremental", "Differential", "VirtualFull", "Base")


@dataclass(frozen=True)
class JobSpec(_Spec):
    name: str
    client: str
    fileset: str
    pool: str
    storage: str
    schedule: str = ""
    level: str = "Incremental"
    type: str = "Backup"
    messages: str = "Standard"
    priority: int = 10
    where: str = ""

    def validate(self) -> None:
        for attr in ("name", "client", "fileset", "pool", "storage", "messages"):
            validate_name(getattr(self, attr), f"job.{attr}")
        if self.schedule:
            validate_name(self.schedule, "job.schedule")
        _choice(self.level, "job.level", JOB_LEVELS)
        _choice(self.type, "job.type", JOB_TYPES)
        _int(self.priority, "job.priority", 1, 10000)
        if self.where:
            validate_path(self.where, "job.where")
        elif self.type == "Restore":
            raise _fail("job.where", "a restore job needs the directory it restores into")


@dataclass(frozen=True)
class DirectorResources(_Spec):
    clients: tuple[ClientSpec, ...] = ()
    filesets: tuple[FileSetSpec, ...] = ()
    schedules: tuple[ScheduleSpec, ...] = ()
    pools: tuple[PoolSpec, ...] = ()
    storages: tuple[StorageSpec, ...] = ()
    jobs: tuple[JobSpec, ...] = ()

    def validate(self) -> None:
        for attr, kind in (("clients", ClientSpec), ("filesets", FileSetSpec), ("schedules", ScheduleSpec),
                           ("pools", PoolSpec), ("storages", StorageSpec), ("jobs", JobSpec)):
            _unique(getattr(self, attr), attr, kind)


@dataclass(frozen=True)
class StorageResources(_Spec):
    autochangers: tuple[AutochangerSpec, ...] = ()
    devices: tuple[DeviceSpec, ...] = ()  # devices outside any autochanger

    def validate(self) -> None:
        _unique(self.autochangers, "autochangers", AutochangerSpec)
        _unique(self.devices, "devices", DeviceSpec)
        names = [d.name for c in self.autochangers for d in c.devices] + [d.name for d in self.devices]
        if len(set(names)) != len(names):
            raise _fail("devices", "each device name only once")
