"""The console backend replaying recorded sessions: what it sends on stdin, what it reads back, and every bad
argument refused before the console runs."""

from __future__ import annotations

import pytest

from apps.bacula.backends import get_console
from apps.bacula.backends.base import FLAVOURS
from apps.bacula.backends.bconsole import Console
from apps.core.errors import BackendError
from apps.core.runner import ReplayRunner

from .recordings import CONSOLE_ARGV, console_replay


def console(*names: str) -> tuple[Console, ReplayRunner]:
    runner = console_replay(*names)
    return Console(runner, CONSOLE_ARGV[-1], FLAVOURS["bacula"]), runner


def test_argv_and_stdin():
    c, runner = console("bconsole-06-run-backup.txt")
    assert c.run_job("BackupSample") == 1
    assert runner.calls == [tuple(CONSOLE_ARGV)]
    assert runner.stdins == ["run job=BackupSample yes\nquit\n"]


def test_run_job_with_level_and_client():
    c, runner = console("bconsole-50-run.txt")
    assert c.run_job("BackupData", level="Full", client="calypso-fd") == 3
    assert runner.stdins[0].startswith("run job=BackupData level=Full client=calypso-fd yes\n")


def test_job_jobs_log_estimate():
    c, runner = console("bconsole-10-llist-jobid1.txt", "bconsole-09-list-jobs.txt", "bconsole-50-joblog.txt",
                        "bconsole-50-estimate.txt")
    assert c.job(1).name == "BackupSample"
    assert [j.jobid for j in c.jobs(limit=5)] == [1]
    assert c.job_log(3)[0].startswith("calypso-dir JobId 3: Start Backup")
    assert c.estimate("BackupData").files == 7
    assert [s.split("\n")[0] for s in runner.stdins] == ["llist jobid=1", "list jobs limit=5", "list joblog jobid=3",
                                                         "estimate job=BackupData"]


def test_missing_job_is_an_error():
    c, _runner = console("bconsole-50-err-llist.txt")
    with pytest.raises(BackendError, match="no job 999"):
        c.job(999)


def test_progress_of_a_running_job():
    c, runner = console("bconsole-50-status-client-running.txt", "bconsole-50-status-client-idle.txt")
    progress = c.progress(1, "calypso-fd")
    assert (progress.files, progress.bytes, progress.bytes_per_second) == (6, 110542601, 110542601)
    assert c.progress(1, "calypso-fd") is None
    assert runner.stdins[0] == "status client=calypso-fd\nquit\n"


def test_wait_polls_until_the_job_ends():
    running = (console_replay("bconsole-10-llist-jobid1.txt").recordings[tuple(CONSOLE_ARGV)][0].stdout
               .replace("JobStatus: T", "JobStatus: R"))
    runner = ReplayRunner().add(CONSOLE_ARGV, stdout=running)
    runner.add(CONSOLE_ARGV, stdout=console_replay("bconsole-10-llist-jobid1.txt").recordings[tuple(CONSOLE_ARGV)][0]
               .stdout)
    c = Console(runner, CONSOLE_ARGV[-1], FLAVOURS["bacula"])
    assert c.wait(1, interval=0).ok and len(runner.calls) == 2


@pytest.mark.parametrize(("name", "call", "words"), [
    ("bconsole-50-err-run.txt", lambda c: c.run_job("NoSuchJob"), 'Job "NoSuchJob" not found'),
    ("bconsole-50-err-cancel.txt", lambda c: c.cancel(999), "is not running"),
    ("bconsole-50-err-client.txt", lambda c: c.progress(1, "NoSuch"), "Client resource NoSuch does not exist"),
    ("bconsole-50-err-storage.txt", lambda c: c.update_slots("NoSuch"), 'Storage resource "NoSuch": not found'),
    ("bconsole-50-err-updvol.txt", lambda c: c.update_volume("NOPE", volstatus="Used"), "NOPE"),
    ("bconsole-50-err-estimate.txt", lambda c: c.estimate("NoSuchJob"), "not found"),
    ("bconsole-21-bvfs-versions.txt", lambda c: c.bvfs_versions("calypso-fd", 1, 15, jobid=1), "Can't find"),
])
def test_console_refusals_raise_with_its_words(name, call, words):
    c, _runner = console(name)
    with pytest.raises(BackendError) as refused:
        call(c)
    assert words in str(refused.value)


def test_unreachable_director():
    runner = ReplayRunner().add(CONSOLE_ARGV, stdout="Connecting to Director 127.0.0.1:19201\n",
                                stderr="Failed to connect", returncode=1)
    with pytest.raises(BackendError):
        Console(runner, CONSOLE_ARGV[-1], FLAVOURS["bacula"]).call("status dir")


def test_volumes_pools_clients_status():
    c, _runner = console("bconsole-11-list-volumes.txt", "bconsole-31-list-pools-after-reload.txt",
                         "bconsole-50-clients.txt", "bconsole-01-status-dir.txt")
    assert len(c.volumes()) == 4
    assert [p.name for p in c.pools()] == ["TapePool", "Scratch", "OffsitePool"]
    assert [x.name for x in c.clients()] == ["calypso-fd"]
    assert "Scheduled Jobs:" in c.status_dir()


def test_update_slots_and_label_barcodes_answer_yes_on_its_own_line():
    c, runner = console("bconsole-03-update-slots-scan.txt", "bconsole-05-label-barcodes.txt")
    assert c.update_slots("VTL1").slots == 10
    result = c.label_barcodes("VTL1", "TapePool", "1-4")
    assert len(result.labelled) == 4
    assert runner.stdins == ["update slots storage=VTL1 drive=0\nquit\n",
                             "label barcodes pool=TapePool slots=1-4 storage=VTL1 drive=0\nyes\nquit\n"]


def test_label_failures_are_reported_not_raised():
    c, _runner = console("bconsole-04b-label-barcodes-FAILED-no-slot-files.txt")
    result = c.label_barcodes("VTL1", "TapePool", "1-4")
    assert not result.ok and len(result.failed) == 4


def test_update_and_purge_volume():
    c, runner = console("bconsole-50-updpool.txt", "bconsole-50-purge.txt")
    c.update_volume("CAL003L6", pool="Scratch", volstatus="Used")
    c.purge_volume("CAL001L6")
    assert runner.stdins == ["update volume=CAL003L6 pool=Scratch\nupdate volume=CAL003L6 volstatus=Used\nquit\n",
                             "purge volume=CAL001L6 yes\nquit\n"]


def test_reload_reads_the_messages():
    good = ReplayRunner().add(CONSOLE_ARGV, stdout="Connecting to Director 127.0.0.1:19201\n1000 OK: 103 calypso-dir\n"
                              "Enter a period to cancel a command.\nreload\nmessages\nYou have no messages.\nquit\n")
    Console(good, CONSOLE_ARGV[-1], FLAVOURS["bacula"]).reload()
    assert good.stdins == ["reload\nmessages\nquit\n"]
    bad_text = ("Connecting to Director 127.0.0.1:19201\n1000 OK: 103 calypso-dir\nEnter a period to cancel a command.\n"
                "reload\nYou have messages.\nmessages\n" + console_replay("bconsole-33-messages-after-bad-reload.txt")
                .recordings[tuple(CONSOLE_ARGV)][0].stdout.split("messages\n", 1)[1] + "quit\n")
    bad = ReplayRunner().add(CONSOLE_ARGV, stdout=bad_text)
    with pytest.raises(BackendError, match="Config error: Bad time specification."):
        Console(bad, CONSOLE_ARGV[-1], FLAVOURS["bacula"]).reload()


def test_bvfs_browse():
    c, runner = console("bconsole-13-bvfs-update.txt", "bconsole-14-bvfs-get-jobids.txt",
                        "bconsole-16-bvfs-lsdirs-sample.txt", "bconsole-20-bvfs-lsfiles-by-pathid.txt",
                        "bconsole-21b-bvfs-versions-fnid.txt")
    c.bvfs_update([1])
    assert c.bvfs_get_jobids(1) == [1]
    assert [d.name for d in c.bvfs_lsdirs([1], path="/tmp/tape-research/bacula/sample-data", limit=100)][-1] == "sub/"
    assert len(c.bvfs_lsfiles([1], pathid=2, limit=100)) == 13
    assert c.bvfs_versions("calypso-fd", 1, 15, jobid=1)[0].volume == "CAL004L6"
    assert [s.split("\n")[0] for s in runner.stdins] == [
        ".bvfs_update jobid=1", ".bvfs_get_jobids jobid=1",
        ".bvfs_lsdirs jobid=1 path=/tmp/tape-research/bacula/sample-data/ limit=100 offset=0",
        ".bvfs_lsfiles jobid=1 pathid=2 limit=100", ".bvfs_versions jobid=1 client=calypso-fd pathid=1 fnid=15"]


def test_restore_flow():
    c, runner = console("bconsole-22-bvfs-restore.txt", "bconsole-23-restore-bvfs-list.txt",
                        "bconsole-26-bvfs-cleanup.txt")
    assert c.restore([1], [1, 19], [2], "calypso-fd", "/tmp/tape-research/bacula/restore/bvfs") == 2
    first, second, third = (s.split("\n")[0] for s in runner.stdins)
    table = first.split("path=")[1].split(" ")[0]
    assert first == f".bvfs_restore path={table} jobid=1 fileid=1,19 dirid=2"
    assert second == f"restore file=?{table} client=calypso-fd where=/tmp/tape-research/bacula/restore/bvfs yes"
    assert third == f".bvfs_cleanup path={table}"


@pytest.mark.parametrize("call", [
    lambda c: c.run_job("bad name"),
    lambda c: c.run_job("Job\nquit"),
    lambda c: c.run_job("BackupData", level="Sometimes"),
    lambda c: c.run_job("BackupData", client="a;b"),
    lambda c: c.job("1"),
    lambda c: c.job(0),
    lambda c: c.job(True),
    lambda c: c.jobs(limit=0),
    lambda c: c.cancel(-1),
    lambda c: c.progress(1, "../x"),
    lambda c: c.label_barcodes("VTL1", "TapePool", "1-4 yes"),
    lambda c: c.label_barcodes("VTL1", "TapePool", "1-4", drive=-1),
    lambda c: c.update_volume("CAL001L6", volstatus="Purged"),
    lambda c: c.update_volume("CAL001L6"),
    lambda c: c.purge_volume("CAL001L6 yes"),
    lambda c: c.bvfs_update([]),
    lambda c: c.bvfs_update("1"),
    lambda c: c.bvfs_lsdirs([1], path="relative/path"),
    lambda c: c.bvfs_lsdirs([1], path='/a"b'),
    lambda c: c.bvfs_lsdirs([1]),
    lambda c: c.bvfs_lsdirs([1], path="/", pathid=2),
    lambda c: c.bvfs_lsfiles([1], path="/a\nquit"),
    lambda c: c.bvfs_restore([1], [1], [], "b2x"),
    lambda c: c.bvfs_restore([1], [], [], "b21"),
    lambda c: c.restore([1], [1], [], "calypso-fd", "not/absolute"),
    lambda c: c.restore([1], ["1"], [], "calypso-fd", "/tmp/x"),
    lambda c: c.restore([1], [1], [], "calypso fd", "/tmp/x"),
    lambda c: c.call("status dir\nquit"),
])
def test_bad_arguments_never_reach_the_console(call):
    runner = ReplayRunner()
    with pytest.raises(BackendError):
        call(Console(runner, CONSOLE_ARGV[-1], FLAVOURS["bacula"]))
    assert runner.calls == []


def test_get_console_reads_the_settings(settings):
    settings.CALYPSO_BACULA_FLAVOUR = "bareos"
    settings.CALYPSO_BACULA_CONSOLE_CONF = "/etc/bareos/bconsole.conf"
    runner = ReplayRunner()
    c = get_console(runner)
    assert (c.flavour.name, c.config, c.runner) == ("bareos", "/etc/bareos/bconsole.conf", runner)
    del settings.CALYPSO_BACULA_CONSOLE_CONF
    settings.CALYPSO_BACULA_FLAVOUR = "bacula"
    assert get_console(runner).config == "/etc/bacula/bconsole.conf"
