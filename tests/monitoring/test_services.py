"""The disk check and self-test jobs against recorded smartctl output: rows, samples, the unsupported state,
progress, completion and cancellation."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import ServiceError
from apps.core.runner import ReplayRunner
from apps.jobs.models import Job, JobLocked
from apps.jobs.runtime import run_job
from apps.monitoring import services
from apps.monitoring.models import Disk, DiskSample, SelfTest
from apps.monitoring.operations import DISK
from apps.monitoring.services import disks as disk_services

from .recordings import host_with_five_disks, lsblk, lsblk_disk, recorded, smartctl

pytestmark = pytest.mark.django_db


def test_check_creates_a_row_per_disk_with_its_smart_values(checked):
    assert checked == {"disks": 5, "health": {"passed": 3, "failed": 1, "unsupported": 1}}
    assert sorted(Disk.objects.values_list("name", flat=True)) == ["nvme0n1", "sda", "sdb", "sdc", "vda"]
    sda = Disk.objects.get(name="sda")
    assert (sda.health, sda.protocol, sda.smart_supported, sda.smart_enabled) == ("passed", "ata", True, True)
    assert (sda.model, sda.serial, sda.wwn, sda.transport) == ("Samsung SSD 860 EVO 500GB", "S3YZNB0KB00864E",
                                                              "5002538e40a22954", "sata")
    assert (sda.temperature_c, sda.power_on_hours, sda.reallocated_sectors, sda.udma_crc_errors) == (36, 14551, 0, 0)
    assert (sda.pool, sda.in_use, sda.capacity_bytes, sda.rotational) == ("tank", "has partitions", 500107862016,
                                                                          False)
    assert len(sda.attributes) == 14 and sda.last_checked is not None and sda.last_error == ""
    assert SelfTest.objects.filter(disk=sda).count() == 19
    sdc = Disk.objects.get(name="sdc")
    assert (sdc.health, sdc.reallocated_sectors, sdc.pending_sectors) == ("failed", 1975, 8)
    nvme = Disk.objects.get(name="nvme0n1")
    assert (nvme.protocol, nvme.media_errors, nvme.percentage_used, nvme.available_spare) == ("nvme", 0, 0, 100)
    sdb = Disk.objects.get(name="sdb")
    assert (sdb.protocol, sdb.grown_defects, sdb.uncorrected_errors, sdb.temperature_c) == ("scsi", 0, 0, 31)
    assert DiskSample.objects.count() == 4  # one per disk with SMART


def test_a_device_without_smart_is_unsupported_not_an_error(checked):
    vda = Disk.objects.get(name="vda")
    assert (vda.smart_supported, vda.health, vda.last_error) == (False, "unsupported", "")
    assert vda.messages == "/dev/vda: Unable to detect device type"
    assert (vda.capacity_bytes, vda.pool, vda.temperature_c) == (274877906944, "", None)
    assert not DiskSample.objects.filter(disk=vda).exists()


def test_samples_are_kept_when_a_value_changes_or_hourly(checked, replay):
    replay.recordings.clear()
    host_with_five_disks(replay)
    services.check_disks()
    assert DiskSample.objects.count() == 4  # nothing changed, less than an hour: no new sample
    worse = json.loads(recorded("ata-failing.json"))
    next(a for a in worse["ata_smart_attributes"]["table"] if a["id"] == 5)["raw"]["value"] = 1980
    replay.recordings.clear()
    host_with_five_disks(replay)
    replay.recordings[("smartctl", "--json=c", "-a", "/dev/sdc")] = []
    replay.add(["smartctl", "--json=c", "-a", "/dev/sdc"], stdout=json.dumps(worse), returncode=216)
    services.check_disks()
    sdc = Disk.objects.get(name="sdc")
    assert list(sdc.samples.values_list("reallocated_sectors", flat=True)) == [1980, 1975]
    assert DiskSample.objects.count() == 5
    DiskSample.objects.update(time=DiskSample.objects.latest().time - timedelta(hours=2))
    services.check_disks()
    assert DiskSample.objects.count() == 9  # an hour passed: every disk with SMART sampled again


def test_a_disk_no_longer_listed_is_gone(checked, replay):
    replay.recordings.clear()
    lsblk(replay, lsblk_disk("sda", 500107862016))
    smartctl(replay, "-a", "/dev/sda", "ata.json")
    assert services.check_disks() == {"disks": 1, "health": {"passed": 1}}
    assert set(Disk.objects.filter(gone=True).values_list("name", flat=True)) == {"nvme0n1", "sdb", "sdc", "vda"}


def test_smartctl_answering_nothing_readable_is_a_recorded_error(tank, replay):
    lsblk(replay, lsblk_disk("sdx", 1 << 40))
    replay.add(["smartctl", "--json=c", "-a", "/dev/sdx"], returncode=127)  # not installed
    services.check_disks()
    sdx = Disk.objects.get(name="sdx")
    assert sdx.health == "unknown" and "smartctl --json -a" in sdx.last_error


def test_check_job_holds_its_lock_and_is_audited(checked, operator_user, replay):
    job = DISK["check"].run(actor=operator_user)
    assert (job.kind, job.lock_key) == ("monitoring.disk.check", "monitoring:disks")
    with pytest.raises(JobLocked):
        DISK["check"].run(actor=operator_user)
    replay.recordings.clear()
    host_with_five_disks(replay)
    job = run_job(job.pk, runner=replay)
    assert job.state == "succeeded", job.error
    assert job.result == {"disks": 5, "health": {"passed": 3, "failed": 1, "unsupported": 1}}
    assert AuditEvent.objects.filter(action="monitoring.disk.check", job_id=job.pk).count() == 2


def test_self_test_is_refused_on_a_disk_without_smart(checked, operator_user, replay):
    calls = len(replay.calls)
    with pytest.raises(ServiceError) as refused:
        DISK["self_test"].run(actor=operator_user, obj=Disk.objects.get(name="vda"), data={"kind": "short"})
    assert (refused.value.code, refused.value.status_code) == ("smart_unsupported", 409)
    assert len(replay.calls) == calls and not Job.objects.exists()


def _self_test_state(remaining: int | None) -> str:
    """The recorded in-progress answer with another remaining percent (None: the recorded finished one)."""
    if remaining is None:
        return recorded("ata.json")
    data = json.loads(recorded("ata-self-test-running.json"))
    status = data["ata_smart_data"]["self_test"]["status"]
    status.update(value=240 + remaining // 10, remaining_percent=remaining,
                  string=f"in progress, {remaining}% remaining")
    return json.dumps(data)


STARTED = json.dumps({"json_format_version": [1, 0], "smartctl": {"version": [7, 3], "exit_status": 0}})


def _self_test_runner(*remaining: int | None) -> ReplayRunner:
    runner = ReplayRunner().add(["smartctl", "--json=c", "-t", "short", "/dev/sda"], stdout=STARTED)
    for value in remaining:
        runner.add(["smartctl", "--json=c", "-c", "-l", "selftest", "/dev/sda"], stdout=_self_test_state(value))
    runner.add(["smartctl", "--json=c", "-X", "/dev/sda"], stdout=STARTED)
    return smartctl(runner, "-a", "/dev/sda", "ata.json")


def test_self_test_job_follows_the_remaining_percent_to_the_result(checked, operator_user, fast_self_test,
                                                                    settings, monkeypatch):
    settings.CALYPSO_PROGRESS_PUBLISH_S = 0
    sda = Disk.objects.get(name="sda")
    SelfTest.objects.all().delete()
    job = DISK["self_test"].run(actor=operator_user, obj=sda, data={"kind": "short"})
    assert (job.kind, job.lock_key, job.params) == ("monitoring.disk.self_test", "disk:sda", {"kind": "short"})
    seen = []
    monkeypatch.setattr("apps.jobs.progress.publish", lambda job_id, payload, **kw: seen.append(payload["progress"]))
    runner = _self_test_runner(90, 40, 10, None)
    job = run_job(job.pk, runner=runner)
    assert job.state == "succeeded", job.error
    assert job.result == {"kind": "short", "status": "Completed without error", "passed": True,
                          "lifetime_hours": 14417}
    assert [p for p in seen if p not in (0, 100)] == [10, 60, 90] and seen[-1] == 100
    assert ("smartctl", "--json=c", "-X", "/dev/sda") not in runner.calls
    assert SelfTest.objects.filter(disk=sda).count() == 19


def test_a_drive_not_yet_showing_the_test_is_read_again(checked, operator_user, fast_self_test):
    job = DISK["self_test"].run(actor=operator_user, obj=Disk.objects.get(name="sda"), data={"kind": "short"})
    runner = _self_test_runner(None, 50, None)  # the previous test's end first, then the new one running
    job = run_job(job.pk, runner=runner)
    assert job.state == "succeeded", job.error
    assert runner.calls.count(("smartctl", "--json=c", "-c", "-l", "selftest", "/dev/sda")) == 3


def test_cancelling_the_job_aborts_the_test_on_the_drive(checked, operator_user, monkeypatch):
    job = DISK["self_test"].run(actor=operator_user, obj=Disk.objects.get(name="sda"), data={"kind": "long"})
    runner = _self_test_runner(70)
    runner.recordings[("smartctl", "--json=c", "-t", "long", "/dev/sda")] = \
        runner.recordings.pop(("smartctl", "--json=c", "-t", "short", "/dev/sda"))
    real_sleep = disk_services.time.sleep

    def cancel_while_polling(seconds):  # the operator cancels the job between two reads
        Job.objects.filter(pk=job.pk).update(cancel_requested=True)
        real_sleep(0.6)  # past the reporter's cancel-check throttle

    monkeypatch.setattr(disk_services.time, "sleep", cancel_while_polling)
    job = run_job(job.pk, runner=runner)
    assert job.state == "cancelled" and job.progress == 30
    assert runner.calls[-1] == ("smartctl", "--json=c", "-X", "/dev/sda")
    assert ("smartctl", "--json=c", "-t", "long", "/dev/sda") in runner.calls


def test_a_drive_refusing_the_test_fails_the_job_with_its_words(checked, operator_user, fast_self_test):
    job = DISK["self_test"].run(actor=operator_user, obj=Disk.objects.get(name="sda"), data={"kind": "short"})
    refused = recorded("vda-self-test-refused.json").replace("/dev/vda", "/dev/sda")
    runner = ReplayRunner().add(["smartctl", "--json=c", "-t", "short", "/dev/sda"], stdout=refused, returncode=1)
    job = run_job(job.pk, runner=runner)
    assert job.state == "failed" and "Unable to detect device type" in job.error
    assert runner.calls == [("smartctl", "--json=c", "-t", "short", "/dev/sda")]


def test_self_test_is_refused_on_a_sas_disk_with_the_reason(checked, operator_user, replay):
    with pytest.raises(ServiceError, match="ATA and NVMe") as refused:
        DISK["self_test"].run(actor=operator_user, obj=Disk.objects.get(name="sdb"), data={"kind": "short"})
    assert refused.value.code == "unsupported" and not Job.objects.exists()


def test_a_disk_that_cannot_be_opened_once_keeps_its_smart_and_shows_the_error(checked, replay):
    replay.recordings.clear()
    host_with_five_disks(replay)
    replay.recordings[("smartctl", "--json=c", "-a", "/dev/sda")] = []
    replay.add(["smartctl", "--json=c", "-a", "/dev/sda"], returncode=2, stdout=json.dumps({"smartctl": {
        "exit_status": 2, "messages": [{"string": "Smartctl open device: /dev/sda failed: Device busy"}]}}))
    services.check_disks()
    sda = Disk.objects.get(name="sda")
    assert (sda.health, sda.smart_supported, sda.temperature_c) == ("unknown", True, 36)
    assert sda.last_error == "Smartctl open device: /dev/sda failed: Device busy"
