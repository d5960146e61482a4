"""The tgt virtual library backend through ReplayRunner: the exact commands a library takes, their undo in
reverse order when one fails, names refused before anything runs, and what ``tgtadm --op show`` tells."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.core.errors import BackendError, ParseError, Unsupported
from apps.core.runner import ReplayRunner
from apps.tape.backends.base import DriveSpec, LibrarySpec, MediumSpec
from apps.tape.backends.tgt_vtl import TgtLibraryBackend
from apps.tape.backends.tgt_vtl_parse import libraries, parse_show_target

FIXTURES = Path(__file__).parent / "fixtures"
IQN = "iqn.2026-12.local.calypso:vtl1"
RECORDED_HOME = "/tmp/ct-tape2/rec/media"  # media_home of the recordings
CODES = ("CAL001L6", "CAL002L6", "CAL003L6", "CAL004L6")
SPEC = LibrarySpec(name="vtl1", serial="CALLIB0001", slots=10, ie_slots=2,
                   drives=(DriveSpec(serial="CALDRV0001"), DriveSpec(serial="CALDRV0002")),
                   media=tuple(MediumSpec(barcode=c, slot=i, size_mb=64) for i, c in enumerate(CODES, start=1)))


def recorded(name: str) -> str:
    """The output part of a recording (stdout, or stderr after a ``# returncode`` line)."""
    rest = (FIXTURES / name).read_text().partition("\n")[2]
    return rest.partition("\n")[2] if rest.startswith("# returncode:") else rest


def tgt(*args: str) -> list[str]:
    return ["tgtadm", "--lld", "iscsi", *args]


def lun3(params: str) -> list[str]:
    return tgt("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "3", "--params", params)


def expected_plan(home: str) -> list[list[str]]:
    """What the recorded create ran (tests/tape/fixtures/README-tgt.md), for ``home``."""
    return [
        *[["tgtimg", "--op", "new", "--device-type", "tape", "--barcode", c, "--size", "64", "--type", "data",
           "--file", f"{home}/{c}", "--thin-provisioning"] for c in CODES],
        ["truncate", "--size", "1024", f"{home}/vtl1.smc"],
        tgt("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN),
        tgt("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "--device-type", "tape", "--bstype",
            "ssc"),
        tgt("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "1", "--params",
            "vendor_id=IBM,product_id=ULT3580-TD6,scsi_sn=CALDRV0001,removable=1"),
        tgt("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--device-type", "tape", "--bstype",
            "ssc"),
        tgt("--op", "update", "--mode", "logicalunit", "--tid", "1", "--lun", "2", "--params",
            "vendor_id=IBM,product_id=ULT3580-TD6,scsi_sn=CALDRV0002,removable=1"),
        tgt("--op", "new", "--mode", "logicalunit", "--tid", "1", "--lun", "3", "--device-type", "changer",
            "--bstype", "smc", "-b", f"{home}/vtl1.smc"),
        lun3(f"vendor_id=STK,product_id=L700,scsi_sn=CALLIB0001,removable=1,media_home={home}"),
        lun3("element_type=1,start_address=1,quantity=1"),
        lun3("element_type=4,start_address=500,quantity=2"),
        lun3("element_type=2,start_address=1000,quantity=10"),
        lun3("element_type=3,start_address=10,quantity=2"),
        lun3("element_type=4,address=500,tid=1,lun=1"),
        lun3("element_type=4,address=501,tid=1,lun=2"),
        *[lun3(f"element_type=2,address={999 + i},barcode={c},sides=1") for i, c in enumerate(CODES, start=1)],
        tgt("--op", "bind", "--mode", "target", "--tid", "1", "-I", "127.0.0.1"),
    ]


def answering(plan: list[list[str]]) -> ReplayRunner:
    """A runner that answers every command of ``plan`` as the recorded create saw it."""
    runner = ReplayRunner()
    for argv in plan:
        runner.add(argv, recorded("tgt-vtl-tgtimg-new.txt") if argv[0] == "tgtimg" else "")
    return runner


def test_the_plan_is_the_recorded_sequence(tmp_path):
    home = str(tmp_path)
    plan = TgtLibraryBackend(ReplayRunner()).plan(SPEC, 1, IQN, home, initiators=["127.0.0.1"])
    assert plan == expected_plan(home)


def test_without_initiators_given_every_initiator_is_admitted(tmp_path):
    plan = TgtLibraryBackend(ReplayRunner()).plan(SPEC, 1, IQN, str(tmp_path))
    assert plan[-1] == tgt("--op", "bind", "--mode", "target", "--tid", "1", "-I", "ALL")


def test_no_import_export_slots_no_element_type_3(tmp_path):
    spec = LibrarySpec(name="small", slots=4, drives=(DriveSpec(),))
    plan = TgtLibraryBackend(ReplayRunner()).plan(spec, 7, IQN, str(tmp_path))
    assert not any("element_type=3" in arg for argv in plan for arg in argv)
    assert ["tgtimg"] not in [argv[:1] for argv in plan]  # no media: no tgtimg
    assert tgt("--op", "update", "--mode", "logicalunit", "--tid", "7", "--lun", "2", "--params",
               "element_type=4,address=500,tid=7,lun=1") in plan


def test_the_control_port_goes_to_every_tgtadm(tmp_path):
    plan = TgtLibraryBackend(ReplayRunner(), control_port=4917).plan(SPEC, 1, IQN, str(tmp_path))
    tgtadm = [argv for argv in plan if argv[0] == "tgtadm"]
    assert len(tgtadm) == 18 and all(argv[1:3] == ["-C", "4917"] for argv in tgtadm)


def test_create_runs_the_plan(tmp_path):
    home = str(tmp_path)
    plan = expected_plan(home)
    runner = answering(plan)
    assert TgtLibraryBackend(runner).create(SPEC, 1, IQN, home, initiators=("127.0.0.1",)) == len(plan)
    assert [list(c) for c in runner.calls] == plan


def test_a_failing_step_is_rolled_back_in_reverse_order(tmp_path):
    home = str(tmp_path)
    plan = expected_plan(home)
    failing = lun3(f"element_type=2,address=1002,barcode={CODES[2]},sides=1")
    runner = answering(plan)
    runner.recordings[tuple(failing)] = []
    runner.add(failing, stderr=recorded("tgt-vtl-error-barcode-too-long.txt"), returncode=22)
    undo = [tgt("--op", "delete", "--force", "--mode", "target", "--tid", "1"), ["rm", "--", f"{home}/vtl1.smc"],
            *[["rm", "--", f"{home}/{c}"] for c in reversed(CODES)]]
    for argv in undo:
        runner.add(argv)
    with pytest.raises(BackendError) as caught:
        TgtLibraryBackend(runner).create(SPEC, 1, IQN, home, initiators=("127.0.0.1",))
    calls = [list(c) for c in runner.calls]
    assert calls == plan[:plan.index(failing) + 1] + undo
    message = str(caught.value)
    assert "barcode=CAL003L6" in message and "tgtadm: invalid request" in message
    assert "rolled back in reverse order (target 1, the changer's backing file, medium CAL004L6" in message


def test_a_tid_in_use_removes_the_media_files_made(tmp_path):
    home = str(tmp_path)
    plan = expected_plan(home)
    runner = answering(plan)
    new_target = tgt("--op", "new", "--mode", "target", "--tid", "1", "-T", IQN)
    runner.recordings[tuple(new_target)] = []
    runner.add(new_target, stderr=recorded("tgt-vtl-error-target-exists.txt"), returncode=22)
    undo = [["rm", "--", f"{home}/vtl1.smc"], *[["rm", "--", f"{home}/{c}"] for c in reversed(CODES)]]
    for argv in undo:
        runner.add(argv)
    with pytest.raises(BackendError, match="this target already exists.*rolled back") as caught:
        TgtLibraryBackend(runner).create(SPEC, 1, IQN, home, initiators=("127.0.0.1",))
    assert [list(c) for c in runner.calls][-len(undo):] == undo
    assert caught.value.returncode == 22


def test_a_failing_drive_lun_after_the_target_deletes_the_target(tmp_path):
    home = str(tmp_path)
    plan = expected_plan(home)
    runner = answering(plan)
    drive2 = plan[9]
    runner.recordings[tuple(drive2)] = []
    runner.add(drive2, stderr=recorded("tgt-research-error-lun-exists.txt"), returncode=22)
    for code in CODES:
        runner.add(["rm", "--", f"{home}/{code}"])
    runner.add(["rm", "--", f"{home}/vtl1.smc"])
    runner.add(tgt("--op", "delete", "--force", "--mode", "target", "--tid", "1"),
               stderr="tgtadm: can't find the target\n", returncode=22)
    with pytest.raises(BackendError) as caught:
        TgtLibraryBackend(runner).create(SPEC, 1, IQN, home, initiators=("127.0.0.1",))
    message = str(caught.value)
    assert "this logical unit number already exists" in message
    assert "rolling back failed for `tgtadm --lld iscsi --op delete --force --mode target --tid 1`" in message
    assert runner.calls[-1] == ("rm", "--", f"{home}/{CODES[0]}")  # the rest was still undone


def test_a_first_step_failure_changed_nothing(tmp_path):
    home = str(tmp_path)
    plan = expected_plan(home)
    runner = ReplayRunner().add(plan[0], stderr="Failed creating file: No space left on device", returncode=2)
    with pytest.raises(BackendError, match="No space left on device; nothing had been changed"):
        TgtLibraryBackend(runner).create(SPEC, 1, IQN, home, initiators=("127.0.0.1",))
    assert [list(c) for c in runner.calls] == [plan[0]]


def test_existing_media_files_are_never_overwritten(tmp_path):
    (tmp_path / "CAL002L6").write_bytes(b"a backup")
    runner = ReplayRunner()
    with pytest.raises(BackendError, match=r"would be overwritten: \S*/CAL002L6; nothing was done"):
        TgtLibraryBackend(runner).create(SPEC, 1, IQN, str(tmp_path))
    assert runner.calls == [] and (tmp_path / "CAL002L6").read_bytes() == b"a backup"


def test_a_missing_media_home_is_refused(tmp_path):
    runner = ReplayRunner()
    with pytest.raises(BackendError, match="is not a directory"):
        TgtLibraryBackend(runner).create(SPEC, 1, IQN, str(tmp_path / "absent"))
    assert runner.calls == []


def _with(**changes) -> dict:
    args = {"spec": SPEC, "tid": 1, "iqn": IQN, "media_home": "/srv/tape", "initiators": ("ALL",)}
    return {**args, **changes}


@pytest.mark.parametrize("args", [
    _with(spec=LibrarySpec(name="VTL 1")),
    _with(spec=LibrarySpec(name="vtl1", media=(MediumSpec(barcode="cal001", slot=1),))),
    _with(spec=LibrarySpec(name="vtl1", media=(MediumSpec(barcode="CAL0000001L6", slot=1),))),  # 12 > 10
    _with(spec=LibrarySpec(name="vtl1", vendor="HEWLETTPACKARD")),
    _with(spec=LibrarySpec(name="vtl1", drives=(DriveSpec(product="ULTRIUM-HH8-EXTENDED"),))),
    _with(spec=LibrarySpec(name="vtl1", serial="A,media_home=/etc")),
    _with(iqn="iqn.2026-12.local.Calypso:vtl1"),
    _with(iqn="iqn.2026-12.local.calypso:vtl1 -b /etc/shadow"),
    _with(media_home="srv/tape"),
    _with(media_home="/srv/tape/../../etc"),
    _with(media_home="/srv/tape,element_type=2"),
    _with(media_home="/srv/tape/"),
    _with(tid=0),
    _with(tid="1"),
    _with(initiators=("10.0.0.0/33",)),
    _with(initiators=("127.0.0.1;reboot",)),
], ids=["name", "barcode-case", "barcode-length", "vendor", "drive-product", "serial", "iqn-case", "iqn-space",
        "relative-home", "dotdot-home", "comma-home", "trailing-slash", "tid-0", "tid-str", "network", "address"])
def test_bad_names_are_refused_before_any_command(args, tmp_path):
    runner = ReplayRunner()
    backend = TgtLibraryBackend(runner)
    with pytest.raises(BackendError):
        backend.plan(**args)
    with pytest.raises(BackendError):
        backend.create(**args)
    assert runner.calls == []


def test_a_longer_barcode_is_unsupported_not_malformed(tmp_path):
    spec = LibrarySpec(name="vtl1", media=(MediumSpec(barcode="CAL0000001L6", slot=1),))
    with pytest.raises(Unsupported, match="up to 10 characters: CAL0000001L6"):
        TgtLibraryBackend(ReplayRunner()).plan(spec, 1, IQN, str(tmp_path))


SHOW = tuple(tgt("--op", "show", "--mode", "target"))


def test_show_reads_the_library_and_leaves_other_targets():
    runner = ReplayRunner().add(SHOW, recorded("tgt-vtl-show-target.txt"))
    (library,) = TgtLibraryBackend(runner).show()
    assert (library.tid, library.iqn, library.addresses) == (1, IQN, ("127.0.0.1",))
    assert (library.changer.lun, library.changer.serial, library.changer.backing_type) == (3, "CALLIB0001", "smc")
    assert library.changer.path == f"{RECORDED_HOME}/vtl1.smc"
    assert [(d.lun, d.serial, d.online, d.path) for d in library.drives] == [(1, "CALDRV0001", False, ""),
                                                                           (2, "CALDRV0002", False, "")]
    assert library.loaded == {}


def test_a_medium_moved_into_a_drive_shows_as_loaded_then_gone():
    loaded = libraries(parse_show_target(recorded("tgt-vtl-show-target-loaded.txt")))
    assert loaded[0].loaded == {1: "CAL001L6"}
    assert loaded[0].drives[0].path == f"{RECORDED_HOME}/CAL001L6"
    unloaded = libraries(parse_show_target(recorded("tgt-vtl-show-target-unloaded.txt")))
    assert unloaded[0].loaded == {}


def test_a_drive_made_with_a_placeholder_file_is_not_loaded():
    (library,) = libraries(parse_show_target(recorded("tgt-research-show-target.txt")))
    assert library.drives[0].path == "/tmp/tape-research/vtl/notape" and not library.drives[0].online
    assert library.loaded == {}


def test_unreadable_show_output_names_the_line():
    with pytest.raises(ParseError, match=r"tgtadm --op show --mode target. at the line ' *LUN: one'"):
        parse_show_target("Target 1: iqn.2026-12.local.calypso:vtl1\n    LUN information:\n        LUN: one\n")


def test_delete_removes_the_target_and_keeps_the_media():
    runner = ReplayRunner().add(SHOW, recorded("tgt-vtl-show-target.txt"))
    runner.add(tgt("--op", "delete", "--force", "--mode", "target", "--tid", "1"))
    TgtLibraryBackend(runner).delete(1)
    assert runner.calls[-1] == tuple(tgt("--op", "delete", "--force", "--mode", "target", "--tid", "1"))
    runner.recordings[SHOW] = []
    runner.add(SHOW, recorded("tgt-vtl-show-target-after-delete.txt"))
    assert TgtLibraryBackend(runner).show() == []


def test_delete_with_media_removes_their_files_and_the_changer_file():
    runner = ReplayRunner().add(SHOW, recorded("tgt-vtl-show-target.txt"))
    runner.add(tgt("--op", "delete", "--force", "--mode", "target", "--tid", "1"))
    files = [f"{RECORDED_HOME}/{c}" for c in CODES[:2]] + [f"{RECORDED_HOME}/vtl1.smc"]
    runner.add(["rm", "-f", "--", *files])
    TgtLibraryBackend(runner).delete(1, media_home=RECORDED_HOME, barcodes=CODES[:2])
    assert runner.calls[-1] == ("rm", "-f", "--", *files)


@pytest.mark.parametrize(("tid", "why"), [(2, "no tape library with target id 2"),  # the disk target
                                          (9, "no tape library with target id 9")])
def test_delete_only_takes_a_library(tid, why):
    runner = ReplayRunner().add(SHOW, recorded("tgt-vtl-show-target.txt"))
    with pytest.raises(BackendError, match=why):
        TgtLibraryBackend(runner).delete(tid)
    assert runner.calls == [SHOW]


def test_delete_refuses_bad_media_names_before_any_command():
    runner = ReplayRunner()
    with pytest.raises(BackendError):
        TgtLibraryBackend(runner).delete(1, media_home=RECORDED_HOME, barcodes=["../../etc/passwd"])
    assert runner.calls == []
