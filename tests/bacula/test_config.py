"""Resource specs, their checks (the Run directive's grammar among them), the rendered include files, and the
daemons' ``-t`` check replayed from recordings."""

from __future__ import annotations

import dataclasses

import pytest

from apps.bacula.backends import base as b
from apps.bacula.backends.config import candidate_main, check_config, render_director, render_storage
from apps.core.configfiles import HEADER
from apps.core.errors import BackendError
from apps.core.runner import ReplayRunner

from .recordings import FIXTURES, body, exit_status
from .schedules import BAD_RUNS, GOOD_RUNS

BACULA = b.FLAVOURS["bacula"]



@pytest.mark.parametrize("run", GOOD_RUNS)
def test_schedule_runs_bacula_accepts(run):
    assert b.validate_schedule_run(run) == run


@pytest.mark.parametrize("run", BAD_RUNS)
def test_schedule_runs_bacula_refuses(run):
    with pytest.raises(BackendError, match="^run: "):
        b.validate_schedule_run(run)


def test_bad_time_is_worded_as_bacula_does():
    with pytest.raises(BackendError, match="Bad time specification"):
        b.validate_schedule_run("Level=Full sun at 25:99")
    with pytest.raises(BackendError, match="everyday in run record not found"):
        b.validate_schedule_run("Level=Incremental everyday at 23:05")


@pytest.mark.parametrize("value", ["MyCatalog", "calypso-fd", "a", "Tape.Pool_2", "x" * 127])
def test_names_allowed(value):
    assert b.validate_name(value) == value


@pytest.mark.parametrize("value", ["", "-x", ".x", "with space", "a\nb", 'a"b', "x" * 128, "é", None, 3])
def test_names_refused(value):
    with pytest.raises(BackendError, match="^pool.name: "):
        b.validate_name(value, "pool.name")


@pytest.mark.parametrize("value", ["relative", "/a\nb", '/a"b', "/a\x00", "", None])
def test_paths_refused(value):
    with pytest.raises(BackendError):
        b.validate_path(value)


def test_passwords_are_quoted_safely():
    assert b.quote('pa"ss\\word') == '"pa\\"ss\\\\word"'
    client = b.ClientSpec("c1", "127.0.0.1", 'se"cr\\et')
    assert 'Password = "se\\"cr\\\\et"' in render_director(b.DirectorResources(clients=(client,)))
    with pytest.raises(BackendError, match="client.password"):
        b.ClientSpec("c1", "127.0.0.1", "line\nbreak")


@pytest.mark.parametrize(("make", "field"), [
    (lambda: b.ClientSpec("c", "host name", "pw"), "client.address"),
    (lambda: b.ClientSpec("c", "h", "pw", port=0), "client.port"),
    (lambda: b.ClientSpec("c", "h", "pw", autoprune="yes"), "client.autoprune"),
    (lambda: b.FileSetSpec("f", ()), "fileset.include"),
    (lambda: b.FileSetSpec("f", ["/data"]), "fileset.include"),
    (lambda: b.FileSetSpec("f", ("/data",), compression="ZSTD"), "fileset.compression"),
    (lambda: b.FileSetSpec("f", ("/data",), signature="MD4"), "fileset.signature"),
    (lambda: b.ScheduleSpec("s", ("Level=Full sun at 25:99",)), "schedule.runs"),
    (lambda: b.PoolSpec("p", pool_type="Weird"), "pool.pool_type"),
    (lambda: b.PoolSpec("p", label_format="Vol ${x}"), "pool.label_format"),
    (lambda: b.PoolSpec("p", maximum_volume_bytes=-1), "pool.maximum_volume_bytes"),
    (lambda: b.StorageSpec("s", "h", "pw", "dev", "bad type"), "storage.media_type"),
    (lambda: b.DeviceSpec("d", "VTape", "drive0"), "device.archive_device"),
    (lambda: b.AutochangerSpec("a", "/dev/sg1", "mtx-changer %c", ()), "autochanger.changer_command"),
    (lambda: b.AutochangerSpec("a", "/dev/sg1", "/x %c; rm -rf /", ()), "autochanger.changer_command"),
    (lambda: b.JobSpec("j", "c", "f", "p", "s", type="Restore"), "job.where"),
    (lambda: b.JobSpec("j", "c", "f", "p", "s", level="Sometimes"), "job.level"),
    (lambda: b.JobSpec("j", "c", "f", "p", "s", priority=0), "job.priority"),
    (lambda: b.DirectorResources(pools=(b.PoolSpec("p"), b.PoolSpec("p"))), "pools"),
    (lambda: b.StorageResources(devices=(b.DeviceSpec("d", "T", "/dev/nst0"),) * 2), "devices"),
])
def test_specs_check_what_they_hold(make, field):
    with pytest.raises(BackendError, match=f"^{field}: "):
        make()


def test_flavours():
    assert b.FLAVOURS["bareos"].binary("dir") == "bareos-dir" and b.FLAVOURS["bareos"].console == "bconsole"
    assert b.FLAVOURS["bacula"].config_dir == "/etc/bacula"
    with pytest.raises(BackendError):
        BACULA.binary("console")


def _director() -> b.DirectorResources:
    return b.DirectorResources(
        clients=(b.ClientSpec("calypso-fd", "127.0.0.1", "fd-secret", port=19102, autoprune=False),),
        filesets=(b.FileSetSpec("Data", ("/srv/data", "/srv/my docs"), exclude=("/srv/data/tmp",),
                                compression="GZIP", signature="SHA1", one_fs=False),),
        schedules=(b.ScheduleSpec("Nightly", ("Level=Full 1st sun at 23:05", "Level=Incremental mon-sat at 23:05")),),
        pools=(b.PoolSpec("TapePool", maximum_volume_bytes=50_000_000, label_format="Tape-", storage="VTL1"),
               b.PoolSpec("Archive", pool_type="Archive", recycle=False)),
        storages=(b.StorageSpec("VTL1", "127.0.0.1", "sd-secret", "VirtualChanger", "VTape", port=19103),),
        jobs=(b.JobSpec("Restore", "calypso-fd", "Data", "TapePool", "VTL1", type="Restore", where="/srv/restore"),
              b.JobSpec("Backup", "calypso-fd", "Data", "TapePool", "VTL1", schedule="Nightly")))


def test_render_director():
    text = render_director(_director())
    assert text.startswith(HEADER)
    assert text == render_director(dataclasses.replace(_director(), pools=tuple(reversed(_director().pools))))
    for block in ("Client {\n  Name = calypso-fd\n  Address = 127.0.0.1\n  FDPort = 19102\n  Catalog = MyCatalog\n"
                  '  Password = "fd-secret"\n  File Retention = 60 days\n  Job Retention = 180 days\n'
                  "  AutoPrune = no\n}",
                  "FileSet {\n  Name = Data\n  Include {\n    Options {\n      Signature = SHA1\n      OneFS = no\n"
                  '      Compression = GZIP\n    }\n    File = "/srv/data"\n    File = "/srv/my docs"\n  }\n'
                  '  Exclude {\n    File = "/srv/data/tmp"\n  }\n}',
                  "Schedule {\n  Name = Nightly\n  Run = Level=Full 1st sun at 23:05\n"
                  "  Run = Level=Incremental mon-sat at 23:05\n}",
                  "Pool {\n  Name = TapePool\n  Pool Type = Backup\n  Volume Retention = 365 days\n  Recycle = yes\n"
                  '  AutoPrune = yes\n  Maximum Volume Bytes = 50000000\n  Label Format = "Tape-"\n  Storage = VTL1\n}',
                  "Storage {\n  Name = VTL1\n  Address = 127.0.0.1\n  SDPort = 19103\n  Password = \"sd-secret\"\n"
                  "  Device = VirtualChanger\n  Media Type = VTape\n  Autochanger = yes\n"
                  "  Maximum Concurrent Jobs = 10\n}",
                  "Job {\n  Name = Restore\n  Type = Restore\n  Client = calypso-fd\n  FileSet = Data\n"
                  "  Pool = TapePool\n  Storage = VTL1\n  Messages = Standard\n  Priority = 10\n"
                  '  Where = "/srv/restore"\n}',
                  "Job {\n  Name = Backup\n  Type = Backup\n  Level = Incremental\n"):
        assert block in text
    assert text.index("Pool {\n  Name = Archive") < text.index("Pool {\n  Name = TapePool")
    assert text.index("Client {") < text.index("FileSet {") < text.index("Schedule {") < text.index("Pool {") < \
        text.index("Storage {") < text.index("Job {")


def test_render_storage():
    drives = (b.DeviceSpec("Drive-1", "VTape", "/vtl/drive1", drive_index=1),
              b.DeviceSpec("Drive-0", "VTape", "/vtl/drive0", drive_index=0))
    lone = b.DeviceSpec("LTO", "LTO-6", "/dev/nst0", autochanger=False)
    text = render_storage(b.StorageResources(
        autochangers=(b.AutochangerSpec("VirtualChanger", "/vtl/conf", "/etc/bacula/scripts/disk-changer %c %o %S %a %d %v",
                                        drives),), devices=(lone,)))
    assert text.startswith(HEADER)
    assert ('Autochanger {\n  Name = VirtualChanger\n  Device = Drive-0, Drive-1\n  Changer Device = "/vtl/conf"\n'
            '  Changer Command = "/etc/bacula/scripts/disk-changer %c %o %S %a %d %v"\n}') in text
    assert ('Device {\n  Name = Drive-0\n  Device Type = File\n  Media Type = VTape\n  Archive Device = "/vtl/drive0"\n'
            "  Autochanger = yes\n  Drive Index = 0\n  LabelMedia = yes\n  Random Access = yes\n  AutomaticMount = yes\n"
            "  RemovableMedia = yes\n  AlwaysOpen = yes\n}") in text
    assert "Name = LTO\n  Device Type = Tape\n" in text and "Random Access = no" in text
    assert text.index("Name = Drive-0") < text.index("Name = Drive-1") < text.index("Name = LTO")


def _tool_runner(name: str, argv: list[str]) -> ReplayRunner:
    return ReplayRunner().add(argv, stdout=body(name), returncode=exit_status(name))


def test_check_config_passes_quietly():
    argv = ["bacula-dir", "-t", "-c", "/etc/bacula/bacula-dir.conf"]
    runner = _tool_runner("bacula-03-dir-test.txt", argv)
    check_config(runner, BACULA, "dir", "/etc/bacula/bacula-dir.conf")
    assert runner.calls == [tuple(argv)]
    sd = ["bacula-sd", "-t", "-c", "/etc/bacula/bacula-sd.conf"]
    check_config(_tool_runner("bacula-04-sd-test.txt", sd), BACULA, "sd", "/etc/bacula/bacula-sd.conf")


@pytest.mark.parametrize(("name", "words"), [
    ("bacula-07-dir-test-bad-schedule-time.txt", "Config error: Bad time specification."),
    ("bacula-08-dir-test-bad-schedule-keyword.txt", "Config error: Job type field: everyday in run record not found"),
    ("bacula-09-dir-test-bad-pool-ref.txt", 'Config error: Could not find config Resource "NoSuchPool"'),
])
def test_check_config_refusal_carries_bacula_words(name, words):
    argv = ["bacula-dir", "-t", "-c", "/etc/bacula/bacula-dir.conf"]
    with pytest.raises(BackendError) as refused:
        check_config(_tool_runner(name, argv), BACULA, "dir", "/etc/bacula/bacula-dir.conf")
    assert str(refused.value).startswith(words)
    assert "ERROR TERMINATION" not in str(refused.value) and refused.value.returncode == 1


def test_check_config_checks_its_arguments():
    runner = ReplayRunner()
    with pytest.raises(BackendError):
        check_config(runner, BACULA, "dir", "relative.conf")
    with pytest.raises(BackendError):
        check_config(runner, BACULA, "console", "/etc/bacula/bconsole.conf")
    assert runner.calls == []


def test_candidate_main():
    main = (FIXTURES / "config" / "bacula-sd.conf").read_text() + "@/etc/calypso/integrations/bacula/sd.conf\n"
    text = candidate_main(main, "/etc/calypso/integrations/bacula/sd.conf", "/run/calypso/sd.candidate.conf")
    assert text.endswith("@/run/calypso/sd.candidate.conf\n") and text.count("@") == 1
    assert text.replace("@/run/calypso/sd.candidate.conf", "@/etc/calypso/integrations/bacula/sd.conf") == main
    with pytest.raises(BackendError, match="include_path"):
        candidate_main(main, "/etc/other.conf", "/run/x.conf")
