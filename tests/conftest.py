"""Shared fixtures: users in each role, API clients (forced or with a real token), logged-in browsers,
``replay``: a ReplayRunner that every service and job uses instead of the host, and ``projects``: a managed
dataset on a directory of the test's."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import ApiToken, User
from apps.accounts.roles import ADMINISTRATOR, AUDITOR, OPERATOR, VIEWER, sync_roles
from apps.core.runner import ReplayRunner, runner_override
from apps.storage.choices import Backend, DatasetKind
from apps.storage.models import Dataset, Pool

pytest_plugins = ["tests.hosts"]  # zfs-fuse pools and Btrfs filesystems for every app's integration tests


def _user(username: str, role: str | None, **extra) -> User:
    from django.contrib.auth.models import Group

    sync_roles()
    user = User.objects.create_user(username=username, password="correct horse battery", **extra)
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _unlimited_refusal_records(settings):
    """The per-minute cap on recorded refusals counts in Redis across tests; a test of the cap sets its own."""
    settings.CALYPSO_AUDIT_REFUSALS_PER_ADDRESS = settings.CALYPSO_AUDIT_REFUSALS_TOTAL = 10**9


@pytest.fixture(autouse=True)
def _private_host_config(settings, tmp_path_factory):
    """No test writes the host's own service configuration: Calypso's files go to a directory of the test's."""
    root = tmp_path_factory.mktemp("etc")
    settings.CALYPSO_INTEGRATIONS_DIR = str(root / "calypso" / "integrations")
    settings.CALYPSO_SAMBA_CONF = str(root / "samba" / "smb.conf")
    settings.CALYPSO_NFS_EXPORTS_FILE = str(root / "exports.d" / "calypso.exports")
    settings.CALYPSO_GANESHA_CONF = str(root / "ganesha" / "ganesha.conf")
    settings.CALYPSO_GANESHA_PID_FILE = str(root / "ganesha" / "ganesha.pid")
    settings.CALYPSO_SCST_CONF = str(root / "scst.conf")
    settings.CALYPSO_BACULA_DIR_CONF = str(root / "bacula" / "bacula-dir.conf")
    settings.CALYPSO_BACULA_SD_CONF = str(root / "bacula" / "bacula-sd.conf")
    settings.CALYPSO_BACULA_CONSOLE_CONF = str(root / "bacula" / "bconsole.conf")
    settings.CALYPSO_BACULA_SD_RESTART = []
    settings.CALYPSO_MHVTL_CONFIG_DIR = str(root / "mhvtl")


@pytest.fixture
def make_user(db):
    return _user


@pytest.fixture
def admin_user(db):
    return _user("admin1", ADMINISTRATOR, is_superuser=True, is_staff=True)


@pytest.fixture
def operator_user(db):
    return _user("operator1", OPERATOR, is_staff=True)


@pytest.fixture
def auditor_user(db):
    return _user("auditor1", AUDITOR, is_staff=True)


@pytest.fixture
def viewer_user(db):
    return _user("viewer1", VIEWER, is_staff=True)


@pytest.fixture
def plain_user(db):
    """Logged in, but no role at all."""
    return _user("nobody1", None)


@pytest.fixture
def client_for():
    """``client_for(user)`` -> an APIClient authenticated as ``user`` (anonymous for None)."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def token_client_for():
    """``token_client_for(user)`` -> an APIClient sending a real ``Authorization: Token`` header."""

    def make(user) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {ApiToken.issue(user, 'tests')[1]}")
        return client

    return make


@pytest.fixture
def browser_for():
    """``browser_for(user)`` -> a Django test Client logged in as ``user`` (the admin's session)."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def replay():
    """A ReplayRunner answering every host command any service or job runs (unexpected ones fail)."""
    runner = ReplayRunner()
    with runner_override(runner):
        yield runner


@pytest.fixture
def projects(db, tmp_path) -> Dataset:
    """Dataset tank/projects, mounted at a directory of the test's."""
    mount = tmp_path / "tank" / "projects"
    (mount / "docs").mkdir(parents=True)
    pool = Pool.objects.create(name="tank", backend=Backend.ZFS, mountpoint=str(tmp_path / "tank"))
    Dataset.objects.create(pool=pool, name="tank", kind=DatasetKind.FILESYSTEM, mountpoint=str(tmp_path / "tank"))
    return Dataset.objects.create(pool=pool, name="tank/projects", kind=DatasetKind.FILESYSTEM, mountpoint=str(mount))
