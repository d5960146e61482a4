"""Pool properties set and read back on a real zfs-fuse pool (sparse files, root only)."""

from __future__ import annotations

from pathlib import Path

import pytest

from apps.core.errors import ServiceError
from apps.core.testing import require_root, require_tools
from apps.storage import services
from apps.storage.models import Pool

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def _zfs_host() -> None:
    require_root()
    require_tools("zpool", "zfs", "zfs-fuse")


def _by_name(data: dict) -> dict:
    return {p["name"]: p for p in data["properties"]}


@pytest.mark.django_db
def test_a_pool_property_is_set_and_read_back(zfs_mirror_pool: tuple[str, Path]) -> None:
    name, _disks = zfs_mirror_pool
    pool = Pool.objects.create(name=name, backend="zfs")
    before = _by_name(services.pool_properties(pool))
    assert (before["autoexpand"]["value"], before["autoexpand"]["source"]) == ("off", "default")

    after = _by_name(services.update_pool_properties(pool, properties={"autoexpand": "on"}))
    assert (after["autoexpand"]["value"], after["autoexpand"]["source"]) == ("on", "local")
    assert _by_name(services.pool_properties(pool))["autoexpand"]["value"] == "on"

    with pytest.raises(ServiceError) as caught:  # this ZFS has no comment: refused before any change
        services.update_pool_properties(pool, properties={"autoexpand": "off", "comment": "rack 4"})
    assert caught.value.field == "comment"
    assert _by_name(services.pool_properties(pool))["autoexpand"]["value"] == "on"
