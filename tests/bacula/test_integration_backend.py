"""The Bacula backend against real daemons: rendered resources checked with ``-t``, a disk-changer autochanger
labelled by barcode, a backup followed to its end, browsed with bvfs and restored elsewhere, byte for byte."""

from __future__ import annotations

import filecmp
import os
import time
from pathlib import Path

import pytest

from apps.bacula.backends import base as b
from apps.bacula.backends.config import candidate_main, check_config, render_director, render_storage
from apps.core.errors import BackendError
from apps.core.runner import LocalRunner

from .conftest import FD_PASSWORD, FD_PORT, SD_PASSWORD, SD_PORT
from .schedules import BAD_RUNS, GOOD_RUNS

pytestmark = pytest.mark.integration

BACULA = b.FLAVOURS["bacula"]
CHANGER = "/etc/bacula/scripts/disk-changer %c %o %S %a %d %v"


def _changer(home: Path) -> Path:
    """disk-changer's directory: its config, a barcodes file and four slot files."""
    vc = home / "vchanger"
    vc.mkdir()
    (vc / "conf").write_text("maxslot=10\nmaxdrive=1\n")
    (vc / "barcodes").write_text("".join(f"{i}:CAL00{i}L6\n" for i in range(1, 5)))
    for i in range(1, 5):
        (vc / f"slot{i}").touch()
    return vc


def _tree(root: Path) -> None:
    (root / "sub" / "deep").mkdir(parents=True)
    (root / "hello.txt").write_text("hello\n")
    (root / "sub" / "numbers.txt").write_text("".join(f"{i}\n" for i in range(20000)))
    (root / "sub" / "deep" / "a file.txt").write_text("spaces in names\n")
    (root / "random.bin").write_bytes(os.urandom(2_000_000))


def _resources(home: Path, data: Path, vc: Path):
    drives = tuple(b.DeviceSpec(f"Drive-{i}", "VTape", str(vc / f"drive{i}"), drive_index=i) for i in range(2))
    storage = b.StorageResources(autochangers=(b.AutochangerSpec("VirtualChanger", str(vc / "conf"), CHANGER, drives),))
    director = b.DirectorResources(
        clients=(b.ClientSpec("calypso-fd", "127.0.0.1", FD_PASSWORD, port=FD_PORT),),
        filesets=(b.FileSetSpec("DataSet", (str(data),), signature="SHA1"),),
        schedules=(b.ScheduleSpec("Nightly", ("Level=Full 1st sun at 23:05", "Level=Differential 2nd-5th sun at 23:05",
                                              "Level=Incremental mon-sat at 23:05")),),
        pools=(b.PoolSpec("TapePool", maximum_volume_bytes=50_000_000), b.PoolSpec("Scratch")),
        storages=(b.StorageSpec("VTL1", "127.0.0.1", SD_PASSWORD, "VirtualChanger", "VTape", port=SD_PORT),),
        jobs=(b.JobSpec("BackupData", "calypso-fd", "DataSet", "TapePool", "VTL1", schedule="Nightly", level="Full"),
              b.JobSpec("RestoreFiles", "calypso-fd", "DataSet", "TapePool", "VTL1", type="Restore",
                        where=str(home / "restore-default"))))
    return director, storage


def _same_tree(a: Path, b_: Path) -> None:
    cmp = filecmp.dircmp(a, b_)
    assert not cmp.left_only and not cmp.right_only and not cmp.diff_files and not cmp.funny_files, cmp.report()
    for name in cmp.common_files:
        assert (a / name).read_bytes() == (b_ / name).read_bytes()
    for sub in cmp.common_dirs:
        _same_tree(a / sub, b_ / sub)


def test_backup_browse_restore(bacula_stack):
    stack, runner = bacula_stack, LocalRunner()
    data = stack.home / "data"
    _tree(data)
    director, storage = _resources(stack.home, data, _changer(stack.home))
    stack.dir_include.write_text(render_director(director))
    stack.sd_include.write_text(render_storage(storage))
    for daemon, conf in (("dir", stack.dir_conf), ("sd", stack.sd_conf), ("fd", stack.fd_conf)):
        check_config(runner, BACULA, daemon, str(conf))
    stack.start()
    console = stack.console

    slots = console.update_slots("VTL1")
    assert slots.slots == 10 and {v for v, _s in slots.not_in_catalog} == {f"CAL00{i}L6" for i in range(1, 5)}
    labels = console.label_barcodes("VTL1", "TapePool", "1-4")
    assert labels.ok and [v for v, _s in labels.labelled] == [f"CAL00{i}L6" for i in range(1, 5)]
    assert {v.name for v in console.volumes() if v.pool == "TapePool"} == {f"CAL00{i}L6" for i in range(1, 5)}
    stack.restart_sd()  # the storage daemon has no reload: a changed configuration means a restart

    assert console.estimate("BackupData").files == 7
    jobid = console.run_job("BackupData", level="Full")
    seen = []
    deadline = time.monotonic() + 30
    while (record := console.job(jobid)).running:
        if (progress := console.progress(jobid, "calypso-fd")) is not None:
            seen.append(progress)
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert record.ok and record.files == 7 and record.bytes > 2_000_000, console.job_log(jobid)
    assert any("Backup OK" in line for line in console.job_log(jobid))
    assert all(p.jobid == jobid for p in seen)
    assert jobid in [j.jobid for j in console.jobs()]

    console.bvfs_update([jobid])
    assert console.bvfs_get_jobids(jobid) == [jobid]
    dirs = console.bvfs_lsdirs([jobid], path=str(data))
    sub = next(d for d in dirs if d.name == "sub/")
    files = {f.name: f for f in console.bvfs_lsfiles([jobid], path=str(data))}
    assert set(files) == {"hello.txt", "random.bin"}
    assert files["random.bin"].attributes.size == 2_000_000 and not files["random.bin"].attributes.is_dir

    where = stack.home / "restored"
    restore_id = console.restore([jobid], [f.fileid for f in files.values()], [sub.pathid], "calypso-fd", str(where))
    final = console.wait(restore_id, timeout=30, interval=0.3)
    assert final.ok, console.job_log(restore_id)
    _same_tree(data, where / str(data).lstrip("/"))

    console.update_volume("CAL003L6", volstatus="Used")
    assert next(v for v in console.volumes() if v.name == "CAL003L6").status == "Used"
    console.reload()


def test_bad_schedule_is_refused_with_bacula_words(bacula_stack, tmp_path):
    stack, runner = bacula_stack, LocalRunner()
    director, _storage = _resources(stack.home, stack.home / "data", stack.home / "vchanger")
    # a run line Calypso's own check refuses, written by hand: bacula-dir refuses it in its own words
    text = render_director(director).replace("Level=Full 1st sun at 23:05", "Level=Full sun at 25:99")
    candidate = tmp_path / "candidate.conf"
    candidate.write_text(text)
    main = tmp_path / "main.conf"
    main.write_text(candidate_main(stack.dir_conf.read_text(), str(stack.dir_include), str(candidate)))
    with pytest.raises(BackendError) as refused:
        check_config(runner, BACULA, "dir", str(main))
    assert "Config error: Bad time specification." in str(refused.value)
    with pytest.raises(BackendError, match="run"):
        b.validate_schedule_run("Level=Full sun at 25:99")


def _raw_schedule(run: str) -> str:
    return f"\nSchedule {{\n  Name = Probe\n  Run = {run}\n}}\n"


@pytest.mark.parametrize("run", [r for r in GOOD_RUNS + BAD_RUNS if r and "\n" not in r and '"' not in r])
def test_run_grammar_agrees_with_bacula_dir(bacula_stack, run):
    """Calypso's reading of a Run line accepts exactly what bacula-dir -t accepts."""
    stack = bacula_stack
    director, _storage = _resources(stack.home, stack.home / "data", stack.home / "vchanger")
    stack.dir_include.write_text(render_director(director) + _raw_schedule(run))
    try:
        check_config(LocalRunner(), BACULA, "dir", str(stack.dir_conf))
        bacula_accepts = True
    except BackendError:
        bacula_accepts = False
    try:
        b.validate_schedule_run(run)
        calypso_accepts = True
    except BackendError:
        calypso_accepts = False
    assert calypso_accepts == bacula_accepts
