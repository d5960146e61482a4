"""The command line against a live portal (uvicorn + Celery worker, see tests/jobs/test_live.py): lists of
recorded storage, API errors, following a job over the WebSocket and by polling, the token from the
environment, from the config file and from ``calypso login``, and the installed ``calypso`` entry point."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from django.contrib.auth.hashers import Argon2PasswordHasher, make_password
from django.utils import timezone

import tests.jobs.live_tasks  # noqa: F401 - registers "tests.sleep" in this process too
from apps.accounts.models import ApiToken
from apps.cli.config import save_config
from apps.cli.main import cli
from apps.jobs.choices import JobState
from apps.jobs.models import Job, JobLogEntry
from apps.jobs.services import enqueue
from apps.storage import sync
from apps.storage.models import Dataset, Pool, Snapshot
from tests.jobs.test_live import live  # noqa: F401 - the module's live stack
from tests.storage.recordings import fuse_sync_runner

pytestmark = [pytest.mark.live, pytest.mark.django_db(transaction=True)]

CALYPSO = Path(sys.executable).parent / "calypso"


@pytest.fixture
def token(admin_user) -> str:
    return ApiToken.issue(admin_user, "cli test")[1]


@pytest.fixture
def cli_env(live, token, monkeypatch, tmp_path) -> dict:  # noqa: F811 - the fixture imported above
    """The portal and token in the environment; the config file (none yet) under tmp_path."""
    env = {"CALYPSO_URL": live.base_url, "CALYPSO_TOKEN": token, "CALYPSO_CONFIG": str(tmp_path / "cli.toml")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def tank(settings) -> Pool:
    """Pools zrectank and zrecbig with their datasets and snapshots, synced from recorded zfs-fuse output."""
    settings.CALYPSO_ZFS_FLAVOUR = "zfs-fuse"
    sync.sync_zfs(fuse_sync_runner())
    return Pool.objects.get(name="zrectank")


def run(*args: str, input: str | None = None):
    result = CliRunner().invoke(cli, list(args), prog_name="calypso", input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result


def column(output: str, index: int = 0) -> list[str]:
    return [line.split()[index] for line in output.splitlines()[1:]]


def test_pool_dataset_and_snapshot_lists_show_the_recorded_storage(cli_env, tank):
    result = run("pool", "list")
    assert result.exit_code == 0, result.output
    assert column(result.stdout) == sorted(Pool.objects.values_list("name", flat=True))
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith("zrectank "))
    assert row[1:3] == ["zfs", tank.health]

    shown = run("pool", "show", "zrectank").stdout
    assert f"health                 {tank.health}" in shown
    assert all(vdev.name in shown for vdev in tank.vdevs.all())

    datasets = run("dataset", "list", "--pool", "zrectank").stdout
    assert column(datasets) == sorted(tank.datasets.values_list("name", flat=True))

    data = Dataset.objects.get(name="zrectank/data")
    snapshots = run("snapshot", "list", "--dataset", "zrectank/data").stdout
    expected = list(Snapshot.objects.filter(dataset=data).order_by("-created_at").values_list("name", flat=True))
    assert expected and column(snapshots) == expected

    as_json = json.loads(run("--json", "snapshot", "list").stdout)
    api = httpx.get(f"{cli_env['CALYPSO_URL']}/api/v1/storage/snapshots/",
                    headers={"Authorization": f"Token {cli_env['CALYPSO_TOKEN']}"}).json()["results"]
    assert as_json == api and len(as_json) == Snapshot.objects.count()


def test_share_and_iscsi_lists(cli_env, tank):
    from apps.iscsi.models import Lun, Target
    from apps.shares.models import NfsExport, SmbShare

    data = Dataset.objects.get(name="zrectank/data")
    SmbShare.objects.create(name="projects", path="/zrectank/data", dataset=data, valid_users=["alice"], read_only=True)
    NfsExport.objects.create(path="/zrectank/data/nfs", dataset=data, clients=[
        {"host": "10.0.0.0/24", "access": "rw", "sync": True, "squash": "root_squash", "anonuid": None,
         "anongid": None, "sec": ["sys"]}])
    target = Target.objects.create(name="vm", iqn="iqn.2026-12.org.calypso:vm", chap_user="host1",
                                   chap_secret="twelve-chars")
    Lun.objects.create(target=target, lun=1, dataset=data, path="/zrectank/data/vm.img", size_bytes=1 << 30)
    shares = run("share", "list")
    assert shares.exit_code == 0, shares.output
    smb_row = next(line.split() for line in shares.stdout.splitlines() if line.startswith("projects "))
    assert smb_row[:6] == ["projects", "/zrectank/data", "zrectank/data", "ro", "yes", "alice"]
    assert "/zrectank/data/nfs  zrectank/data  yes  10.0.0.0/24(rw)" in " ".join(shares.stdout.split("  ")) or \
        "10.0.0.0/24(rw)" in shares.stdout
    targets = run("iscsi", "list")
    assert targets.exit_code == 0, targets.output
    assert "iqn.2026-12.org.calypso:vm" in targets.stdout and "/zrectank/data/vm.img" in targets.stdout
    assert "twelve-chars" not in targets.stdout and "  1G  " in targets.stdout
    as_json = json.loads(run("--json", "iscsi", "list").stdout)
    assert as_json["targets"][0]["chap"] is True and "chap_secret" not in as_json["targets"][0]


def test_long_lists_follow_the_cursor_pages_up_to_the_limit(cli_env, tank):
    data = Dataset.objects.get(name="zrectank/data")
    start = timezone.now() - timedelta(days=30)
    Snapshot.objects.bulk_create(Snapshot(dataset=data, name=f"zrectank/data@bulk-{i:03d}", short_name=f"bulk-{i:03d}",
                                          created_at=start + timedelta(minutes=i)) for i in range(120))
    total = Snapshot.objects.count()
    everything = json.loads(run("snapshot", "list", "--json", "--limit", "0").stdout)  # pages of 50 by default
    assert len(everything) == total and len({row["id"] for row in everything}) == total
    limited = run("snapshot", "list", "--limit", "70")
    assert len(limited.stdout.splitlines()) == 71 and "the first 70 rows" in limited.stderr


def test_snapshot_create_names_the_dataset_and_reports_api_errors(cli_env, tank):
    result = run("snapshot", "create", "zrectank/nothing@x")
    assert result.exit_code == 1 and "no dataset named 'zrectank/nothing'" in result.stderr

    existing = Snapshot.objects.filter(dataset__name="zrectank/data").first()
    result = run("snapshot", "create", f"zrectank/data@{existing.short_name}")
    assert result.exit_code == 1
    assert result.stderr == f"Error: zrectank/data@{existing.short_name} already exists. (400 exists)\n"

    result = run("--json", "snapshot", "create", f"zrectank/data@{existing.short_name}")
    assert result.exit_code == 1 and json.loads(result.stderr)["error"]["code"] == "exists"

    result = run("job", "show", "987654")
    assert result.exit_code == 1 and result.stderr.strip() == "Error: Not found. (404 not_found)"


def _subprocess(env: dict, *args: str, **kwargs) -> subprocess.Popen:
    return subprocess.Popen([str(CALYPSO), *args], env={**os.environ, **env}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd="/", **kwargs)


def test_job_follow_over_the_websocket_ends_with_the_jobs_exit_code(cli_env, live, admin_user):  # noqa: F811
    job = enqueue("tests.sleep", user=admin_user, params={"steps": 20, "delay": 0.05}, queue=live.queue)
    follow = _subprocess(cli_env, "job", "follow", str(job.pk))  # the installed entry point
    out, err = follow.communicate(timeout=60)
    assert follow.returncode == 0, out + err
    assert "live updates unavailable" not in err  # the WebSocket, not polling
    lines = out.splitlines()
    assert any(line.endswith(f"%  running   Step {n}/20") for line in lines for n in range(1, 20)), out
    assert "100%  succeeded" in lines[-2] and lines[-1] == f"Job {job.pk} succeeded"
    assert "info    Started Test sleep" in out  # the log streams too

    log = run("job", "log", str(job.pk))
    messages = list(JobLogEntry.objects.filter(job=job).order_by("id").values_list("message", flat=True))
    assert [line.split(None, 3)[3] for line in log.stdout.splitlines()] == messages
    assert json.loads(run("job", "log", str(job.pk), "--json").stdout)[0]["message"] == messages[0]

    listed = json.loads(run("job", "list", "--json", "--state", "succeeded").stdout)
    assert job.pk in [row["id"] for row in listed]


def test_cancelled_job_ends_follow_with_a_failure_exit_code(cli_env, live, admin_user):  # noqa: F811
    job = enqueue("tests.sleep", user=admin_user, params={"steps": 400, "delay": 0.05}, queue=live.queue)
    follow = _subprocess(cli_env, "job", "follow", "--no-log", str(job.pk))
    deadline = time.monotonic() + 20
    while Job.objects.get(pk=job.pk).progress == 0:
        assert time.monotonic() < deadline, "the job did not start"
        time.sleep(0.05)
    assert run("job", "cancel", str(job.pk)).exit_code == 0
    out, err = follow.communicate(timeout=60)
    assert follow.returncode == 1, out + err
    assert out.splitlines()[-1] == f"Job {job.pk} cancelled: Cancelled by request." and "info " not in out
    assert Job.objects.get(pk=job.pk).state == JobState.CANCELLED


def test_job_follow_by_polling_and_as_json(cli_env, live, admin_user):  # noqa: F811
    job = enqueue("tests.sleep", user=admin_user, params={"steps": 5, "delay": 0.05}, queue=live.queue)
    result = run("job", "follow", "--poll", "--interval", "0.1", str(job.pk))
    assert result.exit_code == 0 and result.stdout.splitlines()[-1] == f"Job {job.pk} succeeded"
    result = run("--json", "job", "follow", str(job.pk))
    assert result.exit_code == 0 and json.loads(result.stdout)["state"] == "succeeded"


def test_token_from_the_config_file_and_its_mode_check(cli_env, monkeypatch, admin_user):
    monkeypatch.delenv("CALYPSO_URL")
    monkeypatch.delenv("CALYPSO_TOKEN")
    path = Path(cli_env["CALYPSO_CONFIG"])
    assert run("whoami").exit_code == 1  # no token anywhere
    save_config(path, url=cli_env["CALYPSO_URL"], token=cli_env["CALYPSO_TOKEN"])
    result = run("whoami")
    assert result.exit_code == 0 and result.stdout.startswith(f"{admin_user.username} (")
    path.chmod(0o644)
    result = run("whoami")
    assert result.exit_code == 1 and "chmod 600" in result.stderr
    assert cli_env["CALYPSO_TOKEN"] not in result.output


def test_login_asks_the_password_without_echo_and_saves_a_private_config(cli_env, monkeypatch, make_user):
    user = make_user("operator7", "Operator")
    user.password = make_password("pw for the cli", hasher=Argon2PasswordHasher())  # one the server checks
    user.save(update_fields=["password"])
    monkeypatch.delenv("CALYPSO_TOKEN")
    path = Path(cli_env["CALYPSO_CONFIG"])

    refused = run("login", "-u", "operator7", input="wrong password\n")
    assert refused.exit_code == 1 and "Wrong user name or password. (401 bad_credentials)" in refused.stderr
    assert not path.exists() and "wrong password" not in refused.output

    result = run("login", "-u", "operator7", "--token-name", "laptop", input="pw for the cli\n")
    assert result.exit_code == 0, result.output
    assert "pw for the cli" not in result.output and f"saved in {path}" in result.stdout
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    token = ApiToken.objects.get(user=user, name="laptop")
    key = path.read_text().split('token = "')[1].split('"')[0]
    assert key not in result.output and ApiToken.authenticate(key) == token
    monkeypatch.delenv("CALYPSO_URL")  # from the file from now on
    assert run("whoami").stdout.startswith("operator7 (Operator)")
