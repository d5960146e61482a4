"""SMB shares and accounts through their services: what reaches the host, what is refused before anything
runs, and what is put back when the host refuses."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError

from apps.core.errors import BackendError, ServiceError
from apps.core.runner import ReplayRunner
from apps.jobs.models import JobState
from apps.jobs.runtime import run_job
from apps.shares import services
from apps.shares.models import SmbShare, SmbUser
from apps.storage import services as storage
from apps.storage.choices import Backend
from apps.storage.models import Dataset, Pool, SnapshotPolicy

from .conftest import candidate, include_text
from .recordings import add_recording

pytestmark = pytest.mark.django_db


def _commands(runner: ReplayRunner) -> list[str]:
    return [argv[0] for argv in runner.calls]


def test_a_share_is_validated_installed_and_reloaded(projects, samba_ok):
    share = services.SHARES.create(name="projects", path=projects.mountpoint, valid_users=["alice", "@staff"],
                                   recycle_bin=True)
    assert share.dataset == projects
    assert _commands(samba_ok) == ["testparm", "smbcontrol"]
    text = include_text()
    assert f"[projects]\n\tpath = {projects.mountpoint}\n" in text and "\tvalid users = alice @staff\n" in text
    main = Path(settings.CALYPSO_SAMBA_CONF).read_text()
    assert main.count(f"include = {services.include_path()}") == 1
    # the candidate is gone, and a change re-renders every share
    assert not Path(candidate()).exists()
    services.SHARES.create(name="docs", path=f"{projects.mountpoint}/docs")
    assert "[docs]" in include_text() and "[projects]" in include_text()


@pytest.mark.parametrize(("fields", "field"), [
    ({"path": "/etc"}, "path"),
    ({"path": "/tank/../etc"}, "path"),
    ({"path": "relative/dir"}, "path"),
    ({"name": "bad name;"}, "name"),
    ({"name": "global"}, "name"),
    ({"hosts_allow": ["10.0.0.0/24; rm -rf /"]}, "hosts_allow"),
    ({"hosts_allow": ["a host"]}, "hosts_allow"),
    ({"valid_users": ["alice bob"]}, "valid_users"),
    ({"extra_options": {"root preexec": "/bin/sh"}}, "extra_options"),
    ({"extra_options": {"include": "/etc/shadow"}}, "extra_options"),
    ({"extra_options": {"oplocks": "no\n[evil]"}}, "extra_options"),
    ({"comment": "two\nlines"}, "comment"),
    ({"comment": "joins the next line\\"}, "comment"),
    ({"hosts_deny": ["fe80::1%x\\"]}, "hosts_deny"),
    ({"hosts_allow": ["fe80::1%a b(rw)"]}, "hosts_allow"),
    ({"extra_options": {"directory": "/etc"}}, "extra_options"),
    ({"extra_options": {"force user": "root"}}, "extra_options"),
    ({"extra_options": {"Guest_OK": "yes"}}, "extra_options"),
    ({"extra_options": {"readonly": "no"}}, "extra_options"),
    ({"extra_options": {"veto files": "/x/\\"}}, "extra_options"),
])
def test_bad_input_is_refused_naming_the_field_before_anything_runs(projects, replay, fields, field):
    data = {"name": "projects", "path": projects.mountpoint, **fields}
    with pytest.raises((ServiceError, ValidationError)) as caught:
        services.SHARES.create(**data)
    exc = caught.value
    named = exc.field if isinstance(exc, ServiceError) else next(iter(exc.message_dict))
    assert named == field
    assert replay.calls == [] and include_text() == "" and not SmbShare.objects.exists()
    assert not Path(settings.CALYPSO_SAMBA_CONF).exists()


def test_a_missing_directory_is_refused(projects, replay):
    with pytest.raises(ServiceError, match="not a directory") as caught:
        services.SHARES.create(name="x", path=f"{projects.mountpoint}/nope")
    assert caught.value.field == "path" and replay.calls == []


def test_testparm_refusal_keeps_the_previous_file_and_the_row(projects, samba_ok):
    services.SHARES.create(name="projects", path=projects.mountpoint)
    before = include_text()
    refusing = ReplayRunner()
    add_recording(refusing, "testparm_not_boolean.txt", candidate=candidate())
    from apps.core.runner import runner_override
    with runner_override(refusing), pytest.raises(BackendError, match="not boolean") as caught:
        services.SHARES.create(name="scratch", path=f"{projects.mountpoint}/docs", extra_options={"oplocks": "maybe"})
    assert "is unchanged" in caught.value.message
    assert include_text() == before and not SmbShare.objects.filter(name="scratch").exists()
    assert _commands(refusing) == ["testparm"]  # no reload of a refused file


def test_a_failed_reload_puts_the_previous_file_back(projects, samba_ok):
    share = services.SHARES.create(name="projects", path=projects.mountpoint)
    before = include_text()
    failing = ReplayRunner().add(["testparm", "-s", "--suppress-prompt", candidate()])
    reload = ["smbcontrol", "-s", settings.CALYPSO_SAMBA_CONF, "smbd", "reload-config"]
    failing.add(reload, stderr="smbd: out of memory", returncode=1).add(reload)
    from apps.core.runner import runner_override
    with runner_override(failing), pytest.raises(BackendError, match="put back") as caught:
        services.SHARES.update(share, read_only=True)
    assert "out of memory" in caught.value.message
    assert include_text() == before
    share.refresh_from_db()
    assert share.read_only is False
    assert failing.calls.count(tuple(reload)) == 2  # the restored file was reloaded again


def test_delete_renders_without_the_share_and_asks_when_connected(projects, samba_ok):
    share = services.SHARES.create(name="projects", path=projects.mountpoint)
    from apps.shares.operations import SMB_SHARE
    assert not SMB_SHARE["delete"].confirm_required(share)  # nobody connected
    services.SHARES.delete(share)
    assert "[projects]" not in include_text() and not SmbShare.objects.exists()


def test_a_share_with_clients_needs_its_name_typed(projects, samba_ok, admin_user, client_for):
    share = services.SHARES.create(name="share1", path=projects.mountpoint)
    status = ["smbstatus", "-s", settings.CALYPSO_SAMBA_CONF, "--json"]
    samba_ok.recordings.pop(tuple(status))
    add_recording(samba_ok, "smbstatus_json_connected.txt", conf=settings.CALYPSO_SAMBA_CONF)
    client = client_for(admin_user)
    refused = client.delete(f"/api/v1/shares/smb/{share.pk}/", {"confirm": ""}, format="json")
    assert refused.status_code == 400 and "confirm" in refused.json()["error"]["fields"]
    assert SmbShare.objects.filter(pk=share.pk).exists()
    done = client.delete(f"/api/v1/shares/smb/{share.pk}/", {"confirm": "share1"}, format="json")
    assert done.status_code == 204 and not SmbShare.objects.exists()


def test_a_share_nobody_uses_goes_without_typing_but_never_with_a_wrong_name(projects, samba_ok, admin_user,
                                                                             client_for):
    share = services.SHARES.create(name="quiet", path=projects.mountpoint)
    client = client_for(admin_user)
    wrong = client.delete(f"/api/v1/shares/smb/{share.pk}/", {"confirm": "other"}, format="json")
    assert wrong.status_code == 400 and SmbShare.objects.filter(pk=share.pk).exists()
    assert client.delete(f"/api/v1/shares/smb/{share.pk}/").status_code == 204


def test_a_dataset_with_a_share_is_not_destroyed(projects, samba_ok):
    services.SHARES.create(name="projects", path=f"{projects.mountpoint}/docs")
    with pytest.raises(ServiceError, match="SMB share projects") as caught:
        storage.destroy_dataset(projects)
    assert caught.value.code == "in_use"
    with pytest.raises(ServiceError, match="SMB share projects"):  # nor its parent, nor its pool
        storage.destroy_dataset(Dataset.objects.get(name="tank"), recursive=True)
    with pytest.raises(ServiceError, match="SMB share projects"):
        storage.destroy_pool(projects.pool)
    assert [argv for argv in samba_ok.calls if argv[0] in ("zfs", "zpool")] == []


def test_previous_versions_follow_the_policys_names(projects):
    shadow = services.shadow_copies(projects)  # no policy: the default names
    assert (shadow.snapdir, shadow.delimiter, shadow.format) == (".zfs/snapshot", "_2", "_%Y-%m-%d_%H:%M:%S")
    assert shadow.snapprefix == r"^calypso_\(frequent\|hourly\|daily\|weekly\|monthly\|yearly\)$"
    SnapshotPolicy.objects.create(name="p", dataset=projects, naming_template="auto.{frequency}-{time:%Y%m%d-%H%M}")
    shadow = services.shadow_copies(projects)
    assert (shadow.delimiter, shadow.format) == ("-2", "-%Y%m%d-%H%M")
    assert shadow.snapprefix.startswith(r"^auto\.\(frequent")
    SnapshotPolicy.objects.filter(name="p").update(naming_template="{time:%Y%m%d-%H%M}-{frequency}")
    with pytest.raises(ValueError, match="end with their time"):
        services.shadow_copies(projects)


def test_previous_versions_on_btrfs_look_beside_the_subvolume(db, tmp_path):
    pool = Pool.objects.create(name="vault", backend=Backend.BTRFS, mountpoint=str(tmp_path))
    sub = Dataset.objects.create(pool=pool, name="vault/home", mountpoint=str(tmp_path / "home"))
    shadow = services.shadow_copies(sub)
    assert shadow.snapdir == str(tmp_path) and shadow.snapprefix.startswith(r"^home@calypso_\(")


def test_the_apply_job_says_what_failed_and_keeps_the_old_file(projects, samba_ok):
    services.SHARES.create(name="projects", path=projects.mountpoint)
    before = include_text()
    SmbShare.objects.filter(name="projects").update(extra_options={"bogus option": "1"})  # edited behind our back
    refusing = add_recording(ReplayRunner(), "testparm_unknown_parameter.txt", candidate=candidate())
    job = run_job(services.start_samba_apply().pk, runner=refusing)
    assert job.state == JobState.FAILED and "bogus option" in job.error
    assert "bogus option" in " ".join(job.log_entries.values_list("message", flat=True))
    assert include_text() == before


def test_an_account_creates_the_unix_user_and_undoes_it_when_samba_refuses(samba_ok, make_user):
    user = make_user("alice", None)
    samba_ok.add(["getent", "passwd", "alice"], returncode=2)
    samba_ok.add(["useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell",
                  "/usr/sbin/nologin", "--user-group", "alice"])
    smbpasswd = ["smbpasswd", "-c", settings.CALYPSO_SAMBA_CONF, "-s", "-a", "alice"]
    samba_ok.add(smbpasswd, stderr="Failed to add entry for user alice.", returncode=1).add(smbpasswd)
    samba_ok.add(["userdel", "alice"])
    with pytest.raises(BackendError, match="Failed to add entry"):
        services.ACCOUNTS.create(user=user, password="Correct-Horse-9")
    assert _commands(samba_ok)[-1] == "userdel" and not SmbUser.objects.exists()
    account = services.ACCOUNTS.create(user=user, password="Correct-Horse-9")
    assert account.unix_account_created and account.password_changed_at is not None
    assert "Correct-Horse-9\nCorrect-Horse-9\n" in samba_ok.stdins
    samba_ok.add(["smbpasswd", "-c", settings.CALYPSO_SAMBA_CONF, "-x", "alice"])
    services.ACCOUNTS.delete(account)
    assert samba_ok.calls[-2:] == [("smbpasswd", "-c", settings.CALYPSO_SAMBA_CONF, "-x", "alice"),
                                   ("userdel", "alice")]


def test_a_system_account_never_gets_an_smb_password(replay, make_user):
    replay.add(["getent", "passwd", "postgres"], stdout="postgres:x:106:113:PostgreSQL:/var/lib/postgresql:/bin/bash\n")
    with pytest.raises(ServiceError, match="system account") as caught:
        services.ACCOUNTS.create(user=make_user("postgres", None), password="Correct-Horse-9")
    assert caught.value.field == "user" and [argv[0] for argv in replay.calls] == ["getent"]


def test_an_account_needs_a_unix_name_and_a_real_password(replay, make_user):
    with pytest.raises(ServiceError) as caught:
        services.ACCOUNTS.create(user=make_user("Bad.Name", None), password="Correct-Horse-9")
    assert caught.value.field == "user"
    with pytest.raises(ServiceError) as caught:
        services.ACCOUNTS.create(user=make_user("bob", None), password="short")
    assert caught.value.field == "password" and replay.calls == []


def test_a_path_through_a_symlink_is_refused(projects, replay):
    Path(projects.mountpoint, "escape").symlink_to("/etc")
    with pytest.raises(ServiceError, match="symbolic link") as caught:
        services.SHARES.create(name="escape", path=f"{projects.mountpoint}/escape")
    assert caught.value.field == "path" and replay.calls == []
