"""The mtx, mt, lsscsi and sg_logs parsers on every recorded output, values checked exactly."""

import pytest

from apps.core.errors import ParseError
from apps.tape.backends.mt_parse import flags_of, parse_mt_status
from apps.tape.backends.mtx_parse import parse_mtx_status
from apps.tape.backends.scsi_parse import TAPEALERT_FLAGS, parse_lsscsi, parse_tapealert, severity_of
from apps.tape.backends.types import ChangerDrive, ChangerSlot, ScsiDevice, TapeAlert

from .recordings import body


# ---------------------------------------------------------------- mtx status
def test_mtx_status_of_mhvtl_library():
    s = parse_mtx_status(body("mtx_status_mhvtl.txt"))
    assert (s.device, s.drive_count, s.slot_count, s.import_export_count) == ("/dev/sg6", 4, 37, 4)
    assert s.drives == tuple(ChangerDrive(n, False) for n in range(4))
    assert len(s.slots) == 37
    assert s.slots[0] == ChangerSlot(1, True, "SDLT01S3")
    assert s.slot(10) == ChangerSlot(10, False)
    assert s.slot(31).barcode == "CLN001L1"
    assert [x.number for x in s.slots if x.import_export] == [34, 35, 36, 37]
    assert sum(x.full for x in s.slots) == 25
    assert s.slot(99) is None


def test_mtx_status_with_a_loaded_drive():
    s = parse_mtx_status(body("mtx_status_tgt_rendered.txt"))
    assert (s.drive_count, s.slot_count, s.import_export_count) == (2, 12, 2)
    assert s.drive(0) == ChangerDrive(0, True, source_slot=1, barcode="CAL001L6")
    assert s.drive(1) == ChangerDrive(1, False)
    assert s.slot(1) == ChangerSlot(1, False) and s.slot(2) == ChangerSlot(2, True, "CAL002L6")
    assert s.slot(12) == ChangerSlot(12, False, import_export=True)


def test_mtx_status_variants_mtx_prints():
    text = ("  Storage Changer /dev/sg3:2 Drives, 3 Slots ( 1 Import/Export )\n"
            "Data Transfer Element 0:Full (Unknown Storage Element Loaded):VolumeTag = A02110 "
            ":AlternateVolumeTag = ALT1\n"
            "Data Transfer Element 1:Full (Storage Element 2 Loaded)\n"
            "      Storage Element 1:Empty:VolumeTag=\n"
            "      Storage Element 2:Empty\n"
            "      Storage Element 3 IMPORT/EXPORT:Full :VolumeTag=CLN001L1:AlternateVolumeTag=X\n")
    s = parse_mtx_status(text)
    assert s.drive(0) == ChangerDrive(0, True, None, "A02110", "ALT1")
    assert s.drive(1) == ChangerDrive(1, True, 2, "")
    assert s.slot(1) == ChangerSlot(1, False, "")
    assert s.slot(3) == ChangerSlot(3, True, "CLN001L1", True, "X")


@pytest.mark.parametrize("damage", [
    lambda t: t.rsplit("      Storage Element 37", 1)[0],  # cut: fewer slots than announced
    lambda t: t.replace("Data Transfer Element 3:Empty\n", ""),
    lambda t: t.replace("Storage Element 5:", "Storage Element 4:"),  # listed twice
    lambda t: t.replace("37 IMPORT/EXPORT:", "37:"),
    lambda t: t.replace("  Storage Changer", "  Storage Chnager"),
    lambda t: t + "mtx: something new\n",
    lambda t: t.replace("4 Drives", "99999999999 Drives"),
])
def test_mtx_status_that_is_not_an_inventory_is_a_parse_error(damage):
    with pytest.raises(ParseError) as err:
        parse_mtx_status(damage(body("mtx_status_mhvtl.txt")))
    assert err.value.command == "mtx status"


def test_mtx_no_device_is_not_a_status():
    with pytest.raises(ParseError, match="Storage Changer"):
        parse_mtx_status(body("mtx_status_no_device.txt"))


# ---------------------------------------------------------------- mt status
def test_mt_status_lto_at_bot():
    s = parse_mt_status(body("mt_status_lto5_bot.txt"))
    assert (s.drive_type, s.file_number, s.block_number, s.partition) == ("SCSI 2", 0, 0, 0)
    assert (s.block_size, s.density_code, s.density, s.soft_errors) == (512, 0x58, "", 0)
    assert (s.status_bits, s.flags) == (0x41000000, ("BOT", "ONLINE"))
    assert s.loaded and s.at_bot and not s.write_protected and not s.needs_cleaning


def test_mt_status_write_protected_dlt():
    s = parse_mt_status(body("mt_status_dlt_write_protected.txt"))
    assert (s.block_size, s.density_code, s.density) == (0, 0x19, "DLT 10GB")
    assert s.flags == ("BOT", "WR_PROT", "ONLINE", "IM_REP_EN")
    assert s.write_protected and s.loaded


def test_mt_status_without_a_tape():
    s = parse_mt_status(body("mt_status_no_tape_composed.txt"))
    assert (s.file_number, s.block_number, s.density_code, s.density) == (None, None, 0, "default")
    assert s.flags == ("DR_OPEN", "IM_REP_EN") and not s.loaded and not s.at_bot


def test_mt_status_flags_must_match_the_bits():
    text = body("mt_status_lto5_bot.txt").replace(" BOT ONLINE", " BOT ONLINE WR_PROT")
    with pytest.raises(ParseError, match="do not match"):
        parse_mt_status(text)
    assert flags_of(0xFFFFFFFF)[:3] == ("EOF", "BOT", "EOT") and len(flags_of(0xFFFFFFFF)) == 13


def test_mt_no_device_is_not_a_status():
    with pytest.raises(ParseError) as err:
        parse_mt_status(body("mt_status_no_device.txt"))
    assert err.value.line == "/dev/nst0: No such file or directory"


# ---------------------------------------------------------------- lsscsi -g
def test_lsscsi_mhvtl_with_driver_nodes():
    devices = parse_lsscsi(body("lsscsi_g_mhvtl_install.txt"))
    assert len(devices) == 7
    assert devices[0] == ScsiDevice(0, 0, 0, 0, "disk", "ATA", "WDC WD1200BEVS-0", "02.0", "/dev/sda", "/dev/sg0")
    assert devices[1].model == "DVD RW AD-7910A" and devices[1].type == "cd/dvd"
    changer = devices[2]
    assert (changer.type, changer.vendor, changer.model, changer.device, changer.sg) == (
        "mediumx", "SPECTRA", "PYTHON", "/dev/sch0", "/dev/sg6")
    tape = devices[5]
    assert (tape.hctl, tape.vendor, tape.model, tape.revision, tape.device, tape.nst, tape.sg) == (
        "5:0:3:0", "IBM", "ULT3580-TD4", "5500", "/dev/st2", "/dev/nst2", "/dev/sg4")


def test_lsscsi_changer_without_ch_driver_and_process_devices():
    devices = parse_lsscsi(body("lsscsi_g_mhvtl_doc.txt"))
    assert len(devices) == 17
    assert devices[1] == ScsiDevice(0, 0, 6, 0, "process", "PE/PV", "1x3 SCSI BP", "1.1", None, "/dev/sg1")
    assert devices[8] == ScsiDevice(3, 0, 0, 0, "mediumx", "STK", "L700", "vx_0", None, "/dev/sg8")
    assert devices[-1].sg == "/dev/sg16" and devices[-1].nst == "/dev/nst9"
    assert devices[8].nst is None


def test_lsscsi_in_a_container_without_nodes():
    devices = parse_lsscsi(body("lsscsi_g_mhvtl_docker.txt"))
    assert [d.hctl for d in devices] == ["0:0:0:0", "0:0:1:0", "0:0:2:0", "0:0:3:0", "0:0:4:0", "0:0:8:0",
                                         "0:0:9:0", "0:0:10:0", "0:0:11:0", "0:0:12:0"]
    assert devices[7] == ScsiDevice(0, 0, 10, 0, "tape", "STK", "T10000B", "550V", None, None)
    assert [d.model for d in devices if d.type == "mediumx"] == ["L700", "L80"]


def test_lsscsi_without_devices_and_nvme_rows():
    assert parse_lsscsi(body("lsscsi_g_empty.txt")) == ()
    nvme = "[N:0:0:1]    disk    Micron MTFDKCD512TFK__1                    /dev/nvme0n1  -        \n"
    assert parse_lsscsi(nvme) == ()


@pytest.mark.parametrize("line", ["[0:0:0:0]    tape", "[0:0:0:0]    tape    IBM      ULT3580-TD4      5500",
                                  "random words", "[0:0:0]    tape    IBM  X  1  /dev/st0  /dev/sg1"])
def test_lsscsi_lines_it_cannot_read(line):
    with pytest.raises(ParseError) as err:
        parse_lsscsi(line + "\n")
    assert err.value.command == "lsscsi -g" and err.value.line == line


# ---------------------------------------------------------------- sg_logs TapeAlert
def test_tapealert_full_page_lists_only_the_set_flags():
    alerts = parse_tapealert(body("sg_logs_tapealert.txt"))
    assert alerts == (TapeAlert(0x03, "Hard error", "warning", "Hard error"),
                      TapeAlert(0x14, "Clean now", "critical", "Cleaning required"))


def test_tapealert_brief_gives_the_same():
    assert parse_tapealert(body("sg_logs_tapealert_brief.txt")) == parse_tapealert(body("sg_logs_tapealert.txt"))


def test_tapealert_after_the_device_identity_line():
    text = "    IBM       ULTRIUM-TD6       G350\n" + body("sg_logs_tapealert_brief.txt").replace(
        "Hard error: 1", "Media: 1")
    assert [(a.code, a.severity) for a in parse_tapealert(text)] == [(0x04, "critical"), (0x14, "critical")]


def test_tapealert_every_sg_logs_name_maps_back_to_its_flag():
    names = [line.strip().rsplit(":", 1)[0] for line in body("sg_logs_tapealert.txt").splitlines()[1:]]
    assert len(names) == 64
    text = "Tape alert page (ssc-3) [0x2e]\n" + "".join(f"  {n}: 1\n" for n in names)
    assert [a.code for a in parse_tapealert(text)] == list(range(1, 65))


def test_tapealert_severities_follow_the_standard():
    assert {c for c in TAPEALERT_FLAGS if severity_of(c) == "information"} >= {0x0A, 0x0B, 0x0C, 0x13}
    assert [severity_of(c) for c in (0x01, 0x04, 0x05, 0x06, 0x10, 0x14, 0x15, 0x1E, 0x26, 0x37)] == [
        "warning", "critical", "critical", "critical", "critical", "critical", "warning", "critical", "critical",
        "critical"]


@pytest.mark.parametrize("text", ["", "  Hard error: 1\n", "Tape alert page (ssc-3) [0x2e]\n  Made up flag: 1\n",
                                  "Tape alert page (ssc-3) [0x2e]\n  Hard error: 1\n  Hard error: 0\n",
                                  "Tape alert page (ssc-3) [0x2e]\n  Hard error: 2\n"])
def test_tapealert_output_it_cannot_read(text):
    with pytest.raises(ParseError) as err:
        parse_tapealert(text)
    assert err.value.command == "sg_logs -p 0x2e"
