"""mhVTL's device.conf and library_contents: the files mhVTL ships read back as mhVTL reads them, a rendered
library read back the same, and nothing rendered from a name that is not valid."""

import dataclasses

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from apps.core.errors import BackendError, ParseError
from apps.tape.backends.base import DriveSpec, LibrarySpec, MediumSpec
from apps.tape.backends.mhvtl import (
    DEVICE_CONF_VERSION,
    mktape_argv,
    parse_device_conf,
    parse_library_contents,
    render_device_conf,
    render_library_contents,
)

from .recordings import config

SPEC = LibrarySpec("lib-a", vendor="STK", product="L700", serial="XYZZY_A", slots=12, ie_slots=2,
                   drives=(DriveSpec("IBM", "ULT3580-TD6", "XYZZY_A1"), DriveSpec("IBM", "ULT3580-TD6")),
                   media=(MediumSpec("CAL001L6", 1), MediumSpec("CAL002L6", 2, size_mb=2048),
                          MediumSpec("CLN001L6", 12, kind="clean")))


# ---------------------------------------------------------------- mhVTL's own files
def test_shipped_device_conf():
    conf = parse_device_conf(config("device.conf"))
    assert conf.version == 3
    assert [lib.id for lib in conf.libraries] == [10, 20, 30, 40]
    assert len(conf.drives) == 36
    lib = conf.libraries[0]
    assert (lib.channel, lib.target, lib.lun) == (0, 1, 0)
    assert (lib.get("Vendor identification"), lib.get("Product identification"), lib.get("Unit serial number"),
            lib.get("NAA")) == ("SPECTRA", "PYTHON", "XYZZY_10", "10:22:33:44:ab:cd:ef:00")
    drive = conf.drives_of(40)[1]
    assert (drive.id, drive.target, drive.lun, drive.library_id, drive.slot) == (42, 2, 0, 40, 2)
    assert (drive.get("Product identification"), drive.get("VPD")) == ("SDLT600", "b0 04 00 02 01 00")
    assert [d.slot for d in conf.drives_of(20)] == list(range(1, 10))


def test_shipped_library_contents():
    contents = parse_library_contents(config("library_contents.10"))
    assert (contents.version, contents.drives, contents.pickers, contents.maps) == (2, 9, 1, 4)
    assert len(contents.slots) == 50 and contents.slots[0] == (1, "L10001S3") and contents.slots[-1] == (50, "L10050S3")


def test_shipped_sample_with_empty_slots_and_tabs():
    contents = parse_library_contents(config("library_contents.sample"))
    assert (contents.version, contents.drives, contents.maps) == (None, 8, 4)
    assert contents.media[1] == "ULT001L1" and contents.media[31] == "CLN001L1"
    assert sorted(set(range(1, 33)) - set(contents.media)) == list(range(21, 31))


# ---------------------------------------------------------------- render, then read back
def test_device_conf_round_trip():
    text = render_device_conf(SPEC, 30, home="/srv/mhvtl", first_target=8)
    conf = parse_device_conf(text)
    assert conf.version == DEVICE_CONF_VERSION
    (lib,) = conf.libraries
    assert (lib.id, lib.channel, lib.target, lib.lun) == (30, 0, 8, 0)
    assert (lib.get("Vendor identification"), lib.get("Product identification"), lib.get("Unit serial number"),
            lib.get("Home directory"), lib.get("PERSIST")) == ("STK", "L700", "XYZZY_A", "/srv/mhvtl", "False")
    assert [(d.id, d.target, d.library_id, d.slot) for d in conf.drives] == [(31, 9, 30, 1), (32, 10, 30, 2)]
    assert [d.get("Unit serial number") for d in conf.drives] == ["XYZZY_A1", "XYZZY_A002"]
    assert {d.get("Compression") for d in conf.drives} == {"factor 1 enabled 1"}
    assert len({d.get("NAA") for d in (*conf.libraries, *conf.drives)}) == 3


def test_device_conf_lines_are_mhvtl_layout():
    text = render_device_conf(SPEC, 10)
    assert "\nLibrary: 10 CHANNEL: 00 TARGET: 00 LUN: 00\n Vendor identification: STK\n" in text
    assert "\nDrive: 11 CHANNEL: 00 TARGET: 01 LUN: 00\n Library ID: 10 Slot: 01\n" in text
    assert "\n NAA: 0a:22:33:44:ab:00:01:00\n" in text


def test_library_contents_round_trip():
    text = render_library_contents(SPEC)
    assert text.startswith("VERSION: 2\n\nDrive 1:\nDrive 2:\n\nPicker 1:\n\nMAP 1:\nMAP 2:\n")
    contents = parse_library_contents(text)
    assert (contents.version, contents.drives, contents.pickers, contents.maps) == (2, 2, 1, 2)
    assert [n for n, _ in contents.slots] == list(range(1, 13))
    assert contents.media == {1: "CAL001L6", 2: "CAL002L6", 12: "CLN001L6"}


def test_mktape_argv():
    assert mktape_argv(SPEC.media[1], 30) == ["mktape", "-l", "30", "-m", "CAL002L6", "-s", "2048", "-t", "data",
                                              "-d", "LTO6"]
    assert mktape_argv(SPEC.media[2], 30, "/etc/mhvtl")[-4:] == ["-d", "LTO6", "-C", "/etc/mhvtl"]


# ---------------------------------------------------------------- refusals
@pytest.mark.parametrize("change", [
    {"name": "Lib A"},
    {"vendor": "ST;K"},
    {"serial": "SERIAL-TOO-LONG"},
    {"media": (MediumSpec("CAL 001", 1),)},
    {"media": (MediumSpec("CAL001L6", 13),)},
    {"media": (MediumSpec("CAL001L6", 1, kind="clean"),)},  # mhVTL would see a data cartridge
    {"media": (MediumSpec("CLN001L6", 1),)},
    {"drives": (DriveSpec("IBM", "ULT3580-TD6", "A\nB"),)},
])
def test_invalid_spec_renders_nothing(change):
    spec = dataclasses.replace(SPEC, **change)
    with pytest.raises(BackendError):
        render_device_conf(spec, 10)
    if "serial" not in change and "drives" not in change:
        with pytest.raises(BackendError):
            render_library_contents(spec)


@pytest.mark.parametrize(("library_id", "home"), [(0, "/opt/mhvtl"), (True, "/opt/mhvtl"), ("10", "/opt/mhvtl"),
                                                  (10, "relative"), (10, "/opt/../etc"), (10, "/opt/mh vtl")])
def test_bad_library_id_or_home(library_id, home):
    with pytest.raises(BackendError):
        render_device_conf(SPEC, library_id, home=home)


@pytest.mark.parametrize(("medium", "library_id", "config_dir"), [
    (MediumSpec("cal001", 1), 10, None), (MediumSpec("CAL001", 1, density="LTO 6"), 10, None),
    (MediumSpec("CAL001", 1, size_mb=0), 10, None), (MediumSpec("CAL001", 1), -1, None),
    (MediumSpec("CAL001", 1), 10, "etc/mhvtl"), (MediumSpec("CAL001", 1, kind="worm"), 10, None),
])
def test_mktape_refuses(medium, library_id, config_dir):
    with pytest.raises(BackendError):
        mktape_argv(medium, library_id, config_dir)


@pytest.mark.parametrize("text", ["Drive: 11 CHANNEL: 0 TARGET: 1 LUN: 1\n Library ID: x\n",
                                  " Vendor identification: X\n",
                                  "Library: 10 CHANNEL: 0 TARGET: 1 LUN: 0\n\nLibrary: 10 CHANNEL: 0 TARGET: 2 LUN: 0\n"])
def test_device_conf_it_cannot_read(text):
    with pytest.raises(ParseError) as err:
        parse_device_conf(text)
    assert err.value.command == "mhvtl device.conf"


def test_library_contents_slot_twice():
    with pytest.raises(ParseError, match="twice"):
        parse_library_contents("VERSION: 2\nSlot 1: A\nSlot 1: B\n")


@st.composite
def specs(draw) -> LibrarySpec:
    slots = draw(st.integers(1, 40))
    chosen = draw(st.lists(st.integers(1, slots), unique=True, max_size=slots))
    codes = draw(st.lists(st.from_regex(r"\A[A-Z0-9]{1,8}\Z"), unique=True, min_size=len(chosen),
                          max_size=len(chosen)))
    media = tuple(MediumSpec(("CLN" + code[:5]) if i % 3 == 2 else "D" + code, slot, "clean" if i % 3 == 2 else "data")
                  for i, (slot, code) in enumerate(zip(chosen, codes, strict=True)))
    serials = st.from_regex(r"\A[A-Z0-9]{0,10}\Z")
    drives = tuple(DriveSpec(serial=s) for s in draw(st.lists(serials, min_size=1, max_size=8)))
    return LibrarySpec(draw(st.from_regex(r"\A[a-z0-9][a-z0-9-]{0,20}\Z")), slots=slots,
                       ie_slots=draw(st.integers(0, 8)), drives=drives, media=media, serial=draw(serials))


@settings(max_examples=60, derandomize=True, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(specs(), st.integers(1, 9000))
def test_any_valid_spec_round_trips(spec, library_id):
    assume(len({m.barcode for m in spec.media}) == len(spec.media))
    conf = parse_device_conf(render_device_conf(spec, library_id))
    assert [lib.id for lib in conf.libraries] == [library_id]
    assert [(d.library_id, d.slot) for d in conf.drives] == [(library_id, i) for i in range(1, len(spec.drives) + 1)]
    contents = parse_library_contents(render_library_contents(spec))
    assert (contents.drives, contents.maps, len(contents.slots)) == (len(spec.drives), spec.ie_slots, spec.slots)
    assert contents.media == {m.slot: m.barcode for m in spec.media}
