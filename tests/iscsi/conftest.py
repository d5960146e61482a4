"""iSCSI test fixtures: datasets to back LUNs (a filesystem mounted in a temporary directory, a ZFS
volume), the tgt backend selected, and the root ``replay`` runner."""

from __future__ import annotations

import pytest

from apps.storage.choices import Backend, DatasetKind
from apps.storage.models import Dataset, Pool


@pytest.fixture(autouse=True)
def _tgt(settings):
    settings.CALYPSO_ISCSI_BACKEND = "tgt"
    settings.CALYPSO_TGT_CONTROL_PORT = 0


@pytest.fixture
def pool(db) -> Pool:
    return Pool.objects.create(name="ztank", backend=Backend.ZFS)


@pytest.fixture
def fs_dataset(pool, tmp_path) -> Dataset:
    """``ztank/iscsi``, a filesystem dataset "mounted" at a temporary directory."""
    mount = tmp_path / "ztank-iscsi"
    mount.mkdir()
    return Dataset.objects.create(pool=pool, name="ztank/iscsi", kind=DatasetKind.FILESYSTEM, mountpoint=str(mount))


@pytest.fixture
def zvol(pool) -> Dataset:
    return Dataset.objects.create(pool=pool, name="ztank/vm1", kind=DatasetKind.VOLUME)
