"""The tape services against replayed tool output: discovery, inventory, every move, label, erase, clean and
drive status as jobs; a failed label puts its medium back; refusals run nothing."""

from __future__ import annotations

import pytest

from apps.audit.models import AuditEvent
from apps.core.errors import ServiceError, Unsupported
from apps.jobs.models import Job
from apps.jobs.runtime import run_job
from apps.storage.choices import EventKind
from apps.storage.models import StorageEvent
from apps.tape import services
from apps.tape.backends import get_backend
from apps.tape.backends.labels import vol1_record
from apps.tape.models import Drive, Library, MediaPool, Medium, Slot
from apps.tape.operations import DRIVE, LIBRARY, MEDIUM

from .recordings import FIXTURES, body

MTX = ("mtx", "-f", "/dev/sg6")


def _run(job: Job, replay) -> Job:
    done = run_job(job.pk, runner=replay)
    assert done is not None
    return done


def _log(job: Job) -> str:
    return "\n".join(job.log_entries.order_by("id").values_list("message", flat=True))


def test_discover_finds_the_changer_and_its_drives(db, replay):
    replay.add_file(FIXTURES / "lsscsi_g_mhvtl_install.txt")
    found = services.discover(runner=replay)
    assert found == {"libraries": ["changer-sg6"], "changers": ["/dev/sg6"],
                     "drives": ["/dev/nst0", "/dev/nst1", "/dev/nst2", "/dev/nst3"]}
    library = Library.objects.get()
    assert (library.kind, library.vendor, library.product, library.drive_count) == ("physical", "SPECTRA", "PYTHON", 4)
    assert list(library.drives.values_list("number", "device", "sg_device", "product")) == [
        (0, "/dev/nst0", "/dev/sg2", "SDLT600"), (1, "/dev/nst1", "/dev/sg3", "SDLT600"),
        (2, "/dev/nst2", "/dev/sg4", "ULT3580-TD4"), (3, "/dev/nst3", "/dev/sg5", "ULT3580-TD4")]
    services.discover(runner=replay)  # found again: the same library, not a second one
    assert Library.objects.count() == 1


def test_inventory_records_slots_drives_and_new_barcodes(changer, replay, operator_user):
    assert (changer.slots, changer.ie_slots, changer.drive_count) == (33, 4, 4)
    assert changer.last_inventory_at is not None
    assert Slot.objects.filter(library=changer).count() == 37
    assert list(Slot.objects.filter(library=changer, import_export=True).values_list("number", flat=True)) == [
        34, 35, 36, 37]
    assert Medium.objects.filter(library=changer).count() == 25
    cln = Medium.objects.get(barcode="CLN001L1")
    assert (cln.kind, cln.slot_number, cln.state) == ("clean", 31, "unknown")
    job = _run(services.start_inventory(changer, actor=operator_user), replay)
    assert job.result["new_media"] == 0 and Medium.objects.count() == 25
    assert replay.calls == [(*MTX, "status")]


def test_load_unload_and_transfer_move_the_rows(changer, replay, operator_user):
    replay.add([*MTX, "load", "1", "0"]).add([*MTX, "unload", "1", "0"]).add([*MTX, "transfer", "2", "10"])
    assert _run(LIBRARY["load"].run(actor=operator_user, obj=changer, data={"slot": 1, "drive": 0}),
                replay).state == "succeeded"
    drive = Drive.objects.get(library=changer, number=0)
    assert (drive.medium.barcode, drive.source_slot) == ("SDLT01S3", 1)
    assert not Slot.objects.get(library=changer, number=1).full
    assert Medium.objects.get(barcode="SDLT01S3").location == "drive 0"
    assert _run(services.start_unload(changer, actor=operator_user, drive=0), replay).result == {"slot": 1, "drive": 0}
    assert Medium.objects.get(barcode="SDLT01S3").location == "slot 1"
    assert _run(services.start_transfer(changer, actor=operator_user, source=2, destination=10), replay).state == \
        "succeeded"
    assert Slot.objects.get(library=changer, number=10).barcode == "SDLT02S3"
    assert replay.calls == [(*MTX, "load", "1", "0"), (*MTX, "unload", "1", "0"), (*MTX, "transfer", "2", "10")]


def test_export_then_import_go_through_the_mail_slots(changer, replay, operator_user):
    replay.add([*MTX, "transfer", "3", "34"]).add([*MTX, "transfer", "34", "3"])
    job = _run(services.start_export(changer, actor=operator_user, barcode="SDLT03S3"), replay)
    assert job.result == {"source": 3, "destination": 34}
    assert Slot.objects.get(library=changer, number=34).barcode == "SDLT03S3"
    job = _run(services.start_import(changer, actor=operator_user, slot=34), replay)
    assert job.result == {"source": 34, "destination": 3}  # the first free storage slot
    assert Medium.objects.get(barcode="SDLT03S3").slot_number == 3


def test_label_loads_writes_vol1_and_puts_the_medium_back(changer, replay, operator_user, settings):
    pool = MediaPool.objects.create(name="weekly")
    dd = ["dd", f"if={services.label_path('SDLT01S3')}", "of=/dev/nst0", "bs=80", "count=1"]
    replay.add([*MTX, "load", "1", "0"]).add(["mt", "-f", "/dev/nst0", "rewind"]).add(dd)
    replay.add(["mt", "-f", "/dev/nst0", "weof"]).add([*MTX, "unload", "1", "0"])
    medium = Medium.objects.get(barcode="SDLT01S3")
    job = _run(MEDIUM["label"].run(actor=operator_user, obj=medium, data={"pool": pool}), replay)
    assert job.state == "succeeded", job.error
    assert replay.calls == [(*MTX, "load", "1", "0"), ("mt", "-f", "/dev/nst0", "rewind"), tuple(dd),
                            ("mt", "-f", "/dev/nst0", "weof"), (*MTX, "unload", "1", "0")]
    medium.refresh_from_db()
    assert (medium.state, medium.pool, medium.location) == ("labelled", pool, "slot 1") and medium.labelled_at
    assert not services.label_path("SDLT01S3").exists()  # the temporary record is gone


def test_vol1_record_is_80_bytes_of_the_volume_serial():
    record = vol1_record("CAL001L6")
    assert len(record) == 80 and record.startswith(b"VOL1CAL001 ") and record.endswith(b"4")
    assert record[37:51] == b"CALYPSO       "


def test_a_failed_label_puts_the_medium_back_and_says_so(changer, replay, operator_user):
    dd = ["dd", f"if={services.label_path('SDLT01S3')}", "of=/dev/nst0", "bs=80", "count=1"]
    replay.add([*MTX, "load", "1", "0"]).add(["mt", "-f", "/dev/nst0", "rewind"])
    replay.add(dd, stderr="dd: error writing '/dev/nst0': Input/output error", returncode=1)
    replay.add([*MTX, "unload", "1", "0"])
    job = _run(services.start_label(Medium.objects.get(barcode="SDLT01S3"), actor=operator_user), replay)
    assert job.state == "rolled_back" and "Input/output error" in job.error
    assert replay.calls[-1] == (*MTX, "unload", "1", "0")
    log = _log(job)
    assert "Rolling back: unload SDLT01S3 from drive 0 back to slot 1" in log and "Rollback complete" in log
    medium = Medium.objects.get(barcode="SDLT01S3")
    assert (medium.state, medium.location) == ("unknown", "slot 1")
    assert Drive.objects.get(library=changer, number=0).medium is None


def test_erase_asks_for_the_barcode_and_erases(changer, replay, operator_user):
    medium = Medium.objects.get(barcode="SDLT02S3")
    with pytest.raises(Exception, match="Type SDLT02S3 to confirm"):
        serializer = MEDIUM["erase"].serializer(medium, data={"confirm": "SDLT01S3"})
        serializer.is_valid(raise_exception=True)
    replay.add([*MTX, "load", "2", "0"]).add(["mt", "-f", "/dev/nst0", "rewind"])
    replay.add(["mt", "-f", "/dev/nst0", "erase", "0"]).add([*MTX, "unload", "2", "0"])
    job = _run(MEDIUM["erase"].run(actor=operator_user, obj=medium, data={"quick": True, "confirm": "SDLT02S3"}),
               replay)
    assert job.state == "succeeded", job.error
    assert ("mt", "-f", "/dev/nst0", "erase", "0") in replay.calls
    assert Medium.objects.get(barcode="SDLT02S3").state == "erased"


def test_clean_loads_a_cleaning_cartridge_and_counts_the_use(changer, replay, operator_user):
    Medium.objects.filter(barcode="CLN001L1").update(cleaning_uses_left=3)
    drive = Drive.objects.get(library=changer, number=1)
    Drive.objects.filter(pk=drive.pk).update(needs_cleaning=True)
    replay.add([*MTX, "load", "31", "1"]).add([*MTX, "unload", "31", "1"])
    job = _run(DRIVE["clean"].run(actor=operator_user, obj=drive, data={}), replay)
    assert job.result == {"cartridge": "CLN001L1", "uses_left": 2}
    assert replay.calls == [(*MTX, "load", "31", "1"), (*MTX, "unload", "31", "1")]
    assert not Drive.objects.get(pk=drive.pk).needs_cleaning
    Medium.objects.filter(barcode__startswith="CLN").update(cleaning_uses_left=0)
    with pytest.raises(ServiceError, match="No cleaning cartridge"):
        services.start_clean(drive, actor=operator_user)


def test_drive_status_reads_mt_and_tapealert_and_raises_each_alert_once(changer, replay, operator_user):
    replay.add(["mt", "-f", "/dev/nst0", "status"], stdout=body("mt_status_lto5_bot.txt"))
    replay.add(["sg_logs", "-p", "0x2e", "/dev/sg2"], stdout=body("sg_logs_tapealert.txt"))
    drive = Drive.objects.get(library=changer, number=0)
    job = _run(DRIVE["status"].run(actor=operator_user, obj=drive), replay)
    assert job.result == {"online": True, "needs_cleaning": True, "alerts": [3, 20], "new_alerts": [3, 20]}
    drive.refresh_from_db()
    assert (drive.at_bot, drive.write_protected, drive.density) == (True, False, "0x58")
    events = StorageEvent.objects.filter(kind=EventKind.TAPE_ALERT).order_by("id")
    assert [(e.severity, e.details["code"], e.details["drive"], e.pool) for e in events] == [
        ("warning", 3, 0, None), ("critical", 20, 0, None)]
    assert events[0].details["library"] == changer.name
    job = _run(services.start_drive_status(drive, actor=operator_user), replay)
    assert job.result["new_alerts"] == [] and events.count() == 2  # still set: no second event


@pytest.mark.parametrize(("data", "field"), [
    ({"slot": 38, "drive": 0}, "slot"),
    ({"slot": 1, "drive": 4}, "drive"),
    ({"barcode": "SDLT 01S3", "drive": 0}, "barcode"),
    ({"slot": 10, "drive": 0}, "slot"),  # empty
])
def test_a_load_refused_names_the_field_and_runs_nothing(changer, replay, operator_user, data, field):
    with pytest.raises(ServiceError) as refused:
        services.start_load(changer, actor=operator_user, **data)
    assert (refused.value.field, refused.value.status_code) == (field, 400)
    assert replay.calls == [] and not Job.objects.filter(kind="tape.library.load").exists()


def test_moves_in_a_tgt_library_are_refused(db, replay, operator_user):
    library = Library.objects.create(name="vtl9", kind="tgt", tid=9, iqn="iqn.2026-12.org.calypso:tape.vtl9",
                                     media_home="/tmp/vtl9")
    with pytest.raises(ServiceError) as refused:
        services.start_load(library, actor=operator_user, slot=1, drive=0)
    assert refused.value.code == "unsupported"
    with pytest.raises(Unsupported):
        get_backend(library, replay).load("/dev/sg1", 1, 0)
    assert replay.calls == [] and not AuditEvent.objects.filter(outcome="ok").exists()
