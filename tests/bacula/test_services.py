"""The Bacula jobs against replayed console output: a backup followed from the director's estimate to its end,
its log being the director's, its run and the volumes read back; a job the director fails is a failed job that
says so; a restore goes through bvfs with Calypso's restore job."""

from __future__ import annotations

import pytest

from apps.bacula import services
from apps.bacula.models import BackupJob, Client, FileSet, JobRun, Pool, Storage, Volume
from apps.core.runner import ReplayRunner
from apps.jobs.runtime import run_job

from .recordings import CONSOLE_ARGV, body

pytestmark = pytest.mark.django_db


@pytest.fixture
def backup_job(settings, tmp_path) -> BackupJob:
    settings.CALYPSO_BACULA_CONSOLE_CONF = CONSOLE_ARGV[-1]
    settings.CALYPSO_BACULA_POLL_S = 0
    storage = Storage.objects.create(name="VTL1", password="sd-director-secret", changer_device="/dev/sg3",
                                     archive_devices=["/dev/nst0"])
    return BackupJob.objects.create(
        name="BackupData", client=Client.objects.create(name="calypso-fd", address="127.0.0.1",
                                                        password="fd-director-secret"),
        fileset=FileSet.objects.create(name="DataSet", include=[str(tmp_path)]),
        pool=Pool.objects.create(name="TapePool", storage=storage), storage=storage)


def _console(*outputs: str) -> ReplayRunner:
    runner = ReplayRunner()
    for output in outputs:
        runner.add(CONSOLE_ARGV, stdout=output)
    return runner


def _log(job) -> str:
    return "\n".join(job.log_entries.order_by("id").values_list("message", flat=True))


def test_a_backup_follows_the_director_to_its_end(backup_job):
    done = body("bconsole-50-llist-job.txt")
    runner = _console(body("bconsole-50-estimate.txt"), body("bconsole-50-run.txt"),
                      done.replace("JobStatus: T", "JobStatus: R"), body("bconsole-50-status-client-running.txt"),
                      done, body("bconsole-50-joblog.txt"), body("bconsole-11-list-volumes.txt"),
                      body("bconsole-13-bvfs-update.txt"))
    job = run_job(services.start_backup(backup_job, level="Full").pk, runner=runner)
    assert job.state == "succeeded", job.error
    assert [s.split("\n")[0] for s in runner.stdins] == [
        "estimate job=BackupData", "run job=BackupData level=Full yes", "llist jobid=3", "status client=calypso-fd",
        "llist jobid=3", "list joblog jobid=3", "list volumes", ".bvfs_update jobid=3"]  # browsable at once
    log = _log(job)
    assert "The director estimates" in log and "The director started job 3." in log
    assert "Start Backup JobId 3" in log  # the director's own job log, line by line
    run = JobRun.objects.get(jobid=3)
    assert run.backup_job == backup_job and run.status == "T" and job.result["jobid"] == 3
    assert set(Volume.objects.values_list("name", flat=True)) >= {"CAL001L6", "CAL004L6"}
    assert Volume.objects.get(name="CAL001L6").pool.name == "TapePool"


def test_a_job_the_director_fails_is_a_failed_job_that_says_why(backup_job):
    failed = body("bconsole-50-llist-job.txt").replace("JobStatus: T", "JobStatus: f")
    runner = _console(body("bconsole-50-estimate.txt"), body("bconsole-50-run.txt"), failed,
                      body("bconsole-50-joblog.txt"), body("bconsole-11-list-volumes.txt"))
    job = run_job(services.start_backup(backup_job).pk, runner=runner)
    assert job.state == "failed" and "ended with status f" in job.error and "job log" in job.error
    assert "Start Backup JobId 3" in _log(job) and JobRun.objects.get(jobid=3).status == "f"


def test_a_level_outside_bacula_s_is_refused_before_anything_runs(backup_job, replay):
    from apps.core.errors import ServiceError

    with pytest.raises(ServiceError) as refused:
        services.start_backup(backup_job, level="Sometimes")
    assert refused.value.field == "level" and replay.calls == []


class _Director:
    """The console of a director holding one directory of ``files`` files and one subdirectory, answering as 9.6.7
    does: ``.bvfs_lsfiles limit=N`` gives N-1 rows (the directory's own nameless row counts), offset= ignored. Rows
    are the recorded row with other names and ids (tests/bacula/fixtures/bconsole-18-*)."""

    LSTAT = "P4A IOLS IGk B A A A G BAA I BrD6iC BrD6iC BrD6iC A A C"

    def __init__(self, files: int) -> None:
        self.files, self.sessions = files, []

    def run(self, argv, *, stdin=None, timeout=None, check=True, env=None):
        from apps.core.runner import CommandResult

        commands = [c for c in stdin.splitlines() if c and c != "quit"]
        self.sessions.append(commands)
        out = ["Connecting to Director 127.0.0.1:19201", "1000 OK: 103 calypso-dir Version: 9.6.7 (10 December 2020)",
               "Enter a period to cancel a command."]
        for command in commands:
            out += [command, 'Using Catalog "MyCatalog"']
            if command.startswith(".bvfs_lsdirs"):
                out += [f"9\t0\t0\t0\tA A A A A A A A A A A A A A\t{n}" for n in (".", "..", "sub/")]
            elif command.startswith(".bvfs_lsfiles"):
                limit = int(command.rsplit("limit=", 1)[1])
                rows = [f"2\t0\t0\t1\t{self.LSTAT}\t"] + [f"2\t{i}\t{1000 + i}\t1\t{self.LSTAT}\tf{i:05d}.txt"
                                                           for i in range(self.files)]
                out += rows[:limit - 1]
        return CommandResult(tuple(argv), 0, "\n".join([*out, "quit", ""]), "", 0.0)


def test_browsing_pages_past_what_the_first_page_fetched(backup_job, monkeypatch):
    from apps.bacula.services import console

    monkeypatch.setattr(console, "FETCH", 10)
    monkeypatch.setattr(console, "BLOCK", 4)
    run = JobRun.objects.create(jobid=1, name="BackupData", job_type="B", level="F", status="T")
    director = _Director(files=25)
    first = services.browse(run, path="/data", limit=5, runner=director)
    assert [e["name"] for e in first["entries"]] == ["sub/", "f00000.txt", "f00001.txt", "f00002.txt", "f00003.txt"]
    assert first["more"] and first["entries"][1]["fileid"] == 1000 and first["entries"][0]["pathid"] == 9
    assert director.sessions[0][0] == ".bvfs_update jobid=1" and len(director.sessions) == 1  # one session
    again = services.browse(run, path="/data", offset=5, limit=5, runner=director)
    assert [e["name"] for e in again["entries"]] == [f"f{i:05d}.txt" for i in range(4, 9)]
    assert len(director.sessions) == 1  # from the rows kept
    deep = services.browse(run, path="/data", offset=20, limit=10, runner=director)
    assert [e["name"] for e in deep["entries"]] == [f"f{i:05d}.txt" for i in range(19, 25)] and not deep["more"]
    assert len(director.sessions) == 2 and not director.sessions[1][0].startswith(".bvfs_update")
    assert deep["entries"][0]["size"] is not None and deep["entries"][0]["mtime"] > 0


def test_the_last_page_of_a_listing_ending_on_a_block_edge(backup_job, monkeypatch):
    from apps.bacula.services import console

    monkeypatch.setattr(console, "FETCH", 10)
    monkeypatch.setattr(console, "BLOCK", 4)
    run = JobRun.objects.create(jobid=2, name="BackupData", job_type="B", level="F", status="T")
    director = _Director(files=8)  # all of it in the first fetch: two whole blocks
    last = services.browse(run, path="/data", offset=5, limit=4, runner=director)
    assert [e["name"] for e in last["entries"]] == [f"f{i:05d}.txt" for i in range(4, 8)] and not last["more"]
    assert len(director.sessions) == 1
