"""What a disk health backend answers: frozen dataclasses, no Django."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

__all__ = ["DiskBackend", "SelfTestEntry", "SelfTestState", "SmartReport"]


@dataclass(frozen=True, slots=True)
class SelfTestEntry:
    """One line of the drive's self-test log."""

    kind: str
    status: str
    passed: bool | None = None
    lifetime_hours: int | None = None
    remaining_percent: int | None = None


@dataclass(frozen=True, slots=True)
class SelfTestState:
    """The self-test the drive is running now (``running``), or how the last one ended (``status``)."""

    running: bool = False
    remaining_percent: int | None = None
    status: str = ""
    passed: bool | None = None


@dataclass(frozen=True, slots=True)
class SmartReport:
    """One ``smartctl -a`` reading. ``supported`` False: the device has no SMART smartctl can reach (a virtual
    or loop device); ``error`` set: smartctl could not read a device that has it."""

    device: str
    supported: bool
    health: str  # passed / failed / unknown / unsupported
    exit_status: int = 0
    messages: tuple[str, ...] = ()
    error: str = ""
    protocol: str = ""  # ata / nvme / scsi
    device_type: str = ""
    model: str = ""
    serial: str = ""
    wwn: str = ""
    capacity_bytes: int | None = None
    rotation_rate: int | None = None
    smart_enabled: bool | None = None
    temperature_c: int | None = None
    power_on_hours: int | None = None
    reallocated_sectors: int | None = None
    pending_sectors: int | None = None
    offline_uncorrectable: int | None = None
    udma_crc_errors: int | None = None
    media_errors: int | None = None
    percentage_used: int | None = None
    available_spare: int | None = None
    grown_defects: int | None = None
    uncorrected_errors: int | None = None
    attributes: tuple[dict, ...] = ()
    self_test: SelfTestState = field(default_factory=SelfTestState)
    self_tests: tuple[SelfTestEntry, ...] = ()


class DiskBackend(Protocol):
    def read(self, device: str) -> SmartReport: ...
    def self_test_state(self, device: str) -> SelfTestState: ...
    def start_self_test(self, device: str, kind: str) -> None: ...
    def abort_self_test(self, device: str) -> None: ...
