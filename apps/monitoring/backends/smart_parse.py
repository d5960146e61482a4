"""Pure parsers of ``smartctl --json`` (smartctl 7.x JSON schema) for ATA, NVMe and SCSI/SAS devices.

smartctl's exit status is a bit mask: bit 0 the command line or device type (a loop or virtual disk:
"Unable to detect device type"), bit 1 opening the device, bit 2 a SMART command failed, bit 3 "disk
failing", bits 4-7 prefail/old-age attributes and logged errors. The JSON is printed whatever the status,
so it is read in every case; ``smartctl.exit_status`` and ``smartctl.messages`` say what happened.
"""

from __future__ import annotations

import json

from apps.core.errors import parser

from .base import SelfTestEntry, SelfTestState, SmartReport

__all__ = ["EXIT_CMDLINE", "EXIT_DISK_FAILING", "EXIT_OPEN", "EXIT_SMART_CMD", "parse_self_test_state",
           "parse_smartctl", "parse_smartctl_messages"]

EXIT_CMDLINE, EXIT_OPEN, EXIT_SMART_CMD, EXIT_DISK_FAILING = 1, 2, 4, 8
ATA_ATTRIBUTES = {5: "reallocated_sectors", 197: "pending_sectors", 198: "offline_uncorrectable",
                  199: "udma_crc_errors"}
PROTOCOLS = {"ATA": "ata", "NVMe": "nvme", "SCSI": "scsi"}


def _load(text: str) -> dict:
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("smartctl"), dict):
        raise ValueError("not smartctl JSON output (no 'smartctl' object)")
    return data


def _messages(data: dict) -> tuple[str, ...]:
    return tuple(str(m.get("string", "")) for m in data["smartctl"].get("messages") or () if isinstance(m, dict))


def _int(value) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    return int(value)


def _wwn(data: dict) -> str:
    wwn = data.get("wwn")
    if not isinstance(wwn, dict):
        return ""
    return f"{int(wwn['naa']):x}{int(wwn['oui']):06x}{int(wwn['id']):09x}"


def _ata_state(data: dict) -> SelfTestState:
    status = (data.get("ata_smart_data") or {}).get("self_test", {}).get("status")
    if not isinstance(status, dict):
        return SelfTestState()
    value = int(status.get("value", 0))
    running = value >> 4 == 0xF  # 0xF0-0xFF: in progress, low nibble = tenths remaining
    remaining = _int(status.get("remaining_percent"))
    return SelfTestState(running=running, remaining_percent=remaining if running else None,
                         status=str(status.get("string", "")), passed=status.get("passed"))


def _nvme_state(data: dict) -> SelfTestState:
    log = data.get("nvme_self_test_log")
    if not isinstance(log, dict):
        return SelfTestState()
    current = log.get("current_self_test_operation") or {}
    running = int(current.get("value", 0)) != 0
    done = _int(log.get("current_self_test_completion_percent"))
    return SelfTestState(running=running, remaining_percent=(100 - done) if running and done is not None else None,
                         status=str(current.get("string", "")))


def _self_test_state(data: dict) -> SelfTestState:
    state = _ata_state(data)
    return state if state.status else _nvme_state(data)


def _ata_log(data: dict) -> list[SelfTestEntry]:
    log = data.get("ata_smart_self_test_log") or {}
    table = (log.get("extended") or log.get("standard") or {}).get("table") or ()
    out = []
    for row in table:
        status = row.get("status") or {}
        out.append(SelfTestEntry(
            kind=str((row.get("type") or {}).get("string", "")), status=str(status.get("string", "")),
            passed=status.get("passed"), lifetime_hours=_int(row.get("lifetime_hours")),
            remaining_percent=_int(status.get("remaining_percent"))))
    return out


def _nvme_log(data: dict) -> list[SelfTestEntry]:
    out = []
    for row in (data.get("nvme_self_test_log") or {}).get("table") or ():
        result = row.get("self_test_result") or {}
        out.append(SelfTestEntry(
            kind=str((row.get("self_test_code") or {}).get("string", "")), status=str(result.get("string", "")),
            passed=int(result.get("value", 0)) == 0 if "value" in result else None,
            lifetime_hours=_int(row.get("power_on_hours"))))
    return out


def _health(data: dict, exit_status: int) -> str:
    passed = (data.get("smart_status") or {}).get("passed")
    if passed is False or exit_status & EXIT_DISK_FAILING:
        return "failed"
    return "passed" if passed is True else "unknown"


@parser("smartctl --json -a")
def parse_smartctl(text: str) -> SmartReport:
    """``smartctl --json=c -a /dev/X``: identity, verdict, temperature, the predictive values, the
    attribute table and self-test log. A device smartctl cannot address (no device type, no SMART) is
    ``supported=False``; one it found but could not open is an ``error``."""
    data = _load(text)
    exit_status = int(data["smartctl"].get("exit_status", 0))
    messages = _messages(data)
    device = data.get("device") or {}
    name = str(device.get("name") or (data["smartctl"].get("argv") or [""])[-1])
    if not device or exit_status & (EXIT_CMDLINE | EXIT_OPEN):
        if exit_status & EXIT_OPEN:
            return SmartReport(name, supported=False, health="unknown", exit_status=exit_status, messages=messages,
                               error="; ".join(messages) or f"smartctl exit status {exit_status}")
        return SmartReport(name, supported=False, health="unsupported", exit_status=exit_status, messages=messages)
    available = (data.get("smart_support") or {}).get("available")
    protocol = PROTOCOLS.get(str(device.get("protocol", "")), "")
    values: dict = {}
    for row in (data.get("ata_smart_attributes") or {}).get("table") or ():
        if int(row["id"]) in ATA_ATTRIBUTES:
            values[ATA_ATTRIBUTES[int(row["id"])]] = int(row["raw"]["value"])
    nvme = data.get("nvme_smart_health_information_log")
    if isinstance(nvme, dict):
        values.update(media_errors=_int(nvme.get("media_errors")), percentage_used=_int(nvme.get("percentage_used")),
                      available_spare=_int(nvme.get("available_spare")))
    if "scsi_grown_defect_list" in data:
        values["grown_defects"] = int(data["scsi_grown_defect_list"])
    counters = data.get("scsi_error_counter_log")
    if isinstance(counters, dict):
        values["uncorrected_errors"] = sum(int((counters.get(k) or {}).get("total_uncorrected_errors", 0))
                                           for k in ("read", "write", "verify"))
    temperature = _int((data.get("temperature") or {}).get("current"))
    if temperature is None and isinstance(nvme, dict):
        temperature = _int(nvme.get("temperature"))
    attributes = tuple(
        {"id": int(row["id"]), "name": str(row.get("name", "")), "value": _int(row.get("value")),
         "worst": _int(row.get("worst")), "thresh": _int(row.get("thresh")), "raw": _int(row["raw"]["value"]),
         "raw_string": str(row["raw"].get("string", "")), "failing": str(row.get("when_failed") or "")}
        for row in (data.get("ata_smart_attributes") or {}).get("table") or ())
    supported = available is not False and ("smart_status" in data or bool(attributes) or isinstance(nvme, dict)
                                            or "scsi_grown_defect_list" in data)
    return SmartReport(
        name, supported=supported, health=_health(data, exit_status) if supported else "unsupported",
        exit_status=exit_status, messages=messages, protocol=protocol, device_type=str(device.get("type", "")),
        model=str(data.get("model_name") or data.get("scsi_model_name") or "").strip(),
        serial=str(data.get("serial_number") or "").strip(), wwn=_wwn(data),
        capacity_bytes=_int((data.get("user_capacity") or {}).get("bytes")),
        rotation_rate=_int(data.get("rotation_rate")),
        smart_enabled=(data.get("smart_support") or {}).get("enabled", True if "smart_status" in data else None),
        temperature_c=temperature,
        power_on_hours=_int((data.get("power_on_time") or {}).get("hours")), attributes=attributes,
        self_test=_self_test_state(data), self_tests=tuple(_ata_log(data) + _nvme_log(data)), **values)


@parser("smartctl --json -c -l selftest")
def parse_self_test_state(text: str) -> SelfTestState:
    """``smartctl --json=c -c -l selftest /dev/X``: whether a self-test runs and how much of it remains."""
    return _self_test_state(_load(text))


@parser("smartctl --json")
def parse_smartctl_messages(text: str) -> tuple[int, tuple[str, ...]]:
    """Any ``smartctl --json`` answer: its exit status and messages (``-t``, ``-X``)."""
    data = _load(text)
    return int(data["smartctl"].get("exit_status", 0)), _messages(data)
