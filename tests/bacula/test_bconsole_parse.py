"""The console parsers against the recorded outputs of Bacula 9.6.7."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from apps.bacula.backends import bconsole_parse as p
from apps.core.errors import ParseError

from .recordings import body


def out(name: str, command: str) -> str:
    """What ``command`` printed in recording ``name`` (as the console hands it to a parser)."""
    return p.command_output(body(name), command)


def test_list_jobs():
    jobs = p.parse_list_jobs(body("bconsole-40-list-jobs-final.txt"))
    assert [(j.jobid, j.name, j.type, j.status, j.files, j.bytes) for j in jobs] == [
        (1, "BackupSample", "B", "T", 20, 408995), (2, "RestoreFiles", "R", "T", 18, 108995),
        (3, "RestoreFiles", "R", "T", 1, 300000)]
    assert jobs[0].start_time == datetime(2026, 12, 2, 5, 12, 8, tzinfo=UTC) and not jobs[0].running
    assert [j.status for j in p.parse_list_jobs(body("bconsole-50-jobs.txt"))] == ["A", "T"]


def test_list_volumes_with_their_pools():
    volumes = p.parse_list_volumes(body("bconsole-11-list-volumes.txt"))
    assert [(v.name, v.pool, v.status, v.slot, v.in_changer, v.bytes) for v in volumes] == [
        ("CAL001L6", "TapePool", "Append", 1, True, 217), ("CAL002L6", "TapePool", "Append", 2, True, 217),
        ("CAL003L6", "TapePool", "Append", 3, True, 217), ("CAL004L6", "TapePool", "Append", 4, True, 413097)]
    assert volumes[0].last_written is None and volumes[3].last_written.year == 2026
    assert p.parse_list_volumes(body("bconsole-04e-list-volumes-after-delete.txt")) == []


def test_list_pools_and_clients():
    pools = p.parse_list_pools(body("bconsole-31-list-pools-after-reload.txt"))
    assert [(x.name, x.volumes, x.max_volume_bytes, x.retention_s) for x in pools] == [
        ("TapePool", 4, 52428800, 2592000), ("Scratch", 0, 0, 31536000), ("OffsitePool", 0, 0, 31536000)]
    clients = p.parse_list_clients(body("bconsole-50-clients.txt"))
    assert [(c.name, c.file_retention_s, c.job_retention_s) for c in clients] == [("calypso-fd", 5184000, 15552000)]


def test_list_files_has_two_tables():
    tables = p.parse_tables(body("bconsole-12-list-files-jobid1.txt"))
    assert len(tables) == 2 and len(tables[0][1]) == 20 and tables[1][1][0]["JobId"] == "1"


def test_llist_job():
    job = p.parse_llist_job(out("bconsole-10-llist-jobid1.txt", "llist jobid=1"))
    assert (job.jobid, job.job, job.client, job.pool, job.fileset, job.status, job.files, job.bytes) == (
        1, "BackupSample.2026-12-02_05.12.06_12", "calypso-fd", "TapePool", "SampleSet", "T", 20, 408995)
    assert job.end_time == datetime(2026, 12, 2, 5, 12, 9, tzinfo=UTC) and job.ok
    assert job.fields["Comment"] == "" and job.fields["VolSessionTime"] == "1796188322"
    assert p.parse_llist_job(out("bconsole-50-err-llist.txt", "llist jobid=999")) is None
    assert p.parse_llist_job(body("bconsole-42-api2-json.txt").split("llist jobid=1\n")[1].split(".api 0")[0]).jobid == 1


def test_llist_volume():
    (volume,) = p.parse_llist(out("bconsole-39-llist-volume.txt", "llist volume=CAL004L6"))
    assert volume["VolumeName"] == "CAL004L6" and volume["VolBytes"] == "413097" and volume["Comment"] == "NULL"


def test_run_and_restore_give_the_jobid():
    assert p.parse_run(body("bconsole-06-run-backup.txt")) == 1
    assert p.parse_run(body("bconsole-23-restore-bvfs-list.txt")) == 2
    assert p.parse_run(body("bconsole-27-restore-jobid-file.txt")) == 3
    with pytest.raises(ParseError, match="run"):
        p.parse_run(body("bconsole-07-wait.txt"))


def test_estimate():
    assert p.parse_estimate(body("bconsole-50-estimate.txt")) == p.Estimate(files=7, bytes=3048905)


def test_status_client_progress():
    (running,) = p.parse_status_client(body("bconsole-50-status-client-running.txt"))
    assert (running.jobid, running.files, running.bytes, running.bytes_per_second, running.examined) == (
        1, 6, 110542601, 110542601, 6)
    assert running.current_file == "/tmp/bach-data/live/data/big.bin"
    (starting,) = p.parse_status_client(body("bconsole-50-status-client-starting.txt"))
    assert starting.bytes == 0
    assert p.parse_status_client(body("bconsole-50-status-client-idle.txt")) == []
    assert p.parse_status_client(body("bconsole-50-err-client.txt")) == []


def test_job_log_from_the_catalog():
    log = p.parse_job_log(body("bconsole-50-joblog.txt"))
    assert log[0] == "calypso-dir JobId 3: Start Backup JobId 3, Job=BackupData.2026-12-02_09.42.32_45"
    assert "  Termination:            Backup OK" in log and "  JobId:                  3" in log
    waiting = p.parse_job_log(body("bconsole-50-joblog-waiting-media.txt"))
    assert 'Please use the "label" command to create a new Volume for:' in waiting


def test_messages_job_report():
    rows = p.parse_messages(out("bconsole-08-messages.txt", "messages"))
    assert rows[0].endswith("Start Backup JobId 1, Job=BackupSample.2026-12-02_05.12.06_12")
    assert "  Termination:            Backup OK" in rows
    assert "  Termination:            Backup OK" in p.parse_messages(out("bconsole-50-reload-msgs.txt", "messages"))


def test_config_errors_after_a_refused_reload():
    errors = p.parse_config_errors(body("bconsole-33-messages-after-bad-reload.txt"))
    assert errors == ["Config error: Bad time specification. line 65, col 42 of file "
                      "/tmp/tape-research/bacula/bacula-dir.conf Run = Level=Incremental mon-sat at 25:99"]
    assert p.parse_config_errors(body("bconsole-08-messages.txt")) == []


def test_bvfs_rows_and_lstat():
    dirs = p.parse_bvfs_entries(body("bconsole-16-bvfs-lsdirs-sample.txt"))
    assert [(d.pathid, d.fileid, d.jobid, d.name, d.is_dir) for d in dirs] == [
        (1, 20, 1, ".", True), (4, 0, 0, "..", True), (2, 17, 1, "sub/", True)]
    assert dirs[0].attributes.is_dir and dirs[1].attributes.mtime is None
    files = p.parse_bvfs_entries(body("bconsole-17-bvfs-lsfiles-sample.txt"))
    assert [(f.name, f.fileid, f.filenameid, f.attributes.size) for f in files] == [
        ("hello.txt", 1, 15, 14), ("numbers.txt", 19, 17, 108894), ("random.bin", 18, 18, 300000)]
    hello = files[0].attributes
    assert hello.mode == 0o100644 and hello.uid == 0 and not hello.is_dir
    assert hello.mtime == datetime.fromtimestamp(p._b64("BrD6iC"), UTC)
    assert len(p.parse_bvfs_entries(body("bconsole-20-bvfs-lsfiles-by-pathid.txt"))) == 13
    assert [d.name for d in p.parse_bvfs_entries(body("bconsole-15-bvfs-lsdirs-root.txt"))] == [".", "..", "tmp/"]


@pytest.mark.parametrize("name", ["bconsole-18-bvfs-lsfiles-sub-page1.txt", "bconsole-19-bvfs-lsfiles-sub-page2.txt",
                                  "bconsole-19b-bvfs-lsfiles-pathid-page1.txt",
                                  "bconsole-19c-bvfs-lsfiles-pathid-page2.txt",
                                  "bconsole-19d-bvfs-lsfiles-path-page3.txt",
                                  "bconsole-19e-bvfs-lsfiles-pathid-offset-first.txt"])
def test_lsfiles_ignores_offset(name):
    assert [f.name for f in p.parse_bvfs_entries(body(name))] == ["f1.txt", "f10.txt", "f11.txt", "f12.txt"]


def test_bvfs_versions_and_jobids():
    (version,) = p.parse_bvfs_versions(body("bconsole-21b-bvfs-versions-fnid.txt"))
    assert (version.fileid, version.volume, version.in_changer, version.checksum) == (
        1, "CAL004L6", True, "IDkaa6jUsF4WBTSG+8G7qg")
    assert p.parse_bvfs_jobids(body("bconsole-14-bvfs-get-jobids.txt")) == [1]
    assert p.find_error(body("bconsole-21-bvfs-versions.txt")) == "Can't find client or fnid argument"


def test_label_barcodes():
    ok = p.parse_label_barcodes(body("bconsole-05-label-barcodes.txt"))
    assert ok.labelled == (("CAL001L6", 1), ("CAL002L6", 2), ("CAL003L6", 3), ("CAL004L6", 4)) and ok.ok
    empty = p.parse_label_barcodes(body("bconsole-04b-label-barcodes-FAILED-no-slot-files.txt"))
    assert not empty.labelled and [f[:2] for f in empty.failed] == [(f"CAL00{i}L6", i) for i in range(1, 5)]
    assert "source Element Address 1 is Empty" in empty.failed[0][2]
    mixed = p.parse_label_barcodes(body("bconsole-04c-label-barcodes-FAILED-uppercase-V-not-expanded.txt"))
    assert mixed.labelled == (("CAL001L6", 1),) and len(mixed.failed) == 3
    assert "already labeled" in mixed.failed[0][2]
    unanswered = p.parse_label_barcodes(body("bconsole-04a-label-barcodes-yes-keyword-ignored.txt"))
    assert unanswered.labelled == () and unanswered.failed == ()


def test_update_slots():
    scan = p.parse_update_slots(body("bconsole-03-update-slots-scan.txt"))
    assert scan.slots == 10 and scan.not_in_catalog == tuple((f"CAL00{i}L6", i) for i in range(1, 5))
    again = p.parse_update_slots(body("bconsole-50-err-storage.txt"))
    assert again.up_to_date == tuple(f"CAL00{i}L6" for i in range(1, 5))


@pytest.mark.parametrize(("name", "words"), [
    ("bconsole-50-bad-cmd.txt", "frobnicate: is an invalid command."),
    ("bconsole-50-err-run.txt", 'Job "NoSuchJob" not found'),
    ("bconsole-50-err-estimate.txt", 'Job "NoSuchJob" not found.'),
    ("bconsole-50-err-cancel.txt", "Warning Job JobId=999 is not running."),
    ("bconsole-50-err-client.txt", "Error: Client resource NoSuch does not exist."),
    ("bconsole-50-err-storage.txt", 'Storage resource "NoSuch": not found'),
    ("bconsole-50-err-updvol.txt", 'sql_get.c:1266 Media record for Volume name "NOPE" not found.'),
])
def test_console_errors_are_recognised(name, words):
    assert words in p.find_error(body(name))


@pytest.mark.parametrize("name", [
    "bconsole-01-status-dir.txt", "bconsole-02-status-storage.txt", "bconsole-03-update-slots-scan.txt",
    "bconsole-05-label-barcodes.txt", "bconsole-06-run-backup.txt", "bconsole-08-messages.txt",
    "bconsole-09-list-jobs.txt", "bconsole-10-llist-jobid1.txt", "bconsole-11-list-volumes.txt",
    "bconsole-13-bvfs-update.txt", "bconsole-17-bvfs-lsfiles-sample.txt", "bconsole-22-bvfs-restore.txt",
    "bconsole-23-restore-bvfs-list.txt", "bconsole-25-messages-restore.txt", "bconsole-26-bvfs-cleanup.txt",
    "bconsole-30-reload.txt", "bconsole-32-reload-bad-config.txt", "bconsole-36-status-dir-after-fixed-reload.txt",
    "bconsole-37-status-storage-after-jobs.txt", "bconsole-39-llist-volume.txt", "bconsole-50-purge.txt",
    "bconsole-50-updvol.txt", "bconsole-50-updpool.txt", "bconsole-50-joblog.txt", "bconsole-50-estimate.txt",
    "bconsole-50-status-client-running.txt", "bconsole-04b-label-barcodes-FAILED-no-slot-files.txt",
])
def test_successes_show_no_error(name):
    assert p.find_error(body(name)) is None
