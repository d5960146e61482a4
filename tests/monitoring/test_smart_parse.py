"""The smartctl JSON parsers on every recorded output, values checked exactly."""

import pytest

from apps.core.errors import ParseError
from apps.monitoring.backends.base import SelfTestEntry, SelfTestState
from apps.monitoring.backends.smart_parse import parse_self_test_state, parse_smartctl, parse_smartctl_messages

from .recordings import recorded


def test_ata_ssd():
    r = parse_smartctl(recorded("ata.json"))
    assert (r.supported, r.health, r.protocol, r.device_type, r.exit_status) == (True, "passed", "ata", "sat", 0)
    assert (r.model, r.serial, r.wwn) == ("Samsung SSD 860 EVO 500GB", "S3YZNB0KB00864E", "5002538e40a22954")
    assert (r.capacity_bytes, r.rotation_rate, r.smart_enabled) == (500107862016, 0, True)
    assert (r.temperature_c, r.power_on_hours) == (36, 14551)
    assert (r.reallocated_sectors, r.pending_sectors, r.offline_uncorrectable, r.udma_crc_errors) == (0, None, None, 0)
    assert (r.media_errors, r.percentage_used, r.available_spare, r.grown_defects) == (None, None, None, None)
    assert len(r.attributes) == 14
    assert r.attributes[0] == {"id": 5, "name": "Reallocated_Sector_Ct", "value": 100, "worst": 100, "thresh": 10,
                               "raw": 0, "raw_string": "0", "failing": ""}
    assert r.self_test == SelfTestState(running=False, remaining_percent=None, status="completed without error",
                                        passed=True)
    assert len(r.self_tests) == 19  # the extended log
    assert r.self_tests[0] == SelfTestEntry("Short offline", "Completed without error", True, 14417, None)


def test_ata_self_test_in_progress():
    r = parse_smartctl(recorded("ata-self-test-running.json"))
    assert r.self_test == SelfTestState(running=True, remaining_percent=10, status="in progress, 10% remaining")
    assert (r.model, r.capacity_bytes, r.rotation_rate, r.temperature_c, r.power_on_hours) == (
        "WDC WD140EDFZ-11A0VA0", 14000519643136, 5400, 32, 1730)
    assert (r.reallocated_sectors, r.pending_sectors, r.offline_uncorrectable, r.udma_crc_errors) == (0, 0, 0, 0)
    assert r.self_tests[0] == SelfTestEntry("Short offline", "Completed without error", True, 1708, None)
    assert parse_self_test_state(recorded("ata-self-test-running.json")).remaining_percent == 10


def test_failing_disk_is_failed_with_its_counters():
    r = parse_smartctl(recorded("ata-failing.json"))
    assert (r.health, r.supported, r.exit_status) == ("failed", True, 216)
    assert (r.model, r.serial, r.wwn, r.device_type) == ("Hitachi HDS721050DLE630", "MSK423Y20S3HBC",
                                                         "5000cca37fca81a8", "usbjmicron")
    assert (r.reallocated_sectors, r.pending_sectors, r.offline_uncorrectable, r.udma_crc_errors) == (1975, 8, 0, 0)
    assert (r.temperature_c, r.power_on_hours) == (25, 65592)
    failing = [a for a in r.attributes if a["failing"]]
    assert [(a["id"], a["failing"]) for a in failing] == [(5, "now")]
    assert len(r.self_tests) == 21


def test_nvme():
    r = parse_smartctl(recorded("nvme.json"))
    assert (r.protocol, r.health, r.model, r.serial) == ("nvme", "passed", "INTEL SSDPEKNW010T8", "BTNH93710FS91P0B")
    assert (r.media_errors, r.percentage_used, r.available_spare) == (0, 0, 100)
    assert (r.temperature_c, r.power_on_hours, r.capacity_bytes) == (36, 2401, 1024209543168)
    assert (r.reallocated_sectors, r.attributes, r.self_tests) == (None, (), ())


def test_sas():
    r = parse_smartctl(recorded("sas.json"))
    assert (r.protocol, r.health, r.model, r.serial) == ("scsi", "passed", "SEAGATE ST1200MM0088",
                                                         "Z4028VRY0000C810BZXB")
    assert (r.grown_defects, r.uncorrected_errors, r.temperature_c, r.power_on_hours) == (0, 0, 31, 5675)
    assert (r.capacity_bytes, r.rotation_rate) == (1200243695616, 10500)


@pytest.mark.parametrize(("name", "device"), [("loop-unsupported.json", "loop0"), ("vda-unsupported.json", "vda")])
def test_a_device_without_smart_is_unsupported_not_an_error(name, device):
    r = parse_smartctl(recorded(name))
    assert (r.supported, r.health, r.error, r.exit_status) == (False, "unsupported", "", 1)
    assert r.messages == (f"/dev/{device}: Unable to detect device type",)


def test_a_device_that_cannot_be_opened_is_an_error():
    text = ('{"smartctl": {"exit_status": 2, "messages": [{"string": "Smartctl open device: /dev/sdz failed: '
            'No such device", "severity": "error"}], "argv": ["smartctl", "-a", "/dev/sdz"]}}')
    r = parse_smartctl(text)
    assert (r.supported, r.health, r.device) == (False, "unknown", "/dev/sdz")
    assert r.error == "Smartctl open device: /dev/sdz failed: No such device"


def test_messages_of_a_refused_command():
    assert parse_smartctl_messages(recorded("vda-self-test-refused.json")) == (
        1, ("/dev/vda: Unable to detect device type",))


@pytest.mark.parametrize("text", ["", "garbage", "[1, 2]", '{"device": {}}', '{"smartctl": {"exit_status": "x"}}'])
def test_garbage_is_a_parse_error_naming_the_command(text):
    with pytest.raises(ParseError, match="smartctl --json -a"):
        parse_smartctl(text)
    with pytest.raises(ParseError, match="smartctl --json -c -l selftest"):
        parse_self_test_state(text if text != '{"smartctl": {"exit_status": "x"}}' else "nope")
