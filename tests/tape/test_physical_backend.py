"""PhysicalLibraryBackend on recorded outputs: the argv it runs, what it reads back, and the refusals that run
no command at all."""

import pytest

from apps.core.errors import BackendError
from apps.core.runner import ReplayRunner
from apps.tape.backends.mtx_parse import parse_mtx_status
from apps.tape.backends.physical import PhysicalLibraryBackend

from .recordings import answer, body, replay

MHVTL = parse_mtx_status(body("mtx_status_mhvtl.txt"))  # 4 empty drives, 37 slots, 10 empty
LOADED = parse_mtx_status(body("mtx_status_tgt_rendered.txt"))  # drive 0 holds CAL001L6 from slot 1


def test_discovery_splits_changers_and_drives():
    backend = PhysicalLibraryBackend(replay("lsscsi_g_mhvtl_install.txt"))
    assert [(c.sg, c.model) for c in backend.changers()] == [("/dev/sg6", "PYTHON")]
    assert [(d.nst, d.sg) for d in backend.drives()] == [("/dev/nst0", "/dev/sg2"), ("/dev/nst1", "/dev/sg3"),
                                                         ("/dev/nst2", "/dev/sg4"), ("/dev/nst3", "/dev/sg5")]
    assert backend.runner.calls == [("lsscsi", "-g"), ("lsscsi", "-g")]


def test_inventory():
    runner = replay("mtx_status_mhvtl.txt")
    status = PhysicalLibraryBackend(runner).inventory("/dev/sg6")
    assert status == MHVTL and runner.calls == [("mtx", "-f", "/dev/sg6", "status")]


def test_inventory_of_a_missing_changer_carries_mtx_words():
    with pytest.raises(BackendError) as err:
        PhysicalLibraryBackend(replay("mtx_status_no_device.txt")).inventory("/dev/sg0")
    assert err.value.returncode == 1
    assert err.value.message == "cannot open SCSI device '/dev/sg0' - No such file or directory"


def test_moves_run_mtx_with_the_numbers():
    runner = ReplayRunner()
    for argv in (["mtx", "-f", "/dev/sg6", "load", "11", "2"], ["mtx", "-f", "/dev/sg3", "unload", "1", "0"],
                 ["mtx", "-f", "/dev/sg6", "transfer", "11", "34"], ["mtx", "-f", "/dev/sg6", "inventory"]):
        runner.add(argv)
    backend = PhysicalLibraryBackend(runner)
    backend.load("/dev/sg6", 11, 2, status=MHVTL)
    backend.unload("/dev/sg3", 1, 0, status=LOADED)
    backend.transfer("/dev/sg6", 11, 34, status=MHVTL)
    backend.scan("/dev/sg6")
    assert [c[3] for c in runner.calls] == ["load", "unload", "transfer", "inventory"]


def test_load_by_barcode_reads_the_inventory_first():
    runner = replay("mtx_status_mhvtl.txt").add(["mtx", "-f", "/dev/sg6", "load", "12", "1"])
    assert PhysicalLibraryBackend(runner).load_medium("/dev/sg6", "ULT002L2", 1) == 12
    assert runner.calls == [("mtx", "-f", "/dev/sg6", "status"), ("mtx", "-f", "/dev/sg6", "load", "12", "1")]
    with pytest.raises(BackendError, match="no slot"):
        PhysicalLibraryBackend(runner).load_medium("/dev/sg6", "NOPE01L6", 1, status=MHVTL)


def test_a_move_mtx_refuses_is_a_backend_error():
    runner = ReplayRunner().add(["mtx", "-f", "/dev/sg6", "load", "10", "0"], returncode=1,
                                stderr="MOVE MEDIUM from Element Address 1009 to 500 Failed\n")
    with pytest.raises(BackendError, match="MOVE MEDIUM from Element Address 1009"):
        PhysicalLibraryBackend(runner).load("/dev/sg6", 10, 0)


def test_drive_commands():
    runner = replay("mt_status_lto5_bot.txt")
    for verb in (["rewind"], ["offline"], ["erase", "1"], ["erase", "0"]):
        runner.add(["mt", "-f", "/dev/nst0", *verb])
    backend = PhysicalLibraryBackend(runner)
    status = backend.tape_status("/dev/nst0")
    assert status.loaded and status.at_bot
    backend.rewind("/dev/nst0")
    backend.eject("/dev/nst0")
    backend.erase("/dev/nst0")
    backend.erase("/dev/nst0", quick=True)
    assert [c[3:] for c in runner.calls] == [("status",), ("rewind",), ("offline",), ("erase", "1"), ("erase", "0")]


def test_tape_status_of_a_missing_drive():
    with pytest.raises(BackendError) as err:
        PhysicalLibraryBackend(replay("mt_status_no_device.txt")).tape_status("/dev/nst0")
    assert err.value.message == "/dev/nst0: No such file or directory"


def test_tape_alerts_through_a_by_id_link():
    link = "/dev/tape/by-id/scsi-3500110a00102b3a4-nst"
    runner = answer(ReplayRunner(), ["sg_logs", "-p", "0x2e", link], "sg_logs_tapealert.txt")
    alerts = PhysicalLibraryBackend(runner).tape_alerts(link)
    assert [(a.code, a.name, a.severity) for a in alerts] == [(3, "Hard error", "warning"),
                                                              (20, "Clean now", "critical")]


@pytest.mark.parametrize(("call", "args", "kwargs"), [
    ("inventory", ("/dev/sda; rm -rf /",), {}),
    ("inventory", ("/dev/sda",), {}),
    ("inventory", ("/dev/nst0",), {}),
    ("inventory", ("/dev/tape/by-id/../../sda",), {}),
    ("inventory", ("/dev/sg1\n",), {}),
    ("load", ("/dev/sg6", 0, 0), {}),
    ("load", ("/dev/sg6", -1, 0), {}),
    ("load", ("/dev/sg6", "11", 0), {}),
    ("load", ("/dev/sg6", 11.0, 0), {}),
    ("load", ("/dev/sg6", True, 0), {}),
    ("load", ("/dev/sg6", 11, 64), {}),
    ("load", ("/dev/sg6", 38, 0), {"status": MHVTL}),  # past the changer's 37 slots
    ("load", ("/dev/sg6", 11, 4), {"status": MHVTL}),  # it has drives 0-3
    ("load", ("/dev/sg6", 10, 0), {"status": MHVTL}),  # slot 10 is empty
    ("load", ("/dev/sg6", 2, 0), {"status": LOADED}),  # drive 0 is full
    ("unload", ("/dev/sg6", 1, 1), {"status": LOADED}),  # drive 1 is empty
    ("unload", ("/dev/sg6", 2, 0), {"status": LOADED}),  # slot 2 is full
    ("transfer", ("/dev/sg6", 11, 11), {}),
    ("load_medium", ("/dev/sg6", "ULT 002L2", 0), {}),  # a barcode with a space
    ("load_medium", ("/dev/sg6", "ult002l2", 0), {}),
    ("load_medium", ("/dev/sg6", "ULT002L2;id", 0), {}),
    ("load_medium", ("/dev/sda; rm", "ULT002L2", 0), {}),
    ("load_medium", ("/dev/sg6", "ULT002L2", -1), {}),
    ("transfer", ("/dev/sg6", 10, 34), {"status": MHVTL}),
    ("transfer", ("/dev/sg6", 11, 12), {"status": MHVTL}),
    ("tape_status", ("/dev/st0",), {}),  # the rewinding node would rewind on close
    ("tape_status", ("/dev/sg2",), {}),
    ("rewind", ("nst0",), {}),
    ("erase", ("/dev/nst0 ",), {}),
    ("eject", ("/dev/nst0;reboot",), {}),
    ("tape_alerts", ("/dev/sda",), {}),
    ("tape_alerts", ("-p0x2e",), {}),
])
def test_refusals_run_no_command(call, args, kwargs):
    runner = ReplayRunner()
    with pytest.raises(BackendError):
        getattr(PhysicalLibraryBackend(runner), call)(*args, **kwargs)
    assert runner.calls == []
